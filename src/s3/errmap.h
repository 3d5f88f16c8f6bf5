/**
 * @file errmap.h
 * The one table that turns an S3 outcome into an errno.
 *
 * The same HTTP answer means different things to different callers: a
 * 412 on a read means "the version this handle opened is gone" (ESTALE),
 * on a write "somebody else changed it" (EBUSY). The table is keyed on
 * the kind of request, the HTTP status and the S3 error code.
 */
#ifndef ETAGFS_S3_ERRMAP_H
#define ETAGFS_S3_ERRMAP_H

#include <stdbool.h>

enum s3_op_kind {
	S3_OP_READ,	/**< HEAD, GET, LIST */
	S3_OP_WRITE,	/**< conditional or plain PUT, Complete, Copy */
	S3_OP_DELETE,	/**< DeleteObject, Abort */
	S3_OP_MOUNT,	/**< the checks at mount time: bucket and credentials */
};

/**
 * Map a finished response to 0 or a negative errno.
 * @param http_status  HTTP status (0 when no response arrived)
 * @param s3_code      <Code> of the error body, or NULL/"" when none
 * @param transport_errno  negative errno for a transport failure (no
 *                     response: -ETIMEDOUT, -ECONNREFUSED, -EIO), or 0
 * Examples: 2xx → 0; 404 → -ENOENT; 403 → -EACCES; 412 read → -ESTALE;
 * 412 write → -EBUSY; 409 ConditionalRequestConflict → -EAGAIN (retry);
 * 5xx/SlowDown → -EAGAIN when retryable, -EIO once retries are spent.
 */
int s3_errmap_errno(enum s3_op_kind kind, int http_status, const char *s3_code,
		    int transport_errno);

/**
 * True when a request that got this outcome may be sent again unchanged:
 * 5xx, 429, SlowDown, RequestTimeout, 409 ConditionalRequestConflict and
 * transport errors. Whether it is *safe* to resend (ambiguous conditional
 * writes) is the caller's decision, see doc/internals/retries.md.
 */
int s3_errmap_retryable(int http_status, const char *s3_code,
			int transport_errno);

/**
 * True when @p err (a negative errno from s3_errmap_errno()) says the
 * server refused the request for what it is, and would refuse it again
 * whatever the connection: credentials, permissions, quota, space, size,
 * name or argument. False for the network, a server in trouble, and
 * answers about state (a missing key or upload, a changed version).
 */
bool s3_errmap_refusal(int err);

#endif
