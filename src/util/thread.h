/**
 * @file thread.h
 * Helper threads that end on their own (idle workers) and are all
 * joined before their owner goes.
 *
 * A worker that has told its owner it is done still runs its exit
 * (libcrypto's per-thread cleanup among it). Detached, it could still be
 * running when the process exits: the sanitizer build then reported a
 * 904-byte leak at unmount, one run in two, from the read-ahead workers.
 * Here each thread records itself as its last act, and is joined by the
 * next spawn or by thread_group_destroy().
 */
#ifndef ETAGFS_UTIL_THREAD_H
#define ETAGFS_UTIL_THREAD_H

#include <pthread.h>
#include <stddef.h>

struct thread_group {
	pthread_mutex_t lock;
	pthread_t *ended; /**< threads that called thread_group_ending() */
	size_t n_ended, cap_ended;
};

void thread_group_init(struct thread_group *g);

/** Run @p fn(@p arg) on a new thread of @p g, after joining the ones
 * that ended. 0, or the errno of pthread_create (the caller still owns
 * @p arg then). */
int thread_group_spawn(struct thread_group *g, void *(*fn)(void *),
		       void *arg);

/** The calling thread of @p g is about to return: it is joined later.
 * Call it before telling the owner the thread is done. */
void thread_group_ending(struct thread_group *g);

/** Join every thread that called thread_group_ending(), and free. The
 * owner has seen all of them done. */
void thread_group_destroy(struct thread_group *g);

#endif
