/*
 * The mount command line (fs_options_parse): argv built from the input,
 * one argument per NUL- or newline-separated piece after "etagfs".
 *
 * Properties (options.h): on success without --help/--version the bucket
 * is non-empty without '/', the prefix is "" or "seg/.../" with no
 * empty, "." or ".." segment, the part size is within 5M..5G, umask
 * within 0777, timeouts and connection counts positive, and the error
 * text empty; on failure the error text says why. Everything parsed is
 * the caller's to free, success or not (the leak checker holds us to
 * it). Each argument also goes through fs_options_split_bucket() and
 * fs_options_parse_size() directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <fuse_log.h>

#include "fs/options.h"
#include "fuzz.h"

#define ARGS_MAX 32

/* libfuse reports bad options through fuse_log(): one line per input
 * would drown libFuzzer's own output. */
static void quiet_log(enum fuse_log_level level, const char *fmt,
		      va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuse_set_log_func(quiet_log);
	return 0;
}

static void check_prefix(const char *p)
{
	size_t n = strlen(p);
	const char *s = p;

	if (n == 0)
		return;
	fuzz_assert(p[n - 1] == '/' && p[0] != '/');
	while (*s) {
		const char *slash = strchr(s, '/');
		size_t len = (size_t)(slash - s);

		fuzz_assert(slash != NULL);
		fuzz_assert(len > 0);
		fuzz_assert(!(len == 1 && s[0] == '.'));
		fuzz_assert(!(len == 2 && s[0] == '.' && s[1] == '.'));
		s = slash + 1;
	}
}

static void check_split(const char *spec)
{
	char *bucket = NULL, *prefix = NULL;
	int rc = fs_options_split_bucket(spec, &bucket, &prefix);

	fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc) {
		fuzz_assert(bucket == NULL && prefix == NULL);
		return;
	}
	fuzz_assert(bucket[0] && !strchr(bucket, '/'));
	fuzz_assert(strncmp(spec, bucket, strlen(bucket)) == 0);
	check_prefix(prefix);
	free(bucket);
	free(prefix);
}

static void check_size(const char *s)
{
	uint64_t v = 0;
	int rc = fs_options_parse_size(s, &v);

	fuzz_assert(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		/* Digits, then at most one K/M/G. */
		size_t n = strlen(s);

		fuzz_assert(n > 0 && s[0] != '-');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_pieces p;
	char *argv[ARGS_MAX + 2];
	struct fuse_args args;
	struct fs_options o;
	char err[512];
	int argc = 0;
	int rc;

	if (fuzz_split(data, size, "\n", 2, ARGS_MAX, false, &p))
		return 0;
	argv[argc++] = (char *)"etagfs";
	for (size_t i = 0; i < p.n; i++)
		argv[argc++] = p.s[i];
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);

	fs_options_init(&o);
	memset(err, 0x5a, sizeof(err));
	rc = fs_options_parse(&args, &o, err, sizeof(err));
	fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	fuzz_assert(memchr(err, '\0', sizeof(err)));
	if (rc) {
		fuzz_assert(err[0] != '\0');
	} else if (!o.show_help && !o.show_version) {
		fuzz_assert(err[0] == '\0');
		fuzz_assert(o.bucket && o.bucket[0] && !strchr(o.bucket, '/'));
		fuzz_assert(o.prefix);
		check_prefix(o.prefix);
		fuzz_assert(o.part_size >= (5ull << 20) &&
			    o.part_size <= (5ull << 30));
		fuzz_assert(o.multipart_threshold > 0 &&
			    o.single_put_limit > 0);
		fuzz_assert(o.umask <= 0777);
		fuzz_assert(o.timeout_s > 0 && o.connect_timeout_s > 0 &&
			    o.max_connections > 0 && o.retries >= 0);
		/* What is left is libfuse's: argv[0] and the mountpoint at
		 * least, unless there is nothing to mount (--recover). */
		fuzz_assert(args.argc >= (o.recover_only ? 1 : 2));
	}
	fs_options_free(&o);
	fuse_opt_free_args(&args);

	for (size_t i = 0; i < p.n; i++) {
		check_split(p.s[i]);
		check_size(p.s[i]);
	}
	fuzz_pieces_free(&p);
	return 0;
}
