/* Helper threads joined before their owner goes (see thread.h). */
#include <errno.h>
#include <stdlib.h>

#include "util/thread.h"

void thread_group_init(struct thread_group *g)
{
	pthread_mutex_init(&g->lock, NULL);
	g->ended = NULL;
	g->n_ended = 0;
	g->cap_ended = 0;
}

/* Join the threads that ended; they are past their last lock. */
static void join_ended(struct thread_group *g)
{
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < g->n_ended; i++)
		pthread_join(g->ended[i], NULL);
	g->n_ended = 0;
	pthread_mutex_unlock(&g->lock);
}

int thread_group_spawn(struct thread_group *g, void *(*fn)(void *),
		       void *arg)
{
	pthread_t t;

	join_ended(g);
	return pthread_create(&t, NULL, fn, arg);
}

void thread_group_ending(struct thread_group *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->n_ended == g->cap_ended) {
		size_t cap = g->cap_ended ? 2 * g->cap_ended : 16;
		pthread_t *n = realloc(g->ended, cap * sizeof(*n));

		if (n == NULL) {
			/* Nobody will join it: let it clean up after itself,
			 * the old way. */
			pthread_mutex_unlock(&g->lock);
			pthread_detach(pthread_self());
			return;
		}
		g->ended = n;
		g->cap_ended = cap;
	}
	g->ended[g->n_ended++] = pthread_self();
	pthread_mutex_unlock(&g->lock);
}

void thread_group_destroy(struct thread_group *g)
{
	join_ended(g);
	free(g->ended);
	g->ended = NULL;
	g->cap_ended = 0;
	pthread_mutex_destroy(&g->lock);
}
