/* test_store.c: store/store.c on a real LMDB environment in a fresh
 * temporary directory: the key layout and its byte order, rollup merges
 * and scans, senders, cursors and registry rows, reopening (with the
 * database's UTC offset and city enforced), and growing a full map. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "er.h"
#include "store.h"
#include "tutil.h"

#define OFF_CN (8 * 3600)
#define T0 1772323200LL /* 2026-03-01T00:00:00Z */

/* ---- helpers ---- */

static sto_env *open_env(const char *dir, uint64_t map_size, int off, const char *city)
{
	sto_opts o = {.dir = dir, .map_size = map_size, .sync = false, .utc_offset_s = off, .city = city};
	sto_env *env = NULL;
	char err[512];
	int rc = sto_open(&o, &env, err, sizeof err);

	if (rc != 0)
		fail_msg("sto_open(%s): %d %s", dir, rc, err);
	return env;
}

static sto_key key(int level, uint64_t entity, uint16_t metric, int res, int64_t start)
{
	sto_key k;
	memset(&k, 0, sizeof k);
	k.level = (uint8_t)level;
	k.entity = entity;
	k.metric = metric;
	k.res = (uint8_t)res;
	k.start = start;
	return k;
}

static sto_val val(int64_t count, er_fx sum, er_fx min, er_fx max, uint64_t cov, uint32_t flags, uint32_t members)
{
	sto_val v;
	memset(&v, 0, sizeof v);
	v.count = count;
	v.sum = sum;
	v.min = min;
	v.max = max;
	v.coverage_s = cov;
	v.flags = flags;
	v.members = members;
	return v;
}

static void assert_val(const sto_val *v, int64_t count, er_fx sum, er_fx min, er_fx max, uint64_t cov,
		       uint32_t flags, uint32_t members)
{
	assert_int_equal(v->count, count);
	assert_int_equal(v->sum, sum);
	assert_int_equal(v->min, min);
	assert_int_equal(v->max, max);
	assert_int_equal(v->coverage_s, cov);
	assert_int_equal(v->flags, flags);
	assert_int_equal(v->members, members);
}

static void merge1(sto_txn *t, sto_key k, sto_val d)
{
	bool existed;
	sto_val now;
	assert_int_equal(sto_rollup_merge(t, &k, &d, &existed, &now), 0);
}

/* ---- keys and values ---- */

static void test_key_layout(void **state)
{
	static const uint8_t want[STO_KEY_LEN] = {
		2,				/* level */
		3,				/* resolution */
		0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xcf, 0xc7, /* start: -12345 ^ 2^63 */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* entity, big-endian */
		0x01, 0x05,			/* metric: gas | feedstock << 8 */
	};
	sto_key k = key(STO_ENTERPRISE, 0x0123456789abcdefULL, sto_metric(5, 1), ER_RES_MONTH, -12345), back;
	uint8_t b[STO_KEY_LEN];
	(void)state;

	assert_int_equal(sto_metric(5, 1), 0x105);
	sto_key_encode(&k, b);
	assert_memory_equal(b, want, STO_KEY_LEN);
	memset(&back, 0xaa, sizeof back);
	sto_key_decode(b, &back);
	assert_int_equal(back.level, 2);
	assert_true(back.entity == 0x0123456789abcdefULL);
	assert_int_equal(back.metric, 0x105);
	assert_int_equal(back.res, 3);
	assert_int_equal(back.start, -12345);

	/* extremes survive the round trip */
	static const int64_t starts[] = {INT64_MIN, -1, 0, 1, T0, INT64_MAX};
	for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
		k = key(STO_CITY, UINT64_MAX, 0xffff, ER_RES_YEAR, starts[i]);
		sto_key_encode(&k, b);
		sto_key_decode(b, &back);
		assert_int_equal(back.start, starts[i]);
		assert_true(back.entity == UINT64_MAX);
		assert_int_equal(back.metric, 0xffff);
	}
	k = key(STO_METER, 1, 1, ER_RES_HOUR, 0);
	sto_key_encode(&k, b);
	assert_int_equal(b[2], 0x80); /* start 0 is the middle of the range */
}

