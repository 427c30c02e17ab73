/* test_econ.c: store/econ.c on a real LMDB environment (a fresh one per
 * test, in a temporary directory removed at exit): the key and value
 * layout, revisions, denominators from a period's own figure or its parts,
 * periods and their UTC ranges, the CSV import's all-or-nothing parse, and
 * the exact intensity arithmetic. Every expected value is computed by hand
 * in the comment next to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "er.h"
#include "store.h"
#include "econ.h"
/* The test reads raw rows to pin the on-disk value layout the schema
 * promises; nothing else here touches the store's internals. */
#include "store_internal.h"

#define OFF_CN (8 * 3600)
#define CITY   "sample-city"

/* ---- a temporary root, removed at exit ---- */

static char root[PATH_MAX];
static unsigned env_seq;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_root(void)
{
	if (root[0] != 0)
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_root(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof root, "%s/ecoroll-econ.XXXXXX", tmp != NULL && tmp[0] != 0 ? tmp : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(rm_root);
}

/* ---- fixtures and helpers ---- */

static int env_setup(void **state)
{
	char dir[PATH_MAX + 32], err[512];
	sto_opts o = {.map_size = 64ull << 20, .sync = false, .utc_offset_s = OFF_CN, .city = CITY};
	sto_env *env = NULL;
	int rc;

	snprintf(dir, sizeof dir, "%s/db%u", root, ++env_seq);
	o.dir = dir;
	rc = sto_open(&o, &env, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "sto_open(%s): %d %s\n", dir, rc, err);
		return -1;
	}
	*state = env;
	return 0;
}

static int env_teardown(void **state)
{
	sto_close(*state);
	return 0;
}

static uint64_t ent(const char *code)
{
	return er_key(code, strlen(code));
}

static er_fx fx(const char *s)
{
	er_fx v = 0;
	assert_int_equal(er_fx_parse(s, strlen(s), &v), 0);
	return v;
}

static sto_econ_key ekey(int level, const char *code, int kind, const char *period)
{
	sto_econ_key k;
	memset(&k, 0, sizeof k);
	k.level = (uint8_t)level;
	k.entity = ent(code);
	k.kind = (uint8_t)kind;
	assert_int_equal(sto_period_parse(period, &k), 0);
	return k;
}

static sto_econ_val eval(const char *value, uint32_t revision, int64_t received)
{
	sto_econ_val v;
	memset(&v, 0, sizeof v);
	v.value = fx(value);
	v.revision = revision;
	v.received = received;
	return v;
}

/* One put in its own committed write transaction; returns the put's code. */
static int put1(sto_env *env, int level, const char *code, int kind, const char *period, const char *value,
		uint32_t revision)
{
	sto_txn *t;
	sto_econ_key k = ekey(level, code, kind, period);
	sto_econ_val v = eval(value, revision, 1774000000 + revision);
	int rc;

	assert_int_equal(sto_write_begin(env, &t), 0);
	rc = sto_econ_put(t, &k, &v);
	if (rc == 0)
		assert_int_equal(sto_commit(t), 0);
	else
		sto_abort(t);
	return rc;
}

static int get1(sto_env *env, int level, const char *code, int kind, const char *period, sto_econ_val *v)
{
	sto_txn *t;
	sto_econ_key k = ekey(level, code, kind, period);
	int rc;

	assert_int_equal(sto_read_begin(env, &t), 0);
	rc = sto_econ_get(t, &k, v);
	sto_abort(t);
	return rc;
}

typedef struct total_res {
	int rc;
	er_fx value;
	const char *how;
	char missing[256];
} total_res;

static total_res total1(sto_env *env, int level, const char *code, int kind, const char *period)
{
	sto_txn *t;
	sto_econ_key k = ekey(level, code, kind, period);
	total_res r;

	memset(&r, 0, sizeof r);
	strcpy(r.missing, "untouched");
	assert_int_equal(sto_read_begin(env, &t), 0);
	r.rc = sto_econ_total(t, level, k.entity, kind, k.ptype, k.year, k.index, &r.value, &r.how, r.missing,
			      sizeof r.missing);
	sto_abort(t);
	return r;
}

static const char *ratio(__int128 num, __int128 den, int decimals)
{
	static char buf[128];
	sto_ratio_format(num, den, decimals, buf, sizeof buf);
	return buf;
}

/* ---- names and periods ---- */

static void test_kind_names(void **state)
{
	(void)state;
	assert_int_equal(sto_econ_kind_parse("value_added"), STO_ECON_VALUE_ADDED);
	assert_int_equal(sto_econ_kind_parse("output"), STO_ECON_OUTPUT);
	assert_int_equal(sto_econ_kind_parse("gdp"), STO_ECON_GDP);
	assert_int_equal(sto_econ_kind_parse("GDP"), 0);
	assert_int_equal(sto_econ_kind_parse(""), 0);
	assert_int_equal(sto_econ_kind_parse(NULL), 0);
	assert_string_equal(sto_econ_kind_name(STO_ECON_VALUE_ADDED), "value_added");
	assert_string_equal(sto_econ_kind_name(STO_ECON_OUTPUT), "output");
	assert_string_equal(sto_econ_kind_name(STO_ECON_GDP), "gdp");
	assert_string_equal(sto_econ_kind_name(0), "?");
	assert_string_equal(sto_econ_kind_name(STO_ECON_STATS_FIRST), "employees");
	assert_string_equal(sto_econ_kind_name(STO_ECON_NOX), "nox_t");
	assert_int_equal(sto_econ_kind_parse("land_km2"), STO_ECON_LAND);
	assert_string_equal(sto_econ_kind_name(15), "?"); /* reserved, unnamed */
	assert_string_equal(sto_econ_csv_header(), "level,entity,kind,period,value,revision");
}

