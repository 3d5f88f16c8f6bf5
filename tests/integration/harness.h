/**
 * @file harness.h
 * Integration test harness: real etagfs mounts on a real Ceph RGW, driven
 * through syscalls, checked with an independent S3 client.
 *
 * The S3 client here is deliberately NOT libetagfs: it signs with libcurl's
 * own SigV4 (CURLOPT_AWS_SIGV4), so a bug in etagfs's signing, encoding or
 * ETag handling cannot hide itself in both the code under test and the
 * oracle.
 *
 * A test program is a list of tests and nothing else; main() is here:
 *
 *	#include "harness.h"
 *
 *	IT_TEST(test_write_visible)
 *	{
 *		char bucket[64];
 *		struct it_mount m;
 *
 *		it_fresh_bucket(bucket);
 *		it_mount(&m, bucket, NULL);
 *		IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "a"), "hi", 2), 0);
 *		IT_ASSERT(it_unmount(&m) == 0);
 *	}
 *
 * Tests run in the order they appear in the file, one after another, in
 * one process. A failed assertion ends the current test (longjmp) and the
 * runner goes on with the next one; the mounts a test left behind are
 * unmounted by the runner. Each test has a watchdog (ETAGFS_IT_TIMEOUT
 * seconds, default 120): a hung syscall fails the run rather than CI.
 *
 * Exit status (automake): 0 all passed, 1 a test failed, 77 FUSE is not
 * usable here (/dev/fuse), 99 the environment is broken (no RGW, no etagfs
 * binary): CI must never pass because integration tests could not run.
 *
 * Environment: ETAGFS_RGW_DIR (its env file, written by tests/rgw/rgw.sh)
 * or ETAGFS_TEST_ENDPOINT/_ACCESS_KEY/_SECRET_KEY/_REGION; ETAGFS_BIN (the
 * etagfs program; default: the build tree's src/etagfs); ETAGFS_IT_LOG_DIR
 * (where mount logs are kept for it_secrets_scan; default: the scratch
 * dir). Arguments: test names to run only those (e.g. ./it_mount
 * test_good_mount).
 */
#ifndef ETAGFS_IT_HARNESS_H
#define ETAGFS_IT_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------ registry */

