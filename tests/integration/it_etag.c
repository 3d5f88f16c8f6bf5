/*
 * The ETag contract, end to end: two mounts of one bucket (A and B) and
 * the harness's independent client as a third writer. A handle commits
 * only onto the version it opened, a conflict is EBUSY from close() or
 * fsync() with the server untouched and the rejected bytes kept, readers
 * never see two versions mixed, and concurrent read-modify-write loops
 * lose no update.
 *
 * Mounts use attr_ttl=0,dir_ttl=0 so every open sees the server.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define MIB ((size_t)1024 * 1024)

struct side {
	struct it_mount m;
	char conflicts[PATH_MAX];
};

/* Mount @p bucket with caches of @p ttl seconds, staging and conflict
 * copies in the scratch dir. */
static void mount_side_ttl(struct side *s, const char *bucket, int ttl)
{
	char opts[3 * PATH_MAX];

	snprintf(s->conflicts, sizeof(s->conflicts), "%s",
		 it_mkdtemp("conflicts"));
	snprintf(opts, sizeof(opts),
		 "attr_ttl=%d,dir_ttl=%d,staging_dir=%s,conflict_dir=%s", ttl,
		 ttl, it_mkdtemp("stage"), s->conflicts);
	it_mount(&s->m, bucket, opts);
}

/* Mount @p bucket with no caching. */
static void mount_side(struct side *s, const char *bucket)
{
	mount_side_ttl(s, bucket, 0);
}

static void expect_server(const char *bucket, const char *key,
			  const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	long st = it_s3_get(bucket, key, &got, &got_len, NULL);

	IT_ASSERT_MSG(st == 200, "GET %s: HTTP %ld", key, st);
	IT_ASSERT_MSG(got_len == len, "GET %s: %zu bytes, expected %zu", key,
		      got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

/* The commit token a write through etagfs leaves in the object's
 * metadata; a write by the independent client has none. */
#define TOKEN_META "x-amz-meta-etagfs-token"

/* The version of @p key on the server: ETag into @p etag, commit token
 * into @p token ("" for another client's write). */
static void server_version(const char *bucket, const char *key,
			   char etag[IT_ETAG_MAX], char token[64])
{
	long st = it_s3_head(bucket, key, NULL, etag, TOKEN_META, token, 64);

	IT_ASSERT_MSG(st == 200, "HEAD %s: HTTP %ld", key, st);
}

/*
 * After a conflict, the server holds exactly the version the other writer
 * left: its bytes, its ETag @p etag, and its commit token @p token (""
 * for a client's write), so etagfs neither rewrote it (same bytes, new
 * token) nor replaced it and put it back.
 */
static void expect_theirs(const char *bucket, const char *key,
			  const void *data, size_t len, const char *etag,
			  const char *token)
{
	char now[IT_ETAG_MAX], now_token[64];

	expect_server(bucket, key, data, len);
	server_version(bucket, key, now, now_token);
	IT_ASSERT_MSG(strcmp(now, etag) == 0, "%s: ETag %s, the other "
		      "writer left %s", key, now, etag);
	IT_ASSERT_MSG(strcmp(now_token, token) == 0, "%s: commit token "
		      "'%s', the other writer left '%s'", key, now_token,
		      token);
}

static void expect_absent(const char *bucket, const char *key)
{
	long st = it_s3_head(bucket, key, NULL, NULL, NULL, NULL, 0);

	IT_ASSERT_MSG(st == 404, "HEAD %s: HTTP %ld, expected 404", key, st);
}

/*
 * Conflict copies of @p key: files "<key>.conflict-*" (not ".partial")
 * in <conflicts>/<bucket>/. Returns how many; the path of the first in
 * @p first (PATH_MAX) when there is one.
 */
static int conflict_copies(const struct side *s, const char *bucket,
			   const char *key, char *first)
{
	char dir[PATH_MAX], prefix[PATH_MAX];
	struct dirent *d;
	DIR *dh;
	int n = 0;

	IT_ASSERT(snprintf(dir, sizeof(dir), "%s/%s", s->conflicts,
			   bucket) < (int)sizeof(dir));
	IT_ASSERT(snprintf(prefix, sizeof(prefix), "%s.conflict-", key) <
		  (int)sizeof(prefix));
	dh = opendir(dir);
	if (dh == NULL)
		return 0;
	while ((d = readdir(dh)) != NULL) {
		size_t len = strlen(d->d_name);

		if (strncmp(d->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (len > 8 && strcmp(d->d_name + len - 8, ".partial") == 0)
			continue;
		if (n++ == 0 && first != NULL)
			IT_ASSERT(snprintf(first, PATH_MAX, "%s/%s", dir,
					   d->d_name) < PATH_MAX);
	}
	closedir(dh);
	return n;
}

/* Exactly one conflict copy of @p key, holding exactly @p data. */
static void expect_conflict_copy(const struct side *s, const char *bucket,
				 const char *key, const void *data, size_t len)
{
	char path[PATH_MAX];
	void *got = NULL;
	size_t got_len = 0;
	int n = conflict_copies(s, bucket, key, path);

	IT_ASSERT_MSG(n == 1, "%d conflict copies of %s in %s/%s, expected 1",
		      n, key, s->conflicts, bucket);
	IT_ASSERT_EQ_INT(it_read_file(path, &got, &got_len), 0);
	IT_ASSERT_MSG(got_len == len, "conflict copy %s: %zu bytes, "
		      "expected %zu", path, got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

static void pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)data + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		IT_ASSERT_MSG(n > 0, "pwrite at %lld: %s",
			      (long long)(off + (off_t)done), strerror(errno));
		done += (size_t)n;
	}
}

/* ------------------------------------------------ conflicts on commit */

/* A modifies in place; the client replaces the object meanwhile. */
IT_TEST(test_conflict_on_close)
{
	char th_etag[IT_ETAG_MAX];
	static const char v1[] = "version one of the shared file";
	static const char theirs[] = "the other writer's bytes";
	char bucket[64], mine[sizeof(v1)];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", v1, strlen(v1), NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "k"), O_RDWR);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "AAAA", 4, 0);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", theirs, strlen(theirs), th_etag),
			 200);
	pwrite_all(fd, "BB", 2, 10);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "k", theirs, strlen(theirs), th_etag, "");
	/* The copy is A's full content: v1 with both writes. */
	memcpy(mine, v1, strlen(v1));
	memcpy(mine, "AAAA", 4);
	memcpy(mine + 10, "BB", 2);
	expect_conflict_copy(&a, bucket, "k", mine, strlen(v1));
	/* A new open sees the winner. */
	{
		void *got = NULL;
		size_t len = 0;

		IT_ASSERT_EQ_INT(it_read_file(it_path(&a.m, "k"), &got, &len),
				 0);
		IT_ASSERT_EQ_INT(len, strlen(theirs));
		IT_ASSERT_MEM(got, theirs, len);
		free(got);
	}
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* A conflict on a file of multipart size: RGW ignores conditions on
 * CompleteMultipartUpload, so the commit is one conditional PUT (up to
 * 5 GiB), and it is refused like any other. */
IT_TEST(test_conflict_multipart_sized)
{
	char th_etag[IT_ETAG_MAX];
	enum { SIZE = 64 * 1024 * 1024 + 5 };
	static const char theirs[] = "replaced while A was writing";
	char bucket[64];
	char *v1 = malloc(SIZE);
	struct side a;
	int fd;

	IT_ASSERT(v1 != NULL);
	it_random_bytes(v1, SIZE, 64);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", v1, SIZE, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "big"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", theirs, strlen(theirs),
				   th_etag),
			 200);
	pwrite_all(fd, "MINE", 4, SIZE - 4);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "big", theirs, strlen(theirs), th_etag, "");
	/* Nothing was left behind as an unfinished multipart upload. */
	{
		size_t n = 99;
		char **uploads = it_s3_list_multipart_uploads(bucket, &n);

		IT_ASSERT(uploads != NULL);
		IT_ASSERT_EQ_INT(n, 0);
		it_strv_free(uploads);
	}
	memcpy(v1 + SIZE - 4, "MINE", 4);
	expect_conflict_copy(&a, bucket, "big", v1, SIZE);
	free(v1);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* RGW 16.2 matches If-Match on PUT only in its unquoted form: the mount's
 * probe finds that out by itself (no option), says so once, and the
 * commits that follow are still conditional (a conflict is refused). */
