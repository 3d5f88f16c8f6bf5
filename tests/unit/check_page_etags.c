/* Which version the kernel page cache holds, per path. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/page_etags.h"
#include "check_main.h"

START_TEST(test_same_version_keeps)
{
	struct page_etags *p = page_etags_new(10, NULL);

	/* Nothing cached yet: drop (there is nothing to keep). */
	ck_assert(!page_etags_open(p, "a", "\"e1\""));
	ck_assert(page_etags_open(p, "a", "\"e1\""));
	/* A new version drops the pages and is what the cache holds next. */
	ck_assert(!page_etags_open(p, "a", "\"e2\""));
	ck_assert(page_etags_open(p, "a", "\"e2\""));
	/* Paths are independent. */
	ck_assert(!page_etags_open(p, "b", "\"e2\""));
	page_etags_free(p);
}
END_TEST

START_TEST(test_forget)
{
	struct page_etags *p = page_etags_new(10, NULL);

	page_etags_open(p, "a", "\"e1\"");
	page_etags_forget(p, "a");
	ck_assert(!page_etags_open(p, "a", "\"e1\""));
	/* An empty ETag (unknown version) never keeps anything. */
	ck_assert(!page_etags_open(p, "a", ""));
	ck_assert(!page_etags_open(p, "a", ""));
	page_etags_forget(p, "never-seen");
	page_etags_free(p);
}
END_TEST

/* A refreshed snapshot drops the pages' version but not what the kernel
 * was told: the next open must still see that the kernel holds another
 * version's size. A full forget (a local writer, a commit, a rename)
 * leaves "no committed version": no short read is trusted until the
 * kernel is told a version again. */
START_TEST(test_forget_pages_keeps_attrs)
{
	struct page_etags *p = page_etags_new(10, NULL);

	page_etags_note_attrs(p, "a", "\"e1\"");
	page_etags_open(p, "a", "\"e1\"");
	page_etags_forget_pages(p, "a");
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e1\""));
	ck_assert(!page_etags_open(p, "a", "\"e1\""));
	page_etags_forget(p, "a");
	ck_assert(page_etags_attrs_differ(p, "a", "\"e1\""));
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	ck_assert(page_etags_read_end(p, "a", "\"e1\"", NULL));
	page_etags_note_attrs(p, "a", "\"e2\"");
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e2\""));
	page_etags_forget_pages(p, "never-seen");
	page_etags_free(p);
}
END_TEST

START_TEST(test_bounded_lru)
{
	struct page_etags *p = page_etags_new(3, NULL);
	char path[16];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "p%d", i);
		page_etags_open(p, path, "e");
	}
	/* Touch p0 so p1 is the least recently used, then add p3. */
	ck_assert(page_etags_open(p, "p0", "e"));
	page_etags_open(p, "p3", "e");
	ck_assert(page_etags_open(p, "p0", "e"));
	ck_assert(page_etags_open(p, "p2", "e"));
	ck_assert(page_etags_open(p, "p3", "e"));
	ck_assert(!page_etags_open(p, "p1", "e"));
	page_etags_free(p);
}
END_TEST

START_TEST(test_attrs_version)
{
	struct page_etags *p = page_etags_new(2, NULL);

	/* Nothing told yet: no reason to distrust a short read. */
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e1\""));
	page_etags_note_attrs(p, "a", "\"e1\"");
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e1\""));
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	/* The newest answer counts. */
	page_etags_note_attrs(p, "a", "\"e2\"");
	ck_assert(page_etags_attrs_differ(p, "a", "\"e1\""));
	/* A local writer's view is no version at all. */
	page_etags_note_attrs(p, "a", NULL);
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	/* Independent of the page versions; an open of an unknown version
	 * drops only the pages. */
	ck_assert(!page_etags_open(p, "a", "\"e2\""));
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	page_etags_note_attrs(p, "a", "\"e2\"");
	ck_assert(!page_etags_open(p, "a", ""));
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e2\""));
	page_etags_note_attrs(p, "a", NULL);
	/* Bounded: the least recently told path is forgotten. */
	page_etags_note_attrs(p, "b", "\"x\"");
	page_etags_note_attrs(p, "c", "\"x\"");
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e9\""));
	ck_assert(page_etags_attrs_differ(p, "b", "\"e9\""));
	page_etags_free(p);
}
END_TEST

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* A short read of the version the kernel was told of holds back another
 * version's attributes for the guard, so that the read's answer reaches
 * the kernel first; the same version, or after the guard, goes at once. */
