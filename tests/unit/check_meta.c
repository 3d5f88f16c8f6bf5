/*
 * Unit tests for src/s3/meta.c: s3fs-compatible x-amz-meta-* parsing and
 * rendering, and the commit token.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "check_main.h"
#include "s3/meta.h"

static struct s3_meta from_one(const char *name, const char *value)
{
	struct s3_meta m;
	struct s3_kv kv = {(char *)name, (char *)value};

	memset(&m, 0xAA, sizeof(m));
	s3_meta_from_kv(&m, &kv, 1);
	return m;
}

/* What s3fs writes, read back. */
START_TEST(test_from_kv_s3fs)
{
	struct s3_kv kv[] = {
		{(char *)"mode", (char *)"33188"},
		{(char *)"uid", (char *)"1000"},
		{(char *)"gid", (char *)"100"},
		{(char *)"mtime", (char *)"1700000000.123456789"},
		{(char *)"etagfs-token",
		 (char *)"0123456789abcdef0123456789abcdef"},
		{(char *)"color", (char *)"blue"},
	};
	struct s3_meta m;

	s3_meta_from_kv(&m, kv, 6);
	ck_assert(m.has_mode && m.has_uid && m.has_gid && m.has_mtime);
	ck_assert_uint_eq(m.mode, S_IFREG | 0644);
	ck_assert_uint_eq(m.uid, 1000);
	ck_assert_uint_eq(m.gid, 100);
	ck_assert_int_eq((long long)m.mtime.tv_sec, 1700000000);
	ck_assert_int_eq(m.mtime.tv_nsec, 123456789);
	ck_assert_str_eq(m.token, "0123456789abcdef0123456789abcdef");
}
END_TEST

START_TEST(test_from_kv_empty)
{
	struct s3_meta m;

	memset(&m, 0xAA, sizeof(m));
	s3_meta_from_kv(&m, NULL, 0);
	ck_assert(!m.has_mode && !m.has_uid && !m.has_gid && !m.has_mtime);
	ck_assert_str_eq(m.token, "");
}
END_TEST

START_TEST(test_from_kv_prefixed_names)
{
	struct s3_kv kv[] = {
		{(char *)"X-Amz-Meta-Mode", (char *)"16877"},
		{(char *)"UID", (char *)"0"},
	};
	struct s3_meta m;

	s3_meta_from_kv(&m, kv, 2);
	ck_assert(m.has_mode);
	ck_assert_uint_eq(m.mode, S_IFDIR | 0755);
	ck_assert(m.has_uid);
	ck_assert_uint_eq(m.uid, 0);
}
END_TEST

struct value_case {
	const char *name;
	const char *value;
	bool ok;
	long long v;  /* mode/uid/gid, or mtime seconds */
	long nsec;    /* mtime only */
};

static const struct value_case value_cases[] = {
	/* mode: decimal st_mode, type bits included */
	{"mode", "33188", true, 0100644, 0},
	{"mode", "41471", true, 0120777, 0}, /* symlink */
	{"mode", "420", true, 0644, 0},	     /* no type bits: allowed */
	{"mode", "36333", true, 0106755, 0}, /* setuid regular file */
	{"mode", "0", true, 0, 0},
	{"mode", "", false, 0, 0},
	{"mode", "-1", false, 0, 0},
	{"mode", "+420", false, 0, 0},
	{"mode", " 420", false, 0, 0},
	{"mode", "420 ", false, 0, 0},
	{"mode", "0x1a4", false, 0, 0},
	{"mode", "644abc", false, 0, 0},
	{"mode", "65536", false, 0, 0}, /* beyond S_IFMT|07777 */
	{"mode", "4294967296", false, 0, 0},
	{"mode", "99999999999999999999999", false, 0, 0},
	/* uid/gid: decimal, non-negative, 32-bit, never (uid_t)-1 */
	{"uid", "0", true, 0, 0},
	{"uid", "1000", true, 1000, 0},
	{"uid", "4294967294", true, 4294967294LL, 0},
	{"uid", "4294967295", false, 0, 0},
	{"uid", "4294967296", false, 0, 0},
	{"uid", "-1", false, 0, 0},
	{"uid", "1e3", false, 0, 0},
	{"uid", "", false, 0, 0},
	{"gid", "100", true, 100, 0},
	{"gid", "-100", false, 0, 0},
	{"gid", "12 ", false, 0, 0},
	/* mtime: seconds, optionally "." and a fraction */
	{"mtime", "1700000000", true, 1700000000, 0},
	{"mtime", "0", true, 0, 0},
	{"mtime", "1700000000.000000001", true, 1700000000, 1},
	{"mtime", "1700000000.5", true, 1700000000, 500000000},
	{"mtime", "1700000000.123", true, 1700000000, 123000000},
	{"mtime", "1700000000.1234567891234", true, 1700000000, 123456789},
	{"mtime", "-315619140", true, -315619140, 0},
	{"mtime", "-315619140.123000000", true, -315619140, 123000000},
	{"mtime", "9223372036854775807", true, 9223372036854775807LL, 0},
	{"mtime", "9223372036854775808", false, 0, 0},
	{"mtime", "", false, 0, 0},
	{"mtime", "-", false, 0, 0},
	{"mtime", ".5", false, 0, 0},
	{"mtime", "1700000000.", false, 0, 0},
	{"mtime", "1700000000.5.5", false, 0, 0},
	{"mtime", "1700000000.-5", false, 0, 0},
	{"mtime", "1.6e9", false, 0, 0},
	{"mtime", " 1700000000", false, 0, 0},
	{"mtime", "+1700000000", false, 0, 0},
	{"mtime", "1700000000.1234567890123456789", false, 0, 0},
	{"mtime", "Tue, 14 Nov 2023 22:13:20 GMT", false, 0, 0},
};

