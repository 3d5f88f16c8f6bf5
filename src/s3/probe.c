/*
 * The capability probe: try each condition etagfs relies on against the
 * real server, on scratch keys, and record only what the server enforced.
 *
 * It goes through the public client API, steering which headers the
 * client sends by setting the caps under test; the client's own PUT logic
 * learns the If-Match quoting (a 412 on the current ETag makes it try the
 * other form once and remember it). The probe runs before the mount is
 * used, so nothing else sees the intermediate caps. 17 requests on RGW 16.2.
 *
 * Its refused preconditions are expected, so the client logs them at
 * debug level while the probe runs (s3_client_int_expect_refusals(), on
 * this thread only); any other failure keeps its level.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "s3/client_int.h"
#include "s3/probe.h"
#include "util/log.h"

/* Never an ETag any server would produce (not hex). */
#define WRONG_ETAG "\"etagfs-probe-no-such-etag\""

struct probe {
	struct s3_client *c;
	char key[1024];
	char copy_key[1100];
	bool copy_made;
	int fd; /* body source */
	char etag[S3_ETAG_MAX]; /* current ETag of key */
};

static int set_body(struct probe *p, const char *text)
{
	size_t n = strlen(text);

	if (ftruncate(p->fd, 0) < 0 || pwrite(p->fd, text, n, 0) != (ssize_t)n)
		return -errno ? -errno : -EIO;
	return (int)n;
}

static int put(struct probe *p, const char *text,
	       const struct s3_write_cond *cond)
{
	struct s3_object_info info;
	int n = set_body(p, text);
	int rc;

	if (n < 0)
		return n;
	rc = s3_put_object(p->c, p->key, p->fd, 0, (uint64_t)n, cond, NULL,
			   &info, NULL);
	if (rc == 0)
		snprintf(p->etag, sizeof(p->etag), "%s", info.etag);
	return rc;
}

/* A failure that means "the server refused on the precondition". */
static bool refused(int rc)
{
	return rc == -EBUSY || rc == -ESTALE;
}

static int probe_put(struct probe *p, struct s3_caps *caps)
{
	struct s3_write_cond cond = { 0 };
	struct s3_caps now;
	int rc;

	rc = put(p, "etagfs probe 1\n", NULL);
	if (rc < 0)
		return rc;

	/* The current ETag, quoted (the standard form); the client flips to
	 * unquoted by itself if the server wants that. */
	cond.if_match = p->etag;
	rc = put(p, "etagfs probe 2\n", &cond);
	if (rc < 0 && !refused(rc))
		return rc;
	s3_client_get_caps(p->c, &now);
	caps->put_if_match_unquoted = rc == 0 && now.put_if_match_unquoted;
	if (rc < 0) {
		/* Neither form matches the current ETag: unusable. */
		log_notice("probe: PUT If-Match fails even on the current ETag");
		caps->put_if_match = false;
		caps->put_if_match_unquoted = false;
	} else {
		/* Now a wrong ETag, in the form that worked: must fail. */
		cond.if_match = WRONG_ETAG;
		rc = put(p, "etagfs probe 3\n", &cond);
		if (rc < 0 && !refused(rc))
			return rc;
		caps->put_if_match = rc < 0;
		if (!caps->put_if_match)
			caps->put_if_match_unquoted = false;
	}

	cond.if_match = NULL;
	cond.if_none_match = true;
	rc = put(p, "etagfs probe 4\n", &cond);
	if (rc < 0 && !refused(rc))
		return rc;
	caps->put_if_none_match = rc < 0;
	return 0;
}

static int probe_copy_once(struct probe *p, bool *honoured)
{
	struct s3_copy_opts o = { .src_if_match = WRONG_ETAG };
	struct s3_object_info info;
	int rc;

	rc = s3_copy_object(p->c, p->key, p->copy_key, &o, &info, NULL);
	if (rc == 0)
		p->copy_made = true;
	if (rc < 0 && !refused(rc))
		return rc;
	*honoured = rc < 0;
	return 0;
}

static int probe_copy(struct probe *p, struct s3_caps *caps)
{
	struct s3_caps test;
	bool honoured = false;
	int rc;

	/* Standard header alone first (the client adds RGW's header only
	 * when the standard one is not known to work). */
	s3_client_get_caps(p->c, &test);
	test.copy_source_if_match = true;
	test.copy_rgw_if_match = false;
	s3_client_set_caps(p->c, &test);
	rc = probe_copy_once(p, &honoured);
	if (rc < 0)
		return rc;
	caps->copy_source_if_match = honoured;
	caps->copy_rgw_if_match = false;
	if (honoured)
		return 0; /* RGW's header is not needed, so not tried */

	test.copy_source_if_match = false;
	test.copy_rgw_if_match = true;
	s3_client_set_caps(p->c, &test);
	rc = probe_copy_once(p, &honoured);
	if (rc < 0)
		return rc;
	caps->copy_rgw_if_match = honoured;
	return 0;
}

