/*
 * AWS Signature Version 4, header form.
 *
 * Pure computation: no I/O, no clock, no globals, so safe from any thread.
 * The secret key and every key derived from it live in stack arrays or an
 * exact-size heap block that is wiped before it is released.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "s3/sigv4.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/uri.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_AMZ_DATE_LEN 16
#define SIGV4_DATE_LEN 8

struct sigv4_header {
	char *name;  /* lower-cased */
	char *value; /* trimmed, whitespace runs folded */
	size_t order; /* position in the request, keeps duplicates in order */
};

struct sigv4_param {
	char *key;   /* strictly re-encoded */
	char *value; /* strictly re-encoded */
};

static bool sigv4_has_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* A field that goes into the credential scope must not be able to forge
 * another scope component or line. */
static bool sigv4_scope_part_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || sigv4_has_ctl(s))
		return false;
	return strpbrk(s, "/ ,;=") == NULL;
}

static bool sigv4_amz_date_ok(const char *d)
{
	size_t i;

	if (d == NULL || strlen(d) != SIGV4_AMZ_DATE_LEN)
		return false;
	for (i = 0; i < SIGV4_AMZ_DATE_LEN; i++) {
		char c = d[i];

		if (i == 8) {
			if (c != 'T')
				return false;
		} else if (i == 15) {
			if (c != 'Z')
				return false;
		} else if (c < '0' || c > '9') {
			return false;
		}
	}
	return true;
}

static int sigv4_validate(const struct s3_sigv4_request *req,
			  const struct s3_sigv4_keys *keys)
{
	if (req == NULL || keys == NULL)
		return -EINVAL;
	if (req->method == NULL || req->method[0] == '\0' ||
	    strpbrk(req->method, " ") != NULL || sigv4_has_ctl(req->method))
		return -EINVAL;
	if (req->path == NULL || req->path[0] != '/' ||
	    sigv4_has_ctl(req->path))
		return -EINVAL;
	if (req->query != NULL && sigv4_has_ctl(req->query))
		return -EINVAL;
	if (req->headers == NULL && req->n_headers > 0)
		return -EINVAL;
	if (req->payload_hash == NULL || req->payload_hash[0] == '\0' ||
	    sigv4_has_ctl(req->payload_hash))
		return -EINVAL;
	if (!sigv4_amz_date_ok(req->amz_date) ||
	    !sigv4_scope_part_ok(req->region) ||
	    !sigv4_scope_part_ok(req->service))
		return -EINVAL;
	if (!sigv4_scope_part_ok(keys->access_key) ||
	    keys->secret_key == NULL || keys->secret_key[0] == '\0')
		return -EINVAL;
	return 0;
}

/*
 * Remove "." and ".." segments and empty segments ("//"), as RFC 3986
 * section 5.2.4 does for dot segments; a path that ended in "/", "/." or
 * "/.." keeps a trailing "/". ".." at the root stays at the root.
 */
static int sigv4_normalize_path(const char *path, struct buf *out)
{
	const char **seg = NULL;
	size_t *seg_len = NULL;
	size_t n_seg = 0;
	size_t max_seg = 1;
	bool trailing_slash = false;
	const char *p;
	size_t i;
	int rc = -ENOMEM;

	for (p = path; *p != '\0'; p++)
		if (*p == '/')
			max_seg++;
	seg = calloc(max_seg, sizeof(*seg));
	seg_len = calloc(max_seg, sizeof(*seg_len));
	if (seg == NULL || seg_len == NULL)
		goto out;

	p = path;
	while (*p != '\0') {
		const char *start;
		size_t len;
		bool is_dot;
		bool is_dotdot;

		while (*p == '/')
			p++;
		start = p;
		while (*p != '\0' && *p != '/')
			p++;
		len = (size_t)(p - start);
		is_dot = len == 1 && start[0] == '.';
		is_dotdot = len == 2 && start[0] == '.' && start[1] == '.';
		/* Anything but a real last segment leaves a directory. */
		trailing_slash = len == 0 || is_dot || is_dotdot;
		if (len == 0 || is_dot)
			continue;
		if (is_dotdot) {
			if (n_seg > 0)
				n_seg--;
			continue;
		}
		seg[n_seg] = start;
		seg_len[n_seg] = len;
		n_seg++;
	}

	rc = 0;
	for (i = 0; i < n_seg && rc == 0; i++) {
		rc = buf_add(out, "/", 1);
		if (rc == 0)
			rc = buf_add(out, seg[i], seg_len[i]);
	}
	if (rc == 0 && (n_seg == 0 || trailing_slash))
		rc = buf_add(out, "/", 1);
out:
	free(seg);
	free(seg_len);
	return rc;
}