START_TEST(test_values)
{
	const struct value_case *c = &value_cases[_i];
	struct s3_meta m = from_one(c->name, c->value);

	if (strcmp(c->name, "mode") == 0) {
		ck_assert_msg(m.has_mode == c->ok, "mode \"%s\"", c->value);
		if (c->ok)
			ck_assert_uint_eq(m.mode, (mode_t)c->v);
	} else if (strcmp(c->name, "uid") == 0) {
		ck_assert_msg(m.has_uid == c->ok, "uid \"%s\"", c->value);
		if (c->ok)
			ck_assert_uint_eq(m.uid, (uid_t)c->v);
	} else if (strcmp(c->name, "gid") == 0) {
		ck_assert_msg(m.has_gid == c->ok, "gid \"%s\"", c->value);
		if (c->ok)
			ck_assert_uint_eq(m.gid, (gid_t)c->v);
	} else {
		ck_assert_msg(m.has_mtime == c->ok, "mtime \"%s\"", c->value);
		if (c->ok) {
			ck_assert_int_eq((long long)m.mtime.tv_sec, c->v);
			ck_assert_int_eq(m.mtime.tv_nsec, c->nsec);
		}
	}
	/* Nothing else is set by one header. */
	ck_assert_str_eq(m.token, "");
}
END_TEST

static const char *const bad_tokens[] = {
	"0123456789ABCDEF0123456789abcdef", /* upper case */
	"0123456789abcdef0123456789abcde",  /* 31 */
	"0123456789abcdef0123456789abcdef0", /* 33 */
	"0123456789abcdef0123456789abcdeg",
	"",
};

START_TEST(test_bad_token)
{
	struct s3_meta m = from_one("etagfs-token", bad_tokens[_i]);

	ck_assert_str_eq(m.token, "");
}
END_TEST

/* A malformed duplicate does not erase a good value. */
START_TEST(test_bad_after_good)
{
	struct s3_kv kv[] = {
		{(char *)"mode", (char *)"33188"},
		{(char *)"mode", (char *)"junk"},
		{NULL, (char *)"1"},
		{(char *)"uid", NULL},
	};
	struct s3_meta m;

	s3_meta_from_kv(&m, kv, 4);
	ck_assert(m.has_mode);
	ck_assert_uint_eq(m.mode, 33188);
	ck_assert(!m.has_uid);
}
END_TEST

START_TEST(test_to_headers_all)
{
	struct s3_meta m;
	struct s3_header h[S3_META_MAX_HEADERS];
	char storage[S3_META_STORAGE];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.has_mode = m.has_uid = m.has_gid = m.has_mtime = true;
	m.mode = S_IFLNK | 0777;
	m.uid = 1000;
	m.gid = 4294967294u;
	m.mtime.tv_sec = 1700000000;
	m.mtime.tv_nsec = 5;
	memcpy(m.token, "ffffffffffffffffffffffffffffffff", 33);
	n = s3_meta_to_headers(&m, h, storage, sizeof(storage));
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(h[0].name, "x-amz-meta-mode");
	ck_assert_str_eq(h[0].value, "41471");
	ck_assert_str_eq(h[1].name, "x-amz-meta-uid");
	ck_assert_str_eq(h[1].value, "1000");
	ck_assert_str_eq(h[2].name, "x-amz-meta-gid");
	ck_assert_str_eq(h[2].value, "4294967294");
	ck_assert_str_eq(h[3].name, "x-amz-meta-mtime");
	ck_assert_str_eq(h[3].value, "1700000000.000000005");
	ck_assert_str_eq(h[4].name, "x-amz-meta-etagfs-token");
	ck_assert_str_eq(h[4].value, "ffffffffffffffffffffffffffffffff");
	for (size_t i = 0; i < n; i++)
		ck_assert(h[i].value >= storage &&
			  h[i].value < storage + sizeof(storage));
}
END_TEST

