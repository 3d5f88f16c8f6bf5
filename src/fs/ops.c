/*
 * The FUSE operations table and the file operations. Handlers are thin:
 * they translate FUSE's arguments and delegate.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs/handle.h"
#include "fs/lookup.h"
#include "fs/ops.h"
#include "fs/path.h"
#include "util/clock.h"
#include "util/log.h"

static struct fs_handle *get_handle(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct fs_ctx *ctx = fs_ctx_get();
	double ttl = ctx->opts.attr_ttl_ms / 1000.0;

	cfg->use_ino = 0;
	/* Unlinking an open file must delete the object, not rename it to
	 * .fuse_hidden*. */
	cfg->hard_remove = 1;
	cfg->entry_timeout = ttl;
	cfg->attr_timeout = ttl;
	cfg->negative_timeout = ttl;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* By default the kernel asks for readdirplus only for a listing's
	 * first chunk unless lookups come in between; ask it always, so
	 * every entry whose attributes the listing knows (see op_readdir)
	 * reaches the kernel with them and `ls -l` of a large directory
	 * sends no lookup for it. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	return ctx;
}

static void op_destroy(void *private_data)
{
	fs_handle_release_all(private_data);
}

/* Hold back an answer that changes the kernel's size for the @p wait_ms
 * page_etags asked for: a page-cache reader's short read of another
 * version may still be on its way (page_etags.h). */
static void hold_back(unsigned wait_ms)
{
	if (wait_ms > 0)
		usleep(wait_ms * 1000);
}

/* The kernel is about to be given @p rel's attributes at version
 * @p etag: noted first, and held back as above. */
static void tell_kernel_attrs(struct fs_ctx *ctx, const char *rel,
			      const char *etag)
{
	hold_back(page_etags_note_attrs(ctx->pages, rel, etag));
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_get();
	const char *rel = fs_path_rel(path);
	struct attr_entry e;
	int rc;

	if (fi != NULL && fi->fh != 0) {
		fs_handle_stat(ctx, get_handle(fi), st);
		return 0;
	}
	/* A file this mount is writing is shown as its writer sees it: the
	 * kernel adopts the size getattr reports, and an O_APPEND write goes
	 * to that size. */
	if (fs_handle_find_local(ctx, rel, false, st)) {
		tell_kernel_attrs(ctx, rel, NULL);
		return 0;
	}
	rc = fs_lookup(ctx, rel, &e);
	if (rc != 0)
		return rc;
	fs_lookup_to_stat(ctx, &e, st);
	if (e.kind == ATTR_FILE)
		tell_kernel_attrs(ctx, rel, e.etag);
	return 0;
}

/*
 * An open directory holds the listing its first readdir took, so that
 * the kernel's later calls, each resuming at an offset, page through
 * one consistent listing even when the cache refreshed meanwhile.
 * Offsets are positions: 1 and 2 follow "." and "..", entry i is
 * followed by i + 3. libfuse gives the kernel an entry's attributes
 * (readdirplus) only in this offset mode; when every entry goes in one
 * call (offset 0), it sends them without.
 */
struct fs_dir_handle {
	struct fs_listing l;
	bool listed;
	uint64_t listed_ms; /* clock_monotonic_ms() */
};

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct fs_dir_handle *d = calloc(1, sizeof(*d));

	(void)path;
	if (d == NULL)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct fs_dir_handle *d = (struct fs_dir_handle *)(uintptr_t)fi->fh;

	(void)path;
	if (d != NULL && d->listed)
		fs_listing_release(fs_ctx_get(), &d->l);
	free(d);
	return 0;
}

/* The kernel gets an entry's attributes with the listing (readdirplus)
 * when the listing knows them exactly: a directory, a file whose
 * version the metadata memo knows, or any file with listing_attrs.
 * ls -l then needs no request for it. Otherwise only the type, and a
 * lookup follows. A file this mount is writing is shown as its writer
 * sees it, as op_getattr() does: the kernel adopts the size it is
 * given, and an O_APPEND write goes there. */
static bool fill_entry(struct fs_ctx *ctx, const char *dir,
		       const struct dir_entry *e, bool plus, struct stat *st)
{
	const struct attr_entry *a = &e->attr;
	char rel[PATH_MAX];
	int n;

	if (!plus || !(a->kind == ATTR_DIR || a->meta_known ||
		       ctx->opts.listing_attrs))
		goto type_only;
	if (a->kind == ATTR_FILE) {
		n = dir[0] ? snprintf(rel, sizeof(rel), "%s/%s", dir, e->name)
			   : snprintf(rel, sizeof(rel), "%s", e->name);
		if (n < 0 || (size_t)n >= sizeof(rel))
			goto type_only; /* a lookup answers for it */
		if (fs_handle_find_local(ctx, rel, false, st)) {
			tell_kernel_attrs(ctx, rel, NULL);
			return true;
		}
		tell_kernel_attrs(ctx, rel, a->etag);
	}
	fs_lookup_to_stat(ctx, a, st);
	return true;
type_only:
	memset(st, 0, sizeof(*st));
	st->st_mode = a->kind == ATTR_DIR ? S_IFDIR : S_IFREG;
	return false;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fs_ctx *ctx = fs_ctx_get();
	struct fs_dir_handle *d = (struct fs_dir_handle *)(uintptr_t)fi->fh;
	bool plus = (flags & FUSE_READDIR_PLUS) != 0;
	struct stat st;
	int rc;

	if (d == NULL || off < 0)
		return -EINVAL;
	if (off == 0 || !d->listed) {
		/* The first call, or a rewinddir(): a fresh listing. */
		if (d->listed)
			fs_listing_release(ctx, &d->l);
		d->listed = false;
		rc = fs_lookup_list_dir(ctx, fs_path_rel(path), &d->l);
		if (rc != 0)
			return rc;
		d->listed = true;
		d->listed_ms = clock_monotonic_ms();
	}
	/* Attributes go to the kernel only while the held listing is as
	 * fresh as the directory cache would allow (a reader may pause
	 * between calls); after that, names only, and lookups follow. */
	plus = plus && clock_monotonic_ms() - d->listed_ms <
			       ctx->opts.dir_ttl_ms;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	if (off < 1 && filler(buf, ".", &st, 1, 0) != 0)
		return 0;
	if (off < 2 && filler(buf, "..", &st, 2, 0) != 0)
		return 0;
	for (size_t i = off > 2 ? (size_t)off - 2 : 0; i < d->l.n; i++) {
		const struct dir_entry *e = &d->l.entries[i];
		bool full = fill_entry(ctx, fs_path_rel(path), e, plus, &st);

		if (filler(buf, e->name, &st, (off_t)i + 3,
			   full ? FUSE_FILL_DIR_PLUS : 0) != 0)
			break; /* the kernel's buffer is full */
	}
	return 0;
}

