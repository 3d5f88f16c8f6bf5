/*
 * Conflict copies. The copy is written under a temporary name and
 * renamed into place, so a reader of the conflict directory never sees a
 * partial copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fs/conflict.h"
#include "util/log.h"

static int copy_range(int from, int to, uint64_t len)
{
	char buf[1 << 16];
	uint64_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof(buf) ? (size_t)(len - done)
						       : sizeof(buf);
		ssize_t n = pread(from, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (ssize_t w = 0; w < n;) {
			ssize_t m = write(to, buf + w, (size_t)(n - w));

			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0)
				return -errno;
			w += m;
		}
		done += (uint64_t)n;
	}
	return 0;
}

/* "<key>.conflict-<UTC time>-<random>" */
static int conflict_name(const char *key, char *out, size_t len)
{
	char stamp[32];
	unsigned long long rnd = 0;
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = ((unsigned long long)getpid() << 32) ^
		      (unsigned long long)now;
	if (snprintf(out, len, "%s.conflict-%s-%016llx", key, stamp, rnd) >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* A sibling object, created with If-None-Match: * so it never replaces
 * anything. */
static int save_in_bucket(struct fs_ctx *ctx, const char *key, int fd,
			  uint64_t len, char *path_out, size_t path_len)
{
	struct s3_write_cond cond = {.if_none_match = true};
	struct s3_object_info info;
	int rc = conflict_name(key, path_out, path_len);

	if (rc != 0)
		return rc;
	memset(&info, 0, sizeof(info));
	rc = s3_put_object(ctx->s3, path_out, fd, 0, len, &cond, NULL, &info,
			   NULL);
	if (rc != 0)
		log_error("could not keep a conflict copy of '%s' as object "
			  "'%s': %s", key, path_out, strerror(-rc));
	return rc;
}

int fs_conflict_save(struct fs_ctx *ctx, const char *key, int fd,
		     uint64_t len, char *path_out, size_t path_len)
{
	char name[4200], tmp[4400], dir[4400];
	char *slash;
	int out = -1, rc;

	if (ctx->opts.conflict_in_bucket) {
		rc = save_in_bucket(ctx, key, fd, len, path_out, path_len);
		if (rc == 0)
			return 0;
		/* Never lose the bytes: fall back to the local directory. */
	}
	rc = conflict_name(key, name, sizeof(name));
	if (rc != 0)
		return rc;
	if (snprintf(path_out, path_len, "%s/%s/%s", ctx->conflict_dir,
		     ctx->opts.bucket, name) >= (int)path_len)
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path_out);
	slash = strrchr(dir, '/');
	*slash = '\0';
	rc = fs_ctx_mkdirs(dir);
	if (rc != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.partial", path_out);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	rc = copy_range(fd, out, len);
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	if (close(out) != 0 && rc == 0)
		rc = -errno;
	/* link, not rename: a copy never replaces another one. */
	if (rc == 0 && link(tmp, path_out) != 0)
		rc = -errno;
	unlink(tmp);
	if (rc != 0) {
		unlink(tmp);
		log_error("could not keep a conflict copy of '%s' at %s: %s",
			  key, path_out, strerror(-rc));
	}
	return rc;
}
