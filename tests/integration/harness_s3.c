/*
 * The harness's independent S3 client: libcurl's own SigV4 (not etagfs's
 * signing code), one easy handle reused by every call, so that what a
 * test reads back from the server owes nothing to the code under test.
 * Contracts in harness.h.
 *
 * Concurrency: tests run on the main thread only; a fault proxy hook
 * may call in while the test thread is blocked in a system call.
 */
#include "harness.h"
#include "harness_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ----------------------------------------------------- independent S3 */

static CURL *curl;

int it_membuf_add(struct membuf *b, const void *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len) {
		b->overflow = true;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->overflow = true;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	return it_membuf_add(ud, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct membuf *b = ud;

	/* Keep only the final response's headers (not 100 Continue's). */
	if (size * nmemb >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		b->len = 0;
	return it_membuf_add(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

struct upload {
	const char *p;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->p + u->off, n);
	u->off += n;
	return n;
}

/* AWS URI encoding: unreserved kept, @keep_slash for paths, %XX else. */
static char *uri_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void it_s3_resp_free(struct it_s3_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->headers);
	r->body = NULL;
	r->headers = NULL;
}

int it_s3_resp_header(const struct it_s3_resp *r, const char *name, char *out,
		      size_t out_len)
{
	size_t nl = strlen(name);
	const char *line = r->headers;

	if (out_len)
		out[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t vl = ll - nl - 1;

			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && isspace((unsigned char)v[vl - 1]))
				vl--;
			if (vl >= out_len)
				vl = out_len ? out_len - 1 : 0;
			if (out_len) {
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -1;
}

/* Text of the first <tag>...</tag> at or after @from, or NULL. */
static const char *xml_find(const char *from, const char *tag, char *out,
			    size_t out_len)
{
	char open[64], close[64];
	const char *a, *b;
	size_t n;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = from ? strstr(from, open) : NULL;
	if (!a)
		return NULL;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return NULL;
	n = (size_t)(b - a);
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, a, n);
	out[n] = '\0';
	return b + strlen(close);
}

/* Decode the five XML entities and numeric references, in place. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
		    {"&quot;", '"'}, {"&apos;", '\''}};
	char *r = s, *w = s;
	size_t i;

	while (*r) {
		if (*r == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t l = strlen(ents[i].ent);

				if (strncmp(r, ents[i].ent, l) == 0) {
					*w++ = ents[i].c;
					r += l;
					goto next;
				}
			}
			if (r[1] == '#') {
				char *end;
				long v = r[2] == 'x' ?
						 strtol(r + 3, &end, 16) :
						 strtol(r + 2, &end, 10);

				if (*end == ';' && v > 0 && v < 128) {
					*w++ = (char)v;
					r = end + 1;
					goto next;
				}
			}
		}
		*w++ = *r++;
next:;
	}
	*w = '\0';
}

long it_s3_request(const char *method, const char *bucket, const char *key,
		   const char *query, const char *const *headers,
		   const void *body, size_t len, struct it_s3_resp *resp)
{
	struct membuf bbuf = {.max = IT_BODY_MAX};
	struct membuf hbuf = {.max = 1 << 20};
	struct curl_slist *hl = NULL, *tmp = NULL;
	struct upload up = {.p = body, .len = len};
	char sigv4[128], *ekey = NULL, *url = NULL, errbuf[CURL_ERROR_SIZE];
	size_t url_len;
	long status = 0;
	CURLcode rc;

	if (resp)
		memset(resp, 0, sizeof(*resp));
	if (!curl) {
		curl = curl_easy_init();
		if (!curl)
			it_hard_error("curl_easy_init failed");
	}
	curl_easy_reset(curl);

	ekey = uri_encode(key ? key : "", true);
	url_len = strlen(it_env.endpoint) + strlen(bucket ? bucket : "") +
		  (ekey ? strlen(ekey) : 0) + (query ? strlen(query) : 0) + 8;
	url = malloc(url_len);
	if (!ekey || !url)
		goto out;
	snprintf(url, url_len, "%s/%s%s%s%s%s", it_env.endpoint,
		 bucket ? bucket : "", key ? "/" : "", key ? ekey : "",
		 query ? "?" : "", query ? query : "");

	/*
	 * libcurl would hash the payload itself, which it cannot do for a
	 * streamed upload; RGW accepts UNSIGNED-PAYLOAD like AWS does.
	 */
	hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/*
	 * No "Expect:" to suppress 100-continue: libcurl 7.88 would sign the
	 * emptied header and RGW would then reject the signature.
	 */
	tmp = hl;
	for (; hl && tmp && headers && *headers; headers++)
		tmp = curl_slist_append(hl, *headers);
	if (!hl || !tmp)
		goto out;

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", it_env.region);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4);
	/* Keys are sent as they are: "d/./y" must not become "d/y". */
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_USERNAME, it_env.access_key);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, it_env.secret_key);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bbuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hbuf);
	if (getenv("ETAGFS_IT_CURL_VERBOSE"))
		curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(curl, CURLOPT_READDATA, &up);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}

	errbuf[0] = '\0';
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	} else {
		it_log("independent client: %s %s: %s", method, url,
		       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	if (resp) {
		resp->status = status;
		resp->body = bbuf.p ? bbuf.p : strdup("");
		resp->body_len = bbuf.len;
		resp->headers = hbuf.p ? hbuf.p : strdup("");
		bbuf.p = NULL;
		hbuf.p = NULL;
		it_s3_resp_header(resp, "ETag", resp->etag,
				  sizeof(resp->etag));
		if (status >= 300 &&
		    xml_find(resp->body, "Code", resp->error_code,
			     sizeof(resp->error_code)) == NULL)
			resp->error_code[0] = '\0';
	}
out:
	curl_slist_free_all(hl);
	free(bbuf.p);
	free(hbuf.p);
	free(ekey);
	free(url);
	return status;
}

long it_s3_create_bucket(const char *bucket)
{
	return it_s3_request("PUT", bucket, NULL, NULL, NULL, NULL, 0, NULL);
}

long it_s3_put_hdrs(const char *bucket, const char *key, const void *data,
		    size_t len, const char *const *headers, char *etag_out)
{
	struct it_s3_resp r;
	long st;

	st = it_s3_request("PUT", bucket, key, NULL, headers, data, len, &r);
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	it_s3_resp_free(&r);
	return st;
}

long it_s3_put(const char *bucket, const char *key, const void *data,
	       size_t len, char *etag_out)
{
	return it_s3_put_hdrs(bucket, key, data, len, NULL, etag_out);
}

long it_s3_put_cond(const char *bucket, const char *key, const void *data,
		    size_t len, const char *cond_header, char *etag_out)
{
	const char *h[] = {cond_header, NULL};

	return it_s3_put_hdrs(bucket, key, data, len, h, etag_out);
}

long it_s3_get(const char *bucket, const char *key, void **data, size_t *len,
	       char *etag_out)
{
	struct it_s3_resp r;
	long st;

	st = it_s3_request("GET", bucket, key, NULL, NULL, NULL, 0, &r);
	*data = NULL;
	*len = 0;
	if (st == 200) {
		*data = r.body;
		*len = r.body_len;
		r.body = NULL;
	}
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	it_s3_resp_free(&r);
	return st;
}

long it_s3_head(const char *bucket, const char *key, long long *size,
		char *etag_out, const char *meta_name, char *meta_val,
		size_t meta_len)
{
	struct it_s3_resp r;
	char cl[32];
	long st;

	st = it_s3_request("HEAD", bucket, key, NULL, NULL, NULL, 0, &r);
	if (size)
		*size = it_s3_resp_header(&r, "Content-Length", cl,
					  sizeof(cl)) == 0 ?
				strtoll(cl, NULL, 10) :
				-1;
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	if (meta_name && meta_val)
		it_s3_resp_header(&r, meta_name, meta_val, meta_len);
	it_s3_resp_free(&r);
	return st;
}

long it_s3_delete(const char *bucket, const char *key)
{
	return it_s3_request("DELETE", bucket, key, NULL, NULL, NULL, 0, NULL);
}

void it_strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Append a copy of @s to the NULL-terminated vector *@v of *@n. */
static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -1;
	nv[++*n] = NULL;
	return 0;
}

