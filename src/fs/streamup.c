/*
 * Parts of a multipart upload sent behind the writer (see streamup.h).
 *
 * The writer hands over whole parts as it passes their end ("ready");
 * workers take them in order, read them back from their own duplicate of
 * the staging descriptor and upload them. The first worker to wake
 * creates the upload. At commit, streamup_finish() hands over the rest
 * (the last part may be short) and waits until every part is up.
 *
 * Locking: s->lock guards everything below it in struct streamup;
 * s->cond is broadcast on new work, a finished part, a failure and on
 * stopping. No request is sent under the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/streamup.h"
#include "util/log.h"

struct streamup {
	struct s3_client *c;
	char *key;
	struct s3_meta meta;
	int fd; /* our own duplicate of the staging descriptor */
	uint64_t part_size;
	pthread_t *threads;
	int n_threads;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *upload_id; /* NULL until created */
	bool creating;	 /* a worker is creating it */
	bool stopping;
	bool broken; /* a write or truncate reached handed-over bytes */
	int rc;	     /* the first failed request, or 0 */
	size_t ready; /* parts [0, ready) are handed over */
	bool final;   /* the last ready part ends at final_size */
	uint64_t final_size;
	size_t next; /* the next part to start */
	size_t done; /* parts uploaded */
	struct s3_part *parts; /* S3_MPU_MAX_PARTS of them */
};

static void fail_locked(struct streamup *s, int rc)
{
	if (s->rc == 0) {
		s->rc = rc;
		log_debug("'%s': streamed upload stopped (%s); the file is "
			  "uploaded at commit instead",
			  s->key, strerror(-rc));
	}
	pthread_cond_broadcast(&s->cond);
}

static void create_locked(struct streamup *s)
{
	char *id = NULL;
	int rc;

	s->creating = true;
	pthread_mutex_unlock(&s->lock);
	rc = s3_mpu_create(s->c, s->key, &s->meta, &id, NULL);
	pthread_mutex_lock(&s->lock);
	s->creating = false;
	if (rc != 0)
		fail_locked(s, rc);
	else
		s->upload_id = id;
	pthread_cond_broadcast(&s->cond);
}

/* Upload part @p i (index from 0), taken under the lock. */
static void upload_locked(struct streamup *s, size_t i)
{
	uint64_t off = (uint64_t)i * s->part_size;
	uint64_t len = s->part_size;
	char *etag = NULL;
	int rc;

	if (s->final && i + 1 == s->ready)
		len = s->final_size - off;
	pthread_mutex_unlock(&s->lock);
	rc = s3_mpu_upload_part(s->c, s->key, s->upload_id, (int)i + 1, s->fd,
				(off_t)off, len, &etag, NULL);
	pthread_mutex_lock(&s->lock);
	if (rc != 0) {
		fail_locked(s, rc);
		return;
	}
	s->parts[i].number = (int)i + 1;
	s->parts[i].etag = etag;
	s->done++;
	pthread_cond_broadcast(&s->cond);
}

