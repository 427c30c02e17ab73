/* meter.c: meter normalization (DOMAIN.md 3).
 *
 * A reading at ts describes the period that ends at ts: a cumulative
 * reading closes the span since the meter's previous reading, an interval
 * amount covers (ts - interval_s, ts], an instant level closes its sampling
 * interval. So every mode attributes a reading to the hour holding ts - 1
 * (the Chinese report convention: "08时" is 07:00-08:00, DOMAIN.md 2).
 *
 * Amounts are fixed point; apportioned parts use floor of cumulative shares
 * in 128-bit arithmetic, so the parts of an increment add up to it exactly.
 */
#include "meter.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int64_t floor_div128(__int128 a, int64_t b)
{
	__int128 q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return (int64_t)q;
}

struct table_sink {
	agg_delta *t;
	int w;
};

static void to_table(void *ctx, uint64_t key, const agg_sample *s)
{
	struct table_sink *ts = ctx;
	agg_delta_add(ts->t, ts->w, key, s);
}

void agg_apportion(agg_delta *t, int w, uint32_t series, int64_t t0, int64_t t1, er_fx amount, int offset_s,
		   uint32_t gap_flags)
{
	struct table_sink ts = {t, w};
	agg_apportion_to(to_table, &ts, series, t0, t1, amount, offset_s, gap_flags);
}

void agg_apportion_to(agg_sink_fn *sink, void *ctx, uint32_t series, int64_t t0, int64_t t1, er_fx amount,
		      int offset_s, uint32_t gap_flags)
{
	int64_t span = t1 - t0, done = 0;
	er_fx given = 0;
	uint32_t h0 = agg_hour_of(t0, offset_s), h1 = agg_hour_of(t1 - 1, offset_s);

	for (uint32_t h = h0; h <= h1; h++) {
		int64_t hs = (int64_t)h * 3600 - offset_s, he = hs + 3600;
		int64_t a = t0 > hs ? t0 : hs, b = t1 < he ? t1 : he;
		agg_sample s;

		done += b - a;
		/* floor(amount * done / span) - what earlier hours got: exact */
		er_fx upto = h == h1 ? amount : floor_div128((__int128)amount * done, span);
		er_fx part = upto - given;
		given = upto;
		s.count = h == h1;
		s.sum = s.min = s.max = part;
		s.coverage_s = (uint32_t)(b - a);
		/* An hour is estimated when the gap covers all of it: no
		 * reading lies inside it (DOMAIN.md 3). */
		s.flags = (t0 <= hs && t1 >= he) ? gap_flags : 0;
		sink(ctx, agg_key(series, h), &s);
	}
}

static void log_event(agg_delta *t, int w, const agg_series *s, int type, uint64_t ref, int64_t ts, er_fx v,
		      er_fx amount)
{
	agg_rec_event e = {.series = s->idx, .type = (uint8_t)type, .ref = ref, .t0 = s->cur.ts, .t1 = ts,
			   .v0 = s->cur.value, .v1 = v, .amount = amount};
	if (agg_delta_log(t, w, AGG_REC_EVENT, &e, sizeof e) != 0)
		abort(); /* out of memory in the middle of a batch */
}

/* The earliest registered replacement in (after, upto]. */
static const agg_replacement *find_replacement(const agg_series *s, int64_t after, int64_t upto)
{
	/* acquire: pairs with the release in agg_series_add_replacement */
	const agg_replacement *r = atomic_load_explicit(&s->repl, memory_order_acquire), *best = NULL;
	for (; r != NULL; r = r->next)
		if (r->ts > after && r->ts <= upto && (best == NULL || r->ts < best->ts))
			best = r;
	return best;
}

static int apply_cumulative(agg_delta *t, int w, agg_series *s, int64_t ts, er_fx v, int offset_s,
			    agg_meter_stats *st)
{
	agg_cursor *c = &s->cur;
	er_fx inc;
	int64_t span;
	const agg_replacement *r;

	if (v < 0)
		return AGG_REJ_NEGATIVE;
	if (c->ts == 0) {
		/* The first reading is the baseline: no increment yet. */
		c->ts = ts;
		c->value = v;
		return AGG_APPLIED;
	}
	if (ts <= c->ts) {
		if (ts == c->ts && v == c->value)
			return AGG_DUPLICATE;
		return AGG_REJ_OUT_OF_ORDER;
	}
	span = ts - c->ts;
	if ((r = find_replacement(s, c->ts, ts)) != NULL && r->old_final >= c->value && v >= r->new_initial) {
		/* An explicit replacement in this step makes it exact: what
		 * the old register counted until it came off, plus what the
		 * new one counted since (DOMAIN.md 3). */
		inc = (r->old_final - c->value) + (v - r->new_initial);
		log_event(t, w, s, 3, r->event_id, ts, v, inc);
		agg_apportion(t, w, s->idx, c->ts, ts, inc, offset_s, 0);
		c->ts = ts;
		c->value = v;
		return AGG_APPLIED;
	}
	if (v >= c->value) {
		inc = v - c->value;
	} else if (s->capacity > 0 && c->value <= s->capacity && v < s->capacity &&
		   (__int128)c->value * 10 >= (__int128)s->capacity * 9) {
		/* Rollover: the previous reading was in the top 10% of the
		 * register, so it wrapped (DOMAIN.md 3). */
		inc = (s->capacity - c->value) + v;
		st->rollovers++;
	} else {
		/* Reset or replacement: the step adds 0, v is the new
		 * baseline, and the event is recorded (DOMAIN.md 3). */
		st->resets++;
		log_event(t, w, s, 1, 0, ts, v, 0);
		c->ts = ts;
		c->value = v;
		return AGG_APPLIED;
	}
	if (s->max_per_hour > 0 && (__int128)inc * 3600 > (__int128)s->max_per_hour * span) {
		/* Spike guard: more than max_per_hour per hour spanned is
		 * quarantined, not added; the register moves on, and the event
		 * keeps the raw values for an operator to accept. */
		st->spikes++;
		log_event(t, w, s, 2, 0, ts, v, inc);
		c->ts = ts;
		c->value = v;
		return AGG_APPLIED;
	}
	/* A span longer than one and a half reading intervals means readings
	 * are missing: hours inside it are apportioned estimates. */
	bool gap = span * 2 > (int64_t)s->interval_s * 3;
	if (gap)
		st->gaps++;
	agg_apportion(t, w, s->idx, c->ts, ts, inc, offset_s, gap ? AGG_FLAG_ESTIMATED : 0);
	c->ts = ts;
	c->value = v;
	return AGG_APPLIED;
}

int agg_meter_apply(agg_delta *t, int w, agg_series *s, int64_t ts, er_fx v, int offset_s, agg_meter_stats *st)
{
	agg_sample smp;
	int64_t len;

	switch (s->mode) {
	case AGG_CUMULATIVE:
		return apply_cumulative(t, w, s, ts, v, offset_s, st);
	case AGG_INTERVAL:
		agg_apportion(t, w, s->idx, ts - s->interval_s, ts, v, offset_s, 0);
		return AGG_APPLIED;
	default:
		len = s->interval_s < 3600 ? s->interval_s : 3600;
		smp.count = 1;
		smp.sum = smp.min = smp.max = v;
		smp.coverage_s = (uint32_t)len;
		smp.flags = 0;
		agg_delta_add(t, w, agg_key(s->idx, agg_hour_of(ts - 1, offset_s)), &smp);
		return AGG_APPLIED;
	}
}
