/*
 * Directory listing cache: dir path -> immutable, reference-counted
 * struct dir_snapshot with a TTL, at most max_dirs of them.
 *
 * Locking: one mutex (c->lock) protects the table, the generations, the
 * tombstones and every snapshot's refs field. It is taken on entry to
 * each public function and released before return; the only foreign code
 * run under it is the clock (thread-safe, must not re-enter the cache).
 * There is no other lock, hence no lock order.
 *
 * Snapshots are never modified after publication. A change made by the
 * mount itself (dir_cache_note_added/removed) builds a new snapshot
 * (copy-on-write: entries and names copied) and swaps it into the slot;
 * a reader that took the old one with dir_cache_get() keeps walking it
 * without the lock until dir_snapshot_release() drops the last
 * reference. Copying is O(entries) per change, which is small next to
 * the network round trip of the create/unlink that caused it.
 *
 * Stale fills use generations as attr_cache.c does, through the shared
 * cache_table_guard (table.h): invalidation and note_added/note_removed
 * stamp a tombstone for the directory with the current generation and
 * increment it; dir_cache_put_take() drops a listing whose generation is
 * <= a covering stamp. note_* count because a listing requested before
 * a local create may lack the new name, and storing it would make
 * lookups answer "absent" for a file that exists.
 * Tombstones are bounded in number and age; one that disappears raises
 * floor_gen, below which every fill is dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache/dir_cache.h"
#include "cache/table.h"
#include "util/clock.h"

#define DIR_TOMB_MIN_MS 5000u
#define DIR_TOMBS_MIN 256u
#define DIR_BUCKETS_MIN 16u
/* Lookup misses: the second within HINT_BURST_MS makes listing pay; a
 * directory too large to list stays so for HINT_LARGE_MS. */
#define HINT_BURST_MS 1000u
#define HINT_LARGE_MS 60000u
#define HINTS_MAX 1024u

struct dir_slot {
	struct cache_table_node h;
	struct dir_snapshot *snap; /* holds one reference */
};

struct dir_cache {
	pthread_mutex_t lock;
	cache_clock_fn clock;
	unsigned ttl_ms;
	size_t max_dirs;
	struct cache_table slots;
	struct cache_table_guard guard; /* generations, tombstones */
	struct cache_table hints;	/* struct dir_hint: lookup misses */
};

struct dir_hint {
	struct cache_table_node h;
	uint64_t miss_ms;  /* the last miss */
	uint64_t large_ms; /* found too large to list until then */
};

/* ------------------------------------------------------- snapshots */

void dir_entries_free(struct dir_entry *entries, size_t n)
{
	size_t i;

	if (!entries)
		return;
	for (i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
}

static void snapshot_free(struct dir_snapshot *s)
{
	dir_entries_free(s->entries, s->n);
	free(s);
}

/* Called under the lock. */
static void snapshot_unref_locked(struct dir_snapshot *s)
{
	if (--s->refs == 0)
		snapshot_free(s);
}

static struct dir_snapshot *snapshot_new_take(struct dir_entry *entries,
					      size_t n)
{
	struct dir_snapshot *s = malloc(sizeof(*s));

	if (!s) {
		dir_entries_free(entries, n);
		return NULL;
	}
	s->n = n;
	s->entries = entries;
	s->refs = 1;
	return s;
}

static void slot_remove(struct dir_cache *c, struct dir_slot *slot)
{
	cache_table_unlink(&c->slots, &slot->h);
	snapshot_unref_locked(slot->snap);
	free(slot);
}

static struct dir_slot *slot_find_fresh(struct dir_cache *c, const char *dir)
{
	struct dir_slot *slot;

	slot = (struct dir_slot *)cache_table_find(&c->slots, dir,
						   cache_table_hash(dir));
	if (slot && c->clock() >= slot->h.expires_ms) {
		slot_remove(c, slot);
		slot = NULL;
	}
	return slot;
}

/* Listing order: by name; among equal names a directory first, and a
 * "dir/" marker before a bare common prefix, so the first one wins. */
static int entry_cmp(const void *a, const void *b)
{
	const struct dir_entry *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	if ((x->attr.kind == ATTR_DIR) != (y->attr.kind == ATTR_DIR))
		return x->attr.kind == ATTR_DIR ? -1 : 1;
	if (x->attr.dir_marker != y->attr.dir_marker)
		return x->attr.dir_marker ? -1 : 1;
	return 0;
}

static bool name_valid(const char *name)
{
	return name && name[0] && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && !strchr(name, '/');
}

size_t dir_entries_normalise(struct dir_entry *e, size_t n)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (name_valid(e[i].name))
			e[out++] = e[i];
		else
			free(e[i].name);
	}
	n = out;
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
	out = 0;
	for (i = 0; i < n; i++) {
		if (out > 0 && strcmp(e[out - 1].name, e[i].name) == 0)
			free(e[i].name);
		else
			e[out++] = e[i];
	}
	return out;
}

