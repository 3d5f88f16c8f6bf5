/*
 * Parsers for the S3 response bodies etagfs reads, on expat.
 *
 * Bodies arrive whole (bounded by the transport), so each parser runs one
 * expat parser over the full text. A small driver keeps the path of the
 * current element ("/ListBucketResult/Contents/Key") and the text of the
 * innermost element; each parser only looks at the paths it needs and
 * ignores the rest, so unknown elements (Owner, StorageClass, checksums,
 * RGW's extras) never matter.
 *
 * Limits: text of an element we use is bounded (keys 4 KiB after
 * decoding, other values 1 KiB) and too long a value is -EPROTO, never a
 * silently shortened key. Document type declarations are refused: S3 never
 * sends them and they are the door to entity expansion attacks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3/http.h"
#include "s3/xml.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/uri.h"

#define XML_KEY_MAX 4096   /* decoded key or prefix */
#define XML_VALUE_MAX 1024 /* any other value we use */
/* Raw text kept per element: a url-encoded key may be 3x its decoded size
 * ("%XX" per byte); anything longer cannot be a valid value. */
#define XML_TEXT_MAX (3 * XML_KEY_MAX)
#define XML_PATH_MAX 512
#define XML_DEPTH_MAX 32
/* A ListObjectsV2 page holds at most 1000 keys plus prefixes (MaxKeys);
 * a body claiming far more is not one we asked for. */
#define XML_LIST_ENTRIES_MAX 100000
/* Feed expat in slices: XML_Parse takes an int length. */
#define XML_FEED_CHUNK (1u << 20)

struct xml_ctx;

/* Called at each element start with its full path; 0 or negative errno. */
typedef int (*xml_start_fn)(struct xml_ctx *x, const char *path, int depth);
/* Called at each element end with its text (entities already expanded by
 * expat). @p overflow: the text was longer than XML_TEXT_MAX. */
typedef int (*xml_end_fn)(struct xml_ctx *x, const char *path, int depth,
			  const char *text, size_t len, bool overflow);

struct xml_ctx {
	XML_Parser parser;
	int err; /* first error raised by a callback */
	char path[XML_PATH_MAX];
	size_t path_len;
	size_t path_off[XML_DEPTH_MAX + 1]; /* path_len before each level */
	int depth;
	struct buf text;
	bool text_overflow;
	xml_start_fn on_start;
	xml_end_fn on_end;
	void *user;
	bool stop_ok; /* stopped on purpose: not an error */
};

static void xml_fail(struct xml_ctx *x, int err)
{
	if (x->err == 0)
		x->err = err;
	XML_StopParser(x->parser, XML_FALSE);
}

static void XMLCALL xml_start(void *data, const XML_Char *name,
			      const XML_Char **attrs)
{
	struct xml_ctx *x = data;
	size_t nlen = strlen(name);
	int rc;

	(void)attrs;
	if (x->err)
		return;
	if (x->depth >= XML_DEPTH_MAX ||
	    x->path_len + 1 + nlen >= sizeof(x->path)) {
		xml_fail(x, -EPROTO);
		return;
	}
	x->path_off[x->depth] = x->path_len;
	x->path[x->path_len++] = '/';
	memcpy(x->path + x->path_len, name, nlen);
	x->path_len += nlen;
	x->path[x->path_len] = '\0';
	x->depth++;
	buf_reset(&x->text);
	x->text_overflow = false;
	if (x->on_start) {
		rc = x->on_start(x, x->path, x->depth);
		if (rc)
			xml_fail(x, rc);
	}
}

static void XMLCALL xml_end(void *data, const XML_Char *name)
{
	struct xml_ctx *x = data;
	int rc;

	(void)name;
	if (x->err || x->depth == 0)
		return;
	if (x->on_end) {
		rc = x->on_end(x, x->path, x->depth, buf_str(&x->text),
			       x->text.len, x->text_overflow);
		if (rc) {
			xml_fail(x, rc);
			return;
		}
	}
	x->depth--;
	x->path_len = x->path_off[x->depth];
	x->path[x->path_len] = '\0';
	/* Text after a child belongs to the parent, which we never read. */
	buf_reset(&x->text);
	x->text_overflow = false;
}

