/*
 * Responses a broken or malicious server could send (issue #6). The
 * server is the real RGW; the fault proxy (faultproxy.h) corrupts its
 * answers on the way back: an ETag dropped or garbled, a header of a
 * megabyte, a 200 carrying an <Error>, listings with hostile keys or a
 * continuation token that never ends, GET bodies shorter or longer than
 * they should be, an XML bomb.
 *
 * Every test checks the same five things: the exact errno etagfs gives,
 * that the mount still answers (a stat and a new write after the attack),
 * that nothing took longer than a bound, that nothing outside the
 * mountpoint was created or changed, and that the object on the server
 * is unchanged whenever etagfs reported a failure.
 *
 * Operations that might never return (a listing that loops) run in a
 * child process with a deadline, so a hang fails one test, not the run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultproxy.h"
#include "harness.h"

#define FAST_OPTS "timeout=3,connect_timeout=2,retries=3"
/* One operation against a server that keeps lying: the retry budget of
 * FAST_OPTS (4 attempts, each answered at once) plus backoff and FUSE. */
#define BOUND_MS 8000
/* etagfs may grow by this much while it is attacked (RSS, KiB). */
#define RSS_GROWTH_MAX_KB (64 * 1024)

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

/* Mount @bucket through the proxy (the later endpoint= wins). */
static void mount_via_proxy(struct it_mount *m, const char *bucket,
			    const char *extra)
{
	char endpoint[64], opts[3 * PATH_MAX];

	IT_ASSERT_EQ_INT(fp_endpoint(proxy, endpoint, sizeof(endpoint)), 0);
	IT_SNPRINTF(opts, "endpoint=%s,staging_dir=%s,conflict_dir=%s,%s%s%s",
		    endpoint, it_mkdtemp("stage"), it_mkdtemp("conflicts"),
		    FAST_OPTS, extra ? "," : "", extra ? extra : "");
	it_mount(m, bucket, opts);
	IT_ASSERT_MSG(fp_count(proxy, NULL, NULL) > 0,
		      "the mount sent nothing through the proxy");
}

static int rule_add(const struct fp_rule *r)
{
	int id = fp_add_rule(proxy, r);

	IT_ASSERT_MSG(id >= 0, "fp_add_rule: %s", strerror(-id));
	return id;
}

static int header_rule(const char *method, const char *path, int count,
		       const char *header, const char *value)
{
	struct fp_rule r = {
		.method = method,
		.path_substr = path,
		.count = count,
		.action = FP_REWRITE_HEADER,
		.header = header,
		.value = value,
	};

	return rule_add(&r);
}

static int body_rule(const char *method, const char *path, int count,
		     enum fp_action action, int status, const char *body,
		     size_t len)
{
	struct fp_rule r = {
		.method = method,
		.path_substr = path,
		.count = count,
		.action = action,
		.arg = status,
		.body = body,
		.body_len = len,
	};

	return rule_add(&r);
}

static void put_server(const char *bucket, const char *key, const void *data,
		       size_t len)
{
	IT_ASSERT_EQ_INT(it_s3_put(bucket, key, data, len, NULL), 200);
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

static void expect_server_absent(const char *bucket, const char *key)
{
	long st = it_s3_head(bucket, key, NULL, NULL, NULL, NULL, 0);

	IT_ASSERT_MSG(st == 404, "HEAD %s: HTTP %ld, expected 404", key, st);
}

/* ----------------------------------------------- outside the mount */

struct tree_snap {
	char *text; /* "path size mtime\n" per entry, in walk order */
	size_t len;
	size_t cap;
};

static struct tree_snap *walk_target;
/* Static: a failed assertion longjmps past any free(). */
static struct tree_snap snap_before, snap_after;

static int snap_add(struct tree_snap *t, const char *line, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 65536;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->text, cap);
		if (!p)
			return -1;
		t->text = p;
		t->cap = cap;
	}
	memcpy(t->text + t->len, line, n + 1);
	t->len += n;
	return 0;
}

/*
 * One entry of the scratch dir: its name, and for a regular file its
 * size and mtime too, except for logs (etagfs writes to them). What
 * etagfs keeps in its own staging and conflict dirs is its business.
 */
static int walk_entry(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t blen = strlen(base);
	char line[PATH_MAX + 64];
	int n;

	if (flag == FTW_D && ftw->level == 1 &&
	    (strncmp(base, "stage-", 6) == 0 ||
	     strncmp(base, "conflicts-", 10) == 0))
		return FTW_SKIP_SUBTREE;
	if (flag == FTW_F &&
	    !(blen > 4 && strcmp(base + blen - 4, ".log") == 0))
		n = snprintf(line, sizeof(line), "%s %lld %lld\n", path,
			     (long long)sb->st_size, (long long)sb->st_mtime);
	else
		n = snprintf(line, sizeof(line), "%s\n", path);
	if (n < 0 || (size_t)n >= sizeof(line))
		return FTW_CONTINUE;
	return snap_add(walk_target, line, (size_t)n) ? FTW_STOP
						       : FTW_CONTINUE;
}

/* The names in @dir (not below) that hold "escape", sorted: other
 * programs use /tmp and the working directory at the same time. */
static void snap_names(struct tree_snap *t, const char *dir)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);

	IT_ASSERT_MSG(n >= 0, "scandir %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char line[PATH_MAX + 8];
		int w = snprintf(line, sizeof(line), "%s/%s\n", dir,
				 list[i]->d_name);

		if (strstr(list[i]->d_name, "escape") && w > 0 &&
		    (size_t)w < sizeof(line))
			IT_ASSERT(snap_add(t, line, (size_t)w) == 0);
		free(list[i]);
	}
	free(list);
}

/*
 * The scratch dir (mountpoints' parent) and what lies below it except
 * inside mounts (FTW_MOUNT), plus names like "escape" in the working
 * directory and in /tmp: where a key like "../escape" would land if
 * etagfs followed it.
 */