static void test_key_order(void **state)
{
	static const int64_t starts[] = {INT64_MIN, -86400, -3600, -1, 0, 1, 3600, T0, T0 + 3600, INT64_MAX};
	(void)state;

	/* time order within an entity, metric and resolution, negatives first */
	for (size_t i = 0; i + 1 < sizeof starts / sizeof starts[0]; i++) {
		sto_key a = key(STO_METER, 7, 1, ER_RES_HOUR, starts[i]);
		sto_key b = key(STO_METER, 7, 1, ER_RES_HOUR, starts[i + 1]);
		uint8_t x[STO_KEY_LEN], y[STO_KEY_LEN];
		assert_true(sto_key_cmp(&a, &b) < 0);
		assert_true(sto_key_cmp(&b, &a) > 0);
		sto_key_encode(&a, x);
		sto_key_encode(&b, y);
		assert_true(memcmp(x, y, STO_KEY_LEN) < 0);
	}
	sto_key a = key(STO_METER, 7, 1, ER_RES_HOUR, T0);
	sto_key b = a;
	assert_int_equal(sto_key_cmp(&a, &b), 0);
	/* the fields sort in order: level, resolution, start, entity, metric */
	b = key(STO_METER, 7, 2, ER_RES_HOUR, T0);
	assert_true(sto_key_cmp(&a, &b) < 0);
	b = key(STO_METER, 6, 0xffff, ER_RES_HOUR, T0 + 3600); /* time before the entity */
	assert_true(sto_key_cmp(&a, &b) < 0);
	b = key(STO_METER, 0, 0, ER_RES_DAY, INT64_MIN); /* resolution before time */
	assert_true(sto_key_cmp(&a, &b) < 0);
	a = key(STO_METER, 7, 0x00ff, ER_RES_HOUR, T0);
	b = key(STO_METER, 7, 0x0100, ER_RES_HOUR, T0); /* metric compares as a 16-bit number */
	assert_true(sto_key_cmp(&a, &b) < 0);
	a = key(STO_METER, 0x00000000000000ffULL, 0xffff, ER_RES_HOUR, T0);
	b = key(STO_METER, 0x0000000000000100ULL, 0, ER_RES_HOUR, T0); /* entity as a 64-bit number */
	assert_true(sto_key_cmp(&a, &b) < 0);
	a = key(STO_METER, UINT64_MAX, 0xffff, ER_RES_YEAR, INT64_MAX);
	b = key(STO_ENTERPRISE, 0, 0, 0, INT64_MIN);
	assert_true(sto_key_cmp(&a, &b) < 0);
}

static void test_val_zero_merge(void **state)
{
	sto_val v, d;
	(void)state;

	sto_val_zero(&v);
	assert_val(&v, 0, 0, INT64_MAX, INT64_MIN, 0, 0, 0);
	d = val(2, 5000000, 1000000, 4000000, 900, 0, 1);
	sto_val_merge(&v, &d);
	assert_val(&v, 2, 5000000, 1000000, 4000000, 900, 0, 1);
	d = val(1, -2000000, -2000000, -2000000, 600, 1, 1);
	sto_val_merge(&v, &d);
	assert_val(&v, 3, 3000000, -2000000, 4000000, 1500, 1, 2);
	assert_string_equal(sto_level_name(STO_DISTRICT), "district");
	assert_string_equal(sto_level_name(9), "?");
	assert_int_equal(sto_level_parse("station"), STO_STATION);
	assert_int_equal(sto_level_parse("town"), 0);
}

/* ---- rollups ---- */

static void test_rollup_merge(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, OFF_CN, "sample");
	sto_txn *t;
	sto_key k = key(STO_ENTERPRISE, 0xe0106, sto_metric(1, 0), ER_RES_HOUR, T0);
	sto_val d, now, got;
	bool existed = true;
	(void)state;

	assert_int_equal(sto_write_begin(env, &t), 0);
	d = val(2, 5000000, 1000000, 4000000, 900, 0, 1);
	assert_int_equal(sto_rollup_merge(t, &k, &d, &existed, &now), 0);
	assert_false(existed);
	assert_val(&now, 2, 5000000, 1000000, 4000000, 900, 0, 1);
	d = val(1, -2000000, -2000000, -2000000, 600, 1, 1);
	assert_int_equal(sto_rollup_merge(t, &k, &d, &existed, &now), 0);
	assert_true(existed);
	assert_val(&now, 3, 3000000, -2000000, 4000000, 1500, 1, 2);
	assert_int_equal(sto_commit(t), 0);

	/* a later transaction adds to what is stored */
	assert_int_equal(sto_write_begin(env, &t), 0);
	d = val(4, 10, 5, 5, 1800, 0, 3);
	assert_int_equal(sto_rollup_merge(t, &k, &d, &existed, &now), 0);
	assert_true(existed);
	assert_val(&now, 7, 3000010, -2000000, 4000000, 3300, 1, 5);
	assert_int_equal(sto_commit(t), 0);

	/* an aborted transaction leaves nothing */
	sto_key k2 = key(STO_ENTERPRISE, 0xe0106, sto_metric(1, 0), ER_RES_HOUR, T0 + 3600);
	assert_int_equal(sto_write_begin(env, &t), 0);
	merge1(t, k2, val(1, 1, 1, 1, 1, 0, 1));
	merge1(t, k, val(1, 1, 1, 1, 1, 0, 1));
	sto_abort(t);

	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_rollup_get(t, &k, &got), 0);
	assert_val(&got, 7, 3000010, -2000000, 4000000, 3300, 1, 5);
	assert_int_equal(sto_rollup_get(t, &k2, &got), ER_ENOENT);
	sto_abort(t);
	sto_close(env);
}

