/*
 * Mount logs kept for the whole run, and the search for secrets in them.
 *
 * Every etagfs the harness starts runs at its highest debug level (-d:
 * libfuse's request trace, every S3 request with its headers) and writes
 * a log of its own into one directory that outlives the test program, so
 * the suite's last program (it_secrets_scan) can search what every mount
 * of the run wrote. Contracts in harness.h.
 *
 * Concurrency: tests run on the main thread only; nothing here is shared.
 */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ------------------------------------------------------------ kept logs */

static char kept_dir[PATH_MAX];

/* mkdir -p @path (mode 0755); test programs run in parallel, so any
 * level may exist already. */
static void make_dirs(const char *path)
{
	char dir[PATH_MAX];

	IT_SNPRINTF(dir, "%s", path);
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			IT_FAIL("mkdir %s: %s", dir, strerror(errno));
		if (last)
			break;
		*p = '/';
	}
}

const char *it_kept_log_dir(void)
{
	const char *dir = getenv("ETAGFS_IT_LOG_DIR");

	if (kept_dir[0])
		return kept_dir;
	/* Makefile.am names one under the suite's RGW state dir: rgw.sh
	 * start empties it for each run, rgw-stop.test keeps it when an
	 * integration test failed. Not ETAGFS_RGW_DIR itself: it_restart
	 * points that at an RGW of its own. */
	if (dir && *dir)
		IT_SNPRINTF(kept_dir, "%s", dir);
	else
		IT_SNPRINTF(kept_dir, "%s/logs", it_env.tmp_root);
	make_dirs(kept_dir);
	return kept_dir;
}

void it_kept_log_path(char *out, size_t len, const char *name)
{
	int n = snprintf(out, len, "%s/%s-%d-%s", it_kept_log_dir(),
			 program_invocation_short_name, (int)getpid(), name);

	if (n < 0 || (size_t)n >= len)
		IT_FAIL("log path for %s: does not fit in %zu bytes", name,
			len);
}

char *it_read_text(const char *path, size_t *len)
{
	void *data = NULL;
	size_t n = 0, i;
	int rc;

	rc = it_read_file(path, &data, &n);
	IT_ASSERT_MSG(rc == 0, "reading %s: %s", path, strerror(rc));
	/* A NUL would end every string search early. */
	for (i = 0; i < n; i++)
		if (((char *)data)[i] == '\0')
			((char *)data)[i] = '?';
	if (len)
		*len = n;
	return data;
}

/* -------------------------------------------------------------- secrets */

/*
 * What no log may contain. A value is a secret itself and is masked
 * where it stands; a marker introduces one (a piece of an Authorization
 * value, a header sent in clear), so the rest of its line is masked.
 */
struct secret {
	const char *needle;
	const char *what;
	bool value;
};

#define N_SECRETS_MAX 48
/* Longest encoded form: hex of a 127-byte value. */
#define FORM_MAX 256

/* Storage of the encoded forms secrets() hands out (tests run on the
 * main thread only). */
static char forms[N_SECRETS_MAX][FORM_MAX];
static size_t n_forms;

static char *new_form(void)
{
	IT_ASSERT(n_forms < N_SECRETS_MAX);
	return forms[n_forms++];
}

static void hex_form(const unsigned char *in, size_t len, bool upper,
		     char *out)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *digits = upper ? up : lo;

	IT_ASSERT(2 * len < FORM_MAX);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * The forms of @p value a careless log line could carry besides itself:
 * hex in either case, and base64 at each of the three alignments the
 * value can have inside a larger encoded blob (from its first byte on a
 * 3-byte boundary, without the last 4 characters, which depend on what
 * follows it).
 */
static size_t add_encoded(const char *value, const char *what,
			  struct secret *out)
{
	size_t len = strlen(value), n = 0;

	for (int upper = 0; upper < 2; upper++) {
		char *f = new_form();

		hex_form((const unsigned char *)value, len, upper, f);
		out[n++] = (struct secret){f, what, true};
	}
	for (size_t skip = 0; skip < 3 && len - skip >= 12; skip++) {
		char *f = new_form();
		int k;

		IT_ASSERT(4 * ((len - skip + 2) / 3) < FORM_MAX);
		k = EVP_EncodeBlock((unsigned char *)f,
				    (const unsigned char *)value + skip,
				    (int)(len - skip));
		IT_ASSERT(k > 4);
		f[k - 4] = '\0';
		out[n++] = (struct secret){f, what, true};
	}
	return n;
}

/* HMAC-SHA256(@p key, @p data) into @p out (32 bytes). */
static void hmac(const void *key, size_t key_len, const char *data,
		 unsigned char out[32])
{
	unsigned int n = 32;

	IT_ASSERT(HMAC(EVP_sha256(), key, (int)key_len,
		       (const unsigned char *)data, strlen(data), out,
		       &n) != NULL);
}

/*
 * The SigV4 keys derived from @p secret for the UTC day @p t falls on,
 * as hex: kDate, kRegion, kService, kSigning. Each signs requests in
 * the secret's stead for that day, so each is a secret too.
 */
