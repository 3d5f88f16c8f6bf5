/**
 * @file body_cache.h
 * Whole bodies of small object versions, fetched ahead of a reader that
 * opens the files of a listed directory one after another (fs/bodyahead.h),
 * so that its reads cost no request of their own.
 *
 * A body is keyed by path and held for exactly one version (ETag): a
 * read must present the ETag its handle opened, and any other version
 * misses, so a body can be old but never wrong for the version asked.
 * A body read to its end is dropped (the kernel's page cache holds it
 * from then on). The cache is bounded by bytes; the least recently used
 * bodies go first.
 *
 * Locking: one mutex, taken inside each function. Any thread may call.
 */
#ifndef ETAGFS_CACHE_BODY_CACHE_H
#define ETAGFS_CACHE_BODY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct body_cache;

/** A cache of at most @p max_bytes of bodies. NULL on -ENOMEM. */
struct body_cache *body_cache_new(size_t max_bytes);
void body_cache_free(struct body_cache *c);

/** Hold the @p len bytes at @p data as the body of version @p etag of
 * @p path (replacing any other version of it). Silently not held when
 * larger than the whole cache, without an ETag, or without memory. */
void body_cache_put(struct body_cache *c, const char *path, const char *etag,
		    const void *data, size_t len);

/**
 * Copy [@p off, @p off + @p size) of the body of version @p etag of
 * @p path into @p buf: true, with *@p got bytes (short only at the end
 * of the body, 0 past it), and the body is dropped when this read
 * reached its end. false when that version is not held.
 */
bool body_cache_read(struct body_cache *c, const char *path, const char *etag,
		     uint64_t off, void *buf, size_t size, size_t *got);

/** Whether the body of version @p etag of @p path is held (not counted
 * as served). */
bool body_cache_holds(struct body_cache *c, const char *path,
		      const char *etag);

/** Drop whatever body @p path has (the mount changed it). */
void body_cache_forget(struct body_cache *c, const char *path);

/** Bytes held, bodies held, and reads from offset 0 it answered
 * (tests, statistics). */
size_t body_cache_bytes(struct body_cache *c);
size_t body_cache_count(struct body_cache *c);
size_t body_cache_served(struct body_cache *c);

#endif
