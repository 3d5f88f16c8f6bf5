/*
 * The one table that turns an S3 outcome into an errno.
 *
 * Rows are tried in order and the first match wins, so specific rows (an
 * operation kind and an S3 code) come before general ones (a status, then
 * a status class). The table alone decides; nothing else in etagfs maps
 * HTTP statuses. The retryable column says whether the same request may
 * be sent again; whether that is *safe* (an ambiguous conditional write)
 * is client.c's decision.
 *
 * Choices worth knowing (see also doc/internals/retries.md):
 *  - 304 Not Modified answers a GET with If-None-Match: the copy the
 *    caller holds is current and no body came. 0 would be wrong (the
 *    caller would think it received data), so it is -EALREADY, which only
 *    a revalidating caller expects and handles.
 *  - 412 means "the version you named is gone" on a read (-ESTALE) and
 *    "somebody else wrote first" on a write or delete (-EBUSY); so does
 *    404 NoSuchKey on a write (AWS's answer to If-Match on a deleted key).
 *  - 416 InvalidRange is -EINVAL: reading at or past EOF is the caller's
 *    business (it knows the size and should not ask); the client may turn
 *    a 416 on a ranged GET into a short read, the table does not guess.
 *  - 501 NotImplemented is -EOPNOTSUPP, not -ENOSYS: a FUSE handler that
 *    returns ENOSYS makes the kernel stop calling that operation for the
 *    rest of the mount.
 *  - 429, 503 and SlowDown are -EAGAIN and retryable; 500/502/504 and
 *    other 5xx are -EIO and retryable. Turning -EAGAIN into -EIO once the
 *    retries are spent is the client's job.
 *  - RGW answers quota exhaustion with 403 QuotaExceeded: the code row
 *    comes before the 403 row so it is -EDQUOT, not -EACCES.
 *  - A transport error (no complete response) wins over any status, and
 *    passes through; network-level ones are retryable.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "s3/errmap.h"
#include "util/log.h"

#define OP_ANY (-1)
/* Result column: hand the transport errno through unchanged. */
#define PASS 1

struct errmap_row {
	int kind;	      /* enum s3_op_kind or OP_ANY */
	int status_lo;	      /* HTTP status range, inclusive; 0..0 with */
	int status_hi;	      /*   transport != 0: a transport row */
	const char *code;     /* S3 <Code>, or NULL for any */
	int transport;	      /* negative errno to match, 0 = any */
	int err;	      /* result: 0, negative errno, or PASS */
	bool retryable;
};

#define ST(s) (s), (s)

static const struct errmap_row errmap_table[] = {
	/* -------- no (complete) response: the transport's errno -------- */
	{OP_ANY, ST(0), NULL, -ETIMEDOUT, PASS, true},
	{OP_ANY, ST(0), NULL, -ECONNREFUSED, PASS, true},
	{OP_ANY, ST(0), NULL, -ECONNRESET, PASS, true},
	{OP_ANY, ST(0), NULL, -ECONNABORTED, PASS, true},
	{OP_ANY, ST(0), NULL, -EHOSTUNREACH, PASS, true},
	{OP_ANY, ST(0), NULL, -ENETUNREACH, PASS, true},
	{OP_ANY, ST(0), NULL, -ENETDOWN, PASS, true},
	{OP_ANY, ST(0), NULL, -EPIPE, PASS, true},
	{OP_ANY, ST(0), NULL, -EAGAIN, PASS, true},
	{OP_ANY, ST(0), NULL, -EIO, PASS, true},
	/* Name resolution, TLS verification, out of memory, a body larger
	 * than the caller allowed, cancellation: sending again won't help. */
	{OP_ANY, ST(0), NULL, 0, PASS, false},

	/* -------- success -------- */
	{OP_ANY, 200, 299, NULL, 0, 0, false},
	{OP_ANY, ST(304), NULL, 0, -EALREADY, false},

	/* -------- codes that mean the same whatever the status -------- */
	{OP_ANY, 400, 599, "SlowDown", 0, -EAGAIN, true},
	{OP_ANY, 400, 599, "RequestTimeout", 0, -ETIMEDOUT, true},
	{OP_ANY, 400, 599, "QuotaExceeded", 0, -EDQUOT, false},
	{OP_ANY, 400, 599, "InsufficientStorage", 0, -ENOSPC, false},
	{OP_ANY, 400, 599, "EntityTooLarge", 0, -EFBIG, false},
	{OP_ANY, 400, 599, "KeyTooLongError", 0, -ENAMETOOLONG, false},

	/* -------- 400 -------- */
	{OP_ANY, ST(400), "InvalidArgument", 0, -EINVAL, false},
	{OP_ANY, ST(400), "InvalidRequest", 0, -EINVAL, false},
	{OP_ANY, ST(400), "InvalidBucketName", 0, -EINVAL, false},
	{OP_ANY, ST(400), "InvalidObjectName", 0, -EINVAL, false},
	{OP_ANY, ST(400), "EntityTooSmall", 0, -EINVAL, false},
	{OP_ANY, ST(400), "InvalidPartOrder", 0, -EINVAL, false},
	{OP_ANY, ST(400), "InvalidDigest", 0, -EINVAL, false},
	{OP_ANY, ST(400), "MetadataTooLarge", 0, -E2BIG, false},
	/* Parts gone or not matching: the upload must start over. */
	{OP_ANY, ST(400), "InvalidPart", 0, -EIO, false},
	/* The body was damaged or cut on the way: sending it again can
	 * succeed. */
	{OP_ANY, ST(400), "BadDigest", 0, -EIO, true},
	{OP_ANY, ST(400), "IncompleteBody", 0, -EIO, true},
	{OP_ANY, ST(400), "XAmzContentSHA256Mismatch", 0, -EIO, true},
	/* Credentials and signing problems reported as 400. */
	{OP_ANY, ST(400), "ExpiredToken", 0, -EACCES, false},
	{OP_ANY, ST(400), "InvalidToken", 0, -EACCES, false},
	{OP_ANY, ST(400), "AuthorizationHeaderMalformed", 0, -EACCES, false},

	/* -------- 403 -------- */
	{OP_ANY, ST(403), NULL, 0, -EACCES, false},

	/* -------- 404: key, bucket, upload, or a bodiless HEAD -------- */
	/* AWS answers a conditional PUT on a deleted key with 404 NoSuchKey
	 * (RGW with 412), and a copy whose source was deleted the same way:
	 * for a write both mean "somebody else changed it". */
	{S3_OP_WRITE, ST(404), "NoSuchKey", 0, -EBUSY, false},
	{OP_ANY, ST(404), NULL, 0, -ENOENT, false},

	/* -------- 405, 408, 409, 411 -------- */
	{OP_ANY, ST(405), NULL, 0, -EPERM, false},
	{OP_ANY, ST(408), NULL, 0, -ETIMEDOUT, true},
	{OP_ANY, ST(409), "ConditionalRequestConflict", 0, -EAGAIN, true},
	{OP_ANY, ST(409), "OperationAborted", 0, -EAGAIN, true},
	{OP_ANY, ST(409), "BucketNotEmpty", 0, -ENOTEMPTY, false},
	{OP_ANY, ST(409), "BucketAlreadyExists", 0, -EEXIST, false},
	{OP_ANY, ST(409), "BucketAlreadyOwnedByYou", 0, -EEXIST, false},
	{OP_ANY, ST(411), NULL, 0, -EINVAL, false},

	/* -------- 412: depends on what was asked -------- */
	{S3_OP_READ, ST(412), NULL, 0, -ESTALE, false},
	{S3_OP_WRITE, ST(412), NULL, 0, -EBUSY, false},
	{S3_OP_DELETE, ST(412), NULL, 0, -EBUSY, false},

	/* -------- 413, 414, 416, 429 -------- */
	{OP_ANY, ST(413), NULL, 0, -EFBIG, false},
	{OP_ANY, ST(414), NULL, 0, -ENAMETOOLONG, false},
	{OP_ANY, ST(416), NULL, 0, -EINVAL, false},
	{OP_ANY, ST(429), NULL, 0, -EAGAIN, true},

	/* -------- 5xx -------- */
	{OP_ANY, ST(501), NULL, 0, -EOPNOTSUPP, false},
	{OP_ANY, ST(503), NULL, 0, -EAGAIN, true},
	{OP_ANY, ST(507), NULL, 0, -ENOSPC, false},
	{OP_ANY, 500, 599, NULL, 0, -EIO, true},

	/* -------- anything else -------- */
	{OP_ANY, 400, 499, NULL, 0, -EIO, false},
	/* 1xx, redirects (wrong endpoint or region), nonsense: fail. */
	{OP_ANY, 1, 999, NULL, 0, -EIO, false},
};

