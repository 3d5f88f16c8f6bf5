/*
 * Network faults between etagfs and the server, injected by a loopback
 * proxy (faultproxy.h): lost responses of writes that landed (the
 * ambiguous commit), requests that never arrived, throttling, a real
 * conflict hidden behind a lost response, an unreachable server, a
 * server slower than the timeout, and requests cut short or held past the
 * timeout on their way in (delivered late, after etagfs gave up on them).
 * etagfs talks to the proxy; the oracle
 * (the harness's independent client) talks to the RGW directly.
 *
 * Each test starts its own proxy and mount; the proxy of a test that
 * failed is stopped by the next one (or at exit). ETAGFS_IT_DEBUG=1 mounts
 * with -o debug (etagfs's request log ends up in the mount's log file).
 *
 * Not for valgrind: it holds its big lock while the test thread blocks in
 * close() on the mount, so the proxy threads cannot answer and every
 * commit times out. Check the proxy with -fsanitize=address or thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultproxy.h"
#include "harness.h"

/* Options of every mount here: fail fast, keep copies in the scratch dir. */
#define TIMEOUT_S 3
#define RETRIES 3
#define FAST_OPTS "timeout=3,connect_timeout=2,retries=3"
/* Room for scheduling, backoff and FUSE on top of the retry budget. */
#define SLACK_MS 5000

static struct fp_proxy *proxy;

static void proxy_stop(void)
{
	fp_stop(proxy);
	proxy = NULL;
}

static void proxy_begin(void)
{
	int rc;

	if (proxy == NULL)
		atexit(proxy_stop);
	proxy_stop(); /* left behind by a test that failed */
	rc = fp_start(it_env.endpoint, &proxy);
	IT_ASSERT_MSG(rc == 0, "fp_start(%s): %s", it_env.endpoint,
		      strerror(-rc));
}

/*
 * Mount @bucket through the proxy; "endpoint=" given after the harness's
 * own wins (libfuse keeps the last value of a string option). The mount
 * counts requests through the proxy, which proves the override took.
 */
static void mount_via_proxy(struct it_mount *m, const char *bucket,
			    const char *conflict_dir, const char *extra)
{
	char endpoint[64], opts[3 * PATH_MAX];
	int rc = fp_endpoint(proxy, endpoint, sizeof(endpoint));

	IT_ASSERT_EQ_INT(rc, 0);
	IT_SNPRINTF(opts, "endpoint=%s,staging_dir=%s,conflict_dir=%s%s%s%s",
		    endpoint, it_mkdtemp("stage"),
		    conflict_dir ? conflict_dir : it_mkdtemp("conflicts"),
		    extra ? "," : "", extra ? extra : "",
		    getenv("ETAGFS_IT_DEBUG") ? ",debug" : "");
	it_mount(m, bucket, opts);
	IT_ASSERT_MSG(fp_count(proxy, NULL, NULL) > 0,
		      "the mount sent nothing through the proxy");
}

/* The next @p count requests matching @p method and @p path (all: < 0)
 * run @p hook (NULL: none) and get @p action. Its rule id. */
static int add_rule_hooked(const char *method, const char *path, int count,
			   enum fp_action action, int arg, fp_hook_fn hook,
			   void *hook_arg)
{
	struct fp_rule r = {
		.method = method,
		.path_substr = path,
		.count = count,
		.action = action,
		.arg = arg,
		.hook = hook,
		.hook_arg = hook_arg,
	};
	int id = fp_add_rule(proxy, &r);

	IT_ASSERT_MSG(id >= 0, "fp_add_rule: %s", strerror(-id));
	return id;
}

static int add_rule(const char *method, const char *path, int count,
		    enum fp_action action, int arg)
{
	return add_rule_hooked(method, path, count, action, arg, NULL, NULL);
}

/* The next request matching @p method and @p path runs @p hook, then
 * @p action. Its rule id. */
static int add_hook_rule(const char *method, const char *path,
			 enum fp_action action, fp_hook_fn hook, void *arg)
{
	return add_rule_hooked(method, path, 1, action, 0, hook, arg);
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

/* @err is what an unreachable or silent server may surface as. */
static bool outage_errno(int err)
{
	return err == EIO || err == ETIMEDOUT || err == ECONNRESET ||
	       err == ENOTCONN;
}

/* Upper bound of one operation against a dead server, in ms. */
static long outage_bound_ms(int retries)
{
	return (long)TIMEOUT_S * 1000 * (retries + 1) + SLACK_MS;
}

/*
 * Bound of an operation whose every attempt runs into the timeout: the
 * attempts, the backoff ceilings between them (100 ms doubling, see
 * doc/internals/retries.md), times 3 for a loaded 2-core machine.
 */
static long held_bound_ms(int retries)
{
	long worst = 0;

	for (int i = 0; i <= retries; i++)
		worst += TIMEOUT_S * 1000L + (i < retries ? 100L << i : 0);
	return 3 * worst;
}

/* open + read all of @path: 0 and the bytes, or the errno (timed). */
static int timed_read(const char *path, void **data, size_t *len,
		      long *elapsed_ms)
{
	long t0 = it_now_ms();
	int rc = it_read_file(path, data, len);

	*elapsed_ms = it_now_ms() - t0;
	return rc;
}

/*
 * Create/truncate @path and write @len bytes, then forget the requests
 * counted so far and close: the proxy's counts are then the commit's.
 * Returns 0 or close()'s errno.
 */
static int write_then_close(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, data, len), len);
	fp_reset_counts(proxy);
	return close(fd) == 0 ? 0 : errno;
}

/* write_then_close, timed. */
static int timed_write_close(const char *path, const void *data, size_t len,
			     long *elapsed_ms)
{
	long t0 = it_now_ms();
	int rc = write_then_close(path, data, len);

	*elapsed_ms = it_now_ms() - t0;
	return rc;
}

