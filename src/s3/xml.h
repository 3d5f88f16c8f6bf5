/**
 * @file xml.h
 * Parsers (expat) for the S3 response bodies etagfs reads.
 *
 * All parsers are strict about structure they rely on and lenient about
 * unknown elements. Text is bounded (keys 4 KiB after decoding, other
 * values 1 KiB); an over-long value or malformed XML gives -EPROTO, never a
 * truncated result. Results own their strings.
 */
#ifndef ETAGFS_S3_XML_H
#define ETAGFS_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/** One <Contents> entry of ListObjectsV2. */
struct s3_list_object {
	char *key;	/**< full key, URL-decoded when encoding-type=url */
	char *etag;	/**< as sent (quoted) */
	uint64_t size;
	time_t mtime;	/**< LastModified, UTC */
};

struct s3_list_result {
	struct s3_list_object *objects;
	size_t n_objects;
	char **prefixes; /**< CommonPrefixes, decoded like keys */
	size_t n_prefixes;
	bool truncated;
	char *next_token; /**< NextContinuationToken, NULL when absent */
};

/**
 * Parse a ListObjectsV2 (ListBucketResult) body. Keys and prefixes are
 * URL-decoded when the body says <EncodingType>url</EncodingType>.
 * 0, -EPROTO (malformed or an <Error> body) or -ENOMEM.
 */
int s3_xml_parse_list(const char *body, size_t len, struct s3_list_result *out);
void s3_list_result_free(struct s3_list_result *r);

/** The fields of an S3 <Error> body (empty strings when absent). */
struct s3_error_info {
	char code[64];
	char message[256];
	char request_id[128];
};

/**
 * Parse an <Error> body. Returns 1 when the body is an error document
 * (fields filled), 0 when it is not one (fields empty), -EPROTO when it
 * is not XML at all. A 200 response to Complete/Copy may carry an error
 * document: callers check with this function.
 */
int s3_xml_parse_error(const char *body, size_t len, struct s3_error_info *out);

/** <InitiateMultipartUploadResult><UploadId>: owned string in @p upload_id. */
int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id);

/**
 * The ETag of <CompleteMultipartUploadResult> or <CopyObjectResult> /
 * <CopyPartResult>. -EPROTO when missing (or when the body is an <Error>).
 */
int s3_xml_parse_result_etag(const char *body, size_t len, char **etag);

/** One part of CompleteMultipartUpload. */
struct s3_part {
	int number;
	char *etag;
};

/**
 * Build the CompleteMultipartUpload request body. Returns a malloc'd,
 * NUL-terminated string the caller frees, or NULL on -ENOMEM.
 */
char *s3_xml_complete_body(const struct s3_part *parts, size_t n);

/**
 * Parse an ISO 8601 time as S3 sends it ("2009-10-12T17:50:30.000Z").
 * 0 or -EINVAL.
 */
int s3_xml_parse_time(const char *s, time_t *out);

#endif