struct scan_log {
	int n, stop_at;
	sto_key k[32];
	sto_val v[32];
};

static int scan_cb(void *ctx, const sto_key *k, const sto_val *v)
{
	struct scan_log *s = ctx;
	if (s->n < 32) {
		s->k[s->n] = *k;
		s->v[s->n] = *v;
	}
	s->n++;
	return s->n == s->stop_at ? 99 : 0;
}

/* Merges in key order step the cursor forward instead of descending the
 * tree (store.c walk_to): rows found by the walk, rows missing between two
 * present ones, rows past the end, jumps farther than the walk and back. */
static void test_rollup_merge_walk(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, 0, NULL);
	sto_txn *t;
	enum { N = 400 };
	er_fx want[N] = {0};
	(void)state;

	/* even entities exist before the walk */
	assert_int_equal(sto_write_begin(env, &t), 0);
	for (int e = 0; e < N; e += 2) {
		merge1(t, key(STO_METER, (uint64_t)e + 1, 1, ER_RES_HOUR, T0), val(1, 1000 * e, 0, 0, 0, 0, 0));
		want[e] = 1000 * e;
	}
	assert_int_equal(sto_commit(t), 0);

	/* ascending: every third entity (found by the walk, or absent between
	 * two present rows), then a jump past many rows, then back down */
	assert_int_equal(sto_write_begin(env, &t), 0);
	for (int e = 0; e < N; e += 3) {
		bool existed;
		sto_val now;
		sto_key k = key(STO_METER, (uint64_t)e + 1, 1, ER_RES_HOUR, T0);
		sto_val d = val(1, e + 7, 0, 0, 0, 0, 0);
		assert_int_equal(sto_rollup_merge(t, &k, &d, &existed, &now), 0);
		assert_int_equal(existed, e % 2 == 0);
		want[e] += e + 7;
		assert_int_equal(now.sum, want[e]);
		if (e == 30)
			e = 300; /* farther than the walk goes */
	}
	for (int e = N - 1; e >= 0; e -= 50) {
		merge1(t, key(STO_METER, (uint64_t)e + 1, 1, ER_RES_HOUR, T0), val(1, 5, 0, 0, 0, 0, 0));
		want[e] += 5;
	}
	/* past the last row, and a neighbour at another resolution */
	merge1(t, key(STO_METER, N + 10, 1, ER_RES_HOUR, T0), val(1, 11, 0, 0, 0, 0, 0));
	merge1(t, key(STO_METER, 1, 1, ER_RES_DAY, T0), val(1, 13, 0, 0, 0, 0, 0));
	assert_int_equal(sto_commit(t), 0);

	assert_int_equal(sto_read_begin(env, &t), 0);
	for (int e = 0; e < N; e++) {
		sto_val got;
		sto_key k = key(STO_METER, (uint64_t)e + 1, 1, ER_RES_HOUR, T0);
		int rc = sto_rollup_get(t, &k, &got);
		if (want[e] == 0 && e % 2 != 0) {
			assert_int_equal(rc, ER_ENOENT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(got.sum, want[e]);
	}
	sto_val got;
	sto_key k = key(STO_METER, N + 10, 1, ER_RES_HOUR, T0);
	assert_int_equal(sto_rollup_get(t, &k, &got), 0);
	assert_int_equal(got.sum, 11);
	k = key(STO_METER, 1, 1, ER_RES_DAY, T0);
	assert_int_equal(sto_rollup_get(t, &k, &got), 0);
	assert_int_equal(got.sum, 13);
	sto_abort(t);
	sto_close(env);
}

static void test_rollup_scan(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, OFF_CN, NULL);
	sto_txn *t;
	struct scan_log log;
	const uint64_t A = 0xAAAA, B = 0xAAAB;
	const uint16_t M1 = sto_metric(1, 0), M2 = sto_metric(5, 1), M3 = sto_metric(3, 0);
	(void)state;

	assert_int_equal(sto_write_begin(env, &t), 0);
	/* entity A, hourly: M1 at hours 0..4, M2 at hours 1 and 3, M3 only
	 * outside the range; written out of order */
	for (int h = 4; h >= 0; h--)
		merge1(t, key(STO_ENTERPRISE, A, M1, ER_RES_HOUR, T0 + h * 3600), val(1, 100 + h, h, h, 3600, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, M2, ER_RES_HOUR, T0 + 3 * 3600), val(1, 203, 0, 0, 3600, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, M2, ER_RES_HOUR, T0 + 1 * 3600), val(1, 201, 0, 0, 3600, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, M3, ER_RES_HOUR, T0 - 3600), val(1, 300, 0, 0, 3600, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, M3, ER_RES_HOUR, T0 + 9 * 3600), val(1, 309, 0, 0, 3600, 0, 1));
	/* noise: other resolutions, another entity, another level, metric 0 and 0xffff */
	merge1(t, key(STO_ENTERPRISE, A, M1, ER_RES_DAY, T0 + 3600), val(1, 900, 0, 0, 0, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, M2, ER_RES_MONTH, T0 + 3600), val(1, 901, 0, 0, 0, 0, 1));
	merge1(t, key(STO_ENTERPRISE, B, M1, ER_RES_HOUR, T0 + 3600), val(1, 902, 0, 0, 0, 0, 1));
	merge1(t, key(STO_METER, A, M1, ER_RES_HOUR, T0 + 3600), val(1, 903, 0, 0, 0, 0, 1));
	merge1(t, key(STO_DISTRICT, A, M1, ER_RES_HOUR, T0 + 3600), val(1, 904, 0, 0, 0, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, 0, ER_RES_HOUR, T0 + 2 * 3600), val(1, 400, 0, 0, 0, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, 0xffff, ER_RES_HOUR, T0 + 2 * 3600), val(1, 500, 0, 0, 0, 0, 1));
	merge1(t, key(STO_ENTERPRISE, A, 0xffff, ER_RES_DAY, T0 + 2 * 3600), val(1, 905, 0, 0, 0, 0, 1));
	/* neighbours in the time-first order: entities just below and above A
	 * in A's buckets and in buckets A has no row in, which the skip scan
	 * must step over */
	for (int64_t h = -2; h <= 12; h++) {
		merge1(t, key(STO_ENTERPRISE, A - 0x10, M1, ER_RES_HOUR, T0 + h * 3600), val(1, 7000, 0, 0, 0, 0, 1));
		merge1(t, key(STO_ENTERPRISE, B + 1, 0, ER_RES_HOUR, T0 + h * 3600), val(1, 8000, 0, 0, 0, 0, 1));
	}
	merge1(t, key(STO_ENTERPRISE, B + 1, M1, ER_RES_HOUR, T0 + 5 * 3600 + 1), val(1, 8001, 0, 0, 0, 0, 1));
	assert_int_equal(sto_commit(t), 0);

	assert_int_equal(sto_read_begin(env, &t), 0);
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_HOUR, T0 + 3600, T0 + 4 * 3600, scan_cb, &log), 0);
	/* (metric, start) order: 0, M1 (0x001), M2 (0x105), 0xffff */
	static const struct {
		uint16_t metric;
		int64_t start;
		er_fx sum;
	} want[] = {
		{0, T0 + 7200, 400},	   {1, T0 + 3600, 101},	   {1, T0 + 7200, 102},
		{1, T0 + 10800, 103},	   {0x105, T0 + 3600, 201}, {0x105, T0 + 10800, 203},
		{0xffff, T0 + 7200, 500},
	};
	assert_int_equal(log.n, sizeof want / sizeof want[0]);
	for (int i = 0; i < log.n; i++) {
		assert_int_equal(log.k[i].level, STO_ENTERPRISE);
		assert_true(log.k[i].entity == A);
		assert_int_equal(log.k[i].res, ER_RES_HOUR);
		assert_int_equal(log.k[i].metric, want[i].metric);
		assert_int_equal(log.k[i].start, want[i].start);
		assert_int_equal(log.v[i].sum, want[i].sum);
	}
	assert_int_equal(M1, 1);
	assert_int_equal(M2, 0x105);
	assert_int_equal(M3, 3);

	/* a nonzero return stops the scan and is returned */
	memset(&log, 0, sizeof log);
	log.stop_at = 2;
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_HOUR, T0 + 3600, T0 + 4 * 3600, scan_cb, &log),
			 99);
	assert_int_equal(log.n, 2);

	/* day rows of A: one of M1 (M2 has a month row only; 0xffff one) */
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_DAY, T0, T0 + 86400, scan_cb, &log), 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.v[0].sum, 900);
	assert_int_equal(log.v[1].sum, 905);

	/* an empty range, a range before everything, an unknown entity */
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_HOUR, T0 + 3600, T0 + 3600, scan_cb, &log), 0);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_HOUR, 0, T0 - 3600, scan_cb, &log), 0);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, 0xAAA9, ER_RES_HOUR, 0, INT64_MAX, scan_cb, &log), 0);
	assert_int_equal(sto_rollup_scan(t, STO_CITY, A, ER_RES_HOUR, 0, INT64_MAX, scan_cb, &log), 0);
	assert_int_equal(log.n, 0);

	/* the whole hourly history of A: 5 + 2 + 2 + 1 + 1 rows */
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_ENTERPRISE, A, ER_RES_HOUR, INT64_MIN, INT64_MAX, scan_cb, &log), 0);
	assert_int_equal(log.n, 11);
	assert_int_equal(log.v[3].sum, 102); /* 400, 100, 101, 102 */
	assert_int_equal(log.v[10].sum, 500);
	sto_abort(t);
	sto_close(env);
}