/*
 * The conflict directory @p conflicts holds exactly one copy of @p key of
 * @p bucket (not counting unfinished ones), with exactly @p len bytes of
 * @p data.
 */
static void expect_conflict_copy(const char *conflicts, const char *bucket,
				 const char *key, const void *data, size_t len)
{
	char dir[PATH_MAX], prefix[PATH_MAX];
	struct dirent *de;
	int found = 0;
	DIR *d;

	IT_SNPRINTF(dir, "%s/%s", conflicts, bucket);
	IT_SNPRINTF(prefix, "%s.conflict-", key);
	d = opendir(dir);
	IT_ASSERT_MSG(d != NULL, "no conflict directory %s: %s", dir,
		      strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[2 * PATH_MAX];
		void *got = NULL;
		size_t got_len = 0;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    strstr(de->d_name, ".partial"))
			continue;
		found++;
		IT_SNPRINTF(path, "%s/%s", dir, de->d_name);
		IT_ASSERT_EQ_INT(it_read_file(path, &got, &got_len), 0);
		IT_ASSERT_EQ_INT(got_len, len);
		IT_ASSERT_MEM(got, data, len);
		free(got);
	}
	closedir(d);
	IT_ASSERT_EQ_INT(found, 1);
}

static void check_finish(struct it_mount *m)
{
	IT_ASSERT_EQ_INT(it_unmount(m), 0);
	proxy_stop();
}

/* ------------------------------------------------------- the tests */

/*
 * The PUT of a new file lands but its response is lost: the retry's
 * If-None-Match fails (412), the HEAD finds our own commit token, and
 * close() reports success.
 */
IT_TEST(test_ambiguous_commit_new_file)
{
	static unsigned char data[20000];
	char bucket[64];
	struct it_mount m;
	int rule;

	it_random_bytes(data, sizeof(data), 1);
	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	rule = add_rule("PUT", "amb-new.txt", 1, FP_DROP_RESPONSE, 0);

	IT_ASSERT_EQ_INT(write_then_close(it_path(&m, "amb-new.txt"), data,
					  sizeof(data)),
			 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "amb-new.txt"), 2);
	IT_ASSERT_MSG(fp_count(proxy, "HEAD", "amb-new.txt") >= 1,
		      "no HEAD checked the token after the 412");
	expect_server(bucket, "amb-new.txt", data, sizeof(data));
	check_finish(&m);
}

/* The same with If-Match: the object existed and is replaced. */
IT_TEST(test_ambiguous_commit_existing_file)
{
	static const char old[] = "the old content of amb-old.txt\n";
	static unsigned char data[7000];
	char bucket[64];
	struct it_mount m;
	int rule;

	it_random_bytes(data, sizeof(data), 2);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "amb-old.txt", old,
				   sizeof(old) - 1, NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	rule = add_rule("PUT", "amb-old.txt", 1, FP_DROP_RESPONSE, 0);

	IT_ASSERT_EQ_INT(write_then_close(it_path(&m, "amb-old.txt"), data,
					  sizeof(data)),
			 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "amb-old.txt"), 2);
	IT_ASSERT_MSG(fp_count(proxy, "HEAD", "amb-old.txt") >= 1,
		      "no HEAD checked the token after the 412");
	expect_server(bucket, "amb-old.txt", data, sizeof(data));
	check_finish(&m);
}

/* The first PUT never reaches the server: the retry is a plain success. */
IT_TEST(test_request_never_arrived)
{
	static unsigned char data[3000];
	char bucket[64];
	struct it_mount m;
	int rule;

	it_random_bytes(data, sizeof(data), 3);
	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	fp_reset_counts(proxy);
	rule = add_rule("PUT", "lost-req.txt", 1, FP_RESET_BEFORE, 0);

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "lost-req.txt"), data,
				       sizeof(data)),
			 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "lost-req.txt"), 2);
	expect_server(bucket, "lost-req.txt", data, sizeof(data));
	check_finish(&m);
}

/* Throttled twice (503 SlowDown), then through: three PUTs, one object. */
IT_TEST(test_slowdown_then_through)
{
	static unsigned char data[4096];
	char bucket[64];
	struct it_mount m;
	int rule;

	it_random_bytes(data, sizeof(data), 4);
	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	fp_reset_counts(proxy);
	rule = add_rule("PUT", "slow-put.txt", 2, FP_STATUS, 503);

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "slow-put.txt"), data,
				       sizeof(data)),
			 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 2);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "slow-put.txt"), 3);
	expect_server(bucket, "slow-put.txt", data, sizeof(data));
	check_finish(&m);
}

/* What the hook of the next test did, read by the test thread after. */
struct overwrite {
	const char *bucket;
	const char *key;
	const void *data;
	size_t len;
	long status; /* of the independent PUT, 0 before the hook ran */
};

/*
 * Runs on the proxy's connection thread once our request has been
 * answered upstream (a PUT landed, a HEAD or GET read the version) and
 * before its response goes on. The test thread is blocked in its system
 * call meanwhile, so the harness's (single-threaded) client is free.
 */
static void overwrite_hook(void *arg, const char *method, const char *target,
			   int status)
{
	struct overwrite *o = arg;

	(void)method;
	(void)target;
	if (status < 200 || status > 299) {
		o->status = -status;
		return;
	}
	o->status = it_s3_put(o->bucket, o->key, o->data, o->len, NULL);
}

/*
 * Our PUT lands, someone else overwrites it at once, and our response is
 * lost: the retry's 412 is a real conflict this time (the HEAD finds the
 * other writer's object, without our token). close() is EBUSY, the server
 * keeps the other bytes, ours are in the conflict directory.
 */
