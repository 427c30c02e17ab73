/* test_aqi.c: aggregate/aqi.c, the AQI under HJ 633-2012 and HJ 633-2026
 * (DOMAIN.md 7). The shipped conf/aqi must hold exactly the DOMAIN.md 7
 * breakpoints (typed again below from DOMAIN.md, never read back from the
 * code); every DOMAIN.md test vector holds; IAQIs are exact (no double:
 * cases where ceil() on a double is off by one are included); 2026 rounds
 * concentrations half to even first; the special rules, the 2026 NA rule,
 * primary pollutants and categories behave as DOMAIN.md says; the rule set
 * changes at local midnight of 2026-03-01; every load error names its
 * file and line. Expected values are computed by hand, with the arithmetic
 * in the comments: IAQI = IL + (IH - IL)(C - BL)/(BH - BL), rounded up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "er.h"
#include "aqi.h"

#define MU     1000000LL  /* micro-units per ug/m3 (or mg/m3) */
#define CST    (8 * 3600) /* China Standard Time, +08:00 */
#define ERRLEN 8192
#define NLEV   8 /* DOMAIN.md 7 rows: IAQI 0 .. 500 */
#define BIT(c) (1u << (c))

/* ---- the DOMAIN.md 7 tables, typed by hand (integers: every breakpoint
 * there is a whole ug/m3 or mg/m3); -1 = "-" (undefined) ---- */

static const int LEVEL[NLEV] = {0, 50, 100, 150, 200, 300, 400, 500};

/* One column a line, as DOMAIN.md lists them. */
/* clang-format off */
static const int BP12[AQI_NCOL][NLEV] = {
    [AQI_SO2_24H] = {0, 50, 150, 475, 800, 1600, 2100, 2620},
    [AQI_SO2_1H] = {0, 150, 500, 650, 800, -1, -1, -1},
    [AQI_NO2_24H] = {0, 40, 80, 180, 280, 565, 750, 940},
    [AQI_NO2_1H] = {0, 100, 200, 700, 1200, 2340, 3090, 3840},
    [AQI_PM10_24H] = {0, 50, 150, 250, 350, 420, 500, 600},
    [AQI_CO_24H] = {0, 2, 4, 14, 24, 36, 48, 60},
    [AQI_CO_1H] = {0, 5, 10, 35, 60, 90, 120, 150},
    [AQI_O3_1H] = {0, 160, 200, 300, 400, 800, 1000, 1200},
    [AQI_O3_8H] = {0, 100, 160, 215, 265, 800, -1, -1},
    [AQI_PM25_24H] = {0, 35, 75, 115, 150, 250, 350, 500},
};

/* DOMAIN.md 7: 2026 is identical except PM10 24h at IAQI 100 = 120 and
 * PM2.5 24h at IAQI 100 = 60. */
static const int BP26[AQI_NCOL][NLEV] = {
    [AQI_SO2_24H] = {0, 50, 150, 475, 800, 1600, 2100, 2620},
    [AQI_SO2_1H] = {0, 150, 500, 650, 800, -1, -1, -1},
    [AQI_NO2_24H] = {0, 40, 80, 180, 280, 565, 750, 940},
    [AQI_NO2_1H] = {0, 100, 200, 700, 1200, 2340, 3090, 3840},
    [AQI_PM10_24H] = {0, 50, 120, 250, 350, 420, 500, 600},
    [AQI_CO_24H] = {0, 2, 4, 14, 24, 36, 48, 60},
    [AQI_CO_1H] = {0, 5, 10, 35, 60, 90, 120, 150},
    [AQI_O3_1H] = {0, 160, 200, 300, 400, 800, 1000, 1200},
    [AQI_O3_8H] = {0, 100, 160, 215, 265, 800, -1, -1},
    [AQI_PM25_24H] = {0, 35, 60, 115, 150, 250, 350, 500},
};
/* clang-format on */

/* ---- helpers ---- */

#define MAX_DIRS 64 /* temporary directories per run; the tests make a few dozen */
static char *dirs[MAX_DIRS];
static int ndirs;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dirs(void)
{
	for (int i = ndirs; i > 0; i--) {
		nftw(dirs[i - 1], rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dirs[i - 1]);
	}
	ndirs = 0;
}

/* A fresh empty directory under $TMPDIR (or /tmp), removed at exit. */
static const char *tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = NULL;

	if (base == NULL || base[0] == 0)
		base = "/tmp";
	assert_true(ndirs < MAX_DIRS);
	assert_true(asprintf(&d, "%s/ecoroll-aqi.XXXXXX", base) > 0);
	if (mkdtemp(d) == NULL) {
		free(d);
		fail_msg("mkdtemp under %s failed", base);
	}
	dirs[ndirs++] = d;
	return d;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static const char *conf_dir(void)
{
	static char buf[4096];
	const char *s = getenv("ECOROLL_SRC"); /* set by tests/run.sh */

	snprintf(buf, sizeof buf, "%s/conf/aqi", s && s[0] ? s : ".");
	return buf;
}

/* UTC seconds of an ISO 8601 instant with its zone. */
static int64_t at(const char *iso)
{
	int64_t t;
	assert_int_equal(er_time_parse(iso, strlen(iso), 0, &t), 0);
	return t;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("'%s' not found in:\n%s", needle, hay ? hay : "(null)");
}

static int count_lines(const char *s)
{
	int n = s[0] != 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The shipped tables, loaded once by the group setup. */
static agg_aqi *shipped;
static const agg_aqi_rules *R12, *R26;

static int setup(void **state)
{
	char err[ERRLEN];
	(void)state;
	int rc = agg_aqi_load(conf_dir(), &shipped, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "loading %s: %s\n%s\n", conf_dir(), er_strerror(rc), err);
		return -1;
	}
	R12 = agg_aqi_rules_for(shipped, at("2025-06-01T00:00:00+08:00"), CST);
	R26 = agg_aqi_rules_for(shipped, at("2026-06-01T00:00:00+08:00"), CST);
	return R12 != NULL && R26 != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	agg_aqi_free(shipped);
	remove_dirs();
	return 0;
}

/* The IAQI of num/den micro-units; fails the test on an error. */
static int iaqi_r(const agg_aqi_rules *r, int col, int64_t num, int64_t den)
{
	int v = -7;
	int rc = agg_iaqi(r, col, (agg_conc){num, den}, &v);
	if (rc != 0)
		fail_msg("%s %s at %lld/%lld: %s", agg_aqi_rules_name(r), agg_aqi_col_name(col), (long long)num,
			 (long long)den, er_strerror(rc));
	return v;
}

static int iaqi(const agg_aqi_rules *r, int col, int64_t micro)
{
	return iaqi_r(r, col, micro, 1);
}

static void expect_iaqi(const agg_aqi_rules *r, int col, int64_t micro, int want, const char *why)
{
	int got = iaqi(r, col, micro);
	if (got != want)
		fail_msg("%s %s at %lld micro (%s): IAQI %d, expected %d", agg_aqi_rules_name(r), agg_aqi_col_name(col),
			 (long long)micro, why, got, want);
}

static void expect_enoent(const agg_aqi_rules *r, int col, int64_t micro)
{
	int v = -7;
	int rc = agg_iaqi(r, col, (agg_conc){micro, 1}, &v);
	if (rc != ER_ENOENT || v != -7)
		fail_msg("%s %s at %lld micro: rc %d IAQI %d, expected ER_ENOENT and untouched", agg_aqi_rules_name(r),
			 agg_aqi_col_name(col), (long long)micro, rc, v);
}

static void set(agg_aqi_input *in, int col, int64_t micro)
{
	in->have[col] = true;
	in->c[col] = (agg_conc){micro, 1};
}

static agg_aqi_result compute(const agg_aqi_rules *r, int kind, const agg_aqi_input *in)
{
	agg_aqi_result res;
	memset(&res, 0x5a, sizeof res); /* garbage: every field must be written */
	int rc = agg_aqi_compute(r, kind, in, &res);
	if (rc != 0)
		fail_msg("agg_aqi_compute: %s", er_strerror(rc));
	assert_ptr_equal(res.rules, r);
	return res;
}

/* ---- shipped tables and DOMAIN.md 7 vectors ---- */

