/*
 * Directories and names through a real mount: markers, implicit
 * directories, listings across pages, renames, keys that cannot be file
 * names, and prefix mounts, each checked against the server's keys.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void expect_absent(const char *bucket, const char *key)
{
	long st = it_s3_head(bucket, key, NULL, NULL, NULL, NULL, 0);

	IT_ASSERT_MSG(st == 404, "HEAD %s: HTTP %ld, expected 404", key, st);
}

/* The directory at @p path lists exactly @p want (sorted). */
static void expect_listing(const char *path, const char *const *want,
			   size_t n_want)
{
	size_t n = 0;
	char **got = it_list_dir(path, &n);

	for (size_t i = 0; i < n && i < n_want; i++)
		IT_ASSERT_MSG(strcmp(got[i], want[i]) == 0,
			      "%s: entry %zu is '%s', expected '%s'", path, i,
			      got[i], want[i]);
	IT_ASSERT_MSG(n == n_want, "%s: %zu entries, expected %zu", path, n,
		      n_want);
	it_strv_free(got);
}

/* The bucket holds exactly the keys @p want (sorted as S3 sorts). */
static void expect_keys(const char *bucket, const char *const *want,
			size_t n_want)
{
	size_t n = 0;
	char **got = it_s3_list(bucket, NULL, &n);

	IT_ASSERT(got != NULL);
	for (size_t i = 0; i < n && i < n_want; i++)
		IT_ASSERT_MSG(strcmp(got[i], want[i]) == 0,
			      "key %zu is '%s', expected '%s'", i, got[i],
			      want[i]);
	IT_ASSERT_MSG(n == n_want, "%zu keys, expected %zu", n, n_want);
	it_strv_free(got);
}

static void expect_dir(const char *path)
{
	struct stat st;

	IT_ASSERT_MSG(stat(path, &st) == 0, "stat %s: %s", path,
		      strerror(errno));
	IT_ASSERT_MSG(S_ISDIR(st.st_mode), "%s: mode %o is not a directory",
		      path, (unsigned)st.st_mode);
}

/*
 * PUT many small objects at once, in parallel on one curl multi handle
 * (the harness's client does one request at a time), with dot segments
 * kept as they are. Keys must need no percent-encoding. Each object's
 * body is its key.
 */
struct bulk_put {
	const char *key;
	const char *body;
	size_t len, off;
};

static size_t bulk_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct bulk_put *p = ud;
	size_t n = p->len - p->off;

	if (n > size * nmemb)
		n = size * nmemb;
	memcpy(buf, p->body + p->off, n);
	p->off += n;
	return n;
}

static size_t bulk_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	return size * nmemb;
}

/* "<prefix>0000" to "<prefix>(n-1)", NULL-terminated (it_strv_free). */
static char **numbered_keys(const char *prefix, size_t n)
{
	char **keys = calloc(n + 1, sizeof(*keys));

	IT_ASSERT(keys != NULL);
	for (size_t i = 0; i < n; i++)
		IT_ASSERT(asprintf(&keys[i], "%s%04zu", prefix, i) > 0);
	return keys;
}

static void put_many(const char *bucket, const char *const *keys, size_t n)
{
	enum { PARALLEL = 16 };
	struct bulk_put *puts = calloc(n, sizeof(*puts));
	struct curl_slist *hl = NULL;
	CURLM *multi = curl_multi_init();
	char sigv4[128], url[1024];
	size_t next = 0, done = 0, failed = 0;
	int running = 0;

	IT_ASSERT(puts != NULL && multi != NULL);
	/* No "Expect:" header: libcurl 7.88 would sign it empty and RGW
	 * would reject the signature. */
	hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	IT_ASSERT(hl != NULL);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", it_env.region);
	while (done < n) {
		struct CURLMsg *msg;
		int left;

		while (next < n && running < PARALLEL) {
			CURL *e = curl_easy_init();

			IT_ASSERT(e != NULL);
			puts[next].key = keys[next];
			puts[next].body = keys[next];
			puts[next].len = strlen(keys[next]);
			snprintf(url, sizeof(url), "%s/%s/%s", it_env.endpoint,
				 bucket, keys[next]);
			curl_easy_setopt(e, CURLOPT_URL, url);
			curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
			curl_easy_setopt(e, CURLOPT_USERNAME,
					 it_env.access_key);
			curl_easy_setopt(e, CURLOPT_PASSWORD,
					 it_env.secret_key);
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
			curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
			/* Keys like "d/./y" must reach the server as they
			 * are, not with their dot segments squashed. */
			curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
			curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(e, CURLOPT_READFUNCTION, bulk_read);
			curl_easy_setopt(e, CURLOPT_READDATA, &puts[next]);
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)puts[next].len);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
					 bulk_discard);
			curl_easy_setopt(e, CURLOPT_PRIVATE, &puts[next]);
			curl_multi_add_handle(multi, e);
			running++;
			next++;
		}
		curl_multi_perform(multi, &left);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			long status = 0;
			struct bulk_put *p = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle,
					  CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  &p);
			if (msg->data.result != CURLE_OK || status != 200) {
				it_log("bulk PUT %s: %s, HTTP %ld", p->key,
				       curl_easy_strerror(msg->data.result),
				       status);
				failed++;
			}
			curl_multi_remove_handle(multi, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			running--;
			done++;
		}
		if (done < n)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(hl);
	free(puts);
	IT_ASSERT_EQ_INT(failed, 0);
}

