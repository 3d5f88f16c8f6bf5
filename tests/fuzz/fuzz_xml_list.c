/*
 * ListObjectsV2 bodies (s3_xml_parse_list): every byte of them comes from
 * the server. Beyond "no crash, no leak, no sanitizer report", the
 * result must honour xml.h's contract: keys and prefixes at most 4 KiB,
 * ETags in quoted header form, a truncated page carries a token, and a
 * failed parse leaves an empty result. A second parse of the same bytes
 * must give the same result (catches reads of uninitialised memory,
 * which ASan does not).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "s3/http.h"
#include "s3/xml.h"

static void check_etag(const char *etag)
{
	size_t n;

	if (!etag)
		return;
	n = strlen(etag);
	fuzz_assert(n >= 2 && n < S3_ETAG_MAX);
	fuzz_assert(etag[0] == '"' && etag[n - 1] == '"');
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void check_same(const struct s3_list_result *a,
		       const struct s3_list_result *b)
{
	fuzz_assert(a->n_objects == b->n_objects);
	fuzz_assert(a->n_prefixes == b->n_prefixes);
	fuzz_assert(a->truncated == b->truncated);
	fuzz_assert(same_str(a->next_token, b->next_token));
	for (size_t i = 0; i < a->n_objects; i++) {
		const struct s3_list_object *x = &a->objects[i];
		const struct s3_list_object *y = &b->objects[i];

		fuzz_assert(same_str(x->key, y->key));
		fuzz_assert(same_str(x->etag, y->etag));
		fuzz_assert(x->size == y->size && x->mtime == y->mtime);
	}
	for (size_t i = 0; i < a->n_prefixes; i++)
		fuzz_assert(same_str(a->prefixes[i], b->prefixes[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_list_result r, again;
	char *body = fuzz_copy(data, size);
	int rc;

	if (size && !body)
		return 0;
	rc = s3_xml_parse_list(body, size, &r);
	fuzz_assert(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	if (rc) {
		fuzz_assert(r.objects == NULL && r.n_objects == 0);
		fuzz_assert(r.prefixes == NULL && r.n_prefixes == 0);
		fuzz_assert(r.next_token == NULL && !r.truncated);
		goto out;
	}
	for (size_t i = 0; i < r.n_objects; i++) {
		fuzz_assert(r.objects[i].key != NULL);
		fuzz_assert(strlen(r.objects[i].key) <= 4096);
		check_etag(r.objects[i].etag);
	}
	for (size_t i = 0; i < r.n_prefixes; i++) {
		fuzz_assert(r.prefixes[i] != NULL);
		fuzz_assert(strlen(r.prefixes[i]) <= 4096);
	}
	if (r.truncated)
		fuzz_assert(r.next_token && r.next_token[0]);
	if (r.next_token)
		fuzz_assert(strlen(r.next_token) <= 1024);

	rc = s3_xml_parse_list(body, size, &again);
	fuzz_assert(rc == 0);
	check_same(&r, &again);
	s3_list_result_free(&again);
	s3_list_result_free(&r);
out:
	free(body);
	return 0;
}
