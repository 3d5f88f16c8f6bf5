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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static size_t secrets(struct secret *out)
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
	size_t n = 0, i;

	if (it_env.secret_key[0])
		out[n++] = (struct secret){it_env.secret_key,
					   "the secret key", true};
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		out[n++] = fixed[i];
	return n;
}

#define N_SECRETS_MAX 16

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
