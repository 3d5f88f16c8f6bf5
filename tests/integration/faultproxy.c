/*
 * Fault-injecting loopback HTTP/1.1 proxy (see faultproxy.h).
 *
 * Locking: one mutex per proxy guards the rule table, the request log,
 * the connection list (and the socket numbers in it) and the stopping
 * flag; the condition variable wakes delayed requests and responses when
 * the proxy stops. No lock is held across I/O or a hook. A connection thread owns
 * its two sockets; it sets a socket's number to -1 under the lock before
 * closing it, so fp_stop() can shut down whatever is still open without
 * touching a number the kernel may have reused.
 */
#include "faultproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Tests move small objects; a runaway message is an error, not OOM. */
#define FP_MSG_MAX (256u << 20)
#define FP_HEAD_MAX (256u << 10)
#define FP_SEEN_MAX 65536
#define FP_TARGET_MAX 1024
#define FP_METHOD_MAX 16
#define FP_IO_CHUNK (64u << 10)

struct fp_rule_ent {
	char method[FP_METHOD_MAX];
	char *path_substr;
	char *error_code;
	char *header;
	char *value;
	char *body;
	size_t body_len;
	int count;
	int hits;
	bool active;
	enum fp_action action;
	int arg;
	fp_hook_fn hook;
	void *hook_arg;
};

struct fp_seen {
	char method[FP_METHOD_MAX];
	char *target;
};

struct fp_conn {
	struct fp_proxy *p;
	pthread_t thread;
	int client_fd;
	int upstream_fd;
	bool done;
	struct fp_conn *next;
};

struct fp_proxy {
	int listen_fd;
	int port;
	struct sockaddr_in upstream;
	pthread_t accept_thread;
	bool accept_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct fp_conn *conns;
	struct fp_rule_ent *rules;
	size_t n_rules;
	struct fp_seen *seen;
	size_t n_seen;
	unsigned long request_ids;
};

/* ------------------------------------------------------------ buffers */

struct dbuf {
	char *p;
	size_t len;
	size_t cap;
};

