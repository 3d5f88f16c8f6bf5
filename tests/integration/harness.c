/*
 * Integration test harness: runner, watchdog, environment, etagfs mounts
 * and file helpers (the independent S3 client is in harness_s3.c, kept
 * logs and the secrets search in harness_logs.c). Contracts in
 * harness.h.
 *
 * Concurrency: tests run on the main thread only. One watchdog thread
 * sleeps until the running test's deadline; if it passes, it kills every
 * etagfs child (which aborts the hung FUSE requests), detaches the mounts
 * and ends the process. The list of live mounts and spawned children is
 * shared with it under list_lock; nothing else is.
 */
#include "harness.h"
#include "harness_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IT_MAX_TESTS 256
#define IT_MOUNT_WAIT_MS 10000
#define IT_EXIT_WAIT_MS 20000

struct it_env it_env;

/* ------------------------------------------------------------ registry */

struct it_test {
	const char *name;
	void (*fn)(void);
	int line;
};

static struct it_test tests[IT_MAX_TESTS];
static int n_tests;
static const char *cur_test;	/* NULL outside a test */
static jmp_buf cur_jmp;

void it_register(const char *name, void (*fn)(void), int line)
{
	if (n_tests == IT_MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests\n", IT_MAX_TESTS);
		exit(99);
	}
	tests[n_tests].name = name;
	tests[n_tests].fn = fn;
	tests[n_tests].line = line;
	n_tests++;
}

static int test_cmp(const void *a, const void *b)
{
	return ((const struct it_test *)a)->line -
	       ((const struct it_test *)b)->line;
}

void it_hard_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "ERROR: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(99);
}

long it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	printf("FAIL %s: %s:%d: ", cur_test ? cur_test : "(setup)", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cur_test)
		exit(99);
	longjmp(cur_jmp, 1);
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

void it_fail_errno(const char *file, int line, const char *expr, long long ret,
		   int got, int want)
{
	if (want)
		it_fail(file, line, "%s: want -1/%s, got %lld/%s (%s)", expr,
			errname(want), ret, errname(got), strerror(got));
	it_fail(file, line, "%s failed: %s (%s)", expr, errname(got),
		strerror(got));
}

void it_assert_mem(const char *file, int line, const char *an, const char *bn,
		   const void *a, const void *b, size_t n)
{
	const unsigned char *pa = a, *pb = b;
	size_t i;

	if (!a || !b) {
		if (a == b && n == 0)
			return;
		it_fail(file, line, "%s vs %s: NULL buffer", an, bn);
	}
	for (i = 0; i < n; i++)
		if (pa[i] != pb[i])
			it_fail(file, line,
				"%s != %s: first difference at offset %zu of "
				"%zu: 0x%02x != 0x%02x",
				an, bn, i, n, pa[i], pb[i]);
}

void it_assert_eq_str(const char *file, int line, const char *an,
		      const char *bn, const char *a, const char *b)
{
	if (a == b)
		return;
	if (!a || !b || strcmp(a, b) != 0)
		it_fail(file, line, "%s == %s: \"%s\" != \"%s\"", an, bn,
			a ? a : "(null)", b ? b : "(null)");
}

