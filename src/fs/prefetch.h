/**
 * @file prefetch.h
 * HEADs sent ahead of a walk over a directory listing.
 *
 * A listing gives each file's size, ETag and Last-Modified but not its
 * metadata (mode, owner, mtime in x-amz-meta-*), so `ls -l`, `find -ls`
 * or `du` over a listed directory would otherwise wait for one HEAD
 * after another. When files of one fresh listing are looked up without
 * metadata, a job sends the HEADs of the listing's next files from a few
 * threads at once, ahead of the walker; each lookup then takes its
 * answer from the attribute cache, or waits for it while it is in
 * flight.
 *
 * The job runs ahead only while it is used, like read-ahead: the first
 * lookup in a listing sends nothing ahead, the second (of another name:
 * the same one again is no walk) opens a window of
 * FS_PREFETCH_WINDOW_MIN entries, and every lookup the job answered
 * doubles the window (up to FS_PREFETCH_WINDOW_MAX); an answer that
 * expired before the walker came shrinks it. A walk of a large
 * directory outlasts its listing's TTL: the job goes on over the names
 * of the expired listing (what it fetches is fresh). A stat of one or
 * two files therefore costs at most a window of extra HEADs, never one
 * per entry of a large directory. Its threads exit when idle for a
 * second, and are joined (util/thread.h) by the next spawn or at
 * unmount.
 *
 * Answers are what fs_lookup_fresh() gives (one HEAD, filled into the
 * attribute cache and the metadata memo under the cache generations),
 * so a prefetched answer is never older than the attribute TTL allows.
 *
 * Locking: one mutex per mount, never held across a request. Any thread
 * may call.
 */
#ifndef ETAGFS_FS_PREFETCH_H
#define ETAGFS_FS_PREFETCH_H

#include "cache/attr_cache.h"

struct fs_ctx;
struct fs_prefetch;

#define FS_PREFETCH_WINDOW_MIN 32
#define FS_PREFETCH_WINDOW_MAX 1024
#define FS_PREFETCH_THREADS 16 /**< per job */
#define FS_PREFETCH_JOBS 8    /**< directories walked at once */

/** The mount's prefetcher, or NULL on -ENOMEM. */
struct fs_prefetch *fs_prefetch_new(void);

/** Stop every thread (waits for their requests in flight) and free. */
void fs_prefetch_free(struct fs_ctx *ctx, struct fs_prefetch *p);

/**
 * Look up file @p name of directory @p parent (path @p rel), which a
 * fresh listing names without metadata, as part of a possible walk.
 * With @p expired_ok the listing may have expired since (the lookup
 * found no fresh one): a walk already running over it goes on, none
 * starts. 0 with @p out filled, -ENOENT (gone since listed) or another
 * -errno from the server; -EAGAIN when the prefetcher did not answer
 * (the caller asks the server itself).
 */
int fs_prefetch_lookup(struct fs_ctx *ctx, const char *parent,
		       const char *name, const char *rel, bool expired_ok,
		       struct attr_entry *out);

/** A lookup of @p rel was answered by the attribute cache: when a job
 * fetched it, the walk goes on (the window widens). Cheap when no job
 * runs. */
void fs_prefetch_note_cached(struct fs_ctx *ctx, const char *rel);

/** Statistics for tests: HEADs the jobs sent ahead, and lookups they
 * answered. */
void fs_prefetch_counts(struct fs_prefetch *p, unsigned long *sent,
			unsigned long *answered);

#endif