static size_t add_derived(const char *secret, time_t t, struct secret *out)
{
	static const char *const what[] = {
		"a SigV4 date key", "a SigV4 region key",
		"a SigV4 service key", "a SigV4 signing key",
	};
	const char *steps[4];
	unsigned char k[32];
	char key0[160], day[16];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	steps[0] = day;
	steps[1] = it_env.region[0] ? it_env.region : "us-east-1";
	steps[2] = "s3";
	steps[3] = "aws4_request";
	IT_SNPRINTF(key0, "AWS4%s", secret);
	hmac(key0, strlen(key0), steps[0], k);
	for (int i = 0; i < 4; i++) {
		char *f = new_form();

		if (i > 0)
			hmac(k, sizeof(k), steps[i], k);
		hex_form(k, sizeof(k), false, f);
		out[i] = (struct secret){f, what[i], true};
	}
	return 4;
}

/* Every needle, built into @p out. */
static size_t build_secrets(struct secret *out)
{
	static const struct secret fixed[] = {
		{IT_FAKE_SESSION_TOKEN, "the session token", true},
		{IT_WRONG_SECRET_KEY, "a wrong secret key", true},
		{"Signature=", "a piece of an Authorization value", false},
		{"Credential=", "a piece of an Authorization value", false},
		{"SignedHeaders=", "a piece of an Authorization value", false},
		{"AWS4-HMAC-SHA256 ", "a piece of an Authorization value",
		 false},
		{"Authorization:", "an Authorization header", false},
		{"x-amz-security-token:", "a session token header", false},
	};
	time_t now = time(NULL);
	size_t n = 0, i;

	if (it_env.secret_key[0]) {
		out[n++] = (struct secret){it_env.secret_key,
					   "the secret key", true};
		n += add_encoded(it_env.secret_key, "the secret key, encoded",
				 out + n);
		/* The run may span midnight (UTC). */
		n += add_derived(it_env.secret_key, now, out + n);
		n += add_derived(it_env.secret_key, now - 86400, out + n);
	}
	n += add_encoded(IT_FAKE_SESSION_TOKEN, "the session token, encoded",
			 out + n);
	n += add_encoded(IT_WRONG_SECRET_KEY, "a wrong secret key, encoded",
			 out + n);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		out[n++] = fixed[i];
	IT_ASSERT(n <= N_SECRETS_MAX);
	return n;
}

/* The needles, built on first use (the forms are kept for the run). */
static size_t secrets(struct secret *out)
{
	static struct secret built[N_SECRETS_MAX];
	static size_t n_built;

	if (n_built == 0)
		n_built = build_secrets(built);
	memcpy(out, built, n_built * sizeof(*out));
	return n_built;
}

/* Values are matched exactly; markers in any case, as HTTP spells them. */
static const char *find(const char *text, const struct secret *s)
{
	return s->value ? strstr(text, s->needle) : strcasestr(text, s->needle);
}

/* Mask every secret of the NUL-terminated @line in place. */
static void mask_line(char *line)
{
	struct secret s[N_SECRETS_MAX];
	size_t n = secrets(s), i;
	char *p, *hit;

	for (i = 0; i < n; i++)
		for (p = line; (hit = (char *)find(p, &s[i])) != NULL;) {
			size_t skip = s[i].value ? 0 : strlen(s[i].needle);
			size_t masked = s[i].value ? strlen(s[i].needle) :
						     strlen(hit + skip);

			memset(hit + skip, '*', masked);
			p = hit + skip + masked;
		}
}

/* More offending lines of one log are counted, not shown. */
#define SHOWN_MAX 20

size_t it_secrets_report(const char *text, const char *name)
{
	struct secret s[N_SECRETS_MAX];
	const char *next[N_SECRETS_MAX];
	const char *p = text, *counted = text;
	size_t n = secrets(s), found = 0, line_no = 1, i;

	/* Each needle's next hit at or after p: a leak on every line costs
	 * one pass per needle, not one per hit. */
	for (i = 0; i < n; i++)
		next[i] = find(text, &s[i]);
	for (;;) {
		const char *hit = NULL, *what = NULL, *start, *end;
		char *line;

		for (i = 0; i < n; i++)
			if (next[i] && (!hit || next[i] < hit)) {
				hit = next[i];
				what = s[i].what;
			}
		if (!hit)
			break;
		start = hit;
		while (start > p && start[-1] != '\n')
			start--;
		for (; counted < start; counted++)
			line_no += *counted == '\n';
		end = strchr(hit, '\n');
		if (!end)
			end = start + strlen(start);
		if (++found <= SHOWN_MAX) {
			/* Masked whole, then cut: a cut first could leave
			 * the head of a secret unmasked. */
			line = strndup(start, (size_t)(end - start));
			IT_ASSERT(line != NULL);
			mask_line(line);
			it_log("%s:%zu: %s (masked): %.400s", name, line_no,
			       what, line);
			free(line);
		}
		if (!*end)
			break;
		p = end + 1;
		for (i = 0; i < n; i++)
			if (next[i] && next[i] < p)
				next[i] = find(p, &s[i]);
	}
	if (found > SHOWN_MAX)
		it_log("%s: %zu more such lines", name, found - SHOWN_MAX);
	return found;
}

void it_assert_no_secrets(const char *text, const char *name)
{
	size_t n = it_secrets_report(text, name);

	IT_ASSERT_MSG(n == 0, "%zu lines of %s show a secret (see above)", n,
		      name);
}
