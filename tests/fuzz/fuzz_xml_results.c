/*
 * The single-value result bodies: InitiateMultipartUploadResult
 * (s3_xml_parse_initiate) and CompleteMultipartUploadResult /
 * CopyObjectResult / CopyPartResult (s3_xml_parse_result_etag).
 *
 * Properties: an upload id is non-empty and at most 1 KiB; an ETag is in
 * quoted header form and fits S3_ETAG_MAX. Then the ETag goes where the
 * client sends it, into a CompleteMultipartUpload body
 * (s3_xml_complete_body): read back with expat, that body must name the
 * same part numbers and the same ETag text, whatever bytes it held.
 */
#include <errno.h>
#include <string.h>

#include <expat.h>

#include "fuzz.h"
#include "s3/http.h"
#include "s3/xml.h"

#define PARTS 3

struct readback {
	int depth;
	int part;	  /* parts seen */
	char text[512];	  /* text of the current element */
	size_t text_len;
	bool overflow;
	int numbers[PARTS];
	char etags[PARTS][S3_ETAG_MAX];
};

static void XMLCALL rb_start(void *user, const XML_Char *name,
			     const XML_Char **attrs)
{
	struct readback *rb = user;

	(void)attrs;
	rb->depth++;
	rb->text_len = 0;
	rb->overflow = false;
	if (rb->depth == 2) {
		fuzz_assert(strcmp(name, "Part") == 0);
		fuzz_assert(rb->part < PARTS);
		rb->part++;
	}
}

static void XMLCALL rb_end(void *user, const XML_Char *name)
{
	struct readback *rb = user;
	int i = rb->part - 1;

	fuzz_assert(!rb->overflow);
	rb->text[rb->text_len] = '\0';
	if (rb->depth == 3 && strcmp(name, "PartNumber") == 0)
		rb->numbers[i] = (int)strtol(rb->text, NULL, 10);
	else if (rb->depth == 3 && strcmp(name, "ETag") == 0)
		memcpy(rb->etags[i], rb->text, rb->text_len + 1);
	else if (rb->depth == 3)
		fuzz_assert(!"unexpected element in a Part");
	rb->depth--;
	rb->text_len = 0;
}

static void XMLCALL rb_chars(void *user, const XML_Char *s, int len)
{
	struct readback *rb = user;

	if (rb->text_len + (size_t)len >= sizeof(rb->text)) {
		rb->overflow = true;
		return;
	}
	memcpy(rb->text + rb->text_len, s, (size_t)len);
	rb->text_len += (size_t)len;
}

static void check_complete_body(const char *etag, const uint8_t *data,
				size_t size)
{
	struct s3_part parts[PARTS];
	struct readback rb;
	XML_Parser p = NULL;
	char *body;

	for (int i = 0; i < PARTS; i++) {
		/* Part numbers from the input, any int the caller may pass. */
		int n = 0;

		if (size >= (size_t)(i + 1) * 4)
			memcpy(&n, data + i * 4, 4);
		parts[i].number = n;
		parts[i].etag = (char *)etag;
	}
	body = s3_xml_complete_body(parts, PARTS);
	if (!body)
		return; /* -ENOMEM */
	memset(&rb, 0, sizeof(rb));
	p = XML_ParserCreate("UTF-8");
	if (!p)
		goto out;
	XML_SetUserData(p, &rb);
	XML_SetElementHandler(p, rb_start, rb_end);
	XML_SetCharacterDataHandler(p, rb_chars);
	fuzz_assert(XML_Parse(p, body, (int)strlen(body), 1) ==
		    XML_STATUS_OK);
	fuzz_assert(rb.part == PARTS);
	for (int i = 0; i < PARTS; i++) {
		fuzz_assert(rb.numbers[i] == parts[i].number);
		/* CR, LF and tab travel as character references (a raw
		 * CR came back as LF: tests/fuzz/crashes/fuzz_xml_results-1). */
		fuzz_assert(strcmp(rb.etags[i], etag) == 0);
	}
out:
	if (p)
		XML_ParserFree(p);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_copy(data, size);
	char *upload_id = (char *)"untouched";
	char *etag = (char *)"untouched";
	size_t n;
	int rc;

	if (size && !body)
		return 0;

	rc = s3_xml_parse_initiate(body, size, &upload_id);
	fuzz_assert(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	if (rc == 0) {
		fuzz_assert(upload_id != NULL);
		n = strlen(upload_id);
		fuzz_assert(n > 0 && n <= 1024);
		free(upload_id);
	} else {
		fuzz_assert(upload_id == NULL);
	}

	rc = s3_xml_parse_result_etag(body, size, &etag);
	fuzz_assert(rc == 0 || rc == -EPROTO || rc == -ENODATA ||
		    rc == -ENOMEM);
	if (rc == 0) {
		fuzz_assert(etag != NULL);
		n = strlen(etag);
		fuzz_assert(n >= 2 && n < S3_ETAG_MAX);
		fuzz_assert(etag[0] == '"' && etag[n - 1] == '"');
		/* Only an ETag that is valid XML text can be put back into
		 * XML: expat gave us UTF-8 without NUL, so it always is. */
		check_complete_body(etag, data, size);
		free(etag);
	} else {
		fuzz_assert(etag == NULL);
	}
	free(body);
	return 0;
}
