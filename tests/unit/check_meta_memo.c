/*
 * Unit tests for src/cache/meta_memo.c: a memo answers only for the exact
 * version (ETag and Last-Modified) it was given, keeps the newest
 * version per path, evicts the least recently used path at its bound,
 * and stays consistent under concurrent use.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/meta_memo.h"
#include "check_main.h"

static struct s3_meta meta_mode(mode_t mode)
{
	struct s3_meta m;

	memset(&m, 0, sizeof(m));
	m.has_mode = true;
	m.mode = mode;
	m.has_uid = true;
	m.uid = 1234;
	return m;
}

START_TEST(test_exact_version_only)
{
	struct meta_memo *m = meta_memo_new(16);
	struct s3_meta in = meta_mode(S_IFLNK | 0777), out;

	ck_assert_ptr_nonnull(m);
	meta_memo_put(m, "a/link", "abc123", 1000, &in);
	memset(&out, 0, sizeof(out));
	ck_assert(meta_memo_get(m, "a/link", "abc123", 1000, &out));
	ck_assert_uint_eq(out.mode, S_IFLNK | 0777);
	ck_assert_uint_eq(out.uid, 1234);
	/* New content: another ETag. */
	ck_assert(!meta_memo_get(m, "a/link", "abc124", 1000, &out));
	/* Same content, metadata rewritten: another Last-Modified. */
	ck_assert(!meta_memo_get(m, "a/link", "abc123", 1001, &out));
	/* Another path with the same version. */
	ck_assert(!meta_memo_get(m, "a/linK", "abc123", 1000, &out));
	ck_assert(!meta_memo_get(m, "a", "abc123", 1000, &out));
	/* A listing may quote the ETag a HEAD gave bare, or the reverse. */
	ck_assert(meta_memo_get(m, "a/link", "\"abc123\"", 1000, &out));
	meta_memo_free(m);
}
END_TEST

START_TEST(test_newest_version_replaces)
{
	struct meta_memo *m = meta_memo_new(16);
	struct s3_meta v1 = meta_mode(S_IFREG | 0644);
	struct s3_meta v2 = meta_mode(S_IFREG | 0755), out;

	meta_memo_put(m, "f", "e1", 10, &v1);
	meta_memo_put(m, "f", "e1", 11, &v2);
	ck_assert_uint_eq(meta_memo_count(m), 1);
	ck_assert(!meta_memo_get(m, "f", "e1", 10, &out));
	ck_assert(meta_memo_get(m, "f", "e1", 11, &out));
	ck_assert_uint_eq(out.mode, S_IFREG | 0755);
	meta_memo_free(m);
}
END_TEST

START_TEST(test_empty_etag_never_remembered)
{
	struct meta_memo *m = meta_memo_new(16);
	struct s3_meta in = meta_mode(S_IFDIR | 0700), out;

	meta_memo_put(m, "d", "", 5, &in);
	ck_assert_uint_eq(meta_memo_count(m), 0);
	ck_assert(!meta_memo_get(m, "d", "", 5, &out));
	meta_memo_free(m);
}
END_TEST

START_TEST(test_disabled)
{
	struct meta_memo *m = meta_memo_new(0);
	struct s3_meta in = meta_mode(S_IFREG | 0600), out;

	meta_memo_put(m, "f", "e", 1, &in);
	ck_assert(!meta_memo_get(m, "f", "e", 1, &out));
	ck_assert_uint_eq(meta_memo_count(m), 0);
	meta_memo_free(m);
}
END_TEST

START_TEST(test_lru_eviction)
{
	struct meta_memo *m = meta_memo_new(3);
	struct s3_meta in = meta_mode(S_IFREG | 0600), out;

	meta_memo_put(m, "a", "e", 1, &in);
	meta_memo_put(m, "b", "e", 1, &in);
	meta_memo_put(m, "c", "e", 1, &in);
	/* Using "a" makes "b" the least recently used. */
	ck_assert(meta_memo_get(m, "a", "e", 1, &out));
	meta_memo_put(m, "d", "e", 1, &in);
	ck_assert_uint_eq(meta_memo_count(m), 3);
	ck_assert(meta_memo_get(m, "a", "e", 1, &out));
	ck_assert(!meta_memo_get(m, "b", "e", 1, &out));
	ck_assert(meta_memo_get(m, "c", "e", 1, &out));
	ck_assert(meta_memo_get(m, "d", "e", 1, &out));
	meta_memo_free(m);
}
END_TEST

START_TEST(test_overlong_etag_ignored)
{
	struct meta_memo *m = meta_memo_new(4);
	struct s3_meta in = meta_mode(S_IFREG | 0600), out;
	char etag[S3_ETAG_MAX + 8];

	memset(etag, 'x', sizeof(etag) - 1);
	etag[sizeof(etag) - 1] = '\0';
	meta_memo_put(m, "f", etag, 1, &in);
	ck_assert_uint_eq(meta_memo_count(m), 0);
	ck_assert(!meta_memo_get(m, "f", etag, 1, &out));
	meta_memo_free(m);
}
END_TEST

struct hammer_arg {
	struct meta_memo *m;
	int id;
	int bad;
};

/* Each thread's paths carry a mode derived from the path, so a reader
 * can tell a torn or misfiled entry. */
static void *hammer(void *p)
{
	struct hammer_arg *a = p;
	char path[32];

	for (int i = 0; i < 20000; i++) {
		int k = (i * 7 + a->id) % 200;
		struct s3_meta in = meta_mode(S_IFREG | (mode_t)k), out;

		snprintf(path, sizeof(path), "p%d", k);
		if (i % 3 == 0)
			meta_memo_put(a->m, path, "etag", k, &in);
		else if (meta_memo_get(a->m, path, "etag", k, &out) &&
			 out.mode != (S_IFREG | (mode_t)k))
			a->bad++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct meta_memo *m = meta_memo_new(64);
	struct hammer_arg args[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		args[i] = (struct hammer_arg){.m = m, .id = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &args[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].bad, 0);
	}
	ck_assert_uint_le(meta_memo_count(m), 64);
	meta_memo_free(m);
}
END_TEST

static Suite *meta_memo_suite(void)
{
	Suite *s = suite_create("meta_memo");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_exact_version_only);
	tcase_add_test(tc, test_newest_version_replaces);
	tcase_add_test(tc, test_empty_etag_never_remembered);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_lru_eviction);
	tcase_add_test(tc, test_overlong_etag_ignored);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(meta_memo_suite)
