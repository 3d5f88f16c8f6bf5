/*
 * Listing walks (see prefetch.h). A job belongs to one listing snapshot
 * of one directory and keeps one state byte per entry; its worker
 * threads take the next entry to fetch from a cursor that follows the
 * walker, and stop when the window is full.
 *
 * Locking: p->lock guards every job and counter; p->cond is broadcast on
 * every state change (an entry done, the window grown, stopping). No
 * request is sent under the lock. A job is freed by whoever drops its
 * last reference (the list, each worker, each waiting lookup).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/dir_cache.h"
#include "fs/ctx.h"
#include "fs/lookup.h"
#include "fs/path.h"
#include "fs/prefetch.h"
#include "util/log.h"
#include "util/thread.h"

/* A job nobody used for this long is dropped at the next lookup. */
#define JOB_IDLE_MS 5000u
/* A worker with nothing to do for this long exits. */
#define WORKER_IDLE_MS 1000u

enum pf_state {
	PF_SKIP,    /* a directory, or metadata known: nothing to fetch */
	PF_TODO,    /* a file not fetched yet */
	PF_FG,	    /* a lookup is fetching it itself */
	PF_AHEAD,   /* a worker is fetching it */
	PF_READY,   /* a worker fetched it; not asked for yet */
	PF_DONE,    /* answered */
};

struct pf_job {
	struct pf_job *next;
	char *dir;		   /* owned */
	struct dir_snapshot *snap; /* a reference held by the job */
	unsigned char *state;	   /* owned, snap->n entries */
	size_t cursor;		   /* where workers look for work next */
	size_t ahead;		   /* PF_AHEAD + PF_READY entries */
	size_t window;		   /* how many may be ahead */
	unsigned lookups;	   /* names looked up (the 2nd opens the window) */
	size_t last;		   /* the entry looked up last, +1 (0: none) */
	int workers;		   /* threads running for this job */
	int refs;
	bool listed;		   /* still in p->jobs */
	uint64_t used_ms;
};

struct fs_prefetch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pf_job *jobs;
	int threads; /* workers running, all jobs */
	int listed;  /* jobs in the list (atomic reads outside the lock) */
	bool stopping;
	unsigned long sent, answered;
	struct thread_group workers; /* joined by fs_prefetch_free() */
};

struct pf_worker {
	struct fs_ctx *ctx;
	struct fs_prefetch *p;
	struct pf_job *job;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct fs_prefetch *fs_prefetch_new(void)
{
	struct fs_prefetch *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	thread_group_init(&p->workers);
	return p;
}

/* Called under the lock; the caller holds no other use of @p j after. */
static void job_unref(struct fs_ctx *ctx, struct pf_job *j)
{
	if (--j->refs > 0)
		return;
	dir_snapshot_release(ctx->dirs, j->snap);
	free(j->state);
	free(j->dir);
	free(j);
}

/* Called under the lock: take @p j out of the list (its users keep it). */
static void job_unlist(struct fs_ctx *ctx, struct fs_prefetch *p,
		       struct pf_job *j)
{
	for (struct pf_job **pp = &p->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			j->listed = false;
			__atomic_store_n(&p->listed, p->listed - 1,
					 __ATOMIC_RELAXED);
			job_unref(ctx, j);
			return;
		}
	}
}

