/*
 * Paths and keys. S3 keys are arbitrary bytes; only those that map to a
 * valid POSIX name are shown, the rest are skipped (never crash, never
 * shorten or rename them, which could make two keys collide).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/path.h"

const char *fs_path_rel(const char *fuse_path)
{
	while (*fuse_path == '/')
		fuse_path++;
	return fuse_path;
}

char *fs_path_key(const char *prefix, const char *rel, bool dir)
{
	size_t plen = strlen(prefix), rlen = strlen(rel);
	bool slash = dir && rlen > 0;
	char *key = malloc(plen + rlen + 2);

	if (key == NULL)
		return NULL;
	memcpy(key, prefix, plen);
	memcpy(key + plen, rel, rlen);
	if (slash)
		key[plen + rlen++] = '/';
	key[plen + rlen] = '\0';
	return key;
}

int fs_path_split(const char *rel, char **parent_take, const char **name)
{
	const char *slash = strrchr(rel, '/');

	*parent_take = slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
	if (*parent_take == NULL)
		return -ENOMEM;
	*name = slash ? slash + 1 : rel;
	return 0;
}

char *fs_path_join(const char *parent_rel, const char *name)
{
	size_t plen = strlen(parent_rel), nlen = strlen(name);
	char *out = malloc(plen + nlen + 2);
	size_t at = 0;

	if (out == NULL)
		return NULL;
	if (plen > 0) {
		memcpy(out, parent_rel, plen);
		out[plen] = '/';
		at = plen + 1;
	}
	memcpy(out + at, name, nlen + 1);
	return out;
}

bool fs_path_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if (len == 1 && name[0] == '.')
		return false;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return false;
	return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

enum fs_listing_kind fs_path_classify(const char *list_prefix,
				      const char *key, bool common_prefix,
				      const char **name, size_t *name_len)
{
	size_t plen = strlen(list_prefix);
	const char *rest;
	size_t rlen;

	if (strncmp(key, list_prefix, plen) != 0)
		return FS_LISTED_INVALID;
	rest = key + plen;
	rlen = strlen(rest);
	if (!common_prefix && rlen == 0)
		return FS_LISTED_SELF;
	if (common_prefix) {
		/* "name/" with a delimiter of "/": exactly one trailing '/'. */
		if (rlen == 0 || rest[rlen - 1] != '/')
			return FS_LISTED_INVALID;
		rlen--;
	}
	if (!fs_path_name_valid(rest, rlen))
		return FS_LISTED_INVALID;
	*name = rest;
	*name_len = rlen;
	return common_prefix ? FS_LISTED_DIR : FS_LISTED_FILE;
}
