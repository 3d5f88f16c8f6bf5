/**
 * @file sigv4.h
 * AWS Signature Version 4 for request headers (pure: no I/O, no clock).
 *
 * The caller gives the request exactly as it will go on the wire; this
 * module builds the canonical request, the string to sign, the signature
 * and the Authorization header value. S3 rules are the default: the path
 * is used as sent (no dot-segment normalisation, no second encoding);
 * other services set normalize_path / double_encode_path, which the
 * AWS test vectors exercise.
 */
#ifndef ETAGFS_S3_SIGV4_H
#define ETAGFS_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

/** One request header; names are matched case-insensitively. */
struct s3_header {
	const char *name;
	const char *value;
};

struct s3_sigv4_request {
	const char *method; /**< "GET", "PUT", ... */
	const char *path;   /**< path as sent, already percent-encoded */
	const char *query;  /**< query string as sent, without '?'; or NULL */
	/** Headers to sign, as sent (host must be among them). Values are
	 * trimmed and inner runs of spaces folded; duplicates of one name are
	 * joined with ',' in the order given. */
	const struct s3_header *headers;
	size_t n_headers;
	/** Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
	const char *payload_hash;
	const char *amz_date; /**< ISO 8601 basic: 20150830T123600Z */
	const char *region;
	const char *service; /**< "s3" */
	bool normalize_path;	 /**< remove dot segments and '//' (not S3) */
	bool double_encode_path; /**< encode the path again (not S3) */
};

struct s3_sigv4_keys {
	const char *access_key;
	const char *secret_key;
};

/** Every intermediate product, each owned by the struct. */
struct s3_sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *signature;     /**< lower-case hex */
	char *signed_headers; /**< "host;x-amz-date" */
	char *authorization; /**< full Authorization header value */
};

/**
 * Sign @p req. On success fills @p out (free with s3_sigv4_result_free()).
 * Returns 0, -EINVAL for a malformed input, or -ENOMEM; @p out is left
 * empty on error.
 */
int s3_sigv4_sign(const struct s3_sigv4_request *req,
		  const struct s3_sigv4_keys *keys,
		  struct s3_sigv4_result *out);

/** Free the strings of @p r (NULL-safe) and zero it. */
void s3_sigv4_result_free(struct s3_sigv4_result *r);

/** Format @p t (seconds since epoch, UTC) as 20150830T123600Z. */
void s3_sigv4_amz_date(long long t, char out[17]);

#endif
