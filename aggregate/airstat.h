/* airstat.h: the air-quality statistics engine (DOMAIN.md 8): validity of
 * hourly, daily, 8-hour, monthly and annual values (GB 3095-2012 Table 4,
 * HJ 663-2013), O3 8-hour averages and the daily maximum 8-hour average
 * (MDA8), annual percentiles, the good-day share and the warning level of
 * an air target.
 *
 * Pure functions over caller-owned arrays: no I/O, no allocation, no
 * global state, so any thread may call any of them at any time.
 *
 * Exactness. Concentrations are er_fx micro-units (ug/m3; CO mg/m3). A
 * mean is kept as the exact rational agg_mean{sum, n} = sum / n micro-units
 * and rounded (half to even, GB/T 8170) only when a value must be reported,
 * with agg_mean_round. An agg_mean maps directly onto the num/den
 * concentrations the AQI module takes. For hourly-based means (daily, 8-hour,
 * MDA8) n is the count of valid hours averaged; for means of means (month,
 * year) only the value sum / n is meaningful: it is returned as a reduced
 * fraction. n == 0 means "no valid value" everywhere.
 *
 * Validity. A function whose result can be invalid returns ER_ENOENT with
 * *out = {0, 0} (its counters still set) when the standard's minimum is not
 * met; ER_EINVAL for bad arguments or a negative concentration marked
 * valid; ER_ERANGE for a valid concentration above AGG_AIR_MAX_FX or an
 * exact result that does not fit an agg_mean. Values at positions marked
 * invalid are never read. */
#ifndef AGG_AIRSTAT_H
#define AGG_AIRSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "er.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Minimums fixed by the standards (not configurable: they define what a
 * valid statistic is). GB 3095-2012 Table 4 and HJ 663-2013. */
#define AGG_AIR_HOUR_MIN_S       2700 /* a valid hourly value: >= 45 minutes of data in the hour */
#define AGG_AIR_DAY_MIN_HOURS    20   /* a valid 24-hour mean: >= 20 valid hourly values */
#define AGG_AIR_8H_MIN_HOURS     6    /* a valid O3 8-hour average: >= 6 of its 8 hours valid */
#define AGG_AIR_MDA8_WINDOWS     17   /* 8-hour windows ending 08时..24时 of one day */
#define AGG_AIR_MDA8_MIN_WINDOWS 14   /* a valid MDA8: >= 14 valid windows (or above the limit) */
#define AGG_AIR_MONTH_MIN_DAYS   27   /* a valid monthly mean; also each month of a valid year */
#define AGG_AIR_FEB_MIN_DAYS     25   /* the same for February, leap or not */
#define AGG_AIR_YEAR_MIN_DAYS    324  /* a valid annual mean */

/* The largest concentration accepted, in micro-units: 100,000 ug/m3, far
 * above any ambient value (the highest HJ 633 breakpoint is 2,620 ug/m3;
 * dust storms reach ~10^4 ug/m3 of PM10). It bounds every sum so that a
 * year of daily means with denominators 20..24 (lcm 212,520) adds up
 * exactly in an agg_mean. */
#define AGG_AIR_MAX_FX (100000 * ER_FX_SCALE)

/* sum / n micro-units, exact. n == 0: no valid value; n < 0 is invalid. */
typedef struct agg_mean {
	int64_t sum;
	int32_t n;
} agg_mean;

/* The value of m rounded half to even to micro-units (GB/T 8170). Returns
 * 0, ER_ENOENT when m.n == 0, ER_EINVAL when m.n < 0 or out is NULL. */
int agg_mean_round(agg_mean m, er_fx *out);

/* Whether an hour with coverage_s seconds of data (at most 3600, the
 * caller's to ensure) gives a valid hourly value: >= AGG_AIR_HOUR_MIN_S. */
bool agg_air_hour_valid(uint32_t coverage_s);

/* The 24-hour mean of a local day from its hourly values, hourly[h] being
 * local h:00-(h+1):00 (report label (h+1)时). Valid with >= 20 valid hours;
 * out->n is the count of valid hours. */
int agg_air_daily_mean(const er_fx hourly[24], const bool valid[24], agg_mean *out);

/* The O3 8-hour moving average at hour t of a series of n consecutive
 * hours: the mean of the valid values among hours t-7..t (the window ends
 * with hour t, so it carries hour t's end label). Valid with >= 6 valid
 * hours; out->n is their count. ER_EINVAL unless 7 <= t < n. */
int agg_air_o3_8h(const er_fx *hourly, const bool *valid, size_t n, size_t t, agg_mean *out);

/* O3 daily maximum 8-hour average (MDA8) of a local day, from the day's 24
 * hours only (hourly[0] = 00:00-01:00). HJ 663's "08时至24时" names the 17
 * 8-hour averages by their end labels: 08时 is the window 00:00-08:00 and
 * 24时 the window 16:00-24:00, i.e. the windows starting at hours 0..16.
 * None reaches into the previous day (hence 08时 as the first), so the
 * previous day's hours are not an input; a caller holding a 31-hour buffer
 * passes buffer + 7.
 *
 * Each window is valid with >= 6 valid hours. *out is the largest valid
 * window (the earliest of equal ones; out->n its valid hours), and
 * *valid_windows (may be NULL) their count. The MDA8 is valid with >= 14
 * valid windows, or with fewer (at least one) when its exact value is
 * strictly above limit (micro-units; configurable, GB 3095-2012 Grade II
 * 160 ug/m3 by default). To compare the reported integer value instead,
 * pass the limit plus half a unit: rounded half-even > 160 iff exact >
 * 160.5. Otherwise ER_ENOENT. ER_EINVAL when limit < 0. */
