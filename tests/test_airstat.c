/* test_airstat.c: aggregate/airstat.c, the air-quality validity rules and
 * evaluation statistics (DOMAIN.md 8). Every minimum of GB 3095-2012
 * Table 4 and HJ 663-2013 is tested at n - 1 (invalid) and n (valid); the
 * MDA8 windows are pinned by spikes that enter only some of them; means are
 * exact and checked as fractions; every rounding is checked at a tie, half
 * to even. Expected values are computed by hand (shown next to each case),
 * never by the code under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "er.h"
#include "airstat.h"

#define UG(x)     ((er_fx)((x)*ER_FX_SCALE)) /* whole ug/m3 to micro-units; x an integer */
#define LIMIT_O3  UG(160)                    /* GB 3095-2012 Grade II O3 8-hour limit */
#define MARGIN_10 100000                     /* 0.10 of the target, in micro-units */

__extension__ typedef __int128 i128;

/* ---- helpers ---- */

/* m must equal num / den as a value, whatever its representation. */
static void assert_mean_value(agg_mean m, int64_t num, int64_t den)
{
	assert_true(m.n > 0);
	if ((i128)m.sum * den != (i128)num * m.n)
		fail_msg("mean %lld/%d, expected %lld/%lld", (long long)m.sum, m.n, (long long)num, (long long)den);
}

static void fill_hours(er_fx *h, bool *v, size_t n, er_fx value)
{
	for (size_t i = 0; i < n; i++) {
		h[i] = value;
		v[i] = true;
	}
}

/* n daily means, every one 30 ug/m3 over 24 hours and valid when valid is true. */
static void fill_days(agg_mean *d, size_t n, bool valid)
{
	for (size_t i = 0; i < n; i++)
		d[i] = valid ? (agg_mean){UG(720), 24} : (agg_mean){0, 0};
}

