/**
 * @file task.h
 * One function run on a helper thread while the caller does something
 * else, and then either waited for or walked away from.
 *
 * A lookup sends its HEAD and its LIST at once this way (fs/lookup.c):
 * when the HEAD finds a file the LIST's answer no longer matters and the
 * caller returns without waiting for it; otherwise it waits. A task the
 * caller walked away from frees its argument itself when it ends.
 *
 * Every thread of a pool is joined (util/thread.h) before
 * task_pool_destroy() returns, which first waits for the tasks still
 * running. Locking: a mutex per pool and one per task, never held while
 * the function runs. Any thread may call.
 */
#ifndef ETAGFS_UTIL_TASK_H
#define ETAGFS_UTIL_TASK_H

#include <pthread.h>
#include <stdbool.h>

#include "util/thread.h"

struct task_pool {
	struct thread_group threads;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned running; /**< tasks whose thread has not ended */
};

struct task;

void task_pool_init(struct task_pool *p);

/** Wait for every task still running, join their threads. */
void task_pool_destroy(struct task_pool *p);

/** Run @p fn(@p arg) on a new thread of @p p. NULL when no thread could
 * be made (memory, thread limit): the caller still owns @p arg and runs
 * the work itself. */
struct task *task_start(struct task_pool *p, void (*fn)(void *arg),
			void *arg);

/** Wait until @p fn has returned and release @p t; the argument is the
 * caller's again. */
void task_wait(struct task *t);

/** Release @p t without waiting: when @p fn has returned (now or later)
 * @p release(@p arg) frees the argument. */
void task_abandon(struct task *t, void (*release)(void *arg));

#endif