IT_TEST(test_quoting_adapted_on_rgw)
{
	char th_etag[IT_ETAG_MAX];
	static const char theirs[] = "theirs";
	char bucket[64], line[4096];
	struct side a;
	FILE *log;
	bool said = false;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "q", "v1", 2, NULL), 200);
	mount_side(&a, bucket);
	/* An unconditional-looking commit works: the quoting is right. */
	IT_ASSERT_EQ_INT(it_write_file(it_path(&a.m, "q"), "v2", 2), 0);
	expect_server(bucket, "q", "v2", 2);
	/* And the condition is enforced in that form. */
	fd = open(it_path(&a.m, "q"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "q", theirs, strlen(theirs), th_etag),
			 200);
	pwrite_all(fd, "v3", 2, 0);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "q", theirs, strlen(theirs), th_etag, "");
	log = fopen(a.m.log, "r");
	IT_ASSERT(log != NULL);
	while (fgets(line, sizeof(line), log) != NULL)
		if (strstr(line, "conditions honoured: put-if-match(unquoted)"))
			said = true;
	fclose(log);
	IT_ASSERT_MSG(said, "the mount log does not report the unquoted "
			    "If-Match form (%s)", a.m.log);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* Same with O_TRUNC: nothing is downloaded, the commit still carries the
 * ETag seen at open. */
IT_TEST(test_conflict_on_close_trunc)
{
	char th_etag[IT_ETAG_MAX];
	static const char theirs[] = "replaced by the client";
	char bucket[64];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "v1", 2, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "k"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", theirs, strlen(theirs), th_etag),
			 200);
	pwrite_all(fd, "mine", 4, 0);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "k", theirs, strlen(theirs), th_etag, "");
	expect_conflict_copy(&a, bucket, "k", "mine", 4);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* The object changed between open and the first write: a writable open
 * took its snapshot with the content, so the write works on that version
 * and the conflict is reported where a program looks for it: close(). */