static void test_rollup_scan_negative_starts(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, 0, NULL);
	sto_txn *t;
	struct scan_log log;
	(void)state;

	assert_int_equal(sto_write_begin(env, &t), 0);
	for (int64_t s = -7200; s <= 3600; s += 3600)
		merge1(t, key(STO_STATION, 5, 32, ER_RES_HOUR, s), val(1, s, s, s, 3600, 0, 0));
	assert_int_equal(sto_commit(t), 0);
	assert_int_equal(sto_read_begin(env, &t), 0);
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_STATION, 5, ER_RES_HOUR, -3600, 3600, scan_cb, &log), 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.k[0].start, -3600);
	assert_int_equal(log.v[0].sum, -3600);
	assert_int_equal(log.k[1].start, 0);
	sto_abort(t);
	sto_close(env);
}

/* ---- senders, cursors, registry ---- */

struct kv_log {
	int n, stop_at;
	char name[8][32];
	size_t len[8];
	int kind[8];
	uint64_t key[8], num[8];
	int64_t ts[8];
	er_fx value[8];
};

static int sender_cb(void *ctx, const char *sender, size_t len, uint64_t hwm)
{
	struct kv_log *l = ctx;
	assert_true(l->n < 8 && len < 32);
	memcpy(l->name[l->n], sender, len);
	l->name[l->n][len] = 0;
	l->len[l->n] = len;
	l->num[l->n] = hwm;
	return ++l->n == l->stop_at ? 3 : 0;
}