void it_log(const char *fmt, ...)
{
	va_list ap;

	printf("  %s: ", cur_test ? cur_test : "harness");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ------------------------------------------- live mounts and children */

struct it_mount_rec {
	char dir[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid; /* -1 once reaped */
	struct it_mount_rec *next;
};

/* Everything the watchdog and the exit paths must clean up. */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct it_mount_rec *live_mounts;
static pid_t run_child = -1;	/* it_run_mount_cmd's child */
static char tracked_dirs[1024][PATH_MAX / 4];
static int n_tracked_dirs;

/*
 * Is every leak LeakSanitizer reports allocated inside libfuse itself?
 * libfuse's high-level API frees a directory handle only on RELEASEDIR,
 * which the kernel sends asynchronously after closedir(): an unmount
 * right after a listing can end the session first. Such a leak's frame
 * #1 (the caller of malloc) is in libfuse3.so; a leak of etagfs's has
 * etagfs code there and still fails the test.
 */
static bool only_libfuse_leaks(const char *log)
{
	const char *p = log;
	bool any = false;

	while ((p = strstr(p, "Direct leak of")) != NULL) {
		const char *f1 = strstr(p, "\n    #1 ");
		const char *eol = f1 ? strchr(f1 + 1, '\n') : NULL;
		const char *lib = f1 ? strstr(f1, "libfuse3.so") : NULL;

		if (f1 == NULL || lib == NULL || (eol != NULL && lib > eol))
			return false;
		any = true;
		p = f1;
	}
	return any;
}

/* Did a sanitizer report anything in @p path (a mount's log)? */
static bool log_has_sanitizer_report(const char *path, bool quiet)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	bool found = false;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	for (;;) {
		if (cap - len < 65536) {
			char *bigger = realloc(text, cap + 65536 + 1);

			if (bigger == NULL)
				break;
			text = bigger;
			cap += 65536;
		}
		n = read(fd, text + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (text == NULL)
		return false;
	text[len] = '\0';
	if (strstr(text, "runtime error:") ||
	    strstr(text, "ERROR: AddressSanitizer"))
		found = true;
	if (strstr(text, "ERROR: LeakSanitizer")) {
		if (only_libfuse_leaks(text)) {
			if (!quiet)
				it_log("ignoring a leak inside libfuse "
				       "(directory handle released after "
				       "unmount) in %s", path);
		} else {
			found = true;
		}
	}
	free(text);
	return found;
}

static void log_tail(const char *path, int lines)
{
	char buf[16384];
	ssize_t n;
	int fd, seen = 0;
	char *p;

	struct stat sb;
	off_t from = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && sb.st_size > (off_t)sizeof(buf) - 1)
		from = sb.st_size - (off_t)sizeof(buf) + 1;
	n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = buf + n;
	while (p > buf) {
		p--;
		if (*p == '\n' && p + 1 < buf + n && ++seen > lines) {
			p++;
			break;
		}
	}
	printf("  ---- %s (end)\n%s%s  ----\n", path, p,
	       buf[n - 1] == '\n' ? "" : "\n");
	fflush(stdout);
}

/*
 * Unmount @dir: umount2() as root, else fusermount3. @lazy detaches a busy
 * mount. 0 on success. Only fork/exec/wait here: the watchdog and the
 * signal handler use it too.
 */
static int do_umount(const char *dir, bool lazy)
{
	pid_t pid;
	int st;

	if (geteuid() == 0)
		return umount2(dir, lazy ? MNT_DETACH : 0) == 0 ? 0 : -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", dir,
		       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Kill and detach everything: the watchdog's and the signal path. */
static void emergency_cleanup(void)
{
	struct it_mount_rec *r;
	int i;

	if (run_child > 0)
		kill(run_child, SIGKILL);
	for (r = live_mounts; r; r = r->next) {
		if (r->pid > 0)
			kill(r->pid, SIGKILL);
		do_umount(r->dir, true);
	}
	for (i = 0; i < n_tracked_dirs; i++)
		if (it_is_mounted(tracked_dirs[i]))
			do_umount(tracked_dirs[i], true);
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = "harness: interrupted, cleaning up mounts\n";

	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing left to tell */
	}
	emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw);

/* ------------------------------------------------------------ watchdog */

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static long wd_deadline; /* ms, 0: disarmed */
static int wd_timeout_s = 120;

static void *watchdog_main(void *arg)
{
	struct it_mount_rec *r;
	struct timespec ts;
	long now, wake;

	pthread_mutex_lock(&wd_lock);
	for (;;) {
		now = it_now_ms();
		if (wd_deadline && now >= wd_deadline)
			break;
		wake = wd_deadline ? wd_deadline : now + 1000;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (wake - now) / 1000;
		ts.tv_nsec += ((wake - now) % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
	}
	pthread_mutex_unlock(&wd_lock);

	/* The test thread may be stuck in a FUSE syscall forever. */
	printf("FAIL %s: timed out after %d s (ETAGFS_IT_TIMEOUT); killing "
	       "etagfs\n",
	       cur_test ? cur_test : "?", wd_timeout_s);
	pthread_mutex_lock(&list_lock);
	for (r = live_mounts; r; r = r->next)
		log_tail(r->log, 30);
	emergency_cleanup();
	pthread_mutex_unlock(&list_lock);
	/* _exit skips at_exit_cleanup; the mounts are detached by now. */
	if (!getenv("ETAGFS_IT_KEEP"))
		nftw(it_env.tmp_root, rm_entry, 16,
		     FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	printf("%s: timed out\n", program_invocation_short_name);
	fflush(stdout);
	_exit(1);
	return NULL;
}

static void watchdog_arm(int seconds)
{
	pthread_mutex_lock(&wd_lock);
	wd_deadline = seconds ? it_now_ms() + seconds * 1000L : 0;
	pthread_cond_signal(&wd_cond);
	pthread_mutex_unlock(&wd_lock);
}

void it_set_timeout(int seconds)
{
	if (cur_test && seconds > 0)
		watchdog_arm(seconds);
}

static void watchdog_start(void)
{
	pthread_condattr_t ca;
	pthread_t t;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t, NULL, watchdog_main, NULL) != 0)
		it_hard_error("cannot start the watchdog thread");
	pthread_detach(t);
}

/* ------------------------------------------------------------ mounting */

bool it_is_mounted(const char *dir)
{
	char line[4096 + PATH_MAX], mp[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root MOUNTPOINT ... */
		const char *p = line;
		size_t o = 0;
		int field;

		for (field = 0; field < 4 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (!p)
			continue;
		/* Mount points escape blanks and '\' as \ooo. */
		while (*p && *p != ' ' && o + 1 < sizeof(mp)) {
			if (p[0] == '\\' && isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2]) &&
			    isdigit((unsigned char)p[3])) {
				mp[o++] = (char)((p[1] - '0') * 64 +
						 (p[2] - '0') * 8 + (p[3] - '0'));
				p += 4;
			} else {
				mp[o++] = *p++;
			}
		}
		mp[o] = '\0';
		found = strcmp(mp, dir) == 0;
	}
	fclose(f);
	return found;
}

static const char *rotate(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *rotate(const char *fmt, ...)
{
	static char bufs[16][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, PATH_MAX, fmt, ap);
	va_end(ap);
	return b;
}

const char *it_path(const struct it_mount *m, const char *rel)
{
	if (!rel || !*rel)
		return rotate("%s", m->dir);
	return rotate("%s/%s", m->dir, rel);
}

const char *it_mkdtemp(const char *tag)
{
	static unsigned counter;
	const char *d;

	d = rotate("%s/%s-%u", it_env.tmp_root, tag ? tag : "d", ++counter);
	if (mkdir(d, 0755) != 0)
		IT_FAIL("mkdir %s: %s", d, strerror(errno));
	pthread_mutex_lock(&list_lock);
	if (n_tracked_dirs < (int)(sizeof(tracked_dirs) /
				   sizeof(tracked_dirs[0])) &&
	    strlen(d) < sizeof(tracked_dirs[0]))
		memcpy(tracked_dirs[n_tracked_dirs++], d, strlen(d) + 1);
	pthread_mutex_unlock(&list_lock);
	return d;
}

void it_write_passwd(const char *path, mode_t mode, const char *access,
		     const char *secret)
{
	char line[512];
	int fd, n;

	n = snprintf(line, sizeof(line), "%s:%s\n",
		     access ? access : it_env.access_key,
		     secret ? secret : it_env.secret_key);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		IT_FAIL("creating %s: %s", path, strerror(errno));
	if (write(fd, line, (size_t)n) != n || fchmod(fd, mode) != 0) {
		close(fd);
		IT_FAIL("writing %s: %s", path, strerror(errno));
	}
	close(fd);
}

void it_mount_log_tail(const struct it_mount *m, int lines)
{
	log_tail(m->log, lines);
}

/* Reap @pid within @ms; its wait status in *@st. 0, or -1 on timeout. */
static int wait_child(pid_t pid, long ms, int *st)
{
	long deadline = it_now_ms() + ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (it_now_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

static void live_remove(struct it_mount_rec *rec)
{
	struct it_mount_rec **pp;

	pthread_mutex_lock(&list_lock);
	for (pp = &live_mounts; *pp; pp = &(*pp)->next)
		if (*pp == rec) {
			*pp = rec->next;
			break;
		}
	pthread_mutex_unlock(&list_lock);
	free(rec);
}

void it_mount(struct it_mount *m, const char *bucket_spec,
	      const char *extra_opts)
{
	struct it_mount_rec *rec;
	const char *argv[8];
	char opts[3 * PATH_MAX], name[NAME_MAX];
	long deadline;
	int fd, st;
	pid_t pid;

	memset(m, 0, sizeof(*m));
	m->pid = -1;
	snprintf(m->dir, sizeof(m->dir), "%s", it_mkdtemp("mnt"));
	IT_SNPRINTF(name, "%s.log", strrchr(m->dir, '/') + 1);
	it_kept_log_path(m->log, sizeof(m->log), name);
	IT_SNPRINTF(m->passwd, "%s.passwd", m->dir);
	it_write_passwd(m->passwd, 0600, NULL, NULL);
	IT_SNPRINTF(opts, "endpoint=%s,region=%s,passwd_file=%s%s%s",
		    it_env.endpoint, it_env.region, m->passwd,
		    extra_opts && *extra_opts ? "," : "",
		    extra_opts ? extra_opts : "");
	argv[0] = it_env.bin;
	argv[1] = bucket_spec;
	argv[2] = m->dir;
	argv[3] = "-f";
	/* The highest debug level, so that it_secrets_scan searches every
	 * request of the suite for secrets. */
	argv[4] = "-d";
	argv[5] = "-o";
	argv[6] = opts;
	argv[7] = NULL;

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		IT_FAIL("out of memory");
	memcpy(rec->dir, m->dir, sizeof(rec->dir));
	memcpy(rec->log, m->log, sizeof(rec->log));
	fd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(rec);
		IT_FAIL("creating %s: %s", m->log, strerror(errno));
	}
	fflush(stdout);
	pthread_mutex_lock(&list_lock);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	if (pid < 0) {
		pthread_mutex_unlock(&list_lock);
		free(rec);
		IT_FAIL("fork: %s", strerror(errno));
	}
	rec->pid = pid;
	rec->next = live_mounts;
	live_mounts = rec;
	pthread_mutex_unlock(&list_lock);
	m->pid = pid;
	m->rec = rec;

	deadline = it_now_ms() + IT_MOUNT_WAIT_MS;
	while (!it_is_mounted(m->dir)) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			rec->pid = -1;
			log_tail(m->log, 20);
			live_remove(rec);
			m->rec = NULL;
			IT_FAIL("etagfs %s -o %s exited with %s %d before "
				"mounting",
				bucket_spec, opts,
				WIFEXITED(st) ? "status" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
		if (it_now_ms() >= deadline) {
			log_tail(m->log, 20);
			IT_FAIL("etagfs %s: no mount at %s after %d ms",
				bucket_spec, m->dir, IT_MOUNT_WAIT_MS);
		}
		usleep(10000);
	}
}

/* Unmount @rec (gently, then lazily) and reap etagfs. 0 if all clean. */
static int unmount_rec(struct it_mount_rec *rec, bool quiet)
{
	bool forced = false, sanitizer = false;
	int st = 0, i, ret = 0;

	for (i = 0; it_is_mounted(rec->dir); i++) {
		if (do_umount(rec->dir, false) == 0)
			break;
		if (i == 20) {
			if (!quiet)
				it_log("%s busy after 2 s: lazy unmount",
				       rec->dir);
			do_umount(rec->dir, true);
			forced = true;
			break;
		}
		usleep(100000);
	}
	if (rec->pid > 0) {
		if (wait_child(rec->pid, IT_EXIT_WAIT_MS, &st) != 0) {
			if (!quiet)
				it_log("etagfs (pid %d) still running %d s "
				       "after unmount: killed",
				       (int)rec->pid, IT_EXIT_WAIT_MS / 1000);
			kill(rec->pid, SIGKILL);
			waitpid(rec->pid, &st, 0);
			ret = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (!quiet)
				it_log("etagfs exited with %s %d after unmount",
				       WIFEXITED(st) ? "status" : "signal",
				       WIFEXITED(st) ? WEXITSTATUS(st) :
						       WTERMSIG(st));
			ret = -1;
		}
		rec->pid = -1;
	}
	/* Sanitizers may report without changing the exit status. */
	sanitizer = log_has_sanitizer_report(rec->log, quiet);
	if (sanitizer) {
		if (!quiet)
			it_log("sanitizer report in %s", rec->log);
		ret = -1;
	}
	if (forced)
		ret = -1;
	if (ret != 0 && !quiet)
		log_tail(rec->log, 30);
	return ret;
}

int it_unmount(struct it_mount *m)
{
	int ret;

	if (!m->rec)
		return -1;
	ret = unmount_rec(m->rec, false);
	live_remove(m->rec);
	m->rec = NULL;
	m->pid = -1;
	return ret;
}

/* After each test: nothing of it may stay mounted or running. */
static void cleanup_test_leftovers(bool failed)
{
	struct it_mount_rec *rec;
	int i;

	for (;;) {
		pthread_mutex_lock(&list_lock);
		rec = live_mounts;
		pthread_mutex_unlock(&list_lock);
		if (!rec)
			break;
		if (failed)
			log_tail(rec->log, 30);
		else
			it_log("left mounted by the test: %s", rec->dir);
		unmount_rec(rec, true);
		live_remove(rec);
	}
	for (i = 0; i < n_tracked_dirs; i++)
		if (it_is_mounted(tracked_dirs[i])) {
			it_log("stray mount at %s: detaching", tracked_dirs[i]);
			do_umount(tracked_dirs[i], true);
		}
}

static int read_capture(const char *path, char *out, size_t len)
{
	ssize_t n;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return 0;
}

void it_run_mount_cmd(const char *const *args, int timeout_s,
		      struct it_run_result *r)
{
	static unsigned counter;
	char out_path[PATH_MAX], err_path[PATH_MAX], name[32];
	const char *argv[64];
	int fo, fe, st = 0, i;
	long t0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	argv[0] = it_env.bin;
	for (i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	counter++;
	IT_SNPRINTF(name, "run-%u.out", counter);
	it_kept_log_path(out_path, sizeof(out_path), name);
	IT_SNPRINTF(name, "run-%u.err", counter);
	it_kept_log_path(err_path, sizeof(err_path), name);
	fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fo < 0 || fe < 0)
		IT_FAIL("creating %s: %s", out_path, strerror(errno));
	fflush(stdout);
	t0 = it_now_ms();
	pthread_mutex_lock(&list_lock);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	run_child = pid;
	pthread_mutex_unlock(&list_lock);
	close(fo);
	close(fe);
	if (pid < 0)
		IT_FAIL("fork: %s", strerror(errno));
	if (wait_child(pid, timeout_s * 1000L, &st) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		r->timed_out = true;
	} else if (WIFEXITED(st)) {
		r->exit_code = WEXITSTATUS(st);
	}
	pthread_mutex_lock(&list_lock);
	run_child = -1;
	pthread_mutex_unlock(&list_lock);
	r->elapsed_ms = it_now_ms() - t0;
	read_capture(out_path, r->out, sizeof(r->out));
	read_capture(err_path, r->err, sizeof(r->err));
}

/* ------------------------------------------------------------- runner */

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void at_exit_cleanup(void)
{
	struct it_mount_rec *rec;

	while ((rec = live_mounts)) {
		unmount_rec(rec, true);
		live_remove(rec);
	}
	emergency_cleanup();
	/* FTW_MOUNT: never descend into a mount that would not go away. */
	if (it_env.tmp_root[0] && !getenv("ETAGFS_IT_KEEP"))
		nftw(it_env.tmp_root, rm_entry, 16,
		     FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	it_s3_cleanup();
	curl_global_cleanup();
}

/* Run one test; true if it passed. */
static bool run_one(const struct it_test *t)
{
	volatile bool ok = true;
	long t0 = it_now_ms();

	cur_test = t->name;
	watchdog_arm(wd_timeout_s);
	if (setjmp(cur_jmp) == 0)
		t->fn();
	else
		ok = false;
	watchdog_arm(0);
	cleanup_test_leftovers(!ok);
	if (ok)
		printf("PASS %s (%ld ms)\n", cur_test, it_now_ms() - t0);
	cur_test = NULL;
	return ok;
}

static bool selected(int argc, char **argv, const char *name)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR"), *to = getenv("ETAGFS_IT_TIMEOUT");
	char root[PATH_MAX];
	struct sigaction sa;
	int i, passed = 0, failed = 0;
	long st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (to && *to) {
		char *end;
		long v = strtol(to, &end, 10);

		if (*end || v < 0 || v > 86400)
			it_hard_error("ETAGFS_IT_TIMEOUT: bad number '%s'", to);
		wd_timeout_s = (int)v;
	}
	it_env_load();
	it_check_fuse();
	if (access(it_env.bin, X_OK) != 0)
		it_hard_error("the etagfs program %s is missing (%s): build it "
			   "first (make), or set ETAGFS_BIN",
			   it_env.bin, strerror(errno));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		it_hard_error("curl_global_init failed");

	snprintf(root, sizeof(root), "%s/etagfs-it-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root) || !realpath(root, it_env.tmp_root))
		it_hard_error("cannot create a scratch dir %s: %s", root,
			   strerror(errno));
	/* etagfs keeps state (staging, conflict copies, the metadata memo
	 * of every bucket it mounted) under $XDG_STATE_HOME: the tests'
	 * state goes with their scratch dir, not into the user's home. */
	if ((size_t)snprintf(root, sizeof(root), "%s/state", it_env.tmp_root) >=
		    sizeof(root) ||
	    mkdir(root, 0700) != 0 || setenv("XDG_STATE_HOME", root, 1) != 0)
		it_hard_error("cannot create %s: %s", root, strerror(errno));
	atexit(at_exit_cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A reader that went away (a pipe into a missing command) must not
	 * kill the runner before it unmounts. */
	sigaction(SIGPIPE, &sa, NULL);

	st = it_s3_request("GET", NULL, NULL, NULL, NULL, NULL, 0, NULL);
	if (st != 200)
		it_hard_error("RGW at %s does not answer a signed ListBuckets "
			   "(HTTP %ld): is it running? (tests/rgw/rgw.sh "
			   "status $ETAGFS_RGW_DIR)",
			   it_env.endpoint, st);
	watchdog_start();

	qsort(tests, (size_t)n_tests, sizeof(tests[0]), test_cmp);
	printf("%s: %d tests, etagfs %s, RGW %s\n",
	       program_invocation_short_name, n_tests, it_env.bin,
	       it_env.endpoint);
	for (i = 0; i < n_tests; i++) {
		if (!selected(argc, argv, tests[i].name))
			continue;
		if (run_one(&tests[i]))
			passed++;
		else
			failed++;
	}
	printf("%s: %d passed, %d failed\n", program_invocation_short_name,
	       passed, failed);
	if (passed + failed == 0)
		it_hard_error("no test matched");
	return failed ? 1 : 0;
}
