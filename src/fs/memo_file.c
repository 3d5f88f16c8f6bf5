/*
 * The metadata memo on disk (see memo_file.h).
 *
 * Trust: the file holds attributes the kernel will show (mode, owner),
 * so only a regular file owned by the mounting user and writable by no
 * one else is read; anything else is ignored with a warning. Every
 * version it names is still checked against the listing's ETag and
 * Last-Modified before it is used.
 *
 * Locking: called before the mount serves requests and after it stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/memo_file.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/log.h"

/* 100,000 versions (the memo's bound) take ~15 MB. */
#define MEMO_FILE_MAX (64u * 1024 * 1024)

/* What the paths of the memo are relative to. malloc'd, or NULL. */
static char *memo_id(const struct fs_ctx *ctx)
{
	char *id = NULL;

	if (asprintf(&id, "%s\n%s\n%s",
		     ctx->opts.endpoint ? ctx->opts.endpoint : "",
		     ctx->opts.bucket ? ctx->opts.bucket : "",
		     ctx->opts.prefix ? ctx->opts.prefix : "") < 0)
		return NULL;
	return id;
}

static char *default_path(const char *id)
{
	char hex[HASH_SHA256_HEX_LEN + 1], *dir, *path = NULL;

	dir = fs_ctx_state_dir("memo");
	if (dir == NULL)
		return NULL;
	hash_sha256_hex(id, strlen(id), hex);
	if (fs_ctx_mkdirs(dir) != 0 ||
	    asprintf(&path, "%s/%.32s.memo", dir, hex) < 0)
		path = NULL;
	free(dir);
	return path;
}

/* The file's whole text, NUL-terminated (malloc'd), or NULL with errno. */
static char *read_trusted(const char *path)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0) {
		errno = EPERM;
		goto fail;
	}
	if ((uint64_t)st.st_size > MEMO_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break; /* shrank meanwhile: parse what is there */
		got += (size_t)n;
	}
	text[got] = '\0';
	close(fd);
	return text;
fail: {
	int e = errno;

	free(text);
	close(fd);
	errno = e;
	return NULL;
}
}

void fs_memo_file_load(struct fs_ctx *ctx)
{
	const char *opt = ctx->opts.memo_file;
	char *id = NULL, *text = NULL;
	size_t skipped = 0;
	long added;

	if (opt != NULL && strcmp(opt, "none") == 0)
		return;
	id = memo_id(ctx);
	if (id == NULL)
		goto out;
	ctx->memo_path = opt != NULL ? strdup(opt) : default_path(id);
	if (ctx->memo_path == NULL) {
		log_warn("the metadata memo is not kept between mounts: %s",
			 strerror(errno ? errno : ENOMEM));
		goto out;
	}
	text = read_trusted(ctx->memo_path);
	if (text == NULL) {
		if (errno == EPERM)
			log_warn("ignoring metadata memo %s: not a regular file "
				 "of ours that only we may write",
				 ctx->memo_path);
		else if (errno != ENOENT)
			log_warn("ignoring metadata memo %s: %s",
				 ctx->memo_path, strerror(errno));
		goto out;
	}
	added = meta_memo_read(ctx->memo, id, text, &skipped);
	if (added < 0)
		log_warn("ignoring metadata memo %s: not one of this "
			 "endpoint, bucket and prefix",
			 ctx->memo_path);
	else
		log_info("metadata memo %s: %ld object versions known%s",
			 ctx->memo_path, added,
			 skipped ? " (damaged lines skipped)" : "");
out:
	free(text);
	free(id);
}

void fs_memo_file_save(struct fs_ctx *ctx)
{
	char *id = NULL, *tmp = NULL;
	struct buf b;
	int fd = -1, rc;

	if (ctx->memo_path == NULL || ctx->memo == NULL)
		return;
	buf_init(&b, MEMO_FILE_MAX);
	id = memo_id(ctx);
	rc = id != NULL ? meta_memo_write(ctx->memo, id, &b) : -ENOMEM;
	if (rc == 0 && asprintf(&tmp, "%s.%d.tmp", ctx->memo_path,
				(int)getpid()) < 0) {
		tmp = NULL;
		rc = -ENOMEM;
	}
	if (rc == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
				       O_CLOEXEC,
			  0600);
		if (fd < 0)
			rc = -errno;
	}
	if (rc == 0 && b.len > 0 && write(fd, b.data, b.len) != (ssize_t)b.len)
		rc = errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	/* Another mount of the bucket may save at the same time: each
	 * writes its own file, and the last rename wins whole. */
	if (rc == 0 && rename(tmp, ctx->memo_path) != 0)
		rc = -errno;
	if (rc != 0) {
		if (tmp != NULL)
			unlink(tmp);
		log_warn("cannot save metadata memo %s: %s", ctx->memo_path,
			 strerror(-rc));
	} else {
		log_debug("metadata memo saved to %s (%zu versions)",
			  ctx->memo_path, meta_memo_count(ctx->memo));
	}
	free(tmp);
	free(id);
	buf_free(&b);
}
