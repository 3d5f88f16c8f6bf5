/**
 * @file fuzz.h
 * What every libFuzzer target of tests/fuzz shares: the entry points'
 * prototypes (libFuzzer's ABI fixes their names), a property check that
 * libFuzzer reports as a crash with the input saved, and splitting an
 * input into separately allocated pieces.
 *
 * Pieces are exact-size heap copies, so AddressSanitizer catches a parser
 * that reads one byte past what it was given; a piece is followed by a
 * NUL only where the API under test takes a C string.
 */
#ifndef ETAGFS_FUZZ_H
#define ETAGFS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/** A property of the code under test that must hold for every input.
 * abort() makes libFuzzer save the input as a crash artifact. */
#define fuzz_assert(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: property failed: %s\n",        \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/**
 * False while known findings in src/ are still open: a target then steps
 * around them (each such place names its reproducer under
 * tests/fuzz/crashes/) so that fuzzing goes on past them.
 * ETAGFS_FUZZ_STRICT=1 in the environment turns the exceptions off, to
 * reproduce a finding or to check its fix.
 */
static inline bool fuzz_strict(void)
{
	static int strict = -1;

	if (strict < 0)
		strict = getenv("ETAGFS_FUZZ_STRICT") != NULL;
	return strict;
}

/** Pieces of an input: s[i] holds len[i] bytes followed by a NUL. */
struct fuzz_pieces {
	char **s;
	size_t *len;
	size_t n;
};

static inline void fuzz_pieces_free(struct fuzz_pieces *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->s[i]);
	free(p->s);
	free(p->len);
	memset(p, 0, sizeof(*p));
}

/**
 * Split @p data at every byte of @p seps (a separator may be '\0', so
 * they are given with their count) into at most @p max pieces; the last
 * piece keeps the rest, separators included. With @p keep_sep each piece
 * ends with its separator (header lines keep their "\r\n").
 * 0, or -1 when out of memory (the pieces are then freed).
 */
static inline int fuzz_split(const uint8_t *data, size_t size,
			     const char *seps, size_t n_seps, size_t max,
			     bool keep_sep, struct fuzz_pieces *out)
{
	size_t start = 0;

	memset(out, 0, sizeof(*out));
	out->s = calloc(max, sizeof(*out->s));
	out->len = calloc(max, sizeof(*out->len));
	if (!out->s || !out->len)
		goto nomem;
	while (out->n < max && (start < size || out->n == 0)) {
		size_t end = start;
		size_t n;

		if (out->n + 1 < max)
			while (end < size && !memchr(seps, data[end], n_seps))
				end++;
		else
			end = size;
		n = end - start;
		if (keep_sep && end < size)
			n++;
		out->s[out->n] = malloc(n + 1);
		if (!out->s[out->n])
			goto nomem;
		if (n)
			memcpy(out->s[out->n], data + start, n);
		out->s[out->n][n] = '\0';
		out->len[out->n] = n;
		out->n++;
		start = end < size ? end + 1 : size;
	}
	return 0;
nomem:
	fuzz_pieces_free(out);
	return -1;
}

/** An exact-size copy without a terminating NUL (NULL for 0 bytes or
 * when out of memory). */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
	char *p = size ? malloc(size) : NULL;

	if (p)
		memcpy(p, data, size);
	return p;
}

/** True when @p needle (a C string) occurs in [hay, hay + n). */
static inline bool fuzz_contains(const char *hay, size_t n,
				 const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

#endif
