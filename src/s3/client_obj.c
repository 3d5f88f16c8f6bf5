/*
 * The S3 client's object operations: HEAD, GET (into memory and into a
 * file), LIST, PUT with the commit token and the If-Match quoting
 * adaptation, DELETE, and the write helpers client_mpu.c shares
 * (conditions, metadata headers, the token check after a failed
 * precondition). They describe one request each and hand it to the
 * request engine in client.c (client_int.h).
 *
 * Locking: as in client.c. The learnt If-Match quoting sits in c->caps
 * behind c->lock, held only for a few loads and stores.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "s3/client.h"
#include "s3/client_int.h"
#include "s3/meta.h"
#include "s3/xml.h"
#include "util/buf.h"
#include "util/log.h"

static void info_from_resp(struct s3_object_info *info,
			   const struct s3_http_response *r)
{
	memset(info, 0, sizeof(*info));
	if (r->content_length > 0)
		info->size = (uint64_t)r->content_length;
	snprintf(info->etag, sizeof(info->etag), "%s", r->etag);
	info->last_modified = s3_http_parse_date(r->last_modified);
	info->server_date = s3_http_parse_date(r->date);
	s3_meta_from_kv(&info->meta, r->meta, r->n_meta);
}

/* ---------------------------------------------------------- reads */

/* The If-Match of a read, in the standard quoted form; @p etag holds the
 * header value and must outlive @p o. */
static void read_if_match(struct s3_client_op *o, const char *if_match,
			  char *etag, size_t len)
{
	if (!if_match)
		return;
	s3_client_int_etag_wire(if_match, true, etag, len);
	s3_client_int_op_header(o, "If-Match", etag);
}

int s3_head_object(struct s3_client *c, const char *key, const char *if_match,
		   struct s3_object_info *out_info, struct s3_status *st)
{
	char etag[S3_ETAG_MAX + 2];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	s3_client_int_op_init(&o, "HEAD", "HEAD", S3_OP_READ, key);
	o.no_body = true;
	o.counter = &c->stats.head;
	read_if_match(&o, if_match, etag, sizeof(etag));
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0 && out_info)
		info_from_resp(out_info, &out.resp);
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

/* A ranged GET under @p if_match (a changed object: -ESTALE) or
 * @p if_none_match (the named version still current: -EALREADY, no
 * bytes); either may be NULL. */
static int get_range(struct s3_client *c, const char *key, uint64_t off,
		     size_t len, const char *if_match,
		     const char *if_none_match, void *dst, size_t *got,
		     struct s3_object_info *info, struct s3_status *st)
{
	char etag[S3_ETAG_MAX + 2];
	char inm[S3_ETAG_MAX + 2];
	char range[64];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	*got = 0;
	if (info)
		memset(info, 0, sizeof(*info));
	if (len == 0)
		return 0;
	s3_client_int_op_init(&o, "GET", "GET", S3_OP_READ, key);
	o.counter = &c->stats.get;
	o.resp_dst = dst;
	o.resp_dst_len = len;
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off,
		 off + len - 1);
	s3_client_int_op_header(&o, "Range", range);
	read_if_match(&o, if_match, etag, sizeof(etag));
	if (if_none_match) {
		/* Reads take the standard quoted form everywhere (RGW's
		 * unquoted quirk is a PUT's only). */
		s3_client_int_etag_wire(if_none_match, true, inm, sizeof(inm));
		s3_client_int_op_header(&o, "If-None-Match", inm);
	}
	rc = s3_client_int_run(c, &o, &out);
	if (out.resp.transport_errno == 0 && out.resp.status == 416) {
		/* Past the end of the object: an empty read. */
		rc = 0;
	} else if (rc == 0 && out.resp.status == 200 && off > 0) {
		/* The server ignored Range: what we hold starts at 0. */
		log_warn("s3: GET '%s': server ignored the Range header", key);
		rc = -EIO;
	} else if (rc == -EPROTO && out.resp.status == 200) {
		log_warn("s3: GET '%s': server ignored the Range header and "
			 "sent the whole object",
			 key);
		rc = -EIO;
	} else if (rc == 0) {
		*got = (size_t)out.resp.body_received;
	}
	if ((rc == 0 || rc == -EALREADY) && info) {
		info_from_resp(info, &out.resp);
		/* Content-Length of a 206 or 416 is the part's, not the
		 * object's: Content-Range has the size, else a short read
		 * tells it. A 304 tells no size at all. */
		if ((out.resp.status == 206 || out.resp.status == 416) &&
		    out.resp.range_total >= 0)
			info->size = (uint64_t)out.resp.range_total;
		else if (out.resp.status == 206)
			info->size = *got < len ? off + *got : 0;
		else if (out.resp.status == 416 || out.resp.status == 304)
			info->size = 0;
	}
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

