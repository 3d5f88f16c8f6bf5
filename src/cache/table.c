/*
 * The path-keyed table and the stale-fill guard shared by attr_cache.c
 * and dir_cache.c.
 *
 * Locking: none here. Each table and guard is owned by one cache, whose
 * mutex is held around every call; nothing in this file blocks or calls
 * out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/table.h"

uint64_t cache_table_hash(const char *path)
{
	uint64_t h = 14695981039346656037ull;
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h;
}

int cache_table_init(struct cache_table *t, size_t min_buckets)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(min_buckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = min_buckets;
	return 0;
}

void cache_table_fini(struct cache_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->n_buckets = 0;
}

struct cache_table_node *cache_table_node_new(size_t size, const char *path)
{
	size_t len = strlen(path);
	struct cache_table_node *n;
	char *copy;

	n = calloc(1, size + len + 1);
	if (!n)
		return NULL;
	copy = (char *)n + size;
	memcpy(copy, path, len + 1);
	n->path = copy;
	n->hash = cache_table_hash(path);
	return n;
}

struct cache_table_node *cache_table_find(const struct cache_table *t,
					  const char *path, uint64_t hash)
{
	struct cache_table_node *n;

	for (n = t->buckets[hash & (t->n_buckets - 1)]; n; n = n->hnext)
		if (n->hash == hash && strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void table_grow(struct cache_table *t)
{
	size_t n_new = t->n_buckets * 2;
	struct cache_table_node **b;
	size_t i;

	b = calloc(n_new, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i < t->n_buckets; i++) {
		struct cache_table_node *n = t->buckets[i], *next;

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

static void age_append(struct cache_table *t, struct cache_table_node *n)
{
	n->newer = NULL;
	n->older = t->newest;
	if (t->newest)
		t->newest->newer = n;
	else
		t->oldest = n;
	t->newest = n;
}

static void age_unlink(struct cache_table *t, struct cache_table_node *n)
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

void cache_table_insert(struct cache_table *t, struct cache_table_node *n)
{
	struct cache_table_node **head;

	if (t->count >= t->n_buckets)
		table_grow(t);
	head = &t->buckets[n->hash & (t->n_buckets - 1)];
	n->hnext = *head;
	*head = n;
	age_append(t, n);
	t->count++;
}

void cache_table_touch(struct cache_table *t, struct cache_table_node *n)
{
	age_unlink(t, n);
	age_append(t, n);
}

void cache_table_unlink(struct cache_table *t, struct cache_table_node *n)
{
	struct cache_table_node **pp;

	pp = &t->buckets[n->hash & (t->n_buckets - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	age_unlink(t, n);
	t->count--;
}

void cache_table_drop_oldest(struct cache_table *t)
{
	struct cache_table_node *n = t->oldest;

	if (n == NULL)
		return;
	cache_table_unlink(t, n);
	free(n);
}

void cache_table_drop_all(struct cache_table *t)
{
	while (t->oldest != NULL)
		cache_table_drop_oldest(t);
}

/* ------------------------------------------------------------ guard */

int cache_table_guard_init(struct cache_table_guard *g, unsigned ttl_ms,
			   uint64_t min_tomb_ms, size_t max_entries,
			   size_t min_tombs, size_t min_buckets)
{
	memset(g, 0, sizeof(*g));
	g->gen = 1;
	g->tomb_ms = 2ull * ttl_ms;
	if (g->tomb_ms < min_tomb_ms)
		g->tomb_ms = min_tomb_ms;
	g->max_tombs = max_entries > min_tombs ? max_entries : min_tombs;
	return cache_table_init(&g->tombs, min_buckets);
}

void cache_table_guard_raise_floor(struct cache_table_guard *g, uint64_t gen)
{
	if (gen > g->floor_gen)
		g->floor_gen = gen;
}

static void drop_oldest_tomb(struct cache_table_guard *g)
{
	struct cache_table_node *t = g->tombs.oldest;

	cache_table_guard_raise_floor(g, t->gen);
	cache_table_unlink(&g->tombs, t);
	free(t);
}

void cache_table_guard_fini(struct cache_table_guard *g)
{
	if (!g->tombs.buckets)
		return; /* never initialised */
	while (g->tombs.oldest)
		drop_oldest_tomb(g);
	cache_table_fini(&g->tombs);
}

/* Tombstones are appended with a non-decreasing expiry (the clock is
 * monotonic), so the expired ones are always at the old end. */
void cache_table_guard_purge(struct cache_table_guard *g, uint64_t now)
{
	while (g->tombs.oldest && g->tombs.oldest->expires_ms <= now)
		drop_oldest_tomb(g);
}

void cache_table_guard_clear(struct cache_table_guard *g)
{
	while (g->tombs.oldest)
		drop_oldest_tomb(g);
}

void cache_table_guard_stamp(struct cache_table_guard *g, const char *path,
			     uint64_t now)
{
	uint64_t hash = cache_table_hash(path);
	struct cache_table_node *t;

	t = cache_table_find(&g->tombs, path, hash);
	if (t) {
		cache_table_touch(&g->tombs, t);
	} else {
		t = cache_table_node_new(sizeof(*t), path);
		if (!t) {
			/* Cannot remember the path: block every older fill. */
			cache_table_guard_raise_floor(g, g->gen);
			return;
		}
		cache_table_insert(&g->tombs, t);
	}
	t->gen = g->gen;
	t->expires_ms = now + g->tomb_ms;
	while (g->tombs.count > g->max_tombs)
		drop_oldest_tomb(g);
}

bool cache_table_guard_blocks(const struct cache_table_guard *g,
			      const char *path, uint64_t hash, uint64_t gen)
{
	const struct cache_table_node *t;

	if (gen <= g->floor_gen)
		return true;
	t = cache_table_find(&g->tombs, path, hash);
	return t && gen <= t->gen;
}