static void tree_take(struct tree_snap *t)
{
	char cwd[PATH_MAX];

	t->len = 0;
	if (t->text)
		t->text[0] = '\0';
	walk_target = t;
	IT_ASSERT_EQ_INT(nftw(it_env.tmp_root, walk_entry, 16,
			      FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL),
			 0);
	walk_target = NULL;
	IT_ASSERT(getcwd(cwd, sizeof(cwd)) != NULL);
	snap_names(t, cwd);
	snap_names(t, "/tmp");
}

/* Remember the tree outside the mount... */
static void tree_snapshot(void)
{
	tree_take(&snap_before);
}

/* ...and fail if it is not the same now. */
static void tree_expect_same(void)
{
	tree_take(&snap_after);
	if (snap_after.len != snap_before.len ||
	    memcmp(snap_after.text, snap_before.text, snap_after.len) != 0) {
		it_log("before:\n%s", snap_before.text ? snap_before.text : "");
		it_log("after:\n%s", snap_after.text ? snap_after.text : "");
		IT_FAIL("something outside the mountpoint changed");
	}
}

/* ------------------------------------------------- the mount lives */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	IT_SNPRINTF(path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * The attack is over (rules cleared): etagfs still runs, answers a stat
 * of the root and commits a new file that the server then holds.
 */
static void expect_alive(struct it_mount *m, const char *bucket)
{
	static unsigned n;
	char key[64], data[64];
	struct stat sb;
	int len;

	fp_clear_rules(proxy);
	IT_ASSERT_MSG(kill(m->pid, 0) == 0, "etagfs (pid %d) is gone",
		      (int)m->pid);
	IT_ASSERT_OK(stat(it_path(m, NULL), &sb));
	IT_ASSERT(S_ISDIR(sb.st_mode));
	IT_SNPRINTF(key, "alive-%u.txt", ++n);
	len = snprintf(data, sizeof(data), "still alive %u\n", n);
	IT_ASSERT_EQ_INT(it_write_file(it_path(m, key), data, (size_t)len), 0);
	IT_ASSERT_OK(stat(it_path(m, key), &sb));
	IT_ASSERT_EQ_INT(sb.st_size, len);
	expect_server(bucket, key, data, (size_t)len);
}

static void finish(struct it_mount *m)
{
	IT_ASSERT_EQ_INT(it_unmount(m), 0);
	proxy_stop();
}

/* ------------------------------------------- bounded operations */

/* What a child-run operation did. */
struct child_result {
	int err;	 /* 0, the errno, or -1: killed at the deadline */
	long ms;
	char names[65536]; /* readdir names, each followed by '\0' */
	size_t names_len;
	size_t n_names;
};

/*
 * opendir + readdir all of @dir in a child, at most @deadline_ms; the
 * names (without "." and "..") come back through a pipe. A child stuck
 * in the kernel for longer is killed (FUSE waits are killable).
 */
static void child_ls(const char *dir, long deadline_ms,
		     struct child_result *r)
{
	int fds[2], status = 0;
	long t0 = it_now_ms();
	bool killed = false;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	IT_ASSERT_OK(pipe(fds));
	pid = fork();
	IT_ASSERT_OK(pid);
	if (pid == 0) {
		DIR *d;
		struct dirent *de;
		int e = 0;

		close(fds[0]);
		d = opendir(dir);
		if (!d)
			_exit(errno & 0x7f);
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (write(fds[1], de->d_name,
				  strlen(de->d_name) + 1) < 0)
				_exit(126);
			errno = 0;
		}
		e = errno;
		closedir(d);
		_exit(e & 0x7f);
	}
	close(fds[1]);
	for (;;) {
		long left = deadline_ms - (it_now_ms() - t0);
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		ssize_t n;

		if (left <= 0) {
			/* A FUSE request already taken by etagfs cannot be
			 * killed: stop the attack so that etagfs returns. */
			fp_clear_rules(proxy);
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (r->names_len >= sizeof(r->names)) {
			char sink[4096];

			n = read(fds[0], sink, sizeof(sink));
		} else {
			n = read(fds[0], r->names + r->names_len,
				 sizeof(r->names) - r->names_len);
			if (n > 0)
				r->names_len += (size_t)n;
		}
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->ms = it_now_ms() - t0;
	if (killed)
		r->err = -1;
	else if (WIFEXITED(status))
		r->err = WEXITSTATUS(status);
	else
		r->err = -2;
	for (size_t i = 0; i < r->names_len; i++)
		if (r->names[i] == '\0')
			r->n_names++;
}

/* Static: 64 KiB, and a failed assertion longjmps past any free(). */
static struct child_result child_res;

static bool has_name(const struct child_result *r, const char *name)
{
	for (size_t i = 0; i < r->names_len;) {
		if (strcmp(r->names + i, name) == 0)
			return true;
		i += strlen(r->names + i) + 1;
	}
	return false;
}

static void log_names(const struct child_result *r)
{
	for (size_t i = 0; i < r->names_len;) {
		it_log("  listed: '%s'", r->names + i);
		i += strlen(r->names + i) + 1;
	}
}

/* open + read all, timed: 0 and the bytes, or the errno. */
static int timed_read(const char *path, void **data, size_t *len, long *ms)
{
	long t0 = it_now_ms();
	int rc = it_read_file(path, data, len);

	*ms = it_now_ms() - t0;
	return rc;
}

/* ===================================================== 1. PUT, no ETag */

/*
 * A new file's PUT lands but its response has no ETag. The write did
 * land (2xx), so close() must not report a failure (that would say "the
 * object is as before" about a changed object): etagfs learns the ETag
 * from a HEAD that finds its commit token, and close() succeeds.
 */
IT_TEST(test_put_without_etag_close_succeeds)
{
	static const char data[] = "committed, but the server won't say\n";
	char bucket[64];
	struct it_mount m;
	long t0, ms;
	int rule, rc;

	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	rule = header_rule("PUT", "noetag.txt", -1, "ETag", NULL);
	tree_snapshot();

	t0 = it_now_ms();
	rc = it_write_file(it_path(&m, "noetag.txt"), data, sizeof(data) - 1);
	ms = it_now_ms() - t0;
	it_log("close: %s after %ld ms, %d PUT(s)", strerror(rc), ms,
	       fp_rule_hits(proxy, rule));
	IT_ASSERT_EQ_INT(rc, 0);
	IT_ASSERT_MSG(ms <= BOUND_MS, "close took %ld ms", ms);
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1); /* never resent */
	expect_server(bucket, "noetag.txt", data, sizeof(data) - 1);
	tree_expect_same();
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * fsync of an existing file gets a 200 without an ETag: it succeeds, the
 * ETag learnt from the HEAD; close() has nothing left to commit, and a
 * later append through a new handle commits cleanly.
 */
IT_TEST(test_put_without_etag_fsync_then_close)
{
	static const char old[] = "old content\n";
	static const char ours[] = "our new content, committed twice\n";
	static const char more[] = "appended later\n";
	char bucket[64], both[128];
	struct it_mount m;
	int fd, rule;

	it_fresh_bucket(bucket);
	put_server(bucket, "f.txt", old, sizeof(old) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	fd = open(it_path(&m, "f.txt"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, ours, sizeof(ours) - 1), sizeof(ours) - 1);
	rule = header_rule("PUT", "f.txt", 1, "ETag", NULL);
	IT_ASSERT_OK(fsync(fd));
	IT_ASSERT_EQ_INT(fp_rule_hits(proxy, rule), 1);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "f.txt", ours, sizeof(ours) - 1);

	fd = open(it_path(&m, "f.txt"), O_WRONLY | O_APPEND);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, more, sizeof(more) - 1), sizeof(more) - 1);
	IT_ASSERT_OK(close(fd));
	IT_SNPRINTF(both, "%s%s", ours, more);
	expect_server(bucket, "f.txt", both, strlen(both));
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * After that fsync somebody else replaces the object; the handle's
 * close has nothing left to commit and must not overwrite them: their
 * bytes stay. A write after it is a conflict (EBUSY).
 */
IT_TEST(test_put_without_etag_then_other_writer)
{
	static const char old[] = "old content\n";
	static const char ours[] = "ours, whose ETag we never learnt\n";
	static const char theirs[] = "theirs, written after our fsync\n";
	char bucket[64];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	put_server(bucket, "g.txt", old, sizeof(old) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	fd = open(it_path(&m, "g.txt"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, ours, sizeof(ours) - 1), sizeof(ours) - 1);
	header_rule("PUT", "g.txt", 1, "ETag", NULL);
	IT_ASSERT_OK(fsync(fd));
	put_server(bucket, "g.txt", theirs, sizeof(theirs) - 1);
	IT_ASSERT_EQ_INT(write(fd, "x", 1), 1);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_server(bucket, "g.txt", theirs, sizeof(theirs) - 1);
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * After that fsync the handle writes more: the fsync learnt the ETag of
 * its own version from the HEAD, so the close commits on it cleanly and
 * the server holds both parts.
 */
IT_TEST(test_put_without_etag_then_more_writes)
{
	static const char old[] = "old content\n";
	static const char first[] = "first part, fsynced\n";
	static const char second[] = "second part, after\n";
	char bucket[64], both[128];
	struct it_mount m;
	int fd;

	it_fresh_bucket(bucket);
	put_server(bucket, "h.txt", old, sizeof(old) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	fd = open(it_path(&m, "h.txt"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, first, sizeof(first) - 1),
			 sizeof(first) - 1);
	header_rule("PUT", "h.txt", 1, "ETag", NULL);
	IT_ASSERT_OK(fsync(fd));
	IT_ASSERT_EQ_INT(write(fd, second, sizeof(second) - 1),
			 sizeof(second) - 1);
	IT_ASSERT_OK(close(fd));
	IT_SNPRINTF(both, "%s%s", first, second);
	expect_server(bucket, "h.txt", both, strlen(both));
	expect_alive(&m, bucket);
	finish(&m);
}

/* ================================================ 2. malformed ETags */

/*
 * HEAD and GET answer with an ETag full of quotes and backslashes.
 * etagfs treats an ETag as opaque bytes: stat works, and the read's
 * If-Match, built from the garbage, is what the server then judges: it
 * answers 412, so the read fails with ESTALE (never wrong bytes).
 */
IT_TEST(test_etag_with_quotes)
{
	static unsigned char data[5000];
	char bucket[64];
	struct it_mount m;
	struct stat sb;
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc;

	it_random_bytes(data, sizeof(data), 21);
	it_fresh_bucket(bucket);
	put_server(bucket, "q.bin", data, sizeof(data));
	proxy_begin();
	mount_via_proxy(&m, bucket, "attr_ttl=0,dir_ttl=0");
	header_rule("HEAD", "q.bin", -1, "ETag", "garbage\"with\\\"quotes");
	header_rule("GET", "q.bin", -1, "ETag", "garbage\"with\\\"quotes");

	IT_ASSERT_OK(stat(it_path(&m, "q.bin"), &sb));
	IT_ASSERT_EQ_INT(sb.st_size, sizeof(data));
	rc = timed_read(it_path(&m, "q.bin"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms", rc ? strerror(rc) : "ok", ms);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	free(got);
	/* The server refuses If-Match: <garbage> (412) even after the
	 * snapshot is refreshed: stale as far as anyone can tell. */
	IT_ASSERT_EQ_INT(rc, ESTALE);
	expect_server(bucket, "q.bin", data, sizeof(data));
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * A 10 KiB ETag does not fit etagfs's ETag field (192 bytes): the
 * response is refused as a protocol error (EPROTO), never truncated
 * into a different ETag, never written past the field.
 */
IT_TEST(test_etag_10k)
{
	static const char data[] = "small object\n";
	static char etag[10 * 1024 + 3];
	char bucket[64];
	struct it_mount m;
	struct stat sb;
	void *got = NULL;
	size_t got_len = 0;
	long t0, ms;
	int rc;

	etag[0] = '"';
	memset(etag + 1, 'e', sizeof(etag) - 3);
	etag[sizeof(etag) - 2] = '"';
	etag[sizeof(etag) - 1] = '\0';
	it_fresh_bucket(bucket);
	put_server(bucket, "long-etag.txt", data, sizeof(data) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, "attr_ttl=0,dir_ttl=0");
	header_rule("HEAD", "long-etag.txt", -1, "ETag", etag);
	header_rule("GET", "long-etag.txt", -1, "ETag", etag);

	t0 = it_now_ms();
	errno = 0;
	rc = stat(it_path(&m, "long-etag.txt"), &sb) == 0 ? 0 : errno;
	ms = it_now_ms() - t0;
	it_log("stat: %s after %ld ms", rc ? strerror(rc) : "ok", ms);
	IT_ASSERT_EQ_INT(rc, EPROTO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "stat took %ld ms", ms);
	rc = timed_read(it_path(&m, "long-etag.txt"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms", rc ? strerror(rc) : "ok", ms);
	free(got);
	IT_ASSERT_EQ_INT(rc, EPROTO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	expect_server(bucket, "long-etag.txt", data, sizeof(data) - 1);
	expect_alive(&m, bucket);
	finish(&m);
}

/* ================================================ 3. huge headers */

/* A response header of @size bytes on every HEAD and GET of a key. */
static void huge_header_case(size_t size)
{
	static const char data[] = "guarded by a huge header\n";
	char bucket[64];
	char *value = malloc(size + 1);
	struct it_mount m;
	struct stat sb;
	void *got = NULL;
	size_t got_len = 0;
	long t0, ms;
	int rc;

	IT_ASSERT(value != NULL);
	memset(value, 'h', size);
	value[size] = '\0';
	it_fresh_bucket(bucket);
	put_server(bucket, "big-hdr.txt", data, sizeof(data) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, "attr_ttl=0,dir_ttl=0");
	header_rule("HEAD", "big-hdr.txt", -1, "X-Huge", value);
	header_rule("GET", "big-hdr.txt", -1, "X-Huge", value);
	free(value);
	tree_snapshot();

	t0 = it_now_ms();
	errno = 0;
	rc = stat(it_path(&m, "big-hdr.txt"), &sb) == 0 ? 0 : errno;
	ms = it_now_ms() - t0;
	it_log("stat with a %zu-byte header: %s after %ld ms", size,
	       rc ? strerror(rc) : "ok", ms);
	IT_ASSERT_MSG(ms <= BOUND_MS, "stat took %ld ms", ms);
	rc = timed_read(it_path(&m, "big-hdr.txt"), &got, &got_len, &ms);
	it_log("read with a %zu-byte header: %s after %ld ms", size,
	       rc ? strerror(rc) : "ok", ms);
	free(got);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	/* libcurl refuses a header line over 100 KiB; what reaches the
	 * caller should say "the server sent garbage", not "out of
	 * memory". */
	IT_ASSERT_MSG(rc == EIO || rc == EPROTO,
		      "read: %d (%s), want EIO or EPROTO", rc, strerror(rc));
	tree_expect_same();
	expect_server(bucket, "big-hdr.txt", data, sizeof(data) - 1);
	expect_alive(&m, bucket);
	finish(&m);
}

IT_TEST(test_header_100k)
{
	huge_header_case(100 * 1024);
}

IT_TEST(test_header_1m)
{
	huge_header_case(1024 * 1024);
}

/* ==================================== 4. 200 with an <Error> document */

static const char error_doc[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Error><Code>InternalError</Code><Message>We encountered an "
	"internal error. Please try again.</Message><RequestId>hostile-1"
	"</RequestId></Error>";

/*
 * rename(2) of a file is copy + delete. Every CopyObject is answered
 * 200 with an <Error> body (the server never saw it): the rename fails
 * with EIO once the retries are spent, the source is untouched and no
 * destination appears.
 */
IT_TEST(test_copy_200_error_not_forwarded)
{
	static const char data[] = "do not lose me\n";
	char bucket[64];
	struct it_mount m;
	struct stat sb;
	long t0, ms;
	int rule;

	it_fresh_bucket(bucket);
	put_server(bucket, "src.txt", data, sizeof(data) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "src.txt"), &sb));
	rule = body_rule("PUT", "dst.txt", -1, FP_STATUS_WITH_BODY, 200,
			 error_doc, sizeof(error_doc) - 1);

	t0 = it_now_ms();
	IT_ASSERT_ERRNO(rename(it_path(&m, "src.txt"), it_path(&m, "dst.txt")),
			EIO);
	ms = it_now_ms() - t0;
	it_log("rename failed after %ld ms, %d copies", ms,
	       fp_rule_hits(proxy, rule));
	IT_ASSERT_MSG(ms <= BOUND_MS, "rename took %ld ms", ms);
	IT_ASSERT(fp_rule_hits(proxy, rule) >= 1);
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "src.txt"), 0);
	expect_server(bucket, "src.txt", data, sizeof(data) - 1);
	expect_server_absent(bucket, "dst.txt");
	IT_ASSERT_OK(stat(it_path(&m, "src.txt"), &sb));
	IT_ASSERT_EQ_INT(sb.st_size, sizeof(data) - 1);
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * The same, but the server did copy and only its answer says <Error>:
 * the rename still fails and, above all, the source is not deleted.
 */
IT_TEST(test_copy_200_error_forwarded)
{
	static const char data[] = "copied, but told it failed\n";
	char bucket[64];
	struct it_mount m;
	struct stat sb;

	it_fresh_bucket(bucket);
	put_server(bucket, "src2.txt", data, sizeof(data) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "src2.txt"), &sb));
	body_rule("PUT", "dst2.txt", -1, FP_REPLACE_BODY, 200, error_doc,
		  sizeof(error_doc) - 1);

	IT_ASSERT_ERRNO(rename(it_path(&m, "src2.txt"),
			       it_path(&m, "dst2.txt")),
			EIO);
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "src2.txt"), 0);
	expect_server(bucket, "src2.txt", data, sizeof(data) - 1);
	IT_ASSERT_OK(stat(it_path(&m, "src2.txt"), &sb));
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * A 6 MiB file goes up as a multipart upload (single_put_limit=5M with
 * nonatomic_multipart: RGW ignores conditions on Complete). Every
 * CompleteMultipartUpload is answered 200 with an <Error> body: close()
 * fails with EIO, the object keeps its old content, and the upload is
 * aborted (nothing left in progress; RGW's list of uploads may lag an
 * abort by a few hundred ms).
 */
IT_TEST(test_complete_200_error)
{
	static const char old[] = "the old, small content\n";
	const size_t len = 6u << 20;
	unsigned char *data = malloc(len);
	char bucket[64];
	char **uploads;
	size_t n = 0;
	struct it_mount m;
	long t0, ms;
	int rule, rc;

	IT_ASSERT(data != NULL);
	it_random_bytes(data, len, 41);
	it_fresh_bucket(bucket);
	put_server(bucket, "big.bin", old, sizeof(old) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket,
			"single_put_limit=5M,nonatomic_multipart,part_size=5M");
	rule = body_rule("POST", "uploadId=", -1, FP_STATUS_WITH_BODY, 200,
			 error_doc, sizeof(error_doc) - 1);

	t0 = it_now_ms();
	rc = it_write_file(it_path(&m, "big.bin"), data, len);
	ms = it_now_ms() - t0;
	free(data);
	it_log("close: %s after %ld ms, %d Complete(s)",
	       rc ? strerror(rc) : "ok", ms, fp_rule_hits(proxy, rule));
	IT_ASSERT(fp_rule_hits(proxy, rule) >= 1);
	IT_ASSERT_EQ_INT(rc, EIO);
	IT_ASSERT_MSG(ms <= 2 * BOUND_MS, "close took %ld ms", ms);
	expect_server(bucket, "big.bin", old, sizeof(old) - 1);
	it_log("aborts: %ld", fp_count(proxy, "DELETE", "uploadId="));
	for (int i = 0; i < 50; i++) {
		uploads = it_s3_list_multipart_uploads(bucket, &n);
		IT_ASSERT(uploads != NULL);
		it_strv_free(uploads);
		if (n == 0)
			break;
		it_log("%zu upload(s) still listed", n);
		usleep(100 * 1000);
	}
	IT_ASSERT_EQ_INT(n, 0);
	expect_alive(&m, bucket);
	finish(&m);
}

/* ================================================ 5. hostile listings */

/* A ListObjectsV2 page (keys given url-encoded); @etags: NULL, or the
 * ETag of each key as the server sent it. */
static char *list_doc_etags(const char *const *keys,
			    const char *const *etags, size_t n,
			    const char *extra)
{
	size_t cap = 4096 + strlen(extra);
	char *doc, *p;
	int w;

	for (size_t i = 0; i < n; i++)
		cap += strlen(keys[i]) + 256;
	doc = malloc(cap);
	IT_ASSERT(doc != NULL);
	p = doc;
	w = snprintf(p, cap,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
		     "2006-03-01/\"><Name>b</Name><Prefix></Prefix>"
		     "<KeyCount>%zu</KeyCount><MaxKeys>1000</MaxKeys>"
		     "<Delimiter>/</Delimiter><EncodingType>url</EncodingType>"
		     "%s",
		     n, extra);
	IT_ASSERT(w > 0 && (size_t)w < cap);
	p += w;
	cap -= (size_t)w;
	for (size_t i = 0; i < n; i++) {
		w = snprintf(p, cap,
			     "<Contents><Key>%s</Key><LastModified>"
			     "2024-01-02T03:04:05.000Z</LastModified><ETag>"
			     "%s</ETag><Size>5</Size><StorageClass>STANDARD"
			     "</StorageClass></Contents>",
			     keys[i],
			     etags ? etags[i]
				   : "&quot;0123456789abcdef0123456789abcdef"
				     "&quot;");
		IT_ASSERT(w > 0 && (size_t)w < cap);
		p += w;
		cap -= (size_t)w;
	}
	w = snprintf(p, cap, "</ListBucketResult>");
	IT_ASSERT(w > 0 && (size_t)w < cap);
	return doc;
}

static char *list_doc(const char *const *keys, size_t n, const char *extra)
{
	return list_doc_etags(keys, NULL, n, extra);
}

/*
 * Mount, replace the body of every listing with @doc_take (freed here),
 * list the root in a child with a deadline. The tree outside the mount
 * is compared around the listing.
 */
static void hostile_ls(char *doc_take, const char *opts, const char *bucket,
		       struct it_mount *m, struct child_result *r)
{
	static char *doc;

	free(doc); /* left by a test that failed */
	doc = doc_take;
	proxy_begin();
	mount_via_proxy(m, bucket, opts);
	body_rule("GET", "list-type=2", -1, FP_REPLACE_BODY, 0, doc,
		  strlen(doc));
	free(doc);
	doc = NULL;
	tree_snapshot();
	child_ls(it_path(m, NULL), 3 * BOUND_MS, r);
	it_log("ls: %s after %ld ms, %zu names",
	       r->err == -1 ? "killed at the deadline" :
	       r->err ? strerror(r->err) : "ok",
	       r->ms, r->n_names);
	log_names(r);
	IT_ASSERT_MSG(r->err != -1, "ls did not return within %d ms",
		      3 * BOUND_MS);
	IT_ASSERT_MSG(r->err != -2, "ls was killed by a signal");
	tree_expect_same();
}

/*
 * Names that cannot be a component (".", "..", "a/../b", "/abs",
 * "../escape", "") are skipped, valid ones are listed once (duplicates
 * too), a newline is a legal byte of a name. Nothing named "escape"
 * appears anywhere, and looking names up does not leave the mount.
 */
static void hostile_names_case(const char *opts)
{
	static const char *const keys[] = {
		"good.txt", "..", ".", "a%2F..%2Fb", "%2Fabs", "..%2Fescape",
		"..%2F..%2Fescape2", "new%0Aline", "dup.txt", "dup.txt",
		"zz%2F", "%2E%2E",
	};
	char bucket[64], path[PATH_MAX];
	char *doc = list_doc(keys, sizeof(keys) / sizeof(keys[0]), "");
	struct child_result *r = &child_res;
	struct it_mount m;
	struct stat sb;

	it_fresh_bucket(bucket);
	hostile_ls(doc, opts, bucket, &m, r);
	IT_ASSERT_EQ_INT(r->err, 0);
	IT_ASSERT(has_name(r, "good.txt"));
	IT_ASSERT(has_name(r, "new\nline"));
	IT_ASSERT(has_name(r, "dup.txt"));
	IT_ASSERT_MSG(r->n_names == 3, "%zu names listed, want 3 (good.txt, "
		      "new\\nline, dup.txt once)", r->n_names);
	/* "../escape" through the mount is the kernel's "..": never ours. */
	IT_SNPRINTF(path, "%s/../escape", m.dir);
	IT_ASSERT_ERRNO(lstat(path, &sb), ENOENT);
	IT_ASSERT_ERRNO(lstat("escape", &sb), ENOENT);
	expect_alive(&m, bucket);
	finish(&m);
}

IT_TEST(test_list_hostile_names)
{
	hostile_names_case(NULL);
}

/* The same without the directory cache (a listing served uncached). */
IT_TEST(test_list_hostile_names_uncached)
{
	hostile_names_case("dir_ttl=0");
}

/* One listing whose only oddity is @keys[0]; the listing must fail with
 * @want (0: list the valid names, here "ok.txt"). */
static void one_bad_key_case(const char *bad, int want)
{
	const char *keys[] = {bad, "ok.txt"};
	char bucket[64];
	char *doc = list_doc(keys, 2, "");
	struct child_result *r = &child_res;
	struct it_mount m;

	it_fresh_bucket(bucket);
	hostile_ls(doc, "dir_ttl=0", bucket, &m, r);
	IT_ASSERT_MSG(r->err == want, "ls: %d (%s), want %d (%s)", r->err,
		      strerror(r->err), want, strerror(want));
	if (want == 0) {
		IT_ASSERT(has_name(r, "ok.txt"));
		IT_ASSERT_EQ_INT(r->n_names, 1);
	}
	IT_ASSERT_MSG(r->ms <= BOUND_MS, "ls took %ld ms", r->ms);
	expect_alive(&m, bucket);
	finish(&m);
}

/* %00 cannot be in a key: the page is refused as a whole (EPROTO). */
IT_TEST(test_list_key_with_nul)
{
	one_bad_key_case("bad%00key", EPROTO);
}

/* 10,000 bytes is no S3 key (1,024 at most): the page is refused. */
IT_TEST(test_list_key_10000_bytes)
{
	static char key[10001];

	memset(key, 'k', sizeof(key) - 1);
	one_bad_key_case(key, EPROTO);
}

/* A bad percent escape: refused like %00. */
IT_TEST(test_list_key_bad_escape)
{
	one_bad_key_case("bad%zzkey", EPROTO);
}

/* A truncated page without a continuation token cannot be continued:
 * listing on would silently lose entries, so it fails (EPROTO). */
IT_TEST(test_list_truncated_without_token)
{
	static const char *const keys[] = {"one.txt", "two.txt"};
	char bucket[64];
	char *doc = list_doc(keys, 2, "<IsTruncated>true</IsTruncated>");
	struct child_result *r = &child_res;
	struct it_mount m;

	it_fresh_bucket(bucket);
	hostile_ls(doc, "dir_ttl=0", bucket, &m, r);
	IT_ASSERT_EQ_INT(r->err, EPROTO);
	IT_ASSERT_MSG(r->ms <= BOUND_MS, "ls took %ld ms", r->ms);
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * Every page says "truncated, continue with token T", T never changes:
 * a client that follows it lists forever (and grows without bound).
 * etagfs must notice the repeated token (or cap the pages) and fail
 * within a bound, with its memory not blown up.
 */
IT_TEST(test_list_token_loops)
{
	static const char *const keys[] = {"loop-a.txt", "loop-b.txt"};
	char bucket[64];
	char *doc = list_doc(keys, 2,
			     "<IsTruncated>true</IsTruncated>"
			     "<NextContinuationToken>same-token-forever"
			     "</NextContinuationToken>");
	struct child_result *r = &child_res;
	struct it_mount m;
	long rss0, rss1, lists;

	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, "dir_ttl=0");
	rss0 = rss_kb(m.pid);
	body_rule("GET", "list-type=2", -1, FP_REPLACE_BODY, 0, doc,
		  strlen(doc));
	free(doc);
	fp_reset_counts(proxy);
	child_ls(it_path(&m, NULL), 15000, r);
	lists = fp_count(proxy, "GET", "list-type=2");
	rss1 = rss_kb(m.pid);
	it_log("ls: %s after %ld ms, %ld listing requests, RSS %ld -> %ld "
	       "KiB",
	       r->err == -1 ? "killed at the deadline" :
	       r->err ? strerror(r->err) : "ok",
	       r->ms, lists, rss0, rss1);
	/* Stop the loop whatever happened: RGW refuses the fake token. */
	fp_clear_rules(proxy);
	IT_ASSERT_MSG(r->err != -1,
		      "ls still running after 15 s (%ld listing requests): "
		      "etagfs follows a repeating continuation token forever",
		      lists);
	IT_ASSERT_MSG(r->err == EIO || r->err == EPROTO,
		      "ls: %d (%s), want EIO or EPROTO", r->err,
		      strerror(r->err));
	IT_ASSERT_MSG(rss1 - rss0 <= RSS_GROWTH_MAX_KB,
		      "etagfs grew by %ld KiB", rss1 - rss0);
	expect_alive(&m, bucket);
	finish(&m);
}

/*
 * rename(2) of a directory lists the keys below "d/" and moves each. A
 * listing that answers with a key outside "d/" (@foreign, as a lying
 * server could) must not make etagfs copy or delete that key: it lies
 * outside what the caller renamed. "victim.txt" would be moved to
 * "e/" + "ctim.txt" (its name past strlen("d/")); "x", shorter than
 * "d/", would be read past its end.
 */
static void rename_foreign_case(const char *foreign)
{
	static const char victim[] = "an innocent bystander\n";
	static const char inner[] = "inside d\n";
	char bucket[64], etag_in[IT_ETAG_MAX], etag_v[IT_ETAG_MAX];
	char target[128];
	const char *keys[] = {"d%2Ff1.txt", foreign};
	const char *etags[] = {etag_in, etag_v};
	char *doc, *p;
	struct it_mount m;
	int rc;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "d/f1.txt", inner,
				   sizeof(inner) - 1, etag_in),
			 200);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, foreign, victim,
				   sizeof(victim) - 1, etag_v),
			 200);
	proxy_begin();
	mount_via_proxy(&m, bucket, "dir_ttl=0,attr_ttl=0");
	/* rename's own walk lists without a delimiter. */
	doc = list_doc_etags(keys, etags, 2, "");
	p = strstr(doc, "<Delimiter>/</Delimiter>");
	IT_ASSERT(p != NULL);
	memmove(p, p + 24, strlen(p + 24) + 1);
	body_rule("GET", "list-type=2&prefix=d%2F", -1, FP_REPLACE_BODY, 0,
		  doc, strlen(doc));
	free(doc);
	tree_snapshot();

	errno = 0;
	rc = rename(it_path(&m, "d"), it_path(&m, "e")) == 0 ? 0 : errno;
	IT_SNPRINTF(target, "/%s/%s", bucket, foreign);
	it_log("rename d -> e: %s; copies into e/: %ld, deletes of %s: %ld",
	       rc ? strerror(rc) : "ok", fp_count(proxy, "PUT", "/e/"),
	       foreign, fp_count(proxy, "DELETE", target));
	fp_clear_rules(proxy);
	{
		char **all = it_s3_list(bucket, NULL, NULL);

		for (char **k = all; k && *k; k++)
			it_log("  on the server after: '%s'", *k);
		it_strv_free(all);
	}
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", target), 0);
	expect_server(bucket, foreign, victim, sizeof(victim) - 1);
	IT_ASSERT_MSG(rc == 0 || rc == EIO || rc == EPROTO,
		      "rename: %d (%s)", rc, strerror(rc));
	tree_expect_same();
	expect_alive(&m, bucket);
	finish(&m);
}

IT_TEST(test_rename_dir_foreign_key)
{
	rename_foreign_case("victim.txt");
}

IT_TEST(test_rename_dir_foreign_short_key)
{
	rename_foreign_case("x");
}

/* ======================================== 6. GET bodies that lie */

/*
 * Every GET of the object is cut short of its Content-Length (the
 * status is right): the read fails with EIO within the retry budget;
 * no byte count short of the size is reported as the end of file.
 */
IT_TEST(test_get_always_truncated)
{
	static unsigned char data[40000];
	char bucket[64];
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc;

	it_random_bytes(data, sizeof(data), 61);
	it_fresh_bucket(bucket);
	put_server(bucket, "cut.bin", data, sizeof(data));
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	{
		struct fp_rule r = {.method = "GET",
				    .path_substr = "cut.bin",
				    .count = -1,
				    .action = FP_TRUNCATE_RESPONSE};

		rule_add(&r);
	}
	rc = timed_read(it_path(&m, "cut.bin"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms (%zu bytes)",
	       rc ? strerror(rc) : "ok", ms, got_len);
	free(got);
	IT_ASSERT_EQ_INT(rc, EIO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	expect_alive(&m, bucket);
	got = NULL;
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "cut.bin"), &got, &got_len),
			 0);
	IT_ASSERT_EQ_INT(got_len, sizeof(data));
	IT_ASSERT_MEM(got, data, sizeof(data));
	free(got);
	finish(&m);
}

