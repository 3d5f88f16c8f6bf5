/*
 * Transport-independent parts of the HTTP layer: the response object and
 * the parsing of response header lines and dates, shared by the libcurl
 * transport and the fake transport of the unit tests. No locking: a
 * response belongs to one exchange on one thread.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3/http.h"

/* An S3 error document is small; anything beyond this is not needed to
 * find <Code> and would only cost memory. */
#define ERR_BODY_MAX (64u * 1024)
/* A response with more x-amz-meta-* headers than this is not ours. */
#define META_MAX 64

void s3_http_response_init(struct s3_http_response *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->range_total = -1;
	buf_init(&r->err_body, ERR_BODY_MAX);
}

static void free_meta(struct s3_http_response *r)
{
	for (size_t i = 0; i < r->n_meta; i++) {
		free(r->meta[i].name);
		free(r->meta[i].value);
	}
	free(r->meta);
	r->meta = NULL;
	r->n_meta = 0;
}

void s3_http_response_free(struct s3_http_response *r)
{
	if (!r)
		return;
	free_meta(r);
	buf_free(&r->err_body);
}

void s3_http_free(struct s3_http *h)
{
	if (!h)
		return;
	if (h->ops && h->ops->destroy)
		h->ops->destroy(h->impl);
	free(h);
}

/* Copy a header value into a fixed field; a value that does not fit is a
 * protocol error rather than a silently truncated ETag. */
static int copy_field(char *dst, size_t dst_len, const char *v, size_t n)
{
	if (n >= dst_len)
		return -EPROTO;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int parse_status_line(const char *line, size_t len,
			     struct s3_http_response *resp)
{
	const char *p = line;
	const char *end = line + len;
	int status = 0;
	int digits = 0;

	while (p < end && *p != ' ')
		p++;
	while (p < end && *p == ' ')
		p++;
	while (p < end && digits < 3 && isdigit((unsigned char)*p)) {
		status = status * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (digits != 3)
		return -EPROTO;
	/* A new status line starts a new response (after 100 Continue or
	 * any interim answer): forget the headers of the previous one. */
	free_meta(resp);
	resp->etag[0] = '\0';
	resp->request_id[0] = '\0';
	resp->last_modified[0] = '\0';
	resp->date[0] = '\0';
	resp->content_length = -1;
	resp->range_total = -1;
	resp->status = status;
	return 0;
}

static int add_meta(struct s3_http_response *resp, const char *name,
		    size_t name_len, const char *value, size_t value_len)
{
	struct s3_kv *grown;
	char *n = NULL;
	char *v = NULL;

	if (resp->n_meta >= META_MAX)
		return -EPROTO;
	/* A NUL inside would cut the copies short of the lengths used. */
	if (memchr(name, '\0', name_len) || memchr(value, '\0', value_len))
		return -EPROTO;
	n = strndup(name, name_len);
	v = strndup(value, value_len);
	grown = realloc(resp->meta, (resp->n_meta + 1) * sizeof(*grown));
	if (!n || !v || !grown) {
		free(n);
		free(v);
		if (grown)
			resp->meta = grown;
		return -ENOMEM;
	}
	for (size_t i = 0; i < name_len; i++)
		n[i] = (char)tolower((unsigned char)n[i]);
	resp->meta = grown;
	resp->meta[resp->n_meta].name = n;
	resp->meta[resp->n_meta].value = v;
	resp->n_meta++;
	return 0;
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* A decimal count of bytes that fills all of [v, v+n). */
static int parse_count(const char *v, size_t n, int64_t *out)
{
	char tmp[32];
	char *endp = NULL;
	long long ll;

	if (n == 0 || copy_field(tmp, sizeof(tmp), v, n) < 0)
		return -EPROTO;
	errno = 0;
	ll = strtoll(tmp, &endp, 10);
	if (errno || *endp != '\0' || ll < 0)
		return -EPROTO;
	*out = ll;
	return 0;
}

/* Content-Range "bytes a-b/N" (206), or with "*" for a-b (416): the N,
 * which is the size of the whole object. An unknown size ("*" for N)
 * leaves -1. */
static int parse_content_range(const char *v, size_t n,
			       struct s3_http_response *resp)
{
	const char *slash = memchr(v, '/', n);
	size_t total_len;

	if (n < 6 || strncasecmp(v, "bytes ", 6) != 0 || !slash)
		return -EPROTO;
	total_len = n - (size_t)(slash + 1 - v);
	if (total_len == 1 && slash[1] == '*')
		return 0;
	return parse_count(slash + 1, total_len, &resp->range_total);
}

int s3_http_parse_header_line(const char *line, size_t len,
			      struct s3_http_response *resp)
{
	static const char meta_prefix[] = "x-amz-meta-";
	const size_t meta_prefix_len = sizeof(meta_prefix) - 1;
	const char *colon;
	const char *name = line;
	const char *value;
	size_t name_len;
	size_t value_len;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len == 0)
		return 0; /* the blank line that ends the headers */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
		return parse_status_line(line, len, resp);
	colon = memchr(line, ':', len);
	if (!colon)
		return 0; /* folded or garbage line: nothing we use */
	name_len = (size_t)(colon - line);
	while (name_len > 0 && (name[name_len - 1] == ' ' ||
				name[name_len - 1] == '\t'))
		name_len--;
	value = colon + 1;
	value_len = len - (size_t)(value - line);
	while (value_len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		value_len--;
	}
	while (value_len > 0 && (value[value_len - 1] == ' ' ||
				 value[value_len - 1] == '\t'))
		value_len--;

	if (name_is(name, name_len, "etag"))
		return copy_field(resp->etag, sizeof(resp->etag), value,
				  value_len);
	if (name_is(name, name_len, "x-amz-request-id"))
		return copy_field(resp->request_id, sizeof(resp->request_id),
				  value, value_len);
	if (name_is(name, name_len, "last-modified"))
		return copy_field(resp->last_modified,
				  sizeof(resp->last_modified), value,
				  value_len);
	if (name_is(name, name_len, "date"))
		return copy_field(resp->date, sizeof(resp->date), value,
				  value_len);
	if (name_is(name, name_len, "content-length"))
		return parse_count(value, value_len, &resp->content_length);
	if (name_is(name, name_len, "content-range"))
		return parse_content_range(value, value_len, resp);
	if (name_len > meta_prefix_len &&
	    strncasecmp(name, meta_prefix, meta_prefix_len) == 0)
		return add_meta(resp, name + meta_prefix_len,
				name_len - meta_prefix_len, value, value_len);
	return 0;
}

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr",
					"May", "Jun", "Jul", "Aug",
					"Sep", "Oct", "Nov", "Dec" };

/* By hand, so that the process locale does not matter. */
time_t s3_http_parse_date(const char *s)
{
	struct tm tm;
	char mon[4] = "";
	int day, year, hh, mm, ss;
	const char *comma = strchr(s, ',');

	if (!comma)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d", &day, mon, &year,
		   &hh, &mm, &ss) != 6)
		return 0;
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0)
		return 0;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return timegm(&tm);
}
