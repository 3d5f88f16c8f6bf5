/**
 * @file lookup.h
 * What is at a path, answered from the caches when they are fresh and
 * from S3 otherwise, and how it looks as a struct stat.
 *
 * A lookup that goes to the server costs one round trip when what the
 * name was is known (even from an expired cache entry): a HEAD for a
 * file, one LIST for a directory or a missing name. A name never seen
 * gets its HEAD and a LIST of "name/" at once: two requests, one round
 * trip. A directory found on the server gets the first page of its
 * listing cached (that LIST), so an ls or a path through it costs no
 * more. It costs nothing when the parent's listing is fresh. A file in a fresh
 * listing costs nothing either when the metadata memo knows its version
 * (cache/meta_memo.h), and its HEAD is sent ahead by a walk over the
 * listing otherwise (fs/prefetch.h).
 */
#ifndef ETAGFS_FS_LOOKUP_H
#define ETAGFS_FS_LOOKUP_H

#include <sys/stat.h>

#include "cache/dir_cache.h"
#include "fs/ctx.h"

/** Attributes of @p rel. -ENOENT when nothing is there. */
int fs_lookup(struct fs_ctx *ctx, const char *rel, struct attr_entry *out);

/** What the caller expects a name to be; it picks the first request. */
enum fs_guess {
	/** No idea: the name's last known kind (attr_cache_hint()), else
	 * the HEAD and the LIST at once. */
	FS_GUESS_NONE,
	/** A file (it was just listed, or opened): a HEAD first. */
	FS_GUESS_FILE,
	/** A directory, or nothing: a LIST first. */
	FS_GUESS_NOT_FILE,
};

/** Like fs_lookup() but always asks the server (writable opens). A
 * wrong @p guess costs a second round trip, never a wrong answer. */
int fs_lookup_fresh(struct fs_ctx *ctx, const char *rel,
		    enum fs_guess guess, struct attr_entry *out);

/** Fill @p st from @p e (defaults for missing metadata). */
void fs_lookup_to_stat(const struct fs_ctx *ctx, const struct attr_entry *e,
		       struct stat *st);

/** A directory listing: a cached snapshot, or entries owned here when
 * listings are not cached (dir_ttl=0). */
struct fs_listing {
	const struct dir_entry *entries;
	size_t n;
	struct dir_snapshot *snap;
	struct dir_entry *owned;
};

/**
 * The complete listing of directory @p rel (from the cache, or paged
 * from S3 and cached). Release with fs_listing_release(). Keys that
 * cannot be names are skipped with one log line each. -ENOENT when the
 * directory does not exist (no marker, no key below it, not the root).
 */
int fs_lookup_list_dir(struct fs_ctx *ctx, const char *rel,
		       struct fs_listing *out);
void fs_listing_release(struct fs_ctx *ctx, struct fs_listing *l);

/** True when directory @p rel has any entry (one-key listing). */
int fs_lookup_dir_nonempty(struct fs_ctx *ctx, const char *rel);

/** The mount changed @p rel: drop it from the attribute cache and update
 * its parent's listing (@p e NULL: removed). */
void fs_lookup_note_change(struct fs_ctx *ctx, const char *rel,
			   const struct attr_entry *e);

/** A HEAD or GET answered @p e for @p rel (fill generation @p gen):
 * cache it, and memo a file's metadata for later listings. */
void fs_lookup_learn(struct fs_ctx *ctx, const char *rel,
		     const struct attr_entry *e, uint64_t gen);

/** Fill an attr_entry from a HEAD/PUT result. */
void fs_lookup_entry_from_info(struct attr_entry *e,
			       const struct s3_object_info *info);

#endif