IT_TEST(test_conflict_change_before_first_write)
{
	char th_etag[IT_ETAG_MAX];
	static const char theirs[] = "changed before the first write";
	char bucket[64];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "v1 v1 v1", 8, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "k"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", theirs, strlen(theirs), th_etag),
			 200);
	pwrite_all(fd, "X", 1, 3);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "k", theirs, strlen(theirs), th_etag, "");
	expect_conflict_copy(&a, bucket, "k", "v1 X1 v1", 8);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

IT_TEST(test_conflict_on_fsync)
{
	char th_etag[IT_ETAG_MAX];
	static const char theirs[] = "the client's version";
	char bucket[64];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "0123456789", 10, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "k"), O_RDWR);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "ab", 2, 0);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", theirs, strlen(theirs), th_etag),
			 200);
	pwrite_all(fd, "cd", 2, 8);
	IT_ASSERT_ERRNO(fsync(fd), EBUSY);
	expect_theirs(bucket, "k", theirs, strlen(theirs), th_etag, "");
	/* Sticky: the handle never commits after a conflict. */
	IT_ASSERT_ERRNO(fsync(fd), EBUSY);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "k", theirs, strlen(theirs), th_etag, "");
	expect_conflict_copy(&a, bucket, "k", "ab234567cd", 10);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* After a successful fsync the handle's base is its own new version: a
 * later commit of the same handle is no conflict. */
IT_TEST(test_fsync_adopts_new_etag)
{
	char bucket[64];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "base", 4, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "k"), O_RDWR);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "1111", 4, 0);
	IT_ASSERT_OK(fsync(fd));
	expect_server(bucket, "k", "1111", 4);
	pwrite_all(fd, "22", 2, 4);
	IT_ASSERT_OK(fsync(fd));
	expect_server(bucket, "k", "111122", 6);
	pwrite_all(fd, "3", 1, 6);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "k", "1111223", 7);

	/* A new file: the first commit creates it, the next update it. */
	fd = open(it_path(&a.m, "n"), O_CREAT | O_WRONLY, 0644);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "a", 1, 0);
	IT_ASSERT_OK(fsync(fd));
	expect_server(bucket, "n", "a", 1);
	pwrite_all(fd, "b", 1, 1);
	IT_ASSERT_OK(fsync(fd));
	pwrite_all(fd, "c", 1, 2);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "n", "abc", 3);
	IT_ASSERT_EQ_INT(conflict_copies(&a, bucket, "k", NULL), 0);
	IT_ASSERT_EQ_INT(conflict_copies(&a, bucket, "n", NULL), 0);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* Two mounts update one file: the first to commit wins. */
IT_TEST(test_two_mounts_update)
{
	char a_etag[IT_ETAG_MAX], a_token[64];
	char bucket[64];
	struct side a, b;
	int fa, fb;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "k", "shared", 6, NULL), 200);
	mount_side(&a, bucket);
	mount_side(&b, bucket);
	fa = open(it_path(&a.m, "k"), O_RDWR);
	IT_ASSERT_OK(fa);
	fb = open(it_path(&b.m, "k"), O_RDWR);
	IT_ASSERT_OK(fb);
	pwrite_all(fa, "A", 1, 0);
	pwrite_all(fb, "B", 1, 0);
	IT_ASSERT_OK(close(fa));
	server_version(bucket, "k", a_etag, a_token);
	IT_ASSERT_MSG(a_token[0] != '\0', "A's commit carries no token");
	IT_ASSERT_ERRNO(close(fb), EBUSY);
	expect_theirs(bucket, "k", "Ahared", 6, a_etag, a_token);
	expect_conflict_copy(&b, bucket, "k", "Bhared", 6);
	IT_ASSERT_EQ_INT(conflict_copies(&a, bucket, "k", NULL), 0);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	IT_ASSERT_EQ_INT(it_unmount(&b.m), 0);
}

/* ------------------------------------------------------------ creators */

