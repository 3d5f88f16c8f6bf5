/*
 * Attribute cache: path -> struct attr_entry with a TTL, bounded in size.
 *
 * Locking: one mutex (c->lock) protects everything in struct attr_cache.
 * It is taken on entry to each public function and released before
 * return; no callback runs under it except the clock, which must be
 * thread-safe and must not call back into the cache. There is no other
 * lock, so there is no lock order to respect. All functions may run in
 * parallel from any thread; they serialise on the mutex.
 *
 * Layout: entries live in a cache_table (table.h: a hash table plus an
 * age list in insertion order; a put moves an entry to the young end).
 * Eviction at max_entries takes the oldest entry; with one TTL for all
 * entries the oldest is also the one that expires first, so eviction by
 * age never throws away a fresher entry than it keeps.
 *
 * Hints: an expired entry is no answer, but it still says what the name
 * was (file, directory, absent), which tells a lookup which request to
 * send first (fs/lookup.c). So expired entries stay until evicted, or
 * until more than ATTR_HINTS_MAX entries are held, when the expired ones
 * go oldest first as they used to.
 *
 * Stale fills: generations count invalidations. attr_cache_gen() returns
 * the current generation g; an invalidation stamps its tombstone with the
 * current generation and then increments it. A fill with generation g is
 * dropped when a tombstone covering its path carries a generation >= g,
 * i.e. the invalidation happened after the fill was started. Per-path
 * tombstones and the floor are the shared cache_table_guard (table.h);
 * tree tombstones (a renamed or removed directory covers everything
 * below it) are a short list here.
 *
 * Tombstones are bounded in number and lifetime. When one disappears
 * (expired after max(2 * ttl, 5 s), or evicted because there are too
 * many) its generation is folded into floor_gen and every fill with a
 * generation <= floor_gen is dropped. This keeps the guard exact without
 * relying on requests finishing within the tombstone lifetime: a fill
 * that old only loses the chance to be cached.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/attr_cache.h"
#include "cache/table.h"
#include "util/clock.h"

/* Shortest tombstone lifetime: covers a slow request at small TTLs. */
#define ATTR_TOMB_MIN_MS 5000u
/* Fewest per-path tombstones kept before eviction raises the floor. */
#define ATTR_TOMBS_MIN 1024u
/* Tree tombstones (directory renames/removals) are rare; a short list. */
#define ATTR_TREE_TOMBS_MAX 32u
#define ATTR_BUCKETS_MIN 64u
/* Expired entries kept as hints of what a name was, at most: about
 * 1.7 MB, where keeping all would let one walk pin 100,000 entries. */
#define ATTR_HINTS_MAX 4096u

struct attr_node {
	struct cache_table_node h;
	struct attr_entry e;
};

struct tree_tomb {
	char *prefix;
	size_t len;
	uint64_t gen;
	uint64_t expires_ms;
};

struct attr_cache {
	pthread_mutex_t lock;
	cache_clock_fn clock;
	unsigned ttl_ms;
	size_t max_entries;
	struct cache_table entries;
	struct cache_table_guard guard; /* generations, per-path tombstones */
	struct tree_tomb trees[ATTR_TREE_TOMBS_MAX]; /* oldest first */
	size_t n_trees;
};