static void test_period_parse_format(void **state)
{
	static const struct {
		const char *text;
		int ptype, year, index;
	} good[] = {
	    {"2026-03", STO_P_MONTH, 2026, 3},   {"2026-01", STO_P_MONTH, 2026, 1},
	    {"2026-12", STO_P_MONTH, 2026, 12},  {"2026-Q1", STO_P_QUARTER, 2026, 1},
	    {"2026-Q4", STO_P_QUARTER, 2026, 4}, {"2026", STO_P_YEAR, 2026, 0},
	    {"1900", STO_P_YEAR, 1900, 0},       {"9999-12", STO_P_MONTH, 9999, 12},
	};
	/* Decision: strict shapes only (econ.h), so "2026-3" is refused. */
	static const char *bad[] = {"2026-13", "2026-00",  "2026-Q5", "2026-Q0",    "26",       "2026-3", "2026-q1",
				    "",        "2026-",    "02026",   "2026-03-01", " 2026",    "2026 ",  "1899",
				    "abcd",    "2026-Q1x", "2026-Q",  "2026/03",    "2026-003", "-2026"};
	sto_econ_key k;
	char buf[32];
	(void)state;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		memset(&k, 0xaa, sizeof k);
		assert_int_equal(sto_period_parse(good[i].text, &k), 0);
		assert_int_equal(k.ptype, good[i].ptype);
		assert_int_equal(k.year, good[i].year);
		assert_int_equal(k.index, good[i].index);
		assert_int_equal(sto_period_format(&k, buf, sizeof buf), strlen(good[i].text));
		assert_string_equal(buf, good[i].text); /* formats back to the same text */
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&k, 0, sizeof k);
		if (sto_period_parse(bad[i], &k) != ER_EINVAL)
			fail_msg("period '%s' was accepted", bad[i]);
	}
	assert_int_equal(sto_period_parse(NULL, &k), ER_EINVAL);

	/* snprintf semantics, and "?" for a period that is not one */
	k = ekey(STO_CITY, CITY, STO_ECON_GDP, "2026-Q2");
	assert_int_equal(sto_period_format(&k, buf, 5), 7);
	assert_string_equal(buf, "2026");
	k.index = 5;
	assert_int_equal(sto_period_format(&k, buf, sizeof buf), 1);
	assert_string_equal(buf, "?");
}

static void check_range(const char *period, int off, int64_t want_from, int64_t want_to, const char *from_utc,
			const char *to_utc)
{
	sto_econ_key k = ekey(STO_CITY, CITY, STO_ECON_GDP, period);
	int64_t from = 0, to = 0;
	char a[40], b[40];

	sto_period_range(&k, off, &from, &to);
	er_time_format(from, 0, a, sizeof a);
	er_time_format(to, 0, b, sizeof b);
	if (from != want_from || to != want_to || strcmp(a, from_utc) != 0 || strcmp(b, to_utc) != 0)
		fail_msg("%s at %d s: [%lld %s, %lld %s), expected [%lld %s, %lld %s)", period, off, (long long)from, a,
			 (long long)to, b, (long long)want_from, from_utc, (long long)want_to, to_utc);
}

static void test_period_range(void **state)
{
	(void)state;
	/* March 2026 at +08:00: local 03-01 00:00 is 02-28 16:00 UTC, and
	 * local 04-01 00:00 is 03-31 16:00 UTC. */
	check_range("2026-03", OFF_CN, 1772294400, 1774972800, "2026-02-28T16:00:00Z", "2026-03-31T16:00:00Z");
	/* At -03:30 the local month starts 3.5 h after UTC's. */
	check_range("2026-03", -(3 * 3600 + 1800), 1772335800, 1775014200, "2026-03-01T03:30:00Z",
		    "2026-04-01T03:30:00Z");
	/* At UTC the range is the calendar month itself: 28 days in Feb 2026. */
	check_range("2026-02", 0, 1769904000, 1772323200, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
	/* Q1 2026 = Jan-Mar, Q4 runs into the next year. */
	check_range("2026-Q1", OFF_CN, 1767196800, 1774972800, "2025-12-31T16:00:00Z", "2026-03-31T16:00:00Z");
	check_range("2026-Q4", OFF_CN, 1790784000, 1798732800, "2026-09-30T16:00:00Z", "2026-12-31T16:00:00Z");
	check_range("2026-12", OFF_CN, 1796054400, 1798732800, "2026-11-30T16:00:00Z", "2026-12-31T16:00:00Z");
	check_range("2026", OFF_CN, 1767196800, 1798732800, "2025-12-31T16:00:00Z", "2026-12-31T16:00:00Z");
	/* 2024 is a leap year: 366 days, at a half-hour offset (+05:30). */
	check_range("2024", 5 * 3600 + 1800, 1704047400, 1704047400 + 366 * 86400LL, "2023-12-31T18:30:00Z",
		    "2024-12-31T18:30:00Z");
}

/* ---- put and get ---- */

static void test_key_layout(void **state)
{
	/* clang-format off */
	static const uint8_t want[STO_ECON_KEY_LEN] = {
		3,						/* level: district */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,	/* entity, big-endian */
		STO_ECON_GDP,					/* kind */
		STO_P_QUARTER,					/* ptype */
		0x07, 0xea,					/* 2026 = 0x07ea, no bias */
		2,						/* Q2 */
	};
	/* clang-format on */
	sto_econ_key k = {.level = STO_DISTRICT,
			  .entity = 0x0123456789abcdefULL,
			  .kind = STO_ECON_GDP,
			  .ptype = STO_P_QUARTER,
			  .year = 2026,
			  .index = 2},
		     back;
	uint8_t b[STO_ECON_KEY_LEN], c[STO_ECON_KEY_LEN];
	(void)state;

	sto_econ_key_encode(&k, b);
	assert_memory_equal(b, want, STO_ECON_KEY_LEN);
	memset(&back, 0x55, sizeof back);
	sto_econ_key_decode(b, &back);
	assert_int_equal(back.level, k.level);
	assert_true(back.entity == k.entity);
	assert_int_equal(back.kind, k.kind);
	assert_int_equal(back.ptype, k.ptype);
	assert_int_equal(back.year, 2026);
	assert_int_equal(back.index, 2);

	/* byte order is (kind, ptype, year, index) order */
	k.year = 2025;
	k.index = 4;
	sto_econ_key_encode(&k, c);
	assert_true(memcmp(c, b, STO_ECON_KEY_LEN) < 0); /* 2025-Q4 before 2026-Q2 */
	k.year = 9999;
	k.kind = STO_ECON_OUTPUT;
	sto_econ_key_encode(&k, c);
	assert_true(memcmp(c, b, STO_ECON_KEY_LEN) < 0); /* output before gdp */
}

static void test_put_get(void **state)
{
	sto_env *env = *state;
	sto_econ_val v;
	sto_txn *t;
	MDB_val key, val;
	uint8_t kb[STO_ECON_KEY_LEN];
	sto_econ_key k = ekey(STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03");
	sto_econ_val in = eval("1234.5", 3, 1774000000);
	static const uint8_t want_val[STO_ECON_VAL_LEN] = {
	    1,                                  /* version */
	    0xa0, 0xf9, 0x94, 0x49, 0, 0, 0, 0, /* 1234500000 = 0x4994f9a0, LE */
	    3,    0,    0,    0,                /* revision */
	    0x80, 0x17, 0xbd, 0x69, 0, 0, 0, 0, /* 1774000000 = 0x69bd1780, LE */
	};

	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03", &v), ER_ENOENT);
	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_econ_put(t, &k, &in), 0);
	/* visible in the writing transaction before commit */
	memset(&v, 0, sizeof v);
	assert_int_equal(sto_econ_get(t, &k, &v), 0);
	assert_int_equal(v.value, 1234500000);
	assert_int_equal(sto_commit(t), 0);

	memset(&v, 0, sizeof v);
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03", &v), 0);
	assert_int_equal(v.value, 1234500000); /* 1234.5 x 10^6 */
	assert_int_equal(v.revision, 3);
	assert_int_equal(v.received, 1774000000);
	/* other kind, period, level or entity: nothing */
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_OUTPUT, "2026-03", &v), ER_ENOENT);
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-04", &v), ER_ENOENT);
	assert_int_equal(get1(env, STO_DISTRICT, "E0101", STO_ECON_VALUE_ADDED, "2026-03", &v), ER_ENOENT);
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-03", &v), ER_ENOENT);

	/* the raw row: 14-byte key, 21-byte versioned little-endian value */
	assert_int_equal(sto_read_begin(env, &t), 0);
	sto_econ_key_encode(&k, kb);
	key.mv_size = sizeof kb;
	key.mv_data = kb;
	assert_int_equal(mdb_get(t->txn, t->env->dbi[DB_ECON], &key, &val), 0);
	assert_int_equal(val.mv_size, STO_ECON_VAL_LEN);
	assert_memory_equal(val.mv_data, want_val, STO_ECON_VAL_LEN);
	sto_abort(t);

	/* zero is a value (a mothballed plant), and kinds past the named
	 * ones store without a schema change (issue 7) */
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026", "0", 0), 0);
	assert_int_equal(get1(env, STO_CITY, CITY, STO_ECON_GDP, "2026", &v), 0);
	assert_int_equal(v.value, 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_STATS_FIRST + 2, "2026", "312", 0), 0);
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_STATS_FIRST + 2, "2026", &v), 0);
	assert_int_equal(v.value, 312000000);
}