IT_TEST(test_two_creators)
{
	char a_etag[IT_ETAG_MAX], a_token[64];
	char bucket[64];
	struct side a, b;
	int fa, fb;

	it_fresh_bucket(bucket);
	mount_side(&a, bucket);
	mount_side(&b, bucket);

	/* Without O_EXCL both opens succeed; the first commit claims it. */
	fa = open(it_path(&a.m, "n"), O_CREAT | O_WRONLY, 0644);
	IT_ASSERT_OK(fa);
	fb = open(it_path(&b.m, "n"), O_CREAT | O_WRONLY, 0644);
	IT_ASSERT_OK(fb);
	pwrite_all(fa, "from A", 6, 0);
	pwrite_all(fb, "from B, longer", 14, 0);
	IT_ASSERT_OK(close(fa));
	server_version(bucket, "n", a_etag, a_token);
	IT_ASSERT_MSG(a_token[0] != '\0', "A's commit carries no token");
	IT_ASSERT_ERRNO(close(fb), EBUSY);
	expect_theirs(bucket, "n", "from A", 6, a_etag, a_token);
	expect_conflict_copy(&b, bucket, "n", "from B, longer", 14);

	/* With O_EXCL the second open fails at once. */
	fa = open(it_path(&a.m, "x"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	IT_ASSERT_OK(fa);
	IT_ASSERT_ERRNO(open(it_path(&b.m, "x"), O_CREAT | O_EXCL | O_WRONLY,
			     0644), EEXIST);
	pwrite_all(fa, "A owns x", 8, 0);
	IT_ASSERT_OK(close(fa));
	expect_server(bucket, "x", "A owns x", 8);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	IT_ASSERT_EQ_INT(it_unmount(&b.m), 0);
}

/* Child outcomes of one O_EXCL racer (exit codes). */
enum { RACE_WON = 0, RACE_EEXIST = 1, RACE_OPEN_ERR = 2, RACE_WRITE_ERR = 3,
       RACE_CLOSE_EBUSY = 4, RACE_CLOSE_ERR = 5, RACE_BARRIER = 6 };

static int race_child(const char *path, int gate, int id)
{
	char payload[32], c;
	int fd, len;

	/* Wait until the parent opens the gate (closes its end). */
	if (read(gate, &c, 1) != 0)
		return RACE_BARRIER;
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		return errno == EEXIST ? RACE_EEXIST : RACE_OPEN_ERR;
	len = snprintf(payload, sizeof(payload), "winner %d", id);
	if (write(fd, payload, (size_t)len) != len) {
		close(fd);
		return RACE_WRITE_ERR;
	}
	if (close(fd) != 0)
		return errno == EBUSY ? RACE_CLOSE_EBUSY : RACE_CLOSE_ERR;
	return RACE_WON;
}

/* 20 rounds of four processes, two per mount, creating one name with
 * O_EXCL at the same moment: exactly one wins each round. */
IT_TEST(test_excl_race_rounds)
{
	enum { ROUNDS = 20, RACERS = 4 };
	char bucket[64], name[32], want[32];
	struct side a, b;
	int won_total = 0;

	it_fresh_bucket(bucket);
	mount_side(&a, bucket);
	mount_side(&b, bucket);
	for (int r = 0; r < ROUNDS; r++) {
		pid_t pids[RACERS];
		int gate[2], winner = -1, eexist = 0;

		snprintf(name, sizeof(name), "race-%02d", r);
		IT_ASSERT_OK(pipe(gate));
		for (int i = 0; i < RACERS; i++) {
			const struct side *s = i % 2 ? &b : &a;
			const char *path = it_path(&s->m, name);

			pids[i] = fork();
			IT_ASSERT_OK(pids[i]);
			if (pids[i] == 0) {
				close(gate[1]);
				_exit(race_child(path, gate[0], i));
			}
		}
		close(gate[0]);
		close(gate[1]); /* go */
		for (int i = 0; i < RACERS; i++) {
			int st = 0;

			IT_ASSERT_EQ_INT(waitpid(pids[i], &st, 0), pids[i]);
			IT_ASSERT_MSG(WIFEXITED(st), "round %d racer %d died",
				      r, i);
			switch (WEXITSTATUS(st)) {
			case RACE_WON:
				IT_ASSERT_MSG(winner < 0,
					      "round %d: racers %d and %d both "
					      "won", r, winner, i);
				winner = i;
				break;
			case RACE_EEXIST:
				eexist++;
				break;
			default:
				IT_FAIL("round %d racer %d: outcome %d", r, i,
					WEXITSTATUS(st));
			}
		}
		IT_ASSERT_MSG(winner >= 0, "round %d: nobody won", r);
		IT_ASSERT_EQ_INT(eexist, RACERS - 1);
		snprintf(want, sizeof(want), "winner %d", winner);
		expect_server(bucket, name, want, strlen(want));
		/* A lost O_EXCL create wrote nothing: EEXIST is all it
		 * gets, no conflict copy (lock files lose all the time). */
		IT_ASSERT_EQ_INT(conflict_copies(&a, bucket, name, NULL) +
					 conflict_copies(&b, bucket, name, NULL),
				 0);
		won_total++;
	}
	IT_ASSERT_EQ_INT(won_total, ROUNDS);
	IT_ASSERT_EQ_INT(it_log_count(&a.m, "conflict on") +
				 it_log_count(&b.m, "conflict on"),
			 0);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	IT_ASSERT_EQ_INT(it_unmount(&b.m), 0);
}

/* An O_EXCL create that loses to another machine after the kernel
 * believed the name free (a cached "no such file") gets EEXIST and
 * nothing else: the other writer's object untouched, no conflict copy,
 * no conflict warning. The next O_EXCL create of a free name works. */
IT_TEST(test_excl_loser_gets_eexist_only)
{
	char bucket[64], th_etag[IT_ETAG_MAX];
	struct stat st;
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	mount_side_ttl(&a, bucket, 30);
	IT_ASSERT_ERRNO(stat(it_path(&a.m, "lock"), &st), ENOENT);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "lock", "theirs", 6, th_etag),
			 200);
	IT_ASSERT_ERRNO(open(it_path(&a.m, "lock"),
			     O_CREAT | O_EXCL | O_WRONLY, 0644),
			EEXIST);
	expect_theirs(bucket, "lock", "theirs", 6, th_etag, "");
	IT_ASSERT_EQ_INT(conflict_copies(&a, bucket, "lock", NULL), 0);
	fd = open(it_path(&a.m, "free"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "mine", 4, 0);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "free", "mine", 4);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	IT_ASSERT_EQ_INT(it_log_count(&a.m, "conflict on"), 0);
}

