/*
 * Bounded soak: two mounts of one bucket under load from 24 processes
 * for ETAGFS_SOAK_SECONDS (default 60; scripts/soak runs it longer).
 *
 *  - 16 writers, 8 per mount. Each loops: read-modify-write of one of a
 *    few shared files (append a line naming itself and a counter that is
 *    new for every attempt), and now and then a file of its own (create,
 *    write, close). EBUSY from close() is a true conflict: the writer
 *    tries again with a new counter.
 *  - 8 readers, 4 per mount: list the directory, read a file fully and
 *    check that what they read is one version, never a mix. An own file
 *    read before its writer's close() is empty (the version its O_EXCL
 *    create committed), or on the writer's mount a prefix of its bytes.
 *
 * Every shared file is self-checking: a header line with a generation
 * number that each read-modify-write increments, and each further line
 * carries a hash of all the bytes before it. Any mix of two versions
 * (header of one, lines of another, a torn line) breaks a hash.
 *
 * At the end, with the independent S3 client:
 *  - errors other than EBUSY (conflicts) and ESTALE (a read overtaken by
 *    a newer version) fail the test; both are counted and reported;
 *  - lost updates: the appends whose close() succeeded are in the final
 *    files exactly once, and no append whose close() failed is there;
 *  - every own file has exactly the bytes its writer wrote;
 *  - no multipart upload is left;
 *  - each etagfs's VmRSS and open fds (/proc/PID) at the start, after a
 *    warm-up and at the end: growth beyond ETAGFS_SOAK_RSS_MB (64) MiB
 *    or ETAGFS_SOAK_FDS (32) non-socket descriptors past the warm-up, or
 *    more sockets than the connection pool may hold, fails.
 *
 * The load runs in forked processes (one syscall stream each, like real
 * programs); they report through a shared memory block and record files,
 * never through the harness's assertions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

#define N_WRITERS 16
#define N_READERS 8 /* at most; ETAGFS_SOAK_READERS */
#define N_PROCS (N_WRITERS + N_READERS)
#define N_SHARED 4
#define MAX_OWN 100000	/* own files per writer, at most */
#define FILE_MAX (4 * MIB) /* largest file a reader keeps */
/* Each of etagfs's pooled libcurl handles (max_connections, 32) holds
 * its connection and the socketpair of its private multi handle (curl
 * >= 7.68 wakes it through one): 3 descriptors, measured (ss -tp/-xp). */
#define POOL_FDS (3 * 32)

/* "H <gen> <salt>\n" and "w<id> c<counter> <hash>\n", fixed widths. */
#define HDR_LEN 28
#define LINE_LEN 29

/* --------------------------------------------------- shared counters */

enum counter {
	C_RMW_OK,	/* appends whose close() succeeded */
	C_RMW_BUSY,	/* close() EBUSY: conflicts, retried */
	C_OPEN_STALE,	/* open or read of a writer: ESTALE */
	C_OWN_OK,	/* own files written */
	C_READS,	/* complete reads checked */
	C_READ_STALE,	/* reads that failed with ESTALE */
	C_LISTS,	/* directory listings */
	C_PARTIAL,	/* an own file read on its writer's mount while
			   being written: a prefix of its bytes */
	C_CREATED,	/* an own file read on the other mount between its
			   O_EXCL create and its close: the empty version */
	C_ERRORS,	/* anything else: fails the test */
	C_BAD_CONTENT,	/* a read that is not one consistent version */
	C_N
};

static const char *const counter_names[C_N] = {
	"appends", "conflicts(EBUSY)", "writer ESTALE", "own files",
	"reads", "reads ESTALE", "listings", "reads of files being written",
	"reads of just-created files", "errors", "inconsistent reads",
};

struct slot {
	long c[C_N];
	char first_error[256];
};

struct board {
	struct slot slot[N_PROCS];
};

static struct board *board;