IT_TEST(test_mkdir_marker)
{
	static const char *const keys[] = {"d/"};
	char bucket[64];
	struct it_mount m;
	long long size = -1;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(mkdir(it_path(&m, "d"), 0755));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "d/", &size, NULL, NULL, NULL, 0),
			 200);
	IT_ASSERT_EQ_INT(size, 0);
	expect_keys(bucket, keys, 1);
	expect_dir(it_path(&m, "d"));
	IT_ASSERT_ERRNO(mkdir(it_path(&m, "d"), 0755), EEXIST);
	/* A name that is a file cannot become a directory either. */
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f"), "x", 1), 0);
	IT_ASSERT_ERRNO(mkdir(it_path(&m, "f"), 0755), EEXIST);
	expect_absent(bucket, "f/");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_rmdir_empty)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(mkdir(it_path(&m, "e"), 0755));
	IT_ASSERT_OK(rmdir(it_path(&m, "e")));
	expect_absent(bucket, "e/");
	expect_keys(bucket, NULL, 0);
	IT_ASSERT_ERRNO(stat(it_path(&m, "e"), &st), ENOENT);
	IT_ASSERT_ERRNO(rmdir(it_path(&m, "e")), ENOENT);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_rmdir_not_empty)
{
	static const char *const keys[] = {"full/", "full/f"};
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(mkdir(it_path(&m, "full"), 0755));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "full/f"), "data", 4), 0);
	IT_ASSERT_ERRNO(rmdir(it_path(&m, "full")), ENOTEMPTY);
	expect_keys(bucket, keys, 2);
	expect_server(bucket, "full/f", "data", 4);
	IT_ASSERT_ERRNO(rmdir(it_path(&m, "full/f")), ENOTDIR);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* A directory that exists only because keys below it do. */
IT_TEST(test_implicit_directory)
{
	static const char *const root[] = {"imp", "top.txt"};
	static const char *const imp[] = {"a", "sub"};
	static const char *const sub[] = {"b"};
	static const char *const keys[] = {"imp/a", "imp/sub/b", "top.txt"};
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "imp/a", "AAA", 3, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "imp/sub/b", "BB", 2, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "top.txt", "T", 1, NULL), 200);
	it_mount(&m, bucket, NULL);
	expect_listing(it_path(&m, NULL), root, 2);
	expect_dir(it_path(&m, "imp"));
	expect_dir(it_path(&m, "imp/sub"));
	expect_listing(it_path(&m, "imp"), imp, 2);
	expect_listing(it_path(&m, "imp/sub"), sub, 1);
	{
		void *data = NULL;
		size_t len = 0;

		IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "imp/sub/b"), &data,
					      &len), 0);
		IT_ASSERT_EQ_INT(len, 2);
		IT_ASSERT_MEM(data, "BB", 2);
		free(data);
	}
	/* Looking at it created nothing on the server. */
	expect_keys(bucket, keys, 3);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* With listing_attrs, ls -l of 1,500 files costs the listing's two pages
 * and no HEAD per file, and shows every file's size exactly. */
IT_TEST(test_listing_attrs_ls_l)
{
	enum { N = 1500 };
	char **keys = numbered_keys("ls/f", N);
	unsigned long long heads, lists;
	char bucket[64], path[PATH_MAX];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, N);
	it_mount(&m, bucket, "listing_attrs");
	IT_ASSERT_OK(stat(it_path(&m, "ls"), &st));
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	{
		size_t n = 0;
		char **names = it_list_dir(it_path(&m, "ls"), &n);

		IT_ASSERT_EQ_INT(n, N);
		it_strv_free(names);
	}
	for (size_t i = 0; i < N; i++) {
		IT_SNPRINTF(path, "%s", it_path(&m, keys[i]));
		IT_ASSERT_OK(stat(path, &st));
		IT_ASSERT(S_ISREG(st.st_mode));
		/* put_many stores each key as its own body. */
		IT_ASSERT_EQ_INT(st.st_size, strlen(keys[i]));
	}
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "head") - heads, 0);
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "list") - lists, 2);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
}

/* One file's attributes as a walk sees them: lstat of every listed name,
 * in readdir order, as ls -l, find -ls and du do. */
struct walk_want {
	const char *name;
	long long size;
	mode_t mode; /* 0: the mount's default for files */
	long long uid; /* -1: not checked */
	long long mtime; /* -1: not checked */
};

static void walk_check(struct it_mount *m, const char *dir, size_t n_want,
		       const struct walk_want *want, size_t n_special)
{
	size_t n = 0, j = 0;
	char **names = it_list_dir(it_path(m, dir), &n);
	char path[PATH_MAX];

	IT_ASSERT_EQ_INT(n, n_want);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		IT_SNPRINTF(path, "%s/%s", it_path(m, dir), names[i]);
		IT_ASSERT_OK(lstat(path, &st));
		IT_ASSERT(S_ISREG(st.st_mode));
		IT_ASSERT_EQ_INT(st.st_size, strlen(dir) + 1 + strlen(names[i]));
		while (j < n_special && strcmp(want[j].name, names[i]) < 0)
			j++;
		if (j < n_special && strcmp(want[j].name, names[i]) == 0) {
			if (want[j].mode)
				IT_ASSERT_EQ_INT(st.st_mode & 07777,
						 want[j].mode);
			if (want[j].uid >= 0)
				IT_ASSERT_EQ_INT(st.st_uid, want[j].uid);
			if (want[j].mtime >= 0)
				IT_ASSERT_EQ_INT(st.st_mtime, want[j].mtime);
		} else {
			IT_ASSERT_EQ_INT(st.st_mode & 07777, 0644);
		}
	}
	it_strv_free(names);
}

/* PUT @p key with its own name as the body (as put_many does) and the
 * given s3fs-style metadata. */
static void put_with_meta(const char *bucket, const char *key, mode_t mode,
			  long long uid, long long mtime)
{
	char h_mode[64], h_uid[64], h_mtime[64];
	const char *hdrs[] = {h_mode, h_uid, h_mtime, NULL};

	IT_SNPRINTF(h_mode, "x-amz-meta-mode: %u", (unsigned)(S_IFREG | mode));
	IT_SNPRINTF(h_uid, "x-amz-meta-uid: %lld", uid);
	IT_SNPRINTF(h_mtime, "x-amz-meta-mtime: %lld", mtime);
	IT_ASSERT_EQ_INT(it_s3_put_hdrs(bucket, key, key, strlen(key), hdrs,
					NULL),
			 200);
}

