/*
 * Integration test harness: runner, watchdog, environment, an independent
 * S3 client on libcurl's own SigV4, etagfs mounts and file helpers.
 * Contracts in harness.h.
 *
 * Concurrency: tests run on the main thread only. One watchdog thread
 * sleeps until the running test's deadline; if it passes, it kills every
 * etagfs child (which aborts the hung FUSE requests), detaches the mounts
 * and ends the process. The list of live mounts and spawned children is
 * shared with it under list_lock; nothing else is.
 */
#include "harness.h"

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
#define IT_BODY_MAX ((size_t)2 << 30) /* largest response body kept */
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

/* A harness failure outside any test: the environment is broken. */
static void __attribute__((noreturn, format(printf, 1, 2)))
hard_error(const char *fmt, ...)
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
		hard_error("cannot start the watchdog thread");
	pthread_detach(t);
}

/* --------------------------------------------------------- environment */

static void set_field(char *dst, size_t len, const char *val,
		      const char *what)
{
	if (strlen(val) >= len)
		hard_error("%s too long", what);
	memcpy(dst, val, strlen(val) + 1);
}

static void env_assign(const char *key, const char *val)
{
	if (strcmp(key, "ETAGFS_TEST_ENDPOINT") == 0)
		set_field(it_env.endpoint, sizeof(it_env.endpoint), val, key);
	else if (strcmp(key, "ETAGFS_TEST_ACCESS_KEY") == 0)
		set_field(it_env.access_key, sizeof(it_env.access_key), val,
			  key);
	else if (strcmp(key, "ETAGFS_TEST_SECRET_KEY") == 0)
		set_field(it_env.secret_key, sizeof(it_env.secret_key), val,
			  key);
	else if (strcmp(key, "ETAGFS_TEST_REGION") == 0)
		set_field(it_env.region, sizeof(it_env.region), val, key);
}

/* $ETAGFS_RGW_DIR/env (tests/rgw/rgw.sh's) if present, else ETAGFS_TEST_*. */
static void env_load(void)
{
	static const char *const keys[] = {
		"ETAGFS_TEST_ENDPOINT", "ETAGFS_TEST_ACCESS_KEY",
		"ETAGFS_TEST_SECRET_KEY", "ETAGFS_TEST_REGION"};
	const char *dir = getenv("ETAGFS_RGW_DIR");
	const char *bin = getenv("ETAGFS_BIN");
	char path[PATH_MAX], line[1024];
	size_t i, n;
	FILE *f = NULL;

	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/env", dir);
		f = fopen(path, "re");
	}
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *k = line, *eq;

			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(k, "export ", 7) == 0)
				k += 7;
			eq = strchr(k, '=');
			if (!eq)
				continue;
			*eq = '\0';
			env_assign(k, eq + 1);
		}
		fclose(f);
	} else {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (getenv(keys[i]))
				env_assign(keys[i], getenv(keys[i]));
	}
	if (!it_env.endpoint[0] || !it_env.access_key[0] ||
	    !it_env.secret_key[0])
		hard_error("no RGW to test against: %s/env is missing and "
			   "ETAGFS_TEST_ENDPOINT/_ACCESS_KEY/_SECRET_KEY are "
			   "not set. Run 'make check' (it starts one), or "
			   "'tests/rgw/rgw.sh start DIR' and export "
			   "ETAGFS_RGW_DIR=DIR.",
			   dir && *dir ? dir : "$ETAGFS_RGW_DIR");
	if (!it_env.region[0])
		set_field(it_env.region, sizeof(it_env.region), "us-east-1",
			  "region");
	n = strlen(it_env.endpoint);
	while (n > 0 && it_env.endpoint[n - 1] == '/')
		it_env.endpoint[--n] = '\0';

	if (!bin || !*bin)
		bin = ETAGFS_TOP_BUILDDIR "/src/etagfs";
	set_field(it_env.bin, sizeof(it_env.bin), bin, "ETAGFS_BIN");
}

/* 77 only when this machine truly cannot mount FUSE. */
static void check_fuse(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: /dev/fuse is not usable here (%s): FUSE mounts "
		       "are impossible on this machine\n",
		       strerror(errno));
		exit(77);
	}
	close(fd);
}

/* ----------------------------------------------------- independent S3 */

static CURL *curl;

struct membuf {
	char *p;
	size_t len, cap, max;
	bool overflow;
};

