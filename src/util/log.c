/*
 * Leveled logging to stderr (foreground) or syslog (daemon).
 *
 * Concurrency: log_init() runs once at start-up before any thread exists.
 * log_write() may run from any thread: each line is formatted into a
 * private stack buffer and handed to the kernel with a single write(), so
 * lines from different threads never interleave; syslog() is thread-safe
 * on its own. No lock is taken.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

int log_max_level = LOG_NOTICE;

/* Longer messages are truncated rather than allocated: logging must work
 * when memory is short. */
#define LOG_LINE_MAX 2048

static const char *log_ident = "etagfs";
static bool log_to_stderr = true;

void log_init(const char *ident, bool to_stderr, int max_level)
{
	if (ident != NULL && ident[0] != '\0')
		log_ident = ident;
	log_to_stderr = to_stderr;
	if (max_level < LOG_EMERG)
		max_level = LOG_EMERG;
	if (max_level > LOG_DEBUG)
		max_level = LOG_DEBUG;
	log_max_level = max_level;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *log_level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
		return "emergency";
	case LOG_ALERT:
		return "alert";
	case LOG_CRIT:
		return "critical";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_write(int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t len;
	int saved_errno = errno;
	int n;
	va_list ap;

	if (level > log_max_level)
		return;

	if (!log_to_stderr) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(level, "%s", line);
		errno = saved_errno;
		return;
	}

	n = snprintf(line, sizeof(line), "%s: %s: ", log_ident,
		     log_level_name(level));
	if (n < 0)
		goto out;
	len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	len += (size_t)n;
	/* Truncated: keep room for the newline. */
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write() per line keeps concurrent lines whole; a failed log
	 * write has nowhere to be reported, so the result is dropped. */
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
out:
	errno = saved_errno;
}