/* Another writer rewrites @p key's metadata in place (a server-side
 * copy onto itself): the same bytes and ETag, a new Last-Modified, mode
 * 0700 and uid 78. */
static void chmod_remotely(const char *bucket, const char *key)
{
	char src[256];
	const char *hdrs[] = {src, "x-amz-metadata-directive: REPLACE",
			      "x-amz-meta-mode: 33216", "x-amz-meta-uid: 78",
			      NULL};

	IT_SNPRINTF(src, "x-amz-copy-source: /%s/%s", bucket, key);
	IT_ASSERT_EQ_INT(it_s3_request("PUT", bucket, key, NULL, hdrs, NULL, 0,
				       NULL),
			 200);
}

/* ls -l of a listed directory without listing_attrs: every file shows
 * its exact metadata (mode, owner, mtime from x-amz-meta-*), the HEADs
 * are sent ahead of the walk (prefetch), each file costs one HEAD at
 * most; once read, a version's metadata is remembered, so a later walk
 * costs only the listing, until another writer changes a file, which the
 * next walk shows. A stat of two files sends only a small window ahead. */
IT_TEST(test_ls_l_walk_prefetch_and_memo)
{
	enum { N = 600 };
	char **keys = numbered_keys("walk/f", N);
	struct walk_want want[] = {
		{"f0100", 0, 0600, 4321, 1234567890},
		{"f0200", 0, 0640, 77, 1300000000},
		{"f0300", 0, 0755, -1, -1},
	};
	unsigned long long heads, lists, used;
	char bucket[64], path[PATH_MAX];
	struct it_mount m;
	struct stat st;
	long t0;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, N);
	put_with_meta(bucket, "walk/f0100", 0600, 4321, 1234567890);
	put_with_meta(bucket, "walk/f0200", 0640, 77, 1300000000);
	put_with_meta(bucket, "walk/f0300", 0755, 0, 1400000000);
	/* Versions read at least 2 s after they were written are memoed. */
	sleep(3);
	it_mount(&m, bucket, "umask=022");

	/* A stat of two files of a big listing: a small window, no more. */
	IT_ASSERT_OK(stat(it_path(&m, "walk"), &st));
	{
		size_t n = 0;
		char **names = it_list_dir(it_path(&m, "walk"), &n);

		IT_ASSERT_EQ_INT(n, N);
		it_strv_free(names);
	}
	heads = it_mount_stat(&m, "head");
	IT_ASSERT_OK(stat(it_path(&m, "walk/f0010"), &st));
	IT_ASSERT_OK(stat(it_path(&m, "walk/f0011"), &st));
	usleep(500 * 1000); /* whatever was sent ahead has come back */
	it_log("stat of 2 files: %llu HEADs",
	       it_mount_stat(&m, "head") - heads);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 2 + 32 + 16);
	sleep(2); /* past attr_ttl and dir_ttl: the walk starts cold */

	/* Cold walk: exact metadata, one HEAD per file at most, sent ahead. */
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	used = it_mount_stat(&m, "prefetch_used");
	t0 = it_now_ms();
	walk_check(&m, "walk", N, want, 3);
	it_log("cold walk of %d: %ld ms, %llu HEAD, %llu LIST, %llu sent "
	       "ahead and used", N, it_now_ms() - t0,
	       it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "list") - lists,
	       it_mount_stat(&m, "prefetch_used") - used);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= N + 8);
	IT_ASSERT(it_mount_stat(&m, "prefetch_used") - used >= N / 2);
	sleep(2);

	/* Warm walk after the TTLs: the listing again, no HEAD per file. */
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	t0 = it_now_ms();
	walk_check(&m, "walk", N, want, 3);
	it_log("warm walk of %d: %ld ms, %llu HEAD, %llu LIST", N,
	       it_now_ms() - t0, it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "list") - lists);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 2);
	IT_ASSERT(it_mount_stat(&m, "list") - lists <= 3);

	/* Another writer: f0200's metadata rewritten in place (same bytes,
	 * so the same ETag, a new Last-Modified), f0300's content replaced
	 * (a new ETag; its metadata goes). */
	chmod_remotely(bucket, "walk/f0200");
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "walk/f0300", "walk/f0300",
				   strlen("walk/f0300"), NULL),
			 200);
	want[1].mode = 0700;
	want[1].uid = 78;
	want[1].mtime = -1;
	want[2].mode = 0644; /* the default: no x-amz-meta-mode any more */
	sleep(2);
	heads = it_mount_stat(&m, "head");
	walk_check(&m, "walk", N, want, 3);
	it_log("walk after two remote changes: %llu HEAD",
	       it_mount_stat(&m, "head") - heads);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 4);
	IT_SNPRINTF(path, "%s", it_path(&m, "walk/f0200"));
	IT_ASSERT_OK(lstat(path, &st));
	IT_ASSERT_EQ_INT(st.st_mode & 07777, 0700);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
}

/* The memo outlives the mount: a fresh mount of the same bucket lists a
 * directory an earlier mount walked with LISTs only and shows every
 * file's exact metadata; a version changed in between costs its HEAD and
 * shows the new metadata. A memo file others may write is not trusted. */
/*
 * The same file looked up again (a program checking one file, `stat`
 * twice) is no walk over its directory: nothing is sent ahead, where a
 * second name would open a window of 32 HEADs. Since a directory found
 * on the server has its first page cached, the first stat below lists
 * "pf" and the prefetcher sees both lookups.
 */
