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
#include <stdint.h>

struct page_etags;

/** Clock in milliseconds, monotonic (tests pass their own). */
typedef uint64_t (*page_etags_clock_fn)(void);

/** NULL on -ENOMEM. @p clock NULL: CLOCK_MONOTONIC. */
struct page_etags *page_etags_new(size_t max_paths,
				  page_etags_clock_fn clock);
void page_etags_free(struct page_etags *p);

/**
 * An open of @p path at @p etag: returns true when the pages cached for
 * @p path came from that same version (keep them), and records @p etag
 * as the version the cache will hold from now on.
 */
bool page_etags_open(struct page_etags *p, const char *path,
		     const char *etag);

/**
 * The cached pages of @p path can no longer be trusted (a local writer,
 * a commit, unlink, rename), and the size the kernel holds is no longer
 * one this table knows: a local writer's writes set it without asking
 * us, a rename moves another file's inode there. It is recorded as "no
 * committed version" until the next page_etags_note_attrs(), so that a
 * page-cache reader of an older version on this mount fails at its end
 * (ESTALE) rather than trusting the kernel's size (the soak caught a
 * reader padded with zeros up to the size its own mount's writer had
 * appended to). Returns the wait of page_etags_note_attrs(): a writer
 * about to open waits it out before its writes can grow the file.
 */
unsigned page_etags_forget(struct page_etags *p, const char *path);

/** The cached pages of @p path can no longer be trusted, but the kernel
 * still holds the attributes last noted (a refreshed snapshot). */
void page_etags_forget_pages(struct page_etags *p, const char *path);

/** How long attributes of another version are held back after a short
 * read of the version the kernel was told of (page_etags_read_end()). */
#define PAGE_ETAGS_END_GUARD_MS 50

/**
 * The kernel is about to be given the attributes (size above all) of
 * @p path at version @p etag ("" or NULL: of no committed version, e.g.
 * what a local writer has staged). The kernel keeps one i_size per file
 * for every handle: see page_etags_attrs_differ().
 *
 * Returns how many milliseconds the caller must wait before answering
 * (0 nearly always): when a page-cache reader got the end of the
 * version the kernel was told of less than PAGE_ETAGS_END_GUARD_MS ago
 * and this is another version, the reader's answer may not have reached
 * the kernel yet, and a larger size arriving first makes the kernel pad
 * that short read with zeros up to it instead of ending the file there
 * (the soak caught one such read in thousands).
 */
unsigned page_etags_note_attrs(struct page_etags *p, const char *path,
			       const char *etag);

/**
 * A page-cache reader of @p path got the end of version @p etag (a short
 * read). @p also (NULL or "": none) is a version it may equally end at
 * (the one a refresh replaced, which the reader never saw). True when
 * the kernel was last given the attributes of neither: the read must
 * fail (see page_etags_attrs_differ()). Otherwise the end is recorded,
 * so that attributes of another version wait for this read's answer
 * (page_etags_note_attrs()); both decisions are taken under one lock,
 * so one of the two always sees the other.
 */
bool page_etags_read_end(struct page_etags *p, const char *path,
			 const char *etag, const char *also);

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