/* Month lengths by hand, not from the calendar under test. */
static const int days_2026[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
static const int days_2028[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* A year of daily means with the first valid[m] days of each month valid. */
static size_t year_with(agg_mean *d, const int *len, const int *valid)
{
	size_t doy = 0;

	for (int m = 0; m < 12; m++)
		for (int i = 0; i < len[m]; i++, doy++)
			d[doy] = i < valid[m] ? (agg_mean){UG(720), 24} : (agg_mean){0, 0};
	return doy;
}

/* ---- tests ---- */

static void test_hour_validity(void **state)
{
	(void)state;
	/* GB 3095-2012 Table 4: 45 minutes = 2700 s */
	assert_false(agg_air_hour_valid(0));
	assert_false(agg_air_hour_valid(2699));
	assert_true(agg_air_hour_valid(2700));
	assert_true(agg_air_hour_valid(3600));
}

static void test_mean_round(void **state)
{
	(void)state;
	er_fx r = 99;

	assert_int_equal(agg_mean_round((agg_mean){5, 2}, &r), 0); /* 2.5 -> 2 */
	assert_int_equal(r, 2);
	assert_int_equal(agg_mean_round((agg_mean){7, 2}, &r), 0); /* 3.5 -> 4 */
	assert_int_equal(r, 4);
	assert_int_equal(agg_mean_round((agg_mean){11, 4}, &r), 0); /* 2.75 -> 3 */
	assert_int_equal(r, 3);
	assert_int_equal(agg_mean_round((agg_mean){9, 4}, &r), 0); /* 2.25 -> 2 */
	assert_int_equal(r, 2);
	assert_int_equal(agg_mean_round((agg_mean){-5, 2}, &r), 0); /* -2.5 -> -2 */
	assert_int_equal(r, -2);
	assert_int_equal(agg_mean_round((agg_mean){-7, 2}, &r), 0); /* -3.5 -> -4 */
	assert_int_equal(r, -4);
	assert_int_equal(agg_mean_round((agg_mean){-1, 2}, &r), 0); /* -0.5 -> 0 */
	assert_int_equal(r, 0);
	assert_int_equal(agg_mean_round((agg_mean){2, 3}, &r), 0); /* 0.67 -> 1 */
	assert_int_equal(r, 1);
	assert_int_equal(agg_mean_round((agg_mean){INT64_MAX, 1}, &r), 0);
	assert_int_equal(r, INT64_MAX);
	/* INT64_MIN / 2 = -4611686018427387904 exactly */
	assert_int_equal(agg_mean_round((agg_mean){INT64_MIN, 2}, &r), 0);
	assert_int_equal(r, INT64_MIN / 2);

	assert_int_equal(agg_mean_round((agg_mean){5, 0}, &r), ER_ENOENT);
	assert_int_equal(agg_mean_round((agg_mean){5, -1}, &r), ER_EINVAL);
	assert_int_equal(agg_mean_round((agg_mean){5, 1}, NULL), ER_EINVAL);
}

static void test_daily_mean(void **state)
{
	(void)state;
	er_fx h[24];
	bool v[24];
	agg_mean m = {1, 1};

	/* hour i holds (i+1) x 1.5 ug/m3; invalid hours hold -1, which would
	 * be ER_EINVAL if it were read */
	for (int i = 0; i < 24; i++) {
		h[i] = (i + 1) * 1500000;
		v[i] = true;
	}
	for (int i = 19; i < 24; i++) {
		h[i] = -1;
		v[i] = false;
	}
	/* 19 valid hours: no daily mean */
	assert_int_equal(agg_air_daily_mean(h, v, &m), ER_ENOENT);
	assert_int_equal(m.sum, 0);
	assert_int_equal(m.n, 0);
	/* 20 valid hours: 1.5 x (1 + ... + 20) = 1.5 x 210 = 315 ug/m3 over 20 */
	h[19] = 20 * 1500000;
	v[19] = true;
	assert_int_equal(agg_air_daily_mean(h, v, &m), 0);
	assert_int_equal(m.sum, UG(315));
	assert_int_equal(m.n, 20);
	/* 24 valid: 1.5 x 300 = 450 over 24 */
	for (int i = 20; i < 24; i++) {
		h[i] = (i + 1) * 1500000;
		v[i] = true;
	}
	assert_int_equal(agg_air_daily_mean(h, v, &m), 0);
	assert_int_equal(m.sum, UG(450));
	assert_int_equal(m.n, 24);

	/* the valid-value domain: 0 .. AGG_AIR_MAX_FX */
	fill_hours(h, v, 24, AGG_AIR_MAX_FX);
	assert_int_equal(agg_air_daily_mean(h, v, &m), 0);
	assert_int_equal(m.sum, 24 * AGG_AIR_MAX_FX);
	h[5] = AGG_AIR_MAX_FX + 1;
	assert_int_equal(agg_air_daily_mean(h, v, &m), ER_ERANGE);
	h[5] = -1;
	assert_int_equal(agg_air_daily_mean(h, v, &m), ER_EINVAL);
	h[5] = 0;
	assert_int_equal(agg_air_daily_mean(h, v, &m), 0);
	assert_int_equal(m.sum, 23 * AGG_AIR_MAX_FX);

	assert_int_equal(agg_air_daily_mean(NULL, v, &m), ER_EINVAL);
	assert_int_equal(agg_air_daily_mean(h, NULL, &m), ER_EINVAL);
	assert_int_equal(agg_air_daily_mean(h, v, NULL), ER_EINVAL);
}

static void test_o3_8h(void **state)
{
	(void)state;
	er_fx h[9];
	bool v[9];
	agg_mean m;

	/* hour i holds 10 (i+1) ug/m3: 10, 20, ..., 90 */
	for (int i = 0; i < 9; i++) {
		h[i] = UG(10 * (i + 1));
		v[i] = true;
	}
	/* t = 8: hours 1..8 = 20 + ... + 90 = 440 over 8 (hour 0 is out) */
	assert_int_equal(agg_air_o3_8h(h, v, 9, 8, &m), 0);
	assert_int_equal(m.sum, UG(440));
	assert_int_equal(m.n, 8);
	/* t = 7: hours 0..7 = 360 over 8 */
	assert_int_equal(agg_air_o3_8h(h, v, 9, 7, &m), 0);
	assert_int_equal(m.sum, UG(360));
	assert_int_equal(m.n, 8);
	/* hours 0, 1, 2 invalid: t = 8 keeps 6 valid (40 + ... + 90 = 390) */
	v[0] = v[1] = v[2] = false;
	h[0] = h[1] = h[2] = -1;
	assert_int_equal(agg_air_o3_8h(h, v, 9, 8, &m), 0);
	assert_int_equal(m.sum, UG(390));
	assert_int_equal(m.n, 6);
	/* t = 7 has 5 valid (hours 3..7): no value */
	assert_int_equal(agg_air_o3_8h(h, v, 9, 7, &m), ER_ENOENT);
	assert_int_equal(m.n, 0);
	/* and t = 8 with hour 3 invalid too */
	v[3] = false;
	assert_int_equal(agg_air_o3_8h(h, v, 9, 8, &m), ER_ENOENT);
	assert_int_equal(m.sum, 0);
	assert_int_equal(m.n, 0);

	/* the window must lie within the series */
	assert_int_equal(agg_air_o3_8h(h, v, 9, 6, &m), ER_EINVAL);
	assert_int_equal(agg_air_o3_8h(h, v, 9, 9, &m), ER_EINVAL);
	assert_int_equal(agg_air_o3_8h(h, v, 7, 7, &m), ER_EINVAL);
	assert_int_equal(agg_air_o3_8h(NULL, v, 9, 8, &m), ER_EINVAL);
	assert_int_equal(agg_air_o3_8h(h, v, 9, 8, NULL), ER_EINVAL);
	/* a negative value inside the window is refused, outside it is not read */
	fill_hours(h, v, 9, UG(1));
	h[0] = -5;
	assert_int_equal(agg_air_o3_8h(h, v, 9, 8, &m), 0);
	assert_int_equal(agg_air_o3_8h(h, v, 9, 7, &m), ER_EINVAL);
}

static void test_mda8_validity(void **state)
{
	(void)state;
	er_fx h[24];
	bool v[24];
	agg_mean m;
	int nw = -1;

	/* Trailing invalid block of L hours: window w (hours w..w+7) has
	 * w + 8 - (24 - L) invalid hours, valid while that is <= 2, so windows
	 * 0 .. 18 - L are valid: 14 windows for L = 5, 13 for L = 6. */
	fill_hours(h, v, 24, UG(100));
	for (int i = 19; i < 24; i++)
		v[i] = false;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 14);
	assert_int_equal(m.sum, UG(800));
	assert_int_equal(m.n, 8);

	v[18] = false;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), ER_ENOENT);
	assert_int_equal(nw, 13);
	assert_int_equal(m.n, 0);

	/* 13 windows but hour 0 at 1000: window 0 = (1000 + 7 x 100) / 8 = 212.5 > 160 */
	h[0] = UG(1000);
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 13);
	assert_int_equal(m.sum, UG(1700));
	assert_int_equal(m.n, 8);

	/* exactly the limit does not exceed it */
	fill_hours(h, v, 24, UG(160));
	for (int i = 18; i < 24; i++)
		v[i] = false;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), ER_ENOENT);
	assert_int_equal(nw, 13);
	/* one micro-unit above it does: hour 0 = 160.000008 -> window 0 = 160.000001 */
	h[0] = UG(160) + 8;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(m.sum, UG(1280) + 8);
	assert_int_equal(m.n, 8);
	/* the limit is a parameter: against the rounded value, pass 160.5;
	 * hour 0 = 164 -> window 0 = (164 + 7 x 160) / 8 = 160.5, which
	 * rounds half-even to 160 and so does not exceed */
	h[0] = UG(164);
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(m.sum, UG(1284));
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3 + 500000, &m, &nw), ER_ENOENT);
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3 + 499999, &m, &nw), 0);
	/* with 14 windows the limit does not matter */
	v[18] = true;
	assert_int_equal(agg_air_mda8(h, v, UG(1000), &m, &nw), 0);
	assert_int_equal(nw, 14);
	assert_int_equal(m.sum, UG(1284));

	/* no valid window: never valid, whatever the limit */
	memset(v, 0, sizeof v);
	assert_int_equal(agg_air_mda8(h, v, 0, &m, &nw), ER_ENOENT);
	assert_int_equal(nw, 0);
	/* invalid leading hours 0..2: window 0 has 5 valid, windows 1..16 are valid */
	fill_hours(h, v, 24, UG(50));
	v[0] = v[1] = v[2] = false;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, NULL), 0);
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 16);

	assert_int_equal(agg_air_mda8(h, v, -1, &m, &nw), ER_EINVAL);
	assert_int_equal(agg_air_mda8(NULL, v, LIMIT_O3, &m, &nw), ER_EINVAL);
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, NULL, &nw), ER_EINVAL);
	h[4] = -1;
	assert_int_equal(agg_air_mda8(h, v, LIMIT_O3, &m, &nw), ER_EINVAL);
}