static void XMLCALL xml_chars(void *data, const XML_Char *s, int len)
{
	struct xml_ctx *x = data;

	if (x->err || x->text_overflow || len <= 0)
		return;
	if (buf_add(&x->text, s, (size_t)len) < 0)
		x->text_overflow = true; /* judged by on_end if it matters */
}

static void XMLCALL xml_doctype(void *data, const XML_Char *name,
				const XML_Char *sysid, const XML_Char *pubid,
				int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xml_fail(data, -EPROTO);
}

/* Stop parsing early without an error (the caller knows enough). */
static void xml_stop_ok(struct xml_ctx *x)
{
	x->stop_ok = true;
	XML_StopParser(x->parser, XML_FALSE);
}

/*
 * Run one parse over @p body. AWS may pad a 200 response to Complete or
 * Copy with whitespace while it works; whitespace before the XML
 * declaration is not well-formed XML, so leading whitespace is skipped.
 * An empty body is -ENODATA so callers can tell it from malformed XML.
 */
static int xml_run(const char *body, size_t len, xml_start_fn on_start,
		   xml_end_fn on_end, void *user)
{
	struct xml_ctx x;
	size_t off = 0;
	int rc = 0;

	while (off < len && (body[off] == ' ' || body[off] == '\t' ||
			     body[off] == '\r' || body[off] == '\n'))
		off++;
	if (off == len)
		return -ENODATA;

	memset(&x, 0, sizeof(x));
	buf_init(&x.text, XML_TEXT_MAX);
	x.on_start = on_start;
	x.on_end = on_end;
	x.user = user;
	x.parser = XML_ParserCreate("UTF-8");
	if (!x.parser) {
		rc = -ENOMEM;
		goto out;
	}
	XML_SetUserData(x.parser, &x);
	XML_SetElementHandler(x.parser, xml_start, xml_end);
	XML_SetCharacterDataHandler(x.parser, xml_chars);
	XML_SetStartDoctypeDeclHandler(x.parser, xml_doctype);

	while (off < len) {
		size_t n = len - off;
		int final;

		if (n > XML_FEED_CHUNK)
			n = XML_FEED_CHUNK;
		final = off + n == len;
		if (XML_Parse(x.parser, body + off, (int)n, final) !=
		    XML_STATUS_OK) {
			if (x.stop_ok && !x.err)
				goto out;
			rc = x.err ? x.err : -EPROTO;
			if (!x.err)
				log_debug("xml: %s at line %lu",
					  XML_ErrorString(
						  XML_GetErrorCode(x.parser)),
					  (unsigned long)
						  XML_GetCurrentLineNumber(
							  x.parser));
			goto out;
		}
		off += n;
	}
	rc = x.err;
out:
	if (x.parser)
		XML_ParserFree(x.parser);
	buf_free(&x.text);
	return rc;
}

/* Copy a value we use, refusing over-long or overflowed text. */
static int xml_dup_value(const char *text, size_t len, bool overflow,
			 size_t max, char **out)
{
	char *s;

	if (overflow || len > max)
		return -EPROTO;
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, text, len);
	s[len] = '\0';
	free(*out);
	*out = s;
	return 0;
}

/*
 * ETags are handed out in their HTTP header form, with the double quotes,
 * so callers can compare them with an ETag header and send them in
 * If-Match unchanged. AWS quotes them in every body (as &quot;); RGW 16.2
 * quotes them in listings but not in CompleteMultipartUploadResult,
 * CopyObjectResult or CopyPartResult (captured: <ETag>b1946a...</ETag>).
 */
