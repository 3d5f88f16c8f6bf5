/**
 * @file harness_int.h
 * What the harness's own files share and tests do not use.
 */
#ifndef ETAGFS_IT_HARNESS_INT_H
#define ETAGFS_IT_HARNESS_INT_H

#include <stdbool.h>
#include <stddef.h>

#define IT_BODY_MAX ((size_t)2 << 30) /* largest body kept in memory */

/** A growing NUL-terminated buffer of at most @c max bytes. */
struct membuf {
	char *p;
	size_t len, cap, max;
	bool overflow; /**< an append failed (past max, or no memory) */
};

/** Append @p n bytes; -1 (and overflow set) past max or on ENOMEM. */
int it_membuf_add(struct membuf *b, const void *data, size_t n);

/** A harness failure outside any test (the environment is broken):
 * "ERROR: ..." on stderr, exit 99. */
void it_hard_error(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/** Fill it_env from $ETAGFS_RGW_DIR/env or ETAGFS_TEST_* (and
 * ETAGFS_BIN); it_hard_error() when there is no server to test. */
void it_env_load(void);

/** Exit 77 (skip) when /dev/fuse cannot be opened: the one case where
 * an integration test truly cannot run. */
void it_check_fuse(void);

/** Free the independent client's curl handle (at exit). */
void it_s3_cleanup(void);

#endif
