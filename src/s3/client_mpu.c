/*
 * The S3 client's copy and multipart operations, on top of the request
 * engine in client.c (client_int.h).
 *
 * Locking: as in client.c. The upload-token registry (which token each
 * multipart upload was created with, to resolve an ambiguous Complete)
 * sits behind c->lock, held only for a few loads and stores.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/client.h"
#include "s3/client_int.h"
#include "s3/xml.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/uri.h"

/* Forgotten uploads beyond this drop the oldest token. */
#define TOKEN_REGISTRY_MAX 1024

/* ------------------------------------------------------------ copy */

/* Add x-amz-copy-source: "bucket/key", encoded like a path, built in
 * @p b (which must outlive the operation). 0 or -ENAMETOOLONG. */
static int copy_source(const struct s3_client *c, struct s3_client_op *o,
		       const char *key, struct buf *b)
{
	int rc = uri_encode(b, c->bucket, strlen(c->bucket), false);

	if (!rc)
		rc = buf_adds(b, "/");
	if (!rc)
		rc = uri_encode(b, key, strlen(key), true);
	if (rc < 0)
		return -ENAMETOOLONG;
	s3_client_int_op_header(o, "x-amz-copy-source", buf_str(b));
	return 0;
}

/* Source preconditions: the standard header always; RGW's own one where
 * the standard one is not honoured (or RGW's is known to be). On AWS,
 * where the standard one works, RGW's header is not sent at all. */
static void copy_conditions(struct s3_client *c, struct s3_client_op *o,
			    const char *src_if_match, char *etag, size_t len)
{
	bool rgw;

	if (!src_if_match)
		return;
	pthread_mutex_lock(&c->lock);
	rgw = c->caps.copy_rgw_if_match || !c->caps.copy_source_if_match;
	pthread_mutex_unlock(&c->lock);
	s3_client_int_etag_wire(src_if_match, true, etag, len);
	s3_client_int_op_header(o, "x-amz-copy-source-if-match", etag);
	if (rgw)
		s3_client_int_op_header(o, "x-amz-copy-if-match", etag);
}

int s3_copy_object(struct s3_client *c, const char *src, const char *dst,
		   const struct s3_copy_opts *opts, struct s3_object_info *out_info,
		   struct s3_status *st)
{
	char storage[S3_META_STORAGE];
	char etag[S3_ETAG_MAX + 2];
	struct buf source, text;
	struct s3_client_outcome out;
	struct s3_meta m;
	char *new_etag = NULL;
	struct s3_client_op o;
	int rc;

	if (out_info)
		memset(out_info, 0, sizeof(*out_info));
	buf_init(&source, 64 * 1024);
	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "COPY", "PUT", S3_OP_WRITE, dst);
	o.counter = &c->stats.copy;
	o.resp_text = &text;
	o.error_in_200 = true;
	rc = copy_source(c, &o, src, &source);
	if (rc < 0)
		goto out_nolog;
	if (opts && opts->meta) {
		s3_client_int_op_header(&o, "x-amz-metadata-directive",
					"REPLACE");
		rc = s3_client_int_meta_headers(&o, opts->meta, false, &m,
						storage, sizeof(storage));
		if (rc < 0)
			goto out_nolog;
	}
	if (opts)
		copy_conditions(c, &o, opts->src_if_match, etag, sizeof(etag));
	if (opts && opts->dst_if_none_match)
		s3_client_int_op_header(&o, "If-None-Match", "*");

	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0) {
		rc = s3_xml_parse_result_etag(text.data ? text.data : "",
					      text.len, &new_etag);
		if (rc == 0 && out_info)
			snprintf(out_info->etag, sizeof(out_info->etag), "%s",
				 new_etag);
	}
	s3_client_int_finish(&o, &out, rc, st);
out_nolog:
	free(new_etag);
	buf_free(&source);
	buf_free(&text);
	return rc;
}

/* ------------------------------------------------------- multipart */

