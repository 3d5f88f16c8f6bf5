/*
 * Crash safety: a mount killed with SIGKILL at every interesting moment
 * of a handle's life, then a new mount (or "etagfs --recover") on the
 * same staging and conflict directories. What it must find (see
 * doc/internals/recovery.md):
 *
 *  - content still being written is never uploaded: it is kept as a
 *    "recovered copy" in the conflict directory, the server untouched;
 *  - content whose commit was asked for (close/fsync) and whose outcome
 *    was unknown is committed with its original precondition and commit
 *    token: it lands if the object is as it was, resolves to success if
 *    the lost commit had landed, and becomes a conflict copy if another
 *    writer got there first;
 *  - content already committed is recovered into nothing;
 *  - no manifest stays behind.
 *
 * A commit is caught in flight with the fault proxy (faultproxy.h): a
 * hook on the PUT tells the test thread the request is there, and the
 * test kills etagfs while close() waits for it. A manifest names the
 * endpoint it was written for and recovery only touches manifests of its
 * own endpoint (staging.h), so the mount after such a crash goes through
 * the same proxy, without rules.
 *
 * etagfs runs with -f as the harness's child: the test kills it, waits
 * for it to die without reaping it (waitid WNOWAIT), detaches the dead
 * mount (fusermount3 -uz) and lets it_unmount reap it (which logs the
 * signal: expected here).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultproxy.h"
#include "harness.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

/* A mount's staging and conflict directories, kept across remounts. */
struct dirs {
	char stage[PATH_MAX];
	char conf[PATH_MAX];
};

static void dirs_new(struct dirs *d)
{
	snprintf(d->stage, sizeof(d->stage), "%s", it_mkdtemp("stage"));
	snprintf(d->conf, sizeof(d->conf), "%s", it_mkdtemp("conf"));
}

/* ------------------------------------------------------------- proxy */

static struct fp_proxy *proxy;

static void proxy_stop(void)
{
	fp_stop(proxy);
	proxy = NULL;
}

static void proxy_begin(void)
{
	static bool registered;
	int rc;

	if (!registered)
		atexit(proxy_stop);
	registered = true;
	proxy_stop(); /* left behind by a test that failed */
	rc = fp_start(it_env.endpoint, &proxy);
	IT_ASSERT_MSG(rc == 0, "fp_start(%s): %s", it_env.endpoint,
		      strerror(-rc));
}

/*
 * A PUT held by the proxy. The hook runs on a connection thread: it
 * counts the request, records the upstream status, wakes the test thread
 * and, when @c hold is set, keeps the request there (never forwarded, for
 * FP_RESET_BEFORE) until the test releases it or 20 s passed. Static:
 * a retry may call the hook after a failed test left its frame.
 */
struct catcher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold;
	bool released;
	int arrived;
	int status; /* upstream status of the first one, 0 if not sent */
};

static struct catcher catcher = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void catch_hook(void *arg, const char *method, const char *target,
		       int status)
{
	struct catcher *c = arg;
	struct timespec ts;

	(void)method;
	(void)target;
	deadline_in(&ts, 20000);
	pthread_mutex_lock(&c->lock);
	if (c->arrived++ == 0)
		c->status = status;
	pthread_cond_broadcast(&c->cond);
	while (c->hold && !c->released &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&c->lock);
}

/* Arm the catcher on the PUTs of @p key (all of them). */
static void catch_puts(const char *key, enum fp_action action, int arg,
		       bool hold)
{
	struct fp_rule r = {0};
	int id;

	pthread_mutex_lock(&catcher.lock);
	catcher.hold = hold;
	catcher.released = false;
	catcher.arrived = 0;
	catcher.status = 0;
	pthread_mutex_unlock(&catcher.lock);
	r.method = "PUT";
	r.path_substr = key;
	r.count = -1;
	r.action = action;
	r.arg = arg;
	r.hook = catch_hook;
	r.hook_arg = &catcher;
	id = fp_add_rule(proxy, &r);
	IT_ASSERT_MSG(id >= 0, "fp_add_rule: %s", strerror(-id));
}

/* Wait (10 s at most) for the first caught PUT; its upstream status. */
static int catch_wait(void)
{
	struct timespec ts;
	int status;

	deadline_in(&ts, 10000);
	pthread_mutex_lock(&catcher.lock);
	while (catcher.arrived == 0 &&
	       pthread_cond_timedwait(&catcher.cond, &catcher.lock, &ts) == 0)
		;
	status = catcher.arrived ? catcher.status : -1;
	pthread_mutex_unlock(&catcher.lock);
	IT_ASSERT_MSG(status >= 0, "the PUT never reached the proxy");
	return status;
}

static void catch_release(void)
{
	pthread_mutex_lock(&catcher.lock);
	catcher.released = true;
	pthread_cond_broadcast(&catcher.cond);
	pthread_mutex_unlock(&catcher.lock);
}

