/*
 * Unit tests of the S3 client over a fake transport: a scripted queue of
 * responses plus a log of the requests the client sent, and for the probe
 * a small simulated server with the quirks of RGW or of AWS.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "s3/client.h"
#include "s3/errmap.h"
#include "s3/probe.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/uri.h"

#define MAX_SCRIPT 16
#define MAX_LOG 32
#define MAX_HDR 40

/* ------------------------------------------------------ fake transport */

struct fake_resp {
	int status;
	int terr;	      /* transport errno instead of a response */
	const char *etag;     /* ETag header */
	const char *body;     /* 2xx: to the sinks; else: err_body */
	const char *token;    /* x-amz-meta-etagfs-token of a HEAD */
	bool echo_token;      /* HEAD answers with the last PUT's token */
	bool echo_parent;     /* HEAD names the last PUT's token as parent */
	const char *last_modified;
	const char *content_range;
};

struct fake_req {
	char *method;
	char *url;
	char *names[MAX_HDR];
	char *values[MAX_HDR];
	size_t nh;
	char *body;
	size_t body_len;
};

struct sim_object {
	char key[256];
	char etag[64]; /* quoted */
	char token[S3_TOKEN_LEN + 1];
	bool live;
};

struct sim {
	bool rgw;	  /* RGW quirks */
	bool lax;	  /* honours no condition at all */
	struct sim_object objects[8];
	int next_etag;
	int n_uploads;
};

struct fake {
	struct fake_resp script[MAX_SCRIPT];
	size_t n_script;
	size_t next;
	struct fake_req log[MAX_LOG];
	size_t n_log;
	char last_token[S3_TOKEN_LEN + 1];
	struct sim *sim; /* when set, answers instead of the script */
	bool overran;
	/* Requests may come from several threads (s3_mpu_upload_fd). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool part_etags;   /* an UploadPart is answered "p<partNumber>" */
	int hold_parts;	   /* hold UploadParts until this many are in flight */
	int hold_ms;	   /* but no longer than this (0: 2 s) */
	int in_flight, max_in_flight;
};

static const char *req_header(const struct fake_req *r, const char *name)
{
	for (size_t i = 0; i < r->nh; i++)
		if (strcasecmp(r->names[i], name) == 0)
			return r->values[i];
	return NULL;
}

static void feed(struct s3_http_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void feed(struct s3_http_response *resp, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(s3_http_parse_header_line(line, (size_t)n, resp), 0);
}

/* Deliver a body the way the curl transport does. */
static int deliver(const struct s3_http_request *req,
		   struct s3_http_response *resp, const char *body)
{
	size_t n = body ? strlen(body) : 0;

	if (n == 0)
		return 0;
	if (resp->status < 200 || resp->status > 299)
		return buf_add(&resp->err_body, body, n) < 0 ? -EPROTO : 0;
	if (req->resp_dst) {
		if (n > req->resp_dst_len)
			return -EPROTO;
		memcpy(req->resp_dst, body, n);
	} else if (req->resp_fd >= 0) {
		if (pwrite(req->resp_fd, body, n, req->resp_fd_off) !=
		    (ssize_t)n)
			return -EIO;
	} else if (req->resp_text) {
		if (buf_add(req->resp_text, body, n) < 0)
			return -EPROTO;
	} else {
		return 0;
	}
	resp->body_received = n;
	return 0;
}

static void log_request(struct fake *f, const struct s3_http_request *req)
{
	struct fake_req *r;

	if (f->n_log >= MAX_LOG) {
		f->overran = true;
		return;
	}
	r = &f->log[f->n_log++];
	r->method = strdup(req->method);
	r->url = strdup(req->url);
	for (size_t i = 0; i < req->n_headers && i < MAX_HDR; i++) {
		r->names[i] = strdup(req->headers[i].name);
		r->values[i] = strdup(req->headers[i].value);
		r->nh++;
	}
	if (req->body_fd >= 0) {
		r->body = calloc(1, req->body_len + 1);
		r->body_len = req->body_len;
		ck_assert_int_eq(pread(req->body_fd, r->body, req->body_len,
				       req->body_off),
				 (ssize_t)req->body_len);
	} else if (req->body_mem_len > 0) {
		r->body = strndup(req->body_mem, req->body_mem_len);
		r->body_len = req->body_mem_len;
	}
	const char *t = req_header(r, "x-amz-meta-etagfs-token");
	if (t)
		snprintf(f->last_token, sizeof(f->last_token), "%s", t);
}

static int sim_serve(struct fake *f, const struct fake_req *r,
		     const struct s3_http_request *req,
		     struct s3_http_response *resp);

static int fake_perform_locked(struct fake *f,
			       const struct s3_http_request *req,
			       struct s3_http_response *resp);

/* Part number of an UploadPart URL, or 0. */
static int part_number_of(const char *url)
{
	const char *p = strstr(url, "partNumber=");

	return p ? atoi(p + strlen("partNumber=")) : 0;
}

/* With hold_parts, an UploadPart waits (up to hold_ms) until that many
 * are in flight at once: a test of parallel uploads cannot pass
 * serially, and one of a bound can see it exceeded. */
static void hold_part(struct fake *f)
{
	long ms = f->hold_ms > 0 ? f->hold_ms : 2000;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	f->in_flight++;
	if (f->in_flight > f->max_in_flight)
		f->max_in_flight = f->in_flight;
	pthread_cond_broadcast(&f->cv);
	while (f->in_flight < f->hold_parts && f->max_in_flight < f->hold_parts)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &until) != 0)
			break;
}

static int fake_perform(void *impl, const struct s3_http_request *req,
			struct s3_http_response *resp)
{
	struct fake *f = impl;
	int part = part_number_of(req->url), rc;

	pthread_mutex_lock(&f->mu);
	if (part > 0 && f->hold_parts > 0)
		hold_part(f);
	if (part > 0 && f->part_etags) {
		log_request(f, req);
		feed(resp, "HTTP/1.1 200 OK\r\n");
		feed(resp, "ETag: \"p%d\"\r\n", part);
		rc = 0;
	} else {
		rc = fake_perform_locked(f, req, resp);
	}
	if (part > 0 && f->hold_parts > 0)
		f->in_flight--;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fake_perform_locked(struct fake *f,
			       const struct s3_http_request *req,
			       struct s3_http_response *resp)
{
	const struct fake_resp *s;

	log_request(f, req);
	if (f->sim)
		return sim_serve(f, &f->log[f->n_log - 1], req, resp);
	if (f->next >= f->n_script) {
		f->overran = true;
		resp->transport_errno = -EIO;
		return -EIO;
	}
	s = &f->script[f->next++];
	if (s->terr) {
		resp->transport_errno = s->terr;
		snprintf(resp->transport_error, sizeof(resp->transport_error),
			 "scripted failure");
		return s->terr;
	}
	feed(resp, "HTTP/1.1 %d Whatever\r\n", s->status);
	feed(resp, "x-amz-request-id: req-%zu\r\n", f->next);
	if (s->etag)
		feed(resp, "ETag: %s\r\n", s->etag);
	if (s->token)
		feed(resp, "X-Amz-Meta-Etagfs-Token: %s\r\n", s->token);
	if (s->echo_token)
		feed(resp, "x-amz-meta-etagfs-token: %s\r\n", f->last_token);
	if (s->echo_parent)
		feed(resp, "x-amz-meta-etagfs-parent: %s\r\n", f->last_token);
	if (s->last_modified)
		feed(resp, "Last-Modified: %s\r\n", s->last_modified);
	if (s->content_range)
		feed(resp, "Content-Range: %s\r\n", s->content_range);
	if (s->body)
		feed(resp, "Content-Length: %zu\r\n", strlen(s->body));
	if (!req->no_body) {
		int rc = deliver(req, resp, s->body);

		if (rc < 0) {
			resp->transport_errno = rc;
			return rc;
		}
	}
	return 0;
}

static void fake_destroy(void *impl)
{
	struct fake *f = impl;

	for (size_t i = 0; i < f->n_log; i++) {
		free(f->log[i].method);
		free(f->log[i].url);
		free(f->log[i].body);
		for (size_t j = 0; j < f->log[i].nh; j++) {
			free(f->log[i].names[j]);
			free(f->log[i].values[j]);
		}
	}
	free(f);
}

static const struct s3_http_ops fake_ops = {
	.perform = fake_perform,
	.destroy = fake_destroy,
};

/* ------------------------------------------------------- fixtures */

static struct fake *fk;
static struct s3_client *cl;
static int body_fd = -1;

static void script(struct fake_resp r)
{
	ck_assert_uint_lt(fk->n_script, MAX_SCRIPT);
	fk->script[fk->n_script++] = r;
}

static struct s3_client *make_client(const char *endpoint, const char *bucket,
				     enum s3_addressing addr, int retries,
				     const char *session_token)
{
	struct s3_creds creds = {
		.access_key = (char *)"AKIDEXAMPLE",
		.secret_key = (char *)"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = (char *)session_token,
		.source = (char *)"test",
	};
	struct s3_client_config cfg = {
		.endpoint = endpoint,
		.region = "us-east-1",
		.bucket = bucket,
		.addressing = addr,
		.max_retries = retries,
		.retry_base_ms = 1,
		.creds = &creds,
	};
	struct s3_http *h = calloc(1, sizeof(*h));
	struct s3_client *c = NULL;
	char err[256];

	fk = calloc(1, sizeof(*fk));
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(fk);
	pthread_mutex_init(&fk->mu, NULL);
	pthread_cond_init(&fk->cv, NULL);
	h->ops = &fake_ops;
	h->impl = fk;
	cfg.transport = h;
	ck_assert_int_eq(s3_client_new(&cfg, &c, err, sizeof(err)), 0);
	return c;
}

static void setup(void)
{
	log_init("check_client", true, LOG_ERR);
	cl = make_client("http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, 3,
			 NULL);
	body_fd = memfd_create("body", 0);
	ck_assert_int_ge(body_fd, 0);
	ck_assert_int_eq(pwrite(body_fd, "hello world", 11, 0), 11);
}

static void teardown(void)
{
	ck_assert(!fk->overran);
	s3_client_free(cl);
	cl = NULL;
	fk = NULL;
	close(body_fd);
}

static void replace_client(struct s3_client *c)
{
	s3_client_free(cl);
	cl = c;
}

static const char *hdr(size_t i, const char *name)
{
	ck_assert_uint_lt(i, fk->n_log);
	return req_header(&fk->log[i], name);
}

/* ------------------------------------------------- log capture */

/* The log goes to fd 2 (one write() per line): send it to a memfd. */
static int log_fd = -1;
static int saved_stderr = -1;

static void capture_start(int level)
{
	log_fd = memfd_create("log", 0);
	ck_assert_int_ge(log_fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);
	log_init("check_client", true, level);
}

/* Stop capturing; the text logged meanwhile goes to @p out. */
static void capture_end(char *out, size_t len)
{
	ssize_t n;

	log_init("check_client", true, LOG_ERR);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	n = pread(log_fd, out, len - 1, 0);
	ck_assert_int_ge(n, 0);
	ck_assert_int_lt(n, (ssize_t)len - 1); /* nothing cut off */
	out[n] = '\0';
	close(log_fd);
}

/* Lines of @p text at @p level ("notice") that contain @p needle. */
static int count_lines(const char *text, const char *level,
		       const char *needle)
{
	char prefix[64];
	int n = 0;

	snprintf(prefix, sizeof(prefix), "check_client: %s: ", level);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (strncmp(line, prefix, strlen(prefix)) == 0 &&
		    strstr(line, needle))
			n++;
		p += len + (nl ? 1 : 0);
	}
	return n;
}

