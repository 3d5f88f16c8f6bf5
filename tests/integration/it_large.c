/*
 * Large files through a real mount: a 200 MiB file streamed in and out
 * (compared by SHA-256 computed on the streams, never held twice in
 * memory), and the single_put_limit rules on a server whose multipart
 * Complete ignores conditions (RGW 16.2).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MIB ((size_t)1024 * 1024)
#define SHA_LEN 32

/* SHA-256 of a byte stream fed in pieces. */
struct sha {
	EVP_MD_CTX *ctx;
};

static void sha_init(struct sha *s)
{
	s->ctx = EVP_MD_CTX_new();
	IT_ASSERT(s->ctx != NULL);
	IT_ASSERT(EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) == 1);
}

static void sha_add(struct sha *s, const void *p, size_t n)
{
	IT_ASSERT(EVP_DigestUpdate(s->ctx, p, n) == 1);
}

static void sha_final(struct sha *s, unsigned char out[SHA_LEN])
{
	unsigned int len = 0;

	IT_ASSERT(EVP_DigestFinal_ex(s->ctx, out, &len) == 1);
	IT_ASSERT_EQ_INT(len, SHA_LEN);
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* Chunk @p i of the deterministic content: 1 MiB from seed 1000 + i. */
static void chunk_of(unsigned char *buf, size_t i)
{
	it_random_bytes(buf, MIB, 1000 + (uint64_t)i);
}

/*
 * GET an object streamed into a SHA-256 (the harness's client keeps
 * bodies in memory): size and digest. Status of the response.
 */
struct stream_get {
	struct sha sha;
	unsigned long long size;
};

static size_t stream_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream_get *g = ud;

	if (EVP_DigestUpdate(g->sha.ctx, ptr, size * nmemb) != 1)
		return 0;
	g->size += size * nmemb;
	return size * nmemb;
}

static long get_streamed(const char *bucket, const char *key,
			 unsigned long long *size, unsigned char sha[SHA_LEN])
{
	struct curl_slist *hl = NULL;
	struct stream_get g = {.size = 0};
	char sigv4[128], url[1024];
	long status = 0;
	CURL *e = curl_easy_init();
	CURLcode rc;

	IT_ASSERT(e != NULL);
	sha_init(&g.sha);
	hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	IT_ASSERT(hl != NULL);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", it_env.region);
	snprintf(url, sizeof(url), "%s/%s/%s", it_env.endpoint, bucket, key);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(e, CURLOPT_USERNAME, it_env.access_key);
	curl_easy_setopt(e, CURLOPT_PASSWORD, it_env.secret_key);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
	rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		it_log("streamed GET %s: %s", key, curl_easy_strerror(rc));
	curl_easy_cleanup(e);
	curl_slist_free_all(hl);
	sha_final(&g.sha, sha);
	*size = g.size;
	return status;
}

static void write_all(int fd, const void *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		IT_ASSERT_MSG(n > 0, "write: %s", strerror(errno));
		done += (size_t)n;
	}
}

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

/* Mount with staging and conflict copies in the test's scratch dir (a
 * refused 9 MiB commit leaves a copy), plus @p extra. */
static void mount_scratch(struct it_mount *m, const char *bucket,
			  const char *extra)
{
	char opts[3 * PATH_MAX];

	snprintf(opts, sizeof(opts), "staging_dir=%s,conflict_dir=%s%s%s",
		 it_mkdtemp("stage"), it_mkdtemp("conflicts"),
		 extra ? "," : "", extra ? extra : "");
	it_mount(m, bucket, opts);
}

static void expect_no_uploads(const char *bucket)
{
	size_t n = 99;
	char **ups = it_s3_list_multipart_uploads(bucket, &n);

	IT_ASSERT(ups != NULL);
	IT_ASSERT_MSG(n == 0, "%zu multipart uploads left, first '%s'", n,
		      ups[0]);
	it_strv_free(ups);
}