static void test_mda8_windows(void **state)
{
	(void)state;
	er_fx buf[31]; /* the previous day's last 7 hours, then the day */
	bool vb[31];
	agg_mean m;
	int nw;

	/* A spike in the previous day's 23:00-24:00 enters the 8-hour averages
	 * of the day's 01时..07时 (t = 7..13 of the buffer) but none of the 17
	 * MDA8 windows: (7 x 50 + 500) / 8 = 850 / 8. */
	fill_hours(buf, vb, 31, UG(50));
	buf[6] = UG(500);
	for (size_t t = 7; t <= 13; t++) {
		assert_int_equal(agg_air_o3_8h(buf, vb, 31, t, &m), 0);
		assert_int_equal(m.sum, UG(850));
	}
	assert_int_equal(agg_air_o3_8h(buf, vb, 31, 14, &m), 0);
	assert_int_equal(m.sum, UG(400));
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 17);
	assert_int_equal(m.sum, UG(400));
	assert_int_equal(m.n, 8);

	/* The day's 00:00-01:00 enters the first window (08时) only: with 500
	 * there and 400 at 08:00-09:00 (windows 1..8), window 0 = 850 / 8 is
	 * the maximum; windows starting at 1 would give 750 / 8. */
	fill_hours(buf, vb, 31, UG(50));
	buf[7 + 0] = UG(500);
	buf[7 + 8] = UG(400);
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(m.sum, UG(850));
	buf[7 + 0] = UG(50);
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(m.sum, UG(750));

	/* The day's 23:00-24:00 enters the last window (24时, 16:00-24:00). */
	fill_hours(buf, vb, 31, UG(50));
	buf[7 + 23] = UG(500);
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(m.sum, UG(850));
	assert_int_equal(m.n, 8);

	/* A window with 5 valid hours does not count even when it is the
	 * highest: hours 0..2 invalid, hour 3 = 1000. Window 0 would be
	 * (1000 + 4 x 50) / 5 = 240; window 1 (hours 1..8, 6 valid) is
	 * (1000 + 5 x 50) / 6 = 1250 / 6 = 208.33. */
	fill_hours(buf, vb, 31, UG(50));
	vb[7 + 0] = vb[7 + 1] = vb[7 + 2] = false;
	buf[7 + 3] = UG(1000);
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 16);
	assert_int_equal(m.sum, UG(1250));
	assert_int_equal(m.n, 6);

	/* Equal maxima: the earliest window stands. All hours 100 with hours
	 * 0, 1 invalid: window 0 = 600 / 6, window 1 = 700 / 7, the rest 800 / 8. */
	fill_hours(buf, vb, 31, UG(100));
	vb[7 + 0] = vb[7 + 1] = false;
	assert_int_equal(agg_air_mda8(buf + 7, vb + 7, LIMIT_O3, &m, &nw), 0);
	assert_int_equal(nw, 17);
	assert_int_equal(m.sum, UG(600));
	assert_int_equal(m.n, 6);
}

