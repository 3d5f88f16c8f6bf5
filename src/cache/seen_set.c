/*
 * The once-only set (see seen_set.h): a cache table whose nodes carry
 * nothing but their string, never evicted (forgetting would repeat the
 * message), bounded by count.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cache/seen_set.h"
#include "cache/table.h"

struct seen_set {
	pthread_mutex_t lock;
	struct cache_table t;
	size_t max;
	bool full_said;
};

struct seen_set *seen_set_new(size_t max)
{
	struct seen_set *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (cache_table_init(&s->t, 16) != 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->max = max > 0 ? max : 1;
	return s;
}

void seen_set_free(struct seen_set *s)
{
	if (s == NULL)
		return;
	cache_table_drop_all(&s->t);
	cache_table_fini(&s->t);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

enum seen_result seen_set_add(struct seen_set *s, const char *str)
{
	uint64_t hash = cache_table_hash(str);
	enum seen_result r = SEEN_FIRST;
	struct cache_table_node *n;

	pthread_mutex_lock(&s->lock);
	if (cache_table_find(&s->t, str, hash) != NULL) {
		r = SEEN_AGAIN;
	} else if (s->t.count >= s->max) {
		r = s->full_said ? SEEN_AGAIN : SEEN_FULL;
		s->full_said = true;
	} else if ((n = cache_table_node_new(sizeof(*n), str)) != NULL) {
		cache_table_insert(&s->t, n);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}