IT_TEST(test_lost_response_real_conflict)
{
	static unsigned char ours[9000];
	static const char theirs[] = "the other writer got here second\n";
	/* Static: etagfs may retry the PUT after a failed assertion ended
	 * this test, and the hook must not find a dead stack frame. */
	static struct overwrite ow;
	static char bucket[64];
	const char *conflicts = it_mkdtemp("conflicts");
	struct it_mount m;
	int rule;

	it_random_bytes(ours, sizeof(ours), 5);
	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, conflicts, FAST_OPTS);
	memset(&ow, 0, sizeof(ow));
	ow.bucket = bucket;
	ow.key = "amb-race.txt";
	ow.data = theirs;
	ow.len = sizeof(theirs) - 1;
	rule = add_hook_rule("PUT", "amb-race.txt", FP_DROP_RESPONSE,
			     overwrite_hook, &ow);

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "amb-race.txt"), ours,
				       sizeof(ours)),
			 EBUSY);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_MSG(ow.status == 200,
		      "the overwrite in the hook: %ld (negative: our PUT's "
		      "upstream status)",
		      ow.status);
	expect_server(bucket, "amb-race.txt", theirs, sizeof(theirs) - 1);
	expect_conflict_copy(conflicts, bucket, "amb-race.txt", ours,
			     sizeof(ours));
	check_finish(&m);
}

/* opendir + readdir all; errno or 0, and how long it took. */
static int timed_ls(const char *path, long *elapsed_ms)
{
	long t0 = it_now_ms();
	int rc = 0;
	DIR *d = opendir(path);

	if (!d) {
		rc = errno;
	} else {
		errno = 0;
		while (readdir(d) != NULL)
			;
		rc = errno;
		closedir(d);
	}
	*elapsed_ms = it_now_ms() - t0;
	return rc;
}

/*
 * The server becomes unreachable (every connection is reset before the
 * request is forwarded): reads of uncached data and commits fail within
 * the retry budget with a network errno, listing never hangs, and the
 * same mount works again once the server is back.
 */
IT_TEST(test_server_unreachable)
{
	static unsigned char cold[12000], dirty[5000], after[2500];
	char bucket[64];
	struct it_mount m;
	struct stat sb;
	void *got = NULL;
	size_t got_len = 0;
	long ms, bound = outage_bound_ms(RETRIES);
	int fd, rc;

	it_random_bytes(cold, sizeof(cold), 6);
	it_random_bytes(dirty, sizeof(dirty), 7);
	it_random_bytes(after, sizeof(after), 8);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "cold.bin", cold, sizeof(cold),
				   NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS ",dir_ttl=0");
	/* Known to exist, never read: its data is not cached anywhere. */
	IT_ASSERT_OK(stat(it_path(&m, "cold.bin"), &sb));
	IT_ASSERT_EQ_INT(sb.st_size, sizeof(cold));
	fd = open(it_path(&m, "dirty.txt"), O_WRONLY | O_CREAT | O_TRUNC,
		  0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, dirty, sizeof(dirty)), sizeof(dirty));

	fp_reset_counts(proxy);
	add_rule(NULL, NULL, -1, FP_RESET_BEFORE, 0);

	rc = timed_read(it_path(&m, "cold.bin"), &got, &got_len, &ms);
	it_log("read during the outage: %s after %ld ms", strerror(rc), ms);
	IT_ASSERT_MSG(rc != 0, "read cold.bin succeeded during the outage");
	free(got);
	got = NULL;
	IT_ASSERT_MSG(outage_errno(rc), "read: errno %d (%s)", rc,
		      strerror(rc));
	IT_ASSERT_MSG(ms <= bound, "read took %ld ms, bound %ld", ms, bound);

	{
		long t0 = it_now_ms();
		int err;

		errno = 0;
		rc = close(fd);
		err = errno;
		ms = it_now_ms() - t0;
		it_log("close during the outage: %d %s after %ld ms", rc,
		       strerror(err), ms);
		IT_ASSERT_MSG(rc == -1, "close() of a dirty file succeeded "
			      "during the outage");
		IT_ASSERT_MSG(outage_errno(err), "close: errno %d (%s)", err,
			      strerror(err));
		IT_ASSERT_MSG(ms <= bound, "close took %ld ms, bound %ld", ms,
			      bound);
	}

	rc = timed_ls(it_path(&m, NULL), &ms);
	it_log("ls during the outage: %s after %ld ms", strerror(rc), ms);
	IT_ASSERT_MSG(ms <= bound, "ls took %ld ms, bound %ld", ms, bound);
	IT_ASSERT_MSG(rc == 0 || outage_errno(rc), "ls: errno %d (%s)", rc,
		      strerror(rc));
	IT_ASSERT_MSG(fp_count(proxy, NULL, NULL) > 0,
		      "nothing reached the proxy during the outage");

	/* The server is back: no remount needed. */
	fp_clear_rules(proxy);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "after.txt"), after,
				       sizeof(after)),
			 0);
	expect_server(bucket, "after.txt", after, sizeof(after));
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "cold.bin"), &got,
				      &got_len),
			 0);
	IT_ASSERT_EQ_INT(got_len, sizeof(cold));
	IT_ASSERT_MEM(got, cold, sizeof(cold));
	free(got);
	rc = timed_ls(it_path(&m, NULL), &ms);
	IT_ASSERT_EQ_INT(rc, 0);
	check_finish(&m);
}

/*
 * Reading @p name of mount @p m fails with ETIMEDOUT or EIO, after the
 * timeout (an answer came too late, not at once) and within @p bound ms.
 */
static void expect_read_times_out(struct it_mount *m, const char *name,
				  long bound)
{
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc = timed_read(it_path(m, name), &got, &got_len, &ms);

	free(got);
	it_log("read of %s: %s after %ld ms (%ld GETs)", name,
	       rc ? strerror(rc) : "success", ms, fp_count(proxy, "GET", name));
	IT_ASSERT_MSG(rc == ETIMEDOUT || rc == EIO,
		      "read: %d (%s), want ETIMEDOUT or EIO", rc,
		      rc ? strerror(rc) : "success");
	IT_ASSERT_MSG(ms >= TIMEOUT_S * 1000 - 500,
		      "failed after %ld ms, before the timeout", ms);
	IT_ASSERT_MSG(ms <= bound, "read took %ld ms, bound %ld", ms, bound);
}

