/*
 * Unit tests for src/cache/attr_cache.c: TTL on a fake clock, negative
 * entries, eviction order, generation guard against stale fills
 * (per path, per tree, after tombstones expire or overflow), and a
 * multi-threaded hammer for the locking.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/attr_cache.h"
#include "check_main.h"
#include "util/clock.h"

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static void set_now(uint64_t ms)
{
	__atomic_store_n(&fake_now, ms, __ATOMIC_RELAXED);
}

static struct attr_entry file_entry(uint64_t size, const char *etag)
{
	struct attr_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = ATTR_FILE;
	e.size = size;
	snprintf(e.etag, sizeof(e.etag), "%s", etag);
	e.last_modified = 1700000000;
	e.meta_known = true;
	e.meta.has_mode = true;
	e.meta.mode = 0100644;
	return e;
}

static struct attr_entry absent_entry(void)
{
	struct attr_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = ATTR_ABSENT;
	return e;
}

static bool cached(struct attr_cache *c, const char *path)
{
	struct attr_entry out;

	return attr_cache_get(c, path, &out);
}

static void put_now(struct attr_cache *c, const char *path, uint64_t size)
{
	struct attr_entry e = file_entry(size, "\"e\"");

	attr_cache_put(c, path, &e, attr_cache_gen(c));
}

START_TEST(test_put_get_roundtrip)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(1234, "\"abc\""), out;

	set_now(0);
	ck_assert_ptr_nonnull(c);
	ck_assert(!attr_cache_get(c, "a/b", &out));
	attr_cache_put(c, "a/b", &e, attr_cache_gen(c));
	memset(&out, 0xa5, sizeof(out));
	ck_assert(attr_cache_get(c, "a/b", &out));
	ck_assert_int_eq(out.kind, ATTR_FILE);
	ck_assert_uint_eq(out.size, 1234);
	ck_assert_str_eq(out.etag, "\"abc\"");
	ck_assert_int_eq(out.last_modified, 1700000000);
	ck_assert(out.meta_known);
	ck_assert_uint_eq(out.meta.mode, 0100644);
	/* Neighbours and the root are distinct keys. */
	ck_assert(!cached(c, "a"));
	ck_assert(!cached(c, "a/b/"));
	ck_assert(!cached(c, ""));
	/* Replacing updates in place. */
	e.size = 7;
	attr_cache_put(c, "a/b", &e, attr_cache_gen(c));
	ck_assert(attr_cache_get(c, "a/b", &out));
	ck_assert_uint_eq(out.size, 7);
	attr_cache_free(c);
}
END_TEST

START_TEST(test_ttl_boundary)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry out;

	set_now(5000);
	put_now(c, "f", 1);
	set_now(5999);
	ck_assert(attr_cache_get(c, "f", &out));
	set_now(6000); /* put time + ttl: expired */
	ck_assert(!attr_cache_get(c, "f", &out));
	/* It stays gone when time does not move on. */
	ck_assert(!attr_cache_get(c, "f", &out));
	/* A re-put restarts the TTL from now. */
	put_now(c, "f", 2);
	set_now(6999);
	ck_assert(attr_cache_get(c, "f", &out));
	ck_assert_uint_eq(out.size, 2);
	set_now(7000);
	ck_assert(!attr_cache_get(c, "f", &out));
	attr_cache_free(c);
}
END_TEST

/* An expired entry answers nothing but still says what the name was,
 * so that a lookup sends the right request first. */
START_TEST(test_expired_entry_is_a_hint)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry absent = absent_entry(), dir, out;
	enum attr_kind kind = ATTR_FILE;

	memset(&dir, 0, sizeof(dir));
	dir.kind = ATTR_DIR;
	set_now(0);
	ck_assert(!attr_cache_hint(c, "f", &kind));
	put_now(c, "f", 1);
	attr_cache_put(c, "d", &dir, attr_cache_gen(c));
	attr_cache_put(c, "gone", &absent, attr_cache_gen(c));
	set_now(1000);
	ck_assert(!attr_cache_get(c, "f", &out));
	ck_assert(attr_cache_hint(c, "f", &kind));
	ck_assert_int_eq(kind, ATTR_FILE);
	ck_assert(attr_cache_hint(c, "d", &kind));
	ck_assert_int_eq(kind, ATTR_DIR);
	ck_assert(attr_cache_hint(c, "gone", &kind));
	ck_assert_int_eq(kind, ATTR_ABSENT);
	/* A later put of another path does not drop the hints of a small
	 * cache, and still no answer comes from them. */
	put_now(c, "other", 1);
	ck_assert(attr_cache_hint(c, "f", &kind));
	ck_assert(!attr_cache_get(c, "f", &out));
	/* Invalidation forgets the hint too: the name changed here. */
	attr_cache_invalidate(c, "d");
	ck_assert(!attr_cache_hint(c, "d", &kind));
	attr_cache_free(c);
}
END_TEST

