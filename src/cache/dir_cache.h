/**
 * @file dir_cache.h
 * Complete listings of directories with a short TTL: readdir serves
 * them, and a lookup of a name in a fresh complete listing is answered
 * without a request (including "does not exist").
 *
 * Locking: one mutex per cache, taken only inside these functions.
 * Snapshots are reference-counted and immutable, so readdir can walk one
 * without holding the lock. Stale fills are guarded by generations as in
 * attr_cache.h.
 */
#ifndef ETAGFS_CACHE_DIR_CACHE_H
#define ETAGFS_CACHE_DIR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/attr_cache.h"

struct dir_entry {
	char *name; /**< one path component, never "", "." or ".." */
	struct attr_entry attr;
};

/** An immutable listing, sorted by name (strcmp), names unique. */
struct dir_snapshot {
	size_t n;
	struct dir_entry *entries;
	int refs; /**< managed by the cache */
};

struct dir_cache;

struct dir_cache *dir_cache_new(unsigned ttl_ms, size_t max_dirs,
				cache_clock_fn clock);
void dir_cache_free(struct dir_cache *c);

uint64_t dir_cache_gen(struct dir_cache *c);

/**
 * Store the complete listing of @p dir ("" is the root). Takes ownership
 * of @p entries (an array of @p n entries from malloc, names from malloc)
 * in every case; sorts it and drops duplicate names (a directory wins
 * over a file of the same name). Dropped when @p dir was invalidated at
 * or after @p gen.
 */
void dir_cache_put_take(struct dir_cache *c, const char *dir,
			struct dir_entry *entries, size_t n, uint64_t gen);

/** A fresh listing of @p dir (release it with dir_snapshot_release()),
 * or NULL. */
struct dir_snapshot *dir_cache_get(struct dir_cache *c, const char *dir);
void dir_snapshot_release(struct dir_cache *c, struct dir_snapshot *s);

/** Index of @p name in @p s, or -(insertion point) - 1. */
long dir_snapshot_find(const struct dir_snapshot *s, const char *name);

enum dir_lookup {
	DIR_LOOKUP_UNKNOWN, /**< no fresh listing of the directory */
	DIR_LOOKUP_FOUND,   /**< @p out filled */
	DIR_LOOKUP_ABSENT,  /**< a fresh complete listing lacks the name */
};
enum dir_lookup dir_cache_lookup(struct dir_cache *c, const char *dir,
				 const char *name, struct attr_entry *out);

/** The mount itself added or replaced @p name in @p dir: update a cached
 * listing in place (no effect when @p dir is not cached). */
void dir_cache_note_added(struct dir_cache *c, const char *dir,
			  const char *name, const struct attr_entry *attr);
/** The mount itself removed @p name from @p dir. */
void dir_cache_note_removed(struct dir_cache *c, const char *dir,
			    const char *name);
/**
 * A lookup of a name in @p dir had to ask the server (no fresh listing).
 * True when listing @p dir instead pays: this is the second such lookup
 * within a second (cp, tar, rsync and git look up name after name), and
 * @p dir was not found too large to list within the last minute.
 */
bool dir_cache_note_miss(struct dir_cache *c, const char *dir);
/** @p dir has more entries than one listing page: no listing for single
 * lookups in it for a minute. */
void dir_cache_note_large(struct dir_cache *c, const char *dir);
/** Was @p dir found too large to list within the last minute? */
bool dir_cache_is_large(struct dir_cache *c, const char *dir);

/** Forget the listing of @p dir. */
void dir_cache_invalidate(struct dir_cache *c, const char *dir);
/** Forget every listing (after a directory rename). */
void dir_cache_invalidate_all(struct dir_cache *c);

void dir_entries_free(struct dir_entry *entries, size_t n);

/** Sort by name, drop duplicates (a directory wins over a file of the
 * same name) and names that cannot be a component; frees what it drops
 * and returns the new count. What dir_cache_put_take() does itself. */
size_t dir_entries_normalise(struct dir_entry *entries, size_t n);

#endif
