/*
 * SHA-256, HMAC-SHA256 and MD5 on OpenSSL libcrypto (EVP interface).
 *
 * Stateless apart from per-call contexts: safe from any thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/hash.h"
#include "util/log.h"

/* Large enough to amortise syscalls on multi-GiB uploads, small enough to
 * live on the heap of a FUSE worker thread without concern. */
#define HASH_CHUNK (256u * 1024)

void hash_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

void hash_sha256(const void *data, size_t len,
		 unsigned char out[HASH_SHA256_LEN])
{
	unsigned int out_len = 0;

	/* Only fails when libcrypto cannot allocate a context; a zero digest
	 * then makes any signature using it fail visibly at the server. */
	if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 ||
	    out_len != HASH_SHA256_LEN) {
		memset(out, 0, HASH_SHA256_LEN);
		log_error("SHA-256 computation failed in libcrypto");
	}
}

void hash_sha256_hex(const void *data, size_t len,
		     char out[HASH_SHA256_HEX_LEN + 1])
{
	unsigned char md[HASH_SHA256_LEN];

	hash_sha256(data, len, md);
	hash_hex(md, sizeof(md), out);
}

void hash_hmac_sha256(const void *key, size_t key_len, const void *data,
		      size_t len, unsigned char out[HASH_SHA256_LEN])
{
	unsigned int out_len = 0;

	if (key_len > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) ==
		    NULL ||
	    out_len != HASH_SHA256_LEN) {
		memset(out, 0, HASH_SHA256_LEN);
		log_error("HMAC-SHA256 computation failed in libcrypto");
	}
}

int hash_fd_range(int fd, off_t off, off_t len,
		  char sha256_hex[HASH_SHA256_HEX_LEN + 1],
		  unsigned char *md5_out)
{
	EVP_MD_CTX *sha_ctx = NULL;
	EVP_MD_CTX *md5_ctx = NULL;
	unsigned char *chunk = NULL;
	unsigned char md[HASH_SHA256_LEN];
	unsigned int md_len = 0;
	off_t done = 0;
	int rc = -ENOMEM;

	if (off < 0 || len < 0)
		return -EINVAL;

	chunk = malloc(HASH_CHUNK);
	sha_ctx = EVP_MD_CTX_new();
	if (chunk == NULL || sha_ctx == NULL)
		goto out;
	if (EVP_DigestInit_ex(sha_ctx, EVP_sha256(), NULL) != 1)
		goto out;
	if (md5_out != NULL) {
		md5_ctx = EVP_MD_CTX_new();
		if (md5_ctx == NULL)
			goto out;
		if (EVP_DigestInit_ex(md5_ctx, EVP_md5(), NULL) != 1) {
			rc = -EIO;
			goto out;
		}
	}

	while (done < len) {
		size_t want = HASH_CHUNK;
		ssize_t got;

		if (len - done < (off_t)want)
			want = (size_t)(len - done);
		got = pread(fd, chunk, want, off + done);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (got == 0) {
			/* The file is shorter than the caller believed. */
			rc = -EIO;
			goto out;
		}
		if (EVP_DigestUpdate(sha_ctx, chunk, (size_t)got) != 1 ||
		    (md5_ctx != NULL &&
		     EVP_DigestUpdate(md5_ctx, chunk, (size_t)got) != 1)) {
			rc = -EIO;
			goto out;
		}
		done += got;
	}

	if (EVP_DigestFinal_ex(sha_ctx, md, &md_len) != 1 ||
	    md_len != HASH_SHA256_LEN) {
		rc = -EIO;
		goto out;
	}
	if (md5_ctx != NULL &&
	    (EVP_DigestFinal_ex(md5_ctx, md5_out, &md_len) != 1 ||
	     md_len != HASH_MD5_LEN)) {
		rc = -EIO;
		goto out;
	}
	hash_hex(md, sizeof(md), sha256_hex);
	rc = 0;
out:
	EVP_MD_CTX_free(md5_ctx);
	EVP_MD_CTX_free(sha_ctx);
	free(chunk);
	return rc;
}

struct hash_stream {
	EVP_MD_CTX *ctx;
	unsigned long long len;
};

struct hash_stream *hash_stream_new(void)
{
	struct hash_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL ||
	    EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		hash_stream_free(s);
		return NULL;
	}
	return s;
}

void hash_stream_free(struct hash_stream *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->ctx);
	free(s);
}

int hash_stream_update(struct hash_stream *s, const void *data, size_t len)
{
	if (EVP_DigestUpdate(s->ctx, data, len) != 1)
		return -EIO;
	s->len += len;
	return 0;
}

unsigned long long hash_stream_len(const struct hash_stream *s)
{
	return s->len;
}

int hash_stream_hex(const struct hash_stream *s,
		    char out[HASH_SHA256_HEX_LEN + 1])
{
	/* Finish a copy: the stream itself can take more data. */
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int rc = -EIO;

	if (copy != NULL && EVP_MD_CTX_copy_ex(copy, s->ctx) == 1 &&
	    EVP_DigestFinal_ex(copy, md, &md_len) == 1 &&
	    md_len == HASH_SHA256_LEN) {
		hash_hex(md, md_len, out);
		rc = 0;
	}
	EVP_MD_CTX_free(copy);
	return rc;
}
