/*
 * Attributes through a real mount: mode, owner, mtime and symlinks are
 * s3fs-compatible object metadata on the server; statfs; the user.etag
 * xattr equals the server's ETag.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

static void expect_server(const char *bucket, const char *key,
			  const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	long st = it_s3_get(bucket, key, &got, &got_len, NULL);

	IT_ASSERT_MSG(st == 200, "GET %s: HTTP %ld", key, st);
	IT_ASSERT_MSG(got_len == len, "GET %s: %zu bytes, expected %zu", key,
		      got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

/* The x-amz-meta-@p name header of @p key is exactly @p want. */
static void expect_meta(const char *bucket, const char *key,
			const char *name, const char *want)
{
	char header[64], val[256];

	snprintf(header, sizeof(header), "x-amz-meta-%s", name);
	IT_ASSERT_EQ_INT(it_s3_head(bucket, key, NULL, NULL, header, val,
				    sizeof(val)),
			 200);
	IT_ASSERT_MSG(strcmp(val, want) == 0, "%s of %s is '%s', expected '%s'",
		      header, key, val, want);
}

IT_TEST(test_chmod)
{
	char bucket[64], want[32];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f"), "content", 7), 0);
	IT_ASSERT_OK(chmod(it_path(&m, "f"), 0640));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 0640));
	expect_meta(bucket, "f", "mode", want);
	/* Metadata changed in place: the bytes are the same. */
	expect_server(bucket, "f", "content", 7);
	IT_ASSERT_OK(stat(it_path(&m, "f"), &st));
	IT_ASSERT_EQ_INT(st.st_mode, S_IFREG | 0640);
	/* Special bits survive too. */
	IT_ASSERT_OK(chmod(it_path(&m, "f"), 04755));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 04755));
	expect_meta(bucket, "f", "mode", want);
	/* A directory's mode lives on its marker. */
	IT_ASSERT_OK(mkdir(it_path(&m, "d"), 0755));
	IT_ASSERT_OK(chmod(it_path(&m, "d"), 0700));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFDIR | 0700));
	expect_meta(bucket, "d/", "mode", want);
	IT_ASSERT_OK(stat(it_path(&m, "d"), &st));
	IT_ASSERT_EQ_INT(st.st_mode, S_IFDIR | 0700);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);

	/* A new mount (nothing cached) reads the mode from the server. */
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "f"), &st));
	IT_ASSERT_EQ_INT(st.st_mode, S_IFREG | 04755);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* The mode given to open(O_CREAT) is stored with the first commit. */
IT_TEST(test_create_mode)
{
	char bucket[64], want[32];
	struct it_mount m;
	mode_t old = umask(0);
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	fd = open(it_path(&m, "c"), O_CREAT | O_WRONLY, 0604);
	umask(old);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "x", 1), 1);
	IT_ASSERT_OK(close(fd));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 0604));
	expect_meta(bucket, "c", "mode", want);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_chown)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;

	if (geteuid() != 0) {
		it_log("not root: chown to another owner is not allowed");
		IT_FAIL("test_chown needs root (CI runs as root)");
	}
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "o"), "owned", 5), 0);
	IT_ASSERT_OK(chown(it_path(&m, "o"), 1234, 5678));
	expect_meta(bucket, "o", "uid", "1234");
	expect_meta(bucket, "o", "gid", "5678");
	expect_server(bucket, "o", "owned", 5);
	IT_ASSERT_OK(stat(it_path(&m, "o"), &st));
	IT_ASSERT_EQ_INT(st.st_uid, 1234);
	IT_ASSERT_EQ_INT(st.st_gid, 5678);
	/* -1 keeps the uid. */
	IT_ASSERT_OK(chown(it_path(&m, "o"), (uid_t)-1, 42));
	expect_meta(bucket, "o", "uid", "1234");
	expect_meta(bucket, "o", "gid", "42");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Leading integer of a decimal with an optional fraction, else -1. */
static long long meta_seconds(const char *s)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || (*end != '\0' && *end != '.'))
		return -1;
	return v;
}

/* Seconds of the object's x-amz-meta-mtime, read by an independent
 * client (-1 when absent or not a number). */
static long long server_mtime(const char *bucket, const char *key)
{
	char val[256];

	IT_ASSERT_EQ_INT(it_s3_head(bucket, key, NULL, NULL,
				    "x-amz-meta-mtime", val, sizeof(val)),
			 200);
	return meta_seconds(val);
}