/*
 * A 206 whose body is longer than the Range asked for (Content-Length
 * matching the longer body): more bytes than the buffer can hold. The
 * read fails (a protocol error, EPROTO) rather than overflowing or
 * serving the wrong bytes; the next good answer reads fine.
 */
IT_TEST(test_get_longer_than_range)
{
	static unsigned char data[40000];
	static char junk[300000];
	char bucket[64];
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc;

	it_random_bytes(data, sizeof(data), 62);
	it_random_bytes(junk, sizeof(junk), 63);
	it_fresh_bucket(bucket);
	put_server(bucket, "long.bin", data, sizeof(data));
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	body_rule("GET", "long.bin", -1, FP_REPLACE_BODY, 0, junk,
		  sizeof(junk));
	rc = timed_read(it_path(&m, "long.bin"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms (%zu bytes)",
	       rc ? strerror(rc) : "ok", ms, got_len);
	free(got);
	IT_ASSERT_EQ_INT(rc, EPROTO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	expect_alive(&m, bucket);
	got = NULL;
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "long.bin"), &got,
				      &got_len),
			 0);
	IT_ASSERT_EQ_INT(got_len, sizeof(data));
	IT_ASSERT_MEM(got, data, sizeof(data));
	free(got);
	expect_server(bucket, "long.bin", data, sizeof(data));
	finish(&m);
}