static int cursor_cb(void *ctx, uint64_t series_key, int64_t ts, er_fx value)
{
	struct kv_log *l = ctx;
	assert_true(l->n < 8);
	l->key[l->n] = series_key;
	l->ts[l->n] = ts;
	l->value[l->n] = value;
	l->n++;
	return 0;
}

static int registry_cb(void *ctx, int kind, uint64_t key, const char *row, size_t len)
{
	struct kv_log *l = ctx;
	assert_true(l->n < 8 && len < 32);
	l->kind[l->n] = kind;
	l->key[l->n] = key;
	memcpy(l->name[l->n], row, len);
	l->name[l->n][len] = 0;
	l->len[l->n] = len;
	l->n++;
	return 0;
}

static void put_side_tables(sto_env *env)
{
	sto_txn *t;

	assert_int_equal(sto_write_begin(env, &t), 0);
	assert_int_equal(sto_sender_put(t, "gw-2", 4, 7), 0);
	assert_int_equal(sto_sender_put(t, "gw-1", 4, 42), 0);
	assert_int_equal(sto_sender_put(t, "gw-1", 4, 0x0102030405060708ULL), 0); /* overwrite */
	assert_int_equal(sto_sender_put(t, "a\0b", 3, 1), 0);			    /* names are bytes */
	assert_int_equal(sto_cursor_put(t, UINT64_MAX, T0 + 900, 123456789), 0);
	assert_int_equal(sto_cursor_put(t, 1, T0, -5), 0);
	assert_int_equal(sto_cursor_put(t, 0x8000000000000000ULL, T0 + 1, 0), 0);
	assert_int_equal(sto_cursor_put(t, 1, T0 + 60, 99), 0); /* overwrite */
	assert_int_equal(sto_registry_put(t, 4, 0x10, "M1,E1,water"), 0);
	assert_int_equal(sto_registry_put(t, 1, 0xffffffffffffff00ULL, "D1,One"), 0);
	assert_int_equal(sto_registry_put(t, 1, 0x20, "D2,\"Two, South\""), 0);
	assert_int_equal(sto_commit(t), 0);
}

