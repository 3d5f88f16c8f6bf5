/*
 * Crash-safe staging files and their recovery (see staging.h and
 * doc/internals/recovery.md).
 *
 * Locking: a stage belongs to one handle and is only touched under that
 * handle's lock. Between processes, flock: each mount holds its owner
 * file exclusively for its whole life, and recovery holds a manifest
 * exclusively while it handles it, so two mounts starting at once never
 * recover the same file twice at the same time (and if they did, the
 * shared precondition and token make the second commit resolve to the
 * first one's success).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/conflict.h"
#include "fs/staging.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/uri.h"

#define MANIFEST_SUFFIX ".manifest"
#define MANIFEST_MAGIC "etagfs-stage 1"
#define MANIFEST_MAX (64 * 1024)
#define OWNER_PREFIX "owner-"

static int random_hex(char *out, size_t n_hex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];

	if (n_hex / 2 > sizeof(raw) ||
	    getrandom(raw, n_hex / 2, 0) != (ssize_t)(n_hex / 2))
		return -EIO;
	for (size_t i = 0; i < n_hex / 2; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[n_hex] = '\0';
	return 0;
}

int fs_staging_init(struct fs_ctx *ctx, char *err, size_t err_len)
{
	char id[17], *path = NULL;
	int fd, rc;

	rc = random_hex(id, 16);
	if (rc != 0)
		return rc;
	if (asprintf(&path, "%s/" OWNER_PREFIX "%s.lock", ctx->staging_dir,
		     id) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		snprintf(err, err_len, "cannot lock %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return rc;
	}
	ctx->owner_fd = fd;
	ctx->owner_path = path;
	snprintf(ctx->owner_id, sizeof(ctx->owner_id), "%s", id);
	return 0;
}

void fs_staging_fini(struct fs_ctx *ctx)
{
	if (ctx->owner_path != NULL)
		unlink(ctx->owner_path);
	if (ctx->owner_fd >= 0)
		close(ctx->owner_fd);
	free(ctx->owner_path);
	ctx->owner_path = NULL;
	ctx->owner_fd = -1;
}

static int add_field(struct buf *b, const char *name, const char *value)
{
	int rc = buf_addf(b, "%s ", name);

	if (rc == 0)
		rc = uri_encode(b, value, strlen(value), false);
	if (rc == 0)
		rc = buf_adds(b, "\n");
	return rc;
}

static int render(struct fs_ctx *ctx, const struct fs_stage_info *in,
		  struct buf *b)
{
	const struct s3_meta *m = in->meta;
	int rc;

	rc = buf_addf(b, MANIFEST_MAGIC "\n");
	if (rc == 0)
		rc = add_field(b, "owner", ctx->owner_id);
	if (rc == 0)
		rc = add_field(b, "endpoint", ctx->opts.endpoint);
	if (rc == 0)
		rc = add_field(b, "bucket", ctx->opts.bucket);
	if (rc == 0)
		rc = add_field(b, "key", in->key);
	if (rc == 0)
		rc = add_field(b, "base", in->is_new ? "" : in->base_etag);
	if (rc == 0)
		rc = buf_addf(b, "new %d\nstate %s\nsize %" PRIu64 "\n",
			      in->is_new ? 1 : 0,
			      in->state == FS_STAGE_COMPLETE ? "complete"
			      : in->state == FS_STAGE_CLEAN  ? "clean"
							     : "open",
			      in->size);
	if (rc == 0 && in->state == FS_STAGE_COMPLETE && in->sha256 != NULL)
		rc = add_field(b, "sha256", in->sha256);
	/* Also while open: the parts a stream sent behind the writer. */
	if (rc == 0 && in->state != FS_STAGE_CLEAN && in->upload_id != NULL)
		rc = add_field(b, "upload", in->upload_id);
	if (rc == 0 && m != NULL && m->has_mode)
		rc = buf_addf(b, "mode %u\n", (unsigned)m->mode);
	if (rc == 0 && m != NULL && m->has_uid)
		rc = buf_addf(b, "uid %u\n", (unsigned)m->uid);
	if (rc == 0 && m != NULL && m->has_gid)
		rc = buf_addf(b, "gid %u\n", (unsigned)m->gid);
	if (rc == 0 && m != NULL && m->has_mtime)
		rc = buf_addf(b, "mtime %lld %ld\n",
			      (long long)m->mtime.tv_sec,
			      (long)m->mtime.tv_nsec);
	if (rc == 0 && m != NULL && m->token[0])
		rc = add_field(b, "token", m->token);
	if (rc == 0 && m != NULL && m->parent[0])
		rc = add_field(b, "parent", m->parent);
	return rc;
}

