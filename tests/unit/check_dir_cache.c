/*
 * Unit tests for src/cache/dir_cache.c: sorting and de-duplication of
 * listings, lookup answers, TTL on a fake clock, eviction order,
 * copy-on-write snapshots, generation guard against stale fills, and a
 * multi-threaded hammer (readers walk snapshots while writers change).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/dir_cache.h"
#include "check_main.h"

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static void set_now(uint64_t ms)
{
	__atomic_store_n(&fake_now, ms, __ATOMIC_RELAXED);
}

static struct attr_entry attr_of(enum attr_kind kind, uint64_t size,
				 bool marker)
{
	struct attr_entry a;

	memset(&a, 0, sizeof(a));
	a.kind = kind;
	a.size = size;
	a.dir_marker = marker;
	return a;
}

struct spec {
	const char *name;
	enum attr_kind kind;
	uint64_t size;
	bool marker;
};

/* A malloc'd listing as a lister would hand it to dir_cache_put_take(). */
static struct dir_entry *make_entries(const struct spec *sp, size_t n)
{
	struct dir_entry *e = calloc(n ? n : 1, sizeof(*e));
	size_t i;

	ck_assert_ptr_nonnull(e);
	for (i = 0; i < n; i++) {
		e[i].name = strdup(sp[i].name);
		ck_assert_ptr_nonnull(e[i].name);
		e[i].attr = attr_of(sp[i].kind, sp[i].size, sp[i].marker);
	}
	return e;
}

static void put_specs(struct dir_cache *c, const char *dir,
		      const struct spec *sp, size_t n, uint64_t gen)
{
	dir_cache_put_take(c, dir, make_entries(sp, n), n, gen);
}

static const struct spec abc[] = {
	{ "c", ATTR_FILE, 3, false },
	{ "a", ATTR_FILE, 1, false },
	{ "b", ATTR_DIR, 0, true },
};
#define N_ABC (sizeof(abc) / sizeof(abc[0]))

/* Names of @p s joined with ',' for one exact comparison. */
static const char *names_of(const struct dir_snapshot *s, char *out,
			    size_t len)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < s->n; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? "," : "",
				 s->entries[i].name);

		ck_assert(w >= 0 && (size_t)w < len - used);
		used += (size_t)w;
	}
	return out;
}

START_TEST(test_put_sorts_and_dedups)
{
	static const struct spec in[] = {
		{ "b", ATTR_FILE, 10, false },
		{ "a", ATTR_FILE, 1, false },
		{ "c", ATTR_DIR, 0, false },
		{ "b", ATTR_DIR, 0, false }, /* dir wins over file "b" */
		{ "a", ATTR_FILE, 2, false }, /* same kind: one survives */
		{ "d", ATTR_DIR, 0, false },
		{ "d", ATTR_DIR, 0, true }, /* the marker is preferred */
		{ ".", ATTR_DIR, 0, false },
		{ "..", ATTR_DIR, 0, false },
		{ "", ATTR_FILE, 0, false },
		{ "x/y", ATTR_FILE, 0, false },
		{ "B", ATTR_FILE, 5, false },
	};
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct dir_snapshot *s;
	char names[256];

	set_now(0);
	put_specs(c, "dir", in, sizeof(in) / sizeof(in[0]), dir_cache_gen(c));
	s = dir_cache_get(c, "dir");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 5);
	ck_assert_str_eq(names_of(s, names, sizeof(names)), "B,a,b,c,d");
	ck_assert_int_eq(s->entries[0].attr.kind, ATTR_FILE);
	ck_assert_uint_eq(s->entries[0].attr.size, 5);
	ck_assert_int_eq(s->entries[1].attr.kind, ATTR_FILE);
	ck_assert_int_eq(s->entries[2].attr.kind, ATTR_DIR);
	ck_assert_int_eq(s->entries[3].attr.kind, ATTR_DIR);
	ck_assert_int_eq(s->entries[4].attr.kind, ATTR_DIR);
	ck_assert(s->entries[4].attr.dir_marker);
	dir_snapshot_release(c, s);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_dup_dir_wins_either_order)
{
	static const struct spec dir_first[] = {
		{ "n", ATTR_DIR, 0, false },
		{ "n", ATTR_FILE, 9, false },
	};
	static const struct spec file_first[] = {
		{ "n", ATTR_FILE, 9, false },
		{ "n", ATTR_DIR, 0, false },
	};
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;

	set_now(0);
	put_specs(c, "x", _i ? dir_first : file_first, 2, dir_cache_gen(c));
	ck_assert_int_eq(dir_cache_lookup(c, "x", "n", &out),
			 DIR_LOOKUP_FOUND);
	ck_assert_int_eq(out.kind, ATTR_DIR);
	ck_assert_uint_eq(out.size, 0);
	dir_cache_free(c);
}
END_TEST

