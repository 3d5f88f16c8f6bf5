/*
 * RFC 3986 percent-encoding and decoding.
 *
 * Both functions either append their whole result or leave @out exactly
 * as it was, so a caller never signs or sends half an encoding.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/uri.h"

static bool uri_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int uri_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo a partial append so that errors leave @out unchanged. */
static void uri_truncate(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data)
		out->data[len] = '\0';
}

int uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t start = out->len;
	size_t i;
	size_t run = 0;
	int rc = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if (uri_is_unreserved(c) || (keep_slash && c == '/')) {
			run++;
			continue;
		}
		/* Copy the unreserved run in one go, then the escape. */
		rc = buf_add(out, s + i - run, run);
		if (rc < 0)
			goto out;
		run = 0;
		esc[0] = '%';
		esc[1] = digits[c >> 4];
		esc[2] = digits[c & 0x0f];
		rc = buf_add(out, esc, sizeof(esc));
		if (rc < 0)
			goto out;
	}
	rc = buf_add(out, s + len - run, run);
out:
	if (rc < 0)
		uri_truncate(out, start);
	return rc;
}

int uri_decode(struct buf *out, const char *s, bool plus_is_space)
{
	size_t start = out->len;
	const char *p = s;
	int rc = 0;

	/* Make an empty input still yield a valid (empty) string. */
	rc = buf_add(out, "", 0);
	if (rc < 0)
		goto out;
	while (*p != '\0') {
		char c = *p;
		int hi;
		int lo;

		if (c == '%') {
			hi = uri_hex_value((unsigned char)p[1]);
			lo = hi < 0 ? -1 : uri_hex_value((unsigned char)p[2]);
			/* An escaped NUL would silently cut C strings. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				rc = -EINVAL;
				goto out;
			}
			c = (char)(hi << 4 | lo);
			p += 3;
		} else {
			if (c == '+' && plus_is_space)
				c = ' ';
			p++;
		}
		rc = buf_add(out, &c, 1);
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		uri_truncate(out, start);
	return rc;
}
