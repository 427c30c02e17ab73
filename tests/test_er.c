/* test_er.c: node/er.c, the helpers every module leans on: exact fixed
 * point, time parsing and formatting, calendar buckets at positive,
 * negative and half-hour offsets, and CSV splitting. Expected instants are
 * literals worked out independently (Python's datetime), never computed
 * with er.c itself, so a wrong calendar routine cannot agree with its own
 * test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "er.h"
#include "tutil.h"

#define OFF_CN (8 * 3600)	    /* +08:00, the default */
#define OFF_NL (-(3 * 3600 + 1800)) /* -03:30, Newfoundland */
#define OFF_IN (5 * 3600 + 1800)    /* +05:30, India */

/* ---- fixed point ---- */

static int fx_parse(const char *s, er_fx *out)
{
	return er_fx_parse(s, strlen(s), out);
}

/* er_grow: room for one more, doubling from first, contents kept. */
static void test_grow(void **state)
{
	uint32_t *a = NULL;
	size_t n = 0, cap = 0;
	(void)state;

	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(er_grow(&a, n, &cap, sizeof *a, 4), 0);
		assert_true(n < cap);
		a[n++] = i * 7;
	}
	assert_int_equal(cap, 1024); /* 4, 8, ..., 1024 */
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(a[i], i * 7);
	size_t before = cap;
	assert_int_equal(er_grow(&a, 10, &cap, sizeof *a, 4), 0); /* room already: unchanged */
	assert_int_equal(cap, before);
	free(a);
}