/* Every <Key> of every page of a listing; @base: the fixed parameters. */
static char **list_keys(const char *bucket, const char *prefix, bool uploads,
			size_t *n_out)
{
	char **v = calloc(1, sizeof(*v));
	char *eprefix = NULL, *etoken = NULL, *query = NULL;
	char token[1024] = "", key[2048];
	struct it_s3_resp r = {0};
	size_t n = 0, qlen;
	const char *p;
	long st;
	bool more;

	eprefix = uri_encode(prefix ? prefix : "", false);
	if (!v || !eprefix)
		goto fail;
	do {
		free(etoken);
		free(query);
		query = NULL;
		etoken = uri_encode(token, false);
		qlen = strlen(eprefix) + (etoken ? strlen(etoken) : 0) + 64;
		query = malloc(qlen);
		if (!etoken || !query)
			goto fail;
		/* Parameters in canonical (sorted) order: see harness.h. */
		if (uploads)
			snprintf(query, qlen, "prefix=%s&uploads=", eprefix);
		else if (token[0])
			snprintf(query, qlen,
				 "continuation-token=%s&list-type=2&prefix=%s",
				 etoken, eprefix);
		else
			snprintf(query, qlen, "list-type=2&prefix=%s",
				 eprefix);
		st = it_s3_request("GET", bucket, NULL, query, NULL, NULL, 0,
				   &r);
		if (st != 200) {
			it_log("listing %s failed: HTTP %ld %s", bucket, st,
			       r.error_code);
			goto fail;
		}
		for (p = r.body; (p = xml_find(p, "Key", key, sizeof(key)));) {
			xml_unescape(key);
			if (strv_add(&v, &n, key) < 0)
				goto fail;
		}
		more = !uploads && strstr(r.body,
					  "<IsTruncated>true</IsTruncated>");
		if (more && !xml_find(r.body, "NextContinuationToken", token,
				      sizeof(token)))
			more = false;
		it_s3_resp_free(&r);
	} while (more);
	free(eprefix);
	free(etoken);
	free(query);
	if (n_out)
		*n_out = n;
	return v;
fail:
	it_s3_resp_free(&r);
	it_strv_free(v);
	free(eprefix);
	free(etoken);
	free(query);
	if (n_out)
		*n_out = 0;
	return NULL;
}

