/*
 * Lookups and listings. Locking: none here; the caches lock inside their
 * own functions, and the S3 client is thread-safe. A fill takes the
 * cache generation before its request so that a change made by this
 * mount while the request was in flight wins over the older answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/seen_set.h"
#include "fs/lookup.h"
#include "fs/path.h"
#include "fs/prefetch.h"
#include "util/log.h"

/* A directory of 100 million entries; a server saying "more" past it is
 * broken or hostile. */
#define FS_LIST_MAX_PAGES 100000
/* How old (server clock, s) a version must be when read to be memoed. */
#define FS_MEMO_MIN_AGE_S 2

static void root_entry(struct attr_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = ATTR_DIR;
}

void fs_lookup_entry_from_info(struct attr_entry *e,
			       const struct s3_object_info *info)
{
	memset(e, 0, sizeof(*e));
	e->kind = ATTR_FILE;
	e->size = info->size;
	snprintf(e->etag, sizeof(e->etag), "%s", info->etag);
	e->last_modified = info->last_modified;
	e->meta_known = true;
	e->meta = info->meta;
	e->read_at = info->server_date;
}

/* The first @p max keys below "rel/" (no delimiter); *key_take is that
 * prefix, for the caller to compare with and free. */
static int list_below(struct fs_ctx *ctx, const char *rel, int max,
		      struct s3_list_result *res, char **key_take)
{
	int rc;

	memset(res, 0, sizeof(*res));
	*key_take = fs_path_key(ctx->opts.prefix, rel, true);
	if (*key_take == NULL)
		return -ENOMEM;
	rc = s3_list_objects(ctx->s3, *key_take, NULL, NULL, max, res, NULL);
	if (rc != 0) {
		free(*key_take);
		*key_take = NULL;
	}
	return rc;
}

/* What one page of a listing showed of the directory itself. */
struct dir_self {
	bool exists; /* a marker, or anything below it */
	bool marker; /* the object "rel/" */
	time_t mtime; /* the marker's */
};

static int list_small_dir(struct fs_ctx *ctx, const char *rel,
			  struct dir_self *self);

/*
 * Is "rel" a directory? Fills @p e as one if so. The first page of its
 * listing answers, and is kept as the directory's listing when it is the
 * whole of it: a directory that was looked up is nearly always read or
 * walked into next (ls, cd, a path through it), which then costs no
 * request. A larger one is remembered as large.
 */
static int probe_dir(struct fs_ctx *ctx, const char *rel,
		     struct attr_entry *e)
{
	struct dir_self self;
	int rc = list_small_dir(ctx, rel, &self);

	if (rc == -EFBIG && self.exists)
		rc = 0;
	if (rc != 0)
		return rc;
	memset(e, 0, sizeof(*e));
	e->kind = ATTR_DIR;
	e->dir_marker = self.marker;
	if (self.marker)
		e->last_modified = self.mtime;
	return 0;
}

/* A HEAD of @p key into @p e; -ENOENT when no object has that key. */
static int head_file(struct fs_ctx *ctx, const char *key,
		     struct attr_entry *e)
{
	struct s3_object_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = s3_head_object(ctx->s3, key, NULL, &info, NULL);
	if (rc == 0)
		fs_lookup_entry_from_info(e, &info);
	return rc;
}

/* A file wins over a directory of the same name (both keys may exist in
 * a bucket another tool wrote), so a HEAD comes first, and "rel/" is
 * asked only when no object "rel" exists. */
static int head_then_list(struct fs_ctx *ctx, const char *rel,
			  const char *key, struct attr_entry *e)
{
	int rc = head_file(ctx, key, e);

	return rc == -ENOENT ? probe_dir(ctx, rel, e) : rc;
}

/*
 * One LIST of prefix "rel" with delimiter "/" answers both questions of
 * a lookup, all but a file's metadata: the key "rel" itself sorts first
 * of all, and "rel/" comes as a common prefix after the names that go on
 * from "rel" with a byte below '/' (" ", "-", "." ...), each subtree of
 * theirs rolled up into one prefix. A page of FS_PROBE_KEYS nearly
 * always reaches it; when it did not, probe_dir() asks exactly.
 */
