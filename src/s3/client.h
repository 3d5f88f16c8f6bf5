/**
 * @file client.h
 * The S3 protocol client: one object per mount, shared by all threads.
 *
 * Every operation signs (SigV4), sends through the transport, retries
 * with exponential backoff and full jitter what may be retried, maps the
 * outcome through the errno table and logs failures once with the S3 code
 * and request id. Returns 0 or a negative errno.
 *
 * Conditional writes are never retried blindly: each carries a fresh
 * random token in x-amz-meta-etagfs-token; after an ambiguous attempt
 * (no response, or 5xx) the same request is retried with the same
 * precondition, and a 412 on the retry is resolved by a HEAD: our token
 * on the server means our write landed (success), anything else is a
 * real conflict. See doc/internals/retries.md.
 *
 * ETags are kept byte for byte as the server sent them; the wire form of
 * If-Match on writes follows the server's quirks (s3_caps).
 */
#ifndef ETAGFS_S3_CLIENT_H
#define ETAGFS_S3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "s3/creds.h"
#include "s3/http.h"
#include "s3/meta.h"
#include "s3/xml.h"

struct s3_client;

enum s3_addressing {
	S3_ADDR_AUTO,  /**< virtual-hosted for *.amazonaws.com, else path */
	S3_ADDR_PATH,  /**< http://host/bucket/key */
	S3_ADDR_VHOST, /**< http://bucket.host/key */
};

struct s3_client_config {
	const char *endpoint; /**< "https://s3.us-east-1.amazonaws.com" */
	const char *region;   /**< "us-east-1" */
	const char *bucket;
	enum s3_addressing addressing;
	bool unsigned_payload; /**< UNSIGNED-PAYLOAD for bodies over https */
	int max_retries;       /**< attempts after the first, default 5 */
	int retry_base_ms;     /**< first backoff step, default 100 */
	struct s3_http_config http;
	const struct s3_creds *creds; /**< copied */
	/** Transport to use instead of libcurl (tests); ownership passes to
	 * the client. NULL: libcurl. */
	struct s3_http *transport;
};

/** What the server really honours; found by the probe (probe.h). */
struct s3_caps {
	bool put_if_match;	   /**< PUT If-Match enforced */
	bool put_if_match_unquoted; /**< it matches only the unquoted ETag */
	bool put_if_none_match;	   /**< PUT If-None-Match: * enforced */
	bool complete_conditional; /**< Complete honours If-Match/-None-Match */
	bool delete_if_match;	   /**< DeleteObject honours If-Match */
	bool copy_source_if_match; /**< x-amz-copy-source-if-match honoured */
	bool copy_rgw_if_match;	   /**< RGW's x-amz-copy-if-match honoured */
};

/** The outcome of the last exchange of an operation, for logs and tests. */
struct s3_status {
	int http_status;
	char code[64];
	char request_id[S3_REQUEST_ID_MAX];
	bool ambiguous_resolved; /**< a lost response was resolved by HEAD */
};

/** The ETag reported for a write of ours that landed but was replaced
 * before we could learn its ETag: no server version matches it. */
#define S3_ETAG_SUPERSEDED "\"etagfs-superseded\""

struct s3_object_info {
	uint64_t size;
	char etag[S3_ETAG_MAX]; /**< as sent by the server */
	time_t last_modified;
	time_t server_date; /**< the response's Date (server clock), or 0 */
	struct s3_meta meta;
};

/** Precondition of a write. Never both set. */
struct s3_write_cond {
	const char *if_match; /**< ETag in any quoting, or NULL */
	bool if_none_match;   /**< If-None-Match: * (create only) */
};

/** Request counters, by kind, since the client was made. */
struct s3_stats {
	uint64_t head, get, put, del, copy, list, mpu, retries;
};

int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out,
		  char *err, size_t err_len);
void s3_client_free(struct s3_client *c);
/** Replace the server quirks (after a probe). */
void s3_client_set_caps(struct s3_client *c, const struct s3_caps *caps);
void s3_client_get_caps(struct s3_client *c, struct s3_caps *caps);
void s3_client_get_stats(struct s3_client *c, struct s3_stats *out);
const char *s3_client_bucket(const struct s3_client *c);

/** Confirm the bucket exists and the credentials work (ListObjectsV2,
 * max-keys=0). 0, -ENOENT (no such bucket), -EACCES (credentials),
 * -EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT (endpoint). A readable sentence
 * goes into @p err. */
int s3_check_bucket(struct s3_client *c, char *err, size_t err_len);

/** Compare two ETags ignoring quotes and a W/ prefix. */
bool s3_etag_equal(const char *a, const char *b);

int s3_head_object(struct s3_client *c, const char *key, const char *if_match,
		   struct s3_object_info *out, struct s3_status *st);

/**
 * Read [off, off+len) into @p dst. @p got receives the bytes read (short
 * at end of object). With @p if_match a changed object gives -ESTALE.
 * A range past the end gives 0 bytes and success. @p info may be NULL.
 */
int s3_get_object(struct s3_client *c, const char *key, uint64_t off,
		  size_t len, const char *if_match, void *dst, size_t *got,
		  struct s3_object_info *info, struct s3_status *st);

