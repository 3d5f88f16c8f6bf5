/**
 * @file conflict.h
 * Rejected bytes are never lost silently: when a commit cannot land, the
 * handle's full content is copied to <conflict_dir>/<bucket>/<key>.
 * conflict-<UTC time>-<random> (or, with conflict_copy=bucket, to the
 * sibling object <key>.conflict-<UTC time>-<random>, falling back to the
 * local directory if that fails) and one warning names the key, both
 * ETags and the copy's path.
 */
#ifndef ETAGFS_FS_CONFLICT_H
#define ETAGFS_FS_CONFLICT_H

#include <stddef.h>
#include <stdint.h>

#include "fs/ctx.h"

/**
 * Copy @p len bytes of @p fd to a new conflict copy for @p key. Its
 * local path or object key is written to @p path_out. 0 or -errno.
 */
int fs_conflict_save(struct fs_ctx *ctx, const char *key, int fd,
		     uint64_t len, char *path_out, size_t path_len);

#endif