static void registry_add(struct s3_client *c, const char *upload_id,
			 const char *token)
{
	struct s3_client_upload *grown;
	char *id = strdup(upload_id);

	if (!id)
		return; /* only costs the ambiguity resolution later */
	pthread_mutex_lock(&c->lock);
	if (c->n_uploads >= TOKEN_REGISTRY_MAX) {
		/* Forgotten uploads: drop the oldest. */
		free(c->uploads[0].upload_id);
		memmove(&c->uploads[0], &c->uploads[1],
			(c->n_uploads - 1) * sizeof(c->uploads[0]));
		c->n_uploads--;
	}
	grown = realloc(c->uploads, (c->n_uploads + 1) * sizeof(*grown));
	if (grown) {
		c->uploads = grown;
		c->uploads[c->n_uploads].upload_id = id;
		snprintf(c->uploads[c->n_uploads].token,
			 sizeof(c->uploads[0].token), "%s", token);
		c->n_uploads++;
		id = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(id);
}

/* Copy the token of @p upload_id into @p token ("" when unknown); with
 * @p forget, drop the entry. */
static void registry_get(struct s3_client *c, const char *upload_id,
			 char token[S3_TOKEN_LEN + 1], bool forget)
{
	token[0] = '\0';
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_uploads; i++) {
		if (strcmp(c->uploads[i].upload_id, upload_id) != 0)
			continue;
		memcpy(token, c->uploads[i].token, S3_TOKEN_LEN + 1);
		if (forget) {
			free(c->uploads[i].upload_id);
			memmove(&c->uploads[i], &c->uploads[i + 1],
				(c->n_uploads - i - 1) *
					sizeof(c->uploads[0]));
			c->n_uploads--;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

void s3_client_int_uploads_free(struct s3_client *c)
{
	for (size_t i = 0; i < c->n_uploads; i++)
		free(c->uploads[i].upload_id);
	free(c->uploads);
	c->uploads = NULL;
	c->n_uploads = 0;
}

int s3_mpu_create(struct s3_client *c, const char *key,
		  const struct s3_meta *meta, char **upload_id_take,
		  struct s3_status *st)
{
	char storage[S3_META_STORAGE];
	struct s3_client_outcome out;
	struct s3_meta m;
	struct buf text;
	struct s3_client_op o;
	int rc;

	*upload_id_take = NULL;
	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "MPU-CREATE", "POST", S3_OP_WRITE, key);
	o.counter = &c->stats.mpu;
	o.resp_text = &text;
	s3_client_int_op_query(&o, "uploads", "");
	/* The token rides on the upload so that Complete can be resolved. */
	rc = s3_client_int_meta_headers(&o, meta, true, &m, storage,
					sizeof(storage));
	if (rc < 0)
		goto out_nolog;
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0)
		rc = s3_xml_parse_initiate(text.data ? text.data : "",
					   text.len, upload_id_take);
	if (rc == 0)
		registry_add(c, *upload_id_take, m.token);
	s3_client_int_finish(&o, &out, rc, st);
out_nolog:
	buf_free(&text);
	return rc;
}

int s3_mpu_upload_part(struct s3_client *c, const char *key,
		       const char *upload_id, int part_number, int fd,
		       off_t off, uint64_t len, char **etag_take,
		       struct s3_status *st)
{
	char part[16];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	*etag_take = NULL;
	s3_client_int_op_init(&o, "MPU-PART", "PUT", S3_OP_WRITE, key);
	o.counter = &c->stats.mpu;
	snprintf(part, sizeof(part), "%d", part_number);
	s3_client_int_op_query(&o, "partNumber", part);
	s3_client_int_op_query(&o, "uploadId", upload_id);
	o.body_fd = fd;
	o.body_off = off;
	o.body_len = len;
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0 && !out.resp.etag[0])
		rc = -EPROTO;
	if (rc == 0) {
		*etag_take = strdup(out.resp.etag);
		if (!*etag_take)
			rc = -ENOMEM;
	}
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

/* ------------------------------------------------ a file in parts */

uint64_t s3_mpu_part_size(uint64_t size, uint64_t want)
{
	uint64_t need = (size + S3_MPU_MAX_PARTS - 1) / S3_MPU_MAX_PARTS;
	const uint64_t mib = 1ull << 20;

	need = (need + mib - 1) / mib * mib;
	return want > need ? want : need;
}

void s3_mpu_parts_free(struct s3_part *parts, size_t n)
{
	if (parts == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(parts[i].etag);
	free(parts);
}

/* The parts of one s3_mpu_upload_fd() call, shared by its threads. */
struct fd_upload {
	struct s3_client *c;
	const char *key, *upload_id;
	int fd;
	uint64_t size, part_size;
	struct s3_part *parts;
	size_t n;
	pthread_mutex_t lock; /* guards the fields below */
	size_t next;	      /* the next part to start */
	int rc;		      /* the first failure, or 0 */
	struct s3_status st;  /* that failure's status */
};

/* Upload parts until none is left or one failed: after a failure no
 * part is started, so a dead network costs one timeout per thread, not
 * one per part. */
static void *fd_upload_worker(void *arg)
{
	struct fd_upload *u = arg;

	for (;;) {
		struct s3_status st;
		uint64_t off, len;
		size_t i;
		int rc;

		pthread_mutex_lock(&u->lock);
		if (u->rc != 0 || u->next >= u->n) {
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
		i = u->next++;
		pthread_mutex_unlock(&u->lock);
		off = (uint64_t)i * u->part_size;
		len = u->size - off < u->part_size ? u->size - off
						   : u->part_size;
		memset(&st, 0, sizeof(st));
		rc = s3_mpu_upload_part(u->c, u->key, u->upload_id,
					u->parts[i].number, u->fd, (off_t)off,
					len, &u->parts[i].etag, &st);
		if (rc != 0) {
			pthread_mutex_lock(&u->lock);
			if (u->rc == 0) {
				u->rc = rc;
				u->st = st;
			}
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
	}
}

int s3_mpu_upload_fd(struct s3_client *c, const char *key,
		     const char *upload_id, int fd, uint64_t size,
		     uint64_t part_size, int concurrency,
		     struct s3_part **parts_take, size_t *n_out,
		     struct s3_status *st)
{
	struct fd_upload u = {
		.c = c, .key = key, .upload_id = upload_id, .fd = fd,
		.size = size, .part_size = part_size,
	};
	pthread_t *threads = NULL;
	int started = 0;

	*parts_take = NULL;
	*n_out = 0;
	if (size == 0 || part_size == 0)
		return -EINVAL;
	u.n = (size_t)((size + part_size - 1) / part_size);
	if (u.n > S3_MPU_MAX_PARTS)
		return -EFBIG;
	u.parts = calloc(u.n, sizeof(*u.parts));
	if (u.parts == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < u.n; i++)
		u.parts[i].number = (int)i + 1;
	pthread_mutex_init(&u.lock, NULL);
	if (concurrency < 1)
		concurrency = 1;
	if ((size_t)concurrency > u.n)
		concurrency = (int)u.n;
	if (concurrency > 1)
		threads = calloc((size_t)concurrency - 1, sizeof(*threads));
	/* This thread is one of the uploaders; a thread that cannot be
	 * started only makes the upload narrower. */
	for (int i = 0; threads != NULL && i < concurrency - 1; i++) {
		if (pthread_create(&threads[started], NULL, fd_upload_worker,
				   &u) != 0)
			break;
		started++;
	}
	fd_upload_worker(&u);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_mutex_destroy(&u.lock);
	if (st != NULL && u.rc != 0)
		*st = u.st;
	if (u.rc != 0) {
		s3_mpu_parts_free(u.parts, u.n);
		return u.rc;
	}
	*parts_take = u.parts;
	*n_out = u.n;
	return 0;
}

int s3_mpu_upload_part_copy(struct s3_client *c, const char *key,
			    const char *upload_id, int part_number,
			    const char *src_key, const char *src_if_match,
			    uint64_t first, uint64_t last, char **etag_take,
			    struct s3_status *st)
{
	char etag[S3_ETAG_MAX + 2];
	char range[64];
	char part[16];
	struct buf source, text;
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	*etag_take = NULL;
	buf_init(&source, 64 * 1024);
	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "MPU-PART-COPY", "PUT", S3_OP_WRITE, key);
	o.counter = &c->stats.mpu;
	o.resp_text = &text;
	o.error_in_200 = true;
	snprintf(part, sizeof(part), "%d", part_number);
	s3_client_int_op_query(&o, "partNumber", part);
	s3_client_int_op_query(&o, "uploadId", upload_id);
	rc = copy_source(c, &o, src_key, &source);
	if (rc < 0)
		goto out_nolog;
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first,
		 last);
	s3_client_int_op_header(&o, "x-amz-copy-source-range", range);
	copy_conditions(c, &o, src_if_match, etag, sizeof(etag));
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0)
		rc = s3_xml_parse_result_etag(text.data ? text.data : "",
					      text.len, etag_take);
	s3_client_int_finish(&o, &out, rc, st);
out_nolog:
	buf_free(&source);
	buf_free(&text);
	return rc;
}

/*
 * Learn the ETag of an upload we just completed from a HEAD. Only our
 * own version's ETag is handed out: if the token shows somebody else's
 * object already, the ETag stays "" so that a later If-Match fails
 * rather than silently matching a version we never saw.
 */
static void complete_etag_from_head(struct s3_client *c, const char *key,
				    const char *token,
				    struct s3_object_info *info)
{
	struct s3_object_info head;
	int h = s3_client_int_head_check_token(c, key, token, &head);

	memset(info, 0, sizeof(*info));
	if (h == 1 || (h == 0 && !token[0] && head.etag[0])) {
		*info = head;
		return;
	}
	if (h == 2) {
		/* Ours, replaced since: no later write may match it. */
		snprintf(info->etag, sizeof(info->etag), "%s",
			 S3_ETAG_SUPERSEDED);
		return;
	}
	log_notice("s3: COMPLETE '%s': completed, but its ETag is unknown "
		   "(%s)",
		   key,
		   h < 0 ? strerror(-h) : "object replaced right afterwards");
}

int s3_mpu_complete(struct s3_client *c, const char *key,
		    const char *upload_id, const struct s3_part *parts,
		    size_t n, const struct s3_write_cond *cond,
		    struct s3_object_info *out_info, struct s3_status *st)
{
	char token[S3_TOKEN_LEN + 1];
	char etag[S3_ETAG_MAX + 2];
	struct s3_object_info head;
	struct s3_client_outcome out;
	char *body = NULL;
	char *new_etag = NULL;
	struct buf text;
	struct s3_client_op o;
	int rc;

	if (out_info)
		memset(out_info, 0, sizeof(*out_info));
	registry_get(c, upload_id, token, false);
	body = s3_xml_complete_body(parts, n);
	if (!body)
		return -ENOMEM;
	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "MPU-COMPLETE", "POST", S3_OP_WRITE, key);
	o.counter = &c->stats.mpu;
	o.resp_text = &text;
	o.error_in_200 = true;
	o.track_ambiguity = true; /* a retried Complete is never blind */
	o.body_mem = body;
	o.body_mem_len = strlen(body);
	s3_client_int_op_query(&o, "uploadId", upload_id);
	rc = s3_client_int_write_cond(c, &o, cond, etag, sizeof(etag));
	if (rc < 0) {
		free(body);
		buf_free(&text);
		return rc;
	}
	rc = s3_client_int_run(c, &o, &out);
	/* After an ambiguous attempt, a failed precondition or a vanished
	 * upload may both mean the first attempt completed it. */
	/* A 412 is always checked: libcurl may have resent our first
	 * attempt by itself (a reused connection that died). */
	if (rc < 0 && token[0] &&
	    (out.status == 412 ||
	     (out.ambiguous_before && out.status == 404 &&
	      strcmp(out.code, "NoSuchUpload") == 0))) {
		int h = s3_client_int_head_check_token(c, key, token, &head);

		if (h >= 1) {
			rc = 0;
			s3_client_int_landed(&o, h, &head, out_info, st);
			registry_get(c, upload_id, token, true);
			goto done;
		}
		if (h < 0)
			rc = h;
		else if (out.status == 412)
			rc = -EBUSY;
	}
	if (rc == 0) {
		rc = s3_xml_parse_result_etag(text.data ? text.data : "",
					      text.len, &new_etag);
		if (rc == 0 && out_info)
			snprintf(out_info->etag, sizeof(out_info->etag), "%s",
				 new_etag);
		if (rc == -ENODATA) {
			/* Completed, but RGW 16.2 sends <ETag></ETag>. */
			rc = 0;
			if (out_info)
				complete_etag_from_head(c, key, token,
							out_info);
		}
		registry_get(c, upload_id, token, true);
	}
done:
	s3_client_int_finish(&o, &out, rc, st);
	free(new_etag);
	free(body);
	buf_free(&text);
	return rc;
}

int s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
		 struct s3_status *st)
{
	char token[S3_TOKEN_LEN + 1];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	s3_client_int_op_init(&o, "MPU-ABORT", "DELETE", S3_OP_DELETE, key);
	o.counter = &c->stats.mpu;
	s3_client_int_op_query(&o, "uploadId", upload_id);
	rc = s3_client_int_run(c, &o, &out);
	if (rc < 0 && out.status == 404)
		rc = 0; /* no such upload: nothing left to abort */
	if (rc == 0)
		registry_get(c, upload_id, token, true);
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

