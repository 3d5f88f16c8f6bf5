/*
 * SigV4 signing (s3_sigv4_sign) of requests whose path, query and header
 * values carry outside bytes: keys from users' file names, continuation
 * tokens from the server, ETags in If-Match, metadata values.
 *
 * Input: a flags byte, 8 bytes of a time, then NUL-separated method,
 * path, query, region, payload hash, and header name/value pairs.
 *
 * Properties: the result is 0 or -EINVAL (or -ENOMEM); on success the
 * canonical request has exactly its six parts (one line per distinct
 * header name), the query is in canonical form (only unreserved bytes,
 * "%XX", '=' and '&'), "host" is signed, the signature is 64 lower-case
 * hex digits, Authorization carries it, and signing again gives the same
 * bytes (catches reads of uninitialised memory). s3_sigv4_amz_date()
 * formats any time as a well-formed date.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "s3/sigv4.h"

#define HEADERS_MAX 8

static void check_amz_date(const char d[17])
{
	fuzz_assert(strlen(d) == 16 && d[8] == 'T' && d[15] == 'Z');
	for (int i = 0; i < 15; i++)
		if (i != 8)
			fuzz_assert(d[i] >= '0' && d[i] <= '9');
}

static bool query_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || strchr("-._~%=&", c);
}

static void check_result(const struct s3_sigv4_result *r, size_t n_signed)
{
	const char *cr = r->canonical_request;
	const char *line[3];
	size_t newlines = 0;
	const char *p;

	fuzz_assert(cr && r->string_to_sign && r->signature &&
		    r->signed_headers && r->authorization);
	for (p = cr; *p; p++)
		newlines += *p == '\n';
	/* method, path, query, one per header, blank, signed, hash. */
	fuzz_assert(newlines == 5 + n_signed);
	line[0] = strchr(cr, '\n') + 1;	     /* path */
	line[1] = strchr(line[0], '\n') + 1; /* query */
	line[2] = strchr(line[1], '\n');
	for (p = line[1]; p < line[2]; p++)
		fuzz_assert(query_char_ok(*p));

	fuzz_assert(strlen(r->signature) == 64);
	for (p = r->signature; *p; p++)
		fuzz_assert((*p >= '0' && *p <= '9') ||
			    (*p >= 'a' && *p <= 'f'));
	fuzz_assert(strstr(r->authorization, r->signature));
	fuzz_assert(strstr(r->authorization, r->signed_headers));
	fuzz_assert(strcmp(r->signed_headers, "host") == 0 ||
		    strncmp(r->signed_headers, "host;", 5) == 0 ||
		    strstr(r->signed_headers, ";host;") ||
		    (strlen(r->signed_headers) > 5 &&
		     strcmp(r->signed_headers + strlen(r->signed_headers) - 5,
			    ";host") == 0));
}

static bool same_result(const struct s3_sigv4_result *a,
			const struct s3_sigv4_result *b)
{
	return strcmp(a->canonical_request, b->canonical_request) == 0 &&
	       strcmp(a->string_to_sign, b->string_to_sign) == 0 &&
	       strcmp(a->signature, b->signature) == 0 &&
	       strcmp(a->signed_headers, b->signed_headers) == 0 &&
	       strcmp(a->authorization, b->authorization) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct s3_sigv4_keys keys = {
		"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
	struct s3_header hdrs[HEADERS_MAX + 1];
	struct s3_sigv4_request req;
	struct s3_sigv4_result r, again;
	struct fuzz_pieces p;
	char amz_date[17];
	long long t = 0;
	size_t n = 0;
	uint8_t flags;
	int rc;

	if (size < 9)
		return 0;
	flags = data[0];
	memcpy(&t, data + 1, sizeof(t));
	s3_sigv4_amz_date(t, amz_date);
	check_amz_date(amz_date);

	if (fuzz_split(data + 9, size - 9, "", 1, 5 + 2 * HEADERS_MAX, false,
		       &p))
		return 0;
	if (flags & 4)
		hdrs[n++] = (struct s3_header){"Host", "bucket.example.com"};
	for (size_t i = 5; i + 1 < p.n && n < HEADERS_MAX + 1; i += 2)
		hdrs[n++] = (struct s3_header){p.s[i], p.s[i + 1]};

	memset(&req, 0, sizeof(req));
	req.method = p.n > 0 ? p.s[0] : "GET";
	req.path = p.n > 1 ? p.s[1] : "/";
	req.query = p.n > 2 && !(flags & 8) ? p.s[2] : NULL;
	req.region = p.n > 3 ? p.s[3] : "us-east-1";
	req.payload_hash = p.n > 4 ? p.s[4] : "UNSIGNED-PAYLOAD";
	req.headers = hdrs;
	req.n_headers = n;
	req.amz_date = flags & 16 ? amz_date : "20150830T123600Z";
	req.service = "s3";
	req.normalize_path = flags & 1;
	req.double_encode_path = flags & 2;

	rc = s3_sigv4_sign(&req, &keys, &r);
	fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0) {
		size_t n_signed = 1;

		for (const char *s = r.signed_headers; *s; s++)
			n_signed += *s == ';';
		check_result(&r, n_signed);
		if (s3_sigv4_sign(&req, &keys, &again) == 0) {
			fuzz_assert(same_result(&r, &again));
			s3_sigv4_result_free(&again);
		}
		s3_sigv4_result_free(&r);
	} else {
		fuzz_assert(r.canonical_request == NULL &&
			    r.authorization == NULL && r.signature == NULL);
	}
	fuzz_pieces_free(&p);
	return 0;
}
