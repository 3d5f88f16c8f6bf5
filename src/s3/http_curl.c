/*
 * The libcurl transport.
 *
 * Connections are reused through a pool of easy handles: each handle
 * keeps its own live connection, so a request takes an idle handle from
 * the pool (or makes one), and gives it back afterwards. A CURLSH share
 * holds the DNS cache and the TLS session cache for all handles.
 *
 * Locking: pool_lock guards only the stack of idle handles; it is never
 * held during a transfer. The share has one mutex per curl_lock_data,
 * taken and released by libcurl through the lock callbacks. A handle is
 * used by one thread at a time (the one that took it from the pool).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "s3/http.h"
#include "util/clock.h"
#include "util/log.h"

/* Bodies above HTTP_BIG_BODY go up through a buffer of HTTP_UPLOAD_BUF
 * (libcurl allows up to 2 MiB). */
#define HTTP_BIG_BODY (1u << 20)
#define HTTP_UPLOAD_BUF (512L * 1024)

struct curl_transport {
	bool insecure;
	bool verbose;
	char *ca_file;
	long connect_timeout_ms;
	long stall_timeout_ms;
	long request_timeout_ms;

	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock;
	CURL **idle;
	size_t n_idle;
	size_t max_idle;
};

/* The state of one exchange, given to the callbacks. */
struct xfer {
	const struct s3_http_request *req;
	struct s3_http_response *resp;
	uint64_t body_pos; /* next request body byte to send */
	uint64_t body_len;
	int err; /* local failure that aborted the transfer, or 0 */
	/* Stall detection for transfers with a body (progress_cb). */
	uint64_t stall_ms;	   /* 0: not watched */
	uint64_t last_moved_ms;	   /* monotonic time bytes last moved */
	curl_off_t last_moved;	   /* bytes moved both ways by then */
	bool stalled;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data,
		       curl_lock_access access, void *userp)
{
	struct curl_transport *t = userp;

	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&t->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct curl_transport *t = userp;

	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&t->share_locks[data]);
}

/* ------------------------------------------------------------ callbacks */

/*
 * A transfer that moves data may take long but must never stall: abort
 * once no byte moved either way for the stall timeout. (libcurl's own
 * LOW_SPEED check averages over a window, so after a small body went out
 * at once it waited ~6 s more than the timeout for a silent server.)
 */
static int progress_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = userp;
	curl_off_t moved = dlnow + ulnow;
	uint64_t now = clock_monotonic_ms();

	(void)dltotal;
	(void)ultotal;
	if (x->last_moved_ms == 0 || moved != x->last_moved) {
		x->last_moved = moved;
		x->last_moved_ms = now;
		return 0;
	}
	if (now - x->last_moved_ms < x->stall_ms)
		return 0;
	x->stalled = true;
	return 1;
}

static size_t read_cb(char *out, size_t size, size_t nitems, void *userp)
{
	struct xfer *x = userp;
	const struct s3_http_request *req = x->req;
	uint64_t left = x->body_len - x->body_pos;
	size_t want = size * nitems;
	ssize_t n;

	if (left == 0)
		return 0;
	if (want > left)
		want = (size_t)left;
	if (req->body_fd < 0) {
		memcpy(out, (const char *)req->body_mem + x->body_pos, want);
		x->body_pos += want;
		return want;
	}
	do {
		n = pread(req->body_fd, out, want,
			  req->body_off + (off_t)x->body_pos);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		x->err = -errno;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		/* The file shrank under us: the signed length is a lie. */
		x->err = -EIO;
		return CURL_READFUNC_ABORT;
	}
	x->body_pos += (uint64_t)n;
	return (size_t)n;
}

/* libcurl rewinds the body when it resends on a fresh connection. */
static int seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct xfer *x = userp;

	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t)offset > x->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->body_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nitems;
	int rc;

	rc = s3_http_parse_header_line(line, n, x->resp);
	if (rc < 0) {
		x->err = rc;
		return 0;
	}
	return n;
}