/* ------------------------------------------------------------ mounts */

/*
 * Mount @p bucket on @p d's directories (through the proxy when
 * @p via_proxy) and wait until the mount answers: recovery runs before
 * the first request is served, so it is over when this returns.
 */
static void mount_on(struct it_mount *m, const char *bucket,
		     const struct dirs *d, bool via_proxy, const char *extra)
{
	char opts[3 * PATH_MAX], endpoint[64] = "";
	struct stat sb;
	DIR *dir;

	if (via_proxy) {
		IT_ASSERT_EQ_INT(fp_endpoint(proxy, endpoint,
					     sizeof(endpoint)),
				 0);
	}
	IT_SNPRINTF(opts,
		    "attr_ttl=0,dir_ttl=0,staging_dir=%s,conflict_dir=%s%s%s%s"
		    "%s%s",
		    d->stage, d->conf, via_proxy ? ",endpoint=" : "",
		    endpoint, extra ? "," : "", extra ? extra : "",
		    getenv("ETAGFS_IT_DEBUG") ? ",debug" : "");
	it_mount(m, bucket, opts);
	dir = opendir(m->dir);
	IT_ASSERT_MSG(dir != NULL, "opendir %s: %s", m->dir, strerror(errno));
	errno = 0;
	while (readdir(dir) != NULL)
		;
	IT_ASSERT_MSG(errno == 0, "readdir %s: %s", m->dir, strerror(errno));
	closedir(dir);
	IT_ASSERT_OK(stat(m->dir, &sb));
}

/* fusermount3 -uz @p dir; its exit status. */
static int detach(const char *dir)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execlp("fusermount3", "fusermount3", "-uz", dir, (char *)NULL);
		_exit(127);
	}
	IT_ASSERT_OK(pid);
	while (waitpid(pid, &st, 0) < 0)
		IT_ASSERT_MSG(errno == EINTR, "waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * SIGKILL etagfs of @p m, wait for it to be dead (not reaped: the
 * harness reaps it in it_unmount), detach its mount.
 */
static void crash(struct it_mount *m)
{
	siginfo_t si;

	it_log("killing etagfs (pid %d) with SIGKILL", (int)m->pid);
	IT_ASSERT(m->pid > 0);
	IT_ASSERT_OK(kill(m->pid, SIGKILL));
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)m->pid, &si, WEXITED | WNOWAIT) != 0)
		IT_ASSERT_MSG(errno == EINTR, "waitid: %s", strerror(errno));
	IT_ASSERT_EQ_INT(si.si_code, CLD_KILLED);
	IT_ASSERT_EQ_INT(detach(m->dir), 0);
	IT_ASSERT(!it_is_mounted(m->dir));
}

/* Reap the killed etagfs (it_unmount reports the signal, as it must). */
static void reap(struct it_mount *m)
{
	IT_ASSERT_EQ_INT(it_unmount(m), -1);
}

/* ------------------------------------------------------ observations */

/* Manifests in @p stage ("stage-*.manifest"). */
static int manifests(const char *stage)
{
	static const char suffix[] = ".manifest";
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(stage);

	IT_ASSERT_MSG(d != NULL, "opendir %s: %s", stage, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "stage-", 6) == 0 &&
		    len > sizeof(suffix) - 1 &&
		    strcmp(de->d_name + len - (sizeof(suffix) - 1), suffix) ==
			    0)
			n++;
	}
	closedir(d);
	return n;
}

/* The path of the only manifest in @p stage into @p out. */
static void only_manifest(const char *stage, char *out, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(stage);

	IT_ASSERT_EQ_INT(manifests(stage), 1);
	IT_ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".manifest") != NULL &&
		    strstr(de->d_name, ".tmp") == NULL)
			break;
	IT_ASSERT(de != NULL);
	snprintf(out, len, "%s/%s", stage, de->d_name);
	closedir(d);
}

/* The state line of the only manifest in @p stage ("open", ...). */
static void manifest_state(const char *stage, char *out, size_t len)
{
	char path[PATH_MAX * 2], line[512];
	FILE *f;

	out[0] = '\0';
	only_manifest(stage, path, sizeof(path));
	f = fopen(path, "re");
	IT_ASSERT_MSG(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "state ", 6) == 0) {
			size_t n = strcspn(line + 6, "\n");

			if (n >= len)
				n = len - 1;
			memcpy(out, line + 6, n);
			out[n] = '\0';
		}
	fclose(f);
}

