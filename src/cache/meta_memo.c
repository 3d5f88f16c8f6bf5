/*
 * Metadata memo (see meta_memo.h): a cache_table of path -> version +
 * metadata, least recently used at the old end of the age list.
 *
 * Locking: m->lock protects the table; taken in every public function.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/meta_memo.h"
#include "cache/table.h"
#include "s3/client.h" /* s3_etag_equal */
#include "s3/http.h"   /* S3_ETAG_MAX */

#define MEMO_BUCKETS_MIN 64u

struct memo_node {
	struct cache_table_node h;
	char etag[S3_ETAG_MAX];
	time_t last_modified;
	struct s3_meta meta;
};

struct meta_memo {
	pthread_mutex_t lock;
	size_t max_entries;
	struct cache_table t;
};

struct meta_memo *meta_memo_new(size_t max_entries)
{
	struct meta_memo *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (cache_table_init(&m->t, MEMO_BUCKETS_MIN) < 0) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->max_entries = max_entries;
	return m;
}

void meta_memo_free(struct meta_memo *m)
{
	if (m == NULL)
		return;
	cache_table_drop_all(&m->t);
	cache_table_fini(&m->t);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void meta_memo_put(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, const struct s3_meta *meta)
{
	uint64_t hash = cache_table_hash(path);
	struct memo_node *n;

	if (m->max_entries == 0 || etag[0] == '\0' ||
	    strlen(etag) >= sizeof(n->etag))
		return;
	pthread_mutex_lock(&m->lock);
	n = (struct memo_node *)cache_table_find(&m->t, path, hash);
	if (n == NULL) {
		if (m->t.count >= m->max_entries)
			cache_table_drop_oldest(&m->t);
		n = (struct memo_node *)cache_table_node_new(sizeof(*n), path);
		if (n == NULL)
			goto out; /* only a missed shortcut */
		cache_table_insert(&m->t, &n->h);
	} else {
		cache_table_touch(&m->t, &n->h);
	}
	snprintf(n->etag, sizeof(n->etag), "%s", etag);
	n->last_modified = last_modified;
	n->meta = *meta;
out:
	pthread_mutex_unlock(&m->lock);
}

bool meta_memo_get(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, struct s3_meta *out)
{
	uint64_t hash = cache_table_hash(path);
	struct memo_node *n;
	bool hit = false;

	if (m->max_entries == 0 || etag[0] == '\0')
		return false;
	pthread_mutex_lock(&m->lock);
	n = (struct memo_node *)cache_table_find(&m->t, path, hash);
	/* A listing and a HEAD may quote the same ETag differently. */
	if (n != NULL && n->last_modified == last_modified &&
	    s3_etag_equal(n->etag, etag)) {
		*out = n->meta;
		cache_table_touch(&m->t, &n->h);
		hit = true;
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}

size_t meta_memo_count(struct meta_memo *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->t.count;
	pthread_mutex_unlock(&m->lock);
	return n;
}