static void check_side_tables(sto_env *env)
{
	sto_txn *t;
	struct kv_log l;
	uint64_t hwm = 0;

	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_sender_get(t, "gw-1", 4, &hwm), 0);
	assert_true(hwm == 0x0102030405060708ULL);
	assert_int_equal(sto_sender_get(t, "gw-2", 4, &hwm), 0);
	assert_true(hwm == 7);
	assert_int_equal(sto_sender_get(t, "a\0b", 3, &hwm), 0);
	assert_true(hwm == 1);
	assert_int_equal(sto_sender_get(t, "gw-3", 4, &hwm), ER_ENOENT);
	assert_int_equal(sto_sender_get(t, "gw-1", 3, &hwm), ER_ENOENT); /* "gw-" */

	/* senders in byte order of their names */
	memset(&l, 0, sizeof l);
	assert_int_equal(sto_senders_each(t, sender_cb, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.len[0], 3);
	assert_memory_equal(l.name[0], "a\0b", 3);
	assert_string_equal(l.name[1], "gw-1");
	assert_true(l.num[1] == 0x0102030405060708ULL);
	assert_string_equal(l.name[2], "gw-2");
	assert_true(l.num[2] == 7);
	memset(&l, 0, sizeof l);
	l.stop_at = 2;
	assert_int_equal(sto_senders_each(t, sender_cb, &l), 3);
	assert_int_equal(l.n, 2);

	/* cursors in order of series key */
	memset(&l, 0, sizeof l);
	assert_int_equal(sto_cursors_each(t, cursor_cb, &l), 0);
	assert_int_equal(l.n, 3);
	assert_true(l.key[0] == 1);
	assert_int_equal(l.ts[0], T0 + 60);
	assert_int_equal(l.value[0], 99);
	assert_true(l.key[1] == 0x8000000000000000ULL);
	assert_int_equal(l.ts[1], T0 + 1);
	assert_int_equal(l.value[1], 0);
	assert_true(l.key[2] == UINT64_MAX);
	assert_int_equal(l.ts[2], T0 + 900);
	assert_int_equal(l.value[2], 123456789);

	/* registry rows in (kind, key) order */
	memset(&l, 0, sizeof l);
	assert_int_equal(sto_registry_each(t, registry_cb, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.kind[0], 1);
	assert_true(l.key[0] == 0x20);
	assert_string_equal(l.name[0], "D2,\"Two, South\"");
	assert_int_equal(l.len[0], strlen("D2,\"Two, South\""));
	assert_int_equal(l.kind[1], 1);
	assert_true(l.key[1] == 0xffffffffffffff00ULL);
	assert_string_equal(l.name[1], "D1,One");
	assert_int_equal(l.kind[2], 4);
	assert_true(l.key[2] == 0x10);
	assert_string_equal(l.name[2], "M1,E1,water");
	sto_abort(t);
}

static void test_side_tables(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, OFF_CN, "sample");
	uint64_t bytes = 0;
	(void)state;

	put_side_tables(env);
	check_side_tables(env);
	assert_int_equal(sto_db_bytes(env, &bytes), 0);
	assert_true(bytes > 0 && bytes % 4096 == 0);
	sto_close(env);
}

/* ---- reopening ---- */

static void test_reopen(void **state)
{
	const char *dir = tu_str("%s/data", tu_tmpdir()); /* sto_open creates it */
	sto_env *env = open_env(dir, 0, OFF_CN, "sample");
	sto_key k = key(STO_CITY, 0xc17, sto_metric(1, 0), ER_RES_DAY, T0 - OFF_CN);
	sto_txn *t;
	sto_val got;
	(void)state;

	assert_int_equal(sto_write_begin(env, &t), 0);
	merge1(t, k, val(96, 123456789012LL, 1, 99, 86400, 1, 40));
	assert_int_equal(sto_commit(t), 0);
	put_side_tables(env);
	sto_close(env);

	/* same offset and city: everything is there */
	env = open_env(dir, 0, OFF_CN, "sample");
	assert_int_equal(sto_read_begin(env, &t), 0);
	assert_int_equal(sto_rollup_get(t, &k, &got), 0);
	assert_val(&got, 96, 123456789012LL, 1, 99, 86400, 1, 40);
	sto_abort(t);
	check_side_tables(env);
	sto_close(env);

	/* no city given: not checked */
	env = open_env(dir, 0, OFF_CN, NULL);
	sto_close(env);
}

