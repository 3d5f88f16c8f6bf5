/*
 * chmod, chown, utimens and extended attributes.
 *
 * Attributes live in s3fs-compatible object metadata. Changing them on a
 * closed file rewrites the metadata in place with a server-side copy
 * conditional on the ETag just read (x-amz-copy-source-if-match, or
 * RGW's x-amz-copy-if-match); where the server honours neither, the HEAD
 * just before is the check and a short window remains (documented). On
 * an open file they ride on the handle's next commit instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/bodyahead.h"
#include "fs/handle.h"
#include "fs/lookup.h"
#include "fs/ops.h"
#include "fs/path.h"
#include "fs/prefetch.h"
#include "util/log.h"

/* Rewrite the metadata of @p key, currently at @p info, in place. */
static int copy_in_place(struct fs_ctx *ctx, const char *key,
			 const struct s3_object_info *info,
			 const struct s3_meta *meta, struct s3_object_info *out)
{
	struct s3_copy_opts o = {.src_if_match = info->etag, .meta = meta};
	int rc;

	rc = s3_copy_object(ctx->s3, key, key, &o, out, NULL);
	if (rc == -ESTALE)
		rc = -EBUSY;
	if (rc == -EBUSY)
		log_warn("metadata change of '%s' refused: it changed since "
			 "ETag %s", key, info->etag);
	return rc;
}

static int change_path(struct fs_ctx *ctx, const char *rel,
		       const struct fs_meta_change *c)
{
	struct fs_handle_hold hold = {0};
	struct s3_object_info info, out;
	struct attr_entry e;
	struct s3_meta meta;
	char *key = NULL;
	int rc;

	/* FUSE passes no file handle for fchmod/fchown/futimens, so a file
	 * open for writing on this mount is recognised by its path. */
	rc = fs_handle_change_meta_path(ctx, rel, c, &hold);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	rc = fs_lookup_fresh(ctx, rel, FS_GUESS_NONE, &e);
	if (rc != 0)
		goto out;
	key = fs_path_key(ctx->opts.prefix, rel, e.kind == ATTR_DIR);
	if (key == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	memset(&out, 0, sizeof(out));
	if (e.kind == ATTR_DIR) {
		/* A directory's attributes live on its marker; an implicit
		 * directory gets one. */
		rc = s3_head_object(ctx->s3, key, NULL, &info, NULL);
		if (rc != 0 && rc != -ENOENT)
			goto out;
		meta = rc == 0 ? info.meta : (struct s3_meta){0};
		fs_meta_apply(&meta, c, S_IFDIR);
		if (rc == 0) {
			rc = copy_in_place(ctx, key, &info, &meta, &out);
		} else {
			struct s3_write_cond cond = {.if_none_match = true};

			rc = fs_ops_put_small(ctx, key, NULL, 0, &cond, &meta,
					      &out);
		}
		if (rc == 0) {
			e.dir_marker = true;
			e.meta_known = true;
			e.meta = meta;
		}
		goto out;
	}
	info.size = e.size;
	snprintf(info.etag, sizeof(info.etag), "%s", e.etag);
	meta = e.meta;
	fs_meta_apply(&meta, c, S_IFREG);
	rc = copy_in_place(ctx, key, &info, &meta, &out);
	if (rc == 0) {
		snprintf(e.etag, sizeof(e.etag), "%s", out.etag);
		e.meta = meta;
		e.meta_known = true;
	}
out:
	/* The held handles are let go before the caches are told: those
	 * take the list lock, which a waiter may hold wanting a handle. */
	fs_handle_hold_done(&hold, c, rc == 0 ? out.etag : NULL);
	if (rc == 0)
		fs_lookup_note_change(ctx, rel, &e);
	else if (key != NULL && e.kind != ATTR_DIR)
		attr_cache_invalidate(ctx->attrs, rel);
	free(key);
	return rc;
}

static struct fs_handle *open_handle(struct fuse_file_info *fi)
{
	return fi != NULL && fi->fh != 0
		       ? (struct fs_handle *)(uintptr_t)fi->fh
		       : NULL;
}

int fs_ops_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fs_handle *h = open_handle(fi);
	struct fs_meta_change c = {.set_mode = true, .mode = mode};

	if (h != NULL) {
		fs_handle_change_meta(h, &c);
		return 0;
	}
	return change_path(fs_ctx_get(), fs_path_rel(path), &c);
}

