/*
 * File operations through a real mount: what a program writes is exactly
 * what the server holds (read back by the harness's independent client),
 * and what the server holds is exactly what a program reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define MIB (1024 * 1024)

/* The server holds exactly @p len bytes @p data at @p key. */
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

static void expect_absent(const char *bucket, const char *key)
{
	long st = it_s3_head(bucket, key, NULL, NULL, NULL, NULL, 0);

	IT_ASSERT_MSG(st == 404, "HEAD %s: HTTP %ld, expected 404", key, st);
}

/*
 * Read @p path the way cat does (open, read fixed-size chunks until 0)
 * and compare with @p want, so short reads and EOF handling are covered.
 */
static void expect_mount(const char *path, const void *want, size_t len)
{
	size_t cap = len + 65536, got = 0;
	char *buf = malloc(cap);
	int fd;

	IT_ASSERT(buf != NULL);
	fd = open(path, O_RDONLY);
	IT_ASSERT_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	for (;;) {
		size_t want_now = cap - got < 65536 ? cap - got : 65536;
		ssize_t n = read(fd, buf + got, want_now);

		if (n < 0 && errno == EINTR)
			continue;
		IT_ASSERT_MSG(n >= 0, "read %s at %zu: %s", path, got,
			      strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
		IT_ASSERT_MSG(got < cap, "%s: more than %zu bytes", path,
			      len);
	}
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_MSG(got == len, "%s: read %zu bytes, expected %zu", path,
		      got, len);
	IT_ASSERT_MEM(buf, want, len);
	free(buf);
}

static void pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)data + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		IT_ASSERT_MSG(n > 0, "pwrite at %lld: %s",
			      (long long)(off + (off_t)done), strerror(errno));
		done += (size_t)n;
	}
}

IT_TEST(test_sizes_round_trip)
{
	static const size_t sizes[] = {0, 1, 4097, 5 * MIB + 1};
	char bucket[64], name[32];
	struct it_mount m;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		char *data = malloc(len + 1);

		IT_ASSERT(data != NULL);
		it_random_bytes(data, len, 100 + i);
		snprintf(name, sizeof(name), "f%zu.bin", len);
		IT_ASSERT_EQ_INT(it_write_file(it_path(&m, name), data, len),
				 0);
		expect_server(bucket, name, data, len);
		expect_mount(it_path(&m, name), data, len);
		free(data);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_overwrite_with_trunc)
{
	static const char first[] = "the first version, rather long";
	static const char second[] = "v2";
	char bucket[64];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "o"), first,
				       strlen(first)), 0);
	expect_server(bucket, "o", first, strlen(first));
	fd = open(it_path(&m, "o"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, second, strlen(second), 0);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "o", second, strlen(second));
	expect_mount(it_path(&m, "o"), second, strlen(second));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_append)
{
	char bucket[64];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "log"), "old-", 4), 0);
	fd = open(it_path(&m, "log"), O_WRONLY | O_APPEND);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "new", 3), 3);
	IT_ASSERT_EQ_INT(write(fd, "er", 2), 2);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "log", "old-newer", 9);
	expect_mount(it_path(&m, "log"), "old-newer", 9);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Writes at scattered offsets of an existing file, one growing it:
 * checked against a local model of the file. */
/*
 * stat of a file while this mount writes it shows the handle's size, not
 * the server's older one: the kernel adopts what getattr says as i_size,
 * and O_APPEND writes go to i_size, so a stale answer misplaces data.
 */