static void test_fx_parse_exact(void **state)
{
	er_fx v;
	(void)state;

	assert_int_equal(fx_parse("12.345678", &v), 0);
	assert_int_equal(v, 12345678);
	assert_int_equal(fx_parse("-0.000001", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(fx_parse("1.2300000", &v), 0); /* trailing zeros past 6 decimals are exact */
	assert_int_equal(v, 1230000);
	assert_int_equal(fx_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(fx_parse("+3", &v), 0);
	assert_int_equal(v, 3000000);
	assert_int_equal(fx_parse(" 7 ", &v), 0);
	assert_int_equal(v, 7000000);
	assert_int_equal(fx_parse(".5", &v), 0);
	assert_int_equal(v, 500000);
	assert_int_equal(fx_parse("5.", &v), 0);
	assert_int_equal(v, 5000000);
	assert_int_equal(fx_parse("99999999.99", &v), 0);
	assert_int_equal(v, 99999999990000LL);
	assert_int_equal(fx_parse("9000000000000", &v), 0); /* ER_FX_MAX_UNITS itself */
	assert_int_equal(v, 9000000000000000000LL);
	/* n bounds the text: only "12.5" of "12.5xyz" is read */
	assert_int_equal(er_fx_parse("12.5xyz", 4, &v), 0);
	assert_int_equal(v, 12500000);
}

static void test_fx_parse_errors(void **state)
{
	er_fx v = 42;
	(void)state;

	assert_int_equal(fx_parse("1.0000001", &v), ER_ERANGE); /* finer than a micro-unit */
	assert_int_equal(fx_parse("9000000000001", &v), ER_ERANGE);
	assert_int_equal(fx_parse("abc", &v), ER_EINVAL);
	assert_int_equal(fx_parse("", &v), ER_EINVAL);
	assert_int_equal(fx_parse("   ", &v), ER_EINVAL);
	assert_int_equal(fx_parse("-", &v), ER_EINVAL);
	assert_int_equal(fx_parse(".", &v), ER_EINVAL);
	assert_int_equal(fx_parse("1.2.3", &v), ER_EINVAL);
	assert_int_equal(fx_parse("1e3", &v), ER_EINVAL);
	assert_int_equal(fx_parse("12 3", &v), ER_EINVAL);
	assert_int_equal(v, 42); /* untouched by every failure */
}

static void check_format(er_fx v, const char *want)
{
	char buf[48];
	size_t n = er_fx_format(v, buf, sizeof buf);
	er_fx back;

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(er_fx_parse(buf, n, &back), 0);
	assert_int_equal(back, v);
}

static void test_fx_format(void **state)
{
	(void)state;
	check_format(12345678, "12.345678");
	check_format(-1, "-0.000001");
	check_format(12500000, "12.5");
	check_format(3000000, "3");
	check_format(-2500000, "-2.5");
	check_format(0, "0");
	check_format(100, "0.0001");
	check_format(1000001, "1.000001");
	check_format(99999999990000LL, "99999999.99");
	check_format(-9000000000000000000LL, "-9000000000000");
}

static void test_fx_format_extremes(void **state)
{
	char buf[48];
	(void)state;

	/* Formatting must not overflow at the ends of int64 even though
	 * these do not parse back (they exceed ER_FX_MAX_UNITS). */
	er_fx_format(INT64_MAX, buf, sizeof buf);
	assert_string_equal(buf, "9223372036854.775807");
	er_fx_format(INT64_MIN, buf, sizeof buf);
	assert_string_equal(buf, "-9223372036854.775808");
}

static void test_fx_from_double(void **state)
{
	er_fx v = 7;
	(void)state;

	assert_int_equal(er_fx_from_double(0.1, &v), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(er_fx_from_double(12.345678, &v), 0);
	assert_int_equal(v, 12345678);
	assert_int_equal(er_fx_from_double(-0.000001, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(er_fx_from_double(0.3 - 0.1, &v), 0); /* 0.19999999999999998 */
	assert_int_equal(v, 200000);
	assert_int_equal(er_fx_from_double(1e12, &v), 0);
	assert_int_equal(v, 1000000000000000000LL);
	v = 7;
	assert_int_equal(er_fx_from_double(NAN, &v), ER_ERANGE);
	assert_int_equal(er_fx_from_double(INFINITY, &v), ER_ERANGE);
	assert_int_equal(er_fx_from_double(-INFINITY, &v), ER_ERANGE);
	assert_int_equal(er_fx_from_double(9.1e12, &v), ER_ERANGE);
	assert_int_equal(er_fx_from_double(-9.1e12, &v), ER_ERANGE);
	assert_int_equal(v, 7);
	assert_true(er_fx_to_double(1500000) == 1.5);
}

/* ---- time parsing and formatting ---- */

static int tparse(const char *s, int off, int64_t *out)
{
	return er_time_parse(s, strlen(s), off, out);
}

static void test_time_parse(void **state)
{
	int64_t t;
	(void)state;

	assert_int_equal(tparse("2026-03-01T08:00:00Z", OFF_CN, &t), 0);
	assert_int_equal(t, 1772352000); /* the zone wins over the local offset */
	assert_int_equal(tparse("2026-03-01T08:00:00Z", OFF_NL, &t), 0);
	assert_int_equal(t, 1772352000);
	assert_int_equal(tparse("2026-03-01T08:00:00+08:00", 0, &t), 0);
	assert_int_equal(t, 1772323200);
	assert_int_equal(tparse("2026-03-01T08:00:00-03:30", 0, &t), 0);
	assert_int_equal(t, 1772352000 + 12600);
	assert_int_equal(tparse("2026-03-01T08:00:00+0530", 0, &t), 0);
	assert_int_equal(t, 1772352000 - 19800);
	assert_int_equal(tparse("2026-03-01 08:00", OFF_CN, &t), 0); /* local time */
	assert_int_equal(t, 1772323200);
	assert_int_equal(tparse("2026-03-01 08:00", OFF_NL, &t), 0);
	assert_int_equal(t, 1772352000 + 12600);
	assert_int_equal(tparse("2026-03-01", OFF_CN, &t), 0); /* local midnight */
	assert_int_equal(t, 1772294400);
	assert_int_equal(tparse("2026-03-01", OFF_IN, &t), 0);
	assert_int_equal(t, 1772303400);
	assert_int_equal(tparse("1772323200", OFF_CN, &t), 0); /* epoch seconds, no offset applied */
	assert_int_equal(t, 1772323200);
	assert_int_equal(tparse("2026-03-01T08:00:00.750Z", 0, &t), 0); /* fraction truncated */
	assert_int_equal(t, 1772352000);
	assert_int_equal(tparse("  2026-03-01T08:00:00Z\n", 0, &t), 0);
	assert_int_equal(t, 1772352000);
	assert_int_equal(tparse("2024-02-29", 0, &t), 0); /* leap day */
	assert_int_equal(t, 1709164800);
	assert_int_equal(tparse("2000-02-29", 0, &t), 0); /* 400-year leap */
	assert_int_equal(t, 951782400);
}

static void check_bad_time(const char *s, int want)
{
	int64_t t = 99;
	int rc = tparse(s, OFF_CN, &t);

	if (want == 0) /* a calendar error: either code is a fair answer */
		assert_true(rc == ER_EINVAL || rc == ER_ERANGE);
	else
		assert_int_equal(rc, want);
	assert_int_equal(t, 99);
}

static void test_time_parse_errors(void **state)
{
	(void)state;
	check_bad_time("2026-02-30", 0);
	check_bad_time("2026-02-29", 0); /* 2026 is not a leap year */
	check_bad_time("2100-02-29", 0); /* nor is 2100 */
	check_bad_time("2026-13-01", 0);
	check_bad_time("2026-00-10", 0);
	check_bad_time("2026-04-31", 0);
	check_bad_time("2026-03-01T24:00", 0);
	check_bad_time("2026-03-01T08:60", 0);
	check_bad_time("garbage", ER_EINVAL);
	check_bad_time("", ER_EINVAL);
	check_bad_time("   ", ER_EINVAL);
	check_bad_time("2026-03-01X", ER_EINVAL);
	check_bad_time("2026-03-01T08", ER_EINVAL);
	check_bad_time("2026-03-01T08:00:00+8", ER_EINVAL);
	check_bad_time("2026-03-01T08:00:00+15:00", ER_EINVAL);
	check_bad_time("2026/03/01", ER_EINVAL);
}

static void check_format_time(int64_t t, int off, const char *want)
{
	char buf[64];
	int64_t back;
	size_t n = er_time_format(t, off, buf, sizeof buf);

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	/* round trip, and at any other local offset the zone still wins */
	assert_int_equal(er_time_parse(buf, n, off, &back), 0);
	assert_int_equal(back, t);
	assert_int_equal(er_time_parse(buf, n, OFF_NL, &back), 0);
	assert_int_equal(back, t);
}

static void test_time_format(void **state)
{
	(void)state;
	check_format_time(1772323200, OFF_CN, "2026-03-01T08:00:00+08:00");
	check_format_time(1772323200, OFF_NL, "2026-02-28T20:30:00-03:30");
	check_format_time(1772323200, OFF_IN, "2026-03-01T05:30:00+05:30");
	check_format_time(1772323200, 0, "2026-03-01T00:00:00Z");
	check_format_time(1772323200 + 3723, OFF_CN, "2026-03-01T09:02:03+08:00");
	check_format_time(1767196799, OFF_CN, "2025-12-31T23:59:59+08:00");
	check_format_time(-1, 0, "1969-12-31T23:59:59Z");
}

static void test_offset_parse(void **state)
{
	int off = 1;
	(void)state;

	assert_int_equal(er_offset_parse("+08:00", &off), 0);
	assert_int_equal(off, 28800);
	assert_int_equal(er_offset_parse("-03:30", &off), 0);
	assert_int_equal(off, -12600);
	assert_int_equal(er_offset_parse("+0530", &off), 0);
	assert_int_equal(off, 19800);
	assert_int_equal(er_offset_parse("Z", &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(er_offset_parse("08:00", &off), ER_EINVAL);
	assert_int_equal(er_offset_parse("+08:00x", &off), ER_EINVAL);
	assert_int_equal(er_offset_parse("+15:00", &off), ER_EINVAL);
	assert_int_equal(er_offset_parse("", &off), ER_EINVAL);
}

/* ---- calendar ---- */

static void test_days_civil_known(void **state)
{
	int64_t y;
	unsigned m, d;
	(void)state;

	assert_int_equal(er_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(er_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(er_days_from_civil(2000, 2, 29), 11016);
	assert_int_equal(er_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(er_days_from_civil(2026, 11, 24), 20781);
	assert_int_equal(er_days_from_civil(1600, 2, 29), -135081);

	er_civil_from_days(0, &y, &m, &d);
	assert_true(y == 1970 && m == 1 && d == 1);
	er_civil_from_days(11017, &y, &m, &d);
	assert_true(y == 2000 && m == 3 && d == 1);
	er_civil_from_days(20781, &y, &m, &d);
	assert_true(y == 2026 && m == 11 && d == 24);
	er_civil_from_days(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
	er_civil_from_days(-135081, &y, &m, &d);
	assert_true(y == 1600 && m == 2 && d == 29);
}

static void test_days_civil_walk(void **state)
{
	/* Walk every day from 1900-01-01 to 2100-12-31 with a naive calendar
	 * and check both directions against it. */
	static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t n = er_days_from_civil(1900, 1, 1), y2;
	unsigned m2, d2;
	(void)state;

	assert_int_equal(n, -25567);
	for (int64_t y = 1900; y <= 2100; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (unsigned m = 1; m <= 12; m++) {
			unsigned len = dm[m - 1] + (m == 2 && leap);
			for (unsigned d = 1; d <= len; d++, n++) {
				if (er_days_from_civil(y, m, d) != n)
					fail_msg("days_from_civil(%lld-%u-%u) != %lld", (long long)y, m, d, (long long)n);
				er_civil_from_days(n, &y2, &m2, &d2);
				if (y2 != y || m2 != m || d2 != d)
					fail_msg("civil_from_days(%lld) gave %lld-%u-%u", (long long)n, (long long)y2, m2, d2);
			}
		}
	}
	assert_int_equal(n, er_days_from_civil(2101, 1, 1));
}

struct bucket_case {
	int64_t t;
	enum er_res res;
	int off;
	int64_t start, next;
};

static void test_bucket_cases(void **state)
{
	static const struct bucket_case cases[] = {
		/* hours at +05:30 start at :30 UTC: 08:00Z is local 13:30 */
		{1772352000, ER_RES_HOUR, OFF_IN, 1772350200, 1772353800},
		/* hours at -03:30 too: 08:10Z is local 04:40 -> 07:30Z */
		{1772352600, ER_RES_HOUR, OFF_NL, 1772350200, 1772353800},
		{1772355599, ER_RES_HOUR, OFF_CN, 1772352000, 1772355600},
		{1772352000, ER_RES_HOUR, OFF_CN, 1772352000, 1772355600},
		/* t before 1970: floor, not truncation (local 1969-12-31T20:29:59) */
		{-1, ER_RES_HOUR, OFF_NL, -1800, 1800},
		/* a day at -03:30 starts at 03:30Z */
		{1772366400, ER_RES_DAY, OFF_NL, 1772335800, 1772335800 + 86400},
		{1772335799, ER_RES_DAY, OFF_NL, 1772249400, 1772335800},
		{1772380799, ER_RES_DAY, OFF_CN, 1772294400, 1772380800},
		{1772380800, ER_RES_DAY, OFF_CN, 1772380800, 1772380800 + 86400},
		{1772389799, ER_RES_DAY, OFF_IN, 1772303400, 1772389800},
		/* 2024-02-29T20:00Z is 2024-03-01 04:00 at +08:00: March, local */
		{1709236800, ER_RES_MONTH, OFF_CN, 1709222400, 1711900800},
		/* 2024-03-01T02:00Z is 2024-02-29 22:30 at -03:30: February */
		{1709258400, ER_RES_MONTH, OFF_NL, 1706758200, 1709263800},
		/* December's next is January of the next year */
		{1765756800, ER_RES_MONTH, OFF_IN, 1764527400, 1767205800},
		/* 2025-12-31T16:00Z is 2026-01-01 00:00 at +08:00 */
		{1767196800, ER_RES_YEAR, OFF_CN, 1767196800, 1798732800},
		{1767196799, ER_RES_YEAR, OFF_CN, 1735660800, 1767196800},
		/* 2026-01-01T02:00Z is still 2025 at -03:30 */
		{1767232800, ER_RES_YEAR, OFF_NL, 1735702200, 1767238200},
		/* 2024 is a leap year: 366 days at +05:30 */
		{1717200000, ER_RES_YEAR, OFF_IN, 1704047400, 1735669800},
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bucket_case *c = &cases[i];
		int64_t s = er_bucket_start(c->t, c->res, c->off);
		int64_t n = er_bucket_next(s, c->res, c->off);
		if (s != c->start || n != c->next)
			fail_msg("case %zu: t=%lld %s off=%d: start %lld next %lld, want %lld %lld", i,
				 (long long)c->t, er_res_name(c->res), c->off, (long long)s, (long long)n,
				 (long long)c->start, (long long)c->next);
	}
}

static void test_bucket_invariants(void **state)
{
	/* Every 7 minutes over 40 days around a year end, at every offset and
	 * resolution: the bucket holds t, is idempotent, and its successor
	 * starts where it ends. */
	static const int offs[] = {OFF_CN, OFF_NL, OFF_IN, 0, -12 * 3600, 14 * 3600};
	(void)state;

	for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
		for (int64_t t = 1765756800; t < 1765756800 + 40 * 86400; t += 420) {
			for (int r = ER_RES_HOUR; r <= ER_RES_YEAR; r++) {
				int64_t s = er_bucket_start(t, (enum er_res)r, offs[o]);
				int64_t n = er_bucket_next(s, (enum er_res)r, offs[o]);
				assert_true(s <= t && t < n);
				assert_int_equal(er_bucket_start(s, (enum er_res)r, offs[o]), s);
				assert_int_equal(er_bucket_start(n, (enum er_res)r, offs[o]), n);
				assert_int_equal((s + offs[o]) % 3600, 0); /* a local hour boundary */
			}
		}
	}
}

static void test_bucket_chains(void **state)
{
	int64_t s;
	(void)state;

	/* 24 local hours at -03:30 make one local day */
	s = 1772335800;
	for (int i = 0; i < 24; i++)
		s = er_bucket_next(s, ER_RES_HOUR, OFF_NL);
	assert_int_equal(s, er_bucket_next(1772335800, ER_RES_DAY, OFF_NL));
	/* twelve months of 2026 at +08:00 are 365 days and land on 2027 */
	s = 1767196800;
	for (int i = 0; i < 12; i++)
		s = er_bucket_next(s, ER_RES_MONTH, OFF_CN);
	assert_int_equal(s, 1798732800);
	assert_int_equal(s - 1767196800, 365 * 86400);
	/* twelve months of 2024 at +05:30 are 366 days */
	s = 1704047400;
	for (int i = 0; i < 12; i++)
		s = er_bucket_next(s, ER_RES_MONTH, OFF_IN);
	assert_int_equal(s, 1735669800);
}

static void test_res_names(void **state)
{
	enum er_res r;
	(void)state;

	assert_string_equal(er_res_name(ER_RES_MONTH), "month");
	assert_int_equal(er_res_parse("day", &r), 0);
	assert_int_equal(r, ER_RES_DAY);
	assert_int_equal(er_res_parse("y", &r), 0);
	assert_int_equal(r, ER_RES_YEAR);
	assert_int_equal(er_res_parse("week", &r), ER_EINVAL);
}

/* ---- CSV ---- */

static void test_csv_split(void **state)
{
	char *f[8];
	char l1[] = "a,\"b,c\",d";
	char l2[] = "\"a \"\"b\"\"\"";
	char l3[] = "  x  ,  y z  ,";
	char l4[] = ",,";
	char l5[] = "a,b\r\n";
	char l6[] = "\"\",x";
	char l7[] = "\" padded \" ,\ttab";
	char l8[] = "";
	(void)state;

	assert_int_equal(er_csv_split(l1, f, 8), 3);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b,c");
	assert_string_equal(f[2], "d");

	assert_int_equal(er_csv_split(l2, f, 8), 1);
	assert_string_equal(f[0], "a \"b\"");

	assert_int_equal(er_csv_split(l3, f, 8), 3);
	assert_string_equal(f[0], "x");
	assert_string_equal(f[1], "y z");
	assert_string_equal(f[2], "");

	assert_int_equal(er_csv_split(l4, f, 8), 3);
	assert_string_equal(f[0], "");
	assert_string_equal(f[1], "");
	assert_string_equal(f[2], "");

	assert_int_equal(er_csv_split(l5, f, 8), 2);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b");

	assert_int_equal(er_csv_split(l6, f, 8), 2);
	assert_string_equal(f[0], "");
	assert_string_equal(f[1], "x");

	assert_int_equal(er_csv_split(l7, f, 8), 2);
	assert_string_equal(f[0], " padded ");
	assert_string_equal(f[1], "tab");

	assert_int_equal(er_csv_split(l8, f, 8), 0);
}

static void test_csv_split_errors(void **state)
{
	char *f[4];
	char u1[] = "a,\"unterminated";
	char u2[] = "\"ab\"\"";
	char t1[] = "\"q\" x,y";
	char m1[] = "a,b,c";
	char m2[] = "a,b";
	char m3[] = "a,b,";
	(void)state;

	assert_int_equal(er_csv_split(u1, f, 4), ER_EINVAL);
	assert_int_equal(er_csv_split(u2, f, 4), ER_EINVAL); /* "" is an escaped quote, still open */
	assert_int_equal(er_csv_split(t1, f, 4), ER_EINVAL); /* text after the closing quote */
	assert_int_equal(er_csv_split(m1, f, 2), ER_EINVAL);
	assert_int_equal(er_csv_split(m2, f, 2), 2);
	assert_int_equal(er_csv_split(m3, f, 2), ER_EINVAL); /* the trailing empty field is a third */
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(er_strerror(ER_OK), "success");
	assert_string_equal(er_strerror(ER_ECOLLIDE), "XXH3 key collision");
	assert_string_equal(er_strerror(12345), "unknown error");
	/* keys are XXH3-64 of the code bytes; the length counts, not a NUL */
	assert_true(er_key("S01", 3) == er_key("S01:pm25", 3));
	assert_true(er_key("S01", 3) != er_key("S02", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_fx_parse_exact),
		cmocka_unit_test(test_fx_parse_errors),
		cmocka_unit_test(test_fx_format),
		cmocka_unit_test(test_fx_format_extremes),
		cmocka_unit_test(test_fx_from_double),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_parse_errors),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_offset_parse),
		cmocka_unit_test(test_days_civil_known),
		cmocka_unit_test(test_days_civil_walk),
		cmocka_unit_test(test_bucket_cases),
		cmocka_unit_test(test_bucket_invariants),
		cmocka_unit_test(test_bucket_chains),
		cmocka_unit_test(test_res_names),
		cmocka_unit_test(test_csv_split),
		cmocka_unit_test(test_csv_split_errors),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
