/**
 * @file uri.h
 * RFC 3986 percent-encoding as SigV4 and S3 require it.
 *
 * Unreserved characters (A-Z a-z 0-9 - . _ ~) are kept, every other byte
 * becomes %XX with upper-case hex. '/' is kept only when asked (object
 * keys in a path), never in query values.
 */
#ifndef ETAGFS_UTIL_URI_H
#define ETAGFS_UTIL_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/** Append the encoding of @p len bytes of @p s to @p out. 0 or -errno. */
int uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);
/**
 * Decode %XX escapes (and '+' as space only when @p plus_is_space) of a
 * C string into @p out. -EINVAL on a malformed escape or an escaped NUL.
 */
int uri_decode(struct buf *out, const char *s, bool plus_is_space);

#endif