static const struct {
	const char *dir;
	const char *name;
	enum dir_lookup expect;
	uint64_t size;
} lookup_cases[] = {
	{ "d", "a", DIR_LOOKUP_FOUND, 1 },
	{ "d", "b", DIR_LOOKUP_FOUND, 0 },
	{ "d", "c", DIR_LOOKUP_FOUND, 3 },
	{ "d", "0", DIR_LOOKUP_ABSENT, 0 },   /* before the first */
	{ "d", "bb", DIR_LOOKUP_ABSENT, 0 },  /* between */
	{ "d", "zz", DIR_LOOKUP_ABSENT, 0 },  /* after the last */
	{ "d", "A", DIR_LOOKUP_ABSENT, 0 },   /* case matters */
	{ "e", "a", DIR_LOOKUP_UNKNOWN, 0 },  /* not cached */
	{ "d/b", "a", DIR_LOOKUP_UNKNOWN, 0 }, /* child not cached */
	{ "", "a", DIR_LOOKUP_UNKNOWN, 0 },   /* root not cached */
};

START_TEST(test_lookup)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;

	set_now(0);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	memset(&out, 0, sizeof(out));
	out.size = 777;
	ck_assert_int_eq(dir_cache_lookup(c, lookup_cases[_i].dir,
					  lookup_cases[_i].name, &out),
			 lookup_cases[_i].expect);
	if (lookup_cases[_i].expect == DIR_LOOKUP_FOUND)
		ck_assert_uint_eq(out.size, lookup_cases[_i].size);
	else
		ck_assert_uint_eq(out.size, 777); /* untouched */
	dir_cache_free(c);
}
END_TEST