int fs_ops_chown(const char *path, uid_t uid, gid_t gid,
		 struct fuse_file_info *fi)
{
	struct fs_handle *h = open_handle(fi);
	struct fs_meta_change c = {.set_owner = true, .uid = uid, .gid = gid};

	if (h != NULL) {
		fs_handle_change_meta(h, &c);
		return 0;
	}
	return change_path(fs_ctx_get(), fs_path_rel(path), &c);
}

int fs_ops_utimens(const char *path, const struct timespec tv[2],
		   struct fuse_file_info *fi)
{
	struct fs_handle *h = open_handle(fi);
	struct fs_meta_change c = {.set_mtime = true};

	/* Only mtime is stored; atime is not worth a write. */
	if (tv == NULL || tv[1].tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &c.mtime);
	else if (tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	else
		c.mtime = tv[1];
	if (h != NULL) {
		fs_handle_change_meta(h, &c);
		return 0;
	}
	return change_path(fs_ctx_get(), fs_path_rel(path), &c);
}

static int xattr_reply(const char *value, char *buf, size_t size)
{
	size_t len = strlen(value);

	if (size == 0)
		return (int)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, value, len);
	return (int)len;
}

int fs_ops_getxattr(const char *path, const char *name, char *value,
		    size_t size)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *rel = fs_path_rel(path);
	char etag[S3_ETAG_MAX];
	struct attr_entry e;
	int rc;

	if (strcmp(name, FS_XATTR_STATS) == 0 && rel[0] == '\0') {
		struct s3_stats sst;
		unsigned long sent, answered;
		char text[400];

		/* The mount's request counters, for benchmarks and tests. */
		s3_client_get_stats(ctx->s3, &sst);
		fs_prefetch_counts(ctx->prefetch, &sent, &answered);
		snprintf(text, sizeof(text),
			 "head=%llu get=%llu put=%llu delete=%llu copy=%llu "
			 "list=%llu multipart=%llu retries=%llu "
			 "prefetch_sent=%lu prefetch_used=%lu "
			 "bodyahead_sent=%lu bodyahead_used=%zu",
			 (unsigned long long)sst.head,
			 (unsigned long long)sst.get,
			 (unsigned long long)sst.put,
			 (unsigned long long)sst.del,
			 (unsigned long long)sst.copy,
			 (unsigned long long)sst.list,
			 (unsigned long long)sst.mpu,
			 (unsigned long long)sst.retries, sent, answered,
			 fs_bodyahead_sent(ctx->bodyahead),
			 body_cache_served(ctx->bodies));
		return xattr_reply(text, value, size);
	}
	/* Namespaces other than user. are never stored: "not supported"
	 * rather than "none here" lets ls -l (coreutils), which asks for
	 * security.selinux and system.posix_acl_access of every file,
	 * remember it for the whole mount after one file instead of
	 * sending two FUSE requests per file. */
	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	if (strcmp(name, FS_XATTR_ETAG) != 0)
		return -ENODATA;
	/* The caller's own open handle answers with its snapshot. */
	if (fs_handle_find_etag(ctx, rel, fuse_get_context()->pid, etag,
				sizeof(etag)))
		return xattr_reply(etag, value, size);
	rc = fs_lookup_fresh(ctx, rel, FS_GUESS_FILE, &e);
	if (rc != 0)
		return rc;
	if (e.kind != ATTR_FILE || e.etag[0] == '\0')
		return -ENODATA;
	return xattr_reply(e.etag, value, size);
}

int fs_ops_setxattr(const char *path, const char *name, const char *value,
		    size_t size, int flags)
{
	char etag[S3_ETAG_MAX];

	if (strcmp(name, FS_XATTR_IF_MATCH) != 0)
		return -ENOTSUP;
	if (size == 0 || size >= sizeof(etag) || memchr(value, '\0', size))
		return -EINVAL;
	memcpy(etag, value, size);
	etag[size] = '\0';
	return fs_handle_set_if_match(fs_ctx_get(), fs_path_rel(path),
				      fuse_get_context()->pid, etag);
}

int fs_ops_listxattr(const char *path, char *list, size_t size)
{
	static const char names[] = FS_XATTR_ETAG;

	if (size == 0)
		return (int)sizeof(names);
	if (size < sizeof(names))
		return -ERANGE;
	memcpy(list, names, sizeof(names));
	return (int)sizeof(names);
}

int fs_ops_removexattr(const char *path, const char *name)
{
	return -ENOTSUP;
}
