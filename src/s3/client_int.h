/**
 * @file client_int.h
 * Internals of the S3 client shared by its source files (client.c: set-up,
 * URLs, signing, the retry engine; client_obj.c: object operations and
 * write helpers; client_mpu.c: copy and multipart). Not for use outside
 * src/s3/: the public interface is client.h.
 *
 * Locking is as described at the top of client.c: c->lock guards the
 * mutable fields below it and is never held during an exchange.
 */
#ifndef ETAGFS_S3_CLIENT_INT_H
#define ETAGFS_S3_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "s3/client.h"
#include "s3/errmap.h"
#include "s3/meta.h"
#include "s3/sigv4.h"
#include "util/buf.h"

/** Ceiling of an XML response body: one ListObjectsV2 page, generously. */
#define S3_CLIENT_TEXT_MAX (16u * 1024 * 1024)
#define S3_CLIENT_MAX_HEADERS 32
#define S3_CLIENT_MAX_QUERY 8

/** The token a multipart upload was created with, so that an ambiguous
 * Complete can be resolved later. */
struct s3_client_upload {
	char *upload_id;
	char token[S3_TOKEN_LEN + 1];
};

struct s3_client {
	char *scheme;	 /* "http" or "https" */
	char *authority; /* host[:port] of the endpoint */
	char *endpoint;	 /* scheme://authority, for messages */
	char *region;
	char *bucket;
	bool vhost;
	bool https;
	bool unsigned_payload;
	int max_retries;
	int retry_base_ms;
	struct s3_creds creds;
	struct s3_http *http;

	pthread_mutex_t lock; /* guards everything below */
	struct s3_caps caps;
	bool quoting_logged;
	struct s3_stats stats;
	uint64_t rng;
	struct s3_client_upload *uploads; /* registry, client_mpu.c */
	size_t n_uploads;
};

struct s3_client_qparam {
	const char *name;
	const char *value; /* "" for a bare flag such as "uploads" */
};

/** One operation as the retry loop sees it. */
struct s3_client_op {
	const char *name; /* for logs: "PUT", "COPY", "COMPLETE" ... */
	const char *method;
	enum s3_op_kind kind;
	const char *key; /* NULL for the bucket itself */
	struct s3_client_qparam q[S3_CLIENT_MAX_QUERY];
	size_t nq;
	struct s3_header hdr[S3_CLIENT_MAX_HEADERS]; /* not host/date/auth */
	size_t nh;
	const void *body_mem;
	size_t body_mem_len;
	int body_fd;
	off_t body_off;
	uint64_t body_len;
	const char *body_sha256; /* hex of the fd body when known, or NULL */
	bool no_body;
	struct buf *resp_text;
	char *resp_dst;
	size_t resp_dst_len;
	int resp_fd;
	uint64_t *counter;     /* stats field bumped per exchange */
	bool error_in_200;     /* a 200 may carry an <Error> document */
	bool track_ambiguity;  /* conditional write: remember ambiguity */
	bool conditional;      /* carries a write precondition */
};

/** The result of the retry loop. */
struct s3_client_outcome {
	struct s3_http_response resp;
	int status; /* HTTP status, 500 for a 200 carrying <Error> */
	char code[64];
	int err;
	bool ambiguous_before; /* an earlier attempt may have landed */
};

/** An empty operation: no body, no sinks, no headers. */
void s3_client_int_op_init(struct s3_client_op *o, const char *name,
			   const char *method, enum s3_op_kind kind,
			   const char *key);
/** Add a header; @p name and @p value must outlive the operation. */
void s3_client_int_op_header(struct s3_client_op *o, const char *name,
			     const char *value);
/** Add a query parameter; both strings must outlive the operation. */
void s3_client_int_op_query(struct s3_client_op *o, const char *name,
			    const char *value);

/**
 * Run @p o with retries. @p out->resp holds the last response; hand
 * @p out to s3_client_int_finish() afterwards, which frees it. Returns
 * out->err (0 or a negative errno).
 */
int s3_client_int_run(struct s3_client *c, struct s3_client_op *o,
		      struct s3_client_outcome *out);

/** Fill @p st (may be NULL), log a failure once, free @p out->resp. */
void s3_client_int_finish(const struct s3_client_op *o,
			  struct s3_client_outcome *out, int rc,
			  struct s3_status *st);

/** The ETag @p in without W/ and quotes, re-quoted when @p quoted. */
void s3_client_int_etag_wire(const char *in, bool quoted, char *out,
			     size_t len);

/** Add the If-Match / If-None-Match of a write for @p cond (may be NULL),
 * If-Match in the form this server wants, and mark @p o conditional (its
 * 412 conflicts are logged at info level: the caller names them itself).
 * @p etag (@p len bytes) holds the header value and must outlive @p o.
 * An empty If-Match ETag names a version nobody can match: -EBUSY (an
 * empty header would be dropped and the write made unconditional). */
int s3_client_int_write_cond(struct s3_client *c, struct s3_client_op *o,
			      const struct s3_write_cond *cond, char *etag,
			      size_t len);

/** The If-Match value of a write in the form this server wants, or the
 * other form when @p flip. */
void s3_client_int_write_if_match(struct s3_client *c, const char *etag,
				  bool flip, char *out, size_t len);

/**
 * The HEAD after a failed precondition. 1: our token is on the server
 * (our write landed; @p info filled); 2: the version on the server names
 * our token as its parent (our write landed and was replaced since);
 * 0: neither (@p info filled when the object exists, size 0 and etag ""
 * when it does not); <0: the HEAD itself failed.
 */
int s3_client_int_head_check_token(struct s3_client *c, const char *key,
				   const char *token,
				   struct s3_object_info *info);

/** An ambiguous attempt of @p o turned out to have landed (@p how is the
 * 1 or 2 of s3_client_int_head_check_token()): log it, mark @p st (may be
 * NULL) resolved and copy @p head to @p out_info (may be NULL); when it
 * was replaced since, out_info's ETag is S3_ETAG_SUPERSEDED so that a
 * later write conditional on it fails. */
void s3_client_int_landed(const struct s3_client_op *o, int how,
			  const struct s3_object_info *head,
			  struct s3_object_info *out_info, struct s3_status *st);

/**
 * Add the x-amz-meta-* headers of a write from @p in (may be NULL) to
 * @p o; the effective metadata goes to @p m, with a fresh token when
 * @p want_token and @p in has none. Values live in @p storage, which must
 * outlive the operation. 0 or a negative errno.
 */
int s3_client_int_meta_headers(struct s3_client_op *o,
			       const struct s3_meta *in, bool want_token,
			       struct s3_meta *m, char *storage,
			       size_t storage_len);

/**
 * While on, failed preconditions (HTTP 412 giving -EBUSY or -ESTALE) of
 * requests made by the calling thread are logged at debug level: for the
 * capability probe, whose refusals are the answers it asks for. Other
 * threads are not affected. Returns the previous setting, to restore.
 */
bool s3_client_int_expect_refusals(bool on);

/** Free the upload-token registry (client_mpu.c); for s3_client_free(). */
void s3_client_int_uploads_free(struct s3_client *c);

#endif
