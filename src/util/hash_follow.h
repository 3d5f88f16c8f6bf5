/**
 * @file hash_follow.h
 * The SHA-256 of a file that a writer is appending to, kept behind the
 * writer instead of in its way.
 *
 * A commit's PUT signs the SHA-256 of its body, so content written front
 * to back is hashed as it arrives and the PUT needs no second pass. Done
 * on the thread that serves the write, that hash was 0.55 s of the 1.1 s
 * a 1 GiB `dd` spent writing into a mount (perf: 60% of the samples in
 * libcrypto), time the writer waited for. Here the first bytes are
 * hashed as they are given (a small file costs no thread), the rest by a
 * worker thread that reads them back from the file, from the page cache,
 * while the writer goes on.
 *
 * One writer at a time (the caller serialises appends and the digest);
 * the worker is the only other party.
 */
#ifndef ETAGFS_UTIL_HASH_FOLLOW_H
#define ETAGFS_UTIL_HASH_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

/** Bytes hashed on the writer's thread before a worker takes over. */
#define HASH_FOLLOW_INLINE (4u << 20)

struct hash_follow;

/** A hash over zero bytes, or NULL on -ENOMEM. */
struct hash_follow *hash_follow_new(void);

/** Stops and joins the worker, closes its descriptor. NULL-safe. */
void hash_follow_free(struct hash_follow *f);

/**
 * @p n bytes of @p buf were just written to @p fd at @p off. 0 while the
 * hash still covers the file's first hash_follow_len() bytes; -1 once it
 * cannot (@p off is not the covered end, or a read or hash failed): the
 * caller then frees it. The worker reads from its own dup of @p fd.
 */
int hash_follow_append(struct hash_follow *f, int fd, const void *buf,
		       size_t n, uint64_t off);

/** Bytes appended so far (hashed or still to be). */
uint64_t hash_follow_len(const struct hash_follow *f);

/** The SHA-256 (hex) of all hash_follow_len() bytes, after waiting for
 * the worker to catch up. 0, or -EIO when the hash no longer covers
 * them. Appends may go on afterwards. */
int hash_follow_hex(struct hash_follow *f, char out[HASH_SHA256_HEX_LEN + 1]);

#endif
