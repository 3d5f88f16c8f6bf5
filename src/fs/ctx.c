/*
 * The mount context: options, S3 client, caches, local directories.
 */
#include <errno.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/seen_set.h"
#include "fs/ctx.h"
#include "fs/bodyahead.h"
#include "fs/prefetch.h"
#include "util/log.h"

struct fs_ctx *fs_ctx_get(void)
{
	return fuse_get_context()->private_data;
}

void fs_ctx_new_meta(struct fs_ctx *ctx, struct s3_meta *m, mode_t mode)
{
	struct fuse_context *fc = fuse_get_context();
	bool in_op = fc != NULL && fc->private_data == ctx;

	memset(m, 0, sizeof(*m));
	m->has_mode = m->has_uid = m->has_gid = m->has_mtime = true;
	m->mode = mode;
	m->uid = in_op ? fc->uid : ctx->uid;
	m->gid = in_op ? fc->gid : ctx->gid;
	clock_gettime(CLOCK_REALTIME, &m->mtime);
}

int fs_ctx_mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

char *fs_ctx_state_dir(const char *leaf)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *out = NULL;
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = asprintf(&out, "%s/etagfs/%s", xdg, leaf);
	else if (home != NULL && home[0] == '/')
		n = asprintf(&out, "%s/.local/state/etagfs/%s", home, leaf);
	else
		n = asprintf(&out, "/var/tmp/etagfs-%u/%s", (unsigned)getuid(),
			     leaf);
	return n < 0 ? NULL : out;
}

static int prepare_dir(char **field, const char *given, const char *leaf,
		       const char *what, char *err, size_t err_len)
{
	int rc;

	*field = given ? strdup(given) : fs_ctx_state_dir(leaf);
	if (*field == NULL)
		return -ENOMEM;
	rc = fs_ctx_mkdirs(*field);
	if (rc == 0 && access(*field, W_OK | X_OK) != 0)
		rc = -errno;
	if (rc != 0)
		snprintf(err, err_len, "cannot use %s directory %s: %s", what,
			 *field, strerror(-rc));
	return rc;
}

int fs_ctx_init(struct fs_ctx *ctx, struct fs_options *o,
		struct s3_client *s3, char *err, size_t err_len)
{
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->opts = *o;
	memset(o, 0, sizeof(*o));
	ctx->s3 = s3;
	task_pool_init(&ctx->side);
	ctx->uid = ctx->opts.uid >= 0 ? (uid_t)ctx->opts.uid : getuid();
	ctx->gid = ctx->opts.gid >= 0 ? (gid_t)ctx->opts.gid : getgid();
	ctx->mount_time = time(NULL);
	ctx->owner_fd = -1;
	pthread_mutex_init(&ctx->handles_lock, NULL);
	rc = prepare_dir(&ctx->staging_dir, ctx->opts.staging_dir, "staging",
			 "staging", err, err_len);
	if (rc != 0)
		return rc;
	rc = prepare_dir(&ctx->conflict_dir, ctx->opts.conflict_dir,
			 "conflicts", "conflict", err, err_len);
	if (rc != 0)
		return rc;
	ctx->attrs = attr_cache_new(ctx->opts.attr_ttl_ms, 100000, NULL);
	ctx->dirs = dir_cache_new(ctx->opts.dir_ttl_ms, 256, NULL);
	ctx->pages = page_etags_new(100000, NULL);
	/* ~300 bytes a path: 100k versions cost ~30 MiB at most. */
	ctx->memo = meta_memo_new(100000);
	ctx->prefetch = fs_prefetch_new();
	ctx->bodies = body_cache_new(FS_BODYAHEAD_CACHE);
	ctx->bodyahead = fs_bodyahead_new();
	ctx->skipped = seen_set_new(10000);
	if (ctx->attrs == NULL || ctx->dirs == NULL || ctx->pages == NULL ||
	    ctx->memo == NULL || ctx->prefetch == NULL ||
	    ctx->bodies == NULL || ctx->bodyahead == NULL ||
	    ctx->skipped == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void fs_ctx_destroy(struct fs_ctx *ctx)
{
	/* First: their threads use the caches and the client. */
	task_pool_destroy(&ctx->side);
	fs_prefetch_free(ctx, ctx->prefetch);
	ctx->prefetch = NULL;
	fs_bodyahead_free(ctx, ctx->bodyahead);
	ctx->bodyahead = NULL;
	body_cache_free(ctx->bodies);
	ctx->bodies = NULL;
	attr_cache_free(ctx->attrs);
	dir_cache_free(ctx->dirs);
	meta_memo_free(ctx->memo);
	page_etags_free(ctx->pages);
	seen_set_free(ctx->skipped);
	s3_client_free(ctx->s3);
	free(ctx->staging_dir);
	free(ctx->conflict_dir);
	free(ctx->memo_path);
	fs_options_free(&ctx->opts);
	pthread_mutex_destroy(&ctx->handles_lock);
	memset(ctx, 0, sizeof(*ctx));
}
