/*
 * x-amz-meta-* pairs (s3_meta_from_kv): any object's metadata was written
 * by whoever wrote the object, s3fs or anyone else. The input is
 * name\0value\0name\0value...
 *
 * Property: what etagfs reads back must be what it would write. The
 * parsed attributes, rendered with s3_meta_to_headers() and parsed
 * again, are the same attributes (the round trip of every commit).
 */
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "s3/meta.h"

#define PAIRS_MAX 16

static void check_same(const struct s3_meta *a, const struct s3_meta *b)
{
	fuzz_assert(a->has_mode == b->has_mode);
	fuzz_assert(!a->has_mode || a->mode == b->mode);
	fuzz_assert(a->has_uid == b->has_uid);
	fuzz_assert(!a->has_uid || a->uid == b->uid);
	fuzz_assert(a->has_gid == b->has_gid);
	fuzz_assert(!a->has_gid || a->gid == b->gid);
	fuzz_assert(a->has_mtime == b->has_mtime);
	fuzz_assert(!a->has_mtime || (a->mtime.tv_sec == b->mtime.tv_sec &&
				      a->mtime.tv_nsec == b->mtime.tv_nsec));
	fuzz_assert(strcmp(a->token, b->token) == 0);
	fuzz_assert(strcmp(a->parent, b->parent) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_pieces p;
	struct s3_kv kv[PAIRS_MAX];
	struct s3_kv back[S3_META_MAX_HEADERS];
	struct s3_header hdrs[S3_META_MAX_HEADERS];
	char storage[S3_META_STORAGE];
	struct s3_meta m, again;
	size_t n = 0, nh;

	if (fuzz_split(data, size, "", 1, 2 * PAIRS_MAX, false, &p))
		return 0;
	for (size_t i = 0; i + 1 < p.n; i += 2) {
		kv[n].name = p.s[i];
		kv[n].value = p.s[i + 1];
		n++;
	}
	s3_meta_from_kv(&m, kv, n);

	if (m.has_mode)
		fuzz_assert((m.mode & ~(mode_t)(S_IFMT | 07777)) == 0);
	if (m.has_uid)
		fuzz_assert(m.uid != (uid_t)-1);
	if (m.has_gid)
		fuzz_assert(m.gid != (gid_t)-1);
	if (m.has_mtime)
		fuzz_assert(m.mtime.tv_nsec >= 0 &&
			    m.mtime.tv_nsec < 1000000000L);
	fuzz_assert(m.token[0] == '\0' || strlen(m.token) == S3_TOKEN_LEN);
	fuzz_assert(m.parent[0] == '\0' || strlen(m.parent) == S3_TOKEN_LEN);

	nh = s3_meta_to_headers(&m, hdrs, storage, sizeof(storage));
	fuzz_assert(nh <= S3_META_MAX_HEADERS);
	for (size_t i = 0; i < nh; i++) {
		/* As the transport delivers them: the prefix stripped. */
		fuzz_assert(strncmp(hdrs[i].name, "x-amz-meta-", 11) == 0);
		back[i].name = (char *)hdrs[i].name + 11;
		back[i].value = (char *)hdrs[i].value;
	}
	s3_meta_from_kv(&again, back, nh);
	check_same(&m, &again);
	fuzz_pieces_free(&p);
	return 0;
}