static char log_text[64 * 1024];

/* ------------------------------------------------------- URL building */

static const struct url_case {
	const char *endpoint;
	const char *bucket;
	enum s3_addressing addr;
	const char *key;
	const char *url;
	const char *host;
} url_cases[] = {
	{ "http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, "plain.txt",
	  "http://127.0.0.1:7480/bkt/plain.txt", "127.0.0.1:7480" },
	{ "http://127.0.0.1:7480/", "bkt", S3_ADDR_AUTO, "a b",
	  "http://127.0.0.1:7480/bkt/a%20b", "127.0.0.1:7480" },
	{ "http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, "caf\xc3\xa9",
	  "http://127.0.0.1:7480/bkt/caf%C3%A9", "127.0.0.1:7480" },
	{ "http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, "100%",
	  "http://127.0.0.1:7480/bkt/100%25", "127.0.0.1:7480" },
	{ "http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, "a+b=c&d",
	  "http://127.0.0.1:7480/bkt/a%2Bb%3Dc%26d", "127.0.0.1:7480" },
	{ "http://127.0.0.1:7480", "bkt", S3_ADDR_PATH, "a//b/./c",
	  "http://127.0.0.1:7480/bkt/a//b/./c", "127.0.0.1:7480" },
	{ "https://s3.us-east-1.amazonaws.com", "my-bucket", S3_ADDR_AUTO,
	  "d/k~_-.", "https://my-bucket.s3.us-east-1.amazonaws.com/d/k~_-.",
	  "my-bucket.s3.us-east-1.amazonaws.com" },
	{ "https://s3.us-east-1.amazonaws.com", "my.bucket", S3_ADDR_AUTO,
	  "k", "https://s3.us-east-1.amazonaws.com/my.bucket/k",
	  "s3.us-east-1.amazonaws.com" },
	{ "https://s3.amazonaws.com", "Upper", S3_ADDR_AUTO, "k",
	  "https://s3.amazonaws.com/Upper/k", "s3.amazonaws.com" },
	{ "https://minio.example:9000", "bkt", S3_ADDR_AUTO, "k",
	  "https://minio.example:9000/bkt/k", "minio.example:9000" },
	{ "http://rgw.example:8080", "bkt", S3_ADDR_VHOST, "x y",
	  "http://bkt.rgw.example:8080/x%20y", "bkt.rgw.example:8080" },
	{ "s3.example.org", "bkt", S3_ADDR_PATH, "k",
	  "https://s3.example.org/bkt/k", "s3.example.org" },
};

START_TEST(test_url_building)
{
	const struct url_case *u = &url_cases[_i];
	struct s3_object_info info;

	replace_client(make_client(u->endpoint, u->bucket, u->addr, 0, NULL));
	script((struct fake_resp){ .status = 200, .etag = "\"e\"" });
	ck_assert_int_eq(s3_head_object(cl, u->key, NULL, &info, NULL), 0);
	ck_assert_uint_eq(fk->n_log, 1);
	ck_assert_str_eq(fk->log[0].method, "HEAD");
	ck_assert_str_eq(fk->log[0].url, u->url);
	ck_assert_str_eq(hdr(0, "host"), u->host);
	ck_assert_str_eq(info.etag, "\"e\"");
}
END_TEST

/* s3_client_new() on endpoint @p ep must refuse it with -EINVAL; its
 * message into @p err. The client owns its transport, also when it
 * refuses to start. */
static void expect_endpoint_refused(const char *ep, char *err,
				    size_t err_len)
{
	struct s3_creds creds = { .access_key = (char *)"a",
				  .secret_key = (char *)"b" };
	struct s3_client_config cfg = { .endpoint = ep, .bucket = "b",
					.creds = &creds };
	struct s3_client *c = NULL;

	cfg.transport = calloc(1, sizeof(*cfg.transport));
	((struct s3_http *)cfg.transport)->ops = &fake_ops;
	((struct s3_http *)cfg.transport)->impl = calloc(1, sizeof(*fk));
	ck_assert_int_eq(s3_client_new(&cfg, &c, err, err_len), -EINVAL);
	ck_assert_ptr_null(c);
}

START_TEST(test_bad_endpoint)
{
	char err[256];

	expect_endpoint_refused("ftp://x", err, sizeof(err));
	ck_assert_str_eq(err,
			 "endpoint 'ftp://x': only http:// and https:// are "
			 "supported");
}
END_TEST

/* An endpoint with user:password@ would put a secret where endpoints
 * are logged: refused, without echoing it. */
START_TEST(test_endpoint_with_userinfo)
{
	static const char *const eps[] = {
		"http://AK:SECRETXYZ@127.0.0.1:7480",
		"https://SECRETXYZ@s3.example.com/",
		"SECRETXYZ:x@host/path",
	};
	char err[256];

	expect_endpoint_refused(eps[_i], err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "user name or password"));
	ck_assert_ptr_null(strstr(err, "SECRETXYZ"));
}
END_TEST

/* ------------------------------------------------------- signing */

START_TEST(test_signed_headers)
{
	char sha[HASH_SHA256_HEX_LEN + 1];
	struct s3_write_cond cond = { .if_match = "\"abc\"" };
	struct s3_meta meta = { .has_mode = true, .mode = 0100644 };
	struct s3_object_info out;
	const char *auth;

	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 0, "SESSIONTOKEN"));
	script((struct fake_resp){ .status = 200, .etag = "\"new\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 6, 5, &cond, &meta,
				       &out, NULL),
			 0);
	ck_assert_str_eq(out.etag, "\"new\"");
	ck_assert_uint_eq(out.size, 5);
	ck_assert_str_eq(fk->log[0].body, "world");
	hash_sha256_hex("world", 5, sha);
	ck_assert_str_eq(hdr(0, "x-amz-content-sha256"), sha);
	ck_assert_uint_eq(strlen(hdr(0, "x-amz-date")), 16);
	ck_assert_str_eq(hdr(0, "x-amz-security-token"), "SESSIONTOKEN");
	ck_assert_str_eq(hdr(0, "x-amz-meta-mode"), "33188");
	ck_assert_uint_eq(strlen(hdr(0, "x-amz-meta-etagfs-token")),
			  S3_TOKEN_LEN);
	ck_assert_str_eq(out.meta.token, hdr(0, "x-amz-meta-etagfs-token"));
	ck_assert_str_eq(hdr(0, "If-Match"), "\"abc\"");
	auth = hdr(0, "Authorization");
	ck_assert_ptr_nonnull(auth);
	ck_assert_msg(strncmp(auth,
			      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) ==
			      0,
		      "%s", auth);
	ck_assert_msg(strstr(auth, "/us-east-1/s3/aws4_request, "
				   "SignedHeaders=host;x-amz-content-sha256;"
				   "x-amz-date;x-amz-meta-etagfs-token;"
				   "x-amz-meta-mode;x-amz-security-token, "
				   "Signature="),
		      "%s", auth);
	/* If-Match is sent but not signed. */
	ck_assert_ptr_null(strstr(auth, "if-match"));
}
END_TEST

START_TEST(test_empty_body_hash)
{
	script((struct fake_resp){ .status = 204 });
	ck_assert_int_eq(s3_delete_object(cl, "k", NULL, NULL), 0);
	ck_assert_str_eq(hdr(0, "x-amz-content-sha256"),
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
			 "95991b7852b855");
	ck_assert_ptr_null(hdr(0, "x-amz-security-token"));
	ck_assert_str_eq(fk->log[0].method, "DELETE");
}
END_TEST

/* ------------------------------------------------------- retries */

START_TEST(test_retry_503_then_success)
{
	struct s3_object_info out;
	struct s3_stats stats;
	struct s3_status st = { 0 };

	script((struct fake_resp){
		.status = 503,
		.body = "<Error><Code>SlowDown</Code></Error>" });
	script((struct fake_resp){ .terr = -ECONNRESET });
	script((struct fake_resp){ .status = 200, .etag = "\"v2\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, NULL, NULL,
				       &out, &st),
			 0);
	ck_assert_uint_eq(fk->n_log, 3);
	ck_assert_str_eq(out.etag, "\"v2\"");
	ck_assert_int_eq(st.http_status, 200);
	ck_assert_str_eq(st.request_id, "req-3");
	s3_client_get_stats(cl, &stats);
	ck_assert_uint_eq(stats.put, 3);
	ck_assert_uint_eq(stats.retries, 2);
	/* Unconditional: no token is made up. */
	ck_assert_ptr_null(hdr(0, "x-amz-meta-etagfs-token"));
}
END_TEST

START_TEST(test_retries_exhausted)
{
	struct s3_status st = { 0 };

	for (int i = 0; i < 4; i++)
		script((struct fake_resp){
			.status = 500,
			.body = "<Error><Code>InternalError</Code></Error>" });
	ck_assert_int_eq(s3_delete_object(cl, "k", NULL, &st), -EIO);
	ck_assert_uint_eq(fk->n_log, 4);
	ck_assert_int_eq(st.http_status, 500);
	ck_assert_str_eq(st.code, "InternalError");
}
END_TEST

