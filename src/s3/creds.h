/**
 * @file creds.h
 * Where credentials and per-profile settings come from.
 *
 * Order (first that yields a key pair wins):
 *  1. an explicit passwd file (s3fs format: "ACCESS:SECRET" or
 *     "BUCKET:ACCESS:SECRET" lines, '#' comments); refused when group- or
 *     world-readable;
 *  2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *  3. the profile AWS_PROFILE (or "default") of ~/.aws/credentials
 *     (AWS_SHARED_CREDENTIALS_FILE overrides the path);
 *  4. ~/.passwd-etagfs then /etc/passwd-etagfs (same rules as 1).
 * Region and endpoint come from the options, else AWS_REGION /
 * AWS_DEFAULT_REGION and AWS_ENDPOINT_URL, else the profile's `region` and
 * `endpoint_url` in ~/.aws/config (AWS_CONFIG_FILE; section "[profile X]"
 * or "[default]").
 *
 * Error messages never contain secret material.
 */
#ifndef ETAGFS_S3_CREDS_H
#define ETAGFS_S3_CREDS_H

#include <stddef.h>

struct s3_creds {
	char *access_key;
	char *secret_key;
	char *session_token; /**< NULL when none */
	char *source;	     /**< human description: "environment", a path */
};

/** What the caller already knows; NULL fields mean "not given". */
struct s3_creds_query {
	const char *passwd_file; /**< explicit passwd file option */
	const char *profile;	 /**< profile option (else AWS_PROFILE) */
	const char *bucket;	 /**< for BUCKET:ACCESS:SECRET lines */
};

/** Settings found in the environment or ~/.aws/config (owned strings). */
struct s3_profile_settings {
	char *region;
	char *endpoint_url;
};

/**
 * Find credentials. 0 on success (@p out filled; free with
 * s3_creds_free()), else a negative errno with one readable sentence in
 * @p err: -ENOENT nothing found, -EACCES a file readable by others or
 * unreadable, -EINVAL a malformed file.
 */
int s3_creds_load(const struct s3_creds_query *q, struct s3_creds *out,
		  char *err, size_t err_len);

/**
 * Parse one passwd file. Same results as s3_creds_load() for that file.
 * Exposed for tests.
 */
int s3_creds_load_passwd_file(const char *path, const char *bucket,
			      struct s3_creds *out, char *err, size_t err_len);

/** Region/endpoint from the environment and ~/.aws/config. 0 or -ENOMEM. */
int s3_profile_settings_load(const char *profile,
			     struct s3_profile_settings *out);

void s3_creds_free(struct s3_creds *c);
void s3_profile_settings_free(struct s3_profile_settings *s);

#endif