/* Make a rename in the directory of @p path survive a power loss. */
static int sync_parent(const char *path)
{
	char dir[4200];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return 0;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Replace @p path with @p text atomically (and durably when asked). */
static int write_atomic(const char *path, const char *text, size_t len,
			bool durable)
{
	char tmp[4200];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && durable && fdatasync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	if (rc == 0 && durable)
		rc = sync_parent(path);
	return rc;
}

int fs_stage_record(struct fs_ctx *ctx, struct fs_stage *st,
		    const struct fs_stage_info *info)
{
	struct buf b;
	int rc;

	/* Complete content must be on disk before the manifest says so:
	 * after a power loss recovery may upload it. The other states are
	 * never uploaded, so they cost no disk flush. A lazy record needs
	 * none either: recovery checks the content against its hash. Not
	 * over a durable record, which a power loss could bring back over
	 * the lazy one. */
	bool durable = info->state == FS_STAGE_COMPLETE &&
		       !(info->lazy && info->sha256 != NULL &&
			 !st->durable_state);

	if (durable && fdatasync(st->fd) != 0)
		return -errno;
	buf_init(&b, MANIFEST_MAX);
	rc = render(ctx, info, &b);
	if (rc == 0)
		rc = write_atomic(st->manifest_path, buf_str(&b), b.len,
				  durable || st->durable_state);
	if (rc == 0)
		st->durable_state = durable;
	buf_free(&b);
	if (rc != 0)
		log_error("cannot record staging manifest %s: %s",
			  st->manifest_path, strerror(-rc));
	return rc;
}

int fs_stage_create(struct fs_ctx *ctx, const struct fs_stage_info *info,
		    struct fs_stage *out)
{
	char *data = NULL;
	int fd, rc;

	out->fd = -1;
	out->data_path = out->manifest_path = NULL;
	out->durable_state = false;
	if (asprintf(&data, "%s/stage-XXXXXX", ctx->staging_dir) < 0)
		return -ENOMEM;
	fd = mkostemp(data, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_error("cannot create a staging file in %s: %s",
			  ctx->staging_dir, strerror(errno));
		free(data);
		return rc;
	}
	out->fd = fd;
	out->data_path = data;
	if (asprintf(&out->manifest_path, "%s" MANIFEST_SUFFIX, data) < 0) {
		out->manifest_path = NULL;
		fs_stage_discard(out);
		return -ENOMEM;
	}
	rc = fs_stage_record(ctx, out, info);
	if (rc != 0)
		fs_stage_discard(out);
	return rc;
}

void fs_stage_keep(struct fs_stage *st)
{
	if (st->fd >= 0)
		close(st->fd);
	free(st->manifest_path);
	free(st->data_path);
	st->fd = -1;
	st->manifest_path = st->data_path = NULL;
	st->durable_state = false;
}

void fs_stage_discard(struct fs_stage *st)
{
	if (st->manifest_path != NULL)
		unlink(st->manifest_path);
	if (st->data_path != NULL)
		unlink(st->data_path);
	if (st->fd >= 0)
		close(st->fd);
	free(st->manifest_path);
	free(st->data_path);
	st->fd = -1;
	st->manifest_path = st->data_path = NULL;
	st->durable_state = false;
}

/* ------------------------------------------------------------ recovery */

void fs_manifest_free(struct fs_manifest *m)
{
	free(m->owner);
	free(m->endpoint);
	free(m->bucket);
	free(m->key);
	free(m->base);
	free(m->upload_id);
	memset(m, 0, sizeof(*m));
}

static int decoded(const char *value, char **out)
{
	struct buf b;
	int rc;

	/* A field given twice: a manifest etagfs did not write. */
	if (*out != NULL)
		return -EINVAL;

	buf_init(&b, 8192);
	rc = uri_decode(&b, value, false);
	if (rc == 0) {
		*out = b.len ? buf_take(&b) : strdup("");
		rc = *out ? 0 : -ENOMEM;
	}
	buf_free(&b);
	return rc;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || *s == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_line(struct fs_manifest *m, char *name, char *value)
{
	uint64_t v = 0;
	char *sp;

	if (strcmp(name, "owner") == 0)
		return decoded(value, &m->owner);
	if (strcmp(name, "endpoint") == 0)
		return decoded(value, &m->endpoint);
	if (strcmp(name, "bucket") == 0)
		return decoded(value, &m->bucket);
	if (strcmp(name, "key") == 0)
		return decoded(value, &m->key);
	if (strcmp(name, "base") == 0)
		return decoded(value, &m->base);
	if (strcmp(name, "upload") == 0)
		return decoded(value, &m->upload_id);
	if (strcmp(name, "new") == 0) {
		m->is_new = strcmp(value, "1") == 0;
		return 0;
	}
	if (strcmp(name, "state") == 0) {
		m->complete = strcmp(value, "complete") == 0;
		m->clean = strcmp(value, "clean") == 0;
		return 0;
	}
	if (strcmp(name, "size") == 0) {
		m->size_known = parse_u64(value, &m->size) == 0;
		return m->size_known ? 0 : -EINVAL;
	}
	if (strcmp(name, "mode") == 0 || strcmp(name, "uid") == 0 ||
	    strcmp(name, "gid") == 0) {
		if (parse_u64(value, &v) != 0 || v > UINT32_MAX)
			return -EINVAL;
		if (name[0] == 'm') {
			m->meta.has_mode = true;
			m->meta.mode = (mode_t)v;
		} else if (name[0] == 'u') {
			m->meta.has_uid = true;
			m->meta.uid = (uid_t)v;
		} else {
			m->meta.has_gid = true;
			m->meta.gid = (gid_t)v;
		}
		return 0;
	}
	if (strcmp(name, "mtime") == 0) {
		sp = strchr(value, ' ');
		if (sp == NULL)
			return -EINVAL;
		char *end1 = NULL, *end2 = NULL;
		long long sec;
		long nsec;

		*sp = '\0';
		errno = 0;
		sec = strtoll(value, &end1, 10);
		nsec = strtol(sp + 1, &end2, 10);
		if (errno || end1 == value || *end1 || end2 == sp + 1 ||
		    *end2 || nsec < 0 || nsec >= 1000000000L)
			return -EINVAL;
		m->meta.has_mtime = true;
		m->meta.mtime.tv_sec = (time_t)sec;
		m->meta.mtime.tv_nsec = nsec;
		return 0;
	}
	if (strcmp(name, "sha256") == 0) {
		if (strlen(value) != HASH_SHA256_HEX_LEN ||
		    strspn(value, "0123456789abcdef") != HASH_SHA256_HEX_LEN)
			return -EINVAL;
		memcpy(m->sha256, value, HASH_SHA256_HEX_LEN + 1);
		return 0;
	}
	if (strcmp(name, "token") == 0 || strcmp(name, "parent") == 0) {
		char *t = NULL;
		int rc = decoded(value, &t);

		if (rc != 0)
			return rc;
		if (strlen(t) == S3_TOKEN_LEN)
			memcpy(name[0] == 't' ? m->meta.token : m->meta.parent,
			       t, S3_TOKEN_LEN + 1);
		free(t);
		return 0;
	}
	return 0; /* unknown fields: a newer etagfs wrote them */
}

int fs_manifest_parse(char *text, struct fs_manifest *m)
{
	char *line = text;
	bool first = true;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	while (rc == 0 && line != NULL && *line != '\0') {
		char *nl = strchr(line, '\n');
		char *sp;

		if (nl != NULL)
			*nl = '\0';
		if (first) {
			if (strcmp(line, MANIFEST_MAGIC) != 0)
				rc = -EINVAL;
			first = false;
		} else if ((sp = strchr(line, ' ')) == NULL) {
			rc = -EINVAL;
		} else {
			*sp = '\0';
			rc = parse_line(m, line, sp + 1);
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (rc == 0 && (first || !m->owner || !m->endpoint || !m->bucket ||
			!m->key || !m->base || !m->size_known))
		rc = -EINVAL;
	if (rc != 0)
		fs_manifest_free(m);
	return rc;
}

static int read_text(const char *path, char **out)
{
	char *text = malloc(MANIFEST_MAX + 1);
	ssize_t n;
	int fd;

	if (text == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	n = read(fd, text, MANIFEST_MAX);
	close(fd);
	if (n < 0) {
		free(text);
		return -EIO;
	}
	text[n] = '\0';
	*out = text;
	return 0;
}

/* The same server, however the URL was spelt ("HTTP://Host:80/" and
 * "http://host:80" are one endpoint; a different host or port is not). */
static bool same_endpoint(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Is the mount that owns @p owner gone? */
static bool owner_dead(struct fs_ctx *ctx, const char *owner)
{
	char path[4200];
	bool dead;
	int fd;

	if (strcmp(owner, ctx->owner_id) == 0)
		return false;
	if (strchr(owner, '/') != NULL)
		return false;
	snprintf(path, sizeof(path), "%s/" OWNER_PREFIX "%s.lock",
		 ctx->staging_dir, owner);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (dead)
		unlink(path); /* its mount died; recovery takes over */
	close(fd);
	return dead;
}

/* Keep the content as a copy. false when that failed: then the staging
 * files must stay (never delete bytes that are nowhere else). */
static bool keep_copy(struct fs_ctx *ctx, const struct fs_manifest *m, int fd,
		      const char *why, int *counter)
{
	char path[4352];
	int rc = fs_conflict_save(ctx, m->key, fd, m->size, path,
				  sizeof(path));

	if (rc != 0) {
		log_error("recovery: '%s' %s, but no copy could be kept (%s); "
			  "its staging files stay for the next attempt",
			  m->key, why, strerror(-rc));
		return false;
	}
	log_warn("recovery: '%s' %s; its %" PRIu64 " bytes are kept at %s",
		 m->key, why, m->size, path);
	(*counter)++;
	return true;
}

static bool kept_or_failed(bool kept, struct fs_recovery_stats *stats)
{
	if (!kept)
		stats->failed++;
	return kept;
}

/* Commit one dead mount's complete content with its original
 * precondition and token. true when the staging files may go. */
static bool recover_one(struct fs_ctx *ctx, const struct fs_manifest *m, int fd,
			struct fs_recovery_stats *stats)
{
	struct s3_write_cond cond = {0};
	struct s3_object_info info;
	struct stat sb;
	int rc;

	if (m->clean)
		return true; /* committed already: nothing to do */
	/* A multipart upload the dead mount had under way: its parts are
	 * invisible but stored (and billed) until aborted. Aborting one that
	 * was completed is a harmless 404; if the abort itself fails, the
	 * manifest stays so that it is tried again. */
	if (m->upload_id != NULL && m->upload_id[0] != '\0' &&
	    !ctx->read_only) {
		rc = s3_mpu_abort(ctx->s3, m->key, m->upload_id, NULL);
		if (rc != 0) {
			log_warn("recovery: the unfinished multipart upload of "
				 "'%s' could not be aborted now (%s); it stays "
				 "for the next mount",
				 m->key, strerror(-rc));
			stats->failed++;
			return false;
		}
		log_notice("recovery: aborted the unfinished multipart upload "
			   "of '%s' left by a mount that stopped",
			   m->key);
	}
	if (fstat(fd, &sb) != 0) {
		stats->failed++;
		return false;
	}
	if (!m->complete) {
		/* Whatever the writer had written: the file's own size. */
		struct fs_manifest open_m = *m;

		open_m.size = (uint64_t)sb.st_size;
		return kept_or_failed(
			keep_copy(ctx, &open_m, fd,
				  "was still being written when its mount "
				  "stopped (not uploaded)",
				  &stats->kept),
			stats);
	}
	if ((uint64_t)sb.st_size < m->size)
		return kept_or_failed(
			keep_copy(ctx, m, fd,
				  "has a staging file shorter than its "
				  "manifest says",
				  &stats->kept),
			stats);
	if (m->sha256[0] != '\0') {
		/* Recorded lazily (no disk flush): a power loss may have
		 * torn the data. Only the very bytes the commit hashed go
		 * up. */
		char hex[HASH_SHA256_HEX_LEN + 1];

		rc = hash_fd_range(fd, 0, (off_t)m->size, hex, NULL);
		if (rc != 0 || strcmp(hex, m->sha256) != 0)
			return kept_or_failed(
				keep_copy(ctx, m, fd,
					  "does not match the content hash its "
					  "manifest recorded (torn by a crash; "
					  "not uploaded)",
					  &stats->kept),
				stats);
	}
	if (ctx->read_only) {
		stats->failed++;
		return false;
	}
	if (m->size > ctx->opts.single_put_limit)
		return kept_or_failed(
			keep_copy(ctx, m, fd,
				  "is too big to commit atomically here (not "
				  "uploaded)",
				  &stats->kept),
			stats);
	if (m->is_new)
		cond.if_none_match = true;
	else
		cond.if_match = m->base;
	memset(&info, 0, sizeof(info));
	rc = s3_put_object(ctx->s3, m->key, fd, 0, m->size, &cond, &m->meta,
			   &info, NULL);
	if (rc == 0) {
		log_notice("recovery: committed '%s' (%" PRIu64 " bytes) left "
			   "by a mount that stopped, as ETag %s",
			   m->key, m->size, info.etag);
		stats->committed++;
		return true;
	}
	if (rc == -EBUSY)
		return kept_or_failed(
			keep_copy(ctx, m, fd,
				  "changed on the server since it was opened "
				  "(conflict, object left alone)",
				  &stats->conflicts),
			stats);
	log_warn("recovery: '%s' could not be committed now (%s); it stays "
		 "for the next mount", m->key, strerror(-rc));
	stats->failed++;
	return false;
}

/* Handle one manifest of the staging directory. */
static void recover_manifest(struct fs_ctx *ctx, const char *name,
			     struct fs_recovery_stats *stats)
{
	char mpath[4200], dpath[4200];
	struct fs_manifest m;
	char *text = NULL;
	int mfd = -1, dfd = -1;
	size_t len = strlen(name) - strlen(MANIFEST_SUFFIX);

	snprintf(mpath, sizeof(mpath), "%s/%s", ctx->staging_dir, name);
	snprintf(dpath, sizeof(dpath), "%s/%.*s", ctx->staging_dir, (int)len,
		 name);
	memset(&m, 0, sizeof(m));
	mfd = open(mpath, O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || flock(mfd, LOCK_EX | LOCK_NB) != 0)
		goto out; /* gone, or another mount is recovering it */
	if (read_text(mpath, &text) != 0 || fs_manifest_parse(text, &m) != 0) {
		log_warn("recovery: %s is not a valid staging manifest; left "
			 "alone", mpath);
		goto out;
	}
	if (strcmp(m.bucket, ctx->opts.bucket) != 0 ||
	    !same_endpoint(m.endpoint, ctx->opts.endpoint) ||
	    !owner_dead(ctx, m.owner))
		goto out;
	dfd = open(dpath, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		log_warn("recovery: the data of '%s' (%s) is missing", m.key,
			 dpath);
		unlink(mpath);
		goto out;
	}
	if (recover_one(ctx, &m, dfd, stats)) {
		unlink(mpath);
		unlink(dpath);
	}
out:
	if (dfd >= 0)
		close(dfd);
	if (mfd >= 0)
		close(mfd);
	free(text);
	fs_manifest_free(&m);
}

int fs_staging_recover(struct fs_ctx *ctx, struct fs_recovery_stats *out)
{
	struct dirent *de;
	DIR *dir;
	size_t slen = strlen(MANIFEST_SUFFIX);

	memset(out, 0, sizeof(*out));
	dir = opendir(ctx->staging_dir);
	if (dir == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > slen && strncmp(de->d_name, "stage-", 6) == 0 &&
		    strcmp(de->d_name + n - slen, MANIFEST_SUFFIX) == 0)
			recover_manifest(ctx, de->d_name, out);
	}
	closedir(dir);
	if (out->committed || out->conflicts || out->kept || out->failed)
		log_notice("recovery of s3://%s: %d committed, %d conflicts "
			   "kept, %d incomplete kept, %d left for later",
			   ctx->opts.bucket, out->committed, out->conflicts,
			   out->kept, out->failed);
	return 0;
}
