/*
 * Read-ahead for sequential readers (see readahead.h).
 *
 * The chunks fetched ahead sit in a ring of fixed slots (a thread fills
 * its slot in place, so slots never move), in file order right after
 * the current chunk.
 *
 * Locking: the caller holds its handle's lock, so at most one reader
 * thread is in here per struct fs_readahead. The only other threads are
 * prefetches, each filling its own struct chunk and nothing else; the
 * reader joins one before looking at its chunk. The mount-wide byte
 * budget is an atomic counter.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/readahead.h"
#include "s3/client.h"

#define CHUNK_MIN (1u << 20)
#define CHUNK_MAX (16u << 20)
/* Chunks in flight ahead of the reader once they are CHUNK_MAX large
 * (one while they grow): a reader faster than one GET stream, or a
 * server far away, keeps several connections busy. */
#define AHEAD_MAX 3

struct chunk {
	char *data;
	size_t cap;	 /* bytes allocated (and counted in the budget) */
	uint64_t off;
	size_t len;	 /* bytes asked for */
	size_t got;	 /* bytes received */
	int rc;
	bool in_flight;	 /* a thread is filling it: join before use */
	pthread_t thread;
	/* inputs of the prefetch thread */
	struct fs_ctx *ctx;
	char key[1024 + 1];
	char etag[S3_ETAG_MAX];
};

struct fs_readahead {
	struct chunk cur; /* what the reader consumes */
	/* fetched ahead: n_ahead of them from slot head on, in order */
	struct chunk ahead[AHEAD_MAX];
	int head, n_ahead;
	uint64_t expect;   /* where a sequential read would start */
	/* The buffer of the last consumed chunk, kept for the next one: a
	 * sequential reader reuses two buffers instead of faulting in a new
	 * 16 MiB one per chunk. Counted in the budget. */
	char *spare;
	size_t spare_cap;
	size_t chunk;	   /* current chunk size; 0 while not sequential */
};

static bool budget_take(struct fs_ctx *ctx, size_t n)
{
	uint64_t now = __atomic_add_fetch(&ctx->readahead_bytes, n,
					  __ATOMIC_RELAXED);

	if (now <= FS_READAHEAD_BUDGET)
		return true;
	__atomic_sub_fetch(&ctx->readahead_bytes, n, __ATOMIC_RELAXED);
	return false;
}

static void buffer_free(struct fs_ctx *ctx, char *data, size_t cap)
{
	if (data == NULL)
		return;
	free(data);
	__atomic_sub_fetch(&ctx->readahead_bytes, cap, __ATOMIC_RELAXED);
}

/* Empty @p c; its buffer becomes @p ra's spare when there is none. */
static void chunk_drop(struct fs_ctx *ctx, struct fs_readahead *ra,
		       struct chunk *c)
{
	if (c->in_flight) {
		pthread_join(c->thread, NULL);
		c->in_flight = false;
	}
	if (c->data != NULL && ra->spare == NULL) {
		ra->spare = c->data;
		ra->spare_cap = c->cap;
	} else {
		buffer_free(ctx, c->data, c->cap);
	}
	c->data = NULL;
	c->cap = c->len = c->got = 0;
	c->rc = 0;
}

static void *prefetch_main(void *arg)
{
	struct chunk *c = arg;

	c->rc = s3_get_object(c->ctx->s3, c->key, c->off, c->len, c->etag,
			      c->data, &c->got, NULL, NULL);
	return NULL;
}

/* Allocate @p c for [off, off+len) within budget (the spare buffer
 * when it is large enough). */
static bool chunk_alloc(struct fs_ctx *ctx, struct fs_readahead *ra,
			struct chunk *c, uint64_t off, size_t len)
{
	if (ra->spare != NULL && ra->spare_cap >= len) {
		c->data = ra->spare;
		c->cap = ra->spare_cap;
		ra->spare = NULL;
	} else {
		if (!budget_take(ctx, len))
			return false;
		c->data = malloc(len);
		if (c->data == NULL) {
			__atomic_sub_fetch(&ctx->readahead_bytes, len,
					   __ATOMIC_RELAXED);
			return false;
		}
		c->cap = len;
	}
	c->off = off;
	c->len = len;
	c->got = 0;
	c->rc = 0;
	return true;
}

/* Slot @p i (0: the first) of the chunks ahead. */
static struct chunk *ahead_at(struct fs_readahead *ra, int i)
{
	return &ra->ahead[(ra->head + i) % AHEAD_MAX];
}

/* Drop every chunk fetched ahead (waiting for those in flight). */
static void ahead_drop(struct fs_ctx *ctx, struct fs_readahead *ra)
{
	for (int i = 0; i < ra->n_ahead; i++)
		chunk_drop(ctx, ra, ahead_at(ra, i));
	ra->head = 0;
	ra->n_ahead = 0;
}

/* Start fetching the chunks after @p ra->cur, up to the window: one
 * while chunks grow, AHEAD_MAX at full size, as far as the budget goes. */
static void prefetch(struct fs_ctx *ctx, struct fs_readahead *ra,
		     const char *key, const char *etag, uint64_t obj_size)
{
	int want = ra->chunk >= CHUNK_MAX ? AHEAD_MAX : 1;

	if (ra->chunk == 0 || strlen(key) >= sizeof(ra->cur.key))
		return;
	while (ra->n_ahead < want) {
		struct chunk *last = ra->n_ahead ? ahead_at(ra, ra->n_ahead - 1)
						 : NULL;
		uint64_t off = last ? last->off + last->len
				    : ra->cur.off + ra->cur.got;
		struct chunk *c = ahead_at(ra, ra->n_ahead);
		size_t len;

		if (off >= obj_size)
			return;
		len = obj_size - off < ra->chunk ? (size_t)(obj_size - off)
						 : ra->chunk;
		if (!chunk_alloc(ctx, ra, c, off, len))
			return;
		c->ctx = ctx;
		snprintf(c->key, sizeof(c->key), "%s", key);
		snprintf(c->etag, sizeof(c->etag), "%s", etag);
		if (pthread_create(&c->thread, NULL, prefetch_main, c) != 0) {
			chunk_drop(ctx, ra, c);
			return;
		}
		c->in_flight = true;
		ra->n_ahead++;
	}
}

