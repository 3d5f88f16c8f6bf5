/*
 * This mount's open handles found by path: the local view getattr and
 * readdir show, the ETags and preconditions of the xattrs, metadata
 * changes that ride on open handles, and the bookkeeping of unlink and
 * rename (see handle.h).
 *
 * Locking: as in handle.c: the list lock, then handle locks; never the
 * list lock under a handle lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/handle.h"
#include "fs/lookup.h"
#include "fs/path.h"
#include "util/log.h"

void fs_meta_apply(struct s3_meta *m, const struct fs_meta_change *c,
		   mode_t type)
{
	if (!m->has_mode) {
		m->has_mode = true;
		m->mode = type | 0644;
	}
	if (c->set_mode)
		m->mode = (m->mode & S_IFMT ? m->mode & S_IFMT : type) |
			  (c->mode & 07777);
	if (c->set_owner && c->uid != (uid_t)-1) {
		m->has_uid = true;
		m->uid = c->uid;
	}
	if (c->set_owner && c->gid != (gid_t)-1) {
		m->has_gid = true;
		m->gid = c->gid;
	}
	if (c->set_mtime) {
		m->has_mtime = true;
		m->mtime = c->mtime;
	}
	/* New metadata is new content for the commit token. */
	m->token[0] = '\0';
	m->parent[0] = '\0';
}

/* @p c rides on the next commit of @p h (locked). */
static void ride_change_locked(struct fs_handle *h,
			       const struct fs_meta_change *c)
{
	fs_meta_apply(&h->meta, c, S_IFREG);
	if (c->set_mtime)
		h->mtime_explicit = true;
	h->dirty = true;
}

void fs_handle_change_meta(struct fs_handle *h, const struct fs_meta_change *c)
{
	pthread_mutex_lock(&h->lock);
	ride_change_locked(h, c);
	pthread_mutex_unlock(&h->lock);
}

int fs_handle_change_meta_path(struct fs_ctx *ctx, const char *rel,
			       const struct fs_meta_change *c,
			       struct fs_handle_hold *hold)
{
	int n = 0, cap = 0, rc = 0;

	hold->h = NULL;
	hold->n = 0;
	/* Lock order: the list lock, then handle locks (as below). */
	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next) {
		if (!h->writable || h->unlinked || h->conflicted ||
		    strcmp(h->rel, rel) != 0)
			continue;
		if (hold->n == cap) {
			struct fs_handle **grown;

			cap = cap == 0 ? 4 : cap * 2;
			grown = realloc(hold->h, (size_t)cap * sizeof(*grown));
			if (grown == NULL) {
				rc = -ENOMEM;
				break;
			}
			hold->h = grown;
		}
		pthread_mutex_lock(&h->lock);
		if (h->dirty || h->is_new) {
			ride_change_locked(h, c);
			pthread_mutex_unlock(&h->lock);
			n++;
		} else {
			hold->h[hold->n++] = h;
		}
	}
	pthread_mutex_unlock(&ctx->handles_lock);
	if (rc == 0 && n == 0)
		return 0;
	/* Some handle has uncommitted changes (or no memory to hold the
	 * others): every handle of the path carries the change instead. */
	for (int i = 0; i < hold->n; i++) {
		struct fs_handle *h = hold->h[i];

		ride_change_locked(h, c);
		pthread_mutex_unlock(&h->lock);
	}
	free(hold->h);
	hold->h = NULL;
	hold->n = 0;
	return rc != 0 ? rc : n;
}

void fs_handle_hold_done(struct fs_handle_hold *hold,
			 const struct fs_meta_change *c, const char *new_etag)
{
	for (int i = 0; i < hold->n; i++) {
		struct fs_handle *h = hold->h[i];

		if (new_etag != NULL) {
			/* Same content, the new metadata: a later write
			 * commits against the version the change made, and
			 * with a fresh mtime (not the one set here). */
			snprintf(h->etag, sizeof(h->etag), "%s", new_etag);
			fs_meta_apply(&h->meta, c, S_IFREG);
			h->base_token[0] = '\0';
		}
		pthread_mutex_unlock(&h->lock);
	}
	free(hold->h);
	hold->h = NULL;
	hold->n = 0;
}