/*
 * Every GET of one object is answered later than the timeout: the read
 * fails with ETIMEDOUT or EIO within the retry budget, and the mount goes
 * on working (the same object reads fine once the server is prompt).
 */
IT_TEST(test_get_slower_than_timeout)
{
	static unsigned char data[30000];
	char bucket[64];
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	long bound = outage_bound_ms(1);

	it_random_bytes(data, sizeof(data), 9);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "slow.bin", data, sizeof(data),
				   NULL),
			 200);
	proxy_begin();
	/* One retry: two attempts of 3 s each keep the test short. */
	mount_via_proxy(&m, bucket, NULL,
			"timeout=3,connect_timeout=2,retries=1");
	fp_reset_counts(proxy);
	add_rule("GET", "slow.bin", -1, FP_DELAY_RESPONSE,
		 (TIMEOUT_S + 3) * 1000);

	expect_read_times_out(&m, "slow.bin", bound);

	fp_clear_rules(proxy);
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "slow.bin"), &got,
				      &got_len),
			 0);
	IT_ASSERT_EQ_INT(got_len, sizeof(data));
	IT_ASSERT_MEM(got, data, sizeof(data));
	free(got);
	check_finish(&m);
}

/*
 * A GET whose body is cut in half: the reader must never get the short
 * or mixed data; etagfs retries the transfer and returns exact bytes.
 */
IT_TEST(test_truncated_get_retried)
{
	static unsigned char data[50000];
	char bucket[64];
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	int rule;

	it_random_bytes(data, sizeof(data), 10);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "cut.bin", data, sizeof(data),
				   NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	fp_reset_counts(proxy);
	rule = add_rule("GET", "cut.bin", 1, FP_TRUNCATE_RESPONSE, 0);

	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "cut.bin"), &got,
				      &got_len),
			 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(got_len, sizeof(data));
	IT_ASSERT_MEM(got, data, sizeof(data));
	free(got);
	check_finish(&m);
}

/* ------------------------------------------- faults on the way in */

/*
 * One part of a multipart commit refused (403, not retried) while other
 * parts are in flight: close() fails with EACCES, Complete is never
 * sent, the upload is aborted (none is left), the object keeps its old
 * version, and the bytes are in exactly one conflict copy.
 */
IT_TEST(test_multipart_part_refused)
{
	static const char old[] = "the old content\n";
	const size_t len = 23 << 20;
	unsigned char *data = malloc(len);
	const char *conflicts = it_mkdtemp("conflicts");
	char bucket[64], etag0[IT_ETAG_MAX], etag1[IT_ETAG_MAX];
	struct it_mount m;
	int rule;

	IT_ASSERT(data != NULL);
	it_random_bytes(data, len, 23);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", old, sizeof(old) - 1,
				   etag0),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, conflicts,
			FAST_OPTS ",single_put_limit=8M,nonatomic_multipart,"
				  "part_size=5M,part_concurrency=3");
	rule = add_rule("PUT", "partNumber=2&", -1, FP_STATUS, 403);
	IT_ASSERT_EQ_INT(write_then_close(it_path(&m, "big"), data, len),
			 EACCES);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "POST", "uploadId="), 0);
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "uploadId="), 1);
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "big", NULL, etag1, NULL, NULL, 0),
			 200);
	IT_ASSERT_EQ_STR(etag1, etag0);
	expect_server(bucket, "big", old, sizeof(old) - 1);
	{
		size_t n = 99;
		char **ups = it_s3_list_multipart_uploads(bucket, &n);

		IT_ASSERT_MSG(n == 0, "%zu multipart uploads left", n);
		for (size_t i = 0; ups != NULL && i < n; i++)
			free(ups[i]);
		free(ups);
	}
	/* The copy is made when the handle is released, after close(). */
	check_finish(&m);
	expect_conflict_copy(conflicts, bucket, "big", data, len);
	free(data);
}

/*
 * The same refusal seen while the parts stream behind the writer: part
 * 2 is refused before close() is called (the test above does not tell
 * when it happened). close()
 * reports EACCES, the stream's upload is aborted, nothing is sent again,
 * the object is untouched, and the bytes are kept.
 */
IT_TEST(test_stream_part_refused)
{
	static const char old[] = "the old content\n";
	const size_t len = 23 << 20;
	unsigned char *data = malloc(len);
	const char *conflicts = it_mkdtemp("conflicts");
	char bucket[64];
	struct it_mount m;
	int fd, rule;

	IT_ASSERT(data != NULL);
	it_random_bytes(data, len, 24);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", old, sizeof(old) - 1, NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, conflicts,
			FAST_OPTS ",single_put_limit=8M,nonatomic_multipart,"
				  "part_size=5M");
	rule = add_rule("PUT", "partNumber=2&", -1, FP_STATUS, 403);
	fp_reset_counts(proxy); /* the mount's probe made uploads too */
	fd = open(it_path(&m, "big"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, data, 12 << 20), 12 << 20);
	for (int i = 0; i < 400 && fp_rule_hits(proxy, rule) == 0; i++)
		usleep(50 * 1000);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(write(fd, data + (12 << 20), len - (12 << 20)),
			 len - (12 << 20));
	IT_ASSERT_ERRNO(close(fd), EACCES);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "POST", "uploadId="), 0);
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "uploadId="), 1);
	expect_server(bucket, "big", old, sizeof(old) - 1);
	check_finish(&m);
	expect_conflict_copy(conflicts, bucket, "big", data, len);
	free(data);
}

/*
 * A part of the stream lost to the network while the application is
 * still writing (500 on every attempt the retry budget allows): the
 * stream is given up, and close() uploads the file again from the
 * staging file. close() returns 0, the server has exactly the bytes, the
 * abandoned upload is aborted and the new one completed: none is left.
 */
