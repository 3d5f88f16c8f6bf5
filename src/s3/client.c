/*
 * The S3 protocol client: set-up, URLs, signing, the retry engine with
 * its one log line per failure, and the mount-time bucket check. The
 * object operations (HEAD, GET, LIST, PUT, DELETE) are in client_obj.c,
 * copy and multipart in client_mpu.c; what the files share is in
 * client_int.h.
 *
 * Locking: the client is shared by all threads. Everything set up by
 * s3_client_new() is read-only afterwards; the mutable parts (server caps,
 * counters, the upload-token registry, the backoff random state) sit
 * behind one mutex, held only for a few loads and stores and never during
 * an exchange. The transport is thread-safe by contract.
 *
 * Retry rules (doc/internals/retries.md): an outcome that
 * s3_errmap_retryable() allows is sent again with a fresh signature after
 * a fully jittered backoff. A conditional write keeps its precondition
 * and its random x-amz-meta-etagfs-token across retries; when a retry
 * that follows an ambiguous attempt fails its precondition, a HEAD tells
 * whether the earlier attempt landed (our token) or somebody else won.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "s3/client.h"
#include "s3/client_int.h"
#include "s3/errmap.h"
#include "s3/sigv4.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/uri.h"

#define EMPTY_SHA256                                                           \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define BACKOFF_CAP_MS 5000

void s3_client_int_op_init(struct s3_client_op *o, const char *name,
			   const char *method, enum s3_op_kind kind,
			   const char *key)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->method = method;
	o->kind = kind;
	o->key = key;
	o->body_fd = -1;
	o->resp_fd = -1;
}

void s3_client_int_op_header(struct s3_client_op *o, const char *name,
			     const char *value)
{
	/* Callers add a fixed, small set: overflowing is a bug here. */
	if (o->nh < S3_CLIENT_MAX_HEADERS)
		o->hdr[o->nh++] = (struct s3_header){ name, value };
	else
		log_error("s3: too many headers for %s", o->name);
}

void s3_client_int_op_query(struct s3_client_op *o, const char *name,
			    const char *value)
{
	if (o->nq < S3_CLIENT_MAX_QUERY)
		o->q[o->nq++] = (struct s3_client_qparam){ name, value };
	else
		log_error("s3: too many query parameters for %s", o->name);
}

/* ------------------------------------------------------------- small */

bool s3_etag_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return false;
	if (strncmp(a, "W/", 2) == 0)
		a += 2;
	if (strncmp(b, "W/", 2) == 0)
		b += 2;
	la = strlen(a);
	lb = strlen(b);
	if (la >= 2 && a[0] == '"' && a[la - 1] == '"') {
		a++;
		la -= 2;
	}
	if (lb >= 2 && b[0] == '"' && b[lb - 1] == '"') {
		b++;
		lb -= 2;
	}
	return la == lb && memcmp(a, b, la) == 0;
}

/* The ETag @p in, without W/ and quotes, re-quoted when @p quoted. */
void s3_client_int_etag_wire(const char *in, bool quoted, char *out, size_t len)
{
	size_t n;

	if (strncmp(in, "W/", 2) == 0)
		in += 2;
	n = strlen(in);
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (quoted)
		snprintf(out, len, "\"%.*s\"", (int)n, in);
	else
		snprintf(out, len, "%.*s", (int)n, in);
}

static void stat_add(struct s3_client *c, uint64_t *field)
{
	pthread_mutex_lock(&c->lock);
	(*field)++;
	pthread_mutex_unlock(&c->lock);
}

