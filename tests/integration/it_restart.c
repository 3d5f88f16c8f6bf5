/*
 * The server dies and comes back: radosgw killed with SIGKILL while a
 * commit is in flight, radosgw restarted under a mount that stays up, and
 * the whole cluster (mon, OSD, radosgw) killed and restarted.
 *
 * What must hold (issue #6):
 *  - close() of a commit caught by the kill either succeeds or fails with
 *    a network errno (EIO, ETIMEDOUT, ECONNREFUSED, ECONNRESET, ENOTCONN),
 *    within timeout * (retries + 1) plus the backoff and some slack;
 *  - once the server is back, the object is byte for byte either the old
 *    version or the new one, never anything else; a close() that
 *    succeeded means the new one. A close() that failed should mean the
 *    old one: where the new one is there anyway (the server stored the
 *    body and died before it could answer, so nobody can know), the test
 *    says so in a "FINDING" line rather than hiding it;
 *  - the same mount goes on working once radosgw is back, no remount;
 *  - data written before a restart of the whole cluster is still there,
 *    read through a mount that stayed up.
 *
 * The suite's RGW has a memstore OSD, which loses everything when it
 * dies; this program therefore starts a cluster of its own with a
 * bluestore OSD (ETAGFS_RGW_STORE=bluestore tests/rgw/rgw.sh start) in a
 * scratch state dir before the harness reads ETAGFS_RGW_DIR, and stops it
 * at exit. A guard process stops it too if this program dies without
 * running its exit handlers (watchdog _exit, SIGKILL). To develop against
 * an instance that is already running, set ETAGFS_RESTART_RGW_DIR to its
 * state dir (it must be bluestore; it is left running).
 *
 * A commit is caught in flight with the fault proxy (faultproxy.h): the
 * mount talks to the proxy, which relays to radosgw; the test kills
 * radosgw once the proxy has forwarded the PUT (not landed yet), or from
 * a hook that holds the PUT's response after it landed. Note: through the
 * proxy, a refused connection to a dead radosgw reaches etagfs as a reset
 * (the proxy accepted the connection), which etagfs must treat as
 * ambiguous; test_mount_survives_rgw_restart mounts without the proxy and
 * sees the refusal itself.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultproxy.h"
#include "harness.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

#define RGW_SH ETAGFS_TOP_SRCDIR "/tests/rgw/rgw.sh"

/* Mount options where a dead server is noticed soon. */
#define TIMEOUT_S 3
#define RETRIES 3
#define FAST_OPTS "timeout=3,connect_timeout=2,retries=3"
/* Sum of the backoff ceilings of RETRIES retries (retries.md: 100 ms
 * doubling), scheduling, FUSE and the upload itself on top. */
#define BACKOFF_MS (100 + 200 + 400)
#define SLACK_MS 8000
#define CLOSE_BOUND_MS (TIMEOUT_S * (RETRIES + 1) * 1000L + BACKOFF_MS + \
			SLACK_MS)

/* The size of a commit that is still on its way when radosgw dies. */
#define BIG (32 * MIB)
/* After the proxy forwarded it, radosgw is still receiving or storing
 * those 32 MiB for 100 ms or more (measured by the PUT of
 * test_kill_in_flight_back_at_once's restarted radosgw, logged). */
#define IN_FLIGHT_KILL_MS 30

/* ------------------------------------------------ our own bluestore RGW */

static char rgw_dir[PATH_MAX];
static bool rgw_ours;	/* started here: stop it at exit */
static int guard_fd = -1; /* write end of the guard's pipe */

/*
 * Start "bash rgw.sh @p cmd rgw_dir" with @p env_kv (NULL or "K=V")
 * added, its output to @p out_fd (or inherited when -1), in a process
 * group of its own when @p own_group. Its pid, or -1.
 */
