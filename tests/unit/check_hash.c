/*
 * Unit tests for src/util/hash.c against published vectors (FIPS 180-2,
 * RFC 1321, RFC 4231) and hash_fd_range on a temporary file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "util/hash.h"
#include "util/hash_follow.h"

struct sha_vector {
	const char *input;
	const char *hex;
};

static const struct sha_vector sha_vectors[] = {
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "Param1=value1",
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e" },
};

START_TEST(test_sha256_vectors)
{
	const struct sha_vector *v = &sha_vectors[_i];
	char hex[HASH_SHA256_HEX_LEN + 1];
	unsigned char md[HASH_SHA256_LEN];
	char hex2[HASH_SHA256_HEX_LEN + 1];

	memset(hex, 'X', sizeof(hex));
	hash_sha256_hex(v->input, strlen(v->input), hex);
	ck_assert_str_eq(hex, v->hex);

	hash_sha256(v->input, strlen(v->input), md);
	hash_hex(md, sizeof(md), hex2);
	ck_assert_str_eq(hex2, v->hex);
}
END_TEST

START_TEST(test_hex)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f,
					    0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 1];

	memset(out, 'X', sizeof(out));
	hash_hex(in, sizeof(in), out);
	ck_assert_str_eq(out, "00017f80abff");
	hash_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

/* RFC 4231 test cases 1 and 2 (HMAC-SHA-256 rows). */
START_TEST(test_hmac_rfc4231_case1)
{
	unsigned char key[20];
	unsigned char mac[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX_LEN + 1];

	memset(key, 0x0b, sizeof(key));
	hash_hmac_sha256(key, sizeof(key), "Hi There", 8, mac);
	hash_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b"
			      "881dc200c9833da726e9376c2e32cff7");
}
END_TEST

START_TEST(test_hmac_rfc4231_case2)
{
	static const char data[] = "what do ya want for nothing?";
	unsigned char mac[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX_LEN + 1];

	hash_hmac_sha256("Jefe", 4, data, strlen(data), mac);
	hash_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c7"
			      "5a003f089d2739839dec58b964ec3843");
}
END_TEST

/* RFC 4231 case 6: a key longer than the block size is hashed first. */
START_TEST(test_hmac_rfc4231_case6)
{
	static const char data[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char key[131];
	unsigned char mac[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX_LEN + 1];

	memset(key, 0xaa, sizeof(key));
	hash_hmac_sha256(key, sizeof(key), data, strlen(data), mac);
	hash_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f"
			      "8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

/* Write @len bytes from a fixed pseudo-random pattern to a temp file. */
static int make_temp_file(const unsigned char *data, size_t len)
{
	char path[] = "/tmp/check_hash.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

START_TEST(test_fd_range_small)
{
	/* "xx" + "abc" + "yy": hashing 3 bytes at offset 2 must give the
	 * vectors of "abc". */
	static const unsigned char data[] = "xxabcyy";
	unsigned char md5[HASH_MD5_LEN];
	char md5_hex[HASH_MD5_HEX_LEN + 1];
	char sha[HASH_SHA256_HEX_LEN + 1];
	int fd = make_temp_file(data, 7);

	/* Move the file offset somewhere else: pread must not care. */
	ck_assert_int_eq(lseek(fd, 1, SEEK_SET), 1);
	ck_assert_int_eq(hash_fd_range(fd, 2, 3, sha, md5), 0);
	ck_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223"
			      "b00361a396177a9cb410ff61f20015ad");
	hash_hex(md5, sizeof(md5), md5_hex);
	ck_assert_str_eq(md5_hex, "900150983cd24fb0d6963f7d28e17f72");
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 1);

	/* Without MD5. */
	memset(sha, 0, sizeof(sha));
	ck_assert_int_eq(hash_fd_range(fd, 2, 3, sha, NULL), 0);
	ck_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223"
			      "b00361a396177a9cb410ff61f20015ad");

	/* Empty range. */
	ck_assert_int_eq(hash_fd_range(fd, 7, 0, sha, md5), 0);
	ck_assert_str_eq(sha, "e3b0c44298fc1c149afbf4c8996fb924"
			      "27ae41e4649b934ca495991b7852b855");
	hash_hex(md5, sizeof(md5), md5_hex);
	ck_assert_str_eq(md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
	close(fd);
}
END_TEST

START_TEST(test_fd_range_short_file)
{
	static const unsigned char data[] = "0123456789";
	char sha[HASH_SHA256_HEX_LEN + 1];
	unsigned char md5[HASH_MD5_LEN];
	int fd = make_temp_file(data, 10);

	ck_assert_int_eq(hash_fd_range(fd, 5, 6, sha, md5), -EIO);
	ck_assert_int_eq(hash_fd_range(fd, 11, 1, sha, NULL), -EIO);
	ck_assert_int_eq(hash_fd_range(fd, -1, 1, sha, NULL), -EINVAL);
	ck_assert_int_eq(hash_fd_range(fd, 0, -1, sha, NULL), -EINVAL);
	close(fd);
	ck_assert_int_eq(hash_fd_range(fd, 0, 1, sha, NULL), -EBADF);
}
END_TEST

START_TEST(test_fd_range_multi_chunk)
{
	/* Larger than several 256 KiB read chunks and not a multiple of
	 * one: compare with a one-shot hash of the same bytes. */
	const size_t total = 1000003;
	const size_t off = 4099;
	const size_t len = total - off - 7;
	unsigned char *data = malloc(total);
	char want[HASH_SHA256_HEX_LEN + 1];
	char sha[HASH_SHA256_HEX_LEN + 1];
	unsigned char md5[HASH_MD5_LEN];
	unsigned int x = 12345;
	size_t i;
	int fd;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < total; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	fd = make_temp_file(data, total);
	hash_sha256_hex(data + off, len, want);
	ck_assert_int_eq(hash_fd_range(fd, (off_t)off, (off_t)len, sha, md5),
			 0);
	ck_assert_str_eq(sha, want);
	/* Changing one byte in range changes the hash. */
	ck_assert_int_eq(pwrite(fd, "\x01", 1, (off_t)(off + len - 1)), 1);
	data[off + len - 1] = 1;
	hash_sha256_hex(data + off, len, want);
	ck_assert_int_eq(hash_fd_range(fd, (off_t)off, (off_t)len, sha, NULL),
			 0);
	ck_assert_str_eq(sha, want);
	close(fd);
	free(data);
}
END_TEST

/* A stream gives the one-shot digest at every point, and goes on after
 * a digest was taken. */
START_TEST(test_stream)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog";
	char want[HASH_SHA256_HEX_LEN + 1], got[HASH_SHA256_HEX_LEN + 1];
	struct hash_stream *s = hash_stream_new();

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(hash_stream_hex(s, got), 0);
	ck_assert_str_eq(got, "e3b0c44298fc1c149afbf4c8996fb924"
			      "27ae41e4649b934ca495991b7852b855");
	for (size_t i = 0; i < sizeof(text) - 1; i += 5) {
		size_t n = sizeof(text) - 1 - i < 5 ? sizeof(text) - 1 - i : 5;

		ck_assert_int_eq(hash_stream_update(s, text + i, n), 0);
		hash_sha256_hex(text, i + n, want);
		ck_assert_int_eq(hash_stream_hex(s, got), 0);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(hash_stream_len(s), i + n);
	}
	ck_assert_str_eq(got, "d7a8fbb307d7809469ca9abcb0082e4f"
			      "8d5651e46d3cdb762d02d0bf37c9e592");
	hash_stream_free(s);
	hash_stream_free(NULL);
}
END_TEST


