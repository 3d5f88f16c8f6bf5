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
 * Layout: entries live in a hash table (FNV-1a over the path, chained,
 * power-of-two buckets that double as it fills) and on an age list in
 * insertion order (a put moves an entry to the young end). Eviction at
 * max_entries takes the oldest entry; with one TTL for all entries the
 * oldest is also the one that expires first, so eviction by age never
 * throws away a fresher entry than it keeps.
 *
 * Stale fills: generations count invalidations. attr_cache_gen() returns
 * the current generation g; an invalidation stamps its tombstone with the
 * current generation and then increments it. A fill with generation g is
 * dropped when a tombstone covering its path carries a generation >= g,
 * i.e. the invalidation happened after the fill was started.
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

/* Shortest tombstone lifetime: covers a slow request at small TTLs. */
#define ATTR_TOMB_MIN_MS 5000u
/* Fewest per-path tombstones kept before eviction raises the floor. */
#define ATTR_TOMBS_MIN 1024u
/* Tree tombstones (directory renames/removals) are rare; a short list. */
#define ATTR_TREE_TOMBS_MAX 32u
#define ATTR_BUCKETS_MIN 64u

/* Common head of entries and tombstones: hash chain plus age list. */
struct hnode {
	struct hnode *hnext;
	struct hnode *older, *newer;
	uint64_t hash;
	uint64_t expires_ms; /* entry: end of TTL; tombstone: end of life */
	uint64_t gen;	     /* entry: fill generation; tombstone: stamp */
	const char *path;    /* stored right after the containing struct */
};

struct attr_node {
	struct hnode h;
	struct attr_entry e;
};

struct table {
	struct hnode **buckets;
	size_t n_buckets; /* power of two */
	size_t count;
	struct hnode *oldest, *newest;
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
	uint64_t tomb_ms;
	size_t max_entries;
	size_t max_tombs;
	uint64_t gen;	    /* current generation, starts at 1 */
	uint64_t floor_gen; /* fills with gen <= this are dropped */
	struct table entries;
	struct table tombs; /* bare struct hnode, oldest first */
	struct tree_tomb trees[ATTR_TREE_TOMBS_MAX]; /* oldest first */
	size_t n_trees;
};

uint64_t cache_clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t path_hash(const char *path)
{
	uint64_t h = 14695981039346656037ull;
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h;
}