/* ------------------------------------------------------------ deletion */

IT_TEST(test_deleted_under_writer)
{
	char bucket[64];
	struct side a;
	size_t n = 99;
	char **keys;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "d", "data", 4, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "d"), O_RDWR);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "X", 1, 0);
	IT_ASSERT_EQ_INT(it_s3_delete(bucket, "d"), 204);
	pwrite_all(fd, "Y", 1, 1);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_absent(bucket, "d");
	expect_conflict_copy(&a, bucket, "d", "XYta", 4);

	/* O_TRUNC: nothing read, the commit still may not recreate it. */
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "t", "gone soon", 9, NULL), 200);
	fd = open(it_path(&a.m, "t"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_delete(bucket, "t"), 204);
	pwrite_all(fd, "new", 3, 0);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_absent(bucket, "t");
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	/* Not recreated at release or unmount either. */
	keys = it_s3_list(bucket, NULL, &n);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_MSG(n == 0, "%zu keys left, first '%s'", n, keys[0]);
	it_strv_free(keys);
}

/* ------------------------------------------------------------- readers */

/* Read up to @p len bytes at the current offset; returns what read()
 * returned last (bytes in *got). */
static ssize_t read_some(int fd, unsigned char *buf, size_t len, size_t *got)
{
	ssize_t n = 0;

	*got = 0;
	while (*got < len) {
		n = read(fd, buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*got += (size_t)n;
	}
	return n;
}

/* A reader that already returned bytes of one version never gets bytes
 * of the next: it gets ESTALE. The object is larger than what
 * read-ahead fetches before the replacement lands (a 16 MiB chunk and
 * three ahead), so that a later GET meets the new version. */
IT_TEST(test_reader_never_mixes_versions)
{
	const size_t size = 128 * MIB;
	unsigned char *v1 = malloc(size), *v2 = malloc(size),
		      *buf = malloc(MIB);
	char bucket[64];
	struct side a;
	size_t off = 0, got = 0;
	ssize_t n;
	int fd, err = 0;

	IT_ASSERT(v1 != NULL && v2 != NULL && buf != NULL);
	it_random_bytes(v1, size, 31);
	it_random_bytes(v2, size, 32);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", v1, size, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "big"), O_RDONLY);
	IT_ASSERT_OK(fd);
	n = read_some(fd, buf, MIB, &got);
	IT_ASSERT_EQ_INT(got, MIB);
	IT_ASSERT_MEM(buf, v1, MIB);
	off = MIB;
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "big", v2, size, NULL), 200);
	for (;;) {
		errno = 0;
		n = read_some(fd, buf, MIB, &got);
		err = errno;
		/* Every byte returned, also before a failure, is v1's. */
		IT_ASSERT_MSG(memcmp(buf, v1 + off, got) == 0,
			      "bytes at %zu..%zu are not the first version's",
			      off, off + got);
		off += got;
		if (n <= 0)
			break;
	}
	IT_ASSERT_MSG(n < 0, "read the whole replaced object (%zu bytes) "
		      "without an error", off);
	IT_ASSERT_MSG(err == ESTALE, "read at %zu failed with %s, expected "
		      "ESTALE", off, strerror(err));
	it_log("ESTALE after %zu bytes of the first version", off);
	/* And it stays that way: never a byte of v2 from this handle. */
	IT_ASSERT_ERRNO(read(fd, buf, MIB), ESTALE);
	IT_ASSERT_OK(close(fd));
	/* A new open reads the new version. */
	fd = open(it_path(&a.m, "big"), O_RDONLY);
	IT_ASSERT_OK(fd);
	n = read_some(fd, buf, MIB, &got);
	IT_ASSERT_EQ_INT(got, MIB);
	IT_ASSERT_MEM(buf, v2, MIB);
	IT_ASSERT_OK(close(fd));
	free(v1);
	free(v2);
	free(buf);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* A read-only handle whose object is replaced before its first read may
 * refresh silently (or fail with ESTALE), but never mixes versions. */
