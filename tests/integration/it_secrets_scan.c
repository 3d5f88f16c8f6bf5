/*
 * The suite's last integration test program (Makefile.am runs it after
 * every other one): no etagfs log of the whole run shows a secret.
 *
 * Every etagfs the harness started ran at its highest debug level (-d:
 * libfuse's request trace, every S3 request with its headers) and kept
 * its log in it_kept_log_dir(), as did the short-lived runs of
 * it_run_mount_cmd (their stdout and stderr). None of them may contain
 * the test user's secret key, a session token or wrong secret a test
 * used, or any piece of an Authorization value (see harness.h).
 *
 * The search means something only if those logs trace requests with
 * their headers, so the test also demands that every mount log is at
 * debug level, that every test program of the run before this one
 * (ETAGFS_IT_BEFORE_SCAN, set by Makefile.am, also under scripts/test
 * --only) left one, and that they trace (and redact) many Authorization
 * headers: an empty or quiet log dir fails instead of passing.
 */
#include "harness.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Without ETAGFS_IT_BEFORE_SCAN (run by hand): this many debug logs. */
#define DEBUG_LOGS_MIN 20
/* Traced Authorization headers per test program, at least. */
#define TRACED_AUTH_PER_PROGRAM 10

/*
 * Occurrences of @needle in the @len bytes at @text. memchr() and
 * memcmp() read no further than they must; a strstr() loop would, under
 * ASan, check the whole rest of a multi-MiB log at every hit (the scan
 * took 58 s instead of under 1).
 */
