/**
 * @file ops.h
 * The FUSE operations table. Each handler translates its arguments and
 * delegates to lookup.c (what is where), handle.c (open files and their
 * conditional commits) or the namespace/metadata helpers; all return 0
 * or a negative errno.
 */
#ifndef ETAGFS_FS_OPS_H
#define ETAGFS_FS_OPS_H

#include <fuse.h>

#include "fs/ctx.h"

/** The table given to fuse_new(). */
const struct fuse_operations *fs_ops_table(void);

/* Namespace operations (ops_ns.c). */
int fs_ops_unlink(const char *path);
int fs_ops_mkdir(const char *path, mode_t mode);
int fs_ops_rmdir(const char *path);
int fs_ops_rename(const char *from, const char *to, unsigned int flags);
int fs_ops_symlink(const char *target, const char *path);
int fs_ops_readlink(const char *path, char *buf, size_t size);

/* Metadata operations (ops_meta.c). */
int fs_ops_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int fs_ops_chown(const char *path, uid_t uid, gid_t gid,
		 struct fuse_file_info *fi);
int fs_ops_utimens(const char *path, const struct timespec tv[2],
		   struct fuse_file_info *fi);
int fs_ops_getxattr(const char *path, const char *name, char *value,
		    size_t size);
int fs_ops_setxattr(const char *path, const char *name, const char *value,
		    size_t size, int flags);
int fs_ops_listxattr(const char *path, char *list, size_t size);
int fs_ops_removexattr(const char *path, const char *name);

/** Put @p len bytes of memory as object @p key with @p cond and @p meta
 * (through an anonymous memory file; used for symlinks and markers). */
int fs_ops_put_small(struct fs_ctx *ctx, const char *key, const void *data,
		     size_t len, const struct s3_write_cond *cond,
		     const struct s3_meta *meta, struct s3_object_info *out);

/** The xattr names etagfs serves. */
#define FS_XATTR_ETAG "user.etag"
#define FS_XATTR_IF_MATCH "user.etag.if-match"
/** On the mount's root: the S3 request counters of this mount. */
#define FS_XATTR_STATS "user.etagfs.stats"

#endif