static int open_common(const char *path, struct fuse_file_info *fi,
		       bool create, mode_t mode)
{
	struct fs_ctx *ctx = fs_ctx_get();
	struct fs_handle *h = NULL;
	int rc;

	rc = fs_handle_open(ctx, fs_path_rel(path), fi->flags, create, mode,
			    &h);
	if (rc != 0)
		return rc;
	fi->fh = (uint64_t)(uintptr_t)h;
	if (h->writable) {
		/* A writer's bytes stay private until its commit: they bypass
		 * the page cache that other handles of this file read, and
		 * what was cached of the file can no longer be trusted, nor
		 * the kernel's size (its writes grow it without asking us):
		 * a page-cache reader here then fails at its end. */
		fi->direct_io = 1;
		hold_back(page_etags_forget(ctx->pages, h->rel));
	} else if (fs_handle_others_open(ctx, h)) {
		/* The kernel's page cache is one per file, shared by every
		 * handle: with another handle open (perhaps of an older
		 * version, still filling it) this one reads around it, so no
		 * reader ever mixes pages of two versions. Only the pages
		 * are forgotten: what the kernel was told of the size still
		 * holds, and the next open alone must read around it too if
		 * that was another version's. */
		fi->direct_io = 1;
		page_etags_forget_pages(ctx->pages, h->rel);
	} else if (page_etags_attrs_differ(ctx->pages, h->rel, h->etag)) {
		/* The kernel still holds another version's size (its
		 * attributes are younger than ours): through the page cache
		 * it would cut this version's bytes there, or pad them with
		 * zeros. Read around it; the next open after the kernel
		 * asked again uses the page cache. */
		fi->direct_io = 1;
	} else {
		/* Pages cached from this very version may be kept. */
		fi->keep_cache = page_etags_open(ctx->pages, h->rel, h->etag);
		fs_handle_mark_page_cached(h);
		/* The kernel may serve bytes of this version without asking
		 * us: a later silent refresh to another version would mix. */
		if (fi->keep_cache)
			fs_handle_mark_read(h);
	}
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	return open_common(path, fi, false, 0);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return open_common(path, fi, true, mode);
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	return (int)fs_handle_read(fs_ctx_get(), get_handle(fi), buf, size,
				   off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	return (int)fs_handle_write(fs_ctx_get(), get_handle(fi), buf, size,
				    off);
}

/* close() returns what flush returns: the commit's outcome. */
static int op_flush(const char *path, struct fuse_file_info *fi)
{
	return fs_handle_commit(fs_ctx_get(), get_handle(fi));
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return fs_handle_commit(fs_ctx_get(), get_handle(fi));
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	fs_handle_release(fs_ctx_get(), get_handle(fi));
	return 0;
}

/* truncate(2) by path: a short-lived handle that commits conditionally
 * on the version it saw. */
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_get();
	struct fs_handle *h = NULL;
	int rc;

	if (size < 0)
		return -EINVAL;
	if (fi != NULL && fi->fh != 0)
		return fs_handle_truncate(ctx, get_handle(fi), size);
	rc = fs_handle_open(ctx, fs_path_rel(path), O_WRONLY, false, 0, &h);
	if (rc != 0)
		return rc;
	rc = fs_handle_truncate(ctx, h, size);
	if (rc == 0)
		rc = fs_handle_commit(ctx, h);
	fs_handle_release(ctx, h);
	return rc;
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	/* S3 has no capacity to report; say "plenty" so tools proceed. */
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 1 << 20;
	sv->f_frsize = 1 << 20;
	sv->f_blocks = 1ull << 30;
	sv->f_bfree = 1ull << 30;
	sv->f_bavail = 1ull << 30;
	sv->f_files = 1ull << 30;
	sv->f_ffree = 1ull << 30;
	sv->f_favail = 1ull << 30;
	sv->f_namemax = 255;
	return 0;
}

static const struct fuse_operations fs_operations = {
	.init = op_init,
	.destroy = op_destroy,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.truncate = op_truncate,
	.statfs = op_statfs,
	.unlink = fs_ops_unlink,
	.mkdir = fs_ops_mkdir,
	.rmdir = fs_ops_rmdir,
	.rename = fs_ops_rename,
	.symlink = fs_ops_symlink,
	.readlink = fs_ops_readlink,
	.chmod = fs_ops_chmod,
	.chown = fs_ops_chown,
	.utimens = fs_ops_utimens,
	.getxattr = fs_ops_getxattr,
	.setxattr = fs_ops_setxattr,
	.listxattr = fs_ops_listxattr,
	.removexattr = fs_ops_removexattr,
};

const struct fuse_operations *fs_ops_table(void)
{
	return &fs_operations;
}