static size_t count(const char *text, size_t len, const char *needle)
{
	const char *end = text + len, *p = text;
	size_t n = 0, needle_len = strlen(needle);

	while ((p = memchr(p, needle[0], (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= needle_len &&
		    memcmp(p, needle, needle_len) == 0)
			n++;
		p++;
	}
	return n;
}

/* Mount logs end in ".log"; it_run_mount_cmd's captures do not. */
static bool is_mount_log(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".log") == 0;
}

/* Some debug-level mount log among @names comes from @program. */
static bool program_left_debug_log(char **names, const bool *debug,
				   const char *program)
{
	size_t n = strlen(program);

	for (size_t i = 0; names[i]; i++)
		if (debug[i] && strncmp(names[i], program, n) == 0 &&
		    names[i][n] == '-')
			return true;
	return false;
}


/* @p len bytes of @p in as lower-case hex into @p out. */
static void to_hex(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* The SigV4 signing key of the secret key for today (UTC), in hex: an
 * oracle written apart from the scanner's own derivation. */
static void signing_key_hex(char out[65])
{
	const char *steps[3] = {it_env.region[0] ? it_env.region : "us-east-1",
				"s3", "aws4_request"};
	unsigned char k[32];
	unsigned int n = sizeof(k);
	char key0[160], day[16];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	IT_SNPRINTF(key0, "AWS4%s", it_env.secret_key);
	IT_ASSERT(HMAC(EVP_sha256(), key0, (int)strlen(key0),
		       (unsigned char *)day, strlen(day), k, &n) != NULL);
	for (int i = 0; i < 3; i++)
		IT_ASSERT(HMAC(EVP_sha256(), k, sizeof(k),
			       (const unsigned char *)steps[i], strlen(steps[i]),
			       k, &n) != NULL);
	to_hex(k, sizeof(k), out);
}

/*
 * The scanner is only as good as its needles: each encoded form of the
 * secret key a careless log line could carry is found, once, and a line
 * that merely looks alike is not.
 */
IT_TEST(test_scanner_finds_encoded_leaks)
{
	const char *secret = it_env.secret_key;
	size_t len = strlen(secret);
	unsigned char blob[256];
	char line[1024], enc[512];

	IT_ASSERT(len >= 16 && len < 100);
	/* hex, lower and upper case */
	to_hex((const unsigned char *)secret, len, enc);
	IT_SNPRINTF(line, "debug: key=%s\n", enc);
	IT_ASSERT_EQ_INT(it_secrets_report(line, "hex"), 1);
	for (char *c = enc; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	IT_SNPRINTF(line, "debug: key=%s\n", enc);
	IT_ASSERT_EQ_INT(it_secrets_report(line, "HEX"), 1);
	/* base64 of a blob holding the key at each alignment */
	for (size_t pad = 0; pad < 4; pad++) {
		memset(blob, 'x', pad);
		memcpy(blob + pad, secret, len);
		memcpy(blob + pad + len, "tail", 4);
		EVP_EncodeBlock((unsigned char *)enc, blob, (int)(pad + len + 4));
		IT_SNPRINTF(line, "debug: blob %s end\n", enc);
		IT_ASSERT_MSG(it_secrets_report(line, "base64") == 1,
			      "base64 of the key after %zu bytes not found",
			      pad);
	}
	/* today's signing key */
	signing_key_hex(enc);
	IT_SNPRINTF(line, "debug: kSigning %s\n", enc);
	IT_ASSERT_EQ_INT(it_secrets_report(line, "signing key"), 1);
	/* Alike, not the same: the hex of the key with one digit changed,
	 * the base64 of 30 other bytes. */
	to_hex((const unsigned char *)secret, len, enc);
	enc[len] = enc[len] == '0' ? '1' : '0';
	IT_SNPRINTF(line, "debug: key=%s and "
			  "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh=\n",
		    enc);
	IT_ASSERT_EQ_INT(it_secrets_report(line, "alike"), 0);
}

IT_TEST(test_no_secret_in_any_mount_log)
{
	const char *before = getenv("ETAGFS_IT_BEFORE_SCAN");
	const char *dir;
	size_t n_files = 0, debug_logs = 0, traced_auth = 0, traced_token = 0;
	size_t lines = 0, leaks = 0, programs = 0, i;
	unsigned long long bytes = 0;
	bool security_ran = false;
	char **names;
	bool *debug;

	/* Without it, every program kept its logs in its own scratch dir. */
	IT_ASSERT_MSG(getenv("ETAGFS_IT_LOG_DIR"),
		      "ETAGFS_IT_LOG_DIR is not set: run the suite through "
		      "make check, or set it for every test program");
	dir = it_kept_log_dir();
	names = it_list_dir(dir, &n_files);
	debug = calloc(n_files + 1, sizeof(*debug));

	IT_ASSERT(debug != NULL);
	for (i = 0; i < n_files; i++) {
		char path[PATH_MAX];
		size_t len = 0;
		char *text;

		IT_SNPRINTF(path, "%s/%s", dir, names[i]);
		text = it_read_text(path, &len);
		bytes += len;
		lines += count(text, len, "\n");
		debug[i] = strstr(text, "etagfs: debug: ") != NULL;
		debug_logs += debug[i];
		/* http_curl.c's trace_line() redacts these two headers. */
		traced_auth +=
			count(text, len, "curl > Authorization <redacted>");
		traced_token += count(text, len,
				      "curl > x-amz-security-token <redacted>");
		security_ran |= strncmp(names[i], "it_security-", 12) == 0;
		leaks += it_secrets_report(text, path);
		IT_ASSERT_MSG(debug[i] || !is_mount_log(names[i]),
			      "%s has no debug line: that mount did not run "
			      "at -d", path);
		free(text);
	}
	it_log("%zu logs in %s (%zu at debug level), %.1f MiB, %zu lines; "
	       "%zu traced Authorization and %zu session token headers",
	       n_files, dir, debug_logs, (double)bytes / (1 << 20), lines,
	       traced_auth, traced_token);
	IT_ASSERT_MSG(leaks == 0, "%zu log lines show a secret (see above)",
		      leaks);
	if (before && *before) {
		char *list = strdup(before), *save = NULL, *prog;

		IT_ASSERT(list != NULL);
		for (prog = strtok_r(list, " \t", &save); prog;
		     prog = strtok_r(NULL, " \t", &save)) {
			const char *base = strrchr(prog, '/');

			base = base ? base + 1 : prog;
			programs++;
			IT_ASSERT_MSG(program_left_debug_log(names, debug, base),
				      "%s ran before this test, yet no "
				      "debug-level mount log of it is in %s",
				      base, dir);
		}
		free(list);
	} else {
		programs = 1;
		IT_ASSERT_MSG(debug_logs >= DEBUG_LOGS_MIN,
			      "only %zu debug-level etagfs logs in %s, want "
			      "at least %d: did the integration suite run "
			      "before this test?",
			      debug_logs, dir, DEBUG_LOGS_MIN);
	}
	IT_ASSERT_MSG(traced_auth >= TRACED_AUTH_PER_PROGRAM * programs,
		      "only %zu traced Authorization headers, want at least "
		      "%zu: the logs do not trace requests, so the search "
		      "proves nothing",
		      traced_auth, TRACED_AUTH_PER_PROGRAM * programs);
	/* it_security mounts with a session token in the environment. */
	IT_ASSERT_MSG(!security_ran || traced_token > 0,
		      "it_security ran, yet no session token header is "
		      "traced: the token search proves nothing");
	it_strv_free(names);
	free(debug);
}
