/* test_meter.c: aggregate/meter.c (DOMAIN.md 3) through the real delta
 * table: readings are applied inside agg_core_enter/leave, the table is
 * swapped and drained, and the hourly samples are compared with values
 * worked out by hand. Hour numbers are local: the local hour that starts
 * at local 2026-03-01 00:00 is number 492312 at every offset, so
 * "H0 + 22" is local 22:00 that day wherever the city is. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "er.h"
#include "meter.h"
#include "registry.h"
#include "tutil.h"

#define UNIT ER_FX_SCALE
#define OFF_CN (8 * 3600)
#define OFF_NL (-(3 * 3600 + 1800))
#define OFF_IN (5 * 3600 + 1800)

#define T0 1772323200LL	   /* 2026-03-01T00:00:00Z */
#define H0 492312u	   /* local hour number of local 2026-03-01 00:00 */
#define MIN(m) ((m) * 60LL) /* minutes as seconds */
#define HR(h) ((h) * 3600LL)

/* Local 2026-03-01 00:00 at offset off, in UTC seconds. */
static int64_t local0(int off)
{
	return T0 - off;
}

/* ---- a core, a series, a drain ---- */

typedef struct row {
	uint32_t series, hour;
	agg_sample s;
} row;

typedef struct fixture {
	agg_core *core;
	row rows[256];
	size_t n;
	agg_meter_stats st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	agg_core_opts o = {.nworkers = 1, .slots = 4096};

	if (f == NULL || agg_core_new(&o, &f->core) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	agg_core_free(f->core);
	free(f);
	return 0;
}

static agg_series series(uint32_t idx, int mode, int32_t interval_s, double capacity, double max_per_hour)
{
	agg_series s;

	memset(&s, 0, sizeof s);
	s.h.kind = AGG_SERIES;
	s.h.key = 0x1000 + idx;
	s.idx = idx;
	s.mode = (uint8_t)mode;
	s.carrier = mode == AGG_INSTANT ? AGG_POWER : AGG_ELECTRICITY;
	s.interval_s = interval_s;
	s.capacity = (er_fx)(capacity * UNIT + 0.5);
	s.max_per_hour = (er_fx)(max_per_hour * UNIT + 0.5);
	s.code = "M-test";
	return s;
}

static int apply(fixture *f, agg_series *s, int64_t ts, er_fx v, int off)
{
	agg_delta *t = agg_core_enter(f->core, 0);
	int rc = agg_meter_apply(t, 0, s, ts, v, off, &f->st);
	agg_core_leave(f->core, 0);
	return rc;
}

static void on_row(void *ctx, uint64_t key, const agg_sample *s)
{
	fixture *f = ctx;
	uint32_t series = agg_key_series(key), hour = agg_key_hour(key);

	/* A key may come once from the table and once from a worker's
	 * spill list: merge them, as the store does. */
	for (size_t i = 0; i < f->n; i++) {
		if (f->rows[i].series == series && f->rows[i].hour == hour) {
			agg_sample_merge(&f->rows[i].s, s);
			return;
		}
	}
	assert_true(f->n < sizeof f->rows / sizeof f->rows[0]);
	f->rows[f->n].series = series;
	f->rows[f->n].hour = hour;
	f->rows[f->n].s = *s;
	f->n++;
}

static int row_cmp(const void *a, const void *b)
{
	const row *x = a, *y = b;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	return x->hour < y->hour ? -1 : x->hour > y->hour;
}

/* Swaps the active table out, drains it into f->rows sorted by (series,
 * hour), and recycles it. Returns the number of rows. */
static size_t drain(fixture *f)
{
	agg_delta *t = agg_core_swap(f->core);

	f->n = 0;
	agg_delta_drain(t, on_row, f);
	agg_core_recycle(f->core, t);
	qsort(f->rows, f->n, sizeof f->rows[0], row_cmp);
	return f->n;
}

static void expect_row(const row *r, uint32_t series, uint32_t hour, int64_t count, er_fx sum, uint32_t coverage,
		       uint32_t flags)
{
	if (r->series != series || r->hour != hour || r->s.count != count || r->s.sum != sum ||
	    r->s.coverage_s != coverage || r->s.flags != flags)
		fail_msg("row series %u hour H0%+d count %lld sum %lld cov %u flags %u; want series %u hour H0%+d "
			 "count %lld sum %lld cov %u flags %u",
			 r->series, (int)(r->hour - H0), (long long)r->s.count, (long long)r->s.sum, r->s.coverage_s,
			 r->s.flags, series, (int)(hour - H0), (long long)count, (long long)sum, coverage, flags);
}

/* ---- cumulative registers ---- */

static void count_events(void *ctx, int w, int type, const void *rec, size_t len)
{
	agg_rec_event *e = ctx;
	(void)w;
	if (type == AGG_REC_EVENT && len == sizeof *e)
		memcpy(e, rec, sizeof *e); /* the last one */
}

/* A registered replacement makes the step across it exact (DOMAIN.md 3):
 * (old final - last old reading) + (first new reading - new initial). */
static void test_replacement_exact(void **state)
{
	fixture *f = *state;
	agg_series s = series(9, AGG_CUMULATIVE, 900, 0, 0);
	agg_replacement *r = calloc(1, sizeof *r);
	agg_rec_event ev = {0};

	r->ts = T0 + HR(8) + MIN(20);
	r->old_final = 1015 * UNIT;
	r->new_initial = 2 * UNIT;
	r->event_id = 77;
	agg_series_add_replacement(&s, r);
	assert_int_equal(apply(f, &s, T0 + HR(8), 1000 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(15), 1010 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(30), 7 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.resets, 0);
	/* the event says which replacement applied, with the amount */
	agg_delta *t = agg_core_swap(f->core);
	agg_delta_logs(t, count_events, &ev);
	f->n = 0;
	agg_delta_drain(t, on_row, f);
	agg_core_recycle(f->core, t);
	assert_int_equal(f->n, 1);
	/* 10 + (1015 - 1010) + (7 - 2) = 20, in the 08 hour */
	expect_row(&f->rows[0], 9, H0 + 8, 2, 20 * UNIT, 1800, 0);
	assert_int_equal(ev.type, 3);
	assert_int_equal(ev.ref, 77);
	assert_int_equal(ev.amount, 10 * UNIT);
	/* A replacement the readings contradict (new reading below the new
	 * register's start) is not applied: the step is a reset. */
	agg_series b = series(10, AGG_CUMULATIVE, 900, 0, 0);
	agg_replacement *r2 = calloc(1, sizeof *r2);
	r2->ts = T0 + HR(9) + MIN(5);
	r2->old_final = 510 * UNIT;
	r2->new_initial = 50 * UNIT;
	agg_series_add_replacement(&b, r2);
	assert_int_equal(apply(f, &b, T0 + HR(9), 500 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &b, T0 + HR(9) + MIN(15), 40 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.resets, 1);
	assert_int_equal(drain(f), 0);
	free(r);
	free(r2);
}

static void test_first_reading_is_baseline(void **state)
{
	fixture *f = *state;
	agg_series s = series(3, AGG_CUMULATIVE, 900, 0, 0);

	assert_int_equal(apply(f, &s, T0 + HR(8), 1234 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(s.cur.ts, T0 + HR(8));
	assert_int_equal(s.cur.value, 1234 * UNIT);
	assert_int_equal(drain(f), 0);
	/* a zero baseline is a baseline too */
	agg_series z = series(4, AGG_CUMULATIVE, 900, 0, 0);
	assert_int_equal(apply(f, &z, T0 + HR(8), 0, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &z, T0 + HR(8) + MIN(15), 2 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 4, H0 + 8, 1, 2 * UNIT, 900, 0);
}

static void test_split_across_hours(void **state)
{
	/* 07:45 -> 08:15 UTC at offset 0, 30 kWh: 15 + 15, 900 s each; the
	 * reading counts in the hour it closes (08). interval_s 1800, so the
	 * span is not a gap. */
	fixture *f = *state;
	agg_series s = series(5, AGG_CUMULATIVE, 1800, 0, 0);

	assert_int_equal(apply(f, &s, T0 + HR(7) + MIN(45), 1000 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(15), 1030 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 2);
	expect_row(&f->rows[0], 5, H0 + 7, 0, 15 * UNIT, 900, 0);
	expect_row(&f->rows[1], 5, H0 + 8, 1, 15 * UNIT, 900, 0);
	assert_int_equal(f->rows[1].s.min, 15 * UNIT);
	assert_int_equal(f->rows[1].s.max, 15 * UNIT);
	assert_int_equal(f->st.gaps, 0);
	assert_int_equal(s.cur.ts, T0 + HR(8) + MIN(15));
	assert_int_equal(s.cur.value, 1030 * UNIT);

	/* the next 15 minutes stay in hour 08 */
	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(30), 1031500000, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 5, H0 + 8, 1, 1500000, 900, 0);
}

static void test_gap_across_midnight(void **state)
{
	/* +08:00, local 22:15 -> 01:45 next day, 35 kWh over 3.5 h:
	 *   22:15-23:00 2700 s  35 * 2700/12600 = 7.5
	 *   23:00-00:00 3600 s  10 (estimated)
	 *   00:00-01:00 3600 s  10 (estimated)
	 *   01:00-01:45 2700 s  7.5, counts the reading
	 * Four hour buckets; the two in the middle hold no reading. */
	fixture *f = *state;
	agg_series s = series(6, AGG_CUMULATIVE, 900, 0, 0);
	int64_t l0 = local0(OFF_CN);

	assert_int_equal(apply(f, &s, l0 + HR(22) + MIN(15), 5000 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(apply(f, &s, l0 + HR(25) + MIN(45), 5035 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(drain(f), 4);
	expect_row(&f->rows[0], 6, H0 + 22, 0, 7500000, 2700, 0);
	expect_row(&f->rows[1], 6, H0 + 23, 0, 10 * UNIT, 3600, AGG_FLAG_ESTIMATED);
	expect_row(&f->rows[2], 6, H0 + 24, 0, 10 * UNIT, 3600, AGG_FLAG_ESTIMATED);
	expect_row(&f->rows[3], 6, H0 + 25, 1, 7500000, 2700, 0);
	assert_int_equal(f->st.gaps, 1);
	/* the same local hours in UTC: 22:15+08:00 is 14:15Z */
	assert_int_equal(agg_hour_of(T0 + HR(14) + MIN(15), OFF_CN), H0 + 22);
}

static void test_gap_on_hour_boundaries_estimated(void **state)
{
	/* An hourly meter read on the hour misses two readings: 22:00 ->
	 * 01:00 local. Each of the three hours 22, 23 and 00 is covered only
	 * by the apportioned gap (DOMAIN.md 3: "Hours covered only by such an
	 * apportioned gap are marked estimated"), and none holds a reading of
	 * its own: the 22:00 reading closes hour 21, the 01:00 reading is the
	 * gap's end. Hour 23 alone is flagged today: agg_apportion tests
	 * t0 < hs && t1 > he, which misses hours the span covers exactly
	 * from their start or to their end. */
	fixture *f = *state;
	agg_series s = series(7, AGG_CUMULATIVE, 3600, 0, 0);
	int64_t l0 = local0(OFF_CN);

	assert_int_equal(apply(f, &s, l0 + HR(22), 100 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(apply(f, &s, l0 + HR(25), 130 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(f->st.gaps, 1);
	assert_int_equal(drain(f), 3);
	expect_row(&f->rows[0], 7, H0 + 22, 0, 10 * UNIT, 3600, AGG_FLAG_ESTIMATED);
	expect_row(&f->rows[1], 7, H0 + 23, 0, 10 * UNIT, 3600, AGG_FLAG_ESTIMATED);
	expect_row(&f->rows[2], 7, H0 + 24, 1, 10 * UNIT, 3600, AGG_FLAG_ESTIMATED);
}

static void test_parts_exact(void **state)
{
	fixture *f = *state;
	agg_series a = series(8, AGG_CUMULATIVE, 3600, 0, 0);
	agg_series b = series(9, AGG_CUMULATIVE, 3600, 0, 0);
	agg_series c = series(10, AGG_CUMULATIVE, 900, 0, 0);
	static const er_fx seven[7] = {1428571, 1428571, 1428572, 1428571, 1428572, 1428571, 1428572};
	static const er_fx awk[4] = {263158, 315789, 315790, 105264};
	static const uint32_t awk_cov[4] = {3000, 3600, 3600, 1200};
	er_fx sum = 0;

	/* 1 micro-unit over 3 whole hours: floors give 0, 0, 1 */
	assert_int_equal(apply(f, &a, T0, 0, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &a, T0 + HR(3), 1, 0), AGG_APPLIED);
	/* 10 units over 7 whole hours: floor(10e6 k / 7) differences */
	assert_int_equal(apply(f, &b, T0 + HR(10), 50 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &b, T0 + HR(17), 60 * UNIT, 0), AGG_APPLIED);
	/* 1.000001 units from local 22:10 to 01:20 at -03:30 (11400 s) */
	assert_int_equal(apply(f, &c, local0(OFF_NL) + HR(22) + MIN(10), 7 * UNIT, OFF_NL), AGG_APPLIED);
	assert_int_equal(apply(f, &c, local0(OFF_NL) + HR(25) + MIN(20), 8 * UNIT + 1, OFF_NL), AGG_APPLIED);

	assert_int_equal(drain(f), 3 + 7 + 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->rows[i].hour, H0 + (uint32_t)i);
	assert_int_equal(f->rows[0].s.sum, 0);
	assert_int_equal(f->rows[1].s.sum, 0);
	assert_int_equal(f->rows[2].s.sum, 1);
	assert_int_equal(f->rows[2].s.count, 1);
	for (int i = 0; i < 7; i++) {
		const row *r = &f->rows[3 + i];
		expect_row(r, 9, H0 + 10 + (uint32_t)i, i == 6, seven[i], 3600, r->s.flags);
		sum += r->s.sum;
	}
	assert_int_equal(sum, 10 * UNIT);
	sum = 0;
	for (int i = 0; i < 4; i++) {
		const row *r = &f->rows[10 + i];
		expect_row(r, 10, H0 + 22 + (uint32_t)i, i == 3, awk[i], awk_cov[i],
			   i == 1 || i == 2 ? AGG_FLAG_ESTIMATED : 0);
		sum += r->s.sum;
	}
	assert_int_equal(sum, UNIT + 1);
}

/* splitmix64 with a fixed seed: reproducible spans and amounts */
static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t next_rand(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_apportion_property(void **state)
{
	/* For random spans (1 s to 30 h, any alignment, three offsets) and
	 * amounts (1 micro-unit to 10^7 units): the parts add up to the
	 * amount exactly, the coverage to the span, exactly one hour counts
	 * the reading, and every part is within one micro-unit of its exact
	 * proportional share (|part * span - amount * cov| < span). */
	static const int offs[] = {OFF_CN, OFF_NL, OFF_IN};
	fixture *f = *state;

	for (int iter = 0; iter < 300; iter++) {
		int off = offs[iter % 3];
		int64_t t0 = T0 + (int64_t)(next_rand() % (86400 * 30));
		int64_t span = 1 + (int64_t)(next_rand() % (30 * 3600));
		er_fx amount = 1 + (er_fx)(next_rand() % (10000000ULL * UNIT));
		er_fx total = 0;
		int64_t cov = 0, count = 0;
		uint32_t series_idx = (uint32_t)iter;

		agg_delta *t = agg_core_enter(f->core, 0);
		agg_apportion(t, 0, series_idx, t0, t0 + span, amount, off, AGG_FLAG_ESTIMATED);
		agg_core_leave(f->core, 0);
		size_t n = drain(f);
		assert_int_equal(n, agg_hour_of(t0 + span - 1, off) - agg_hour_of(t0, off) + 1);
		for (size_t i = 0; i < n; i++) {
			const row *r = &f->rows[i];
			__int128 err = (__int128)r->s.sum * span - (__int128)amount * r->s.coverage_s;
			assert_int_equal(r->series, series_idx);
			assert_int_equal(r->hour, agg_hour_of(t0, off) + i);
			assert_true(r->s.sum >= 0);
			assert_true(err > -(__int128)span && err < (__int128)span);
			total += r->s.sum;
			cov += r->s.coverage_s;
			count += r->s.count;
		}
		assert_int_equal(total, amount);
		assert_int_equal(cov, span);
		assert_int_equal(count, 1);
		assert_int_equal(f->rows[n - 1].s.count, 1);
	}
}

static void test_rollover(void **state)
{
	/* capacity 999999: 999990 -> 5 wraps: (999999 - 999990) + 5 = 14 */
	fixture *f = *state;
	agg_series s = series(11, AGG_CUMULATIVE, 900, 999999, 0);

	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(5), 999990 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(20), 5 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.rollovers, 1);
	assert_int_equal(f->st.resets, 0);
	assert_int_equal(s.cur.value, 5 * UNIT);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 11, H0 + 10, 1, 14 * UNIT, 900, 0);

	/* exactly 90% of capacity (899999.1) still counts as the top 10% */
	agg_series b = series(12, AGG_CUMULATIVE, 900, 999999, 0);
	assert_int_equal(apply(f, &b, T0 + HR(10) + MIN(5), 899999100000LL, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &b, T0 + HR(10) + MIN(20), 2 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.rollovers, 2);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 12, H0 + 10, 1, 100001900000LL, 900, 0); /* 100001.9 */
}

static void test_reset(void **state)
{
	/* 500000 of 999999 is below 90%: a reset. The step adds 0 and 5 is
	 * the new baseline; the next step counts from it. */
	fixture *f = *state;
	agg_series s = series(13, AGG_CUMULATIVE, 900, 999999, 0);
	agg_series n = series(14, AGG_CUMULATIVE, 900, 0, 0); /* no capacity: any decrease resets */

	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(5), 500000 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(20), 5 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.resets, 1);
	assert_int_equal(f->st.rollovers, 0);
	assert_int_equal(s.cur.ts, T0 + HR(10) + MIN(20));
	assert_int_equal(s.cur.value, 5 * UNIT);
	assert_int_equal(drain(f), 0);
	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(35), 8 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 13, H0 + 10, 1, 3 * UNIT, 900, 0);

	/* just below 90% (899999 * 10 < 999999 * 9): a reset, not a wrap */
	agg_series b = series(30, AGG_CUMULATIVE, 900, 999999, 0);
	assert_int_equal(apply(f, &b, T0 + HR(10) + MIN(5), 899999 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &b, T0 + HR(10) + MIN(20), 1 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.resets, 2);
	assert_int_equal(f->st.rollovers, 0);
	assert_int_equal(drain(f), 0);

	assert_int_equal(apply(f, &n, T0 + HR(10) + MIN(5), 999990 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &n, T0 + HR(10) + MIN(20), 5 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.resets, 3);
	assert_int_equal(f->st.rollovers, 0);
	assert_int_equal(drain(f), 0);
}

static void test_rollover_register_above_capacity(void **state)
{
	/* A register reading above its declared capacity (1000005 on a
	 * 999999 register: misconfigured capacity or a replaced meter) and
	 * then a drop to 5. The previous reading is not "within the top 10%
	 * of max" (DOMAIN.md 3), it is beyond max, so the drop is a reset:
	 * the step adds 0. Treating it as a rollover gives
	 * (999999 - 1000005) + 5 = -1: a negative amount of energy. */
	fixture *f = *state;
	agg_series s = series(15, AGG_CUMULATIVE, 900, 999999, 0);

	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(5), 1000005 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(10) + MIN(20), 5 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(s.cur.value, 5 * UNIT);
	size_t n = drain(f);
	for (size_t i = 0; i < n; i++)
		if (f->rows[i].s.sum < 0)
			fail_msg("hour H0%+d got a negative amount %lld", (int)(f->rows[i].hour - H0),
				 (long long)f->rows[i].s.sum);
	assert_int_equal(n, 0);
	assert_int_equal(f->st.rollovers, 0);
	assert_int_equal(f->st.resets, 1);
}

static void test_spike_guard(void **state)
{
	/* max_per_hour 100: 250 in one hour is quarantined, the register
	 * moves on, and the next normal step counts from the new value. */
	fixture *f = *state;
	agg_series s = series(16, AGG_CUMULATIVE, 3600, 0, 100);

	assert_int_equal(apply(f, &s, T0 + HR(10), 1000 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, T0 + HR(11), 1250 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.spikes, 1);
	assert_int_equal(s.cur.ts, T0 + HR(11));
	assert_int_equal(s.cur.value, 1250 * UNIT);
	assert_int_equal(drain(f), 0);

	/* exactly the limit is allowed */
	assert_int_equal(apply(f, &s, T0 + HR(12), 1350 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.spikes, 1);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 16, H0 + 11, 1, 100 * UNIT, 3600, 0);

	/* the limit scales with the span: 250 over 3 hours is fine (a gap,
	 * so the middle hour is estimated) */
	assert_int_equal(apply(f, &s, T0 + HR(15), 1600 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.spikes, 1);
	assert_int_equal(drain(f), 3);
	expect_row(&f->rows[0], 16, H0 + 12, 0, 83333333, 3600, f->rows[0].s.flags);
	expect_row(&f->rows[1], 16, H0 + 13, 0, 83333333, 3600, AGG_FLAG_ESTIMATED);
	expect_row(&f->rows[2], 16, H0 + 14, 1, 83333334, 3600, f->rows[2].s.flags);

	/* limit 400/h on a 15-minute meter: 100 in 15 minutes is exactly the
	 * limit and counts; 100.000001 in the next 15 minutes is a spike */
	agg_series q = series(17, AGG_CUMULATIVE, 900, 0, 400);
	assert_int_equal(apply(f, &q, T0 + HR(10), 0, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &q, T0 + HR(10) + MIN(15), 100 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(f->st.spikes, 1);
	assert_int_equal(apply(f, &q, T0 + HR(10) + MIN(30), 200 * UNIT + 1, 0), AGG_APPLIED);
	assert_int_equal(f->st.spikes, 2);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 17, H0 + 10, 1, 100 * UNIT, 900, 0);
}

static void test_duplicates_and_rejects(void **state)
{
	fixture *f = *state;
	agg_series s = series(18, AGG_CUMULATIVE, 900, 0, 0);
	int64_t t = T0 + HR(9);

	/* a negative register is rejected, even as the first reading */
	assert_int_equal(apply(f, &s, t, -1, 0), AGG_REJ_NEGATIVE);
	assert_int_equal(s.cur.ts, 0);
	assert_int_equal(apply(f, &s, t, 40 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &s, t + MIN(15), 42 * UNIT, 0), AGG_APPLIED);
	/* same ts and value: a duplicate, dropped */
	assert_int_equal(apply(f, &s, t + MIN(15), 42 * UNIT, 0), AGG_DUPLICATE);
	/* same ts, other value: out of order */
	assert_int_equal(apply(f, &s, t + MIN(15), 43 * UNIT, 0), AGG_REJ_OUT_OF_ORDER);
	/* older ts, with either value */
	assert_int_equal(apply(f, &s, t + MIN(5), 41 * UNIT, 0), AGG_REJ_OUT_OF_ORDER);
	assert_int_equal(apply(f, &s, t, 40 * UNIT, 0), AGG_REJ_OUT_OF_ORDER);
	assert_int_equal(apply(f, &s, t + MIN(30), -5, 0), AGG_REJ_NEGATIVE);
	/* none of them moved the cursor or added anything */
	assert_int_equal(s.cur.ts, t + MIN(15));
	assert_int_equal(s.cur.value, 42 * UNIT);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 18, H0 + 9, 1, 2 * UNIT, 900, 0);
	assert_int_equal(f->st.resets + f->st.spikes + f->st.rollovers, 0);
}

/* ---- interval and instant ---- */

static void test_interval_meter(void **state)
{
	/* interval_s 900: the amount covers (ts - 900, ts] and lands in the
	 * hour of ts - 1; readings may come late and in any order. */
	fixture *f = *state;
	agg_series s = series(19, AGG_INTERVAL, 900, 0, 0);

	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(15), 2500000, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 19, H0 + 8, 1, 2500000, 900, 0);

	/* ts exactly on the hour: the hour before */
	assert_int_equal(apply(f, &s, T0 + HR(8), 1 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 19, H0 + 7, 1, 1 * UNIT, 900, 0);

	/* straddling 08:00: 07:55-08:10, 9 units split 300:600 */
	assert_int_equal(apply(f, &s, T0 + HR(8) + MIN(10), 9 * UNIT, 0), AGG_APPLIED);
	/* and an older one after it, merged into its own hour */
	assert_int_equal(apply(f, &s, T0 + HR(6) + MIN(45), 4 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 3);
	expect_row(&f->rows[0], 19, H0 + 6, 1, 4 * UNIT, 900, 0);
	expect_row(&f->rows[1], 19, H0 + 7, 0, 3 * UNIT, 300, 0);
	expect_row(&f->rows[2], 19, H0 + 8, 1, 6 * UNIT, 600, 0);
	assert_int_equal(s.cur.ts, 0); /* interval meters keep no cursor */

	/* four quarters of one hour add up, at +05:30 where hours start at :30Z */
	agg_series q = series(20, AGG_INTERVAL, 900, 0, 0);
	for (int k = 1; k <= 4; k++)
		assert_int_equal(apply(f, &q, T0 + HR(7) + MIN(30) + MIN(15 * k), k * UNIT, OFF_IN), AGG_APPLIED);
	assert_int_equal(drain(f), 1);
	expect_row(&f->rows[0], 20, H0 + 13, 4, 10 * UNIT, 3600, 0); /* local 13:00-14:00 */
}

static void test_instant_meter(void **state)
{
	fixture *f = *state;
	agg_series p = series(21, AGG_INSTANT, 900, 0, 0);
	agg_series st = series(22, AGG_INSTANT, 3600, 0, 0);
	agg_series slow = series(23, AGG_INSTANT, 7200, 0, 0);

	assert_int_equal(apply(f, &p, T0 + HR(10) + MIN(15), 50 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &p, T0 + HR(10) + MIN(30), 70 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &p, T0 + HR(10) + MIN(45), 40500000, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &p, T0 + HR(11), 60 * UNIT, 0), AGG_APPLIED); /* closes hour 10 */
	assert_int_equal(apply(f, &p, T0 + HR(11) + 1, -3 * UNIT, 0), AGG_APPLIED); /* levels may be negative */
	assert_int_equal(apply(f, &st, T0 + HR(11), 35 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(apply(f, &slow, T0 + HR(11), 1 * UNIT, 0), AGG_APPLIED);
	assert_int_equal(drain(f), 4);
	expect_row(&f->rows[0], 21, H0 + 10, 4, 220500000, 3600, 0);
	assert_int_equal(f->rows[0].s.min, 40500000);
	assert_int_equal(f->rows[0].s.max, 70 * UNIT);
	expect_row(&f->rows[1], 21, H0 + 11, 1, -3 * UNIT, 900, 0);
	assert_int_equal(f->rows[1].s.min, -3 * UNIT);
	assert_int_equal(f->rows[1].s.max, -3 * UNIT);
	expect_row(&f->rows[2], 22, H0 + 10, 1, 35 * UNIT, 3600, 0);
	expect_row(&f->rows[3], 23, H0 + 10, 1, 1 * UNIT, 3600, 0); /* coverage capped at the hour */
	assert_int_equal(p.cur.ts, 0);
}

static void test_half_hour_offsets(void **state)
{
	/* 07:45Z -> 08:15Z, 30 units: one local hour at +05:30 (13:15 ->
	 * 13:45) and at -03:30 (04:15 -> 04:45), two at +08:00 (15:45 ->
	 * 16:15). */
	fixture *f = *state;
	agg_series in = series(24, AGG_CUMULATIVE, 1800, 0, 0);
	agg_series nl = series(25, AGG_CUMULATIVE, 1800, 0, 0);
	agg_series cn = series(26, AGG_CUMULATIVE, 1800, 0, 0);
	agg_series in2 = series(27, AGG_CUMULATIVE, 1800, 0, 0);
	agg_series inst = series(28, AGG_INSTANT, 900, 0, 0);

	assert_int_equal(apply(f, &in, T0 + HR(7) + MIN(45), 0, OFF_IN), AGG_APPLIED);
	assert_int_equal(apply(f, &in, T0 + HR(8) + MIN(15), 30 * UNIT, OFF_IN), AGG_APPLIED);
	assert_int_equal(apply(f, &nl, T0 + HR(7) + MIN(45), 0, OFF_NL), AGG_APPLIED);
	assert_int_equal(apply(f, &nl, T0 + HR(8) + MIN(15), 30 * UNIT, OFF_NL), AGG_APPLIED);
	assert_int_equal(apply(f, &cn, T0 + HR(7) + MIN(45), 0, OFF_CN), AGG_APPLIED);
	assert_int_equal(apply(f, &cn, T0 + HR(8) + MIN(15), 30 * UNIT, OFF_CN), AGG_APPLIED);
	/* 08:15Z -> 08:45Z at +05:30 crosses local 14:00 (08:30Z) */
	assert_int_equal(apply(f, &in2, T0 + HR(8) + MIN(15), 0, OFF_IN), AGG_APPLIED);
	assert_int_equal(apply(f, &in2, T0 + HR(8) + MIN(45), 30 * UNIT, OFF_IN), AGG_APPLIED);
	/* an instant level at 08:30Z closes local 13:00-14:00 at +05:30 */
	assert_int_equal(apply(f, &inst, T0 + HR(8) + MIN(30), 9 * UNIT, OFF_IN), AGG_APPLIED);

	assert_int_equal(drain(f), 7);
	expect_row(&f->rows[0], 24, H0 + 13, 1, 30 * UNIT, 1800, 0);
	expect_row(&f->rows[1], 25, H0 + 4, 1, 30 * UNIT, 1800, 0);
	expect_row(&f->rows[2], 26, H0 + 15, 0, 15 * UNIT, 900, 0);
	expect_row(&f->rows[3], 26, H0 + 16, 1, 15 * UNIT, 900, 0);
	expect_row(&f->rows[4], 27, H0 + 13, 0, 15 * UNIT, 900, 0);
	expect_row(&f->rows[5], 27, H0 + 14, 1, 15 * UNIT, 900, 0);
	expect_row(&f->rows[6], 28, H0 + 13, 1, 9 * UNIT, 900, 0);
}

static void test_hour_of(void **state)
{
	(void)state;
	assert_int_equal(agg_hour_of(T0, 0), H0);
	assert_int_equal(agg_hour_of(T0 - 1, 0), H0 - 1);
	assert_int_equal(agg_hour_of(local0(OFF_IN), OFF_IN), H0);
	assert_int_equal(agg_hour_of(local0(OFF_IN) - 1, OFF_IN), H0 - 1);
	assert_int_equal(agg_hour_of(local0(OFF_NL) + HR(1) - 1, OFF_NL), H0);
	/* before the epoch the hour number floors (stored as uint32) */
	assert_int_equal(agg_hour_of(-1, 0), UINT32_MAX);
	assert_int_equal(agg_hour_of(-3600, 0), UINT32_MAX);
	assert_int_equal(agg_hour_of(-3601, 0), UINT32_MAX - 1);
}

static void test_meters_from_registry(void **state)
{
	/* The same rules on series imported from CSV: the sample city's
	 * rollover demonstration row, with its capacity and spike limit. */
	fixture *f = *state;
	agg_registry *r;
	agg_import_result res;
	agg_import imp = {{"code,name\nD01,One\n", "code,name,district,industry\nE0106,Food,D01,C13\n",
			   "code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n"
			   "M-E0106-EL02,E0106,electricity,kWh,cumulative,999999,200,fuel,900\n",
			   NULL},
			  {"d", "e", "m", "s"}};

	assert_int_equal(agg_registry_new(NULL, &r), 0);
	assert_int_equal(agg_registry_import(r, &imp, NULL, NULL, &res), 0);
	agg_import_result_fini(&res);
	agg_series *m = agg_registry_series(r, er_key("M-E0106-EL02", 12));
	assert_non_null(m);
	int64_t l0 = local0(OFF_CN);
	/* 999950 -> 20 wraps: 69 kWh in 30 min (138/h, under the limit),
	 * split 600:1200 s across local 10:00 */
	assert_int_equal(apply(f, m, l0 + HR(9) + MIN(50), 999950 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(apply(f, m, l0 + HR(10) + MIN(20), 20 * UNIT, OFF_CN), AGG_APPLIED);
	/* 69 kWh in the next 15 min is 276/h: over the 200/h limit */
	assert_int_equal(apply(f, m, l0 + HR(10) + MIN(35), 89 * UNIT, OFF_CN), AGG_APPLIED);
	assert_int_equal(f->st.rollovers, 1);
	assert_int_equal(f->st.spikes, 1);
	assert_int_equal(m->cur.value, 89 * UNIT);
	assert_int_equal(drain(f), 2);
	expect_row(&f->rows[0], m->idx, H0 + 9, 0, 23 * UNIT, 600, 0);
	expect_row(&f->rows[1], m->idx, H0 + 10, 1, 46 * UNIT, 1200, 0);
	agg_registry_free(r);
}

static void test_drain_clears(void **state)
{
	/* A drained, recycled table comes back empty; both tables of the
	 * core take turns. */
	fixture *f = *state;
	agg_series s = series(29, AGG_INSTANT, 900, 0, 0);

	for (int round = 0; round < 4; round++) {
		assert_int_equal(apply(f, &s, T0 + HR(round) + MIN(10), (round + 1) * UNIT, 0), AGG_APPLIED);
		assert_int_equal(drain(f), 1);
		expect_row(&f->rows[0], 29, H0 + (uint32_t)round, 1, (round + 1) * UNIT, 900, 0);
		assert_int_equal(f->rows[0].s.min, (round + 1) * UNIT);
	}
	assert_int_equal(drain(f), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replacement_exact, setup, teardown),
		T(test_first_reading_is_baseline),
		T(test_split_across_hours),
		T(test_gap_across_midnight),
		T(test_gap_on_hour_boundaries_estimated),
		T(test_parts_exact),
		T(test_apportion_property),
		T(test_rollover),
		T(test_reset),
		T(test_rollover_register_above_capacity),
		T(test_spike_guard),
		T(test_duplicates_and_rejects),
		T(test_interval_meter),
		T(test_instant_meter),
		T(test_half_hour_offsets),
		T(test_hour_of),
		T(test_meters_from_registry),
		T(test_drain_clears),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
