/*
 * Open-file handles and their commits (the ETag contract, see handle.h
 * and doc/internals/etag-lifecycle.md).
 *
 * Locking: h->lock is held for the whole of each operation on a handle;
 * ctx->handles_lock guards the list links. Order: the list lock, then
 * handle locks (unlink, rename, metadata changes and xattrs by path);
 * never the list lock under a handle lock. See
 * doc/internals/architecture.md, "Threads and locking".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/bodyahead.h"
#include "fs/conflict.h"
#include "fs/handle.h"
#include "fs/handle_int.h"
#include "fs/lookup.h"
#include "fs/path.h"
#include "fs/readahead.h"
#include "util/clock.h"
#include "util/log.h"

/* How long a network failure of a remote read answers repeated reads of
 * the same handle at once (the kernel retries a failed readahead). */
#define FS_READ_ERROR_HOLD_MS 2000

pid_t fs_handle_tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (f == NULL)
		return tid;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Tgid:", 5) == 0) {
			char *end = NULL;
			long v = strtol(line + 5, &end, 10);

			if (end != line + 5 && v > 0)
				tgid = (pid_t)v;
			break;
		}
	}
	fclose(f);
	return tgid;
}

static void list_add(struct fs_ctx *ctx, struct fs_handle *h)
{
	pthread_mutex_lock(&ctx->handles_lock);
	h->prev = NULL;
	h->next = ctx->handles;
	if (ctx->handles != NULL)
		ctx->handles->prev = h;
	ctx->handles = h;
	pthread_mutex_unlock(&ctx->handles_lock);
}

static void list_remove(struct fs_ctx *ctx, struct fs_handle *h)
{
	pthread_mutex_lock(&ctx->handles_lock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		ctx->handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&ctx->handles_lock);
}

static void handle_free(struct fs_ctx *ctx, struct fs_handle *h)
{
	if (h == NULL)
		return;
	fs_readahead_free(ctx, h->ra);
	streamup_free(h->up, false);
	hash_follow_free(h->sha);
	if (h->keep_stage)
		fs_stage_keep(&h->stage);
	else
		fs_stage_discard(&h->stage);
	free(h->rel);
	free(h->key);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct fs_handle *handle_new(struct fs_ctx *ctx, const char *rel)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->stage.fd = -1;
	h->rel = strdup(rel);
	h->key = fs_path_key(ctx->opts.prefix, rel, false);
	if (h->rel == NULL || h->key == NULL) {
		handle_free(ctx, h);
		return NULL;
	}
	return h;
}

int fs_handle_record(struct fs_ctx *ctx, struct fs_handle *h,
		     enum fs_stage_state state, const char *sha256, bool lazy)
{
	struct fs_stage_info info = {
		.key = h->key,
		.base_etag = h->if_match_override[0] ? h->if_match_override
						     : h->etag,
		.is_new = h->is_new,
		.meta = &h->meta,
		.state = state,
		.size = h->size,
		.sha256 = sha256,
		.lazy = lazy,
		.upload_id = state != FS_STAGE_CLEAN ? h->upload_id : NULL,
	};
	int rc = fs_stage_record(ctx, &h->stage, &info);

	if (rc == 0)
		h->stage_state = state;
	return rc;
}

static int stage_record(struct fs_ctx *ctx, struct fs_handle *h,
			enum fs_stage_state state)
{
	return fs_handle_record(ctx, h, state, NULL, false);
}

/* The streaming hash of the content, or NULL once it no longer covers
 * it. Empty content has one too, started here on first use: an O_EXCL
 * create commits empty content, whose record is then as lazy as any. */
static struct hash_follow *sha_stream(struct fs_handle *h)
{
	if (h->sha == NULL && !h->sha_broken && h->size == 0)
		h->sha = hash_follow_new(); /* NULL: only the shortcut lost */
	return h->sha;
}

/* Keep the streaming hash in step with a write of @p n bytes at @p off:
 * it survives only appends at the end of content it covers entirely. */