START_TEST(test_no_retry_on_412)
{
	struct s3_write_cond cond = { .if_none_match = true };
	struct s3_stats stats;

	script((struct fake_resp){
		.status = 412,
		.body = "<Error><Code>PreconditionFailed</Code></Error>" });
	/* The token check: somebody else's version is there. */
	script((struct fake_resp){ .status = 200, .etag = "\"theirs\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, NULL),
			 -EBUSY);
	/* The PUT was not resent: only the HEAD followed it. */
	ck_assert_uint_eq(fk->n_log, 2);
	ck_assert_str_eq(fk->log[1].method, "HEAD");
	ck_assert_str_eq(hdr(0, "If-None-Match"), "*");
	s3_client_get_stats(cl, &stats);
	ck_assert_uint_eq(stats.retries, 0);
}
END_TEST

START_TEST(test_no_retry_on_403)
{
	script((struct fake_resp){
		.status = 403,
		.body = "<Error><Code>AccessDenied</Code></Error>" });
	ck_assert_int_eq(s3_head_object(cl, "k", NULL, NULL, NULL), -EACCES);
	ck_assert_uint_eq(fk->n_log, 1);
}
END_TEST

/* ------------------------------------------- conditional PUT ambiguity */

START_TEST(test_ambiguous_put_resolved)
{
	struct s3_write_cond cond = { .if_match = "\"v1\"" };
	struct s3_object_info out;
	struct s3_status st = { 0 };

	script((struct fake_resp){ .terr = -ETIMEDOUT });
	script((struct fake_resp){
		.status = 412,
		.body = "<Error><Code>PreconditionFailed</Code></Error>" });
	script((struct fake_resp){ .status = 200, .etag = "\"v2\"",
				   .echo_token = true });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       &out, &st),
			 0);
	ck_assert(st.ambiguous_resolved);
	ck_assert_str_eq(out.etag, "\"v2\"");
	ck_assert_uint_eq(fk->n_log, 3);
	ck_assert_str_eq(fk->log[2].method, "HEAD");
	ck_assert_ptr_null(hdr(2, "If-Match"));
	/* The retry kept the precondition and the token. */
	ck_assert_str_eq(hdr(0, "If-Match"), "\"v1\"");
	ck_assert_str_eq(hdr(1, "If-Match"), "\"v1\"");
	ck_assert_str_eq(hdr(0, "x-amz-meta-etagfs-token"),
			 hdr(1, "x-amz-meta-etagfs-token"));
}
END_TEST

START_TEST(test_ambiguous_put_lost)
{
	struct s3_write_cond cond = { .if_match = "\"v1\"" };
	struct s3_status st = { 0 };

	script((struct fake_resp){
		.status = 500,
		.body = "<Error><Code>UnknownError</Code></Error>" });
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"other\"",
				   .token = "0123456789abcdef0123456789abcdef" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, &st),
			 -EBUSY);
	ck_assert(!st.ambiguous_resolved);
	ck_assert_uint_eq(fk->n_log, 3);
}
END_TEST

/* Our write landed, then a third writer replaced it before our HEAD: the
 * new version names our token as its parent. Success, but with an ETag
 * that no later conditional write can match. */
START_TEST(test_ambiguous_put_landed_then_replaced)
{
	struct s3_write_cond cond = { .if_match = "\"v1\"" };
	struct s3_object_info out;
	struct s3_status st = { 0 };

	script((struct fake_resp){ .terr = -ECONNRESET });
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"v3\"",
				   .token = "0123456789abcdef0123456789abcdef",
				   .echo_parent = true });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       &out, &st),
			 0);
	ck_assert(st.ambiguous_resolved);
	ck_assert_str_eq(out.etag, S3_ETAG_SUPERSEDED);
	/* A write conditional on that ETag fails without a request. */
	cond.if_match = "";
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, NULL),
			 -EBUSY);
	ck_assert_uint_eq(fk->n_log, 3);
}
END_TEST

START_TEST(test_ambiguous_create_resolved)
{
	struct s3_write_cond cond = { .if_none_match = true };
	struct s3_status st = { 0 };

	script((struct fake_resp){ .status = 409,
				   .body = "<Error><Code>ConditionalRequestConflict"
					   "</Code></Error>" });
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"mine\"",
				   .echo_token = true });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, &st),
			 0);
	ck_assert(st.ambiguous_resolved);
}
END_TEST

START_TEST(test_ambiguous_head_fails)
{
	struct s3_write_cond cond = { .if_none_match = true };
	int rc;

	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 1, NULL));
	script((struct fake_resp){ .terr = -ECONNRESET });
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .terr = -ETIMEDOUT });
	script((struct fake_resp){ .terr = -ETIMEDOUT });
	/* Unknown whether our write landed: never report a conflict. */
	rc = s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL, NULL, NULL);
	ck_assert_int_eq(rc, s3_errmap_errno(S3_OP_READ, 0, NULL, -ETIMEDOUT));
	ck_assert_int_ne(rc, -EBUSY);
	ck_assert_int_ne(rc, 0);
	ck_assert_uint_eq(fk->n_log, 4);
}
END_TEST

/* ------------------------------------------------------ If-Match forms */

static const struct quote_case {
	bool unquoted;
	const char *given;
	const char *sent;
} quote_cases[] = {
	{ false, "\"abc\"", "\"abc\"" },
	{ false, "abc", "\"abc\"" },
	{ true, "\"abc\"", "abc" },
	{ true, "abc", "abc" },
	{ true, "W/\"abc\"", "abc" },
};

START_TEST(test_if_match_form)
{
	const struct quote_case *q = &quote_cases[_i];
	struct s3_write_cond cond = { .if_match = q->given };
	struct s3_caps caps;

	s3_client_get_caps(cl, &caps);
	caps.put_if_match_unquoted = q->unquoted;
	s3_client_set_caps(cl, &caps);
	script((struct fake_resp){ .status = 200, .etag = "\"n\"" });
	script((struct fake_resp){ .status = 200, .etag = "\"n\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, NULL),
			 0);
	ck_assert_str_eq(hdr(0, "If-Match"), q->sent);
	/* Reads always send the standard quoted form. */
	ck_assert_int_eq(s3_head_object(cl, "k", q->given, NULL, NULL), 0);
	ck_assert_str_eq(hdr(1, "If-Match"), "\"abc\"");
}
END_TEST

START_TEST(test_quoting_learned)
{
	struct s3_write_cond cond = { .if_match = "\"v1\"" };
	struct s3_object_info out;
	struct s3_caps caps;

	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"v1\"" });
	script((struct fake_resp){ .status = 200, .etag = "\"v2\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       &out, NULL),
			 0);
	ck_assert_uint_eq(fk->n_log, 3);
	ck_assert_str_eq(hdr(0, "If-Match"), "\"v1\"");
	ck_assert_str_eq(fk->log[1].method, "HEAD");
	ck_assert_str_eq(hdr(2, "If-Match"), "v1");
	ck_assert_str_eq(out.etag, "\"v2\"");
	s3_client_get_caps(cl, &caps);
	ck_assert(caps.put_if_match_unquoted);
}
END_TEST

START_TEST(test_quoting_real_conflict)
{
	struct s3_write_cond cond = { .if_match = "\"v1\"" };
	struct s3_caps caps;

	/* 412, but the object moved on: a conflict, caps untouched. */
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"v9\"" });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, NULL),
			 -EBUSY);
	ck_assert_uint_eq(fk->n_log, 2);
	/* Both forms refused: still a conflict, caps untouched. */
	script((struct fake_resp){ .status = 412 });
	script((struct fake_resp){ .status = 200, .etag = "\"v1\"" });
	script((struct fake_resp){ .status = 412 });
	ck_assert_int_eq(s3_put_object(cl, "k", body_fd, 0, 11, &cond, NULL,
				       NULL, NULL),
			 -EBUSY);
	ck_assert_uint_eq(fk->n_log, 5);
	ck_assert_str_eq(hdr(4, "If-Match"), "v1");
	s3_client_get_caps(cl, &caps);
	ck_assert(!caps.put_if_match_unquoted);
}
END_TEST

/* ------------------------------------------------------------ GET */

START_TEST(test_get_412_is_estale)
{
	char dst[16];
	size_t got = 99;

	script((struct fake_resp){ .status = 412 });
	ck_assert_int_eq(s3_get_object(cl, "k", 0, sizeof(dst), "\"v1\"", dst,
				       &got, NULL, NULL),
			 -ESTALE);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(fk->n_log, 1);
}
END_TEST

/* The named version is still current: 304, no bytes, -EALREADY, and it
 * is an answer (a debug line), not a failure. */
START_TEST(test_get_if_changed_not_modified)
{
	struct s3_object_info info;
	char dst[16];
	size_t got = 99;

	script((struct fake_resp){ .status = 304, .etag = "\"v1\"" });
	capture_start(LOG_DEBUG);
	ck_assert_int_eq(s3_get_object_if_changed(cl, "k", 0, sizeof(dst),
						  "v1", dst, &got, &info,
						  NULL),
			 -EALREADY);
	capture_end(log_text, sizeof(log_text));
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(fk->n_log, 1);
	/* Quoted on the wire, whatever form the caller holds. */
	ck_assert_str_eq(hdr(0, "If-None-Match"), "\"v1\"");
	ck_assert_ptr_null(hdr(0, "If-Match"));
	ck_assert_str_eq(hdr(0, "Range"), "bytes=0-15");
	ck_assert_str_eq(info.etag, "\"v1\"");
	ck_assert_uint_eq(info.size, 0);
	ck_assert_int_eq(count_lines(log_text, "debug", "failed: HTTP 304"),
			 1);
	ck_assert_int_eq(count_lines(log_text, "warning", "failed:") +
				 count_lines(log_text, "notice", "failed:"),
			 0);
}
END_TEST

/* Another version is current: its bytes and its ETag, in one request. */
START_TEST(test_get_if_changed_new_version)
{
	struct s3_object_info info;
	char dst[10];
	size_t got = 0;

	script((struct fake_resp){ .status = 206, .etag = "\"v2\"",
				   .body = "abcdefghij",
				   .content_range = "bytes 0-9/20" });
	ck_assert_int_eq(s3_get_object_if_changed(cl, "k", 0, sizeof(dst),
						  "\"v1\"", dst, &got, &info,
						  NULL),
			 0);
	ck_assert_uint_eq(got, 10);
	ck_assert_int_eq(memcmp(dst, "abcdefghij", 10), 0);
	ck_assert_str_eq(hdr(0, "If-None-Match"), "\"v1\"");
	ck_assert_str_eq(info.etag, "\"v2\"");
	ck_assert_uint_eq(info.size, 20);
	/* Deleted meanwhile: ENOENT, as for any read. */
	script((struct fake_resp){
		.status = 404,
		.body = "<Error><Code>NoSuchKey</Code></Error>" });
	ck_assert_int_eq(s3_get_object_if_changed(cl, "k", 0, sizeof(dst),
						  "\"v1\"", dst, &got, &info,
						  NULL),
			 -ENOENT);
	ck_assert_uint_eq(got, 0);
}
END_TEST