#define FS_PROBE_KEYS 100

static int list_then_head(struct fs_ctx *ctx, const char *rel,
			  const char *key, struct attr_entry *e)
{
	struct s3_list_result res;
	char *dirkey = NULL;
	bool file = false, dir = false, sure;
	int rc;

	memset(&res, 0, sizeof(res));
	dirkey = fs_path_key(ctx->opts.prefix, rel, true);
	if (dirkey == NULL)
		return -ENOMEM;
	rc = s3_list_objects(ctx->s3, key, "/", NULL, FS_PROBE_KEYS, &res,
			     NULL);
	if (rc != 0)
		goto out;
	file = res.n_objects > 0 && strcmp(res.objects[0].key, key) == 0;
	for (size_t i = 0; i < res.n_prefixes && !dir; i++)
		dir = strcmp(res.prefixes[i], dirkey) == 0;
	sure = dir || !res.truncated;
	if (file) {
		/* The name was not a file when last seen: it needs its
		 * metadata now. Gone again meanwhile: what the LIST said
		 * of "rel/" still holds. */
		rc = head_file(ctx, key, e);
		if (rc != -ENOENT)
			goto out;
	}
	if (!sure) {
		rc = probe_dir(ctx, rel, e);
	} else if (dir) {
		/* A common prefix does not say whether a "rel/" marker
		 * exists; a listing of the parent does not either. */
		memset(e, 0, sizeof(*e));
		e->kind = ATTR_DIR;
		rc = 0;
	} else {
		rc = -ENOENT;
	}
out:
	s3_list_result_free(&res);
	free(dirkey);
	return rc;
}

/* The LIST of a lookup that also sends a HEAD, on a helper thread. */
struct side_probe {
	struct fs_ctx *ctx;
	char *rel; /* owned */
	int rc;
	struct attr_entry e;
};

static void side_probe_run(void *arg)
{
	struct side_probe *p = arg;

	p->rc = probe_dir(p->ctx, p->rel, &p->e);
}

static void side_probe_free(void *arg)
{
	struct side_probe *p = arg;

	free(p->rel);
	free(p);
}

/* The HEAD and the LIST at once: one round trip whatever the name is.
 * When the HEAD finds a file, the LIST's answer does not matter and
 * nobody waits for it. */
static int head_and_list(struct fs_ctx *ctx, const char *rel,
			 const char *key, struct attr_entry *e)
{
	struct side_probe *p = calloc(1, sizeof(*p));
	struct task *t = NULL;
	int rc;

	if (p != NULL) {
		p->ctx = ctx;
		p->rel = strdup(rel);
	}
	if (p != NULL && p->rel != NULL)
		t = task_start(&ctx->side, side_probe_run, p);
	if (t == NULL) {
		if (p != NULL)
			side_probe_free(p);
		return head_then_list(ctx, rel, key, e);
	}
	rc = head_file(ctx, key, e);
	if (rc != -ENOENT) {
		task_abandon(t, side_probe_free);
		return rc;
	}
	task_wait(t);
	rc = p->rc;
	if (rc == 0)
		*e = p->e;
	side_probe_free(p);
	return rc;
}

enum lookup_plan { PLAN_HEAD_FIRST, PLAN_LIST_FIRST, PLAN_BOTH };

/* Which request goes first. A name's last known kind, even expired, is
 * nearly always still right, and so is what a fresh listing of its
 * parent says; a name never seen gets both requests at once, except in
 * a directory too large to list, where lookups are many, mostly of
 * files, and would each cost two requests. */
static enum lookup_plan plan_for(struct fs_ctx *ctx, const char *rel,
				 enum fs_guess guess)
{
	enum lookup_plan plan;
	struct attr_entry e;
	enum attr_kind kind;
	char *parent = NULL;
	const char *name;