IT_TEST(test_stream_part_lost_then_resent)
{
	const size_t len = 14 << 20;
	unsigned char *data = malloc(len);
	char bucket[64];
	struct it_mount m;
	int fd, rule;

	IT_ASSERT(data != NULL);
	it_random_bytes(data, len, 25);
	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL,
			FAST_OPTS ",single_put_limit=8M,nonatomic_multipart,"
				  "part_size=5M");
	/* retries=3: four attempts of part 1, then it is resent at close. */
	rule = add_rule("PUT", "partNumber=1&", 4, FP_STATUS, 500);
	fp_reset_counts(proxy); /* the mount's probe made uploads too */
	fd = open(it_path(&m, "big"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, data, 12 << 20), 12 << 20);
	for (int i = 0; i < 400 && fp_rule_hits(proxy, rule) < 4; i++)
		usleep(50 * 1000);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 4);
	IT_ASSERT_EQ_INT(write(fd, data + (12 << 20), len - (12 << 20)),
			 len - (12 << 20));
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "big", data, len);
	IT_ASSERT_EQ_INT(fp_count(proxy, "POST", "uploadId="), 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "uploadId="), 1);
	{
		size_t n = 99;
		char **ups = it_s3_list_multipart_uploads(bucket, &n);

		IT_ASSERT_MSG(n == 0, "%zu multipart uploads left", n);
		it_strv_free(ups);
	}
	check_finish(&m);
	free(data);
}

/*
 * A PUT request cut in half on its way to the server (headers and half
 * the body, then the connection closed), once, for an existing file
 * (If-Match) and a new one (If-None-Match: *): the server stores nothing
 * of it, etagfs retries with the same precondition, close() returns 0 and
 * the server holds exactly the new bytes. A partial object stored by the
 * server would carry our token, so the retry's 412 would be resolved as
 * "our attempt landed" and close() would still say 0: only the bytes read
 * back tell the difference.
 */
IT_TEST(test_truncated_put_request_retried)
{
	static const char *const keys[] = {"cut-req-old.txt",
					   "cut-req-new.txt"};
	static const char old[] = "the old content of cut-req-old.txt\n";
	static unsigned char data[40000];
	char bucket[64];
	struct it_mount m;

	it_random_bytes(data, sizeof(data), 11);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, keys[0], old, sizeof(old) - 1,
				   NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int rule = add_rule("PUT", keys[i], 1, FP_TRUNCATE_REQUEST, 0);

		IT_ASSERT_EQ_INT(write_then_close(it_path(&m, keys[i]), data,
						  sizeof(data)),
				 0);
		IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
		IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", keys[i]), 2);
		/* No HEAD: the retry was not refused, so the server had
		 * executed nothing of the cut request (a landed one makes
		 * the retry's precondition fail and etagfs look). */
		IT_ASSERT_EQ_INT(fp_count(proxy, "HEAD", keys[i]), 0);
		expect_server(bucket, keys[i], data, sizeof(data));
	}
	check_finish(&m);
}

/*
 * Upstream statuses of the requests a rule held, counted by hold_hook on
 * the proxy's threads (several may finish at once), read by the test.
 */
struct held_outcomes {
	int reached; /* requests that got an upstream answer */
	int stored;  /* 2xx */
	int refused; /* 412 */
};

static void hold_hook(void *arg, const char *method, const char *target,
		      int status)
{
	struct held_outcomes *h = arg;

	(void)method;
	(void)target;
	if (status >= 200 && status <= 299)
		__atomic_add_fetch(&h->stored, 1, __ATOMIC_SEQ_CST);
	else if (status == 412)
		__atomic_add_fetch(&h->refused, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h->reached, 1, __ATOMIC_SEQ_CST);
}

/* Wait until @p n held requests reached the server (their delay is
 * @p delay_ms): the proxy delivers them even though etagfs gave up. */
static void wait_held(struct held_outcomes *h, int n, long delay_ms)
{
	long t0 = it_now_ms();

	while (__atomic_load_n(&h->reached, __ATOMIC_SEQ_CST) < n) {
		IT_ASSERT_MSG(it_now_ms() - t0 < delay_ms + SLACK_MS,
			      "%d of %d held requests reached the server",
			      __atomic_load_n(&h->reached, __ATOMIC_SEQ_CST),
			      n);
		usleep(50 * 1000);
	}
}

/* Long enough that the retry of a held request lands (about one timeout
 * later) well before the held one, even on a loaded machine. */
#define HOLD_MS ((TIMEOUT_S + 5) * 1000)

/* What held_commit() did; static in the test: the hook outlives it. */
struct held_commit {
	struct held_outcomes held;
	int rule;
	long ms;   /* close() took */
	int err;   /* close()'s errno, 0 */
	long puts; /* PUTs of the commit through the proxy */
};

/*
 * In a fresh bucket (into @p bucket) with @p key holding other bytes,
 * mount through a new proxy with @p conflicts (NULL: a new dir) and
 * @p opts, and commit @p len bytes of @p data to @p key, with its first
 * @p count PUTs (all: < 0) held HOLD_MS each before they go on.
 */
static void held_commit(struct held_commit *hc, struct it_mount *m,
			char bucket[64], const char *conflicts,
			const char *opts, const char *key, int count,
			const void *data, size_t len)
{
	static const char old[] = "the old content, before the commit\n";

	memset(hc, 0, sizeof(*hc));
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, key, old, sizeof(old) - 1, NULL),
			 200);
	proxy_begin();
	mount_via_proxy(m, bucket, conflicts, opts);
	hc->rule = add_rule_hooked("PUT", key, count, FP_DELAY_REQUEST,
				   HOLD_MS, hold_hook, &hc->held);
	hc->err = timed_write_close(it_path(m, key), data, len, &hc->ms);
	hc->puts = fp_count(proxy, "PUT", key);
	it_log("close with %s PUT held %d ms: %s after %ld ms, %ld PUTs",
	       count < 0 ? "every" : "its first", HOLD_MS,
	       hc->err ? strerror(hc->err) : "success", hc->ms, hc->puts);
}

