/*
 * The upload half of a commit (see handle_int.h): which request carries
 * it (one PUT, a multipart upload, the completion of the upload that
 * went on behind the writer), and that stream's start, feeding and
 * checks. The ETag contract around it is in handle.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/handle_int.h"
#include "fs/streamup.h"
#include "s3/errmap.h"
#include "util/log.h"

/* Whether the commit of @p size bytes is a multipart upload: past what
 * one PUT carries (where Complete's condition holds, or the user
 * accepted a HEAD check), or above multipart_threshold where it holds. */
static bool commit_is_multipart(struct fs_ctx *ctx, uint64_t size)
{
	bool atomic_mpu = ctx->caps.complete_conditional;

	if (size > ctx->opts.single_put_limit)
		return atomic_mpu || ctx->opts.nonatomic_multipart;
	return atomic_mpu && size > ctx->opts.multipart_threshold;
}

void fs_upload_cond(const struct fs_handle *h, struct s3_write_cond *cond)
{
	memset(cond, 0, sizeof(*cond));
	if (h->is_new)
		cond->if_none_match = true;
	else
		cond->if_match = h->if_match_override[0] ? h->if_match_override
							 : h->etag;
}

void fs_upload_parent(const struct fs_handle *h,
		      char parent[S3_TOKEN_LEN + 1])
{
	if (h->is_new || h->if_match_override[0])
		parent[0] = '\0';
	else
		memcpy(parent, h->base_token, S3_TOKEN_LEN + 1);
}

void fs_upload_stream_drop(struct fs_handle *h)
{
	if (h->up == NULL)
		return;
	streamup_free(h->up, false);
	h->up = NULL;
	h->upload_id = NULL;
	h->up_off = true;
}

/* Start a stream once the content is past what a single PUT commits. The upload is created with the metadata and commit token the
 * commit would write now; fs_upload_stream_prepare() checks at commit
 * that they still hold. */
void fs_upload_track(struct fs_ctx *ctx, struct fs_handle *h, uint64_t off)
{
	struct s3_write_cond cond;
	struct s3_meta meta;
	const char *id;

	if (h->up == NULL) {
		if (h->up_off || !ctx->opts.stream_upload || ctx->read_only ||
		    h->conflicted || h->unlinked || h->write_error != 0 ||
		    h->mtime_explicit || h->stage.fd < 0 ||
		    h->size < ctx->opts.part_size ||
		    !commit_is_multipart(ctx, h->size))
			return;
		meta = h->meta;
		if (s3_meta_new_token(meta.token) != 0)
			return;
		clock_gettime(CLOCK_REALTIME, &meta.mtime);
		meta.has_mtime = true;
		fs_upload_parent(h, meta.parent);
		h->up = streamup_start(ctx->s3, h->key, &meta, h->stage.fd,
				       ctx->opts.part_size,
				       ctx->opts.part_concurrency);
		if (h->up == NULL) {
			h->up_off = true;
			return;
		}
		fs_upload_cond(h, &cond);
		h->up_new = cond.if_none_match;
		snprintf(h->up_base, sizeof(h->up_base), "%s",
			 cond.if_match ? cond.if_match : "");
	}
	streamup_written(h->up, off, h->size);
	/* Once the server made it, the manifest names it: a mount that
	 * dies now leaves parts that recovery aborts. */
	if (h->upload_id == NULL && (id = streamup_upload_id(h->up)) != NULL) {
		h->upload_id = id;
		fs_handle_record(ctx, h, FS_STAGE_OPEN, NULL, false);
	}
}

/* Whether the stream can be the commit of @p h as it stands: nothing
 * broke it, the commit is a multipart upload of the same precondition,
 * parent and attributes (the mtime is the stream's unless one was set). */
static bool stream_fits(struct fs_ctx *ctx, struct fs_handle *h,
			const struct s3_write_cond *cond)
{
	const struct s3_meta *m = streamup_meta(h->up);
	const struct s3_meta *w = &h->meta;

	return !streamup_broken(h->up) && commit_is_multipart(ctx, h->size) &&
	       !h->mtime_explicit && h->up_new == cond->if_none_match &&
	       strcmp(h->up_base, cond->if_match ? cond->if_match : "") == 0 &&
	       strcmp(m->parent, w->parent) == 0 &&
	       m->has_mode == w->has_mode && (!w->has_mode || m->mode == w->mode) &&
	       m->has_uid == w->has_uid && (!w->has_uid || m->uid == w->uid) &&
	       m->has_gid == w->has_gid && (!w->has_gid || m->gid == w->gid);
}

/* Upload in parts, part_concurrency at a time; the precondition rides on
 * Complete. Only used where the server honours it, or where the user
 * accepted a HEAD check. The upload's id is in the manifest while it is
 * under way (@p sha256: the record costs no disk flush), so that the
 * recovery of a mount that dies meanwhile aborts it. */