static int write_fd(int fd, off_t off, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t nitems, void *userp)
{
	struct xfer *x = userp;
	const struct s3_http_request *req = x->req;
	struct s3_http_response *resp = x->resp;
	size_t n = size * nitems;
	int rc = 0;

	if (resp->status < 200 || resp->status > 299) {
		/* Keep the head of an error body (it holds <Code>), drop the
		 * rest: the transfer itself must still complete. */
		size_t room = resp->err_body.max - resp->err_body.len;

		if (room > 0)
			(void)buf_add(&resp->err_body, data,
				      n < room ? n : room);
		return n;
	}
	if (req->resp_dst) {
		if (n > req->resp_dst_len - resp->body_received) {
			x->err = -EPROTO;
			return 0;
		}
		memcpy(req->resp_dst + resp->body_received, data, n);
	} else if (req->resp_fd >= 0) {
		rc = write_fd(req->resp_fd,
			      req->resp_fd_off + (off_t)resp->body_received,
			      data, n);
	} else if (req->resp_text) {
		rc = buf_add(req->resp_text, data, n);
		if (rc == -E2BIG)
			rc = -EPROTO;
	} else {
		return n; /* discarded */
	}
	if (rc < 0) {
		x->err = rc;
		return 0;
	}
	resp->body_received += n;
	return n;
}

/* Log one trace line, hiding the values of the secret headers. */
static void trace_line(const char *dir, const char *p, size_t n)
{
	static const char *const secret[] = { "authorization:",
					      "x-amz-security-token:" };

	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		size_t l = strlen(secret[i]);

		if (n >= l && strncasecmp(p, secret[i], l) == 0) {
			log_debug("curl %s %.*s <redacted>", dir, (int)(l - 1),
				  p);
			return;
		}
	}
	log_debug("curl %s %.*s", dir, (int)n, p);
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
		    void *userp)
{
	const char *dir;

	switch (type) {
	case CURLINFO_TEXT:
		dir = "*";
		break;
	case CURLINFO_HEADER_IN:
		dir = "<";
		break;
	case CURLINFO_HEADER_OUT:
		dir = ">";
		break;
	default:
		return 0; /* bodies and TLS data are never traced */
	}
	while (size > 0) {
		char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) + 1 : size;

		trace_line(dir, data, n);
		data += n;
		size -= n;
	}
	return 0;
}

/* ------------------------------------------------------------ the pool */

static CURL *pool_take(struct curl_transport *t)
{
	CURL *h = NULL;

	pthread_mutex_lock(&t->pool_lock);
	if (t->n_idle > 0)
		h = t->idle[--t->n_idle];
	pthread_mutex_unlock(&t->pool_lock);
	if (h) {
		/* Options go, the live connection and the share stay. */
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (h && curl_easy_setopt(h, CURLOPT_SHARE, t->share) != CURLE_OK) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	return h;
}

static void pool_give(struct curl_transport *t, CURL *h)
{
	pthread_mutex_lock(&t->pool_lock);
	if (t->n_idle < t->max_idle) {
		t->idle[t->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&t->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

/* ------------------------------------------------------------ perform */

static int map_curl_error(CURLcode cc, const char *errbuf,
			  struct s3_http_response *resp)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	int e;

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		e = -ECONNREFUSED;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		e = -ETIMEDOUT;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		e = -EHOSTUNREACH;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		/* Not retryable and not a network outage: say so plainly. */
		snprintf(resp->transport_error,
			 sizeof(resp->transport_error),
			 "TLS certificate problem: %s", what);
		return -EPROTO;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(resp->transport_error,
			 sizeof(resp->transport_error),
			 "TLS handshake failed: %s", what);
		return -EPROTO;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		e = -ECONNRESET;
		break;
	case CURLE_OUT_OF_MEMORY:
		/* libcurl also says "out of memory" for a response header
		 * over its limit: with a status line already read, that is
		 * a broken server, not our memory. */
		e = resp->status ? -EPROTO : -ENOMEM;
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		e = -EINVAL;
		break;
	default:
		e = -EIO;
		break;
	}
	snprintf(resp->transport_error, sizeof(resp->transport_error), "%s",
		 what);
	return e;
}

static bool moves_data(const struct s3_http_request *req)
{
	if (req->body_fd >= 0 || req->body_mem_len > 0)
		return true;
	if (req->resp_dst || req->resp_fd >= 0)
		return true;
	/* A server-side copy may be silent for a long time while it works. */
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, "x-amz-copy-source") == 0)
			return true;
	return false;
}

