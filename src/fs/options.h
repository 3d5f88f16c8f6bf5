/**
 * @file options.h
 * The mount command line: "etagfs BUCKET[:/prefix] MOUNTPOINT [-o opts]".
 *
 * etagfs's own -o keys are consumed here; everything else (allow_other,
 * ro, -f, -d, ...) is left in the argument vector for libfuse, which
 * rejects what it does not know with a readable message.
 */
#ifndef ETAGFS_FS_OPTIONS_H
#define ETAGFS_FS_OPTIONS_H

#include <fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3/client.h"

/* Flags set by fuse_opt_parse() are int: it stores an int for them. */
struct fs_options {
	char *bucket;	/**< bucket name */
	char *prefix;	/**< "" or a key prefix ending in '/' */
	char *endpoint; /**< NULL: profile/env, else AWS for the region */
	char *region;
	char *profile;
	char *passwd_file;
	char *ca_file;
	char *staging_dir;  /**< NULL: default under the user's state dir */
	char *conflict_dir; /**< NULL: default under the user's state dir */
	char *memo_file;    /**< NULL: default under the state dir; "none" */
	enum s3_addressing addressing;
	int unsigned_payload;
	unsigned attr_ttl_ms;
	unsigned dir_ttl_ms;
	int timeout_s;
	int connect_timeout_s;
	int retries;
	int max_connections;
	uint64_t multipart_threshold; /**< commit with multipart above this */
	uint64_t part_size;
	int part_concurrency; /**< parts of one upload in flight at once */
	uint64_t single_put_limit;    /**< largest single PUT (5 GiB) */
	int nonatomic_multipart; /**< allow HEAD-checked big commits */
	/** upload the parts of a multipart commit while the file is still
	 * being written (on by default; no_stream_upload) */
	int stream_upload;
	int allow_unconditional; /**< mount rw on a server ignoring If-Match */
	int conflict_in_bucket;  /**< keep conflict copies as sibling objects */
	int listing_attrs; /**< trust listings for attributes (no HEAD) */
	bool no_probe;		  /**< trust caps given by options (tests) */
	int uid, gid;		  /**< owner of files without metadata, -1 */
	unsigned umask;		  /**< applied to default modes */
	bool read_only; /**< -o ro (also passed on to libfuse) */
	bool recover_only; /**< --recover: recover staging, do not mount */
	bool show_help;
	bool show_version;
};

/** Defaults for every field. */
void fs_options_init(struct fs_options *o);

/**
 * Consume etagfs's options and the BUCKET[:/prefix] argument from
 * @p args (which keeps MOUNTPOINT and libfuse's own options).
 * 0, or -EINVAL with one readable sentence in @p err.
 */
int fs_options_parse(struct fuse_args *args, struct fs_options *o, char *err,
		     size_t err_len);

/**
 * Split "bucket", "bucket:/pre/fix" or "bucket:pre/fix" into owned bucket
 * and normalised prefix ("" or "pre/fix/"). -EINVAL for an empty bucket,
 * a bucket with '/', or a prefix with empty, "." or ".." segments.
 */
int fs_options_split_bucket(const char *spec, char **bucket, char **prefix);

/** Parse a size with an optional K/M/G suffix (powers of 1024). */
int fs_options_parse_size(const char *s, uint64_t *out);

void fs_options_free(struct fs_options *o);

/** The option summary printed by --help. */
void fs_options_print_help(const char *progname);

#endif