START_TEST(test_get_416_empty)
{
	char dst[16];
	size_t got = 99;

	script((struct fake_resp){
		.status = 416,
		.body = "<Error><Code>InvalidRange</Code></Error>" });
	ck_assert_int_eq(s3_get_object(cl, "k", 100, sizeof(dst), NULL, dst,
				       &got, NULL, NULL),
			 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_str_eq(hdr(0, "Range"), "bytes=100-115");
}
END_TEST

START_TEST(test_get_range)
{
	struct s3_object_info info;
	char dst[10];
	size_t got = 0;

	script((struct fake_resp){ .status = 206, .etag = "\"v1\"",
				   .body = "0123456789",
				   .content_range = "bytes 10-19/4096" });
	ck_assert_int_eq(s3_get_object(cl, "k", 10, sizeof(dst), "v1", dst,
				       &got, &info, NULL),
			 0);
	ck_assert_uint_eq(got, 10);
	ck_assert_int_eq(memcmp(dst, "0123456789", 10), 0);
	ck_assert_str_eq(hdr(0, "Range"), "bytes=10-19");
	ck_assert_str_eq(hdr(0, "If-Match"), "\"v1\"");
	ck_assert_str_eq(info.etag, "\"v1\"");
	/* The object's size, from Content-Range, not the part's 10. */
	ck_assert_uint_eq(info.size, 4096);
}
END_TEST

/* The object size a ranged GET of 10 bytes from @p off reports. */
static const struct size_case {
	int status;
	const char *body;
	const char *content_range;
	uint64_t off;
	size_t got;
	uint64_t size;
} size_cases[] = {
	/* A short read at the end of the object. */
	{ 206, "xyz", "bytes 20-22/23", 20, 3, 23 },
	/* Without Content-Range only a short read tells the size. */
	{ 206, "xyz", NULL, 30, 3, 33 },
	{ 206, "0123456789", NULL, 30, 10, 0 },
	/* Past the end: a 416 names the size after "bytes *" too. */
	{ 416, "<Error><Code>InvalidRange</Code></Error>", "bytes */23", 40,
	  0, 23 },
	{ 416, "<Error><Code>InvalidRange</Code></Error>", NULL, 40, 0, 0 },
};

START_TEST(test_get_size)
{
	const struct size_case *sc = &size_cases[_i];
	struct s3_object_info info;
	char dst[10];
	size_t got = 99;

	script((struct fake_resp){ .status = sc->status,
				   .body = sc->body,
				   .content_range = sc->content_range });
	ck_assert_int_eq(s3_get_object(cl, "k", sc->off, sizeof(dst), NULL,
				       dst, &got, &info, NULL),
			 0);
	ck_assert_uint_eq(got, sc->got);
	ck_assert_uint_eq(info.size, sc->size);
}
END_TEST

START_TEST(test_get_range_ignored)
{
	char dst[4];
	size_t got = 99;

	/* From offset 0 and the object fits: a 200 is the right slice. */
	script((struct fake_resp){ .status = 200, .body = "abc" });
	ck_assert_int_eq(s3_get_object(cl, "k", 0, sizeof(dst), NULL, dst,
				       &got, NULL, NULL),
			 0);
	ck_assert_uint_eq(got, 3);
	/* From an offset: the bytes would be the wrong ones. */
	script((struct fake_resp){ .status = 200, .body = "abc" });
	ck_assert_int_eq(s3_get_object(cl, "k", 2, sizeof(dst), NULL, dst,
				       &got, NULL, NULL),
			 -EIO);
	ck_assert_uint_eq(got, 0);
	/* The whole object does not fit. */
	script((struct fake_resp){ .status = 200, .body = "abcdefgh" });
	ck_assert_int_eq(s3_get_object(cl, "k", 0, sizeof(dst), NULL, dst,
				       &got, NULL, NULL),
			 -EIO);
	ck_assert_uint_eq(fk->n_log, 3);
}
END_TEST

START_TEST(test_get_to_fd)
{
	struct s3_object_info info;
	char back[8] = "";
	int fd = memfd_create("dst", 0);

	ck_assert_int_ge(fd, 0);
	script((struct fake_resp){ .status = 200, .etag = "\"e\"",
				   .body = "payload" });
	ck_assert_int_eq(s3_get_object_to_fd(cl, "k", NULL, fd, &info, NULL),
			 0);
	ck_assert_uint_eq(info.size, 7);
	ck_assert_int_eq(pread(fd, back, 7, 0), 7);
	ck_assert_str_eq(back, "payload");
	ck_assert_ptr_null(hdr(0, "Range"));
	close(fd);
}
END_TEST

START_TEST(test_head_info)
{
	struct s3_object_info info;

	script((struct fake_resp){ .status = 404 });
	ck_assert_int_eq(s3_head_object(cl, "k", NULL, &info, NULL), -ENOENT);
	script((struct fake_resp){ .status = 412 });
	ck_assert_int_eq(s3_head_object(cl, "k", "\"x\"", &info, NULL),
			 -ESTALE);
}
END_TEST

/* ------------------------------------------------------ DELETE, LIST */

START_TEST(test_delete_missing)
{
	struct s3_status st = { 0 };

	script((struct fake_resp){
		.status = 404,
		.body = "<Error><Code>NoSuchKey</Code></Error>" });
	ck_assert_int_eq(s3_delete_object(cl, "gone", NULL, &st), 0);
	ck_assert_int_eq(st.http_status, 404);
}
END_TEST

START_TEST(test_list)
{
	struct s3_list_result res;

	script((struct fake_resp){
		.status = 200,
		.body = "<?xml version=\"1.0\"?><ListBucketResult>"
			"<Name>bkt</Name><EncodingType>url</EncodingType>"
			"<IsTruncated>true</IsTruncated>"
			"<NextContinuationToken>t2</NextContinuationToken>"
			"<Contents><Key>a%20b/x</Key><Size>3</Size>"
			"<ETag>&quot;e&quot;</ETag>"
			"<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
			"</Contents>"
			"<CommonPrefixes><Prefix>a%20b/d/</Prefix>"
			"</CommonPrefixes></ListBucketResult>" });
	ck_assert_int_eq(s3_list_objects(cl, "a b/", "/", "tok+/=", 500, &res,
					 NULL),
			 0);
	ck_assert_str_eq(fk->log[0].url,
			 "http://127.0.0.1:7480/bkt?continuation-token=tok%2B%"
			 "2F%3D&delimiter=%2F&encoding-type=url&list-type=2&"
			 "max-keys=500&prefix=a%20b%2F");
	ck_assert_uint_eq(res.n_objects, 1);
	ck_assert_str_eq(res.objects[0].key, "a b/x");
	ck_assert_uint_eq(res.n_prefixes, 1);
	ck_assert_str_eq(res.prefixes[0], "a b/d/");
	ck_assert(res.truncated);
	ck_assert_str_eq(res.next_token, "t2");
	s3_list_result_free(&res);

	replace_client(make_client("https://s3.amazonaws.com", "vbucket",
				   S3_ADDR_AUTO, 0, NULL));
	script((struct fake_resp){
		.status = 200,
		.body = "<ListBucketResult><IsTruncated>false</IsTruncated>"
			"</ListBucketResult>" });
	ck_assert_int_eq(s3_list_objects(cl, NULL, NULL, NULL, 0, &res, NULL),
			 0);
	ck_assert_str_eq(fk->log[0].url,
			 "https://vbucket.s3.amazonaws.com/?encoding-type=url&"
			 "list-type=2");
	ck_assert_uint_eq(res.n_objects, 0);
	s3_list_result_free(&res);
}
END_TEST

/* ------------------------------------------------------ check bucket */

static const struct bucket_case {
	struct fake_resp r;
	int rc;
	const char *msg;
} bucket_cases[] = {
	{ { .status = 200,
	    .body = "<ListBucketResult></ListBucketResult>" },
	  0,
	  "bucket 'bkt' at http://127.0.0.1:7480 is reachable" },
	{ { .status = 404,
	    .body = "<Error><Code>NoSuchBucket</Code></Error>" },
	  -ENOENT,
	  "bucket 'bkt' does not exist at http://127.0.0.1:7480" },
	{ { .status = 403,
	    .body = "<Error><Code>SignatureDoesNotMatch</Code></Error>" },
	  -EACCES,
	  "access denied to bucket 'bkt' (check credentials from test): "
	  "SignatureDoesNotMatch" },
	{ { .terr = -ECONNREFUSED },
	  -ECONNREFUSED,
	  "cannot reach http://127.0.0.1:7480: scripted failure" },
};

START_TEST(test_check_bucket)
{
	const struct bucket_case *b = &bucket_cases[_i];
	char err[256];

	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 0, NULL));
	script(b->r);
	ck_assert_int_eq(s3_check_bucket(cl, err, sizeof(err)), b->rc);
	ck_assert_str_eq(err, b->msg);
	ck_assert_str_eq(fk->log[0].url,
			 "http://127.0.0.1:7480/bkt?list-type=2&max-keys=0");
}
END_TEST

/* ------------------------------------------------------ copy */

START_TEST(test_copy)
{
	struct s3_copy_opts o = { .src_if_match = "abc",
				  .dst_if_none_match = true };
	struct s3_meta meta = { .has_uid = true, .uid = 1000 };
	struct s3_object_info out;
	struct s3_caps caps;

	script((struct fake_resp){
		.status = 200,
		.body = "<CopyObjectResult><ETag>\"c1\"</ETag>"
			"</CopyObjectResult>" });
	ck_assert_int_eq(s3_copy_object(cl, "src dir/a+b", "dst", &o, &out,
					NULL),
			 0);
	ck_assert_str_eq(out.etag, "\"c1\"");
	ck_assert_str_eq(fk->log[0].method, "PUT");
	ck_assert_str_eq(hdr(0, "x-amz-copy-source"), "bkt/src%20dir/a%2Bb");
	ck_assert_str_eq(hdr(0, "x-amz-copy-source-if-match"), "\"abc\"");
	ck_assert_ptr_null(hdr(0, "x-amz-copy-if-match"));
	ck_assert_str_eq(hdr(0, "If-None-Match"), "*");
	ck_assert_ptr_null(hdr(0, "x-amz-metadata-directive"));
	ck_assert_ptr_null(fk->log[0].body);

	/* Where the standard header is ignored, RGW's goes too. */
	s3_client_get_caps(cl, &caps);
	caps.copy_source_if_match = false;
	s3_client_set_caps(cl, &caps);
	o.meta = &meta;
	o.dst_if_none_match = false;
	script((struct fake_resp){ .status = 412 });
	ck_assert_int_eq(s3_copy_object(cl, "s", "d", &o, &out, NULL), -EBUSY);
	ck_assert_str_eq(hdr(1, "x-amz-copy-if-match"), "\"abc\"");
	ck_assert_str_eq(hdr(1, "x-amz-copy-source-if-match"), "\"abc\"");
	ck_assert_str_eq(hdr(1, "x-amz-metadata-directive"), "REPLACE");
	ck_assert_str_eq(hdr(1, "x-amz-meta-uid"), "1000");
	ck_assert_ptr_null(hdr(1, "If-None-Match"));
}
END_TEST