static int dbuf_reserve(struct dbuf *b, size_t extra)
{
	size_t want, cap;
	char *np;

	if (extra > FP_MSG_MAX || b->len > FP_MSG_MAX - extra)
		return -EMSGSIZE;
	want = b->len + extra;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

/* Drop the first @n bytes (a message handled; pipelined bytes stay). */
static void dbuf_consume(struct dbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void dbuf_free(struct dbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ------------------------------------------------------------- socket I/O */

/* One recv() appended to @b: >0 bytes, 0 at EOF, <0 errno. */
static ssize_t fill_once(int fd, struct dbuf *b)
{
	ssize_t n;
	int rc;

	if (fd < 0)
		return -EBADF;
	rc = dbuf_reserve(b, FP_IO_CHUNK);
	if (rc < 0)
		return rc;
	do
		n = recv(fd, b->p + b->len, FP_IO_CHUNK, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	b->len += (size_t)n;
	return n;
}

/* Read until @b holds at least @want bytes. 0, -EPIPE at EOF, <0. */
static int fill_to(int fd, struct dbuf *b, size_t want)
{
	while (b->len < want) {
		ssize_t n = fill_once(fd, b);

		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return (int)n;
	}
	return 0;
}

static int send_all(int fd, const void *data, size_t n)
{
	const char *q = data;

	while (n > 0) {
		ssize_t w = send(fd, q, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Read until @b (from @from on) holds a complete header block; its length
 * (up to and including the blank line) into *@head_len. 0, -EPIPE at EOF
 * (*@got_any says whether any byte of it had arrived), <0.
 */
static int read_head(int fd, struct dbuf *b, size_t from, size_t *head_len,
		     bool *got_any)
{
	size_t scanned = from;
	ssize_t n;

	*got_any = b->len > from;
	for (;;) {
		if (b->len >= from + 4) {
			size_t start = scanned > from + 3 ? scanned - 3 : from;
			char *end = memmem(b->p + start, b->len - start,
					   "\r\n\r\n", 4);

			if (end) {
				*head_len = (size_t)(end + 4 - (b->p + from));
				return 0;
			}
			scanned = b->len;
		}
		if (b->len - from > FP_HEAD_MAX)
			return -EMSGSIZE;
		n = fill_once(fd, b);

		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return (int)n;
		*got_any = true;
	}
}

/* ------------------------------------------------------------ HTTP bits */

/*
 * Value of header @name in the block @head/@len (case-insensitive name,
 * blanks trimmed) into @out. 1 found, 0 not.
 */
static int header_value(const char *head, size_t len, const char *name,
			char *out, size_t out_len)
{
	size_t nlen = strlen(name);
	const char *line = memchr(head, '\n', len); /* skip the first line */
	const char *end = head + len;

	out[0] = '\0';
	while (line && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *v, *ve;
		size_t vlen;

		if (!eol)
			break;
		if ((size_t)(eol - line) > nlen &&
		    strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			v = line + nlen + 1;
			ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
					  ve[-1] == '\t'))
				ve--;
			vlen = (size_t)(ve - v);
			if (vlen >= out_len)
				vlen = out_len - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 1;
		}
		line = eol;
	}
	return 0;
}

/* Content-Length of a header block: 1 and *@n, 0 absent, -1 malformed. */
static int content_length(const char *head, size_t len, unsigned long long *n)
{
	char v[64];
	char *endp = NULL;

	if (!header_value(head, len, "Content-Length", v, sizeof(v)))
		return 0;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	*n = strtoull(v, &endp, 10);
	if (errno || *endp != '\0' || *n > FP_MSG_MAX)
		return -1;
	return 1;
}

static bool header_has_token(const char *head, size_t len, const char *name,
			     const char *token)
{
	char v[256];

	return header_value(head, len, name, v, sizeof(v)) &&
	       strcasestr(v, token) != NULL;
}

/* A parsed request: its bytes are b->p[0 .. total). */
struct request {
	char method[FP_METHOD_MAX];
	char target[FP_TARGET_MAX];
	size_t head_len; /* the header block, blank line included */
	size_t total;
	bool close_after;
};

/* Read one request from the client into @b (which may hold bytes of it
 * already). 0; 1 at a clean EOF between requests; <0. */
static int read_request(int fd, struct dbuf *b, struct request *rq)
{
	unsigned long long clen = 0;
	size_t head_len = 0, mlen, tlen;
	const char *sp1, *sp2, *eol;
	bool got_any;
	int rc;

	memset(rq, 0, sizeof(*rq));
	rc = read_head(fd, b, 0, &head_len, &got_any);
	if (rc == -EPIPE && !got_any)
		return 1;
	if (rc < 0)
		return rc;
	eol = memchr(b->p, '\r', head_len);
	sp1 = eol ? memchr(b->p, ' ', (size_t)(eol - b->p)) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2)
		return -EPROTO;
	mlen = (size_t)(sp1 - b->p);
	tlen = (size_t)(sp2 - sp1 - 1);
	if (mlen == 0 || mlen >= sizeof(rq->method))
		return -EPROTO;
	memcpy(rq->method, b->p, mlen);
	if (tlen >= sizeof(rq->target))
		tlen = sizeof(rq->target) - 1; /* for matching only */
	memcpy(rq->target, sp1 + 1, tlen);
	/* etagfs never sends chunked uploads; refuse rather than guess. */
	if (header_has_token(b->p, head_len, "Transfer-Encoding", "chunked"))
		return -ENOTSUP;
	rc = content_length(b->p, head_len, &clen);
	if (rc < 0)
		return -EPROTO;
	rq->head_len = head_len;
	rq->total = head_len + (size_t)clen;
	rq->close_after =
		header_has_token(b->p, head_len, "Connection", "close");
	return fill_to(fd, b, rq->total);
}

/* A parsed response: its bytes are b->p[0 .. total). */
struct response {
	int status;	   /* of the final (non-1xx) response */
	size_t head_start; /* offset of the final response's status line */
	size_t body_start; /* offset of the final response's body */
	size_t total;
	bool close_after;  /* the connection ends with this response */
};

/* Parse a chunked body starting at @pos; its end offset into *@end. */
static int read_chunked(int fd, struct dbuf *b, size_t pos, size_t *end)
{
	for (;;) {
		char *eol, *endp = NULL;
		unsigned long long size;
		int rc;

		while (!(eol = memmem(b->p + pos, b->len - pos, "\r\n", 2))) {
			if (b->len - pos > 4096)
				return -EPROTO;
			rc = fill_to(fd, b, b->len + 1);
			if (rc < 0)
				return rc;
		}
		errno = 0;
		size = strtoull(b->p + pos, &endp, 16);
		if (errno || endp == b->p + pos || size > FP_MSG_MAX)
			return -EPROTO;
		pos = (size_t)(eol + 2 - b->p);
		if (size > 0) {
			rc = fill_to(fd, b, pos + (size_t)size + 2);
			if (rc < 0)
				return rc;
			pos += (size_t)size + 2;
			continue;
		}
		/* Trailers, then the blank line. */
		for (;;) {
			while (!(eol = memmem(b->p + pos, b->len - pos, "\r\n",
					      2))) {
				if (b->len - pos > FP_HEAD_MAX)
					return -EPROTO;
				rc = fill_to(fd, b, b->len + 1);
				if (rc < 0)
					return rc;
			}
			if (eol == b->p + pos) {
				*end = pos + 2;
				return 0;
			}
			pos = (size_t)(eol + 2 - b->p);
		}
	}
}

/* Read one whole response to a @method request from @fd into @b. */
static int read_response(int fd, struct dbuf *b, const char *method,
			 struct response *rs)
{
	size_t pos = 0, head_len = 0;
	unsigned long long clen = 0;
	bool got_any;
	int rc;

	memset(rs, 0, sizeof(*rs));
	for (;;) {
		char *endp = NULL;
		long status;

		rc = read_head(fd, b, pos, &head_len, &got_any);
		if (rc < 0)
			return rc;
		if (head_len < 12 || strncmp(b->p + pos, "HTTP/1.", 7) != 0)
			return -EPROTO;
		status = strtol(b->p + pos + 9, &endp, 10);
		if (endp != b->p + pos + 12 || status < 100 || status > 999)
			return -EPROTO;
		if (status >= 200) {
			rs->status = (int)status;
			break;
		}
		pos += head_len; /* 1xx: relayed with the final response */
	}
	rs->head_start = pos;
	rs->body_start = pos + head_len;
	rs->close_after = header_has_token(b->p + pos, head_len, "Connection",
					   "close") ||
			  strncmp(b->p + pos, "HTTP/1.0", 8) == 0;
	if (strcmp(method, "HEAD") == 0 || rs->status == 204 ||
	    rs->status == 304) {
		rs->total = rs->body_start;
		return 0;
	}
	if (header_has_token(b->p + pos, head_len, "Transfer-Encoding",
			     "chunked"))
		return read_chunked(fd, b, rs->body_start, &rs->total);
	rc = content_length(b->p + pos, head_len, &clen);
	if (rc < 0)
		return -EPROTO;
	if (rc == 1) {
		rs->total = rs->body_start + (size_t)clen;
		return fill_to(fd, b, rs->total);
	}
	/* No length: the body ends with the connection. */
	rs->close_after = true;
	for (;;) {
		ssize_t n = fill_once(fd, b);

		if (n == 0)
			break;
		if (n < 0)
			return (int)n;
	}
	rs->total = b->len;
	return 0;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Injected";
	}
}

static const char *code_of(int status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 403: return "AccessDenied";
	case 404: return "NoSuchKey";
	case 409: return "OperationAborted";
	case 412: return "PreconditionFailed";
	case 503: return "SlowDown";
	default: return "InternalError";
	}
}

/* An injected answer: @status with @body (none for HEAD). */
static int send_answer(int fd, const struct request *rq, int status,
		       const char *body, size_t blen, unsigned long id)
{
	char head[512];
	int hlen;
	bool is_head = strcmp(rq->method, "HEAD") == 0;

	hlen = snprintf(head, sizeof(head),
			"HTTP/1.1 %d %s\r\n"
			"Content-Type: application/xml\r\n"
			"Content-Length: %zu\r\n"
			"x-amz-request-id: fp-%lu\r\n\r\n",
			status, reason_of(status), is_head ? 0 : blen, id);
	if (hlen < 0 || (size_t)hlen >= sizeof(head))
		return -EOVERFLOW;
	if (send_all(fd, head, (size_t)hlen) < 0)
		return -EPIPE;
	return is_head || blen == 0 ? 0 : send_all(fd, body, blen);
}

/* The injected answer of an FP_STATUS rule. */
static int send_status(int fd, const struct request *rq, int status,
		       const char *code, unsigned long id)
{
	char body[512];
	int blen;

	blen = snprintf(body, sizeof(body),
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<Error><Code>%s</Code><Message>injected by "
			"faultproxy</Message><RequestId>fp-%lu</RequestId>"
			"</Error>",
			code, id);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -EOVERFLOW;
	return send_answer(fd, rq, status, body, (size_t)blen, id);
}

static int dbuf_add(struct dbuf *b, const void *data, size_t n)
{
	int rc;

	if (n == 0)
		return 0; /* b->p may still be NULL */
	rc = dbuf_reserve(b, n);
	if (rc < 0)
		return rc;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int dbuf_addf(struct dbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int dbuf_addf(struct dbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -EOVERFLOW;
	return dbuf_add(b, tmp, (size_t)n);
}

/* Is the header line @line/@len (no CRLF) named @name? */
static bool line_is(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	return len > nlen && line[nlen] == ':' &&
	       strncasecmp(line, name, nlen) == 0;
}

/*
 * The response of an FP_REWRITE_HEADER or FP_REPLACE_BODY rule, built
 * from the upstream's (@in, parsed as @rs) into @out: interim responses
 * as they were, the final one's header block rewritten, then its body.
 */
static int rewrite_response(const struct dbuf *in, const struct response *rs,
			    const struct fp_rule_ent *r, bool is_head,
			    struct dbuf *out)
{
	const char *head = in->p + rs->head_start;
	const char *end = in->p + rs->body_start - 2; /* the blank line */
	const char *line = memchr(head, '\n', (size_t)(end - head));
	bool replace_body = r->action == FP_REPLACE_BODY;
	bool done = false;
	int rc;

	out->len = 0;
	if (!line)
		return -EPROTO;
	line++;
	rc = dbuf_add(out, in->p, rs->head_start);
	if (rc == 0 && replace_body && r->arg > 0)
		rc = dbuf_addf(out, "HTTP/1.1 %d %s\r\n", r->arg,
			       reason_of(r->arg));
	else if (rc == 0)
		rc = dbuf_add(out, head, (size_t)(line - head));
	while (rc == 0 && line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t full = eol ? (size_t)(eol + 1 - line)
				  : (size_t)(end - line);
		size_t len = full;

		while (len > 0 && (line[len - 1] == '\n' ||
				   line[len - 1] == '\r'))
			len--;
		if (replace_body && (line_is(line, len, "Content-Length") ||
				     line_is(line, len, "Transfer-Encoding"))) {
			/* set below */
		} else if (!replace_body && line_is(line, len, r->header)) {
			if (r->value && !done) {
				rc = dbuf_addf(out, "%s: ", r->header);
				if (rc == 0)
					rc = dbuf_add(out, r->value,
						      strlen(r->value));
				if (rc == 0)
					rc = dbuf_add(out, "\r\n", 2);
			}
			done = true;
		} else {
			rc = dbuf_add(out, line, full);
		}
		line += full;
	}
	if (rc == 0 && !replace_body && !done && r->value) {
		rc = dbuf_addf(out, "%s: ", r->header);
		if (rc == 0)
			rc = dbuf_add(out, r->value, strlen(r->value));
		if (rc == 0)
			rc = dbuf_add(out, "\r\n", 2);
	}
	if (rc == 0 && replace_body)
		rc = dbuf_addf(out, "Content-Length: %zu\r\n", r->body_len);
	if (rc == 0)
		rc = dbuf_add(out, "\r\n", 2);
	if (rc == 0 && replace_body && !is_head && r->body_len > 0)
		rc = dbuf_add(out, r->body, r->body_len);
	else if (rc == 0 && !replace_body)
		rc = dbuf_add(out, in->p + rs->body_start,
			      rs->total - rs->body_start);
	return rc;
}

/* ---------------------------------------------------------- connections */

/* Close *@fdp under the proxy lock's protocol (see the top comment). */
static void conn_close_fd(struct fp_proxy *p, int *fdp, bool reset)
{
	int fd;

	pthread_mutex_lock(&p->lock);
	fd = *fdp;
	*fdp = -1;
	pthread_mutex_unlock(&p->lock);
	if (fd < 0)
		return;
	if (reset) {
		/* RST instead of FIN: what a crashed peer looks like. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

/* Is the idle upstream connection still open (no EOF, no stray bytes)? */
static bool upstream_alive(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (fd < 0)
		return false;
	/* Readable while idle means EOF, an error or garbage: reconnect. */
	return poll(&pfd, 1, 0) == 0;
}

static int upstream_connect(struct fp_conn *c)
{
	struct fp_proxy *p = c->p;
	int fd, one = 1;

	if (upstream_alive(c->upstream_fd))
		return 0;
	conn_close_fd(p, &c->upstream_fd, false);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&p->upstream,
		    sizeof(p->upstream)) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		close(fd);
		return -ECANCELED;
	}
	c->upstream_fd = fd;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Log the request and pick its rule (copied into @out); false: none. */
static bool match_rule(struct fp_proxy *p, const struct request *rq,
		       struct fp_rule_ent *out, unsigned long *id)
{
	bool found = false;

	pthread_mutex_lock(&p->lock);
	*id = ++p->request_ids;
	if (p->n_seen < FP_SEEN_MAX) {
		struct fp_seen *s = &p->seen[p->n_seen];

		s->target = strdup(rq->target);
		if (s->target) {
			memcpy(s->method, rq->method, sizeof(s->method));
			p->n_seen++;
		}
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		struct fp_rule_ent *r = &p->rules[i];

		if (!r->active || r->count == 0)
			continue;
		if (r->method[0] && strcmp(r->method, rq->method) != 0)
			continue;
		if (r->path_substr && !strstr(rq->target, r->path_substr))
			continue;
		if (r->count > 0)
			r->count--;
		r->hits++;
		*out = *r;
		found = true;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return found;
}

/* Wait @ms, or less if the proxy stops. Whether it is stopping. */
static bool delay_ms(struct fp_proxy *p, int ms)
{
	bool stopping;

	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stopping &&
	       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
		;
	stopping = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stopping;
}

/* What becomes of the client connection after a request. */
enum conn_next { CONN_KEEP, CONN_CLOSE, CONN_RESET };

/*
 * FP_TRUNCATE_REQUEST: the header block and half of the body (half of
 * the header block when there is no body: a complete bodiless request
 * would be executed) go upstream, then the upstream connection ends with
 * a FIN. A FIN rather than a RST because it is the harder case for the
 * server: the stream ends cleanly, and only the Content-Length (and the
 * signed payload hash) tell it that the body is short. The client's
 * connection is reset: it never gets an answer.
 */
static enum conn_next truncate_request(struct fp_conn *c,
				       const struct dbuf *req_buf,
				       const struct request *rq,
				       const struct fp_rule_ent *rule)
{
	size_t body_len = rq->total - rq->head_len;
	size_t cut = body_len > 0 ? rq->head_len + body_len / 2
				  : rq->head_len / 2;

	/* If the upstream is unreachable the request is lost anyway: the
	 * client sees the same reset. */
	if (upstream_connect(c) == 0)
		(void)send_all(c->upstream_fd, req_buf->p, cut);
	conn_close_fd(c->p, &c->upstream_fd, false);
	if (rule->hook)
		rule->hook(rule->hook_arg, rq->method, rq->target, 0);
	return CONN_RESET;
}

/*
 * Handle one request already in @req_buf: whether the client connection
 * goes on, ends (FIN, after what was sent) or is reset (RST, which also
 * discards anything unsent).
 */
static enum conn_next handle_request(struct fp_conn *c,
				     struct dbuf *req_buf,
				     const struct request *rq,
				     struct dbuf *resp_buf)
{
	struct fp_proxy *p = c->p;
	struct fp_rule_ent rule;
	struct response rs;
	unsigned long id;
	size_t send_len;
	bool matched;
	int rc;

	matched = match_rule(p, rq, &rule, &id);
	if (!matched) {
		memset(&rule, 0, sizeof(rule));
		rule.action = FP_PASS;
	}

	if (rule.action == FP_RESET_BEFORE || rule.action == FP_STATUS ||
	    rule.action == FP_STATUS_WITH_BODY) {
		if (rule.hook)
			rule.hook(rule.hook_arg, rq->method, rq->target, 0);
		if (rule.action == FP_RESET_BEFORE)
			return CONN_RESET;
		if (rule.action == FP_STATUS_WITH_BODY)
			rc = send_answer(c->client_fd, rq, rule.arg, rule.body,
					 rule.body_len, id);
		else
			rc = send_status(c->client_fd, rq, rule.arg,
					 rule.error_code ? rule.error_code
							 : code_of(rule.arg),
					 id);
		if (rc < 0)
			return CONN_RESET;
		return rq->close_after ? CONN_CLOSE : CONN_KEEP;
	}
	if (rule.action == FP_TRUNCATE_REQUEST)
		return truncate_request(c, req_buf, rq, &rule);
	/* Delivered late even if the client gave up meanwhile (see
	 * faultproxy.h); only fp_stop keeps it from the server. */
	if (rule.action == FP_DELAY_REQUEST && delay_ms(p, rule.arg))
		return CONN_RESET;

	rc = upstream_connect(c);
	if (rc == 0)
		rc = send_all(c->upstream_fd, req_buf->p, rq->total);
	resp_buf->len = 0;
	if (rc == 0)
		rc = read_response(c->upstream_fd, resp_buf, rq->method, &rs);
	if (rc < 0) {
		/* The server failed us: the client sees a dead connection. */
		conn_close_fd(p, &c->upstream_fd, false);
		return CONN_RESET;
	}
	if (rs.close_after)
		conn_close_fd(p, &c->upstream_fd, false);
	if (rule.hook)
		rule.hook(rule.hook_arg, rq->method, rq->target, rs.status);

	if (rule.action == FP_REWRITE_HEADER ||
	    rule.action == FP_REPLACE_BODY) {
		struct dbuf out = {0};

		rc = rewrite_response(resp_buf, &rs, &rule,
				      strcmp(rq->method, "HEAD") == 0, &out);
		if (rc == 0)
			rc = send_all(c->client_fd, out.p, out.len);
		dbuf_free(&out);
		if (rc < 0)
			return CONN_RESET;
		return rs.close_after || rq->close_after ? CONN_CLOSE
							  : CONN_KEEP;
	}

	send_len = rs.total;
	switch (rule.action) {
	case FP_DROP_RESPONSE:
		return CONN_CLOSE;
	case FP_DELAY_RESPONSE:
		(void)delay_ms(p, rule.arg);
		break;
	case FP_TRUNCATE_RESPONSE:
		send_len = rs.body_start + (rs.total - rs.body_start) / 2;
		break;
	default:
		break;
	}
	rc = send_all(c->client_fd, resp_buf->p, send_len);
	if (rc < 0)
		return CONN_RESET;
	if (rule.action == FP_TRUNCATE_RESPONSE || rs.close_after ||
	    rq->close_after)
		return CONN_CLOSE;
	return CONN_KEEP;
}

static void *conn_main(void *arg)
{
	struct fp_conn *c = arg;
	struct fp_proxy *p = c->p;
	struct dbuf req_buf = {0}, resp_buf = {0};
	enum conn_next next;
	bool reset = false;

	for (;;) {
		struct request rq;
		int rc = read_request(c->client_fd, &req_buf, &rq);

		if (rc != 0) {
			reset = rc < 0;
			break;
		}
		next = handle_request(c, &req_buf, &rq, &resp_buf);
		if (next != CONN_KEEP) {
			reset = next == CONN_RESET;
			break;
		}
		dbuf_consume(&req_buf, rq.total);
	}
	conn_close_fd(p, &c->client_fd, reset);
	conn_close_fd(p, &c->upstream_fd, false);
	dbuf_free(&req_buf);
	dbuf_free(&resp_buf);
	pthread_mutex_lock(&p->lock);
	c->done = true;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Join connection threads that have ended (all of them if @all). */
static void reap_conns(struct fp_proxy *p, bool all)
{
	for (;;) {
		struct fp_conn **pp, *c = NULL;

		pthread_mutex_lock(&p->lock);
		for (pp = &p->conns; *pp; pp = &(*pp)->next)
			if (all || (*pp)->done) {
				c = *pp;
				*pp = c->next;
				break;
			}
		pthread_mutex_unlock(&p->lock);
		if (!c)
			return;
		pthread_join(c->thread, NULL);
		free(c);
	}
}

static void *accept_main(void *arg)
{
	struct fp_proxy *p = arg;

	for (;;) {
		struct pollfd pfd = {.fd = p->listen_fd, .events = POLLIN};
		struct fp_conn *c;
		bool stop;
		int fd, one = 1;

		pthread_mutex_lock(&p->lock);
		stop = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		reap_conns(p, false);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->p = p;
		c->client_fd = fd;
		c->upstream_fd = -1;
		pthread_mutex_lock(&p->lock);
		if (p->stopping ||
		    pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			pthread_mutex_unlock(&p->lock);
			close(fd);
			free(c);
			continue;
		}
		c->next = p->conns;
		p->conns = c;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* ---------------------------------------------------------------- API */

static int parse_upstream(const char *url, struct sockaddr_in *sa)
{
	char host[64];
	const char *h, *colon;
	char *endp = NULL;
	long port;
	size_t hlen;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	colon = strchr(h, ':');
	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - h);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &endp, 10);
	if (errno || endp == colon + 1 || (*endp && strcmp(endp, "/") != 0) ||
	    port <= 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int fp_start(const char *upstream, struct fp_proxy **out)
{
	struct fp_proxy *p = NULL;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int one = 1, rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->listen_fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->seen = calloc(FP_SEEN_MAX, sizeof(*p->seen));
	if (!p->seen) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = parse_upstream(upstream, &p->upstream);
	if (rc < 0)
		goto fail;
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0) {
		rc = -errno;
		goto fail;
	}
	setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(p->listen_fd, 64) != 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &salen) != 0) {
		rc = -errno;
		goto fail;
	}
	p->port = ntohs(sa.sin_port);
	rc = -pthread_create(&p->accept_thread, NULL, accept_main, p);
	if (rc < 0)
		goto fail;
	p->accept_started = true;
	*out = p;
	return 0;
fail:
	fp_stop(p);
	return rc;
}

int fp_port(const struct fp_proxy *p)
{
	return p->port;
}

int fp_endpoint(const struct fp_proxy *p, char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "http://127.0.0.1:%d", p->port);

	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

static void rule_ent_free(struct fp_rule_ent *e)
{
	free(e->path_substr);
	free(e->error_code);
	free(e->header);
	free(e->value);
	free(e->body);
}

int fp_add_rule(struct fp_proxy *p, const struct fp_rule *r)
{
	struct fp_rule_ent e, *nr;
	int id;

	memset(&e, 0, sizeof(e));
	if (r->method && strlen(r->method) >= sizeof(e.method))
		return -EINVAL;
	if (r->method)
		memcpy(e.method, r->method, strlen(r->method) + 1);
	if (r->path_substr && r->path_substr[0]) {
		e.path_substr = strdup(r->path_substr);
		if (!e.path_substr)
			return -ENOMEM;
	}
	if ((r->action == FP_REWRITE_HEADER && (!r->header || !r->header[0])) ||
	    (r->body_len > 0 && !r->body))
		return -EINVAL;
	if ((r->error_code && !(e.error_code = strdup(r->error_code))) ||
	    (r->header && !(e.header = strdup(r->header))) ||
	    (r->value && !(e.value = strdup(r->value))) ||
	    (r->body_len > 0 && !(e.body = malloc(r->body_len)))) {
		rule_ent_free(&e);
		return -ENOMEM;
	}
	if (r->body_len > 0)
		memcpy(e.body, r->body, r->body_len);
	e.body_len = r->body_len;
	e.count = r->count;
	e.action = r->action;
	e.arg = r->arg;
	e.hook = r->hook;
	e.hook_arg = r->hook_arg;
	e.active = true;

	pthread_mutex_lock(&p->lock);
	nr = realloc(p->rules, (p->n_rules + 1) * sizeof(*nr));
	if (!nr) {
		pthread_mutex_unlock(&p->lock);
		rule_ent_free(&e);
		return -ENOMEM;
	}
	p->rules = nr;
	id = (int)p->n_rules;
	p->rules[p->n_rules++] = e;
	pthread_mutex_unlock(&p->lock);
	return id;
}

int fp_rule_hits(struct fp_proxy *p, int id)
{
	int hits = -1;

	pthread_mutex_lock(&p->lock);
	if (id >= 0 && (size_t)id < p->n_rules)
		hits = p->rules[id].hits;
	pthread_mutex_unlock(&p->lock);
	return hits;
}

void fp_clear_rules(struct fp_proxy *p)
{
	/* Entries stay (ids and hit counts remain valid); their strings
	 * may still be in a connection thread's copy, so they live until
	 * fp_stop. */
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_rules; i++)
		p->rules[i].active = false;
	pthread_mutex_unlock(&p->lock);
}

long fp_count(struct fp_proxy *p, const char *method,
	      const char *path_substr)
{
	long n = 0;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_seen; i++) {
		const struct fp_seen *s = &p->seen[i];

		if (method && strcmp(method, s->method) != 0)
			continue;
		if (path_substr && !strstr(s->target, path_substr))
			continue;
		n++;
	}
	pthread_mutex_unlock(&p->lock);
	return n;
}

void fp_reset_counts(struct fp_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_seen; i++) {
		free(p->seen[i].target);
		p->seen[i].target = NULL;
	}
	p->n_seen = 0;
	pthread_mutex_unlock(&p->lock);
}

void fp_stop(struct fp_proxy *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	for (struct fp_conn *c = p->conns; c; c = c->next) {
		if (c->client_fd >= 0)
			shutdown(c->client_fd, SHUT_RDWR);
		if (c->upstream_fd >= 0)
			shutdown(c->upstream_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&p->lock);
	if (p->accept_started)
		pthread_join(p->accept_thread, NULL);
	reap_conns(p, true);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	fp_reset_counts(p);
	for (size_t i = 0; i < p->n_rules; i++)
		rule_ent_free(&p->rules[i]);
	free(p->rules);
	free(p->seen);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