/* The row for an outcome. @p any_kind: match rows of every kind (the
 * retryable column never depends on the kind). Never NULL. */
static const struct errmap_row *errmap_find(int kind, bool any_kind,
					    int status, const char *code,
					    int transport)
{
	static const struct errmap_row nonsense = {
		OP_ANY, 0, 0, NULL, 0, -EIO, false};
	size_t n = sizeof(errmap_table) / sizeof(errmap_table[0]);

	if (code && !code[0])
		code = NULL;
	if (transport > 0) /* tolerate a positive errno */
		transport = -transport;
	/* An exchange that broke after the status line is a transport
	 * failure: the status alone says nothing about the outcome. */
	if (transport)
		status = 0;
	else if (status == 0)
		return &nonsense;
	for (size_t i = 0; i < n; i++) {
		const struct errmap_row *r = &errmap_table[i];

		if (!any_kind && r->kind != OP_ANY && r->kind != kind)
			continue;
		if (status < r->status_lo || status > r->status_hi)
			continue;
		if (r->code && (!code || strcmp(r->code, code) != 0))
			continue;
		if (status == 0 && r->transport && r->transport != transport)
			continue;
		return r;
	}
	return &nonsense;
}

static const char *kind_name(enum s3_op_kind kind)
{
	switch (kind) {
	case S3_OP_READ:
		return "read";
	case S3_OP_WRITE:
		return "write";
	case S3_OP_DELETE:
		return "delete";
	case S3_OP_MOUNT:
		return "mount";
	}
	return "?";
}

int s3_errmap_errno(enum s3_op_kind kind, int http_status, const char *s3_code,
		    int transport_errno)
{
	const struct errmap_row *r;
	int err;

	if (transport_errno > 0)
		transport_errno = -transport_errno;
	r = errmap_find(kind, false, http_status, s3_code, transport_errno);
	err = r->err == PASS ? transport_errno : r->err;

	if (err)
		log_debug("s3 %s: status %d code %s transport %d -> %d%s",
			  kind_name(kind), http_status,
			  s3_code && s3_code[0] ? s3_code : "-",
			  transport_errno, err,
			  r->retryable ? " (retryable)" : "");
	return err;
}

int s3_errmap_retryable(int http_status, const char *s3_code,
			int transport_errno)
{
	return errmap_find(OP_ANY, true, http_status, s3_code,
			   transport_errno)
		->retryable;
}

bool s3_errmap_refusal(int err)
{
	switch (err) {
	case -EACCES:
	case -EPERM:
	case -EDQUOT:
	case -ENOSPC:
	case -EFBIG:
	case -E2BIG:
	case -ENAMETOOLONG:
	case -EINVAL:
	case -EROFS:
		return true;
	default:
		return false;
	}
}