/*
 * A 206 with an empty body (Content-Length: 0) for a range inside an
 * object whose size is known: the object did not end there, so the read
 * must fail (EIO) rather than report the end of file early.
 */
IT_TEST(test_get_empty_partial)
{
	static unsigned char data[40000];
	char bucket[64];
	struct it_mount m;
	struct stat sb;
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc;

	it_random_bytes(data, sizeof(data), 64);
	it_fresh_bucket(bucket);
	put_server(bucket, "empty.bin", data, sizeof(data));
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, "empty.bin"), &sb));
	IT_ASSERT_EQ_INT(sb.st_size, sizeof(data));
	body_rule("GET", "empty.bin", -1, FP_REPLACE_BODY, 0, "", 0);
	rc = timed_read(it_path(&m, "empty.bin"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms (%zu bytes of %zu)",
	       rc ? strerror(rc) : "ok", ms, got_len, sizeof(data));
	free(got);
	IT_ASSERT_MSG(rc != 0, "read returned %zu of %zu bytes as if the "
		      "file ended there", got_len, sizeof(data));
	IT_ASSERT_EQ_INT(rc, EIO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	expect_alive(&m, bucket);
	finish(&m);
}

/* ======================================== 7. XML bombs and nesting */

/* A growable text for the attack documents below. */
struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL,
			      t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		IT_ASSERT(n >= 0);
		if (t->p && t->len + (size_t)n < t->cap)
			break;
		t->cap = t->cap ? 2 * t->cap : 4096;
		while (t->cap < t->len + (size_t)n + 1)
			t->cap *= 2;
		t->p = realloc(t->p, t->cap);
		IT_ASSERT(t->p != NULL);
	}
	t->len += (size_t)n;
}

