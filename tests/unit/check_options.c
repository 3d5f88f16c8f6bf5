/* The mount command line. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "fs/options.h"

static int parse(int argc, const char **argv, struct fs_options *o,
		 struct fuse_args *args, char *err)
{
	args->argc = argc;
	args->argv = (char **)argv;
	args->allocated = 0;
	fs_options_init(o);
	return fs_options_parse(args, o, err, 512);
}

START_TEST(test_basic)
{
	const char *argv[] = {"etagfs", "bkt:/pre/fix/", "/mnt", "-o",
			      "endpoint=http://h:1,attr_ttl=250,part_size=8M,"
			      "part_concurrency=7,path_style,allow_other",
			      NULL};
	struct fuse_args args;
	struct fs_options o;
	char err[512];

	ck_assert_int_eq(parse(5, argv, &o, &args, err), 0);
	ck_assert_str_eq(o.bucket, "bkt");
	ck_assert_str_eq(o.prefix, "pre/fix/");
	ck_assert_str_eq(o.endpoint, "http://h:1");
	ck_assert_uint_eq(o.attr_ttl_ms, 250);
	ck_assert_uint_eq(o.part_size, 8u << 20);
	ck_assert_int_eq(o.part_concurrency, 7);
	ck_assert_int_eq(o.addressing, S3_ADDR_PATH);
	/* libfuse's own options and the mountpoint stay for libfuse. */
	ck_assert_int_eq(args.argc, 4);
	ck_assert_str_eq(args.argv[1], "-o");
	ck_assert_str_eq(args.argv[2], "allow_other");
	ck_assert_str_eq(args.argv[3], "/mnt");
	fs_options_free(&o);
	fuse_opt_free_args(&args);
}
END_TEST

static const struct {
	const char *spec, *bucket, *prefix;
	int rc;
} specs[] = {
	{"b", "b", "", 0},
	{"b:/", "b", "", 0},
	{"b:/a", "b", "a/", 0},
	{"b:a/b//", "b", "a/b/", 0},
	{"", NULL, NULL, -EINVAL},
	{":/a", NULL, NULL, -EINVAL},
	{"b/c", NULL, NULL, -EINVAL},
	{"b:/a//b", NULL, NULL, -EINVAL},
	{"b:/a/../b", NULL, NULL, -EINVAL},
	{"b:/./a", NULL, NULL, -EINVAL},
};

START_TEST(test_split_bucket)
{
	char *b = NULL, *p = NULL;
	int rc = fs_options_split_bucket(specs[_i].spec, &b, &p);

	ck_assert_msg(rc == specs[_i].rc, "'%s': rc %d", specs[_i].spec, rc);
	if (rc == 0) {
		ck_assert_str_eq(b, specs[_i].bucket);
		ck_assert_str_eq(p, specs[_i].prefix);
	} else {
		ck_assert_ptr_null(b);
		ck_assert_ptr_null(p);
	}
	free(b);
	free(p);
}
END_TEST

static const struct {
	const char *text;
	int rc;
	uint64_t value;
} sizes[] = {
	{"0", 0, 0},
	{"1", 0, 1},
	{"8M", 0, 8ull << 20},
	{"5g", 0, 5ull << 30},
	{"64k", 0, 64ull << 10},
	{"", -EINVAL, 0},
	{"-1", -EINVAL, 0},
	{"12X", -EINVAL, 0},
	{"1MB", -EINVAL, 0},
	{"99999999999999999999", -EINVAL, 0},
	{"17179869184G", -EINVAL, 0},
};

START_TEST(test_sizes)
{
	uint64_t v = 0;
	int rc = fs_options_parse_size(sizes[_i].text, &v);

	ck_assert_msg(rc == sizes[_i].rc, "'%s': rc %d", sizes[_i].text, rc);
	if (rc == 0)
		ck_assert_uint_eq(v, sizes[_i].value);
}
END_TEST

static const char *bad_lines[][6] = {
	{"etagfs", "bkt", "/mnt", "-o", "part_size=1M", NULL},
	{"etagfs", "bkt", "/mnt", "-o", "umask=999", NULL},
	{"etagfs", "bkt", "/mnt", "-o", "part_concurrency=0", NULL},
	{"etagfs", "bkt", "/mnt", "-o", "part_concurrency=65", NULL},
	{"etagfs", "bkt", "/mnt", "-o", "path_style,vhost_style", NULL},
	{"etagfs", "bkt", "/mnt", "-o", "timeout=0", NULL},
	{"etagfs", "bkt", NULL, NULL, NULL, NULL},
	{"etagfs", "bkt", "/mnt", "extra", NULL, NULL},
};