bool fs_handle_others_open(struct fs_ctx *ctx, struct fs_handle *self)
{
	bool found = false;

	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL && !found;
	     h = h->next)
		if (h != self && strcmp(h->rel, self->rel) == 0)
			found = true;
	pthread_mutex_unlock(&ctx->handles_lock);
	return found;
}

bool fs_handle_find_local(struct fs_ctx *ctx, const char *rel, bool new_only,
			  struct stat *st)
{
	struct fs_handle *found = NULL;

	pthread_mutex_lock(&ctx->handles_lock);
	/* The list's head is the most recently opened handle. */
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next)
		if (!h->conflicted && !h->unlinked &&
		    (h->is_new || (!new_only && h->dirty)) &&
		    strcmp(h->rel, rel) == 0) {
			found = h;
			break;
		}
	if (found != NULL) {
		struct attr_entry e;

		/* Read without the handle lock, which a commit holds for a
		 * whole upload: the list lock keeps the handle alive, and a
		 * size torn by a concurrent write is harmless here. */
		fs_handle_entry(found, &e);
		fs_lookup_to_stat(ctx, &e, st);
	}
	pthread_mutex_unlock(&ctx->handles_lock);
	return found != NULL;
}

bool fs_handle_find_etag(struct fs_ctx *ctx, const char *rel, pid_t pid,
			 char *etag, size_t len)
{
	bool found = false;
	pid_t tgid = fs_handle_tgid_of(pid);

	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next)
		if (h->owner_tgid == tgid && strcmp(h->rel, rel) == 0) {
			/* List lock, then handle lock: a commit may be
			 * adopting a new ETag right now. */
			pthread_mutex_lock(&h->lock);
			if (h->etag[0] != '\0') {
				snprintf(etag, len, "%s", h->etag);
				found = true;
			}
			pthread_mutex_unlock(&h->lock);
			if (found)
				break;
		}
	pthread_mutex_unlock(&ctx->handles_lock);
	return found;
}

int fs_handle_set_if_match(struct fs_ctx *ctx, const char *rel, pid_t pid,
			   const char *etag)
{
	int rc = -ENOENT;
	pid_t tgid = fs_handle_tgid_of(pid);

	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next)
		if (h->owner_tgid == tgid && h->writable &&
		    strcmp(h->rel, rel) == 0) {
			pthread_mutex_lock(&h->lock);
			snprintf(h->if_match_override,
				 sizeof(h->if_match_override), "%s", etag);
			/* A new file committed against an earlier version
			 * is an update of that version. */
			h->is_new = false;
			h->dirty = true;
			pthread_mutex_unlock(&h->lock);
			rc = 0;
		}
	pthread_mutex_unlock(&ctx->handles_lock);
	return rc;
}

/*
 * Lock order for the two functions below: ctx->handles_lock, then a
 * handle's lock. Nothing takes them the other way round (commits hold a
 * handle lock but never the list lock).
 */
void fs_handle_path_unlinked(struct fs_ctx *ctx, const char *rel)
{
	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next) {
		if (strcmp(h->rel, rel) != 0)
			continue;
		pthread_mutex_lock(&h->lock);
		h->unlinked = true;
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&ctx->handles_lock);
}

void fs_handle_path_renamed(struct fs_ctx *ctx, const char *from,
			    const char *to, const char *old_etag,
			    const char *new_etag)
{
	pthread_mutex_lock(&ctx->handles_lock);
	for (struct fs_handle *h = ctx->handles; h != NULL; h = h->next) {
		char *rel, *key;

		if (strcmp(h->rel, from) != 0)
			continue;
		pthread_mutex_lock(&h->lock);
		rel = strdup(to);
		key = fs_path_key(ctx->opts.prefix, to, false);
		if (rel != NULL && key != NULL && !h->is_new &&
		    s3_etag_equal(h->etag, old_etag)) {
			free(h->rel);
			free(h->key);
			h->rel = rel;
			h->key = key;
			snprintf(h->etag, sizeof(h->etag), "%s", new_etag);
			rel = key = NULL;
		}
		free(rel);
		free(key);
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&ctx->handles_lock);
}
