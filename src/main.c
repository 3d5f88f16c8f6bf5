/*
 * etagfs: mount an S3 bucket with optimistic concurrency.
 *
 * Start-up checks everything a user can get wrong (options, credentials,
 * endpoint, bucket, whether the server honours conditional writes)
 * before mounting, so a mistake is one line on stderr and a non-zero
 * exit, never a half-mounted directory.
 */
#include <errno.h>
#include <malloc.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ctx.h"
#include "fs/memo_file.h"
#include "fs/ops.h"
#include "fs/options.h"
#include "fs/staging.h"
#include "s3/client.h"
#include "s3/creds.h"
#include "s3/probe.h"
#include "util/log.h"

/* The probe's result, logged once the mount stands. */
static char ctx_caps_line[640];

static int fail(const char *msg)
{
	fprintf(stderr, "etagfs: %s\n", msg);
	return 1;
}

/* Endpoint and region: options, then environment/profile, then AWS. */
static int resolve_endpoint(struct fs_options *o, char *err, size_t len)
{
	struct s3_profile_settings ps;

	memset(&ps, 0, sizeof(ps));
	if (s3_profile_settings_load(o->profile, &ps) != 0) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	if (o->region == NULL)
		o->region = ps.region ? strdup(ps.region) : strdup("us-east-1");
	if (o->endpoint == NULL && ps.endpoint_url != NULL)
		o->endpoint = strdup(ps.endpoint_url);
	if (o->endpoint == NULL && o->region != NULL &&
	    asprintf(&o->endpoint, "https://s3.%s.amazonaws.com", o->region) < 0)
		o->endpoint = NULL;
	s3_profile_settings_free(&ps);
	if (o->region == NULL || o->endpoint == NULL) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	/* Not echoed: it may hold a password (the client refuses it). */
	if (strchr(o->endpoint, '@') != NULL)
		return 0;
	if (strncmp(o->endpoint, "http://", 7) != 0 &&
	    strncmp(o->endpoint, "https://", 8) != 0) {
		snprintf(err, len,
			 "endpoint '%s' must start with http:// or https://",
			 o->endpoint);
		return -EINVAL;
	}
	return 0;
}

static int make_client(struct fs_options *o, struct s3_client **out,
		       char *err, size_t len)
{
	struct s3_creds_query q = {.passwd_file = o->passwd_file,
				   .profile = o->profile,
				   .bucket = o->bucket};
	struct s3_client_config cfg;
	struct s3_creds creds;
	int rc;

	memset(&creds, 0, sizeof(creds));
	rc = s3_creds_load(&q, &creds, err, len);
	if (rc != 0)
		return rc;
	log_info("credentials from %s", creds.source);
	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoint = o->endpoint;
	cfg.region = o->region;
	cfg.bucket = o->bucket;
	cfg.addressing = o->addressing;
	cfg.unsigned_payload = o->unsigned_payload;
	cfg.max_retries = o->retries;
	cfg.retry_base_ms = 100;
	cfg.http.ca_file = o->ca_file;
	cfg.http.connect_timeout_ms = o->connect_timeout_s * 1000;
	cfg.http.stall_timeout_ms = o->timeout_s * 1000;
	cfg.http.request_timeout_ms = o->timeout_s * 1000;
	cfg.http.max_connections = o->max_connections;
	cfg.http.verbose = log_max_level >= LOG_DEBUG;
	cfg.creds = &creds;
	rc = s3_client_new(&cfg, out, err, len);
	s3_creds_free(&creds);
	return rc;
}

/* Which conditions does this server really honour? A server that ignores
 * If-Match on PUT cannot keep the promise: refuse read-write. */
