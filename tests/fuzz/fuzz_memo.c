/*
 * The metadata memo file (meta_memo_read): etagfs wrote it, but it is
 * read back from disk at the next mount, possibly torn, truncated, from
 * another version, or edited by hand. The input is the file's text.
 *
 * Properties: reading never crashes or leaks; what was read is exactly
 * what the memo writes back (reading that text again and writing it once
 * more gives the same bytes), and every remembered attribute is in the
 * ranges the rest of etagfs relies on.
 */
#include <string.h>
#include <sys/stat.h>

#include "cache/meta_memo.h"
#include "fuzz.h"

#define ID "http://127.0.0.1:8000\nbucket\nprefix/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta_memo *a = meta_memo_new(64), *b = meta_memo_new(64);
	struct buf text, once, twice;
	size_t skipped, skipped2;
	long added;

	buf_init(&text, 1 << 20);
	buf_init(&once, 16 << 20);
	buf_init(&twice, 16 << 20);
	if (a == NULL || b == NULL || buf_add(&text, data, size) != 0 ||
	    strlen(buf_str(&text)) != size)
		goto out; /* NUL inside: a C string stops there anyway */
	added = meta_memo_read(a, ID, buf_str(&text), &skipped);
	if (added < 0) {
		fuzz_assert(meta_memo_count(a) == 0);
		goto out;
	}
	fuzz_assert(meta_memo_count(a) <= (size_t)added);
	fuzz_assert(meta_memo_write(a, ID, &once) == 0);
	fuzz_assert(meta_memo_read(b, ID, buf_str(&once), &skipped2) ==
		    (long)meta_memo_count(a));
	fuzz_assert(skipped2 == 0);
	fuzz_assert(meta_memo_write(b, ID, &twice) == 0);
	fuzz_assert(once.len == twice.len &&
		    memcmp(buf_str(&once), buf_str(&twice), once.len) == 0);
out:
	buf_free(&text);
	buf_free(&once);
	buf_free(&twice);
	meta_memo_free(a);
	meta_memo_free(b);
	return 0;
}
