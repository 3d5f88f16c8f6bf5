/*
 * The body cache: exactly one version per path, ranges copied exactly,
 * the byte bound with least-recently-used eviction, forget.
 */
#include <check.h>
#include <string.h>

#include "cache/body_cache.h"
#include "check_main.h"

START_TEST(test_version_and_ranges)
{
	struct body_cache *c = body_cache_new(1024);
	char buf[16];
	size_t got = 99;

	ck_assert_ptr_nonnull(c);
	ck_assert(!body_cache_read(c, "d/a", "\"e1\"", 0, buf, 16, &got));
	ck_assert_uint_eq(got, 0);
	body_cache_put(c, "d/a", "\"e1\"", "0123456789", 10);
	ck_assert(body_cache_read(c, "d/a", "\"e1\"", 7, buf, 2, &got));
	ck_assert_uint_eq(got, 2);
	ck_assert_int_eq(memcmp(buf, "78", 2), 0);
	/* The same version, quoted or not. */
	ck_assert(body_cache_read(c, "d/a", "e1", 0, buf, 4, &got));
	ck_assert_uint_eq(got, 4);
	ck_assert_int_eq(memcmp(buf, "0123", 4), 0);
	/* Another version, or another path: not held. */
	ck_assert(!body_cache_read(c, "d/a", "\"e2\"", 0, buf, 16, &got));
	ck_assert(!body_cache_read(c, "d/ab", "\"e1\"", 0, buf, 16, &got));
	ck_assert(!body_cache_read(c, "d/a", NULL, 0, buf, 16, &got));
	ck_assert(body_cache_holds(c, "d/a", "e1"));
	/* Read to its end (here: past it, no bytes): then dropped. */
	ck_assert(body_cache_read(c, "d/a", "\"e1\"", 10, buf, 4, &got));
	ck_assert_uint_eq(got, 0);
	ck_assert(!body_cache_holds(c, "d/a", "e1"));
	ck_assert_uint_eq(body_cache_bytes(c), 0);
	/* A new version replaces the old one. */
	body_cache_put(c, "d/a", "\"e1\"", "0123456789", 10);
	body_cache_put(c, "d/a", "\"e2\"", "abc", 3);
	ck_assert(!body_cache_holds(c, "d/a", "\"e1\""));
	ck_assert(body_cache_holds(c, "d/a", "e2"));
	ck_assert(!body_cache_holds(c, "d/b", "\"e2\""));
	ck_assert_uint_eq(body_cache_count(c), 1);
	ck_assert_uint_eq(body_cache_bytes(c), 3);
	ck_assert(body_cache_read(c, "d/a", "\"e2\"", 0, buf, 16, &got));
	ck_assert_uint_eq(got, 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_uint_eq(body_cache_count(c), 0);
	/* Reads from offset 0 that it answered: 2 of them above. */
	ck_assert_uint_eq(body_cache_served(c), 2);
	body_cache_put(c, "d/a", "\"e3\"", "xyz", 3);
	body_cache_forget(c, "d/a");
	ck_assert(!body_cache_holds(c, "d/a", "\"e3\""));
	ck_assert_uint_eq(body_cache_bytes(c), 0);
	/* No ETag, or larger than the whole cache: not held. */
	body_cache_put(c, "d/b", "", "x", 1);
	ck_assert_uint_eq(body_cache_count(c), 0);
	{
		static char big[2048];

		body_cache_put(c, "d/big", "\"e\"", big, sizeof(big));
		ck_assert_uint_eq(body_cache_count(c), 0);
	}
	body_cache_free(c);
}
END_TEST

/* 100 bytes of room, 40-byte bodies: the third put evicts the least
 * recently used one, and a partial read counts as a use. */
START_TEST(test_byte_bound_lru)
{
	struct body_cache *c = body_cache_new(100);
	char body[40], buf[40];
	size_t got;

	memset(body, 'x', sizeof(body));
	body_cache_put(c, "a", "\"1\"", body, 40);
	body_cache_put(c, "b", "\"1\"", body, 40);
	ck_assert(body_cache_read(c, "a", "\"1\"", 0, buf, 10, &got));
	body_cache_put(c, "c", "\"1\"", body, 40);
	ck_assert_uint_eq(body_cache_count(c), 2);
	ck_assert_uint_eq(body_cache_bytes(c), 80);
	ck_assert(body_cache_holds(c, "a", "\"1\""));
	ck_assert(!body_cache_holds(c, "b", "\"1\""));
	ck_assert(body_cache_holds(c, "c", "\"1\""));
	/* Exactly full is allowed. */
	body_cache_put(c, "d", "\"1\"", body, 20);
	ck_assert_uint_eq(body_cache_bytes(c), 100);
	ck_assert_uint_eq(body_cache_count(c), 3);
	body_cache_free(c);
}
END_TEST

static Suite *body_cache_suite(void)
{
	Suite *s = suite_create("body_cache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_version_and_ranges);
	tcase_add_test(tc, test_byte_bound_lru);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(body_cache_suite)
