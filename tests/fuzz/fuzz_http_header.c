/*
 * Response header lines as libcurl hands them to the transport
 * (s3_http_parse_header_line), then what the client does with them:
 * x-amz-meta-* pairs go to s3_meta_from_kv(), Last-Modified to
 * s3_http_parse_date(). The input is a whole header block, one line per
 * '\n' (the line keeps it, like curl's header callback), all parsed into
 * one response so that status lines, repeated headers and the metadata
 * ceiling interact.
 *
 * Properties: the fixed fields stay NUL-terminated, counts are -1 or
 * non-negative, a status is three digits, metadata names are lower case
 * and at most 64 of them are kept.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "s3/http.h"
#include "s3/meta.h"

#define LINES_MAX 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_http_response resp;
	struct fuzz_pieces lines;
	struct s3_meta meta;

	if (fuzz_split(data, size, "\n", 1, LINES_MAX, true, &lines))
		return 0;
	s3_http_response_init(&resp);
	for (size_t i = 0; i < lines.n; i++) {
		/* An exact-size copy: the parser gets a length, not a C
		 * string, and must not read past it. */
		char *line = fuzz_copy((const uint8_t *)lines.s[i],
				       lines.len[i]);
		int rc;

		if (lines.len[i] && !line)
			break;
		/* A NUL in a header line is refused by the parser (was a
		 * heap overflow: tests/fuzz/crashes/fuzz_http_header-1). */
		rc = s3_http_parse_header_line(line, lines.len[i], &resp);
		free(line);
		fuzz_assert(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	}
	fuzz_assert(memchr(resp.etag, '\0', sizeof(resp.etag)));
	fuzz_assert(memchr(resp.request_id, '\0', sizeof(resp.request_id)));
	fuzz_assert(memchr(resp.last_modified, '\0',
			   sizeof(resp.last_modified)));
	fuzz_assert(resp.status == 0 ||
		    (resp.status >= 0 && resp.status <= 999));
	fuzz_assert(resp.content_length >= -1);
	fuzz_assert(resp.range_total >= -1);
	fuzz_assert(resp.n_meta <= 64);
	for (size_t i = 0; i < resp.n_meta; i++) {
		const char *n = resp.meta[i].name;

		fuzz_assert(n && resp.meta[i].value);
		for (; *n; n++)
			fuzz_assert(!isupper((unsigned char)*n));
	}

	s3_meta_from_kv(&meta, resp.meta, resp.n_meta);
	fuzz_assert(meta.token[0] == '\0' || strlen(meta.token) == 32);
	fuzz_assert(meta.parent[0] == '\0' || strlen(meta.parent) == 32);
	(void)s3_http_parse_date(resp.last_modified);
	/* The date parser also sees whatever a server put in the header:
	 * each line as a C string. */
	for (size_t i = 0; i < lines.n; i++)
		(void)s3_http_parse_date(lines.s[i]);

	s3_http_response_free(&resp);
	fuzz_pieces_free(&lines);
	return 0;
}