/* A process's note of an unexpected outcome: counted, the first kept. */
static void note_error(struct slot *s, enum counter which, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

static void note_error(struct slot *s, enum counter which, const char *fmt,
		       ...)
{
	va_list ap;

	s->c[which]++;
	if (s->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->first_error, sizeof(s->first_error), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------- file format */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse @p n decimal digits at @p p; -1 if any is not a digit. */
static long parse_dec(const char *p, int n)
{
	long v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static bool parse_hex64(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	int i, d;

	for (i = 0; i < 16; i++) {
		d = hexval(p[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* One append of a shared file: which writer, which attempt. */
struct rec {
	int writer;
	long counter;
};

/*
 * Check a shared file's content: empty, or a header and lines each with
 * the right hash. 0 and (when @p recs) the lines' records in @p recs
 * (room for @p max) and their number in *@p n, and the generation in
 * *@p gen; else -1 with the reason in @p why.
 */
static int check_shared(const char *buf, size_t len, long *gen,
			struct rec *recs, size_t max, size_t *n, char *why,
			size_t why_len)
{
	uint64_t h = FNV_INIT, want;
	size_t off, k = 0;

	*gen = 0;
	if (n)
		*n = 0;
	if (len == 0)
		return 0;
	if (len < HDR_LEN || (len - HDR_LEN) % LINE_LEN != 0) {
		snprintf(why, why_len, "length %zu is not a header and whole "
			 "lines", len);
		return -1;
	}
	if (memcmp(buf, "H ", 2) != 0 || buf[10] != ' ' ||
	    buf[HDR_LEN - 1] != '\n' || (*gen = parse_dec(buf + 2, 8)) < 0 ||
	    !parse_hex64(buf + 11, &want)) {
		snprintf(why, why_len, "bad header \"%.27s\"", buf);
		return -1;
	}
	for (off = HDR_LEN; off < len; off += LINE_LEN) {
		const char *l = buf + off;
		long w, c;

		h = fnv1a(h, buf + (off == HDR_LEN ? 0 : off - LINE_LEN),
			  off == HDR_LEN ? HDR_LEN : LINE_LEN);
		if (l[0] != 'w' || l[3] != ' ' || l[4] != 'c' ||
		    l[11] != ' ' || l[LINE_LEN - 1] != '\n' ||
		    (w = parse_dec(l + 1, 2)) < 0 || w >= N_WRITERS ||
		    (c = parse_dec(l + 5, 6)) < 0 ||
		    !parse_hex64(l + 12, &want)) {
			snprintf(why, why_len, "bad line at offset %zu: "
				 "\"%.27s\"", off, l);
			return -1;
		}
		if (want != h) {
			snprintf(why, why_len, "hash mismatch at offset %zu "
				 "(generation %ld): a mix of versions", off,
				 *gen);
			return -1;
		}
		if (recs && k < max) {
			recs[k].writer = (int)w;
			recs[k].counter = c;
		}
		k++;
	}
	if (n)
		*n = k;
	return 0;
}

/*
 * The next version of a shared file: header generation + 1, every hash
 * recomputed (all bytes change), one more line for @p writer/@p counter.
 * Into @p out (room for @p len + HDR_LEN + LINE_LEN); its length.
 */
/* The line of @p writer/@p counter after bytes hashing to @p h. */
static void put_line(char *out, int writer, long counter, uint64_t h)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "w%02d c%06ld %016llx\n", writer % 100,
		 counter % 1000000, (unsigned long long)h);
	memcpy(out, tmp, LINE_LEN);
}

static size_t next_version(const char *old, size_t len, long gen,
			   int writer, long counter, uint64_t salt, char *out)
{
	uint64_t h = FNV_INIT;
	size_t off, n;
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "H %08ld %016llx\n", (gen + 1) % 100000000,
		 (unsigned long long)salt);
	memcpy(out, tmp, HDR_LEN);
	h = fnv1a(h, out, HDR_LEN);
	n = HDR_LEN;
	for (off = HDR_LEN; off < len; off += LINE_LEN) {
		put_line(out + n, (int)parse_dec(old + off + 1, 2),
			 parse_dec(old + off + 5, 6), h);
		h = fnv1a(h, out + n, LINE_LEN);
		n += LINE_LEN;
	}
	put_line(out + n, writer, counter, h);
	return n + LINE_LEN;
}

/* Own file @p k of @p writer: its size and bytes (deterministic). */
static size_t own_size(int writer, long k)
{
	uint64_t x = (uint64_t)writer * 1000003u + (uint64_t)k * 7919u;

	if (k % 16 == 15)
		return MIB + (size_t)(x % 4096); /* now and then a big one */
	return 1 + (size_t)(x % (32 * KIB));
}

static void own_bytes(int writer, long k, unsigned char *buf, size_t n)
{
	it_random_bytes(buf, n, ((uint64_t)writer << 32) ^ (uint64_t)k ^ 0x50a);
}

/* --------------------------------------------------------- processes */

struct plan {
	const char *mnt[2];
	const char *rec_dir;
	long deadline_ms;
};

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* Read all of @p fd into @p buf (room for @p max); length or -errno. */
static long read_all(int fd, char *buf, size_t max)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (n == max)
			return -EFBIG;
		r = read(fd, buf + n, max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return (long)n;
		n += (size_t)r;
	}
}

static bool write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	ssize_t r;

	while (n > 0) {
		r = write(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
	}
	return true;
}

/* One read-modify-write of a shared file. */
static void writer_rmw(struct slot *s, const char *mnt, int id, int file,
		       long counter, uint64_t salt, char *old, char *neu,
		       FILE *rec)
{
	char path[PATH_MAX], why[160];
	long len, gen;
	size_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/shared-%d", mnt, file);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		e = errno;
		if (e == ESTALE)
			s->c[C_OPEN_STALE]++;
		else
			note_error(s, C_ERRORS, "writer %d: open %s: %s", id,
				   path, strerrorname_np(e));
		return;
	}
	len = read_all(fd, old, FILE_MAX);
	if (len < 0) {
		if (len == -ESTALE)
			s->c[C_OPEN_STALE]++;
		else
			note_error(s, C_ERRORS, "writer %d: read %s: %s", id,
				   path, strerrorname_np((int)-len));
		close(fd);
		return;
	}
	if (check_shared(old, (size_t)len, &gen, NULL, 0, NULL, why,
			 sizeof(why)) != 0) {
		note_error(s, C_BAD_CONTENT, "writer %d read %s: %s", id,
			   path, why);
		close(fd);
		return;
	}
	n = next_version(old, (size_t)len, gen, id, counter, salt, neu);
	if (pwrite(fd, neu, n, 0) != (ssize_t)n) {
		note_error(s, C_ERRORS, "writer %d: pwrite %s: %s", id, path,
			   strerrorname_np(errno));
		close(fd);
		return;
	}
	if (close(fd) == 0) {
		s->c[C_RMW_OK]++;
		fprintf(rec, "ok %d %ld\n", file, counter);
	} else if ((e = errno) == EBUSY) {
		s->c[C_RMW_BUSY]++;
		fprintf(rec, "busy %d %ld\n", file, counter);
	} else {
		fprintf(rec, "fail %d %ld\n", file, counter);
		note_error(s, C_ERRORS, "writer %d: close %s: %s", id, path,
			   strerrorname_np(e));
	}
	fflush(rec);
}

/* One new file of the writer's own. */
static void writer_own(struct slot *s, const char *mnt, int id, long k,
		       unsigned char *buf, FILE *rec)
{
	char path[PATH_MAX];
	size_t n = own_size(id, k);
	int fd, e;

	own_bytes(id, k, buf, n);
	snprintf(path, sizeof(path), "%s/own-w%02d-%06ld", mnt, id, k);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		note_error(s, C_ERRORS, "writer %d: create %s: %s", id, path,
			   strerrorname_np(errno));
		return;
	}
	if (!write_all(fd, buf, n)) {
		note_error(s, C_ERRORS, "writer %d: write %s: %s", id, path,
			   strerrorname_np(errno));
		close(fd);
		return;
	}
	if (close(fd) != 0) {
		e = errno;
		note_error(s, C_ERRORS, "writer %d: close %s: %s", id, path,
			   strerrorname_np(e));
		fprintf(rec, "ownfail %ld\n", k);
	} else {
		s->c[C_OWN_OK]++;
		fprintf(rec, "own %ld\n", k);
	}
	fflush(rec);
}

static void writer_main(const struct plan *p, int id)
{
	struct slot *s = &board->slot[id];
	const char *mnt = p->mnt[id % 2];
	char path[PATH_MAX + 32];
	char *old = malloc(FILE_MAX), *neu = malloc(FILE_MAX + 2 * LINE_LEN);
	unsigned char *own = malloc(2 * MIB);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)(id + 1) * 7777;
	long counter = 0, k = 0;
	FILE *rec;

	snprintf(path, sizeof(path), "%s/w%02d.rec", p->rec_dir, id);
	rec = fopen(path, "we");
	if (!rec || !old || !neu || !own) {
		note_error(s, C_ERRORS, "writer %d: setup failed", id);
		_exit(1);
	}
	while (it_now_ms() < p->deadline_ms && counter < 999999) {
		uint64_t r = rng_next(&x);

		if (r % 8 == 0 && k < MAX_OWN)
			writer_own(s, mnt, id, k++, own, rec);
		else
			writer_rmw(s, mnt, id, (int)(r / 8 % N_SHARED),
				   counter++, rng_next(&x), old, neu, rec);
	}
	fclose(rec);
	_exit(0);
}

/* Check a whole read of @p name against what it must be. */
/* Keep an inconsistent read for the post mortem (3 per reader). */
static void dump_bad(const char *dir, int id, const char *name,
		     const char *buf, size_t len)
{
	static int dumped;
	char path[PATH_MAX + 64];
	int fd;

	if (dumped >= 3)
		return;
	snprintf(path, sizeof(path), "%s/bad-r%d-%d-%s", dir, id, dumped++,
		 name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (!write_all(fd, buf, len)) {
		/* a post mortem aid only */
	}
	close(fd);
}

static void reader_check(struct slot *s, int id, const char *name,
			 const char *buf, size_t len, const char *dir)
{
	char why[160];
	long gen, w, k;
	unsigned char *want;
	size_t n;

	if (strncmp(name, "shared-", 7) == 0) {
		if (check_shared(buf, len, &gen, NULL, 0, NULL, why,
				 sizeof(why)) != 0) {
			note_error(s, C_BAD_CONTENT, "reader %d, %s (%zu "
				   "bytes): %s", id, name, len, why);
			dump_bad(dir, id, name, buf, len);
		}
		return;
	}
	if (strncmp(name, "own-w", 5) != 0 || strlen(name) != 14 ||
	    (w = parse_dec(name + 5, 2)) < 0 || name[7] != '-' ||
	    (k = parse_dec(name + 8, 6)) < 0) {
		note_error(s, C_ERRORS, "reader %d: unexpected file %s", id,
			   name);
		return;
	}
	n = own_size((int)w, k);
	want = malloc(n);
	if (!want)
		return;
	own_bytes((int)w, k, want, n);
	if (len < n && w % 2 == id % 2 && memcmp(buf, want, len) == 0) {
		/* On its writer's mount a file being written shows what
		 * was written so far, as on a local file system. */
		s->c[C_PARTIAL]++;
	} else if (len == 0) {
		/* O_CREAT|O_EXCL commits an empty object at open (that is
		 * what makes it atomic across machines): until the writer's
		 * close(), that empty version is the file, on any mount. */
		s->c[C_CREATED]++;
	} else if (len != n || memcmp(buf, want, n) != 0)
		note_error(s, C_BAD_CONTENT, "reader %d, %s: %zu bytes, not "
			   "the %zu its writer wrote%s", id, name, len, n,
			   len < n && memcmp(buf, want, len) == 0 ?
				   " (a prefix of them)" : "");
	free(want);
}

static void reader_main(const struct plan *p, int id)
{
	struct slot *s = &board->slot[N_WRITERS + id];
	const char *mnt = p->mnt[id % 2];
	char *buf = malloc(FILE_MAX);
	char path[PATH_MAX], name[NAME_MAX + 1];
	uint64_t x = 0xdeadbeefcafef00dull ^ (uint64_t)(id + 1) * 31337;

	if (!buf) {
		note_error(s, C_ERRORS, "reader %d: out of memory", id);
		_exit(1);
	}
	while (it_now_ms() < p->deadline_ms) {
		uint64_t r = rng_next(&x);
		long len;
		int fd;

		if (r % 4 == 0) {
			/* a shared file: the contended case */
			snprintf(name, sizeof(name), "shared-%d",
				 (int)(r / 4 % N_SHARED));
		} else {
			/* anything the listing shows */
			struct dirent *de;
			uint64_t count = 0;
			DIR *d = opendir(mnt);

			if (!d) {
				note_error(s, C_ERRORS, "reader %d: opendir: "
					   "%s", id, strerrorname_np(errno));
				continue;
			}
			name[0] = '\0';
			errno = 0;
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				/* reservoir sampling: each name equally */
				if (rng_next(&x) % ++count == 0)
					snprintf(name, sizeof(name), "%s",
						 de->d_name);
			}
			if (errno)
				note_error(s, C_ERRORS, "reader %d: readdir: "
					   "%s", id, strerrorname_np(errno));
			closedir(d);
			s->c[C_LISTS]++;
			if (!name[0])
				continue;
		}
		snprintf(path, sizeof(path), "%s/%s", mnt, name);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			if (errno == ESTALE)
				s->c[C_READ_STALE]++;
			else
				note_error(s, C_ERRORS, "reader %d: open %s: "
					   "%s", id, name,
					   strerrorname_np(errno));
			continue;
		}
		len = read_all(fd, buf, FILE_MAX);
		if (close(fd) != 0 && len >= 0)
			len = -errno;
		if (len == -ESTALE) {
			s->c[C_READ_STALE]++;
			continue;
		}
		if (len < 0) {
			note_error(s, C_ERRORS, "reader %d: read %s: %s", id,
				   name, strerrorname_np((int)-len));
			continue;
		}
		s->c[C_READS]++;
		reader_check(s, id, name, buf, (size_t)len, p->rec_dir);
	}
	_exit(0);
}