IT_TEST(test_fstat_while_writing)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "g"), "0123", 4), 0);
	fd = open(it_path(&m, "g"), O_RDWR);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "456789", 6, 4);
	IT_ASSERT_OK(fstat(fd, &st));
	IT_ASSERT_EQ_INT(st.st_size, 10);
	IT_ASSERT_OK(stat(it_path(&m, "g"), &st));
	IT_ASSERT_EQ_INT(st.st_size, 10);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "g", "0123456789", 10);

	/* Created with O_EXCL (committed empty at once), then grown. */
	fd = open(it_path(&m, "x"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "abc", 3, 1000);
	IT_ASSERT_OK(fstat(fd, &st));
	IT_ASSERT_EQ_INT(st.st_size, 1003);
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* A listing that brings attributes (readdirplus) shows a file this
 * mount is writing as its writer sees it, as stat does: were the
 * listing's older size given to the kernel, the next O_APPEND write
 * would land on top of the last one. */
IT_TEST(test_readdir_while_appending)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;
	DIR *dir;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "listing_attrs");
	IT_ASSERT_OK(mkdir(it_path(&m, "d"), 0755));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "d/log"), "0123", 4), 0);
	fd = open(it_path(&m, "d/log"), O_WRONLY | O_APPEND);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "45", 2), 2);
	dir = opendir(it_path(&m, "d"));
	IT_ASSERT(dir != NULL);
	while (readdir(dir) != NULL)
		;
	IT_ASSERT_OK(closedir(dir));
	IT_ASSERT_OK(stat(it_path(&m, "d/log"), &st));
	IT_ASSERT_EQ_INT(st.st_size, 6);
	IT_ASSERT_EQ_INT(write(fd, "67", 2), 2);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "d/log", "01234567", 8);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_append_after_fstat)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;
	int fd;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "log"), "old-", 4), 0);
	fd = open(it_path(&m, "log"), O_WRONLY | O_APPEND);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "new", 3), 3);
	IT_ASSERT_OK(fstat(fd, &st));
	IT_ASSERT_EQ_INT(write(fd, "er", 2), 2);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "log", "old-newer", 9);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_random_offset_writes)
{
	static const struct {
		off_t off;
		size_t len;
	} w[] = {
		{0, 1}, {4095, 2}, {65536, 70000}, {999999, 17},
		{MIB - 3, 10}, {300000, 1},
	};
	size_t base = MIB, final = MIB + 7;
	char *model = calloc(1, final), *chunk = malloc(70000);
	char bucket[64];
	struct it_mount m;
	int fd;

	IT_ASSERT(model != NULL && chunk != NULL);
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	it_random_bytes(model, base, 7);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "r"), model, base), 0);
	fd = open(it_path(&m, "r"), O_RDWR);
	IT_ASSERT_OK(fd);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		it_random_bytes(chunk, w[i].len, 1000 + i);
		pwrite_all(fd, chunk, w[i].len, w[i].off);
		memcpy(model + w[i].off, chunk, w[i].len);
	}
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "r", model, final);
	expect_mount(it_path(&m, "r"), model, final);
	free(model);
	free(chunk);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* pwrite far past the end of a new file: a hole of zeros before it. */
