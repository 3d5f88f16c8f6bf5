/*
 * File helpers of the integration tests: whole-file reads and writes
 * through the mount, sorted directory listings, mount log searches and
 * deterministic pseudo-random bytes. Contracts in harness.h.
 *
 * Concurrency: tests run on the main thread only.
 */
#include "harness.h"
#include "harness_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* --------------------------------------------------------------- files */

int it_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && !err)
		err = errno;
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **it_list_dir(const char *path, size_t *n_out)
{
	size_t n = 0, cap = 64;
	char **v = calloc(cap + 1, sizeof(*v));
	struct dirent *d;
	DIR *dir;

	IT_ASSERT(v != NULL);
	dir = opendir(path);
	IT_ASSERT_MSG(dir != NULL, "opendir %s: %s", path, strerror(errno));
	errno = 0;
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **bigger = realloc(v, (2 * cap + 1) * sizeof(*v));

			IT_ASSERT(bigger != NULL);
			v = bigger;
			cap *= 2;
		}
		v[n] = strdup(d->d_name);
		IT_ASSERT(v[n] != NULL);
		n++;
		v[n] = NULL;
	}
	IT_ASSERT_MSG(errno == 0, "readdir %s: %s", path, strerror(errno));
	closedir(dir);
	qsort(v, n, sizeof(*v), cmp_str);
	*n_out = n;
	return v;
}

int it_read_file(const char *path, void **data, size_t *len)
{
	struct membuf b = {.max = IT_BODY_MAX};
	char chunk[65536];
	int fd, err = 0;
	ssize_t n;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		if (it_membuf_add(&b, chunk, (size_t)n) < 0) {
			err = ENOMEM;
			break;
		}
	}
	if (close(fd) != 0 && !err)
		err = errno;
	if (err) {
		free(b.p);
		return err;
	}
	*data = b.p ? b.p : calloc(1, 1);
	*len = b.len;
	return *data ? 0 : ENOMEM;
}

size_t it_log_count(const struct it_mount *m, const char *needle)
{
	char *text = it_read_text(m->log, NULL);
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

bool it_log_contains(const struct it_mount *m, const char *needle)
{
	return it_log_count(m, needle) > 0;
}

void it_random_bytes(void *buf, size_t n, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull, v;
	size_t i, k;

	for (i = 0; i < n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dull;
		for (k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(v >> (8 * k));
	}
}

unsigned long long it_mount_stat(const struct it_mount *m, const char *what)
{
	char text[512], key[32];
	ssize_t n = getxattr(it_path(m, NULL), "user.etagfs.stats", text,
			     sizeof(text) - 1);
	const char *p;

	IT_ASSERT_MSG(n > 0, "getxattr user.etagfs.stats: %s",
		      strerror(errno));
	text[n] = '\0';
	IT_SNPRINTF(key, "%s=", what);
	p = strstr(text, key);
	IT_ASSERT_MSG(p != NULL, "no %s in '%s'", key, text);
	return strtoull(p + strlen(key), NULL, 10);
}