static void test_o3_max1h(void **state)
{
	(void)state;
	er_fx h[24];
	bool v[24];
	er_fx r = 1;

	fill_hours(h, v, 24, UG(30));
	h[13] = UG(210);
	h[22] = UG(250); /* the largest, but invalid below */
	for (int i = 19; i < 24; i++)
		v[i] = false;
	/* 19 valid hours: no daily value */
	assert_int_equal(agg_air_o3_max1h(h, v, &r), ER_ENOENT);
	assert_int_equal(r, 0);
	v[19] = true;
	assert_int_equal(agg_air_o3_max1h(h, v, &r), 0);
	assert_int_equal(r, UG(210));
	v[22] = true;
	assert_int_equal(agg_air_o3_max1h(h, v, &r), 0);
	assert_int_equal(r, UG(250));
	fill_hours(h, v, 24, 0);
	assert_int_equal(agg_air_o3_max1h(h, v, &r), 0);
	assert_int_equal(r, 0);
	h[0] = -1;
	assert_int_equal(agg_air_o3_max1h(h, v, &r), ER_EINVAL);
	assert_int_equal(agg_air_o3_max1h(h, v, NULL), ER_EINVAL);
}

static void test_month_mean(void **state)
{
	(void)state;
	agg_mean d[31], m;
	int nv = -1;

	/* March 2026: 31 days, the last 26 valid -> no monthly mean */
	fill_days(d, 31, true);
	fill_days(d, 5, false);
	assert_int_equal(agg_air_month_mean(d, 31, 2026, 3, &m, &nv), ER_ENOENT);
	assert_int_equal(nv, 26);
	assert_int_equal(m.n, 0);
	/* 27 valid, one of them 601 / 20 = 30.05 ug/m3:
	 * (26 x 30 + 30.05) / 27 = 810.05 / 27 */
	d[4] = (agg_mean){UG(601), 20};
	assert_int_equal(agg_air_month_mean(d, 31, 2026, 3, &m, &nv), 0);
	assert_int_equal(nv, 27);
	assert_mean_value(m, 810050000, 27);
	er_fx r;
	assert_int_equal(agg_mean_round(m, &r), 0);
	assert_int_equal(r, 30001852); /* 30.00185185... */

	/* February 2026: 28 days, 24 / 25 */
	fill_days(d, 28, true);
	fill_days(d, 4, false);
	assert_int_equal(agg_air_month_mean(d, 28, 2026, 2, &m, &nv), ER_ENOENT);
	assert_int_equal(nv, 24);
	d[0] = (agg_mean){UG(720), 24};
	assert_int_equal(agg_air_month_mean(d, 28, 2026, 2, &m, &nv), 0);
	assert_int_equal(nv, 25);
	assert_mean_value(m, UG(30), 1);

	/* February 2028 (leap): 29 days, still 24 / 25 */
	fill_days(d, 29, true);
	fill_days(d, 5, false);
	assert_int_equal(agg_air_month_mean(d, 29, 2028, 2, &m, &nv), ER_ENOENT);
	assert_int_equal(nv, 24);
	d[0] = (agg_mean){UG(960), 24}; /* 40 ug/m3: (40 + 24 x 30) / 25 = 760 / 25 */
	assert_int_equal(agg_air_month_mean(d, 29, 2028, 2, &m, &nv), 0);
	assert_int_equal(nv, 25);
	assert_mean_value(m, UG(760), 25);

	/* ndays must be the month's length */
	assert_int_equal(agg_air_month_mean(d, 28, 2028, 2, &m, &nv), ER_EINVAL);
	assert_int_equal(agg_air_month_mean(d, 29, 2026, 2, &m, &nv), ER_EINVAL);
	assert_int_equal(agg_air_month_mean(d, 30, 2026, 3, &m, &nv), ER_EINVAL);
	fill_days(d, 30, true); /* April 2026, every day valid */
	assert_int_equal(agg_air_month_mean(d, 30, 2026, 4, &m, NULL), 0);
	assert_mean_value(m, UG(30), 1);
	assert_int_equal(agg_air_month_mean(d, 31, 2026, 0, &m, &nv), ER_EINVAL);
	assert_int_equal(agg_air_month_mean(d, 31, 2026, 13, &m, &nv), ER_EINVAL);
	assert_int_equal(agg_air_month_mean(NULL, 31, 2026, 1, &m, &nv), ER_EINVAL);
	d[3] = (agg_mean){1, -1};
	assert_int_equal(agg_air_month_mean(d, 30, 2026, 4, &m, &nv), ER_EINVAL);
}