START_TEST(test_copy_error_in_200)
{
	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 1, NULL));
	script((struct fake_resp){
		.status = 200,
		.body = "<Error><Code>InternalError</Code></Error>" });
	script((struct fake_resp){
		.status = 200,
		.body = "<CopyObjectResult><ETag>\"c2\"</ETag>"
			"</CopyObjectResult>" });
	ck_assert_int_eq(s3_copy_object(cl, "s", "d", NULL, NULL, NULL), 0);
	ck_assert_uint_eq(fk->n_log, 2);
}
END_TEST

/* ------------------------------------------------------ multipart */

static const char complete_ok[] =
	"<CompleteMultipartUploadResult><ETag>\"m-2\"</ETag>"
	"</CompleteMultipartUploadResult>";
static const char complete_err[] =
	"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
	"<Message>We encountered an internal error.</Message></Error>";

START_TEST(test_mpu_flow)
{
	struct s3_part parts[2] = { { 1, NULL }, { 2, NULL } };
	struct s3_write_cond cond = { .if_match = "\"old\"" };
	struct s3_object_info out;
	char *upload_id = NULL;

	script((struct fake_resp){
		.status = 200,
		.body = "<InitiateMultipartUploadResult><UploadId>u/1+x"
			"</UploadId></InitiateMultipartUploadResult>" });
	script((struct fake_resp){ .status = 200, .etag = "\"p1\"" });
	script((struct fake_resp){
		.status = 200,
		.body = "<CopyPartResult><ETag>\"p2\"</ETag></CopyPartResult>" });
	script((struct fake_resp){ .status = 200, .body = complete_ok });
	ck_assert_int_eq(s3_mpu_create(cl, "big", NULL, &upload_id, NULL), 0);
	ck_assert_str_eq(upload_id, "u/1+x");
	ck_assert_str_eq(fk->log[0].method, "POST");
	ck_assert_str_eq(fk->log[0].url,
			 "http://127.0.0.1:7480/bkt/big?uploads=");
	ck_assert_uint_eq(strlen(hdr(0, "x-amz-meta-etagfs-token")),
			  S3_TOKEN_LEN);
	ck_assert_int_eq(s3_mpu_upload_part(cl, "big", upload_id, 1, body_fd,
					    0, 11, &parts[0].etag, NULL),
			 0);
	ck_assert_str_eq(parts[0].etag, "\"p1\"");
	ck_assert_str_eq(fk->log[1].url,
			 "http://127.0.0.1:7480/bkt/big?partNumber=1&uploadId="
			 "u%2F1%2Bx");
	ck_assert_str_eq(fk->log[1].body, "hello world");
	ck_assert_int_eq(s3_mpu_upload_part_copy(cl, "big", upload_id, 2,
						 "src", "\"s\"", 0, 99,
						 &parts[1].etag, NULL),
			 0);
	ck_assert_str_eq(parts[1].etag, "\"p2\"");
	ck_assert_str_eq(hdr(2, "x-amz-copy-source-range"), "bytes=0-99");
	ck_assert_str_eq(hdr(2, "x-amz-copy-source"), "bkt/src");
	ck_assert_int_eq(s3_mpu_complete(cl, "big", upload_id, parts, 2, &cond,
					 &out, NULL),
			 0);
	ck_assert_str_eq(out.etag, "\"m-2\"");
	ck_assert_str_eq(hdr(3, "If-Match"), "\"old\"");
	ck_assert_ptr_nonnull(strstr(fk->log[3].body, "<PartNumber>2"));
	free(upload_id);
	free(parts[0].etag);
	free(parts[1].etag);
}
END_TEST

static const uint64_t MIB = 1ull << 20;

START_TEST(test_mpu_part_size)
{
	ck_assert_uint_eq(s3_mpu_part_size(100 * MIB, 16 * MIB), 16 * MIB);
	ck_assert_uint_eq(s3_mpu_part_size(10000 * 16 * MIB, 16 * MIB),
			  16 * MIB);
	/* One byte more would need part 10,001: the part grows a MiB. */
	ck_assert_uint_eq(s3_mpu_part_size(10000 * 16 * MIB + 1, 16 * MIB),
			  17 * MIB);
	/* 1 TiB in 5 MiB parts would be 209,716 parts: 105 MiB each. */
	ck_assert_uint_eq(s3_mpu_part_size(1ull << 40, 5 * MIB), 105 * MIB);
	ck_assert_uint_le((1ull << 40) / (105 * MIB) + 1, S3_MPU_MAX_PARTS);
}
END_TEST

/* A fresh memfd holding @p text. */
static int text_fd(const char *text)
{
	int fd = memfd_create("parts", 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, text, strlen(text), 0),
			 (ssize_t)strlen(text));
	return fd;
}

/* 10 bytes in 3-byte parts, 3 at once: 4 parts, each with exactly its
 * bytes, returned in part order whatever order they finished in, and 3
 * really in flight together. */