START_TEST(test_root_and_empty_listing)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct dir_snapshot *s;
	struct attr_entry out;

	set_now(0);
	dir_cache_put_take(c, "", NULL, 0, dir_cache_gen(c));
	s = dir_cache_get(c, "");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	dir_snapshot_release(c, s);
	ck_assert_int_eq(dir_cache_lookup(c, "", "anything", &out),
			 DIR_LOOKUP_ABSENT);
	/* An all-invalid listing ends up empty as well. */
	dir_cache_put_take(c, "e", make_entries((const struct spec[]){
		{ ".", ATTR_DIR, 0, false } }, 1), 1, dir_cache_gen(c));
	ck_assert_int_eq(dir_cache_lookup(c, "e", ".", &out),
			 DIR_LOOKUP_ABSENT);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_ttl_boundary)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;
	struct dir_snapshot *s;

	set_now(2000);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	set_now(2999);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_FOUND);
	s = dir_cache_get(c, "d");
	ck_assert_ptr_nonnull(s);
	set_now(3000);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	ck_assert_ptr_null(dir_cache_get(c, "d"));
	/* A snapshot taken while fresh stays readable after expiry. */
	ck_assert_uint_eq(s->n, 3);
	ck_assert_str_eq(s->entries[2].name, "c");
	dir_snapshot_release(c, s);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_ttl_zero_and_max_zero)
{
	struct dir_cache *c0 = dir_cache_new(0, 10, fake_clock);
	struct dir_cache *m0 = dir_cache_new(1000, 0, fake_clock);
	struct attr_entry out;

	set_now(0);
	/* Ownership is taken even though nothing is stored (valgrind). */
	put_specs(c0, "d", abc, N_ABC, dir_cache_gen(c0));
	put_specs(m0, "d", abc, N_ABC, dir_cache_gen(m0));
	ck_assert_ptr_null(dir_cache_get(c0, "d"));
	ck_assert_ptr_null(dir_cache_get(m0, "d"));
	ck_assert_int_eq(dir_cache_lookup(c0, "d", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	dir_cache_free(c0);
	dir_cache_free(m0);
}
END_TEST

START_TEST(test_eviction_order)
{
	struct dir_cache *c = dir_cache_new(10000, 3, fake_clock);
	struct dir_snapshot *held;

	set_now(0);
	put_specs(c, "d1", abc, N_ABC, dir_cache_gen(c));
	put_specs(c, "d2", abc, N_ABC, dir_cache_gen(c));
	put_specs(c, "d3", abc, N_ABC, dir_cache_gen(c));
	held = dir_cache_get(c, "d2");
	/* A re-fill of d1 makes it the youngest; d2 is the oldest now. */
	put_specs(c, "d1", abc, N_ABC, dir_cache_gen(c));
	put_specs(c, "d4", abc, N_ABC, dir_cache_gen(c));
	ck_assert_ptr_null(dir_cache_get(c, "d2"));
	/* Eviction does not pull a held snapshot from under its reader. */
	ck_assert_uint_eq(held->n, 3);
	ck_assert_str_eq(held->entries[0].name, "a");
	dir_snapshot_release(c, held);
	put_specs(c, "d5", abc, N_ABC, dir_cache_gen(c));
	ck_assert_ptr_null(dir_cache_get(c, "d3"));
	{
		static const char *const kept[] = { "d1", "d4", "d5" };
		size_t k;

		for (k = 0; k < 3; k++) {
			struct dir_snapshot *s = dir_cache_get(c, kept[k]);

			ck_assert_ptr_nonnull(s);
			dir_snapshot_release(c, s);
		}
	}
	dir_cache_free(c);
}
END_TEST

START_TEST(test_snapshot_survives_note_added)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry f = attr_of(ATTR_FILE, 42, false), out;
	struct dir_snapshot *s1, *s2, *s3;
	char names[128];

	set_now(0);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	s1 = dir_cache_get(c, "d");
	ck_assert_ptr_nonnull(s1);

	dir_cache_note_added(c, "d", "bb", &f);
	s2 = dir_cache_get(c, "d");
	ck_assert_ptr_nonnull(s2);
	ck_assert_ptr_ne(s1, s2);
	/* The held snapshot is unchanged... */
	ck_assert_str_eq(names_of(s1, names, sizeof(names)), "a,b,c");
	/* ...the new one has the name in order. */
	ck_assert_str_eq(names_of(s2, names, sizeof(names)), "a,b,bb,c");
	ck_assert_uint_eq(s2->entries[2].attr.size, 42);

	/* Replace an existing name's attributes. */
	f.size = 43;
	dir_cache_note_added(c, "d", "a", &f);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_FOUND);
	ck_assert_uint_eq(out.size, 43);
	ck_assert_uint_eq(s2->entries[0].attr.size, 1);

	/* Insert at both ends. */
	dir_cache_note_added(c, "d", "0", &f);
	dir_cache_note_added(c, "d", "z", &f);
	s3 = dir_cache_get(c, "d");
	ck_assert_str_eq(names_of(s3, names, sizeof(names)),
			 "0,a,b,bb,c,z");
	dir_snapshot_release(c, s3);
	dir_snapshot_release(c, s1);
	dir_snapshot_release(c, s2);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_note_removed)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;
	struct dir_snapshot *held, *s;
	char names[128];

	set_now(0);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	held = dir_cache_get(c, "d");
	dir_cache_note_removed(c, "d", "b");
	ck_assert_int_eq(dir_cache_lookup(c, "d", "b", &out),
			 DIR_LOOKUP_ABSENT);
	dir_cache_note_removed(c, "d", "nope"); /* not listed: no change */
	dir_cache_note_removed(c, "d", "a");
	dir_cache_note_removed(c, "d", "c");
	s = dir_cache_get(c, "d");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	dir_snapshot_release(c, s);
	ck_assert_str_eq(names_of(held, names, sizeof(names)), "a,b,c");
	dir_snapshot_release(c, held);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_note_on_uncached_dir)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry f = attr_of(ATTR_FILE, 1, false), out;

	set_now(0);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	dir_cache_note_added(c, "other", "x", &f);
	dir_cache_note_removed(c, "other", "x");
	ck_assert_ptr_null(dir_cache_get(c, "other"));
	ck_assert_int_eq(dir_cache_lookup(c, "other", "x", &out),
			 DIR_LOOKUP_UNKNOWN);
	/* "d" untouched. */
	ck_assert_int_eq(dir_cache_lookup(c, "d", "x", &out),
			 DIR_LOOKUP_ABSENT);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_stale_fill_rejected)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;
	uint64_t before, after;

	set_now(0);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	before = dir_cache_gen(c);
	dir_cache_invalidate(c, "d");
	after = dir_cache_gen(c);
	ck_assert_uint_eq(after, before + 1);
	ck_assert_ptr_null(dir_cache_get(c, "d"));

	put_specs(c, "d", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	/* Per directory: another one accepts the older fill. */
	put_specs(c, "e", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "e", "a", &out),
			 DIR_LOOKUP_FOUND);
	put_specs(c, "d", abc, N_ABC, after);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_FOUND);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_note_blocks_older_fill)
{
	/* A listing requested before a local create may lack the new name:
	 * storing it would answer ABSENT for an existing file. */
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry f = attr_of(ATTR_FILE, 1, false), out;
	uint64_t before;

	set_now(0);
	before = dir_cache_gen(c);
	dir_cache_note_added(c, "d", "new", &f); /* d not cached */
	put_specs(c, "d", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "new", &out),
			 DIR_LOOKUP_UNKNOWN);
	before = dir_cache_gen(c);
	dir_cache_note_removed(c, "d", "a");
	put_specs(c, "d", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_older_fill_keeps_newer_listing)
{
	static const struct spec only_x[] = { { "x", ATTR_FILE, 1, false } };
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;
	uint64_t g1, g2;

	set_now(0);
	g1 = dir_cache_gen(c);
	dir_cache_invalidate(c, "elsewhere");
	g2 = dir_cache_gen(c);
	put_specs(c, "d", only_x, 1, g2);
	put_specs(c, "d", abc, N_ABC, g1);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "x", &out),
			 DIR_LOOKUP_FOUND);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_ABSENT);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_invalidate_all)
{
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct attr_entry out;
	uint64_t before;

	set_now(0);
	put_specs(c, "", abc, N_ABC, dir_cache_gen(c));
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	before = dir_cache_gen(c);
	dir_cache_invalidate_all(c);
	ck_assert_ptr_null(dir_cache_get(c, ""));
	ck_assert_ptr_null(dir_cache_get(c, "d"));
	put_specs(c, "never-seen", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "never-seen", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	put_specs(c, "never-seen", abc, N_ABC, dir_cache_gen(c));
	ck_assert_int_eq(dir_cache_lookup(c, "never-seen", "a", &out),
			 DIR_LOOKUP_FOUND);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_tombstone_expiry_and_overflow_keep_guard)
{
	struct dir_cache *c = dir_cache_new(1000, 4, fake_clock);
	struct attr_entry out;
	char dir[32];
	uint64_t before;
	int k;

	set_now(0);
	before = dir_cache_gen(c);
	dir_cache_invalidate(c, "d");
	if (_i == 0) {
		set_now(100000); /* far past the tombstone's 5 s */
	} else {
		for (k = 0; k < 1000; k++) {
			snprintf(dir, sizeof(dir), "o%d", k);
			dir_cache_invalidate(c, dir);
		}
	}
	put_specs(c, "d", abc, N_ABC, before);
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_UNKNOWN);
	put_specs(c, "d", abc, N_ABC, dir_cache_gen(c));
	ck_assert_int_eq(dir_cache_lookup(c, "d", "a", &out),
			 DIR_LOOKUP_FOUND);
	dir_cache_free(c);
}
END_TEST