/* Copy what @p c holds of [off, off+size); -1 when it holds nothing. */
static ssize_t serve(const struct chunk *c, char *buf, size_t size,
		     uint64_t off)
{
	size_t n;

	if (c->data == NULL || c->rc != 0 || off < c->off ||
	    off >= c->off + c->got)
		return -1;
	n = (size_t)(c->off + c->got - off);
	if (n > size)
		n = size;
	memcpy(buf, c->data + (off - c->off), n);
	return (ssize_t)n;
}

struct fs_readahead *fs_readahead_new(void)
{
	return calloc(1, sizeof(struct fs_readahead));
}

void fs_readahead_reset(struct fs_ctx *ctx, struct fs_readahead *ra)
{
	chunk_drop(ctx, ra, &ra->cur);
	ahead_drop(ctx, ra);
	buffer_free(ctx, ra->spare, ra->spare_cap);
	ra->spare = NULL;
	ra->spare_cap = 0;
	ra->chunk = 0;
}

void fs_readahead_free(struct fs_ctx *ctx, struct fs_readahead *ra)
{
	if (ra == NULL)
		return;
	fs_readahead_reset(ctx, ra);
	free(ra);
}

/* Make the first chunk fetched ahead current if it covers @p off. 1: it
 * does (or its error is in *rc), 0: it does not. */
static int promote_next(struct fs_ctx *ctx, struct fs_readahead *ra,
			uint64_t off, int *rc)
{
	struct chunk *n = ahead_at(ra, 0);

	*rc = 0;
	if (ra->n_ahead == 0 || n->data == NULL || off < n->off ||
	    off >= n->off + n->len)
		return 0;
	if (n->in_flight) {
		pthread_join(n->thread, NULL);
		n->in_flight = false;
	}
	if (n->rc != 0) {
		*rc = n->rc;
		return 1;
	}
	chunk_drop(ctx, ra, &ra->cur);
	ra->cur = *n; /* joined: no thread writes into it any more */
	memset(n, 0, sizeof(*n));
	ra->head = (ra->head + 1) % AHEAD_MAX;
	ra->n_ahead--;
	return 1;
}

/* Fetch a chunk starting at @p off into ra->cur; without a chunk size or
 * budget, read [off, off+size) straight into @p buf (*direct set). */
static int fetch(struct fs_ctx *ctx, struct fs_readahead *ra,
		 const char *key, const char *etag, uint64_t obj_size,
		 uint64_t off, char *buf, size_t size, size_t *direct)
{
	size_t len = ra->chunk > size ? ra->chunk : size;

	*direct = 0;
	chunk_drop(ctx, ra, &ra->cur);
	if (off + len > obj_size)
		len = (size_t)(obj_size - off);
	if (ra->chunk == 0 || !chunk_alloc(ctx, ra, &ra->cur, off, len))
		return s3_get_object(ctx->s3, key, off, size, etag, buf,
				     direct, NULL, NULL);
	/* Prefetches elsewhere in the file are of no use now. */
	ahead_drop(ctx, ra);
	return s3_get_object(ctx->s3, key, off, len, etag, ra->cur.data,
			     &ra->cur.got, NULL, NULL);
}

ssize_t fs_readahead_read(struct fs_ctx *ctx, struct fs_readahead *ra,
			  const char *key, const char *etag,
			  uint64_t obj_size, char *buf, size_t size,
			  off_t off_in)
{
	uint64_t off = (uint64_t)off_in;
	size_t total = 0;
	int rc = 0;

	if (off >= obj_size || size == 0)
		return 0;
	if (off + size > obj_size)
		size = (size_t)(obj_size - off);
	/* Sequential readers get growing chunks; a jump starts over. */
	if (off == ra->expect && off != 0)
		ra->chunk = ra->chunk == 0	   ? CHUNK_MIN
			    : ra->chunk < CHUNK_MAX ? ra->chunk * 2
						    : CHUNK_MAX;
	else
		ra->chunk = off == 0 ? CHUNK_MIN : 0;
	ra->expect = off + size;

	while (total < size) {
		ssize_t n = serve(&ra->cur, buf + total, size - total,
				  off + total);
		size_t direct = 0;

		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (promote_next(ctx, ra, off + total, &rc)) {
			if (rc != 0)
				break;
			continue;
		}
		rc = fetch(ctx, ra, key, etag, obj_size, off + total,
			   buf + total, size - total, &direct);
		if (rc != 0)
			break;
		total += direct;
		if (direct == 0 && ra->cur.got == 0)
			break; /* the object ended before its size said */
		if (direct > 0)
			break;
	}
	/* size was clamped to the snapshot's size: fewer bytes than that
	 * means the server sent less than the version holds. */
	if (rc == 0 && total < size)
		rc = -EIO;
	if (rc != 0) {
		/* A short read would look like the end of the file. */
		fs_readahead_reset(ctx, ra);
		return rc;
	}
	prefetch(ctx, ra, key, etag, obj_size);
	return (ssize_t)total;
}