IT_TEST(test_utimens)
{
	const long long when = 1500000000; /* 2017-07-14T02:40:00Z */
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
				 {.tv_sec = when, .tv_nsec = 0}};
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "t"), "time", 4), 0);
	IT_ASSERT_OK(utimensat(AT_FDCWD, it_path(&m, "t"), ts, 0));
	IT_ASSERT_MSG(server_mtime(bucket, "t") == when,
		      "x-amz-meta-mtime of t is %lld, expected %lld",
		      server_mtime(bucket, "t"), when);
	IT_ASSERT_OK(stat(it_path(&m, "t"), &st));
	IT_ASSERT_EQ_INT(st.st_mtim.tv_sec, when);
	expect_server(bucket, "t", "time", 4);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);

	/* Seen by a fresh mount too. */
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "t"), &st));
	IT_ASSERT_EQ_INT(st.st_mtim.tv_sec, when);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* utimens on an open, written file rides on its commit: the explicit
 * mtime wins over the commit's "now". */
IT_TEST(test_futimens_on_open_file)
{
	const long long when = 1234567890;
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
				 {.tv_sec = when, .tv_nsec = 0}};
	char bucket[64];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	fd = open(it_path(&m, "u"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "abc", 3), 3);
	IT_ASSERT_OK(futimens(fd, ts));
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_MSG(server_mtime(bucket, "u") == when,
		      "x-amz-meta-mtime of u is %lld, expected %lld",
		      server_mtime(bucket, "u"), when);
	expect_server(bucket, "u", "abc", 3);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* utimens and chmod by path while this mount holds the file open for
 * writing with nothing left to commit (a close() whose release is still
 * on its way, or a handle written and fsync()ed): the change is on the
 * server when the call returns, and the handle's later commit neither
 * conflicts with it nor undoes it. */
IT_TEST(test_meta_by_path_on_clean_open_file)
{
	const long long when = 1400000000;
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
				 {.tv_sec = when, .tv_nsec = 0}};
	char bucket[64], want[32];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	fd = open(it_path(&m, "c"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "one", 3), 3);
	IT_ASSERT_OK(fsync(fd));
	IT_ASSERT_OK(utimensat(AT_FDCWD, it_path(&m, "c"), ts, 0));
	IT_ASSERT_OK(chmod(it_path(&m, "c"), 0600));
	IT_ASSERT_MSG(server_mtime(bucket, "c") == when,
		      "x-amz-meta-mtime of c is %lld, expected %lld",
		      server_mtime(bucket, "c"), when);
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 0600));
	expect_meta(bucket, "c", "mode", want);
	/* Written after the change: committed against the version the
	 * change made, keeping the mode, with a fresh mtime. */
	IT_ASSERT_EQ_INT(pwrite(fd, "two", 3, 0), 3);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "c", "two", 3);
	expect_meta(bucket, "c", "mode", want);
	IT_ASSERT_MSG(server_mtime(bucket, "c") > when,
		      "x-amz-meta-mtime of c is %lld, not newer than %lld",
		      server_mtime(bucket, "c"), when);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* fchmod on a file being created (not on the server yet). */
IT_TEST(test_fchmod_on_open_new_file)
{
	char bucket[64], want[32];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	fd = open(it_path(&m, "new"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "n", 1), 1);
	IT_ASSERT_OK(fchmod(fd, 0600));
	IT_ASSERT_OK(close(fd));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 0600));
	expect_meta(bucket, "new", "mode", want);
	expect_server(bucket, "new", "n", 1);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* fchmod on an existing file with written data: its own commit must not
 * then conflict with the mode change. */
