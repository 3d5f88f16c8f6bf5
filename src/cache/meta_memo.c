/*
 * Metadata memo (see meta_memo.h): a cache_table of path -> version +
 * metadata, least recently used at the old end of the age list.
 *
 * Locking: m->lock protects the table; taken in every public function.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/meta_memo.h"
#include "cache/table.h"
#include "s3/client.h" /* s3_etag_equal */
#include "s3/http.h"   /* S3_ETAG_MAX */
#include "util/uri.h"

/* The memo file: a header line, then one version per line, eleven
 * fields separated by one space (the strings percent-encoded, so that
 * neither holds a space or a newline):
 *
 *   etagfs-memo 1 ID
 *   PATH ETAG LAST-MODIFIED FLAGS MODE UID GID MTIME-S MTIME-NS TOKEN PARENT
 *
 * FLAGS says which of mode (1), uid (2), gid (4), mtime (8) the object
 * carries; MODE is octal; TOKEN and PARENT are 32 hex digits or "-". */
#define MEMO_MAGIC "etagfs-memo 1 "
#define MEMO_FIELDS 11
#define MEMO_PATH_MAX 4096
enum { F_MODE = 1, F_UID = 2, F_GID = 4, F_MTIME = 8 };

#define MEMO_BUCKETS_MIN 64u

struct memo_node {
	struct cache_table_node h;
	char etag[S3_ETAG_MAX];
	time_t last_modified;
	struct s3_meta meta;
};

struct meta_memo {
	pthread_mutex_t lock;
	size_t max_entries;
	struct cache_table t;
};

struct meta_memo *meta_memo_new(size_t max_entries)
{
	struct meta_memo *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (cache_table_init(&m->t, MEMO_BUCKETS_MIN) < 0) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->max_entries = max_entries;
	return m;
}