	if (guess == FS_GUESS_FILE)
		return PLAN_HEAD_FIRST;
	if (guess == FS_GUESS_NOT_FILE)
		return PLAN_LIST_FIRST;
	if (attr_cache_hint(ctx->attrs, rel, &kind))
		return kind == ATTR_FILE ? PLAN_HEAD_FIRST : PLAN_LIST_FIRST;
	if (fs_path_split(rel, &parent, &name) != 0)
		return PLAN_HEAD_FIRST;
	/* A fresh listing of the parent knows the name (a lookup through
	 * the caches was answered from it and left no attribute entry). */
	switch (dir_cache_lookup(ctx->dirs, parent, name, &e)) {
	case DIR_LOOKUP_FOUND:
		plan = e.kind == ATTR_FILE ? PLAN_HEAD_FIRST : PLAN_LIST_FIRST;
		break;
	case DIR_LOOKUP_ABSENT:
		plan = PLAN_LIST_FIRST;
		break;
	default:
		plan = dir_cache_is_large(ctx->dirs, parent) ? PLAN_HEAD_FIRST
							     : PLAN_BOTH;
		break;
	}
	free(parent);
	return plan;
}

int fs_lookup_fresh(struct fs_ctx *ctx, const char *rel,
		    enum fs_guess guess, struct attr_entry *out)
{
	uint64_t gen = attr_cache_gen(ctx->attrs);
	char *key = NULL;
	int rc;

	if (rel[0] == '\0') {
		root_entry(out);
		return 0;
	}
	key = fs_path_key(ctx->opts.prefix, rel, false);
	if (key == NULL)
		return -ENOMEM;
	switch (plan_for(ctx, rel, guess)) {
	case PLAN_HEAD_FIRST:
		rc = head_then_list(ctx, rel, key, out);
		break;
	case PLAN_LIST_FIRST:
		rc = list_then_head(ctx, rel, key, out);
		break;
	default:
		rc = head_and_list(ctx, rel, key, out);
		break;
	}
	if (rc == -ENOENT) {
		memset(out, 0, sizeof(*out));
		out->kind = ATTR_ABSENT;
	}
	if (rc == 0 || rc == -ENOENT)
		fs_lookup_learn(ctx, rel, out, gen);
	free(key);
	return rc;
}

int fs_lookup(struct fs_ctx *ctx, const char *rel, struct attr_entry *out)
{
	enum fs_guess guess = FS_GUESS_NONE;
	char *parent = NULL;
	const char *name;
	bool listed = false;
	int rc;

	if (rel[0] == '\0') {
		root_entry(out);
		return 0;
	}
	if (attr_cache_get(ctx->attrs, rel, out)) {
		if (out->kind == ATTR_FILE)
			fs_prefetch_note_cached(ctx, rel);
		return out->kind == ATTR_ABSENT ? -ENOENT : 0;
	}
	rc = fs_path_split(rel, &parent, &name);
	if (rc != 0)
		return rc;
	/* A fresh complete listing of the parent answers "absent" and
	 * "directory" outright; a file still needs its metadata. */
again:
	switch (dir_cache_lookup(ctx->dirs, parent, name, out)) {
	case DIR_LOOKUP_ABSENT:
		rc = -ENOENT;
		goto out;
	case DIR_LOOKUP_FOUND:
		/* A listing names no metadata (mode, owner, mtime): a file
		 * needs its HEAD, unless the memo knew this very version or
		 * the mount trusts listings. A walk over the listing (ls -l,
		 * find -ls, du) gets its HEADs sent ahead, in parallel. */
		if (out->kind == ATTR_DIR || out->meta_known ||
		    ctx->opts.listing_attrs) {
			rc = 0;
			goto out;
		}
		rc = fs_prefetch_lookup(ctx, parent, name, rel, false, out);
		if (rc != -EAGAIN)
			goto out;
		guess = FS_GUESS_FILE;
		break;
	case DIR_LOOKUP_UNKNOWN:
		/* A walk of a large directory outlasts its listing: the walk
		 * goes on over the names of the expired one. */
		rc = fs_prefetch_lookup(ctx, parent, name, rel, true, out);
		if (rc != -EAGAIN)
			goto out;
		/* Name after name in one directory (cp, tar, rsync, git):
		 * one LIST answers them all for the TTL, where each would
		 * cost a HEAD and, for a new name, a one-key LIST. */
		if (!listed && dir_cache_note_miss(ctx->dirs, parent)) {
			listed = true;
			if (list_small_dir(ctx, parent, NULL) == 0)
				goto again;
		}
		break;
	}
	rc = fs_lookup_fresh(ctx, rel, guess, out);
out:
	free(parent);
	return rc;
}