static void test_put_invalid(void **state)
{
	sto_env *env = *state;
	sto_txn *t;
	sto_econ_key good = ekey(STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03"), k;
	sto_econ_val v = eval("1", 0, 0), neg = v;

	neg.value = -1;
	assert_int_equal(sto_write_begin(env, &t), 0);
	k = good, k.level = STO_METER;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.level = STO_STATION;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.kind = 0;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.ptype = 0;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.ptype = 4;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.index = 13; /* month 13 */
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.index = 0; /* month 0 */
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.ptype = STO_P_QUARTER, k.index = 5;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.ptype = STO_P_YEAR, k.index = 1; /* a year has index 0 */
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.year = 1899;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	k = good, k.year = 10000;
	assert_int_equal(sto_econ_put(t, &k, &v), ER_EINVAL);
	assert_int_equal(sto_econ_put(t, &good, &neg), ER_EINVAL);
	assert_int_equal(sto_econ_put(NULL, &good, &v), ER_EINVAL);
	assert_int_equal(sto_econ_put(t, NULL, &v), ER_EINVAL);
	assert_int_equal(sto_econ_put(t, &good, NULL), ER_EINVAL);
	assert_int_equal(sto_commit(t), 0);

	/* a read transaction cannot write */
	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_econ_put(t, &good, &v), ER_EINVAL);
	sto_abort(t);
	assert_int_equal(get1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03", &v), ER_ENOENT);
}

static void test_revisions(void **state)
{
	sto_env *env = *state;
	sto_econ_val v;
	const char *c = "D01";

	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", "56789", 1), 0);
	/* revision 2 replaces 1 */
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", "57000.25", 2), 0);
	assert_int_equal(get1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", &v), 0);
	assert_int_equal(v.value, 57000250000);
	assert_int_equal(v.revision, 2);
	/* revision 1 after 2 is refused and the stored figure stays */
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", "1", 1), ER_EEXIST);
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", "1", 0), ER_EEXIST);
	assert_int_equal(get1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", &v), 0);
	assert_int_equal(v.value, 57000250000);
	assert_int_equal(v.revision, 2);
	/* an equal revision is a correction: the later arrival replaces */
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", "57100", 2), 0);
	assert_int_equal(get1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q1", &v), 0);
	assert_int_equal(v.value, 57100000000);
	assert_int_equal(v.revision, 2);
	/* revisions are per period: Q2 at revision 0 is its own row */
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q2", "60000", 0), 0);
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q2", "60001", 0), 0);
	assert_int_equal(get1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q2", &v), 0);
	assert_int_equal(v.value, 60001000000);
	/* the highest revision number there is */
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q3", "1", UINT32_MAX), 0);
	assert_int_equal(put1(env, STO_DISTRICT, c, STO_ECON_GDP, "2026-Q3", "2", UINT32_MAX - 1), ER_EEXIST);
}

/* ---- denominators ---- */

static void test_total_year_own(void **state)
{
	sto_env *env = *state;
	total_res r;

	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026", "1000000", 0), 0);
	r = total1(env, STO_CITY, CITY, STO_ECON_GDP, "2026");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 1000000000000); /* 10^6 x 10^6 micro */
	assert_string_equal(r.how, "year");
	assert_string_equal(r.missing, ""); /* cleared even on success */

	/* the year's own figure wins over complete quarters that sum to
	 * something else (the bureau's annual figure is final) */
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026-Q1", "1", 0), 0);
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026-Q2", "1", 0), 0);
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026-Q3", "1", 0), 0);
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026-Q4", "1", 0), 0);
	r = total1(env, STO_CITY, CITY, STO_ECON_GDP, "2026");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 1000000000000);
	assert_string_equal(r.how, "year");
	/* and a revision of the year figure follows */
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026", "1000100.5", 1), 0);
	r = total1(env, STO_CITY, CITY, STO_ECON_GDP, "2026");
	assert_int_equal(r.value, 1000100500000);
}

static void test_total_year_quarters(void **state)
{
	sto_env *env = *state;
	total_res r;

	assert_int_equal(put1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q1", "56789", 2), 0);
	assert_int_equal(put1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q2", "60000.5", 0), 0);
	assert_int_equal(put1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q3", "61000.25", 0), 0);
	r = total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026");
	assert_int_equal(r.rc, ER_ENOENT); /* Q4 missing, no months */
	assert_int_equal(put1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q4", "70000", 0), 0);
	r = total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026");
	assert_int_equal(r.rc, 0);
	/* 56789 + 60000.5 + 61000.25 + 70000 = 247789.75 */
	assert_int_equal(r.value, 247789750000);
	assert_string_equal(r.how, "4 quarters");
	/* a revised quarter moves the year: Q2 60000.5 -> 59000, so 246789.25 */
	assert_int_equal(put1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q2", "59000", 1), 0);
	r = total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026");
	assert_int_equal(r.value, 246789250000);
	/* another kind or year is not touched */
	assert_int_equal(total1(env, STO_DISTRICT, "D01", STO_ECON_VALUE_ADDED, "2026").rc, ER_ENOENT);
	assert_int_equal(total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2025").rc, ER_ENOENT);
}

/* Months 1..12 of E0101's value added at 100 + m: 101 ... 112. */
static void put_months(sto_env *env, const char *code, int skip)
{
	char period[24], value[24];
	for (int m = 1; m <= 12; m++) {
		if (m == skip)
			continue;
		snprintf(period, sizeof period, "2026-%02d", m);
		snprintf(value, sizeof value, "%d", 100 + m);
		assert_int_equal(put1(env, STO_ENTERPRISE, code, STO_ECON_VALUE_ADDED, period, value, 0), 0);
	}
}

static void test_total_year_months(void **state)
{
	sto_env *env = *state;
	total_res r;

	put_months(env, "E0101", 0);
	/* one quarter on its own does not make 4 quarters: months decide */
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q1", "999", 0), 0);
	r = total1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026");
	assert_int_equal(r.rc, 0);
	/* 12 x 100 + (1 + ... + 12) = 1200 + 78 = 1278 */
	assert_int_equal(r.value, 1278000000);
	assert_string_equal(r.how, "12 months");
	/* revising December 112 -> 200.000001 moves the year to 1366.000001 */
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-12", "200.000001", 1), 0);
	r = total1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026");
	assert_int_equal(r.value, 1366000001);
	assert_string_equal(r.how, "12 months");
}

static void test_total_year_missing(void **state)
{
	sto_env *env = *state;
	total_res r;

	put_months(env, "E0102", 4); /* April missing */
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-Q1", "306", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-Q2", "315", 0), 0);
	r = total1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026");
	assert_int_equal(r.rc, ER_ENOENT);
	assert_string_equal(r.missing, "value_added for 2026 is not available: there is no figure for the year, "
				       "2026-Q3 is the first missing quarter and 2026-04 the first missing month");

	/* nothing at all */
	r = total1(env, STO_ENTERPRISE, "E0199", STO_ECON_OUTPUT, "2025");
	assert_int_equal(r.rc, ER_ENOENT);
	assert_string_equal(r.missing, "output for 2025 is not available: there is no figure for the year, "
				       "2025-Q1 is the first missing quarter and 2025-01 the first missing month");

	/* a month */
	r = total1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-04");
	assert_int_equal(r.rc, ER_ENOENT);
	assert_string_equal(r.missing, "value_added for 2026-04 is not available: there is no figure for the month");
	r = total1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-05");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 105000000);
	assert_string_equal(r.how, "month");

	/* missing may be NULL */
	{
		sto_txn *t;
		er_fx v;
		const char *how;
		assert_int_equal(sto_read_begin(env, &t), 0);
		assert_int_equal(sto_econ_total(t, STO_ENTERPRISE, ent("E0102"), STO_ECON_VALUE_ADDED, STO_P_YEAR, 2026,
						0, &v, &how, NULL, 0),
				 ER_ENOENT);
		assert_int_equal(sto_econ_total(t, STO_ENTERPRISE, ent("E0102"), STO_ECON_VALUE_ADDED, STO_P_MONTH,
						2026, 13, &v, &how, NULL, 0),
				 ER_EINVAL);
		assert_int_equal(sto_econ_total(t, STO_METER, ent("E0102"), STO_ECON_VALUE_ADDED, STO_P_YEAR, 2026, 0,
						&v, &how, NULL, 0),
				 ER_EINVAL);
		sto_abort(t);
	}
}

static void test_total_quarter(void **state)
{
	sto_env *env = *state;
	total_res r;

	put_months(env, "E0101", 0);
	/* Q2 from April, May, June: 104 + 105 + 106 = 315 */
	r = total1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q2");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 315000000);
	assert_string_equal(r.how, "3 months");
	/* Q4 from 110 + 111 + 112 = 333 */
	r = total1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q4");
	assert_int_equal(r.value, 333000000);
	/* a quarter's own figure wins */
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q2", "320.5", 0), 0);
	r = total1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q2");
	assert_int_equal(r.value, 320500000);
	assert_string_equal(r.how, "quarter");

	put_months(env, "E0102", 8); /* August missing */
	r = total1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-Q3");
	assert_int_equal(r.rc, ER_ENOENT);
	assert_string_equal(r.missing, "value_added for 2026-Q3 is not available: there is no figure for the "
				       "quarter and 2026-08 is the first missing month");
}

static void test_total_overflow(void **state)
{
	sto_env *env = *state;
	total_res r;
	char period[24];

	/* 12 x 9e12 units = 1.08e20 micro-units > 2^63 (9.2e18) */
	for (int m = 1; m <= 12; m++) {
		snprintf(period, sizeof period, "2026-%02d", m);
		assert_int_equal(put1(env, STO_ENTERPRISE, "BIG", STO_ECON_OUTPUT, period, "9000000000000", 0), 0);
	}
	r = total1(env, STO_ENTERPRISE, "BIG", STO_ECON_OUTPUT, "2026");
	assert_int_equal(r.rc, ER_ERANGE);
	r = total1(env, STO_ENTERPRISE, "BIG", STO_ECON_OUTPUT, "2026-Q1"); /* 2.7e19 > 9.2e18 too */
	assert_int_equal(r.rc, ER_ERANGE);
	r = total1(env, STO_ENTERPRISE, "BIG", STO_ECON_OUTPUT, "2026-01");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 9000000000000000000LL);
}

/* ---- walking ---- */

typedef struct walk {
	int n, stop_at;
	char seen[16][96];
} walk;

static int walk_fn(void *ctx, const sto_econ_key *k, const sto_econ_val *v)
{
	walk *w = ctx;
	char p[16], val[32];

	sto_period_format(k, p, sizeof p);
	er_fx_format(v->value, val, sizeof val);
	if (w->n < 16)
		snprintf(w->seen[w->n], sizeof w->seen[0], "%s %s %s r%u", sto_econ_kind_name(k->kind), p, val,
			 v->revision);
	w->n++;
	return w->n == w->stop_at ? 42 : 0;
}

static void test_each(void **state)
{
	sto_env *env = *state;
	sto_txn *t;
	walk w;

	/* put out of order, with neighbours on both sides of the entity */
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_GDP, "2026", "7", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-Q1", "5", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-02", "2", 1), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2025-12", "1", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_OUTPUT, "2026-01", "3", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-10", "2.5", 0), 0);
	assert_int_equal(put1(env, STO_ENTERPRISE, "E0102", STO_ECON_VALUE_ADDED, "2026-01", "9", 0), 0);
	assert_int_equal(put1(env, STO_DISTRICT, "E0101", STO_ECON_VALUE_ADDED, "2026-01", "9", 0), 0);
	assert_int_equal(put1(env, STO_CITY, CITY, STO_ECON_GDP, "2026", "9", 0), 0);

	memset(&w, 0, sizeof w);
	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_econ_each(t, STO_ENTERPRISE, ent("E0101"), walk_fn, &w), 0);
	assert_int_equal(w.n, 6);
	/* kind, then period type (months, quarters, years), then time */
	assert_string_equal(w.seen[0], "value_added 2025-12 1 r0");
	assert_string_equal(w.seen[1], "value_added 2026-02 2 r1");
	assert_string_equal(w.seen[2], "value_added 2026-10 2.5 r0");
	assert_string_equal(w.seen[3], "value_added 2026-Q1 5 r0");
	assert_string_equal(w.seen[4], "output 2026-01 3 r0");
	assert_string_equal(w.seen[5], "gdp 2026 7 r0");

	/* a nonzero return stops and comes back */
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	assert_int_equal(sto_econ_each(t, STO_ENTERPRISE, ent("E0101"), walk_fn, &w), 42);
	assert_int_equal(w.n, 2);

	/* an entity without figures, and bad arguments */
	memset(&w, 0, sizeof w);
	assert_int_equal(sto_econ_each(t, STO_ENTERPRISE, ent("E0999"), walk_fn, &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(sto_econ_each(t, STO_CITY, ent(CITY), walk_fn, &w), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(sto_econ_each(t, STO_METER, ent("E0101"), walk_fn, &w), ER_EINVAL);
	assert_int_equal(sto_econ_each(t, STO_ENTERPRISE, ent("E0101"), NULL, &w), ER_EINVAL);
	sto_abort(t);
}

/* ---- CSV ---- */

typedef struct csv_seen {
	int n, fail_at, rc;
	sto_econ_key k[16];
	sto_econ_val v[16];
	char code[16][64];
	sto_txn *txn; /* when set, rows are put into it */
} csv_seen;

static int csv_fn(void *ctx, const sto_econ_key *k, const sto_econ_val *v, const char *code)
{
	csv_seen *s = ctx;
	if (s->n < 16) {
		s->k[s->n] = *k;
		s->v[s->n] = *v;
		snprintf(s->code[s->n], sizeof s->code[0], "%s", code);
	}
	s->n++;
	if (s->n == s->fail_at)
		return ER_EEXIST;
	if (s->txn != NULL)
		return sto_econ_put(s->txn, k, v);
	return 0;
}

static void assert_row(const csv_seen *s, int i, int level, const char *code, int kind, const char *period, er_fx value,
		       uint32_t revision)
{
	sto_econ_key want = ekey(level, code, kind, period);
	assert_int_equal(s->k[i].level, level);
	assert_true(s->k[i].entity == want.entity);
	assert_string_equal(s->code[i], code);
	assert_int_equal(s->k[i].kind, kind);
	assert_int_equal(s->k[i].ptype, want.ptype);
	assert_int_equal(s->k[i].year, want.year);
	assert_int_equal(s->k[i].index, want.index);
	assert_int_equal(s->v[i].value, value);
	assert_int_equal(s->v[i].revision, revision);
}

static void test_csv_good(void **state)
{
	static const char text[] = "\xEF\xBB\xBF# economic figures, March 2026\r\n"
				   "level,entity,kind,period,value,revision\r\n"
				   "enterprise,E0101,value_added,2026-03,1234.5,\r\n"
				   "\r\n"
				   "district,D01,gdp,2026-Q1,56789,2\n"
				   "city,sample-city,gdp,2026,1000000,\n"
				   "   # an indented comment\n"
				   "enterprise,\"E0102\",output,2026-03, 0.000001 ,7\n"
				   "city,sample-city,value_added,2026-01,0,4294967295"; /* no final newline */
	csv_seen s;
	char *errors = (char *)"untouched";
	uint32_t rows = 0;
	int64_t before = er_now();
	(void)state;

	memset(&s, 0, sizeof s);
	assert_int_equal(sto_econ_csv_parse(text, "econ.csv", csv_fn, &s, &errors, &rows), 0);
	assert_null(errors);
	assert_int_equal(rows, 5);
	assert_int_equal(s.n, 5);
	assert_row(&s, 0, STO_ENTERPRISE, "E0101", STO_ECON_VALUE_ADDED, "2026-03", 1234500000, 0);
	assert_row(&s, 1, STO_DISTRICT, "D01", STO_ECON_GDP, "2026-Q1", 56789000000, 2);
	assert_row(&s, 2, STO_CITY, "sample-city", STO_ECON_GDP, "2026", 1000000000000, 0);
	assert_row(&s, 3, STO_ENTERPRISE, "E0102", STO_ECON_OUTPUT, "2026-03", 1, 7);
	assert_row(&s, 4, STO_CITY, "sample-city", STO_ECON_VALUE_ADDED, "2026-01", 0, UINT32_MAX);
	/* one arrival time for the file */
	assert_true(s.v[0].received >= before && s.v[0].received <= er_now());
	for (int i = 1; i < 5; i++)
		assert_int_equal(s.v[i].received, s.v[0].received);

	/* a header alone is a valid, empty file; errors and rows may be NULL */
	memset(&s, 0, sizeof s);
	assert_int_equal(sto_econ_csv_parse("# nothing yet\nlevel,entity,kind,period,value,revision\n", "e.csv", csv_fn,
					    &s, NULL, NULL),
			 0);
	assert_int_equal(s.n, 0);
}

static void test_csv_bad_rows(void **state)
{
	static const char text[] = "level,entity,kind,period,value,revision\n"              /* 1 */
				   "enterprise,E0101,value_added,2026-03,1234.5,\n"         /* 2: good */
				   "meter,M1,value_added,2026-03,1,\n"                      /* 3 */
				   "enterprise,E0101,profit,2026-03,1,\n"                   /* 4 */
				   "enterprise,E0101,value_added,2026-13,1,\n"              /* 5 */
				   "enterprise,E0101,value_added,2026-04,-1,\n"             /* 6 */
				   "enterprise,E0101,value_added,2026-05,1.1234567,\n"      /* 7 */
				   "enterprise,E0101,value_added,2026-06,1\n"               /* 8 */
				   "enterprise,E 01,value_added,2026-07,1,\n"               /* 9 */
				   "enterprise,E0101,value_added,2026-08,abc,\n"            /* 10 */
				   "enterprise,E0101,value_added,2026-09,1,x\n"             /* 11 */
				   "enterprise,E0101,value_added,2026-03,99,\n"             /* 12: repeats 2 */
				   "enterprise,E0101,value_added,2026-10,1,\"2\n"           /* 13 */
				   "enterprise,E0101,value_added,2026-11,,\n"               /* 14 */
				   "enterprise,E0101,value_added,2026-3,1,\n"               /* 15 */
				   "enterprise,E0101,value_added,2026-12,10000000000000,\n" /* 16 */
				   "district,E0101,value_added,2026-03,5,\n"; /* 17: good (another level) */
	static const char want[] =
	    "in.csv:3: level 'meter' is not enterprise, district or city\n"
	    "in.csv:4: kind 'profit' is not value_added, output, gdp or a yearly statistic (employees, land_km2, "
	    "wastewater_t, solid_waste_t, cod_t, nh3n_t, so2_t, nox_t)\n"
	    "in.csv:5: period '2026-13' is not YYYY-MM (a month), YYYY-Qn (a quarter) or YYYY (a year) with a "
	    "year from 1900 to 9999\n"
	    "in.csv:6: value '-1' is negative\n"
	    "in.csv:7: value '1.1234567' has more than 6 decimals (a micro-unit is the finest)\n"
	    "in.csv:8: 5 fields, expected 6 (level,entity,kind,period,value,revision); leave revision empty for 0\n"
	    "in.csv:9: entity 'E 01' must be 1-63 characters of A-Z a-z 0-9 . _ -\n"
	    "in.csv:10: value 'abc' is not a decimal number\n"
	    "in.csv:11: revision 'x' is not empty or a whole number from 0 to 4294967295\n"
	    "in.csv:12: enterprise E0101 value_added 2026-03 repeats line 2; give each period once per file (its "
	    "latest revision)\n"
	    "in.csv:13: malformed CSV (unterminated quote, text after a closing quote, or more than 16 fields)\n"
	    "in.csv:14: value '' is empty\n"
	    "in.csv:15: period '2026-3' is not YYYY-MM (a month), YYYY-Qn (a quarter) or YYYY (a year) with a "
	    "year from 1900 to 9999\n"
	    "in.csv:16: value '10000000000000' is too large (at most 9e12)\n";
	csv_seen s;
	char *errors = NULL;
	uint32_t rows = 0;
	(void)state;

	memset(&s, 0, sizeof s);
	assert_int_equal(sto_econ_csv_parse(text, "in.csv", csv_fn, &s, &errors, &rows), ER_EINVAL);
	assert_int_equal(s.n, 0); /* all or nothing: the good rows are not applied either */
	assert_int_equal(rows, 16);
	assert_non_null(errors);
	assert_string_equal(errors, want);
	free(errors);

	/* errors may be NULL: still refused */
	assert_int_equal(sto_econ_csv_parse(text, "in.csv", csv_fn, &s, NULL, NULL), ER_EINVAL);
	assert_int_equal(s.n, 0);
	assert_int_equal(sto_econ_csv_parse(text, "in.csv", NULL, &s, NULL, NULL), ER_EINVAL);
}

static void test_csv_header(void **state)
{
	csv_seen s;
	char *errors = NULL;
	uint32_t rows = 9;
	(void)state;

	memset(&s, 0, sizeof s);
	/* a data row where the header belongs: nothing after it is read */
	assert_int_equal(sto_econ_csv_parse("# figures\nenterprise,E0101,value_added,2026-03,1,\n"
					    "enterprise,E0101,value_added,2026-04,1,\n",
					    "h.csv", csv_fn, &s, &errors, &rows),
			 ER_EINVAL);
	assert_string_equal(errors, "h.csv:2: header must be 'level,entity,kind,period,value,revision'\n");
	assert_int_equal(rows, 0);
	assert_int_equal(s.n, 0);
	free(errors);

	/* columns in another order are not the header */
	assert_int_equal(
	    sto_econ_csv_parse("entity,level,kind,period,value,revision\n", "h.csv", csv_fn, &s, &errors, NULL),
	    ER_EINVAL);
	assert_string_equal(errors, "h.csv:1: header must be 'level,entity,kind,period,value,revision'\n");
	free(errors);

	/* empty text, or comments only */
	assert_int_equal(sto_econ_csv_parse("", "h.csv", csv_fn, &s, &errors, NULL), ER_EINVAL);
	assert_string_equal(errors, "h.csv:1: no header line; expected 'level,entity,kind,period,value,revision'\n");
	free(errors);
	assert_int_equal(sto_econ_csv_parse("# x\n\n", "h.csv", csv_fn, &s, &errors, NULL), ER_EINVAL);
	assert_string_equal(errors, "h.csv:1: no header line; expected 'level,entity,kind,period,value,revision'\n");
	free(errors);
	assert_int_equal(sto_econ_csv_parse(NULL, "h.csv", csv_fn, &s, &errors, NULL), ER_EINVAL);
	free(errors);
	assert_int_equal(s.n, 0);
}

static void test_csv_error_cap(void **state)
{
	char *text, *errors = NULL, *p;
	size_t cap = 200 * 64, at;
	int lines = 0;
	uint32_t rows = 0;
	csv_seen s;
	(void)state;

	text = malloc(cap);
	assert_non_null(text);
	at = (size_t)snprintf(text, cap, "level,entity,kind,period,value,revision\n");
	for (int i = 0; i < 150; i++)
		at += (size_t)snprintf(text + at, cap - at, "enterprise,E%d,value_added,2026-03,-1,\n", i);
	memset(&s, 0, sizeof s);
	assert_int_equal(sto_econ_csv_parse(text, "cap.csv", csv_fn, &s, &errors, &rows), ER_EINVAL);
	assert_int_equal(rows, 150);
	for (p = errors; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, STO_ECON_MAX_ERRORS);
	assert_non_null(strstr(errors, "cap.csv:101: value '-1' is negative\n")); /* the 100th bad row */
	assert_null(strstr(errors, "cap.csv:102:"));
	assert_int_equal(s.n, 0);
	free(errors);
	free(text);
}

static void test_csv_fn_stops(void **state)
{
	static const char text[] = "level,entity,kind,period,value,revision\n"
				   "enterprise,E0101,value_added,2026-01,1,\n"
				   "enterprise,E0101,value_added,2026-02,2,\n"
				   "enterprise,E0101,value_added,2026-03,3,\n";
	csv_seen s;
	char *errors = (char *)"untouched";
	(void)state;

	memset(&s, 0, sizeof s);
	s.fail_at = 2;
	assert_int_equal(sto_econ_csv_parse(text, "s.csv", csv_fn, &s, &errors, NULL), ER_EEXIST);
	assert_int_equal(s.n, 2);
	assert_null(errors);
}

/* The daemon's path: parse into one write transaction, then ask for a
 * denominator. */
static void test_csv_into_store(void **state)
{
	static const char text[] = "level,entity,kind,period,value,revision\n"
				   "district,D01,gdp,2026-Q1,56789,2\n"
				   "district,D01,gdp,2026-Q2,60000.5,\n"
				   "district,D01,gdp,2026-Q3,61000.25,\n"
				   "district,D01,gdp,2026-Q4,70000,\n"
				   "city,sample-city,gdp,2026-03,1000,\n"; /* a city may report monthly */
	sto_env *env = *state;
	csv_seen s;
	total_res r;
	sto_econ_val v;

	memset(&s, 0, sizeof s);
	assert_int_equal(sto_write_begin(env, &s.txn), 0);
	assert_int_equal(sto_econ_csv_parse(text, "q.csv", csv_fn, &s, NULL, NULL), 0);
	assert_int_equal(sto_commit(s.txn), 0);
	r = total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.value, 247789750000); /* as in test_total_year_quarters */
	assert_string_equal(r.how, "4 quarters");
	assert_int_equal(get1(env, STO_CITY, CITY, STO_ECON_GDP, "2026-03", &v), 0);
	assert_int_equal(v.value, 1000000000);

	/* re-importing an older revision: the put refuses, the caller aborts */
	memset(&s, 0, sizeof s);
	assert_int_equal(sto_write_begin(env, &s.txn), 0);
	assert_int_equal(sto_econ_csv_parse("level,entity,kind,period,value,revision\n"
					    "district,D01,gdp,2026-Q4,1,\n"
					    "district,D01,gdp,2026-Q1,1,1\n",
					    "old.csv", csv_fn, &s, NULL, NULL),
			 ER_EEXIST);
	sto_abort(s.txn);
	r = total1(env, STO_DISTRICT, "D01", STO_ECON_GDP, "2026");
	assert_int_equal(r.value, 247789750000); /* Q4's equal-revision replace was rolled back */
}

/* ---- intensity arithmetic ---- */

static void test_ratio_format(void **state)
{
	const __int128 i128_max = (__int128)(~(unsigned __int128)0 >> 1);
	const __int128 i128_min = -i128_max - 1;
	char buf[8];
	(void)state;

	/* GB/T 8170: exactly half goes to the even digit */
	assert_string_equal(ratio(1, 8, 2), "0.12"); /* 0.125 */
	assert_string_equal(ratio(3, 8, 2), "0.38"); /* 0.375 */
	assert_string_equal(ratio(-1, 8, 2), "-0.12");
	assert_string_equal(ratio(1, -8, 2), "-0.12");
	assert_string_equal(ratio(-3, -8, 2), "0.38");
	assert_string_equal(ratio(5, 2, 0), "2"); /* 2.5 */
	assert_string_equal(ratio(7, 2, 0), "4"); /* 3.5 */
	assert_string_equal(ratio(-5, 2, 0), "-2");
	assert_string_equal(ratio(995, 1000, 2), "1.00");  /* 0.995: 9 is odd, carry through */
	assert_string_equal(ratio(985, 1000, 2), "0.98");  /* 0.985 */
	assert_string_equal(ratio(-15, 1000, 2), "-0.02"); /* -0.015 */
	/* above or below half is not a tie */
	assert_string_equal(ratio(12501, 100000, 2), "0.13");
	assert_string_equal(ratio(12499, 100000, 2), "0.12");
	assert_string_equal(ratio(1, 3, 2), "0.33");
	assert_string_equal(ratio(2, 3, 2), "0.67");
	assert_string_equal(ratio(1, 1, 3), "1.000");
	/* exact expansions that end: no digit may come out one low */
	assert_string_equal(ratio(1, 2, 2), "0.50");
	assert_string_equal(ratio(1, 4, 3), "0.250");
	assert_string_equal(ratio(3, 16, 4), "0.1875");
	assert_string_equal(ratio(7, 8, 5), "0.87500");
	assert_string_equal(ratio(12345, 1, 0), "12345");
	assert_string_equal(ratio(999995, 1000, 2), "1000.00"); /* carry into the integer part */
	/* zero, with no negative zero */
	assert_string_equal(ratio(0, 5, 2), "0.00");
	assert_string_equal(ratio(-1, 1000, 2), "0.00");
	assert_string_equal(ratio(-5, 1000, 2), "0.00"); /* -0.005 ties to 0.00 */
	/* no denominator */
	assert_string_equal(ratio(1, 0, 2), "n/a");
	assert_string_equal(ratio(0, 0, 2), "n/a");
	/* intensity 1.2345 tce / 10 (10^4 yuan): pico-kgce over micro x 10^9 */
	assert_string_equal(ratio((__int128)12345 * 100000000000LL, (__int128)10000000 * 1000000000, 4), "0.1234");
	assert_string_equal(ratio((__int128)12345 * 100000000000LL, (__int128)10000000 * 1000000000, 2), "0.12");
	/* the int128 extremes, exactly */
	assert_string_equal(ratio(i128_min, 1, 0), "-170141183460469231731687303715884105728");
	assert_string_equal(ratio(i128_max, 1, 1), "170141183460469231731687303715884105727.0");
	assert_string_equal(ratio(i128_max, i128_max, 2), "1.00");
	assert_string_equal(ratio(i128_min, i128_min, 2), "1.00");
	assert_string_equal(ratio(i128_max / 3, i128_max, 30), "0.333333333333333333333333333333");
	assert_string_equal(ratio(i128_max - 1, i128_max, 30), "1.000000000000000000000000000000");
	/* decimals out of range; snprintf-like truncation */
	assert_int_equal(sto_ratio_format(1, 3, 31, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(sto_ratio_format(1, 3, -1, buf, sizeof buf), 0);
	assert_int_equal(sto_ratio_format(-1, 8, 2, buf, 4), 5);
	assert_string_equal(buf, "-0.");
	assert_int_equal(sto_ratio_format(1, 0, 2, NULL, 0), 3);
}

static const char *change_pct(__int128 e_t, __int128 v_t, __int128 e_0, __int128 v_0)
{
	__int128 num = 7, den = 7;
	sto_change_ratio(e_t, v_t, e_0, v_0, &num, &den);
	assert_true(den >= 0);
	return ratio(num * 100, den, 2);
}

static void test_change_ratio(void **state)
{
	const __int128 tce = (__int128)1000 * 1000000000000LL; /* pico-kgce per tce */
	const __int128 wan = 1000000;                          /* micro per 10^4 yuan */
	__int128 num, den;
	(void)state;

	/* DOMAIN.md 5: I_t = 0.9 tce / 10, I_0 = 1.0 / 10: 0.09 / 0.1 - 1 = -10% */
	sto_change_ratio(9 * tce / 10, 10 * wan, tce, 10 * wan, &num, &den);
	assert_true(num == -1 && den == 10); /* reduced exactly */
	assert_string_equal(ratio(num * 100, den, 2), "-10.00");
	/* common factors are divided out, so the pair comes back reduced:
	 * (6/4) / (9/6) - 1 = 0 -> 0/1; (6/4) / (4/4) - 1 = 1/2 */
	sto_change_ratio(6, 4, 9, 6, &num, &den);
	assert_true(num == 0 && den == 1);
	sto_change_ratio(6, 4, 4, 4, &num, &den);
	assert_true(num == 1 && den == 2);
	sto_change_ratio(1, 1, 4, 6, &num, &den); /* 1 / (4/6) - 1 = 1/2 */
	assert_true(num == 1 && den == 2);
	/* energies to 1e30 stay exact when they share a scale: I_t = 1e30 /
	 * 1e15, I_0 = 9e29 / (1e15 - 1); the ratio reduces to
	 * 111111111111111 / 10^14, so the change is 11111111111111 / 10^14 */
	sto_change_ratio((__int128)1000000000000000000LL * 1000000000000LL, 1000000000000000LL,
			 (__int128)900000000000000000LL * 1000000000000LL, 999999999999999LL, &num, &den);
	assert_true(num == 11111111111111LL && den == 100000000000000LL);
	assert_string_equal(ratio(num * 100, den, 2), "11.11");
	/* I_t = 0.45 / 5, I_0 = 0.5 / 5.5: (0.45 x 5.5) / (5 x 0.5) - 1 = 0.99 - 1 = -1% */
	assert_string_equal(change_pct(45 * tce / 100, 5 * wan, tce / 2, 55 * wan / 10), "-1.00");
	/* growth: 1.1 / 10 against 1 / 10 is +10% */
	assert_string_equal(change_pct(11 * tce / 10, 10 * wan, tce, 10 * wan), "10.00");
	/* no energy at t: -100% */
	assert_string_equal(change_pct(0, 10 * wan, tce, 10 * wan), "-100.00");
	/* 1/3 of the base intensity: -66.666...% -> -66.67 */
	assert_string_equal(change_pct(tce, 3 * wan, tce, wan), "-66.67");
	/* undefined: no value at t or at base, or a zero base intensity */
	assert_string_equal(change_pct(tce, 0, tce, wan), "n/a");
	assert_string_equal(change_pct(tce, wan, tce, 0), "n/a");
	assert_string_equal(change_pct(tce, wan, 0, wan), "n/a");
	assert_string_equal(change_pct(0, wan, 0, wan), "n/a");
	/* a negative energy (net export) flips the sign of I_t: -1 - 1 = -200% */
	assert_string_equal(change_pct(-tce, wan, tce, wan), "-200.00");

	/* exact near the documented limit: e ~ 1e22, v ~ 1e15, no common
	 * factors; the reduced fraction (computed with Python's Fraction) is
	 * 79999998000000000000030 / 9999999999999890000002999999999999967 */
	sto_change_ratio((__int128)10000000000LL * 1000000000000LL + 1, 1000000000000000LL - 11,
			 (__int128)10000000000LL * 1000000000000LL + 3, 1000000000000000LL - 3, &num, &den);
	assert_string_equal(ratio(num, 1, 0), "79999998000000000000030");
	assert_string_equal(ratio(den, 1, 0), "9999999999999890000002999999999999967");

	/* beyond int128: e ~ 1e30 pico-kgce, v ~ 1e15, no common factors.
	 * Exact change = -0.0999999999999928..., x 10^18 = -99999999999992800
	 * (Fraction, rounded); the long double fallback lands within 2. */
	sto_change_ratio((__int128)900000000000000000LL * 1000000000000LL + 1, 1000000000000000LL - 11,
			 (__int128)1000000000000000000LL * 1000000000000LL + 3, 1000000000000000LL - 3, &num, &den);
	assert_true(den == (__int128)1000000000000000000LL);
	{
		__int128 d = num - (__int128)-99999999999992800LL;
		if (d < -2 || d > 2)
			fail_msg("fallback num off by %lld", (long long)d);
	}
	assert_string_equal(ratio(num * 100, den, 2), "-10.00");

	/* a negative ratio whose exact numerator -(p + q) would pass
	 * -2^127: p = 2^126 + 1, q = 2^126 + 3, so the change is about -2
	 * and comes from the fallback */
	{
		const __int128 big = (__int128)1 << 126;
		sto_change_ratio(-(big + 1), 1, big + 3, 1, &num, &den);
		assert_true(den == (__int128)1000000000000000000LL);
		assert_string_equal(ratio(num * 100, den, 2), "-200.00");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_period_parse_format),
	    cmocka_unit_test(test_period_range),
	    cmocka_unit_test(test_key_layout),
	    cmocka_unit_test_setup_teardown(test_put_get, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_put_invalid, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_revisions, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_year_own, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_year_quarters, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_year_months, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_year_missing, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_quarter, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_total_overflow, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_each, env_setup, env_teardown),
	    cmocka_unit_test(test_csv_good),
	    cmocka_unit_test(test_csv_bad_rows),
	    cmocka_unit_test(test_csv_header),
	    cmocka_unit_test(test_csv_error_cap),
	    cmocka_unit_test(test_csv_fn_stops),
	    cmocka_unit_test_setup_teardown(test_csv_into_store, env_setup, env_teardown),
	    cmocka_unit_test(test_ratio_format),
	    cmocka_unit_test(test_change_ratio),
	};
	make_root();
	return cmocka_run_group_tests_name("econ", tests, NULL, NULL);
}
