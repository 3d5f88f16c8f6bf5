/**
 * @file faultproxy.h
 * A fault-injecting HTTP/1.1 proxy on loopback, for integration tests.
 *
 * etagfs is mounted with endpoint=http://127.0.0.1:<fp_port()>; the proxy
 * relays each request to the real server (the RGW) and its response back,
 * unless a rule says otherwise. Rules are matched per request (method and
 * a substring of the request target), so a test can lose exactly the
 * response of "the first PUT of key x" and nothing else.
 *
 * Faults on the way in (a request delayed or cut short) and on the way out
 * (a response lost, delayed, cut short or rewritten) can be combined
 * across requests, one rule each.
 *
 * The proxy understands just enough HTTP to find message boundaries:
 * requests with a Content-Length body (etagfs never sends chunked
 * uploads), responses with Content-Length, chunked or read-to-close
 * bodies, no body for HEAD, 1xx, 204 and 304. Each message is held in
 * memory whole (tests move small objects), so a rule can act on it.
 *
 * Threads: fp_start() starts an accept thread; each client connection gets
 * a thread of its own and its own upstream connection. Every function
 * below may be called from any thread while the proxy runs; rule hooks run
 * on a connection thread.
 */
#ifndef ETAGFS_IT_FAULTPROXY_H
#define ETAGFS_IT_FAULTPROXY_H

#include <stddef.h>

struct fp_proxy;

/** What a rule does to a request it matches. */
enum fp_action {
	/** Relay normally (a rule that only counts or runs its hook). */
	FP_PASS,
	/**
	 * Forward the request, read the whole upstream response, then close
	 * the client connection without sending any of it: the write landed
	 * but the client never learns (the ambiguous commit).
	 */
	FP_DROP_RESPONSE,
	/** Reset the client connection (RST) without forwarding the request. */
	FP_RESET_BEFORE,
	/** Hold the upstream response for @c arg milliseconds, then send. */
	FP_DELAY_RESPONSE,
	/** Send the response headers and half of the body, then close. */
	FP_TRUNCATE_RESPONSE,
	/**
	 * Hold the client's request @c arg milliseconds, then forward it and
	 * relay the response as usual: a slow network on the way in. The
	 * client connection is not watched meanwhile, so a request whose
	 * client gave up (timed out, closed) is still delivered to the
	 * server when the delay ends, as a late packet would be; its
	 * response then has nowhere to go and the connection ends. The
	 * hook sees the upstream status of that late request, which is how
	 * a test learns what it did to the object. fp_stop() cuts the delay
	 * short and the request is then never forwarded.
	 */
	FP_DELAY_REQUEST,
	/**
	 * Forward the request's header block and the first half of its body
	 * (half of the header block when there is no body, so the request
	 * is incomplete either way), then close the upstream connection
	 * (FIN: the server sees its peer end mid-request and must not act
	 * on it) and reset the client's: the client loses the connection
	 * before any answer. The hook runs with status 0.
	 */
	FP_TRUNCATE_REQUEST,
	/**
	 * Answer with status @c arg and an S3 XML error body (code
	 * @c error_code, or one derived from the status) without forwarding.
	 * The request body is read first, the connection stays usable.
	 */
	FP_STATUS,
	/**
	 * Forward the request; in the upstream's final response, replace
	 * the value of header @c header with @c value (every occurrence
	 * becomes one line), drop it when @c value is NULL, or add it when
	 * absent. The body is relayed unchanged. The name is matched
	 * case-insensitively; the status line is never touched.
	 */
	FP_REWRITE_HEADER,
	/**
	 * Forward the request (the server does the work), then replace the
	 * final response's body with @c body_len bytes of @c body: the
	 * Content-Length is set to match and Transfer-Encoding dropped.
	 * The status becomes @c arg when it is not 0 (the reason phrase
	 * follows it), else the upstream's is kept. Other headers (ETag,
	 * Content-Range) are relayed as the server sent them.
	 */
	FP_REPLACE_BODY,
	/**
	 * Answer with status @c arg and the @c body_len bytes of @c body
	 * (Content-Type: application/xml, a matching Content-Length)
	 * without forwarding: e.g. a 200 carrying an S3 <Error> document
	 * for a request the server never saw. Like FP_STATUS otherwise.
	 */
	FP_STATUS_WITH_BODY,
};

