/**
 * @file buf.h
 * Growable byte buffer with a hard ceiling (modelled on curl's dynbuf).
 *
 * The data is always NUL-terminated so text can be used as a C string.
 * A buffer that would grow past its ceiling fails with -E2BIG and keeps
 * its previous content; allocation failure gives -ENOMEM.
 */
#ifndef ETAGFS_UTIL_BUF_H
#define ETAGFS_UTIL_BUF_H

#include <stddef.h>

struct buf {
	char *data; /**< NUL-terminated content, NULL while empty */
	size_t len; /**< bytes used, excluding the terminating NUL */
	size_t cap; /**< bytes allocated */
	size_t max; /**< ceiling on len */
};

/** Default ceiling for protocol text (XML bodies, canonical requests). */
#define BUF_MAX_DEFAULT (64u * 1024 * 1024)

/** Initialise an empty buffer that may hold up to @p max bytes. */
void buf_init(struct buf *b, size_t max);
/** Append @p n bytes. 0, -ENOMEM or -E2BIG. */
int buf_add(struct buf *b, const void *p, size_t n);
/** Append a C string. */
int buf_adds(struct buf *b, const char *s);
/** Append printf-formatted text. */
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Content as a C string; "" (static) while empty. Owned by @p b. */
const char *buf_str(const struct buf *b);
/** Forget the content but keep the allocation. */
void buf_reset(struct buf *b);
/**
 * Hand the content to the caller (who frees it with free()) and leave
 * @p b empty. Returns NULL when empty or on allocation failure of "".
 */
char *buf_take(struct buf *b);
/** Release the allocation; @p b may be reused after buf_init(). */
void buf_free(struct buf *b);

#endif