/*
 * The first PUT of a commit reaches the server only after etagfs gave up
 * on it (held 8 s, timeout=3). etagfs sends it again, same If-Match, same
 * token: the retry lands and close() returns 0 after about one timeout.
 * The late first attempt then arrives with the old If-Match and is
 * refused (412): the server keeps exactly the new bytes; a late request
 * can neither undo a commit nor apply twice.
 */
IT_TEST(test_put_request_slower_than_timeout)
{
	static unsigned char data[20000];
	static struct held_commit hc;
	char bucket[64];
	struct it_mount m;
	long bound = held_bound_ms(RETRIES);

	it_random_bytes(data, sizeof(data), 12);
	held_commit(&hc, &m, bucket, NULL, FAST_OPTS, "late-put.txt", 1, data,
		    sizeof(data));
	IT_ASSERT_EQ_INT(hc.err, 0);
	IT_ASSERT_MSG(hc.ms >= TIMEOUT_S * 1000 - 500,
		      "close took %ld ms: the held attempt was not waited for",
		      hc.ms);
	IT_ASSERT_MSG(hc.ms <= bound, "close took %ld ms, bound %ld", hc.ms,
		      bound);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, hc.rule), 1);
	IT_ASSERT_EQ_INT(hc.puts, 2);
	expect_server(bucket, "late-put.txt", data, sizeof(data));

	wait_held(&hc.held, 1, HOLD_MS);
	IT_ASSERT_EQ_INT(hc.held.refused, 1);
	IT_ASSERT_EQ_INT(hc.held.stored, 0);
	expect_server(bucket, "late-put.txt", data, sizeof(data));
	/* The timed-out attempt was the retry loop's business: the commit
	 * succeeded, so no failure is reported. */
	IT_ASSERT_EQ_INT(it_log_count(&m, "s3: PUT 'late-put.txt' failed"), 0);
	check_finish(&m);
}

/*
 * Every PUT of a commit is held past the timeout (one retry here, so two
 * attempts): close() fails with ETIMEDOUT within the retry budget and the
 * bytes are kept as a conflict copy ("could not save" in the log). Both
 * held requests still reach the server afterwards, as over a slow
 * network: the first finds its If-Match true and lands, the second (same
 * If-Match) is refused. So a close() that said ETIMEDOUT may have been
 * written after all: the errno means "not known to be written", all that
 * can be known when every answer comes too late. What is guaranteed is
 * checked: the server holds the old bytes or exactly the new ones (here
 * the new ones, always, given the order), never a mix, never twice.
 */
IT_TEST(test_put_requests_all_slower_than_timeout)
{
	static unsigned char data[20000];
	static struct held_commit hc;
	const char *conflicts = it_mkdtemp("conflicts");
	char bucket[64];
	struct it_mount m;
	long bound = held_bound_ms(1);

	it_random_bytes(data, sizeof(data), 13);
	held_commit(&hc, &m, bucket, conflicts,
		    "timeout=3,connect_timeout=2,retries=1", "late-all.txt", -1,
		    data, sizeof(data));
	IT_ASSERT_EQ_INT(hc.err, ETIMEDOUT);
	IT_ASSERT_MSG(hc.ms <= bound, "close took %ld ms, bound %ld", hc.ms,
		      bound);
	IT_ASSERT_EQ_INT(hc.puts, 2);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, hc.rule), 2);

	wait_held(&hc.held, 2, HOLD_MS);
	it_log("held PUTs at the server: %d stored, %d refused",
	       hc.held.stored, hc.held.refused);
	IT_ASSERT_EQ_INT(hc.held.stored, 1);
	IT_ASSERT_EQ_INT(hc.held.refused, 1);
	expect_server(bucket, "late-all.txt", data, sizeof(data));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	/* One failure line for the two attempts, naming the stall timeout. */
	IT_ASSERT_EQ_INT(it_log_count(&m, "s3: PUT 'late-all.txt' failed: no "
					  "data moved"),
			 1);
	IT_ASSERT_MSG(it_log_contains(&m, "could not save 'late-all.txt'"),
		      "no \"could not save\" line in %s", m.log);
	expect_conflict_copy(conflicts, bucket, "late-all.txt", data,
			     sizeof(data));
	proxy_stop();
}

/*
 * A GET request held past the timeout, once: etagfs gives up on it and
 * sends it again, and the read returns exact bytes. Then every GET of
 * another object is held: the read fails with ETIMEDOUT or EIO (as for a
 * slow response, test_get_slower_than_timeout) within the retry budget.
 */
IT_TEST(test_get_request_slower_than_timeout)
{
	static unsigned char once[30000], always[30000];
	char bucket[64];
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	long ms, bound = held_bound_ms(1);
	int rule, rc;

	it_random_bytes(once, sizeof(once), 14);
	it_random_bytes(always, sizeof(always), 15);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "held-once.bin", once,
				   sizeof(once), NULL),
			 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "held-always.bin", always,
				   sizeof(always), NULL),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL,
			"timeout=3,connect_timeout=2,retries=1");
	fp_reset_counts(proxy);
	rule = add_rule("GET", "held-once.bin", 1, FP_DELAY_REQUEST, HOLD_MS);

	rc = timed_read(it_path(&m, "held-once.bin"), &got, &got_len, &ms);
	it_log("read with its first GET held: %s after %ld ms (%ld GETs)",
	       rc ? strerror(rc) : "success", ms,
	       fp_count(proxy, "GET", "held-once.bin"));
	IT_ASSERT_EQ_INT(rc, 0);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_MSG(fp_count(proxy, "GET", "held-once.bin") >= 2,
		      "the held GET was not sent again");
	IT_ASSERT_MSG(ms <= bound, "read took %ld ms, bound %ld", ms, bound);
	IT_ASSERT_EQ_INT(got_len, sizeof(once));
	IT_ASSERT_MEM(got, once, sizeof(once));
	free(got);
	got = NULL;

	add_rule("GET", "held-always.bin", -1, FP_DELAY_REQUEST, HOLD_MS);
	expect_read_times_out(&m, "held-always.bin", bound);
	check_finish(&m);
}

