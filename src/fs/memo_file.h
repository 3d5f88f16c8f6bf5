/**
 * @file memo_file.h
 * The metadata memo (cache/meta_memo.h) kept on disk between mounts.
 *
 * A listing carries no object metadata, so the first `ls -l` of a mount
 * costs a HEAD per file. The metadata of an object version never changes
 * and the memo only answers for the exact version (ETag and
 * Last-Modified) it was read from, so what an earlier mount of the same
 * endpoint, bucket and prefix learnt stays exact: it is saved at unmount
 * and read at mount, and a fresh mount lists a directory it has seen
 * before with LISTs only. The file is a cache: a missing, foreign or
 * damaged one only costs the HEADs.
 *
 * Default place: $XDG_STATE_HOME/etagfs/memo/<hash of endpoint, bucket
 * and prefix>.memo (-o memo_file=PATH, or none to keep nothing).
 */
#ifndef ETAGFS_FS_MEMO_FILE_H
#define ETAGFS_FS_MEMO_FILE_H

#include "fs/ctx.h"

/** Choose ctx->memo_path from the options and read what it holds into
 * ctx->memo. Never fails the mount: problems are logged. */
void fs_memo_file_load(struct fs_ctx *ctx);

/** Write ctx->memo to ctx->memo_path (atomically replaced). Logged, not
 * returned: losing it only costs HEADs. */
void fs_memo_file_save(struct fs_ctx *ctx);

#endif