static int xml_dup_etag(const char *text, size_t len, bool overflow,
			char **out)
{
	char *s;

	if (overflow || len == 0)
		return -EPROTO;
	if (len >= 2 && text[0] == '"' && text[len - 1] == '"')
		return xml_dup_value(text, len, false, S3_ETAG_MAX - 1, out);
	if (len + 2 > S3_ETAG_MAX - 1 || memchr(text, '"', len))
		return -EPROTO;
	s = malloc(len + 3);
	if (!s)
		return -ENOMEM;
	s[0] = '"';
	memcpy(s + 1, text, len);
	s[len + 1] = '"';
	s[len + 2] = '\0';
	free(*out);
	*out = s;
	return 0;
}

/* Plain decimal unsigned 64-bit, nothing else (no sign, no spaces). */
static int xml_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EPROTO;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------ time */

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect_char(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.fff]Z", strictly: S3 (and RGW's dump_time) always
 * send UTC with 'Z'; RGW and AWS send milliseconds, some gateways none.
 * Parsed by hand because strptime is lenient (and locale-bound).
 */
int s3_xml_parse_time(const char *s, time_t *out)
{
	const char *p = s;
	struct tm tm;
	int year, mon, day, hour, min, sec;
	time_t t;

	if (!s)
		return -EINVAL;
	if (parse_digits(&p, 4, &year) || expect_char(&p, '-') ||
	    parse_digits(&p, 2, &mon) || expect_char(&p, '-') ||
	    parse_digits(&p, 2, &day) || expect_char(&p, 'T') ||
	    parse_digits(&p, 2, &hour) || expect_char(&p, ':') ||
	    parse_digits(&p, 2, &min) || expect_char(&p, ':') ||
	    parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		int digits = 0;

		p++;
		while (*p >= '0' && *p <= '9' && digits < 9) {
			p++;
			digits++;
		}
		if (digits == 0)
			return -EINVAL;
	}
	if (expect_char(&p, 'Z') || *p != '\0')
		return -EINVAL;
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 ||
	    hour > 23 || min > 59 || sec > 60)
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse such dates. */
	if (t == (time_t)-1 || tm.tm_mday != day || tm.tm_mon != mon - 1)
		return -EINVAL;
	*out = t;
	return 0;
}

/* ------------------------------------------------------------ list */

struct list_state {
	struct s3_list_result *r;
	size_t cap_objects;
	size_t cap_prefixes;
	bool url_encoded;
	bool in_contents;
	bool saw_root;
};

#define LIST_ROOT "/ListBucketResult"

static int list_start(struct xml_ctx *x, const char *path, int depth)
{
	struct list_state *st = x->user;
	struct s3_list_result *r = st->r;

	if (depth == 1) {
		if (strcmp(path, LIST_ROOT) != 0)
			return -EPROTO; /* an <Error> or something else */
		st->saw_root = true;
		return 0;
	}
	if (strcmp(path, LIST_ROOT "/Contents") == 0) {
		struct s3_list_object *o;

		if (r->n_objects >= XML_LIST_ENTRIES_MAX)
			return -EPROTO;
		if (r->n_objects == st->cap_objects) {
			size_t cap = st->cap_objects ? 2 * st->cap_objects
						     : 64;

			o = realloc(r->objects, cap * sizeof(*o));
			if (!o)
				return -ENOMEM;
			r->objects = o;
			st->cap_objects = cap;
		}
		o = &r->objects[r->n_objects++];
		memset(o, 0, sizeof(*o));
		/* Size is required: mark "not seen" until it is. */
		o->size = UINT64_MAX;
		st->in_contents = true;
	} else if (strcmp(path, LIST_ROOT "/CommonPrefixes/Prefix") == 0) {
		char **pp;

		if (r->n_prefixes >= XML_LIST_ENTRIES_MAX)
			return -EPROTO;
		if (r->n_prefixes == st->cap_prefixes) {
			size_t cap = st->cap_prefixes ? 2 * st->cap_prefixes
						      : 16;

			pp = realloc(r->prefixes, cap * sizeof(*pp));
			if (!pp)
				return -ENOMEM;
			r->prefixes = pp;
			st->cap_prefixes = cap;
		}
		r->prefixes[r->n_prefixes++] = NULL;
	}
	return 0;
}

