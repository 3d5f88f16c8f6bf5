/**
 * @file meta.h
 * File attributes stored as object metadata, compatible with s3fs:
 * x-amz-meta-mode (decimal st_mode including type bits), -uid, -gid,
 * -mtime (seconds, optionally fractional). Symlinks are objects whose body
 * is the target and whose mode has S_IFLNK. etagfs adds
 * x-amz-meta-etagfs-token: a random per-commit token that lets an
 * ambiguous conditional write be resolved from the server.
 */
#ifndef ETAGFS_S3_META_H
#define ETAGFS_S3_META_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "s3/http.h"

#define S3_TOKEN_LEN 32

struct s3_meta {
	bool has_mode, has_uid, has_gid, has_mtime;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	char token[S3_TOKEN_LEN + 1]; /**< "" when none */
	/** Token of the version this one replaced (x-amz-meta-etagfs-parent):
	 * lets a writer whose response was lost recognise that its version
	 * landed even after another writer replaced it. "" when none. */
	char parent[S3_TOKEN_LEN + 1];
};

/** Fill @p m from x-amz-meta-* pairs of a response; unknown ones ignored,
 * malformed ones ignored with a debug log line. */
void s3_meta_from_kv(struct s3_meta *m, const struct s3_kv *kv, size_t n);

/** Render @p m as headers. @p names / @p values point into @p storage
 * (at least S3_META_STORAGE bytes). Returns the number of headers written
 * to @p out (at most S3_META_MAX_HEADERS). */
#define S3_META_MAX_HEADERS 6
#define S3_META_STORAGE 512
size_t s3_meta_to_headers(const struct s3_meta *m, struct s3_header *out,
			  char *storage, size_t storage_len);

/** Fill @p token with S3_TOKEN_LEN random hex characters. 0 or -errno. */
int s3_meta_new_token(char token[S3_TOKEN_LEN + 1]);

#endif