START_TEST(test_read_end_holds_back_other_versions)
{
	struct page_etags *p = page_etags_new(10, fake_clock);

	fake_now = 1000;
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"e1\""), 0);
	/* The reader of e1 reached its end: fine, and recorded. */
	ck_assert(!page_etags_read_end(p, "a", "\"e1\"", NULL));
	fake_now = 1010;
	/* The same version again: no wait. */
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"e1\""), 0);
	/* Another version 10 ms after the end: waits the rest (40 ms). */
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"e2\""),
			  PAGE_ETAGS_END_GUARD_MS - 10);
	/* A second answer of e2 within the guard waits too: the first may
	 * still be waiting. */
	fake_now = 1020;
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"e2\""),
			  PAGE_ETAGS_END_GUARD_MS - 20);
	/* A reader of e1 reaching its end now must fail. */
	ck_assert(page_etags_read_end(p, "a", "\"e1\"", NULL));
	/* After the guard: no wait. */
	fake_now = 1000 + PAGE_ETAGS_END_GUARD_MS;
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"e3\""), 0);
	/* A local writer's view (no version) is another version too. */
	ck_assert(!page_etags_read_end(p, "a", "\"e3\"", NULL));
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", NULL),
			  PAGE_ETAGS_END_GUARD_MS);
	/* A local writer opening right after a reader's end waits too. */
	fake_now = 3000;
	page_etags_note_attrs(p, "w", "\"v1\"");
	ck_assert(!page_etags_read_end(p, "w", "\"v1\"", NULL));
	fake_now = 3005;
	ck_assert_uint_eq(page_etags_forget(p, "w"),
			  PAGE_ETAGS_END_GUARD_MS - 5);
	/* Other paths are not held back. */
	ck_assert_uint_eq(page_etags_note_attrs(p, "b", "\"x\""), 0);
	page_etags_free(p);
}
END_TEST

/* The version a refresh replaced counts as the reader's own; a path the
 * kernel was told nothing of is never refused. */
START_TEST(test_read_end_also_and_unknown)
{
	struct page_etags *p = page_etags_new(10, fake_clock);

	fake_now = 5000;
	ck_assert(!page_etags_read_end(p, "new", "\"e1\"", NULL));
	page_etags_note_attrs(p, "a", "\"old\"");
	ck_assert(page_etags_read_end(p, "a", "\"new\"", NULL));
	ck_assert(page_etags_read_end(p, "a", "\"new\"", ""));
	ck_assert(!page_etags_read_end(p, "a", "\"new\"", "\"old\""));
	ck_assert(page_etags_read_end(p, "a", "\"new\"", "\"other\""));
	/* That end was recorded: another version waits. */
	ck_assert_uint_eq(page_etags_note_attrs(p, "a", "\"new\""),
			  PAGE_ETAGS_END_GUARD_MS);
	page_etags_free(p);
}
END_TEST

static Suite *page_etags_suite(void)
{
	Suite *s = suite_create("page_etags");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_same_version_keeps);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_forget_pages_keeps_attrs);
	tcase_add_test(tc, test_bounded_lru);
	tcase_add_test(tc, test_attrs_version);
	tcase_add_test(tc, test_read_end_holds_back_other_versions);
	tcase_add_test(tc, test_read_end_also_and_unknown);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(page_etags_suite)