static int list_end(struct xml_ctx *x, const char *path, int depth,
		    const char *text, size_t len, bool overflow)
{
	struct list_state *st = x->user;
	struct s3_list_result *r = st->r;
	struct s3_list_object *o =
		r->n_objects ? &r->objects[r->n_objects - 1] : NULL;

	if (depth == 2) {
		if (strcmp(path, LIST_ROOT "/IsTruncated") == 0) {
			if (len == 4 && memcmp(text, "true", 4) == 0)
				r->truncated = true;
			else if (len == 5 && memcmp(text, "false", 5) == 0)
				r->truncated = false;
			else
				return -EPROTO;
		} else if (strcmp(path, LIST_ROOT "/NextContinuationToken") ==
			   0) {
			return xml_dup_value(text, len, overflow,
					     XML_VALUE_MAX, &r->next_token);
		} else if (strcmp(path, LIST_ROOT "/EncodingType") == 0) {
			if (len == 3 && memcmp(text, "url", 3) == 0)
				st->url_encoded = true;
			else
				return -EPROTO; /* an encoding we can't undo */
		} else if (strcmp(path, LIST_ROOT "/Contents") == 0) {
			st->in_contents = false;
			if (!o || !o->key || o->size == UINT64_MAX)
				return -EPROTO;
		}
		return 0;
	}
	if (depth == 3 && st->in_contents && o) {
		/* Keys stay raw until the end: <EncodingType> may come
		 * after <Contents> (it does in AWS's documented order). */
		if (strcmp(path, LIST_ROOT "/Contents/Key") == 0)
			return xml_dup_value(text, len, overflow,
					     XML_TEXT_MAX, &o->key);
		if (strcmp(path, LIST_ROOT "/Contents/ETag") == 0)
			return xml_dup_etag(text, len, overflow, &o->etag);
		if (strcmp(path, LIST_ROOT "/Contents/Size") == 0)
			return xml_parse_u64(text, len, &o->size);
		if (strcmp(path, LIST_ROOT "/Contents/LastModified") == 0) {
			char tbuf[64];

			if (overflow || len >= sizeof(tbuf))
				return -EPROTO;
			memcpy(tbuf, text, len);
			tbuf[len] = '\0';
			return s3_xml_parse_time(tbuf, &o->mtime) ? -EPROTO
								  : 0;
		}
		return 0;
	}
	if (depth == 3 &&
	    strcmp(path, LIST_ROOT "/CommonPrefixes/Prefix") == 0)
		return xml_dup_value(text, len, overflow, XML_TEXT_MAX,
				     &r->prefixes[r->n_prefixes - 1]);
	return 0;
}

/*
 * Undo encoding-type=url on one key or prefix, in place.
 *
 * What '+' means: AWS encodes with HTML-form rules, a space as '+' and a
 * literal '+' as "%2B" (boto's and botocore's listing decoders use
 * unquote_plus for this reason; measured keys: "a b.txt" -> "a+b.txt",
 * "a+b.txt" -> "a%2Bb.txt"). Ceph RGW's url_encode() percent-encodes every
 * byte <= 0x20 (space -> "%20") and '+' -> "%2B". Neither ever sends a bare
 * '+' for a literal plus, so decoding '+' as space is right for both.
 *
 * Plain (not encoded) keys are only checked for length.
 */
static int list_fix_key(char **key, bool url_encoded)
{
	struct buf out;
	char *decoded;
	int rc;

	if (!*key)
		return -EPROTO;
	if (!url_encoded)
		return strlen(*key) > XML_KEY_MAX ? -EPROTO : 0;

	buf_init(&out, XML_KEY_MAX);
	rc = uri_decode(&out, *key, true);
	if (rc == -ENOMEM) {
		buf_free(&out);
		return -ENOMEM;
	}
	/* -EINVAL (bad escape or %00), -E2BIG (longer than a key may be),
	 * or an embedded NUL: no key can be that. */
	if (rc < 0 || out.len == 0 || memchr(buf_str(&out), '\0', out.len)) {
		buf_free(&out);
		return -EPROTO;
	}
	decoded = buf_take(&out);
	buf_free(&out);
	if (!decoded)
		return -ENOMEM;
	free(*key);
	*key = decoded;
	return 0;
}

