/**
 * @file http.h
 * The HTTP transport behind a table of function pointers, so the client
 * logic (retries, conditions, ETag checks) can be unit-tested with a fake
 * transport and the real one is libcurl with a pool of reusable handles.
 *
 * A transport performs exactly one exchange; retries belong to client.c.
 */
#ifndef ETAGFS_S3_HTTP_H
#define ETAGFS_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "s3/sigv4.h" /* struct s3_header */
#include "util/buf.h"

#define S3_ETAG_MAX 192
#define S3_REQUEST_ID_MAX 128

/** One request. Exactly one body source and at most one body sink. */
struct s3_http_request {
	const char *method;
	const char *url; /**< full URL, path and query percent-encoded */
	const struct s3_header *headers; /**< signed headers and extras */
	size_t n_headers;
	bool no_body; /**< HEAD: expect no response body */

	/* Request body: memory, or a file range (streamed, never copied). */
	const void *body_mem;
	size_t body_mem_len;
	int body_fd; /**< -1 when the body is not from a file */
	off_t body_off;
	uint64_t body_len;

	/* Response body sinks; all NULL/-1 means "discard". A 2xx body goes
	 * to dst or fd when given; any other body goes to err_body. */
	struct buf *resp_text; /**< small text bodies (XML), bounded */
	char *resp_dst;	       /**< GET into caller memory */
	size_t resp_dst_len;   /**< more bytes than this is -EPROTO */
	int resp_fd;	       /**< GET into a file at resp_fd_off, or -1 */
	off_t resp_fd_off;
};

/** x-amz-meta-* header; name is lower case without the prefix. */
struct s3_kv {
	char *name;
	char *value;
};

/** What came back. Free with s3_http_response_free(). */
struct s3_http_response {
	int status;	     /**< HTTP status, 0 when no response arrived */
	int transport_errno; /**< 0, or -ETIMEDOUT/-ECONNREFUSED/-EIO/... */
	char transport_error[256]; /**< readable reason for the above */
	char etag[S3_ETAG_MAX];	   /**< ETag header as sent, "" when absent */
	char request_id[S3_REQUEST_ID_MAX]; /**< x-amz-request-id */
	int64_t content_length;		    /**< -1 when absent */
	/** N of Content-Range "bytes a-b/N", -1 when absent */
	int64_t range_total;
	char last_modified[64];		    /**< raw Last-Modified header */
	char date[64];			    /**< raw Date header */
	uint64_t body_received; /**< bytes delivered to dst/fd/text */
	struct buf err_body;	/**< non-2xx body (XML error), bounded */
	struct s3_kv *meta;	/**< x-amz-meta-* headers */
	size_t n_meta;
};

void s3_http_response_init(struct s3_http_response *r);
void s3_http_response_free(struct s3_http_response *r);

struct s3_http_ops {
	/** Perform one exchange. Returns 0 when a response arrived (any
	 * status), else a negative errno that is also in
	 * resp->transport_errno. Thread-safe. */
	int (*perform)(void *impl, const struct s3_http_request *req,
		       struct s3_http_response *resp);
	void (*destroy)(void *impl);
};

struct s3_http {
	const struct s3_http_ops *ops;
	void *impl;
};

/** Defaults for a timeout given as 0 (or less): the same as the mount
 * options' defaults (connect_timeout=5, timeout=30), so that a program
 * using the client directly behaves like the mount. */
#define S3_HTTP_CONNECT_TIMEOUT_MS 5000
#define S3_HTTP_STALL_TIMEOUT_MS 30000
#define S3_HTTP_REQUEST_TIMEOUT_MS 30000

/** Transport settings. A timeout of 0 means the default above. */
struct s3_http_config {
	const char *ca_file;	 /**< CA bundle, NULL for the system one */
	bool insecure;		 /**< skip peer verification (option only) */
	int connect_timeout_ms;	 /**< TCP+TLS connect; 0: 5 s */
	int stall_timeout_ms;	 /**< no byte moved for this long: fail;
				      0: 30 s */
	int request_timeout_ms;	 /**< whole exchange for bodiless requests;
				      0: 30 s */
	int max_connections;	 /**< pooled easy handles kept */
	bool verbose;		 /**< libcurl trace at debug level, redacted */
};

/** libcurl transport with a pool of reusable handles (connection reuse).
 * 0 or -ENOMEM. Free with s3_http_free(). */
int s3_http_curl_new(const struct s3_http_config *cfg, struct s3_http **out);
void s3_http_free(struct s3_http *h);

/** Look up a response header value (case-insensitive name) in raw
 * "Name: value" form; helper for transports. Exposed for tests. */
int s3_http_parse_header_line(const char *line, size_t len,
			      struct s3_http_response *resp);

/** Parse an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), as
 * in Last-Modified, independently of the locale. 0 when unparsable. */
time_t s3_http_parse_date(const char *s);

#endif