static void test_year_mean(void **state)
{
	(void)state;
	agg_mean d[366], m;
	int nv = -1, fm = -1;
	int valid[12];

	/* every day valid, day of year k (1-based) worth k ug/m3 over 24 hours:
	 * 2026 mean (1 + ... + 365) / 365 = 183; 2028 (1 + ... + 366) / 366 = 183.5 */
	for (int k = 1; k <= 366; k++)
		d[k - 1] = (agg_mean){UG(24 * k), 24};
	assert_int_equal(agg_air_year_mean(d, 365, 2026, &m, &nv, &fm), 0);
	assert_int_equal(nv, 365);
	assert_int_equal(fm, 0);
	assert_mean_value(m, UG(183), 1);
	assert_int_equal(agg_air_year_mean(d, 366, 2028, &m, &nv, &fm), 0);
	assert_int_equal(nv, 366);
	assert_mean_value(m, UG(367), 2);
	assert_int_equal(agg_air_year_mean(d, 366, 2026, &m, &nv, &fm), ER_EINVAL);
	assert_int_equal(agg_air_year_mean(d, 365, 2028, &m, &nv, &fm), ER_EINVAL);

	/* every month at its minimum: 11 x 27 + 25 = 322 < 324 */
	for (int i = 0; i < 12; i++)
		valid[i] = i == 1 ? 25 : 27;
	size_t n = year_with(d, days_2026, valid);
	assert_int_equal(n, 365);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(nv, 322);
	assert_int_equal(fm, 0);
	assert_int_equal(m.n, 0);
	/* 323 */
	valid[0] = 28;
	year_with(d, days_2026, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(nv, 323);
	assert_int_equal(fm, 0);
	/* 324 */
	valid[6] = 28;
	year_with(d, days_2026, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, &fm), 0);
	assert_int_equal(nv, 324);
	assert_int_equal(fm, 0);
	assert_mean_value(m, UG(30), 1);

	/* every month full but April with 26: 361 days, failing on April */
	memcpy(valid, days_2026, sizeof valid);
	valid[3] = 26;
	year_with(d, days_2026, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(nv, 361);
	assert_int_equal(fm, 4);
	assert_int_equal(m.n, 0);
	/* also February at 24: the first failing month is reported */
	valid[1] = 24;
	year_with(d, days_2026, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(nv, 357);
	assert_int_equal(fm, 2);
	/* April at 27 and February at 25: valid */
	valid[1] = 25;
	valid[3] = 27;
	year_with(d, days_2026, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2026, &m, &nv, NULL), 0);
	assert_int_equal(nv, 359);

	/* leap 2028: February 24 of 29 fails, 25 passes */
	memcpy(valid, days_2028, sizeof valid);
	valid[1] = 24;
	n = year_with(d, days_2028, valid);
	assert_int_equal(n, 366);
	assert_int_equal(agg_air_year_mean(d, n, 2028, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(nv, 361);
	assert_int_equal(fm, 2);
	valid[1] = 25;
	year_with(d, days_2028, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2028, &m, &nv, &fm), 0);
	assert_int_equal(nv, 362);
	assert_int_equal(fm, 0);
	/* December 26 of 31 is the last month checked */
	valid[11] = 26;
	year_with(d, days_2028, valid);
	assert_int_equal(agg_air_year_mean(d, n, 2028, &m, &nv, &fm), ER_ENOENT);
	assert_int_equal(fm, 12);

	/* The exactness budget (airstat.h): a leap year of station days at
	 * AGG_AIR_MAX_FX - 1/n with n cycling 20..24 (73 cycles and one more
	 * day of 20 hours). 1/20 + ... + 1/24 = 48501 / 212520, so the days
	 * sum to 366 MAX - (73 x 48501 + 10626) / 212520 and the mean is
	 * MAX - 3551199 / (212520 x 366) = (MAX x 77782320 - 3551199) / 77782320. */
	for (int i = 0; i < 366; i++)
		d[i] = (agg_mean){(20 + i % 5) * AGG_AIR_MAX_FX - 1, 20 + i % 5};
	assert_int_equal(agg_air_year_mean(d, 366, 2028, &m, &nv, &fm), 0);
	assert_mean_value(m, AGG_AIR_MAX_FX * 77782320 - 3551199, 77782320);

	assert_int_equal(agg_air_year_mean(NULL, 365, 2026, &m, &nv, &fm), ER_EINVAL);
	assert_int_equal(agg_air_year_mean(d, 366, 2028, NULL, &nv, &fm), ER_EINVAL);
}

static void test_days_mean(void **state)
{
	(void)state;
	agg_mean d[4], m;
	int nv = -1;

	/* year to date, no minimum: 2 / 3 and 5 / 7 -> (14 + 15) / 21 / 2 = 29 / 42 */
	d[0] = (agg_mean){2, 3};
	d[1] = (agg_mean){0, 0};
	d[2] = (agg_mean){5, 7};
	assert_int_equal(agg_air_days_mean(d, 3, &m, &nv), 0);
	assert_int_equal(nv, 2);
	assert_mean_value(m, 29, 42);
	/* a zero sum and a negative one are still exact: (0 - 1/2) / 2 = -1/4 */
	d[0] = (agg_mean){0, 5};
	d[1] = (agg_mean){-1, 2};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), 0);
	assert_mean_value(m, -1, 4);
	/* none valid */
	d[0] = d[1] = (agg_mean){0, 0};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), ER_ENOENT);
	assert_int_equal(nv, 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(agg_air_days_mean(d, 0, &m, &nv), ER_ENOENT);
	/* the largest denominator still fits: (1/M + 1/M) / 2 = 1/M, M = 2^31 - 1 */
	d[0] = d[1] = (agg_mean){1, INT32_MAX};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), 0);
	assert_int_equal(m.sum, 1);
	assert_int_equal(m.n, INT32_MAX);
	/* 1 / (2^31 - 1) and 1 / (2^31 - 2) add to a denominator near 2^62 */
	d[0] = (agg_mean){1, INT32_MAX};
	d[1] = (agg_mean){1, INT32_MAX - 1};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), ER_ERANGE);
	/* big sums that cancel stay exact */
	d[0] = (agg_mean){INT64_MAX, 1};
	d[1] = (agg_mean){INT64_MAX, 1};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), 0);
	assert_int_equal(m.sum, INT64_MAX);
	assert_int_equal(m.n, 1);
	d[1] = (agg_mean){0, -3};
	assert_int_equal(agg_air_days_mean(d, 2, &m, &nv), ER_EINVAL);
	assert_int_equal(agg_air_days_mean(NULL, 2, &m, &nv), ER_EINVAL);
}