/* ----------------------------------------------------- the test side */

struct usage {
	long rss_kib;
	int fds;     /* all open descriptors */
	int sockets; /* of them, sockets: the connection pool's */
};

static void sample(pid_t pid, struct usage *u)
{
	char path[64], line[256];
	struct dirent *de;
	FILE *f;
	DIR *d;

	u->rss_kib = -1;
	u->fds = -1;
	u->sockets = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	IT_ASSERT_MSG(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			char *end;

			errno = 0;
			u->rss_kib = strtol(line + 6, &end, 10);
			IT_ASSERT(errno == 0 && end != line + 6);
		}
	fclose(f);
	IT_ASSERT_MSG(u->rss_kib >= 0, "no VmRSS in %s", path);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	IT_ASSERT_MSG(d != NULL, "%s: %s", path, strerror(errno));
	u->fds = 0;
	u->sockets = 0;
	while ((de = readdir(d)) != NULL) {
		char link[PATH_MAX + 64], target[64];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		u->fds++;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strncmp(target, "socket:", 7) == 0)
				u->sockets++;
		}
	}
	closedir(d);
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	IT_ASSERT_MSG(errno == 0 && *end == '\0' && n >= lo && n <= hi,
		      "%s=%s: a number in %ld..%ld", name, v, lo, hi);
	return n;
}

