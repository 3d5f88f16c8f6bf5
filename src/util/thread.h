/**
 * @file thread.h
 * Detached helper threads (the prefetchers' workers): started, never
 * joined; each one tells its owner when it ends.
 */
#ifndef ETAGFS_UTIL_THREAD_H
#define ETAGFS_UTIL_THREAD_H

/** Run @p fn(@p arg) on a new detached thread. 0, or the errno of
 * pthread_create (the caller still owns @p arg then). */
int thread_spawn_detached(void *(*fn)(void *), void *arg);

#endif
