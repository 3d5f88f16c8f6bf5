/**
 * @file seen_set.h
 * A bounded set of strings that answers "first time?", so that a
 * message about one thing (a key that cannot be a file name) is logged
 * once per mount, not at every listing that meets it again.
 *
 * Bounded because the things are the server's to choose: a bucket with
 * a million unnameable keys must not cost a million entries. Past the
 * bound the set answers SEEN_FULL once (the caller says that further
 * ones go unreported) and SEEN_AGAIN after that.
 *
 * Locking: internal; every call may come from any thread.
 */
#ifndef ETAGFS_CACHE_SEEN_SET_H
#define ETAGFS_CACHE_SEEN_SET_H

#include <stddef.h>

struct seen_set;

enum seen_result {
	SEEN_FIRST, /**< new (and now remembered): report it */
	SEEN_AGAIN, /**< reported before, or the set is full: stay quiet */
	SEEN_FULL,  /**< new, but the set just reached its bound: report
		       that further ones go unreported */
};

/** An empty set of at most @p max strings (> 0); NULL on ENOMEM. */
struct seen_set *seen_set_new(size_t max);
void seen_set_free(struct seen_set *s);

/** Whether @p str is new. Out of memory counts as new (reported, not
 * remembered): a repeated line is better than a missing one. */
enum seen_result seen_set_add(struct seen_set *s, const char *str);

#endif