/**
 * Revalidate and read in one round trip: s3_get_object() with
 * If-None-Match: @p have_etag instead of If-Match. -EALREADY (no bytes,
 * *@p got 0) when @p have_etag is still the current version (304 Not
 * Modified); otherwise the bytes of the current version, whose ETag is
 * in @p info, which should therefore not be NULL.
 */
int s3_get_object_if_changed(struct s3_client *c, const char *key,
			     uint64_t off, size_t len, const char *have_etag,
			     void *dst, size_t *got,
			     struct s3_object_info *info, struct s3_status *st);

/** Download the whole object into @p fd at offset 0 (pwrite). */
int s3_get_object_to_fd(struct s3_client *c, const char *key,
			const char *if_match, int fd,
			struct s3_object_info *info, struct s3_status *st);

/**
 * PUT @p len bytes of @p fd from @p off (streamed). @p meta may be NULL.
 * @p out receives the new ETag. A failed precondition gives -EBUSY.
 */
int s3_put_object(struct s3_client *c, const char *key, int fd, off_t off,
		  uint64_t len, const struct s3_write_cond *cond,
		  const struct s3_meta *meta, struct s3_object_info *out,
		  struct s3_status *st);

/** s3_put_object() of a body whose SHA-256 (hex) is already known
 * (@p sha256_hex; NULL: hashed here), so it is not read twice. */
int s3_put_object_hashed(struct s3_client *c, const char *key, int fd,
			 off_t off, uint64_t len, const char *sha256_hex,
			 const struct s3_write_cond *cond,
			 const struct s3_meta *meta,
			 struct s3_object_info *out, struct s3_status *st);

/** DELETE, with If-Match when @p if_match is not NULL (only meaningful
 * where caps.delete_if_match). Deleting a missing key succeeds. */
int s3_delete_object(struct s3_client *c, const char *key,
		     const char *if_match, struct s3_status *st);

struct s3_copy_opts {
	const char *src_if_match;    /**< source precondition, or NULL */
	const struct s3_meta *meta;  /**< REPLACE metadata, NULL: COPY */
	bool dst_if_none_match;	     /**< destination must not exist */
};

/** Server-side copy @p src → @p dst; the source precondition is sent as
 * x-amz-copy-source-if-match and, where the server needs it, RGW's
 * x-amz-copy-if-match. -EBUSY when it fails. */
int s3_copy_object(struct s3_client *c, const char *src, const char *dst,
		   const struct s3_copy_opts *o, struct s3_object_info *out,
		   struct s3_status *st);

/** One page of ListObjectsV2 with encoding-type=url. @p delimiter and
 * @p token may be NULL; @p max_keys 0 means the server default (1000). */
int s3_list_objects(struct s3_client *c, const char *prefix,
		    const char *delimiter, const char *token, int max_keys,
		    struct s3_list_result *out, struct s3_status *st);

int s3_mpu_create(struct s3_client *c, const char *key,
		  const struct s3_meta *meta, char **upload_id_take,
		  struct s3_status *st);
int s3_mpu_upload_part(struct s3_client *c, const char *key,
		       const char *upload_id, int part_number, int fd,
		       off_t off, uint64_t len, char **etag_take,
		       struct s3_status *st);
/** Most parts one multipart upload may have (an S3 limit). */
#define S3_MPU_MAX_PARTS 10000

/** The part size for an upload of @p size bytes: @p want, or the
 * smallest whole number of MiB that needs no more than S3_MPU_MAX_PARTS
 * parts, whichever is larger. */
uint64_t s3_mpu_part_size(uint64_t size, uint64_t want);

/**
 * Upload [0, @p size) of @p fd as parts 1..n of upload @p upload_id,
 * @p part_size bytes each (the last one shorter), with up to
 * @p concurrency requests in flight (threads of this call; the calling
 * thread is one of them). On success *@p parts_take holds the n parts
 * in order, for s3_mpu_complete(); free with s3_mpu_parts_free(). On
 * failure nothing is returned and the first failure's errno and status
 * are; no part is started after a failure. -EFBIG past
 * S3_MPU_MAX_PARTS parts (see s3_mpu_part_size()).
 */
int s3_mpu_upload_fd(struct s3_client *c, const char *key,
		     const char *upload_id, int fd, uint64_t size,
		     uint64_t part_size, int concurrency,
		     struct s3_part **parts_take, size_t *n_out,
		     struct s3_status *st);
void s3_mpu_parts_free(struct s3_part *parts, size_t n);
int s3_mpu_upload_part_copy(struct s3_client *c, const char *key,
			    const char *upload_id, int part_number,
			    const char *src_key, const char *src_if_match,
			    uint64_t first, uint64_t last, char **etag_take,
			    struct s3_status *st);
/** Complete with @p cond (sent only; whether it is honoured is in caps). */
int s3_mpu_complete(struct s3_client *c, const char *key,
		    const char *upload_id, const struct s3_part *parts,
		    size_t n, const struct s3_write_cond *cond,
		    struct s3_object_info *out, struct s3_status *st);
int s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
		 struct s3_status *st);

#endif
