/*
 * Names from listings (fs_path_classify, fs_path_name_valid): keys and
 * common prefixes are arbitrary bytes chosen by whoever wrote the
 * objects; only those that are valid POSIX names may reach readdir.
 * Also the FUSE path helpers (fs_path_rel, fs_path_key, fs_path_split,
 * fs_path_join) on paths as the kernel passes them.
 *
 * Input: flags byte, then list_prefix \0 key.
 */
#include <string.h>

#include "fs/path.h"
#include "fuzz.h"

static void check_classify(const char *prefix, const char *key, bool cp)
{
	const char *name = NULL;
	size_t len = 0;
	size_t plen = strlen(prefix);
	enum fs_listing_kind k = fs_path_classify(prefix, key, cp, &name,
						  &len);

	switch (k) {
	case FS_LISTED_SELF:
		fuzz_assert(!cp && strcmp(key, prefix) == 0);
		break;
	case FS_LISTED_FILE:
	case FS_LISTED_DIR:
		fuzz_assert((k == FS_LISTED_DIR) == cp);
		fuzz_assert(strncmp(key, prefix, plen) == 0);
		fuzz_assert(name == key + plen);
		fuzz_assert(fs_path_name_valid(name, len));
		fuzz_assert(len >= 1 && len <= 255);
		fuzz_assert(!memchr(name, '/', len));
		fuzz_assert(!(len == 1 && name[0] == '.'));
		fuzz_assert(!(len == 2 && name[0] == '.' && name[1] == '.'));
		/* A file is the rest of the key; a directory the rest
		 * less exactly one '/'. */
		fuzz_assert(strlen(name) == len + (cp ? 1 : 0));
		if (cp)
			fuzz_assert(name[len] == '/');
		break;
	case FS_LISTED_INVALID:
		break;
	default:
		fuzz_assert(!"unknown listing kind");
	}
}

static void check_paths(const char *fuse_path, const char *prefix, bool dir)
{
	const char *rel = fs_path_rel(fuse_path);
	const char *name = NULL;
	char *parent = NULL, *joined = NULL, *key = NULL;
	size_t plen = strlen(prefix), rlen = strlen(rel);

	fuzz_assert(rel[0] != '/');
	fuzz_assert(strlen(fuse_path) - rlen == (size_t)(rel - fuse_path));

	key = fs_path_key(prefix, rel, dir);
	if (key) {
		size_t want = plen + rlen + (dir && rlen ? 1 : 0);

		fuzz_assert(strlen(key) == want);
		fuzz_assert(memcmp(key, prefix, plen) == 0);
		fuzz_assert(memcmp(key + plen, rel, rlen) == 0);
		if (dir && rlen)
			fuzz_assert(key[want - 1] == '/');
	}
	if (fs_path_split(rel, &parent, &name) == 0) {
		fuzz_assert(!strchr(name, '/'));
		joined = fs_path_join(parent, name);
		/* rel has no leading '/', so split and join are inverse. */
		if (joined)
			fuzz_assert(strcmp(joined, rel) == 0);
	}
	free(key);
	free(parent);
	free(joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_pieces p;
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = data[0];
	if (fuzz_split(data + 1, size - 1, "", 1, 2, false, &p))
		return 0;
	if (p.n == 2) {
		check_classify(p.s[0], p.s[1], flags & 1);
		check_paths(p.s[1], p.s[0], flags & 2);
	} else {
		check_classify("", p.s[0], flags & 1);
		check_paths(p.s[0], "", flags & 2);
	}
	(void)fs_path_name_valid(p.s[0], p.len[0]);
	fuzz_pieces_free(&p);
	return 0;
}