/* Billion laughs: lol9 expands to 10^9 "lol"s. */
static char *laughs_doc(bool as_error)
{
	struct text t = {0};

	text_add(&t, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
		     "<!ENTITY lol0 \"lol\">\n");
	for (int i = 1; i <= 9; i++) {
		text_add(&t, "<!ENTITY lol%d \"", i);
		for (int j = 0; j < 10; j++)
			text_add(&t, "&lol%d;", i - 1);
		text_add(&t, "\">\n");
	}
	if (as_error)
		text_add(&t, "]>\n<Error><Code>&lol9;</Code></Error>");
	else
		text_add(&t, "]>\n<ListBucketResult><Name>&lol9;</Name>"
			     "</ListBucketResult>");
	return t.p;
}

/* @depth nested elements inside a ListBucketResult. */
static char *nested_doc(size_t depth)
{
	struct text t = {0};

	text_add(&t, "<ListBucketResult>");
	for (size_t i = 0; i < depth; i++)
		text_add(&t, "<a>");
	for (size_t i = 0; i < depth; i++)
		text_add(&t, "</a>");
	text_add(&t, "</ListBucketResult>");
	return t.p;
}

/*
 * The listing body is @doc: the listing is refused quickly (EPROTO) and
 * etagfs's memory does not blow up.
 */