/* "a" covers "a" and "a/x" but not "ab"; "" covers everything. */
static bool path_under(const char *path, const char *prefix, size_t len)
{
	if (len == 0)
		return true;
	return strncmp(path, prefix, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/');
}

/* Unlink and free @p n. */
static void entry_remove(struct attr_cache *c, struct cache_table_node *n)
{
	cache_table_unlink(&c->entries, n);
	free(n);
}

/* ------------------------------------------------------- tombstones */

static void tree_tomb_drop_oldest(struct attr_cache *c)
{
	cache_table_guard_raise_floor(&c->guard, c->trees[0].gen);
	free(c->trees[0].prefix);
	c->n_trees--;
	memmove(&c->trees[0], &c->trees[1], c->n_trees * sizeof(c->trees[0]));
}

/* Like the per-path tombstones, tree tombstones expire oldest first. */
static void purge_tombs(struct attr_cache *c, uint64_t now)
{
	cache_table_guard_purge(&c->guard, now);
	while (c->n_trees && c->trees[0].expires_ms <= now)
		tree_tomb_drop_oldest(c);
}

static void add_tree_tomb(struct attr_cache *c, const char *prefix,
			  uint64_t now)
{
	size_t len = strlen(prefix);
	struct tree_tomb tt;
	size_t i;

	for (i = 0; i < c->n_trees; i++) {
		if (c->trees[i].len == len &&
		    memcmp(c->trees[i].prefix, prefix, len) == 0)
			break;
	}
	if (i < c->n_trees) {
		/* Re-stamp and move to the young end to keep expiry order. */
		tt = c->trees[i];
		memmove(&c->trees[i], &c->trees[i + 1],
			(c->n_trees - i - 1) * sizeof(tt));
		c->n_trees--;
	} else {
		tt.prefix = malloc(len + 1);
		if (!tt.prefix) {
			cache_table_guard_raise_floor(&c->guard, c->guard.gen);
			return;
		}
		memcpy(tt.prefix, prefix, len + 1);
		tt.len = len;
		if (c->n_trees == ATTR_TREE_TOMBS_MAX)
			tree_tomb_drop_oldest(c);
	}
	tt.gen = c->guard.gen;
	tt.expires_ms = now + c->guard.tomb_ms;
	c->trees[c->n_trees++] = tt;
}

static bool fill_is_stale(const struct attr_cache *c, const char *path,
			  uint64_t hash, uint64_t gen)
{
	size_t i;

	if (cache_table_guard_blocks(&c->guard, path, hash, gen))
		return true;
	for (i = 0; i < c->n_trees; i++) {
		if (gen <= c->trees[i].gen &&
		    path_under(path, c->trees[i].prefix, c->trees[i].len))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------- API */

struct attr_cache *attr_cache_new(unsigned ttl_ms, size_t max_entries,
				  cache_clock_fn clock)
{
	struct attr_cache *c = NULL;
	bool locked = false;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto fail;
	locked = true;
	if (cache_table_init(&c->entries, ATTR_BUCKETS_MIN) < 0 ||
	    cache_table_guard_init(&c->guard, ttl_ms, ATTR_TOMB_MIN_MS,
				   max_entries, ATTR_TOMBS_MIN,
				   ATTR_BUCKETS_MIN) < 0)
		goto fail;
	c->clock = clock ? clock : clock_monotonic_ms;
	c->ttl_ms = ttl_ms;
	c->max_entries = max_entries;
	return c;

fail:
	if (c) {
		cache_table_fini(&c->entries);
		cache_table_guard_fini(&c->guard);
		if (locked)
			pthread_mutex_destroy(&c->lock);
		free(c);
	}
	return NULL;
}

void attr_cache_free(struct attr_cache *c)
{
	size_t i;

	if (!c)
		return;
	while (c->entries.oldest)
		entry_remove(c, c->entries.oldest);
	cache_table_fini(&c->entries);
	cache_table_guard_fini(&c->guard);
	for (i = 0; i < c->n_trees; i++)
		free(c->trees[i].prefix);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t attr_cache_gen(struct attr_cache *c)
{
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	gen = c->guard.gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

bool attr_cache_get(struct attr_cache *c, const char *path,
		    struct attr_entry *out)
{
	struct attr_node *n;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	n = (struct attr_node *)cache_table_find(&c->entries, path,
						 cache_table_hash(path));
	if (!n)
		goto out;
	if (c->clock() >= n->h.expires_ms)
		goto out; /* kept as a hint (attr_cache_hint) */
	*out = n->e;
	found = true;
out:
	pthread_mutex_unlock(&c->lock);
	return found;
}

bool attr_cache_hint(struct attr_cache *c, const char *path,
		     enum attr_kind *kind)
{
	struct attr_node *n;

	pthread_mutex_lock(&c->lock);
	n = (struct attr_node *)cache_table_find(&c->entries, path,
						 cache_table_hash(path));
	if (n)
		*kind = n->e.kind;
	pthread_mutex_unlock(&c->lock);
	return n != NULL;
}

void attr_cache_put(struct attr_cache *c, const char *path,
		    const struct attr_entry *e, uint64_t gen)
{
	uint64_t hash = cache_table_hash(path);
	struct attr_node *n;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	if (c->ttl_ms == 0 || c->max_entries == 0)
		goto out;
	now = c->clock();
	purge_tombs(c, now);
	if (fill_is_stale(c, path, hash, gen))
		goto out;
	/* Expired entries sit at the old end; they stay as hints while
	 * the cache holds no more than ATTR_HINTS_MAX entries. */
	while (c->entries.oldest && c->entries.oldest->expires_ms <= now &&
	       c->entries.count > ATTR_HINTS_MAX)
		entry_remove(c, c->entries.oldest);

	n = (struct attr_node *)cache_table_find(&c->entries, path, hash);
	if (n) {
		/* An answer to a request started later already arrived. */
		if (n->h.gen > gen)
			goto out;
		cache_table_touch(&c->entries, &n->h);
	} else {
		n = (struct attr_node *)cache_table_node_new(sizeof(*n), path);
		if (!n)
			goto out;
		cache_table_insert(&c->entries, &n->h);
	}
	n->e = *e;
	n->h.gen = gen;
	n->h.expires_ms = now + c->ttl_ms;
	while (c->entries.count > c->max_entries)
		entry_remove(c, c->entries.oldest);
out:
	pthread_mutex_unlock(&c->lock);
}

void attr_cache_invalidate(struct attr_cache *c, const char *path)
{
	struct cache_table_node *n;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	n = cache_table_find(&c->entries, path, cache_table_hash(path));
	if (n)
		entry_remove(c, n);
	if (c->ttl_ms && c->max_entries) {
		now = c->clock();
		purge_tombs(c, now);
		cache_table_guard_stamp(&c->guard, path, now);
	}
	c->guard.gen++;
	pthread_mutex_unlock(&c->lock);
}

void attr_cache_invalidate_tree(struct attr_cache *c, const char *path)
{
	size_t len = strlen(path);
	struct cache_table_node *n, *newer;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	for (n = c->entries.oldest; n; n = newer) {
		newer = n->newer;
		if (path_under(n->path, path, len))
			entry_remove(c, n);
	}
	if (c->ttl_ms && c->max_entries) {
		now = c->clock();
		purge_tombs(c, now);
		if (len == 0) /* the whole tree */
			cache_table_guard_raise_floor(&c->guard,
						      c->guard.gen);
		else
			add_tree_tomb(c, path, now);
	}
	c->guard.gen++;
	pthread_mutex_unlock(&c->lock);
}