IT_TEST(test_200mib_round_trip)
{
	enum { CHUNKS = 200 };
	unsigned char *buf = malloc(MIB), want[SHA_LEN], got[SHA_LEN];
	unsigned long long size = 0;
	char bucket[64];
	struct it_mount m;
	struct sha sha;
	struct stat st;
	size_t done = 0;
	long t0;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	mount_scratch(&m, bucket, NULL);

	t0 = it_now_ms();
	sha_init(&sha);
	fd = open(it_path(&m, "big.bin"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	for (size_t i = 0; i < CHUNKS; i++) {
		chunk_of(buf, i);
		sha_add(&sha, buf, MIB);
		write_all(fd, buf, MIB);
	}
	IT_ASSERT_OK(close(fd));
	sha_final(&sha, want);
	it_log("200 MiB written and committed in %ld ms", it_now_ms() - t0);

	t0 = it_now_ms();
	IT_ASSERT_EQ_INT(get_streamed(bucket, "big.bin", &size, got), 200);
	IT_ASSERT_EQ_INT(size, (unsigned long long)CHUNKS * MIB);
	IT_ASSERT_MSG(memcmp(got, want, SHA_LEN) == 0,
		      "SHA-256 of the object differs from what was written");
	it_log("streamed GET in %ld ms", it_now_ms() - t0);

	/* Read back through the mount, chunk by chunk against the
	 * generator, so a difference is located, not just detected. */
	t0 = it_now_ms();
	IT_ASSERT_OK(stat(it_path(&m, "big.bin"), &st));
	IT_ASSERT_EQ_INT(st.st_size, (long long)CHUNKS * MIB);
	fd = open(it_path(&m, "big.bin"), O_RDONLY);
	IT_ASSERT_OK(fd);
	{
		unsigned char *rd = malloc(MIB);

		IT_ASSERT(rd != NULL);
		for (size_t i = 0; i < CHUNKS; i++) {
			size_t have = 0;

			while (have < MIB) {
				ssize_t n = read(fd, rd + have, MIB - have);

				if (n < 0 && errno == EINTR)
					continue;
				IT_ASSERT_MSG(n > 0, "read at %zu: %s",
					      done + have,
					      n == 0 ? "early EOF"
						     : strerror(errno));
				have += (size_t)n;
			}
			chunk_of(buf, i);
			IT_ASSERT_MSG(memcmp(rd, buf, MIB) == 0,
				      "MiB %zu read through the mount differs",
				      i);
			done += MIB;
		}
		IT_ASSERT_EQ_INT(read(fd, rd, 1), 0);
		free(rd);
	}
	IT_ASSERT_OK(close(fd));
	it_log("read back through the mount in %ld ms", it_now_ms() - t0);
	free(buf);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Fill @p fd with @p len bytes of chunk_of(), @p buf 1 MiB of scratch. */
static void write_pattern(int fd, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i * MIB < len; i++) {
		size_t n = len - i * MIB < MIB ? len - i * MIB : MIB;

		chunk_of(buf, i);
		write_all(fd, buf, n);
	}
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len + MIB);

	IT_ASSERT(p != NULL);
	for (size_t i = 0; i * MIB < len; i++)
		chunk_of(p + i * MIB, i);
	return p;
}

/* Over the single-PUT limit, on a server whose Complete ignores
 * conditions: the commit is refused, nothing on the server changes. */
IT_TEST(test_over_single_put_limit_efbig)
{
	static const char orig[] = "the original, small";
	const size_t len = 9 * MIB;
	unsigned char *buf = malloc(MIB);
	char bucket[64], etag0[IT_ETAG_MAX], etag1[IT_ETAG_MAX];
	struct it_mount m;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", orig, strlen(orig), etag0),
			 200);
	mount_scratch(&m, bucket, "single_put_limit=8M");

	fd = open(it_path(&m, "f"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, len);
	IT_ASSERT_ERRNO(close(fd), EFBIG);
	expect_server(bucket, "f", orig, strlen(orig));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "f", NULL, etag1, NULL, NULL, 0),
			 200);
	IT_ASSERT_EQ_STR(etag1, etag0);

	/* A new file: refused too, and no object appears. */
	fd = open(it_path(&m, "n"), O_CREAT | O_WRONLY, 0644);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, len);
	IT_ASSERT_ERRNO(close(fd), EFBIG);
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "n", NULL, NULL, NULL, NULL, 0),
			 404);
	expect_no_uploads(bucket);
	/* Exactly at the limit is one PUT and works. */
	{
		unsigned char *want = pattern(8 * MIB);

		fd = open(it_path(&m, "at"), O_CREAT | O_WRONLY, 0644);
		IT_ASSERT_OK(fd);
		write_pattern(fd, buf, 8 * MIB);
		IT_ASSERT_OK(close(fd));
		expect_server(bucket, "at", want, 8 * MIB);
		free(want);
	}
	free(buf);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* With nonatomic_multipart the same commit goes through as a multipart
 * upload (HEAD-checked), with exact bytes. */