static void sha_track(struct fs_handle *h, const char *buf, size_t n,
		      off_t off)
{
	if (sha_stream(h) == NULL)
		return;
	if ((uint64_t)off != h->size ||
	    hash_follow_len(h->sha) != h->size ||
	    hash_follow_append(h->sha, h->stage.fd, buf, n, (uint64_t)off) !=
		    0) {
		hash_follow_free(h->sha);
		h->sha = NULL;
		h->sha_broken = true;
	}
}

/* The content changed other than by an append (truncate, download):
 * the streaming hash no longer covers it, until the file is empty. */
static void sha_reset(struct fs_handle *h, uint64_t new_size)
{
	hash_follow_free(h->sha);
	h->sha = NULL;
	h->sha_broken = new_size != 0;
}

/* An empty private staging file on disk (never in memory), with a
 * manifest that lets a later mount recover it after a crash. */
static int staging_create(struct fs_ctx *ctx, struct fs_handle *h)
{
	struct fs_stage_info info = {
		.key = h->key,
		.base_etag = h->etag,
		.is_new = h->is_new,
		.meta = &h->meta,
		.state = FS_STAGE_OPEN,
	};
	int rc = fs_stage_create(ctx, &info, &h->stage);

	if (rc == 0)
		h->stage_state = FS_STAGE_OPEN;
	sha_reset(h, 0);
	return rc;
}

/* A change to the content: the manifest must no longer promise a
 * complete or committed file. */
static int stage_touch(struct fs_ctx *ctx, struct fs_handle *h)
{
	if (h->stage_state == FS_STAGE_OPEN)
		return 0;
	return stage_record(ctx, h, FS_STAGE_OPEN);
}

/* Make the staging file hold the snapshot's full content, fetched with
 * If-Match: the handle never mixes versions. */
static int staging_fill(struct fs_ctx *ctx, struct fs_handle *h)
{
	struct s3_object_info info;
	int rc;

	if (h->stage.fd >= 0)
		return 0;
	rc = staging_create(ctx, h);
	if (rc != 0 || h->is_new || h->size == 0)
		return rc;
	memset(&info, 0, sizeof(info));
	rc = s3_get_object_to_fd(ctx->s3, h->key, h->etag, h->stage.fd,
				 &info, NULL);
	if (rc == 0 && info.size != h->size) {
		log_error("'%s': downloaded %llu bytes, expected %llu",
			  h->key, (unsigned long long)info.size,
			  (unsigned long long)h->size);
		rc = -EIO;
	}
	if (rc == -ENOENT)
		rc = -ESTALE; /* deleted since the snapshot */
	if (rc != 0)
		fs_stage_discard(&h->stage);
	return rc;
}

/* The handle now stands for the object version described by @p e. */
static void adopt_snapshot(struct fs_handle *h, const struct attr_entry *e)
{
	snprintf(h->etag, sizeof(h->etag), "%s", e->etag);
	h->size = e->size;
	h->last_modified = e->last_modified;
	h->meta = e->meta;
	memcpy(h->base_token, e->meta.token, sizeof(h->base_token));
	h->meta.token[0] = '\0';
	h->meta.parent[0] = '\0';
}

/* Snapshot and content of an existing object in one GET. */
static int open_download(struct fs_ctx *ctx, struct fs_handle *h)
{
	struct s3_object_info info;
	uint64_t gen = attr_cache_gen(ctx->attrs);
	struct attr_entry e;
	int rc;

	rc = staging_create(ctx, h);
	if (rc != 0)
		return rc;
	memset(&info, 0, sizeof(info));
	rc = s3_get_object_to_fd(ctx->s3, h->key, NULL, h->stage.fd, &info,
				 NULL);
	if (rc == -ENOENT) {
		/* Not an object: a directory, or nothing at all. */
		rc = fs_lookup_fresh(ctx, h->rel, FS_GUESS_NOT_FILE, &e);
		return rc == 0 ? (e.kind == ATTR_DIR ? -EISDIR : -ESTALE) : rc;
	}
	if (rc != 0)
		return rc;
	fs_lookup_entry_from_info(&e, &info);
	adopt_snapshot(h, &e);
	fs_lookup_learn(ctx, h->rel, &e, gen);
	return 0;
}

static int commit_locked(struct fs_ctx *ctx, struct fs_handle *h,
			 bool excl_create);