void fs_lookup_to_stat(const struct fs_ctx *ctx, const struct attr_entry *e,
		       struct stat *st)
{
	const struct s3_meta *m = &e->meta;
	mode_t perm;

	memset(st, 0, sizeof(*st));
	st->st_uid = m->has_uid ? m->uid : ctx->uid;
	st->st_gid = m->has_gid ? m->gid : ctx->gid;
	if (e->kind == ATTR_DIR) {
		perm = m->has_mode ? (m->mode & 07777)
				   : (0777 & ~ctx->opts.umask);
		st->st_mode = S_IFDIR | perm;
		st->st_nlink = 2;
		st->st_size = 4096;
	} else {
		perm = m->has_mode ? (m->mode & 07777)
				   : (0666 & ~ctx->opts.umask);
		/* s3fs marks symlinks with S_IFLNK in x-amz-meta-mode. */
		if (m->has_mode && S_ISLNK(m->mode))
			st->st_mode = S_IFLNK | 0777;
		else
			st->st_mode = S_IFREG | perm;
		st->st_nlink = 1;
		st->st_size = (off_t)e->size;
	}
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 1 << 20;
	if (m->has_mtime) {
		st->st_mtim = m->mtime;
	} else {
		st->st_mtim.tv_sec = e->last_modified ? e->last_modified
						      : ctx->mount_time;
	}
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static int grow_entries(struct dir_entry **entries, size_t *cap, size_t n)
{
	struct dir_entry *bigger;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 64;
	bigger = realloc(*entries, want * sizeof(**entries));
	if (bigger == NULL)
		return -ENOMEM;
	*entries = bigger;
	*cap = want;
	return 0;
}

static int add_entry(struct dir_entry **entries, size_t *cap, size_t *n,
		     const char *name, size_t len, const struct attr_entry *a)
{
	int rc = grow_entries(entries, cap, *n);

	if (rc != 0)
		return rc;
	(*entries)[*n].name = strndup(name, len);
	if ((*entries)[*n].name == NULL)
		return -ENOMEM;
	(*entries)[*n].attr = *a;
	(*n)++;
	return 0;
}

/* A listed object's metadata, when the memo holds this very version
 * (same ETag and Last-Modified): then the entry needs no HEAD. */
static void memo_recall(struct fs_ctx *ctx, const char *rel,
			const char *name, size_t len, struct attr_entry *a)
{
	char *path = NULL;
	int n = rel[0] ? asprintf(&path, "%s/%.*s", rel, (int)len, name)
		       : asprintf(&path, "%.*s", (int)len, name);

	if (n < 0)
		return; /* only a missed shortcut: a HEAD answers */
	a->meta_known = meta_memo_get(ctx->memo, path, a->etag,
				      a->last_modified, &a->meta);
	free(path);
}

/* A key or prefix the listing skips, said once per mount: every listing
 * of its directory meets it again. */
static void log_unnameable(struct fs_ctx *ctx, const char *key, bool prefix)
{
	const char *what = prefix ? "prefix" : "key";
	const char *as = prefix ? "a directory" : "a file";

	switch (seen_set_add(ctx->skipped, key)) {
	case SEEN_FIRST:
		log_notice("skipping %s '%s': it cannot be %s name", what, key,
			   as);
		break;
	case SEEN_FULL:
		log_notice("skipping %s '%s': it cannot be %s name (and "
			   "further such keys, without a line each)",
			   what, key, as);
		break;
	case SEEN_AGAIN:
		break;
	}
}

/* Page through the listing of "dirkey" into a malloc'd entry array. */
static int list_from_server(struct fs_ctx *ctx, const char *rel,
			    int max_pages, struct dir_entry **entries_out,
			    size_t *n_out, struct dir_self *self)
{
	struct s3_list_result res;
	struct dir_entry *entries = NULL;
	size_t n = 0, cap = 0;
	char *dirkey = fs_path_key(ctx->opts.prefix, rel, true);
	char *token = NULL;
	int pages = 0;
	int rc = 0;

	memset(self, 0, sizeof(*self));
	self->exists = rel[0] == '\0';
	if (dirkey == NULL)
		return -ENOMEM;
	do {
		memset(&res, 0, sizeof(res));
		rc = s3_list_objects(ctx->s3, dirkey, "/", token, 0, &res,
				     NULL);
		if (rc != 0)
			break;
		for (size_t i = 0; i < res.n_objects && rc == 0; i++) {
			const struct s3_list_object *o = &res.objects[i];
			struct attr_entry a;
			const char *name;
			size_t len;

			switch (fs_path_classify(dirkey, o->key, false, &name,
						 &len)) {
			case FS_LISTED_SELF:
				self->exists = true;
				self->marker = true;
				self->mtime = o->mtime;
				continue;
			case FS_LISTED_INVALID:
				log_unnameable(ctx, o->key, false);
				continue;
			default:
				break;
			}
			memset(&a, 0, sizeof(a));
			a.kind = ATTR_FILE;
			a.size = o->size;
			snprintf(a.etag, sizeof(a.etag), "%s", o->etag);
			a.last_modified = o->mtime;
			memo_recall(ctx, rel, name, len, &a);
			rc = add_entry(&entries, &cap, &n, name, len, &a);
		}
		for (size_t i = 0; i < res.n_prefixes && rc == 0; i++) {
			struct attr_entry a;
			const char *name;
			size_t len;

			if (fs_path_classify(dirkey, res.prefixes[i], true,
					     &name, &len) != FS_LISTED_DIR) {
				log_unnameable(ctx, res.prefixes[i], true);
				continue;
			}
			memset(&a, 0, sizeof(a));
			a.kind = ATTR_DIR;
			rc = add_entry(&entries, &cap, &n, name, len, &a);
		}
		if (res.n_objects > 0 || res.n_prefixes > 0)
			self->exists = true;
		if (rc == 0 && res.truncated) {
			if (max_pages > 0 && pages + 1 >= max_pages) {
				rc = -EFBIG; /* more than the caller wants */
			} else if (res.next_token == NULL) {
				log_error("listing of '%s' is truncated but "
					  "has no continuation token", dirkey);
				rc = -EPROTO;
			} else if ((token != NULL &&
				    strcmp(token, res.next_token) == 0) ||
				   ++pages > FS_LIST_MAX_PAGES) {
				/* A server that keeps answering "more" would
				 * hold this request forever. */
				log_error("listing of '%s' does not end (the "
					  "same continuation token again, or "
					  "over %d pages)",
					  dirkey, FS_LIST_MAX_PAGES);
				rc = -EPROTO;
			} else {
				free(token);
				token = res.next_token;
				res.next_token = NULL;
			}
		}
		if (rc != 0 || !res.truncated) {
			free(token);
			token = NULL;
		}
		s3_list_result_free(&res);
	} while (rc == 0 && token != NULL);
	free(token);
	free(dirkey);
	if (rc != 0) {
		dir_entries_free(entries, n);
		return rc;
	}
	*entries_out = entries;
	*n_out = n;
	return 0;
}

/* Cache the listing of @p rel when it fits in one page; 0 when cached.
 * A larger directory is remembered as such (its listing would cost more
 * than the lookups it saves): -EFBIG. -ENOENT when nothing is there.
 * @p self (may be NULL) says what the page showed of the directory. */
static int list_small_dir(struct fs_ctx *ctx, const char *rel,
			  struct dir_self *self)
{
	struct dir_entry *entries = NULL;
	uint64_t gen = dir_cache_gen(ctx->dirs);
	struct dir_self own;
	size_t n = 0;
	int rc;