static int commit_multipart(struct fs_ctx *ctx, struct fs_handle *h,
			    const struct s3_write_cond *cond,
			    const char *sha256, struct s3_object_info *info)
{
	uint64_t part = s3_mpu_part_size(h->size, ctx->opts.part_size);
	struct s3_part *parts = NULL;
	char *upload_id = NULL;
	size_t n = 0;
	int rc;

	rc = s3_mpu_create(ctx->s3, h->key, &h->meta, &upload_id, NULL);
	if (rc == 0) {
		h->upload_id = upload_id;
		rc = fs_handle_record(ctx, h, FS_STAGE_COMPLETE, sha256,
				      sha256 != NULL);
	}
	if (rc == 0)
		rc = s3_mpu_upload_fd(ctx->s3, h->key, upload_id, h->stage.fd,
				      h->size, part,
				      ctx->opts.part_concurrency, &parts, &n,
				      NULL);
	if (rc == 0)
		rc = s3_mpu_complete(ctx->s3, h->key, upload_id, parts, n,
				     cond, info, NULL);
	if (rc != 0 && upload_id != NULL)
		s3_mpu_abort(ctx->s3, h->key, upload_id, NULL);
	/* The next record (clean, or complete again after a failure) no
	 * longer names it. */
	h->upload_id = NULL;
	s3_mpu_parts_free(parts, n);
	free(upload_id);
	return rc;
}

/* The precondition check that must stand in for an ignored condition on
 * Complete (option nonatomic_multipart): a window remains between this
 * HEAD and the Complete, documented in the README. */
static int head_check(struct fs_ctx *ctx, struct fs_handle *h,
		      const struct s3_write_cond *cond)
{
	struct s3_object_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = s3_head_object(ctx->s3, h->key, NULL, &info, NULL);
	if (cond->if_none_match)
		return rc == -ENOENT ? 0 : (rc == 0 ? -EBUSY : rc);
	if (rc == -ENOENT)
		return -EBUSY;
	if (rc != 0)
		return rc;
	return s3_etag_equal(info.etag, cond->if_match) ? 0 : -EBUSY;
}

/* Complete the upload that went on behind the writer: its last parts
 * go up now, the precondition rides on Complete. A stream whose part
 * the server refused fails the commit with that errno, as a part of an
 * upload at commit would (sending it all again would be refused too);
 * one cut by the network (retries spent while the application was still
 * writing) is dropped, and the file uploaded from the staging file. */
static int commit_streamed(struct fs_ctx *ctx, struct fs_handle *h,
			   const struct s3_write_cond *cond,
			   const char *sha256, struct s3_object_info *info)
{
	const struct s3_part *parts = NULL;
	const char *upload_id = NULL;
	size_t n = 0;
	int rc;

	rc = streamup_finish(h->up, h->size, &upload_id, &parts, &n);
	if (rc != 0) {
		fs_upload_stream_drop(h);
		if (s3_errmap_refusal(rc))
			return rc;
		return commit_multipart(ctx, h, cond, sha256, info);
	}
	rc = s3_mpu_complete(ctx->s3, h->key, upload_id, parts, n, cond, info,
			     NULL);
	streamup_free(h->up, rc == 0);
	h->up = NULL;
	h->upload_id = NULL;
	return rc;
}

int fs_upload_commit(struct fs_ctx *ctx, struct fs_handle *h,
		     const struct s3_write_cond *cond, const char *sha256,
		     struct s3_object_info *info)
{
	bool atomic_mpu = ctx->caps.complete_conditional;

	if (h->size > ctx->opts.single_put_limit) {
		if (!atomic_mpu && !ctx->opts.nonatomic_multipart) {
			log_error("'%s': %llu bytes is more than one "
				  "conditional PUT can carry (%llu) and this "
				  "server ignores conditions on multipart "
				  "Complete: refused with EFBIG (option "
				  "nonatomic_multipart allows a HEAD-checked "
				  "commit)",
				  h->key, (unsigned long long)h->size,
				  (unsigned long long)
					  ctx->opts.single_put_limit);
			return -EFBIG;
		}
		if (!atomic_mpu) {
			int rc = head_check(ctx, h, cond);

			if (rc != 0)
				return rc;
		}
	}
	if (h->up != NULL)
		return commit_streamed(ctx, h, cond, sha256, info);
	if (commit_is_multipart(ctx, h->size))
		return commit_multipart(ctx, h, cond, sha256, info);
	return s3_put_object_hashed(ctx->s3, h->key, h->stage.fd, 0, h->size,
				    sha256, cond, &h->meta, info, NULL);
}

void fs_upload_stream_prepare(struct fs_ctx *ctx, struct fs_handle *h,
			      const struct s3_write_cond *cond)
{
	const struct s3_meta *m;

	if (h->up != NULL && !stream_fits(ctx, h, cond))
		fs_upload_stream_drop(h);
	if (h->up == NULL)
		return;
	m = streamup_meta(h->up);
	memcpy(h->meta.token, m->token, sizeof(h->meta.token));
	h->meta.mtime = m->mtime;
	h->meta.has_mtime = true;
	if (h->upload_id == NULL)
		h->upload_id = streamup_upload_id(h->up);
}