void fs_prefetch_free(struct fs_ctx *ctx, struct fs_prefetch *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	while (p->threads > 0)
		pthread_cond_wait(&p->cond, &p->lock);
	while (p->jobs != NULL)
		job_unlist(ctx, p, p->jobs);
	pthread_mutex_unlock(&p->lock);
	thread_group_destroy(&p->workers);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void fs_prefetch_counts(struct fs_prefetch *p, unsigned long *sent,
			unsigned long *answered)
{
	pthread_mutex_lock(&p->lock);
	*sent = p->sent;
	*answered = p->answered;
	pthread_mutex_unlock(&p->lock);
}

/* Called under the lock: the next entry a worker should fetch, or
 * (size_t)-1. Work is taken from the cursor on, within the window. */
static size_t next_work(struct pf_job *j)
{
	if (j->ahead >= j->window)
		return (size_t)-1;
	while (j->cursor < j->snap->n) {
		size_t i = j->cursor++;

		if (j->state[i] == PF_TODO)
			return i;
	}
	return (size_t)-1;
}

static void *worker_main(void *arg)
{
	struct pf_worker *w = arg;
	struct fs_ctx *ctx = w->ctx;
	struct fs_prefetch *p = w->p;
	struct pf_job *j = w->job;

	free(w);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		size_t i;
		char *rel;
		struct attr_entry e;
		struct timespec until;
		uint64_t deadline;
		int wrc = 0;

		if (p->stopping || !j->listed)
			break;
		i = next_work(j);
		if (i != (size_t)-1) {
			j->state[i] = PF_AHEAD;
			j->ahead++;
			p->sent++;
			pthread_mutex_unlock(&p->lock);
			rel = fs_path_join(j->dir, j->snap->entries[i].name);
			/* The answer goes to the attribute cache; an error is
			 * not cached, so the lookup asks again and reports
			 * it. */
			if (rel != NULL)
				(void)fs_lookup_fresh(ctx, rel, FS_GUESS_FILE,
						      &e);
			free(rel);
			pthread_mutex_lock(&p->lock);
			if (j->state[i] == PF_AHEAD)
				j->state[i] = PF_READY;
			pthread_cond_broadcast(&p->cond);
			continue;
		}
		if (j->cursor >= j->snap->n)
			break; /* every entry taken */
		/* The window is full: wait for the walker to catch up. */
		deadline = now_ms() + WORKER_IDLE_MS;
		until.tv_sec = (time_t)(deadline / 1000u);
		until.tv_nsec = (long)(deadline % 1000u) * 1000000L;
		while (!p->stopping && j->listed && j->ahead >= j->window &&
		       wrc == 0)
			wrc = pthread_cond_timedwait(&p->cond, &p->lock,
						     &until);
		if (wrc != 0)
			break; /* idle: the walk ended or went elsewhere */
	}
	thread_group_ending(&p->workers);
	j->workers--;
	p->threads--;
	job_unref(ctx, j);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Called under the lock: run up to FS_PREFETCH_THREADS workers for the
 * job's window. A thread that cannot start only means less prefetch. */
static void spawn_workers(struct fs_ctx *ctx, struct fs_prefetch *p,
			  struct pf_job *j)
{
	size_t room = j->window > j->ahead ? j->window - j->ahead : 0;

	while (!p->stopping && j->workers < FS_PREFETCH_THREADS &&
	       (size_t)j->workers < room && j->cursor < j->snap->n) {
		struct pf_worker *w = malloc(sizeof(*w));
		int rc;

		if (w == NULL)
			return;
		w->ctx = ctx;
		w->p = p;
		w->job = j;
		/* Joins ended workers too: they are past p->lock, which
		 * they gave up before this caller could take it. */
		rc = thread_group_spawn(&p->workers, worker_main, w);
		if (rc != 0) {
			free(w);
			log_debug("prefetch: no thread: %s", strerror(rc));
			return;
		}
		j->workers++;
		j->refs++;
		p->threads++;
	}
}

/* Called under the lock: a new job for listing @p snap of @p dir (the
 * reference to @p snap passes to the job), or NULL. */
static struct pf_job *job_new(struct fs_ctx *ctx, struct fs_prefetch *p,
			      const char *dir, struct dir_snapshot *snap)
{
	struct pf_job *j = calloc(1, sizeof(*j));
	size_t listed = 0;

	if (j != NULL) {
		j->dir = strdup(dir);
		j->state = malloc(snap->n ? snap->n : 1);
	}
	if (j == NULL || j->dir == NULL || j->state == NULL) {
		if (j != NULL) {
			free(j->dir);
			free(j->state);
			free(j);
		}
		dir_snapshot_release(ctx->dirs, snap);
		return NULL;
	}
	j->snap = snap;
	for (size_t i = 0; i < snap->n; i++) {
		const struct attr_entry *a = &snap->entries[i].attr;

		j->state[i] = a->kind == ATTR_FILE && !a->meta_known ? PF_TODO
								     : PF_SKIP;
	}
	j->refs = 1;
	j->listed = true;
	j->next = p->jobs;
	p->jobs = j;
	__atomic_store_n(&p->listed, p->listed + 1, __ATOMIC_RELAXED);
	/* Keep the list short: drop idle jobs, then the oldest. */
	for (struct pf_job *k = p->jobs; k != NULL; k = k->next)
		listed++;
	while (listed > FS_PREFETCH_JOBS) {
		struct pf_job *last = p->jobs;

		while (last->next != NULL)
			last = last->next;
		job_unlist(ctx, p, last);
		listed--;
	}
	return j;
}

/* Called under the lock: the job of @p dir for its current listing
 * (taking one reference to it), making one if needed; NULL when none.
 * With @p expired_ok and no fresh listing, the job of the listing that
 * expired serves: a walk of a large directory outlasts the listing's
 * TTL, and the job only needs its names (what it fetches is fresh). */
static struct pf_job *job_get(struct fs_ctx *ctx, struct fs_prefetch *p,
			      const char *dir, bool expired_ok)
{
	struct dir_snapshot *snap = dir_cache_get(ctx->dirs, dir);
	uint64_t now = now_ms();
	struct pf_job *j, *found = NULL, *next;

	for (j = p->jobs; j != NULL; j = next) {
		bool mine = strcmp(j->dir, dir) == 0;

		next = j->next;
		if (mine && found == NULL &&
		    (j->snap == snap || (snap == NULL && expired_ok))) {
			found = j;
		} else if (mine ||
			   (j->workers == 0 && now - j->used_ms > JOB_IDLE_MS)) {
			/* An older listing of this directory, or idle. */
			job_unlist(ctx, p, j);
		}
	}
	if (found == NULL) {
		if (snap == NULL)
			return NULL;
		found = job_new(ctx, p, dir, snap); /* takes snap */
		if (found == NULL)
			return NULL;
	} else if (snap != NULL) {
		dir_snapshot_release(ctx->dirs, snap);
	}
	found->used_ms = now;
	found->refs++;
	return found;
}

static size_t find_entry(const struct dir_snapshot *s, const char *name)
{
	long i = dir_snapshot_find(s, name);

	return i < 0 ? (size_t)-1 : (size_t)i;
}

/* Called under the lock: the walker reached entry @p i, which a worker
 * fetched: the walk is real, so widen the window. */
static void consume(struct pf_job *j, size_t i, struct fs_prefetch *p)
{
	j->state[i] = PF_DONE;
	j->ahead--;
	p->answered++;
	j->window = j->window * 2 > FS_PREFETCH_WINDOW_MAX
			    ? FS_PREFETCH_WINDOW_MAX
			    : j->window * 2;
}

void fs_prefetch_note_cached(struct fs_ctx *ctx, const char *rel)
{
	struct fs_prefetch *p = ctx->prefetch;
	const char *slash = strrchr(rel, '/');
	size_t dlen = slash ? (size_t)(slash - rel) : 0;
	const char *name = slash ? slash + 1 : rel;

	if (p == NULL || __atomic_load_n(&p->listed, __ATOMIC_RELAXED) == 0)
		return;
	pthread_mutex_lock(&p->lock);
	for (struct pf_job *j = p->jobs; j != NULL; j = j->next) {
		size_t i;

		if (strlen(j->dir) != dlen || strncmp(j->dir, rel, dlen) != 0)
			continue;
		i = find_entry(j->snap, name);
		if (i != (size_t)-1 && j->state[i] == PF_READY) {
			if (j->cursor <= i)
				j->cursor = i + 1;
			j->used_ms = now_ms();
			consume(j, i, p);
			spawn_workers(ctx, p, j);
			pthread_cond_broadcast(&p->cond);
		}
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

/* The attribute cache's answer for @p rel, as the lookup's result. */
static int cached_answer(struct fs_ctx *ctx, const char *rel,
			 struct attr_entry *out)
{
	if (!attr_cache_get(ctx->attrs, rel, out))
		return -EAGAIN;
	return out->kind == ATTR_ABSENT ? -ENOENT : 0;
}

int fs_prefetch_lookup(struct fs_ctx *ctx, const char *parent,
		       const char *name, const char *rel, bool expired_ok,
		       struct attr_entry *out)
{
	struct fs_prefetch *p = ctx->prefetch;
	struct pf_job *j;
	bool fetched = false;
	size_t i;
	int rc = -EAGAIN;

	if (p == NULL || (expired_ok && __atomic_load_n(&p->listed,
						      __ATOMIC_RELAXED) == 0))
		return -EAGAIN; /* no walk to go on with */
	pthread_mutex_lock(&p->lock);
	if (p->stopping)
		goto unlock;
	j = job_get(ctx, p, parent, expired_ok);
	if (j == NULL)
		goto unlock;
	i = find_entry(j->snap, name);
	if (i == (size_t)-1 || j->state[i] == PF_SKIP)
		goto release;
	/* The walker is here: workers go on from just after it. */
	if (j->cursor <= i)
		j->cursor = i + 1;
	/* A walk moves on: the same name again (stat twice, a program
	 * checking one file) is no walk and sends nothing ahead. */
	if (j->last != i + 1 && ++j->lookups == 2 &&
	    j->window < FS_PREFETCH_WINDOW_MIN)
		j->window = FS_PREFETCH_WINDOW_MIN;
	j->last = i + 1;
	switch (j->state[i]) {
	case PF_TODO:
	case PF_DONE:
		/* Not (or no longer) the job's: this lookup asks itself. */
		j->state[i] = PF_FG;
		spawn_workers(ctx, p, j);
		pthread_mutex_unlock(&p->lock);
		rc = fs_lookup_fresh(ctx, rel, FS_GUESS_FILE, out);
		pthread_mutex_lock(&p->lock);
		j->state[i] = PF_DONE;
		pthread_cond_broadcast(&p->cond);
		goto release;
	case PF_FG:
		/* Another lookup of the same name is asking: share it. */
		while (j->state[i] == PF_FG && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		break;
	case PF_AHEAD:
	case PF_READY:
		/* Sent ahead: the walk is real, so widen the window. */
		while (j->state[i] == PF_AHEAD && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (j->state[i] == PF_READY) {
			consume(j, i, p);
			fetched = true;
		}
		break;
	}
	spawn_workers(ctx, p, j);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* Outside the lock: the cache locks itself. Expired or dropped
	 * since: -EAGAIN, and the caller asks. */
	rc = cached_answer(ctx, rel, out);
	pthread_mutex_lock(&p->lock);
	if (rc == -EAGAIN && fetched) {
		/* Fetched so far ahead that the answer expired before the
		 * walker came: a slower walk, so a narrower window. */
		j->window = j->window / 4 < FS_PREFETCH_WINDOW_MIN
				    ? FS_PREFETCH_WINDOW_MIN
				    : j->window / 4;
	}
release:
	job_unref(ctx, j);
unlock:
	pthread_mutex_unlock(&p->lock);
	return rc;
}
