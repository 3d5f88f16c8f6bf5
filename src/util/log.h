/**
 * @file log.h
 * Leveled logging: stderr in the foreground, syslog otherwise.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). The macros check the level
 * before formatting, so a disabled debug line costs one comparison.
 * Never pass secrets (secret keys, session tokens, Authorization headers,
 * signatures) to these functions: logs are readable by operators.
 */
#ifndef ETAGFS_UTIL_LOG_H
#define ETAGFS_UTIL_LOG_H

#include <stdbool.h>
#include <syslog.h>

/** The most verbose level that is emitted; LOG_NOTICE by default. */
extern int log_max_level;

/**
 * Configure logging once at start-up.
 * @param ident      program name shown in each line / syslog ident
 * @param to_stderr  true: write to stderr; false: openlog() and syslog()
 * @param max_level  most verbose level emitted (LOG_ERR .. LOG_DEBUG)
 */
void log_init(const char *ident, bool to_stderr, int max_level);

/** Emit one line (a trailing newline is added). Thread-safe. */
void log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                     \
	do {                                                                   \
		if ((level) <= log_max_level)                                  \
			log_write((level), __VA_ARGS__);                       \
	} while (0)

#define log_error(...) log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_at(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