/* Sort records by writer, then counter. */
static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->writer != y->writer)
		return x->writer - y->writer;
	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* What the writers recorded, per shared file. */
struct expect {
	struct rec *ok[N_SHARED];
	size_t n_ok[N_SHARED], cap_ok[N_SHARED];
	struct rec *busy[N_SHARED];
	size_t n_busy[N_SHARED], cap_busy[N_SHARED];
	long own[N_WRITERS]; /* own files written: 0..own-1 */
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Own files: every one written is listed (one LIST for all), and the
 * bytes of OWN_SAMPLE of them, spread evenly, are exact (a GET each
 * costs ~40 ms here: all of them would take longer than the load).
 * Problems counted.
 */
#define OWN_SAMPLE 200
static long verify_own(const char *bucket, const struct expect *e)
{
	unsigned char *want = malloc(2 * MIB);
	long total = 0, step, problems = 0, checked = 0, j;
	char key[32], **keys;
	const char *kp = key;
	size_t n_keys;
	int w;

	IT_ASSERT(want != NULL);
	keys = it_s3_list(bucket, "own-", &n_keys);
	IT_ASSERT_MSG(keys != NULL, "LIST %s failed", bucket);
	for (w = 0; w < N_WRITERS; w++)
		total += e->own[w];
	step = total / OWN_SAMPLE + 1;
	for (w = 0; w < N_WRITERS; w++) {
		for (j = 0; j < e->own[w]; j++) {
			void *got = NULL;
			size_t len = 0, n = own_size(w, j);
			long st;

			IT_SNPRINTF(key, "own-w%02d-%06ld", w, j);
			if (!bsearch(&kp, keys, n_keys, sizeof(*keys),
				     str_cmp)) {
				if (problems++ < 10)
					it_log("%s was written but is not "
					       "listed", key);
				continue;
			}
			if ((w * 7919 + j) % step != 0)
				continue;
			checked++;
			st = it_s3_get(bucket, key, &got, &len, NULL);
			own_bytes(w, j, want, n);
			if (st != 200 || len != n || memcmp(got, want, n)) {
				if (problems++ < 10)
					it_log("%s: HTTP %ld, %zu bytes, not "
					       "the %zu written",
					       key, st, len, n);
			}
			free(got);
		}
	}
	it_log("own files: %ld written, %zu listed, %ld read back", total,
	       n_keys, checked);
	if ((long)n_keys != total && problems++ < 10)
		it_log("%zu own files listed, %ld written", n_keys, total);
	it_strv_free(keys);
	free(want);
	return problems;
}

static void push(struct rec **v, size_t *n, size_t *cap, int w, long c)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 256;
		struct rec *bigger = realloc(*v, nc * sizeof(**v));