IT_TEST(test_same_name_twice_sends_nothing_ahead)
{
	enum { N = 40 };
	char **keys = numbered_keys("pf/f", N);
	unsigned long long heads, sent;
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, N);
	it_mount(&m, bucket, NULL);
	sent = it_mount_stat(&m, "prefetch_sent");
	IT_ASSERT_OK(stat(it_path(&m, keys[5]), &st));
	usleep(1200 * 1000); /* past attr_ttl, dir_ttl, the kernel's */
	heads = it_mount_stat(&m, "head");
	IT_ASSERT_OK(stat(it_path(&m, keys[5]), &st));
	usleep(300 * 1000);
	heads = it_mount_stat(&m, "head") - heads;
	sent = it_mount_stat(&m, "prefetch_sent") - sent;
	it_log("the same name twice: %llu HEAD the second time, %llu sent "
	       "ahead", heads, sent);
	IT_ASSERT_EQ_INT(heads, 1);
	IT_ASSERT_EQ_INT(sent, 0);
	/* Another name is a walk: the window opens. */
	IT_ASSERT_OK(stat(it_path(&m, keys[6]), &st));
	usleep(300 * 1000);
	IT_ASSERT(it_mount_stat(&m, "prefetch_sent") > 0);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
}

IT_TEST(test_memo_file_across_mounts)
{
	enum { N = 300 };
	char **keys = numbered_keys("keep/f", N);
	struct walk_want want[] = {
		{"f0100", 0, 0600, 4321, 1234567890},
		{"f0200", 0, 0640, 77, 1300000000},
	};
	unsigned long long heads, lists;
	char bucket[64], memo[PATH_MAX], opts[PATH_MAX + 64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, N);
	put_with_meta(bucket, "keep/f0100", 0600, 4321, 1234567890);
	put_with_meta(bucket, "keep/f0200", 0640, 77, 1300000000);
	sleep(3); /* versions read 2 s after they were written are memoed */
	IT_SNPRINTF(memo, "%s/bucket.memo", it_mkdtemp("memo"));
	IT_SNPRINTF(opts, "umask=022,memo_file=%s", memo);

	/* First mount: a HEAD per file, the memo saved at unmount. */
	it_mount(&m, bucket, opts);
	heads = it_mount_stat(&m, "head");
	walk_check(&m, "keep", N, want, 2);
	it_log("first mount's walk: %llu HEAD",
	       it_mount_stat(&m, "head") - heads);
	IT_ASSERT(it_mount_stat(&m, "head") - heads >= N);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	IT_ASSERT_OK(stat(memo, &st));
	IT_ASSERT_EQ_INT(st.st_mode & 0777, 0600);

	/* Another writer rewrites f0200's metadata in between. */
	chmod_remotely(bucket, "keep/f0200");
	want[1].mode = 0700;
	want[1].uid = 78;
	want[1].mtime = -1;

	/* Second mount: the listing only, but for the changed file. */
	it_mount(&m, bucket, opts);
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	walk_check(&m, "keep", N, want, 2);
	it_log("fresh mount with the memo: %llu HEAD, %llu LIST",
	       it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "list") - lists);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 2);
	IT_ASSERT(it_mount_stat(&m, "list") - lists <= 3);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);

	/* A memo others could have written is ignored: HEADs again. */
	IT_ASSERT_OK(chmod(memo, 0666));
	it_mount(&m, bucket, opts);
	heads = it_mount_stat(&m, "head");
	walk_check(&m, "keep", N, want, 2);
	IT_ASSERT(it_mount_stat(&m, "head") - heads >= N);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	IT_ASSERT_MSG(it_log_contains(&m, "ignoring metadata memo"),
		      "no \"ignoring metadata memo\" line in %s", m.log);
	it_strv_free(keys);
}

/* ls -l of a directory too big for one listing page outlasts the
 * listing's TTL (here 300 ms). Cold: the HEADs go on being sent ahead
 * over the names of the expired listing, not one by one. Warm: every
 * entry reaches the kernel with its attributes in the listing itself
 * (readdirplus for all of it, not only the first chunk), so the stats
 * after the listing expired need no request at all. */
IT_TEST(test_walk_outlasts_listing)
{
	enum { N = 1100 };
	char **keys = numbered_keys("big/f", N);
	unsigned long long heads, used;
	char bucket[64], path[PATH_MAX];
	struct it_mount m;
	struct stat st;
	char **names;
	size_t n = 0;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, N);
	sleep(3); /* old enough to be memoed once read */
	it_mount(&m, bucket, "dir_ttl=300");

	/* Cold: the walk starts while the listing is fresh, goes on after
	 * it expired. */
	names = it_list_dir(it_path(&m, "big"), &n);
	IT_ASSERT_EQ_INT(n, N);
	heads = it_mount_stat(&m, "head");
	used = it_mount_stat(&m, "prefetch_used");
	for (size_t i = 0; i < n; i++) {
		if (i == 2)
			usleep(400 * 1000); /* past dir_ttl */
		IT_SNPRINTF(path, "%s/%s", it_path(&m, "big"), names[i]);
		IT_ASSERT_OK(lstat(path, &st));
		IT_ASSERT_EQ_INT(st.st_size, strlen("big/") + strlen(names[i]));
		IT_ASSERT_EQ_INT(st.st_mode & 07777, 0644);
	}
	it_log("cold walk of %d outlasting its listing: %llu HEAD, %llu sent "
	       "ahead and used", N, it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "prefetch_used") - used);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= N + N / 10);
	IT_ASSERT(it_mount_stat(&m, "prefetch_used") - used >= N / 2);
	it_strv_free(names);
	sleep(2); /* past every TTL */

	/* Warm: the listing brings the attributes of every entry. */
	names = it_list_dir(it_path(&m, "big"), &n);
	IT_ASSERT_EQ_INT(n, N);
	heads = it_mount_stat(&m, "head");
	usleep(400 * 1000); /* past dir_ttl, within attr_ttl */
	for (size_t i = 0; i < n; i++) {
		IT_SNPRINTF(path, "%s/%s", it_path(&m, "big"), names[i]);
		IT_ASSERT_OK(lstat(path, &st));
		IT_ASSERT_EQ_INT(st.st_size, strlen("big/") + strlen(names[i]));
	}
	it_log("warm walk of %d outlasting its listing: %llu HEAD", N,
	       it_mount_stat(&m, "head") - heads);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 2);
	it_strv_free(names);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
}