/* -------------------------------- namespace and metadata operations */

enum race_op { RACE_CHMOD, RACE_TRUNCATE, RACE_RENAME, RACE_UNLINK };

static int race_run(struct it_mount *m, enum race_op op)
{
	switch (op) {
	case RACE_CHMOD:
		return chmod(it_path(m, "r.txt"), 0600);
	case RACE_TRUNCATE:
		return truncate(it_path(m, "r.txt"), 3);
	case RACE_RENAME: {
		char to[PATH_MAX];

		IT_SNPRINTF(to, "%s", it_path(m, "moved.txt"));
		return rename(it_path(m, "r.txt"), to);
	}
	case RACE_UNLINK:
		return unlink(it_path(m, "r.txt"));
	}
	return -1;
}

/*
 * chmod, truncate by path, rename and unlink each read the object's
 * version first (a HEAD, or the GET of a truncate) and act on that
 * version only. Another writer replaces the object right after that
 * request (a proxy hook, so the window is hit every time): the operation fails with EBUSY and the server keeps
 * exactly the other writer's object, under its name, with no mode and no
 * copy under the new name. On RGW the rename's copy and the chmod's
 * copy-in-place carry x-amz-copy-if-match; the unlink's DELETE is not
 * conditional there, so its HEAD If-Match right before it catches this.
 */
IT_TEST(test_namespace_ops_lose_to_a_writer)
{
	static const char *const names[] = {"chmod", "truncate", "rename",
					    "unlink"};
	static const char theirs[] = "the other writer's version\n";

	for (int op = RACE_CHMOD; op <= RACE_UNLINK; op++) {
		/* Static: the hook may still run after a failed assertion
		 * ended this test (as in test_lost_response_real_conflict). */
		static struct overwrite r;
		static char bucket[64];
		struct it_mount m;
		struct stat st;
		struct it_s3_resp resp;
		char mode[32];
		int id, rc, err;

		it_fresh_bucket(bucket);
		r = (struct overwrite){.bucket = bucket, .key = "r.txt",
				       .data = theirs,
				       .len = sizeof(theirs) - 1};
		IT_ASSERT_EQ_INT(it_s3_put(bucket, "r.txt", "ours\n", 5, NULL),
				 200);
		proxy_begin();
		mount_via_proxy(&m, bucket, NULL, FAST_OPTS);
		IT_ASSERT_OK(stat(it_path(&m, "r.txt"), &st));
		/* The first request that reads r.txt's version (a HEAD, or
		 * the GET of a truncate), whatever its method; not a
		 * listing (its target has "prefix=r.txt"). */
		id = add_hook_rule(NULL, "/r.txt", FP_PASS, overwrite_hook, &r);

		rc = race_run(&m, op);
		err = rc == 0 ? 0 : errno;
		it_log("%s with the object replaced after it was read: %s",
		       names[op], rc == 0 ? "succeeded" : strerror(err));
		IT_ASSERT_MSG(fp_rule_hits(proxy, id) == 1,
			      "%s: sent no request for r.txt (the race was "
			      "not run)",
			      names[op]);
		IT_ASSERT_EQ_INT(r.status, 200);
		IT_ASSERT_MSG(rc != 0 && err == EBUSY,
			      "%s: %s, expected EBUSY", names[op],
			      rc == 0 ? "succeeded" : strerror(err));
		expect_server(bucket, "r.txt", theirs, sizeof(theirs) - 1);
		memset(&resp, 0, sizeof(resp));
		IT_ASSERT_EQ_INT(it_s3_request("HEAD", bucket, "r.txt", NULL,
					       NULL, NULL, 0, &resp),
				 200);
		IT_ASSERT_MSG(it_s3_resp_header(&resp, "x-amz-meta-mode", mode,
						sizeof(mode)) != 0,
			      "%s: the other writer's object got mode %s",
			      names[op], mode);
		it_s3_resp_free(&resp);
		IT_ASSERT_EQ_INT(it_s3_head(bucket, "moved.txt", NULL, NULL,
					    NULL, NULL, 0),
				 404);
		check_finish(&m);
	}
}

/* When the proxy read a request's upstream response (ms). */
struct answered_at {
	long ms; /* 0: not yet */
};

static void answered_hook(void *arg, const char *method, const char *target,
			  int status)
{
	struct answered_at *a = arg;

	(void)method;
	(void)target;
	(void)status;
	__atomic_store_n(&a->ms, it_now_ms(), __ATOMIC_SEQ_CST);
}

/*
 * A lookup of a name never seen costs one round trip, not a HEAD and
 * then a LIST: with the HEAD's response held HEAD_HOLD_MS, the LIST of the
 * same lookup is answered long before the HEAD's is released (a LIST
 * sent after the HEAD's answer could not be). For a file the lookup
 * does not wait for its LIST either; a directory and a missing name get
 * their answer from it.
 */