int fs_handle_open(struct fs_ctx *ctx, const char *rel, int flags,
		   bool create, mode_t mode, struct fs_handle **out)
{
	struct fuse_context *fc = fuse_get_context();
	struct fs_handle *h = handle_new(ctx, rel);
	struct attr_entry e;
	int acc = flags & O_ACCMODE;
	int rc = 0;

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->writable = acc == O_WRONLY || acc == O_RDWR;
	h->append = (flags & O_APPEND) != 0;
	h->owner_tgid = fc ? fs_handle_tgid_of(fc->pid) : getpid();
	if (create) {
		fs_ctx_new_meta(ctx, &h->meta, S_IFREG | (mode & 07777));
		h->meta.has_mtime = false;
		h->is_new = true;
		h->dirty = true;
		h->writable = true;
		rc = staging_create(ctx, h);
		if (rc != 0)
			goto out;
		if (flags & O_EXCL) {
			/* The name is taken atomically across machines: the
			 * loser of two O_EXCL creators gets EEXIST here. */
			pthread_mutex_lock(&h->lock);
			rc = commit_locked(ctx, h, true);
			pthread_mutex_unlock(&h->lock);
			if (rc == -EBUSY)
				rc = -EEXIST;
			if (rc != 0)
				goto out;
		}
		goto out;
	}
	if (h->writable && !(flags & O_TRUNC)) {
		/* A writable open takes its snapshot from the server, content
		 * included: one GET gives ETag, metadata and bytes, so a later
		 * write never depends on a version that may be gone by then,
		 * and a conflict surfaces at close/fsync as EBUSY. */
		rc = open_download(ctx, h);
		goto out;
	}
	/* A truncating open confirms the ETag with the server; a read-only
	 * one may start from the cache (a stale ETag is refreshed on the
	 * first read's 412, before any byte reached the caller). */
	rc = h->writable ? fs_lookup_fresh(ctx, rel, FS_GUESS_FILE, &e)
			 : fs_lookup(ctx, rel, &e);
	if (rc != 0)
		goto out;
	if (e.kind == ATTR_DIR) {
		rc = -EISDIR;
		goto out;
	}
	adopt_snapshot(h, &e);
	if (h->writable) {
		rc = staging_create(ctx, h);
		if (rc != 0)
			goto out;
		if (h->size != 0)
			h->dirty = true;
		h->size = 0;
	}
out:
	if (rc != 0) {
		handle_free(ctx, h);
		return rc;
	}
	list_add(ctx, h);
	*out = h;
	return 0;
}

/* Refresh a read-only snapshot that went stale before any byte of it was
 * returned: the caller never sees two versions. */
static int refresh_snapshot(struct fs_ctx *ctx, struct fs_handle *h)
{
	struct attr_entry e;
	int rc;

	attr_cache_invalidate(ctx->attrs, h->rel);
	rc = fs_lookup_fresh(ctx, h->rel, FS_GUESS_FILE, &e);
	if (rc != 0)
		return rc;
	if (e.kind != ATTR_FILE)
		return -ENOENT;
	/* Through the page cache the kernel bounds this read by the size
	 * it holds, the old version's: a longer new version would be cut
	 * there, a shorter one padded with zeros. Only the same size
	 * refreshes silently. Otherwise the handle stays on the old
	 * version (every read of it ESTALE, also the kernel's retry of the
	 * page), and the next open, which knows the kernel holds another
	 * version's size, reads around the page cache (ops.c). */
	if (h->page_cached && e.size != h->size)
		return -ESTALE;
	log_debug("'%s': snapshot refreshed before the first read", h->key);
	snprintf(h->refreshed_from, sizeof(h->refreshed_from), "%s", h->etag);
	/* The kernel still holds the old version's size: the next open
	 * must know (ops.c reads around the page cache then). */
	page_etags_forget_pages(ctx->pages, h->rel);
	if (h->ra != NULL)
		fs_readahead_reset(ctx, h->ra);
	adopt_snapshot(h, &e);
	return 0;
}

void fs_handle_mark_read(struct fs_handle *h)
{
	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->bytes_returned, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&h->lock);
}

