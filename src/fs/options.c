/*
 * Command line parsing for the mount. fuse_opt_parse() fills string and
 * integer fields directly; sizes and the bucket spec are parsed after, so
 * every bad value gets a sentence naming the option.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/options.h"

/* Raw text of options that need checking after fuse_opt_parse(). */
struct raw_opts {
	struct fs_options opts; /* parsed in place, copied out at the end */
	struct fs_options *o;
	char *bucket_spec;
	char *multipart_threshold;
	char *part_size;
	char *single_put_limit;
	char *umask;
	int path_style;
	int vhost_style;
	int positional;
	char *err;
	size_t err_len;
	int failed;
};

enum { KEY_HELP, KEY_VERSION, KEY_RO, KEY_RECOVER };

#define OPT(t, field) {t, offsetof(struct raw_opts, opts.field), 1}
#define RAW(t, field) {t, offsetof(struct raw_opts, field), 1}

/* One template: fields of struct fs_options and raw text to check. */
static const struct fuse_opt fs_option_spec[] = {
	OPT("endpoint=%s", endpoint),
	OPT("url=%s", endpoint), /* s3fs spelling */
	OPT("region=%s", region),
	OPT("profile=%s", profile),
	OPT("passwd_file=%s", passwd_file),
	OPT("ca_file=%s", ca_file),
	OPT("staging_dir=%s", staging_dir),
	OPT("conflict_dir=%s", conflict_dir),
	OPT("memo_file=%s", memo_file),
	OPT("attr_ttl=%u", attr_ttl_ms),
	OPT("dir_ttl=%u", dir_ttl_ms),
	OPT("timeout=%d", timeout_s),
	OPT("connect_timeout=%d", connect_timeout_s),
	OPT("retries=%d", retries),
	OPT("max_connections=%d", max_connections),
	OPT("part_concurrency=%d", part_concurrency),
	OPT("uid=%d", uid),
	OPT("gid=%d", gid),
	OPT("unsigned_payload", unsigned_payload),
	OPT("nonatomic_multipart", nonatomic_multipart),
	OPT("allow_unconditional", allow_unconditional),
	OPT("conflict_copy=bucket", conflict_in_bucket),
	OPT("listing_attrs", listing_attrs),
	{"conflict_copy=local", offsetof(struct raw_opts, opts.conflict_in_bucket),
	 0},
	OPT("stream_upload", stream_upload),
	{"no_stream_upload", offsetof(struct raw_opts, opts.stream_upload), 0},
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("--recover", KEY_RECOVER),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	RAW("multipart_threshold=%s", multipart_threshold),
	RAW("part_size=%s", part_size),
	RAW("single_put_limit=%s", single_put_limit),
	RAW("umask=%s", umask),
	RAW("path_style", path_style),
	RAW("use_path_request_style", path_style), /* s3fs spelling */
	RAW("vhost_style", vhost_style),
	FUSE_OPT_END,
};

void fs_options_init(struct fs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->addressing = S3_ADDR_AUTO;
	o->attr_ttl_ms = 1000;
	o->dir_ttl_ms = 1000;
	o->timeout_s = 30;
	o->connect_timeout_s = 5;
	o->retries = 5;
	o->max_connections = 32;
	o->multipart_threshold = 64ull << 20;
	o->part_size = 16ull << 20;
	o->part_concurrency = 4;
	o->stream_upload = 1;
	o->single_put_limit = 5ull << 30;
	o->uid = -1;
	o->gid = -1;
	o->umask = 022;
}