IT_TEST(test_reader_refresh_before_first_read)
{
	const size_t n1 = 64 * 1024, n2 = 300 * 1024 + 7;
	unsigned char *v1 = malloc(n1), *v2 = malloc(n2),
		      *buf = malloc(n2 + 65536);
	char bucket[64];
	struct side a;
	size_t got = 0;
	ssize_t n;
	int fd, err;

	IT_ASSERT(v1 != NULL && v2 != NULL && buf != NULL);
	it_random_bytes(v1, n1, 41);
	it_random_bytes(v2, n2, 42);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "r", v1, n1, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "r"), O_RDONLY);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "r", v2, n2, NULL), 200);
	errno = 0;
	n = read_some(fd, buf, n2 + 65536, &got);
	err = errno;
	IT_ASSERT_OK(close(fd));
	if (n < 0 && got == 0) {
		IT_ASSERT_MSG(err == ESTALE, "first read failed with %s",
			      strerror(err));
		it_log("no refresh: the first read failed with ESTALE");
	} else {
		IT_ASSERT_MSG(n == 0, "read failed after %zu bytes: %s", got,
			      strerror(err));
		IT_ASSERT_MSG(got == n2, "read %zu bytes; the new version has "
			      "%zu, the old %zu", got, n2, n1);
		IT_ASSERT_MEM(buf, v2, n2);
		it_log("refreshed: read the new version entirely");
	}
	free(v1);
	free(v2);
	free(buf);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* Read @p path whole (open, read to EOF, close): its bytes into @p buf
 * (@p cap), the count returned; -errno of the first failing read. */
static ssize_t read_whole(const char *path, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY), err;

	IT_ASSERT_OK(fd);
	n = read_some(fd, buf, cap, &got);
	err = errno;
	IT_ASSERT_OK(close(fd));
	if (n < 0) {
		IT_ASSERT_MSG(got == 0, "read failed with %s after %zu bytes",
			      strerror(err), got);
		return -err;
	}
	return (ssize_t)got;
}

/* An object replaced by a longer, then by a shorter version while the
 * kernel still holds the old size (attr_ttl not over): a read-only open
 * never returns the new version cut at the old size, nor padded with
 * zeros up to it. Its first read may fail with ESTALE (the snapshot was
 * stale); the next open reads the new version whole. */
IT_TEST(test_reader_never_cut_at_kernel_size)
{
	static const char *versions[] = {"abcd", "ABCDEFGHIJK", "xy"};
	unsigned char buf[256];
	char bucket[64];
	struct it_mount m;
	struct stat st;
	ssize_t n;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "v", versions[0], 4, NULL), 200);
	it_mount(&m, bucket, "attr_ttl=20000,dir_ttl=20000");
	for (int i = 1; i < 3; i++) {
		size_t len = strlen(versions[i]);

		/* The kernel and the mount learn the current size; no page
		 * of it is cached. */
		IT_ASSERT_OK(stat(it_path(&m, "v"), &st));
		IT_ASSERT_EQ_INT(st.st_size, strlen(versions[i - 1]));
		IT_ASSERT_EQ_INT(it_s3_put(bucket, "v", versions[i], len, NULL),
				 200);
		n = read_whole(it_path(&m, "v"), buf, sizeof(buf));
		if (n == -ESTALE) {
			it_log("%s -> %s: first read ESTALE", versions[i - 1],
			       versions[i]);
			n = read_whole(it_path(&m, "v"), buf, sizeof(buf));
		}
		IT_ASSERT_MSG(n == (ssize_t)len &&
				      memcmp(buf, versions[i], len) == 0,
			      "read \"%.*s\" (%zd), the server has \"%s\"",
			      n > 0 ? (int)n : 0, (const char *)buf, n,
			      versions[i]);
		/* Read again: the same, whole. */
		n = read_whole(it_path(&m, "v"), buf, sizeof(buf));
		IT_ASSERT_MSG(n == (ssize_t)len &&
				      memcmp(buf, versions[i], len) == 0,
			      "read again \"%.*s\" (%zd), the server has "
			      "\"%s\"",
			      n > 0 ? (int)n : 0, (const char *)buf, n,
			      versions[i]);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* Same, when the first open after the remote change shared the file with
 * another handle (read around the page cache): what the kernel was told
 * of the size must survive that, or a later open through the page cache
 * reads the new version cut at the old size. (Seen in CI when a
 * release of the previous handle was still on its way.) */
IT_TEST(test_reader_never_cut_after_shared_open)
{
	static const char longer[] = "ABCDEFGHIJK";
	unsigned char buf[256];
	char bucket[64];
	struct it_mount m;
	struct stat st;
	ssize_t n;
	int fd1, fd2;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "v", "abcd", 4, NULL), 200);
	it_mount(&m, bucket, "attr_ttl=20000,dir_ttl=20000");
	IT_ASSERT_OK(stat(it_path(&m, "v"), &st));
	IT_ASSERT_EQ_INT(st.st_size, 4);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "v", longer, sizeof(longer) - 1,
				   NULL),
			 200);
	fd1 = open(it_path(&m, "v"), O_RDONLY);
	IT_ASSERT_OK(fd1);
	fd2 = open(it_path(&m, "v"), O_RDONLY);
	IT_ASSERT_OK(fd2);
	IT_ASSERT_OK(close(fd2));
	IT_ASSERT_OK(close(fd1));
	for (int i = 0; i < 2; i++) {
		n = read_whole(it_path(&m, "v"), buf, sizeof(buf));
		if (n == -ESTALE && i == 0)
			n = read_whole(it_path(&m, "v"), buf, sizeof(buf));
		IT_ASSERT_MSG(n == (ssize_t)sizeof(longer) - 1 &&
				      memcmp(buf, longer, sizeof(longer) - 1) ==
					      0,
			      "read %d: \"%.*s\" (%zd), the server has \"%s\"",
			      i, n > 0 ? (int)n : 0, (const char *)buf, n,
			      longer);
	}
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* A writable open never starts from a stale cached ETag: with attr_ttl
 * long and the object replaced by another client after this mount
 * cached it, a write-close is no (spurious) conflict and builds on the
 * current version: O_TRUNC replaces it, O_APPEND appends to it. */
