/**
 * @file path.h
 * Mapping between FUSE paths and S3 keys, and which keys can be names.
 *
 * Inside etagfs a path is kept relative to the mount without a leading
 * slash ("" is the root, "a/b" a file); it is also the cache key. The S3
 * key is the mount prefix ("" or "pre/fix/") followed by the relative
 * path; a directory "a" may exist as a marker object "a/" and/or as the
 * common prefix of keys below it.
 */
#ifndef ETAGFS_FS_PATH_H
#define ETAGFS_FS_PATH_H

#include <stdbool.h>
#include <stddef.h>

/** "/a/b" → "a/b", "/" → "". Returns a pointer into @p fuse_path. */
const char *fs_path_rel(const char *fuse_path);

/** prefix + rel (+ "/" when @p dir and rel is not the root). Caller
 * frees. NULL on -ENOMEM. */
char *fs_path_key(const char *prefix, const char *rel, bool dir);

/** Split rel into parent ("" for top level) and the last component.
 * *parent_take is malloc'd (caller frees); *name points into @p rel. */
int fs_path_split(const char *rel, char **parent_take, const char **name);

/** rel of @p name inside directory @p parent_rel. Caller frees. */
char *fs_path_join(const char *parent_rel, const char *name);

/** True when @p name (length @p len) can be a file name: not empty, not
 * "." or "..", at most 255 bytes, no '/' and no NUL. */
bool fs_path_name_valid(const char *name, size_t len);

enum fs_listing_kind {
	FS_LISTED_FILE,	  /**< an object directly in the directory */
	FS_LISTED_DIR,	  /**< a common prefix "name/" */
	FS_LISTED_SELF,	  /**< the directory's own marker "dir/" */
	FS_LISTED_INVALID, /**< cannot be a name: skip (and log once) */
};

/**
 * Classify a key (or common prefix) from a listing of @p list_prefix:
 * on FS_LISTED_FILE/DIR the name is [*name, *name + *name_len).
 */
enum fs_listing_kind fs_path_classify(const char *list_prefix,
				      const char *key, bool common_prefix,
				      const char **name, size_t *name_len);

#endif