static int sigv4_add_canonical_uri(const struct s3_sigv4_request *req,
				   struct buf *creq)
{
	struct buf norm;
	const char *path = req->path;
	int rc = 0;

	buf_init(&norm, BUF_MAX_DEFAULT);
	if (req->normalize_path) {
		rc = sigv4_normalize_path(req->path, &norm);
		if (rc < 0)
			goto out;
		path = buf_str(&norm);
	}
	/* S3 signs the path exactly as it is sent; other services sign the
	 * encoding of the (already encoded) path. */
	if (req->double_encode_path)
		rc = uri_encode(creq, path, strlen(path), true);
	else
		rc = buf_adds(creq, path);
out:
	buf_free(&norm);
	return rc;
}

static int sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *pa = a;
	const struct sigv4_param *pb = b;
	int c = strcmp(pa->key, pb->key);

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Decode then strictly re-encode one query component into a new string;
 * the component is not NUL-terminated, so it is copied first. */
static int sigv4_recode(const char *s, size_t len, char **out)
{
	struct buf raw;
	struct buf dec;
	struct buf enc;
	int rc;

	*out = NULL;
	buf_init(&raw, BUF_MAX_DEFAULT);
	buf_init(&dec, BUF_MAX_DEFAULT);
	buf_init(&enc, BUF_MAX_DEFAULT);
	rc = buf_add(&raw, s, len);
	if (rc == 0)
		rc = uri_decode(&dec, buf_str(&raw), false);
	if (rc == 0)
		rc = uri_encode(&enc, buf_str(&dec), dec.len, false);
	if (rc < 0)
		goto out;
	*out = buf_take(&enc);
	if (*out == NULL)
		rc = -ENOMEM;
out:
	buf_free(&raw);
	buf_free(&dec);
	buf_free(&enc);
	return rc;
}

static int sigv4_add_canonical_query(const char *query, struct buf *creq)
{
	struct sigv4_param *params = NULL;
	size_t n_params = 0;
	size_t max_params = 1;
	const char *p;
	size_t i;
	int rc = 0;

	if (query == NULL || query[0] == '\0')
		return 0;
	for (p = query; *p != '\0'; p++)
		if (*p == '&')
			max_params++;
	params = calloc(max_params, sizeof(*params));
	if (params == NULL)
		return -ENOMEM;

	p = query;
	while (*p != '\0') {
		const char *end = strchr(p, '&');
		const char *eq;
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len > 0) {
			eq = memchr(p, '=', len);
			if (eq == NULL)
				eq = end;
			rc = sigv4_recode(p, (size_t)(eq - p),
					  &params[n_params].key);
			if (rc == 0 && eq < end)
				rc = sigv4_recode(eq + 1,
						  (size_t)(end - eq - 1),
						  &params[n_params].value);
			else if (rc == 0)
				rc = sigv4_recode("", 0,
						  &params[n_params].value);
			n_params++;
			if (rc < 0)
				goto out;
		}
		p = *end == '&' ? end + 1 : end;
	}

	qsort(params, n_params, sizeof(*params), sigv4_param_cmp);
	for (i = 0; i < n_params && rc == 0; i++)
		rc = buf_addf(creq, "%s%s=%s", i > 0 ? "&" : "",
			      params[i].key, params[i].value);
out:
	for (i = 0; i < n_params; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
	return rc;
}

static int sigv4_header_cmp(const void *a, const void *b)
{
	const struct sigv4_header *ha = a;
	const struct sigv4_header *hb = b;
	int c = strcmp(ha->name, hb->name);

	if (c != 0)
		return c;
	return ha->order < hb->order ? -1 : ha->order > hb->order;
}

static bool sigv4_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Header names are RFC 9110 tokens: visible ASCII without separators. */
static bool sigv4_header_name_ok(const char *name)
{
	const char *p;

	if (name == NULL || name[0] == '\0')
		return false;
	for (p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
			return false;
	}
	return true;
}

