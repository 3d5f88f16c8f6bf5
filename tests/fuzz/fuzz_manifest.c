/*
 * Staging manifests (fs_manifest_parse): text that etagfs wrote itself,
 * but read back after a crash, so possibly torn, truncated, from another
 * version, or edited by hand; recovery must never trust more than it
 * parsed. The input is the file's text (what read_text() hands over: a
 * NUL-terminated copy, parsed in place).
 *
 * Properties (staging.h): 0 only for a complete manifest, with every
 * required string present and the size known; -EINVAL otherwise, with
 * nothing left to free; tokens are either absent or exactly 32 bytes;
 * an mtime has its nanoseconds in range. Parsing leaks nothing (also
 * when a field is repeated).
 */
#include <errno.h>
#include <string.h>

#include "fs/staging.h"
#include "fuzz.h"

/*
 * True when @p text repeats a string field ("owner o\nowner p"): such a
 * manifest is refused (it once leaked the first value: reproducer
 * tests/fuzz/crashes/fuzz_manifest-1).
 */
static bool repeats_string_field(const char *text)
{
	static const char *const fields[] = {"owner ", "endpoint ", "bucket ",
					     "key ", "base ", NULL};

	for (const char *const *f = fields; *f; f++) {
		size_t n = strlen(*f);
		int seen = 0;

		for (const char *l = text; l; l = strchr(l, '\n')) {
			if (*l == '\n')
				l++;
			if (strncmp(l, *f, n) == 0 && ++seen > 1)
				return true;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_manifest m;
	char *text = malloc(size + 1);
	bool repeated;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	repeated = repeats_string_field(text);
	rc = fs_manifest_parse(text, &m);
	fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	fuzz_assert(!repeated || rc != 0);
	if (rc == 0) {
		fuzz_assert(m.owner && m.endpoint && m.bucket && m.key &&
			    m.base);
		fuzz_assert(m.size_known);
		fuzz_assert(m.meta.token[0] == '\0' ||
			    strlen(m.meta.token) == 32);
		fuzz_assert(m.meta.parent[0] == '\0' ||
			    strlen(m.meta.parent) == 32);
		if (m.meta.has_mtime)
			fuzz_assert(m.meta.mtime.tv_nsec >= 0 &&
				    m.meta.mtime.tv_nsec < 1000000000L);
		fs_manifest_free(&m);
	} else {
		fuzz_assert(!m.owner && !m.endpoint && !m.bucket && !m.key &&
			    !m.base);
	}
	free(text);
	return 0;
}