START_TEST(test_large_listing_lookup)
{
	enum { N = 5000 };
	struct dir_cache *c = dir_cache_new(1000, 10, fake_clock);
	struct dir_entry *e = calloc(N, sizeof(*e));
	struct attr_entry out;
	char name[32];
	int k;

	set_now(0);
	ck_assert_ptr_nonnull(e);
	/* Reverse order, to make the sort do real work. */
	for (k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%05d", N - 1 - k);
		e[k].name = strdup(name);
		e[k].attr = attr_of(ATTR_FILE, (uint64_t)(N - 1 - k), false);
	}
	dir_cache_put_take(c, "big", e, N, dir_cache_gen(c));
	for (k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%05d", k);
		ck_assert_int_eq(dir_cache_lookup(c, "big", name, &out),
				 DIR_LOOKUP_FOUND);
		ck_assert_uint_eq(out.size, (uint64_t)k);
	}
	ck_assert_int_eq(dir_cache_lookup(c, "big", "f5", &out),
			 DIR_LOOKUP_ABSENT);
	dir_cache_free(c);
}
END_TEST

/* The second miss within a second lists the directory, unless it was
 * found too large within the last minute; "large" is asked without
 * side effects (a lookup picks its first request by it). */
START_TEST(test_miss_and_large_hints)
{
	struct dir_cache *c = dir_cache_new(1000, 16, fake_clock);

	set_now(10000);
	ck_assert(!dir_cache_is_large(c, "d"));
	ck_assert(!dir_cache_note_miss(c, "d"));
	set_now(10500);
	ck_assert(dir_cache_note_miss(c, "d"));
	set_now(12000); /* 1.5 s after the last miss: no burst */
	ck_assert(!dir_cache_note_miss(c, "d"));
	dir_cache_note_large(c, "d");
	ck_assert(dir_cache_is_large(c, "d"));
	ck_assert(!dir_cache_is_large(c, "e"));
	ck_assert(!dir_cache_is_large(c, "d/sub"));
	set_now(12100);
	ck_assert(!dir_cache_note_miss(c, "d")); /* a burst, but large */
	set_now(12000 + 59999);
	ck_assert(dir_cache_is_large(c, "d"));
	set_now(12000 + 60000);
	ck_assert(!dir_cache_is_large(c, "d"));
	ck_assert(!dir_cache_note_miss(c, "d"));
	set_now(12000 + 60001);
	ck_assert(dir_cache_note_miss(c, "d"));
	dir_cache_free(c);
}
END_TEST

