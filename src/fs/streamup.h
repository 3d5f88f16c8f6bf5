/**
 * @file streamup.h
 * Upload while the application is still writing: the parts of a
 * multipart upload go up as soon as the writer has passed them.
 *
 * Used only where the commit of the file is a multipart upload anyway
 * (a server that honours the condition on Complete, or the user's
 * nonatomic_multipart past single_put_limit), so the precondition still
 * rides on the one request that publishes the object: Complete. Nothing
 * is visible on the server before it; a stream that is not completed is
 * aborted.
 *
 * The upload fixes the object's metadata (mode, owner, mtime, commit
 * token) when it is created, so the mtime of a streamed file is the time
 * its upload began. The caller compares at commit and falls back to an
 * upload from the staging file when anything it would write differs.
 *
 * A write below what is already handed to the uploaders, or a truncate
 * below it, breaks the stream: its parts no longer hold the content.
 * The content is read back from the staging file (a dup of the handle's
 * descriptor), never buffered in memory. Workers are this module's own
 * threads and never take the handle's lock: the writer only signals.
 */
#ifndef ETAGFS_FS_STREAMUP_H
#define ETAGFS_FS_STREAMUP_H

#include <stdbool.h>
#include <stdint.h>

#include "s3/client.h"
#include "s3/meta.h"

struct streamup;

/**
 * Start streaming @p fd (duplicated here) as a multipart upload of
 * @p key with @p meta, in parts of @p part_size bytes, up to
 * @p concurrency in flight. Returns at once: the upload is created by a
 * worker. NULL when memory, a descriptor or a thread is lacking (the
 * file is then uploaded at commit, as without a stream).
 */
struct streamup *streamup_start(struct s3_client *c, const char *key,
				const struct s3_meta *meta, int fd,
				uint64_t part_size, int concurrency);

/** The writer wrote at @p off; the content is now @p size bytes. Hands
 * finished parts to the workers, or breaks the stream when the write
 * touched bytes already handed to them. */
void streamup_written(struct streamup *s, uint64_t off, uint64_t size);

/** The content was cut or extended to @p size (truncate). */
void streamup_truncated(struct streamup *s, uint64_t size);

/** A write or truncate broke the stream: it can no longer become the
 * file. (A failed request is not a break: streamup_finish() reports it,
 * for the commit to report or to start over.) */
bool streamup_broken(struct streamup *s);

/** The metadata the upload was created with. */
const struct s3_meta *streamup_meta(const struct streamup *s);

/** The upload's id once the server made it, else NULL (owned by @p s). */
const char *streamup_upload_id(struct streamup *s);

/**
 * Upload what is left of [0, @p size) and wait for every part. On
 * success *@p upload_id and *@p parts (n of them, in order) are for
 * s3_mpu_complete() and stay owned by @p s. Otherwise the errno of the
 * first request that failed (Create or a part), or -EIO when broken.
 */
int streamup_finish(struct streamup *s, uint64_t size,
		    const char **upload_id, const struct s3_part **parts,
		    size_t *n);

/** Stop and join the workers, abort the upload unless @p completed
 * (Complete succeeded), and free. NULL is ignored. */
void streamup_free(struct streamup *s, bool completed);

#endif