void s3_list_result_free(struct s3_list_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_objects; i++) {
		free(r->objects[i].key);
		free(r->objects[i].etag);
	}
	free(r->objects);
	for (size_t i = 0; i < r->n_prefixes; i++)
		free(r->prefixes[i]);
	free(r->prefixes);
	free(r->next_token);
	memset(r, 0, sizeof(*r));
}

int s3_xml_parse_list(const char *body, size_t len, struct s3_list_result *out)
{
	struct list_state st;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	st.r = out;
	rc = xml_run(body, len, list_start, list_end, &st);
	if (rc == -ENODATA)
		rc = -EPROTO;
	if (rc)
		goto out;
	if (!st.saw_root) {
		rc = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < out->n_objects; i++) {
		rc = list_fix_key(&out->objects[i].key, st.url_encoded);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < out->n_prefixes; i++) {
		rc = list_fix_key(&out->prefixes[i], st.url_encoded);
		if (rc)
			goto out;
	}
	/* A truncated page without a token cannot be continued: listing
	 * on would silently lose entries. */
	if (out->truncated && (!out->next_token || !out->next_token[0]))
		rc = -EPROTO;
out:
	if (rc)
		s3_list_result_free(out);
	return rc;
}

/* ------------------------------------------------------------ error */

struct error_state {
	struct s3_error_info *info;
	bool is_error;
	int rc;
};