static void test_names_and_columns(void **state)
{
	(void)state;
	static const char *const names[AQI_NCOL] = {"so2_24h", "so2_1h", "no2_24h", "no2_1h", "pm10_24h",
						    "co_24h",  "co_1h",  "o3_1h",   "o3_8h",  "pm25_24h"};

	assert_string_equal(agg_aqi_rules_name(R12), "HJ 633-2012");
	assert_string_equal(agg_aqi_rules_name(R26), "HJ 633-2026");
	assert_null(agg_aqi_rules_name(NULL));
	for (int c = 0; c < AQI_NCOL; c++)
		assert_string_equal(agg_aqi_col_name(c), names[c]);
	assert_null(agg_aqi_col_name(-1));
	assert_null(agg_aqi_col_name(AQI_NCOL));
}

static void test_domain_vectors(void **state)
{
	(void)state;
	/* PM2.5 24h 35: first segment 0..35 -> 0..50: 50 x 35/35 = 50, both. */
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 35 * MU), 50);
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 35 * MU), 50);
	/* 35.5, 2012: 50 + 50 x 0.5/40 = 50.625 -> 51 */
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 35500000), 51);
	/* 50, 2012: 50 + 50 x 15/40 = 68.75 -> 69; 2026: 50 + 50 x 15/25 = 80 */
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 50 * MU), 69);
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 50 * MU), 80);
	/* 60, 2012: 50 + 50 x 25/40 = 81.25 -> 82; 2026: a breakpoint, 100 */
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 60 * MU), 82);
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 60 * MU), 100);
	/* 75, 2012: 50 + 50 x 40/40 = 100 exactly (not 101);
	 * 2026: 100 + 50 x 15/55 = 113.6 -> 114 */
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 75 * MU), 100);
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 75 * MU), 114);
	/* PM10 100, 2012: 50 + 50 x 50/100 = 75; 2026: 50 + 50 x 50/70 = 85.7 -> 86 */
	assert_int_equal(iaqi(R12, AQI_PM10_24H, 100 * MU), 75);
	assert_int_equal(iaqi(R26, AQI_PM10_24H, 100 * MU), 86);
	/* PM10 150, 2012: a breakpoint, 100; 2026: 100 + 50 x 30/130 = 111.5 -> 112 */
	assert_int_equal(iaqi(R12, AQI_PM10_24H, 150 * MU), 100);
	assert_int_equal(iaqi(R26, AQI_PM10_24H, 150 * MU), 112);
	/* O3 8h 170: 100 + 50 x 10/55 = 109.1 -> 110, both */
	assert_int_equal(iaqi(R12, AQI_O3_8H, 170 * MU), 110);
	assert_int_equal(iaqi(R26, AQI_O3_8H, 170 * MU), 110);
	/* CO 24h 1.3: 50 x 1.3/2 = 32.5 -> 33, both (1.3 is already 0.1 mg/m3) */
	assert_int_equal(iaqi(R12, AQI_CO_24H, 1300000), 33);
	assert_int_equal(iaqi(R26, AQI_CO_24H, 1300000), 33);
}

/* Every breakpoint of every column, both rule sets: at the breakpoint the
 * IAQI is the row's level; 2012 one micro-unit below is still the level
 * (rounded up) and one above is level + 1 (rounded up from a hair above);
 * 2026 rounds both back to the breakpoint first, so both give the level. */
static void check_columns(const agg_aqi_rules *r, const int bp[AQI_NCOL][NLEV], bool rounds)
{
	for (int c = 0; c < AQI_NCOL; c++) {
		int top = NLEV - 1;
		while (bp[c][top] < 0)
			top--;
		expect_iaqi(r, c, 0, 0, "zero");
		expect_iaqi(r, c, 1, rounds ? 0 : 1, "one micro-unit");
		for (int j = 1; j <= top; j++) {
			int64_t b = bp[c][j] * MU;
			expect_iaqi(r, c, b, LEVEL[j], "at the breakpoint");
			expect_iaqi(r, c, b - 1, LEVEL[j], "one micro-unit below");
			if (j < top)
				expect_iaqi(r, c, b + 1, rounds ? LEVEL[j] : LEVEL[j] + 1, "one micro-unit above");
		}
		int64_t b = bp[c][top] * MU;
		if (top == NLEV - 1) {
			/* DOMAIN.md 7: above the top breakpoint, 500 */
			expect_iaqi(r, c, b + 1, 500, "above the top");
			expect_iaqi(r, c, b * 10, 500, "ten times the top");
			expect_iaqi(r, c, INT64_MAX, 500, "the largest concentration");
		} else if (rounds) {
			/* 800.000001 rounds to 800: defined; 801 is not */
			expect_iaqi(r, c, b + 1, LEVEL[top], "rounds back to the last breakpoint");
			expect_enoent(r, c, b + MU);
		} else {
			expect_enoent(r, c, b + 1);
			expect_enoent(r, c, INT64_MAX);
		}
	}
}

static void test_breakpoints_2012(void **state)
{
	(void)state;
	check_columns(R12, BP12, false);
}

static void test_breakpoints_2026(void **state)
{
	(void)state;
	check_columns(R26, BP26, true);
	/* the two cells that differ from 2012 */
	assert_int_equal(iaqi(R26, AQI_PM10_24H, 120 * MU), 100);
	assert_int_equal(iaqi(R12, AQI_PM10_24H, 120 * MU), 85); /* 50 + 50 x 70/100 = 85 */
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 60 * MU), 100);
}

/* One value inside a segment of each column (2012), so that a column
 * holding another's breakpoints (the wrong SO2 24h column of some open
 * implementations, i.e. the 1h values) is caught away from the 0 row. */