static void *worker(void *arg)
{
	struct streamup *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping && !s->broken && s->rc == 0) {
		if (s->upload_id == NULL && !s->creating)
			create_locked(s);
		else if (s->upload_id != NULL && s->next < s->ready)
			upload_locked(s, s->next++);
		else
			pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct streamup *streamup_start(struct s3_client *c, const char *key,
				const struct s3_meta *meta, int fd,
				uint64_t part_size, int concurrency)
{
	struct streamup *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->c = c;
	s->meta = *meta;
	s->part_size = part_size;
	s->fd = dup(fd);
	s->key = strdup(key);
	s->parts = calloc(S3_MPU_MAX_PARTS, sizeof(*s->parts));
	s->threads = calloc((size_t)(concurrency > 0 ? concurrency : 1),
			    sizeof(*s->threads));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (s->fd < 0 || s->key == NULL || s->parts == NULL ||
	    s->threads == NULL || part_size == 0)
		goto fail;
	for (int i = 0; i < (concurrency > 0 ? concurrency : 1); i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
			break; /* fewer workers: a narrower stream */
		s->n_threads++;
	}
	if (s->n_threads == 0)
		goto fail;
	log_debug("'%s': streaming its upload in parts of %llu bytes", key,
		  (unsigned long long)part_size);
	return s;
fail:
	streamup_free(s, false);
	return NULL;
}

static void break_locked(struct streamup *s, const char *why, uint64_t at)
{
	if (!s->broken)
		log_debug("'%s': streamed upload abandoned (%s at %llu, below "
			  "the %zu parts handed over); uploaded at commit",
			  s->key, why, (unsigned long long)at, s->ready);
	s->broken = true;
	pthread_cond_broadcast(&s->cond);
}

void streamup_written(struct streamup *s, uint64_t off, uint64_t size)
{
	size_t whole;

	pthread_mutex_lock(&s->lock);
	if (off < (uint64_t)s->ready * s->part_size) {
		break_locked(s, "a write", off);
	} else {
		whole = (size_t)(size / s->part_size);
		/* The last part may be short only at the end: past the part
		 * limit the commit needs larger parts than this stream's. */
		if (whole >= S3_MPU_MAX_PARTS)
			break_locked(s, "too many parts", size);
		else if (whole > s->ready) {
			s->ready = whole;
			pthread_cond_broadcast(&s->cond);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void streamup_truncated(struct streamup *s, uint64_t size)
{
	pthread_mutex_lock(&s->lock);
	if (size < (uint64_t)s->ready * s->part_size)
		break_locked(s, "a truncate", size);
	pthread_mutex_unlock(&s->lock);
}

bool streamup_broken(struct streamup *s)
{
	bool b;

	pthread_mutex_lock(&s->lock);
	b = s->broken;
	pthread_mutex_unlock(&s->lock);
	return b;
}

const struct s3_meta *streamup_meta(const struct streamup *s)
{
	return &s->meta;
}

const char *streamup_upload_id(struct streamup *s)
{
	const char *id;

	pthread_mutex_lock(&s->lock);
	id = s->upload_id;
	pthread_mutex_unlock(&s->lock);
	return id;
}

int streamup_finish(struct streamup *s, uint64_t size,
		    const char **upload_id, const struct s3_part **parts,
		    size_t *n)
{
	size_t want = (size_t)((size + s->part_size - 1) / s->part_size);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->final || size < (uint64_t)s->ready * s->part_size ||
	    want == 0 || want > S3_MPU_MAX_PARTS)
		break_locked(s, "the commit's size", size);
	if (!s->broken && s->rc == 0) {
		s->final = true;
		s->final_size = size;
		s->ready = want;
		pthread_cond_broadcast(&s->cond);
	}
	while (!s->broken && s->rc == 0 &&
	       (s->upload_id == NULL || s->done < want))
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->broken)
		rc = -EIO;
	else if (s->rc != 0)
		rc = s->rc;
	if (rc == 0) {
		*upload_id = s->upload_id;
		*parts = s->parts;
		*n = want;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void streamup_free(struct streamup *s, bool completed)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	/* Parts of an upload never completed are stored, invisible and
	 * billed, until aborted. */
	if (!completed && s->upload_id != NULL &&
	    s3_mpu_abort(s->c, s->key, s->upload_id, NULL) != 0)
		log_warn("'%s': the abandoned multipart upload %s could not "
			 "be aborted; its parts stay on the server until a "
			 "lifecycle rule removes them",
			 s->key, s->upload_id);
	if (s->fd >= 0)
		close(s->fd);
	s3_mpu_parts_free(s->parts, s->parts ? S3_MPU_MAX_PARTS : 0);
	free(s->threads);
	free(s->upload_id);
	free(s->key);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
