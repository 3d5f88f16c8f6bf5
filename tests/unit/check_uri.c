/*
 * Unit tests for src/util/uri.c: every byte value through the encoder,
 * '/' both ways, decoding and its error cases.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "util/uri.h"

/* RFC 3986 section 2.3, spelled out rather than computed. */
static const char unreserved[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz"
				 "0123456789-._~";

/* Loop index _i is the byte value 0..255. */
START_TEST(test_encode_every_byte)
{
	char in = (char)_i;
	char want[4];
	struct buf b;
	bool kept = _i != 0 && memchr(unreserved, _i, sizeof(unreserved) - 1);

	if (kept)
		snprintf(want, sizeof(want), "%c", _i);
	else
		snprintf(want, sizeof(want), "%%%02X", (unsigned int)_i);

	buf_init(&b, 16);
	ck_assert_int_eq(uri_encode(&b, &in, 1, false), 0);
	ck_assert_msg(strcmp(buf_str(&b), want) == 0,
		      "byte 0x%02x (keep_slash=false): got '%s', want '%s'",
		      (unsigned int)_i, buf_str(&b), want);
	ck_assert_uint_eq(b.len, strlen(want));

	buf_reset(&b);
	ck_assert_int_eq(uri_encode(&b, &in, 1, true), 0);
	if (_i == '/')
		snprintf(want, sizeof(want), "/");
	ck_assert_msg(strcmp(buf_str(&b), want) == 0,
		      "byte 0x%02x (keep_slash=true): got '%s', want '%s'",
		      (unsigned int)_i, buf_str(&b), want);

	/* Decoding the escape gives the byte back, except NUL. */
	buf_reset(&b);
	snprintf(want, sizeof(want), "%%%02X", (unsigned int)_i);
	if (_i == 0) {
		ck_assert_int_eq(uri_decode(&b, want, false), -EINVAL);
	} else {
		ck_assert_int_eq(uri_decode(&b, want, false), 0);
		ck_assert_uint_eq(b.len, 1);
		ck_assert_int_eq((unsigned char)b.data[0], _i);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_encode_strings)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(uri_encode(&b, "a/b c/ሴ", strlen("a/b c/ሴ"), true),
			 0);
	ck_assert_str_eq(buf_str(&b), "a/b%20c/%E1%88%B4");
	buf_reset(&b);
	ck_assert_int_eq(uri_encode(&b, "a/b c/ሴ", strlen("a/b c/ሴ"), false),
			 0);
	ck_assert_str_eq(buf_str(&b), "a%2Fb%20c%2F%E1%88%B4");
	buf_reset(&b);
	/* Already-encoded text is encoded again: '%' is not unreserved. */
	ck_assert_int_eq(uri_encode(&b, "a%20b+c=d&e", 11, false), 0);
	ck_assert_str_eq(buf_str(&b), "a%2520b%2Bc%3Dd%26e");
	buf_reset(&b);
	/* Appends, and only @len bytes are read. */
	ck_assert_int_eq(buf_adds(&b, "pre:"), 0);
	ck_assert_int_eq(uri_encode(&b, "x y z", 3, false), 0);
	ck_assert_str_eq(buf_str(&b), "pre:x%20y");
	buf_reset(&b);
	ck_assert_int_eq(uri_encode(&b, "", 0, false), 0);
	ck_assert_str_eq(buf_str(&b), "");
	buf_free(&b);
}
END_TEST

START_TEST(test_encode_embedded_nul)
{
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(uri_encode(&b, "a\0b", 3, false), 0);
	ck_assert_str_eq(buf_str(&b), "a%00b");
	buf_free(&b);
}
END_TEST

START_TEST(test_encode_ceiling_leaves_buffer)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_adds(&b, "ok"), 0);
	/* "a b c" encodes to 9 bytes: past the ceiling, nothing appended. */
	ck_assert_int_eq(uri_encode(&b, "a b c", 5, false), -E2BIG);
	ck_assert_str_eq(buf_str(&b), "ok");
	ck_assert_uint_eq(b.len, 2);
	ck_assert_int_eq(uri_encode(&b, "abcdef", 6, false), 0);
	ck_assert_str_eq(buf_str(&b), "okabcdef");
	buf_free(&b);
}
END_TEST

struct decode_case {
	const char *in;
	bool plus_is_space;
	int rc;
	const char *out;
};

static const struct decode_case decode_cases[] = {
	{ "", false, 0, "" },
	{ "plain", false, 0, "plain" },
	{ "a%20b", false, 0, "a b" },
	{ "%E1%88%B4", false, 0, "\xe1\x88\xb4" },
	{ "%e1%88%b4", false, 0, "\xe1\x88\xb4" },
	{ "%2F%2f", false, 0, "//" },
	{ "%25", false, 0, "%" },
	{ "%2520", false, 0, "%20" },
	{ "a+b", false, 0, "a+b" },
	{ "a+b", true, 0, "a b" },
	{ "a%2Bb", true, 0, "a+b" },
	{ "%4", false, -EINVAL, NULL },
	{ "%", false, -EINVAL, NULL },
	{ "%zz", false, -EINVAL, NULL },
	{ "%4g", false, -EINVAL, NULL },
	{ "%g4", false, -EINVAL, NULL },
	{ "%00", false, -EINVAL, NULL },
	{ "ok%00ok", false, -EINVAL, NULL },
	{ "abc%", false, -EINVAL, NULL },
	{ "abc%2", false, -EINVAL, NULL },
};

START_TEST(test_decode)
{
	const struct decode_case *c = &decode_cases[_i];
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_adds(&b, "keep:"), 0);
	ck_assert_msg(uri_decode(&b, c->in, c->plus_is_space) == c->rc,
		      "decode '%s': wrong return code", c->in);
	if (c->rc == 0) {
		ck_assert_str_eq(buf_str(&b) + 5, c->out);
		ck_assert_uint_eq(b.len, 5 + strlen(c->out));
	} else {
		/* A failed decode leaves earlier content untouched. */
		ck_assert_str_eq(buf_str(&b), "keep:");
		ck_assert_uint_eq(b.len, 5);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_all_bytes)
{
	char all[255];
	struct buf enc;
	struct buf dec;
	int i;

	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	buf_init(&enc, 4096);
	buf_init(&dec, 4096);
	ck_assert_int_eq(uri_encode(&enc, all, sizeof(all), false), 0);
	/* 66 unreserved bytes stay, the other 189 become three bytes. */
	ck_assert_uint_eq(enc.len, 66 + 189 * 3);
	ck_assert_int_eq(uri_decode(&dec, buf_str(&enc), false), 0);
	ck_assert_uint_eq(dec.len, sizeof(all));
	ck_assert_mem_eq(dec.data, all, sizeof(all));
	buf_free(&enc);
	buf_free(&dec);
}
END_TEST

Suite *uri_suite(void);

Suite *uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc_enc = tcase_create("encode");
	TCase *tc_dec = tcase_create("decode");

	tcase_add_loop_test(tc_enc, test_encode_every_byte, 0, 256);
	tcase_add_test(tc_enc, test_encode_strings);
	tcase_add_test(tc_enc, test_encode_embedded_nul);
	tcase_add_test(tc_enc, test_encode_ceiling_leaves_buffer);
	suite_add_tcase(s, tc_enc);

	tcase_add_loop_test(tc_dec, test_decode, 0,
			    sizeof(decode_cases) / sizeof(decode_cases[0]));
	tcase_add_test(tc_dec, test_roundtrip_all_bytes);
	suite_add_tcase(s, tc_dec);
	return s;
}

CHECK_MAIN(uri_suite)
