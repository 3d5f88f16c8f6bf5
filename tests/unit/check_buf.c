/*
 * Unit tests for src/util/buf.c: growth, ceiling, take/reset/free, addf.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "util/buf.h"

START_TEST(test_init_empty)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 100);
	ck_assert_str_eq(buf_str(&b), "");
	buf_free(&b);
}
END_TEST

START_TEST(test_add_and_grow)
{
	struct buf b;
	char expect[10001];
	size_t i;

	buf_init(&b, BUF_MAX_DEFAULT);
	/* 10000 single-byte appends force many reallocations. */
	for (i = 0; i < 10000; i++) {
		char c = (char)('a' + i % 26);

		ck_assert_int_eq(buf_add(&b, &c, 1), 0);
		expect[i] = c;
	}
	expect[10000] = '\0';
	ck_assert_uint_eq(b.len, 10000);
	ck_assert_uint_ge(b.cap, 10001);
	ck_assert_str_eq(buf_str(&b), expect);
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_add_binary)
{
	struct buf b;
	static const char bin[5] = { 'a', '\0', 'b', '\0', 'c' };

	buf_init(&b, 64);
	ck_assert_int_eq(buf_add(&b, bin, sizeof(bin)), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(b.data, bin, 5);
	ck_assert_int_eq(b.data[5], '\0');
	/* A zero-length append is a no-op that succeeds. */
	ck_assert_int_eq(buf_add(&b, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 5);
	buf_free(&b);
}
END_TEST

START_TEST(test_ceiling_exact)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_adds(&b, "12345678"), 0);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(buf_str(&b), "12345678");
	/* One more byte passes the ceiling. */
	ck_assert_int_eq(buf_adds(&b, "9"), -E2BIG);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(buf_str(&b), "12345678");
	/* The allocation never exceeds ceiling + NUL. */
	ck_assert_uint_le(b.cap, 9);
	buf_free(&b);
}
END_TEST

START_TEST(test_ceiling_keeps_old_content)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_adds(&b, "hello"), 0);
	ck_assert_int_eq(buf_adds(&b, "world!"), -E2BIG);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(buf_str(&b), "hello");
	ck_assert_int_eq(buf_addf(&b, "%s", "world!"), -E2BIG);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(buf_str(&b), "hello");
	ck_assert_int_eq(buf_addf(&b, "%d", 12345), 0);
	ck_assert_str_eq(buf_str(&b), "hello12345");
	ck_assert_int_eq(buf_adds(&b, ""), 0);
	ck_assert_int_eq(buf_adds(&b, "x"), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "hello12345");
	buf_free(&b);
}
END_TEST

START_TEST(test_ceiling_zero)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_adds(&b, "a"), -E2BIG);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(buf_str(&b), "");
	ck_assert_int_eq(buf_add(&b, "", 0), 0);
	ck_assert_str_eq(buf_str(&b), "");
	buf_free(&b);
}
END_TEST

START_TEST(test_ceiling_huge_request)
{
	struct buf b;

	buf_init(&b, 16);
	ck_assert_int_eq(buf_adds(&b, "abc"), 0);
	/* A length that would overflow len + n must not wrap around. */
	ck_assert_int_eq(buf_add(&b, "x", (size_t)-1), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "abc");
	buf_free(&b);
}
END_TEST

START_TEST(test_addf)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_addf(&b, "%s=%d;", "a", 1), 0);
	ck_assert_int_eq(buf_addf(&b, "%05u|%x|%c", 42u, 255u, 'Z'), 0);
	ck_assert_str_eq(buf_str(&b), "a=1;00042|ff|Z");
	ck_assert_uint_eq(b.len, strlen("a=1;00042|ff|Z"));
	ck_assert_int_eq(buf_addf(&b, "%s", ""), 0);
	ck_assert_uint_eq(b.len, 14);
	buf_free(&b);
}
END_TEST

START_TEST(test_addf_long)
{
	struct buf b;
	char big[3001];

	memset(big, 'q', 3000);
	big[3000] = '\0';
	buf_init(&b, 4096);
	ck_assert_int_eq(buf_adds(&b, "<"), 0);
	ck_assert_int_eq(buf_addf(&b, "%s>", big), 0);
	ck_assert_uint_eq(b.len, 3002);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[1], 'q');
	ck_assert_int_eq(b.data[3000], 'q');
	ck_assert_int_eq(b.data[3001], '>');
	ck_assert_int_eq(b.data[3002], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_reset_keeps_allocation)
{
	struct buf b;
	char *data;
	size_t cap;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_adds(&b, "some text"), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_str_eq(buf_str(&b), "");
	ck_assert_int_eq(buf_adds(&b, "new"), 0);
	ck_assert_str_eq(buf_str(&b), "new");
	buf_free(&b);
	/* Reset of a never-allocated buffer is harmless. */
	buf_init(&b, 100);
	buf_reset(&b);
	ck_assert_str_eq(buf_str(&b), "");
	buf_free(&b);
}
END_TEST

START_TEST(test_take)
{
	struct buf b;
	char *s;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_adds(&b, "owned"), 0);
	s = buf_take(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "owned");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 100);
	ck_assert_str_eq(buf_str(&b), "");
	free(s);

	/* The buffer is reusable after take. */
	ck_assert_int_eq(buf_adds(&b, "again"), 0);
	ck_assert_str_eq(buf_str(&b), "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_take_empty)
{
	struct buf b;
	char *s;

	/* An empty buffer still hands over a freeable "": NULL is kept for
	 * allocation failure. */
	buf_init(&b, 100);
	s = buf_take(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);

	ck_assert_int_eq(buf_adds(&b, "x"), 0);
	buf_reset(&b);
	s = buf_take(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_null(b.data);
	free(s);
}
END_TEST

START_TEST(test_free_reinit)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_adds(&b, "data"), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* Double free is safe: the pointer was cleared. */
	buf_free(&b);
	buf_init(&b, 3);
	ck_assert_int_eq(buf_adds(&b, "abcd"), -E2BIG);
	ck_assert_int_eq(buf_adds(&b, "abc"), 0);
	ck_assert_str_eq(buf_str(&b), "abc");
	buf_free(&b);
}
END_TEST

Suite *buf_suite(void);

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_init_empty);
	tcase_add_test(tc, test_add_and_grow);
	tcase_add_test(tc, test_add_binary);
	tcase_add_test(tc, test_ceiling_exact);
	tcase_add_test(tc, test_ceiling_keeps_old_content);
	tcase_add_test(tc, test_ceiling_zero);
	tcase_add_test(tc, test_ceiling_huge_request);
	tcase_add_test(tc, test_addf);
	tcase_add_test(tc, test_addf_long);
	tcase_add_test(tc, test_reset_keeps_allocation);
	tcase_add_test(tc, test_take);
	tcase_add_test(tc, test_take_empty);
	tcase_add_test(tc, test_free_reinit);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(buf_suite)
