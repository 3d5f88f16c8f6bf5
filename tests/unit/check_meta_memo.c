/*
 * Unit tests for src/cache/meta_memo.c: a memo answers only for the exact
 * version (ETag and Last-Modified) it was given, keeps the newest
 * version per path, evicts the least recently used path at its bound,
 * and stays consistent under concurrent use.
 */
#include <errno.h>
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


/* Everything a version carries comes back from the file exactly, for
 * paths and ETags with spaces, newlines, '%' and UTF-8, in LRU order. */
START_TEST(test_file_round_trip)
{
	struct meta_memo *a = meta_memo_new(16), *b = meta_memo_new(16);
	struct s3_meta in, out;
	struct buf text;
	size_t skipped = 99;
	const char *odd = "dir with space/new\nline%25 \xc3\xa9t\xc3\xa9.txt";

	memset(&in, 0, sizeof(in));
	in.has_mode = in.has_uid = in.has_gid = in.has_mtime = true;
	in.mode = S_IFREG | 04751;
	in.uid = 4000000000u; /* (uid_t)-1 is "none" */
	in.gid = 0;
	in.mtime.tv_sec = -5;
	in.mtime.tv_nsec = 999999999;
	memcpy(in.token, "0123456789abcdef0123456789abcdef", 33);
	memcpy(in.parent, "fedcba9876543210fedcba9876543210", 33);
	meta_memo_put(a, odd, "\"9b2cf535f27731c974343645a3985328\"", 1700000000,
		      &in);
	struct s3_meta plain = meta_mode(S_IFLNK | 0777);
	meta_memo_put(a, "b", "e-2", 1, &plain);

	buf_init(&text, 1 << 20);
	ck_assert_int_eq(meta_memo_write(a, "http://h:1\nbkt\np/", &text), 0);
	ck_assert_ptr_null(strchr(strchr(buf_str(&text), '\n') + 1, '\t'));
	ck_assert_int_eq(meta_memo_read(b, "http://h:1\nbkt\np/", buf_str(&text),
					&skipped),
			 2);
	ck_assert_uint_eq(skipped, 0);
	memset(&out, 0x55, sizeof(out));
	ck_assert(meta_memo_get(b, odd, "\"9b2cf535f27731c974343645a3985328\"",
				1700000000, &out));
	ck_assert(out.has_mode && out.has_uid && out.has_gid && out.has_mtime);
	ck_assert_uint_eq(out.mode, S_IFREG | 04751);
	ck_assert_uint_eq(out.uid, 4000000000u);
	ck_assert_uint_eq(out.gid, 0);
	ck_assert_int_eq(out.mtime.tv_sec, -5);
	ck_assert_int_eq(out.mtime.tv_nsec, 999999999);
	ck_assert_str_eq(out.token, "0123456789abcdef0123456789abcdef");
	ck_assert_str_eq(out.parent, "fedcba9876543210fedcba9876543210");
	ck_assert(meta_memo_get(b, "b", "e-2", 1, &out));
	ck_assert(out.has_mode && out.has_uid && !out.has_gid &&
		  !out.has_mtime);
	ck_assert_uint_eq(out.mode, S_IFLNK | 0777);
	ck_assert_str_eq(out.token, "");
	/* Still exact-version only. */
	ck_assert(!meta_memo_get(b, "b", "e-2", 2, &out));
	buf_free(&text);
	meta_memo_free(a);
	meta_memo_free(b);
}
END_TEST

/* Another mount's file, or no memo file at all, adds nothing. */
START_TEST(test_file_other_id_refused)
{
	struct meta_memo *a = meta_memo_new(16), *b = meta_memo_new(16);
	struct s3_meta in = meta_mode(S_IFREG | 0644);
	struct buf text;
	size_t skipped;

	meta_memo_put(a, "f", "e1", 10, &in);
	buf_init(&text, 1 << 20);
	ck_assert_int_eq(meta_memo_write(a, "ep\nbucket\n", &text), 0);
	ck_assert_int_eq(meta_memo_read(b, "ep\nbucket\nprefix/",
					buf_str(&text), &skipped),
			 -EINVAL);
	ck_assert_int_eq(meta_memo_read(b, "ep\nbucke", buf_str(&text),
					&skipped),
			 -EINVAL);
	ck_assert_int_eq(meta_memo_read(b, "ep\nbucket\n", "", &skipped),
			 -EINVAL);
	ck_assert_int_eq(meta_memo_read(b, "ep\nbucket\n",
					"etagfs-memo 2 ep%0Abucket%0A\n",
					&skipped),
			 -EINVAL);
	ck_assert_uint_eq(meta_memo_count(b), 0);
	buf_free(&text);
	meta_memo_free(a);
	meta_memo_free(b);
}
END_TEST