/**
 * Called by the connection thread once the upstream response of a matched
 * request has been read completely and before the action goes on (for
 * FP_PASS, FP_DROP_RESPONSE, FP_DELAY_RESPONSE, FP_TRUNCATE_RESPONSE,
 * FP_REWRITE_HEADER and FP_REPLACE_BODY, before the rewrite; for
 * FP_RESET_BEFORE, FP_STATUS and FP_STATUS_WITH_BODY it runs instead of
 * forwarding; for FP_DELAY_REQUEST after the delay and the upstream
 * response; for FP_TRUNCATE_REQUEST once the partial request was sent and
 * the upstream connection closed). @p status is the upstream's HTTP status
 * (0 when no response was read). Must not call the harness's IT_FAIL (it is not the test
 * thread).
 */
typedef void (*fp_hook_fn)(void *arg, const char *method, const char *target,
			   int status);

/** One rule; copied by fp_add_rule (strings and body included). */
struct fp_rule {
	const char *method;	 /**< "PUT", ...; NULL or "" for any */
	const char *path_substr; /**< substring of the request target; NULL
				      or "" for any */
	int count;		 /**< next N matching requests; < 0: all */
	enum fp_action action;
	int arg;		 /**< ms for FP_DELAY_RESPONSE and
				      FP_DELAY_REQUEST, status for
				      FP_STATUS, FP_REPLACE_BODY and
				      FP_STATUS_WITH_BODY */
	const char *error_code;	 /**< FP_STATUS: <Code>, NULL: by status */
	fp_hook_fn hook;	 /**< NULL or see fp_hook_fn */
	void *hook_arg;
	const char *header;	 /**< FP_REWRITE_HEADER: the header name */
	const char *value;	 /**< FP_REWRITE_HEADER: its new value, NULL:
				      drop it */
	const void *body;	 /**< FP_REPLACE_BODY, FP_STATUS_WITH_BODY:
				      the body sent (copied) */
	size_t body_len;
};

/**
 * Start a proxy to @p upstream ("http://host:port", a trailing '/'
 * allowed; host must be a numeric IPv4 address) listening on
 * 127.0.0.1:<ephemeral port>. 0 and *@p out (release with fp_stop), or a
 * negative errno.
 */
int fp_start(const char *upstream, struct fp_proxy **out);

/** The port the proxy listens on. */
int fp_port(const struct fp_proxy *p);

/** "http://127.0.0.1:<port>" into @p out; 0, or -ENAMETOOLONG. */
int fp_endpoint(const struct fp_proxy *p, char *out, size_t out_len);

/**
 * Add a rule after the existing ones. A request is handled by the first
 * rule that matches it and has count left (which is then decremented);
 * none: relayed. Returns the rule's id (>= 0) or a negative errno.
 */
int fp_add_rule(struct fp_proxy *p, const struct fp_rule *r);

/** How many requests rule @p id has been applied to (-1: no such id). */
int fp_rule_hits(struct fp_proxy *p, int id);

/** Remove every rule; requests already being handled finish as decided. */
void fp_clear_rules(struct fp_proxy *p);

/**
 * Requests received from clients (whatever their fate) whose method is
 * @p method (NULL: any) and whose target contains @p path_substr (NULL:
 * any), since the start or the last fp_reset_counts.
 */
long fp_count(struct fp_proxy *p, const char *method,
	      const char *path_substr);

/** Forget the requests counted so far. */
void fp_reset_counts(struct fp_proxy *p);

/**
 * Stop accepting, close every connection (delays are cut short), join all
 * threads and free @p p. NULL is allowed.
 */
void fp_stop(struct fp_proxy *p);

#endif
