/*
 * Small-file bodies ahead of a walk (see bodyahead.h). One walk per
 * mount: the directory, a reference to the listing snapshot it follows,
 * the index of the last file read and how far fetches were queued. Jobs
 * (one per body) sit in one list, queued or in flight; worker threads
 * take the oldest queued one. They are started with the first walk and
 * joined when the mount ends (a detached thread could still be exiting,
 * its libcrypto thread state not yet freed, when the process does: the
 * sanitizer build's leak check saw it), so at most
 * FS_BODYAHEAD_THREADS ever run, idle on a condition between walks.
 *
 * Locking: b->lock guards the walk, the job list and the counters;
 * b->cond is broadcast when a job ends, one is queued, or on stopping.
 * No request is sent under the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/body_cache.h"
#include "cache/dir_cache.h"
#include "fs/bodyahead.h"
#include "fs/ctx.h"
#include "fs/path.h"
#include "s3/client.h"
#include "util/log.h"

/* A read this many entries past the last one still continues a walk
 * (directories and large files in between are not read). */
#define WALK_GAP_MAX 8

struct ba_job {
	struct ba_job *next;
	char *rel; /* owned */
	char etag[S3_ETAG_MAX];
	uint64_t size;
	bool in_flight;
};

struct fs_bodyahead {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *dir;		   /* the walk's directory (owned), or NULL */
	struct dir_snapshot *snap; /* the listing it follows (a reference) */
	char *last;		   /* name of the last file read (owned) */
	size_t queued_to;	   /* entries of snap before this: looked at */
	size_t window;		   /* 0 until the walk is confirmed */
	struct ba_job *jobs, *tail;
	pthread_t tids[FS_BODYAHEAD_THREADS]; /* joined by free */
	int threads;			      /* started, all alive */
	bool stopping;
	unsigned long sent;
};

struct ba_worker {
	struct fs_ctx *ctx;
	struct fs_bodyahead *b;
};

struct fs_bodyahead *fs_bodyahead_new(void)
{
	struct fs_bodyahead *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	return b;
}

/* Called under the lock: unlink @p j (found by walking from the head)
 * and free it. */
static void job_drop(struct fs_bodyahead *b, struct ba_job *j)
{
	struct ba_job **pp, *prev = NULL;

	for (pp = &b->jobs; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			if (b->tail == j)
				b->tail = prev;
			break;
		}
	}
	free(j->rel);
	free(j);
}

/* Called under the lock: drop every queued job (in-flight ones finish
 * and drop themselves). */
static void drop_queued(struct fs_bodyahead *b)
{
	struct ba_job *j = b->jobs, *next;

	for (; j != NULL; j = next) {
		next = j->next;
		if (!j->in_flight)
			job_drop(b, j);
	}
}

/* Called under the lock: forget the walk. */
static void walk_end(struct fs_ctx *ctx, struct fs_bodyahead *b)
{
	drop_queued(b);
	if (b->snap != NULL)
		dir_snapshot_release(ctx->dirs, b->snap);
	b->snap = NULL;
	free(b->dir);
	b->dir = NULL;
	free(b->last);
	b->last = NULL;
}