static void test_reopen_wrong_offset(void **state)
{
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 0, OFF_CN, "sample"), *other = (sto_env *)0x1;
	sto_opts o = {.dir = dir, .sync = false, .utc_offset_s = -12600, .city = "sample"};
	char err[512];
	(void)state;

	sto_close(env);
	assert_int_equal(sto_open(&o, &other, err, sizeof err), ER_EINVAL);
	assert_ptr_equal(other, (sto_env *)0x1); /* untouched */
	assert_non_null(strstr(err, "28800"));
	assert_non_null(strstr(err, "-12600"));
	assert_non_null(strstr(err, dir));

	/* another city */
	o.utc_offset_s = OFF_CN;
	o.city = "elsewhere";
	assert_int_equal(sto_open(&o, &other, err, sizeof err), ER_EINVAL);
	assert_non_null(strstr(err, "'sample'"));
	assert_non_null(strstr(err, "'elsewhere'"));

	/* and the right settings still open it */
	o.city = "sample";
	assert_int_equal(sto_open(&o, &other, err, sizeof err), 0);
	assert_string_equal(err, "");
	sto_close(other);
}

/* A node's role is fixed when its database is created; one made before
 * roles (no role recorded) was a standalone node's. */
static void test_reopen_other_role(void **state)
{
	const char *dir = tu_tmpdir(), *old = tu_str("%s/old", tu_tmpdir());
	sto_opts o = {.dir = dir, .sync = false, .utc_offset_s = OFF_CN, .city = "sample", .role = "district"};
	sto_env *env;
	char err[512];
	(void)state;

	assert_int_equal(sto_open(&o, &env, err, sizeof err), 0);
	sto_close(env);
	o.role = "city";
	assert_int_equal(sto_open(&o, &env, err, sizeof err), ER_EINVAL);
	assert_non_null(strstr(err, "created by a district node"));
	assert_non_null(strstr(err, "as a city node"));
	o.role = NULL; /* tools that do not say: not checked */
	assert_int_equal(sto_open(&o, &env, err, sizeof err), 0);
	sto_close(env);
	o.role = "district";
	assert_int_equal(sto_open(&o, &env, err, sizeof err), 0);
	sto_close(env);

	/* no role recorded: standalone */
	o.dir = old;
	o.role = NULL;
	assert_int_equal(sto_open(&o, &env, err, sizeof err), 0);
	sto_close(env);
	o.role = "district";
	assert_int_equal(sto_open(&o, &env, err, sizeof err), ER_EINVAL);
	assert_non_null(strstr(err, "created by a standalone node"));
	o.role = "standalone";
	assert_int_equal(sto_open(&o, &env, err, sizeof err), 0);
	sto_close(env);
}

static void test_open_errors(void **state)
{
	const char *dir = tu_tmpdir();
	const char *file = tu_write_file(dir, "plain-file", "not a directory\n");
	sto_opts o = {.dir = tu_str("%s/sub", file), .sync = false, .utc_offset_s = 0};
	sto_env *env = NULL;
	char err[512];
	(void)state;

	assert_true(sto_open(&o, &env, err, sizeof err) < 0);
	assert_null(env);
	assert_non_null(strstr(err, "plain-file"));
	sto_close(NULL); /* NULL-safe */
	sto_abort(NULL);
}

/* ---- a full map ---- */

