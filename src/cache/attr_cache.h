/**
 * @file attr_cache.h
 * Attributes of paths (present or known absent) with a short TTL.
 *
 * Locking: one mutex per cache, taken only inside these functions; no
 * callback runs under it. Any thread may call any function.
 *
 * Stale fills: a lookup that goes to the server takes attr_cache_gen()
 * before sending; its answer is stored with that generation and dropped
 * when the path was invalidated after it (a concurrent local change
 * would otherwise be hidden by an older answer). Invalidation leaves a
 * short-lived tombstone carrying the generation for this purpose.
 */
#ifndef ETAGFS_CACHE_ATTR_CACHE_H
#define ETAGFS_CACHE_ATTR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "s3/http.h" /* S3_ETAG_MAX */
#include "s3/meta.h"

enum attr_kind {
	ATTR_ABSENT, /**< known not to exist (negative entry) */
	ATTR_FILE,   /**< an object (regular file or symlink, see meta) */
	ATTR_DIR,    /**< a "dir/" marker object or a common prefix */
};

struct attr_entry {
	enum attr_kind kind;
	bool dir_marker; /**< ATTR_DIR backed by a "dir/" object */
	uint64_t size;
	char etag[S3_ETAG_MAX]; /**< "" for implicit directories */
	time_t last_modified;
	bool meta_known; /**< meta was read (HEAD); a listing has none */
	struct s3_meta meta;
	time_t read_at; /**< server clock when meta was read (0: unknown) */
};

struct attr_cache;

/** Clock in milliseconds (monotonic); tests pass their own. */
typedef uint64_t (*cache_clock_fn)(void);

/** A cache whose entries live @p ttl_ms (0 disables caching) with at most
 * @p max_entries (oldest evicted first). @p clock NULL: CLOCK_MONOTONIC.
 * NULL on -ENOMEM. */
struct attr_cache *attr_cache_new(unsigned ttl_ms, size_t max_entries,
				  cache_clock_fn clock);
void attr_cache_free(struct attr_cache *c);

/** The generation to pass to attr_cache_put() for a fill started now. */
uint64_t attr_cache_gen(struct attr_cache *c);

/** Copy a fresh entry for @p path into @p out. false when none. */
bool attr_cache_get(struct attr_cache *c, const char *path,
		    struct attr_entry *out);

/** What @p path was when last known, fresh or expired (a hint, never an
 * answer): the kind into @p kind, or false when nothing is known. */
bool attr_cache_hint(struct attr_cache *c, const char *path,
		     enum attr_kind *kind);

/** Store @p e for @p path unless @p path was invalidated at or after
 * generation @p gen. */
void attr_cache_put(struct attr_cache *c, const char *path,
		    const struct attr_entry *e, uint64_t gen);

/** Forget @p path (and block older fills). */
void attr_cache_invalidate(struct attr_cache *c, const char *path);

/** Forget @p path and every path below it ("dir" drops "dir/..."). */
void attr_cache_invalidate_tree(struct attr_cache *c, const char *path);

#endif