/* "a" covers "a" and "a/x" but not "ab"; "" covers everything. */
static bool path_under(const char *path, const char *prefix, size_t len)
{
	if (len == 0)
		return true;
	return strncmp(path, prefix, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/');
}

/* ------------------------------------------------------------ table */

static int table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(ATTR_BUCKETS_MIN, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = ATTR_BUCKETS_MIN;
	return 0;
}

/* A node with its path stored behind it; the caller links it. */
static struct hnode *hnode_alloc(size_t size, const char *path)
{
	size_t len = strlen(path);
	struct hnode *n;
	char *copy;

	n = calloc(1, size + len + 1);
	if (!n)
		return NULL;
	copy = (char *)n + size;
	memcpy(copy, path, len + 1);
	n->path = copy;
	n->hash = path_hash(path);
	return n;
}

static struct hnode *table_find(const struct table *t, const char *path,
				uint64_t hash)
{
	struct hnode *n;

	for (n = t->buckets[hash & (t->n_buckets - 1)]; n; n = n->hnext)
		if (n->hash == hash && strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void table_grow(struct table *t)
{
	size_t n_new = t->n_buckets * 2;
	struct hnode **b;
	size_t i;

	b = calloc(n_new, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i < t->n_buckets; i++) {
		struct hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (n_new - 1)];
			b[n->hash & (n_new - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n_new;
}

static void age_append(struct table *t, struct hnode *n)
{
	n->newer = NULL;
	n->older = t->newest;
	if (t->newest)
		t->newest->newer = n;
	else
		t->oldest = n;
	t->newest = n;
}

static void age_unlink(struct table *t, struct hnode *n)
{
	if (n->older)
		n->older->newer = n->newer;
	else
		t->oldest = n->newer;
	if (n->newer)
		n->newer->older = n->older;
	else
		t->newest = n->older;
	n->older = n->newer = NULL;
}

static void table_insert(struct table *t, struct hnode *n)
{
	struct hnode **head;

	if (t->count >= t->n_buckets)
		table_grow(t);
	head = &t->buckets[n->hash & (t->n_buckets - 1)];
	n->hnext = *head;
	*head = n;
	age_append(t, n);
	t->count++;
}

static void table_touch(struct table *t, struct hnode *n)
{
	age_unlink(t, n);
	age_append(t, n);
}

/* Unlink and free @p n. */
static void table_remove(struct table *t, struct hnode *n)
{
	struct hnode **pp = &t->buckets[n->hash & (t->n_buckets - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	age_unlink(t, n);
	t->count--;
	free(n);
}

static void table_destroy(struct table *t)
{
	while (t->oldest)
		table_remove(t, t->oldest);
	free(t->buckets);
	t->buckets = NULL;
}

/* ------------------------------------------------------- tombstones */

static void raise_floor(struct attr_cache *c, uint64_t gen)
{
	if (gen > c->floor_gen)
		c->floor_gen = gen;
}

static void tree_tomb_drop_oldest(struct attr_cache *c)
{
	raise_floor(c, c->trees[0].gen);
	free(c->trees[0].prefix);
	c->n_trees--;
	memmove(&c->trees[0], &c->trees[1], c->n_trees * sizeof(c->trees[0]));
}

/* Tombstones are appended with a non-decreasing expiry (the clock is
 * monotonic), so the expired ones are always at the old end. */
static void purge_tombs(struct attr_cache *c, uint64_t now)
{
	while (c->tombs.oldest && c->tombs.oldest->expires_ms <= now) {
		raise_floor(c, c->tombs.oldest->gen);
		table_remove(&c->tombs, c->tombs.oldest);
	}
	while (c->n_trees && c->trees[0].expires_ms <= now)
		tree_tomb_drop_oldest(c);
}

/* Block fills of @p path with a generation <= c->gen. */
static void add_tomb(struct attr_cache *c, const char *path, uint64_t now)
{
	uint64_t hash = path_hash(path);
	struct hnode *t;

	t = table_find(&c->tombs, path, hash);
	if (t) {
		table_touch(&c->tombs, t);
	} else {
		t = hnode_alloc(sizeof(*t), path);
		if (!t) {
			/* Cannot remember the path: block every older fill. */
			raise_floor(c, c->gen);
			return;
		}
		table_insert(&c->tombs, t);
	}
	t->gen = c->gen;
	t->expires_ms = now + c->tomb_ms;
	while (c->tombs.count > c->max_tombs) {
		raise_floor(c, c->tombs.oldest->gen);
		table_remove(&c->tombs, c->tombs.oldest);
	}
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
			raise_floor(c, c->gen);
			return;
		}
		memcpy(tt.prefix, prefix, len + 1);
		tt.len = len;
		if (c->n_trees == ATTR_TREE_TOMBS_MAX)
			tree_tomb_drop_oldest(c);
	}
	tt.gen = c->gen;
	tt.expires_ms = now + c->tomb_ms;
	c->trees[c->n_trees++] = tt;
}

static bool fill_is_stale(const struct attr_cache *c, const char *path,
			  uint64_t hash, uint64_t gen)
{
	const struct hnode *t;
	size_t i;

	if (gen <= c->floor_gen)
		return true;
	t = table_find(&c->tombs, path, hash);
	if (t && gen <= t->gen)
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
	if (table_init(&c->entries) < 0 || table_init(&c->tombs) < 0)
		goto fail;
	c->clock = clock ? clock : cache_clock_monotonic_ms;
	c->ttl_ms = ttl_ms;
	c->tomb_ms = 2ull * ttl_ms;
	if (c->tomb_ms < ATTR_TOMB_MIN_MS)
		c->tomb_ms = ATTR_TOMB_MIN_MS;
	c->max_entries = max_entries;
	c->max_tombs = max_entries > ATTR_TOMBS_MIN ? max_entries :
						      ATTR_TOMBS_MIN;
	c->gen = 1;
	c->floor_gen = 0;
	return c;

fail:
	if (c) {
		free(c->entries.buckets);
		free(c->tombs.buckets);
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
	table_destroy(&c->entries);
	table_destroy(&c->tombs);
	for (i = 0; i < c->n_trees; i++)
		free(c->trees[i].prefix);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t attr_cache_gen(struct attr_cache *c)
{
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

bool attr_cache_get(struct attr_cache *c, const char *path,
		    struct attr_entry *out)
{
	struct attr_node *n;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	n = (struct attr_node *)table_find(&c->entries, path, path_hash(path));
	if (!n)
		goto out;
	if (c->clock() >= n->h.expires_ms) {
		table_remove(&c->entries, &n->h);
		goto out;
	}
	*out = n->e;
	found = true;
out:
	pthread_mutex_unlock(&c->lock);
	return found;
}

void attr_cache_put(struct attr_cache *c, const char *path,
		    const struct attr_entry *e, uint64_t gen)
{
	uint64_t hash = path_hash(path);
	struct attr_node *n;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	if (c->ttl_ms == 0 || c->max_entries == 0)
		goto out;
	now = c->clock();
	purge_tombs(c, now);
	if (fill_is_stale(c, path, hash, gen))
		goto out;
	/* Expired entries sit at the old end: drop them while here. */
	while (c->entries.oldest && c->entries.oldest->expires_ms <= now)
		table_remove(&c->entries, c->entries.oldest);

	n = (struct attr_node *)table_find(&c->entries, path, hash);
	if (n) {
		/* An answer to a request started later already arrived. */
		if (n->h.gen > gen)
			goto out;
		table_touch(&c->entries, &n->h);
	} else {
		n = (struct attr_node *)hnode_alloc(sizeof(*n), path);
		if (!n)
			goto out;
		table_insert(&c->entries, &n->h);
	}
	n->e = *e;
	n->h.gen = gen;
	n->h.expires_ms = now + c->ttl_ms;
	while (c->entries.count > c->max_entries)
		table_remove(&c->entries, c->entries.oldest);
out:
	pthread_mutex_unlock(&c->lock);
}

void attr_cache_invalidate(struct attr_cache *c, const char *path)
{
	struct hnode *n;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	n = table_find(&c->entries, path, path_hash(path));
	if (n)
		table_remove(&c->entries, n);
	if (c->ttl_ms && c->max_entries) {
		now = c->clock();
		purge_tombs(c, now);
		add_tomb(c, path, now);
	}
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

void attr_cache_invalidate_tree(struct attr_cache *c, const char *path)
{
	size_t len = strlen(path);
	struct hnode *n, *newer;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	for (n = c->entries.oldest; n; n = newer) {
		newer = n->newer;
		if (path_under(n->path, path, len))
			table_remove(&c->entries, n);
	}
	if (c->ttl_ms && c->max_entries) {
		now = c->clock();
		purge_tombs(c, now);
		if (len == 0)
			raise_floor(c, c->gen); /* the whole tree */
		else
			add_tree_tomb(c, path, now);
	}
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}
