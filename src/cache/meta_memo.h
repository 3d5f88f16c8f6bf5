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
#include "util/buf.h"

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

/**
 * Write every remembered version to @p out in the memo file format,
 * least recently used first, after a header line naming @p id (the
 * endpoint, bucket and prefix the paths belong to). A later mount reads
 * it back with meta_memo_read(), so that its first `ls -l` of a
 * directory it has seen before needs no HEAD per file. 0 or -errno
 * (-E2BIG past @p out's bound).
 */
int meta_memo_write(struct meta_memo *m, const char *id, struct buf *out);

/**
 * Remember the versions of memo file text @p text (NUL-terminated) whose
 * header names @p id. The text comes from disk and may be torn or edited:
 * malformed lines are skipped and counted in *@p skipped. Returns the
 * number of versions added, or -EINVAL when the header is missing or
 * names another id (nothing added).
 */
long meta_memo_read(struct meta_memo *m, const char *id, const char *text,
		    size_t *skipped);

/** Number of paths remembered (tests, statistics). */
size_t meta_memo_count(struct meta_memo *m);

#endif
