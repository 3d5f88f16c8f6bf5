/*
 * Unit tests for src/s3/errmap.c: one row per outcome, asserting the exact
 * errno for the given kind of request and whether it may be retried.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "check_main.h"
#include "s3/errmap.h"

#define ANY (-1) /* the same answer for every kind */

struct outcome {
	int kind; /* enum s3_op_kind or ANY */
	int status;
	const char *code;
	int transport;
	int err;
	bool retryable;
};

static const struct outcome outcomes[] = {
	/* success */
	{ANY, 200, NULL, 0, 0, false},
	{ANY, 200, "", 0, 0, false},
	{ANY, 204, NULL, 0, 0, false},
	{ANY, 206, NULL, 0, 0, false},
	/* 304: "your copy is current", never plain success */
	{ANY, 304, NULL, 0, -EALREADY, false},
	/* 400 */
	{ANY, 400, "InvalidArgument", 0, -EINVAL, false},
	{ANY, 400, "InvalidRequest", 0, -EINVAL, false},
	{ANY, 400, "InvalidBucketName", 0, -EINVAL, false},
	{ANY, 400, "InvalidObjectName", 0, -EINVAL, false},
	{ANY, 400, "EntityTooSmall", 0, -EINVAL, false},
	{ANY, 400, "InvalidPartOrder", 0, -EINVAL, false},
	{ANY, 400, "EntityTooLarge", 0, -EFBIG, false},
	{ANY, 400, "KeyTooLongError", 0, -ENAMETOOLONG, false},
	{ANY, 400, "MetadataTooLarge", 0, -E2BIG, false},
	{ANY, 400, "RequestTimeout", 0, -ETIMEDOUT, true},
	{ANY, 400, "InvalidPart", 0, -EIO, false},
	{ANY, 400, "BadDigest", 0, -EIO, true},
	{ANY, 400, "IncompleteBody", 0, -EIO, true},
	{ANY, 400, "XAmzContentSHA256Mismatch", 0, -EIO, true},
	{ANY, 400, "ExpiredToken", 0, -EACCES, false},
	{ANY, 400, "AuthorizationHeaderMalformed", 0, -EACCES, false},
	{ANY, 400, "SomethingNew", 0, -EIO, false},
	{ANY, 400, NULL, 0, -EIO, false},
	/* 403 */
	{ANY, 403, "AccessDenied", 0, -EACCES, false},
	{ANY, 403, "SignatureDoesNotMatch", 0, -EACCES, false},
	{ANY, 403, "InvalidAccessKeyId", 0, -EACCES, false},
	{ANY, 403, "RequestTimeTooSkewed", 0, -EACCES, false},
	{ANY, 403, "UserSuspended", 0, -EACCES, false},
	{ANY, 403, NULL, 0, -EACCES, false},
	/* RGW's quota answer is a 403 */
	{ANY, 403, "QuotaExceeded", 0, -EDQUOT, false},
	/* 404 */
	{S3_OP_READ, 404, "NoSuchKey", 0, -ENOENT, false},
	{S3_OP_DELETE, 404, "NoSuchKey", 0, -ENOENT, false},
	{S3_OP_MOUNT, 404, "NoSuchKey", 0, -ENOENT, false},
	/* AWS: If-Match PUT on a deleted key, or a copy whose source went */
	{S3_OP_WRITE, 404, "NoSuchKey", 0, -EBUSY, false},
	{ANY, 404, "NoSuchBucket", 0, -ENOENT, false},
	{S3_OP_MOUNT, 404, "NoSuchBucket", 0, -ENOENT, false},
	{ANY, 404, "NoSuchUpload", 0, -ENOENT, false},
	{ANY, 404, NULL, 0, -ENOENT, false}, /* HEAD: no body */
	/* 405, 408 */
	{ANY, 405, "MethodNotAllowed", 0, -EPERM, false},
	{ANY, 408, "RequestTimeout", 0, -ETIMEDOUT, true},
	{ANY, 408, NULL, 0, -ETIMEDOUT, true},
	/* 409 */
	{ANY, 409, "ConditionalRequestConflict", 0, -EAGAIN, true},
	{ANY, 409, "OperationAborted", 0, -EAGAIN, true},
	{ANY, 409, "BucketNotEmpty", 0, -ENOTEMPTY, false},
	{ANY, 409, "BucketAlreadyExists", 0, -EEXIST, false},
	{ANY, 409, "BucketAlreadyOwnedByYou", 0, -EEXIST, false},
	{ANY, 409, "KeyExists", 0, -EIO, false},
	/* 411 */
	{ANY, 411, "MissingContentLength", 0, -EINVAL, false},
	/* 412 by kind */
	{S3_OP_READ, 412, "PreconditionFailed", 0, -ESTALE, false},
	{S3_OP_READ, 412, NULL, 0, -ESTALE, false},
	{S3_OP_WRITE, 412, "PreconditionFailed", 0, -EBUSY, false},
	{S3_OP_WRITE, 412, NULL, 0, -EBUSY, false},
	{S3_OP_DELETE, 412, "PreconditionFailed", 0, -EBUSY, false},
	{S3_OP_MOUNT, 412, "PreconditionFailed", 0, -EIO, false},
	/* 413, 414, 416 */
	{ANY, 413, NULL, 0, -EFBIG, false},
	{ANY, 414, NULL, 0, -ENAMETOOLONG, false},
	{ANY, 416, "InvalidRange", 0, -EINVAL, false},
	/* throttling */
	{ANY, 429, NULL, 0, -EAGAIN, true},
	{ANY, 429, "TooManyRequests", 0, -EAGAIN, true},
	{ANY, 503, "SlowDown", 0, -EAGAIN, true},
	{ANY, 503, "ServiceUnavailable", 0, -EAGAIN, true},
	{ANY, 503, NULL, 0, -EAGAIN, true},
	{ANY, 400, "SlowDown", 0, -EAGAIN, true},
	/* 5xx */
	{ANY, 500, "InternalError", 0, -EIO, true},
	{ANY, 500, "UnknownError", 0, -EIO, true},
	{ANY, 500, NULL, 0, -EIO, true},
	{ANY, 502, NULL, 0, -EIO, true},
	{ANY, 504, NULL, 0, -EIO, true},
	{ANY, 599, NULL, 0, -EIO, true},
	{ANY, 501, "NotImplemented", 0, -EOPNOTSUPP, false},
	{ANY, 507, NULL, 0, -ENOSPC, false},
	{ANY, 507, "InsufficientStorage", 0, -ENOSPC, false},
	{ANY, 500, "QuotaExceeded", 0, -EDQUOT, false},
	/* unknown 4xx */
	{ANY, 402, NULL, 0, -EIO, false},
	{ANY, 418, "Teapot", 0, -EIO, false},
	{ANY, 451, NULL, 0, -EIO, false},
	/* redirects and other statuses */
	{ANY, 301, "PermanentRedirect", 0, -EIO, false},
	{ANY, 307, "TemporaryRedirect", 0, -EIO, false},
	{ANY, 100, NULL, 0, -EIO, false},
	{ANY, 1000, NULL, 0, -EIO, false},
	{ANY, -1, NULL, 0, -EIO, false},
	/* transport errors pass through */
	{ANY, 0, NULL, -ETIMEDOUT, -ETIMEDOUT, true},
	{ANY, 0, NULL, -ECONNREFUSED, -ECONNREFUSED, true},
	{ANY, 0, NULL, -ECONNRESET, -ECONNRESET, true},
	{ANY, 0, NULL, -EHOSTUNREACH, -EHOSTUNREACH, true},
	{ANY, 0, NULL, -ENETUNREACH, -ENETUNREACH, true},
	{ANY, 0, NULL, -EPIPE, -EPIPE, true},
	{ANY, 0, NULL, -EIO, -EIO, true},
	{ANY, 0, NULL, -ENOMEM, -ENOMEM, false},
	{ANY, 0, NULL, -EPROTO, -EPROTO, false},
	{ANY, 0, NULL, -ECANCELED, -ECANCELED, false},
	{ANY, 0, NULL, -EINVAL, -EINVAL, false},
	/* a positive errno is taken as its negative */
	{ANY, 0, NULL, ETIMEDOUT, -ETIMEDOUT, true},
	/* a transport error wins over a status that arrived before it */
	{ANY, 200, NULL, -ECONNRESET, -ECONNRESET, true},
	{ANY, 404, "NoSuchKey", -ETIMEDOUT, -ETIMEDOUT, true},
	/* no status and no transport error: nonsense, refused */
	{ANY, 0, NULL, 0, -EIO, false},
};