static int probe_server(struct fs_ctx *ctx, char *err, size_t len)
{
	struct fs_options *o = &ctx->opts;
	char desc[512];
	int rc;

	rc = s3_probe_caps(ctx->s3, o->prefix, &ctx->caps);
	if (rc != 0) {
		snprintf(err, len,
			 "cannot check which conditional requests %s honours: "
			 "%s", o->endpoint, strerror(-rc));
		return rc;
	}
	s3_probe_describe(&ctx->caps, desc, sizeof(desc));
	snprintf(ctx_caps_line, sizeof(ctx_caps_line), "%s: %s", o->endpoint,
		 desc);
	s3_client_set_caps(ctx->s3, &ctx->caps);
	if ((!ctx->caps.put_if_match || !ctx->caps.put_if_none_match) &&
	    !o->read_only) {
		if (!o->allow_unconditional) {
			snprintf(err, len,
				 "%s ignores conditional PUT (If-Match/"
				 "If-None-Match), so concurrent writers could "
				 "overwrite each other silently; mount with "
				 "-o ro, or -o allow_unconditional to accept "
				 "that",
				 o->endpoint);
			return -ENOTSUP;
		}
		log_warn("conditional PUT is ignored by %s: last writer wins "
			 "(allow_unconditional)", o->endpoint);
	}
	return 0;
}