int fs_options_parse_size(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;
	unsigned shift = 0;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default:
		return -EINVAL;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int prefix_segments_valid(const char *p)
{
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

int fs_options_split_bucket(const char *spec, char **bucket, char **prefix)
{
	const char *colon = strchr(spec, ':');
	size_t blen = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *pre = colon ? colon + 1 : "";
	char *b = NULL, *p = NULL;
	size_t plen;

	*bucket = NULL;
	*prefix = NULL;
	if (blen == 0 || memchr(spec, '/', blen) != NULL)
		return -EINVAL;
	while (*pre == '/')
		pre++;
	plen = strlen(pre);
	while (plen > 0 && pre[plen - 1] == '/')
		plen--;
	b = strndup(spec, blen);
	p = malloc(plen + 2);
	if (b == NULL || p == NULL)
		goto nomem;
	memcpy(p, pre, plen);
	p[plen] = '\0';
	if (!prefix_segments_valid(p)) {
		free(b);
		free(p);
		return -EINVAL;
	}
	if (plen > 0) {
		p[plen] = '/';
		p[plen + 1] = '\0';
	}
	*bucket = b;
	*prefix = p;
	return 0;
nomem:
	free(b);
	free(p);
	return -ENOMEM;
}

/* Is this -o option's name that of a credential? */
static bool looks_like_secret(const char *arg)
{
	static const char *const words[] = {"secret", "token", "password",
					    "passwd=", "access_key", "key_id"};
	size_t n = strcspn(arg, "=");
	char name[64];

	if (n == 0 || n + 2 > sizeof(name) || arg[n] != '=')
		return false;
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)arg[i]);
	name[n] = '=';
	name[n + 1] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]) != NULL)
			return true;
	return false;
}

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct raw_opts *raw = data;

	switch (key) {
	case KEY_HELP:
		raw->o->show_help = true;
		return 0;
	case KEY_VERSION:
		raw->o->show_version = true;
		return 0;
	case KEY_RECOVER:
		raw->opts.recover_only = true;
		return 0;
	case KEY_RO:
		raw->o->read_only = true;
		return 1; /* libfuse mounts read-only too */
	case FUSE_OPT_KEY_NONOPT:
		/* First positional is the bucket, the second the mountpoint
		 * (left for fuse_parse_cmdline). */
		if (raw->positional++ == 0) {
			raw->bucket_spec = strdup(arg);
			return raw->bucket_spec ? 0 : -1;
		}
		if (raw->positional > 2) {
			snprintf(raw->err, raw->err_len,
				 "unexpected argument '%s' (usage: etagfs "
				 "BUCKET[:/prefix] MOUNTPOINT [-o options])",
				 arg);
			raw->failed = 1;
			return -1;
		}
		return 1;
	case FUSE_OPT_KEY_OPT:
		if (looks_like_secret(arg)) {
			/* libfuse would echo the whole option, value included,
			 * into its "unknown option" line (and from fstab or
			 * systemd into the journal). */
			snprintf(raw->err, raw->err_len,
				 "option '%.*s' would carry a credential on the "
				 "command line; etagfs reads credentials only "
				 "from passwd_file, the environment or ~/.aws "
				 "(value not shown)",
				 (int)strcspn(arg, "="), arg);
			raw->failed = 1;
			return -1;
		}
		return 1;
	default:
		return 1;
	}
}

static int size_option(const char *name, const char *text, uint64_t *field,
		       char *err, size_t err_len)
{
	if (text == NULL)
		return 0;
	if (fs_options_parse_size(text, field) != 0 || *field == 0) {
		snprintf(err, err_len,
			 "option %s=%s: expected a positive size such as 8M",
			 name, text);
		return -EINVAL;
	}
	return 0;
}

static int check_values(struct raw_opts *raw, char *err, size_t err_len)
{
	struct fs_options *o = raw->o;
	char *end = NULL;
	int rc;

	if ((rc = size_option("multipart_threshold", raw->multipart_threshold,
			      &o->multipart_threshold, err, err_len)) ||
	    (rc = size_option("part_size", raw->part_size, &o->part_size, err,
			      err_len)) ||
	    (rc = size_option("single_put_limit", raw->single_put_limit,
			      &o->single_put_limit, err, err_len)))
		return rc;
	if (o->part_size < (5ull << 20) || o->part_size > (5ull << 30)) {
		snprintf(err, err_len,
			 "option part_size: must be between 5M and 5G");
		return -EINVAL;
	}
	if (o->part_concurrency < 1 || o->part_concurrency > 64) {
		snprintf(err, err_len,
			 "option part_concurrency: must be between 1 and 64");
		return -EINVAL;
	}
	if (raw->umask != NULL) {
		unsigned long m;

		errno = 0;
		m = strtoul(raw->umask, &end, 8);
		if (errno || end == raw->umask || *end != '\0' || m > 0777) {
			snprintf(err, err_len,
				 "option umask=%s: expected an octal mask",
				 raw->umask);
			return -EINVAL;
		}
		o->umask = (unsigned)m;
	}
	if (raw->path_style && raw->vhost_style) {
		snprintf(err, err_len,
			 "options path_style and vhost_style exclude each "
			 "other");
		return -EINVAL;
	}
	if (raw->path_style)
		o->addressing = S3_ADDR_PATH;
	if (raw->vhost_style)
		o->addressing = S3_ADDR_VHOST;
	if (o->timeout_s <= 0 || o->connect_timeout_s <= 0 ||
	    o->retries < 0 || o->max_connections <= 0) {
		snprintf(err, err_len,
			 "options timeout, connect_timeout and "
			 "max_connections must be positive, retries >= 0");
		return -EINVAL;
	}
	if (o->show_help || o->show_version)
		return 0;
	if (raw->bucket_spec == NULL ||
	    (raw->positional < 2 && !o->recover_only)) {
		snprintf(err, err_len,
			 "usage: etagfs BUCKET[:/prefix] MOUNTPOINT "
			 "[-o options] (see etagfs --help)");
		return -EINVAL;
	}
	rc = fs_options_split_bucket(raw->bucket_spec, &o->bucket,
				     &o->prefix);
	if (rc == -EINVAL)
		snprintf(err, err_len,
			 "'%s' is not BUCKET or BUCKET:/prefix (a prefix "
			 "may not contain empty, '.' or '..' segments)",
			 raw->bucket_spec);
	else if (rc != 0)
		snprintf(err, err_len, "out of memory");
	return rc;
}