/*
 * A GET with If-Match proves, as it is answered, that the snapshot is
 * still the current version; a body fetched ahead proves only that it
 * was, a moment ago. Were another version current by now, a getattr
 * answered meanwhile would give the kernel that version's size, and a
 * short read of ours would be padded with zeros up to it (a mix of two
 * versions; the soak caught it). So a body is used only when the
 * attribute cache still names this very version (every getattr and
 * lookup of the mount answers from it until it expires), the kernel was
 * last given this version's attributes, and the handle reads the
 * version it opened (no refresh).
 */
static bool body_usable(struct fs_ctx *ctx, const struct fs_handle *h)
{
	struct attr_entry e;

	if (h->writable || h->refreshed_from[0] != '\0' ||
	    page_etags_attrs_differ(ctx->pages, h->rel, h->etag))
		return false;
	return attr_cache_get(ctx->attrs, h->rel, &e) &&
	       e.kind == ATTR_FILE && s3_etag_equal(e.etag, h->etag);
}

/* Read [off, off+size) of the snapshot (clamped to its size), from a
 * body fetched ahead when one is usable, else through the handle's
 * read-ahead. */
static int read_remote(struct fs_ctx *ctx, struct fs_handle *h, char *buf,
		       size_t size, off_t off, size_t *got)
{
	ssize_t n;

	*got = 0;
	/* A small file of a walk: its body may have been fetched ahead
	 * (fs/bodyahead.h), for exactly this handle's version, and is used
	 * only while that version is provably the one everything else
	 * shows (body_usable()). */
	if (ctx->bodies != NULL && h->size <= FS_BODYAHEAD_MAX_SIZE &&
	    body_usable(ctx, h)) {
		if (off == 0)
			fs_bodyahead_note_read(ctx, h->rel);
		if (body_cache_read(ctx->bodies, h->rel, h->etag, (uint64_t)off,
				    buf, size, got) ||
		    (fs_bodyahead_wait(ctx, h->rel) &&
		     body_cache_read(ctx->bodies, h->rel, h->etag,
				     (uint64_t)off, buf, size, got)))
			return 0;
	}
	if (h->ra == NULL && (h->ra = fs_readahead_new()) == NULL)
		return -ENOMEM;
	n = fs_readahead_read(ctx, h->ra, h->key, h->etag, h->size, buf, size,
			      off);
	if (n < 0)
		return (int)n;
	*got = (size_t)n;
	return 0;
}

void fs_handle_mark_page_cached(struct fs_handle *h)
{
	pthread_mutex_lock(&h->lock);
	h->page_cached = true;
	pthread_mutex_unlock(&h->lock);
}

ssize_t fs_handle_read(struct fs_ctx *ctx, struct fs_handle *h, char *buf,
		       size_t size, off_t off)
{
	size_t got = 0;
	ssize_t n;
	int rc;
	/* Asked before the handle lock: the list lock is never taken under
	 * a handle lock (unlink, rename and the xattrs take them the other
	 * way round). Another handle opened in between is no worse than one
	 * opened right after the refresh. */
	bool alone = !h->writable &&
		     !__atomic_load_n(&h->bytes_returned, __ATOMIC_RELAXED) &&
		     !fs_handle_others_open(ctx, h);

	pthread_mutex_lock(&h->lock);
	if (h->stage.fd >= 0) {
		n = pread(h->stage.fd, buf, size, off);
		rc = n < 0 ? -errno : 0;
		got = n < 0 ? 0 : (size_t)n;
		goto out;
	}
	/* The kernel follows a failed readahead with a plain read of the
	 * same page: answer it with the error just seen instead of spending
	 * the whole retry budget again on a server that is not answering. */
	if (h->read_error != 0 &&
	    clock_monotonic_ms() < h->read_error_until_ms) {
		rc = h->read_error;
		goto out;
	}
	rc = read_remote(ctx, h, buf, size, off, &got);
	/* A silent refresh only when no other handle shares the file's
	 * page cache: their pages would be of the older version. */
	if (rc == -ESTALE && !h->bytes_returned && alone) {
		rc = refresh_snapshot(ctx, h);
		if (rc == 0)
			rc = read_remote(ctx, h, buf, size, off, &got);
	}
	h->read_error = 0;
	if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -ECONNREFUSED ||
	    rc == -EHOSTUNREACH || rc == -EIO) {
		h->read_error = rc;
		h->read_error_until_ms =
			clock_monotonic_ms() + FS_READ_ERROR_HOLD_MS;
	}
	if (rc == -ENOENT)
		rc = -ESTALE; /* the snapshot's object was deleted */
	/* The end of the snapshot's bytes, through the page cache, while
	 * the kernel was last told of another version: it would pad the
	 * short page with zeros up to that version's size (and keep it,
	 * when another answer came in between), a mix of two versions.
	 * The version a refresh replaced is not "another": the reader
	 * never saw it, and its end is the known limit of a refresh. An
	 * end that is ours holds back other versions' attributes until
	 * this answer has reached the kernel. */
	if (rc == 0 && got < size && h->page_cached &&
	    page_etags_read_end(ctx->pages, h->rel, h->etag,
				h->refreshed_from))
		rc = -ESTALE;
	if (rc == -ESTALE)
		log_notice("'%s' changed on the server since it was opened "
			   "(ETag %s): read fails with ESTALE",
			   h->key, h->etag);