void meta_memo_free(struct meta_memo *m)
{
	if (m == NULL)
		return;
	cache_table_drop_all(&m->t);
	cache_table_fini(&m->t);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void meta_memo_put(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, const struct s3_meta *meta)
{
	uint64_t hash = cache_table_hash(path);
	struct memo_node *n;

	if (m->max_entries == 0 || etag[0] == '\0' ||
	    strlen(etag) >= sizeof(n->etag))
		return;
	pthread_mutex_lock(&m->lock);
	n = (struct memo_node *)cache_table_find(&m->t, path, hash);
	if (n == NULL) {
		if (m->t.count >= m->max_entries)
			cache_table_drop_oldest(&m->t);
		n = (struct memo_node *)cache_table_node_new(sizeof(*n), path);
		if (n == NULL)
			goto out; /* only a missed shortcut */
		cache_table_insert(&m->t, &n->h);
	} else {
		cache_table_touch(&m->t, &n->h);
	}
	snprintf(n->etag, sizeof(n->etag), "%s", etag);
	n->last_modified = last_modified;
	n->meta = *meta;
out:
	pthread_mutex_unlock(&m->lock);
}

bool meta_memo_get(struct meta_memo *m, const char *path, const char *etag,
		   time_t last_modified, struct s3_meta *out)
{
	uint64_t hash = cache_table_hash(path);
	struct memo_node *n;
	bool hit = false;

	if (m->max_entries == 0 || etag[0] == '\0')
		return false;
	pthread_mutex_lock(&m->lock);
	n = (struct memo_node *)cache_table_find(&m->t, path, hash);
	/* A listing and a HEAD may quote the same ETag differently. */
	if (n != NULL && n->last_modified == last_modified &&
	    s3_etag_equal(n->etag, etag)) {
		*out = n->meta;
		cache_table_touch(&m->t, &n->h);
		hit = true;
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}

static int write_token(struct buf *out, const char *token)
{
	return buf_addf(out, " %s", token[0] ? token : "-");
}

static int write_node(struct buf *out, const struct memo_node *n)
{
	const struct s3_meta *m = &n->meta;
	int flags = (m->has_mode ? F_MODE : 0) | (m->has_uid ? F_UID : 0) |
		    (m->has_gid ? F_GID : 0) | (m->has_mtime ? F_MTIME : 0);
	int rc;

	rc = uri_encode(out, n->h.path, strlen(n->h.path), true);
	if (rc == 0)
		rc = buf_adds(out, " ");
	if (rc == 0)
		rc = uri_encode(out, n->etag, strlen(n->etag), false);
	if (rc == 0)
		rc = buf_addf(out, " %lld %d %o %" PRIu32 " %" PRIu32
				   " %lld %ld",
			      (long long)n->last_modified, flags,
			      (unsigned)m->mode, (uint32_t)m->uid,
			      (uint32_t)m->gid, (long long)m->mtime.tv_sec,
			      (long)m->mtime.tv_nsec);
	if (rc == 0)
		rc = write_token(out, m->token);
	if (rc == 0)
		rc = write_token(out, m->parent);
	if (rc == 0)
		rc = buf_adds(out, "\n");
	return rc;
}

/* The header line naming @p id, without its newline. */
static int write_header(struct buf *out, const char *id)
{
	int rc = buf_adds(out, MEMO_MAGIC);

	return rc == 0 ? uri_encode(out, id, strlen(id), true) : rc;
}

int meta_memo_write(struct meta_memo *m, const char *id, struct buf *out)
{
	const struct cache_table_node *h;
	int rc;

	rc = write_header(out, id);
	if (rc == 0)
		rc = buf_adds(out, "\n");
	pthread_mutex_lock(&m->lock);
	for (h = m->t.oldest; h != NULL && rc == 0; h = h->newer)
		rc = write_node(out, (const struct memo_node *)h);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* A decimal in [lo, hi] (octal when @p base is 8), the whole field. */
static bool parse_num(const char *s, int base, long long lo, long long hi,
		      long long *out)
{
	char *end;
	long long v;

	if (*s == '\0' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_token(const char *s, char out[S3_TOKEN_LEN + 1])
{
	if (strcmp(s, "-") == 0) {
		out[0] = '\0';
		return true;
	}
	if (strlen(s) != S3_TOKEN_LEN ||
	    strspn(s, "0123456789abcdef") != S3_TOKEN_LEN)
		return false;
	memcpy(out, s, S3_TOKEN_LEN + 1);
	return true;
}

/* One version line (modified in place: split at spaces) into the memo. */
static bool read_line(struct meta_memo *m, char *line)
{
	char *f[MEMO_FIELDS], *save = NULL, *tok;
	long long v[7];
	struct s3_meta meta;
	struct buf path, etag;
	bool ok = false;
	int n = 0;

	for (tok = strtok_r(line, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (n == MEMO_FIELDS)
			return false;
		f[n++] = tok;
	}
	if (n != MEMO_FIELDS)
		return false;
	memset(&meta, 0, sizeof(meta));
	if (!parse_num(f[2], 10, INT64_MIN / 2, INT64_MAX / 2, &v[0]) ||
	    !parse_num(f[3], 10, 0, 15, &v[1]) ||
	    !parse_num(f[4], 8, 0, 0177777, &v[2]) ||
	    !parse_num(f[5], 10, 0, UINT32_MAX - 1, &v[3]) ||
	    !parse_num(f[6], 10, 0, UINT32_MAX - 1, &v[4]) ||
	    !parse_num(f[7], 10, INT64_MIN / 2, INT64_MAX / 2, &v[5]) ||
	    !parse_num(f[8], 10, 0, 999999999, &v[6]) ||
	    !parse_token(f[9], meta.token) || !parse_token(f[10], meta.parent))
		return false;
	if ((time_t)v[0] != v[0] || (time_t)v[5] != v[5])
		return false;
	meta.has_mode = v[1] & F_MODE;
	meta.has_uid = v[1] & F_UID;
	meta.has_gid = v[1] & F_GID;
	meta.has_mtime = v[1] & F_MTIME;
	meta.mode = (mode_t)v[2];
	meta.uid = (uid_t)v[3];
	meta.gid = (gid_t)v[4];
	meta.mtime.tv_sec = (time_t)v[5];
	meta.mtime.tv_nsec = (long)v[6];
	buf_init(&path, MEMO_PATH_MAX);
	buf_init(&etag, S3_ETAG_MAX - 1);
	if (uri_decode(&path, f[0], false) == 0 &&
	    uri_decode(&etag, f[1], false) == 0 && path.len > 0 &&
	    etag.len > 0) {
		meta_memo_put(m, buf_str(&path), buf_str(&etag),
			      (time_t)v[0], &meta);
		ok = true;
	}
	buf_free(&path);
	buf_free(&etag);
	return ok;
}

long meta_memo_read(struct meta_memo *m, const char *id, const char *text,
		    size_t *skipped)
{
	struct buf want;
	const char *p, *nl;
	char *line;
	long added = 0;
	size_t len;
	bool same;

	*skipped = 0;
	nl = strchr(text, '\n');
	if (nl == NULL)
		return -EINVAL;
	buf_init(&want, BUF_MAX_DEFAULT);
	same = write_header(&want, id) == 0 &&
	       want.len == (size_t)(nl - text) &&
	       memcmp(want.data, text, want.len) == 0;
	buf_free(&want);
	if (!same)
		return -EINVAL;
	for (p = nl + 1; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			(*skipped)++; /* torn last line */
			break;
		}
		len = (size_t)(nl - p);
		line = len < MEMO_PATH_MAX * 4 ? strndup(p, len) : NULL;
		if (line != NULL && read_line(m, line))
			added++;
		else
			(*skipped)++;
		free(line);
	}
	return added;
}

size_t meta_memo_count(struct meta_memo *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->t.count;
	pthread_mutex_unlock(&m->lock);
	return n;
}