/* An open directory pages through one listing (the kernel resumes at
 * offsets); rewinddir() starts over with a fresh one, which shows a file
 * created meanwhile. Every name exactly once each time. */
IT_TEST(test_readdir_rewind)
{
	const char *keys[] = {"r/a", "r/b", "r/c", NULL};
	char bucket[64];
	struct it_mount m;
	struct dirent *de;
	int fd, seen[5];
	DIR *dir;

	it_fresh_bucket(bucket);
	put_many(bucket, keys, 3);
	it_mount(&m, bucket, NULL);
	dir = opendir(it_path(&m, "r"));
	IT_ASSERT(dir != NULL);
	for (int round = 0; round < 2; round++) {
		memset(seen, 0, sizeof(seen));
		errno = 0;
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0)
				seen[0]++;
			else if (strcmp(de->d_name, "..") == 0)
				continue;
			else if (strlen(de->d_name) == 1 &&
				 de->d_name[0] >= 'a' && de->d_name[0] <= 'd')
				seen[1 + de->d_name[0] - 'a']++;
			else
				IT_FAIL("unexpected entry '%s'", de->d_name);
		}
		IT_ASSERT_EQ_INT(errno, 0);
		IT_ASSERT_EQ_INT(seen[0], 1);
		IT_ASSERT_EQ_INT(seen[1], 1);
		IT_ASSERT_EQ_INT(seen[2], 1);
		IT_ASSERT_EQ_INT(seen[3], 1);
		IT_ASSERT_EQ_INT(seen[4], round);
		if (round == 0) {
			fd = open(it_path(&m, "r/d"), O_WRONLY | O_CREAT, 0644);
			IT_ASSERT_OK(fd);
			IT_ASSERT_OK(close(fd));
			rewinddir(dir);
		}
	}
	IT_ASSERT_OK(closedir(dir));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Create @p n new files "dir/nNNN" through open(O_CREAT|O_EXCL) as cp does,
 * each holding its own name. */
static void create_burst(struct it_mount *m, const char *dir, int n)
{
	char rel[256];

	for (int i = 0; i < n; i++) {
		int fd;

		IT_SNPRINTF(rel, "%s/n%03d", dir, i);
		fd = open(it_path(m, rel), O_WRONLY | O_CREAT | O_EXCL, 0644);
		IT_ASSERT_OK(fd);
		IT_ASSERT_EQ_INT(write(fd, rel, strlen(rel)), strlen(rel));
		IT_ASSERT_OK(close(fd));
	}
}

/* Name after name in one directory (cp, tar): after the second lookup
 * that misses the caches, one LIST answers the rest, so a new file costs
 * its two PUTs (O_EXCL create, then content) and no HEAD. In a directory
 * made by mkdir every name is known absent. A directory of more than a
 * page is listed once, then looked up name by name. */
IT_TEST(test_create_burst_lists_instead_of_heads)
{
	enum { N = 40, BIG = 1100 };
	char **keys = numbered_keys("big/k", BIG);
	unsigned long long heads, lists, puts;
	char bucket[64], rel[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	put_many(bucket, (const char *const *)keys, BIG);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "old/a", "x", 1, NULL), 200);
	/* TTLs longer than the test: on a slow run (sanitizers) a listing
	 * expiring mid-burst would add a LIST and a HEAD to the counts. */
	it_mount(&m, bucket, "attr_ttl=60000,dir_ttl=60000");

	/* An existing directory, not listed: a burst of creates in it. */
	IT_ASSERT_OK(stat(it_path(&m, "old"), &st));
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	puts = it_mount_stat(&m, "put");
	create_burst(&m, "old", N);
	it_log("%d creates in a listed directory: %llu HEAD, %llu LIST, "
	       "%llu PUT", N, it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "list") - lists,
	       it_mount_stat(&m, "put") - puts);
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "put") - puts, 2 * N);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 2);
	IT_ASSERT(it_mount_stat(&m, "list") - lists <= 4);

	/* A new directory: known empty, no lookup request at all. */
	IT_ASSERT_OK(mkdir(it_path(&m, "fresh"), 0755));
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	create_burst(&m, "fresh", N);
	IT_ASSERT(it_mount_stat(&m, "head") - heads <= 1);
	IT_ASSERT(it_mount_stat(&m, "list") - lists <= 2);

	/* Everything landed, byte for byte, under the right keys. */
	for (int i = 0; i < N; i++) {
		void *data = NULL;
		size_t len = 0;

		IT_SNPRINTF(rel, "old/n%03d", i);
		IT_ASSERT_EQ_INT(it_s3_get(bucket, rel, &data, &len, NULL),
				 200);
		IT_ASSERT_EQ_INT(len, strlen(rel));
		IT_ASSERT_MEM(data, rel, len);
		free(data);
		IT_SNPRINTF(rel, "fresh/n%03d", i);
		IT_ASSERT_EQ_INT(it_s3_head(bucket, rel, NULL, NULL, NULL,
					    NULL, 0),
				 200);
	}

	/* A big directory: one page is tried once, then names are looked
	 * up one by one (a HEAD and a one-key LIST for a missing one). */
	IT_ASSERT_OK(stat(it_path(&m, "big"), &st));
	lists = it_mount_stat(&m, "list");
	heads = it_mount_stat(&m, "head");
	for (int i = 0; i < 20; i++) {
		IT_SNPRINTF(rel, "big/missing%02d", i);
		IT_ASSERT_ERRNO(stat(it_path(&m, rel), &st), ENOENT);
	}
	IT_SNPRINTF(rel, "big/k0007");
	IT_ASSERT_OK(stat(it_path(&m, rel), &st));
	IT_ASSERT_EQ_INT(st.st_size, strlen(rel));
	it_log("21 lookups in a directory of %d: %llu HEAD, %llu LIST", BIG,
	       it_mount_stat(&m, "head") - heads,
	       it_mount_stat(&m, "list") - lists);
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "list") - lists, 1 + 20);
	IT_ASSERT_EQ_INT(it_mount_stat(&m, "head") - heads, 21);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
}

