/*
 * Credentials and per-profile settings: passwd files (s3fs format), the
 * AWS environment variables, ~/.aws/credentials and ~/.aws/config.
 *
 * Secrets: no message built here contains a key, a secret or a token,
 * only paths, line numbers, profile and variable names. File contents are
 * wiped from memory once parsed.
 *
 * INI files follow the AWS CLI's reading: "[name]" sections in the
 * credentials file, "[profile name]" (and "[default]") in the config file,
 * "key = value" lines, '#' and ';' comment lines, and nested settings
 * where a key with an empty value opens a sub-section of indented lines:
 *
 *     [profile rgw]
 *     s3 =
 *       endpoint_url = http://127.0.0.1:8000
 *
 * which is looked up as "s3.endpoint_url".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3/creds.h"

#define PASSWD_MAX (64u * 1024)
#define INI_MAX (1024u * 1024)
#define ETC_PASSWD_FILE "/etc/passwd-etagfs"
#define HOME_PASSWD_FILE ".passwd-etagfs"

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

/* Free a secret-bearing string after overwriting it. */
static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void s3_creds_free(struct s3_creds *c)
{
	if (!c)
		return;
	free(c->access_key);
	free_secret(c->secret_key);
	free_secret(c->session_token);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

void s3_profile_settings_free(struct s3_profile_settings *s)
{
	if (!s)
		return;
	free(s->region);
	free(s->endpoint_url);
	memset(s, 0, sizeof(*s));
}

/*
 * Fill @p out from borrowed strings. 0 or -ENOMEM (then @p out is empty).
 * @p token may be NULL.
 */
static int creds_fill(struct s3_creds *out, const char *access,
		      const char *secret, const char *token,
		      const char *source)
{
	memset(out, 0, sizeof(*out));
	out->access_key = strdup(access);
	out->secret_key = strdup(secret);
	out->session_token = token ? strdup(token) : NULL;
	out->source = strdup(source);
	if (!out->access_key || !out->secret_key || !out->source ||
	    (token && !out->session_token)) {
		s3_creds_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* "~/x" -> "$HOME/x"; other paths unchanged. Caller frees; NULL on
 * -ENOMEM or when "~" cannot be expanded (@p *rc says which). */
static char *expand_path(const char *path, int *rc)
{
	const char *home = env_nonempty("HOME");
	char *out = NULL;

	*rc = 0;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		if (!home) {
			*rc = -ENOENT;
			return NULL;
		}
		if (asprintf(&out, "%s%s", home, path + 1) < 0)
			out = NULL;
	} else {
		out = strdup(path);
	}
	if (!out)
		*rc = -ENOMEM;
	return out;
}

/* $HOME/@p rel, or NULL (with *rc 0) when HOME is not set. */
static char *home_path(const char *rel, int *rc)
{
	const char *home = env_nonempty("HOME");
	char *out = NULL;

	*rc = 0;
	if (!home)
		return NULL;
	if (asprintf(&out, "%s/%s", home, rel) < 0) {
		*rc = -ENOMEM;
		return NULL;
	}
	return out;
}

/*
 * Read a whole small file. @p private_file: refuse it unless it is a
 * regular file with no group or other permission bits (a passwd file).
 * 0 with a NUL-terminated *data (caller wipes and frees), -ENOENT when it
 * does not exist, -EACCES, -EINVAL (not a regular file, too large),
 * -ENOMEM or -EIO; @p err says which.
 */
static int read_small_file(const char *path, size_t max, bool private_file,
			   char **data, size_t *len, char *err,
			   size_t err_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = -1;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT || rc == -ENOTDIR) {
			rc = -ENOENT;
			set_err(err, err_len, "%s does not exist", path);
		} else if (rc == -EACCES || rc == -EPERM) {
			rc = -EACCES;
			set_err(err, err_len, "%s cannot be read: %s", path,
				strerror(-rc));
		} else {
			set_err(err, err_len, "%s cannot be opened: %s", path,
				strerror(-rc));
			rc = -EIO;
		}
		goto out;
	}
	/* fstat the open file: no window for a swap between check and read. */
	if (fstat(fd, &st) < 0) {
		rc = -EIO;
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		set_err(err, err_len, "%s is not a regular file", path);
		goto out;
	}
	if (private_file && (st.st_mode & 077)) {
		rc = -EACCES;
		set_err(err, err_len,
			"%s is readable or writable by group or others "
			"(mode %04o); it holds a secret key: chmod 600 %s",
			path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EINVAL;
		set_err(err, err_len, "%s is too large (over %zu bytes)", path,
			(size_t)max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		set_err(err, err_len, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -EIO;
			set_err(err, err_len, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break; /* shrank meanwhile: use what is there */
		got += (size_t)r;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
out:
	if (buf) {
		explicit_bzero(buf, (size_t)st.st_size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static void wipe_free(char *data, size_t len)
{
	if (data) {
		explicit_bzero(data, len);
		free(data);
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

/* Trim [*s, *e) in place (pointers only). */
static void trim_range(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

/* ------------------------------------------------------------ passwd */

struct passwd_field {
	const char *s;
	size_t len;
};

static bool field_eq(struct passwd_field f, const char *s)
{
	return s && strlen(s) == f.len && memcmp(f.s, s, f.len) == 0;
}

/* A NUL-terminated copy; NULL on -ENOMEM. */
static char *field_dup(struct passwd_field f)
{
	char *s = malloc(f.len + 1);

	if (s) {
		memcpy(s, f.s, f.len);
		s[f.len] = '\0';
	}
	return s;
}

/*
 * One line: "ACCESS:SECRET" or "BUCKET:ACCESS:SECRET", each field trimmed.
 * 0 with @p n_fields set, or -EINVAL.
 */
static int passwd_split(const char *s, const char *e,
			struct passwd_field f[3], int *n_fields)
{
	const char *p = s;
	int n = 0;

	for (;;) {
		const char *colon = memchr(p, ':', (size_t)(e - p));
		const char *fs = p, *fe = colon ? colon : e;

		if (n == 3)
			return -EINVAL;
		trim_range(&fs, &fe);
		if (fs == fe)
			return -EINVAL;
		f[n].s = fs;
		f[n].len = (size_t)(fe - fs);
		n++;
		if (!colon)
			break;
		p = colon + 1;
	}
	if (n < 2)
		return -EINVAL;
	*n_fields = n;
	return 0;
}

int s3_creds_load_passwd_file(const char *path, const char *bucket,
			      struct s3_creds *out, char *err, size_t err_len)
{
	struct passwd_field generic[2], match[2];
	int generic_line = 0, match_line = 0;
	char *data = NULL;
	size_t len = 0;
	const char *p, *end;
	int line = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_small_file(path, PASSWD_MAX, true, &data, &len, err,
			     err_len);
	if (rc)
		return rc;
	p = data;
	end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		struct passwd_field f[3];
		int n;

		line++;
		p = nl ? nl + 1 : end;
		trim_range(&s, &e);
		if (s == e || *s == '#')
			continue;
		if (memchr(s, '\0', (size_t)(e - s)) ||
		    passwd_split(s, e, f, &n) < 0) {
			rc = -EINVAL;
			set_err(err, err_len,
				"%s line %d: expected ACCESS_KEY:SECRET_KEY "
				"or BUCKET:ACCESS_KEY:SECRET_KEY",
				path, line);
			goto out;
		}
		if (n == 2) {
			if (generic_line) {
				rc = -EINVAL;
				set_err(err, err_len,
					"%s line %d: a second ACCESS_KEY:"
					"SECRET_KEY line (the first is on "
					"line %d)",
					path, line, generic_line);
				goto out;
			}
			generic[0] = f[0];
			generic[1] = f[1];
			generic_line = line;
		} else if (field_eq(f[0], bucket)) {
			if (match_line) {
				rc = -EINVAL;
				set_err(err, err_len,
					"%s line %d: a second line for bucket "
					"%s (the first is on line %d)",
					path, line, bucket, match_line);
				goto out;
			}
			match[0] = f[1];
			match[1] = f[2];
			match_line = line;
		}
	}
	if (!match_line && !generic_line) {
		rc = -ENOENT;
		if (bucket)
			set_err(err, err_len,
				"%s has no ACCESS_KEY:SECRET_KEY line and no "
				"line for bucket %s",
				path, bucket);
		else
			set_err(err, err_len,
				"%s has no ACCESS_KEY:SECRET_KEY line", path);
		goto out;
	}
	{
		/* A line for this bucket wins over the generic one. */
		struct passwd_field *use = match_line ? match : generic;
		char *access = field_dup(use[0]);
		char *secret = field_dup(use[1]);

		rc = access && secret ? creds_fill(out, access, secret, NULL,
						   path)
				      : -ENOMEM;
		free(access);
		free_secret(secret);
		if (rc)
			set_err(err, err_len, "out of memory");
	}
out:
	wipe_free(data, len);
	return rc;
}

/* ------------------------------------------------------------ INI */

/* Does the header text [s, e) name @p section? "profile X" matches with
 * any run of blanks between the two words. */
static bool ini_section_is(const char *s, const char *e, const char *section)
{
	const char *sp = strchr(section, ' ');

	if (!sp)
		return (size_t)(e - s) == strlen(section) &&
		       memcmp(s, section, (size_t)(e - s)) == 0;
	if ((size_t)(e - s) <= (size_t)(sp - section) ||
	    memcmp(s, section, (size_t)(sp - section)) != 0)
		return false;
	s += sp - section;
	if (s == e || (*s != ' ' && *s != '\t'))
		return false;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	return (size_t)(e - s) == strlen(sp + 1) &&
	       memcmp(s, sp + 1, (size_t)(e - s)) == 0;
}

/*
 * Look up @p key ("name" or "parent.name") in the first of @p sections
 * (NULL-terminated) that the text has. Later values of a key in the same
 * section override earlier ones. 0 with *out (caller frees), -ENOENT, or
 * -ENOMEM. @p found_section: set when one of the sections exists.
 */
static int ini_lookup(const char *data, size_t len,
		      const char *const *sections, const char *key,
		      char **out, bool *found_section)
{
	const char *p = data, *end = data + len;
	const char *vs = NULL, *ve = NULL;
	char parent[64] = "";
	bool in_section = false;

	*out = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		bool indented = *s == ' ' || *s == '\t';
		const char *eq, *ks, *ke, *v0, *v1;

		p = nl ? nl + 1 : end;
		trim_range(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *hs = s + 1, *he = e;

			parent[0] = '\0';
			in_section = false;
			if (he[-1] != ']' || he - 1 < hs)
				continue;
			he--;
			trim_range(&hs, &he);
			for (const char *const *sec = sections; *sec; sec++)
				if (ini_section_is(hs, he, *sec))
					in_section = true;
			if (in_section && found_section)
				*found_section = true;
			continue;
		}
		if (!in_section)
			continue;
		eq = memchr(s, '=', (size_t)(e - s));
		if (!eq)
			continue;
		ks = s;
		ke = eq;
		v0 = eq + 1;
		v1 = e;
		trim_range(&ks, &ke);
		trim_range(&v0, &v1);
		if (ks == ke)
			continue;
		if (indented && parent[0]) {
			size_t pl = strlen(parent);

			/* "parent.name" compared without building it. */
			if (strncasecmp(key, parent, pl) == 0 &&
			    key[pl] == '.' &&
			    strlen(key + pl + 1) == (size_t)(ke - ks) &&
			    strncasecmp(key + pl + 1, ks,
					(size_t)(ke - ks)) == 0) {
				vs = v0;
				ve = v1;
			}
			continue;
		}
		parent[0] = '\0';
		if (v0 == v1 && (size_t)(ke - ks) < sizeof(parent)) {
			memcpy(parent, ks, (size_t)(ke - ks));
			parent[ke - ks] = '\0';
			continue;
		}
		if (strlen(key) == (size_t)(ke - ks) &&
		    strncasecmp(key, ks, (size_t)(ke - ks)) == 0) {
			vs = v0;
			ve = v1;
		}
	}
	if (!vs || vs == ve)
		return -ENOENT;
	*out = strndup(vs, (size_t)(ve - vs));
	return *out ? 0 : -ENOMEM;
}

/* The profile asked for: the option, else AWS_PROFILE, else "default". */
static const char *profile_name(const char *profile, bool *explicit_choice)
{
	const char *env = env_nonempty("AWS_PROFILE");

	*explicit_choice = true;
	if (profile && profile[0])
		return profile;
	if (env)
		return env;
	*explicit_choice = false;
	return "default";
}

/* The path of the credentials (@p config false) or config file, or NULL
 * with *rc 0 when it cannot be known (no HOME). */
static char *aws_file_path(bool config, int *rc)
{
	const char *env = env_nonempty(config ? "AWS_CONFIG_FILE"
					      : "AWS_SHARED_CREDENTIALS_FILE");

	if (env) {
		char *p = expand_path(env, rc);

		if (!p && *rc == -ENOENT)
			*rc = 0;
		return p;
	}
	return home_path(config ? ".aws/config" : ".aws/credentials", rc);
}

/*
 * Keys of @p profile in one AWS file. 0 (out filled), -ENOENT (no such
 * profile or no keys in it, or no file), -EINVAL (half a key pair),
 * -EACCES, -ENOMEM.
 */
static int creds_from_aws_file(bool config, const char *profile,
			       struct s3_creds *out, bool *found_section,
			       char *err, size_t err_len)
{
	char section_buf[300];
	const char *sections[3] = {section_buf, NULL, NULL};
	char *path = NULL, *data = NULL;
	char *access = NULL, *secret = NULL, *token = NULL;
	char source[4200];
	size_t len = 0;
	int rc, ra, rs, rt;

	path = aws_file_path(config, &rc);
	if (!path) {
		if (rc == 0)
			rc = -ENOENT;
		goto out;
	}
	/* The credentials file holds secret keys: private, as a passwd
	 * file must be. The config file (region, endpoint) need not be. */
	rc = read_small_file(path, INI_MAX, !config, &data, &len, err,
			     err_len);
	if (rc)
		goto out;
	/* A NUL would cut a value short (an empty session token, a key
	 * with trailing blanks): refuse the file, as for passwd files. */
	if (memchr(data, '\0', len)) {
		snprintf(err, err_len, "%s holds a NUL byte: not a valid "
			 "credentials or config file", path);
		rc = -EINVAL;
		goto out;
	}
	if (config) {
		snprintf(section_buf, sizeof(section_buf), "profile %s",
			 profile);
		if (strcmp(profile, "default") == 0)
			sections[1] = "default";
	} else {
		snprintf(section_buf, sizeof(section_buf), "%s", profile);
	}
	ra = ini_lookup(data, len, sections, "aws_access_key_id", &access,
			found_section);
	rs = ini_lookup(data, len, sections, "aws_secret_access_key", &secret,
			NULL);
	rt = ini_lookup(data, len, sections, "aws_session_token", &token,
			NULL);
	if (ra == -ENOMEM || rs == -ENOMEM || rt == -ENOMEM) {
		rc = -ENOMEM;
		set_err(err, err_len, "out of memory");
		goto out;
	}
	if (ra && rs) {
		rc = -ENOENT;
		goto out;
	}
	if (ra || rs) {
		rc = -EINVAL;
		set_err(err, err_len, "%s: profile %s has %s but no %s", path,
			profile, ra ? "aws_secret_access_key"
				    : "aws_access_key_id",
			ra ? "aws_access_key_id" : "aws_secret_access_key");
		goto out;
	}
	snprintf(source, sizeof(source), "%s (profile %s)", path, profile);
	rc = creds_fill(out, access, secret, token, source);
	if (rc)
		set_err(err, err_len, "out of memory");
out:
	free(access);
	free_secret(secret);
	free_secret(token);
	wipe_free(data, len);
	free(path);
	return rc;
}

static int creds_from_env(struct s3_creds *out, char *err, size_t err_len)
{
	const char *access = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	int rc;

	if (!access && !secret)
		return -ENOENT;
	if (!access || !secret) {
		set_err(err, err_len, "%s is set but %s is not",
			access ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			access ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EINVAL;
	}
	rc = creds_fill(out, access, secret, env_nonempty("AWS_SESSION_TOKEN"),
			"environment");
	if (rc)
		set_err(err, err_len, "out of memory");
	return rc;
}

int s3_creds_load(const struct s3_creds_query *q, struct s3_creds *out,
		  char *err, size_t err_len)
{
	static const struct s3_creds_query none;
	bool explicit_profile, found_section = false;
	const char *profile;
	char *path = NULL;
	int rc;

	if (!q)
		q = &none;
	memset(out, 0, sizeof(*out));
	if (err && err_len)
		err[0] = '\0';

	/* 1. An explicit passwd file is the user's choice: no fallback. */
	if (q->passwd_file)
		return s3_creds_load_passwd_file(q->passwd_file, q->bucket, out,
						 err, err_len);

	/* 2. The environment. */
	rc = creds_from_env(out, err, err_len);
	if (rc != -ENOENT)
		return rc;

	/* 3. The profile, in the credentials file, then the config file
	 * (the AWS CLI accepts keys in both). */
	profile = profile_name(q->profile, &explicit_profile);
	rc = creds_from_aws_file(false, profile, out, &found_section, err,
				 err_len);
	if (rc == -ENOENT)
		rc = creds_from_aws_file(true, profile, out, &found_section,
					 err, err_len);
	if (rc != -ENOENT)
		return rc;
	if (explicit_profile) {
		set_err(err, err_len,
			"profile %s %s in ~/.aws/credentials or "
			"~/.aws/config",
			profile,
			found_section ? "has no aws_access_key_id"
				      : "is not defined");
		return -ENOENT;
	}

	/* 4. The s3fs-style default files. */
	path = home_path(HOME_PASSWD_FILE, &rc);
	if (rc)
		goto nomem;
	if (path) {
		rc = s3_creds_load_passwd_file(path, q->bucket, out, err,
					       err_len);
		free(path);
		if (rc != -ENOENT)
			return rc;
	}
	rc = s3_creds_load_passwd_file(ETC_PASSWD_FILE, q->bucket, out, err,
				       err_len);
	if (rc != -ENOENT)
		return rc;

	set_err(err, err_len,
		"no credentials found: use the passwd_file option, set "
		"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, define profile "
		"%s in ~/.aws/credentials, or create ~/" HOME_PASSWD_FILE
		" (ACCESS_KEY:SECRET_KEY, mode 600)",
		profile);
	return -ENOENT;
nomem:
	set_err(err, err_len, "out of memory");
	return -ENOMEM;
}

/* ------------------------------------------------------------ settings */

/* First non-empty of the environment variables, else the config keys of
 * the profile, in order. */
static int setting(const char *const *envs, const char *data, size_t len,
		   const char *const *sections, const char *const *keys,
		   char **out)
{
	*out = NULL;
	for (; *envs; envs++) {
		const char *v = env_nonempty(*envs);

		if (v) {
			*out = strdup(v);
			return *out ? 0 : -ENOMEM;
		}
	}
	if (!data)
		return 0;
	for (; *keys; keys++) {
		int rc = ini_lookup(data, len, sections, *keys, out, NULL);

		if (rc != -ENOENT)
			return rc;
	}
	return 0;
}

int s3_profile_settings_load(const char *profile,
			     struct s3_profile_settings *out)
{
	static const char *const region_env[] = {"AWS_REGION",
						 "AWS_DEFAULT_REGION", NULL};
	static const char *const region_keys[] = {"region", NULL};
	/* Service-specific before global, environment before file, as the
	 * AWS SDKs order them. */
	static const char *const endpoint_env[] = {
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", NULL};
	static const char *const endpoint_keys[] = {"s3.endpoint_url",
						    "endpoint_url", NULL};
	char section_buf[300];
	const char *sections[3] = {section_buf, NULL, NULL};
	bool explicit_profile;
	char *path, *data = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	profile = profile_name(profile, &explicit_profile);
	snprintf(section_buf, sizeof(section_buf), "profile %s", profile);
	if (strcmp(profile, "default") == 0)
		sections[1] = "default";

	path = aws_file_path(true, &rc);
	if (rc)
		return rc;
	if (path) {
		/* An unreadable or missing config file means "no settings":
		 * the options and defaults still apply. */
		rc = read_small_file(path, INI_MAX, false, &data, &len, NULL,
				     0);
		free(path);
		if (rc == -ENOMEM)
			return rc;
		/* A NUL would cut a value short: such a file is ignored. */
		if (rc == 0 && memchr(data, '\0', len)) {
			wipe_free(data, len);
			rc = -EINVAL;
		}
		if (rc)
			data = NULL;
	}
	rc = setting(region_env, data, len, sections, region_keys,
		     &out->region);
	if (rc == 0)
		rc = setting(endpoint_env, data, len, sections, endpoint_keys,
			     &out->endpoint_url);
	wipe_free(data, len);
	if (rc)
		s3_profile_settings_free(out);
	return rc;
}
