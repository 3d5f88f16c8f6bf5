/**
 * @file table.h
 * The path-keyed table both caches are built on, and the stale-fill
 * guard (generations, tombstones, floor) they share.
 *
 * A table is a hash table (FNV-1a over the path, chained, power-of-two
 * buckets that double as it fills) whose nodes are also on an age list
 * in insertion order, so that the oldest node is found in O(1) for
 * eviction and expiry. Nodes carry their path right behind the caller's
 * struct (one allocation each).
 *
 * Locking: none. A table or guard belongs to one cache, and that cache's
 * mutex is held around every call.
 */
#ifndef ETAGFS_CACHE_TABLE_H
#define ETAGFS_CACHE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Common head of every node: hash chain plus age list. Embed it first
 * in the caller's struct. */
struct cache_table_node {
	struct cache_table_node *hnext;
	struct cache_table_node *older, *newer;
	uint64_t hash;
	uint64_t expires_ms; /**< entry: end of TTL; tombstone: end of life */
	uint64_t gen;	     /**< entry: fill generation; tombstone: stamp */
	const char *path;    /**< stored right after the containing struct */
};

struct cache_table {
	struct cache_table_node **buckets;
	size_t n_buckets; /**< power of two */
	size_t count;
	struct cache_table_node *oldest, *newest;
};

/** FNV-1a over the bytes of @p path. */
uint64_t cache_table_hash(const char *path);

/** An empty table with @p min_buckets (a power of two) buckets.
 * 0 or -ENOMEM. */
int cache_table_init(struct cache_table *t, size_t min_buckets);

/** Free the buckets; the caller has removed (and freed) every node. */
void cache_table_fini(struct cache_table *t);

/**
 * A zeroed node of @p size bytes (the caller's struct, which starts with
 * struct cache_table_node) with a copy of @p path stored behind it and
 * its hash set; not linked. Free with free(). NULL on -ENOMEM.
 */
struct cache_table_node *cache_table_node_new(size_t size, const char *path);

/** The node for @p path (whose hash is @p hash), or NULL. */
struct cache_table_node *cache_table_find(const struct cache_table *t,
					  const char *path, uint64_t hash);

/** Link @p n at the young end. When the buckets cannot grow, chains just
 * get longer. */
void cache_table_insert(struct cache_table *t, struct cache_table_node *n);

/** Move @p n to the young end. */
void cache_table_touch(struct cache_table *t, struct cache_table_node *n);

/** Unlink @p n; the caller frees it. */
void cache_table_unlink(struct cache_table *t, struct cache_table_node *n);

/** Unlink and free the oldest node, for tables whose nodes are single
 * allocations of cache_table_node_new() owning nothing else. */
void cache_table_drop_oldest(struct cache_table *t);

/** cache_table_drop_oldest() until the table is empty. */
void cache_table_drop_all(struct cache_table *t);

/**
 * Stale-fill guard. Generations count invalidations: a fill takes the
 * current generation g before it asks the server; an invalidation stamps
 * a tombstone for its path with the current generation and then the
 * cache increments gen. A fill with generation g is stale when a
 * tombstone for its path carries a stamp >= g, or when g <= floor_gen.
 *
 * Tombstones are bounded in number (max_tombs) and lifetime (tomb_ms).
 * One that disappears folds its stamp into floor_gen, which keeps the
 * guard exact without relying on requests finishing within tomb_ms: a
 * fill that old only loses the chance to be cached.
 */
struct cache_table_guard {
	uint64_t gen;	    /**< current generation, starts at 1 */
	uint64_t floor_gen; /**< fills with gen <= this are stale */
	uint64_t tomb_ms;   /**< lifetime of a tombstone */
	size_t max_tombs;
	struct cache_table tombs; /**< bare nodes, oldest first */
};

/**
 * A guard at generation 1 for a cache with entries living @p ttl_ms and
 * at most @p max_entries of them. Tombstones live twice the TTL, at least
 * @p min_tomb_ms (a slow request at a small TTL must still be caught),
 * and number at most max(@p max_entries, @p min_tombs). 0 or -ENOMEM.
 */
int cache_table_guard_init(struct cache_table_guard *g, unsigned ttl_ms,
			   uint64_t min_tomb_ms, size_t max_entries,
			   size_t min_tombs, size_t min_buckets);
/** Free the tombstones; also fine on a zeroed, never initialised guard. */
void cache_table_guard_fini(struct cache_table_guard *g);

/** Make every fill with a generation <= @p gen stale. */
void cache_table_guard_raise_floor(struct cache_table_guard *g,
				   uint64_t gen);

/** Drop the tombstones expired at @p now (raising the floor). */
void cache_table_guard_purge(struct cache_table_guard *g, uint64_t now);

/** Drop every tombstone (raising the floor past each). */
void cache_table_guard_clear(struct cache_table_guard *g);

/** Stamp a tombstone for @p path with the current generation, living
 * until @p now + tomb_ms; does not advance the generation. When memory
 * is short the floor is raised instead, which blocks more, never less. */
void cache_table_guard_stamp(struct cache_table_guard *g, const char *path,
			     uint64_t now);

/** Is a fill of @p path (hash @p hash) with generation @p gen stale by
 * the floor or by a tombstone for exactly @p path? */
bool cache_table_guard_blocks(const struct cache_table_guard *g,
			      const char *path, uint64_t hash, uint64_t gen);

#endif