START_TEST(test_entries_free_null)
{
	dir_entries_free(NULL, 0);
	dir_cache_free(NULL);
	dir_snapshot_release(NULL, NULL);
}
END_TEST

/* ---------------------------------------------------------- threads */

#define HAMMER_THREADS 6
#define HAMMER_ROUNDS 2000

struct hammer_arg {
	struct dir_cache *c;
	unsigned seed;
	int bad;
};

/* Every name in these listings is "n<size>": a reader can check each
 * entry's attributes and the order of a snapshot it walks unlocked. */
static void *hammer(void *p)
{
	struct hammer_arg *a = p;
	char dir[16], name[16];
	int k;

	for (k = 0; k < HAMMER_ROUNDS; k++) {
		unsigned r = (unsigned)rand_r(&a->seed);
		unsigned v = (r >> 4) % 40;
		struct attr_entry at = attr_of(ATTR_FILE, v, false), out;
		struct dir_snapshot *s;
		size_t i;

		snprintf(dir, sizeof(dir), "d%u", r % 4);
		snprintf(name, sizeof(name), "n%u", v);
		switch ((r >> 12) % 7) {
		case 0: {
			struct dir_entry *e = calloc(8, sizeof(*e));
			uint64_t gen = dir_cache_gen(a->c);

			for (i = 0; e && i < 8; i++) {
				unsigned w = (v + (unsigned)i * 3) % 40;

				snprintf(name, sizeof(name), "n%u", w);
				e[i].name = strdup(name);
				e[i].attr = attr_of(ATTR_FILE, w, false);
			}
			if (e)
				dir_cache_put_take(a->c, dir, e, 8, gen);
			break;
		}
		case 1:
		case 2:
			s = dir_cache_get(a->c, dir);
			if (!s)
				break;
			for (i = 0; i < s->n; i++) {
				snprintf(name, sizeof(name), "n%u",
					 (unsigned)s->entries[i].attr.size);
				if (strcmp(name, s->entries[i].name) != 0)
					a->bad++;
				if (i && strcmp(s->entries[i - 1].name,
						s->entries[i].name) >= 0)
					a->bad++;
			}
			dir_snapshot_release(a->c, s);
			break;
		case 3:
			if (dir_cache_lookup(a->c, dir, name, &out) ==
				    DIR_LOOKUP_FOUND &&
			    out.size != v)
				a->bad++;
			break;
		case 4:
			dir_cache_note_added(a->c, dir, name, &at);
			break;
		case 5:
			dir_cache_note_removed(a->c, dir, name);
			break;
		default:
			if (r % 50 == 0)
				dir_cache_invalidate_all(a->c);
			else
				dir_cache_invalidate(a->c, dir);
			break;
		}
		if (k % 100 == 0)
			__atomic_fetch_add(&fake_now, 7, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(test_threads_hammer)
{
	struct dir_cache *c = dir_cache_new(500, 3, fake_clock);
	struct hammer_arg args[HAMMER_THREADS];
	pthread_t th[HAMMER_THREADS];
	int k;

	set_now(0);
	for (k = 0; k < HAMMER_THREADS; k++) {
		args[k].c = c;
		args[k].seed = (unsigned)k * 104729u + 3;
		args[k].bad = 0;
		ck_assert_int_eq(pthread_create(&th[k], NULL, hammer, &args[k]),
				 0);
	}
	for (k = 0; k < HAMMER_THREADS; k++) {
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
		ck_assert_int_eq(args[k].bad, 0);
	}
	dir_cache_free(c);
}
END_TEST

Suite *dir_cache_suite(void);
Suite *dir_cache_suite(void)
{
	Suite *s = suite_create("dir_cache");
	TCase *tc = tcase_create("core");
	TCase *tt = tcase_create("threads");

	tcase_add_test(tc, test_put_sorts_and_dedups);
	tcase_add_loop_test(tc, test_dup_dir_wins_either_order, 0, 2);
	tcase_add_loop_test(tc, test_lookup, 0,
			    sizeof(lookup_cases) / sizeof(lookup_cases[0]));
	tcase_add_test(tc, test_root_and_empty_listing);
	tcase_add_test(tc, test_ttl_boundary);
	tcase_add_test(tc, test_ttl_zero_and_max_zero);
	tcase_add_test(tc, test_eviction_order);
	tcase_add_test(tc, test_snapshot_survives_note_added);
	tcase_add_test(tc, test_note_removed);
	tcase_add_test(tc, test_note_on_uncached_dir);
	tcase_add_test(tc, test_stale_fill_rejected);
	tcase_add_test(tc, test_note_blocks_older_fill);
	tcase_add_test(tc, test_older_fill_keeps_newer_listing);
	tcase_add_test(tc, test_invalidate_all);
	tcase_add_loop_test(tc, test_tombstone_expiry_and_overflow_keep_guard,
			    0, 2);
	tcase_add_test(tc, test_large_listing_lookup);
	tcase_add_test(tc, test_entries_free_null);
	tcase_add_test(tc, test_miss_and_large_hints);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, test_threads_hammer);
	suite_add_tcase(s, tt);
	return s;
}

CHECK_MAIN(dir_cache_suite)