/* xorshift64*: plenty for spreading retries, no need for crypto. */
static uint64_t rng_next(struct s3_client *c)
{
	uint64_t x;

	pthread_mutex_lock(&c->lock);
	x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	pthread_mutex_unlock(&c->lock);
	return x * 2685821657736338717ull;
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
static void backoff(struct s3_client *c, int attempt)
{
	uint64_t ceiling = (uint64_t)c->retry_base_ms;
	uint64_t ms;
	struct timespec ts;

	for (int i = 0; i < attempt && ceiling < BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	ms = rng_next(c) % (ceiling + 1);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ URLs */

static bool dns_compatible(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && ch != '-')
			return false;
		if (!alnum && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

static bool host_is_aws(const char *authority)
{
	static const char suffix[] = "amazonaws.com";
	const char *end = authority + strlen(authority);
	const char *colon = strrchr(authority, ':');
	size_t n;

	if (colon && !strchr(colon, ']'))
		end = colon;
	n = (size_t)(end - authority);
	if (n < sizeof(suffix) - 1)
		return false;
	return strncasecmp(end - (sizeof(suffix) - 1), suffix,
			   sizeof(suffix) - 1) == 0;
}

/* Path, canonical query and Host of @p o, all as they go on the wire. */
static int build_target(const struct s3_client *c, const struct s3_client_op *o,
			struct buf *path, struct buf *query, struct buf *host)
{
	struct s3_client_qparam q[S3_CLIENT_MAX_QUERY];
	int rc = 0;

	if (c->vhost)
		rc = buf_addf(host, "%s.%s", c->bucket, c->authority);
	else
		rc = buf_adds(host, c->authority);
	if (rc < 0)
		return rc;

	rc = buf_adds(path, "/");
	if (!rc && !c->vhost) {
		rc = uri_encode(path, c->bucket, strlen(c->bucket), false);
		if (!rc && o->key)
			rc = buf_adds(path, "/");
	}
	/* S3 takes the key byte for byte: no normalisation, "a//b" stays. */
	if (!rc && o->key)
		rc = uri_encode(path, o->key, strlen(o->key), true);
	if (rc < 0)
		return rc;

	/* Sorted and strictly encoded, so what is signed is what is sent. */
	memcpy(q, o->q, o->nq * sizeof(q[0]));
	for (size_t i = 1; i < o->nq; i++)
		for (size_t j = i; j > 0 && strcmp(q[j - 1].name, q[j].name) > 0;
		     j--) {
			struct s3_client_qparam t = q[j];

			q[j] = q[j - 1];
			q[j - 1] = t;
		}
	for (size_t i = 0; i < o->nq && !rc; i++) {
		if (i > 0)
			rc = buf_adds(query, "&");
		if (!rc)
			rc = uri_encode(query, q[i].name, strlen(q[i].name),
					false);
		if (!rc)
			rc = buf_adds(query, "=");
		if (!rc)
			rc = uri_encode(query, q[i].value, strlen(q[i].value),
					false);
	}
	return rc;
}

/* -------------------------------------------------------- exchanges */

static bool is_signed_header(const char *name)
{
	return strncasecmp(name, "x-amz-", 6) == 0 ||
	       strcasecmp(name, "content-md5") == 0 ||
	       strcasecmp(name, "content-type") == 0;
}

/* Local failures are the same on every attempt: never retried. */
static bool transport_retryable(int terr)
{
	switch (terr) {
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EPIPE:
	case -EIO:
	case -EAGAIN:
		return true;
	default:
		return false;
	}
}

/* Might the server have executed a request that got this outcome? */
static bool attempt_ambiguous(int status, const char *code, int terr)
{
	if (terr)
		return terr != -ECONNREFUSED && terr != -EHOSTUNREACH;
	if (status >= 500)
		return true;
	return status == 409 && strcmp(code, "ConditionalRequestConflict") == 0;
}

/* Sign and send one attempt. */
static int send_once(struct s3_client *c, const struct s3_client_op *o,
		     const char *url, const char *path, const char *query,
		     const char *host, const char *payload_hash,
		     struct s3_http_response *resp)
{
	struct s3_header signed_h[S3_CLIENT_MAX_HEADERS + 4];
	struct s3_header all[S3_CLIENT_MAX_HEADERS + 5];
	struct s3_sigv4_result sig = { 0 };
	struct s3_sigv4_request sreq;
	struct s3_sigv4_keys keys;
	struct s3_http_request hreq;
	char amz_date[17];
	size_t ns = 0, na = 0;
	int rc;

	s3_sigv4_amz_date((long long)time(NULL), amz_date);
	signed_h[ns++] = (struct s3_header){ "host", host };
	signed_h[ns++] = (struct s3_header){ "x-amz-content-sha256",
					     payload_hash };
	signed_h[ns++] = (struct s3_header){ "x-amz-date", amz_date };
	if (c->creds.session_token)
		signed_h[ns++] = (struct s3_header){ "x-amz-security-token",
						     c->creds.session_token };
	for (size_t i = 0; i < o->nh; i++)
		if (is_signed_header(o->hdr[i].name))
			signed_h[ns++] = o->hdr[i];

	memset(&sreq, 0, sizeof(sreq));
	sreq.method = o->method;
	sreq.path = path;
	sreq.query = query[0] ? query : NULL;
	sreq.headers = signed_h;
	sreq.n_headers = ns;
	sreq.payload_hash = payload_hash;
	sreq.amz_date = amz_date;
	sreq.region = c->region;
	sreq.service = "s3";
	keys.access_key = c->creds.access_key;
	keys.secret_key = c->creds.secret_key;
	rc = s3_sigv4_sign(&sreq, &keys, &sig);
	if (rc < 0) {
		resp->transport_errno = rc;
		snprintf(resp->transport_error, sizeof(resp->transport_error),
			 "cannot sign the request");
		return rc;
	}

	/* Host goes out as signed; libcurl would otherwise build its own. */
	for (size_t i = 0; i < ns; i++)
		all[na++] = signed_h[i];
	for (size_t i = 0; i < o->nh; i++)
		if (!is_signed_header(o->hdr[i].name))
			all[na++] = o->hdr[i];
	all[na++] = (struct s3_header){ "Authorization", sig.authorization };

	memset(&hreq, 0, sizeof(hreq));
	hreq.method = o->method;
	hreq.url = url;
	hreq.headers = all;
	hreq.n_headers = na;
	hreq.no_body = o->no_body;
	hreq.body_mem = o->body_mem;
	hreq.body_mem_len = o->body_mem_len;
	hreq.body_fd = o->body_fd;
	hreq.body_off = o->body_off;
	hreq.body_len = o->body_len;
	hreq.resp_text = o->resp_text;
	hreq.resp_dst = o->resp_dst;
	hreq.resp_dst_len = o->resp_dst_len;
	hreq.resp_fd = o->resp_fd;
	hreq.resp_fd_off = 0;

	rc = c->http->ops->perform(c->http->impl, &hreq, resp);
	if (rc < 0 && resp->transport_errno == 0)
		resp->transport_errno = rc;
	s3_sigv4_result_free(&sig);
	return rc;
}

static int payload_hash_of(struct s3_client *c, const struct s3_client_op *o,
			   char out[HASH_SHA256_HEX_LEN + 1])
{
	if (o->body_fd >= 0 && o->body_len > 0) {
		if (c->unsigned_payload && c->https) {
			snprintf(out, HASH_SHA256_HEX_LEN + 1, "%s",
				 "UNSIGNED-PAYLOAD");
			return 0;
		}
		/* Hashed by the caller as it wrote the data: no second
		 * pass over a file that may be gigabytes. */
		if (o->body_sha256 != NULL &&
		    strlen(o->body_sha256) == HASH_SHA256_HEX_LEN) {
			memcpy(out, o->body_sha256, HASH_SHA256_HEX_LEN + 1);
			return 0;
		}
		return hash_fd_range(o->body_fd, o->body_off,
				     (off_t)o->body_len, out, NULL);
	}
	if (o->body_mem_len > 0) {
		hash_sha256_hex(o->body_mem, o->body_mem_len, out);
		return 0;
	}
	snprintf(out, HASH_SHA256_HEX_LEN + 1, "%s", EMPTY_SHA256);
	return 0;
}

/* Classify the response in @p out->resp into status/code/err. */
static void classify(const struct s3_client_op *o,
		     struct s3_client_outcome *out)
{
	struct s3_http_response *r = &out->resp;
	struct s3_error_info ei;
	int terr = r->transport_errno;

	out->status = r->status;
	out->code[0] = '\0';
	if (terr) {
		out->status = 0;
		/* A failure of our own (disk, memory, a bounded sink) says
		 * nothing about the server: hand it up unchanged. */
		out->err = transport_retryable(terr) ?
				   s3_errmap_errno(o->kind, 0, NULL, terr) :
				   terr;
		return;
	}
	if (r->status >= 200 && r->status <= 299) {
		if (o->error_in_200 && o->resp_text && o->resp_text->len > 0 &&
		    s3_xml_parse_error(o->resp_text->data, o->resp_text->len,
				       &ei) == 1) {
			/* Copy and Complete report late failures this way;
			 * AWS says to treat them like a 500. */
			out->status = 500;
			snprintf(out->code, sizeof(out->code), "%s", ei.code);
		} else {
			out->err = 0;
			return;
		}
	} else if (r->err_body.len > 0 &&
		   s3_xml_parse_error(r->err_body.data, r->err_body.len,
				      &ei) == 1) {
		snprintf(out->code, sizeof(out->code), "%s", ei.code);
	}
	out->err = s3_errmap_errno(o->kind, out->status, out->code, 0);
	if (out->err == 0)
		out->err = -EIO; /* a non-2xx is never a success */
}

/*
 * Run @p o with retries. @p out->resp holds the last response; the
 * caller frees it with s3_http_response_free(). Returns out->err.
 */
int s3_client_int_run(struct s3_client *c, struct s3_client_op *o,
		      struct s3_client_outcome *out)
{
	char payload_hash[HASH_SHA256_HEX_LEN + 1];
	struct buf path, query, host, url;
	int rc;

	memset(out, 0, sizeof(*out));
	s3_http_response_init(&out->resp);
	buf_init(&path, 64 * 1024);
	buf_init(&query, 64 * 1024);
	buf_init(&host, 1024);
	buf_init(&url, 128 * 1024);

	rc = build_target(c, o, &path, &query, &host);
	if (!rc)
		rc = buf_addf(&url, "%s://%s%s%s%s", c->scheme, buf_str(&host),
			      buf_str(&path), query.len ? "?" : "",
			      buf_str(&query));
	if (!rc)
		rc = payload_hash_of(c, o, payload_hash);
	if (rc < 0) {
		out->err = rc == -E2BIG ? -ENAMETOOLONG : rc;
		goto out;
	}

	for (int attempt = 0;; attempt++) {
		bool again;

		if (attempt > 0) {
			s3_http_response_free(&out->resp);
			s3_http_response_init(&out->resp);
		}
		if (o->resp_text)
			buf_reset(o->resp_text);
		stat_add(c, o->counter);
		(void)send_once(c, o, buf_str(&url), buf_str(&path),
				buf_str(&query), buf_str(&host), payload_hash,
				&out->resp);
		classify(o, out);
		log_debug("s3: %s %s -> %d %s%s%s (attempt %d, request id %s)",
			  o->method, buf_str(&url), out->status, out->code,
			  out->resp.transport_errno ? " " : "",
			  out->resp.transport_errno ?
				  out->resp.transport_error :
				  "",
			  attempt + 1, out->resp.request_id);
		if (out->err == 0)
			break;
		/* The mount check must answer within seconds: a connect that
		 * timed out once is not waited for again. */
		if (o->kind == S3_OP_MOUNT &&
		    out->resp.transport_errno == -ETIMEDOUT)
			break;
		again = attempt < (o->kind == S3_OP_MOUNT && c->max_retries > 2
					   ? 2
					   : c->max_retries) &&
			s3_errmap_retryable(out->status, out->code,
					    out->resp.transport_errno) &&
			(out->resp.transport_errno == 0 ||
			 transport_retryable(out->resp.transport_errno));
		if (!again)
			break;
		if (o->track_ambiguity &&
		    attempt_ambiguous(out->status, out->code,
				      out->resp.transport_errno))
			out->ambiguous_before = true;
		stat_add(c, &c->stats.retries);
		backoff(c, attempt);
	}
	/* "Try again" is our job and it is done: the caller gets EIO. */
	if (out->err == -EAGAIN)
		out->err = -EIO;
out:
	buf_free(&path);
	buf_free(&query);
	buf_free(&host);
	buf_free(&url);
	return out->err;
}

static void fill_status(struct s3_status *st,
			const struct s3_client_outcome *out)
{
	if (!st)
		return;
	st->http_status = out->status;
	snprintf(st->code, sizeof(st->code), "%s", out->code);
	snprintf(st->request_id, sizeof(st->request_id), "%s",
		 out->resp.request_id);
}

/* Set by the probe around its requests, on its own thread only: other
 * threads' failures keep their level. */
static _Thread_local bool expect_refusals;

bool s3_client_int_expect_refusals(bool on)
{
	bool was = expect_refusals;

	expect_refusals = on;
	return was;
}

/* One line per failed operation; routine misses stay at debug level. */
static void log_failure(const struct s3_client_op *o,
			const struct s3_client_outcome *out, int rc)
{
	bool refused = out->status == 412 && (rc == -EBUSY || rc == -ESTALE);
	int level = LOG_WARNING;
	const char *key = o->key ? o->key : "";

	if (rc == 0)
		return;
	/* A missing key and a 304 (the caller's copy is current) are
	 * answers the caller asked for, not failures. */
	if (rc == -ENOENT || rc == -EALREADY || (refused && expect_refusals))
		level = LOG_DEBUG;
	else if (refused && rc == -EBUSY && o->conditional)
		level = LOG_INFO; /* the caller reports the conflict itself */
	else if (rc == -EBUSY || rc == -ESTALE || rc == -EEXIST)
		level = LOG_NOTICE;
	if (out->resp.transport_errno)
		log_at(level, "s3: %s '%s' failed: %s (%s)", o->name, key,
		       out->resp.transport_error, strerror(-rc));
	else
		log_at(level,
		       "s3: %s '%s' failed: HTTP %d %s (%s, request id %s)",
		       o->name, key, out->status,
		       out->code[0] ? out->code : "-", strerror(-rc),
		       out->resp.request_id[0] ? out->resp.request_id : "-");
}

void s3_client_int_finish(const struct s3_client_op *o,
			  struct s3_client_outcome *out, int rc,
			  struct s3_status *st)
{
	fill_status(st, out);
	log_failure(o, out, rc);
	s3_http_response_free(&out->resp);
}

/* ------------------------------------------------------ life cycle */

static int parse_endpoint(struct s3_client *c, const char *ep, char *err,
			  size_t err_len)
{
	const char *rest = ep;
	const char *slash;
	const char *scheme = "https";

	/* user:password@host would put a secret where the endpoint is
	 * logged (and echoed by the messages below); an endpoint has no
	 * other use for '@' (a path is refused): refused unechoed. */
	if (strchr(ep, '@') != NULL) {
		snprintf(err, err_len,
			 "the endpoint must not contain a user name or "
			 "password (user@host): give credentials in a file "
			 "or the environment");
		return -EINVAL;
	}
	if (strncasecmp(ep, "https://", 8) == 0) {
		rest = ep + 8;
	} else if (strncasecmp(ep, "http://", 7) == 0) {
		rest = ep + 7;
		scheme = "http";
	} else if (strstr(ep, "://")) {
		snprintf(err, err_len,
			 "endpoint '%s': only http:// and https:// are supported",
			 ep);
		return -EINVAL;
	}
	slash = strchr(rest, '/');
	if (slash && strcmp(slash, "/") != 0) {
		snprintf(err, err_len,
			 "endpoint '%s' must not contain a path", ep);
		return -EINVAL;
	}
	if (rest[0] == '\0' || rest[0] == '/') {
		snprintf(err, err_len, "endpoint '%s' has no host", ep);
		return -EINVAL;
	}
	c->scheme = strdup(scheme);
	c->authority = slash ? strndup(rest, (size_t)(slash - rest))
			     : strdup(rest);
	if (!c->scheme || !c->authority)
		return -ENOMEM;
	c->https = strcmp(scheme, "https") == 0;
	if (asprintf(&c->endpoint, "%s://%s", c->scheme, c->authority) < 0) {
		c->endpoint = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int dup_creds(struct s3_creds *dst, const struct s3_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key = strdup(src->access_key ? src->access_key : "");
	dst->secret_key = strdup(src->secret_key ? src->secret_key : "");
	dst->source = strdup(src->source ? src->source : "");
	if (src->session_token)
		dst->session_token = strdup(src->session_token);
	if (!dst->access_key || !dst->secret_key || !dst->source ||
	    (src->session_token && !dst->session_token))
		return -ENOMEM;
	return 0;
}

int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out,
		  char *err, size_t err_len)
{
	struct s3_client *c = NULL;
	struct s3_http *transport = cfg->transport;
	int rc = -ENOMEM;

	*out = NULL;
	if (err_len)
		err[0] = '\0';
	if (!cfg->endpoint || !cfg->bucket || !cfg->bucket[0] ||
	    !cfg->creds) {
		snprintf(err, err_len,
			 "an endpoint, a bucket and credentials are needed");
		rc = -EINVAL;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	pthread_mutex_init(&c->lock, NULL);
	rc = parse_endpoint(c, cfg->endpoint, err, err_len);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	c->region = strdup(cfg->region && cfg->region[0] ? cfg->region
							 : "us-east-1");
	c->bucket = strdup(cfg->bucket);
	if (!c->region || !c->bucket || dup_creds(&c->creds, cfg->creds) < 0)
		goto out;
	switch (cfg->addressing) {
	case S3_ADDR_PATH:
		c->vhost = false;
		break;
	case S3_ADDR_VHOST:
		c->vhost = true;
		break;
	default:
		/* Dotted names break the wildcard certificate. */
		c->vhost = host_is_aws(c->authority) &&
			   dns_compatible(c->bucket);
		break;
	}
	c->unsigned_payload = cfg->unsigned_payload;
	c->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 5;
	c->retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 100;
	/* Until a probe says otherwise, assume the standard behaviour. */
	c->caps = (struct s3_caps){
		.put_if_match = true,
		.put_if_none_match = true,
		.complete_conditional = true,
		.copy_source_if_match = true,
	};
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(c->rng))
		c->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
	c->rng |= 1; /* xorshift must not start at 0 */

	if (!transport) {
		rc = s3_http_curl_new(&cfg->http, &transport);
		if (rc < 0) {
			snprintf(err, err_len, "cannot set up libcurl: %s",
				 strerror(-rc));
			goto out;
		}
	}
	c->http = transport;
	transport = NULL;
	*out = c;
	c = NULL;
	rc = 0;
out:
	/* The transport is ours even when we fail. */
	s3_http_free(transport);
	s3_client_free(c);
	if (rc == -ENOMEM && err_len && !err[0])
		snprintf(err, err_len, "out of memory");
	return rc;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	s3_http_free(c->http);
	s3_client_int_uploads_free(c);
	free(c->scheme);
	free(c->authority);
	free(c->endpoint);
	free(c->region);
	free(c->bucket);
	free(c->creds.access_key);
	if (c->creds.secret_key)
		explicit_bzero(c->creds.secret_key,
			       strlen(c->creds.secret_key));
	free(c->creds.secret_key);
	free(c->creds.session_token);
	free(c->creds.source);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void s3_client_set_caps(struct s3_client *c, const struct s3_caps *caps)
{
	pthread_mutex_lock(&c->lock);
	c->caps = *caps;
	pthread_mutex_unlock(&c->lock);
}

void s3_client_get_caps(struct s3_client *c, struct s3_caps *caps)
{
	pthread_mutex_lock(&c->lock);
	*caps = c->caps;
	pthread_mutex_unlock(&c->lock);
}

void s3_client_get_stats(struct s3_client *c, struct s3_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}

const char *s3_client_bucket(const struct s3_client *c)
{
	return c->bucket;
}

/* ------------------------------------------------- the mount check */

int s3_check_bucket(struct s3_client *c, char *err, size_t err_len)
{
	struct s3_client_outcome out;
	struct buf text;
	struct s3_client_op o;
	int rc;

	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "CHECK-BUCKET", "GET", S3_OP_MOUNT, NULL);
	s3_client_int_op_query(&o, "list-type", "2");
	s3_client_int_op_query(&o, "max-keys", "0");
	o.resp_text = &text;
	o.counter = &c->stats.list;
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0)
		snprintf(err, err_len, "bucket '%s' at %s is reachable",
			 c->bucket, c->endpoint);
	else if (out.resp.transport_errno)
		snprintf(err, err_len, "cannot reach %s: %s", c->endpoint,
			 out.resp.transport_error);
	else if (out.status == 404 && out.code[0] == '\0')
		snprintf(err, err_len,
			 "%s answered HTTP 404 without an S3 error for bucket "
			 "'%s': is it an S3 endpoint?",
			 c->endpoint, c->bucket);
	else if (out.status == 404)
		snprintf(err, err_len, "bucket '%s' does not exist at %s",
			 c->bucket, c->endpoint);
	else if (out.status == 403)
		snprintf(err, err_len,
			 "access denied to bucket '%s' (check credentials from %s): %s",
			 c->bucket, c->creds.source[0] ? c->creds.source : "?",
			 out.code[0] ? out.code : "HTTP 403");
	else
		snprintf(err, err_len,
			 "unexpected answer from %s for bucket '%s': HTTP %d %s",
			 c->endpoint, c->bucket, out.status,
			 out.code[0] ? out.code : "");
	s3_client_int_finish(&o, &out, rc, NULL);
	buf_free(&text);
	return rc;
}