		IT_ASSERT(bigger != NULL);
		*v = bigger;
		*cap = nc;
	}
	(*v)[*n].writer = w;
	(*v)[*n].counter = c;
	(*n)++;
}

static void load_records(const char *dir, struct expect *e)
{
	char path[PATH_MAX + 16], line[128];
	int w, file, own_fails = 0;
	long c;

	for (w = 0; w < N_WRITERS; w++) {
		FILE *f;

		IT_SNPRINTF(path, "%s/w%02d.rec", dir, w);
		f = fopen(path, "re");
		IT_ASSERT_MSG(f != NULL, "%s: %s", path, strerror(errno));
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "ok %d %ld", &file, &c) == 2)
				push(&e->ok[file], &e->n_ok[file],
				     &e->cap_ok[file], w, c);
			else if (sscanf(line, "busy %d %ld", &file, &c) == 2 ||
				 sscanf(line, "fail %d %ld", &file, &c) == 2)
				push(&e->busy[file], &e->n_busy[file],
				     &e->cap_busy[file], w, c);
			else if (sscanf(line, "own %ld", &c) == 1)
				IT_ASSERT_EQ_INT(c, e->own[w]++);
			else if (sscanf(line, "ownfail %ld", &c) == 1)
				own_fails++;
			else
				IT_FAIL("%s: bad line \"%s\"", path, line);
		}
		fclose(f);
	}
	(void)own_fails; /* counted as errors by the writer already */
}