	if (self == NULL)
		self = &own;
	rc = list_from_server(ctx, rel, 1, &entries, &n, self);
	if (rc == -EFBIG)
		dir_cache_note_large(ctx->dirs, rel);
	if (rc != 0)
		return rc;
	if (!self->exists) {
		/* Gone, or never there: the lookup asks the server. */
		dir_entries_free(entries, n);
		return -ENOENT;
	}
	dir_cache_put_take(ctx->dirs, rel, entries, n, gen);
	return 0;
}

int fs_lookup_list_dir(struct fs_ctx *ctx, const char *rel,
		       struct fs_listing *out)
{
	struct dir_entry *entries = NULL;
	size_t n = 0;
	struct dir_self self;
	uint64_t gen;
	int rc;

	memset(out, 0, sizeof(*out));
	out->snap = dir_cache_get(ctx->dirs, rel);
	if (out->snap != NULL)
		goto have_snapshot;
	gen = dir_cache_gen(ctx->dirs);
	rc = list_from_server(ctx, rel, 0, &entries, &n, &self);
	if (rc != 0)
		return rc;
	if (!self.exists) {
		dir_entries_free(entries, n);
		return -ENOENT;
	}
	if (ctx->opts.dir_ttl_ms > 0) {
		dir_cache_put_take(ctx->dirs, rel, entries, n, gen);
		out->snap = dir_cache_get(ctx->dirs, rel);
		if (out->snap != NULL)
			goto have_snapshot;
		/* Invalidated while we listed: list once more, uncached. */
		rc = list_from_server(ctx, rel, 0, &entries, &n, &self);
		if (rc != 0)
			return rc;
	}
	/* Uncached, the listing gets the same cleaning the cache gives:
	 * a name listed twice is shown once. */
	n = dir_entries_normalise(entries, n);
	out->owned = entries;
	out->entries = entries;
	out->n = n;
	return 0;
have_snapshot:
	out->entries = out->snap->entries;
	out->n = out->snap->n;
	return 0;
}

void fs_listing_release(struct fs_ctx *ctx, struct fs_listing *l)
{
	if (l->snap != NULL)
		dir_snapshot_release(ctx->dirs, l->snap);
	dir_entries_free(l->owned, l->owned ? l->n : 0);
	memset(l, 0, sizeof(*l));
}

int fs_lookup_dir_nonempty(struct fs_ctx *ctx, const char *rel)
{
	struct s3_list_result res;
	char *key = NULL;
	/* Two keys: the directory's own marker may be the first. */
	int rc = list_below(ctx, rel, 2, &res, &key);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < res.n_objects; i++)
		if (strcmp(res.objects[i].key, key) != 0)
			rc = 1;
	if (res.n_prefixes > 0)
		rc = 1;
	s3_list_result_free(&res);
	free(key);
	return rc;
}