out:
	if (rc == 0 && got > 0)
		__atomic_store_n(&h->bytes_returned, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&h->lock);
	return rc != 0 ? rc : (ssize_t)got;
}

ssize_t fs_handle_write(struct fs_ctx *ctx, struct fs_handle *h,
			const char *buf, size_t size, off_t off)
{
	ssize_t done = 0;
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = staging_fill(ctx, h);
	if (rc == 0)
		rc = stage_touch(ctx, h);
	/* The kernel puts an O_APPEND write at the size it holds, which may
	 * be an older version's (attr_ttl): "three\n" appended with "+me\n"
	 * at a stale size 5 became "three+me\n". The end is the handle's. */
	if (h->append)
		off = (off_t)h->size;
	while (rc == 0 && (size_t)done < size) {
		ssize_t n = pwrite(h->stage.fd, buf + done,
				   size - (size_t)done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
		} else {
			sha_track(h, buf + done, (size_t)n, off + done);
			done += n;
			if ((uint64_t)(off + done) > h->size)
				h->size = (uint64_t)(off + done);
		}
	}
	if (done > 0)
		fs_upload_track(ctx, h, (uint64_t)off);
	/* The staged content now lacks bytes the writer gave: committing it
	 * would publish a file nobody wrote. The object stays untouched. */
	if (rc != 0 && rc != -ESTALE)
		h->write_error = rc;
	if (done > 0) {
		h->dirty = true;
		h->meta.token[0] = '\0'; /* new content, new commit token */
		h->commit_error = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return done > 0 ? done : rc;
}

int fs_handle_truncate(struct fs_ctx *ctx, struct fs_handle *h, off_t size)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	if ((uint64_t)size == h->size && h->stage.fd >= 0) {
		rc = 0;
		goto out;
	}
	/* Truncating to zero needs none of the old bytes. */
	if (size == 0 && h->stage.fd < 0)
		rc = staging_create(ctx, h);
	else
		rc = staging_fill(ctx, h);
	if (rc == 0)
		rc = stage_touch(ctx, h);
	if (rc == 0 && ftruncate(h->stage.fd, size) != 0) {
		rc = -errno;
		h->write_error = rc;
	}
	if (rc == 0 && (uint64_t)size != h->size)
		sha_reset(h, (uint64_t)size);
	if (rc == 0 && h->up != NULL)
		streamup_truncated(h->up, (uint64_t)size);
	if (rc == 0) {
		if ((uint64_t)size != h->size || h->is_new)
			h->dirty = true;
		h->meta.token[0] = '\0';
		h->size = (uint64_t)size;
	}
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* Keep the rejected bytes and say where they are, with both ETags. */
static bool keep_rejected(struct fs_ctx *ctx, struct fs_handle *h, int why)
{
	struct s3_object_info theirs;
	char path[4352];
	int rc;

	memset(&theirs, 0, sizeof(theirs));
	if (why == -EBUSY &&
	    s3_head_object(ctx->s3, h->key, NULL, &theirs, NULL) != 0)
		snprintf(theirs.etag, sizeof(theirs.etag), "(deleted)");
	rc = fs_conflict_save(ctx, h->key, h->stage.fd, h->size, path,
			      sizeof(path));
	if (rc != 0) {
		/* Never lose them: the staging file and its manifest stay
		 * after release, for the recovery of a later mount. */
		h->keep_stage = true;
		log_error("'%s' (%s): no conflict copy could be made (%s); "
			  "its %llu bytes stay in %s for the next mount's "
			  "recovery",
			  h->key, strerror(-why), strerror(-rc),
			  (unsigned long long)h->size, h->stage.data_path);
		return false;
	}
	if (why == -EBUSY)
		log_warn("conflict on '%s': opened at ETag %s, the server now "
			 "has %s; the object was left alone and this "
			 "handle's %llu bytes are kept at %s",
			 h->key, h->is_new ? "(new file)" : h->etag,
			 theirs.etag[0] ? theirs.etag : "(unknown)",
			 (unsigned long long)h->size, path);
	else
		log_warn("could not save '%s' (%s): its %llu bytes are kept "
			 "at %s",
			 h->key, strerror(-why), (unsigned long long)h->size,
			 path);
	return true;
}

/* Commit @p h if dirty. @p excl_create: the empty commit of an
 * O_CREAT|O_EXCL open, which holds nothing a crash or a lost race could
 * take, so it records no manifest state and keeps no conflict copy. */
static int commit_locked(struct fs_ctx *ctx, struct fs_handle *h,
			 bool excl_create)
{
	char sha[HASH_SHA256_HEX_LEN + 1];
	bool have_sha;
	struct s3_write_cond cond = {0};
	struct s3_object_info info;
	struct attr_entry e;
	int rc;

	if (h->conflicted)
		return -EBUSY;
	if (h->unlinked) {
		h->dirty = false;
		fs_upload_stream_drop(h); /* nothing of it may be published */
	}
	if (h->write_error != 0 && h->dirty) {
		log_error("'%s' is not committed: a write to its staging file "
			  "failed (%s); the object is unchanged",
			  h->key, strerror(-h->write_error));
		return h->write_error;
	}
	if (!h->dirty)
		return 0;
	if (ctx->read_only)
		return -EROFS;
	if (h->stage.fd < 0) {
		/* Only metadata changed: the content is the snapshot's. */
		rc = staging_fill(ctx, h);
		if (rc != 0)
			return rc == -ESTALE ? -EBUSY : rc;
	}
	fs_upload_cond(h, &cond);
	fs_upload_parent(h, h->meta.parent);
	fs_upload_stream_prepare(ctx, h, &cond);
	/* The token (x-amz-meta-etagfs-token) identifies this content: it is
	 * kept across a commit that failed ambiguously, so a retry that finds
	 * the earlier attempt landed reports success, not a conflict. Any
	 * change to the content or metadata clears it. */
	if (h->meta.token[0] == '\0') {
		rc = s3_meta_new_token(h->meta.token);
		if (rc != 0)
			return rc;
		if (!h->mtime_explicit) {
			clock_gettime(CLOCK_REALTIME, &h->meta.mtime);
			h->meta.has_mtime = true;
		}
	}
	/* From here until the commit's outcome is known, a crash leaves
	 * complete content that the next mount commits (staging.h). Content
	 * written front to back has its hash already: the record then costs
	 * no disk flush (recovery checks the hash instead) and the PUT no
	 * second pass over the data. Empty content (a create with O_EXCL,
	 * a truncate to 0) has a hash too: without one, every new file
	 * cost three disk flushes (data, manifest, directory) before its
	 * first PUT, more than the PUT itself. */
	have_sha = sha_stream(h) != NULL &&
		   hash_follow_len(h->sha) == h->size &&
		   hash_follow_hex(h->sha, sha) == 0;
	/* The empty object of an O_EXCL create holds nothing a crash could
	 * lose: its manifest stays "open" (never uploaded by recovery), which
	 * also spares the first write a record. Three manifest renames per
	 * file created by cp or tar, out of six. */
	if (!excl_create) {
		rc = fs_handle_record(ctx, h, FS_STAGE_COMPLETE,
					 have_sha ? sha : NULL, have_sha);
		if (rc != 0)
			return rc;
	}
	memset(&info, 0, sizeof(info));
	rc = fs_upload_commit(ctx, h, &cond, have_sha ? sha : NULL, &info);
	/* A stream the commit did not use (a HEAD check said EBUSY, a
	 * failure before it) is aborted now, not at release. */
	fs_upload_stream_drop(h);
	h->up_off = false;
	/* Not on the server: the staged bytes must survive a power loss
	 * before the failure is reported (recovery or a conflict copy). */
	if (rc != 0 && have_sha && !excl_create) {
		int drc = fs_handle_record(ctx, h, FS_STAGE_COMPLETE, sha,
					      false);

		if (drc != 0)
			log_error("'%s': its staged bytes may not survive a "
				  "power loss (%s)", h->key, strerror(-drc));
	}
	if (rc == 0) {
		snprintf(h->etag, sizeof(h->etag), "%s", info.etag);
		memcpy(h->base_token, h->meta.token, sizeof(h->base_token));
		h->if_match_override[0] = '\0';
		h->is_new = false;
		h->dirty = false;
		h->mtime_explicit = false;
		memset(&e, 0, sizeof(e));
		e.kind = ATTR_FILE;
		e.size = h->size;
		snprintf(e.etag, sizeof(e.etag), "%s", info.etag);
		e.last_modified = time(NULL);
		e.meta_known = true;
		e.meta = h->meta;
		fs_lookup_note_change(ctx, h->rel, &e);
		log_debug("committed '%s' (%llu bytes) as ETag %s", h->key,
			  (unsigned long long)h->size, info.etag);
		if (!excl_create)
			stage_record(ctx, h, FS_STAGE_CLEAN);
		return 0;
	}
	if (rc == -EBUSY) {
		attr_cache_invalidate(ctx->attrs, h->rel);
		/* A lost O_EXCL create wrote nothing: EEXIST for the caller
		 * and no conflict copy (lock files and mkstemp lose such
		 * races as a matter of course). */
		if (excl_create)
			return rc;
		h->conflicted = true;
		/* Once the bytes are in the conflict copy there is nothing
		 * left to recover. */
		if (keep_rejected(ctx, h, rc))
			stage_record(ctx, h, FS_STAGE_CLEAN);
	}
	return rc;
}

int fs_handle_commit(struct fs_ctx *ctx, struct fs_handle *h)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = commit_locked(ctx, h, false);
	h->commit_error = rc == -EBUSY ? 0 : rc;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void fs_handle_entry(const struct fs_handle *h, struct attr_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = ATTR_FILE;
	e->size = h->size;
	e->last_modified = h->last_modified;
	e->meta = h->meta;
	if ((h->dirty || h->is_new) && !h->mtime_explicit) {
		e->meta.has_mtime = false;
		e->last_modified = time(NULL);
	}
}

void fs_handle_stat(struct fs_ctx *ctx, struct fs_handle *h, struct stat *st)
{
	struct attr_entry e;

	pthread_mutex_lock(&h->lock);
	fs_handle_entry(h, &e);
	pthread_mutex_unlock(&h->lock);
	fs_lookup_to_stat(ctx, &e, st);
}

void fs_handle_release(struct fs_ctx *ctx, struct fs_handle *h)
{
	int rc;

	list_remove(ctx, h);
	pthread_mutex_lock(&h->lock);
	/* Normally flush already committed; this catches writes made
	 * after the last flush (mmap). A commit that already failed and
	 * was reported (close() or fsync() said "not written") is not
	 * tried again behind the caller's back: its bytes are kept. */
	rc = h->commit_error ? h->commit_error : commit_locked(ctx, h, false);
	if (rc != 0 && rc != -EBUSY && h->dirty && h->stage.fd >= 0 &&
	    keep_rejected(ctx, h, rc))
		stage_record(ctx, h, FS_STAGE_CLEAN);
	pthread_mutex_unlock(&h->lock);
	handle_free(ctx, h);
}

void fs_handle_release_all(struct fs_ctx *ctx)
{
	struct fs_handle *h;

	for (;;) {
		pthread_mutex_lock(&ctx->handles_lock);
		h = ctx->handles;
		pthread_mutex_unlock(&ctx->handles_lock);
		if (h == NULL)
			break;
		fs_handle_release(ctx, h);
	}
}