static void test_interior_values(void **state)
{
	(void)state;
	static const struct {
		int col;
		int64_t micro;
		int want;
	} v[] = {
	    {AQI_SO2_24H, 100 * MU, 75},   /* 50 + 50 x 50/100 = 75 (the 1h column would give 34) */
	    {AQI_SO2_24H, 200 * MU, 108},  /* 100 + 50 x 50/325 = 107.7 -> 108 */
	    {AQI_SO2_24H, 1000 * MU, 225}, /* 200 + 100 x 200/800 = 225 */
	    {AQI_SO2_1H, 300 * MU, 72},    /* 50 + 50 x 150/350 = 71.4 -> 72 */
	    {AQI_SO2_1H, 700 * MU, 167},   /* 150 + 50 x 50/150 = 166.7 -> 167 */
	    {AQI_NO2_24H, 60 * MU, 75},    /* 50 + 50 x 20/40 = 75 */
	    {AQI_NO2_24H, 400 * MU, 243},  /* 200 + 100 x 120/285 = 242.1 -> 243 */
	    {AQI_NO2_1H, 150 * MU, 75},    /* 50 + 50 x 50/100 = 75 */
	    {AQI_NO2_1H, 3000 * MU, 388},  /* 300 + 100 x 660/750 = 388 */
	    {AQI_PM10_24H, 550 * MU, 450}, /* 400 + 100 x 50/100 = 450 */
	    {AQI_CO_24H, 3 * MU, 75},      /* 50 + 50 x 1/2 = 75 */
	    {AQI_CO_24H, 50 * MU, 417},    /* 400 + 100 x 2/12 = 416.7 -> 417 */
	    {AQI_CO_1H, 7500000, 75},      /* 50 + 50 x 2.5/5 = 75 */
	    {AQI_CO_1H, 100 * MU, 334},    /* 300 + 100 x 10/30 = 333.3 -> 334 */
	    {AQI_O3_1H, 180 * MU, 75},     /* 50 + 50 x 20/40 = 75 */
	    {AQI_O3_1H, 1100 * MU, 450},   /* 400 + 100 x 100/200 = 450 */
	    {AQI_O3_8H, 130 * MU, 75},     /* 50 + 50 x 30/60 = 75 */
	    {AQI_O3_8H, 240 * MU, 175},    /* 150 + 50 x 25/50 = 175 */
	    {AQI_PM25_24H, 300 * MU, 350}, /* 300 + 100 x 50/100 = 350 */
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		expect_iaqi(R12, v[i].col, v[i].micro, v[i].want, "interior");
}

/* Values where (IH - IL)/(BH - BL) x (C - BL) + IL is an exact integer but
 * the same expression in doubles lands a hair above it, so ceil() of the
 * double is one too high (evaluated in doubles they give 56, 204 and
 * 405). */
static void test_exact_not_double(void **state)
{
	(void)state;
	/* CO 24h 2.2: 50 + 50/2 x 0.2 = 55 exactly */
	assert_int_equal(iaqi(R12, AQI_CO_24H, 2200000), 55);
	assert_int_equal(iaqi(R26, AQI_CO_24H, 2200000), 55);
	/* PM10 352.1: 200 + 100/70 x 2.1 = 203 exactly */
	assert_int_equal(iaqi(R12, AQI_PM10_24H, 352100000), 203);
	/* SO2 24h 2120.8: 400 + 100/520 x 20.8 = 404 exactly */
	assert_int_equal(iaqi(R12, AQI_SO2_24H, 2120800000), 404);
}

/* 2026 (DOMAIN.md 7): concentrations round half to even (GB/T 8170) to
 * integer ug/m3, CO to 0.1 mg/m3, before the IAQI. */
static void test_2026_rounding(void **state)
{
	(void)state;
	/* PM2.5 34.5 -> 34 (even): 50 x 34/35 = 48.6 -> 49; 2012 keeps 34.5:
	 * 50 x 34.5/35 = 49.3 -> 50 */
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 34500000), 49);
	assert_int_equal(iaqi(R12, AQI_PM25_24H, 34500000), 50);
	/* 34.500001 is above half: 35 -> 50 */
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 34500001), 50);
	/* 35.5 -> 36 (even): 50 + 50 x 1/25 = 52 */
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 35500000), 52);
	/* 36.5 -> 36 (even): 52; 37.5 -> 38: 50 + 50 x 3/25 = 56 */
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 36500000), 52);
	assert_int_equal(iaqi(R26, AQI_PM25_24H, 37500000), 56);
	/* CO 1.25 -> 1.2 (even): 50 x 1.2/2 = 30; 2012: 31.25 -> 32 */
	assert_int_equal(iaqi(R26, AQI_CO_24H, 1250000), 30);
	assert_int_equal(iaqi(R12, AQI_CO_24H, 1250000), 32);
	/* CO 1.35 -> 1.4: 35; 2012: 33.75 -> 34 */
	assert_int_equal(iaqi(R26, AQI_CO_24H, 1350000), 35);
	assert_int_equal(iaqi(R12, AQI_CO_24H, 1350000), 34);
	/* CO 2.05 -> 2.0 (even): 50; 2012: 50 + 50 x 0.05/2 = 51.25 -> 52 */
	assert_int_equal(iaqi(R26, AQI_CO_24H, 2050000), 50);
	assert_int_equal(iaqi(R12, AQI_CO_24H, 2050000), 52);
	/* CO 0.05 -> 0.0: 0; 0.15 -> 0.2: 5; 2012 0.05: 1.25 -> 2 */
	assert_int_equal(iaqi(R26, AQI_CO_24H, 50000), 0);
	assert_int_equal(iaqi(R26, AQI_CO_24H, 150000), 5);
	assert_int_equal(iaqi(R12, AQI_CO_24H, 50000), 2);
	/* CO 1h rounds too: 5.05 -> 5.0 (even) = 50; 5.15 -> 5.2: 50 + 50 x 0.2/5 = 52 */
	assert_int_equal(iaqi(R26, AQI_CO_1H, 5050000), 50);
	assert_int_equal(iaqi(R26, AQI_CO_1H, 5150000), 52);
	/* A ug column rounds to whole ug: NO2 24h 40.55 -> 41: 50 + 50 x 1/40 =
	 * 51.25 -> 52 (rounded to 40.6 it would be 50.75 -> 51; 2012 keeps
	 * 40.55: 50.69 -> 51) */
	assert_int_equal(iaqi(R26, AQI_NO2_24H, 40550000), 52);
	assert_int_equal(iaqi(R12, AQI_NO2_24H, 40550000), 51);
	/* The undefined cells after rounding: SO2 1h 800.5 -> 800 (even) = 200,
	 * 801.5 -> 802: undefined; 2012 800.5 is undefined as it stands. */
	assert_int_equal(iaqi(R26, AQI_SO2_1H, 800500000), 200);
	expect_enoent(R26, AQI_SO2_1H, 801500000);
	expect_enoent(R12, AQI_SO2_1H, 800500000);
	/* O3 8h 800.4 -> 800 = 300; 800.6 -> 801: undefined */
	assert_int_equal(iaqi(R26, AQI_O3_8H, 800400000), 300);
	expect_enoent(R26, AQI_O3_8H, 800600000);
}

/* A mean is an exact ratio: it is never rounded to micro-units first. */
static void test_ratio_means(void **state)
{
	(void)state;
	/* 24 hours summing to 1800 ug: mean exactly 75 -> 100 (2012) */
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 1800 * MU, 24), 100);
	/* one micro-unit more: mean 75 + 1/24 micro-unit, above the
	 * breakpoint by less than a micro-unit -> 101; 2026 rounds it to
	 * 75 -> 114 */
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 1800 * MU + 1, 24), 101);
	assert_int_equal(iaqi_r(R26, AQI_PM25_24H, 1800 * MU + 1, 24), 114);
	/* 35 + 35 + 36 = 106 over 3 = 35.33: 2012 50 + 50 x (1/3)/40 = 50.4 ->
	 * 51; 2026 rounds to 35 -> 50 */
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 106 * MU, 3), 51);
	assert_int_equal(iaqi_r(R26, AQI_PM25_24H, 106 * MU, 3), 50);
	/* 35 + 36 over 2 = 35.5 exactly: 2026 -> 36 -> 52; one micro-unit
	 * less in the sum: 35.4999995 -> 35 -> 50 */
	assert_int_equal(iaqi_r(R26, AQI_PM25_24H, 71 * MU, 2), 52);
	assert_int_equal(iaqi_r(R26, AQI_PM25_24H, 71 * MU - 1, 2), 50);
	/* the same value in other terms: 75 = 150/2 = 525/7 */
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 150 * MU, 2), 100);
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 525 * MU, 7), 100);
	/* large terms: a mean of a million values of 75; and INT64_MAX /
	 * INT64_MAX = 1 micro-unit: 2012 50 x 0.000001/35 -> 1, 2026 -> 0 */
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, 75 * MU * 1000000, 1000000), 100);
	assert_int_equal(iaqi_r(R12, AQI_PM25_24H, INT64_MAX, INT64_MAX), 1);
	assert_int_equal(iaqi_r(R26, AQI_PM25_24H, INT64_MAX, INT64_MAX), 0);
	/* INT64_MAX / 2 micro-units is far above the top: 500 */
	assert_int_equal(iaqi_r(R26, AQI_CO_24H, INT64_MAX, 2), 500);
}