IT_TEST(test_nonatomic_multipart)
{
	const size_t len = 9 * MIB;
	unsigned char *buf = malloc(MIB), *want = pattern(len);
	char bucket[64], etag[IT_ETAG_MAX];
	struct it_mount m;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", "orig", 4, NULL), 200);
	mount_scratch(&m, bucket,
		      "single_put_limit=8M,nonatomic_multipart,part_size=5M");
	fd = open(it_path(&m, "f"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, len);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "f", want, len);
	/* 9 MiB in 5 MiB parts: a two-part upload's ETag ends in "-2". */
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "f", NULL, etag, NULL, NULL, 0),
			 200);
	IT_ASSERT_MSG(strstr(etag, "-2") != NULL,
		      "ETag %s is not a two-part upload's", etag);
	expect_no_uploads(bucket);

	/* The HEAD check still catches a change made after open. */
	fd = open(it_path(&m, "f"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", "theirs", 6, NULL), 200);
	write_pattern(fd, buf, len);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_server(bucket, "f", "theirs", 6);
	expect_no_uploads(bucket);
	free(buf);
	free(want);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * Parts go up part_concurrency at a time. 23 MiB in 5 MiB parts is five
 * parts whatever order they finish in: the object holds exactly the
 * bytes written (read back by the independent client), its ETag is a
 * five-part upload's, and no upload is left behind. The first time the
 * parts go up while the file is written (the default), the second time
 * one at a time at close() (part_concurrency=1, no_stream_upload): the
 * same bytes and the same ETag (the ETag of a multipart object is a hash
 * of its part hashes in order), so the stream cut the same parts.
 */
IT_TEST(test_parallel_parts)
{
	const size_t len = 23 * MIB;
	unsigned char *buf = malloc(MIB), *want = pattern(len);
	char bucket[64], etag[IT_ETAG_MAX], etag1[IT_ETAG_MAX];
	static const char *const opts[] = {
		"single_put_limit=8M,nonatomic_multipart,part_size=5M,"
		"part_concurrency=4",
		"single_put_limit=8M,nonatomic_multipart,part_size=5M,"
		"part_concurrency=1,no_stream_upload",
	};
	struct it_mount m;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	for (size_t i = 0; i < 2; i++) {
		mount_scratch(&m, bucket, opts[i]);
		fd = open(it_path(&m, "f"), O_WRONLY | O_CREAT | O_TRUNC,
			  0644);
		IT_ASSERT_OK(fd);
		write_pattern(fd, buf, len);
		IT_ASSERT_OK(close(fd));
		expect_server(bucket, "f", want, len);
		IT_ASSERT_EQ_INT(it_s3_head(bucket, "f", NULL,
					    i == 0 ? etag : etag1, NULL, NULL,
					    0),
				 200);
		IT_ASSERT_MSG(strstr(i == 0 ? etag : etag1, "-5") != NULL,
			      "ETag %s is not a five-part upload's",
			      i == 0 ? etag : etag1);
		expect_no_uploads(bucket);
		IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	}
	IT_ASSERT_EQ_STR(etag, etag1);
	free(buf);
	free(want);
}

/* ------------------------------------------- the upload behind the writer */

/* How a streaming test mounts: commits past 8 MiB are multipart (with a
 * HEAD check on this RGW, whose Complete ignores conditions), 5 MiB
 * parts, and the upload goes on while the file is written. */
#define STREAM_OPTS "single_put_limit=8M,nonatomic_multipart,part_size=5M"

/* Seconds of x-amz-meta-mtime of @p key. */
static long long meta_mtime(const char *bucket, const char *key)
{
	char val[64] = "";

	IT_ASSERT_EQ_INT(it_s3_head(bucket, key, NULL, NULL,
				    "x-amz-meta-mtime", val, sizeof(val)),
			 200);
	IT_ASSERT_MSG(val[0] != '\0', "'%s' has no x-amz-meta-mtime", key);
	return atoll(val);
}

/* Create @p name, write @p len bytes of the pattern and wait until
 * @p parts parts of its upload are stored; the descriptor, still open. */
static int open_streaming(struct it_mount *m, const char *bucket,
			  const char *name, unsigned char *buf, size_t len,
			  int parts)
{
	int fd = open(it_path(m, name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, len);
	it_s3_wait_upload_parts(bucket, name, parts);
	return fd;
}

/*
 * Past single_put_limit the parts go up while the application is still
 * writing: with the file open and 12 MiB written, the server holds an
 * upload of it with parts stored, and no object yet (nothing is visible
 * before Complete). After close() the object holds exactly the bytes
 * written, as a five-part upload, its mtime between open and close, and
 * no upload is left. With no_stream_upload nothing goes up before
 * close().
 */
IT_TEST(test_stream_upload_while_writing)
{
	const size_t len = 23 * MIB;
	unsigned char *buf = malloc(MIB), *want = pattern(len);
	char bucket[64], etag[IT_ETAG_MAX];
	struct it_mount m;
	long long t0, mtime;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	mount_scratch(&m, bucket, STREAM_OPTS);
	t0 = (long long)time(NULL);
	fd = open(it_path(&m, "s"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, 12 * MIB);
	it_log("12 MiB written, %d parts stored before close",
	       it_s3_wait_upload_parts(bucket, "s", 2));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "s", NULL, NULL, NULL, NULL, 0),
			 404);
	for (size_t i = 12; i < 23; i++) {
		chunk_of(buf, i);
		write_all(fd, buf, MIB);
	}
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "s", want, len);
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "s", NULL, etag, NULL, NULL, 0),
			 200);
	IT_ASSERT_MSG(strstr(etag, "-5") != NULL,
		      "ETag %s is not a five-part upload's", etag);
	mtime = meta_mtime(bucket, "s");
	IT_ASSERT_MSG(mtime >= t0 && mtime <= (long long)time(NULL),
		      "mtime %lld is not between open (%lld) and close",
		      mtime, t0);
	expect_no_uploads(bucket);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);

	mount_scratch(&m, bucket, STREAM_OPTS ",no_stream_upload");
	fd = open(it_path(&m, "n"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, 12 * MIB);
	usleep(1000 * 1000); /* a stream creates its upload in milliseconds */
	IT_ASSERT_EQ_INT(it_s3_upload_parts(bucket, "n"), -1);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "n", want, 12 * MIB);
	expect_no_uploads(bucket);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	free(buf);
	free(want);
}