int fs_options_parse(struct fuse_args *args, struct fs_options *o, char *err,
		     size_t err_len)
{
	struct raw_opts raw;
	int rc;

	memset(&raw, 0, sizeof(raw));
	raw.opts = *o;
	raw.o = &raw.opts;
	raw.err = err;
	raw.err_len = err_len;
	err[0] = '\0';
	if (fuse_opt_parse(args, &raw, fs_option_spec, option_proc) != 0) {
		if (!raw.failed)
			snprintf(err, err_len, "cannot parse the options");
		rc = -EINVAL;
	} else {
		rc = check_values(&raw, err, err_len);
	}
	/* The caller owns what was parsed, also on error (to free it). */
	*o = raw.opts;
	free(raw.bucket_spec);
	free(raw.multipart_threshold);
	free(raw.part_size);
	free(raw.single_put_limit);
	free(raw.umask);
	return rc;
}

void fs_options_free(struct fs_options *o)
{
	free(o->bucket);
	free(o->prefix);
	free(o->endpoint);
	free(o->region);
	free(o->profile);
	free(o->passwd_file);
	free(o->ca_file);
	free(o->staging_dir);
	free(o->memo_file);
	free(o->conflict_dir);
	memset(o, 0, sizeof(*o));
}

void fs_options_print_help(const char *progname)
{
	printf("usage: %s BUCKET[:/prefix] MOUNTPOINT [-o option[,option]...]\n"
	       "       %s --recover BUCKET [-o option[,option]...]\n"
	       "\n"
	       "Mounts an S3 bucket (or a prefix of it) with optimistic\n"
	       "concurrency: every open is a snapshot of one object version,\n"
	       "every close/fsync a conditional PUT; a conflicting change\n"
	       "makes close()/fsync() fail with EBUSY and keeps a copy.\n"
	       "\n"
	       "etagfs options:\n"
	       "    -o endpoint=URL          S3 endpoint (default: AWS_ENDPOINT_URL,\n"
	       "                             the profile's endpoint_url, else AWS)\n"
	       "    -o region=REGION         signing region (default: AWS_REGION,\n"
	       "                             the profile's region, else us-east-1)\n"
	       "    -o profile=NAME          ~/.aws profile (default: AWS_PROFILE)\n"
	       "    -o passwd_file=PATH      ACCESS:SECRET file, mode 0600\n"
	       "    -o ca_file=PATH          CA bundle for TLS verification\n"
	       "    -o path_style            path-style requests (host/bucket/key)\n"
	       "    -o vhost_style           virtual-hosted requests (bucket.host/key)\n"
	       "    -o attr_ttl=MS           attribute cache lifetime (1000)\n"
	       "    -o dir_ttl=MS            directory listing cache lifetime (1000)\n"
	       "    -o timeout=S             stall/request timeout (30)\n"
	       "    -o connect_timeout=S     connect timeout (5)\n"
	       "    -o retries=N             retries of retryable failures (5)\n"
	       "    -o max_connections=N     pooled HTTP connections (32)\n"
	       "    -o staging_dir=PATH      where written data is staged\n"
	       "    -o conflict_dir=PATH     where rejected writes are kept\n"
	       "    -o conflict_copy=bucket  keep them as sibling objects instead\n"
	       "    -o memo_file=PATH|none   where the metadata of seen object\n"
	       "                             versions is kept between mounts\n"
	       "    -o multipart_threshold=SIZE  multipart above this (64M)\n"
	       "    -o part_size=SIZE        multipart part size (16M)\n"
	       "    -o part_concurrency=N    parts uploaded at once (4)\n"
	       "    -o no_stream_upload      multipart parts only at commit, not\n"
	       "                             while the file is being written\n"
	       "    -o single_put_limit=SIZE largest single PUT (5G)\n"
	       "    -o nonatomic_multipart   allow big commits whose condition is\n"
	       "                             only checked by HEAD before\n"
	       "    -o allow_unconditional   mount read-write even if the server\n"
	       "                             ignores If-Match (last writer wins)\n"
	       "    -o unsigned_payload      UNSIGNED-PAYLOAD over https\n"
	       "    -o listing_attrs         attributes from directory listings:\n"
	       "                             ls -l costs one request per 1,000\n"
	       "                             entries, but mode/owner/mtime set by\n"
	       "                             chmod/chown/touch are not shown until\n"
	       "                             the file is opened\n"
	       "    -o uid=N,gid=N,umask=OCT owner and mode of files without\n"
	       "                             metadata\n"
	       "\n"
	       "generic options: -f (foreground), -d (debug), -s (single\n"
	       "thread), -o allow_other, -o ro, and libfuse's mount options.\n"
	       "\n"
	       "--recover commits what a mount of BUCKET that stopped (crash,\n"
	       "kill -9, power loss) left staged, each with its original\n"
	       "precondition, without mounting; a mount does the same first.\n",
	       progname, progname);
}
