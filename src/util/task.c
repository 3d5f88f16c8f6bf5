/* Work on a helper thread, waited for or walked away from (task.h). */
#include <stdlib.h>

#include "util/task.h"

struct task {
	struct task_pool *pool;
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;			/* fn has returned */
	bool abandoned;			/* nobody waits: the thread frees */
	void (*release)(void *arg);	/* set with abandoned */
};

void task_pool_init(struct task_pool *p)
{
	thread_group_init(&p->threads);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->running = 0;
}

void task_pool_destroy(struct task_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->running > 0)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
	thread_group_destroy(&p->threads);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->lock);
}

static void task_free(struct task *t)
{
	pthread_cond_destroy(&t->done_cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void *task_main(void *arg)
{
	struct task *t = arg;
	struct task_pool *p = t->pool;
	bool abandoned;

	t->fn(t->arg);
	/* Recorded for joining before anyone can learn it is done. */
	thread_group_ending(&p->threads);
	pthread_mutex_lock(&t->lock);
	t->done = true;
	abandoned = t->abandoned;
	pthread_cond_signal(&t->done_cond);
	pthread_mutex_unlock(&t->lock);
	if (abandoned) {
		t->release(t->arg);
		task_free(t);
	}
	/* The last touch of the pool: destroy waits for it. */
	pthread_mutex_lock(&p->lock);
	if (--p->running == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct task *task_start(struct task_pool *p, void (*fn)(void *arg),
			void *arg)
{
	struct task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->pool = p;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->done_cond, NULL);
	pthread_mutex_lock(&p->lock);
	p->running++;
	pthread_mutex_unlock(&p->lock);
	if (thread_group_spawn(&p->threads, task_main, t) != 0) {
		pthread_mutex_lock(&p->lock);
		if (--p->running == 0)
			pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->lock);
		task_free(t);
		return NULL;
	}
	return t;
}

void task_wait(struct task *t)
{
	pthread_mutex_lock(&t->lock);
	while (!t->done)
		pthread_cond_wait(&t->done_cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	/* The thread no longer touches t once done is set and it found
	 * nobody had walked away. */
	task_free(t);
}

void task_abandon(struct task *t, void (*release)(void *arg))
{
	bool done;

	pthread_mutex_lock(&t->lock);
	done = t->done;
	if (!done) {
		t->abandoned = true;
		t->release = release;
	}
	pthread_mutex_unlock(&t->lock);
	if (done) {
		release(t->arg);
		task_free(t);
	}
}