void fs_lookup_learn(struct fs_ctx *ctx, const char *rel,
		     const struct attr_entry *e, uint64_t gen)
{
	attr_cache_put(ctx->attrs, rel, e, gen);
	/* The memo tells versions apart by ETag and Last-Modified, which
	 * has whole seconds: a metadata rewrite (chmod elsewhere keeps the
	 * ETag) in the same second as the version we read would look like
	 * it. Read two seconds after it was written, no later rewrite can
	 * share its Last-Modified (the margin covers a rewrite already in
	 * flight while we read). Younger versions are not remembered. */
	if (e->kind == ATTR_FILE && e->meta_known && e->read_at != 0 &&
	    e->read_at >= e->last_modified + FS_MEMO_MIN_AGE_S)
		meta_memo_put(ctx->memo, rel, e->etag, e->last_modified,
			      &e->meta);
}

void fs_lookup_note_change(struct fs_ctx *ctx, const char *rel,
			   const struct attr_entry *e)
{
	char *parent = NULL;
	const char *name;

	struct attr_entry absent;

	memset(&absent, 0, sizeof(absent));
	absent.kind = ATTR_ABSENT;
	attr_cache_invalidate(ctx->attrs, rel);
	(void)page_etags_forget(ctx->pages, rel);
	if (ctx->bodies != NULL)
		body_cache_forget(ctx->bodies, rel);
	attr_cache_put(ctx->attrs, rel, e ? e : &absent,
		       attr_cache_gen(ctx->attrs));
	if (fs_path_split(rel, &parent, &name) != 0) {
		dir_cache_invalidate_all(ctx->dirs);
		return;
	}
	if (e != NULL)
		dir_cache_note_added(ctx->dirs, parent, name, e);
	else
		dir_cache_note_removed(ctx->dirs, parent, name);
	free(parent);
}