static pid_t spawn_rgw_sh(const char *cmd, const char *env_kv, int out_fd,
			  bool own_group)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (own_group)
			setpgid(0, 0);
		if (null >= 0)
			dup2(null, 0);
		if (out_fd >= 0) {
			dup2(out_fd, 1);
			dup2(out_fd, 2);
		}
		/* Daemons started by rgw.sh must not keep our sockets (the
		 * proxy's port) or the guard's pipe. */
		close_range(3, ~0U, 0);
		if (env_kv)
			putenv((char *)env_kv);
		execlp("bash", "bash", RGW_SH, cmd, rgw_dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Exit status of @p pid (-1 if it did not exit normally). */
static int reap_status(pid_t pid)
{
	int st = 0;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run "rgw.sh @p cmd" to its end; its exit status. */
static int run_rgw_sh(const char *cmd, const char *env_kv, int out_fd)
{
	return reap_status(spawn_rgw_sh(cmd, env_kv, out_fd, false));
}

/* Bytes the guard reads from its pipe. */
#define GUARD_STARTED 's' /* rgw.sh start is over: no group to kill */
#define GUARD_STOPPED 'x' /* the RGW is stopped: nothing left to do */

static void guard_say(char c)
{
	if (guard_fd >= 0 && write(guard_fd, &c, 1) != 1) {
		/* a guard that is gone cannot help anyway */
	}
}

static void rgw_stop_at_exit(void)
{
	if (!rgw_ours)
		return;
	fflush(stdout);
	run_rgw_sh("stop", NULL, -1);
	rgw_ours = false;
	guard_say(GUARD_STOPPED);
}

/*
 * A child that outlives an abrupt end of this process (watchdog _exit,
 * SIGKILL): it reads a pipe whose write end only we hold. EOF before
 * GUARD_STOPPED means we died: it kills the process group of a start
 * still running (@p start_pgid, until GUARD_STARTED) and stops the RGW.
 */
static void guard_start(pid_t start_pgid)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		char c = 0;
		ssize_t n;
		int null = open("/dev/null", O_RDWR);

		setsid(); /* not in the group a Ctrl-C or a timeout kills */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		close(p[1]);
		for (;;) {
			n = read(p[0], &c, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 1 && c == GUARD_STARTED) {
				start_pgid = -1;
				continue;
			}
			break;
		}
		if (n == 1 && c == GUARD_STOPPED)
			_exit(0);
		if (start_pgid > 0)
			kill(-start_pgid, SIGKILL);
		_exit(run_rgw_sh("stop", NULL, -1) == 0 ? 0 : 1);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	guard_fd = p[1];
}

/*
 * Before main: start the bluestore cluster and point the harness at it.
 * A failure is the environment's (99), as the harness says.
 */
__attribute__((constructor)) static void rgw_setup(void)
{
	const char *reuse = getenv("ETAGFS_RESTART_RGW_DIR");
	const char *tmp = getenv("TMPDIR");
	pid_t start;
	int fd, rc;
	long t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return; /* the harness skips (77): no cluster needed */
	close(fd);
	if (reuse && *reuse) {
		snprintf(rgw_dir, sizeof(rgw_dir), "%s", reuse);
		setenv("ETAGFS_RGW_DIR", rgw_dir, 1);
		printf("it_restart: using the running RGW in %s\n", rgw_dir);
		return;
	}
	snprintf(rgw_dir, sizeof(rgw_dir), "%s/etagfs-restart-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(rgw_dir) == NULL) {
		fprintf(stderr, "ERROR: mkdtemp %s: %s\n", rgw_dir,
			strerror(errno));
		exit(99);
	}
	rgw_ours = true;
	atexit(rgw_stop_at_exit);
	printf("it_restart: starting a bluestore RGW in %s\n", rgw_dir);
	fflush(stdout);
	t0 = it_now_ms();
	start = spawn_rgw_sh("start", "ETAGFS_RGW_STORE=bluestore", -1, true);
	if (start > 0)
		setpgid(start, start); /* no race with the child's own call */
	guard_start(start);
	rc = reap_status(start);
	guard_say(GUARD_STARTED);
	if (rc != 0) {
		fprintf(stderr, "ERROR: rgw.sh start (bluestore) failed with "
			"status %d\n", rc);
		exit(99);
	}
	printf("it_restart: bluestore RGW started in %ld ms\n",
	       it_now_ms() - t0);
	setenv("ETAGFS_RGW_DIR", rgw_dir, 1);
}

/*
 * "rgw.sh @p cmd" on our instance from a test; its output goes to the
 * test log. Fails the test if it fails. Returns how long it took (ms).
 */
static long rgw(const char *cmd)
{
	char path[PATH_MAX];
	char *text;
	size_t len;
	long t0 = it_now_ms(), ms;
	int fd, rc;

	IT_SNPRINTF(path, "%s/rgw-%s.out", it_env.tmp_root, cmd);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	IT_ASSERT_MSG(fd >= 0, "%s: %s", path, strerror(errno));
	fflush(stdout);
	rc = run_rgw_sh(cmd, NULL, fd);
	close(fd);
	ms = it_now_ms() - t0;
	if (it_read_file(path, (void **)&text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		it_log("rgw.sh %s (%ld ms): %s", cmd, ms, text);
		free(text);
	}
	IT_ASSERT_MSG(rc == 0, "rgw.sh %s %s: exit status %d", cmd, rgw_dir,
		      rc);
	return ms;
}

/*
 * SIGKILL radosgw now, from here (rgw.sh's own start-up would cost a
 * good part of the time a commit is in flight), then let "rgw.sh
 * rgw-kill" wait for its end and drop its watches.
 */
static void rgw_kill_now(void)
{
	char path[PATH_MAX + 32], buf[32], *end;
	long pid;
	int fd;
	ssize_t n;

	IT_SNPRINTF(path, "%s/run/rgw.pid", rgw_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	IT_ASSERT_MSG(fd >= 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	IT_ASSERT(n > 0);
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	IT_ASSERT_MSG(errno == 0 && pid > 1 && (*end == '\n' || !*end),
		      "%s: bad pid \"%s\"", path, buf);
	IT_ASSERT_OK(kill((pid_t)pid, SIGKILL));
	rgw("rgw-kill");
}

/* A test that killed radosgw and failed leaves it dead: revive it. */
static void rgw_ensure_up(void)
{
	long st = it_s3_request("GET", NULL, NULL, NULL, NULL, NULL, 0, NULL);

	if (st == 200)
		return;
	it_log("RGW does not answer (HTTP %ld): restarting it", st);
	if (run_rgw_sh("rgw-start", NULL, -1) != 0) {
		run_rgw_sh("cluster-kill", NULL, -1);
		IT_ASSERT_EQ_INT(run_rgw_sh("cluster-start", NULL, -1), 0);
	}
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
 * A hook that holds the upstream response of a matched request until the
 * test releases it (20 s at most), and tells the test it is there.
 * Static: a retry may call it after a failed test left its frame.
 */
struct holder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int arrived;
	int status; /* upstream status of the first one */
	bool released;
};

static struct holder holder = {
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

static void hold_hook(void *arg, const char *method, const char *target,
		      int status)
{
	struct holder *h = arg;
	struct timespec ts;

	(void)method;
	(void)target;
	deadline_in(&ts, 20000);
	pthread_mutex_lock(&h->lock);
	if (h->arrived++ == 0)
		h->status = status;
	pthread_cond_broadcast(&h->cond);
	while (!h->released &&
	       pthread_cond_timedwait(&h->cond, &h->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&h->lock);
}

static void hold_reset(void)
{
	pthread_mutex_lock(&holder.lock);
	holder.arrived = 0;
	holder.status = 0;
	holder.released = false;
	pthread_mutex_unlock(&holder.lock);
}

/* Wait (30 s at most) for the first held response; its status. */
static int hold_wait(void)
{
	struct timespec ts;
	int status;

	deadline_in(&ts, 30000);
	pthread_mutex_lock(&holder.lock);
	while (holder.arrived == 0 &&
	       pthread_cond_timedwait(&holder.cond, &holder.lock, &ts) == 0)
		;
	status = holder.arrived ? holder.status : -1;
	pthread_mutex_unlock(&holder.lock);
	IT_ASSERT_MSG(status >= 0, "the PUT's response never came");
	return status;
}

static void hold_release(void)
{
	pthread_mutex_lock(&holder.lock);
	holder.released = true;
	pthread_cond_broadcast(&holder.cond);
	pthread_mutex_unlock(&holder.lock);
}

/* Wait (30 s at most) until the proxy has received a PUT of @p key: it is
 * then on its way to radosgw. */
static void wait_put_forwarded(const char *key)
{
	long deadline = it_now_ms() + 30000;

	while (fp_count(proxy, "PUT", key) == 0) {
		IT_ASSERT_MSG(it_now_ms() < deadline,
			      "no PUT of %s reached the proxy in 30 s", key);
		usleep(1000);
	}
}

/* ------------------------------------------------------------ mounts */

struct dirs {
	char stage[PATH_MAX];
	char conf[PATH_MAX];
};

static void mount_dirs(struct it_mount *m, const char *bucket,
		       struct dirs *d, bool via_proxy, const char *extra)
{
	char opts[3 * PATH_MAX], endpoint[64] = "";

	snprintf(d->stage, sizeof(d->stage), "%s", it_mkdtemp("stage"));
	snprintf(d->conf, sizeof(d->conf), "%s", it_mkdtemp("conf"));
	if (via_proxy)
		IT_ASSERT_EQ_INT(fp_endpoint(proxy, endpoint,
					     sizeof(endpoint)),
				 0);
	IT_SNPRINTF(opts,
		    "attr_ttl=0,dir_ttl=0,staging_dir=%s,conflict_dir=%s%s%s"
		    "%s%s%s",
		    d->stage, d->conf, via_proxy ? ",endpoint=" : "",
		    endpoint, extra ? "," : "", extra ? extra : "",
		    getenv("ETAGFS_IT_DEBUG") ? ",debug" : "");
	it_mount(m, bucket, opts);
}

/* Manifests in @p stage: one per handle that still holds staged bytes. */
static int manifests(const char *stage)
{
	static const char suffix[] = ".manifest";
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(stage);

	IT_ASSERT_MSG(d != NULL, "opendir %s: %s", stage, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > sizeof(suffix) - 1 &&
		    strcmp(de->d_name + len - (sizeof(suffix) - 1), suffix) ==
			    0)
			n++;
	}
	closedir(d);
	return n;
}

/* Wait (@p ms at most) until the handles' releases are over. */
static void wait_released(const struct dirs *d, long ms)
{
	long deadline = it_now_ms() + ms;

	while (manifests(d->stage) != 0) {
		IT_ASSERT_MSG(it_now_ms() < deadline,
			      "staged data still in %s after %ld ms", d->stage,
			      ms);
		usleep(20000);
	}
}

/* Copies of @p key kept in @p d's conflict directory for @p bucket. */
static int copies_of(const struct dirs *d, const char *bucket,
		     const char *key, char *path, size_t path_len)
{
	char dir[PATH_MAX * 2];
	struct dirent *de;
	size_t klen = strlen(key);
	int n = 0;
	DIR *dd;

	snprintf(dir, sizeof(dir), "%s/%s", d->conf, bucket);
	dd = opendir(dir);
	if (dd == NULL)
		return 0;
	while ((de = readdir(dd)) != NULL)
		if (strncmp(de->d_name, key, klen) == 0 &&
		    strncmp(de->d_name + klen, ".conflict-", 10) == 0) {
			snprintf(path, path_len, "%s/%s", dir, de->d_name);
			n++;
		}
	closedir(dd);
	return n;
}

/* ------------------------------------------------------ observations */

/* Which of two versions the server has (byte-exact): 0 @p a, 1 @p b;
 * fails the test for anything else. */
static int server_version(const char *bucket, const char *key,
			  const void *a, size_t a_len, const void *b,
			  size_t b_len)
{
	void *got = NULL;
	size_t got_len = 0;
	long st = it_s3_get(bucket, key, &got, &got_len, NULL);
	int which = -1;

	IT_ASSERT_MSG(st == 200, "GET %s: HTTP %ld", key, st);
	if (got_len == a_len && memcmp(got, a, a_len) == 0)
		which = 0;
	else if (got_len == b_len && memcmp(got, b, b_len) == 0)
		which = 1;
	free(got);
	IT_ASSERT_MSG(which >= 0,
		      "%s on the server (%zu bytes) is neither the old "
		      "version (%zu bytes) nor the new one (%zu bytes)",
		      key, got_len, a_len, b_len);
	return which;
}

/* The file at @p path reads back as exactly @p data. */
static void expect_file(const char *path, const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	int rc = it_read_file(path, &got, &got_len);

	IT_ASSERT_MSG(rc == 0, "reading %s: %s", path, strerror(rc));
	IT_ASSERT_MSG(got_len == len, "%s: %zu bytes, expected %zu", path,
		      got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
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

/* What a close() caught by a dead server may say. */
static bool close_errno_allowed(int err)
{
	return err == 0 || err == EIO || err == ETIMEDOUT ||
	       err == ECONNREFUSED || err == ECONNRESET || err == ENOTCONN;
}

/* ----------------------------------------------- a close() that waits */

struct closer {
	pthread_t thread;
	int fd;
	int ret;
	int err;
	long ms;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;
	long t0 = it_now_ms();

	c->ret = close(c->fd);
	c->err = c->ret == 0 ? 0 : errno;
	c->ms = it_now_ms() - t0;
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

/* Join the close(): its errno (0: success), checked against the rules. */
static int close_joined(struct closer *c, long bound_ms)
{
	pthread_join(c->thread, NULL);
	it_log("close() returned %d (%s) after %ld ms", c->ret,
	       c->ret ? strerrorname_np(c->err) : "ok", c->ms);
	IT_ASSERT_MSG(close_errno_allowed(c->err),
		      "close() failed with %s (%s): not a network error",
		      strerrorname_np(c->err), strerror(c->err));
	IT_ASSERT_MSG(c->ms <= bound_ms,
		      "close() took %ld ms, more than %ld ms", c->ms,
		      bound_ms);
	return c->err;
}

/* ------------------------------------------------------- the scenario */

/* How radosgw dies during the commit. */
enum when {
	KILL_IN_FLIGHT,	   /* the PUT is on its way to radosgw */
	KILL_AFTER_STORED, /* radosgw stored it; the response is held */
};

/* When radosgw comes back. */
enum back {
	BACK_AFTER_CLOSE,    /* after close() and the release are over */
	BACK_AT_ONCE,	     /* right after the kill, while close() retries */
	BACK_DURING_RELEASE, /* once close() failed, while the release
				retries the commit */
};

/*
 * Overwrite @p key (old: @p old_len bytes) with BIG new bytes through
 * the proxy, kill radosgw during close() as @p when says, bring it back
 * as @p back says, and check close() against what the server has. Sets
 * *@p close_err and *@p landed (the new version is on the server).
 */
static void commit_vs_kill(enum when when, enum back back, int *close_err,
			   bool *landed)
{
	static unsigned char old[64 * KIB];
	static unsigned char fresh[BIG];
	char bucket[64], copy[PATH_MAX * 3];
	const char *key = "victim.bin";
	struct fp_rule r = {0};
	struct closer c;
	struct it_mount m;
	struct dirs d;
	int fd, id, status, err, copies;
	long extra_ms;
	bool new_there;

	it_set_timeout(180);
	rgw_ensure_up();
	it_random_bytes(old, sizeof(old), 61);
	it_random_bytes(fresh, BIG, 62 + when * 2 + back);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, key, old, sizeof(old), NULL), 200);
	proxy_begin();
	/* More retries: a release that outlasts radosgw's restart. */
	mount_dirs(&m, bucket, &d, true,
		   back == BACK_DURING_RELEASE ? FAST_OPTS ",retries=5" :
						 FAST_OPTS);
	extra_ms = back == BACK_DURING_RELEASE ?
			   2 * TIMEOUT_S * 1000L + 800 + 1600 :
			   0;

	hold_reset();
	if (when == KILL_AFTER_STORED) {
		/* The response of the first PUT is held until radosgw is
		 * dead, then lost: the commit landed, nobody heard. */
		r.method = "PUT";
		r.path_substr = key;
		r.count = 1;
		r.action = FP_DROP_RESPONSE;
		r.hook = hold_hook;
		r.hook_arg = &holder;
		id = fp_add_rule(proxy, &r);
		IT_ASSERT_MSG(id >= 0, "fp_add_rule: %s", strerror(-id));
	}
	fp_reset_counts(proxy);

	fd = open(it_path(&m, key), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, fresh, BIG), BIG);
	close_in_background(&c, fd);
	if (when == KILL_IN_FLIGHT) {
		wait_put_forwarded(key);
		usleep(IN_FLIGHT_KILL_MS * 1000);
		rgw_kill_now();
	} else {
		status = hold_wait();
		IT_ASSERT_EQ_INT(status, 200);
		rgw("rgw-kill");
		hold_release();
	}
	if (back == BACK_AT_ONCE)
		rgw("rgw-start");
	err = close_joined(&c, CLOSE_BOUND_MS + extra_ms);
	if (back == BACK_DURING_RELEASE)
		rgw("rgw-start");
	/* The release runs the commit once more when close() failed: give
	 * it its retries, then look. */
	wait_released(&d, CLOSE_BOUND_MS + extra_ms);
	if (back == BACK_AFTER_CLOSE)
		rgw("rgw-start");

	new_there = server_version(bucket, key, old, sizeof(old), fresh,
				   BIG) == 1;
	it_log("the server has the %s version; PUTs sent: %ld",
	       new_there ? "NEW" : "OLD", fp_count(proxy, "PUT", key));
	if (err == 0)
		IT_ASSERT_MSG(new_there, "close() succeeded but the server "
					 "has the old version");
	copies = copies_of(&d, bucket, key, copy, sizeof(copy));
	if (err != 0 && new_there)
		it_log("FINDING: close() failed with %s although the new "
		       "version is on the server (%s)",
		       strerrorname_np(err),
		       when == KILL_AFTER_STORED ?
			       "radosgw stored it and died before answering" :
			       "the release committed it after close() "
			       "had failed");
	if (err != 0 && !new_there) {
		/* Nothing may be lost: what close() could not save is kept. */
		IT_ASSERT_MSG(copies == 1,
			      "close() failed, the server has the old "
			      "version and %d copies of the new bytes were "
			      "kept",
			      copies);
		expect_file(copy, fresh, BIG);
		IT_ASSERT_MSG(it_log_contains(&m, "could not save '"),
			      "no \"could not save\" line in %s", m.log);
	}

	/* The mount sees what the server has, and writes again. */
	expect_file(it_path(&m, key), new_there ? fresh : old,
		    new_there ? BIG : sizeof(old));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "after.txt"), "after", 5),
			 0);
	expect_server(bucket, "after.txt", "after", 5);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	proxy_stop();
	*close_err = err;
	*landed = new_there;
}

/* ------------------------------------------------------------- tests */

/*
 * radosgw dies while the PUT is on its way and stays dead until close()
 * gave up: close() fails, the server has the old version, the new bytes
 * are kept as a copy.
 */
IT_TEST(test_kill_in_flight_stays_down)
{
	int err;
	bool landed;

	commit_vs_kill(KILL_IN_FLIGHT, BACK_AFTER_CLOSE, &err, &landed);
	IT_ASSERT_MSG(err != 0, "close() succeeded with radosgw dead");
}

/*
 * radosgw dies while the PUT is on its way and is back at once: the
 * retries of close() reach the new radosgw; whatever close() says, the
 * server has exactly one of the two versions, and a success is the new.
 */
IT_TEST(test_kill_in_flight_back_at_once)
{
	int err;
	bool landed;

	commit_vs_kill(KILL_IN_FLIGHT, BACK_AT_ONCE, &err, &landed);
	if (err != 0)
		it_log("note: close() failed although radosgw was back "
		       "within the retries");
}

/*
 * radosgw dies while the PUT is on its way, stays dead until close()
 * failed, and comes back while the release (which runs the commit once
 * more after a failed close()) is still retrying: that later commit may
 * land, so the object changes after close() reported an error (a
 * FINDING line says so). Still exactly one of the two versions.
 */
IT_TEST(test_kill_in_flight_back_during_release)
{
	int err;
	bool landed;

	commit_vs_kill(KILL_IN_FLIGHT, BACK_DURING_RELEASE, &err, &landed);
	IT_ASSERT_MSG(err != 0, "close() succeeded with radosgw dead");
}

/*
 * radosgw stored the new version and died before its answer left: the
 * commit landed, etagfs cannot know. Byte-exactness and the errno rules
 * still hold; a failed close() with the new version on the server is
 * reported as a FINDING line.
 */
IT_TEST(test_kill_after_stored_stays_down)
{
	int err;
	bool landed;

	commit_vs_kill(KILL_AFTER_STORED, BACK_AFTER_CLOSE, &err, &landed);
	IT_ASSERT_MSG(landed, "radosgw answered 200 but the new version "
			      "is not on the server after its restart");
}

/* The same, with radosgw back at once: the retry finds its own token. */
IT_TEST(test_kill_after_stored_back_at_once)
{
	int err;
	bool landed;

	commit_vs_kill(KILL_AFTER_STORED, BACK_AT_ONCE, &err, &landed);
	IT_ASSERT(landed);
}

/*
 * A mount without the proxy survives radosgw's death and restart: while
 * radosgw is down a commit fails with a network errno, once it is back
 * the same mount reads what was there and writes again (its pooled
 * connections to the dead radosgw are no obstacle).
 */
IT_TEST(test_mount_survives_rgw_restart)
{
	static unsigned char a[200 * KIB], b[100 * KIB];
	char bucket[64];
	struct it_mount m;
	struct dirs d;
	long t0, ms;
	int rc, fd;

	it_set_timeout(120);
	rgw_ensure_up();
	it_random_bytes(a, sizeof(a), 71);
	it_random_bytes(b, sizeof(b), 72);
	it_fresh_bucket(bucket);
	mount_dirs(&m, bucket, &d, false, FAST_OPTS);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "a.bin"), a, sizeof(a)),
			 0);
	expect_file(it_path(&m, "a.bin"), a, sizeof(a));

	rgw("rgw-kill");
	t0 = it_now_ms();
	rc = it_write_file(it_path(&m, "b.bin"), b, sizeof(b));
	ms = it_now_ms() - t0;
	it_log("a commit with radosgw dead: %s after %ld ms",
	       rc ? strerrorname_np(rc) : "ok", ms);
	IT_ASSERT_MSG(rc != 0, "a commit succeeded with radosgw dead");
	IT_ASSERT_MSG(close_errno_allowed(rc), "commit failed with %s",
		      strerrorname_np(rc));
	IT_ASSERT_MSG(ms <= CLOSE_BOUND_MS, "it took %ld ms", ms);
	errno = 0;
	fd = open(it_path(&m, "a.bin"), O_RDONLY);
	it_log("open of a.bin with radosgw dead: %s",
	       fd >= 0 ? "ok" : strerrorname_np(errno));
	if (fd >= 0)
		close(fd);
	else
		IT_ASSERT(close_errno_allowed(errno));
	wait_released(&d, CLOSE_BOUND_MS);

	rgw("rgw-start");
	expect_file(it_path(&m, "a.bin"), a, sizeof(a));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "b.bin"), b, sizeof(b)),
			 0);
	expect_file(it_path(&m, "b.bin"), b, sizeof(b));
	expect_server(bucket, "b.bin", b, sizeof(b));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "a.bin"), b, sizeof(b)),
			 0);
	expect_server(bucket, "a.bin", b, sizeof(b));
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/*
 * The whole cluster (mon, OSD, radosgw) killed with SIGKILL and started
 * again: what was written before is still there (bluestore), read
 * through the mount that stayed up, including a read-only handle opened
 * before the crash and read on after it.
 */
