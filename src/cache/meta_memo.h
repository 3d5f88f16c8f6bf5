/**
 * @file meta_memo.h
 * The metadata (mode, owner, mtime, symlink type) last read for each
 * object version, so that a directory listing, which carries only key,
 * size, ETag and Last-Modified, can show exact attributes for objects
 * this mount has seen before without a HEAD per entry.
 *
 * A memo is keyed by path and valid only for the version it was read
 * from: a lookup must present the ETag and Last-Modified the listing
 * gives, and any difference (new content, or a metadata rewrite, which
 * changes Last-Modified) misses. Entries have no TTL: a version's
 * metadata never changes. The memo is bounded (least recently used
 * evicted first).
 *
 * Locking: one mutex, taken inside each function. Any thread may call.
 */
#ifndef ETAGFS_CACHE_META_MEMO_H
#define ETAGFS_CACHE_META_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "s3/meta.h"

struct meta_memo;

/** A memo of at most @p max_entries paths (0: disabled, every lookup
 * misses). NULL on -ENOMEM. */
struct meta_memo *meta_memo_new(size_t max_entries);
void meta_memo_free(struct meta_memo *m);

/** Remember that version (@p etag, @p last_modified) of @p path carries
 * @p meta. An empty @p etag is not remembered (nothing to check it by). */
void meta_memo_put(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, const struct s3_meta *meta);

/** The metadata of version (@p etag, @p last_modified) of @p path into
 * @p out. false when that exact version is not remembered. */
bool meta_memo_get(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, struct s3_meta *out);

/** Number of paths remembered (tests, statistics). */
size_t meta_memo_count(struct meta_memo *m);

#endif