/* Files in @p conf/@p bucket (0 when that directory does not exist). */
static int conflict_files(const struct dirs *dd, const char *bucket)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dd->conf, bucket);
	d = opendir(path);
	if (d == NULL) {
		IT_ASSERT_MSG(errno == ENOENT, "opendir %s: %s", path,
			      strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The one copy of @p key in the conflict directory holds @p data. */
static void expect_copy(const struct dirs *dd, const char *bucket,
			const char *key, const void *data, size_t len)
{
	char dir[PATH_MAX * 2], path[PATH_MAX * 3], prefix[PATH_MAX];
	struct dirent *de;
	void *got = NULL;
	size_t got_len = 0;
	int n = 0, rc;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", dd->conf, bucket);
	IT_SNPRINTF(prefix, "%s.conflict-", key);
	d = opendir(dir);
	IT_ASSERT_MSG(d != NULL, "no conflict directory %s: %s", dir,
		      strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			n++;
		}
	closedir(d);
	IT_ASSERT_MSG(n == 1, "%d copies of %s in %s, expected 1", n, key,
		      dir);
	rc = it_read_file(path, &got, &got_len);
	IT_ASSERT_MSG(rc == 0, "%s: %s", path, strerror(rc));
	IT_ASSERT_MSG(got_len == len, "%s: %zu bytes, expected %zu", path,
		      got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

/* The server has exactly @p data as @p key; its ETag into @p etag. */
static void expect_server(const char *bucket, const char *key,
			  const void *data, size_t len, char *etag)
{
	void *got = NULL;
	size_t got_len = 0;
	long st = it_s3_get(bucket, key, &got, &got_len, etag);

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

static void expect_log(const struct it_mount *m, const char *needle)
{
	if (!it_log_contains(m, needle)) {
		it_mount_log_tail(m, 20);
		IT_FAIL("etagfs's log has no \"%s\"", needle);
	}
}

static void write_all(int fd, const void *data, size_t len)
{
	IT_ASSERT_EQ_INT(write(fd, data, len), len);
}

/* ----------------------------------------------- a close() that waits */

struct closer {
	pthread_t thread;
	int fd;
	int ret;
	int err;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	c->ret = close(c->fd);
	c->err = c->ret == 0 ? 0 : errno;
	return NULL;
}

static void close_in_background(struct closer *c, int fd)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	rc = pthread_create(&c->thread, NULL, closer_main, c);
	IT_ASSERT_MSG(rc == 0, "pthread_create: %s", strerror(rc));
}

/* The close() of a killed mount: the kernel aborts the request. */
static void close_joined(struct closer *c)
{
	pthread_join(c->thread, NULL);
	it_log("close() on the killed mount: %d (%s)", c->ret,
	       c->ret ? strerror(c->err) : "ok");
	IT_ASSERT_EQ_INT(c->ret, -1);
	IT_ASSERT_EQ_INT(c->err, ECONNABORTED);
}

/*
 * Open @p key of @p m for writing (@p flags), write @p data, then close
 * in the background while the proxy holds the PUT (never forwarded, or
 * forwarded with its response held when @p landed), and kill etagfs
 * once the PUT is there. Leaves @p m reaped.
 */
static void crash_mid_commit(struct it_mount *m, const char *key, int flags,
			     const void *data, size_t len, bool landed)
{
	struct closer c;
	int fd, status;

	if (landed)
		catch_puts(key, FP_DELAY_RESPONSE, 60000, false);
	else
		catch_puts(key, FP_RESET_BEFORE, 0, true);
	fd = open(it_path(m, key), flags, 0644);
	IT_ASSERT_OK(fd);
	write_all(fd, data, len);
	close_in_background(&c, fd);
	status = catch_wait();
	IT_ASSERT_EQ_INT(status, landed ? 200 : 0);
	crash(m);
	catch_release();
	close_joined(&c);
	reap(m);
}

/* ------------------------------------------------------------- tests */

/*
 * Killed while two files are being written and never closed: a new one
 * and an existing one changed in place. Nothing reaches the server; the
 * next mount keeps both as recovered copies, byte for byte.
 */
IT_TEST(test_crash_while_writing)
{
	static unsigned char fresh[300000], old[50000], mixed[50000];
	static const char patch[] = "patched in place";
	char bucket[64], etag[IT_ETAG_MAX], etag_after[IT_ETAG_MAX];
	struct it_mount m;
	struct dirs d;
	int fd_new, fd_old;

	it_random_bytes(fresh, sizeof(fresh), 11);
	it_random_bytes(old, sizeof(old), 12);
	memcpy(mixed, old, sizeof(old));
	memcpy(mixed + 1000, patch, sizeof(patch) - 1);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "old.bin", old, sizeof(old), etag),
			 200);
	dirs_new(&d);
	mount_on(&m, bucket, &d, false, NULL);

	fd_new = open(it_path(&m, "new.bin"), O_WRONLY | O_CREAT | O_TRUNC,
		      0644);
	IT_ASSERT_OK(fd_new);
	write_all(fd_new, fresh, sizeof(fresh) / 2);
	write_all(fd_new, fresh + sizeof(fresh) / 2,
		  sizeof(fresh) - sizeof(fresh) / 2);
	fd_old = open(it_path(&m, "old.bin"), O_RDWR);
	IT_ASSERT_OK(fd_old);
	IT_ASSERT_EQ_INT(pwrite(fd_old, patch, sizeof(patch) - 1, 1000),
			 sizeof(patch) - 1);
	IT_ASSERT_EQ_INT(manifests(d.stage), 2);
	crash(&m);
	close(fd_new); /* the mount is gone: whatever close() says */
	close(fd_old);
	reap(&m);

	expect_absent(bucket, "new.bin");
	expect_server(bucket, "old.bin", old, sizeof(old), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	IT_ASSERT_EQ_INT(manifests(d.stage), 2);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);

	mount_on(&m, bucket, &d, false, NULL);
	expect_copy(&d, bucket, "new.bin", fresh, sizeof(fresh));
	expect_copy(&d, bucket, "old.bin", mixed, sizeof(mixed));
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 2);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_log(&m, "0 committed, 0 conflicts kept, 2 incomplete kept, "
		       "0 left for later");
	/* Recovery uploads nothing of it. */
	expect_absent(bucket, "new.bin");
	expect_server(bucket, "old.bin", old, sizeof(old), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * close() returned 0, then the mount is killed: the bytes are on the
 * server and the next mount has nothing to recover.
 */
IT_TEST(test_crash_after_close)
{
	static unsigned char data[120000];
	char bucket[64], etag[IT_ETAG_MAX], etag_after[IT_ETAG_MAX];
	struct it_mount m;
	struct dirs d;
	int fd;

	it_random_bytes(data, sizeof(data), 21);
	it_fresh_bucket(bucket);
	dirs_new(&d);
	mount_on(&m, bucket, &d, false, NULL);
	fd = open(it_path(&m, "closed.bin"), O_WRONLY | O_CREAT | O_TRUNC,
		  0644);
	IT_ASSERT_OK(fd);
	write_all(fd, data, sizeof(data));
	IT_ASSERT_OK(close(fd));
	crash(&m);
	reap(&m);
	expect_server(bucket, "closed.bin", data, sizeof(data), etag);

	mount_on(&m, bucket, &d, false, NULL);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	IT_ASSERT(!it_log_contains(&m, "recovery"));
	expect_server(bucket, "closed.bin", data, sizeof(data), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * fsync() returned 0, more writes followed, then the kill: the server has
 * exactly what was fsynced, the later content is kept as a recovered copy
 * and never uploaded.
 */
IT_TEST(test_crash_after_fsync)
{
	static unsigned char first[80000], later[80000 + 20000];
	static const char patch[] = "rewritten after fsync";
	char bucket[64], etag[IT_ETAG_MAX], etag_after[IT_ETAG_MAX], st[32];
	struct it_mount m;
	struct dirs d;
	int fd;

	it_random_bytes(first, sizeof(first), 31);
	it_random_bytes(later, sizeof(later), 32);
	memcpy(later, first, sizeof(first));
	memcpy(later + 500, patch, sizeof(patch) - 1);
	it_fresh_bucket(bucket);
	dirs_new(&d);
	mount_on(&m, bucket, &d, false, NULL);
	fd = open(it_path(&m, "synced.bin"), O_RDWR | O_CREAT | O_TRUNC,
		  0644);
	IT_ASSERT_OK(fd);
	write_all(fd, first, sizeof(first));
	IT_ASSERT_OK(fsync(fd));
	expect_server(bucket, "synced.bin", first, sizeof(first), etag);
	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "clean");
	write_all(fd, later + sizeof(first), sizeof(later) - sizeof(first));
	IT_ASSERT_EQ_INT(pwrite(fd, patch, sizeof(patch) - 1, 500),
			 sizeof(patch) - 1);
	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "open");
	crash(&m);
	close(fd);
	reap(&m);
	expect_server(bucket, "synced.bin", first, sizeof(first), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);

	mount_on(&m, bucket, &d, false, NULL);
	expect_copy(&d, bucket, "synced.bin", later, sizeof(later));
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 1);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_server(bucket, "synced.bin", first, sizeof(first), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* "doc.txt" holds @p old in a fresh bucket; a mount opens it O_TRUNC,
 * writes @p ours and is killed while close() waits for a PUT that never
 * reached the server. The proxy is left running (proxy_stop). */
static void crash_before_put_sent(char bucket[64], struct it_mount *m,
				  struct dirs *d, const char *old,
				  const void *ours, size_t len)
{
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "doc.txt", old, strlen(old), NULL),
			 200);
	dirs_new(d);
	proxy_begin();
	mount_on(m, bucket, d, true, "timeout=2,retries=1");
	crash_mid_commit(m, "doc.txt", O_WRONLY | O_TRUNC, ours, len, false);
	fp_clear_rules(proxy);
}

/*
 * Killed while close() waits for a PUT that never reached the server.
 * A mount on another endpoint leaves the manifest alone; the next mount
 * on the same endpoint commits it with its original If-Match: the server
 * has exactly our bytes, and there is no conflict copy.
 */
IT_TEST(test_crash_mid_commit_not_sent)
{
	static const char old[] = "version 1, opened by the mount that dies\n";
	static unsigned char ours[64000];
	char bucket[64], etag[IT_ETAG_MAX], st[32];
	struct it_mount m;
	struct dirs d;

	it_random_bytes(ours, sizeof(ours), 41);
	crash_before_put_sent(bucket, &m, &d, old, ours, sizeof(ours));
	expect_server(bucket, "doc.txt", old, sizeof(old) - 1, etag);
	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "complete");

	/* Not its endpoint: not its manifest. */
	mount_on(&m, bucket, &d, false, NULL);
	IT_ASSERT_EQ_INT(manifests(d.stage), 1);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	expect_server(bucket, "doc.txt", old, sizeof(old) - 1, NULL);

	fp_reset_counts(proxy);
	mount_on(&m, bucket, &d, true, NULL);
	expect_server(bucket, "doc.txt", ours, sizeof(ours), NULL);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "doc.txt"), 1);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_log(&m, "recovery: committed 'doc.txt' (64000 bytes)");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
}