IT_TEST(test_fchmod_on_open_written_file)
{
	char bucket[64], want[32];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "old"), "12", 2), 0);
	fd = open(it_path(&m, "old"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(pwrite(fd, "345", 3, 2), 3);
	IT_ASSERT_OK(fchmod(fd, 0611));
	IT_ASSERT_OK(close(fd));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFREG | 0611));
	expect_meta(bucket, "old", "mode", want);
	expect_server(bucket, "old", "12345", 5);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_symlink)
{
	static const char target[] = "../some dir/target file.txt";
	char bucket[64], buf[256], want[32];
	struct it_mount m;
	struct stat st;
	ssize_t n;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(symlink(target, it_path(&m, "ln")));
	n = readlink(it_path(&m, "ln"), buf, sizeof(buf));
	IT_ASSERT_EQ_INT(n, strlen(target));
	IT_ASSERT_MEM(buf, target, strlen(target));
	IT_ASSERT_OK(lstat(it_path(&m, "ln"), &st));
	IT_ASSERT_MSG(S_ISLNK(st.st_mode), "mode %o is not a symlink",
		      (unsigned)st.st_mode);
	IT_ASSERT_EQ_INT(st.st_size, strlen(target));
	expect_server(bucket, "ln", target, strlen(target));
	snprintf(want, sizeof(want), "%u", (unsigned)(S_IFLNK | 0777));
	expect_meta(bucket, "ln", "mode", want);
	IT_ASSERT_ERRNO(symlink("x", it_path(&m, "ln")), EEXIST);
	/* A regular file is not a link. */
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "plain"), "p", 1), 0);
	IT_ASSERT_ERRNO(readlink(it_path(&m, "plain"), buf, sizeof(buf)),
			EINVAL);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);

	/* A fresh mount sees the link from metadata alone. */
	it_mount(&m, bucket, NULL);
	n = readlink(it_path(&m, "ln"), buf, sizeof(buf));
	IT_ASSERT_EQ_INT(n, strlen(target));
	IT_ASSERT_MEM(buf, target, strlen(target));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_statfs)
{
	char bucket[64];
	struct it_mount m;
	struct statvfs sv;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(statvfs(it_path(&m, NULL), &sv));
	IT_ASSERT_EQ_INT(sv.f_namemax, 255);
	IT_ASSERT(sv.f_bsize > 0);
	IT_ASSERT(sv.f_bavail > 0);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* getxattr of user.etag, checked against the server's ETag. */
static void expect_xattr_etag(const char *path, const char *bucket,
			      const char *key)
{
	char got[IT_ETAG_MAX + 1], server[IT_ETAG_MAX], a[IT_ETAG_MAX],
		b[IT_ETAG_MAX];
	ssize_t n, len;

	len = getxattr(path, "user.etag", NULL, 0);
	IT_ASSERT_MSG(len > 0, "getxattr size of %s: %s", path,
		      strerror(errno));
	IT_ASSERT(len < (ssize_t)sizeof(got));
	n = getxattr(path, "user.etag", got, sizeof(got) - 1);
	IT_ASSERT_EQ_INT(n, len);
	got[n] = '\0';
	IT_ASSERT_EQ_INT(it_s3_head(bucket, key, NULL, server, NULL, NULL, 0),
			 200);
	it_etag_unquote(got, a);
	it_etag_unquote(server, b);
	IT_ASSERT_MSG(a[0] != '\0' && strcmp(a, b) == 0,
		      "user.etag of %s is '%s', the server says '%s'", key, got,
		      server);
}

IT_TEST(test_xattr_etag)
{
	char bucket[64], list[256], small[2];
	struct it_mount m;
	ssize_t n;
	bool found = false;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "attr_ttl=0,dir_ttl=0");
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "x"), "xattr", 5), 0);
	expect_xattr_etag(it_path(&m, "x"), bucket, "x");
	/* Another writer's version: the xattr follows the server. */
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "x", "changed", 7, NULL), 200);
	expect_xattr_etag(it_path(&m, "x"), bucket, "x");

	n = listxattr(it_path(&m, "x"), list, sizeof(list));
	IT_ASSERT_MSG(n > 0, "listxattr: %s", strerror(errno));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		found |= strcmp(list + i, "user.etag") == 0;
	IT_ASSERT_MSG(found, "listxattr does not name user.etag");

	IT_ASSERT_ERRNO(getxattr(it_path(&m, "x"), "user.other", list,
				 sizeof(list)), ENODATA);
	/* Namespaces never stored: not supported (ls -l then stops asking
	 * for them file after file). */
	IT_ASSERT_ERRNO(lgetxattr(it_path(&m, "x"), "security.selinux", list,
				  sizeof(list)), EOPNOTSUPP);
	IT_ASSERT_ERRNO(getxattr(it_path(&m, "x"), "system.posix_acl_access",
				 list, sizeof(list)), EOPNOTSUPP);
	IT_ASSERT_ERRNO(getxattr(it_path(&m, "x"), "user.etag", small,
				 sizeof(small)), ERANGE);
	IT_ASSERT_ERRNO(getxattr(it_path(&m, "nope"), "user.etag", list,
				 sizeof(list)), ENOENT);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}