static void test_iaqi_arguments(void **state)
{
	(void)state;
	int v = -7;

	assert_int_equal(agg_iaqi(R12, AQI_PM25_24H, (agg_conc){-1, 1}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(R26, AQI_PM25_24H, (agg_conc){-1, 1}, &v), ER_EINVAL); /* not rounded to 0 */
	assert_int_equal(agg_iaqi(R12, AQI_PM25_24H, (agg_conc){35, 0}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(R12, AQI_PM25_24H, (agg_conc){-35, -1}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(R12, -1, (agg_conc){35, 1}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(R12, AQI_NCOL, (agg_conc){35, 1}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(NULL, AQI_PM25_24H, (agg_conc){35, 1}, &v), ER_EINVAL);
	assert_int_equal(agg_iaqi(R12, AQI_PM25_24H, (agg_conc){35, 1}, NULL), ER_EINVAL);
	assert_int_equal(v, -7);
}

/* ---- AQI ---- */

/* 2012 hourly: the 1h columns, PM on the 24h breakpoints, and O3 8h. */
static void test_hourly_columns(void **state)
{
	(void)state;
	agg_aqi_input in = {0};

	set(&in, AQI_SO2_1H, 10 * MU);   /* 50 x 10/150 = 3.3 -> 4 */
	set(&in, AQI_NO2_1H, 150 * MU);  /* 75 */
	set(&in, AQI_CO_1H, 1 * MU);     /* 50 x 1/5 = 10 */
	set(&in, AQI_O3_1H, 150 * MU);   /* 50 x 150/160 = 46.9 -> 47 */
	set(&in, AQI_O3_8H, 170 * MU);   /* 110 */
	set(&in, AQI_PM10_24H, 50 * MU); /* the hour's PM10: 50 */
	set(&in, AQI_PM25_24H, 35 * MU); /* 50 */
	set(&in, AQI_SO2_24H, 500 * MU); /* not an hourly column (SO2 1h <= 800): ignored */
	set(&in, AQI_NO2_24H, 500 * MU); /* ignored */
	agg_aqi_result res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 110);
	assert_false(res.na);
	assert_int_equal(res.primary, BIT(AQI_O3_8H));
	assert_int_equal(res.iaqi[AQI_SO2_1H], 4);
	assert_int_equal(res.iaqi[AQI_NO2_1H], 75);
	assert_int_equal(res.iaqi[AQI_CO_1H], 10);
	assert_int_equal(res.iaqi[AQI_O3_1H], 47);
	assert_int_equal(res.iaqi[AQI_O3_8H], 110);
	assert_int_equal(res.iaqi[AQI_PM10_24H], 50);
	assert_int_equal(res.iaqi[AQI_PM25_24H], 50);
	assert_int_equal(res.iaqi[AQI_SO2_24H], -1);
	assert_int_equal(res.iaqi[AQI_NO2_24H], -1);
	assert_int_equal(res.iaqi[AQI_CO_24H], -1);
	assert_int_equal(res.category, 3);
	assert_string_equal(res.category_name, "light (轻度污染)");
	assert_string_equal(res.colour, "255,126,0");

	/* 2026 hourly has no O3 8h: the same hour is AQI 75 (NO2 1h) */
	res = compute(R26, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 75);
	assert_int_equal(res.iaqi[AQI_O3_8H], -1);
	assert_int_equal(res.primary, BIT(AQI_NO2_1H));
	assert_int_equal(res.category, 2);
	assert_ptr_equal(res.rules, R26);
}

/* Daily: 2012 the five means, O3 max 1h and MDA8; 2026 without O3 1h. */
static void test_daily_columns(void **state)
{
	(void)state;
	agg_aqi_input in = {0};

	set(&in, AQI_SO2_24H, 100 * MU);  /* 75 */
	set(&in, AQI_NO2_24H, 60 * MU);   /* 75 */
	set(&in, AQI_PM10_24H, 100 * MU); /* 2012 75, 2026 86 */
	set(&in, AQI_CO_24H, 3 * MU);     /* 75 */
	set(&in, AQI_O3_1H, 250 * MU);    /* 100 + 50 x 50/100 = 125 */
	set(&in, AQI_O3_8H, 130 * MU);    /* 75 */
	set(&in, AQI_PM25_24H, 50 * MU);  /* 2012 69, 2026 80 */
	set(&in, AQI_SO2_1H, 700 * MU);   /* hourly only: ignored */
	agg_aqi_result res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 125);
	assert_int_equal(res.primary, BIT(AQI_O3_1H));
	assert_int_equal(res.iaqi[AQI_PM10_24H], 75);
	assert_int_equal(res.iaqi[AQI_PM25_24H], 69);
	assert_int_equal(res.iaqi[AQI_SO2_1H], -1);

	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 86); /* O3 1h is not a 2026 daily column */
	assert_int_equal(res.iaqi[AQI_O3_1H], -1);
	assert_int_equal(res.iaqi[AQI_PM25_24H], 80);
	assert_int_equal(res.primary, BIT(AQI_PM10_24H));
	assert_false(res.na);
}

static void test_special_rules_2012(void **state)
{
	(void)state;
	agg_aqi_input in = {0};

	/* SO2 1h 801 > 800: the SO2 24h IAQI stands in (Table 1 note):
	 * 200 -> 108 */
	set(&in, AQI_SO2_1H, 801 * MU);
	set(&in, AQI_SO2_24H, 200 * MU);
	set(&in, AQI_NO2_1H, 150 * MU); /* 75 */
	agg_aqi_result res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 108);
	assert_int_equal(res.iaqi[AQI_SO2_1H], -1);
	assert_int_equal(res.iaqi[AQI_SO2_24H], 108);
	assert_int_equal(res.primary, BIT(AQI_SO2_24H));
	/* SO2 1h exactly 800 is in the table: 200, and the 24h value is not used */
	set(&in, AQI_SO2_1H, 800 * MU);
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 200);
	assert_int_equal(res.iaqi[AQI_SO2_24H], -1);
	assert_int_equal(res.primary, BIT(AQI_SO2_1H));
	/* without the 24h value the SO2 term is dropped: AQI 75 from NO2 */
	set(&in, AQI_SO2_1H, 801 * MU);
	in.have[AQI_SO2_24H] = false;
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 75);
	assert_false(res.na);
	assert_int_equal(res.iaqi[AQI_SO2_1H], -1);
	assert_int_equal(res.iaqi[AQI_SO2_24H], -1);
	assert_int_equal(res.primary, BIT(AQI_NO2_1H));

	/* O3 8h 900 > 800 (daily): the O3 1h IAQI is reported; O3 1h 900:
	 * 300 + 100 x 100/200 = 350 */
	memset(&in, 0, sizeof in);
	set(&in, AQI_O3_8H, 900 * MU);
	set(&in, AQI_O3_1H, 900 * MU);
	set(&in, AQI_PM25_24H, 35 * MU);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 350);
	assert_int_equal(res.iaqi[AQI_O3_8H], -1);
	assert_int_equal(res.iaqi[AQI_O3_1H], 350);
	assert_int_equal(res.primary, BIT(AQI_O3_1H));
	assert_int_equal(res.category, 6);
	assert_string_equal(res.colour, "126,0,35");
	/* hourly, O3 8h 801 with O3 1h 150 (47): the O3 term is 47, and the
	 * AQI 50 from PM2.5 */
	set(&in, AQI_O3_8H, 801 * MU);
	set(&in, AQI_O3_1H, 150 * MU);
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 50);
	assert_int_equal(res.iaqi[AQI_O3_8H], -1);
	assert_int_equal(res.iaqi[AQI_O3_1H], 47);
	/* without O3 1h the O3 term is dropped */
	in.have[AQI_O3_1H] = false;
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 50);
	assert_int_equal(res.iaqi[AQI_O3_8H], -1);
	assert_int_equal(res.iaqi[AQI_O3_1H], -1);
}

static void test_special_rules_2026(void **state)
{
	(void)state;
	agg_aqi_input in = {0};

	/* SO2 1h > 800 -> 200, whatever the SO2 24h value */
	set(&in, AQI_SO2_1H, 801 * MU);
	set(&in, AQI_SO2_24H, 10 * MU);
	set(&in, AQI_NO2_1H, 150 * MU);
	set(&in, AQI_CO_1H, 1 * MU);
	set(&in, AQI_O3_1H, 10 * MU);
	set(&in, AQI_PM10_24H, 10 * MU);
	set(&in, AQI_PM25_24H, 10 * MU);
	agg_aqi_result res = compute(R26, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 200);
	assert_int_equal(res.iaqi[AQI_SO2_1H], 200);
	assert_int_equal(res.iaqi[AQI_SO2_24H], -1);
	assert_int_equal(res.primary, BIT(AQI_SO2_1H));
	assert_int_equal(res.category, 4);
	assert_string_equal(res.category_name, "moderate (中度污染)");
	set(&in, AQI_SO2_1H, 5000 * MU);
	res = compute(R26, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 200);
	/* 2012 on the same hour: the SO2 24h value 10 -> 10; AQI 75 (NO2) */
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 75);
	assert_int_equal(res.iaqi[AQI_SO2_24H], 10);

	/* O3 8h > 800 -> 300 (daily) */
	memset(&in, 0, sizeof in);
	set(&in, AQI_SO2_24H, 10 * MU);
	set(&in, AQI_NO2_24H, 10 * MU);
	set(&in, AQI_PM10_24H, 10 * MU);
	set(&in, AQI_CO_24H, 1 * MU);
	set(&in, AQI_O3_8H, 801 * MU);
	set(&in, AQI_PM25_24H, 10 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 300);
	assert_int_equal(res.iaqi[AQI_O3_8H], 300);
	assert_int_equal(res.primary, BIT(AQI_O3_8H));
	assert_int_equal(res.category, 5);
	assert_string_equal(res.colour, "153,0,76");
	/* 2012 on the same day without O3 1h: the O3 term is dropped;
	 * SO2 10 -> 10, NO2 10 -> 13 (12.5), PM10 10, CO 25, PM2.5 15 (14.3) */
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 25);
	assert_int_equal(res.iaqi[AQI_O3_8H], -1);
	assert_int_equal(res.primary, 0);
}