static int sigv4_header_copy(const struct s3_header *in, size_t order,
			     struct sigv4_header *out)
{
	size_t len;
	size_t i;
	size_t o = 0;
	const char *v;
	bool pending_space = false;

	if (!sigv4_header_name_ok(in->name) || in->value == NULL ||
	    strpbrk(in->value, "\r\n") != NULL)
		return -EINVAL;
	out->order = order;
	len = strlen(in->name);
	out->name = malloc(len + 1);
	if (out->name == NULL)
		return -ENOMEM;
	for (i = 0; i <= len; i++) {
		char c = in->name[i];

		out->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a')
						      : c;
	}

	out->value = malloc(strlen(in->value) + 1);
	if (out->value == NULL)
		return -ENOMEM;
	/* Trim both ends and fold each inner whitespace run to one space,
	 * quoted text included, as SigV4 specifies. */
	for (v = in->value; *v != '\0'; v++) {
		if (sigv4_is_space(*v)) {
			pending_space = o > 0;
			continue;
		}
		if (pending_space)
			out->value[o++] = ' ';
		pending_space = false;
		out->value[o++] = *v;
	}
	out->value[o] = '\0';
	return 0;
}

/*
 * Append the canonical headers block (each "name:value\n") to @creq and
 * the signed-header list to @signed_headers.
 */
static int sigv4_add_canonical_headers(const struct s3_sigv4_request *req,
				       struct buf *creq,
				       struct buf *signed_headers)
{
	struct sigv4_header *hdrs = NULL;
	size_t n = 0;
	size_t i;
	bool have_host = false;
	int rc = 0;

	if (req->n_headers == 0)
		return -EINVAL; /* host is mandatory */
	hdrs = calloc(req->n_headers, sizeof(*hdrs));
	if (hdrs == NULL)
		return -ENOMEM;
	for (n = 0; n < req->n_headers; n++) {
		rc = sigv4_header_copy(&req->headers[n], n, &hdrs[n]);
		if (rc < 0) {
			n++;
			goto out;
		}
	}
	qsort(hdrs, n, sizeof(*hdrs), sigv4_header_cmp);

	for (i = 0; i < n && rc == 0; i++) {
		const char *name = hdrs[i].name;
		bool first = i == 0 || strcmp(hdrs[i - 1].name, name) != 0;
		bool last = i + 1 == n || strcmp(hdrs[i + 1].name, name) != 0;

		if (first) {
			if (strcmp(hdrs[i].name, "host") == 0)
				have_host = true;
			rc = buf_addf(creq, "%s:", hdrs[i].name);
			if (rc == 0)
				rc = buf_addf(signed_headers, "%s%s",
					      i > 0 ? ";" : "", hdrs[i].name);
		} else {
			rc = buf_add(creq, ",", 1);
		}
		if (rc == 0)
			rc = buf_adds(creq, hdrs[i].value);
		if (rc == 0 && last)
			rc = buf_add(creq, "\n", 1);
	}
	if (rc == 0 && !have_host)
		rc = -EINVAL;
out:
	for (i = 0; i < n; i++) {
		free(hdrs[i].name);
		free(hdrs[i].value);
	}
	free(hdrs);
	return rc;
}

static int sigv4_build_canonical_request(const struct s3_sigv4_request *req,
					 struct buf *creq,
					 struct buf *signed_headers)
{
	int rc;

	rc = buf_addf(creq, "%s\n", req->method);
	if (rc == 0)
		rc = sigv4_add_canonical_uri(req, creq);
	if (rc == 0)
		rc = buf_add(creq, "\n", 1);
	if (rc == 0)
		rc = sigv4_add_canonical_query(req->query, creq);
	if (rc == 0)
		rc = buf_add(creq, "\n", 1);
	if (rc == 0)
		rc = sigv4_add_canonical_headers(req, creq, signed_headers);
	if (rc == 0)
		rc = buf_addf(creq, "\n%s\n%s", buf_str(signed_headers),
			      req->payload_hash);
	return rc;
}

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request"), then the signature over @sts.
 */