/* The only manifest in @p stage has a line starting with @p prefix. */
static bool manifest_has(const char *stage, const char *prefix)
{
	char path[PATH_MAX * 2], line[1024];
	bool found = false;
	FILE *f;

	only_manifest(stage, path, sizeof(path));
	f = fopen(path, "re");
	IT_ASSERT_MSG(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		found |= strncmp(line, prefix, strlen(prefix)) == 0;
	fclose(f);
	return found;
}

/* Multipart uploads in progress in @p bucket. */
static size_t uploads(const char *bucket)
{
	size_t n = 0;
	char **ups = it_s3_list_multipart_uploads(bucket, &n);

	it_strv_free(ups);
	return n;
}

/*
 * Killed in the middle of a multipart commit: part 2 held at the proxy,
 * part 1 stored. The manifest names the upload, and the server holds it
 * (invisible, billed). The next mount's recovery aborts it first, then
 * commits the content with its original If-Match in one PUT: the server
 * has exactly our bytes and no upload is left.
 */
IT_TEST(test_crash_mid_multipart)
{
	static const char old[] = "version 1, opened by the mount that dies\n";
	const size_t len = 23 << 20;
	unsigned char *ours = malloc(len);
	char bucket[64], st[32];
	struct closer c;
	struct it_mount m;
	struct dirs d;
	int fd;

	IT_ASSERT(ours != NULL);
	it_random_bytes(ours, len, 47);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", old, strlen(old), NULL),
			 200);
	dirs_new(&d);
	proxy_begin();
	mount_on(&m, bucket, &d, true,
		 "timeout=2,retries=1,single_put_limit=8M,nonatomic_multipart,"
		 "part_size=5M,part_concurrency=2,no_stream_upload");
	catch_puts("partNumber=2&", FP_RESET_BEFORE, 0, true);
	fd = open(it_path(&m, "big"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	write_all(fd, ours, len);
	close_in_background(&c, fd);
	IT_ASSERT_EQ_INT(catch_wait(), 0);
	crash(&m);
	catch_release();
	close_joined(&c);
	reap(&m);
	fp_clear_rules(proxy);

	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "complete");
	IT_ASSERT_MSG(manifest_has(d.stage, "upload "),
		      "the manifest does not name the upload under way");
	IT_ASSERT_EQ_INT(uploads(bucket), 1);
	expect_server(bucket, "big", old, sizeof(old) - 1, NULL);

	fp_reset_counts(proxy);
	mount_on(&m, bucket, &d, true, NULL);
	expect_log(&m, "recovery: aborted the unfinished multipart upload of "
		       "'big'");
	IT_ASSERT_EQ_INT(fp_count(proxy, "DELETE", "uploadId="), 1);
	IT_ASSERT_EQ_INT(uploads(bucket), 0);
	expect_server(bucket, "big", ours, len, NULL);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
	free(ours);
}

/*
 * Killed while the upload streams behind the writer, the file still
 * open: the manifest ("open") names the upload, the server holds its
 * parts. The next mount's recovery aborts it and keeps the bytes as a
 * recovered copy; nothing is published, the object keeps its version.
 */
IT_TEST(test_crash_while_streaming)
{
	static const char old[] = "version 1, opened by the mount that dies\n";
	const size_t len = 13 << 20;
	unsigned char *ours = malloc(len);
	char bucket[64], st[32];
	struct it_mount m;
	struct dirs d;
	int fd;

	IT_ASSERT(ours != NULL);
	it_random_bytes(ours, len, 48);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", old, strlen(old), NULL),
			 200);
	dirs_new(&d);
	mount_on(&m, bucket, &d, false,
		 "single_put_limit=8M,nonatomic_multipart,part_size=5M");
	fd = open(it_path(&m, "big"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	write_all(fd, ours, 12 << 20);
	it_s3_wait_upload_parts(bucket, "big", 1);
	/* The next write records the upload's id. */
	write_all(fd, ours + (12 << 20), len - (12 << 20));
	IT_ASSERT_MSG(manifest_has(d.stage, "upload "),
		      "the manifest does not name the streaming upload");
	crash(&m);
	close(fd); /* the mount is gone: whatever close() says */
	reap(&m);

	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "open");
	IT_ASSERT_EQ_INT(uploads(bucket), 1);
	expect_server(bucket, "big", old, sizeof(old) - 1, NULL);

	mount_on(&m, bucket, &d, false, NULL);
	expect_log(&m, "recovery: aborted the unfinished multipart upload of "
		       "'big'");
	IT_ASSERT_EQ_INT(uploads(bucket), 0);
	expect_server(bucket, "big", old, sizeof(old) - 1, NULL);
	expect_copy(&d, bucket, "big", ours, len);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	free(ours);
}

/* The one staging data file in @p stage ("stage-XXXXXX", no suffix). */
static void stage_data_path(const char *stage, char *out, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(stage);

	IT_ASSERT(d != NULL);
	out[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "stage-", 6) == 0 &&
		    strchr(de->d_name, '.') == NULL)
			snprintf(out, len, "%s/%s", stage, de->d_name);
	closedir(d);
	IT_ASSERT_MSG(out[0] != '\0', "no staging data file in %s", stage);
}