static int membuf_add(struct membuf *b, const void *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len) {
		b->overflow = true;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->overflow = true;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	return membuf_add(ud, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct membuf *b = ud;

	/* Keep only the final response's headers (not 100 Continue's). */
	if (size * nmemb >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		b->len = 0;
	return membuf_add(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

struct upload {
	const char *p;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->p + u->off, n);
	u->off += n;
	return n;
}

/* AWS URI encoding: unreserved kept, @keep_slash for paths, %XX else. */
static char *uri_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void it_s3_resp_free(struct it_s3_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->headers);
	r->body = NULL;
	r->headers = NULL;
}

int it_s3_resp_header(const struct it_s3_resp *r, const char *name, char *out,
		      size_t out_len)
{
	size_t nl = strlen(name);
	const char *line = r->headers;

	if (out_len)
		out[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t vl = ll - nl - 1;

			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && isspace((unsigned char)v[vl - 1]))
				vl--;
			if (vl >= out_len)
				vl = out_len ? out_len - 1 : 0;
			if (out_len) {
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -1;
}

/* Text of the first <tag>...</tag> at or after @from, or NULL. */
static const char *xml_find(const char *from, const char *tag, char *out,
			    size_t out_len)
{
	char open[64], close[64];
	const char *a, *b;
	size_t n;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = from ? strstr(from, open) : NULL;
	if (!a)
		return NULL;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return NULL;
	n = (size_t)(b - a);
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, a, n);
	out[n] = '\0';
	return b + strlen(close);
}

/* Decode the five XML entities and numeric references, in place. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
		    {"&quot;", '"'}, {"&apos;", '\''}};
	char *r = s, *w = s;
	size_t i;

	while (*r) {
		if (*r == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t l = strlen(ents[i].ent);

				if (strncmp(r, ents[i].ent, l) == 0) {
					*w++ = ents[i].c;
					r += l;
					goto next;
				}
			}
			if (r[1] == '#') {
				char *end;
				long v = r[2] == 'x' ?
						 strtol(r + 3, &end, 16) :
						 strtol(r + 2, &end, 10);

				if (*end == ';' && v > 0 && v < 128) {
					*w++ = (char)v;
					r = end + 1;
					goto next;
				}
			}
		}
		*w++ = *r++;
next:;
	}
	*w = '\0';
}

long it_s3_request(const char *method, const char *bucket, const char *key,
		   const char *query, const char *const *headers,
		   const void *body, size_t len, struct it_s3_resp *resp)
{
	struct membuf bbuf = {.max = IT_BODY_MAX};
	struct membuf hbuf = {.max = 1 << 20};
	struct curl_slist *hl = NULL, *tmp = NULL;
	struct upload up = {.p = body, .len = len};
	char sigv4[128], *ekey = NULL, *url = NULL, errbuf[CURL_ERROR_SIZE];
	size_t url_len;
	long status = 0;
	CURLcode rc;

	if (resp)
		memset(resp, 0, sizeof(*resp));
	if (!curl) {
		curl = curl_easy_init();
		if (!curl)
			hard_error("curl_easy_init failed");
	}
	curl_easy_reset(curl);

	ekey = uri_encode(key ? key : "", true);
	url_len = strlen(it_env.endpoint) + strlen(bucket ? bucket : "") +
		  (ekey ? strlen(ekey) : 0) + (query ? strlen(query) : 0) + 8;
	url = malloc(url_len);
	if (!ekey || !url)
		goto out;
	snprintf(url, url_len, "%s/%s%s%s%s%s", it_env.endpoint,
		 bucket ? bucket : "", key ? "/" : "", key ? ekey : "",
		 query ? "?" : "", query ? query : "");

	/*
	 * libcurl would hash the payload itself, which it cannot do for a
	 * streamed upload; RGW accepts UNSIGNED-PAYLOAD like AWS does.
	 */
	hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/*
	 * No "Expect:" to suppress 100-continue: libcurl 7.88 would sign the
	 * emptied header and RGW would then reject the signature.
	 */
	tmp = hl;
	for (; hl && tmp && headers && *headers; headers++)
		tmp = curl_slist_append(hl, *headers);
	if (!hl || !tmp)
		goto out;

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", it_env.region);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4);
	/* Keys are sent as they are: "d/./y" must not become "d/y". */
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_USERNAME, it_env.access_key);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, it_env.secret_key);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bbuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hbuf);
	if (getenv("ETAGFS_IT_CURL_VERBOSE"))
		curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(curl, CURLOPT_READDATA, &up);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}

	errbuf[0] = '\0';
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	} else {
		it_log("independent client: %s %s: %s", method, url,
		       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	if (resp) {
		resp->status = status;
		resp->body = bbuf.p ? bbuf.p : strdup("");
		resp->body_len = bbuf.len;
		resp->headers = hbuf.p ? hbuf.p : strdup("");
		bbuf.p = NULL;
		hbuf.p = NULL;
		it_s3_resp_header(resp, "ETag", resp->etag,
				  sizeof(resp->etag));
		if (status >= 300 &&
		    xml_find(resp->body, "Code", resp->error_code,
			     sizeof(resp->error_code)) == NULL)
			resp->error_code[0] = '\0';
	}
out:
	curl_slist_free_all(hl);
	free(bbuf.p);
	free(hbuf.p);
	free(ekey);
	free(url);
	return status;
}

long it_s3_create_bucket(const char *bucket)
{
	return it_s3_request("PUT", bucket, NULL, NULL, NULL, NULL, 0, NULL);
}

long it_s3_put_hdrs(const char *bucket, const char *key, const void *data,
		    size_t len, const char *const *headers, char *etag_out)
{
	struct it_s3_resp r;
	long st;

	st = it_s3_request("PUT", bucket, key, NULL, headers, data, len, &r);
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	it_s3_resp_free(&r);
	return st;
}

long it_s3_put(const char *bucket, const char *key, const void *data,
	       size_t len, char *etag_out)
{
	return it_s3_put_hdrs(bucket, key, data, len, NULL, etag_out);
}

long it_s3_put_cond(const char *bucket, const char *key, const void *data,
		    size_t len, const char *cond_header, char *etag_out)
{
	const char *h[] = {cond_header, NULL};

	return it_s3_put_hdrs(bucket, key, data, len, h, etag_out);
}

long it_s3_get(const char *bucket, const char *key, void **data, size_t *len,
	       char *etag_out)
{
	struct it_s3_resp r;
	long st;

	st = it_s3_request("GET", bucket, key, NULL, NULL, NULL, 0, &r);
	*data = NULL;
	*len = 0;
	if (st == 200) {
		*data = r.body;
		*len = r.body_len;
		r.body = NULL;
	}
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	it_s3_resp_free(&r);
	return st;
}

long it_s3_head(const char *bucket, const char *key, long long *size,
		char *etag_out, const char *meta_name, char *meta_val,
		size_t meta_len)
{
	struct it_s3_resp r;
	char cl[32];
	long st;

	st = it_s3_request("HEAD", bucket, key, NULL, NULL, NULL, 0, &r);
	if (size)
		*size = it_s3_resp_header(&r, "Content-Length", cl,
					  sizeof(cl)) == 0 ?
				strtoll(cl, NULL, 10) :
				-1;
	if (etag_out)
		memcpy(etag_out, r.etag, sizeof(r.etag));
	if (meta_name && meta_val)
		it_s3_resp_header(&r, meta_name, meta_val, meta_len);
	it_s3_resp_free(&r);
	return st;
}

long it_s3_delete(const char *bucket, const char *key)
{
	return it_s3_request("DELETE", bucket, key, NULL, NULL, NULL, 0, NULL);
}

void it_strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Append a copy of @s to the NULL-terminated vector *@v of *@n. */
static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -1;
	nv[++*n] = NULL;
	return 0;
}