/* 2,000 entries span two list pages of 1,000 keys (plus a third: 2,000
 * is not a multiple of what some servers return): every name once. */
/*
 * One stat of @p rel once every cached answer has expired (attr_ttl,
 * dir_ttl and the kernel's entry timeout are 1 s) and far enough from
 * the last lookup that no burst of misses lists the directory instead.
 * The requests it cost go to @p heads and @p lists, counted once the
 * LIST a found file no longer waits for has come back too. 0 or errno.
 */
static int stat_cold(struct it_mount *m, const char *rel, struct stat *st,
		     unsigned long long *heads, unsigned long long *lists)
{
	unsigned long long h, l;
	int rc;

	usleep(1200 * 1000);
	h = it_mount_stat(m, "head");
	l = it_mount_stat(m, "list");
	rc = stat(it_path(m, rel), st) == 0 ? 0 : errno;
	usleep(300 * 1000);
	*heads = it_mount_stat(m, "head") - h;
	*lists = it_mount_stat(m, "list") - l;
	it_log("stat %s: %s, %llu HEAD, %llu LIST", rel,
	       rc ? strerror(rc) : S_ISDIR(st->st_mode) ? "directory" : "file",
	       *heads, *lists);
	return rc;
}

/* enum of what a lookup must find, for expect_lookup() */
enum found { FOUND_FILE, FOUND_DIR, FOUND_NOTHING };

/* A stat_cold() of @p rel finds @p what (a file of @p size bytes) at
 * exactly @p want_heads HEADs and @p want_lists LISTs. */
static void expect_lookup(struct it_mount *m, const char *rel,
			  enum found what, off_t size, int want_heads,
			  int want_lists)
{
	unsigned long long heads, lists;
	struct stat st;
	int rc = stat_cold(m, rel, &st, &heads, &lists);

	switch (what) {
	case FOUND_FILE:
		IT_ASSERT_EQ_INT(rc, 0);
		IT_ASSERT_MSG(S_ISREG(st.st_mode), "%s is not a file", rel);
		IT_ASSERT_EQ_INT(st.st_size, size);
		break;
	case FOUND_DIR:
		IT_ASSERT_EQ_INT(rc, 0);
		IT_ASSERT_MSG(S_ISDIR(st.st_mode), "%s is not a directory",
			      rel);
		break;
	case FOUND_NOTHING:
		IT_ASSERT_EQ_INT(rc, ENOENT);
		break;
	}
	IT_ASSERT_MSG(heads == (unsigned long long)want_heads &&
			      lists == (unsigned long long)want_lists,
		      "stat %s cost %llu HEAD and %llu LIST, expected %d and "
		      "%d",
		      rel, heads, lists, want_heads, want_lists);
}

/*
 * A lookup that must go to the server costs one round trip. A name never
 * seen gets its HEAD and a one-key LIST at once (it_faults proves they
 * overlap); a name whose kind is remembered, even from an expired cache
 * entry, gets one request: a HEAD for a file, a LIST for a directory or
 * a missing name. When another client changed the kind meanwhile, the
 * answer is still exact (then at two requests).
 */
IT_TEST(test_lookup_request_per_kind)
{
	char bucket[64], key[32];
	struct it_mount m;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", "hello", 5, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "d/child", "c", 1, NULL), 200);
	/* 150 names that sort before "x/": a one-page probe of "x" cannot
	 * reach the directory and must ask once more. */
	for (int i = 0; i < 150; i++) {
		IT_SNPRINTF(key, "x.%03d", i);
		IT_ASSERT_EQ_INT(it_s3_put(bucket, key, "", 0, NULL), 200);
	}
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "x/child", "c", 1, NULL), 200);
	it_mount(&m, bucket, NULL);

	/* Never seen: both requests, whatever the name is. */
	expect_lookup(&m, "f", FOUND_FILE, 5, 1, 1);
	expect_lookup(&m, "d", FOUND_DIR, 0, 1, 1);
	expect_lookup(&m, "nope", FOUND_NOTHING, 0, 1, 1);
	expect_lookup(&m, "x", FOUND_DIR, 0, 1, 1);

	/* Known, though expired: one request each. The probe's page of
	 * "x" ended before "x/": asked again, exactly. */
	expect_lookup(&m, "f", FOUND_FILE, 5, 1, 0);
	expect_lookup(&m, "d", FOUND_DIR, 0, 0, 1);
	expect_lookup(&m, "nope", FOUND_NOTHING, 0, 0, 1);
	expect_lookup(&m, "x", FOUND_DIR, 0, 0, 2);

	/* Another client turns the file into a directory, the directory
	 * into a file, and creates the missing name: exact answers, at a
	 * second request... */
	IT_ASSERT_EQ_INT(it_s3_delete(bucket, "f"), 204);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f/inner", "i", 1, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_delete(bucket, "d/child"), 204);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "d", "dd", 2, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "nope", "new!", 4, NULL), 200);
	expect_lookup(&m, "f", FOUND_DIR, 0, 1, 1);
	expect_lookup(&m, "d", FOUND_FILE, 2, 1, 1);
	expect_lookup(&m, "nope", FOUND_FILE, 4, 1, 1);
	/* ... and the new kinds are what is remembered now. */
	expect_lookup(&m, "f", FOUND_DIR, 0, 0, 1);
	expect_lookup(&m, "nope", FOUND_FILE, 4, 1, 0);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_readdir_2000)
{
	enum { N = 2000 };
	char **keys = numbered_keys("many/entry-", N);
	char **names = calloc(N + 1, sizeof(*names));
	char bucket[64];
	struct it_mount m;
	long t0;
	size_t n = 0;
	char **got;

	IT_ASSERT(names != NULL);
	for (size_t i = 0; i < N; i++)
		names[i] = keys[i] + strlen("many/");
	it_fresh_bucket(bucket);
	t0 = it_now_ms();
	put_many(bucket, (const char *const *)keys, N);
	it_log("%d objects put in %ld ms", N, it_now_ms() - t0);
	it_mount(&m, bucket, NULL);
	got = it_list_dir(it_path(&m, "many"), &n);
	IT_ASSERT_EQ_INT(n, N);
	for (size_t i = 0; i < N; i++)
		IT_ASSERT_EQ_STR(got[i], names[i]);
	it_strv_free(got);
	/* The root lists the directory once, whatever the page size. */
	{
		static const char *const root[] = {"many"};

		expect_listing(it_path(&m, NULL), root, 1);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	it_strv_free(keys);
	free(names);
}

IT_TEST(test_rename_file)
{
	static const char data[] = "renamed content";
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "r1"), data, strlen(data)),
			 0);
	IT_ASSERT_OK(rename(it_path(&m, "r1"), it_path(&m, "r2")));
	expect_server(bucket, "r2", data, strlen(data));
	expect_absent(bucket, "r1");
	IT_ASSERT_ERRNO(stat(it_path(&m, "r1"), &st), ENOENT);
	IT_ASSERT_OK(stat(it_path(&m, "r2"), &st));
	IT_ASSERT_EQ_INT(st.st_size, strlen(data));
	/* Into a directory. */
	IT_ASSERT_OK(mkdir(it_path(&m, "dd"), 0755));
	IT_ASSERT_OK(rename(it_path(&m, "r2"), it_path(&m, "dd/r3")));
	expect_server(bucket, "dd/r3", data, strlen(data));
	expect_absent(bucket, "r2");
	IT_ASSERT_ERRNO(rename(it_path(&m, "nope"), it_path(&m, "x")),
			ENOENT);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * The lookups a rename must send itself follow what the mount knows: a
 * HEAD for the source it saw as a file, one LIST for a destination its
 * fresh listing of the directory lacks (not a HEAD 404 and a LIST).
 * On RGW the delete is a HEAD If-Match and a DELETE.
 */