static int build_headers(const struct s3_http_request *req,
			 struct curl_slist **out)
{
	struct curl_slist *list = NULL;
	struct curl_slist *next;
	struct buf line;
	int rc = 0;

	buf_init(&line, 64 * 1024);
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct s3_header *h = &req->headers[i];

		buf_reset(&line);
		/* "Name;" is libcurl's way to send an empty value; "Name:"
		 * would remove the header. */
		if (h->value[0] == '\0')
			rc = buf_addf(&line, "%s;", h->name);
		else
			rc = buf_addf(&line, "%s: %s", h->name, h->value);
		if (rc < 0)
			goto out;
		next = curl_slist_append(list, buf_str(&line));
		if (!next) {
			rc = -ENOMEM;
			goto out;
		}
		list = next;
	}
	/* 100-continue costs a round trip for nothing with S3. */
	next = curl_slist_append(list, "Expect:");
	if (!next) {
		rc = -ENOMEM;
		goto out;
	}
	list = next;
	*out = list;
	list = NULL;
out:
	curl_slist_free_all(list);
	buf_free(&line);
	return rc;
}

#define SETOPT(h, opt, val)                                                    \
	do {                                                                   \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK)           \
			goto setopt_failed;                                    \
	} while (0)

static int curl_perform(void *impl, const struct s3_http_request *req,
			struct s3_http_response *resp)
{
	struct curl_transport *t = impl;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL;
	struct xfer x = { .req = req, .resp = resp };
	bool has_body = req->body_fd >= 0 || req->body_mem_len > 0;
	bool upload;
	CURL *h = NULL;
	CURLcode cc;
	int rc;

	errbuf[0] = '\0';
	x.body_len = req->body_fd >= 0 ? req->body_len : req->body_mem_len;
	upload = has_body || strcmp(req->method, "PUT") == 0 ||
		 strcmp(req->method, "POST") == 0;

	rc = build_headers(req, &headers);
	if (rc < 0)
		goto fail;
	h = pool_take(t);
	if (!h) {
		rc = -ENOMEM;
		goto fail;
	}