IT_TEST(test_writer_after_remote_change_no_spurious_conflict)
{
	char bucket[64];
	struct it_mount m;
	struct stat st;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "w", "one\n", 4, NULL), 200);
	it_mount(&m, bucket, "attr_ttl=20000,dir_ttl=20000");

	IT_ASSERT_OK(stat(it_path(&m, "w"), &st));
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "w", "two, longer\n", 12, NULL),
			 200);
	fd = open(it_path(&m, "w"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "mine\n", 5), 5);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "w", "mine\n", 5);

	IT_ASSERT_OK(stat(it_path(&m, "w"), &st));
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "w", "three\n", 6, NULL), 200);
	fd = open(it_path(&m, "w"), O_WRONLY | O_APPEND);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(write(fd, "+me\n", 4), 4);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "w", "three\n+me\n", 10);
	IT_ASSERT_EQ_INT(it_unmount(&m), 0);
}

/* A reader through the page cache whose object was replaced by a longer
 * version, which the kernel has since been told of (a stat on this
 * mount): at the end of its version the read fails with ESTALE. The
 * kernel pads a short page read with zeros up to the size it believes;
 * a reader must never be handed those as bytes of its file. */
IT_TEST(test_reader_end_after_kernel_saw_newer)
{
	const size_t n1 = 6000, n2 = 9000;
	unsigned char v1[6000], v2[9000], buf[16384];
	char bucket[64];
	struct side a;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, err;

	it_random_bytes(v1, n1, 43);
	it_random_bytes(v2, n2, 44);
	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "e", v1, n1, NULL), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "e"), O_RDONLY);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(read(fd, buf, 100), 100);
	IT_ASSERT_MEM(buf, v1, 100);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "e", v2, n2, NULL), 200);
	usleep(1200 * 1000); /* past attr_ttl */
	IT_ASSERT_OK(stat(it_path(&a.m, "e"), &st));
	IT_ASSERT_EQ_INT(st.st_size, n2);
	errno = 0;
	n = read_some(fd, buf, sizeof(buf), &got);
	err = errno;
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_MSG(n < 0 && err == ESTALE,
		      "read after the kernel saw the newer size: %zd, %zu "
		      "bytes, %s", n, got, strerror(err));
	/* Whatever came before the error is the old version's. */
	IT_ASSERT(got <= n1 - 100);
	IT_ASSERT_MEM(buf, v1 + 100, got);
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* ------------------------------------------------------------- xattrs */

static size_t get_etag(const char *path, int fd, char *out)
{
	ssize_t n = fd >= 0 ? fgetxattr(fd, "user.etag", out, IT_ETAG_MAX - 1)
			    : getxattr(path, "user.etag", out,
				       IT_ETAG_MAX - 1);

	IT_ASSERT_MSG(n > 0, "getxattr user.etag: %s", strerror(errno));
	out[n] = '\0';
	return (size_t)n;
}

static void expect_same_etag(const char *a, const char *b)
{
	char ua[IT_ETAG_MAX], ub[IT_ETAG_MAX];

	it_etag_unquote(a, ua);
	it_etag_unquote(b, ub);
	IT_ASSERT_MSG(ua[0] != '\0' && strcmp(ua, ub) == 0,
		      "ETag '%s' != '%s'", a, b);
}

/* Compare-and-swap across opens: a commit made conditional, through
 * user.etag.if-match, on a version read earlier. */
