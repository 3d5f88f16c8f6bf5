/*
 * The two time formats servers send: ISO 8601 in listings
 * (s3_xml_parse_time, "2009-10-12T17:50:30.000Z") and the IMF-fixdate of
 * Last-Modified (s3_http_parse_date). Both are parsed by hand.
 *
 * Property: an accepted ISO time names exactly the calendar date and
 * time that was written (a 31 February is refused, not moved to March).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "s3/http.h"
#include "s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	time_t t = 0;
	struct tm tm;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	rc = s3_xml_parse_time(s, &t);
	fuzz_assert(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		char back[32];
		int sec;

		fuzz_assert(t >= 0);
		fuzz_assert(gmtime_r(&t, &tm) != NULL);
		/* 23:59:60 (a leap second) is accepted as the next
		 * second; compare all the rest. */
		sec = s[17] == '6' ? 60 : tm.tm_sec;
		if (sec != 60) {
			snprintf(back, sizeof(back),
				 "%04d-%02d-%02dT%02d:%02d:%02d",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				 tm.tm_hour, tm.tm_min, tm.tm_sec);
			fuzz_assert(strncmp(back, s, 19) == 0);
		}
	}
	(void)s3_http_parse_date(s);
	free(s);
	return 0;
}