int agg_air_mda8(const er_fx hourly[24], const bool valid[24], er_fx limit, agg_mean *out, int *valid_windows);

/* O3 daily maximum 1-hour value (the 2012 daily AQI's O3 1h input): the
 * largest valid hourly value of the local day. Like every daily statistic
 * of GB 3095-2012 Table 4, it needs >= 20 valid hours (DOMAIN.md 8 gives no
 * rule of its own, and grants the above-the-limit exception to MDA8 only);
 * otherwise ER_ENOENT with *out = 0. */
int agg_air_o3_max1h(const er_fx hourly[24], const bool valid[24], er_fx *out);

/* The mean of the valid daily means (n > 0) among daily[0..ndays), with no
 * minimum: the year-to-date or month-to-date value. *valid_days (may be
 * NULL) is their count. ER_ENOENT when there is none; ER_ERANGE when the
 * exact mean does not fit an agg_mean (only for means whose denominators
 * are far from the 20..24 of station days). */
int agg_air_days_mean(const agg_mean *daily, size_t ndays, agg_mean *out, int *valid_days);

/* The monthly mean of month (1..12) of year: daily[d] is day d+1 and ndays
 * must be the month's length (29 for a leap February, else ER_EINVAL).
 * Valid with >= 27 valid days, February >= 25. */
int agg_air_month_mean(const agg_mean *daily, size_t ndays, int32_t year, int month, agg_mean *out, int *valid_days);

/* The annual mean: daily[d] is day of year d+1 and ndays must be the
 * year's length (365 or 366, else ER_EINVAL). Valid with >= 324 valid days
 * and every month at its monthly minimum (27, February 25). *failing_month
 * (may be NULL) is the first month below its minimum, 0 if none; with
 * every month at its minimum the year has only 11 x 27 + 25 = 322 days, so
 * a year can fail on the total alone (failing_month 0). */
int agg_air_year_mean(const agg_mean *daily, size_t ndays, int32_t year, agg_mean *out, int *valid_days,
		      int *failing_month);

/* The p-th percentile (p_percent 0..100: 95 for PM2.5, PM10, CO; 98 for
 * SO2, NO2; 90 for O3 MDA8) by HJ 663-2013 Annex A: sort ascending X(1) ..
 * X(n), k = 1 + (n - 1) p, s = floor(k), m = X(s) + (X(s+1) - X(s)) (k - s).
 * values is sorted in place. *out is m computed exactly and rounded half to
 * even to micro-units. ER_ENOENT when n == 0. Daily means enter rounded
 * with agg_mean_round (to a micro-unit, far below any reported digit). */
int agg_air_percentile(er_fx *values, size_t n, int p_percent, er_fx *out);

/* The good-day share (优良天数比率) = good_days / valid_days in percent to
 * one decimal: *tenths = 1000 x good / valid rounded half to even (12.5% ->
 * 125, 6.25% -> 62). ER_ENOENT when valid_days == 0; ER_EINVAL unless
 * 0 <= good_days <= valid_days. For an exact comparison with a target, the
 * share in percent is agg_mean{good_days x 100 x ER_FX_SCALE, valid_days}. */
int agg_air_good_share(int good_days, int valid_days, int *tenths);

/* Warning levels, DOMAIN.md 6 (green 三级, yellow 二级, red 一级). */
enum agg_level { AGG_GREEN = 1, AGG_YELLOW = 2, AGG_RED = 3 };

/* Which side of an air target is good. */
enum agg_target_kind {
	AGG_AT_MOST = 1,  /* an upper limit: PM2.5 annual mean <= 30 ug/m3 */
	AGG_AT_LEAST = 2, /* a lower limit: good-day share >= 83% */
};

/* The warning level of an air target year to date (DOMAIN.md 8 with the
 * levels of 6). value is the exact YTD figure (agg_air_days_mean; the
 * good-day share as agg_air_good_share's comment says), target is in the same
 * micro-units, margin is the yellow band as a fraction of the target in
 * micro-units (0.10 -> 100000; configurable, 0.10 by default as the budget
 * rule's 1.10 x budget):
 *   AGG_AT_MOST:  green value <= target; yellow <= target x (1 + margin); red above.
 *   AGG_AT_LEAST: green value >= target; yellow >= target x (1 - margin); red below.
 * The comparison is exact; to compare reported (rounded) figures, pass
 * agg_mean{rounded, 1}. ER_ENOENT when value.n == 0; ER_EINVAL for an
 * unknown kind, target < 0 or margin outside 0..ER_FX_SCALE. */
int agg_air_target_level(agg_mean value, int kind, er_fx target, er_fx margin, int *level);

#ifdef __cplusplus
}
#endif
#endif
