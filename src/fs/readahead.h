/**
 * @file readahead.h
 * Sequential reads of a snapshot, served from large ranged GETs with the
 * next ones already in flight.
 *
 * A reader that moves forward sequentially gets chunks that double from
 * 1 MiB up to 16 MiB, each one GET with If-Match of the snapshot; while
 * it consumes a chunk the next is fetched by a helper thread, the next
 * three once chunks are 16 MiB (several connections busy: a reader
 * faster than one GET stream, or a server far away). Random
 * access fetches only what is asked for. Memory is bounded per mount
 * (FS_READAHEAD_BUDGET): beyond it, reads go straight to the server.
 *
 * Locking: the owning handle's lock is held around every call; a
 * prefetch thread only writes its own job and is joined before the job
 * is read or freed.
 */
#ifndef ETAGFS_FS_READAHEAD_H
#define ETAGFS_FS_READAHEAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/ctx.h"

/** Bytes of read-ahead buffers one mount may hold at once. */
#define FS_READAHEAD_BUDGET (256u << 20)

struct fs_readahead;

/** NULL on -ENOMEM. */
struct fs_readahead *fs_readahead_new(void);
/** Wait for a prefetch in flight and free everything (NULL-safe). */
void fs_readahead_free(struct fs_ctx *ctx, struct fs_readahead *ra);
/** Drop buffered bytes (the snapshot changed). */
void fs_readahead_reset(struct fs_ctx *ctx, struct fs_readahead *ra);

/**
 * Read [off, off+size) of @p key at @p etag, an object of @p obj_size
 * bytes. Returns the number of bytes copied into @p buf (short only at
 * the end of the object) or a negative errno (-ESTALE: the version is
 * gone).
 */
ssize_t fs_readahead_read(struct fs_ctx *ctx, struct fs_readahead *ra,
			  const char *key, const char *etag,
			  uint64_t obj_size, char *buf, size_t size,
			  off_t off);

#endif
