/**
 * @file ctx.h
 * All per-mount state, reached through fuse_get_context()->private_data
 * (fs_ctx_get()); nothing per mount lives in globals.
 */
#ifndef ETAGFS_FS_CTX_H
#define ETAGFS_FS_CTX_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cache/attr_cache.h"
#include "cache/dir_cache.h"
#include "cache/body_cache.h"
#include "cache/meta_memo.h"
#include "cache/page_etags.h"
#include "fs/options.h"
#include "s3/client.h"
#include "util/task.h"

struct fs_handle;
struct fs_bodyahead;

struct fs_ctx {
	struct fs_options opts;
	struct s3_client *s3;
	struct s3_caps caps;
	struct attr_cache *attrs;
	struct dir_cache *dirs;
	struct meta_memo *memo; /**< metadata per object version */
	struct fs_prefetch *prefetch; /**< HEADs ahead of listing walks */
	struct body_cache *bodies; /**< small files' bodies, per version */
	struct fs_bodyahead *bodyahead; /**< fills it ahead of reads */
	struct page_etags *pages; /**< version in the kernel page cache */
	struct seen_set *skipped; /**< unnameable keys already logged */
	struct task_pool side; /**< a lookup's LIST beside its HEAD */
	uint64_t readahead_bytes; /**< read-ahead buffers held (atomic) */
	char *staging_dir;  /**< owned, exists, mode 0700 */
	int owner_fd;	    /**< flock held on our owner file (staging.h) */
	char *owner_path;
	char owner_id[17];
	char *conflict_dir; /**< owned, exists, mode 0700 */
	char *memo_path;    /**< owned; NULL: the memo is not kept on disk */
	uid_t uid;	    /**< owner shown for objects without metadata */
	gid_t gid;
	bool read_only; /**< mounted with -o ro, or forced by the probe */
	time_t mount_time;

	/* Open handles, so path operations can see local state. */
	pthread_mutex_t handles_lock;
	struct fs_handle *handles; /**< doubly linked via handle->next */
};

/** The mount's context from inside a FUSE operation. */
struct fs_ctx *fs_ctx_get(void);

/**
 * Create staging and conflict directories (0700) and the caches.
 * @p o is moved into the context (the caller's copy is zeroed).
 * 0 or -errno with a sentence in @p err.
 */
int fs_ctx_init(struct fs_ctx *ctx, struct fs_options *o,
		struct s3_client *s3, char *err, size_t err_len);
void fs_ctx_destroy(struct fs_ctx *ctx);

/** Metadata for an object the calling user creates now: @p mode (with
 * its type bits), the caller's uid/gid, mtime now. */
void fs_ctx_new_meta(struct fs_ctx *ctx, struct s3_meta *m, mode_t mode);

/** mkdir -p with mode 0700 for the last component. */
int fs_ctx_mkdirs(const char *path);

/** $XDG_STATE_HOME/etagfs/@p leaf, else ~/.local/state/etagfs/@p leaf
 * (malloc'd; NULL on -ENOMEM). Not created. */
char *fs_ctx_state_dir(const char *leaf);

#endif