/*
 * A commit records "complete" with the content's SHA-256 and no disk
 * flush (the data was hashed as it was written). If a crash then tore
 * the staged bytes (here: one byte changed while no mount ran, as a
 * power loss may leave them), recovery uploads nothing: the bytes go to
 * the conflict directory, the object stays as it was.
 */
IT_TEST(test_crash_mid_commit_torn_data)
{
	static const char old[] = "version 1, opened by the mount that dies\n";
	static unsigned char ours[64000];
	char bucket[64], st[32], data[PATH_MAX * 2];
	unsigned char byte;
	struct it_mount m;
	struct dirs d;
	int fd;

	it_random_bytes(ours, sizeof(ours), 43);
	crash_before_put_sent(bucket, &m, &d, old, ours, sizeof(ours));
	manifest_state(d.stage, st, sizeof(st));
	IT_ASSERT_EQ_STR(st, "complete");
	stage_data_path(d.stage, data, sizeof(data));
	fd = open(data, O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(pread(fd, &byte, 1, 1000), 1);
	byte ^= 0x5a;
	IT_ASSERT_EQ_INT(pwrite(fd, &byte, 1, 1000), 1);
	IT_ASSERT_OK(close(fd));

	fp_reset_counts(proxy);
	mount_on(&m, bucket, &d, true, NULL);
	expect_server(bucket, "doc.txt", old, sizeof(old) - 1, NULL);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "doc.txt"), 0);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 1);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_log(&m, "does not match the content hash");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
}

