/**
 * @file handle.h
 * Open-file handles: the ETag contract lives here.
 *
 * A handle is a snapshot of one object version (its ETag). Reads come
 * from that version only (GET If-Match) or from the handle's own staging
 * file once it holds data; writes go to the staging file (on disk, never
 * shared with another handle); commit (flush, fsync, release) is one
 * conditional write: If-Match of the snapshot, or If-None-Match: * for a
 * file this handle created. On success the handle adopts the new ETag; on
 * a conflict the commit fails with -EBUSY, the object is left alone, the
 * staged bytes are kept as a conflict copy, and every later commit of the
 * handle fails with -EBUSY too. See doc/internals/etag-lifecycle.md.
 *
 * Locking: each handle has its own mutex, held for the whole of each
 * operation on it (FUSE may call read/write on one handle from several
 * threads). The context's handle list has its own lock; the order is
 * list lock, then handle lock (unlink, rename and the xattr precondition
 * update handles found in the list), never the other way round, so a
 * commit in progress holds its handle lock but never the list lock.
 */
#ifndef ETAGFS_FS_HANDLE_H
#define ETAGFS_FS_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/ctx.h"
#include "fs/readahead.h"
#include "fs/staging.h"
#include "fs/streamup.h"
#include "util/hash_follow.h"
#include "s3/client.h"

struct fs_handle {
	struct fs_handle *next, *prev; /**< ctx->handles list */
	pthread_mutex_t lock;
	char *rel; /**< path relative to the mount */
	char *key; /**< S3 key */
	char etag[S3_ETAG_MAX]; /**< the snapshot; "" while is_new */
	/** the snapshot a refresh before the first read replaced, whose
	 * attributes the kernel may still hold; "" when none */
	char refreshed_from[S3_ETAG_MAX];
	char if_match_override[S3_ETAG_MAX]; /**< set by xattr, or "" */
	/** Commit token of the snapshot version, recorded as the parent of
	 * the next commit (see s3_meta.parent). */
	char base_token[S3_TOKEN_LEN + 1];
	bool is_new;	   /**< commit with If-None-Match: * */
	bool writable;
	bool append; /**< O_APPEND: every write goes to the end of content */
	bool dirty;	   /**< staged content differs from the object */
	bool conflicted;   /**< a commit failed with EBUSY */
	/** A read already returned bytes. Stored atomically: a read peeks
	 * at it before taking the lock. */
	bool bytes_returned;
	/** reads go through the kernel's page cache (not direct_io) */
	bool page_cached;
	struct fs_stage stage; /**< fd -1 until the content is staged */
	enum fs_stage_state stage_state; /**< what the manifest says */
	uint64_t size;	   /**< current content size */
	time_t last_modified;
	struct s3_meta meta; /**< metadata written with the next commit */
	bool mtime_explicit; /**< utimens set meta.mtime: keep it */
	pid_t owner_tgid;    /**< process that opened it (xattr calls) */
	bool unlinked;	     /**< the mount removed the name: never commit */
	struct fs_readahead *ra; /**< sequential-read buffers, or NULL */
	/** SHA-256 of the staged content while it was written front to back
	 * (covers [0, size) exactly), or NULL: the commit then needs no
	 * pass over the data and no disk flush (staging.h, lazy). Large
	 * content is hashed behind the writer (util/hash_follow.h). */
	struct hash_follow *sha;
	bool sha_broken; /**< written out of order: no stream until emptied */
	int write_error;     /**< a staging write failed: never commit */
	int commit_error;    /**< the last reported commit failed, or 0 */
	bool keep_stage;     /**< its bytes are nowhere else: keep staging */
	int read_error;	     /**< last remote read's network error, or 0 */
	/** The multipart upload a commit or the stream has under way
	 * (owned by that commit, or by @p up), recorded in the manifest
	 * with it so that recovery aborts it; NULL otherwise. */
	const char *upload_id;
	/** The upload going on behind the writer (fs/streamup.h), or NULL;
	 * created under the precondition @p up_new / @p up_base. */
	struct streamup *up;
	bool up_new;
	char up_base[S3_ETAG_MAX];
	bool up_off; /**< a stream broke: none again until the commit */
	uint64_t read_error_until_ms; /**< fail reads fast until then */
};

/** The thread-group id of thread @p tid (FUSE reports thread ids). */
pid_t fs_handle_tgid_of(pid_t tid);

/**
 * Open @p rel. @p flags are open(2) flags. With @p create the file must
 * not exist yet (FUSE create): with O_EXCL a conditional empty PUT makes
 * the name ours at once (-EEXIST when another machine has it), else the
 * first commit is conditional on If-None-Match: *.
 * -ENOENT, -EISDIR, -ESTALE, -ENOMEM, ...
 */
int fs_handle_open(struct fs_ctx *ctx, const char *rel, int flags,
		   bool create, mode_t mode, struct fs_handle **out);

/** The handle reads through the kernel's page cache (set at open). */
void fs_handle_mark_page_cached(struct fs_handle *h);

/** Read from the snapshot (or the staged content). Bytes or -errno;
 * -ESTALE when the version is gone after bytes were returned. */
