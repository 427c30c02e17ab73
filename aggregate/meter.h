/* meter.h: meter normalization, DOMAIN.md section 3. Turns one validated
 * reading of a series into hourly samples in a delta table, following the
 * meter's mode: cumulative registers give increments apportioned linearly
 * across the hours they span, interval amounts are apportioned across
 * their interval, instant levels count into the hour they close.
 *
 * Thread: the decode worker that owns the series' sender (it alone writes
 * the series cursor).
 */
#ifndef AGG_METER_H
#define AGG_METER_H

#include "delta.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

enum agg_verdict {
	AGG_APPLIED = 0,
	AGG_DUPLICATE = 1,	  /* same ts and value as the last reading: dropped */
	AGG_REJ_OUT_OF_ORDER = -1, /* cumulative reading not after the last one */
	AGG_REJ_NEGATIVE = -2,	  /* cumulative register below zero */
};

/* What normalization noticed, per worker; the caller adds them to its
 * counters. Events are also logged (DOMAIN.md 3: reset, spike). */
typedef struct agg_meter_stats {
	uint64_t rollovers; /* register wrapped at its capacity */
	uint64_t resets;    /* any other decrease: the step adds 0 */
	uint64_t spikes;    /* increment above max_per_hour: quarantined */
	uint64_t gaps;	    /* increments apportioned across a gap */
} agg_meter_stats;

/* hour numbers are local: floor((t + offset_s) / 3600). */
static inline uint32_t agg_hour_of(int64_t t, int offset_s)
{
	int64_t l = t + offset_s;
	return (uint32_t)(l >= 0 ? l / 3600 : (l - 3599) / 3600);
}

int agg_meter_apply(agg_delta *t, int w, agg_series *s, int64_t ts, er_fx v, int offset_s,
		    agg_meter_stats *st);

/* Spreads amount over [t0, t1) in proportion to each local hour's share of
 * the span; the parts are exact and add up to amount. Hours touched only
 * by the span's interior get flags (the caller passes AGG_FLAG_ESTIMATED
 * for a gap). The hour holding t1 counts the reading. Exposed for tests. */
void agg_apportion(agg_delta *t, int w, uint32_t series, int64_t t0, int64_t t1, er_fx amount, int offset_s,
		   uint32_t gap_flags);
/* The same, handing each hour's sample to sink instead of a table (the
 * store thread's corrections: accepted spikes, late replacements). */
typedef void agg_sink_fn(void *ctx, uint64_t key, const agg_sample *s);
void agg_apportion_to(agg_sink_fn *sink, void *ctx, uint32_t series, int64_t t0, int64_t t1, er_fx amount,
		      int offset_s, uint32_t gap_flags);

#ifdef __cplusplus
}
#endif
#endif