static void test_categories(void **state)
{
	(void)state;
	static const struct {
		int aqi, cat;
		const char *name, *colour;
	} v[] = {
	    {0, 1, "excellent (优)", "0,228,0"},        {50, 1, "excellent (优)", "0,228,0"},
	    {51, 2, "good (良)", "255,255,0"},          {100, 2, "good (良)", "255,255,0"},
	    {101, 3, "light (轻度污染)", "255,126,0"},  {150, 3, "light (轻度污染)", "255,126,0"},
	    {151, 4, "moderate (中度污染)", "255,0,0"}, {200, 4, "moderate (中度污染)", "255,0,0"},
	    {201, 5, "heavy (重度污染)", "153,0,76"},   {300, 5, "heavy (重度污染)", "153,0,76"},
	    {301, 6, "severe (严重污染)", "126,0,35"},  {500, 6, "severe (严重污染)", "126,0,35"},
	};
	const agg_aqi_rules *sets[2] = {R12, R26};

	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
			const char *name = NULL, *colour = NULL;
			int cat = agg_aqi_category(sets[s], v[i].aqi, &name, &colour);
			if (cat != v[i].cat || name == NULL || strcmp(name, v[i].name) != 0 || colour == NULL ||
			    strcmp(colour, v[i].colour) != 0)
				fail_msg("%s AQI %d: category %d '%s' '%s', expected %d '%s' '%s'",
					 agg_aqi_rules_name(sets[s]), v[i].aqi, cat, name ? name : "",
					 colour ? colour : "", v[i].cat, v[i].name, v[i].colour);
		}
		assert_int_equal(agg_aqi_category(sets[s], -1, NULL, NULL), ER_EINVAL);
		assert_int_equal(agg_aqi_category(sets[s], 100, NULL, NULL), 2); /* NULL outs are fine */
	}
	assert_int_equal(agg_aqi_category(NULL, 50, NULL, NULL), ER_EINVAL);

	/* through the AQI: PM2.5 35 is AQI 50, excellent; 35.5 is 51, good */
	agg_aqi_input in = {0};
	set(&in, AQI_PM25_24H, 35 * MU);
	agg_aqi_result res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 50);
	assert_int_equal(res.category, 1);
	assert_string_equal(res.category_name, "excellent (优)");
	assert_string_equal(res.colour, "0,228,0");
	set(&in, AQI_PM25_24H, 35500000);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 51);
	assert_int_equal(res.category, 2);
	assert_string_equal(res.category_name, "good (良)");
	/* 2026: an AQI of 0 (every hourly value rounds to 0: 0.4 ug/m3 -> 0,
	 * CO 0.04 mg/m3 -> 0.0) is still excellent, though 2026 writes 1-50 */
	memset(&in, 0, sizeof in);
	set(&in, AQI_SO2_1H, 400000);
	set(&in, AQI_NO2_1H, 400000);
	set(&in, AQI_CO_1H, 40000);
	set(&in, AQI_O3_1H, 400000);
	set(&in, AQI_PM10_24H, 400000);
	set(&in, AQI_PM25_24H, 400000);
	res = compute(R26, AGG_AQI_HOURLY, &in);
	assert_false(res.na);
	assert_int_equal(res.aqi, 0);
	assert_int_equal(res.primary, 0);
	assert_int_equal(res.category, 1);
	assert_string_equal(res.category_name, "excellent (优)");
}

static void test_primary(void **state)
{
	(void)state;
	agg_aqi_input in = {0};

	/* AQI 50: no primary pollutant, even though PM2.5 is the max */
	set(&in, AQI_PM25_24H, 35 * MU); /* 50 */
	set(&in, AQI_PM10_24H, 40 * MU); /* 40 */
	agg_aqi_result res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 50);
	assert_int_equal(res.primary, 0);
	/* a tie at 50: still none */
	set(&in, AQI_PM10_24H, 50 * MU);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 50);
	assert_int_equal(res.primary, 0);
	/* AQI 51: PM2.5 */
	set(&in, AQI_PM25_24H, 35500000);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 51);
	assert_int_equal(res.primary, BIT(AQI_PM25_24H));
	/* a tie at 100: PM10 150 and PM2.5 75 (2012), both listed */
	set(&in, AQI_PM10_24H, 150 * MU);
	set(&in, AQI_PM25_24H, 75 * MU);
	set(&in, AQI_NO2_24H, 80 * MU); /* 100 too: three-way */
	set(&in, AQI_CO_24H, 2 * MU);   /* 50 */
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 100);
	assert_int_equal(res.primary, BIT(AQI_PM10_24H) | BIT(AQI_PM25_24H) | BIT(AQI_NO2_24H));
	/* 2026: PM10 120 and PM2.5 60 are the 100 breakpoints; NO2 80 too */
	set(&in, AQI_PM10_24H, 120 * MU);
	set(&in, AQI_PM25_24H, 60 * MU);
	set(&in, AQI_SO2_24H, 1 * MU);
	set(&in, AQI_O3_8H, 1 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 100);
	assert_int_equal(res.primary, BIT(AQI_PM10_24H) | BIT(AQI_PM25_24H) | BIT(AQI_NO2_24H));
}

/* The five daily pollutants with NO2 24h at the given concentration and
 * PM2.5 missing; SO2 10 -> 10, PM10 50 -> 50, CO 1 -> 25, O3 8h 100 -> 50. */
static agg_aqi_input day_without_pm25(int64_t no2_micro)
{
	agg_aqi_input in = {0};
	set(&in, AQI_SO2_24H, 10 * MU);
	set(&in, AQI_NO2_24H, no2_micro);
	set(&in, AQI_PM10_24H, 50 * MU);
	set(&in, AQI_CO_24H, 1 * MU);
	set(&in, AQI_O3_8H, 100 * MU);
	return in;
}