static const enum s3_op_kind all_kinds[] = {S3_OP_READ, S3_OP_WRITE,
					    S3_OP_DELETE, S3_OP_MOUNT};

START_TEST(test_outcome)
{
	const struct outcome *o = &outcomes[_i];

	for (size_t k = 0; k < 4; k++) {
		enum s3_op_kind kind = all_kinds[k];

		if (o->kind != ANY && o->kind != (int)kind)
			continue;
		ck_assert_msg(s3_errmap_errno(kind, o->status, o->code,
					      o->transport) == o->err,
			      "row %d kind %d: errno %d, want %d", _i,
			      (int)kind,
			      s3_errmap_errno(kind, o->status, o->code,
					      o->transport),
			      o->err);
	}
	ck_assert_msg(s3_errmap_retryable(o->status, o->code, o->transport) ==
			      (int)o->retryable,
		      "row %d: retryable %d, want %d", _i,
		      s3_errmap_retryable(o->status, o->code, o->transport),
		      (int)o->retryable);
}
END_TEST

/* The S3 code is matched exactly: no prefix or case games. */
START_TEST(test_code_exact)
{
	ck_assert_int_eq(s3_errmap_errno(S3_OP_READ, 409,
					 "conditionalrequestconflict", 0),
			 -EIO);
	ck_assert_int_eq(s3_errmap_retryable(409, "ConditionalRequest", 0),
			 0);
	ck_assert_int_eq(
		s3_errmap_errno(S3_OP_READ, 403, "QuotaExceededX", 0),
		-EACCES);
}
END_TEST

