/*
 * Mount-time behaviour: a good mount works end to end; bad input gives one
 * readable line on stderr, a non-zero exit within 10 s and no mount;
 * --version and --help.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BAD_INPUT_LIMIT_MS 10000

static const char content[] = "hello from etagfs\n";

/* The S3 object @key of @bucket holds exactly @len bytes of @data. */
static void assert_object(const char *bucket, const char *key,
			  const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	long st;

	st = it_s3_get(bucket, key, &got, &got_len, NULL);
	IT_ASSERT_MSG(st == 200, "GET %s/%s: HTTP %ld", bucket, key, st);
	IT_ASSERT_EQ_INT(got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

/*
 * Run etagfs with @args (mountpoint @mnt among them) and check the
 * contract for bad input: exits non-zero by itself within 10 s, says so
 * in exactly one non-empty line on stderr that names no secret, leaves no
 * mount behind.
 */
static void assert_bad_input(const char *const *args, const char *mnt,
			     const char *what)
{
	struct it_run_result r;
	size_t len;
	char *nl;

	it_run_mount_cmd(args, 20, &r);
	it_log("%s: exit %d after %ld ms, stderr: %s", what, r.exit_code,
	       r.elapsed_ms, r.err);
	IT_ASSERT_MSG(!r.timed_out, "%s: etagfs still running after 20 s",
		      what);
	IT_ASSERT_MSG(r.exit_code > 0, "%s: exit status %d, want non-zero",
		      what, r.exit_code);
	IT_ASSERT_MSG(r.elapsed_ms <= BAD_INPUT_LIMIT_MS,
		      "%s: took %ld ms, want <= %d", what, r.elapsed_ms,
		      BAD_INPUT_LIMIT_MS);
	len = strlen(r.err);
	IT_ASSERT_MSG(len > 1, "%s: nothing on stderr", what);
	nl = strchr(r.err, '\n');
	IT_ASSERT_MSG(nl && nl[1] == '\0',
		      "%s: want exactly one newline-terminated line on "
		      "stderr, got: [%s]",
		      what, r.err);
	IT_ASSERT_MSG(!strstr(r.err, it_env.secret_key),
		      "%s: the secret key is on stderr", what);
	IT_ASSERT_MSG(!it_is_mounted(mnt), "%s: %s left mounted", what, mnt);
}

/* "endpoint=...,region=...,passwd_file=PW[,extra]" (static buffer). */
static const char *opts_for(const char *endpoint, const char *pw,
			    const char *extra)
{
	static char buf[8192];

	IT_SNPRINTF(buf, "endpoint=%s,region=%s,passwd_file=%s%s%s",
		    endpoint ? endpoint : it_env.endpoint, it_env.region, pw,
		    extra ? "," : "", extra ? extra : "");
	return buf;
}

/* A 0600 passwd file with the test user's credentials, in a new dir. */
static const char *good_passwd(void)
{
	static char path[4096];

	IT_SNPRINTF(path, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(path, 0600, NULL, NULL);
	return path;
}

IT_TEST(test_good_mount_write_visible)
{
	static unsigned char big[300 * 1024];
	char bucket[64];
	struct it_mount m;
	void *back = NULL;
	size_t back_len = 0;
	long long size = -1;
	struct stat sb;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, NULL), &sb));
	IT_ASSERT(S_ISDIR(sb.st_mode));

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "hello.txt"), content,
				       sizeof(content) - 1),
			 0);
	assert_object(bucket, "hello.txt", content, sizeof(content) - 1);

	it_random_bytes(big, sizeof(big), 42);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "big.bin"), big,
				       sizeof(big)),
			 0);
	assert_object(bucket, "big.bin", big, sizeof(big));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "big.bin", &size, NULL, NULL,
				    NULL, 0),
			 200);
	IT_ASSERT_EQ_INT(size, sizeof(big));

	/* And back through the mount. */
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "big.bin"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(big));
	IT_ASSERT_MEM(back, big, sizeof(big));
	free(back);

	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
	IT_ASSERT(!it_is_mounted(m.dir));
}

IT_TEST(test_object_written_outside_is_visible)
{
	char bucket[64];
	struct it_mount m;
	void *back = NULL;
	size_t back_len = 0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "dir/outside.txt", content,
				   sizeof(content) - 1, NULL),
			 200);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "dir/outside.txt"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(content) - 1);
	IT_ASSERT_MEM(back, content, sizeof(content) - 1);
	free(back);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
}

IT_TEST(test_prefix_mount)
{
	char bucket[64], spec[128];
	struct it_mount m;
	char **keys;
	size_t n = 0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "other/x", "x", 1, NULL), 200);
	snprintf(spec, sizeof(spec), "%s:/sub/dir", bucket);
	it_mount(&m, spec, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f.txt"), content,
				       sizeof(content) - 1),
			 0);
	/* Only the prefix is visible: "other/" is outside it. */
	IT_ASSERT_ERRNO(access(it_path(&m, "other"), F_OK), ENOENT);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");

	assert_object(bucket, "sub/dir/f.txt", content, sizeof(content) - 1);
	keys = it_s3_list(bucket, "sub/", &n);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_EQ_INT(n, 1);
	IT_ASSERT_EQ_STR(keys[0], "sub/dir/f.txt");
	it_strv_free(keys);
}

IT_TEST(test_nonexistent_bucket)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	snprintf(bucket, sizeof(bucket), "it-nosuch-%ld", (long)getpid());
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "nonexistent bucket");
}

IT_TEST(test_unreachable_endpoint)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for("http://127.0.0.1:1", pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "unreachable endpoint");
}

IT_TEST(test_wrong_secret)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0600, NULL, "wrongSecretKey000000000000000000");
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "wrong secret");
}

IT_TEST(test_unknown_access_key)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0600, "NOSUCHACCESSKEY00000", NULL);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "unknown access key");
}

IT_TEST(test_unknown_option)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw,
				       "nosuchoption=1"),
			      NULL};
	assert_bad_input(args, mnt, "unknown option");
}

IT_TEST(test_passwd_file_too_open)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0644, NULL, NULL);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "passwd file mode 0644");
}

IT_TEST(test_missing_passwd_file)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/no-such-passwd", it_mkdtemp("pw"));
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "missing passwd file");
}

IT_TEST(test_missing_mountpoint)
{
	char bucket[64], mnt[4096];
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	IT_SNPRINTF(mnt, "%s/does-not-exist", it_mkdtemp("mnt"));
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "missing mountpoint");
}

IT_TEST(test_version)
{
	const char *args[] = {"--version", NULL};
	struct it_run_result r;

	it_run_mount_cmd(args, 10, &r);
	IT_ASSERT_MSG(r.exit_code == 0, "--version: exit %d, stderr: %s",
		      r.exit_code, r.err);
	IT_ASSERT_MSG(strstr(r.out, "etagfs") || strstr(r.err, "etagfs"),
		      "--version does not name etagfs: [%s] [%s]", r.out,
		      r.err);
}

IT_TEST(test_help)
{
	const char *args[] = {"--help", NULL};
	struct it_run_result r;

	it_run_mount_cmd(args, 10, &r);
	IT_ASSERT_MSG(r.exit_code == 0, "--help: exit %d, stderr: %s",
		      r.exit_code, r.err);
	IT_ASSERT_MSG(strstr(r.out, "endpoint") || strstr(r.err, "endpoint"),
		      "--help does not mention endpoint: [%s] [%s]", r.out,
		      r.err);
}