IT_TEST(test_lookup_head_and_list_at_once)
{
	enum { HEAD_HOLD_MS = 4000 };
	static const char *const names[] = {"plain.txt", "sub", "absent"};
	/* Static: a hook may still run after a failed assertion. */
	static struct answered_at head_at[3], list_at[3];
	char bucket[64], path[64];
	struct it_mount m;
	struct stat st;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "plain.txt", "12345", 5, NULL),
			 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "sub/file", "x", 1, NULL), 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL, NULL);
	for (int i = 0; i < 3; i++) {
		int rc, err, head_id, list_id;
		long t0, took;

		memset(&head_at[i], 0, sizeof(head_at[i]));
		memset(&list_at[i], 0, sizeof(list_at[i]));
		IT_SNPRINTF(path, "/%s", names[i]);
		head_id = add_rule_hooked("HEAD", path, 1, FP_DELAY_RESPONSE,
					  HEAD_HOLD_MS, answered_hook, &head_at[i]);
		IT_SNPRINTF(path, "prefix=%s", names[i]);
		list_id = add_hook_rule("GET", path, FP_PASS, answered_hook,
					&list_at[i]);
		/* Past the last lookup's burst window: no directory listing
		 * answers this one. */
		usleep(1200 * 1000);
		t0 = it_now_ms();
		rc = stat(it_path(&m, names[i]), &st);
		err = rc == 0 ? 0 : errno;
		took = it_now_ms() - t0;
		usleep(300 * 1000);
		it_log("stat %s: %s in %ld ms; LIST answered %ld ms after the "
		       "HEAD (held %d ms)",
		       names[i], rc == 0 ? "ok" : strerror(err), took,
		       list_at[i].ms - head_at[i].ms, HEAD_HOLD_MS);
		IT_ASSERT_EQ_INT(fp_rule_hits(proxy, head_id), 1);
		IT_ASSERT_EQ_INT(fp_rule_hits(proxy, list_id), 1);
		IT_ASSERT(head_at[i].ms != 0 && list_at[i].ms != 0);
		IT_ASSERT_MSG(list_at[i].ms - head_at[i].ms < HEAD_HOLD_MS / 2,
			      "%s: the LIST was answered %ld ms after the "
			      "HEAD, whose answer was held %d ms: sent one "
			      "after the other",
			      names[i], list_at[i].ms - head_at[i].ms,
			      HEAD_HOLD_MS);
		switch (i) {
		case 0:
			IT_ASSERT_EQ_INT(rc, 0);
			IT_ASSERT(S_ISREG(st.st_mode));
			IT_ASSERT_EQ_INT(st.st_size, 5);
			break;
		case 1:
			IT_ASSERT_EQ_INT(rc, 0);
			IT_ASSERT(S_ISDIR(st.st_mode));
			break;
		default:
			IT_ASSERT_EQ_INT(err, ENOENT);
			break;
		}
		fp_clear_rules(proxy);
	}
	check_finish(&m);
}

/*
 * The server goes away for good, first silent (connections accepted,
 * nothing answered: every response held past the timeout), then gone
 * (the proxy closed: connections refused). An ls fails within the retry
 * budget in both states, a dirty file's close() reports the failure (its
 * bytes kept as a copy), and fusermount -u still unmounts at once: the
 * mount never waits on a server to let go.
 */
IT_TEST(test_unmount_with_server_gone)
{
	static unsigned char dirty[3000];
	char bucket[64], conflicts[PATH_MAX];
	struct it_mount m;
	long ms, t0, bound = outage_bound_ms(RETRIES);
	int fd, rc, err;

	it_random_bytes(dirty, sizeof(dirty), 9);
	it_fresh_bucket(bucket);
	IT_SNPRINTF(conflicts, "%s", it_mkdtemp("conflicts"));
	proxy_begin();
	mount_via_proxy(&m, bucket, conflicts, FAST_OPTS ",dir_ttl=0");
	fd = open(it_path(&m, "dirty.bin"), O_WRONLY | O_CREAT | O_TRUNC,
		  0644);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, dirty, sizeof(dirty)), sizeof(dirty));

	/* Silent: every response held 60 s, far past timeout=3. */
	add_rule(NULL, NULL, -1, FP_DELAY_RESPONSE, 60000);
	rc = timed_ls(it_path(&m, NULL), &ms);
	it_log("ls, server silent: %s after %ld ms", strerror(rc), ms);
	IT_ASSERT_MSG(rc != 0 && outage_errno(rc), "ls: %s",
		      rc ? strerror(rc) : "succeeded");
	IT_ASSERT_MSG(ms <= bound, "ls took %ld ms, bound %ld", ms, bound);
	t0 = it_now_ms();
	errno = 0;
	rc = close(fd);
	err = errno;
	ms = it_now_ms() - t0;
	it_log("close, server silent: %d %s after %ld ms", rc, strerror(err),
	       ms);
	IT_ASSERT_MSG(rc == -1 && outage_errno(err), "close: %s",
		      rc ? strerror(err) : "succeeded");
	IT_ASSERT_MSG(ms <= bound, "close took %ld ms, bound %ld", ms, bound);

	/* Gone: nothing listens any more. */
	proxy_stop();
	rc = timed_ls(it_path(&m, NULL), &ms);
	it_log("ls, server gone: %s after %ld ms", strerror(rc), ms);
	IT_ASSERT_MSG(rc != 0, "ls succeeded with the server gone");
	IT_ASSERT_MSG(ms <= bound, "ls took %ld ms, bound %ld", ms, bound);

	t0 = it_now_ms();
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	ms = it_now_ms() - t0;
	it_log("unmount with the server gone: %ld ms", ms);
	IT_ASSERT_MSG(ms <= bound, "unmount took %ld ms, bound %ld", ms,
		      bound);
	IT_ASSERT_MSG(it_log_contains(&m, "could not save 'dirty.bin'"),
		      "no \"could not save\" line in %s", m.log);
	/* The silent server did store the PUTs whose answers it held:
	 * close() could not know (its HEADs went unanswered too). The
	 * server has nothing or exactly these bytes, never other ones. */
	if (it_s3_head(bucket, "dirty.bin", NULL, NULL, NULL, NULL, 0) == 404)
		it_log("the server has no dirty.bin");
	else {
		expect_server(bucket, "dirty.bin", dirty, sizeof(dirty));
		it_log("FINDING: close() failed with ETIMEDOUT although the "
		       "silent server stored dirty.bin");
	}
}