IT_TEST(test_cluster_restart_keeps_data)
{
	static const size_t sizes[] = {0, 1, 4 * KIB, 1 * MIB, 8 * MIB};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	unsigned char *data[N] = {NULL};
	unsigned char *half = NULL;
	char bucket[64], name[32];
	struct it_mount m;
	struct dirs d;
	size_t i, n;
	int fd;

	it_set_timeout(180);
	rgw_ensure_up();
	it_fresh_bucket(bucket);
	mount_dirs(&m, bucket, &d, false, NULL);
	for (i = 0; i < N; i++) {
		data[i] = malloc(sizes[i] + 1);
		IT_ASSERT(data[i] != NULL);
		it_random_bytes(data[i], sizes[i], 80 + i);
		IT_SNPRINTF(name, "f%zu.bin", i);
		IT_ASSERT_EQ_INT(it_write_file(it_path(&m, name), data[i],
					       sizes[i]),
				 0);
	}
	half = malloc(8 * MIB);
	IT_ASSERT(half != NULL);
	fd = open(it_path(&m, "f4.bin"), O_RDONLY);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(read(fd, half, 4 * MIB), 4 * MIB);

	rgw("cluster-kill");
	rgw("cluster-start");

	for (i = 0; i < N; i++) {
		IT_SNPRINTF(name, "f%zu.bin", i);
		expect_file(it_path(&m, name), data[i], sizes[i]);
		expect_server(bucket, name, data[i], sizes[i]);
	}
	n = 0;
	while (n < 4 * MIB) {
		ssize_t got = read(fd, half + 4 * MIB + n, 4 * MIB - n);

		IT_ASSERT_MSG(got > 0, "read after the restart: %zd (%s)",
			      got, got < 0 ? strerror(errno) : "EOF");
		n += (size_t)got;
	}
	IT_ASSERT_MEM(half, data[4], 8 * MIB);
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f0.bin"), "new", 3), 0);
	expect_server(bucket, "f0.bin", "new", 3);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
	for (i = 0; i < N; i++)
		free(data[i]);
	free(half);
}
