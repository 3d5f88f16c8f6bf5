/*
 * The upload half of a commit, shared by the files of the handle module
 * (handle.c, handle_upload.c) and nothing else: see handle.h for the
 * module's contract. The caller holds h->lock for every function here.
 */
#ifndef ETAGFS_FS_HANDLE_INT_H
#define ETAGFS_FS_HANDLE_INT_H

#include "fs/handle.h"

/** Tell the manifest where the handle stands (see staging.h); COMPLETE
 * with the content's hash @p sha256 (or NULL), flushed unless @p lazy. */
int fs_handle_record(struct fs_ctx *ctx, struct fs_handle *h,
		     enum fs_stage_state state, const char *sha256, bool lazy);

/** The precondition a commit of @p h carries now. */
void fs_upload_cond(const struct fs_handle *h, struct s3_write_cond *cond);

/** The version a commit of @p h replaces, named in its metadata, so that
 * a writer whose response to this commit is lost can still tell it
 * landed after a third writer replaced it (doc/internals/retries.md). */
void fs_upload_parent(const struct fs_handle *h,
		      char parent[S3_TOKEN_LEN + 1]);

/** A write at @p off went to the staging file (h->size is the content's
 * size after it): feed the stream behind the writer, or start one
 * (fs/streamup.h). */
void fs_upload_track(struct fs_ctx *ctx, struct fs_handle *h, uint64_t off);

/** Before a commit with @p cond: keep the stream only if it is that
 * commit, and then adopt its token and mtime; drop it otherwise. */
void fs_upload_stream_prepare(struct fs_ctx *ctx, struct fs_handle *h,
			      const struct s3_write_cond *cond);

/** Abandon the stream (its upload is aborted): the commit uploads from
 * the staging file, and no stream starts again before it. */
void fs_upload_stream_drop(struct fs_handle *h);

/** Send the staged content with @p cond: one PUT, a multipart upload
 * (HEAD-checked where the server ignores Complete's condition), or the
 * stream's completion. 0 or -errno (-EBUSY: the condition failed). */
int fs_upload_commit(struct fs_ctx *ctx, struct fs_handle *h,
		     const struct s3_write_cond *cond, const char *sha256,
		     struct s3_object_info *info);

#endif