/*
 * What the stream cannot be: a write into bytes already sent, an
 * explicit mtime (cp -p, touch) and a truncate below them. Each commit
 * then uploads from the staging file: the object holds exactly the final
 * bytes and mtime, and the abandoned upload is aborted, not left behind.
 */
IT_TEST(test_stream_abandoned)
{
	static const char patch[] = "rewritten after it was sent";
	const size_t len = 14 * MIB;
	unsigned char *buf = malloc(MIB), *want = pattern(len);
	const struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
	char bucket[64];
	struct it_mount m;
	int fd;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	mount_scratch(&m, bucket, STREAM_OPTS);

	/* A header rewritten at the end, as archivers and muxers do. */
	fd = open_streaming(&m, bucket, "w", buf, len, 1);
	IT_ASSERT_EQ_INT(pwrite(fd, patch, sizeof(patch) - 1, 100),
			 (ssize_t)sizeof(patch) - 1);
	IT_ASSERT_OK(close(fd));
	memcpy(want + 100, patch, sizeof(patch) - 1);
	expect_server(bucket, "w", want, len);
	expect_no_uploads(bucket);

	/* An mtime set before close() (cp -p). */
	fd = open_streaming(&m, bucket, "t", buf, len, 1);
	IT_ASSERT_OK(futimens(fd, times));
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(meta_mtime(bucket, "t"), 1000000000);
	expect_no_uploads(bucket);

	/* Cut to 9 MiB after the first 10 were sent. */
	fd = open_streaming(&m, bucket, "c", buf, len, 2);
	IT_ASSERT_OK(ftruncate(fd, 9 * MIB));
	IT_ASSERT_OK(close(fd));
	free(want);
	want = pattern(9 * MIB);
	expect_server(bucket, "c", want, 9 * MIB);
	expect_no_uploads(bucket);

	/* Removed while being written: nothing is published. */
	fd = open_streaming(&m, bucket, "u", buf, len, 1);
	IT_ASSERT_OK(unlink(it_path(&m, "u")));
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "u", NULL, NULL, NULL, NULL, 0),
			 404);
	expect_no_uploads(bucket);
	free(buf);
	free(want);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * Another writer replaces the object while our upload streams: close()
 * fails with EBUSY, the object keeps their bytes, our upload is aborted
 * and our bytes are kept as a conflict copy.
 */
