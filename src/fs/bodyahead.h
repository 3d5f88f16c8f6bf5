/**
 * @file bodyahead.h
 * Bodies of small files fetched ahead of a reader that reads the files
 * of a listed directory one after another (`cat` of a glob, `cp -r`,
 * `tar c`, `grep -r`), into the body cache (cache/body_cache.h).
 *
 * Without it such a reader waits for one GET per file, in turn. The
 * walk is seen in the reads that reach the server (a file the kernel
 * has in its page cache never gets here, so a warm walk fetches
 * nothing): when the first read of a file follows, in the order of its
 * directory's fresh listing, the first read of the file before it, the
 * next small files (up to FS_BODYAHEAD_MAX_SIZE) are fetched by a few
 * threads, FS_BODYAHEAD_WINDOW_MIN at first, twice as many at each
 * further step of the walk, up to FS_BODYAHEAD_WINDOW_MAX. Each fetch
 * is a GET with If-Match of the ETag the listing gives, so a body held
 * is exactly that version's; a handle uses it only for that version.
 *
 * One walk at a time per mount: a read elsewhere that is not the next
 * step starts a new walk (the old one's queued fetches are dropped).
 *
 * Locking: one mutex per mount, never held across a request. Any
 * thread may call.
 */
#ifndef ETAGFS_FS_BODYAHEAD_H
#define ETAGFS_FS_BODYAHEAD_H

#include <stdbool.h>

struct fs_ctx;
struct fs_bodyahead;

#define FS_BODYAHEAD_MAX_SIZE (64u << 10) /**< bodies of files this small */
#define FS_BODYAHEAD_CACHE (16u << 20)	  /**< bytes of bodies held */
#define FS_BODYAHEAD_THREADS 8
#define FS_BODYAHEAD_WINDOW_MIN 16
#define FS_BODYAHEAD_WINDOW_MAX 256

/** NULL on -ENOMEM. */
struct fs_bodyahead *fs_bodyahead_new(void);
/** Stop the threads (waits for their requests in flight) and free. */
void fs_bodyahead_free(struct fs_ctx *ctx, struct fs_bodyahead *b);

/** The first bytes of small file @p rel are about to be read from the
 * server (or the body cache): a step of a walk, perhaps. */
void fs_bodyahead_note_read(struct fs_ctx *ctx, const char *rel);

/** When a fetch of @p rel is in flight, wait for it: true (the body
 * cache may now hold it). A fetch only queued is dropped instead, and
 * false: the caller reads for itself sooner than a thread would. */
bool fs_bodyahead_wait(struct fs_ctx *ctx, const char *rel);

/** Statistics for tests: bodies fetched ahead. */
unsigned long fs_bodyahead_sent(struct fs_bodyahead *b);

#endif