IT_TEST(test_sparse_file)
{
	size_t hole = 10 * MIB, len = hole + 5;
	char *want = calloc(1, len);
	char bucket[64];
	struct it_mount m;
	struct stat st;
	int fd;

	IT_ASSERT(want != NULL);
	memcpy(want + hole, "tail!", 5);
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	fd = open(it_path(&m, "sparse"), O_CREAT | O_WRONLY | O_EXCL, 0644);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "tail!", 5, (off_t)hole);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "sparse", want, len);
	IT_ASSERT_OK(stat(it_path(&m, "sparse"), &st));
	IT_ASSERT_EQ_INT(st.st_size, len);
	expect_mount(it_path(&m, "sparse"), want, len);
	free(want);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_ftruncate_grow_shrink)
{
	char data[1000], want[3000];
	char bucket[64];
	struct it_mount m;
	struct stat st;
	int fd;

	it_random_bytes(data, sizeof(data), 11);
	memset(want, 0, sizeof(want));
	memcpy(want, data, sizeof(data));
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "t"), data, sizeof(data)),
			 0);

	fd = open(it_path(&m, "t"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(ftruncate(fd, 3000));
	IT_ASSERT_OK(fstat(fd, &st));
	IT_ASSERT_EQ_INT(st.st_size, 3000);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "t", want, 3000);

	fd = open(it_path(&m, "t"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(ftruncate(fd, 10));
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "t", data, 10);
	expect_mount(it_path(&m, "t"), data, 10);

	/* Shrink then write past the new end, in one handle. */
	fd = open(it_path(&m, "t"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(ftruncate(fd, 4));
	pwrite_all(fd, "Z", 1, 6);
	IT_ASSERT_OK(close(fd));
	memcpy(want, data, 4);
	memset(want + 4, 0, 2);
	want[6] = 'Z';
	expect_server(bucket, "t", want, 7);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_truncate_by_path)
{
	char data[100], want[100];
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_random_bytes(data, sizeof(data), 12);
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "p"), data, sizeof(data)),
			 0);
	IT_ASSERT_OK(truncate(it_path(&m, "p"), 5));
	expect_server(bucket, "p", data, 5);
	IT_ASSERT_OK(stat(it_path(&m, "p"), &st));
	IT_ASSERT_EQ_INT(st.st_size, 5);
	IT_ASSERT_OK(truncate(it_path(&m, "p"), 0));
	expect_server(bucket, "p", "", 0);
	IT_ASSERT_OK(truncate(it_path(&m, "p"), 100));
	memset(want, 0, sizeof(want));
	expect_server(bucket, "p", want, 100);
	expect_mount(it_path(&m, "p"), want, 100);
	IT_ASSERT_ERRNO(truncate(it_path(&m, "missing"), 1), ENOENT);
	expect_absent(bucket, "missing");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_unlink)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "gone"), "x", 1), 0);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "kept"), "y", 1), 0);
	IT_ASSERT_OK(unlink(it_path(&m, "gone")));
	expect_absent(bucket, "gone");
	expect_server(bucket, "kept", "y", 1);
	IT_ASSERT_ERRNO(open(it_path(&m, "gone"), O_RDONLY), ENOENT);
	IT_ASSERT_ERRNO(stat(it_path(&m, "gone"), &st), ENOENT);
	IT_ASSERT_ERRNO(unlink(it_path(&m, "gone")), ENOENT);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names that need percent-encoding on the wire land under exactly that
 * key (no double or missing encoding), and list back as the same name. */
IT_TEST(test_special_names)
{
	static const char *const names[] = {
		"with space.txt", "caf\xc3\xa9 \xc3\xbc.txt", "100%.txt",
		"a%2Fb", "plus+and=equals&amp;", "tilde~'quote'(x)",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	const char *sorted[sizeof(names) / sizeof(names[0])];
	char bucket[64];
	struct it_mount m;
	char **keys;
	size_t nkeys = 0;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	for (size_t i = 0; i < n; i++) {
		IT_ASSERT_EQ_INT(it_write_file(it_path(&m, names[i]),
					       names[i], strlen(names[i])),
				 0);
		sorted[i] = names[i];
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	keys = it_s3_list(bucket, NULL, &nkeys);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_EQ_INT(nkeys, n);
	for (size_t i = 0; i < n; i++)
		IT_ASSERT_EQ_STR(keys[i], sorted[i]);
	it_strv_free(keys);
	for (size_t i = 0; i < n; i++) {
		expect_server(bucket, names[i], names[i], strlen(names[i]));
		expect_mount(it_path(&m, names[i]), names[i],
			     strlen(names[i]));
	}
	/* "a%2Fb" must not be taken for "a/b". */
	expect_absent(bucket, "a/b");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Objects written by another client are seen through the mount. */
IT_TEST(test_foreign_writes_visible)
{
	static const char v1[] = "written by someone else";
	static const char v2[] = "and replaced, longer than before: 0123456789";
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "attr_ttl=0,dir_ttl=0");
	IT_ASSERT_ERRNO(stat(it_path(&m, "ext.txt"), &st), ENOENT);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "ext.txt", v1, strlen(v1), NULL),
			 200);
	IT_ASSERT_OK(stat(it_path(&m, "ext.txt"), &st));
	IT_ASSERT_EQ_INT(st.st_size, strlen(v1));
	expect_mount(it_path(&m, "ext.txt"), v1, strlen(v1));
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "ext.txt", v2, strlen(v2), NULL),
			 200);
	expect_mount(it_path(&m, "ext.txt"), v2, strlen(v2));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Default TTLs: a foreign change shows once the attribute TTL passed. */
