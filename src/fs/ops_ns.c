/*
 * Namespace operations: unlink, mkdir, rmdir, rename, symlink, readlink.
 *
 * S3 has no atomic rename or conditional delete everywhere, so each step
 * carries the strongest precondition the server honours (caps): copies
 * are conditional on the source's ETag, deletes use If-Match where
 * honoured and otherwise a HEAD immediately before (check-then-act, a
 * documented window). A directory rename is a copy of every key followed
 * by deletes and is not atomic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fs.h>

#include "fs/handle.h"
#include "fs/lookup.h"
#include "fs/ops.h"
#include "fs/path.h"
#include "util/log.h"

int fs_ops_put_small(struct fs_ctx *ctx, const char *key, const void *data,
		     size_t len, const struct s3_write_cond *cond,
		     const struct s3_meta *meta, struct s3_object_info *out)
{
	int fd = -1, rc;

	if (len > 0) {
		fd = memfd_create("etagfs-small", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (write(fd, data, len) != (ssize_t)len) {
			close(fd);
			return -EIO;
		}
	}
	rc = s3_put_object(ctx->s3, key, fd, 0, len, cond, meta, out, NULL);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Delete @p key, which was at @p etag: conditional where the server
 * honours it, else checked by HEAD just before. */
static int delete_checked(struct fs_ctx *ctx, const char *key,
			  const char *etag)
{
	struct s3_object_info info;
	int rc;

	if (etag == NULL || etag[0] == '\0')
		return s3_delete_object(ctx->s3, key, NULL, NULL);
	if (ctx->caps.delete_if_match)
		return s3_delete_object(ctx->s3, key, etag, NULL);
	memset(&info, 0, sizeof(info));
	rc = s3_head_object(ctx->s3, key, etag, &info, NULL);
	if (rc == -ESTALE)
		return -EBUSY;
	if (rc != 0)
		return rc;
	return s3_delete_object(ctx->s3, key, NULL, NULL);
}

int fs_ops_unlink(const char *path)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *rel = fs_path_rel(path);
	struct attr_entry e;
	char *key = NULL;
	int rc;

	/* No guess: the kernel looked the name up just before, so the
	 * cache's hint says "file", or "absent" for a file this mount is
	 * still creating (then one LIST, not a HEAD 404 and a LIST). */
	rc = fs_lookup_fresh(ctx, rel, FS_GUESS_NONE, &e);
	if (rc == -ENOENT) {
		struct stat st;

		/* A file this mount is still creating: forget it. */
		if (!fs_handle_find_local(ctx, rel, true, &st))
			return rc;
		fs_handle_path_unlinked(ctx, rel);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (e.kind == ATTR_DIR)
		return -EISDIR;
	key = fs_path_key(ctx->opts.prefix, rel, false);
	if (key == NULL)
		return -ENOMEM;
	rc = delete_checked(ctx, key, e.etag);
	if (rc == 0 || rc == -ENOENT)
		fs_handle_path_unlinked(ctx, rel);
	if (rc == -EBUSY)
		log_warn("unlink of '%s' refused: it changed since ETag %s",
			 key, e.etag);
	if (rc == 0 || rc == -ENOENT)
		fs_lookup_note_change(ctx, rel, NULL);
	free(key);
	return rc == -ENOENT ? 0 : rc;
}

/* Create a new name whose object holds @p data (a symlink) or nothing
 * (a directory marker "rel/"): If-None-Match: * makes it atomic across
 * machines, so a name taken meanwhile gives EEXIST. */