static int sigv4_signature(const struct s3_sigv4_request *req,
			   const char *secret, const char *sts,
			   char hex[HASH_SHA256_HEX_LEN + 1])
{
	unsigned char key[HASH_SHA256_LEN];
	unsigned char next[HASH_SHA256_LEN];
	unsigned char sig[HASH_SHA256_LEN];
	size_t secret_len = strlen(secret);
	char *k_secret = NULL;
	int rc = -ENOMEM;

	k_secret = malloc(secret_len + 4);
	if (k_secret == NULL)
		goto out;
	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, secret_len);

	hash_hmac_sha256(k_secret, secret_len + 4, req->amz_date,
			 SIGV4_DATE_LEN, key);
	hash_hmac_sha256(key, sizeof(key), req->region, strlen(req->region),
			 next);
	hash_hmac_sha256(next, sizeof(next), req->service,
			 strlen(req->service), key);
	hash_hmac_sha256(key, sizeof(key), "aws4_request", 12, next);
	hash_hmac_sha256(next, sizeof(next), sts, strlen(sts), sig);
	hash_hex(sig, sizeof(sig), hex);
	rc = 0;
out:
	if (k_secret != NULL) {
		OPENSSL_cleanse(k_secret, secret_len + 4);
		free(k_secret);
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(next, sizeof(next));
	return rc;
}

int s3_sigv4_sign(const struct s3_sigv4_request *req,
		  const struct s3_sigv4_keys *keys,
		  struct s3_sigv4_result *out)
{
	struct buf creq;
	struct buf sts;
	struct buf signed_headers;
	struct buf auth;
	char creq_hash[HASH_SHA256_HEX_LEN + 1];
	char signature[HASH_SHA256_HEX_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&creq, BUF_MAX_DEFAULT);
	buf_init(&sts, BUF_MAX_DEFAULT);
	buf_init(&signed_headers, BUF_MAX_DEFAULT);
	buf_init(&auth, BUF_MAX_DEFAULT);

	rc = sigv4_validate(req, keys);
	if (rc < 0)
		goto out;

	rc = sigv4_build_canonical_request(req, &creq, &signed_headers);
	if (rc < 0)
		goto out;

	hash_sha256_hex(buf_str(&creq), creq.len, creq_hash);
	rc = buf_addf(&sts, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s",
		      req->amz_date, req->amz_date, req->region, req->service,
		      creq_hash);
	if (rc < 0)
		goto out;

	rc = sigv4_signature(req, keys->secret_key, buf_str(&sts), signature);
	if (rc < 0)
		goto out;

	rc = buf_addf(&auth,
		      SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
				      "SignedHeaders=%s, Signature=%s",
		      keys->access_key, req->amz_date, req->region,
		      req->service, buf_str(&signed_headers), signature);
	if (rc < 0)
		goto out;

	out->canonical_request = buf_take(&creq);
	out->string_to_sign = buf_take(&sts);
	out->signed_headers = buf_take(&signed_headers);
	out->authorization = buf_take(&auth);
	out->signature = strdup(signature);
	if (out->canonical_request == NULL || out->string_to_sign == NULL ||
	    out->signed_headers == NULL || out->authorization == NULL ||
	    out->signature == NULL) {
		s3_sigv4_result_free(out);
		rc = -ENOMEM;
	}
out:
	/* A request too large for the ceiling is not one we can sign. */
	if (rc == -E2BIG)
		rc = -EINVAL;
	buf_free(&creq);
	buf_free(&sts);
	buf_free(&signed_headers);
	buf_free(&auth);
	return rc;
}

void s3_sigv4_result_free(struct s3_sigv4_result *r)
{
	if (r == NULL)
		return;
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->signature);
	free(r->signed_headers);
	free(r->authorization);
	memset(r, 0, sizeof(*r));
}

static void sigv4_put_digits(char *out, unsigned int v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void s3_sigv4_amz_date(long long t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* Out-of-range times give an obviously wrong, still well-formed
	 * date that the server will reject as skewed. */
	if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		memset(&tm, 0, sizeof(tm));
	sigv4_put_digits(out, (unsigned int)(tm.tm_year + 1900), 4);
	sigv4_put_digits(out + 4, (unsigned int)(tm.tm_mon + 1), 2);
	sigv4_put_digits(out + 6, (unsigned int)tm.tm_mday, 2);
	out[8] = 'T';
	sigv4_put_digits(out + 9, (unsigned int)tm.tm_hour, 2);
	sigv4_put_digits(out + 11, (unsigned int)tm.tm_min, 2);
	sigv4_put_digits(out + 13, (unsigned int)tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = '\0';
}