static int probe_complete(struct probe *p, struct s3_caps *caps)
{
	struct s3_write_cond cond = { .if_match = WRONG_ETAG };
	struct s3_object_info info;
	struct s3_part part = { .number = 1 };
	char *upload_id = NULL;
	int n, rc;

	n = set_body(p, "etagfs probe 5\n");
	if (n < 0)
		return n;
	rc = s3_mpu_create(p->c, p->key, NULL, &upload_id, NULL);
	if (rc < 0)
		return rc;
	rc = s3_mpu_upload_part(p->c, p->key, upload_id, 1, p->fd, 0,
				(uint64_t)n, &part.etag, NULL);
	if (rc < 0)
		goto out;
	rc = s3_mpu_complete(p->c, p->key, upload_id, &part, 1, &cond, &info,
			     NULL);
	if (rc == 0) {
		snprintf(p->etag, sizeof(p->etag), "%s", info.etag);
		caps->complete_conditional = false;
		free(upload_id);
		upload_id = NULL; /* completed: nothing to abort */
	} else if (refused(rc)) {
		caps->complete_conditional = true;
		rc = 0;
	}
out:
	if (upload_id)
		(void)s3_mpu_abort(p->c, p->key, upload_id, NULL);
	free(upload_id);
	free(part.etag);
	return rc;
}

/* Last, because an ignored condition deletes the object. */
static int probe_delete(struct probe *p, struct s3_caps *caps)
{
	struct s3_object_info info;
	int rc;

	rc = s3_delete_object(p->c, p->key, WRONG_ETAG, NULL);
	if (rc < 0 && !refused(rc))
		return rc;
	if (rc < 0) {
		caps->delete_if_match = true;
		return 0;
	}
	rc = s3_head_object(p->c, p->key, NULL, &info, NULL);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	caps->delete_if_match = rc == 0;
	return 0;
}

int s3_probe_caps(struct s3_client *c, const char *scratch_prefix,
		  struct s3_caps *caps)
{
	char token[S3_TOKEN_LEN + 1];
	struct s3_stats before, after;
	struct s3_caps saved;
	struct s3_caps start = {
		.put_if_match = true,
		.put_if_none_match = true,
		.complete_conditional = true,
		.delete_if_match = true,
		.copy_source_if_match = true,
	};
	struct probe p = { .c = c, .fd = -1 };
	struct s3_caps found = { 0 };
	bool expected_before;
	int rc;

	s3_client_get_caps(c, &saved);
	s3_client_get_stats(c, &before);
	rc = s3_meta_new_token(token);
	if (rc < 0)
		return rc;
	snprintf(p.key, sizeof(p.key), "%s.etagfs-probe-%s",
		 scratch_prefix ? scratch_prefix : "", token);
	snprintf(p.copy_key, sizeof(p.copy_key), "%s-copy", p.key);
	p.fd = memfd_create("etagfs-probe", MFD_CLOEXEC);
	if (p.fd < 0)
		return -errno;

	/* Refusals are the answers asked for, not news for the mount log. */
	expected_before = s3_client_int_expect_refusals(true);
	s3_client_set_caps(c, &start);
	rc = probe_put(&p, &found);
	if (!rc)
		rc = probe_copy(&p, &found);
	if (!rc)
		rc = probe_complete(&p, &found);
	if (!rc)
		rc = probe_delete(&p, &found);

	/* Clean up whatever is left, also after a failure. */
	if (p.copy_made)
		(void)s3_delete_object(c, p.copy_key, NULL, NULL);
	if (rc < 0 || found.delete_if_match)
		(void)s3_delete_object(c, p.key, NULL, NULL);
	close(p.fd);
	s3_client_int_expect_refusals(expected_before);

	s3_client_get_stats(c, &after);
	if (rc < 0) {
		s3_client_set_caps(c, &saved);
		log_warn("probe: cannot probe the server: %s", strerror(-rc));
		return rc;
	}
	s3_client_set_caps(c, &found);
	*caps = found;
	log_debug("probe: %llu requests",
		  (unsigned long long)((after.head + after.get + after.put +
					after.del + after.copy + after.list +
					after.mpu) -
				       (before.head + before.get + before.put +
					before.del + before.copy +
					before.list + before.mpu)));
	return 0;
}

/* Append @p w to @p out after @p sep, truncating safely. */
static void add_word(char *out, size_t len, size_t *used, const char *sep,
		     const char *w)
{
	int n;

	if (*used + 1 >= len)
		return;
	n = snprintf(out + *used, len - *used, "%s%s", sep, w);
	if (n > 0)
		*used += (size_t)n;
	if (*used >= len)
		*used = len - 1;
}

void s3_probe_describe(const struct s3_caps *caps, char *out, size_t len)
{
	struct {
		bool on;
		const char *name;
	} conds[] = {
		{ caps->put_if_match, "put-if-match" },
		{ caps->put_if_none_match, "put-if-none-match" },
		{ caps->complete_conditional, "complete" },
		{ caps->delete_if_match, "delete" },
		{ caps->copy_source_if_match, "copy-source(standard)" },
	};
	size_t n = sizeof(conds) / sizeof(conds[0]);
	size_t used = 0;
	bool any;

	if (len == 0)
		return;
	out[0] = '\0';
	add_word(out, len, &used, "", "conditions honoured:");
	any = false;
	for (size_t i = 0; i < n; i++) {
		if (!conds[i].on)
			continue;
		add_word(out, len, &used, " ",
			 i == 0 && caps->put_if_match_unquoted ?
				 "put-if-match(unquoted)" :
				 conds[i].name);
		any = true;
	}
	if (!any)
		add_word(out, len, &used, " ", "none");
	add_word(out, len, &used, "", "; ignored:");
	any = false;
	for (size_t i = 0; i < n; i++) {
		if (conds[i].on)
			continue;
		add_word(out, len, &used, any ? ", " : " ", conds[i].name);
		any = true;
	}
	if (!any)
		add_word(out, len, &used, " ", "none");
	if (caps->copy_rgw_if_match)
		add_word(out, len, &used, "", "; rgw copy-if-match honoured");
}