static int create_object(struct fs_ctx *ctx, const char *rel, mode_t mode,
			 const char *data, size_t len)
{
	struct s3_write_cond cond = {.if_none_match = true};
	bool dir = S_ISDIR(mode);
	struct s3_object_info info;
	struct attr_entry e;
	struct s3_meta meta;
	char *key = NULL;
	int rc;

	rc = fs_lookup(ctx, rel, &e);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	key = fs_path_key(ctx->opts.prefix, rel, dir);
	if (key == NULL)
		return -ENOMEM;
	fs_ctx_new_meta(ctx, &meta, mode);
	memset(&info, 0, sizeof(info));
	rc = fs_ops_put_small(ctx, key, data, len, &cond, &meta, &info);
	if (rc == -EBUSY)
		rc = -EEXIST;
	if (rc == 0) {
		fs_lookup_entry_from_info(&e, &info);
		e.kind = dir ? ATTR_DIR : ATTR_FILE;
		e.dir_marker = dir;
		e.size = len;
		e.meta = meta;
		e.last_modified = time(NULL);
		fs_lookup_note_change(ctx, rel, &e);
		if (dir) {
			/* Nothing was below it (the lookup said so) and the
			 * marker is new: the directory is known empty, so the
			 * names that tar or cp -r create in it next cost no
			 * lookup request for the TTL. */
			dir_cache_invalidate(ctx->dirs, rel);
			dir_cache_put_take(ctx->dirs, rel, NULL, 0,
					   dir_cache_gen(ctx->dirs));
		}
	}
	free(key);
	return rc;
}

int fs_ops_mkdir(const char *path, mode_t mode)
{
	return create_object(fs_ctx_get(), fs_path_rel(path),
			     S_IFDIR | (mode & 07777), NULL, 0);
}

int fs_ops_rmdir(const char *path)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *rel = fs_path_rel(path);
	struct attr_entry e;
	char *key = NULL;
	int rc;

	if (rel[0] == '\0')
		return -EBUSY;
	rc = fs_lookup_fresh(ctx, rel, FS_GUESS_NOT_FILE, &e);
	if (rc != 0)
		return rc;
	if (e.kind != ATTR_DIR)
		return -ENOTDIR;
	rc = fs_lookup_dir_nonempty(ctx, rel);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return -ENOTEMPTY;
	key = fs_path_key(ctx->opts.prefix, rel, true);
	if (key == NULL)
		return -ENOMEM;
	rc = s3_delete_object(ctx->s3, key, NULL, NULL);
	if (rc == 0 || rc == -ENOENT) {
		fs_lookup_note_change(ctx, rel, NULL);
		dir_cache_invalidate(ctx->dirs, rel);
		rc = 0;
	}
	free(key);
	return rc;
}

/* Copy one object to a new key under the source's ETag, then delete the
 * source (conditionally where possible). */
static int rename_object(struct fs_ctx *ctx, const char *src_key,
			 const char *dst_key, const char *etag)
{
	size_t plen = strlen(ctx->opts.prefix);
	struct s3_copy_opts o = {.src_if_match = etag};
	struct s3_object_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = s3_copy_object(ctx->s3, src_key, dst_key, &o, &info, NULL);
	if (rc == -ESTALE)
		rc = -EBUSY;
	if (rc != 0)
		return rc;
	/* Handles open on the source follow it (keys below the prefix). */
	fs_handle_path_renamed(ctx, src_key + plen, dst_key + plen, etag,
			       info.etag);
	rc = delete_checked(ctx, src_key, etag);
	if (rc == -EBUSY)
		log_warn("rename: '%s' changed after it was copied to '%s'; "
			 "the new version is kept at the old name",
			 src_key, dst_key);
	return rc == -ENOENT ? 0 : rc;
}

/* Every key below src_dir ("a/") moves below dst_dir ("b/"). Not atomic:
 * a crash in the middle leaves keys under both names, never none. */