IT_TEST(test_stream_conflict)
{
	const size_t len = 14 * MIB;
	unsigned char *buf = malloc(MIB);
	char bucket[64], conflicts[PATH_MAX], opts[2 * PATH_MAX];
	struct it_mount m;
	struct dirent *de;
	struct stat sb;
	int fd, copies = 0;
	DIR *d;

	IT_ASSERT(buf != NULL);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", "orig", 4, NULL), 200);
	snprintf(conflicts, sizeof(conflicts), "%s", it_mkdtemp("conflicts"));
	snprintf(opts, sizeof(opts), "staging_dir=%s,conflict_dir=%s,%s",
		 it_mkdtemp("stage"), conflicts, STREAM_OPTS);
	it_mount(&m, bucket, opts);
	fd = open(it_path(&m, "f"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	write_pattern(fd, buf, 10 * MIB);
	it_s3_wait_upload_parts(bucket, "f", 1);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "f", "theirs", 6, NULL), 200);
	for (size_t i = 10; i < len / MIB; i++) {
		chunk_of(buf, i);
		write_all(fd, buf, MIB);
	}
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_server(bucket, "f", "theirs", 6);
	expect_no_uploads(bucket);
	/* Copies go to conflict_dir/<bucket>/. */
	snprintf(opts, sizeof(opts), "%s/%s", conflicts, bucket);
	d = opendir(opts);
	IT_ASSERT_MSG(d != NULL, "opendir %s: %s", opts, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[3 * PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", opts, de->d_name);
		IT_ASSERT_OK(stat(path, &sb));
		if (S_ISREG(sb.st_mode) && (size_t)sb.st_size == len)
			copies++;
	}
	closedir(d);
	IT_ASSERT_EQ_INT(copies, 1);
	free(buf);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}