IT_TEST(test_foreign_write_after_ttl)
{
	static const char v1[] = "one";
	static const char v2[] = "two, and longer";
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", v1, strlen(v1), NULL), 200);
	it_mount(&m, bucket, "attr_ttl=500,dir_ttl=500");
	expect_mount(it_path(&m, "f"), v1, strlen(v1));
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", v2, strlen(v2), NULL), 200);
	usleep(1200 * 1000);
	expect_mount(it_path(&m, "f"), v2, strlen(v2));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_excl_on_existing)
{
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "e"), "mine", 4), 0);
	IT_ASSERT_ERRNO(open(it_path(&m, "e"), O_CREAT | O_EXCL | O_WRONLY,
			     0644), EEXIST);
	expect_server(bucket, "e", "mine", 4);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* The mount believes the name is free (its caches say so) but another
 * client created it: O_EXCL must still fail, decided by the server. */
IT_TEST(test_excl_on_existing_unseen)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "attr_ttl=60000,dir_ttl=60000");
	IT_ASSERT_ERRNO(stat(it_path(&m, "late"), &st), ENOENT);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "late", "theirs", 6, NULL), 200);
	IT_ASSERT_ERRNO(open(it_path(&m, "late"),
			     O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	expect_server(bucket, "late", "theirs", 6);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Read d/f<NN> of @p m whole into *@p got (caller frees); its length. */
static size_t read_numbered(struct it_mount *m, int i, void **got)
{
	char key[16];
	size_t len = 0;

	IT_SNPRINTF(key, "d/f%02d", i);
	IT_ASSERT_EQ_INT(it_read_file(it_path(m, key), got, &len), 0);
	return len;
}

/*
 * A reader that reads the small files of a listed directory one after
 * another (as `cat dir/...` does) finds their bodies fetched ahead: every
 * file reads back exactly, each body is fetched once (40 GETs for 40
 * files, however the reader and the fetching threads interleave), and
 * most reads are answered from bodies fetched ahead. A file replaced
 * after the listing is not fetched ahead (its If-Match fails): the
 * reader gets the new version. A second walk, from the kernel's page
 * cache, fetches nothing.
 */
IT_TEST(test_small_files_fetched_ahead)
{
	enum { N = 40 };
	static unsigned char data[N][6000];
	static const char changed[] = "replaced after the listing\n";
	unsigned long long gets0, gets, sent, used;
	char bucket[64], key[16];
	size_t sizes[N], n_names = 0;
	struct it_mount m;
	char **names;

	it_fresh_bucket(bucket);
	for (int i = 0; i < N; i++) {
		sizes[i] = 100 + (size_t)i * 137;
		it_random_bytes(data[i], sizes[i], 900 + (uint64_t)i);
		IT_SNPRINTF(key, "d/f%02d", i);
		IT_ASSERT_EQ_INT(it_s3_put(bucket, key, data[i], sizes[i],
					   NULL),
				 200);
	}
	it_mount(&m, bucket, "attr_ttl=60000,dir_ttl=60000,memo_file=none");
	names = it_list_dir(it_path(&m, "d"), &n_names);
	IT_ASSERT_EQ_INT(n_names, N);
	it_strv_free(names);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "d/f30", changed,
				   sizeof(changed) - 1, NULL),
			 200);
	gets0 = it_mount_stat(&m, "get");
	for (int i = 0; i < N; i++) {
		void *got = NULL;
		size_t len = read_numbered(&m, i, &got);

		if (i == 30) {
			IT_ASSERT_EQ_INT(len, sizeof(changed) - 1);
			IT_ASSERT_MEM(got, changed, len);
		} else {
			IT_ASSERT_MSG(len == sizes[i], "f%02d: %zu bytes, "
				      "expected %zu", i, len, sizes[i]);
			IT_ASSERT_MEM(got, data[i], len);
		}
		free(got);
	}
	gets = it_mount_stat(&m, "get") - gets0;
	sent = it_mount_stat(&m, "bodyahead_sent");
	used = it_mount_stat(&m, "bodyahead_used");
	it_log("%llu GETs for %d files; %llu bodies fetched ahead, %llu used",
	       gets, N, sent, used);
	/* f30: one GET ahead (412, nothing held), then the reader's two
	 * (412 for the listed version, then the new one). */
	IT_ASSERT(gets >= N && gets <= N + 3);
	IT_ASSERT_MSG(used >= N / 2, "only %llu of %d reads answered from "
		      "bodies fetched ahead", used, N);
	IT_ASSERT(used <= sent);

	/* Again: the kernel has every file; nothing is fetched. */
	gets0 = it_mount_stat(&m, "get");
	for (int i = 0; i < N; i++) {
		void *got = NULL;

		(void)read_numbered(&m, i, &got);
		free(got);
	}
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "get") - gets0, 0);
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "bodyahead_sent"), sent);

	/* The first file again, past the page cache: a new walk over the
	 * same listing (the sanitizer build's leak check at unmount covers
	 * the listing reference it takes), one GET, exact bytes. */
	{
		void *got = NULL;
		size_t len;
		int fd = open(it_path(&m, "d/f00"), O_RDONLY);

		IT_ASSERT_OK(fd);
		IT_ASSERT_EQ_INT(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED),
				 0);
		IT_ASSERT_OK(close(fd));
		gets0 = it_mount_stat(&m, "get");
		len = read_numbered(&m, 0, &got);
		IT_ASSERT_EQ_INT(len, sizes[0]);
		IT_ASSERT_MEM(got, data[0], len);
		free(got);
		IT_ASSERT_EQ_INT(it_mount_stat(&m, "get") - gets0, 1);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * A walk slower than the listing's TTL (dir_ttl=300, 25 ms a file, 40
 * files): the bodies are still fetched ahead over the expired listing
 * (and over the newer listings lookups make meanwhile), each body once.
 * The attributes live longer (attr_ttl=60000): a body is used only while
 * the attribute cache names its version, and an entry expiring between
 * a lookup and its read (the sanitizer build is slow enough) would cost
 * the reader a GET of its own, which is not what this test is about.
 */
