/* Which version the kernel page cache holds, per path. */
#include <check.h>
#include <stdio.h>

#include "cache/page_etags.h"
#include "check_main.h"

START_TEST(test_same_version_keeps)
{
	struct page_etags *p = page_etags_new(10);

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
	struct page_etags *p = page_etags_new(10);

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
 * version's size. A full forget drops both. */
START_TEST(test_forget_pages_keeps_attrs)
{
	struct page_etags *p = page_etags_new(10);

	page_etags_note_attrs(p, "a", "\"e1\"");
	page_etags_open(p, "a", "\"e1\"");
	page_etags_forget_pages(p, "a");
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e1\""));
	ck_assert(!page_etags_open(p, "a", "\"e1\""));
	page_etags_forget(p, "a");
	ck_assert(!page_etags_attrs_differ(p, "a", "\"e2\""));
	page_etags_forget_pages(p, "never-seen");
	page_etags_free(p);
}
END_TEST

START_TEST(test_bounded_lru)
{
	struct page_etags *p = page_etags_new(3);
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
	struct page_etags *p = page_etags_new(2);

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
	/* Independent of the page versions; forget() drops it too. */
	ck_assert(!page_etags_open(p, "a", "\"e2\""));
	ck_assert(page_etags_attrs_differ(p, "a", "\"e2\""));
	page_etags_forget(p, "a");
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

static Suite *page_etags_suite(void)
{
	Suite *s = suite_create("page_etags");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_same_version_keeps);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_forget_pages_keeps_attrs);
	tcase_add_test(tc, test_bounded_lru);
	tcase_add_test(tc, test_attrs_version);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(page_etags_suite)
