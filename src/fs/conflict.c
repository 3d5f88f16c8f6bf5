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

int fs_conflict_save(struct fs_ctx *ctx, const char *key, int fd,
		     uint64_t len, char *path_out, size_t path_len)
{
	char stamp[32], tmp[4200], dir[4200];
	unsigned short rnd = 0;
	struct tm tm;
	time_t now = time(NULL);
	char *slash;
	int out = -1, rc;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned short)getpid();
	if (snprintf(path_out, path_len, "%s/%s/%s.conflict-%s-%04x",
		     ctx->conflict_dir, ctx->opts.bucket, key, stamp,
		     rnd) >= (int)path_len)
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
	if (rc == 0 && rename(tmp, path_out) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		log_error("could not keep a conflict copy of '%s' at %s: %s",
			  key, path_out, strerror(-rc));
	}
	return rc;
}