IT_TEST(test_small_files_walk_outlasts_listing)
{
	enum { N = 40 };
	static unsigned char data[N][3000];
	unsigned long long gets0, gets, used;
	char bucket[64], key[16];
	size_t n_names = 0;
	struct it_mount m;
	char **names;

	it_fresh_bucket(bucket);
	for (int i = 0; i < N; i++) {
		it_random_bytes(data[i], sizeof(data[i]), 700 + (uint64_t)i);
		IT_SNPRINTF(key, "d/f%02d", i);
		IT_ASSERT_EQ_INT(it_s3_put(bucket, key, data[i],
					   sizeof(data[i]), NULL),
				 200);
	}
	it_mount(&m, bucket, "attr_ttl=60000,dir_ttl=300,memo_file=none");
	names = it_list_dir(it_path(&m, "d"), &n_names);
	IT_ASSERT_EQ_INT(n_names, N);
	it_strv_free(names);
	gets0 = it_mount_stat(&m, "get");
	for (int i = 0; i < N; i++) {
		void *got = NULL;
		size_t len = read_numbered(&m, i, &got);

		IT_ASSERT_EQ_INT(len, sizeof(data[i]));
		IT_ASSERT_MEM(got, data[i], len);
		free(got);
		usleep(25000);
	}
	gets = it_mount_stat(&m, "get") - gets0;
	used = it_mount_stat(&m, "bodyahead_used");
	it_log("%llu GETs for %d files, %llu answered from bodies fetched "
	       "ahead", gets, N, used);
	IT_ASSERT_EQ_INT(gets, N);
	IT_ASSERT_MSG(used >= N - 4, "only %llu of %d reads answered from "
		      "bodies fetched ahead", used, N);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}