START_TEST(test_mpu_upload_fd_parallel)
{
	const char *text = "0123456789";
	struct s3_part *parts = NULL;
	size_t n = 0;
	int fd = text_fd(text);

	fk->part_etags = true;
	fk->hold_parts = 3;
	fk->hold_ms = 500;
	ck_assert_int_eq(s3_mpu_upload_fd(cl, "big", "u1", fd, 10, 3, 3,
					  &parts, &n, NULL),
			 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(fk->n_log, 4);
	ck_assert_int_eq(fk->max_in_flight, 3);
	for (size_t i = 0; i < n; i++) {
		char want[32];

		ck_assert_int_eq(parts[i].number, (int)i + 1);
		snprintf(want, sizeof(want), "\"p%zu\"", i + 1);
		ck_assert_str_eq(parts[i].etag, want);
	}
	for (size_t i = 0; i < fk->n_log; i++) {
		int num = part_number_of(fk->log[i].url);
		size_t off = (size_t)(num - 1) * 3;
		size_t len = num == 4 ? 1 : 3;

		ck_assert_int_ge(num, 1);
		ck_assert_int_le(num, 4);
		ck_assert_str_eq(fk->log[i].method, "PUT");
		ck_assert_uint_eq(fk->log[i].body_len, len);
		ck_assert_int_eq(memcmp(fk->log[i].body, text + off, len), 0);
		ck_assert_ptr_nonnull(strstr(fk->log[i].url, "uploadId=u1"));
	}
	s3_mpu_parts_free(parts, n);
	close(fd);
}
END_TEST

/* Never more in flight than asked, nor than there are parts. */
START_TEST(test_mpu_upload_fd_bounded)
{
	struct s3_part *parts = NULL;
	size_t n = 0;
	int fd = text_fd("0123456789");

	fk->part_etags = true;
	fk->hold_parts = 3; /* waits 100 ms for a third that never comes */
	fk->hold_ms = 100;
	ck_assert_int_eq(s3_mpu_upload_fd(cl, "big", "u1", fd, 10, 3, 2,
					  &parts, &n, NULL),
			 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(fk->max_in_flight, 2);
	s3_mpu_parts_free(parts, n);
	fk->max_in_flight = 0;
	ck_assert_int_eq(s3_mpu_upload_fd(cl, "big", "u1", fd, 2, 3, 8,
					  &parts, &n, NULL),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(fk->max_in_flight, 1);
	ck_assert_int_eq(memcmp(fk->log[4].body, "01", 2), 0);
	s3_mpu_parts_free(parts, n);
	close(fd);
}
END_TEST

/* A part refused: its error and status come back, no parts are
 * returned, and no part is started after it. */
START_TEST(test_mpu_upload_fd_stops_at_failure)
{
	struct s3_part *parts = (struct s3_part *)&parts;
	struct s3_status st = { 0 };
	size_t n = 7;
	int fd = text_fd("0123456789");

	script((struct fake_resp){ .status = 200, .etag = "\"p1\"" });
	script((struct fake_resp){ .status = 403 });
	ck_assert_int_eq(s3_mpu_upload_fd(cl, "big", "u1", fd, 10, 3, 1,
					  &parts, &n, &st),
			 -EACCES);
	ck_assert_ptr_null(parts);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(st.http_status, 403);
	ck_assert_uint_eq(fk->n_log, 2);
	ck_assert_int_eq(part_number_of(fk->log[1].url), 2);
	ck_assert_int_eq(s3_mpu_upload_fd(cl, "big", "u1", fd, 0, 3, 1,
					  &parts, &n, &st),
			 -EINVAL);
	close(fd);
}
END_TEST

START_TEST(test_complete_error_in_200)
{
	struct s3_part part = { 1, (char *)"\"p1\"" };
	struct s3_status st = { 0 };

	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 0, NULL));
	script((struct fake_resp){ .status = 200, .body = complete_err });
	ck_assert_int_eq(s3_mpu_complete(cl, "big", "u1", &part, 1, NULL, NULL,
					 &st),
			 -EIO);
	ck_assert_str_eq(st.code, "InternalError");
	ck_assert_uint_eq(fk->n_log, 1);
}
END_TEST

START_TEST(test_complete_ambiguous_resolved)
{
	struct s3_part part = { 1, (char *)"\"p1\"" };
	struct s3_status st = { 0 };
	struct s3_object_info out;
	char *upload_id = NULL;

	script((struct fake_resp){
		.status = 200,
		.body = "<InitiateMultipartUploadResult><UploadId>u9</UploadId>"
			"</InitiateMultipartUploadResult>" });
	script((struct fake_resp){ .status = 200, .body = complete_err });
	script((struct fake_resp){
		.status = 404,
		.body = "<Error><Code>NoSuchUpload</Code></Error>" });
	script((struct fake_resp){ .status = 200, .etag = "\"m-1\"",
				   .echo_token = true });
	ck_assert_int_eq(s3_mpu_create(cl, "big", NULL, &upload_id, NULL), 0);
	ck_assert_int_eq(s3_mpu_complete(cl, "big", upload_id, &part, 1, NULL,
					 &out, &st),
			 0);
	ck_assert(st.ambiguous_resolved);
	ck_assert_str_eq(out.etag, "\"m-1\"");
	ck_assert_uint_eq(fk->n_log, 4);
	free(upload_id);
}
END_TEST

START_TEST(test_abort_missing)
{
	script((struct fake_resp){
		.status = 404,
		.body = "<Error><Code>NoSuchUpload</Code></Error>" });
	ck_assert_int_eq(s3_mpu_abort(cl, "big", "nope", NULL), 0);
	ck_assert_str_eq(fk->log[0].url,
			 "http://127.0.0.1:7480/bkt/big?uploadId=nope");
	ck_assert_str_eq(fk->log[0].method, "DELETE");
}
END_TEST

/* ------------------------------------------------------ small helpers */

static const struct etag_case {
	const char *a, *b;
	bool eq;
} etag_cases[] = {
	{ "\"abc\"", "abc", true },   { "abc", "abc", true },
	{ "W/\"abc\"", "\"abc\"", true }, { "\"abc\"", "\"abd\"", false },
	{ "\"abc-2\"", "abc", false }, { "", "\"\"", true },
	{ "\"", "\"", true },	      { "abc", NULL, false },
};

START_TEST(test_etag_equal)
{
	const struct etag_case *e = &etag_cases[_i];

	ck_assert_int_eq(s3_etag_equal(e->a, e->b), e->eq);
}
END_TEST

START_TEST(test_header_parsing)
{
	struct s3_http_response r;

	s3_http_response_init(&r);
	ck_assert_int_eq(r.content_length, -1);
	feed(&r, "HTTP/1.1 100 Continue\r\n");
	feed(&r, "ETag: \"stale\"\r\n");
	ck_assert_int_eq(r.status, 100);
	feed(&r, "HTTP/1.1 200 OK\r\n");
	ck_assert_str_eq(r.etag, "");
	feed(&r, "etag:   \"e1\"  \r\n");
	feed(&r, "Content-Length: 1234\r\n");
	feed(&r, "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
	feed(&r, "X-Amz-Meta-Mode: 33188\r\n");
	feed(&r, "x-amz-meta-Etagfs-Token: ab\r\n");
	feed(&r, "x-amz-request-id: tx00\r\n");
	feed(&r, "Server: whatever\r\n");
	feed(&r, "\r\n");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.etag, "\"e1\"");
	ck_assert_int_eq(r.content_length, 1234);
	ck_assert_str_eq(r.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");
	ck_assert_str_eq(r.request_id, "tx00");
	ck_assert_uint_eq(r.n_meta, 2);
	ck_assert_str_eq(r.meta[0].name, "mode");
	ck_assert_str_eq(r.meta[0].value, "33188");
	ck_assert_str_eq(r.meta[1].name, "etagfs-token");
	ck_assert_int_eq(s3_http_parse_header_line("Content-Length: x", 17,
						   &r),
			 -EPROTO);
	ck_assert_int_eq(s3_http_parse_header_line("HTTP/1.1 2", 10, &r),
			 -EPROTO);
	s3_http_response_free(&r);
}
END_TEST

static const struct range_case {
	const char *line;
	int rc;
	int64_t total;
} range_cases[] = {
	{ "Content-Range: bytes 0-9/1234\r\n", 0, 1234 },
	{ "content-range:  bytes 5-5/6 \r\n", 0, 6 },
	{ "Content-Range: bytes */77\r\n", 0, 77 },
	{ "Content-Range: bytes 0-9/*\r\n", 0, -1 },
	{ "Content-Range: bytes 0-9/0\r\n", 0, 0 },
	{ "Content-Range: bytes 0-9/-5\r\n", -EPROTO, -1 },
	{ "Content-Range: bytes 0-9/12x\r\n", -EPROTO, -1 },
	{ "Content-Range: bytes 0-9/\r\n", -EPROTO, -1 },
	{ "Content-Range: bytes 0-9\r\n", -EPROTO, -1 },
	{ "Content-Range: items 0-9/10\r\n", -EPROTO, -1 },
};

START_TEST(test_content_range)
{
	const struct range_case *rc = &range_cases[_i];
	struct s3_http_response r;

	s3_http_response_init(&r);
	ck_assert_int_eq(r.range_total, -1);
	feed(&r, "HTTP/1.1 206 Partial Content\r\n");
	ck_assert_int_eq(s3_http_parse_header_line(rc->line,
						   strlen(rc->line), &r),
			 rc->rc);
	ck_assert_int_eq(r.range_total, rc->total);
	/* A new status line (after an interim answer) forgets it. */
	feed(&r, "Content-Range: bytes 0-0/9\r\n");
	feed(&r, "HTTP/1.1 200 OK\r\n");
	ck_assert_int_eq(r.range_total, -1);
	s3_http_response_free(&r);
}
END_TEST

START_TEST(test_head_last_modified)
{
	struct s3_object_info info;

	script((struct fake_resp){
		.status = 200,
		.etag = "\"e\"",
		.body = "12345",
		.token = "0123456789abcdef0123456789abcdef",
		.last_modified = "Wed, 21 Oct 2015 07:28:00 GMT" });
	ck_assert_int_eq(s3_head_object(cl, "k", NULL, &info, NULL), 0);
	ck_assert_int_eq(info.last_modified, 1445412480);
	ck_assert_uint_eq(info.size, 5);
	ck_assert_str_eq(info.meta.token, "0123456789abcdef0123456789abcdef");
	ck_assert(fk->log[0].body == NULL);
}
END_TEST

/* ------------------------------------------------------ simulated server */

static struct sim_object *sim_find(struct sim *s, const char *key)
{
	for (size_t i = 0; i < 8; i++)
		if (s->objects[i].live && strcmp(s->objects[i].key, key) == 0)
			return &s->objects[i];
	return NULL;
}

static struct sim_object *sim_store(struct sim *s, const char *key,
				    const char *token)
{
	struct sim_object *o = sim_find(s, key);

	for (size_t i = 0; !o && i < 8; i++)
		if (!s->objects[i].live)
			o = &s->objects[i];
	ck_assert_ptr_nonnull(o);
	o->live = true;
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->etag, sizeof(o->etag), "\"%032d\"", ++s->next_etag);
	snprintf(o->token, sizeof(o->token), "%s", token ? token : "");
	return o;
}

/* Does @p cond (a header value) match @p o under the server's rules? */
static bool sim_match(const struct sim *s, const char *cond,
		      const struct sim_object *o, bool rgw_put_rule)
{
	char bare[64];
	size_t n;

	if (!o)
		return false;
	if (rgw_put_rule) /* RGW compares the raw header to the bare ETag */
		return strncmp(cond, o->etag + 1, strlen(o->etag) - 2) == 0 &&
		       strlen(cond) == strlen(o->etag) - 2;
	n = strlen(cond);
	if (n >= 2 && cond[0] == '"')
		snprintf(bare, sizeof(bare), "\"%.*s\"", (int)(n - 2),
			 cond + 1);
	else
		snprintf(bare, sizeof(bare), "\"%s\"", cond);
	return strcmp(bare, o->etag) == 0;
}

static void sim_reply(struct s3_http_response *resp, int status,
		      const char *etag)
{
	feed(resp, "HTTP/1.1 %d X\r\n", status);
	if (etag)
		feed(resp, "ETag: %s\r\n", etag);
}

static int sim_serve(struct fake *f, const struct fake_req *r,
		     const struct s3_http_request *req,
		     struct s3_http_response *resp)
{
	static const char prefix[] = "http://127.0.0.1:7480/bkt/";
	struct sim *s = f->sim;
	struct buf keyb;
	char key[256];
	const char *q;
	const char *if_match = req_header(r, "If-Match");
	const char *inm = req_header(r, "If-None-Match");
	const char *csrc = req_header(r, "x-amz-copy-source");
	struct sim_object *o;
	bool honour = !s->lax;
	char body[512];

	ck_assert(strncmp(r->url, prefix, sizeof(prefix) - 1) == 0);
	q = strchr(r->url, '?');
	snprintf(key, sizeof(key), "%.*s",
		 (int)((q ? q : r->url + strlen(r->url)) - r->url -
		       (sizeof(prefix) - 1)),
		 r->url + sizeof(prefix) - 1);
	buf_init(&keyb, 1024);
	ck_assert_int_eq(uri_decode(&keyb, key, false), 0);
	snprintf(key, sizeof(key), "%s", buf_str(&keyb));
	buf_free(&keyb);
	o = sim_find(s, key);

	if (strcmp(r->method, "HEAD") == 0) {
		sim_reply(resp, o ? 200 : 404, o ? o->etag : NULL);
		if (o && o->token[0])
			feed(resp, "x-amz-meta-etagfs-token: %s\r\n", o->token);
		return 0;
	}
	if (strcmp(r->method, "DELETE") == 0) {
		if (q && strstr(q, "uploadId=")) {
			sim_reply(resp, 204, NULL);
			return 0;
		}
		if (if_match && honour && !s->rgw &&
		    !sim_match(s, if_match, o, false)) {
			sim_reply(resp, 412, NULL);
			return 0;
		}
		if (o)
			o->live = false;
		sim_reply(resp, 204, NULL);
		return 0;
	}
	if (strcmp(r->method, "POST") == 0 && q &&
	    strcmp(q, "?uploads=") == 0) {
		s->n_uploads++;
		sim_reply(resp, 200, NULL);
		snprintf(body, sizeof(body),
			 "<InitiateMultipartUploadResult><UploadId>up%d"
			 "</UploadId></InitiateMultipartUploadResult>",
			 s->n_uploads);
		return deliver(req, resp, body);
	}
	if (strcmp(r->method, "POST") == 0) {
		if (honour && !s->rgw && if_match &&
		    !sim_match(s, if_match, o, false)) {
			sim_reply(resp, 412, NULL);
			return 0;
		}
		o = sim_store(s, key, NULL);
		sim_reply(resp, 200, NULL);
		snprintf(body, sizeof(body),
			 "<CompleteMultipartUploadResult><ETag>%s</ETag>"
			 "</CompleteMultipartUploadResult>",
			 o->etag);
		return deliver(req, resp, body);
	}
	ck_assert_str_eq(r->method, "PUT");
	if (q && strstr(q, "partNumber=")) {
		sim_reply(resp, 200, "\"part\"");
		return 0;
	}
	if (csrc) {
		const char *std = req_header(r, "x-amz-copy-source-if-match");
		const char *rgw = req_header(r, "x-amz-copy-if-match");
		struct sim_object *src = sim_find(s, csrc + 4);
		const char *cond = s->rgw ? rgw : std;

		ck_assert_ptr_nonnull(src);
		if (honour && cond && !sim_match(s, cond, src, false)) {
			sim_reply(resp, 412, NULL);
			return 0;
		}
		o = sim_store(s, key, NULL);
		sim_reply(resp, 200, NULL);
		snprintf(body, sizeof(body),
			 "<CopyObjectResult><ETag>%s</ETag></CopyObjectResult>",
			 o->etag);
		return deliver(req, resp, body);
	}
	if (honour && if_match && !sim_match(s, if_match, o, s->rgw)) {
		sim_reply(resp, 412, NULL);
		return 0;
	}
	if (honour && inm && o) {
		sim_reply(resp, 412, NULL);
		return 0;
	}
	o = sim_store(s, key, req_header(r, "x-amz-meta-etagfs-token"));
	sim_reply(resp, 200, o->etag);
	return 0;
}

static const struct probe_case {
	struct sim sim;
	struct s3_caps caps;
	const char *text;
} probe_cases[] = {
	{ { .rgw = true },
	  { .put_if_match = true,
	    .put_if_match_unquoted = true,
	    .put_if_none_match = true,
	    .copy_rgw_if_match = true },
	  "conditions honoured: put-if-match(unquoted) put-if-none-match; "
	  "ignored: complete, delete, copy-source(standard); "
	  "rgw copy-if-match honoured" },
	{ { .rgw = false },
	  { .put_if_match = true,
	    .put_if_none_match = true,
	    .complete_conditional = true,
	    .delete_if_match = true,
	    .copy_source_if_match = true },
	  "conditions honoured: put-if-match put-if-none-match complete "
	  "delete copy-source(standard); ignored: none" },
	{ { .lax = true },
	  { 0 },
	  "conditions honoured: none; ignored: put-if-match, "
	  "put-if-none-match, complete, delete, copy-source(standard)" },
};

START_TEST(test_probe)
{
	const struct probe_case *pc = &probe_cases[_i];
	struct s3_caps caps, now;
	struct s3_stats stats;
	struct sim sim = pc->sim;
	char text[256];
	uint64_t n;

	fk->sim = &sim;
	ck_assert_int_eq(s3_probe_caps(cl, "pre/", &caps), 0);
	ck_assert_int_eq(caps.put_if_match, pc->caps.put_if_match);
	ck_assert_int_eq(caps.put_if_match_unquoted,
			 pc->caps.put_if_match_unquoted);
	ck_assert_int_eq(caps.put_if_none_match, pc->caps.put_if_none_match);
	ck_assert_int_eq(caps.complete_conditional,
			 pc->caps.complete_conditional);
	ck_assert_int_eq(caps.delete_if_match, pc->caps.delete_if_match);
	ck_assert_int_eq(caps.copy_source_if_match,
			 pc->caps.copy_source_if_match);
	ck_assert_int_eq(caps.copy_rgw_if_match, pc->caps.copy_rgw_if_match);
	s3_client_get_caps(cl, &now);
	ck_assert_int_eq(memcmp(&now, &caps, sizeof(caps)), 0);
	s3_probe_describe(&caps, text, sizeof(text));
	ck_assert_str_eq(text, pc->text);

	/* Scratch keys only, all gone afterwards, in a bounded number of
	 * requests. */
	for (size_t i = 0; i < fk->n_log; i++)
		ck_assert_msg(strncmp(fk->log[i].url,
				      "http://127.0.0.1:7480/bkt/pre/"
				      ".etagfs-probe-",
				      44) == 0,
			      "%s", fk->log[i].url);
	for (size_t i = 0; i < 8; i++)
		ck_assert_msg(!sim.objects[i].live, "left %s",
			      sim.objects[i].key);
	s3_client_get_stats(cl, &stats);
	n = stats.head + stats.get + stats.put + stats.del + stats.copy +
	    stats.list + stats.mpu;
	ck_assert_uint_eq(n, fk->n_log);
	ck_assert_uint_le(n, 16);
	ck_assert_uint_eq(stats.retries, 0);
}
END_TEST

START_TEST(test_probe_unreachable)
{
	struct s3_caps caps = { .put_if_match = true };
	struct s3_caps before, after;

	replace_client(make_client("http://127.0.0.1:7480", "bkt",
				   S3_ADDR_PATH, 0, NULL));
	s3_client_get_caps(cl, &before);
	for (int i = 0; i < 4; i++)
		script((struct fake_resp){ .terr = -ECONNREFUSED });
	ck_assert_int_eq(s3_probe_caps(cl, "", &caps),
			 s3_errmap_errno(S3_OP_WRITE, 0, NULL, -ECONNREFUSED));
	s3_client_get_caps(cl, &after);
	ck_assert_int_eq(memcmp(&before, &after, sizeof(before)), 0);
	/* The failed PUT, then the cleanup DELETE of the scratch key. */
	ck_assert_uint_eq(fk->n_log, 2);
	ck_assert_str_eq(fk->log[1].method, "DELETE");
	fk->next = fk->n_script;
}
END_TEST

/* ------------------------------------------------------- log levels */

/* Each case fails one request on a 412 and names the level of its line. */
static const struct level_case {
	const char *what;
	const char *level;
	size_t requests;
} level_cases[] = {
	/* A conflict on a conditional write: the caller names it. */
	{ "put-if-match", "info", 2 }, /* the PUT, then the HEAD check */
	{ "put-if-none-match", "info", 2 }, /* a create checks too */
	{ "complete-if-match", "info", 1 },
	/* Everything else keeps its level. */
	{ "put-plain", "notice", 1 },
	{ "get-if-match", "notice", 1 },
	{ "delete-if-match", "notice", 1 },
};

START_TEST(test_failure_levels)
{
	const struct level_case *lc = &level_cases[_i];
	struct s3_write_cond if_match = { .if_match = "\"v1\"" };
	struct s3_write_cond none_match = { .if_none_match = true };
	struct s3_part part = { .number = 1, .etag = (char *)"\"p\"" };
	char dst[4];
	size_t got;
	int rc;

	script((struct fake_resp){
		.status = 412,
		.body = "<Error><Code>PreconditionFailed</Code></Error>" });
	/* The HEAD check: another version, without our token. */
	script((struct fake_resp){ .status = 200, .etag = "\"v2\"" });
	capture_start(LOG_DEBUG);
	if (strcmp(lc->what, "put-if-match") == 0)
		rc = s3_put_object(cl, "k", body_fd, 0, 11, &if_match, NULL,
				   NULL, NULL);
	else if (strcmp(lc->what, "put-if-none-match") == 0)
		rc = s3_put_object(cl, "k", body_fd, 0, 11, &none_match, NULL,
				   NULL, NULL);
	else if (strcmp(lc->what, "complete-if-match") == 0)
		rc = s3_mpu_complete(cl, "k", "up1", &part, 1, &if_match, NULL,
				     NULL);
	else if (strcmp(lc->what, "put-plain") == 0)
		rc = s3_put_object(cl, "k", body_fd, 0, 11, NULL, NULL, NULL,
				   NULL);
	else if (strcmp(lc->what, "get-if-match") == 0)
		rc = s3_get_object(cl, "k", 0, sizeof(dst), "\"v1\"", dst,
				   &got, NULL, NULL);
	else
		rc = s3_delete_object(cl, "k", "\"v1\"", NULL);
	capture_end(log_text, sizeof(log_text));

	ck_assert_int_eq(rc, strcmp(lc->what, "get-if-match") == 0 ? -ESTALE
								     : -EBUSY);
	ck_assert_uint_eq(fk->n_log, lc->requests);
	fk->next = fk->n_script; /* the HEAD answer may be left over */
	ck_assert_msg(count_lines(log_text, lc->level,
				  "failed: HTTP 412 PreconditionFailed") == 1,
		      "%s: %s", lc->what, log_text);
	/* One failure line in all, at that level. */
	ck_assert_int_eq(count_lines(log_text, "debug", "failed:") +
				 count_lines(log_text, "info", "failed:") +
				 count_lines(log_text, "notice", "failed:") +
				 count_lines(log_text, "warning", "failed:"),
			 1);
}
END_TEST

START_TEST(test_probe_refusals_quiet)
{
	struct s3_write_cond cond = { .if_match = "\"nope\"" };
	struct sim sim = { .rgw = true };
	struct s3_caps caps;

	fk->sim = &sim;
	capture_start(LOG_DEBUG);
	ck_assert_int_eq(s3_probe_caps(cl, "pre/", &caps), 0);
	/* The marker is off again: a real conflict is back at info. */
	ck_assert_int_eq(s3_put_object(cl, "pre/.etagfs-probe-x", body_fd, 0,
				       11, &cond, NULL, NULL, NULL),
			 -EBUSY);
	capture_end(log_text, sizeof(log_text));

	/* RGW refuses PUT If-Match with the wrong ETag, PUT If-None-Match
	 * and the copy with RGW's header: the three lines every mount used
	 * to print at notice, now at debug. */
	ck_assert_msg(count_lines(log_text, "debug", "failed: HTTP 412") == 3,
		      "%s", log_text);
	ck_assert_int_eq(count_lines(log_text, "notice", "failed:"), 0);
	ck_assert_int_eq(count_lines(log_text, "warning", "failed:"), 0);
	ck_assert_int_eq(count_lines(log_text, "info", "failed:"), 1);
	ck_assert_int_eq(count_lines(log_text, "info",
				     "PUT 'pre/.etagfs-probe-x' failed: "
				     "HTTP 412"),
			 1);
}
END_TEST

/* ------------------------------------------- libcurl transport, loopback */

/*
 * A one-thread HTTP/1.1 server on 127.0.0.1 answering each request with
 * the next canned raw response, keeping connections open so that reuse
 * can be counted. "STALL" answers nothing for a while.
 */

#define SRV_MAX 8

struct srv {
	int listen_fd;
	int port;
	const char *replies[SRV_MAX];
	size_t n_replies;
	char *requests[SRV_MAX]; /* head + body as received */
	size_t n_requests;
	int accepts;
	pthread_t thread;
};

static bool srv_read_request(int fd, struct buf *req)
{
	char ch;
	long clen = 0;
	const char *len_hdr;

	while (req->len < 4 || memcmp(req->data + req->len - 4, "\r\n\r\n", 4))
		if (read(fd, &ch, 1) != 1 || buf_add(req, &ch, 1) < 0)
			return false;
	len_hdr = strcasestr(req->data, "\r\ncontent-length:");
	if (len_hdr)
		clen = strtol(len_hdr + 17, NULL, 10);
	for (long i = 0; i < clen; i++)
		if (read(fd, &ch, 1) != 1 || buf_add(req, &ch, 1) < 0)
			return false;
	return true;
}

static void *srv_main(void *arg)
{
	struct srv *sv = arg;
	size_t next = 0;

	while (next < sv->n_replies) {
		struct pollfd pfd = { .fd = sv->listen_fd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 5000) != 1)
			break;
		fd = accept(sv->listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		sv->accepts++;
		while (next < sv->n_replies) {
			struct buf req;
			const char *r = sv->replies[next];

			buf_init(&req, 1 << 20);
			if (!srv_read_request(fd, &req)) {
				buf_free(&req);
				break;
			}
			sv->requests[sv->n_requests++] = buf_take(&req);
			next++;
			if (strcmp(r, "STALL") == 0) {
				usleep(1500 * 1000);
				break;
			}
			if (write(fd, r, strlen(r)) != (ssize_t)strlen(r))
				break;
		}
		close(fd);
	}
	return NULL;
}

static struct srv *srv_start(const char *const *replies, size_t n)
{
	struct srv *sv = calloc(1, sizeof(*sv));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	ck_assert_ptr_nonnull(sv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sv->listen_fd, 0);
	ck_assert_int_eq(bind(sv->listen_fd, (struct sockaddr *)&a, alen), 0);
	ck_assert_int_eq(listen(sv->listen_fd, 4), 0);
	ck_assert_int_eq(getsockname(sv->listen_fd, (struct sockaddr *)&a,
				     &alen),
			 0);
	sv->port = ntohs(a.sin_port);
	for (size_t i = 0; i < n && i < SRV_MAX; i++)
		sv->replies[sv->n_replies++] = replies[i];
	ck_assert_int_eq(pthread_create(&sv->thread, NULL, srv_main, sv), 0);
	return sv;
}

static void srv_join(struct srv *sv)
{
	pthread_join(sv->thread, NULL);
}

static void srv_free(struct srv *sv)
{
	close(sv->listen_fd);
	for (size_t i = 0; i < sv->n_requests; i++)
		free(sv->requests[i]);
	free(sv);
}

static struct s3_http *curl_transport(int request_timeout_ms)
{
	struct s3_http_config cfg = {
		.connect_timeout_ms = 1000,
		.stall_timeout_ms = 1000,
		.request_timeout_ms = request_timeout_ms,
		.max_connections = 2,
	};
	struct s3_http *h = NULL;

	ck_assert_int_eq(s3_http_curl_new(&cfg, &h), 0);
	return h;
}

static int curl_do(struct s3_http *h, struct s3_http_request *req,
		   struct s3_http_response *resp)
{
	s3_http_response_init(resp);
	return h->ops->perform(h->impl, req, resp);
}

START_TEST(test_curl_exchange)
{
	static const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nx-amz-request-id: r1\r\n"
		"X-Amz-Meta-Mode: 33188\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<R/>\n",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 37\r\n\r\n"
		"<Error><Code>NoSuchKey</Code></Error>",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
	};
	struct srv *sv = srv_start(replies, 5);
	struct s3_http *h = curl_transport(2000);
	const struct s3_header hdrs[] = { { "x-amz-meta-a", "b" },
					  { "x-amz-empty", "" } };
	struct s3_http_request req = { .headers = hdrs, .n_headers = 2,
				       .body_fd = -1, .resp_fd = -1 };
	struct s3_http_response resp;
	char url[128];
	char dst[4];
	struct buf text;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bkt/k", sv->port);
	req.url = url;

	/* PUT streamed from a file range. */
	req.method = "PUT";
	req.body_fd = body_fd;
	req.body_off = 6;
	req.body_len = 5;
	ck_assert_int_eq(curl_do(h, &req, &resp), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.etag, "\"e1\"");
	ck_assert_str_eq(resp.request_id, "r1");
	ck_assert_uint_eq(resp.n_meta, 1);
	ck_assert_str_eq(resp.meta[0].name, "mode");
	s3_http_response_free(&resp);

	/* PUT without a body. */
	req.body_fd = -1;
	ck_assert_int_eq(curl_do(h, &req, &resp), 0);
	s3_http_response_free(&resp);

	/* POST from memory into a text sink. */
	buf_init(&text, 1024);
	req.method = "POST";
	req.body_mem = "<x/>";
	req.body_mem_len = 4;
	req.resp_text = &text;
	ck_assert_int_eq(curl_do(h, &req, &resp), 0);
	ck_assert_str_eq(buf_str(&text), "<R/>\n");
	ck_assert_uint_eq(resp.body_received, 5);
	s3_http_response_free(&resp);

	/* An error body goes to err_body, never to the sink. */
	buf_reset(&text);
	req.method = "GET";
	req.body_mem = NULL;
	req.body_mem_len = 0;
	ck_assert_int_eq(curl_do(h, &req, &resp), 0);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_str_eq(buf_str(&resp.err_body),
			 "<Error><Code>NoSuchKey</Code></Error>");
	ck_assert_uint_eq(text.len, 0);
	s3_http_response_free(&resp);
	buf_free(&text);

	/* More than the caller's buffer holds is a protocol error. */
	req.resp_text = NULL;
	req.resp_dst = dst;
	req.resp_dst_len = sizeof(dst);
	ck_assert_int_eq(curl_do(h, &req, &resp), -EPROTO);
	ck_assert_int_eq(resp.transport_errno, -EPROTO);
	s3_http_response_free(&resp);

	s3_http_free(h);
	srv_join(sv);

	ck_assert_uint_eq(sv->n_requests, 5);
	ck_assert_int_eq(sv->accepts, 1); /* one connection, reused */
	ck_assert_msg(strncmp(sv->requests[0], "PUT /bkt/k HTTP/1.1\r\n", 21) ==
			      0,
		      "%s", sv->requests[0]);
	ck_assert_ptr_nonnull(strstr(sv->requests[0], "\r\nx-amz-meta-a: b\r\n"));
	ck_assert_ptr_nonnull(strstr(sv->requests[0], "\r\nx-amz-empty:\r\n"));
	ck_assert_ptr_nonnull(strstr(sv->requests[0], "\r\nContent-Length: 5\r\n"));
	ck_assert_ptr_null(strcasestr(sv->requests[0], "expect:"));
	ck_assert_ptr_nonnull(strstr(sv->requests[0], "\r\n\r\nworld"));
	ck_assert_ptr_nonnull(strstr(sv->requests[1], "\r\nContent-Length: 0\r\n"));
	ck_assert_msg(strncmp(sv->requests[2], "POST /bkt/k HTTP/1.1\r\n", 22) ==
			      0,
		      "%s", sv->requests[2]);
	ck_assert_ptr_nonnull(strstr(sv->requests[2], "\r\n\r\n<x/>"));
	ck_assert_msg(strncmp(sv->requests[3], "GET /bkt/k HTTP/1.1\r\n", 21) ==
			      0,
		      "%s", sv->requests[3]);
	srv_free(sv);
}
END_TEST

