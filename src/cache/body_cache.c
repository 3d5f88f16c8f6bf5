/*
 * The body cache (see body_cache.h): a cache table whose nodes carry an
 * ETag and the body bytes in the same allocation as the node (the path
 * is stored behind them), evicted oldest first by total bytes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache/body_cache.h"
#include "cache/table.h"
#include "s3/client.h" /* s3_etag_equal, S3_ETAG_MAX */

struct body_node {
	struct cache_table_node base; /* first: the table's head */
	char etag[S3_ETAG_MAX];
	size_t len;
	unsigned char data[];
};

struct body_cache {
	pthread_mutex_t lock;
	struct cache_table t;
	size_t max_bytes, bytes;
	size_t served; /* reads from offset 0 answered */
};

struct body_cache *body_cache_new(size_t max_bytes)
{
	struct body_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (cache_table_init(&c->t, 64) != 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->max_bytes = max_bytes;
	return c;
}

void body_cache_free(struct body_cache *c)
{
	if (c == NULL)
		return;
	cache_table_drop_all(&c->t);
	cache_table_fini(&c->t);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Called under the lock. */
static void drop(struct body_cache *c, struct body_node *n)
{
	cache_table_unlink(&c->t, &n->base);
	c->bytes -= n->len;
	free(n);
}

/* Called under the lock. */
static struct body_node *find(struct body_cache *c, const char *path)
{
	return (struct body_node *)cache_table_find(&c->t, path,
						    cache_table_hash(path));
}

/* Called under the lock: the body of @p path if it is of version
 * @p etag, else NULL. */
static struct body_node *find_version(struct body_cache *c, const char *path,
				      const char *etag)
{
	struct body_node *n = find(c, path);

	return n != NULL && etag != NULL && s3_etag_equal(n->etag, etag) ? n
									  : NULL;
}

void body_cache_put(struct body_cache *c, const char *path, const char *etag,
		    const void *data, size_t len)
{
	struct body_node *n, *old;

	if (len > c->max_bytes || etag == NULL || etag[0] == '\0' ||
	    strlen(etag) >= S3_ETAG_MAX)
		return;
	n = (struct body_node *)cache_table_node_new(sizeof(*n) + len, path);
	if (n == NULL)
		return;
	memcpy(n->etag, etag, strlen(etag) + 1);
	n->len = len;
	memcpy(n->data, data, len);
	pthread_mutex_lock(&c->lock);
	if ((old = find(c, path)) != NULL)
		drop(c, old);
	while (c->bytes + len > c->max_bytes && c->t.oldest != NULL)
		drop(c, (struct body_node *)c->t.oldest);
	cache_table_insert(&c->t, &n->base);
	c->bytes += len;
	pthread_mutex_unlock(&c->lock);
}

bool body_cache_read(struct body_cache *c, const char *path, const char *etag,
		     uint64_t off, void *buf, size_t size, size_t *got)
{
	struct body_node *n;
	bool hit = false;

	*got = 0;
	pthread_mutex_lock(&c->lock);
	n = find_version(c, path, etag);
	if (n != NULL) {
		hit = true;
		c->served += off == 0;
		if (off < n->len) {
			*got = n->len - off < size ? (size_t)(n->len - off)
						   : size;
			memcpy(buf, n->data + off, *got);
		}
		/* Read to its end: the kernel's page cache has it now, and
		 * the memory is better spent on the bodies still ahead. */
		if (off + *got >= n->len)
			drop(c, n);
		else
			cache_table_touch(&c->t, &n->base);
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

bool body_cache_holds(struct body_cache *c, const char *path,
		      const char *etag)
{
	struct body_node *n;
	bool held;

	pthread_mutex_lock(&c->lock);
	n = find_version(c, path, etag);
	held = n != NULL;
	pthread_mutex_unlock(&c->lock);
	return held;
}

void body_cache_forget(struct body_cache *c, const char *path)
{
	struct body_node *n;

	pthread_mutex_lock(&c->lock);
	if ((n = find(c, path)) != NULL)
		drop(c, n);
	pthread_mutex_unlock(&c->lock);
}

/* One counter, read under the lock. */
static size_t counter(struct body_cache *c, const size_t *field)
{
	size_t v;

	pthread_mutex_lock(&c->lock);
	v = *field;
	pthread_mutex_unlock(&c->lock);
	return v;
}

size_t body_cache_bytes(struct body_cache *c)
{
	return counter(c, &c->bytes);
}

size_t body_cache_count(struct body_cache *c)
{
	return counter(c, &c->t.count);
}

size_t body_cache_served(struct body_cache *c)
{
	return counter(c, &c->served);
}
