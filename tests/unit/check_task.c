/*
 * Unit tests for src/util/task.c: a task waited for has run; one walked
 * away from frees its argument when it ends, before or after the walk;
 * destroying the pool waits for every task still running.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_main.h"
#include "util/task.h"

struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;	/* the task may finish */
	int ran;	/* set by the task */
	int *freed;	/* counter bumped by release */
};

static void job_init(struct job *j, bool go, int *freed)
{
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->go = go;
	j->ran = 0;
	j->freed = freed;
}

static void job_run(void *arg)
{
	struct job *j = arg;

	pthread_mutex_lock(&j->lock);
	while (!j->go)
		pthread_cond_wait(&j->cond, &j->lock);
	j->ran = 42;
	pthread_mutex_unlock(&j->lock);
}

static void job_release(void *arg)
{
	struct job *j = arg;

	__atomic_add_fetch(j->freed, 1, __ATOMIC_SEQ_CST);
}

static void job_go(struct job *j)
{
	pthread_mutex_lock(&j->lock);
	j->go = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

START_TEST(test_wait_sees_the_work)
{
	struct task_pool pool;
	int freed = 0;
	struct job j;
	struct task *t;

	task_pool_init(&pool);
	job_init(&j, false, &freed);
	t = task_start(&pool, job_run, &j);
	ck_assert_ptr_nonnull(t);
	job_go(&j);
	task_wait(t);
	ck_assert_int_eq(j.ran, 42);
	ck_assert_int_eq(freed, 0); /* waited for: the caller owns it */
	task_pool_destroy(&pool);
}
END_TEST

/* Walked away from while still running: the release runs when the work
 * ends, and the pool's destroy waits for that. */
START_TEST(test_abandon_running)
{
	struct task_pool pool;
	int freed = 0;
	struct job j;
	struct task *t;

	task_pool_init(&pool);
	job_init(&j, false, &freed);
	t = task_start(&pool, job_run, &j);
	ck_assert_ptr_nonnull(t);
	task_abandon(t, job_release);
	ck_assert_int_eq(__atomic_load_n(&freed, __ATOMIC_SEQ_CST), 0);
	job_go(&j);
	task_pool_destroy(&pool);
	ck_assert_int_eq(j.ran, 42);
	ck_assert_int_eq(freed, 1);
}
END_TEST

/* Walked away from after it ended: the release runs at once. */
START_TEST(test_abandon_finished)
{
	struct task_pool pool;
	int freed = 0;
	struct job j;
	struct task *t;

	task_pool_init(&pool);
	job_init(&j, true, &freed);
	t = task_start(&pool, job_run, &j);
	ck_assert_ptr_nonnull(t);
	while (__atomic_load_n(&j.ran, __ATOMIC_SEQ_CST) != 42)
		usleep(1000);
	usleep(20000); /* past the task's own bookkeeping, most runs */
	task_abandon(t, job_release);
	task_pool_destroy(&pool);
	ck_assert_int_eq(freed, 1);
}
END_TEST

/* Many at once, half of them walked away from. */
START_TEST(test_many)
{
	enum { N = 64 };
	struct task_pool pool;
	struct job jobs[N];
	struct task *t[N];
	int freed = 0;

	task_pool_init(&pool);
	for (int i = 0; i < N; i++) {
		job_init(&jobs[i], true, &freed);
		t[i] = task_start(&pool, job_run, &jobs[i]);
		ck_assert_ptr_nonnull(t[i]);
	}
	for (int i = 0; i < N; i++) {
		if (i % 2)
			task_abandon(t[i], job_release);
		else
			task_wait(t[i]);
	}
	task_pool_destroy(&pool);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(jobs[i].ran, 42);
	ck_assert_int_eq(freed, N / 2);
}
END_TEST

static Suite *task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_wait_sees_the_work);
	tcase_add_test(tc, test_abandon_running);
	tcase_add_test(tc, test_abandon_finished);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(task_suite)