/* Index of @p name in @p s, or -(insertion point) - 1. */
long dir_snapshot_find(const struct dir_snapshot *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(s->entries[mid].name, name);

		if (r == 0)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

/*
 * A copy of @p old edited at @p pos: with @p add NULL the entry at @p pos
 * is left out; otherwise @p add replaces it (@p replace) or is inserted
 * before it. Names are duplicated. NULL on -ENOMEM.
 */
static struct dir_snapshot *snapshot_edit(const struct dir_snapshot *old,
					  size_t pos,
					  const struct dir_entry *add,
					  bool replace)
{
	size_t n = old->n;
	struct dir_entry *e = NULL;
	size_t j;

	if (!add)
		n--;
	else if (!replace)
		n++;
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return NULL;
	for (j = 0; j < n; j++) {
		const struct dir_entry *src;

		if (add && j == pos)
			src = add;
		else if (add && !replace && j > pos)
			src = &old->entries[j - 1];
		else if (!add && j >= pos)
			src = &old->entries[j + 1];
		else
			src = &old->entries[j];
		e[j].attr = src->attr;
		e[j].name = strdup(src->name);
		if (!e[j].name) {
			dir_entries_free(e, j);
			return NULL;
		}
	}
	return snapshot_new_take(e, n);
}

/* ------------------------------------------------------- tombstones */

/* Block fills of @p dir started up to now, then advance the generation. */
static void stamp_locked(struct dir_cache *c, const char *dir)
{
	uint64_t now;

	if (c->ttl_ms && c->max_dirs) {
		now = c->clock();
		cache_table_guard_purge(&c->guard, now);
		cache_table_guard_stamp(&c->guard, dir, now);
	}
	c->guard.gen++;
}

/* ------------------------------------------------------------- API */

struct dir_cache *dir_cache_new(unsigned ttl_ms, size_t max_dirs,
				cache_clock_fn clock)
{
	struct dir_cache *c = NULL;
	bool locked = false;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto fail;
	locked = true;
	if (cache_table_init(&c->slots, DIR_BUCKETS_MIN) < 0 ||
	    cache_table_init(&c->hints, DIR_BUCKETS_MIN) < 0 ||
	    cache_table_guard_init(&c->guard, ttl_ms, DIR_TOMB_MIN_MS,
				   max_dirs, DIR_TOMBS_MIN,
				   DIR_BUCKETS_MIN) < 0)
		goto fail;
	c->clock = clock ? clock : clock_monotonic_ms;
	c->ttl_ms = ttl_ms;
	c->max_dirs = max_dirs;
	return c;

fail:
	if (c) {
		cache_table_fini(&c->slots);
		cache_table_fini(&c->hints);
		cache_table_guard_fini(&c->guard);
		if (locked)
			pthread_mutex_destroy(&c->lock);
		free(c);
	}
	return NULL;
}

/* Snapshots still held by readers stay valid until they are released;
 * releasing after dir_cache_free() is a caller bug. */
void dir_cache_free(struct dir_cache *c)
{
	if (!c)
		return;
	while (c->slots.oldest)
		slot_remove(c, (struct dir_slot *)c->slots.oldest);
	cache_table_fini(&c->slots);
	cache_table_drop_all(&c->hints);
	cache_table_fini(&c->hints);
	cache_table_guard_fini(&c->guard);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Called under the lock: the hint node of @p dir, made when missing
 * (NULL only on -ENOMEM, which costs only the hint). */
static struct dir_hint *hint_get(struct dir_cache *c, const char *dir)
{
	uint64_t hash = cache_table_hash(dir);
	struct dir_hint *h =
		(struct dir_hint *)cache_table_find(&c->hints, dir, hash);

	if (h != NULL) {
		cache_table_touch(&c->hints, &h->h);
		return h;
	}
	if (c->hints.count >= HINTS_MAX)
		cache_table_drop_oldest(&c->hints);
	h = (struct dir_hint *)cache_table_node_new(sizeof(*h), dir);
	if (h != NULL)
		cache_table_insert(&c->hints, &h->h);
	return h;
}

bool dir_cache_note_miss(struct dir_cache *c, const char *dir)
{
	struct dir_hint *h;
	bool list = false;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	if (c->ttl_ms == 0 || c->max_dirs == 0)
		goto out;
	now = c->clock();
	h = hint_get(c, dir);
	if (h == NULL)
		goto out;
	list = h->miss_ms != 0 && now - h->miss_ms < HINT_BURST_MS &&
	       now >= h->large_ms;
	h->miss_ms = now;
out:
	pthread_mutex_unlock(&c->lock);
	return list;
}

void dir_cache_note_large(struct dir_cache *c, const char *dir)
{
	struct dir_hint *h;

	pthread_mutex_lock(&c->lock);
	h = hint_get(c, dir);
	if (h != NULL)
		h->large_ms = c->clock() + HINT_LARGE_MS;
	pthread_mutex_unlock(&c->lock);
}

bool dir_cache_is_large(struct dir_cache *c, const char *dir)
{
	struct dir_hint *h;
	bool large;

	pthread_mutex_lock(&c->lock);
	h = (struct dir_hint *)cache_table_find(&c->hints, dir,
						cache_table_hash(dir));
	large = h != NULL && c->clock() < h->large_ms;
	pthread_mutex_unlock(&c->lock);
	return large;
}

uint64_t dir_cache_gen(struct dir_cache *c)
{
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	gen = c->guard.gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

void dir_cache_put_take(struct dir_cache *c, const char *dir,
			struct dir_entry *entries, size_t n, uint64_t gen)
{
	struct dir_snapshot *s = NULL;
	struct dir_slot *slot;
	uint64_t hash = cache_table_hash(dir);
	uint64_t now;

	/* Sorting needs no lock: the entries are ours alone until stored. */
	n = dir_entries_normalise(entries, n);

	pthread_mutex_lock(&c->lock);
	if (c->ttl_ms == 0 || c->max_dirs == 0)
		goto drop;
	now = c->clock();
	cache_table_guard_purge(&c->guard, now);
	if (cache_table_guard_blocks(&c->guard, dir, hash, gen))
		goto drop;
	slot = (struct dir_slot *)cache_table_find(&c->slots, dir, hash);
	/* A listing requested later already arrived: keep it. */
	if (slot && slot->h.gen > gen && now < slot->h.expires_ms)
		goto drop;
	s = snapshot_new_take(entries, n);
	entries = NULL;
	if (!s)
		goto out;
	if (slot) {
		snapshot_unref_locked(slot->snap);
		cache_table_touch(&c->slots, &slot->h);
	} else {
		slot = (struct dir_slot *)cache_table_node_new(sizeof(*slot),
							       dir);
		if (!slot) {
			snapshot_unref_locked(s);
			goto out;
		}
		cache_table_insert(&c->slots, &slot->h);
	}
	slot->snap = s;
	slot->h.gen = gen;
	slot->h.expires_ms = now + c->ttl_ms;
	while (c->slots.count > c->max_dirs)
		slot_remove(c, (struct dir_slot *)c->slots.oldest);
	goto out;

drop:
	pthread_mutex_unlock(&c->lock);
	dir_entries_free(entries, n);
	return;
out:
	pthread_mutex_unlock(&c->lock);
}

struct dir_snapshot *dir_cache_get(struct dir_cache *c, const char *dir)
{
	struct dir_snapshot *s = NULL;
	struct dir_slot *slot;

	pthread_mutex_lock(&c->lock);
	slot = slot_find_fresh(c, dir);
	if (slot) {
		s = slot->snap;
		s->refs++;
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

void dir_snapshot_release(struct dir_cache *c, struct dir_snapshot *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&c->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&c->lock);
	/* No one else can reach it any more: free outside the lock. */
	if (last)
		snapshot_free(s);
}

enum dir_lookup dir_cache_lookup(struct dir_cache *c, const char *dir,
				 const char *name, struct attr_entry *out)
{
	enum dir_lookup r = DIR_LOOKUP_UNKNOWN;
	struct dir_slot *slot;
	long i;

	pthread_mutex_lock(&c->lock);
	slot = slot_find_fresh(c, dir);
	if (!slot)
		goto out;
	i = dir_snapshot_find(slot->snap, name);
	if (i < 0) {
		r = DIR_LOOKUP_ABSENT;
		goto out;
	}
	*out = slot->snap->entries[i].attr;
	r = DIR_LOOKUP_FOUND;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Swap @p s into @p slot, or forget the listing when the copy failed
 * (a missing listing is only slower; a wrong one would lie). */
static void slot_publish(struct dir_cache *c, struct dir_slot *slot,
			 struct dir_snapshot *s)
{
	if (!s) {
		slot_remove(c, slot);
		return;
	}
	snapshot_unref_locked(slot->snap);
	slot->snap = s;
}

void dir_cache_note_added(struct dir_cache *c, const char *dir,
			  const char *name, const struct attr_entry *attr)
{
	struct dir_snapshot *s;
	struct dir_slot *slot;
	struct dir_entry add;
	long i;

	pthread_mutex_lock(&c->lock);
	stamp_locked(c, dir);
	slot = slot_find_fresh(c, dir);
	if (!slot)
		goto out;
	if (!name_valid(name)) {
		slot_remove(c, slot);
		goto out;
	}
	add.name = (char *)name; /* copied by snapshot_edit() */
	add.attr = *attr;
	i = dir_snapshot_find(slot->snap, name);
	if (i >= 0)
		s = snapshot_edit(slot->snap, (size_t)i, &add, true);
	else
		s = snapshot_edit(slot->snap, (size_t)(-i - 1), &add, false);
	slot_publish(c, slot, s);
out:
	pthread_mutex_unlock(&c->lock);
}

void dir_cache_note_removed(struct dir_cache *c, const char *dir,
			    const char *name)
{
	struct dir_slot *slot;
	long i;

	pthread_mutex_lock(&c->lock);
	stamp_locked(c, dir);
	slot = slot_find_fresh(c, dir);
	if (!slot)
		goto out;
	i = dir_snapshot_find(slot->snap, name);
	if (i >= 0)
		slot_publish(c, slot,
			     snapshot_edit(slot->snap, (size_t)i, NULL, false));
out:
	pthread_mutex_unlock(&c->lock);
}

void dir_cache_invalidate(struct dir_cache *c, const char *dir)
{
	struct dir_slot *slot;

	pthread_mutex_lock(&c->lock);
	slot = (struct dir_slot *)cache_table_find(&c->slots, dir,
						   cache_table_hash(dir));
	if (slot)
		slot_remove(c, slot);
	stamp_locked(c, dir);
	pthread_mutex_unlock(&c->lock);
}

void dir_cache_invalidate_all(struct dir_cache *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->slots.oldest)
		slot_remove(c, (struct dir_slot *)c->slots.oldest);
	/* The floor covers every directory; per-dir stamps are redundant. */
	cache_table_guard_raise_floor(&c->guard, c->guard.gen);
	cache_table_guard_clear(&c->guard);
	c->guard.gen++;
	pthread_mutex_unlock(&c->lock);
}