static void test_percentile(void **state)
{
	(void)state;
	er_fx r = -1;

	/* HJ 663-2013 Annex A example: {3,4,8,2,5,4} -> 2,3,4,4,5,8; P90:
	 * k = 1 + 5 x 0.9 = 5.5, m = X(5) + (X(6) - X(5)) x 0.5 = 5 + 1.5 = 6.5 */
	er_fx ex[6] = {UG(3), UG(4), UG(8), UG(2), UG(5), UG(4)};
	assert_int_equal(agg_air_percentile(ex, 6, 90, &r), 0);
	assert_int_equal(r, 6500000);
	const er_fx sorted[6] = {UG(2), UG(3), UG(4), UG(4), UG(5), UG(8)};
	assert_memory_equal(ex, sorted, sizeof sorted);
	/* P50 of the same: k = 3.5, between the tied 4s -> 4 */
	assert_int_equal(agg_air_percentile(ex, 6, 50, &r), 0);
	assert_int_equal(r, UG(4));
	/* P0 and P100: the extremes */
	assert_int_equal(agg_air_percentile(ex, 6, 0, &r), 0);
	assert_int_equal(r, UG(2));
	assert_int_equal(agg_air_percentile(ex, 6, 100, &r), 0);
	assert_int_equal(r, UG(8));

	/* n = 1: k = 1 for any p */
	er_fx one[1] = {1234567};
	assert_int_equal(agg_air_percentile(one, 1, 95, &r), 0);
	assert_int_equal(r, 1234567);
	assert_int_equal(agg_air_percentile(one, 1, 100, &r), 0);
	assert_int_equal(r, 1234567);

	/* ties: {5,5,5,9}, P90: k = 1 + 3 x 0.9 = 3.7, 5 + 4 x 0.7 = 7.8 */
	er_fx ties[4] = {UG(9), UG(5), UG(5), UG(5)};
	assert_int_equal(agg_air_percentile(ties, 4, 90, &r), 0);
	assert_int_equal(r, 7800000);
	assert_int_equal(agg_air_percentile(ties, 4, 60, &r), 0); /* k = 2.8: 5 */
	assert_int_equal(r, UG(5));

	/* 365 values 7, 14, ..., 2555 micro-units, shuffled (113 is coprime
	 * with 365). P95: k = 1 + 364 x 0.95 = 346.8, X(346) = 2422,
	 * X(347) = 2429, m = 2422 + 7 x 0.8 = 2427.6 -> 2428. P98: k = 357.72,
	 * m = 2499 + 7 x 0.72 = 2504.04 -> 2504. P90: k = 328.6, m = 2296 +
	 * 7 x 0.6 = 2300.2 -> 2300. */
	er_fx year[365];
	for (int i = 0; i < 365; i++)
		year[i] = 7 * ((i * 113) % 365 + 1);
	assert_int_equal(agg_air_percentile(year, 365, 95, &r), 0);
	assert_int_equal(r, 2428);
	assert_int_equal(agg_air_percentile(year, 365, 98, &r), 0);
	assert_int_equal(r, 2504);
	assert_int_equal(agg_air_percentile(year, 365, 90, &r), 0);
	assert_int_equal(r, 2300);

	/* the result rounds half to even: P50 of two values, k = 1.5 */
	er_fx two[2] = {1, 0}; /* 0.5 -> 0 */
	assert_int_equal(agg_air_percentile(two, 2, 50, &r), 0);
	assert_int_equal(r, 0);
	two[0] = 2, two[1] = 1; /* 1.5 -> 2 */
	assert_int_equal(agg_air_percentile(two, 2, 50, &r), 0);
	assert_int_equal(r, 2);
	two[0] = 2, two[1] = 3; /* 2.5 -> 2 */
	assert_int_equal(agg_air_percentile(two, 2, 50, &r), 0);
	assert_int_equal(r, 2);
	two[0] = -1, two[1] = -2; /* -1.5 -> -2 */
	assert_int_equal(agg_air_percentile(two, 2, 50, &r), 0);
	assert_int_equal(r, -2);
	/* no overflow across the whole range: (MIN + MAX) / 2 = -0.5 -> 0 */
	two[0] = INT64_MAX, two[1] = INT64_MIN;
	assert_int_equal(agg_air_percentile(two, 2, 50, &r), 0);
	assert_int_equal(r, 0);

	assert_int_equal(agg_air_percentile(two, 0, 95, &r), ER_ENOENT);
	assert_int_equal(agg_air_percentile(two, 2, -1, &r), ER_EINVAL);
	assert_int_equal(agg_air_percentile(two, 2, 101, &r), ER_EINVAL);
	assert_int_equal(agg_air_percentile(NULL, 2, 95, &r), ER_EINVAL);
	assert_int_equal(agg_air_percentile(two, 2, 95, NULL), ER_EINVAL);
}