/*
 * Killed while close() waits for the response of a PUT that landed: the
 * next mount re-sends it with the same If-None-Match and token, finds its
 * own commit and calls it a success. The object was written once.
 */
IT_TEST(test_crash_mid_commit_landed)
{
	static unsigned char ours[30000];
	char bucket[64], etag[IT_ETAG_MAX], etag_after[IT_ETAG_MAX];
	struct it_mount m;
	struct dirs d;

	it_random_bytes(ours, sizeof(ours), 51);
	it_fresh_bucket(bucket);
	dirs_new(&d);
	proxy_begin();
	mount_on(&m, bucket, &d, true, "timeout=20,retries=1");
	crash_mid_commit(&m, "landed.bin", O_WRONLY | O_CREAT | O_TRUNC, ours,
			 sizeof(ours), true);
	fp_clear_rules(proxy);
	expect_server(bucket, "landed.bin", ours, sizeof(ours), etag);
	IT_ASSERT_EQ_INT(manifests(d.stage), 1);

	fp_reset_counts(proxy);
	mount_on(&m, bucket, &d, true, NULL);
	IT_ASSERT_EQ_INT(fp_count(proxy, "PUT", "landed.bin"), 1);
	expect_server(bucket, "landed.bin", ours, sizeof(ours), etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_log(&m, "recovery: committed 'landed.bin' (30000 bytes)");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
}

/*
 * As in test_crash_mid_commit_not_sent, but another writer changes the
 * object before the next mount: recovery must not overwrite it. The
 * server keeps the other bytes, a conflict copy holds ours.
 */
IT_TEST(test_crash_mid_commit_then_other_writer)
{
	static const char old[] = "version 1\n";
	static const char theirs[] = "version 2, written while we were down\n";
	static unsigned char ours[40000];
	char bucket[64], etag[IT_ETAG_MAX], etag_after[IT_ETAG_MAX];
	struct it_mount m;
	struct dirs d;

	it_random_bytes(ours, sizeof(ours), 61);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "shared.txt", old, sizeof(old) - 1,
				   NULL),
			 200);
	dirs_new(&d);
	proxy_begin();
	mount_on(&m, bucket, &d, true, "timeout=2,retries=1");
	crash_mid_commit(&m, "shared.txt", O_RDWR | O_TRUNC, ours,
			 sizeof(ours), false);
	fp_clear_rules(proxy);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "shared.txt", theirs,
				   sizeof(theirs) - 1, etag),
			 200);

	mount_on(&m, bucket, &d, true, NULL);
	expect_server(bucket, "shared.txt", theirs, sizeof(theirs) - 1,
		      etag_after);
	IT_ASSERT_EQ_STR(etag_after, etag);
	expect_copy(&d, bucket, "shared.txt", ours, sizeof(ours));
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 1);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_log(&m, "0 committed, 1 conflicts kept, 0 incomplete kept, "
		       "0 left for later");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
}

