/*
 * Page-cache versions: path -> ETag of the bytes the kernel caches.
 *
 * Locking: p->lock protects the table; it is held only inside the public
 * functions. ETags are compared byte for byte as the server sent them;
 * a differently quoted equal ETag only costs one re-read.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/page_etags.h"
#include "cache/table.h"
#include "s3/http.h" /* S3_ETAG_MAX */
#include "util/clock.h"

struct etag_node {
	struct cache_table_node h;
	char etag[S3_ETAG_MAX];
	/* attrs only: when a page-cache reader last got the end of the
	 * version in etag (0: never), and whether another version was
	 * noted since, within the guard. */
	uint64_t end_ms;
	bool moved;
};

struct page_etags {
	pthread_mutex_t lock;
	page_etags_clock_fn clock;
	size_t max_paths;
	struct cache_table paths; /* the version the pages came from */
	struct cache_table attrs; /* the version of the last attributes */
};

struct page_etags *page_etags_new(size_t max_paths,
				  page_etags_clock_fn clock)
{
	struct page_etags *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (cache_table_init(&p->paths, 64) != 0) {
		free(p);
		return NULL;
	}
	if (cache_table_init(&p->attrs, 64) != 0) {
		cache_table_fini(&p->paths);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->clock = clock ? clock : clock_monotonic_ms;
	p->max_paths = max_paths;
	return p;
}

void page_etags_free(struct page_etags *p)
{
	if (p == NULL)
		return;
	cache_table_drop_all(&p->paths);
	cache_table_fini(&p->paths);
	cache_table_drop_all(&p->attrs);
	cache_table_fini(&p->attrs);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Called under the lock: the node of @p path in @p t, made (dropping the
 * least recently used when full) if missing; NULL when none can be. */
static struct etag_node *node_get(struct page_etags *p, struct cache_table *t,
				  const char *path, bool *found)
{
	struct etag_node *n;

	n = (struct etag_node *)cache_table_find(t, path,
						 cache_table_hash(path));
	*found = n != NULL;
	if (n != NULL) {
		cache_table_touch(t, &n->h);
		return n;
	}
	if (p->max_paths == 0)
		return NULL;
	if (t->count >= p->max_paths)
		cache_table_drop_oldest(t);
	n = (struct etag_node *)cache_table_node_new(sizeof(*n), path);
	if (n != NULL)
		cache_table_insert(t, &n->h);
	return n;
}

bool page_etags_open(struct page_etags *p, const char *path,
		     const char *etag)
{
	struct etag_node *n;
	bool found, same = false;

	if (etag == NULL || etag[0] == '\0') {
		page_etags_forget_pages(p, path);
		return false;
	}
	pthread_mutex_lock(&p->lock);
	n = node_get(p, &p->paths, path, &found);
	if (n != NULL) {
		same = found && strcmp(n->etag, etag) == 0;
		snprintf(n->etag, sizeof(n->etag), "%s", etag);
	}
	pthread_mutex_unlock(&p->lock);
	return same;
}

/* Unlink and free @p path's node of @p t, if any. Lock held. */
static void drop(struct cache_table *t, const char *path, uint64_t hash)
{
	struct cache_table_node *n = cache_table_find(t, path, hash);

	if (n != NULL) {
		cache_table_unlink(t, n);
		free(n);
	}
}

void page_etags_forget_pages(struct page_etags *p, const char *path)
{
	pthread_mutex_lock(&p->lock);
	drop(&p->paths, path, cache_table_hash(path));
	pthread_mutex_unlock(&p->lock);
}

unsigned page_etags_forget(struct page_etags *p, const char *path)
{
	page_etags_forget_pages(p, path);
	return page_etags_note_attrs(p, path, NULL);
}

unsigned page_etags_note_attrs(struct page_etags *p, const char *path,
			       const char *etag)
{
	struct etag_node *n;
	unsigned wait = 0;
	uint64_t now;
	bool found;

	if (etag == NULL)
		etag = "";
	pthread_mutex_lock(&p->lock);
	n = node_get(p, &p->attrs, path, &found);
	if (n == NULL)
		goto out;
	if (found && n->end_ms != 0) {
		now = p->clock();
		if (now < n->end_ms + PAGE_ETAGS_END_GUARD_MS &&
		    (n->moved || strcmp(n->etag, etag) != 0)) {
			/* Every answer within the guard waits, also a second
			 * one of the same new version: the first may still be
			 * waiting itself. */
			wait = (unsigned)(n->end_ms + PAGE_ETAGS_END_GUARD_MS -
					  now);
			n->moved = true;
		}
	}
	snprintf(n->etag, sizeof(n->etag), "%s", etag);
out:
	pthread_mutex_unlock(&p->lock);
	return wait;
}

/* Is @p have (the version the kernel was told of) other than @p etag?
 * An empty @p have (no committed version) is other than any. */
static bool other_version(const char *have, const char *etag)
{
	return have[0] == '\0' || etag == NULL || strcmp(have, etag) != 0;
}

bool page_etags_read_end(struct page_etags *p, const char *path,
			 const char *etag, const char *also)
{
	uint64_t hash = cache_table_hash(path);
	struct etag_node *n;
	bool differ = false;
	uint64_t now;

	pthread_mutex_lock(&p->lock);
	n = (struct etag_node *)cache_table_find(&p->attrs, path, hash);
	if (n == NULL)
		goto out; /* unknown: as page_etags_attrs_differ() */
	differ = other_version(n->etag, etag) &&
		 (also == NULL || also[0] == '\0' ||
		  other_version(n->etag, also));
	if (!differ) {
		now = p->clock();
		if (n->end_ms == 0 ||
		    now >= n->end_ms + PAGE_ETAGS_END_GUARD_MS)
			n->moved = false;
		n->end_ms = now;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return differ;
}

bool page_etags_attrs_differ(struct page_etags *p, const char *path,
			     const char *etag)
{
	uint64_t hash = cache_table_hash(path);
	struct etag_node *n;
	bool differ = false;

	pthread_mutex_lock(&p->lock);
	n = (struct etag_node *)cache_table_find(&p->attrs, path, hash);
	if (n != NULL)
		differ = other_version(n->etag, etag);
	pthread_mutex_unlock(&p->lock);
	return differ;
}