static void xml_attack_case(char *doc_take)
{
	char bucket[64];
	struct child_result *r = &child_res;
	struct it_mount m;
	long rss0, rss1;

	it_fresh_bucket(bucket);
	proxy_begin();
	mount_via_proxy(&m, bucket, "dir_ttl=0");
	rss0 = rss_kb(m.pid);
	body_rule("GET", "list-type=2", -1, FP_REPLACE_BODY, 0, doc_take,
		  strlen(doc_take));
	free(doc_take);
	child_ls(it_path(&m, NULL), BOUND_MS, r);
	rss1 = rss_kb(m.pid);
	it_log("ls: %s after %ld ms, RSS %ld -> %ld KiB",
	       r->err == -1 ? "killed at the deadline" :
	       r->err ? strerror(r->err) : "ok",
	       r->ms, rss0, rss1);
	IT_ASSERT_EQ_INT(r->err, EPROTO);
	IT_ASSERT_MSG(r->ms <= 2000, "ls took %ld ms", r->ms);
	IT_ASSERT_MSG(rss1 - rss0 <= RSS_GROWTH_MAX_KB,
		      "etagfs grew by %ld KiB", rss1 - rss0);
	expect_alive(&m, bucket);
	finish(&m);
}

IT_TEST(test_list_billion_laughs)
{
	xml_attack_case(laughs_doc(false));
}