int s3_get_object(struct s3_client *c, const char *key, uint64_t off,
		  size_t len, const char *if_match, void *dst, size_t *got,
		  struct s3_object_info *info, struct s3_status *st)
{
	return get_range(c, key, off, len, if_match, NULL, dst, got, info,
			 st);
}

int s3_get_object_if_changed(struct s3_client *c, const char *key,
			     uint64_t off, size_t len, const char *have_etag,
			     void *dst, size_t *got,
			     struct s3_object_info *info, struct s3_status *st)
{
	return get_range(c, key, off, len, NULL, have_etag, dst, got, info,
			 st);
}

int s3_get_object_to_fd(struct s3_client *c, const char *key,
			const char *if_match, int fd,
			struct s3_object_info *info, struct s3_status *st)
{
	char etag[S3_ETAG_MAX + 2];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	s3_client_int_op_init(&o, "GET", "GET", S3_OP_READ, key);
	o.counter = &c->stats.get;
	o.resp_fd = fd;
	read_if_match(&o, if_match, etag, sizeof(etag));
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0 && out.resp.content_length >= 0 &&
	    out.resp.body_received != (uint64_t)out.resp.content_length)
		rc = -EIO;
	if (rc == 0 && info) {
		info_from_resp(info, &out.resp);
		info->size = out.resp.body_received;
	}
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

int s3_list_objects(struct s3_client *c, const char *prefix,
		    const char *delimiter, const char *token, int max_keys,
		    struct s3_list_result *result, struct s3_status *st)
{
	char max_keys_s[16];
	struct s3_client_outcome out;
	struct buf text;
	struct s3_client_op o;
	int rc;

	memset(result, 0, sizeof(*result));
	buf_init(&text, S3_CLIENT_TEXT_MAX);
	s3_client_int_op_init(&o, "LIST", "GET", S3_OP_READ, NULL);
	o.counter = &c->stats.list;
	o.resp_text = &text;
	s3_client_int_op_query(&o, "list-type", "2");
	s3_client_int_op_query(&o, "encoding-type", "url");
	if (prefix && prefix[0])
		s3_client_int_op_query(&o, "prefix", prefix);
	if (delimiter && delimiter[0])
		s3_client_int_op_query(&o, "delimiter", delimiter);
	if (token && token[0])
		s3_client_int_op_query(&o, "continuation-token", token);
	if (max_keys > 0) {
		snprintf(max_keys_s, sizeof(max_keys_s), "%d", max_keys);
		s3_client_int_op_query(&o, "max-keys", max_keys_s);
	}
	rc = s3_client_int_run(c, &o, &out);
	if (rc == 0)
		rc = s3_xml_parse_list(text.data ? text.data : "", text.len,
				       result);
	s3_client_int_finish(&o, &out, rc, st);
	buf_free(&text);
	return rc;
}

/* ---------------------------------------------------------- writes */

/* The If-Match value a write sends, in the form this server wants. */
void s3_client_int_write_if_match(struct s3_client *c, const char *etag,
				  bool flip, char *out, size_t len)
{
	bool unquoted;

	pthread_mutex_lock(&c->lock);
	unquoted = c->caps.put_if_match_unquoted;
	pthread_mutex_unlock(&c->lock);
	s3_client_int_etag_wire(etag, flip ? unquoted : !unquoted, out, len);
}

