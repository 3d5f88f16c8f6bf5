/*
 * Growable NUL-terminated byte buffer with a hard ceiling.
 *
 * Not thread-safe: a buffer belongs to one thread at a time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Small first allocation: most protocol strings are short. */
#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/*
 * Make room for @extra more bytes plus the NUL. Checks the ceiling before
 * touching anything so that a refused append leaves @b as it was.
 */
static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	size_t new_cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;

	/* Doubling keeps appends amortised O(1); the ceiling caps it. */
	new_cap = b->cap ? b->cap : BUF_MIN_ALLOC;
	while (new_cap < need) {
		if (new_cap > SIZE_MAX / 2) {
			new_cap = need;
			break;
		}
		new_cap *= 2;
	}
	if (b->max < SIZE_MAX && new_cap > b->max + 1)
		new_cap = b->max + 1;
	if (new_cap < need)
		new_cap = need;

	p = realloc(b->data, new_cap);
	if (p == NULL)
		return -ENOMEM;
	if (b->data == NULL)
		p[0] = '\0';
	b->data = p;
	b->cap = new_cap;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	int rc;

	rc = buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	int rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;

	rc = buf_reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_take(struct buf *b)
{
	char *p = b->data;

	/* An empty buffer that never allocated still hands over a real,
	 * freeable "", so NULL only ever means out of memory. */
	if (p == NULL)
		p = strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