/* Refusals, as the table produces them: the same request would get the
 * same answer; network trouble, server trouble and state are not. */
START_TEST(test_refusal)
{
	ck_assert(s3_errmap_refusal(s3_errmap_errno(S3_OP_WRITE, 403, NULL, 0)));
	ck_assert(s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 403, "QuotaExceeded", 0)));
	ck_assert(s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 400, "EntityTooLarge", 0)));
	ck_assert(s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 400, "InvalidArgument", 0)));
	ck_assert(s3_errmap_refusal(s3_errmap_errno(S3_OP_WRITE, 405, NULL, 0)));
	ck_assert(!s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 0, NULL, -ETIMEDOUT)));
	ck_assert(!s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 0, NULL, -ECONNRESET)));
	ck_assert(!s3_errmap_refusal(s3_errmap_errno(S3_OP_WRITE, 500, NULL, 0)));
	ck_assert(!s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 503, "SlowDown", 0)));
	ck_assert(!s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 404, "NoSuchUpload", 0)));
	ck_assert(!s3_errmap_refusal(
		s3_errmap_errno(S3_OP_WRITE, 412, "PreconditionFailed", 0)));
	ck_assert(!s3_errmap_refusal(0));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *errmap_suite(void);
Suite *errmap_suite(void)
{
	Suite *s = suite_create("errmap");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, test_outcome, 0, N(outcomes));
	tcase_add_test(tc, test_code_exact);
	tcase_add_test(tc, test_refusal);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(errmap_suite)
