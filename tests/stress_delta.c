/* stress_delta.c: the lock-free delta core under contention, for
 * ThreadSanitizer (make SANITIZE=thread). Worker threads add batches into
 * the active table while the main thread, as the store thread, swaps and
 * drains as fast as it can. A table small enough to spill is used so that
 * the overflow path is exercised too.
 *
 * Invariants checked:
 *   - no lost and no doubled update: every key's drained count and sum
 *     equal what the workers added, over all tables;
 *   - whole batches: in every drained table, the readings its logs say
 *     were applied equal the counts drained from it (a batch never
 *     straddles a swap);
 *   - min and max per key are the extremes that were added.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "delta.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NWORKERS 4
#define NSERIES 5000
#define NHOURS 4
#define NKEYS (NSERIES * NHOURS)
#define BATCHES 400
#define PER_BATCH 250

typedef struct expect {
	int64_t count, sum, min, max;
} expect;

static agg_core *core;
static expect got[NKEYS];
static _Atomic int done_workers;

static int key_index(uint64_t key)
{
	return (int)(agg_key_series(key) * NHOURS + agg_key_hour(key));
}

/* The value worker w adds in batch b, reading i: deterministic, so the
 * expected totals can be recomputed without sharing anything. */
static int64_t value_of(int w, int b, int i)
{
	return (int64_t)((w + 1) * 1000 + b * 7 + i % 13) - 500;
}

static int key_of(int w, int b, int i)
{
	return (w * 7919 + b * 104729 + i * 31) % NKEYS;
}

static void *worker(void *arg)
{
	int w = (int)(intptr_t)arg;
	for (int b = 0; b < BATCHES; b++) {
		agg_delta *t = agg_core_enter(core, w);
		int64_t n = 0;
		for (int i = 0; i < PER_BATCH; i++) {
			int k = key_of(w, b, i);
			int64_t v = value_of(w, b, i);
			agg_sample s = {.count = 1, .sum = v, .min = v, .max = v, .coverage_s = 1, .flags = 0};
			agg_delta_add(t, w, agg_key((uint32_t)(k / NHOURS), (uint32_t)(k % NHOURS)), &s);
			n++;
		}
		assert_int_equal(agg_delta_log(t, w, AGG_REC_USER, &n, sizeof n), 0);
		agg_core_leave(core, w);
	}
	atomic_fetch_add(&done_workers, 1);
	return NULL;
}

typedef struct table_tally {
	int64_t drained, logged;
} table_tally;

static void on_delta(void *ctx, uint64_t key, const agg_sample *s)
{
	table_tally *t = ctx;
	expect *e = &got[key_index(key)];
	t->drained += s->count;
	e->count += s->count;
	e->sum += s->sum;
	if (s->min < e->min)
		e->min = s->min;
	if (s->max > e->max)
		e->max = s->max;
}

static void on_log(void *ctx, int w, int type, const void *rec, size_t len)
{
	table_tally *t = ctx;
	int64_t n;
	(void)w;
	assert_int_equal(type, AGG_REC_USER);
	assert_int_equal(len, sizeof n);
	memcpy(&n, rec, sizeof n);
	t->logged += n;
}

static void drain_once(int64_t *total)
{
	table_tally tt = {0, 0};
	agg_delta *t = agg_core_swap(core);
	agg_delta_drain(t, on_delta, &tt);
	agg_delta_logs(t, on_log, &tt);
	agg_core_recycle(core, t);
	assert_int_equal(tt.drained, tt.logged); /* whole batches only */
	*total += tt.drained;
}

static void test_no_lost_no_doubled(void **state)
{
	(void)state;
	agg_core_opts o = {.nworkers = NWORKERS, .slots = 4096}; /* small: forces spills */
	pthread_t th[NWORKERS];
	int64_t total = 0;
	expect want[NKEYS];

	assert_int_equal(agg_core_new(&o, &core), 0);
	for (int k = 0; k < NKEYS; k++) {
		got[k] = (expect){0, 0, INT64_MAX, INT64_MIN};
		want[k] = (expect){0, 0, INT64_MAX, INT64_MIN};
	}
	for (int w = 0; w < NWORKERS; w++)
		pthread_create(&th[w], NULL, worker, (void *)(intptr_t)w);
	while (atomic_load(&done_workers) < NWORKERS)
		drain_once(&total);
	for (int w = 0; w < NWORKERS; w++)
		pthread_join(th[w], NULL);
	drain_once(&total);
	drain_once(&total); /* both tables are empty now */

	for (int w = 0; w < NWORKERS; w++)
		for (int b = 0; b < BATCHES; b++)
			for (int i = 0; i < PER_BATCH; i++) {
				expect *e = &want[key_of(w, b, i)];
				int64_t v = value_of(w, b, i);
				e->count++;
				e->sum += v;
				if (v < e->min)
					e->min = v;
				if (v > e->max)
					e->max = v;
			}
	assert_int_equal(total, (int64_t)NWORKERS * BATCHES * PER_BATCH);
	for (int k = 0; k < NKEYS; k++) {
		assert_int_equal(got[k].count, want[k].count);
		assert_int_equal(got[k].sum, want[k].sum);
		if (want[k].count) {
			assert_int_equal(got[k].min, want[k].min);
			assert_int_equal(got[k].max, want[k].max);
		}
	}
	agg_core_free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_lost_no_doubled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