START_TEST(test_curl_failures)
{
	static const char *const replies[] = { "STALL", "STALL" };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct s3_http *h = curl_transport(300);
	struct s3_http_request req = { .method = "GET", .body_fd = -1,
				       .resp_fd = -1 };
	struct s3_http_response resp;
	struct srv *sv;
	char url[128];
	char dst[16];
	int fd;

	/* A port nobody listens on. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, alen), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/b", ntohs(a.sin_port));
	req.url = url;
	ck_assert_int_eq(curl_do(h, &req, &resp), -ECONNREFUSED);
	ck_assert_int_eq(resp.status, 0);
	ck_assert_str_ne(resp.transport_error, "");
	s3_http_response_free(&resp);

	/* A silent server: the whole-request timeout of a bodiless GET. */
	sv = srv_start(replies, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/b", sv->port);
	ck_assert_int_eq(curl_do(h, &req, &resp), -ETIMEDOUT);
	s3_http_response_free(&resp);
	/* The stall timeout of a data transfer. */
	req.resp_dst = dst;
	req.resp_dst_len = sizeof(dst);
	ck_assert_int_eq(curl_do(h, &req, &resp), -ETIMEDOUT);
	s3_http_response_free(&resp);
	s3_http_free(h);
	srv_join(sv);
	ck_assert_uint_eq(sv->n_requests, 2);
	srv_free(sv);
}
END_TEST

Suite *client_suite(void);

Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("client");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_url_building, 0,
			    sizeof(url_cases) / sizeof(url_cases[0]));
	tcase_add_test(tc, test_bad_endpoint);
	tcase_add_loop_test(tc, test_endpoint_with_userinfo, 0, 3);
	tcase_add_test(tc, test_signed_headers);
	tcase_add_test(tc, test_empty_body_hash);
	tcase_add_test(tc, test_retry_503_then_success);
	tcase_add_test(tc, test_retries_exhausted);
	tcase_add_test(tc, test_no_retry_on_412);
	tcase_add_test(tc, test_no_retry_on_403);
	tcase_add_test(tc, test_ambiguous_put_resolved);
	tcase_add_test(tc, test_ambiguous_put_lost);
	tcase_add_test(tc, test_ambiguous_create_resolved);
	tcase_add_test(tc, test_ambiguous_head_fails);
	tcase_add_loop_test(tc, test_if_match_form, 0,
			    sizeof(quote_cases) / sizeof(quote_cases[0]));
	tcase_add_test(tc, test_quoting_learned);
	tcase_add_test(tc, test_quoting_real_conflict);
	tcase_add_test(tc, test_get_412_is_estale);
	tcase_add_test(tc, test_get_if_changed_not_modified);
	tcase_add_test(tc, test_get_if_changed_new_version);
	tcase_add_test(tc, test_get_416_empty);
	tcase_add_test(tc, test_get_range);
	tcase_add_loop_test(tc, test_get_size, 0,
			    sizeof(size_cases) / sizeof(size_cases[0]));
	tcase_add_test(tc, test_get_range_ignored);
	tcase_add_test(tc, test_get_to_fd);
	tcase_add_test(tc, test_head_info);
	tcase_add_test(tc, test_delete_missing);
	tcase_add_test(tc, test_list);
	tcase_add_loop_test(tc, test_check_bucket, 0,
			    sizeof(bucket_cases) / sizeof(bucket_cases[0]));
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_error_in_200);
	tcase_add_test(tc, test_mpu_flow);
	tcase_add_test(tc, test_mpu_part_size);
	tcase_add_test(tc, test_mpu_upload_fd_parallel);
	tcase_add_test(tc, test_mpu_upload_fd_bounded);
	tcase_add_test(tc, test_mpu_upload_fd_stops_at_failure);
	tcase_add_test(tc, test_complete_error_in_200);
	tcase_add_test(tc, test_complete_ambiguous_resolved);
	tcase_add_test(tc, test_ambiguous_put_landed_then_replaced);
	tcase_add_test(tc, test_abort_missing);
	tcase_add_loop_test(tc, test_etag_equal, 0,
			    sizeof(etag_cases) / sizeof(etag_cases[0]));
	tcase_add_test(tc, test_header_parsing);
	tcase_add_loop_test(tc, test_content_range, 0,
			    sizeof(range_cases) / sizeof(range_cases[0]));
	tcase_add_test(tc, test_head_last_modified);
	tcase_add_loop_test(tc, test_probe, 0,
			    sizeof(probe_cases) / sizeof(probe_cases[0]));
	tcase_add_test(tc, test_probe_unreachable);
	tcase_add_loop_test(tc, test_failure_levels, 0,
			    sizeof(level_cases) / sizeof(level_cases[0]));
	tcase_add_test(tc, test_probe_refusals_quiet);
	suite_add_tcase(s, tc);

	tc = tcase_create("curl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_curl_exchange);
	tcase_add_test(tc, test_curl_failures);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(client_suite)
