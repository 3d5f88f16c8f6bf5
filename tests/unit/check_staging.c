/* Staging manifests: what a crashed mount leaves for recovery to read. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "fs/staging.h"

static char dir[64];
static struct fs_ctx ctx;

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/check_staging-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&ctx, 0, sizeof(ctx));
	ctx.owner_fd = -1;
	ctx.staging_dir = dir;
	ctx.opts.endpoint = (char *)"http://127.0.0.1:7480";
	ctx.opts.bucket = (char *)"bkt";
	ck_assert_int_eq(fs_staging_init(&ctx, err, sizeof(err)), 0);
}

static void teardown(void)
{
	char cmd[128];

	fs_staging_fini(&ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
	char *text = calloc(1, 65536);
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(read(fd, text, 65535), 0);
	close(fd);
	return text;
}

START_TEST(test_round_trip)
{
	/* A key with the bytes a line-based format must not trip on. */
	static const char key[] = "dir/a key\nwith newline %20 and caf\xc3\xa9";
	struct s3_meta meta = {0};
	struct fs_stage_info info = {
		.key = key,
		.base_etag = "\"9b2cf535f27731c974343645a3985328\"",
		.meta = &meta,
		.state = FS_STAGE_OPEN,
	};
	struct fs_stage st;
	struct fs_manifest m;
	char *text;

	meta.has_mode = meta.has_uid = meta.has_gid = meta.has_mtime = true;
	meta.mode = 0100640;
	meta.uid = 1000;
	meta.gid = 4294967294u;
	meta.mtime.tv_sec = 1700000000;
	meta.mtime.tv_nsec = 123456789;
	memcpy(meta.token, "0123456789abcdef0123456789abcdef", 33);
	memcpy(meta.parent, "fedcba9876543210fedcba9876543210", 33);
	ck_assert_int_eq(fs_stage_create(&ctx, &info, &st), 0);
	ck_assert_int_eq(write(st.fd, "hello", 5), 5);
	info.state = FS_STAGE_COMPLETE;
	info.size = 5;
	ck_assert_int_eq(fs_stage_record(&ctx, &st, &info), 0);

	text = slurp(st.manifest_path);
	ck_assert_int_eq(fs_manifest_parse(text, &m), 0);
	ck_assert_str_eq(m.key, key);
	ck_assert_str_eq(m.base, info.base_etag);
	ck_assert_str_eq(m.bucket, "bkt");
	ck_assert_str_eq(m.endpoint, "http://127.0.0.1:7480");
	ck_assert_str_eq(m.owner, ctx.owner_id);
	ck_assert(!m.is_new && m.complete && !m.clean);
	ck_assert_uint_eq(m.size, 5);
	ck_assert(m.meta.has_mode && m.meta.has_uid && m.meta.has_gid &&
		  m.meta.has_mtime);
	ck_assert_uint_eq(m.meta.mode, 0100640);
	ck_assert_uint_eq(m.meta.uid, 1000);
	ck_assert_uint_eq(m.meta.gid, 4294967294u);
	ck_assert_int_eq(m.meta.mtime.tv_sec, 1700000000);
	ck_assert_int_eq(m.meta.mtime.tv_nsec, 123456789);
	ck_assert_str_eq(m.meta.token, meta.token);
	ck_assert_str_eq(m.meta.parent, meta.parent);
	fs_manifest_free(&m);
	free(text);

	fs_stage_discard(&st);
	ck_assert_int_eq(st.fd, -1);
	ck_assert_ptr_null(st.data_path);
}
END_TEST

START_TEST(test_discard_removes_both)
{
	struct fs_stage_info info = {.key = "k", .base_etag = "", .is_new = true};
	char data[256], manifest[256];
	struct fs_stage st;

	ck_assert_int_eq(fs_stage_create(&ctx, &info, &st), 0);
	snprintf(data, sizeof(data), "%s", st.data_path);
	snprintf(manifest, sizeof(manifest), "%s", st.manifest_path);
	ck_assert_int_eq(access(data, F_OK), 0);
	ck_assert_int_eq(access(manifest, F_OK), 0);
	fs_stage_discard(&st);
	ck_assert_int_eq(access(data, F_OK), -1);
	ck_assert_int_eq(access(manifest, F_OK), -1);
	fs_stage_discard(&st); /* idempotent */
}
END_TEST

START_TEST(test_owner_lock_held)
{
	int fd = open(ctx.owner_path, O_RDWR);

	/* Another open file description cannot take a live mount's lock:
	 * that is how recovery tells live owners from dead ones. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(fd);
}
END_TEST

static const char *const bad_manifests[] = {
	"",
	"not a manifest\n",
	"etagfs-stage 2\nowner a\n",
	/* every required field but size */
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n",
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n"
	"size -1\n",
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k%zz\nbase \n"
	"size 1\n",
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n"
	"size 1\nmode 99999999999\n",
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n"
	"size 1\nmtime 5 1000000000\n",
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n"
	"size 1\nnospace\n",
	/* a hash that is not 64 lower-case hex digits */
	"etagfs-stage 1\nowner a\nendpoint e\nbucket b\nkey k\nbase \n"
	"size 1\nsha256 abc\n",
	/* a field given twice (leaked its first value once: fuzz_manifest) */
	"etagfs-stage 1\nowner a\nowner b\nendpoint e\nbucket b\nkey k\n"
	"base \nsize 1\n",
};

