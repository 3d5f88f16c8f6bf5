/*
 * Where the tests find their server and their etagfs: tests/rgw/rgw.sh's
 * env file or ETAGFS_TEST_*, and whether this machine can mount FUSE at
 * all. Contracts in harness.h and harness_int.h.
 *
 * Concurrency: called once, from main, before any test.
 */
#include "harness.h"
#include "harness_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------- environment */

static void set_field(char *dst, size_t len, const char *val,
		      const char *what)
{
	if (strlen(val) >= len)
		it_hard_error("%s too long", what);
	memcpy(dst, val, strlen(val) + 1);
}

static void env_assign(const char *key, const char *val)
{
	if (strcmp(key, "ETAGFS_TEST_ENDPOINT") == 0)
		set_field(it_env.endpoint, sizeof(it_env.endpoint), val, key);
	else if (strcmp(key, "ETAGFS_TEST_ACCESS_KEY") == 0)
		set_field(it_env.access_key, sizeof(it_env.access_key), val,
			  key);
	else if (strcmp(key, "ETAGFS_TEST_SECRET_KEY") == 0)
		set_field(it_env.secret_key, sizeof(it_env.secret_key), val,
			  key);
	else if (strcmp(key, "ETAGFS_TEST_REGION") == 0)
		set_field(it_env.region, sizeof(it_env.region), val, key);
}

/* $ETAGFS_RGW_DIR/env (tests/rgw/rgw.sh's) if present, else ETAGFS_TEST_*. */
void it_env_load(void)
{
	static const char *const keys[] = {
		"ETAGFS_TEST_ENDPOINT", "ETAGFS_TEST_ACCESS_KEY",
		"ETAGFS_TEST_SECRET_KEY", "ETAGFS_TEST_REGION"};
	const char *dir = getenv("ETAGFS_RGW_DIR");
	const char *bin = getenv("ETAGFS_BIN");
	char path[PATH_MAX], line[1024];
	size_t i, n;
	FILE *f = NULL;

	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/env", dir);
		f = fopen(path, "re");
	}
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *k = line, *eq;

			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(k, "export ", 7) == 0)
				k += 7;
			eq = strchr(k, '=');
			if (!eq)
				continue;
			*eq = '\0';
			env_assign(k, eq + 1);
		}
		fclose(f);
	} else {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (getenv(keys[i]))
				env_assign(keys[i], getenv(keys[i]));
	}
	if (!it_env.endpoint[0] || !it_env.access_key[0] ||
	    !it_env.secret_key[0])
		it_hard_error("no RGW to test against: %s/env is missing and "
			   "ETAGFS_TEST_ENDPOINT/_ACCESS_KEY/_SECRET_KEY are "
			   "not set. Run 'make check' (it starts one), or "
			   "'tests/rgw/rgw.sh start DIR' and export "
			   "ETAGFS_RGW_DIR=DIR.",
			   dir && *dir ? dir : "$ETAGFS_RGW_DIR");
	if (!it_env.region[0])
		set_field(it_env.region, sizeof(it_env.region), "us-east-1",
			  "region");
	n = strlen(it_env.endpoint);
	while (n > 0 && it_env.endpoint[n - 1] == '/')
		it_env.endpoint[--n] = '\0';

	if (!bin || !*bin)
		bin = ETAGFS_TOP_BUILDDIR "/src/etagfs";
	set_field(it_env.bin, sizeof(it_env.bin), bin, "ETAGFS_BIN");
}

/* 77 only when this machine truly cannot mount FUSE. */
void it_check_fuse(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: /dev/fuse is not usable here (%s): FUSE mounts "
		       "are impossible on this machine\n",
		       strerror(errno));
		exit(77);
	}
	close(fd);
}