/* Pseudo-random bytes, the same for the same seed. */
static unsigned char *follow_data(size_t len, unsigned int seed)
{
	unsigned char *data = malloc(len);
	size_t i;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (unsigned char)(seed >> 16);
	}
	return data;
}

/* Append [from, to) of @p data to @p fd and to @p f, in odd-sized
 * writes the way FUSE hands them over. */
static void follow_write(struct hash_follow *f, int fd,
			 const unsigned char *data, size_t from, size_t to)
{
	while (from < to) {
		size_t n = to - from < 131071 ? to - from : 131071;

		ck_assert_int_eq(pwrite(fd, data + from, n, (off_t)from),
				 (ssize_t)n);
		ck_assert_int_eq(hash_follow_append(f, fd, data + from, n, from),
				 0);
		from += n;
	}
}

/* Append @p total bytes of @p buf in two: up to the inline threshold,
 * then the rest in one go (for the worker). */
static void append_past_inline(struct hash_follow *f, int fd,
			       const unsigned char *buf, size_t total)
{
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hash_follow_append(f, fd, buf, HASH_FOLLOW_INLINE, 0),
			 0);
	ck_assert_int_eq(hash_follow_append(f, fd, buf + HASH_FOLLOW_INLINE,
					    total - HASH_FOLLOW_INLINE,
					    HASH_FOLLOW_INLINE),
			 0);
}

/* The digest is the one-shot SHA-256 of everything appended, before and
 * after the worker took over, and appends go on after a digest. */
START_TEST(test_follow_matches_one_shot)
{
	const size_t total = 3 * HASH_FOLLOW_INLINE + 12345;
	const size_t cuts[] = {0, 1000, HASH_FOLLOW_INLINE - 1,
			       HASH_FOLLOW_INLINE + 5, 2 * HASH_FOLLOW_INLINE,
			       total};
	unsigned char *data = follow_data(total, 7);
	char want[HASH_SHA256_HEX_LEN + 1], got[HASH_SHA256_HEX_LEN + 1];
	struct hash_follow *f = hash_follow_new();
	int fd = make_temp_file(data, 0);
	size_t i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (i > 0)
			follow_write(f, fd, data, cuts[i - 1], cuts[i]);
		ck_assert_uint_eq(hash_follow_len(f), cuts[i]);
		hash_sha256_hex(data, cuts[i], want);
		ck_assert_int_eq(hash_follow_hex(f, got), 0);
		ck_assert_str_eq(got, want);
	}
	hash_follow_free(f);
	close(fd);
	free(data);
}
END_TEST