static void test_na_rule(void **state)
{
	(void)state;
	/* NO2 24h 72: 50 + 50 x 32/40 = 90. 2026 with PM2.5 missing: NA */
	agg_aqi_input in = day_without_pm25(72 * MU);
	agg_aqi_result res = compute(R26, AGG_AQI_DAILY, &in);
	assert_true(res.na);
	assert_int_equal(res.aqi, -1);
	assert_int_equal(res.category, 0);
	assert_null(res.category_name);
	assert_null(res.colour);
	assert_int_equal(res.primary, 0);
	assert_int_equal(res.iaqi[AQI_NO2_24H], 90); /* the IAQIs computed are kept */
	assert_int_equal(res.iaqi[AQI_PM25_24H], -1);
	/* 2012: from what is present, 90 (O3 1h is missing too) */
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_false(res.na);
	assert_int_equal(res.aqi, 90);
	assert_int_equal(res.primary, BIT(AQI_NO2_24H));
	/* exactly 100 (NO2 80) is not above 100: NA */
	in = day_without_pm25(80 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_true(res.na);
	assert_int_equal(res.aqi, -1);
	/* NO2 120: 100 + 50 x 40/100 = 120 > 100: published */
	in = day_without_pm25(120 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_false(res.na);
	assert_int_equal(res.aqi, 120);
	assert_int_equal(res.primary, BIT(AQI_NO2_24H));
	assert_int_equal(res.category, 3);
	/* with PM2.5 present (10 -> 50 x 10/35 = 14.3 -> 15) 90 is published */
	in = day_without_pm25(72 * MU);
	set(&in, AQI_PM25_24H, 10 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_false(res.na);
	assert_int_equal(res.aqi, 90);
	assert_int_equal(res.iaqi[AQI_PM25_24H], 15);
	/* a column the kind does not use does not stand in for a missing
	 * one: 2026 daily with O3 1h but no O3 8h (MDA8) */
	in = day_without_pm25(72 * MU);
	set(&in, AQI_PM25_24H, 10 * MU);
	in.have[AQI_O3_8H] = false;
	set(&in, AQI_O3_1H, 100 * MU);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_true(res.na);
	/* nothing at all: NA under both */
	memset(&in, 0, sizeof in);
	res = compute(R12, AGG_AQI_HOURLY, &in);
	assert_true(res.na);
	assert_int_equal(res.aqi, -1);
	res = compute(R26, AGG_AQI_DAILY, &in);
	assert_true(res.na);
	/* only columns the kind does not use: NA as well */
	set(&in, AQI_SO2_1H, 100 * MU);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_true(res.na);
}

static void test_compute_arguments(void **state)
{
	(void)state;
	agg_aqi_input in = {0};
	agg_aqi_result res;

	set(&in, AQI_PM25_24H, 35 * MU);
	assert_int_equal(agg_aqi_compute(R12, 0, &in, &res), ER_EINVAL);
	assert_true(res.na);
	assert_int_equal(agg_aqi_compute(R12, 3, &in, &res), ER_EINVAL);
	assert_int_equal(agg_aqi_compute(NULL, AGG_AQI_DAILY, &in, &res), ER_EINVAL);
	assert_int_equal(agg_aqi_compute(R12, AGG_AQI_DAILY, NULL, &res), ER_EINVAL);
	assert_int_equal(agg_aqi_compute(R12, AGG_AQI_DAILY, &in, NULL), ER_EINVAL);
	/* a negative concentration in a used column refuses the whole AQI */
	set(&in, AQI_NO2_24H, -1);
	memset(&res, 0x5a, sizeof res);
	assert_int_equal(agg_aqi_compute(R12, AGG_AQI_DAILY, &in, &res), ER_EINVAL);
	assert_true(res.na);
	assert_int_equal(res.aqi, -1);
	assert_int_equal(res.iaqi[AQI_PM25_24H], -1);
	assert_ptr_equal(res.rules, R12);
	in.c[AQI_NO2_24H] = (agg_conc){40 * MU, 0}; /* den 0 */
	assert_int_equal(agg_aqi_compute(R12, AGG_AQI_DAILY, &in, &res), ER_EINVAL);
	/* in a column the kind does not use it is ignored */
	in.have[AQI_NO2_24H] = false;
	set(&in, AQI_NO2_1H, -1);
	res = compute(R12, AGG_AQI_DAILY, &in);
	assert_int_equal(res.aqi, 50);
	/* a negative SO2 24h is used when SO2 1h > 800 (2012 hourly) */
	memset(&in, 0, sizeof in);
	set(&in, AQI_SO2_1H, 900 * MU);
	set(&in, AQI_SO2_24H, -1);
	assert_int_equal(agg_aqi_compute(R12, AGG_AQI_HOURLY, &in, &res), ER_EINVAL);
}

/* DOMAIN.md 7: the rule set by the date of the data, 2026 from local
 * 2026-03-01; at +08:00 that is 2026-02-28T16:00:00Z. */
static void test_rule_set_switch(void **state)
{
	(void)state;
	int64_t t = at("2026-02-28T16:00:00Z");

	assert_ptr_equal(agg_aqi_rules_for(shipped, t, CST), R26);
	assert_ptr_equal(agg_aqi_rules_for(shipped, t - 1, CST), R12);
	/* at UTC the same instant is still 2026-02-28 */
	assert_ptr_equal(agg_aqi_rules_for(shipped, t, 0), R12);
	assert_ptr_equal(agg_aqi_rules_for(shipped, at("2026-03-01T00:00:00Z"), 0), R26);
	/* -05:00: local midnight is 05:00Z */
	assert_ptr_equal(agg_aqi_rules_for(shipped, at("2026-03-01T05:00:00Z"), -5 * 3600), R26);
	assert_ptr_equal(agg_aqi_rules_for(shipped, at("2026-03-01T04:59:59Z"), -5 * 3600), R12);
	/* far ahead: the open-ended 2026 row */
	assert_ptr_equal(agg_aqi_rules_for(shipped, at("2100-01-01T00:00:00Z"), CST), R26);
	/* before HJ 633-2012 was issued (2012-02-29): no rule set */
	assert_ptr_equal(agg_aqi_rules_for(shipped, at("2012-02-29T00:00:00+08:00"), CST), R12);
	assert_null(agg_aqi_rules_for(shipped, at("2012-02-28T23:59:59+08:00"), CST));
	/* bad arguments */
	assert_null(agg_aqi_rules_for(shipped, t, 86400));
	assert_null(agg_aqi_rules_for(shipped, t, -86400));
	assert_null(agg_aqi_rules_for(NULL, t, CST));
	/* the switch changes the IAQI of the same concentration: PM2.5 75 */
	assert_int_equal(iaqi(agg_aqi_rules_for(shipped, t - 1, CST), AQI_PM25_24H, 75 * MU), 100);
	assert_int_equal(iaqi(agg_aqi_rules_for(shipped, t, CST), AQI_PM25_24H, 75 * MU), 114);
}

/* ---- loading ---- */

/* A small valid table (the 2012 values), line by line; the load-error
 * cases replace one line. Line numbers are index + 1. */
static const char *const BASE[] = {
    /* 1 */ "# test table",
    /* 2 */ "section,key,so2_24h,so2_1h,no2_24h,no2_1h,pm10_24h,co_24h,co_1h,o3_1h,o3_8h,pm25_24h",
    /* 3 */ "name,T1",
    /* 4 */ "source,test",
    /* 5 */ "unit,,ug/m3,ug/m3,ug/m3,ug/m3,ug/m3,mg/m3,mg/m3,ug/m3,ug/m3,ug/m3",
    /* 6 */ "breakpoint,0,0,0,0,0,0,0,0,0,0,0",
    /* 7 */ "breakpoint,50,50,150,40,100,50,2,5,160,100,35",
    /* 8 */ "breakpoint,100,150,500,80,200,150,4,10,200,160,75",
    /* 9 */ "breakpoint,150,475,650,180,700,250,14,35,300,215,115",
    /* 10 */ "breakpoint,200,800,800,280,1200,350,24,60,400,265,150",
    /* 11 */ "breakpoint,300,1600,,565,2340,420,36,90,800,800,250",
    /* 12 */ "breakpoint,400,2100,,750,3090,500,48,120,1000,,350",
    /* 13 */ "breakpoint,500,2620,,940,3840,600,60,150,1200,,500",
    /* 14 */ "kind,hourly,,x,,x,x,,x,x,x,x",
    /* 15 */ "kind,daily,x,,x,,x,x,,x,x,x",
    /* 16 */ "rule,so2_1h,800,use,so2_24h",
    /* 17 */ "rule,o3_8h,800,use,o3_1h",
    /* 18 */ "missing,any",
    /* 19 */ "primary,above,50",
    /* 20 */ "category,1,0,50,excellent (优),\"0,228,0\"",
    /* 21 */ "category,2,51,100,good (良),\"255,255,0\"",
    /* 22 */ "category,3,101,150,light (轻度污染),\"255,126,0\"",
    /* 23 */ "category,4,151,200,moderate (中度污染),\"255,0,0\"",
    /* 24 */ "category,5,201,300,heavy (重度污染),\"153,0,76\"",
    /* 25 */ "category,6,301,,severe (严重污染),\"126,0,35\"",
};
#define NBASE   ((int)(sizeof BASE / sizeof BASE[0]))
#define GRID    12 /* fields of the header and of a breakpoint row */
#define SETS_OK "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01,\n"

/* BASE with line `line` (1-based; 0: none) replaced by `with` (NULL:
 * a comment; text with a newline adds lines), malloc'd. */
static char *base_with(int line, const char *with)
{
	size_t cap = 8192, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (int i = 0; i < NBASE; i++) {
		const char *l = i + 1 == line ? with : BASE[i];
		if (l == NULL)
			l = "# dropped";
		n += (size_t)snprintf(s + n, cap - n, "%s\n", l);
		assert_true(n < cap);
	}
	return s;
}

static int load_dir(const char *dir, const char *sets, const char *table, agg_aqi **a, char *err)
{
	if (sets)
		write_file(dir, "rulesets.csv", sets);
	if (table)
		write_file(dir, "t1.csv", table);
	*a = (agg_aqi *)&err; /* must come back NULL on failure */
	return agg_aqi_load(dir, a, err, ERRLEN);
}

static void test_load_custom(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN];
	agg_aqi *a;
	char *t = base_with(0, NULL);

	int rc = load_dir(dir, SETS_OK, t, &a, err);
	if (rc != 0)
		fail_msg("%s", err);
	assert_string_equal(err, "");
	const agg_aqi_rules *r = agg_aqi_rules_for(a, at("2020-01-01T00:00:00Z"), 0);
	assert_string_equal(agg_aqi_rules_name(r), "T1");
	assert_int_equal(iaqi(r, AQI_PM25_24H, 75 * MU), 100);
	agg_aqi_free(a);

	/* a third rule set is a new file and a new row: T2, the 2012 values
	 * with the 2026 NA rule, after a gap */
	char *t2 = base_with(18, "missing,above,100");
	char *p = strstr(t2, "name,T1");
	assert_non_null(p);
	p[6] = '2';
	write_file(dir, "t2.csv", t2);
	free(t2);
	rc = load_dir(dir,
		      "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01,2010-01-01\n"
		      "T2,t2.csv,2011-01-01,\n",
		      t, &a, err);
	free(t);
	if (rc != 0)
		fail_msg("%s", err);
	const agg_aqi_rules *r1 = agg_aqi_rules_for(a, at("2009-12-31T23:59:59Z"), 0);
	const agg_aqi_rules *r2 = agg_aqi_rules_for(a, at("2011-01-01T00:00:00Z"), 0);
	assert_string_equal(agg_aqi_rules_name(r1), "T1");
	assert_string_equal(agg_aqi_rules_name(r2), "T2");
	assert_null(agg_aqi_rules_for(a, at("2010-06-01T00:00:00Z"), 0)); /* the gap */
	/* a dropped term counts as missing: SO2 1h > 800 without SO2 24h
	 * and NO2 1h 180 (50 + 50 x 80/100 = 90), the rest 1 ug/m3 (or
	 * mg/m3; CO 1h 1 -> 10): T1 publishes 90, T2 says NA */
	agg_aqi_input in = {0};
	set(&in, AQI_SO2_1H, 900 * MU);
	set(&in, AQI_NO2_1H, 180 * MU);
	set(&in, AQI_CO_1H, 1 * MU);
	set(&in, AQI_O3_1H, 1 * MU);
	set(&in, AQI_O3_8H, 1 * MU);
	set(&in, AQI_PM10_24H, 1 * MU);
	set(&in, AQI_PM25_24H, 1 * MU);
	agg_aqi_result res = compute(r1, AGG_AQI_HOURLY, &in);
	assert_int_equal(res.aqi, 90);
	res = compute(r2, AGG_AQI_HOURLY, &in);
	assert_true(res.na);
	assert_int_equal(res.aqi, -1);
	set(&in, AQI_SO2_24H, 200 * MU); /* 108: present now, and above 100 */
	res = compute(r2, AGG_AQI_HOURLY, &in);
	assert_false(res.na);
	assert_int_equal(res.aqi, 108);
	agg_aqi_free(a);

	/* spreadsheet output: a byte-order mark, CRLF, rows padded with
	 * empty fields to the header's 12, a trailing slash on the folder */
	size_t cap = 16384, n = 0;
	char *ss = malloc(cap);
	assert_non_null(ss);
	n += (size_t)snprintf(ss + n, cap - n, "\xEF\xBB\xBF");
	for (int i = 0; i < NBASE; i++) {
		const char *l = BASE[i];
		int commas = 0;
		for (const char *q = l; *q; q++)
			commas += *q == ',';
		n += (size_t)snprintf(ss + n, cap - n, "%s", l);
		/* categories hold quoted commas; they are padded by one */
		if (strncmp(l, "category", 8) == 0)
			n += (size_t)snprintf(ss + n, cap - n, ",");
		else if (l[0] != '#')
			for (; commas < GRID - 1; commas++)
				n += (size_t)snprintf(ss + n, cap - n, ",");
		n += (size_t)snprintf(ss + n, cap - n, "\r\n");
	}
	char slash[4200];
	snprintf(slash, sizeof slash, "%s/", dir);
	write_file(dir, "rulesets.csv", "\xEF\xBB\xBFname,file,valid_from,valid_to\r\nT1,t1.csv,2000-01-01,\r\n");
	write_file(dir, "t1.csv", ss);
	free(ss);
	rc = agg_aqi_load(slash, &a, err, sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	r = agg_aqi_rules_for(a, at("2020-01-01T00:00:00Z"), 0);
	assert_int_equal(iaqi(r, AQI_SO2_24H, 100 * MU), 75);
	const char *colour = NULL;
	assert_int_equal(agg_aqi_category(r, 51, NULL, &colour), 2);
	assert_string_equal(colour, "255,255,0");
	agg_aqi_free(a);
}

static void test_load_errors(void **state)
{
	(void)state;
	static const struct {
		int line;         /* BASE line replaced, 0: none */
		const char *with; /* its replacement; NULL: dropped */
		const char *sets; /* rulesets.csv; NULL: SETS_OK */
		const char *where, *reason;
	} bad[] = {
	    {8, "breakpoint,100,150,500,80,200,150,4,10,200,160,30", NULL,
	     "t1.csv:8: ", "pm25_24h 30 is not above the previous row's 35 (line 7)"},
	    {12, "breakpoint,400,2100,900,750,3090,500,48,120,1000,,350", NULL,
	     "t1.csv:12: ", "so2_1h '900' follows an empty cell"},
	    {16, NULL, NULL, "t1.csv: ", "so2_1h ends at 800 (IAQI 200) but has no rule row"},
	    {17, "rule,o3_8h,810,use,o3_1h", NULL, "t1.csv:17: ", "threshold 810 is not o3_8h's last breakpoint 800"},
	    {16, "rule,so2_1h,800,use,o3_8h", NULL, "t1.csv:16: ", "so2_1h uses o3_8h, which ends early itself"},
	    {16, "rule,so2_1h,800,iaqi,600", NULL, "t1.csv:16: ", "iaqi 600 is above the top IAQI 500"},
	    {16, "rule,so2_1h,800,drop,", NULL, "t1.csv:16: ", "action 'drop' is not use"},
	    {3, "name,T2", NULL, "t1.csv:3: ", "name 'T2' is not 'T1'"},
	    {18, "missing,any\nmissng,any", NULL, "t1.csv:19: ", "unknown section 'missng'"},
	    {18, NULL, NULL, "t1.csv: ", "no missing row"},
	    {18, "missing,above", NULL, "t1.csv:18: ", "missing above '' is not an integer"},
	    {19, "primary,above,50\nprimary,above", NULL, "t1.csv:20: ", "2 fields, a primary row has 3"},
	    {20, "category,1,0,50,excellent (优),\"0,228\"", NULL, "t1.csv:20: ", "colour '0,228' is not R,G,B"},
	    {21, "category,2,52,100,good (良),\"255,255,0\"", NULL,
	     "t1.csv:21: ", "low 52 does not follow category 1's high 50"},
	    {22, "category,4,101,150,light,\"255,126,0\"", NULL, "t1.csv:22: ", "category '4' is not 3"},
	    {25, "category,6,301,400,severe,\"126,0,35\"", NULL, "t1.csv: ", "the categories end at 400"},
	    {5, "unit,,ug/m3,ug/m3,ug/m3,ug/m3,ug/m3,ug/m3,mg/m3,ug/m3,ug/m3,ug/m3", NULL,
	     "t1.csv:5: ", "co_24h unit 'ug/m3' is not mg/m3"},
	    {14, "kind,hourly,,y,,x,x,,x,x,x,x", NULL, "t1.csv:14: ", "so2_1h 'y' is not x"},
	    {14, "kind,hourly,,x,,x,x,,x,x,x,x\nkind,weekly,,x,,x,x,,x,x,x,x", NULL,
	     "t1.csv:15: ", "kind 'weekly' is not hourly or daily"},
	    {15, "kind,daily,,,,,,,,,,", NULL, "t1.csv:15: ", "kind daily uses no column"},
	    {2, "section,key,so2_24h,so2_1h,no2_24h,no2_1h,pm10_24h,co_24h,co_1h,o3_1h,o3_8h,pm2.5_24h", NULL,
	     "t1.csv:2: ", "header must be"},
	    {7, "breakpoint,50,50,150,40,100,50,2,5,160,100", NULL, "t1.csv:7: ", "11 fields, a breakpoint row has 12"},
	    {6, "breakpoint,0,1,0,0,0,0,0,0,0,0,0", NULL, "t1.csv:6: ", "so2_24h '1': IAQI 0 is at concentration 0"},
	    {9, "breakpoint,150,475,650,180,700,250,14.0000001,35,300,215,115", NULL,
	     "t1.csv:9: ", "co_24h '14.0000001' is not a concentration"},
	    {13, "breakpoint,500,2620,,940,3840,-600,60,150,1200,,500", NULL,
	     "t1.csv:13: ", "pm10_24h '-600' is not a concentration"},
	    {9, "breakpoint,100,475,650,180,700,250,14,35,300,215,115", NULL,
	     "t1.csv:9: ", "IAQI 100 is not above the previous row's 100 (line 8)"},
	    {4, "source,", NULL, "t1.csv:4: ", "source is empty"},
	    {4, "source,test\nsource,a,b", NULL, "t1.csv:5: ", "field 3 is not empty"},
	    {4, "source,test\nname,T1", NULL, "t1.csv:5: ", "a second name row (the first is line 3)"},
	    {4, "source,test\nsource,\"unterminated", NULL, "t1.csv:5: ", "malformed CSV"},
	    {17, "rule,o3_8h,800,use,o3_1h\nrule,pm25_24h,500,iaqi,500", NULL,
	     "t1.csv:18: ", "pm25_24h is defined up to the top row"},
	    {17, "rule,o3_8h,800,use,o3_1h\nrule,o3_8h,800,use,o3_1h", NULL,
	     "t1.csv:18: ", "a second rule for o3_8h (the first is line 17)"},
	    {20, "category,1,2,50,excellent,\"0,228,0\"", NULL, "t1.csv:20: ", "must start at 0 or 1, not 2"},
	    {23, "category,4,151,,moderate,\"255,0,0\"", NULL, "t1.csv:24: ", "category 5 follows an open-ended one"},
	    {7, "breakpoint,50,50,150,40,100,,2,5,160,100,35", NULL,
	     "t1.csv:7: ", "pm10_24h is empty: every column needs breakpoints at the first two rows"},
	    {7, "breakpoint,x,50,150,40,100,50,2,5,160,100,35", NULL, "t1.csv:7: ", "IAQI 'x' is not an integer"},
	    /* rulesets.csv */
	    {0, NULL, "name,file,valid_from,valid_to\nT1,t1.csv,2026-02-30,\n",
	     "rulesets.csv:2: ", "valid_from '2026-02-30' is not a date"},
	    {0, NULL, "name,file,valid_from,valid_to\nT1,t1.csv,2020-01-01,2020-01-01\n",
	     "rulesets.csv:2: ", "valid_to 2020-01-01 is not after valid_from 2020-01-01"},
	    {0, NULL, "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01,\nT2,t1.csv,2020-01-01,\n",
	     "rulesets.csv:3: ", "[2020-01-01, open) overlaps line 2 [2000-01-01, open)"},
	    {0, NULL, "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01,2001-01-01\nT1,t1.csv,2001-01-01,\n",
	     "rulesets.csv:3: ", "name 'T1' is already line 2"},
	    {0, NULL, "name,file,valid_from,valid_to\nT1,../t1.csv,2000-01-01,\n",
	     "rulesets.csv:2: ", "file '../t1.csv' is not a file name in this folder"},
	    {0, NULL, "name,file,from,to\nT1,t1.csv,2000-01-01,\n", "rulesets.csv:1: ", "header must be"},
	    {0, NULL, "# nothing\nname,file,valid_from,valid_to\n", "rulesets.csv: ", "no rule sets"},
	    {0, NULL, "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01\n",
	     "rulesets.csv:2: ", "3 fields, expected 4"},
	};
	const char *dir = tmpdir();
	char err[ERRLEN];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		agg_aqi *a;
		char *t = base_with(bad[i].line, bad[i].with);
		int rc = load_dir(dir, bad[i].sets ? bad[i].sets : SETS_OK, t, &a, err);
		free(t);
		char where[4200];
		snprintf(where, sizeof where, "%s/%s", dir, bad[i].where);
		if (rc != ER_EINVAL || a != NULL || strncmp(err, where, strlen(where)) != 0 ||
		    strstr(err, bad[i].reason) == NULL || count_lines(err) != 1)
			fail_msg("case %zu: rc %s, expected EINVAL with one line '%s...%s', got:\n%s", i,
				 er_strerror(rc), where, bad[i].reason, err);
	}
}

static void test_load_io_and_many_errors(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN];
	agg_aqi *a;

	/* no rulesets.csv */
	a = (agg_aqi *)&err;
	assert_int_equal(agg_aqi_load(dir, &a, err, sizeof err), ER_EIO);
	assert_null(a);
	assert_contains(err, "rulesets.csv: cannot read: No such file or directory");
	/* a table that is not there: ER_EIO, named with the folder */
	assert_int_equal(load_dir(dir, "name,file,valid_from,valid_to\nT1,nope.csv,2000-01-01,\n", NULL, &a, err),
			 ER_EIO);
	assert_null(a);
	char want[4200];
	snprintf(want, sizeof want, "%s/nope.csv: cannot read: No such file or directory", dir);
	assert_string_equal(err, want);
	/* errors in two files come in file order, each with its file */
	char *t = base_with(8, "breakpoint,100,150,500,80,200,150,4,10,200,160,30");
	int rc = load_dir(dir,
			  "name,file,valid_from,valid_to\nT1,t1.csv,2000-01-01,2001-01-01\n"
			  "T2,t1.csv,bad,\n",
			  t, &a, err);
	free(t);
	assert_int_equal(rc, ER_EINVAL);
	assert_int_equal(count_lines(err), 2);
	snprintf(want, sizeof want, "%s/t1.csv:8: pm25_24h 30", dir);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	snprintf(want, sizeof want, "\n%s/rulesets.csv:3: valid_from 'bad'", dir);
	assert_contains(err, want);
	/* 25 unknown sections: 20 listed, then the count of the rest */
	size_t cap = 16384, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	t = base_with(0, NULL);
	n += (size_t)snprintf(s + n, cap - n, "%s", t);
	free(t);
	for (int i = 0; i < 25; i++)
		n += (size_t)snprintf(s + n, cap - n, "bogus%d,x\n", i);
	rc = load_dir(dir, SETS_OK, s, &a, err);
	free(s);
	assert_int_equal(rc, ER_EINVAL);
	assert_int_equal(count_lines(err), AGG_AQI_MAX_ERRORS + 1);
	assert_contains(err, "t1.csv:26: unknown section 'bogus0'");
	assert_contains(err, "t1.csv:45: unknown section 'bogus19'");
	assert_null(strstr(err, "bogus20"));
	assert_contains(err, "\n... and 5 more errors");
	/* a small err buffer is cut, never overrun; NULL err is fine */
	char small[16];
	t = base_with(3, "name,T2");
	write_file(dir, "t1.csv", t);
	free(t);
	write_file(dir, "rulesets.csv", SETS_OK);
	assert_int_equal(agg_aqi_load(dir, &a, small, sizeof small), ER_EINVAL);
	assert_int_equal(strlen(small), sizeof small - 1);
	assert_int_equal(agg_aqi_load(dir, &a, NULL, 0), ER_EINVAL);
	assert_null(a);
	assert_int_equal(agg_aqi_load(NULL, &a, err, sizeof err), ER_EINVAL);
	assert_int_equal(agg_aqi_load(dir, NULL, err, sizeof err), ER_EINVAL);
	agg_aqi_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_and_columns),
	    cmocka_unit_test(test_domain_vectors),
	    cmocka_unit_test(test_breakpoints_2012),
	    cmocka_unit_test(test_breakpoints_2026),
	    cmocka_unit_test(test_interior_values),
	    cmocka_unit_test(test_exact_not_double),
	    cmocka_unit_test(test_2026_rounding),
	    cmocka_unit_test(test_ratio_means),
	    cmocka_unit_test(test_iaqi_arguments),
	    cmocka_unit_test(test_hourly_columns),
	    cmocka_unit_test(test_daily_columns),
	    cmocka_unit_test(test_special_rules_2012),
	    cmocka_unit_test(test_special_rules_2026),
	    cmocka_unit_test(test_categories),
	    cmocka_unit_test(test_primary),
	    cmocka_unit_test(test_na_rule),
	    cmocka_unit_test(test_compute_arguments),
	    cmocka_unit_test(test_rule_set_switch),
	    cmocka_unit_test(test_load_custom),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_io_and_many_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
