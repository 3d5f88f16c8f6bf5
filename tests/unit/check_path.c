/* Paths, keys, and which listed keys can be file names. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "fs/path.h"

START_TEST(test_rel_and_key)
{
	char *k;

	ck_assert_str_eq(fs_path_rel("/"), "");
	ck_assert_str_eq(fs_path_rel("/a/b"), "a/b");
	k = fs_path_key("", "a/b", false);
	ck_assert_str_eq(k, "a/b");
	free(k);
	k = fs_path_key("pre/", "a", true);
	ck_assert_str_eq(k, "pre/a/");
	free(k);
	/* The root directory of a prefixed mount is the prefix itself. */
	k = fs_path_key("pre/", "", true);
	ck_assert_str_eq(k, "pre/");
	free(k);
	k = fs_path_key("", "", true);
	ck_assert_str_eq(k, "");
	free(k);
}
END_TEST

START_TEST(test_split_join)
{
	char *parent = NULL, *j;
	const char *name;

	ck_assert_int_eq(fs_path_split("a/b/c", &parent, &name), 0);
	ck_assert_str_eq(parent, "a/b");
	ck_assert_str_eq(name, "c");
	free(parent);
	ck_assert_int_eq(fs_path_split("top", &parent, &name), 0);
	ck_assert_str_eq(parent, "");
	ck_assert_str_eq(name, "top");
	free(parent);
	j = fs_path_join("", "x");
	ck_assert_str_eq(j, "x");
	free(j);
	j = fs_path_join("a/b", "x y");
	ck_assert_str_eq(j, "a/b/x y");
	free(j);
}
END_TEST

static const struct {
	const char *name;
	size_t len;
	bool valid;
} names[] = {
	{"a", 1, true},
	{"with space", 10, true},
	{"caf\xc3\xa9", 5, true},
	{"100%", 4, true},
	{"", 0, false},
	{".", 1, false},
	{"..", 2, false},
	{"...", 3, true},
	{"a/b", 3, false},
	{"a\0b", 3, false},
};

START_TEST(test_name_valid)
{
	ck_assert_msg(fs_path_name_valid(names[_i].name, names[_i].len) ==
			      names[_i].valid,
		      "name #%d", _i);
}
END_TEST

START_TEST(test_name_length_limit)
{
	char buf[257];

	memset(buf, 'x', sizeof(buf));
	ck_assert(fs_path_name_valid(buf, 255));
	ck_assert(!fs_path_name_valid(buf, 256));
}
END_TEST

static const struct {
	const char *prefix, *key;
	bool common;
	enum fs_listing_kind kind;
	const char *name;
} listed[] = {
	{"d/", "d/file", false, FS_LISTED_FILE, "file"},
	{"d/", "d/", false, FS_LISTED_SELF, NULL},
	{"d/", "d/sub/", true, FS_LISTED_DIR, "sub"},
	{"", "top", false, FS_LISTED_FILE, "top"},
	{"", "dir/", true, FS_LISTED_DIR, "dir"},
	/* "d//x" lists as the common prefix "d//": an empty name. */
	{"d/", "d//", true, FS_LISTED_INVALID, NULL},
	{"d/", "d/./", true, FS_LISTED_INVALID, NULL},
	{"d/", "d/../", true, FS_LISTED_INVALID, NULL},
	{"d/", "d/..", false, FS_LISTED_INVALID, NULL},
	{"d/", "other", false, FS_LISTED_INVALID, NULL},
};

START_TEST(test_classify)
{
	const char *name = NULL;
	size_t len = 0;
	enum fs_listing_kind k = fs_path_classify(
		listed[_i].prefix, listed[_i].key, listed[_i].common, &name,
		&len);

	ck_assert_msg(k == listed[_i].kind, "case %d: kind %d", _i, (int)k);
	if (listed[_i].name != NULL) {
		ck_assert_uint_eq(len, strlen(listed[_i].name));
		ck_assert(memcmp(name, listed[_i].name, len) == 0);
	}
}
END_TEST

START_TEST(test_classify_long_name)
{
	char key[300];
	const char *name;
	size_t len;

	memcpy(key, "d/", 2);
	memset(key + 2, 'n', 256);
	key[258] = '\0';
	ck_assert_int_eq(fs_path_classify("d/", key, false, &name, &len),
			 FS_LISTED_INVALID);
	key[257] = '\0';
	ck_assert_int_eq(fs_path_classify("d/", key, false, &name, &len),
			 FS_LISTED_FILE);
	ck_assert_uint_eq(len, 255);
}
END_TEST

static Suite *path_suite(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rel_and_key);
	tcase_add_test(tc, test_split_join);
	tcase_add_loop_test(tc, test_name_valid, 0,
			    sizeof(names) / sizeof(names[0]));
	tcase_add_test(tc, test_name_length_limit);
	tcase_add_loop_test(tc, test_classify, 0,
			    sizeof(listed) / sizeof(listed[0]));
	tcase_add_test(tc, test_classify_long_name);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(path_suite)
