/*
 * SHA-256 of an appended-to file, hashed behind the writer (hash_follow.h).
 *
 * State under f->lock: end (bytes appended), hashed (bytes in sha),
 * broken, stop. Until the worker starts, the writer's thread updates sha
 * itself; from then on only the worker does, and the writer only moves
 * end. The worker reads [hashed, end) back with pread: bytes below end
 * are never rewritten while the hash covers them, since a write anywhere
 * but the end breaks it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/hash_follow.h"
#include "util/log.h"

/* The worker's read size: large enough to amortise the syscall, small
 * enough that a stop request is noticed within a millisecond. */
#define FOLLOW_CHUNK (1u << 20)

struct hash_follow {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* end moved, hashed moved, broken, stop */
	struct hash_stream *sha;
	uint64_t end;
	uint64_t hashed;
	bool broken;
	bool stop;
	bool worker_started;
	pthread_t worker;
	int fd; /* the worker's own dup, -1 before it starts */
};

struct hash_follow *hash_follow_new(void)
{
	struct hash_follow *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->sha = hash_stream_new();
	if (f->sha == NULL) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->fd = -1;
	return f;
}

void hash_follow_free(struct hash_follow *f)
{
	if (f == NULL)
		return;
	if (f->worker_started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->worker, NULL);
	}
	if (f->fd >= 0)
		close(f->fd);
	hash_stream_free(f->sha);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Hash [from, to) of the file; false on a read or hash failure, or when
 * asked to stop. */
static bool follow_range(struct hash_follow *f, unsigned char *chunk,
			 uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t want = to - from < FOLLOW_CHUNK ? (size_t)(to - from)
						       : FOLLOW_CHUNK;
		ssize_t n;

		if (__atomic_load_n(&f->stop, __ATOMIC_RELAXED))
			return false;
		n = pread(f->fd, chunk, want, (off_t)from);
		if (n < 0 && errno == EINTR)
			continue;
		/* 0: the file is shorter than what was appended, so it was
		 * truncated behind our back; the hash cannot cover it. */
		if (n <= 0 || hash_stream_update(f->sha, chunk, (size_t)n) != 0)
			return false;
		from += (uint64_t)n;
	}
	return true;
}

static void *follow_worker(void *arg)
{
	struct hash_follow *f = arg;
	unsigned char *chunk = malloc(FOLLOW_CHUNK);

	pthread_mutex_lock(&f->lock);
	if (chunk == NULL)
		f->broken = true;
	while (!f->broken && !f->stop) {
		uint64_t from = f->hashed, to = f->end;
		bool ok;

		if (from == to) {
			pthread_cond_wait(&f->cond, &f->lock);
			continue;
		}
		pthread_mutex_unlock(&f->lock);
		ok = follow_range(f, chunk, from, to);
		pthread_mutex_lock(&f->lock);
		if (ok)
			f->hashed = to;
		else if (!f->stop)
			f->broken = true;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	free(chunk);
	return NULL;
}

/* Start the worker on a dup of @p fd; false when it cannot start (the
 * writer's thread then goes on hashing by itself). */
static bool follow_start(struct hash_follow *f, int fd)
{
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0)
		return false;
	if (pthread_create(&f->worker, NULL, follow_worker, f) != 0) {
		close(f->fd);
		f->fd = -1;
		return false;
	}
	f->worker_started = true;
	return true;
}

int hash_follow_append(struct hash_follow *f, int fd, const void *buf,
		       size_t n, uint64_t off)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->broken || off != f->end) {
		f->broken = true;
		rc = -1;
		goto out;
	}
	if (!f->worker_started &&
	    (f->end + n <= HASH_FOLLOW_INLINE || !follow_start(f, fd))) {
		if (hash_stream_update(f->sha, buf, n) != 0) {
			f->broken = true;
			rc = -1;
			goto out;
		}
		f->hashed += n;
	}
	f->end += n;
	pthread_cond_broadcast(&f->cond);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

uint64_t hash_follow_len(const struct hash_follow *f)
{
	/* Only the writer moves end, and only the writer asks. */
	return f->end;
}

int hash_follow_hex(struct hash_follow *f, char out[HASH_SHA256_HEX_LEN + 1])
{
	int rc;

	pthread_mutex_lock(&f->lock);
	while (!f->broken && f->hashed < f->end)
		pthread_cond_wait(&f->cond, &f->lock);
	rc = f->broken ? -EIO : hash_stream_hex(f->sha, out);
	pthread_mutex_unlock(&f->lock);
	return rc;
}
