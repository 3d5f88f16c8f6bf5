/**
 * @file staging.h
 * Staging files that survive a crash, and their recovery.
 *
 * Each writable handle stages its content in <staging_dir>/stage-XXXXXX
 * (on disk, never in memory) next to a manifest stage-XXXXXX.manifest:
 * the bucket and endpoint, the key, the precondition the handle was
 * opened under (base ETag and its commit token, or "new file"), the
 * commit token of the content, and whether the content is complete (the
 * application asked for a commit: flush/fsync) or still being written.
 * A manifest is replaced atomically (temporary file, fsync, rename).
 *
 * Every mount holds an exclusive flock on its own owner file
 * (owner-XXXXXX.lock); manifests name their owner. A manifest whose
 * owner lock can be taken belongs to a mount that died: recovery (at the
 * next mount of that bucket, or "etagfs --recover") commits complete
 * content with its original precondition and token, never blindly, and
 * keeps incomplete content as a recovered copy in the conflict directory.
 * See doc/internals/recovery.md.
 */
#ifndef ETAGFS_FS_STAGING_H
#define ETAGFS_FS_STAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/ctx.h"

enum fs_stage_state {
	FS_STAGE_OPEN,	   /**< being written: never uploaded by recovery */
	FS_STAGE_COMPLETE, /**< a commit was asked for: recovery commits it */
	FS_STAGE_CLEAN,	   /**< equal to the server (committed) or already
			    *   kept as a conflict copy: nothing to recover */
};

/** What a manifest records. */
struct fs_stage_info {
	const char *key;
	const char *base_etag;	    /**< precondition; "" with is_new */
	bool is_new;		    /**< If-None-Match: * */
	const struct s3_meta *meta; /**< attributes, token, parent */
	enum fs_stage_state state;
	uint64_t size;
	/** COMPLETE: SHA-256 (hex) of the first @p size bytes, or NULL.
	 * Recovery uploads nothing that does not match it. */
	const char *sha256;
	/** COMPLETE with @p sha256: flush neither the data nor the
	 * manifest (a commit about to upload; see fs_stage_record). */
	bool lazy;
	/** OPEN or COMPLETE: the multipart upload the commit (or a stream
	 * behind the writer) has under way, or NULL. A mount that dies
	 * leaves it on the server, invisible and billed; recovery aborts
	 * it before anything else. */
	const char *upload_id;
};

/** A staging file and its manifest. */
struct fs_stage {
	int fd;		/**< the data, -1 when none */
	char *data_path;
	char *manifest_path;
	/** The manifest on disk says complete: its next change must be
	 * durable too, or a power loss could bring "complete" back over
	 * content that changed since. */
	bool durable_state;
};

/** Take this mount's owner lock in ctx->staging_dir. 0 or -errno. */
int fs_staging_init(struct fs_ctx *ctx, char *err, size_t err_len);
/** Release the owner lock (a clean unmount). */
void fs_staging_fini(struct fs_ctx *ctx);

/** Create an empty staging file and its manifest. 0 or -errno
 * (-ENOSPC when the staging disk is full). */
int fs_stage_create(struct fs_ctx *ctx, const struct fs_stage_info *info,
		    struct fs_stage *out);

/**
 * Record @p info in the manifest. With FS_STAGE_COMPLETE the data is
 * flushed to disk first, so recovery never uploads a torn file; unless
 * @p info is lazy and carries the content's hash: then nothing is
 * flushed (a commit about to upload costs no disk flush), and a power
 * loss that tore the data is caught by recovery's hash check. A commit
 * that fails records COMPLETE again, not lazy, before it reports.
 */
int fs_stage_record(struct fs_ctx *ctx, struct fs_stage *st,
		    const struct fs_stage_info *info);

/** Close the stage but leave its files for a later recovery (the bytes
 * could not be kept anywhere else). */
void fs_stage_keep(struct fs_stage *st);

/** Remove the data and the manifest (NULL-safe, idempotent). */
void fs_stage_discard(struct fs_stage *st);

struct fs_recovery_stats {
	int committed; /**< landed with their original precondition */
	int conflicts; /**< precondition failed: kept as conflict copies */
	int kept;      /**< incomplete: kept as recovered copies */
	int failed;    /**< could not be handled now: left for next time */
};

/** A parsed manifest; strings owned (free with fs_manifest_free()). */
struct fs_manifest {
	char *owner, *endpoint, *bucket, *key, *base;
	bool is_new, complete, clean, size_known;
	uint64_t size;
	struct s3_meta meta;
	char sha256[65]; /**< "" when the manifest has none */
	char *upload_id; /**< a multipart upload to abort, or NULL */
};

/**
 * Parse a manifest's text (NUL-terminated; modified in place). 0, or
 * -EINVAL when it is not a complete manifest (nothing to free then).
 * Unknown fields are ignored: a newer etagfs may have written them.
 */
int fs_manifest_parse(char *text, struct fs_manifest *m);
void fs_manifest_free(struct fs_manifest *m);

/** Recover the staging files of dead mounts of this bucket and endpoint. */
int fs_staging_recover(struct fs_ctx *ctx, struct fs_recovery_stats *out);

#endif