/* "etagfs --recover BUCKET -o ...": recover without mounting. */
static int recover_only(struct fs_options *o, int debug)
{
	struct fs_recovery_stats rs = {0};
	struct s3_client *s3 = NULL;
	struct fs_ctx ctx;
	char err[1024];
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	log_init("etagfs", true, debug ? LOG_DEBUG : LOG_ERR);
	if (resolve_endpoint(o, err, sizeof(err)) != 0 ||
	    make_client(o, &s3, err, sizeof(err)) != 0 ||
	    s3_check_bucket(s3, err, sizeof(err)) != 0) {
		s3_client_free(s3);
		return fail(err);
	}
	if (fs_ctx_init(&ctx, o, s3, err, sizeof(err)) != 0 ||
	    fs_staging_init(&ctx, err, sizeof(err)) != 0) {
		rc = fail(err);
		goto out;
	}
	/* With -o ro nothing is committed: recovery only reports. */
	ctx.read_only = ctx.opts.read_only;
	if (!ctx.read_only && probe_server(&ctx, err, sizeof(err)) != 0) {
		rc = fail(err);
		goto out;
	}
	log_init("etagfs", true, debug ? LOG_DEBUG : LOG_NOTICE);
	rc = fs_staging_recover(&ctx, &rs);
	printf("etagfs: recovery of s3://%s in %s: %d committed, %d "
	       "conflicts kept, %d incomplete kept, %d left for later\n",
	       ctx.opts.bucket, ctx.staging_dir, rs.committed, rs.conflicts,
	       rs.kept, rs.failed);
	rc = rc == 0 && rs.failed == 0 ? 0 : 1;
out:
	if (ctx.s3 != NULL) {
		fs_staging_fini(&ctx);
		fs_ctx_destroy(&ctx);
	}
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts;
	struct fuse_loop_config *loop = NULL;
	struct s3_client *s3 = NULL;
	struct fuse *fuse = NULL;
	struct fs_options o;
	struct fs_ctx ctx;
	char err[1024];
	int rc = 1, mounted = 0;

	/* Many threads (FUSE, prefetch, commits) each got a glibc heap of
	 * their own, and read-ahead chunks (1 to 16 MiB) left every heap
	 * fragmented: RSS grew by ~55 MiB in two minutes of the soak. Two
	 * heaps hold it to ~30 MiB. (A fixed mmap threshold did too, but
	 * cost 20% of sequential read speed in page faults.) */
	mallopt(M_ARENA_MAX, 2);
	memset(&ctx, 0, sizeof(ctx));
	memset(&copts, 0, sizeof(copts));
	fs_options_init(&o);
	log_init("etagfs", true, LOG_NOTICE);
	if (fs_options_parse(&args, &o, err, sizeof(err)) != 0) {
		rc = fail(err);
		goto out;
	}
	if (o.show_version) {
		printf("etagfs %s (libfuse %s)\n", PACKAGE_VERSION,
		       fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (o.show_help) {
		fs_options_print_help(argv[0]);
		printf("\nlibfuse options:\n");
		fuse_cmdline_help();
		fuse_lib_help(&args);
		rc = 0;
		goto out;
	}
	/* libfuse says itself what is wrong with the command line. */
	if (fuse_parse_cmdline(&args, &copts) != 0)
		goto out;
	if (o.recover_only) {
		rc = recover_only(&o, copts.debug);
		goto out;
	}
	if (copts.mountpoint == NULL) {
		rc = fail("no MOUNTPOINT given (usage: etagfs "
			  "BUCKET[:/prefix] MOUNTPOINT [-o options])");
		goto out;
	}
	/* Until the mount stands, a failure is the one line fail() prints;
	 * the client's own per-request lines would only repeat it. */
	log_init("etagfs", true, copts.debug ? LOG_DEBUG : LOG_ERR);
	if (resolve_endpoint(&o, err, sizeof(err)) != 0 ||
	    make_client(&o, &s3, err, sizeof(err)) != 0 ||
	    s3_check_bucket(s3, err, sizeof(err)) != 0) {
		s3_client_free(s3);
		rc = fail(err);
		goto out;
	}
	/* libfuse checks its own options here, in one line, before the probe
	 * writes anything to the bucket. The context is filled in below,
	 * before the mount can call into it. */
	fuse = fuse_new(&args, fs_ops_table(), sizeof(struct fuse_operations),
			&ctx);
	if (fuse == NULL) {
		s3_client_free(s3);
		goto out;
	}
	if (fs_ctx_init(&ctx, &o, s3, err, sizeof(err)) != 0 ||
	    fs_staging_init(&ctx, err, sizeof(err)) != 0) {
		rc = fail(err);
		goto out;
	}
	ctx.read_only = ctx.opts.read_only;
	/* A read-only mount makes no conditional writes: no probe, and no
	 * write permission needed. */
	if (!ctx.read_only && probe_server(&ctx, err, sizeof(err)) != 0) {
		rc = fail(err);
		goto out;
	}
	if (ctx.read_only)
		snprintf(ctx_caps_line, sizeof(ctx_caps_line),
			 "read-only mount: no conditional-write probe");
	if (fuse_mount(fuse, copts.mountpoint) != 0)
		goto out;
	mounted = 1;
	log_init("etagfs", true, copts.debug ? LOG_DEBUG : LOG_NOTICE);
	log_notice("%s", ctx_caps_line);
	log_notice("mounted s3://%s/%s at %s (endpoint %s)", ctx.opts.bucket,
		   ctx.opts.prefix, copts.mountpoint, ctx.opts.endpoint);
	/* Before the first request is served, with the mount's logging on
	 * (a memo that is not trusted says so). */
	fs_memo_file_load(&ctx);
	/* Content left by a mount of this bucket that died: committed with
	 * its original precondition, or kept (see staging.h). Done before
	 * the first request is served, with the mount's logging on. */
	if (!ctx.read_only) {
		struct fs_recovery_stats rs;

		fs_staging_recover(&ctx, &rs);
	}
	if (fuse_daemonize(copts.foreground) != 0)
		goto out;
	if (!copts.foreground)
		log_init("etagfs", false, copts.debug ? LOG_DEBUG : LOG_NOTICE);
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out;
	if (copts.singlethread) {
		rc = fuse_loop(fuse);
	} else {
		loop = fuse_loop_cfg_create();
		if (loop == NULL)
			goto out;
		fuse_loop_cfg_set_clone_fd(loop, copts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, 64);
		rc = fuse_loop_mt(fuse, loop);
	}
	rc = rc == 0 ? 0 : 1;
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out:
	if (mounted)
		fuse_unmount(fuse);
	if (fuse != NULL)
		fuse_destroy(fuse);
	if (loop != NULL)
		fuse_loop_cfg_destroy(loop);
	if (ctx.s3 != NULL) {
		if (mounted)
			fs_memo_file_save(&ctx);
		fs_staging_fini(&ctx);
		fs_ctx_destroy(&ctx);
	}
	fs_options_free(&o);
	free(copts.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