IT_TEST(test_list_deeply_nested)
{
	xml_attack_case(nested_doc(100000));
}

/*
 * An error body that is a bomb, on a 500 (where etagfs parses the body
 * for <Code>): the read fails with EIO after the retries, quickly.
 */
IT_TEST(test_error_body_billion_laughs)
{
	static const char data[] = "x\n";
	char bucket[64];
	char *doc = laughs_doc(true);
	struct it_mount m;
	void *got = NULL;
	size_t got_len = 0;
	long ms;
	int rc;

	it_fresh_bucket(bucket);
	put_server(bucket, "bomb.txt", data, sizeof(data) - 1);
	proxy_begin();
	mount_via_proxy(&m, bucket, NULL);
	body_rule("GET", "bomb.txt", -1, FP_STATUS_WITH_BODY, 500, doc,
		  strlen(doc));
	free(doc);
	rc = timed_read(it_path(&m, "bomb.txt"), &got, &got_len, &ms);
	it_log("read: %s after %ld ms", rc ? strerror(rc) : "ok", ms);
	free(got);
	IT_ASSERT_EQ_INT(rc, EIO);
	IT_ASSERT_MSG(ms <= BOUND_MS, "read took %ld ms", ms);
	expect_alive(&m, bucket);
	finish(&m);
}