int s3_client_int_write_cond(struct s3_client *c, struct s3_client_op *o,
			     const struct s3_write_cond *cond, char *etag,
			     size_t len)
{
	o->conditional = cond && (cond->if_match || cond->if_none_match);
	if (cond && cond->if_match && cond->if_match[0] == '\0')
		return -EBUSY;
	if (cond && cond->if_match) {
		s3_client_int_write_if_match(c, cond->if_match, false, etag,
					     len);
		s3_client_int_op_header(o, "If-Match", etag);
	} else if (cond && cond->if_none_match) {
		s3_client_int_op_header(o, "If-None-Match", "*");
	}
	return 0;
}

/* Remember that the server wants the other If-Match form, once. */
static void learn_quoting(struct s3_client *c, bool unquoted)
{
	bool first;

	pthread_mutex_lock(&c->lock);
	c->caps.put_if_match_unquoted = unquoted;
	first = !c->quoting_logged;
	c->quoting_logged = true;
	pthread_mutex_unlock(&c->lock);
	if (first)
		log_notice("s3: server %s matches If-Match only %s; "
			   "using that form from now on",
			   c->endpoint, unquoted ? "unquoted" : "quoted");
}

/*
 * The HEAD after a failed precondition. 1: our token is on the server
 * (our write landed; @p info filled); 0: it is not (@p info filled when
 * the object exists, size 0 and etag "" when it does not); <0: the HEAD
 * itself failed.
 */
int s3_client_int_head_check_token(struct s3_client *c, const char *key,
				   const char *token,
				   struct s3_object_info *info)
{
	int rc;

	memset(info, 0, sizeof(*info));
	rc = s3_head_object(c, key, NULL, info, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (!token[0])
		return 0;
	if (strcmp(info->meta.token, token) == 0)
		return 1;
	return strcmp(info->meta.parent, token) == 0 ? 2 : 0;
}

void s3_client_int_landed(const struct s3_client_op *o, int how,
			  const struct s3_object_info *head,
			  struct s3_object_info *out_info, struct s3_status *st)
{
	log_info("s3: %s '%s': an ambiguous attempt had landed (%s)",
		 o->name, o->key ? o->key : "",
		 how == 1 ? "token found" : "replaced since, token is parent");
	if (st)
		st->ambiguous_resolved = true;
	if (out_info) {
		*out_info = *head;
		if (how == 2)
			snprintf(out_info->etag, sizeof(out_info->etag), "%s",
				 S3_ETAG_SUPERSEDED);
	}
}

/* Build the meta headers of a write; the token is made when asked for. */
int s3_client_int_meta_headers(struct s3_client_op *o, const struct s3_meta *in,
			       bool want_token, struct s3_meta *m,
			       char *storage, size_t storage_len)
{
	struct s3_header mh[S3_META_MAX_HEADERS];
	size_t n;
	int rc;

	if (in)
		*m = *in;
	else
		memset(m, 0, sizeof(*m));
	if (want_token && !m->token[0]) {
		rc = s3_meta_new_token(m->token);
		if (rc < 0)
			return rc;
	}
	n = s3_meta_to_headers(m, mh, storage, storage_len);
	for (size_t i = 0; i < n; i++)
		s3_client_int_op_header(o, mh[i].name, mh[i].value);
	return 0;
}

int s3_put_object(struct s3_client *c, const char *key, int fd, off_t off,
		  uint64_t len, const struct s3_write_cond *cond,
		  const struct s3_meta *meta, struct s3_object_info *out_info,
		  struct s3_status *st)
{
	return s3_put_object_hashed(c, key, fd, off, len, NULL, cond, meta,
				    out_info, st);
}

int s3_put_object_hashed(struct s3_client *c, const char *key, int fd,
			 off_t off, uint64_t len, const char *sha256_hex,
			 const struct s3_write_cond *cond,
			 const struct s3_meta *meta,
			 struct s3_object_info *out_info, struct s3_status *st)
{
	char storage[S3_META_STORAGE];
	char etag[S3_ETAG_MAX + 2];
	struct s3_object_info head;
	bool conditional = cond && (cond->if_match || cond->if_none_match);
	bool flipped = false;
	struct s3_client_outcome out;
	struct s3_meta m;
	struct s3_client_op o;
	int rc;