/* A torn or edited file: each bad line is skipped, good ones kept. */
START_TEST(test_file_damaged_lines_skipped)
{
	struct meta_memo *m = meta_memo_new(16);
	struct s3_meta out;
	size_t skipped;
	const char *text =
		"etagfs-memo 1 id\n"
		"good e1 10 1 100644 0 0 0 0 - -\n"
		"few e1 10 1 100644 0 0 0 0 -\n"
		"many e1 10 1 100644 0 0 0 0 - - -\n"
		"badmode e1 10 1 100649 0 0 0 0 - -\n"
		"bigmode e1 10 1 1777777 0 0 0 0 - -\n"
		"ns e1 10 8 0 0 0 0 1000000000 - -\n"
		"flags e1 10 16 0 0 0 0 0 - -\n"
		"uid e1 10 2 0 4294967295 0 0 0 - -\n"
		"neg e1 10 2 0 -1 0 0 0 - -\n"
		"tok e1 10 0 0 0 0 0 0 0123 -\n"
		"TOK e1 10 0 0 0 0 0 0 0123456789ABCDEF0123456789ABCDEF -\n"
		"esc%zz e1 10 0 0 0 0 0 0 - -\n"
		"nul%00 e1 10 0 0 0 0 0 0 - -\n"
		" e1 10 0 0 0 0 0 0 - -\n"
		"\n"
		"good2 e2 20 1 40755 0 0 0 0 - -\n"
		"torn e1 10 1 100644 0";

	ck_assert_int_eq(meta_memo_read(m, "id", text, &skipped), 2);
	ck_assert_uint_eq(skipped, 15);
	ck_assert_uint_eq(meta_memo_count(m), 2);
	ck_assert(meta_memo_get(m, "good", "e1", 10, &out));
	ck_assert_uint_eq(out.mode, S_IFREG | 0644);
	ck_assert(meta_memo_get(m, "good2", "e2", 20, &out));
	ck_assert(!meta_memo_get(m, "torn", "e1", 10, &out));
	meta_memo_free(m);
}
END_TEST

/* Written least recently used first: a smaller memo that reads it keeps
 * the most recently used versions. */
START_TEST(test_file_keeps_lru_order)
{
	struct meta_memo *a = meta_memo_new(16), *b = meta_memo_new(2);
	struct s3_meta in = meta_mode(S_IFREG | 0600), out;
	struct buf text;
	size_t skipped;

	meta_memo_put(a, "one", "e", 1, &in);
	meta_memo_put(a, "two", "e", 1, &in);
	meta_memo_put(a, "three", "e", 1, &in);
	ck_assert(meta_memo_get(a, "one", "e", 1, &out)); /* now newest */
	buf_init(&text, 1 << 20);
	ck_assert_int_eq(meta_memo_write(a, "id", &text), 0);
	ck_assert_int_eq(meta_memo_read(b, "id", buf_str(&text), &skipped), 3);
	ck_assert(meta_memo_get(b, "one", "e", 1, &out));
	ck_assert(meta_memo_get(b, "three", "e", 1, &out));
	ck_assert(!meta_memo_get(b, "two", "e", 1, &out));
	buf_free(&text);
	meta_memo_free(a);
	meta_memo_free(b);
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
	tcase_add_test(tc, test_file_round_trip);
	tcase_add_test(tc, test_file_other_id_refused);
	tcase_add_test(tc, test_file_damaged_lines_skipped);
	tcase_add_test(tc, test_file_keeps_lru_order);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(meta_memo_suite)