/* Every <Key> of every page of a listing; @base: the fixed parameters. */
static char **list_keys(const char *bucket, const char *prefix, bool uploads,
			size_t *n_out)
{
	char **v = calloc(1, sizeof(*v));
	char *eprefix = NULL, *etoken = NULL, *query = NULL;
	char token[1024] = "", key[2048];
	struct it_s3_resp r = {0};
	size_t n = 0, qlen;
	const char *p;
	long st;
	bool more;

	eprefix = uri_encode(prefix ? prefix : "", false);
	if (!v || !eprefix)
		goto fail;
	do {
		free(etoken);
		free(query);
		query = NULL;
		etoken = uri_encode(token, false);
		qlen = strlen(eprefix) + (etoken ? strlen(etoken) : 0) + 64;
		query = malloc(qlen);
		if (!etoken || !query)
			goto fail;
		/* Parameters in canonical (sorted) order: see harness.h. */
		if (uploads)
			snprintf(query, qlen, "prefix=%s&uploads=", eprefix);
		else if (token[0])
			snprintf(query, qlen,
				 "continuation-token=%s&list-type=2&prefix=%s",
				 etoken, eprefix);
		else
			snprintf(query, qlen, "list-type=2&prefix=%s",
				 eprefix);
		st = it_s3_request("GET", bucket, NULL, query, NULL, NULL, 0,
				   &r);
		if (st != 200) {
			it_log("listing %s failed: HTTP %ld %s", bucket, st,
			       r.error_code);
			goto fail;
		}
		for (p = r.body; (p = xml_find(p, "Key", key, sizeof(key)));) {
			xml_unescape(key);
			if (strv_add(&v, &n, key) < 0)
				goto fail;
		}
		more = !uploads && strstr(r.body,
					  "<IsTruncated>true</IsTruncated>");
		if (more && !xml_find(r.body, "NextContinuationToken", token,
				      sizeof(token)))
			more = false;
		it_s3_resp_free(&r);
	} while (more);
	free(eprefix);
	free(etoken);
	free(query);
	if (n_out)
		*n_out = n;
	return v;
fail:
	it_s3_resp_free(&r);
	it_strv_free(v);
	free(eprefix);
	free(etoken);
	free(query);
	if (n_out)
		*n_out = 0;
	return NULL;
}

