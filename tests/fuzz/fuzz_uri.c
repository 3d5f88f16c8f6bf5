/*
 * Percent-encoding (uri_encode / uri_decode). Keys come from users' file
 * names and, decoded, from url-encoded listings; query values from
 * continuation tokens the server sent.
 *
 * Properties:
 *  - encode yields only unreserved bytes, "%XX" with upper-case hex, and
 *    '/' when asked to keep it;
 *  - decode(encode(x)) == x for any x without NUL, with either '+' rule;
 *    with a NUL, decoding refuses it (-EINVAL) rather than cut a key;
 *  - whatever decode accepts holds no NUL, and survives the round trip;
 *  - a failure leaves the output buffer exactly as it was, also when
 *    the buffer's ceiling is what fails (-E2BIG).
 * The first byte picks the ceiling of the small buffers; the rest is x.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "util/buf.h"
#include "util/uri.h"

#define PRE "pre:"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static bool is_upper_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_encoded(const char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			fuzz_assert(i + 2 < n);
			fuzz_assert(is_upper_hex((unsigned char)s[i + 1]) &&
				    is_upper_hex((unsigned char)s[i + 2]));
			i += 2;
		} else {
			fuzz_assert(is_unreserved(c) ||
				    (keep_slash && c == '/'));
		}
	}
}

/* @p b must still hold exactly PRE. */
static void check_untouched(const struct buf *b)
{
	fuzz_assert(b->len == strlen(PRE));
	fuzz_assert(memcmp(buf_str(b), PRE, strlen(PRE) + 1) == 0);
}

static void round_trip(const char *x, size_t n, bool keep_slash,
		       bool plus_is_space)
{
	struct buf enc, dec;
	bool has_nul = memchr(x, '\0', n) != NULL;
	int rc;

	buf_init(&enc, BUF_MAX_DEFAULT);
	buf_init(&dec, BUF_MAX_DEFAULT);
	rc = uri_encode(&enc, x, n, keep_slash);
	if (rc == -ENOMEM)
		goto out;
	fuzz_assert(rc == 0);
	fuzz_assert(enc.len >= n && enc.len <= 3 * n);
	check_encoded(buf_str(&enc), enc.len, keep_slash);

	fuzz_assert(buf_add(&dec, PRE, strlen(PRE)) == 0);
	rc = uri_decode(&dec, buf_str(&enc), plus_is_space);
	if (rc == -ENOMEM)
		goto out;
	if (has_nul) {
		fuzz_assert(rc == -EINVAL);
		check_untouched(&dec);
	} else {
		fuzz_assert(rc == 0);
		fuzz_assert(dec.len == strlen(PRE) + n);
		fuzz_assert(memcmp(dec.data + strlen(PRE), x, n) == 0);
		fuzz_assert(dec.data[dec.len] == '\0');
	}
out:
	buf_free(&enc);
	buf_free(&dec);
}

/* Decode arbitrary text (as a C string): accepted output has no NUL and
 * encodes back to something that decodes to it again. */
static void decode_any(const char *s, bool plus_is_space)
{
	struct buf dec, enc, again;
	int rc;

	buf_init(&dec, BUF_MAX_DEFAULT);
	buf_init(&enc, BUF_MAX_DEFAULT);
	buf_init(&again, BUF_MAX_DEFAULT);
	rc = uri_decode(&dec, s, plus_is_space);
	fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc)
		goto out;
	fuzz_assert(dec.len <= strlen(s));
	fuzz_assert(memchr(buf_str(&dec), '\0', dec.len) == NULL);
	if (uri_encode(&enc, buf_str(&dec), dec.len, false) ||
	    uri_decode(&again, buf_str(&enc), plus_is_space))
		goto out;
	fuzz_assert(again.len == dec.len);
	fuzz_assert(memcmp(buf_str(&again), buf_str(&dec), dec.len) == 0);
out:
	buf_free(&dec);
	buf_free(&enc);
	buf_free(&again);
}

/* A ceiling too small for the result: -E2BIG and nothing appended. */
static void ceiling(const char *x, size_t n, size_t max)
{
	struct buf b;
	int rc;

	buf_init(&b, max);
	if (buf_add(&b, PRE, strlen(PRE)) != 0)
		goto out; /* max smaller than PRE itself */
	rc = uri_encode(&b, x, n, true);
	fuzz_assert(rc == 0 || rc == -E2BIG || rc == -ENOMEM);
	if (rc)
		check_untouched(&b);
	else
		fuzz_assert(b.len <= max);
	buf_reset(&b);
	fuzz_assert(buf_add(&b, PRE, strlen(PRE)) == 0);
	rc = uri_decode(&b, x, true);
	fuzz_assert(rc == 0 || rc == -E2BIG || rc == -EINVAL ||
		    rc == -ENOMEM);
	if (rc)
		check_untouched(&b);
	else
		fuzz_assert(b.len <= max);
out:
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *x;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	/* A copy with a NUL after it: uri_decode takes a C string. */
	x = malloc(n + 1);
	if (!x)
		return 0;
	memcpy(x, data + 1, n);
	x[n] = '\0';

	round_trip(x, n, false, false);
	round_trip(x, n, false, true);
	round_trip(x, n, true, false);
	round_trip(x, n, true, true);
	decode_any(x, false);
	decode_any(x, true);
	ceiling(x, n, strlen(PRE) + data[0]);
	free(x);
	return 0;
}