/* The options of a --recover run on @p endpoint with @p m's credentials
 * and @p d's directories, failing fast. */
static void recover_opts(char *out, size_t len, const char *endpoint,
			 const struct it_mount *m, const struct dirs *d)
{
	int n = snprintf(out, len,
			 "endpoint=%s,region=%s,passwd_file=%s,staging_dir=%s,"
			 "conflict_dir=%s,timeout=2,retries=1",
			 endpoint, it_env.region, m->passwd, d->stage,
			 d->conf);

	IT_ASSERT(n > 0 && (size_t)n < len);
}

/* --recover's one line on stdout says what it did. */
static void expect_recovery_line(const struct it_run_result *r,
				 const char *bucket, const struct dirs *d,
				 int committed, int left)
{
	char want[512];

	IT_SNPRINTF(want,
		    "etagfs: recovery of s3://%s in %s: %d committed, 0 "
		    "conflicts kept, 0 incomplete kept, %d left for later\n",
		    bucket, d->stage, committed, left);
	IT_ASSERT_EQ_STR(r->out, want);
}

/*
 * "etagfs --recover" without a mountpoint after a crash mid-commit:
 * exit 0, one commit in its summary, the bytes on the server; a second
 * run finds nothing.
 */
IT_TEST(test_recover_command)
{
	static unsigned char ours[25000];
	char bucket[64], endpoint[64], opts[3 * PATH_MAX];
	struct it_run_result r;
	struct it_mount m;
	struct dirs d;
	const char *args[6];

	it_random_bytes(ours, sizeof(ours), 71);
	it_fresh_bucket(bucket);
	dirs_new(&d);
	proxy_begin();
	mount_on(&m, bucket, &d, true, "timeout=2,retries=1");
	crash_mid_commit(&m, "cmd.bin", O_WRONLY | O_CREAT | O_TRUNC, ours,
			 sizeof(ours), false);
	fp_clear_rules(proxy);
	expect_absent(bucket, "cmd.bin");

	args[0] = "--recover";
	args[1] = bucket;
	args[2] = "-o";
	args[3] = opts;
	args[4] = NULL;

	/* Failure paths first: nothing may be lost or half done by them. */
	/* The endpoint unreachable: one line, non-zero, the manifest kept. */
	recover_opts(opts, sizeof(opts), "http://127.0.0.1:1", &m, &d);
	it_run_mount_cmd(args, 30, &r);
	IT_ASSERT_MSG(r.exit_code != 0 && !r.timed_out,
		      "--recover without a server: exit %d", r.exit_code);
	IT_ASSERT_MSG(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		      "not one line: %s", r.err);
	IT_ASSERT_EQ_INT(manifests(d.stage), 1);
	expect_absent(bucket, "cmd.bin");
	/* From here at -d like every mount of the suite (it_secrets_scan);
	 * the trace goes to stderr, the result line stays alone on stdout.
	 * The server refusing the commit (503 on every PUT of the key):
	 * counted as left for later, exit 1, the manifest kept. */
	args[4] = "-d";
	args[5] = NULL;
	IT_ASSERT_EQ_INT(fp_endpoint(proxy, endpoint, sizeof(endpoint)), 0);
	recover_opts(opts, sizeof(opts), endpoint, &m, &d);
	{
		struct fp_rule busy = { .method = "PUT",
					.path_substr = "cmd.bin",
					.count = -1,
					.action = FP_STATUS,
					.arg = 503 };
		int id = fp_add_rule(proxy, &busy);

		IT_ASSERT_MSG(id >= 0, "fp_add_rule: %s", strerror(-id));
		it_run_mount_cmd(args, 30, &r);
		IT_ASSERT_MSG(fp_rule_hits(proxy, id) >= 1,
			      "no commit was tried");
	}
	fp_clear_rules(proxy);
	IT_ASSERT_EQ_INT(r.exit_code, 1);
	expect_recovery_line(&r, bucket, &d, 0, 1);
	IT_ASSERT_EQ_INT(manifests(d.stage), 1);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	expect_absent(bucket, "cmd.bin");

	/* The server back: committed with its original precondition. */
	it_run_mount_cmd(args, 30, &r);
	it_log("--recover: exit %d, stdout: %s, stderr: %s", r.exit_code,
	       r.out, r.err);
	IT_ASSERT_EQ_INT(r.exit_code, 0);
	expect_recovery_line(&r, bucket, &d, 1, 0);
	expect_server(bucket, "cmd.bin", ours, sizeof(ours), NULL);
	IT_ASSERT_EQ_INT(conflict_files(&d, bucket), 0);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);

	it_run_mount_cmd(args, 30, &r);
	IT_ASSERT_EQ_INT(r.exit_code, 0);
	expect_recovery_line(&r, bucket, &d, 0, 0);
	expect_server(bucket, "cmd.bin", ours, sizeof(ours), NULL);
	proxy_stop();
}