/* Copy informational text, cut at a UTF-8 character boundary. */
static void copy_info(char *dst, size_t dst_len, const char *s, size_t len)
{
	if (len >= dst_len) {
		len = dst_len - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int error_start(struct xml_ctx *x, const char *path, int depth)
{
	struct error_state *st = x->user;

	if (depth == 1) {
		if (strcmp(path, "/Error") == 0)
			st->is_error = true;
		else
			xml_stop_ok(x); /* well-formed so far, not an error */
	}
	return 0;
}

static int error_end(struct xml_ctx *x, const char *path, int depth,
		     const char *text, size_t len, bool overflow)
{
	struct error_state *st = x->user;

	if (depth != 2)
		return 0;
	if (strcmp(path, "/Error/Code") == 0) {
		/* The code chooses the errno: never guess from a cut one. */
		if (overflow || len >= sizeof(st->info->code))
			return -EPROTO;
		copy_info(st->info->code, sizeof(st->info->code), text, len);
	} else if (strcmp(path, "/Error/Message") == 0) {
		/* Messages are for people; a long one is shortened. */
		copy_info(st->info->message, sizeof(st->info->message), text,
			  len);
	} else if (strcmp(path, "/Error/RequestId") == 0) {
		copy_info(st->info->request_id, sizeof(st->info->request_id),
			  text, len);
	}
	return 0;
}

/*
 * An empty body (HEAD, many 404s and 412s) is "not an error document":
 * 0, so callers can call this on every non-2xx answer without checking.
 */
int s3_xml_parse_error(const char *body, size_t len, struct s3_error_info *out)
{
	struct error_state st;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	st.info = out;
	rc = xml_run(body, len, error_start, error_end, &st);
	if (rc == -ENODATA)
		return 0;
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc == -ENOMEM ? -ENOMEM : -EPROTO;
	}
	if (!st.is_error) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ results */

struct single_state {
	const char *const *roots; /* accepted root elements, NULL-terminated */
	const char *child;	  /* element under the root we want */
	bool is_etag;
	char *value;
	bool root_ok;
};

static int single_start(struct xml_ctx *x, const char *path, int depth)
{
	struct single_state *st = x->user;

	if (depth != 1)
		return 0;
	for (const char *const *r = st->roots; *r; r++) {
		if (strcmp(path + 1, *r) == 0) {
			st->root_ok = true;
			return 0;
		}
	}
	return -EPROTO; /* <Error> in a 200 answer, or something else */
}

static int single_end(struct xml_ctx *x, const char *path, int depth,
		      const char *text, size_t len, bool overflow)
{
	struct single_state *st = x->user;
	const char *slash;

	if (depth != 2)
		return 0;
	slash = strchr(path + 1, '/');
	if (!slash || strcmp(slash + 1, st->child) != 0)
		return 0;
	if (len == 0 && !overflow)
		return 0; /* <ETag></ETag>: judged as "absent" below */
	if (st->is_etag)
		return xml_dup_etag(text, len, overflow, &st->value);
	return xml_dup_value(text, len, overflow, XML_VALUE_MAX, &st->value);
}

static int parse_single(const char *body, size_t len,
			const char *const *roots, const char *child,
			bool is_etag, char **out)
{
	struct single_state st;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	st.roots = roots;
	st.child = child;
	st.is_etag = is_etag;
	rc = xml_run(body, len, single_start, single_end, &st);
	if (rc == -ENODATA)
		rc = -EPROTO;
	if (rc == 0 && !st.root_ok)
		rc = -EPROTO;
	if (rc == 0 && !st.value)
		rc = is_etag ? -ENODATA : -EPROTO;
	if (rc) {
		free(st.value);
		return rc;
	}
	*out = st.value;
	return 0;
}

int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id)
{
	static const char *const roots[] = {"InitiateMultipartUploadResult",
					    NULL};

	return parse_single(body, len, roots, "UploadId", false, upload_id);
}

/*
 * -ENODATA: a well-formed success document without an ETag value. RGW
 * 16.2 answers the first successful CompleteMultipartUpload with
 * <ETag></ETag> (captured, reproducible; a repeated Complete of the same
 * upload then carries the ETag). The upload did complete: the caller
 * learns the ETag with a HEAD (or computes the multipart ETag) instead of
 * treating the write as failed, which -EPROTO would suggest.
 */
int s3_xml_parse_result_etag(const char *body, size_t len, char **etag)
{
	static const char *const roots[] = {"CompleteMultipartUploadResult",
					    "CopyObjectResult",
					    "CopyPartResult", NULL};

	return parse_single(body, len, roots, "ETag", true, etag);
}

/* ------------------------------------------------------------ complete */

static int add_escaped(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&':
			rc = buf_adds(b, "&amp;");
			break;
		case '<':
			rc = buf_adds(b, "&lt;");
			break;
		case '>':
			rc = buf_adds(b, "&gt;");
			break;
		case '"':
			rc = buf_adds(b, "&quot;");
			break;
		case '\'':
			rc = buf_adds(b, "&apos;");
			break;
		/* XML normalises raw line ends and a parser may fold tabs:
		 * only character references keep these bytes as they are. */
		case '\r':
			rc = buf_adds(b, "&#13;");
			break;
		case '\n':
			rc = buf_adds(b, "&#10;");
			break;
		case '\t':
			rc = buf_adds(b, "&#9;");
			break;
		default:
			rc = buf_add(b, s, 1);
		}
	}
	return rc;
}

char *s3_xml_complete_body(const struct s3_part *parts, size_t n)
{
	struct buf b;
	char *body = NULL;
	int rc;

	buf_init(&b, BUF_MAX_DEFAULT);
	rc = buf_adds(&b, "<CompleteMultipartUpload xmlns=\""
			  "http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = buf_addf(&b, "<Part><PartNumber>%d</PartNumber><ETag>",
			      parts[i].number);
		if (rc == 0)
			rc = add_escaped(&b, parts[i].etag ? parts[i].etag
							   : "");
		if (rc == 0)
			rc = buf_adds(&b, "</ETag></Part>");
	}
	if (rc == 0)
		rc = buf_adds(&b, "</CompleteMultipartUpload>");
	if (rc == 0)
		body = buf_take(&b);
	buf_free(&b);
	return body;
}