/* Past 4096 entries the expired ones go, oldest first; fresh ones stay. */
START_TEST(test_hints_bounded)
{
	struct attr_cache *c = attr_cache_new(1000, 100000, fake_clock);
	enum attr_kind kind;
	char path[32];

	set_now(0);
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "old%05d", i);
		put_now(c, path, 1);
	}
	set_now(2000);
	/* All 5000 expired: the first put now trims them to 4096. */
	put_now(c, "young", 1);
	ck_assert(!attr_cache_hint(c, "old00000", &kind));
	ck_assert(!attr_cache_hint(c, "old00903", &kind));
	ck_assert(attr_cache_hint(c, "old00904", &kind));
	ck_assert(attr_cache_hint(c, "old04999", &kind));
	ck_assert(attr_cache_hint(c, "young", &kind));
	/* Fresh entries are never dropped for the bound. */
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "new%05d", i);
		put_now(c, path, 1);
	}
	ck_assert(!attr_cache_hint(c, "old04999", &kind));
	ck_assert(cached(c, "new00000"));
	ck_assert(cached(c, "young"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_ttl_zero_disables)
{
	struct attr_cache *c = attr_cache_new(0, 100, fake_clock);
	uint64_t g;

	set_now(100);
	put_now(c, "f", 1);
	ck_assert(!cached(c, "f"));
	/* Generations still advance, so callers' logic stays uniform. */
	g = attr_cache_gen(c);
	attr_cache_invalidate(c, "f");
	ck_assert_uint_eq(attr_cache_gen(c), g + 1);
	attr_cache_free(c);
}
END_TEST

START_TEST(test_max_zero_disables)
{
	struct attr_cache *c = attr_cache_new(1000, 0, fake_clock);

	set_now(100);
	put_now(c, "f", 1);
	ck_assert(!cached(c, "f"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_negative_entry)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry neg = absent_entry(), out;

	set_now(0);
	attr_cache_put(c, "missing", &neg, attr_cache_gen(c));
	memset(&out, 0xa5, sizeof(out));
	ck_assert(attr_cache_get(c, "missing", &out));
	ck_assert_int_eq(out.kind, ATTR_ABSENT);
	ck_assert_uint_eq(out.size, 0);
	ck_assert_str_eq(out.etag, "");
	/* Negative entries expire like positive ones. */
	set_now(1000);
	ck_assert(!attr_cache_get(c, "missing", &out));
	/* And are dropped by invalidation (e.g. after a local create). */
	set_now(2000);
	attr_cache_put(c, "missing", &neg, attr_cache_gen(c));
	attr_cache_invalidate(c, "missing");
	ck_assert(!attr_cache_get(c, "missing", &out));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_eviction_order)
{
	struct attr_cache *c = attr_cache_new(10000, 3, fake_clock);
	struct attr_entry out;

	set_now(0);
	put_now(c, "a", 1);
	set_now(1);
	put_now(c, "b", 2);
	set_now(2);
	put_now(c, "c", 3);
	/* Re-putting "a" makes it the youngest, so "b" is now oldest. */
	set_now(3);
	put_now(c, "a", 11);
	set_now(4);
	put_now(c, "d", 4);
	ck_assert(!cached(c, "b"));
	ck_assert(attr_cache_get(c, "a", &out));
	ck_assert_uint_eq(out.size, 11);
	ck_assert(cached(c, "c"));
	ck_assert(cached(c, "d"));
	/* A get does not rejuvenate: "c" goes next. */
	set_now(5);
	put_now(c, "e", 5);
	ck_assert(!cached(c, "c"));
	ck_assert(cached(c, "a"));
	ck_assert(cached(c, "d"));
	ck_assert(cached(c, "e"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_stale_fill_rejected)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry old = file_entry(1, "\"old\"");
	struct attr_entry cur = file_entry(2, "\"new\""), out;
	uint64_t before, after;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate(c, "p");
	after = attr_cache_gen(c);
	ck_assert_uint_eq(after, before + 1);

	/* A fill started before the invalidation is dropped... */
	attr_cache_put(c, "p", &old, before);
	ck_assert(!attr_cache_get(c, "p", &out));
	/* ...one started after it is kept. */
	attr_cache_put(c, "p", &cur, after);
	ck_assert(attr_cache_get(c, "p", &out));
	ck_assert_str_eq(out.etag, "\"new\"");
	/* The late old fill does not overwrite the newer answer either. */
	attr_cache_put(c, "p", &old, before);
	ck_assert(attr_cache_get(c, "p", &out));
	ck_assert_str_eq(out.etag, "\"new\"");
	/* The tombstone is per path: other paths take old fills. */
	attr_cache_put(c, "q", &old, before);
	ck_assert(cached(c, "q"));
	attr_cache_put(c, "p/child", &old, before);
	ck_assert(cached(c, "p/child"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_older_fill_does_not_replace_newer)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry a = file_entry(1, "\"a\"");
	struct attr_entry b = file_entry(2, "\"b\"");
	struct attr_entry out;
	uint64_t g1, g2;

	set_now(0);
	g1 = attr_cache_gen(c);
	attr_cache_invalidate(c, "elsewhere");
	g2 = attr_cache_gen(c);
	attr_cache_put(c, "p", &b, g2);
	attr_cache_put(c, "p", &a, g1);
	ck_assert(attr_cache_get(c, "p", &out));
	ck_assert_str_eq(out.etag, "\"b\"");
	/* Equal generations: last answer wins. */
	attr_cache_put(c, "p", &a, g2);
	ck_assert(attr_cache_get(c, "p", &out));
	ck_assert_str_eq(out.etag, "\"a\"");
	attr_cache_free(c);
}
END_TEST

/* invalidate_tree("a") over a fixed population, one path per loop. */
static const struct {
	const char *path;
	bool survives;
} tree_cases[] = {
	{ "a", false },	   { "a/x", false }, { "a/x/y", false },
	{ "ab", true },	   { "ab/x", true }, { "b", true },
	{ "", true },	   { "b/a", true },  { "a.b", true },
};

START_TEST(test_invalidate_tree_prefix)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	const char *path = tree_cases[_i].path;
	uint64_t before;
	size_t k;

	set_now(0);
	for (k = 0; k < sizeof(tree_cases) / sizeof(tree_cases[0]); k++)
		put_now(c, tree_cases[k].path, k);
	before = attr_cache_gen(c);
	attr_cache_invalidate_tree(c, "a");
	ck_assert_int_eq(cached(c, path), tree_cases[_i].survives);
	/* An older fill is blocked exactly where the entry was dropped. */
	attr_cache_invalidate(c, "unrelated");
	attr_cache_put(c, path, &e, before);
	ck_assert_int_eq(cached(c, path), tree_cases[_i].survives);
	/* A fill started after the invalidation is kept everywhere. */
	attr_cache_put(c, path, &e, attr_cache_gen(c));
	ck_assert(cached(c, path));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_invalidate_tree_new_paths_blocked)
{
	/* Paths never cached are blocked too (e.g. "a/new" listed by an old
	 * request after a directory rename). */
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	uint64_t before;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate_tree(c, "dir/sub");
	attr_cache_put(c, "dir/sub/new", &e, before);
	ck_assert(!cached(c, "dir/sub/new"));
	attr_cache_put(c, "dir/sub", &e, before);
	ck_assert(!cached(c, "dir/sub"));
	attr_cache_put(c, "dir/subx", &e, before);
	ck_assert(cached(c, "dir/subx"));
	attr_cache_put(c, "dir", &e, before);
	ck_assert(cached(c, "dir"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_invalidate_tree_root)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	uint64_t before;

	set_now(0);
	put_now(c, "", 0);
	put_now(c, "x", 1);
	put_now(c, "y/z", 2);
	before = attr_cache_gen(c);
	attr_cache_invalidate_tree(c, "");
	ck_assert(!cached(c, ""));
	ck_assert(!cached(c, "x"));
	ck_assert(!cached(c, "y/z"));
	attr_cache_put(c, "anything", &e, before);
	ck_assert(!cached(c, "anything"));
	attr_cache_put(c, "anything", &e, attr_cache_gen(c));
	ck_assert(cached(c, "anything"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_tree_tombstone_repeat_and_overflow)
{
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	char prefix[32];
	uint64_t before;
	int k;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate_tree(c, "first");
	/* Many more tree invalidations than the list holds. */
	for (k = 0; k < 100; k++) {
		snprintf(prefix, sizeof(prefix), "d%d", k);
		attr_cache_invalidate_tree(c, prefix);
		attr_cache_invalidate_tree(c, prefix); /* re-stamp */
	}
	attr_cache_put(c, "first/x", &e, before);
	ck_assert(!cached(c, "first/x"));
	attr_cache_put(c, "first/x", &e, attr_cache_gen(c));
	ck_assert(cached(c, "first/x"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_tombstone_expiry_keeps_guard)
{
	/* ttl 1000: tombstones live max(2 s, 5 s) = 5 s. Once one is gone
	 * a fill older than it must still be refused. */
	struct attr_cache *c = attr_cache_new(1000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	uint64_t before;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate(c, "p");
	set_now(4999);
	attr_cache_put(c, "p", &e, before);
	ck_assert(!cached(c, "p"));
	set_now(60000);
	attr_cache_put(c, "p", &e, before);
	ck_assert(!cached(c, "p"));
	/* Conservative: any fill that old is refused, whatever its path. */
	attr_cache_put(c, "q", &e, before);
	ck_assert(!cached(c, "q"));
	attr_cache_put(c, "p", &e, attr_cache_gen(c));
	ck_assert(cached(c, "p"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_tombstone_lifetime_scales_with_ttl)
{
	/* ttl 10 s: tombstones live 20 s, so at 15 s the guard is still the
	 * exact per-path one (other paths accept the old fill). */
	struct attr_cache *c = attr_cache_new(10000, 100, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	uint64_t before;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate(c, "p");
	set_now(15000);
	attr_cache_put(c, "q", &e, before);
	ck_assert(cached(c, "q"));
	attr_cache_put(c, "p", &e, before);
	ck_assert(!cached(c, "p"));
	set_now(20000);
	attr_cache_put(c, "r", &e, before);
	ck_assert(!cached(c, "r"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_tombstone_overflow_keeps_guard)
{
	struct attr_cache *c = attr_cache_new(1000, 10, fake_clock);
	struct attr_entry e = file_entry(5, "\"t\"");
	char path[32];
	uint64_t before;
	int k;

	set_now(0);
	before = attr_cache_gen(c);
	attr_cache_invalidate(c, "victim");
	for (k = 0; k < 3000; k++) {
		snprintf(path, sizeof(path), "f%d", k);
		attr_cache_invalidate(c, path);
	}
	attr_cache_put(c, "victim", &e, before);
	ck_assert(!cached(c, "victim"));
	attr_cache_put(c, "victim", &e, attr_cache_gen(c));
	ck_assert(cached(c, "victim"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_many_entries_grow)
{
	struct attr_cache *c = attr_cache_new(1000, 20000, fake_clock);
	struct attr_entry out;
	char path[32];
	int k;

	set_now(0);
	for (k = 0; k < 10000; k++) {
		snprintf(path, sizeof(path), "dir/file%d", k);
		put_now(c, path, (uint64_t)k);
	}
	for (k = 0; k < 10000; k++) {
		snprintf(path, sizeof(path), "dir/file%d", k);
		ck_assert(attr_cache_get(c, path, &out));
		ck_assert_uint_eq(out.size, (uint64_t)k);
	}
	attr_cache_invalidate_tree(c, "dir");
	ck_assert(!cached(c, "dir/file0"));
	ck_assert(!cached(c, "dir/file9999"));
	attr_cache_free(c);
}
END_TEST

START_TEST(test_default_clock)
{
	struct attr_cache *c = attr_cache_new(60000, 10, NULL);
	uint64_t t0 = clock_monotonic_ms();

	put_now(c, "x", 1);
	ck_assert(cached(c, "x"));
	ck_assert_uint_ge(clock_monotonic_ms(), t0);
	attr_cache_free(c);
	attr_cache_free(NULL);
}
END_TEST

/* ---------------------------------------------------------- threads */

#define HAMMER_THREADS 6
#define HAMMER_ROUNDS 3000

struct hammer_arg {
	struct attr_cache *c;
	unsigned seed;
	int bad;
};

static void *hammer(void *p)
{
	struct hammer_arg *a = p;
	struct attr_entry e, out;
	char path[32];
	int k;

	for (k = 0; k < HAMMER_ROUNDS; k++) {
		unsigned r = (unsigned)rand_r(&a->seed);
		unsigned n = r % 50;
		uint64_t gen;

		snprintf(path, sizeof(path), "d%u/f%u", n % 5, n);
		switch ((r >> 8) % 6) {
		case 0:
		case 1:
			gen = attr_cache_gen(a->c);
			/* The size names the path, to detect mix-ups. */
			e = file_entry(n, "\"h\"");
			attr_cache_put(a->c, path, &e, gen);
			break;
		case 2:
		case 3:
			if (attr_cache_get(a->c, path, &out) &&
			    (out.size != n || strcmp(out.etag, "\"h\"") != 0))
				a->bad++;
			break;
		case 4:
			attr_cache_invalidate(a->c, path);
			break;
		default:
			snprintf(path, sizeof(path), "d%u", n % 5);
			attr_cache_invalidate_tree(a->c, path);
			break;
		}
		if (k % 100 == 0) /* time moves on, monotonically */
			__atomic_fetch_add(&fake_now, 7, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(test_threads_hammer)
{
	struct attr_cache *c = attr_cache_new(500, 20, fake_clock);
	struct hammer_arg args[HAMMER_THREADS];
	pthread_t th[HAMMER_THREADS];
	int k;

	set_now(0);
	for (k = 0; k < HAMMER_THREADS; k++) {
		args[k].c = c;
		args[k].seed = (unsigned)k * 7919u + 1;
		args[k].bad = 0;
		ck_assert_int_eq(pthread_create(&th[k], NULL, hammer, &args[k]),
				 0);
	}
	for (k = 0; k < HAMMER_THREADS; k++) {
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
		ck_assert_int_eq(args[k].bad, 0);
	}
	/* Still consistent afterwards. */
	put_now(c, "after", 3);
	ck_assert(cached(c, "after"));
	attr_cache_free(c);
}
END_TEST

Suite *attr_cache_suite(void);
Suite *attr_cache_suite(void)
{
	Suite *s = suite_create("attr_cache");
	TCase *tc = tcase_create("core");
	TCase *tt = tcase_create("threads");

	tcase_add_test(tc, test_put_get_roundtrip);
	tcase_add_test(tc, test_ttl_boundary);
	tcase_add_test(tc, test_ttl_zero_disables);
	tcase_add_test(tc, test_max_zero_disables);
	tcase_add_test(tc, test_negative_entry);
	tcase_add_test(tc, test_eviction_order);
	tcase_add_test(tc, test_stale_fill_rejected);
	tcase_add_test(tc, test_older_fill_does_not_replace_newer);
	tcase_add_loop_test(tc, test_invalidate_tree_prefix, 0,
			    sizeof(tree_cases) / sizeof(tree_cases[0]));
	tcase_add_test(tc, test_invalidate_tree_new_paths_blocked);
	tcase_add_test(tc, test_invalidate_tree_root);
	tcase_add_test(tc, test_tree_tombstone_repeat_and_overflow);
	tcase_add_test(tc, test_tombstone_expiry_keeps_guard);
	tcase_add_test(tc, test_tombstone_lifetime_scales_with_ttl);
	tcase_add_test(tc, test_tombstone_overflow_keeps_guard);
	tcase_add_test(tc, test_many_entries_grow);
	tcase_add_test(tc, test_default_clock);
	tcase_add_test(tc, test_expired_entry_is_a_hint);
	tcase_add_test(tc, test_hints_bounded);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, test_threads_hammer);
	suite_add_tcase(s, tt);
	return s;
}

CHECK_MAIN(attr_cache_suite)