	if (out_info)
		memset(out_info, 0, sizeof(*out_info));
	s3_client_int_op_init(&o, "PUT", "PUT", S3_OP_WRITE, key);
	o.counter = &c->stats.put;
	o.body_fd = fd;
	o.body_off = off;
	o.body_len = len;
	o.body_sha256 = sha256_hex;
	o.track_ambiguity = conditional;
	rc = s3_client_int_meta_headers(&o, meta, conditional, &m, storage,
					sizeof(storage));
	if (rc < 0)
		return rc;
	rc = s3_client_int_write_cond(c, &o, cond, etag, sizeof(etag));
	if (rc < 0)
		return rc;
	rc = s3_client_int_run(c, &o, &out);
	while (rc == -EBUSY && out.status == 412 && conditional) {
		int h;

		/* Even a create that lost a plain race is checked: libcurl
		 * resends a request by itself when a reused connection dies,
		 * so a 412 on what we saw as the first attempt may answer our
		 * own landed write. */
		h = s3_client_int_head_check_token(c, key, m.token, &head);
		if (h < 0) {
			/* Cannot tell whether we won: do not guess. */
			rc = h;
			break;
		}
		if (h >= 1) {
			rc = 0;
			s3_client_int_landed(&o, h, &head, out_info, st);
			goto done;
		}
		/* The object is still the version we expected, yet the
		 * precondition failed: the server wants the other quoting. */
		if (cond->if_match && !flipped && head.etag[0] &&
		    s3_etag_equal(head.etag, cond->if_match)) {
			flipped = true;
			s3_client_int_write_if_match(c, cond->if_match, true,
						     etag, sizeof(etag));
			s3_http_response_free(&out.resp);
			rc = s3_client_int_run(c, &o, &out);
			if (rc == 0)
				learn_quoting(c, etag[0] != '"');
			else if (!out.ambiguous_before)
				break; /* neither form: a real conflict */
			continue;
		}
		break;
	}
	if (rc == 0 && out_info) {
		memset(out_info, 0, sizeof(*out_info));
		out_info->size = len;
		snprintf(out_info->etag, sizeof(out_info->etag), "%s",
			 out.resp.etag);
		out_info->meta = m;
	}
	if (rc == 0 && !out.resp.etag[0]) {
		/* The write landed (2xx), only its ETag is missing: learn it
		 * from a HEAD that finds our token; otherwise report a
		 * version no later write can match. Failing here would say
		 * "not written" about a changed object. */
		int h = conditional ? s3_client_int_head_check_token(
					      c, key, m.token, &head)
				    : 0;

		log_warn("s3: PUT '%s': response without an ETag%s", key,
			 h == 1 ? " (learnt from a HEAD)" : "");
		if (out_info)
			snprintf(out_info->etag, sizeof(out_info->etag), "%s",
				 h == 1 && head.etag[0] ? head.etag
						       : S3_ETAG_SUPERSEDED);
	}
done:
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}

int s3_delete_object(struct s3_client *c, const char *key,
		     const char *if_match, struct s3_status *st)
{
	char etag[S3_ETAG_MAX + 2];
	struct s3_client_outcome out;
	struct s3_client_op o;
	int rc;

	s3_client_int_op_init(&o, "DELETE", "DELETE", S3_OP_DELETE, key);
	o.counter = &c->stats.del;
	if (if_match) {
		s3_client_int_write_if_match(c, if_match, false, etag,
					     sizeof(etag));
		s3_client_int_op_header(&o, "If-Match", etag);
	}
	rc = s3_client_int_run(c, &o, &out);
	if (rc < 0 && out.status == 404)
		rc = 0; /* already gone is what the caller wanted */
	s3_client_int_finish(&o, &out, rc, st);
	return rc;
}
