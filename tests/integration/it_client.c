/*
 * The S3 client layer (src/s3/) on the real RGW, without FUSE: the
 * conditions it relies on, checked on the server that must honour them.
 * The harness's independent client (libcurl's own SigV4) sets up and
 * reads back every object; etagfs's client only does what is under test.
 *
 *  - the probe finds exactly the conditions this RGW honours, and no
 *    condition it merely accepts (DeleteObject, CompleteMultipartUpload
 *    and the standard copy-source conditions are ignored by RGW 16.2);
 *  - GetObject with If-None-Match revalidates a held version in one
 *    round trip (304 → -EALREADY, else the current version's bytes);
 *  - GetObject with If-Match refuses a replaced version (-ESTALE);
 *  - 20 conditional PUTs racing on one version: exactly one wins, the
 *    others get -EBUSY (RGW's occasional 500 on a loser is resolved to
 *    that, not to a success), and the server holds the winner's bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "s3/client.h"
#include "s3/creds.h"
#include "s3/probe.h"
#include "util/log.h"

#define RACERS 20

/* The client's log at its highest level (every request traced, with
 * its headers redacted) goes to a kept log that it_secrets_scan reads,
 * like every mount's; the harness reports on stdout. */
static void log_to_kept_file(void)
{
	static bool done;
	char path[PATH_MAX];
	int fd;

	if (done)
		return;
	it_kept_log_path(path, sizeof(path), "client.log");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(dup2(fd, STDERR_FILENO));
	close(fd);
	log_init("etagfs", true, LOG_DEBUG);
	done = true;
}

/* A client of etagfs's own for @p bucket, on the test server. */
static struct s3_client *client_new(const char *bucket)
{
	struct s3_creds creds = {
		.access_key = it_env.access_key,
		.secret_key = it_env.secret_key,
		.source = (char *)"test",
	};
	struct s3_client_config cfg = {
		.endpoint = it_env.endpoint,
		.region = it_env.region,
		.bucket = bucket,
		.addressing = S3_ADDR_PATH,
		.max_retries = 5,
		.retry_base_ms = 50,
		.http = { .max_connections = RACERS, .verbose = true },
		.creds = &creds,
	};
	struct s3_client *c = NULL;
	char err[256] = "";

	log_to_kept_file();
	IT_ASSERT_MSG(s3_client_new(&cfg, &c, err, sizeof(err)) == 0,
		      "s3_client_new: %s", err);
	return c;
}

/* A memfd holding @p len bytes of @p data, for a PUT body. */
static int body_fd(const void *data, size_t len)
{
	int fd = memfd_create("body", 0);

	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, data, len), (long long)len);
	return fd;
}

/* ------------------------------------------------------------ probe */

IT_TEST(test_probe_believes_only_honoured_conditions)
{
	char bucket[64];
	struct s3_caps caps;
	struct s3_client *c;
	size_t n = 0;
	char **keys;

	it_fresh_bucket(bucket);
	c = client_new(bucket);
	IT_ASSERT_EQ_INT(s3_probe_caps(c, "", &caps), 0);
	/* What RGW 16.2 enforces, each seen refusing a wrong version. */
	IT_ASSERT(caps.put_if_match);
	IT_ASSERT(caps.put_if_match_unquoted);
	IT_ASSERT(caps.put_if_none_match);
	IT_ASSERT(caps.copy_rgw_if_match);
	/* What it accepts and ignores: believing any of these would let a
	 * commit overwrite another writer's version. */
	IT_ASSERT(!caps.complete_conditional);
	IT_ASSERT(!caps.delete_if_match);
	IT_ASSERT(!caps.copy_source_if_match);
	/* The scratch objects are gone, and no upload was left behind. */
	keys = it_s3_list(bucket, NULL, &n);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_MSG(n == 0, "the probe left %zu objects, first '%s'", n,
		      keys[0]);
	it_strv_free(keys);
	keys = it_s3_list_multipart_uploads(bucket, &n);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_MSG(n == 0, "the probe left %zu uploads", n);
	it_strv_free(keys);
	s3_client_free(c);
}

/* ------------------------------------------------------------ reads */

IT_TEST(test_get_if_changed_revalidates_in_one_request)
{
	char bucket[64];
	char etag1[IT_ETAG_MAX], etag2[IT_ETAG_MAX];
	char unquoted[IT_ETAG_MAX];
	struct s3_object_info info;
	struct s3_stats before, after;
	struct s3_client *c;
	char dst[64];
	size_t got = 99;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "version one", 11, etag1),
			 200);
	c = client_new(bucket);

	/* Current: 304, no bytes, in one GET; quoted or not. */
	s3_client_get_stats(c, &before);
	IT_ASSERT_EQ_INT(s3_get_object_if_changed(c, "k", 0, sizeof(dst),
						  etag1, dst, &got, &info,
						  NULL),
			 -EALREADY);
	IT_ASSERT_EQ_INT(got, 0);
	it_etag_unquote(etag1, unquoted);
	IT_ASSERT_EQ_INT(s3_get_object_if_changed(c, "k", 0, sizeof(dst),
						  unquoted, dst, &got, &info,
						  NULL),
			 -EALREADY);
	s3_client_get_stats(c, &after);
	IT_ASSERT_EQ_INT(after.get - before.get, 2);
	IT_ASSERT_EQ_INT(after.retries - before.retries, 0);

	/* Replaced: the new version's bytes, ETag and size at once. */
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "the second version", 18,
				   etag2),
			 200);
	IT_ASSERT_EQ_INT(s3_get_object_if_changed(c, "k", 4, 6, etag1, dst,
						  &got, &info, NULL),
			 0);
	IT_ASSERT_EQ_INT(got, 6);
	IT_ASSERT_MEM(dst, "second", 6);
	IT_ASSERT_MSG(s3_etag_equal(info.etag, etag2), "ETag %s, server %s",
		      info.etag, etag2);
	IT_ASSERT_EQ_INT(info.size, 18);

	/* Deleted: ENOENT, nothing read. */
	IT_ASSERT_EQ_INT(it_s3_delete(bucket, "k"), 204);
	IT_ASSERT_EQ_INT(s3_get_object_if_changed(c, "k", 0, sizeof(dst),
						  etag2, dst, &got, &info,
						  NULL),
			 -ENOENT);
	IT_ASSERT_EQ_INT(got, 0);
	s3_client_free(c);
}