/* One shared file on the server against the records; problems counted. */
static long verify_shared(const char *bucket, int file, struct expect *e)
{
	char key[32], why[160];
	struct rec *got = NULL;
	size_t len = 0, n = 0, i, j;
	long gen, problems = 0;
	void *data = NULL;
	long st;

	IT_SNPRINTF(key, "shared-%d", file);
	st = it_s3_get(bucket, key, &data, &len, NULL);
	IT_ASSERT_MSG(st == 200, "GET %s: HTTP %ld", key, st);
	got = calloc(len / LINE_LEN + 1, sizeof(*got));
	IT_ASSERT(got != NULL);
	if (check_shared(data, len, &gen, got, len / LINE_LEN + 1, &n, why,
			 sizeof(why)) != 0)
		IT_FAIL("%s on the server is damaged: %s", key, why);
	qsort(got, n, sizeof(*got), rec_cmp);
	qsort(e->ok[file], e->n_ok[file], sizeof(struct rec), rec_cmp);
	qsort(e->busy[file], e->n_busy[file], sizeof(struct rec), rec_cmp);
	it_log("%s: generation %ld, %zu lines, %zu appends reported ok, %zu "
	       "refused", key, gen, n, e->n_ok[file], e->n_busy[file]);
	for (i = 1; i < n; i++)
		if (rec_cmp(&got[i - 1], &got[i]) == 0) {
			it_log("%s: w%02d c%06ld is there twice", key,
			       got[i].writer, got[i].counter);
			problems++;
		}
	/* Merge: every ok must be there; nothing else may be. */
	for (i = 0, j = 0; i < e->n_ok[file] || j < n;) {
		int cmp = i == e->n_ok[file] ? 1 :
			  j == n	      ? -1 :
					      rec_cmp(&e->ok[file][i], &got[j]);

		if (cmp == 0) {
			i++;
			j++;
		} else if (cmp < 0) {
			if (problems++ < 10)
				it_log("LOST UPDATE: %s: w%02d c%06ld "
				       "succeeded but is not there",
				       key, e->ok[file][i].writer,
				       e->ok[file][i].counter);
			i++;
		} else {
			bool refused = bsearch(&got[j], e->busy[file],
					       e->n_busy[file],
					       sizeof(struct rec),
					       rec_cmp) != NULL;

			if (problems++ < 10)
				it_log("%s: w%02d c%06ld is there although "
				       "%s",
				       key, got[j].writer, got[j].counter,
				       refused ? "its close() failed" :
						 "nobody reported it");
			j++;
		}
	}
	free(got);
	free(data);
	return problems;
}

/* Conflict copies in @p dir/@p bucket ("*.conflict-*", no ".partial"). */
static long count_copies(const char *dir, const char *bucket)
{
	char path[PATH_MAX + 80];
	struct dirent *de;
	long n = 0;
	DIR *d;

	IT_SNPRINTF(path, "%s/%s", dir, bucket);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".conflict-") &&
		    !strstr(de->d_name, ".partial"))
			n++;
	closedir(d);
	return n;
}

