/*
 * S3 <Error> bodies (s3_xml_parse_error), which arrive with every failed
 * request and with some 200 answers to Complete and Copy. The fields are
 * fixed arrays: they must come back NUL-terminated, empty unless the body
 * was an error document, and a shortened Message or RequestId must not
 * end inside a UTF-8 character (expat hands over valid UTF-8, so a cut
 * one is the parser's doing).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "s3/xml.h"

/* True when @p s does not end inside a multi-byte UTF-8 sequence. */
static bool utf8_ends_whole(const char *s)
{
	size_t n = strlen(s);
	size_t i = n;
	size_t want;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return n == 0;
	lead = (unsigned char)s[i - 1];
	if (lead < 0x80)
		want = 1;
	else if ((lead & 0xE0) == 0xC0)
		want = 2;
	else if ((lead & 0xF0) == 0xE0)
		want = 3;
	else
		want = 4;
	return n - (i - 1) == want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_error_info info;
	char *body = fuzz_copy(data, size);
	int rc;

	if (size && !body)
		return 0;
	memset(&info, 0x5a, sizeof(info));
	rc = s3_xml_parse_error(body, size, &info);
	fuzz_assert(rc == 1 || rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	fuzz_assert(memchr(info.code, '\0', sizeof(info.code)));
	fuzz_assert(memchr(info.message, '\0', sizeof(info.message)));
	fuzz_assert(memchr(info.request_id, '\0', sizeof(info.request_id)));
	if (rc != 1) {
		fuzz_assert(info.code[0] == '\0');
		fuzz_assert(info.message[0] == '\0');
		fuzz_assert(info.request_id[0] == '\0');
	} else {
		fuzz_assert(utf8_ends_whole(info.code));
		fuzz_assert(utf8_ends_whole(info.message));
		fuzz_assert(utf8_ends_whole(info.request_id));
	}
	free(body);
	return 0;
}