START_TEST(test_bad_lines)
{
	struct fuse_args args;
	struct fs_options o;
	char err[512];
	int argc = 0;

	while (bad_lines[_i][argc] != NULL)
		argc++;
	ck_assert_int_eq(parse(argc, bad_lines[_i], &o, &args, err), -EINVAL);
	/* One readable sentence, naming what was wrong. */
	ck_assert_msg(strlen(err) > 10, "case %d: '%s'", _i, err);
	fs_options_free(&o);
	fuse_opt_free_args(&args);
}
END_TEST

START_TEST(test_help_and_ro)
{
	const char *argv[] = {"etagfs", "--help", NULL};
	const char *argv_ro[] = {"etagfs", "b", "/m", "-o", "ro", NULL};
	struct fuse_args args;
	struct fs_options o;
	char err[512];

	ck_assert_int_eq(parse(2, argv, &o, &args, err), 0);
	ck_assert(o.show_help);
	fs_options_free(&o);
	fuse_opt_free_args(&args);
	ck_assert_int_eq(parse(5, argv_ro, &o, &args, err), 0);
	ck_assert(o.read_only);
	/* "ro" is also passed on to libfuse so the kernel enforces it. */
	ck_assert_int_eq(args.argc, 4);
	ck_assert_str_eq(args.argv[1], "-o");
	ck_assert_str_eq(args.argv[2], "ro");
	fs_options_free(&o);
	fuse_opt_free_args(&args);
}
END_TEST

START_TEST(test_flags)
{
	const char *argv[] = {"etagfs", "b", "/m", "-o",
			      "nonatomic_multipart,conflict_copy=bucket,"
			      "unsigned_payload,uid=7",
			      NULL};
	const char *argv_local[] = {"etagfs", "b", "/m", "-o",
				    "conflict_copy=bucket,conflict_copy=local",
				    NULL};
	struct fuse_args args;
	struct fs_options o;
	char err[512];

	ck_assert_int_eq(parse(5, argv, &o, &args, err), 0);
	ck_assert_int_eq(o.nonatomic_multipart, 1);
	ck_assert_int_eq(o.conflict_in_bucket, 1);
	ck_assert_int_eq(o.unsigned_payload, 1);
	/* Neighbouring fields are untouched by the flag stores. */
	ck_assert_int_eq(o.allow_unconditional, 0);
	ck_assert_int_eq(o.uid, 7);
	ck_assert_int_eq(o.gid, -1);
	fs_options_free(&o);
	fuse_opt_free_args(&args);
	ck_assert_int_eq(parse(5, argv_local, &o, &args, err), 0);
	ck_assert_int_eq(o.conflict_in_bucket, 0);
	fs_options_free(&o);
	fuse_opt_free_args(&args);
}
END_TEST

/* A credential given as an option is refused without echoing it. */
START_TEST(test_secret_option_refused)
{
	const char *argv[] = {"etagfs", "b", "/m", "-o",
			      "allow_other,aws_secret_access_key=S3cr3tV4lue",
			      NULL};
	const char *argv_ok[] = {"etagfs", "b", "/m", "-o",
				 "passwd_file=/p,default_permissions", NULL};
	struct fuse_args args;
	struct fs_options o;
	char err[512];

	ck_assert_int_eq(parse(5, argv, &o, &args, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "aws_secret_access_key"));
	ck_assert_ptr_null(strstr(err, "S3cr3tV4lue"));
	fs_options_free(&o);
	fuse_opt_free_args(&args);
	/* Option names of every length near the copy's size (a 63-byte
	 * name overflowed it once, found by fuzz_options). */
	for (size_t len = 60; len <= 70; len++) {
		char opt[80];
		const char *argv_long[] = {"etagfs", "b", "/m", "-o", opt,
					   NULL};

		memset(opt, 'a', len);
		memcpy(opt + len, "=x", 3);
		ck_assert_int_eq(parse(5, argv_long, &o, &args, err), 0);
		fs_options_free(&o);
		fuse_opt_free_args(&args);
	}
	/* passwd_file names a file: not a credential itself. */
	ck_assert_int_eq(parse(5, argv_ok, &o, &args, err), 0);
	fs_options_free(&o);
	fuse_opt_free_args(&args);
}
END_TEST

static Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic);
	tcase_add_loop_test(tc, test_split_bucket, 0,
			    sizeof(specs) / sizeof(specs[0]));
	tcase_add_loop_test(tc, test_sizes, 0,
			    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_loop_test(tc, test_bad_lines, 0,
			    sizeof(bad_lines) / sizeof(bad_lines[0]));
	tcase_add_test(tc, test_help_and_ro);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_secret_option_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(options_suite)