START_TEST(test_bad_manifest)
{
	char *text = strdup(bad_manifests[_i]);
	struct fs_manifest m;

	ck_assert_int_eq(fs_manifest_parse(text, &m), -EINVAL);
	free(text);
}
END_TEST

/* A commit that hashed its content records the hash and, lazily, costs
 * no flush; a failed one records it again durably. */
START_TEST(test_sha256_lazy_then_durable)
{
	static const char hex[] =
		"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	struct fs_stage_info info = {.key = "k", .base_etag = "", .is_new = true};
	struct fs_stage st;
	struct fs_manifest m;
	char *text;

	ck_assert_int_eq(fs_stage_create(&ctx, &info, &st), 0);
	ck_assert_int_eq(write(st.fd, "hello", 5), 5);
	info.state = FS_STAGE_COMPLETE;
	info.size = 5;
	info.sha256 = hex;
	info.lazy = true;
	ck_assert_int_eq(fs_stage_record(&ctx, &st, &info), 0);
	ck_assert(!st.durable_state);
	text = slurp(st.manifest_path);
	ck_assert_int_eq(fs_manifest_parse(text, &m), 0);
	ck_assert(m.complete);
	ck_assert_str_eq(m.sha256, hex);
	fs_manifest_free(&m);
	free(text);

	info.lazy = false;
	ck_assert_int_eq(fs_stage_record(&ctx, &st, &info), 0);
	ck_assert(st.durable_state);
	/* Over a durable record a lazy one would not do: durable again. */
	info.lazy = true;
	ck_assert_int_eq(fs_stage_record(&ctx, &st, &info), 0);
	ck_assert(st.durable_state);

	/* Without a hash "complete" is always flushed, and says no hash. */
	info.sha256 = NULL;
	ck_assert_int_eq(fs_stage_record(&ctx, &st, &info), 0);
	text = slurp(st.manifest_path);
	ck_assert_int_eq(fs_manifest_parse(text, &m), 0);
	ck_assert_str_eq(m.sha256, "");
	fs_manifest_free(&m);
	free(text);
	fs_stage_discard(&st);
}
END_TEST

/* Record @p info in @p st; the upload id its manifest reads back as
 * (NULL: none) must be @p want. */
static void expect_upload_id(struct fs_stage *st,
			     const struct fs_stage_info *info,
			     const char *want)
{
	struct fs_manifest m;
	char *text;

	ck_assert_int_eq(fs_stage_record(&ctx, st, info), 0);
	text = slurp(st->manifest_path);
	ck_assert_int_eq(fs_manifest_parse(text, &m), 0);
	if (want == NULL) {
		ck_assert_ptr_null(m.upload_id);
	} else {
		ck_assert_ptr_nonnull(m.upload_id);
		ck_assert_str_eq(m.upload_id, want);
	}
	fs_manifest_free(&m);
	free(text);
}

/* The multipart upload under way is recorded with "complete" and with
 * "open" (a stream behind the writer; its id can hold any byte), and
 * dropped by "clean". */
START_TEST(test_upload_id_recorded)
{
	static const char id[] = "2~a/b+c d\n%41";
	struct fs_stage_info info = {.key = "k", .base_etag = "\"e\""};
	struct fs_stage st;

	ck_assert_int_eq(fs_stage_create(&ctx, &info, &st), 0);
	info.state = FS_STAGE_COMPLETE;
	info.upload_id = id;
	expect_upload_id(&st, &info, id);
	info.upload_id = NULL;
	expect_upload_id(&st, &info, NULL);
	info.upload_id = id;
	info.state = FS_STAGE_OPEN;
	expect_upload_id(&st, &info, id);
	info.state = FS_STAGE_CLEAN;
	expect_upload_id(&st, &info, NULL);
	fs_stage_discard(&st);
}
END_TEST

START_TEST(test_unknown_field_ignored)
{
	char *text = strdup("etagfs-stage 1\nowner a\nendpoint e\nbucket b\n"
			    "key k\nbase \nsize 3\nstate clean\n"
			    "future-field whatever\n");
	struct fs_manifest m;

	ck_assert_int_eq(fs_manifest_parse(text, &m), 0);
	ck_assert(m.clean && !m.complete);
	ck_assert_uint_eq(m.size, 3);
	fs_manifest_free(&m);
	free(text);
}
END_TEST

static Suite *staging_suite(void)
{
	Suite *s = suite_create("staging");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_discard_removes_both);
	tcase_add_test(tc, test_owner_lock_held);
	tcase_add_loop_test(tc, test_bad_manifest, 0,
			    sizeof(bad_manifests) / sizeof(bad_manifests[0]));
	tcase_add_test(tc, test_unknown_field_ignored);
	tcase_add_test(tc, test_sha256_lazy_then_durable);
	tcase_add_test(tc, test_upload_id_recorded);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(staging_suite)