/* One end-of-run check: logged when it fails, counted in *@p failed. */
static void soak_check(int *failed, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void soak_check(int *failed, bool ok, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	it_log("CHECK FAILED: %s", msg);
	(*failed)++;
}

IT_TEST(test_soak)
{
	long seconds = env_long("ETAGFS_SOAK_SECONDS", 60, 1, 7 * 86400);
#ifdef __SANITIZE_ADDRESS__
	/* ASan keeps up to 256 MiB of freed memory in quarantine. */
	long rss_bound = env_long("ETAGFS_SOAK_RSS_MB", 512, 1, 1 << 20);
#else
	long rss_bound = env_long("ETAGFS_SOAK_RSS_MB", 64, 1, 1 << 20);
#endif
	long fd_bound = env_long("ETAGFS_SOAK_FDS", 32, 1, 1 << 20);
	int n_readers = (int)env_long("ETAGFS_SOAK_READERS", N_READERS, 0,
				      N_READERS);
	int n_procs = N_WRITERS + n_readers;
	struct usage u0[2], u1[2], u2[2];
	struct expect e;
	struct plan p;
	struct it_mount m[2];
	struct slot total;
	pid_t pids[N_PROCS];
	char bucket[64], rec_dir[PATH_MAX], key[32], conf[2][PATH_MAX];
	long copies;
	long t0, sum_problems = 0, warm_at;
	size_t n_mpu;
	char **mpu;
	int i, k, st, alive, failed;

	it_set_timeout((int)(seconds + 240));
	memset(&e, 0, sizeof(e));
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	IT_ASSERT(board != MAP_FAILED);
	memset(board, 0, sizeof(*board));
	it_fresh_bucket(bucket);
	for (i = 0; i < N_SHARED; i++) {
		IT_SNPRINTF(key, "shared-%d", i);
		IT_ASSERT_EQ_INT(it_s3_put(bucket, key, "", 0, NULL), 200);
	}
	for (i = 0; i < 2; i++) {
		char opts[2 * PATH_MAX];

		snprintf(conf[i], sizeof(conf[i]), "%s", it_mkdtemp("conf"));
		IT_SNPRINTF(opts, "staging_dir=%s,conflict_dir=%s%s",
			    it_mkdtemp("stage"), conf[i],
			    getenv("ETAGFS_IT_DEBUG") ? ",debug" : "");
		it_mount(&m[i], bucket, opts);
		sample(m[i].pid, &u0[i]);
	}
	snprintf(rec_dir, sizeof(rec_dir), "%s", it_mkdtemp("records"));
	p.mnt[0] = m[0].dir;
	p.mnt[1] = m[1].dir;
	p.rec_dir = rec_dir;
	t0 = it_now_ms();
	p.deadline_ms = t0 + seconds * 1000;
	it_log("%d writers and %d readers on two mounts for %ld s", N_WRITERS,
	       n_readers, seconds);
	fflush(stdout);
	for (i = 0; i < n_procs; i++) {
		pids[i] = fork();
		IT_ASSERT_OK(pids[i]);
		if (pids[i] == 0) {
			/* Not the harness's handlers: they unmount. */
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			signal(SIGPIPE, SIG_DFL);
			if (i < N_WRITERS)
				writer_main(&p, i);
			reader_main(&p, i - N_WRITERS);
		}
	}

	/* Warm-up: a sixth of the run (10 s at most), then the second
	 * sample; the pools and caches are full by then. */
	warm_at = t0 + (seconds * 1000 / 6 < 10000 ? seconds * 1000 / 6 :
						      10000);
	while (it_now_ms() < warm_at)
		usleep(100000);
	for (i = 0; i < 2; i++)
		sample(m[i].pid, &u1[i]);

	/* The children end at the deadline; one stuck in a syscall beyond
	 * a minute more is a hang. */
	alive = n_procs;
	while (alive > 0) {
		pid_t w = waitpid(-1, &st, WNOHANG);

		if (w > 0) {
			for (k = 0; k < n_procs; k++)
				if (pids[k] == w) {
					pids[k] = -1;
					alive--;
					IT_ASSERT_MSG(WIFEXITED(st) &&
						      WEXITSTATUS(st) == 0,
						      "load process %d ended "
						      "with status 0x%x",
						      k, st);
				}
			continue;
		}
		if (it_now_ms() > p.deadline_ms + 60000) {
			for (k = 0; k < n_procs; k++)
				if (pids[k] > 0)
					kill(pids[k], SIGKILL);
			IT_FAIL("%d load processes still running 60 s after "
				"the deadline", alive);
		}
		usleep(50000);
	}
	for (i = 0; i < 2; i++)
		sample(m[i].pid, &u2[i]);
	it_log("load over after %ld ms", it_now_ms() - t0);

	memset(&total, 0, sizeof(total));
	for (i = 0; i < N_PROCS; i++) {
		for (k = 0; k < C_N; k++)
			total.c[k] += board->slot[i].c[k];
		if (board->slot[i].first_error[0])
			it_log("process %d: first problem: %s", i,
			       board->slot[i].first_error);
	}
	for (k = 0; k < C_N; k++)
		it_log("%-20s %ld", counter_names[k], total.c[k]);
	if (total.c[C_RMW_OK] + total.c[C_RMW_BUSY] > 0)
		it_log("conflict rate: %.1f%% of read-modify-write commits",
		       100.0 * (double)total.c[C_RMW_BUSY] /
			       (double)(total.c[C_RMW_OK] +
					total.c[C_RMW_BUSY]));
	for (i = 0; i < 2; i++)
		it_log("etagfs %d (pid %d): VmRSS %ld -> %ld -> %ld KiB, fds "
		       "%d -> %d -> %d, of them sockets %d -> %d -> %d "
		       "(start, after warm-up, end)",
		       i, (int)m[i].pid, u0[i].rss_kib, u1[i].rss_kib,
		       u2[i].rss_kib, u0[i].fds, u1[i].fds, u2[i].fds,
		       u0[i].sockets, u1[i].sockets, u2[i].sockets);

	t0 = it_now_ms();
	load_records(rec_dir, &e);
	for (i = 0; i < N_SHARED; i++)
		sum_problems += verify_shared(bucket, i, &e);
	sum_problems += verify_own(bucket, &e);
	mpu = it_s3_list_multipart_uploads(bucket, &n_mpu);
	IT_ASSERT(mpu != NULL);
	it_strv_free(mpu);
	it_log("multipart uploads left: %zu; server checked in %ld ms", n_mpu,
	       it_now_ms() - t0);

	for (i = 0; i < N_SHARED; i++) {
		free(e.ok[i]);
		free(e.busy[i]);
	}
	/* Every check runs and says what it found, the unmounts too (a
	 * clean exit of etagfs, and under valgrind its own verdict), and
	 * then the test fails if any did. */
	failed = 0;
	soak_check(&failed, sum_problems == 0,
		   "%ld lost, duplicated or phantom appends or damaged "
		   "files (see above)", sum_problems);
	soak_check(&failed, total.c[C_BAD_CONTENT] == 0,
		   "%ld reads saw no consistent version (a mix of two; see "
		   "the first problem of each reader above)",
		   total.c[C_BAD_CONTENT]);
	soak_check(&failed, total.c[C_ERRORS] == 0,
		   "%ld unexpected errors (see the first of each process "
		   "above)", total.c[C_ERRORS]);
	soak_check(&failed,
		   total.c[C_RMW_OK] > 0 &&
			   (total.c[C_READS] > 0 || n_readers == 0),
		   "the load did nothing");
	soak_check(&failed, n_mpu == 0, "%zu multipart uploads left", n_mpu);
	/* Each conflict keeps the rejected bytes: one copy per EBUSY. */
	copies = count_copies(conf[0], bucket) + count_copies(conf[1], bucket);
	it_log("conflict copies kept: %ld", copies);
	soak_check(&failed, copies == total.c[C_RMW_BUSY],
		   "%ld conflict copies for %ld conflicts: every EBUSY must "
		   "keep its bytes",
		   copies, total.c[C_RMW_BUSY]);
	for (i = 0; i < 2; i++) {
		soak_check(&failed,
			   u2[i].rss_kib - u0[i].rss_kib <= rss_bound * 1024,
			   "etagfs %d: VmRSS grew by %ld KiB (bound %ld MiB)",
			   i, u2[i].rss_kib - u0[i].rss_kib, rss_bound);
		/* Sockets are the connection pool's: it grows with the
		 * number of requests in flight at once (higher on a slower,
		 * sanitized build), up to max_connections handles of 3
		 * descriptors each, and is bounded by that, not by time.
		 * Every other descriptor (staging files, manifests, locks)
		 * belongs to an open file: growth past the warm-up is a
		 * leak. */
		soak_check(&failed,
			   (u2[i].fds - u2[i].sockets) -
					   (u1[i].fds - u1[i].sockets) <=
				   fd_bound,
			   "etagfs %d: %d more open non-socket fds than "
			   "after the warm-up (bound %ld)",
			   i,
			   (u2[i].fds - u2[i].sockets) -
				   (u1[i].fds - u1[i].sockets),
			   fd_bound);
		soak_check(&failed,
			   u2[i].sockets - u0[i].sockets <= POOL_FDS,
			   "etagfs %d: %d more sockets than at the start "
			   "(the pool holds at most %d)",
			   i, u2[i].sockets - u0[i].sockets, POOL_FDS);
	}
	t0 = it_now_ms();
	for (i = 0; i < 2; i++)
		soak_check(&failed, it_unmount(&m[i]) == 0,
			   "etagfs %d did not unmount and exit cleanly (see "
			   "above)", i);
	it_log("unmounted in %ld ms", it_now_ms() - t0);
	IT_ASSERT_MSG(failed == 0, "%d of the checks failed (CHECK FAILED "
		      "lines above)", failed);
	munmap(board, sizeof(*board));
	board = NULL;
}
