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
 * a failed commit, unlink, rename); what its attributes were last is
 * forgotten too. */
void page_etags_forget(struct page_etags *p, const char *path);

/** The cached pages of @p path can no longer be trusted, but the kernel
 * still holds the attributes last noted (a refreshed snapshot). */
void page_etags_forget_pages(struct page_etags *p, const char *path);

/**
 * The kernel was just given the attributes (size above all) of @p path
 * at version @p etag ("" or NULL: of no committed version, e.g. what a
 * local writer has staged). The kernel keeps one i_size per file for
 * every handle: see page_etags_attrs_differ().
 */
void page_etags_note_attrs(struct page_etags *p, const char *path,
			   const char *etag);

/**
 * True when the attributes last given to the kernel for @p path were
 * not those of version @p etag. A read that ends short (at the end of
 * @p etag's bytes) is then not trusted: the kernel pads a short page
 * read with zeros up to the size it believes, and keeps that size when
 * another answer updated it meanwhile, so a reader would get zeros
 * after the last byte of its version. Unknown paths: false.
 */
bool page_etags_attrs_differ(struct page_etags *p, const char *path,
			     const char *etag);

#endif