static void test_grow(void **state)
{
	/* A 1 MiB map fills after a few thousand rows. A batch that hits the
	 * limit (at a put or at the commit) is redone after sto_grow, and
	 * every row of every committed batch is then readable. */
	enum { BATCH = 500, TARGET = 40000 };
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 1 << 20, 0, NULL);
	int committed = 0, grows = 0, full_at_put = 0, full_at_commit = 0;
	sto_txn *t;
	struct scan_log log;
	(void)state;

	while (committed < TARGET) {
		int rc = sto_write_begin(env, &t);
		assert_int_equal(rc, 0);
		for (int i = committed; i < committed + BATCH && rc == 0; i++) {
			sto_key k = key(STO_METER, 0x77, sto_metric(1, 0), ER_RES_HOUR, T0 + (int64_t)i * 3600);
			sto_val d = val(1, i, i, i, 3600, 0, 0), now;
			bool existed;
			rc = sto_rollup_merge(t, &k, &d, &existed, &now);
			if (rc == 0)
				assert_false(existed);
		}
		if (rc == ER_EFULL) {
			full_at_put++;
			sto_abort(t);
		} else {
			assert_int_equal(rc, 0);
			rc = sto_commit(t);
			if (rc == ER_EFULL)
				full_at_commit++;
			else
				assert_int_equal(rc, 0);
		}
		if (rc == ER_EFULL) {
			assert_int_equal(sto_grow(env), 0);
			grows++;
			continue; /* redo the same batch */
		}
		committed += BATCH;
	}
	print_message("# grow: %d grows, full at put %d, at commit %d\n", grows, full_at_put, full_at_commit);
	/* 40000 rows of ~100 bytes need several MiB: at least two doublings */
	assert_true(grows >= 2);
	assert_int_equal(full_at_put + full_at_commit, grows);

	/* count through a scan with a callback that only counts */
	assert_int_equal(sto_read_begin(env, &t), 0);
	memset(&log, 0, sizeof log);
	assert_int_equal(sto_rollup_scan(t, STO_METER, 0x77, ER_RES_HOUR, INT64_MIN, INT64_MAX, scan_cb, &log), 0);
	assert_int_equal(log.n, TARGET);
	sto_val got;
	sto_key last = key(STO_METER, 0x77, 1, ER_RES_HOUR, T0 + (int64_t)(TARGET - 1) * 3600);
	assert_int_equal(sto_rollup_get(t, &last, &got), 0);
	assert_int_equal(got.sum, TARGET - 1);
	sto_abort(t);
	sto_close(env);

	/* the grown map is kept when the database is reopened with a small size */
	env = open_env(dir, 1 << 20, 0, NULL);
	assert_int_equal(sto_write_begin(env, &t), 0);
	merge1(t, key(STO_METER, 0x78, 1, ER_RES_HOUR, T0), val(1, 1, 1, 1, 1, 0, 0));
	assert_int_equal(sto_commit(t), 0);
	sto_close(env);
}

static void test_commit_after_full_put(void **state)
{
	/* store.h: "sto_commit: ER_EFULL when the map is full: the
	 * transaction is gone; call sto_grow and redo it." In practice LMDB
	 * reports MDB_MAP_FULL at the put that no longer fits; LMDB then
	 * marks the transaction failed and mdb_txn_commit returns
	 * MDB_BAD_TXN, which map_rc turns into ER_ESTORE. A caller that
	 * follows the header (write the batch, check the commit) sees a
	 * storage error instead of the documented ER_EFULL and never grows
	 * the map. */
	const char *dir = tu_tmpdir();
	sto_env *env = open_env(dir, 1 << 20, 0, NULL);
	sto_txn *t;
	int rc = 0, i;
	(void)state;

	assert_int_equal(sto_write_begin(env, &t), 0);
	for (i = 0; i < 100000 && rc == 0; i++) {
		sto_key k = key(STO_METER, 0x99, 1, ER_RES_HOUR, (int64_t)i * 3600);
		sto_val d = val(1, 1, 1, 1, 1, 0, 0), now;
		bool existed;
		rc = sto_rollup_merge(t, &k, &d, &existed, &now);
	}
	int rc_commit = sto_commit(t);
	/* the documented recovery, whatever the commit said */
	int rc_grow = sto_grow(env), rc_redo = ER_ESTORE;
	if (sto_write_begin(env, &t) == 0) {
		merge1(t, key(STO_METER, 0x99, 1, ER_RES_HOUR, 0), val(1, 1, 1, 1, 1, 0, 0));
		rc_redo = sto_commit(t);
	}
	sto_close(env); /* before asserting: a failure leaks nothing */
	assert_int_equal(rc, ER_EFULL); /* the put that did not fit */
	assert_int_equal(rc_grow, 0);
	assert_int_equal(rc_redo, 0);
	if (rc_commit != ER_EFULL)
		fail_msg("sto_commit after a put hit the full map returned %d (%s), want ER_EFULL", rc_commit,
			 er_strerror(rc_commit));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_layout),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_val_zero_merge),
		cmocka_unit_test(test_rollup_merge),
		cmocka_unit_test(test_rollup_merge_walk),
		cmocka_unit_test(test_rollup_scan),
		cmocka_unit_test(test_rollup_scan_negative_starts),
		cmocka_unit_test(test_side_tables),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_reopen_wrong_offset),
		cmocka_unit_test(test_reopen_other_role),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_commit_after_full_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