char **it_s3_list(const char *bucket, const char *prefix, size_t *n)
{
	return list_keys(bucket, prefix, false, n);
}

char **it_s3_list_multipart_uploads(const char *bucket, size_t *n)
{
	return list_keys(bucket, NULL, true, n);
}

void it_fresh_bucket(char out[64])
{
	static unsigned counter;
	static unsigned tag;
	long st;

	/* A per-process tag keeps names unique across pid reuse. */
	if (!tag)
		tag = ((unsigned)time(NULL) ^ (unsigned)getpid() * 2654435761u) &
		      0xffff;
	snprintf(out, 64, "it-%ld-%04x-%u", (long)getpid(), tag, ++counter);
	st = it_s3_create_bucket(out);
	if (st != 200)
		IT_FAIL("independent client: creating bucket %s: HTTP %ld",
			out, st);
}

void it_etag_unquote(const char *etag, char *out)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		etag++;
		n -= 2;
	}
	if (n >= IT_ETAG_MAX)
		n = IT_ETAG_MAX - 1;
	memcpy(out, etag, n);
	out[n] = '\0';
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

/* --------------------------------------------------------------- files */

int it_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && !err)
		err = errno;
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **it_list_dir(const char *path, size_t *n_out)
{
	size_t n = 0, cap = 64;
	char **v = calloc(cap + 1, sizeof(*v));
	struct dirent *d;
	DIR *dir;

	IT_ASSERT(v != NULL);
	dir = opendir(path);
	IT_ASSERT_MSG(dir != NULL, "opendir %s: %s", path, strerror(errno));
	errno = 0;
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **bigger = realloc(v, (2 * cap + 1) * sizeof(*v));

			IT_ASSERT(bigger != NULL);
			v = bigger;
			cap *= 2;
		}
		v[n] = strdup(d->d_name);
		IT_ASSERT(v[n] != NULL);
		n++;
		v[n] = NULL;
	}
	IT_ASSERT_MSG(errno == 0, "readdir %s: %s", path, strerror(errno));
	closedir(dir);
	qsort(v, n, sizeof(*v), cmp_str);
	*n_out = n;
	return v;
}

int it_read_file(const char *path, void **data, size_t *len)
{
	struct membuf b = {.max = IT_BODY_MAX};
	char chunk[65536];
	int fd, err = 0;
	ssize_t n;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		if (membuf_add(&b, chunk, (size_t)n) < 0) {
			err = ENOMEM;
			break;
		}
	}
	if (close(fd) != 0 && !err)
		err = errno;
	if (err) {
		free(b.p);
		return err;
	}
	*data = b.p ? b.p : calloc(1, 1);
	*len = b.len;
	return *data ? 0 : ENOMEM;
}

size_t it_log_count(const struct it_mount *m, const char *needle)
{
	char *text = it_read_text(m->log, NULL);
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

bool it_log_contains(const struct it_mount *m, const char *needle)
{
	return it_log_count(m, needle) > 0;
}

void it_random_bytes(void *buf, size_t n, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull, v;
	size_t i, k;

	for (i = 0; i < n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dull;
		for (k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(v >> (8 * k));
	}
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
	if (curl) {
		curl_easy_cleanup(curl);
		curl = NULL;
	}
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
			hard_error("ETAGFS_IT_TIMEOUT: bad number '%s'", to);
		wd_timeout_s = (int)v;
	}
	env_load();
	check_fuse();
	if (access(it_env.bin, X_OK) != 0)
		hard_error("the etagfs program %s is missing (%s): build it "
			   "first (make), or set ETAGFS_BIN",
			   it_env.bin, strerror(errno));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		hard_error("curl_global_init failed");

	snprintf(root, sizeof(root), "%s/etagfs-it-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root) || !realpath(root, it_env.tmp_root))
		hard_error("cannot create a scratch dir %s: %s", root,
			   strerror(errno));
	/* etagfs keeps state (staging, conflict copies, the metadata memo
	 * of every bucket it mounted) under $XDG_STATE_HOME: the tests'
	 * state goes with their scratch dir, not into the user's home. */
	if ((size_t)snprintf(root, sizeof(root), "%s/state", it_env.tmp_root) >=
		    sizeof(root) ||
	    mkdir(root, 0700) != 0 || setenv("XDG_STATE_HOME", root, 1) != 0)
		hard_error("cannot create %s: %s", root, strerror(errno));
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
		hard_error("RGW at %s does not answer a signed ListBuckets "
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
		hard_error("no test matched");
	return failed ? 1 : 0;
}