static int rename_tree(struct fs_ctx *ctx, const char *src_dir,
		       const char *dst_dir)
{
	size_t slen = strlen(src_dir);
	char *last_first = NULL;
	int rc = 0;

	/* Always list the first page again: moved keys leave it. */
	while (rc == 0) {
		struct s3_list_result res;

		memset(&res, 0, sizeof(res));
		rc = s3_list_objects(ctx->s3, src_dir, NULL, NULL, 0, &res,
				     NULL);
		if (rc != 0 || res.n_objects == 0) {
			s3_list_result_free(&res);
			break;
		}
		if (last_first != NULL &&
		    strcmp(last_first, res.objects[0].key) == 0) {
			log_error("rename: '%s' is still listed after it was "
				  "moved", last_first);
			rc = -EIO;
		}
		free(last_first);
		last_first = strdup(res.objects[0].key);
		for (size_t i = 0; rc == 0 && i < res.n_objects; i++) {
			const struct s3_list_object *o = &res.objects[i];
			char *dst = NULL;

			/* Only keys below the directory move: a listing
			 * naming anything else is not believed (it would
			 * move, and delete, a file elsewhere). */
			if (strncmp(o->key, src_dir, slen) != 0) {
				log_error("rename: the listing of '%s' names "
					  "'%s', which is not below it",
					  src_dir, o->key);
				rc = -EPROTO;
				break;
			}

			if (asprintf(&dst, "%s%s", dst_dir, o->key + slen) <
			    0) {
				rc = -ENOMEM;
				break;
			}
			rc = rename_object(ctx, o->key, dst, o->etag);
			free(dst);
		}
		s3_list_result_free(&res);
	}
	free(last_first);
	return rc;
}

int fs_ops_rename(const char *from, const char *to, unsigned int flags)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *src = fs_path_rel(from), *dst = fs_path_rel(to);
	struct attr_entry se, de;
	char *skey = NULL, *dkey = NULL;
	bool dst_exists;
	int rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (src[0] == '\0' || dst[0] == '\0')
		return -EBUSY;
	rc = fs_lookup_fresh(ctx, src, FS_GUESS_NONE, &se);
	if (rc != 0)
		return rc;
	rc = fs_lookup_fresh(ctx, dst, FS_GUESS_NONE, &de);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	dst_exists = rc == 0;
	if (dst_exists && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (dst_exists && de.kind == ATTR_DIR && se.kind != ATTR_DIR)
		return -EISDIR;
	if (dst_exists && de.kind != ATTR_DIR && se.kind == ATTR_DIR)
		return -ENOTDIR;
	if (se.kind == ATTR_DIR) {
		size_t n = strlen(src);

		if (strncmp(dst, src, n) == 0 && dst[n] == '/')
			return -EINVAL; /* into itself */
		if (dst_exists) {
			rc = fs_lookup_dir_nonempty(ctx, dst);
			if (rc != 0)
				return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	skey = fs_path_key(ctx->opts.prefix, src, se.kind == ATTR_DIR);
	dkey = fs_path_key(ctx->opts.prefix, dst, se.kind == ATTR_DIR);
	if (skey == NULL || dkey == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (se.kind == ATTR_DIR) {
		rc = rename_tree(ctx, skey, dkey);
		attr_cache_invalidate_tree(ctx->attrs, src);
		attr_cache_invalidate_tree(ctx->attrs, dst);
		dir_cache_invalidate_all(ctx->dirs);
	} else {
		rc = rename_object(ctx, skey, dkey, se.etag);
		fs_lookup_note_change(ctx, src, NULL);
		attr_cache_invalidate(ctx->attrs, dst);
		/* The kernel moves the source's inode to dst: what it held
		 * for dst before tells nothing now. */
		(void)page_etags_forget(ctx->pages, dst);
		dir_cache_invalidate_all(ctx->dirs);
	}
out:
	free(skey);
	free(dkey);
	return rc;
}

int fs_ops_symlink(const char *target, const char *path)
{
	return create_object(fs_ctx_get(), fs_path_rel(path), S_IFLNK | 0777,
			     target, strlen(target));
}

int fs_ops_readlink(const char *path, char *buf, size_t size)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *rel = fs_path_rel(path);
	struct attr_entry e;
	char *key = NULL;
	size_t got = 0;
	int rc;

	if (size == 0)
		return -EINVAL;
	rc = fs_lookup(ctx, rel, &e);
	if (rc != 0)
		return rc;
	if (e.kind != ATTR_FILE || !S_ISLNK(e.meta.mode))
		return -EINVAL;
	key = fs_path_key(ctx->opts.prefix, rel, false);
	if (key == NULL)
		return -ENOMEM;
	rc = s3_get_object(ctx->s3, key, 0, size - 1, NULL, buf, &got, NULL,
			   NULL);
	if (rc == 0)
		buf[got] = '\0';
	free(key);
	return rc;
}