IT_TEST(test_rename_sends_one_lookup_each)
{
	unsigned long long heads, lists, copies, deletes;
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "rn/a", "abc", 3, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "rn/other", "o", 1, NULL), 200);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "rn/a"), &st));
	IT_ASSERT_OK(stat(it_path(&m, "rn/other"), &st));
	heads = it_mount_stat(&m, "head");
	lists = it_mount_stat(&m, "list");
	copies = it_mount_stat(&m, "copy");
	deletes = it_mount_stat(&m, "delete");
	IT_ASSERT_OK(rename(it_path(&m, "rn/a"), it_path(&m, "rn/b")));
	heads = it_mount_stat(&m, "head") - heads;
	lists = it_mount_stat(&m, "list") - lists;
	copies = it_mount_stat(&m, "copy") - copies;
	deletes = it_mount_stat(&m, "delete") - deletes;
	it_log("rename to a new name: %llu HEAD, %llu LIST, %llu COPY, "
	       "%llu DELETE", heads, lists, copies, deletes);
	IT_ASSERT_EQ_INT(heads, 2);
	IT_ASSERT_EQ_INT(lists, 1);
	IT_ASSERT_EQ_INT(copies, 1);
	IT_ASSERT_EQ_INT(deletes, 1);
	expect_server(bucket, "rn/b", "abc", 3);
	expect_absent(bucket, "rn/a");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_rename_directory_tree)
{
	static const char *const after[] = {"ee/", "ee/a", "ee/sub/",
					    "ee/sub/b", "ee/sub/deeper/c",
					    "other"};
	static const char *const listing[] = {"a", "sub"};
	char bucket[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(mkdir(it_path(&m, "dd"), 0755));
	IT_ASSERT_OK(mkdir(it_path(&m, "dd/sub"), 0755));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "dd/a"), "A", 1), 0);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "dd/sub/b"), "BB", 2), 0);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "other"), "O", 1), 0);
	/* A key put by someone else below an implicit subdirectory. */
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "dd/sub/deeper/c", "CCC", 3, NULL),
			 200);
	IT_ASSERT_OK(rename(it_path(&m, "dd"), it_path(&m, "ee")));
	expect_keys(bucket, after, sizeof(after) / sizeof(after[0]));
	expect_server(bucket, "ee/a", "A", 1);
	expect_server(bucket, "ee/sub/b", "BB", 2);
	expect_server(bucket, "ee/sub/deeper/c", "CCC", 3);
	IT_ASSERT_ERRNO(stat(it_path(&m, "dd"), &st), ENOENT);
	expect_listing(it_path(&m, "ee"), listing, 2);
	/* A directory cannot move into itself. */
	IT_ASSERT_ERRNO(rename(it_path(&m, "ee"), it_path(&m, "ee/sub/in")),
			EINVAL);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_rename_replaces_file)
{
	static const char *const keys[] = {"y"};
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "x"), "xxx", 3), 0);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "y"), "yyyyyy", 6), 0);
	IT_ASSERT_OK(rename(it_path(&m, "x"), it_path(&m, "y")));
	expect_server(bucket, "y", "xxx", 3);
	expect_keys(bucket, keys, 1);
	{
		void *data = NULL;
		size_t len = 0;

		IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "y"), &data, &len),
				 0);
		IT_ASSERT_EQ_INT(len, 3);
		IT_ASSERT_MEM(data, "xxx", 3);
		free(data);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