	SETOPT(h, CURLOPT_URL, req->url);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* One live connection per pooled handle (libcurl would keep 5 per
	 * handle), so the pool bounds the sockets: max_connections. */
	SETOPT(h, CURLOPT_MAXCONNECTS, 1L);
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
	if (t->ca_file)
		SETOPT(h, CURLOPT_CAINFO, t->ca_file);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	if (moves_data(req)) {
		/* A big transfer may take long, but must never stall. */
		x.stall_ms = (uint64_t)t->stall_timeout_ms;
		SETOPT(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
		SETOPT(h, CURLOPT_XFERINFODATA, &x);
		SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	} else {
		SETOPT(h, CURLOPT_TIMEOUT_MS, t->request_timeout_ms);
	}
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, &x);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, &x);
	if (t->verbose && log_max_level >= LOG_DEBUG) {
		SETOPT(h, CURLOPT_DEBUGFUNCTION, debug_cb);
		SETOPT(h, CURLOPT_VERBOSE, 1L);
	}

	if (strcmp(req->method, "HEAD") == 0 || req->no_body)
		SETOPT(h, CURLOPT_NOBODY, 1L);
	if (upload) {
		/* PUT and POST always go as uploads so the body streams
		 * through read_cb and an empty one is "Content-Length: 0". */
		SETOPT(h, CURLOPT_UPLOAD, 1L);
		SETOPT(h, CURLOPT_READFUNCTION, read_cb);
		SETOPT(h, CURLOPT_READDATA, &x);
		SETOPT(h, CURLOPT_SEEKFUNCTION, seek_cb);
		SETOPT(h, CURLOPT_SEEKDATA, &x);
		SETOPT(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x.body_len);
		/* Fewer, larger reads of the staging file for big bodies;
		 * libcurl's 64 KiB default costs a pread and a send per
		 * 64 KiB. */
		SETOPT(h, CURLOPT_UPLOAD_BUFFERSIZE,
		       x.body_len > HTTP_BIG_BODY ? (long)HTTP_UPLOAD_BUF
						  : 65536L);
	}
	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0 &&
	    strcmp(req->method, "PUT") != 0)
		SETOPT(h, CURLOPT_CUSTOMREQUEST, req->method);

	cc = curl_easy_perform(h);
	if (cc == CURLE_OK && x.err == 0) {
		long code = 0;

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		resp->status = (int)code;
		rc = 0;
	} else if (x.stalled) {
		rc = -ETIMEDOUT;
		snprintf(resp->transport_error, sizeof(resp->transport_error),
			 "no data moved for %llu ms (stall timeout)",
			 (unsigned long long)x.stall_ms);
	} else if (x.err) {
		/* Our own callback stopped it: a local failure. */
		rc = x.err;
		snprintf(resp->transport_error, sizeof(resp->transport_error),
			 "local failure during transfer: %s", strerror(-rc));
	} else {
		rc = map_curl_error(cc, errbuf, resp);
	}
	/* The pointers set on the handle die with this frame. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	goto out;

setopt_failed:
	rc = -EINVAL;
	snprintf(resp->transport_error, sizeof(resp->transport_error),
		 "libcurl refused an option");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	goto out;
fail:
	snprintf(resp->transport_error, sizeof(resp->transport_error),
		 "cannot prepare request: %s", strerror(-rc));
out:
	if (h)
		pool_give(t, h);
	curl_slist_free_all(headers);
	if (rc < 0)
		resp->transport_errno = rc;
	return rc;
}

static void curl_destroy(void *impl)
{
	struct curl_transport *t = impl;

	if (!t)
		return;
	for (size_t i = 0; i < t->n_idle; i++)
		curl_easy_cleanup(t->idle[i]);
	free(t->idle);
	if (t->share)
		curl_share_cleanup(t->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&t->share_locks[i]);
	pthread_mutex_destroy(&t->pool_lock);
	free(t->ca_file);
	free(t);
}

static const struct s3_http_ops curl_ops = {
	.perform = curl_perform,
	.destroy = curl_destroy,
};

int s3_http_curl_new(const struct s3_http_config *cfg, struct s3_http **out)
{
	struct curl_transport *t = NULL;
	struct s3_http *h = NULL;
	long stall_ms;
	int rc = -ENOMEM;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOMEM;

	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&t->share_locks[i], NULL);
	pthread_mutex_init(&t->pool_lock, NULL);
	h = calloc(1, sizeof(*h));
	if (!h)
		goto out;
	t->insecure = cfg->insecure;
	t->verbose = cfg->verbose;
	t->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
					cfg->connect_timeout_ms :
					S3_HTTP_CONNECT_TIMEOUT_MS;
	stall_ms = cfg->stall_timeout_ms > 0 ? cfg->stall_timeout_ms :
					       S3_HTTP_STALL_TIMEOUT_MS;
	t->stall_timeout_ms = stall_ms;
	t->request_timeout_ms = cfg->request_timeout_ms > 0 ?
					cfg->request_timeout_ms :
					S3_HTTP_REQUEST_TIMEOUT_MS;
	t->max_idle = cfg->max_connections > 0 ? (size_t)cfg->max_connections
						: 16;
	t->idle = calloc(t->max_idle, sizeof(*t->idle));
	if (!t->idle)
		goto out;
	if (cfg->ca_file) {
		t->ca_file = strdup(cfg->ca_file);
		if (!t->ca_file)
			goto out;
	}
	t->share = curl_share_init();
	if (!t->share)
		goto out;
	if (curl_share_setopt(t->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(t->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(t->share, CURLSHOPT_USERDATA, t) ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_SSL_SESSION))
		goto out;

	h->ops = &curl_ops;
	h->impl = t;
	*out = h;
	t = NULL;
	h = NULL;
	rc = 0;
out:
	curl_destroy(t);
	free(h);
	return rc;
}