IT_TEST(test_xattr_if_match)
{
	char bucket[64], e1[IT_ETAG_MAX], e2[IT_ETAG_MAX], srv[IT_ETAG_MAX];
	struct side a;
	size_t len;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "x", "v1", 2, srv), 200);
	mount_side(&a, bucket);
	len = get_etag(it_path(&a.m, "x"), -1, e1);
	expect_same_etag(e1, srv);

	/* Unchanged since E1: the conditional commit goes through. */
	fd = open(it_path(&a.m, "x"), O_RDWR | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(fsetxattr(fd, "user.etag.if-match", e1, len, 0));
	pwrite_all(fd, "v2 by A", 7, 0);
	IT_ASSERT_OK(close(fd));
	expect_server(bucket, "x", "v2 by A", 7);

	/* E2 read through the handle; then the client writes; a later
	 * open conditional on E2 must fail although it saw the new ETag
	 * at open. */
	fd = open(it_path(&a.m, "x"), O_RDONLY);
	IT_ASSERT_OK(fd);
	len = get_etag(NULL, fd, e2);
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "x", NULL, srv, NULL, NULL, 0),
			 200);
	expect_same_etag(e2, srv);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "x", "v3 by client", 12, srv),
			 200);
	fd = open(it_path(&a.m, "x"), O_RDWR | O_TRUNC);
	IT_ASSERT_OK(fd);
	IT_ASSERT_OK(fsetxattr(fd, "user.etag.if-match", e2, len, 0));
	pwrite_all(fd, "v4 by A", 7, 0);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	expect_theirs(bucket, "x", "v3 by client", 12, srv, "");

	/* Without a writable handle there is nothing to make conditional;
	 * an empty value is invalid. */
	IT_ASSERT_ERRNO(setxattr(it_path(&a.m, "x"), "user.etag.if-match", e2,
				 len, 0), ENOENT);
	fd = open(it_path(&a.m, "x"), O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_ERRNO(fsetxattr(fd, "user.etag.if-match", "", 0, 0),
			EINVAL);
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* user.etag of an open handle is its snapshot, not the server's now. */
IT_TEST(test_xattr_etag_is_snapshot)
{
	char bucket[64], e1[IT_ETAG_MAX], e[IT_ETAG_MAX], srv[IT_ETAG_MAX];
	struct side a;
	int fd;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "s", "one", 3, e1), 200);
	mount_side(&a, bucket);
	fd = open(it_path(&a.m, "s"), O_RDONLY);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "s", "two", 3, srv), 200);
	get_etag(NULL, fd, e);
	expect_same_etag(e, e1);
	IT_ASSERT_OK(close(fd));
	/* No handle: the server's current ETag. */
	get_etag(it_path(&a.m, "s"), -1, e);
	expect_same_etag(e, srv);
	/* After a commit, the handle's xattr is the ETag it adopted. */
	fd = open(it_path(&a.m, "s"), O_WRONLY | O_TRUNC);
	IT_ASSERT_OK(fd);
	pwrite_all(fd, "three", 5, 0);
	IT_ASSERT_OK(fsync(fd));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "s", NULL, srv, NULL, NULL, 0),
			 200);
	get_etag(NULL, fd, e);
	expect_same_etag(e, srv);
	IT_ASSERT_OK(close(fd));
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
}

/* ------------------------------------------------------- lost updates */

enum { CNT_DONE = 0, CNT_OPEN = 20, CNT_READ, CNT_WRITE, CNT_CLOSE,
       CNT_GIVEUP };

/* @p rounds successful increments of the decimal counter at @p path,
 * retrying on conflicts. Exit code. */
static int counter_child(const char *path, int rounds)
{
	int done = 0, attempts = 0;

	while (done < rounds) {
		char buf[32], out[32];
		ssize_t n;
		long v;
		int fd, len;

		if (++attempts > 100 * rounds)
			return CNT_GIVEUP;
		fd = open(path, O_RDWR);
		if (fd < 0)
			return CNT_OPEN;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			int e = errno;

			close(fd);
			if (e == ESTALE)
				continue;
			return CNT_READ;
		}
		buf[n] = '\0';
		v = strtol(buf, NULL, 10);
		len = snprintf(out, sizeof(out), "%ld", v + 1);
		if (pwrite(fd, out, (size_t)len, 0) != len ||
		    ftruncate(fd, len) != 0) {
			int e = errno;

			close(fd);
			if (e == ESTALE)
				continue;
			return CNT_WRITE;
		}
		if (close(fd) == 0)
			done++;
		else if (errno != EBUSY)
			return CNT_CLOSE;
		/* else: lost the race; read again and retry */
	}
	return CNT_DONE;
}

/* Four processes, two per mount, each adding 25 to a shared counter by
 * read-modify-write: no increment is lost. */
IT_TEST(test_lost_update_counter)
{
	enum { PROCS = 4, ROUNDS = 25 };
	char bucket[64], want[16];
	struct side a, b;
	pid_t pids[PROCS];
	long t0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "counter", "0", 1, NULL), 200);
	mount_side(&a, bucket);
	mount_side(&b, bucket);
	t0 = it_now_ms();
	for (int i = 0; i < PROCS; i++) {
		const char *path = it_path(i % 2 ? &b.m : &a.m, "counter");

		pids[i] = fork();
		IT_ASSERT_OK(pids[i]);
		if (pids[i] == 0)
			_exit(counter_child(path, ROUNDS));
	}
	for (int i = 0; i < PROCS; i++) {
		int st = 0;

		IT_ASSERT_EQ_INT(waitpid(pids[i], &st, 0), pids[i]);
		IT_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == CNT_DONE,
			      "incrementer %d: status 0x%x", i, st);
	}
	it_log("%d increments in %ld ms; %d + %d conflict copies",
	       PROCS * ROUNDS, it_now_ms() - t0,
	       conflict_copies(&a, bucket, "counter", NULL),
	       conflict_copies(&b, bucket, "counter", NULL));
	snprintf(want, sizeof(want), "%d", PROCS * ROUNDS);
	expect_server(bucket, "counter", want, strlen(want));
	IT_ASSERT_EQ_INT(it_unmount(&a.m), 0);
	IT_ASSERT_EQ_INT(it_unmount(&b.m), 0);
}