/* Past HASH_FOLLOW_INLINE the writer's thread no longer hashes: the
 * bytes are read back from the file. Shown by giving the hash other
 * bytes than the file holds: before the threshold the given ones count,
 * after it the file's. */
START_TEST(test_follow_hashes_behind_the_writer)
{
	const size_t total = HASH_FOLLOW_INLINE + (1u << 20);
	unsigned char *given = follow_data(total, 1);
	unsigned char *on_disk = follow_data(total, 2);
	unsigned char *expect = malloc(total);
	char want[HASH_SHA256_HEX_LEN + 1], got[HASH_SHA256_HEX_LEN + 1];
	struct hash_follow *f = hash_follow_new();
	int fd = make_temp_file(on_disk, total);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(expect);
	append_past_inline(f, fd, given, total);
	memcpy(expect, given, HASH_FOLLOW_INLINE);
	memcpy(expect + HASH_FOLLOW_INLINE, on_disk + HASH_FOLLOW_INLINE,
	       total - HASH_FOLLOW_INLINE);
	hash_sha256_hex(expect, total, want);
	ck_assert_int_eq(hash_follow_hex(f, got), 0);
	ck_assert_str_eq(got, want);
	hash_follow_free(f);
	close(fd);
	free(given);
	free(on_disk);
	free(expect);
}
END_TEST

/* A write anywhere but the end, or bytes the file does not hold, and
 * the hash covers nothing any more. */
START_TEST(test_follow_breaks)
{
	const size_t total = HASH_FOLLOW_INLINE + 4096;
	unsigned char *data = follow_data(total, 3);
	char got[HASH_SHA256_HEX_LEN + 1];
	struct hash_follow *f = hash_follow_new();
	int fd = make_temp_file(data, 100);

	/* Not at the end: before the worker. */
	ck_assert_int_eq(hash_follow_append(f, fd, data, 100, 0), 0);
	ck_assert_int_eq(hash_follow_append(f, fd, data, 10, 50), -1);
	ck_assert_int_eq(hash_follow_hex(f, got), -EIO);
	ck_assert_int_eq(hash_follow_append(f, fd, data + 100, 10, 100), -1);
	hash_follow_free(f);
	close(fd);

	/* The file is shorter than what was appended (truncated behind
	 * the hash's back): the worker cannot read it. */
	f = hash_follow_new();
	fd = make_temp_file(data, HASH_FOLLOW_INLINE);
	ck_assert_int_eq(hash_follow_append(f, fd, data, total, 0), 0);
	ck_assert_int_eq(hash_follow_hex(f, got), -EIO);
	ck_assert_int_eq(hash_follow_append(f, fd, data, 1, total), -1);
	hash_follow_free(f);
	close(fd);
	hash_follow_free(NULL);
	free(data);
}
END_TEST

/* Freed while its worker has 28 MiB still to read: no wait for all of
 * it, and nothing left behind (the sanitizer build checks leaks). */
START_TEST(test_follow_free_while_busy)
{
	const size_t total = 32u << 20;
	unsigned char *data = follow_data(total, 4);
	struct hash_follow *f = hash_follow_new();
	int fd = make_temp_file(data, total);

	append_past_inline(f, fd, data, total);
	hash_follow_free(f);
	close(fd);
	free(data);
}
END_TEST

Suite *hash_suite(void);

Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("digest");
	TCase *tc_fd = tcase_create("fd_range");
	TCase *tc_follow = tcase_create("follow");

	tcase_add_loop_test(tc, test_sha256_vectors, 0,
			    sizeof(sha_vectors) / sizeof(sha_vectors[0]));
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_hmac_rfc4231_case1);
	tcase_add_test(tc, test_hmac_rfc4231_case2);
	tcase_add_test(tc, test_hmac_rfc4231_case6);
	tcase_add_test(tc, test_stream);
	suite_add_tcase(s, tc);

	tcase_add_test(tc_fd, test_fd_range_small);
	tcase_add_test(tc_fd, test_fd_range_short_file);
	tcase_add_test(tc_fd, test_fd_range_multi_chunk);
	suite_add_tcase(s, tc_fd);

	tcase_add_test(tc_follow, test_follow_matches_one_shot);
	tcase_add_test(tc_follow, test_follow_hashes_behind_the_writer);
	tcase_add_test(tc_follow, test_follow_breaks);
	tcase_add_test(tc_follow, test_follow_free_while_busy);
	suite_add_tcase(s, tc_follow);
	return s;
}

CHECK_MAIN(hash_suite)
