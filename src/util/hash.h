/**
 * @file hash.h
 * SHA-256, HMAC-SHA256 and MD5 on OpenSSL's libcrypto, with hex output.
 */
#ifndef ETAGFS_UTIL_HASH_H
#define ETAGFS_UTIL_HASH_H

#include <stddef.h>
#include <sys/types.h>

#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX_LEN 64
#define HASH_MD5_LEN 16
#define HASH_MD5_HEX_LEN 32

/** Lower-case hex of @p n bytes into @p out (2n+1 bytes, NUL-terminated). */
void hash_hex(const unsigned char *in, size_t n, char *out);
/** SHA-256 of a memory block. */
void hash_sha256(const void *data, size_t len,
		 unsigned char out[HASH_SHA256_LEN]);
/** SHA-256 of a memory block as lower-case hex. */
void hash_sha256_hex(const void *data, size_t len,
		     char out[HASH_SHA256_HEX_LEN + 1]);
/** HMAC-SHA256(key, data). */
void hash_hmac_sha256(const void *key, size_t key_len, const void *data,
		      size_t len, unsigned char out[HASH_SHA256_LEN]);
/**
 * SHA-256 (hex) and optionally MD5 (binary, for Content-MD5) of @p len
 * bytes of @p fd starting at @p off, read with pread (the file offset is
 * not moved). @p md5_out may be NULL. 0 or negative errno (-EIO on a short
 * file).
 */
int hash_fd_range(int fd, off_t off, off_t len,
		  char sha256_hex[HASH_SHA256_HEX_LEN + 1],
		  unsigned char *md5_out);

/**
 * A SHA-256 computed as data arrives (a writer appending to a file), so
 * the hash is ready when the data is complete, without reading it again.
 * The digest can be taken at any point and the stream goes on.
 */
struct hash_stream;

/** A new stream over zero bytes, or NULL on -ENOMEM. */
struct hash_stream *hash_stream_new(void);
void hash_stream_free(struct hash_stream *s); /* NULL-safe */
/** Add @p len bytes. 0, or -EIO (then the stream is unusable). */
int hash_stream_update(struct hash_stream *s, const void *data, size_t len);
/** Bytes hashed so far. */
unsigned long long hash_stream_len(const struct hash_stream *s);
/** SHA-256 (hex) of everything so far; the stream goes on. 0 or -EIO. */
int hash_stream_hex(const struct hash_stream *s,
		    char out[HASH_SHA256_HEX_LEN + 1]);

#endif