static void test_good_share(void **state)
{
	(void)state;
	int t = -1;

	assert_int_equal(agg_air_good_share(1, 8, &t), 0); /* 12.5% exactly */
	assert_int_equal(t, 125);
	assert_int_equal(agg_air_good_share(2, 3, &t), 0); /* 66.666...% */
	assert_int_equal(t, 667);
	assert_int_equal(agg_air_good_share(1, 3, &t), 0); /* 33.333...% */
	assert_int_equal(t, 333);
	assert_int_equal(agg_air_good_share(1, 16, &t), 0); /* 6.25%: tie, 62 even */
	assert_int_equal(t, 62);
	assert_int_equal(agg_air_good_share(3, 16, &t), 0); /* 18.75%: tie, 188 even */
	assert_int_equal(t, 188);
	assert_int_equal(agg_air_good_share(5, 16, &t), 0); /* 31.25%: tie, 312 even */
	assert_int_equal(t, 312);
	assert_int_equal(agg_air_good_share(303, 365, &t), 0); /* 83.0137% */
	assert_int_equal(t, 830);
	assert_int_equal(agg_air_good_share(0, 365, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(agg_air_good_share(366, 366, &t), 0);
	assert_int_equal(t, 1000);

	assert_int_equal(agg_air_good_share(0, 0, &t), ER_ENOENT);
	assert_int_equal(agg_air_good_share(4, 3, &t), ER_EINVAL);
	assert_int_equal(agg_air_good_share(-1, 3, &t), ER_EINVAL);
	assert_int_equal(agg_air_good_share(0, -3, &t), ER_EINVAL);
	assert_int_equal(agg_air_good_share(1, 3, NULL), ER_EINVAL);
}

/* The good-day share good / valid in percent as an exact agg_mean. */
static agg_mean share(int good, int valid)
{
	return (agg_mean){(int64_t)good * 100 * ER_FX_SCALE, valid};
}

static void test_target_level(void **state)
{
	(void)state;
	int lv = -1;
	const er_fx pm = UG(30), good = UG(83);

	/* PM2.5 annual mean <= 30: green to 30, yellow to 33, red above */
	assert_int_equal(agg_air_target_level((agg_mean){UG(30), 1}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_GREEN);
	assert_int_equal(agg_air_target_level((agg_mean){UG(90) + 1, 3}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW); /* 30.000000333 */
	assert_int_equal(agg_air_target_level((agg_mean){UG(99), 3}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW); /* 33 */
	assert_int_equal(agg_air_target_level((agg_mean){UG(99) + 1, 3}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_RED);
	assert_int_equal(agg_air_target_level((agg_mean){0, 1}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_GREEN);
	/* exact versus reported: 30.4 is over 30, its reported 30 is not */
	assert_int_equal(agg_air_target_level((agg_mean){30400000, 1}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW);
	assert_int_equal(agg_air_target_level((agg_mean){UG(30), 1}, AGG_AT_MOST, pm, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_GREEN);
	/* no yellow band */
	assert_int_equal(agg_air_target_level((agg_mean){UG(30) + 1, 1}, AGG_AT_MOST, pm, 0, &lv), 0);
	assert_int_equal(lv, AGG_RED);

	/* good days >= 83%: green from 83%, yellow from 83 x 0.9 = 74.7%, red below */
	assert_int_equal(agg_air_target_level(share(830, 1000), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_GREEN);
	assert_int_equal(agg_air_target_level(share(829, 1000), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW);
	assert_int_equal(agg_air_target_level(share(747, 1000), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW);
	assert_int_equal(agg_air_target_level(share(746, 1000), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_RED);
	/* 303 / 365 = 83.0137% green; 302 / 365 = 82.74% yellow */
	assert_int_equal(agg_air_target_level(share(303, 365), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_GREEN);
	assert_int_equal(agg_air_target_level(share(302, 365), AGG_AT_LEAST, good, MARGIN_10, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW);
	/* margin 0 and margin 100% */
	assert_int_equal(agg_air_target_level(share(829, 1000), AGG_AT_LEAST, good, 0, &lv), 0);
	assert_int_equal(lv, AGG_RED);
	assert_int_equal(agg_air_target_level(share(0, 1000), AGG_AT_LEAST, good, ER_FX_SCALE, &lv), 0);
	assert_int_equal(lv, AGG_YELLOW);

	assert_int_equal(agg_air_target_level((agg_mean){0, 0}, AGG_AT_MOST, pm, MARGIN_10, &lv), ER_ENOENT);
	assert_int_equal(agg_air_target_level((agg_mean){1, -1}, AGG_AT_MOST, pm, MARGIN_10, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, 0, pm, MARGIN_10, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, 3, pm, MARGIN_10, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, AGG_AT_MOST, -1, MARGIN_10, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, AGG_AT_MOST, pm, -1, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, AGG_AT_MOST, pm, ER_FX_SCALE + 1, &lv), ER_EINVAL);
	assert_int_equal(agg_air_target_level((agg_mean){1, 1}, AGG_AT_MOST, pm, MARGIN_10, NULL), ER_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hour_validity), cmocka_unit_test(test_mean_round),
	    cmocka_unit_test(test_daily_mean),    cmocka_unit_test(test_o3_8h),
	    cmocka_unit_test(test_mda8_validity), cmocka_unit_test(test_mda8_windows),
	    cmocka_unit_test(test_o3_max1h),      cmocka_unit_test(test_month_mean),
	    cmocka_unit_test(test_year_mean),     cmocka_unit_test(test_days_mean),
	    cmocka_unit_test(test_percentile),    cmocka_unit_test(test_good_share),
	    cmocka_unit_test(test_target_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