START_TEST(test_to_headers_some)
{
	struct s3_meta m;
	struct s3_header h[S3_META_MAX_HEADERS];
	char storage[S3_META_STORAGE];

	memset(&m, 0, sizeof(m));
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, sizeof(storage)),
			  0);
	/* Whole seconds are written without a fraction, like s3fs. */
	m.has_mtime = true;
	m.mtime.tv_sec = -315619140;
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, sizeof(storage)),
			  1);
	ck_assert_str_eq(h[0].name, "x-amz-meta-mtime");
	ck_assert_str_eq(h[0].value, "-315619140");
	/* An impossible tv_nsec is not sent. */
	m.mtime.tv_nsec = 1000000000L;
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, sizeof(storage)),
			  0);
	m.mtime.tv_nsec = -1;
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, sizeof(storage)),
			  0);
}
END_TEST

START_TEST(test_to_headers_small_storage)
{
	struct s3_meta m;
	struct s3_header h[S3_META_MAX_HEADERS];
	char storage[8];

	memset(&m, 0, sizeof(m));
	m.has_mode = m.has_uid = true;
	m.mode = S_IFREG | 0600; /* "33152" + NUL = 6 bytes */
	m.uid = 1000;		 /* "1000" + NUL: does not fit after it */
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, sizeof(storage)),
			  1);
	ck_assert_str_eq(h[0].value, "33152");
	ck_assert_uint_eq(s3_meta_to_headers(&m, h, storage, 0), 0);
}
END_TEST

/* to_headers then from_kv gives back the same attributes. */
START_TEST(test_round_trip)
{
	struct s3_meta m, back;
	struct s3_header h[S3_META_MAX_HEADERS];
	struct s3_kv kv[S3_META_MAX_HEADERS];
	char storage[S3_META_STORAGE];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.has_mode = m.has_uid = m.has_gid = m.has_mtime = true;
	m.mode = S_IFDIR | 01777;
	m.uid = 65534;
	m.gid = 0;
	m.mtime.tv_sec = -1;
	m.mtime.tv_nsec = 999999999;
	ck_assert_int_eq(s3_meta_new_token(m.token), 0);
	ck_assert_int_eq(s3_meta_new_token(m.parent), 0);
	n = s3_meta_to_headers(&m, h, storage, sizeof(storage));
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		kv[i].name = (char *)h[i].name + strlen("x-amz-meta-");
		kv[i].value = (char *)h[i].value;
	}
	s3_meta_from_kv(&back, kv, n);
	ck_assert(back.has_mode && back.has_uid && back.has_gid &&
		  back.has_mtime);
	ck_assert_uint_eq(back.mode, m.mode);
	ck_assert_uint_eq(back.uid, m.uid);
	ck_assert_uint_eq(back.gid, m.gid);
	ck_assert_int_eq((long long)back.mtime.tv_sec, -1);
	ck_assert_int_eq(back.mtime.tv_nsec, 999999999);
	ck_assert_str_eq(back.token, m.token);
	ck_assert_str_eq(back.parent, m.parent);
	ck_assert_str_ne(back.parent, back.token);
}
END_TEST

START_TEST(test_new_token)
{
	char a[S3_TOKEN_LEN + 1], b[S3_TOKEN_LEN + 1];

	memset(a, 'x', sizeof(a));
	ck_assert_int_eq(s3_meta_new_token(a), 0);
	ck_assert_int_eq(s3_meta_new_token(b), 0);
	ck_assert_uint_eq(strlen(a), S3_TOKEN_LEN);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), S3_TOKEN_LEN);
	/* 128 random bits: equal tokens mean a broken generator. */
	ck_assert_str_ne(a, b);
	/* A fresh token is one that from_kv accepts. */
	{
		struct s3_meta m = from_one("etagfs-token", a);

		ck_assert_str_eq(m.token, a);
	}
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *meta_suite(void);
Suite *meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_from_kv_s3fs);
	tcase_add_test(tc, test_from_kv_empty);
	tcase_add_test(tc, test_from_kv_prefixed_names);
	tcase_add_loop_test(tc, test_values, 0, N(value_cases));
	tcase_add_loop_test(tc, test_bad_token, 0, N(bad_tokens));
	tcase_add_test(tc, test_bad_after_good);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_test(tc, test_to_headers_all);
	tcase_add_test(tc, test_to_headers_some);
	tcase_add_test(tc, test_to_headers_small_storage);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_new_token);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(meta_suite)