IT_TEST(test_rename_dir_onto_nonempty_dir)
{
	static const char *const keys[] = {"s/", "s/f", "t/", "t/g"};
	char bucket[64];
	struct it_mount m;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(mkdir(it_path(&m, "s"), 0755));
	IT_ASSERT_OK(mkdir(it_path(&m, "t"), 0755));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "s/f"), "F", 1), 0);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "t/g"), "G", 1), 0);
	IT_ASSERT_ERRNO(rename(it_path(&m, "s"), it_path(&m, "t")),
			ENOTEMPTY);
	expect_keys(bucket, keys, 4);
	/* File onto directory and directory onto file. */
	IT_ASSERT_ERRNO(rename(it_path(&m, "s/f"), it_path(&m, "t")), EISDIR);
	IT_ASSERT_ERRNO(rename(it_path(&m, "s"), it_path(&m, "t/g")),
			ENOTDIR);
	expect_keys(bucket, keys, 4);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* The log of @p m holds @p line exactly once. */
static void expect_log_once(const struct it_mount *m, const char *line)
{
	size_t n = it_log_count(m, line);

	IT_ASSERT_MSG(n == 1, "\"%s\" is %zu times in %s, want once", line,
		      n, m->log);
}

/* Every listing of the mount of test_unrepresentable_keys: the good
 * names show, the unnameable ones do not, and the good ones read. */
static void list_all_checked(const struct it_mount *m)
{
	static const char *const dl[] = {"ok"};
	static const char *const ll[] = {"fine"};
	bool good = false, d = false, lng = false;
	void *data = NULL;
	size_t len = 0, n = 0;
	char **root = it_list_dir(it_path(m, NULL), &n);

	/* Root: good.txt, d and long must show; "bad" may show as an
	 * (empty-looking) directory, nothing else may. */
	for (size_t i = 0; i < n; i++) {
		good |= strcmp(root[i], "good.txt") == 0;
		d |= strcmp(root[i], "d") == 0;
		lng |= strcmp(root[i], "long") == 0;
		IT_ASSERT_MSG(strcmp(root[i], "good.txt") == 0 ||
				      strcmp(root[i], "d") == 0 ||
				      strcmp(root[i], "long") == 0 ||
				      strcmp(root[i], "bad") == 0,
			      "unexpected root entry '%s'", root[i]);
	}
	IT_ASSERT(good && d && lng);
	it_strv_free(root);
	expect_listing(it_path(m, "d"), dl, 1);
	expect_listing(it_path(m, "long"), ll, 1);
	IT_ASSERT_EQ_INT(it_read_file(it_path(m, "d/ok"), &data, &len), 0);
	IT_ASSERT_EQ_INT(len, 4);
	IT_ASSERT_MEM(data, "d/ok", 4);
	free(data);
}

/* Keys that cannot be file names are skipped, with one log line each per
 * mount however often they are listed; everything else shows and the
 * mount survives. */
IT_TEST(test_unrepresentable_keys)
{
	char long_key[320];
	const char *const keys[] = {"bad//x", "d/./y",	  "d/../z",
				    long_key, "d/ok",	  "good.txt",
				    "long/fine"};
	char bucket[64];
	char line[400];
	unsigned long long lists;
	struct it_mount m;

	memcpy(long_key, "long/", 5);
	memset(long_key + 5, 'a', 300);
	long_key[305] = '\0';
	it_fresh_bucket(bucket);
	put_many(bucket, keys, sizeof(keys) / sizeof(keys[0]));
	/* Sorted as S3 lists them; they reached the server unchanged. */
	{
		const char *const want[] = {"bad//x",   "d/../z", "d/./y",
					    "d/ok",	"good.txt", long_key,
					    "long/fine"};

		expect_keys(bucket, want, sizeof(want) / sizeof(want[0]));
	}
	/* No directory cache: every listing asks the server again and
	 * meets the unnameable keys again. */
	it_mount(&m, bucket, "dir_ttl=0,attr_ttl=0");
	list_all_checked(&m);
	lists = it_mount_stat(&m, "list");
	list_all_checked(&m);
	/* Root, d/ and long/ again at least. */
	IT_ASSERT_MSG(it_mount_stat(&m, "list") - lists >= 3,
		      "the second listings were served without the server");
	/* The skipped keys are left alone. */
	expect_server(bucket, "bad//x", "bad//x", 6);
	expect_server(bucket, long_key, long_key, strlen(long_key));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	/* Each skipped name said so once, though listed twice or more. */
	expect_log_once(&m, "skipping prefix 'd/./': it cannot be a "
			    "directory name");
	expect_log_once(&m, "skipping prefix 'd/../': it cannot be a "
			    "directory name");
	IT_SNPRINTF(line, "skipping key '%s': it cannot be a file name",
		    long_key);
	expect_log_once(&m, line);
}

IT_TEST(test_prefix_mount)
{
	static const char *const inside[] = {"in.txt", "inner"};
	static const char *const after[] = {"other.txt", "sub/in.txt",
					    "sub/inner/deep", "sub/nd/",
					    "sub/new.txt", "subx/no"};
	char bucket[64], spec[80];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "sub/in.txt", "IN", 2, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "sub/inner/deep", "D", 1, NULL),
			 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "other.txt", "OUT", 3, NULL), 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "subx/no", "NO", 2, NULL), 200);
	snprintf(spec, sizeof(spec), "%s:/sub", bucket);
	it_mount(&m, spec, NULL);
	expect_listing(it_path(&m, NULL), inside, 2);
	IT_ASSERT_ERRNO(stat(it_path(&m, "other.txt"), &st), ENOENT);
	{
		void *data = NULL;
		size_t len = 0;

		IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "in.txt"), &data,
					      &len), 0);
		IT_ASSERT_EQ_INT(len, 2);
		IT_ASSERT_MEM(data, "IN", 2);
		free(data);
	}
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "new.txt"), "NEW", 3), 0);
	IT_ASSERT_OK(mkdir(it_path(&m, "nd"), 0755));
	expect_keys(bucket, after, sizeof(after) / sizeof(after[0]));
	expect_server(bucket, "sub/new.txt", "NEW", 3);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}
