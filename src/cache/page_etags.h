/**
 * @file page_etags.h
 * Which object version the kernel's page cache holds for each path.
 *
 * An open of a file whose current ETag equals the one its cached pages
 * came from may keep them (FUSE keep_cache): repeated reads of an
 * unchanged file cost no GET. Any other open drops them. Bounded: the
 * least recently used paths are forgotten first (forgetting only costs
 * a re-read).
 *
 * Locking: one mutex, taken only inside these functions.
 */
#ifndef ETAGFS_CACHE_PAGE_ETAGS_H
#define ETAGFS_CACHE_PAGE_ETAGS_H

#include <stdbool.h>
#include <stddef.h>

struct page_etags;

/** NULL on -ENOMEM. */
struct page_etags *page_etags_new(size_t max_paths);
void page_etags_free(struct page_etags *p);

/**
 * An open of @p path at @p etag: returns true when the pages cached for
 * @p path came from that same version (keep them), and records @p etag
 * as the version the cache will hold from now on.
 */
bool page_etags_open(struct page_etags *p, const char *path,
		     const char *etag);

/** The cached pages of @p path can no longer be trusted (a local write,
 * a failed commit, unlink, rename). */
void page_etags_forget(struct page_etags *p, const char *path);

#endif