void fs_bodyahead_free(struct fs_ctx *ctx, struct fs_bodyahead *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	drop_queued(b);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	/* No thread starts once stopping is set: threads is final. */
	for (int i = 0; i < b->threads; i++)
		pthread_join(b->tids[i], NULL);
	pthread_mutex_lock(&b->lock);
	walk_end(ctx, b);
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

unsigned long fs_bodyahead_sent(struct fs_bodyahead *b)
{
	unsigned long n;

	pthread_mutex_lock(&b->lock);
	n = b->sent;
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* GET version @p j->etag of @p j->rel whole, into the body cache. */
static void fetch(struct fs_ctx *ctx, const struct ba_job *j)
{
	struct s3_object_info info;
	char *key = fs_path_key(ctx->opts.prefix, j->rel, false);
	void *buf = malloc(j->size);
	size_t got = 0;
	int rc = -ENOMEM;

	memset(&info, 0, sizeof(info));
	if (key != NULL && buf != NULL)
		rc = s3_get_object(ctx->s3, key, 0, j->size, j->etag, buf,
				   &got, &info, NULL);
	/* A version replaced since the listing fails its If-Match: then
	 * nothing is held, and the reader asks for itself. */
	if (rc == 0 && got == j->size && info.size == j->size)
		body_cache_put(ctx->bodies, j->rel, j->etag, buf, got);
	else
		log_debug("bodyahead: '%s' not fetched (%s)", j->rel,
			  rc ? strerror(-rc) : "size changed");
	free(buf);
	free(key);
}

static void *worker_main(void *arg)
{
	struct ba_worker *w = arg;
	struct fs_ctx *ctx = w->ctx;
	struct fs_bodyahead *b = w->b;

	free(w);
	pthread_mutex_lock(&b->lock);
	while (!b->stopping) {
		struct ba_job *j = b->jobs;

		while (j != NULL && j->in_flight)
			j = j->next;
		if (j == NULL) {
			pthread_cond_wait(&b->cond, &b->lock);
			continue;
		}
		j->in_flight = true;
		b->sent++;
		pthread_mutex_unlock(&b->lock);
		fetch(ctx, j);
		pthread_mutex_lock(&b->lock);
		job_drop(b, j);
		pthread_cond_broadcast(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Called under the lock: up to FS_BODYAHEAD_THREADS workers, kept until
 * the mount ends. */
static void spawn_workers(struct fs_ctx *ctx, struct fs_bodyahead *b,
			  size_t queued)
{
	while (!b->stopping && b->threads < FS_BODYAHEAD_THREADS &&
	       (size_t)b->threads < queued) {
		struct ba_worker *w = malloc(sizeof(*w));
		int rc;

		if (w == NULL)
			return;
		w->ctx = ctx;
		w->b = b;
		rc = pthread_create(&b->tids[b->threads], NULL, worker_main,
				    w);
		if (rc != 0) {
			free(w);
			return;
		}
		b->threads++;
	}
}

/* Called under the lock: the job for @p rel, queued or in flight, or
 * NULL. */
static struct ba_job *job_for(const struct fs_bodyahead *b, const char *rel)
{
	for (struct ba_job *j = b->jobs; j != NULL; j = j->next)
		if (strcmp(j->rel, rel) == 0)
			return j;
	return NULL;
}

/* Called under the lock: queue the small files of the walk's listing
 * from queued_to up to @p end, but none held or asked for already; the
 * number queued. */
static size_t queue_upto(struct fs_ctx *ctx, struct fs_bodyahead *b,
			 size_t end)
{
	size_t n = 0;

	for (; b->queued_to < end; b->queued_to++) {
		const struct dir_entry *e = &b->snap->entries[b->queued_to];
		struct ba_job *j;

		if (e->attr.kind != ATTR_FILE || e->attr.size == 0 ||
		    e->attr.size > FS_BODYAHEAD_MAX_SIZE ||
		    e->attr.etag[0] == '\0')
			continue;
		j = calloc(1, sizeof(*j));
		if (j == NULL)
			break;
		j->rel = fs_path_join(b->dir, e->name);
		if (j->rel == NULL) {
			free(j);
			break;
		}
		if (job_for(b, j->rel) != NULL ||
		    body_cache_holds(ctx->bodies, j->rel, e->attr.etag)) {
			free(j->rel);
			free(j);
			continue;
		}
		memcpy(j->etag, e->attr.etag, sizeof(j->etag));
		j->size = e->attr.size;
		if (b->tail != NULL)
			b->tail->next = j;
		else
			b->jobs = j;
		b->tail = j;
		n++;
	}
	return n;
}

/* Called under the lock: whether reading entry @p i of @p snap is the
 * walk's next step: past the last file read, by at most WALK_GAP_MAX
 * entries (directories and large files in between are not read). */
static bool next_step(const struct fs_bodyahead *b,
		      const struct dir_snapshot *snap, long i)
{
	long last;

	if (b->last == NULL)
		return false;
	last = dir_snapshot_find(snap, b->last);
	if (last < 0)
		last = -last - 2; /* gone since: the entry before its place */
	return i > last && i - last <= WALK_GAP_MAX;
}

void fs_bodyahead_note_read(struct fs_ctx *ctx, const char *rel)
{
	struct fs_bodyahead *b = ctx->bodyahead;
	struct dir_snapshot *fresh, *use;
	char *parent = NULL, *last = NULL;
	const char *name;
	bool here;
	size_t end, queued;
	long i;

	if (b == NULL || ctx->bodies == NULL ||
	    fs_path_split(rel, &parent, &name) != 0)
		return;
	last = strdup(name);
	fresh = dir_cache_get(ctx->dirs, parent);
	pthread_mutex_lock(&b->lock);
	here = !b->stopping && b->dir != NULL && b->snap != NULL &&
	       strcmp(b->dir, parent) == 0;
	/* The listing expired: the walk goes on over the one it holds. */
	use = fresh != NULL ? fresh : here ? b->snap : NULL;
	i = use != NULL ? dir_snapshot_find(use, name) : -1;
	if (b->stopping || last == NULL || i < 0)
		goto out;
	if (!here || !next_step(b, use, i)) {
		/* Not the next step of a walk: this read starts one, over
		 * the same snapshot or a new one. The walk keeps exactly one
		 * reference: its own when the snapshot is the same (fresh,
		 * if it is that one too, is a second one, dropped below),
		 * else fresh's. */
		bool same = use == b->snap;

		if (same)
			b->snap = NULL; /* not released by walk_end() */
		walk_end(ctx, b);
		b->dir = parent;
		parent = NULL;
		b->snap = use;
		if (!same)
			fresh = NULL;
		b->window = 0;
		b->queued_to = (size_t)i + 1;
		goto step;
	}
	if (use != b->snap) {
		/* A newer listing: go on over it, from here. */
		dir_snapshot_release(ctx->dirs, b->snap);
		b->snap = use;
		fresh = NULL;
		b->queued_to = (size_t)i + 1;
	}
	/* The next step: fetch further ahead each time. */
	b->window = b->window == 0 ? FS_BODYAHEAD_WINDOW_MIN
		    : b->window * 2 > FS_BODYAHEAD_WINDOW_MAX
			    ? FS_BODYAHEAD_WINDOW_MAX
			    : b->window * 2;
	if (b->queued_to <= (size_t)i)
		b->queued_to = (size_t)i + 1;
	end = (size_t)i + 1 + b->window;
	if (end > b->snap->n)
		end = b->snap->n;
	queued = queue_upto(ctx, b, end);
	if (queued > 0) {
		spawn_workers(ctx, b, queued);
		pthread_cond_broadcast(&b->cond);
	}
step:
	free(b->last);
	b->last = last;
	last = NULL;
out:
	pthread_mutex_unlock(&b->lock);
	if (fresh != NULL)
		dir_snapshot_release(ctx->dirs, fresh);
	free(parent);
	free(last);
}

bool fs_bodyahead_wait(struct fs_ctx *ctx, const char *rel)
{
	struct fs_bodyahead *b = ctx->bodyahead;
	bool waited = false;
	struct ba_job *j;

	if (b == NULL)
		return false;
	pthread_mutex_lock(&b->lock);
	while ((j = job_for(b, rel)) != NULL) {
		if (!j->in_flight) {
			job_drop(b, j);
			break;
		}
		waited = true;
		pthread_cond_wait(&b->cond, &b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return waited;
}
