/*
 * File attributes as object metadata, in s3fs's format.
 *
 * What s3fs writes (src/string_util.cpp and metaheader.cpp, s3fs-fuse):
 *  - x-amz-meta-mode: st_mode in decimal, type bits included
 *    (33188 = S_IFREG | 0644);
 *  - x-amz-meta-uid / -gid: decimal;
 *  - x-amz-meta-mtime: tv_sec in decimal, followed by "." and tv_nsec as
 *    exactly 9 zero-padded digits when tv_nsec is not 0
 *    ("1700000000.123456789"); tv_sec may be negative (pre-1970 times).
 *
 * Reading is stricter than s3fs (which turns junk into 0): a malformed
 * value is ignored, with a debug line, and the attribute counts as
 * absent. The fraction of mtime is read as decimal digits of a second,
 * right-padded to nanoseconds, so s3fs's 9-digit form and shorter forms
 * other tools write ("1700000000.5") both mean what they say; digits past
 * the ninth are dropped. Like s3fs, the fraction is the tv_nsec of the
 * given tv_sec even when tv_sec is negative, so values round-trip with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "s3/meta.h"
#include "util/log.h"

#define META_PREFIX "x-amz-meta-"

/* Everything st_mode may carry: type, setuid/setgid/sticky, permissions. */
#define META_MODE_BITS ((mode_t)(S_IFMT | 07777))

/* Plain decimal digits only, no sign, no spaces, no overflow past max. */
static int parse_udec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_mode(const char *s, mode_t *out)
{
	uint64_t v;

	if (parse_udec(s, UINT32_MAX, &v) || (v & ~(uint64_t)META_MODE_BITS))
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

/* uid_t/gid_t are 32-bit; (uid_t)-1 means "no id" to chown and is never
 * an owner. */
static int parse_id(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_udec(s, UINT32_MAX - 1, &v))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_mtime(const char *s, struct timespec *out)
{
	char secs[24];
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s);
	bool negative = false;
	uint64_t v;
	long nsec = 0;

	if (n == 0 || n >= sizeof(secs))
		return -EINVAL;
	memcpy(secs, s, n);
	secs[n] = '\0';
	if (secs[0] == '-') {
		negative = true;
		if (parse_udec(secs + 1, (uint64_t)INT64_MAX, &v))
			return -EINVAL;
	} else if (parse_udec(secs, (uint64_t)INT64_MAX, &v)) {
		return -EINVAL;
	}
	if (dot) {
		const char *p = dot + 1;
		int digits = 0;

		if (!*p)
			return -EINVAL;
		for (; *p; p++, digits++) {
			if (*p < '0' || *p > '9' || digits >= 18)
				return -EINVAL;
			if (digits < 9)
				nsec = nsec * 10 + (*p - '0');
		}
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	out->tv_sec = negative ? -(time_t)v : (time_t)v;
	out->tv_nsec = nsec;
	return 0;
}

static bool token_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return i == S3_TOKEN_LEN;
}

void s3_meta_from_kv(struct s3_meta *m, const struct s3_kv *kv, size_t n)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const char *name = kv[i].name;
		const char *value = kv[i].value;
		bool bad = false;

		if (!name || !value)
			continue;
		/* The transport strips the prefix; tolerate one that
		 * didn't. */
		if (strncasecmp(name, META_PREFIX, strlen(META_PREFIX)) == 0)
			name += strlen(META_PREFIX);
		if (strcasecmp(name, "mode") == 0) {
			bad = parse_mode(value, &m->mode) != 0;
			m->has_mode = m->has_mode || !bad;
		} else if (strcasecmp(name, "uid") == 0) {
			uint32_t id;

			bad = parse_id(value, &id) != 0;
			if (!bad) {
				m->uid = (uid_t)id;
				m->has_uid = true;
			}
		} else if (strcasecmp(name, "gid") == 0) {
			uint32_t id;

			bad = parse_id(value, &id) != 0;
			if (!bad) {
				m->gid = (gid_t)id;
				m->has_gid = true;
			}
		} else if (strcasecmp(name, "mtime") == 0) {
			bad = parse_mtime(value, &m->mtime) != 0;
			m->has_mtime = m->has_mtime || !bad;
		} else if (strcasecmp(name, "etagfs-token") == 0) {
			bad = !token_valid(value);
			if (!bad)
				memcpy(m->token, value, S3_TOKEN_LEN + 1);
		} else if (strcasecmp(name, "etagfs-parent") == 0) {
			bad = !token_valid(value);
			if (!bad)
				memcpy(m->parent, value, S3_TOKEN_LEN + 1);
		}
		if (bad)
			log_debug("meta: ignoring malformed x-amz-meta-%s",
				  name);
	}
}

/* Append "value\0" to storage; NULL when it does not fit. */
static const char *store(char *storage, size_t storage_len, size_t *used,
			 const char *fmt_value)
{
	size_t len = strlen(fmt_value);
	char *dst;

	if (len + 1 > storage_len - *used)
		return NULL;
	dst = storage + *used;
	memcpy(dst, fmt_value, len + 1);
	*used += len + 1;
	return dst;
}

/*
 * Names are string literals (they outlive any storage); values live in
 * @p storage. A header whose value does not fit is left out, and so is an
 * mtime whose tv_nsec is out of range.
 */
size_t s3_meta_to_headers(const struct s3_meta *m, struct s3_header *out,
			  char *storage, size_t storage_len)
{
	char value[64];
	size_t used = 0, n = 0;
	const char *v;

	if (!storage)
		storage_len = 0;
	if (m->has_mode) {
		snprintf(value, sizeof(value), "%u", (unsigned)m->mode);
		v = store(storage, storage_len, &used, value);
		if (v)
			out[n++] = (struct s3_header){META_PREFIX "mode", v};
	}
	if (m->has_uid) {
		snprintf(value, sizeof(value), "%u", (unsigned)m->uid);
		v = store(storage, storage_len, &used, value);
		if (v)
			out[n++] = (struct s3_header){META_PREFIX "uid", v};
	}
	if (m->has_gid) {
		snprintf(value, sizeof(value), "%u", (unsigned)m->gid);
		v = store(storage, storage_len, &used, value);
		if (v)
			out[n++] = (struct s3_header){META_PREFIX "gid", v};
	}
	if (m->has_mtime && m->mtime.tv_nsec >= 0 &&
	    m->mtime.tv_nsec < 1000000000L) {
		if (m->mtime.tv_nsec)
			snprintf(value, sizeof(value), "%lld.%09ld",
				 (long long)m->mtime.tv_sec,
				 (long)m->mtime.tv_nsec);
		else
			snprintf(value, sizeof(value), "%lld",
				 (long long)m->mtime.tv_sec);
		v = store(storage, storage_len, &used, value);
		if (v)
			out[n++] = (struct s3_header){META_PREFIX "mtime", v};
	}
	if (m->token[0]) {
		v = store(storage, storage_len, &used, m->token);
		if (v)
			out[n++] = (struct s3_header){
				META_PREFIX "etagfs-token", v};
	}
	if (m->parent[0]) {
		v = store(storage, storage_len, &used, m->parent);
		if (v)
			out[n++] = (struct s3_header){
				META_PREFIX "etagfs-parent", v};
	}
	return n;
}

int s3_meta_new_token(char token[S3_TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[S3_TOKEN_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		token[2 * i] = hex[raw[i] >> 4];
		token[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	token[S3_TOKEN_LEN] = '\0';
	return 0;
}