IT_TEST(test_get_if_match_refuses_a_replaced_version)
{
	char bucket[64];
	char etag1[IT_ETAG_MAX];
	struct s3_client *c;
	char dst[16];
	size_t got = 99;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "old", 3, etag1), 200);
	c = client_new(bucket);
	IT_ASSERT_EQ_INT(s3_get_object(c, "k", 0, sizeof(dst), etag1, dst,
				       &got, NULL, NULL),
			 0);
	IT_ASSERT_EQ_INT(got, 3);
	IT_ASSERT_MEM(dst, "old", 3);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "new", 3, NULL), 200);
	IT_ASSERT_EQ_INT(s3_get_object(c, "k", 0, sizeof(dst), etag1, dst,
				       &got, NULL, NULL),
			 -ESTALE);
	IT_ASSERT_EQ_INT(got, 0);
	s3_client_free(c);
}

/* ------------------------------------------------------------ writes */

struct racer {
	struct s3_client *c;
	const char *base_etag;
	pthread_barrier_t *start;
	char body[32];
	int rc;
	struct s3_object_info info;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct s3_write_cond cond = { .if_match = r->base_etag };
	int fd = memfd_create("body", 0);

	if (fd < 0 || write(fd, r->body, strlen(r->body)) < 0) {
		r->rc = -errno;
		return NULL;
	}
	pthread_barrier_wait(r->start);
	r->rc = s3_put_object(r->c, "k", fd, 0, strlen(r->body), &cond, NULL,
			      &r->info, NULL);
	close(fd);
	return NULL;
}

IT_TEST(test_racing_conditional_puts_one_winner)
{
	char bucket[64];
	char base[IT_ETAG_MAX], now[IT_ETAG_MAX];
	struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t start;
	struct s3_caps caps;
	struct s3_client *c;
	int winner = -1, busy = 0;
	void *data = NULL;
	size_t len = 0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "base", 4, base), 200);
	c = client_new(bucket);
	IT_ASSERT_EQ_INT(s3_probe_caps(c, "", &caps), 0);
	s3_client_set_caps(c, &caps);
	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .c = c, .base_etag = base,
				       .start = &start };
		IT_SNPRINTF(r[i].body, "racer %02d", i);
		IT_ASSERT_EQ_INT(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);

	for (int i = 0; i < RACERS; i++) {
		if (r[i].rc == 0) {
			IT_ASSERT_MSG(winner < 0, "racers %d and %d both won",
				      winner, i);
			winner = i;
		} else {
			IT_ASSERT_MSG(r[i].rc == -EBUSY, "racer %d: %s", i,
				      strerror(-r[i].rc));
			busy++;
		}
	}
	IT_ASSERT_MSG(winner >= 0, "no racer won");
	IT_ASSERT_EQ_INT(busy, RACERS - 1);
	/* The server holds the winner's bytes, under the ETag it was told. */
	IT_ASSERT_EQ_INT(it_s3_get(bucket, "k", &data, &len, now), 200);
	IT_ASSERT_EQ_INT(len, strlen(r[winner].body));
	IT_ASSERT_MEM(data, r[winner].body, len);
	IT_ASSERT_MSG(s3_etag_equal(now, r[winner].info.etag),
		      "server ETag %s, winner told %s", now,
		      r[winner].info.etag);
	free(data);
	s3_client_free(c);
}

IT_TEST(test_create_if_none_match_refuses_an_existing_key)
{
	char bucket[64];
	char theirs[IT_ETAG_MAX], now[IT_ETAG_MAX];
	struct s3_write_cond create = { .if_none_match = true };
	struct s3_object_info info;
	struct s3_client *c;
	void *data = NULL;
	size_t len = 0;
	int fd;

	it_fresh_bucket(bucket);
	c = client_new(bucket);
	fd = body_fd("mine", 4);
	IT_ASSERT_EQ_INT(s3_put_object(c, "new", fd, 0, 4, &create, NULL,
				       &info, NULL),
			 0);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "taken", "theirs", 6, theirs),
			 200);
	IT_ASSERT_EQ_INT(s3_put_object(c, "taken", fd, 0, 4, &create, NULL,
				       &info, NULL),
			 -EBUSY);
	close(fd);
	IT_ASSERT_EQ_INT(it_s3_get(bucket, "new", &data, &len, NULL), 200);
	IT_ASSERT_EQ_INT(len, 4);
	IT_ASSERT_MEM(data, "mine", 4);
	free(data);
	IT_ASSERT_EQ_INT(it_s3_get(bucket, "taken", &data, &len, now), 200);
	IT_ASSERT_EQ_INT(len, 6);
	IT_ASSERT_MEM(data, "theirs", 6);
	IT_ASSERT_EQ_STR(now, theirs);
	free(data);
	s3_client_free(c);
}
