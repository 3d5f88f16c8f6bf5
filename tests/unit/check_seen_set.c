/*
 * The once-only set: first time, again, the bound and its single
 * "full" answer, many threads agreeing on one first.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>

#include "cache/seen_set.h"
#include "check_main.h"

START_TEST(test_first_then_again)
{
	struct seen_set *s = seen_set_new(10);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(seen_set_add(s, "d/../z"), SEEN_FIRST);
	ck_assert_int_eq(seen_set_add(s, "d/../z"), SEEN_AGAIN);
	ck_assert_int_eq(seen_set_add(s, "d/./y"), SEEN_FIRST);
	/* Exact strings: a prefix or a longer string is another one. */
	ck_assert_int_eq(seen_set_add(s, "d/../"), SEEN_FIRST);
	ck_assert_int_eq(seen_set_add(s, "d/../zz"), SEEN_FIRST);
	ck_assert_int_eq(seen_set_add(s, ""), SEEN_FIRST);
	ck_assert_int_eq(seen_set_add(s, ""), SEEN_AGAIN);
	ck_assert_int_eq(seen_set_add(s, "d/./y"), SEEN_AGAIN);
	seen_set_free(s);
}
END_TEST

START_TEST(test_bound_says_full_once)
{
	struct seen_set *s = seen_set_new(3);
	char key[16];

	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(seen_set_add(s, key), SEEN_FIRST);
	}
	/* The first one past the bound says so, then silence... */
	ck_assert_int_eq(seen_set_add(s, "k3"), SEEN_FULL);
	ck_assert_int_eq(seen_set_add(s, "k4"), SEEN_AGAIN);
	ck_assert_int_eq(seen_set_add(s, "k3"), SEEN_AGAIN);
	/* ...and what was remembered stays remembered. */
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(seen_set_add(s, key), SEEN_AGAIN);
	}
	seen_set_free(s);
}
END_TEST

#define THREADS 8
#define KEYS 500

static struct seen_set *shared;
static int firsts[THREADS];

static void *adder(void *arg)
{
	int *mine = arg;
	char key[16];

	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if (seen_set_add(shared, key) == SEEN_FIRST)
			(*mine)++;
	}
	return NULL;
}

/* Every key is first for exactly one thread (the table grows meanwhile). */
START_TEST(test_threads_one_first_each)
{
	pthread_t t[THREADS];
	int total = 0;

	shared = seen_set_new(KEYS * 2);
	for (int i = 0; i < THREADS; i++) {
		firsts[i] = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder,
						&firsts[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += firsts[i];
	}
	ck_assert_int_eq(total, KEYS);
	seen_set_free(shared);
}
END_TEST

static Suite *seen_set_suite(void)
{
	Suite *s = suite_create("seen_set");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_first_then_again);
	tcase_add_test(tc, test_bound_says_full_once);
	tcase_add_test(tc, test_threads_one_first_each);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(seen_set_suite)