ssize_t fs_handle_read(struct fs_ctx *ctx, struct fs_handle *h, char *buf,
		       size_t size, off_t off);

/** Bytes of the snapshot may already have reached the caller (from the
 * kernel's page cache): the snapshot can no longer be refreshed. */
void fs_handle_mark_read(struct fs_handle *h);

/** Write into the staging file. Bytes or -errno. */
ssize_t fs_handle_write(struct fs_ctx *ctx, struct fs_handle *h,
			const char *buf, size_t size, off_t off);

int fs_handle_truncate(struct fs_ctx *ctx, struct fs_handle *h, off_t size);

/** Commit a dirty handle (flush/fsync). 0 when clean. */
int fs_handle_commit(struct fs_ctx *ctx, struct fs_handle *h);

/** The handle's view of its file. */
void fs_handle_stat(struct fs_ctx *ctx, struct fs_handle *h, struct stat *st);

/** The attributes @p h shows, as an attribute entry. The caller holds
 * h->lock, or the list lock (which keeps @p h alive; a size torn by a
 * concurrent write is then harmless). */
void fs_handle_entry(const struct fs_handle *h, struct attr_entry *e);

/** A change of attributes (chmod, chown, utimens). */
struct fs_meta_change {
	bool set_mode;
	mode_t mode;
	bool set_owner;
	uid_t uid; /**< (uid_t)-1: unchanged */
	gid_t gid; /**< (gid_t)-1: unchanged */
	bool set_mtime;
	struct timespec mtime;
};

/** Apply @p c to @p m; @p type (S_IFREG, S_IFDIR) completes a mode the
 * object never had. Clears the commit token. */
void fs_meta_apply(struct s3_meta *m, const struct fs_meta_change *c,
		   mode_t type);

/** Record @p c in @p h: written with its next commit (marks it dirty). */
void fs_handle_change_meta(struct fs_handle *h,
			   const struct fs_meta_change *c);

/** Clean writable handles of one path, held locked while the mount
 * changes their object's metadata on the server (release waits for the
 * lock, so they stay alive). */
struct fs_handle_hold {
	struct fs_handle **h; /**< owned array of n locked handles */
	int n;
};

/**
 * Apply @p c to every writable handle of @p rel on this mount that has
 * changes not yet committed and return how many there were: the change
 * rides on their commit (changing the object under them would make that
 * commit conflict, or undo the change). When there is none, @p hold
 * receives the clean writable handles of @p rel, locked, and 0 is
 * returned: the caller changes the object on the server, then calls
 * fs_handle_hold_done(), so that a close() whose release is still on
 * its way, or a handle not written yet, neither loses the change nor
 * conflicts with it. -ENOMEM when @p hold cannot be allocated.
 */
int fs_handle_change_meta_path(struct fs_ctx *ctx, const char *rel,
			       const struct fs_meta_change *c,
			       struct fs_handle_hold *hold);

/**
 * Let the held handles adopt the version the change made (@p new_etag;
 * NULL when the change failed: they keep their snapshot), and unlock
 * and forget them.
 */
void fs_handle_hold_done(struct fs_handle_hold *hold,
			 const struct fs_meta_change *c, const char *new_etag);

/** Commit if still dirty (errors are logged and the data kept as a
 * conflict copy), then free the handle and its staging file. */
void fs_handle_release(struct fs_ctx *ctx, struct fs_handle *h);

/** Is another handle of this mount open on @p self's file? */
bool fs_handle_others_open(struct fs_ctx *ctx, struct fs_handle *self);

/** At unmount: release every handle the kernel did not release (its
 * RELEASE is asynchronous and may arrive after the session ended). */
void fs_handle_release_all(struct fs_ctx *ctx);

/**
 * The local view of @p rel: a handle of this mount that is creating it
 * (not yet committed) or, unless @p new_only, holds uncommitted writes to
 * it. Fills @p st from the most recently opened such handle and returns
 * true. stat() on this mount thus shows a file being written as its
 * writer sees it (size, mode); other mounts see the committed object.
 */
bool fs_handle_find_local(struct fs_ctx *ctx, const char *rel, bool new_only,
			  struct stat *st);

/** This mount unlinked @p rel: its open handles are detached and their
 * data discarded at close, as POSIX does for an unlinked file (without
 * this a commit would recreate the name). */
void fs_handle_path_unlinked(struct fs_ctx *ctx, const char *rel);

/** This mount renamed the object @p from to @p to, which now has ETag
 * @p new_etag: open handles of @p from follow the object to its new key
 * (only those whose snapshot was the renamed version). */
void fs_handle_path_renamed(struct fs_ctx *ctx, const char *from,
			    const char *to, const char *old_etag,
			    const char *new_etag);

/** Snapshot ETag of a handle on @p rel opened by process @p pid, for the
 * user.etag xattr; false when none. */
bool fs_handle_find_etag(struct fs_ctx *ctx, const char *rel, pid_t pid,
			 char *etag, size_t len);

/** Make the next commit of writable handles of @p rel opened by @p pid
 * conditional on @p etag. -ENOENT when there is none. */
int fs_handle_set_if_match(struct fs_ctx *ctx, const char *rel, pid_t pid,
			   const char *etag);

#endif