/** Register and define a test; the file's order is the run order. */
#define IT_TEST(fn)                                                            \
	static void fn(void);                                                  \
	__attribute__((constructor)) static void it_reg_##fn(void)             \
	{                                                                      \
		it_register(#fn, fn, __LINE__);                                \
	}                                                                      \
	static void fn(void)

/** Used by IT_TEST; not for direct use. */
void it_register(const char *name, void (*fn)(void), int line);

/* ---------------------------------------------------------- assertions */

/** Fail the current test with a printf-style message; does not return. */
#define IT_FAIL(...) it_fail(__FILE__, __LINE__, __VA_ARGS__)

#define IT_ASSERT(cond)                                                        \
	do {                                                                   \
		if (!(cond))                                                   \
			IT_FAIL("assertion failed: %s", #cond);                \
	} while (0)

/** Like IT_ASSERT with a message of its own (printf-style). */
#define IT_ASSERT_MSG(cond, ...)                                               \
	do {                                                                   \
		if (!(cond))                                                   \
			IT_FAIL(__VA_ARGS__);                                  \
	} while (0)

/** Two integers are equal; both values are reported otherwise. */
#define IT_ASSERT_EQ_INT(a, b)                                                 \
	do {                                                                   \
		long long it_a_ = (long long)(a), it_b_ = (long long)(b);      \
		if (it_a_ != it_b_)                                            \
			IT_FAIL("%s == %s: %lld != %lld", #a, #b, it_a_,       \
				it_b_);                                        \
	} while (0)

/** Two C strings are equal (NULL only equals NULL). */
#define IT_ASSERT_EQ_STR(a, b)                                                 \
	it_assert_eq_str(__FILE__, __LINE__, #a, #b, (a), (b))

/**
 * @p expr returns -1 and sets errno to exactly @p err (an E... constant).
 * errno is cleared first, so a stale errno cannot pass.
 */
#define IT_ASSERT_ERRNO(expr, err)                                             \
	do {                                                                   \
		errno = 0;                                                     \
		long long it_r_ = (long long)(expr);                           \
		int it_e_ = errno;                                             \
		if (it_r_ != -1 || it_e_ != (err))                             \
			it_fail_errno(__FILE__, __LINE__, #expr, it_r_, it_e_, \
				      (err));                                  \
	} while (0)

/** @p expr does not return -1 (a syscall succeeds); reports errno. */
#define IT_ASSERT_OK(expr)                                                     \
	do {                                                                   \
		errno = 0;                                                     \
		long long it_r_ = (long long)(expr);                           \
		if (it_r_ == -1)                                               \
			it_fail_errno(__FILE__, __LINE__, #expr, it_r_, errno, \
				      0);                                      \
	} while (0)

/** @p n bytes at @p a and @p b are equal; reports the first difference. */
#define IT_ASSERT_MEM(a, b, n)                                                 \
	it_assert_mem(__FILE__, __LINE__, #a, #b, (a), (b), (n))

/** snprintf into an array that fails the test instead of truncating. */
#define IT_SNPRINTF(buf, ...)                                                  \
	((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) < sizeof(buf) ?     \
		 (void)0 :                                                     \
		 IT_FAIL("%s: does not fit in %zu bytes", #buf, sizeof(buf)))

void it_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void it_fail_errno(const char *file, int line, const char *expr,
		   long long ret, int got, int want) __attribute__((noreturn));
void it_assert_mem(const char *file, int line, const char *an, const char *bn,
		   const void *a, const void *b, size_t n);
void it_assert_eq_str(const char *file, int line, const char *an,
		      const char *bn, const char *a, const char *b);

/**
 * Give the running test @p seconds from now before the watchdog fails it
 * (for tests that legitimately take long, e.g. multi-GiB files).
 */
void it_set_timeout(int seconds);

/** Progress note in the test log ("  name: ..."), printf-style. */
void it_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --------------------------------------------------------- environment */

/** The server and program under test; valid once tests run. */
struct it_env {
	char endpoint[256];   /**< http://127.0.0.1:PORT, no trailing '/' */
	char access_key[128];
	char secret_key[128];
	char region[64];
	char bin[PATH_MAX];   /**< the etagfs program */
	char tmp_root[PATH_MAX]; /**< this process's scratch dir, removed at exit */
};

extern struct it_env it_env;

/* ----------------------------------------------------- independent S3 */

/** Room for an ETag as the server sends it (quotes included). */
#define IT_ETAG_MAX 128

/** One S3 response, owned by the caller: release with it_s3_resp_free. */
struct it_s3_resp {
	long status;	  /**< HTTP status, 0 if no response at all */
	char *body;	  /**< NUL-terminated (the NUL not counted) */
	size_t body_len;
	char *headers;	  /**< raw header block of the final response */
	char etag[IT_ETAG_MAX]; /**< ETag header verbatim, "" if none */
	char error_code[64];	/**< <Code> of an error body, "" if none */
};

void it_s3_resp_free(struct it_s3_resp *r);

/**
 * Value of header @p name (case-insensitive) of @p r into @p out, without
 * surrounding blanks. 0 if found, -1 if not (out is then "").
 */
int it_s3_resp_header(const struct it_s3_resp *r, const char *name, char *out,
		      size_t out_len);

/**
 * Any request: METHOD /bucket[/key][?query], path style. @p key is
 * percent-encoded here ('/' kept); @p query is sent as given and must
 * already be canonical (parameters sorted, values encoded, "uploads="
 * rather than "uploads") because libcurl 7.88 signs it verbatim.
 * @p headers: NULL or a NULL-terminated list of "Name: value".
 * @p body/@p len: request body for PUT and POST (may be NULL/0).
 * @p resp: NULL, or filled (release with it_s3_resp_free).
 * Returns the HTTP status, 0 if the server could not be reached.
 */
long it_s3_request(const char *method, const char *bucket, const char *key,
		   const char *query, const char *const *headers,
		   const void *body, size_t len, struct it_s3_resp *resp);

/** PUT bucket. HTTP status. */
long it_s3_create_bucket(const char *bucket);

/** PUT object; @p etag_out (NULL or IT_ETAG_MAX bytes) gets its ETag. */
long it_s3_put(const char *bucket, const char *key, const void *data,
	       size_t len, char *etag_out);

/**
 * PUT object with one extra raw header, e.g. "If-Match: abc" or
 * "If-None-Match: *". Note: RGW 16.2 matches PUT If-Match only against the
 * unquoted ETag (use it_etag_unquote).
 */
long it_s3_put_cond(const char *bucket, const char *key, const void *data,
		    size_t len, const char *cond_header, char *etag_out);

/** PUT object with extra headers (NULL-terminated), e.g. x-amz-meta-*. */
long it_s3_put_hdrs(const char *bucket, const char *key, const void *data,
		    size_t len, const char *const *headers, char *etag_out);

/**
 * GET object. On 200, *data (malloc'd, NUL-terminated, caller frees) and
 * *len; otherwise *data is NULL. @p etag_out: NULL or IT_ETAG_MAX bytes.
 */
long it_s3_get(const char *bucket, const char *key, void **data, size_t *len,
	       char *etag_out);

/**
 * HEAD object: @p size, @p etag_out (each may be NULL) and, when
 * @p meta_name is given (e.g. "x-amz-meta-mode"), that header's value into
 * @p meta_val ("" when absent).
 */
long it_s3_head(const char *bucket, const char *key, long long *size,
		char *etag_out, const char *meta_name, char *meta_val,
		size_t meta_len);

/** DELETE object. HTTP status (204 also for a missing key). */
long it_s3_delete(const char *bucket, const char *key);

/**
 * Every key under @p prefix (NULL or "" for all), sorted as S3 lists them,
 * following continuation tokens. NULL-terminated, count in @p n (may be
 * NULL); free with it_strv_free. NULL if a request failed.
 */
char **it_s3_list(const char *bucket, const char *prefix, size_t *n);

/**
 * Keys of the multipart uploads in progress in @p bucket (one entry per
 * upload), for leak checks. Same conventions as it_s3_list.
 */
char **it_s3_list_multipart_uploads(const char *bucket, size_t *n);

/**
 * Parts stored so far by the multipart upload of @p key in progress in
 * @p bucket (the first one listed), or -1 when there is none or a request
 * failed. @p key: no '&' or '%'.
 */
int it_s3_upload_parts(const char *bucket, const char *key);

/**
 * Wait (20 s at most) until the upload of @p key in progress has at least
 * @p parts parts stored, as a stream behind a writer stores them while
 * the file is still open; fails the test otherwise. The count.
 */
int it_s3_wait_upload_parts(const char *bucket, const char *key, int parts);

void it_strv_free(char **v);

/** Create a new, empty bucket "it-<pid>-<tag>-<n>" (fails the test else). */
void it_fresh_bucket(char out[64]);

/** Copy @p etag without surrounding quotes into @p out (IT_ETAG_MAX). */
void it_etag_unquote(const char *etag, char *out);

/* ------------------------------------------------------------ mounting */

struct it_mount_rec;

/** A mount made by it_mount; the struct may live on the test's stack. */
struct it_mount {
	char dir[PATH_MAX];	  /**< the mountpoint */
	char log[PATH_MAX];	  /**< etagfs's stderr and stdout (kept) */
	char passwd[PATH_MAX];	  /**< the credentials file used */
	pid_t pid;		  /**< etagfs (-f) */
	struct it_mount_rec *rec; /**< the harness's own record (cleanup) */
};

/**
 * Mount @p bucket_spec ("bucket" or "bucket:/prefix") with
 * "$ETAGFS_BIN SPEC DIR -f -d -o endpoint=..,region=..,passwd_file=..[,extra]"
 * on a new mountpoint in the scratch dir, and wait (10 s at most) until
 * the kernel shows the mount. Fails the test, with the end of etagfs's log,
 * if etagfs exits or the mount does not appear. @p extra_opts: NULL or
 * more -o options ("attr_ttl=0,dir_ttl=0").
 * Every mount runs at the highest debug level (-d: libfuse's request
 * trace, each S3 request with its headers) and its log (m->log) stays in
 * it_kept_log_dir() after the unmount, for it_secrets_scan: a test that
 * looks for a line in it must expect the debug lines around it.
 */
void it_mount(struct it_mount *m, const char *bucket_spec,
	      const char *extra_opts);

/**
 * Unmount and reap etagfs. 0 if the unmount worked without force and
 * etagfs then exited with status 0 within 20 s and printed no sanitizer
 * report; -1 otherwise (the reason is logged). The mount is gone in both
 * cases.
 */
int it_unmount(struct it_mount *m);

/**
 * "@p m->dir/@p rel" in one of 16 rotating static buffers: valid until 16
 * more calls. @p rel NULL or "" gives the mountpoint itself.
 */
const char *it_path(const struct it_mount *m, const char *rel);

/** The last @p lines lines of etagfs's log of @p m go to the test log. */
void it_mount_log_tail(const struct it_mount *m, int lines);

/** True if @p dir is a mountpoint now (per /proc/self/mountinfo). */
bool it_is_mounted(const char *dir);

/** A new empty directory in the scratch dir (static buffer, 16 rotate). */
const char *it_mkdtemp(const char *tag);

/**
 * Write "ACCESS:SECRET\n" to @p path with @p mode (e.g. 0600); NULL
 * access/secret use the test user's. Fails the test on error.
 */
void it_write_passwd(const char *path, mode_t mode, const char *access,
		     const char *secret);

/** What a short-lived etagfs invocation did. */
struct it_run_result {
	int exit_code;	   /**< exit status; -1 if killed or timed out */
	bool timed_out;	   /**< killed after the timeout */
	long elapsed_ms;
	char out[8192];	   /**< stdout, NUL-terminated, truncated */
	char err[8192];	   /**< stderr, NUL-terminated, truncated */
};

/**
 * Run "$ETAGFS_BIN args..." (args NULL-terminated, without the program),
 * capture stdout and stderr, wait at most @p timeout_s seconds (then
 * SIGKILL). For bad-input and --help tests. Does not fail the test.
 * Not at -d (that would change the output under test); the captures are
 * kept in it_kept_log_dir() all the same.
 */
void it_run_mount_cmd(const char *const *args, int timeout_s,
		      struct it_run_result *r);

/* --------------------------------------------------------------- files */

/**
 * open(O_WRONLY|O_CREAT|O_TRUNC, 0644) + write all + close. 0, or the
 * errno of the first call that failed; the close() errno is what matters
 * for etagfs (write-back happens there).
 */
int it_write_file(const char *path, const void *data, size_t len);

/**
 * Sorted names in directory @p path, without "." and "..": NULL-terminated,
 * count in @p n_out; free with it_strv_free. Fails the test on error.
 */
char **it_list_dir(const char *path, size_t *n_out);

/** Read a whole file (malloc'd, NUL-terminated, caller frees). 0/errno. */
int it_read_file(const char *path, void **data, size_t *len);
/** One counter of mount @p m's user.etagfs.stats ("head", "get",
 * "bodyahead_used", ...); fails the test when it is missing. */
unsigned long long it_mount_stat(const struct it_mount *m, const char *what);

/** How often the log of mount @p m (it may be unmounted) contains
 * @p needle; and whether it does at all. */
size_t it_log_count(const struct it_mount *m, const char *needle);
bool it_log_contains(const struct it_mount *m, const char *needle);

/* ---------------------------------------------- kept logs and secrets */

/** The session token it_security's mounts send: no log may show it. */
#define IT_FAKE_SESSION_TOKEN "FakeSessionToken-etagfsIT-7f3c9a1e5b2d4c6e8a0f"
/** A wrong secret key it_mount tries: no log may show it either. */
#define IT_WRONG_SECRET_KEY "wrongSecretKey000000000000000000"

/**
 * The directory that keeps every etagfs log of the run for
 * it_secrets_scan, made on first use: $ETAGFS_IT_LOG_DIR (make check sets
 * it), else "logs" in the scratch dir (gone at exit).
 */
const char *it_kept_log_dir(void);

/** "DIR/PROGRAM-PID-@p name" (DIR: it_kept_log_dir()) in @p out. */
void it_kept_log_path(char *out, size_t len, const char *name);

/**
 * A whole file as a string (malloc'd, caller frees), its NULs made '?'
 * so that string searches see all of it; its length in *@p len (may be
 * NULL). Fails the test if it cannot be read.
 */
char *it_read_text(const char *path, size_t *len);

/**
 * Log each line of @p text (named @p name) that shows a secret, with the
 * line number and the secret masked: the test user's secret key,
 * IT_FAKE_SESSION_TOKEN, IT_WRONG_SECRET_KEY (each also in hex and
 * base64, at any alignment), the SigV4 keys derived from the secret key
 * for today and yesterday (UTC, in hex), or any piece of an
 * Authorization value or header ("Signature=", "Credential=",
 * "SignedHeaders=", "AWS4-HMAC-SHA256 ", "Authorization:",
 * "x-amz-security-token:", in any case). Returns the number of such
 * lines. Meaningful only where the log traces requests with headers.
 */
size_t it_secrets_report(const char *text, const char *name);

/** Fail the test if it_secrets_report() finds anything in @p text. */
void it_assert_no_secrets(const char *text, const char *name);

/** @p n deterministic pseudo-random bytes from @p seed (xorshift64*). */
void it_random_bytes(void *buf, size_t n, uint64_t seed);

/** Monotonic milliseconds. */
long it_now_ms(void);

#endif