/* ------------------------------------------------------- a full disk */

static char tmpfs_dir[PATH_MAX];
static bool detach_registered;

static void tmpfs_detach(void)
{
	if (tmpfs_dir[0] != '\0' && it_is_mounted(tmpfs_dir))
		umount2(tmpfs_dir, MNT_DETACH);
	tmpfs_dir[0] = '\0';
}

/*
 * The staging directory is a 2 MiB tmpfs and a new file gets 4 MiB: the
 * write fails with ENOSPC, nothing reaches the server, and once that
 * file is closed and removed the mount writes and commits small files as
 * before.
 */
IT_TEST(test_staging_disk_full)
{
	static unsigned char big[4 * MIB], small[3000];
	static const char opts[] = "size=2m,mode=0700";
	char bucket[64];
	struct it_mount m;
	struct dirs d;
	size_t done = 0;
	int fd, err = 0, close_err;
	ssize_t n;
	void *back = NULL;
	size_t back_len = 0;

	it_random_bytes(big, sizeof(big), 81);
	it_random_bytes(small, sizeof(small), 82);
	it_fresh_bucket(bucket);
	dirs_new(&d);
	if (!detach_registered)
		atexit(tmpfs_detach);
	detach_registered = true;
	tmpfs_detach();
	if (mount("tmpfs", d.stage, "tmpfs", 0, opts) != 0)
		IT_FAIL("mount -t tmpfs -o %s tmpfs %s: %s (needs root)", opts,
			d.stage, strerror(errno));
	snprintf(tmpfs_dir, sizeof(tmpfs_dir), "%s", d.stage);
	mount_on(&m, bucket, &d, false, NULL);

	fd = open(it_path(&m, "big.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	IT_ASSERT_OK(fd);
	while (done < sizeof(big)) {
		n = write(fd, big + done, 64 * KIB);
		if (n < 0) {
			err = errno;
			break;
		}
		done += (size_t)n;
	}
	it_log("wrote %zu of %zu bytes, then %s", done, sizeof(big),
	       strerror(err));
	IT_ASSERT_EQ_INT(err, ENOSPC);
	IT_ASSERT(done < 2 * MIB);
	errno = 0;
	close_err = close(fd) == 0 ? 0 : errno;
	it_log("close(): %s", close_err ? strerror(close_err) : "0");
	IT_ASSERT_EQ_INT(close_err, ENOSPC);
	expect_absent(bucket, "big.bin");
	/* The handle's release (after close() returned) keeps what was
	 * written as a copy and frees the staging disk. */
	for (int i = 0; i < 100 && manifests(d.stage) != 0; i++)
		usleep(50000);
	IT_ASSERT_EQ_INT(manifests(d.stage), 0);
	expect_copy(&d, bucket, "big.bin", big, done);
	errno = 0;
	if (unlink(it_path(&m, "big.bin")) != 0)
		IT_ASSERT_EQ_INT(errno, ENOENT);

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "small.bin"), small,
				       sizeof(small)),
			 0);
	expect_server(bucket, "small.bin", small, sizeof(small), NULL);
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "small.bin"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(small));
	IT_ASSERT_MEM(back, small, sizeof(small));
	free(back);
	expect_absent(bucket, "big.bin");
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	IT_ASSERT_OK(umount(d.stage));
	tmpfs_dir[0] = '\0';
}