char **it_s3_list(const char *bucket, const char *prefix, size_t *n)
{
	return list_keys(bucket, prefix, false, n);
}

char **it_s3_list_multipart_uploads(const char *bucket, size_t *n)
{
	return list_keys(bucket, NULL, true, n);
}

int it_s3_upload_parts(const char *bucket, const char *key)
{
	char id[1024], query[1200];
	struct it_s3_resp r = {0};
	const char *p;
	char *eid = NULL;
	int parts = -1;

	/* The one upload of @p key: a listing filtered by its name. */
	snprintf(query, sizeof(query), "prefix=%s&uploads=", key);
	if (strchr(key, '&') || strchr(key, '%') ||
	    it_s3_request("GET", bucket, NULL, query, NULL, NULL, 0, &r) !=
		    200 ||
	    !xml_find(r.body, "UploadId", id, sizeof(id)))
		goto out;
	it_s3_resp_free(&r);
	eid = uri_encode(id, false);
	if (eid == NULL)
		goto out;
	snprintf(query, sizeof(query), "uploadId=%s", eid);
	if (it_s3_request("GET", bucket, key, query, NULL, NULL, 0, &r) != 200)
		goto out;
	parts = 0;
	for (p = r.body; (p = strstr(p, "<PartNumber>")) != NULL; p++)
		parts++;
out:
	it_s3_resp_free(&r);
	free(eid);
	return parts;
}

int it_s3_wait_upload_parts(const char *bucket, const char *key, int parts)
{
	int have = -1;

	for (int i = 0; i < 400; i++) {
		have = it_s3_upload_parts(bucket, key);
		if (have >= parts)
			break;
		usleep(50 * 1000);
	}
	IT_ASSERT_MSG(have >= parts,
		      "the upload of '%s' has %d parts stored, expected %d "
		      "while the file is still open",
		      key, have, parts);
	return have;
}

void it_fresh_bucket(char out[64])
{
	static unsigned counter;
	static unsigned tag;
	long st;

	/* A per-process tag keeps names unique across pid reuse. */
	if (!tag)
		tag = ((unsigned)time(NULL) ^ (unsigned)getpid() * 2654435761u) &
		      0xffff;
	snprintf(out, 64, "it-%ld-%04x-%u", (long)getpid(), tag, ++counter);
	st = it_s3_create_bucket(out);
	if (st != 200)
		IT_FAIL("independent client: creating bucket %s: HTTP %ld",
			out, st);
}

void it_etag_unquote(const char *etag, char *out)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		etag++;
		n -= 2;
	}
	if (n >= IT_ETAG_MAX)
		n = IT_ETAG_MAX - 1;
	memcpy(out, etag, n);
	out[n] = '\0';
}

void it_s3_cleanup(void)
{
	if (curl) {
		curl_easy_cleanup(curl);
		curl = NULL;
	}
}
