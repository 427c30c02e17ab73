/* airstat.c: validity rules and evaluation statistics for air-quality
 * concentrations (DOMAIN.md 8; GB 3095-2012 Table 4, HJ 663-2013).
 *
 * Invariants. Every mean is an exact rational agg_mean{sum, n}; nothing is
 * rounded except where a value is reported (agg_mean_round, the percentile
 * result, the good-day share), and then half to even (GB/T 8170). Valid
 * hourly values lie in 0..AGG_AIR_MAX_FX, so a sum of 24 of them fits in
 * int64 with room to spare. Means of means (month, year) add fractions
 * with different denominators exactly in 128-bit arithmetic, reducing as
 * they go, and fail with ER_ERANGE rather than wrap: with station days
 * (denominators 20..24, lcm 212,520) a year's mean always fits, since
 * 366 x 212,520 < 2^31 and 10^11 x 366 x 212,520 < 2^63. Comparisons of
 * means cross-multiply in 128 bits, never divide. Positions marked invalid
 * are never read, so the caller need not fill them. */
#include "airstat.h"

#include <stdlib.h>

#define HOURS_PER_DAY 24
#define WINDOW_HOURS  8    /* an O3 8-hour moving average spans 8 hourly values */
#define PERCENT       100  /* p_percent is in hundredths of one */
#define PERMILLE      1000 /* the good-day share is reported in tenths of a percent */

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/* ---- exact arithmetic ---- */

/* num / den rounded half to even, den > 0. C division truncates toward
 * zero, so the remainder has the sign of num: step away from zero when the
 * remainder is over half, or exactly half and the quotient is odd. */
static i128 div_half_even(i128 num, i128 den)
{
	i128 q = num / den, r = num % den;
	i128 twice = r < 0 ? -2 * r : 2 * r;

	if (twice > den || (twice == den && (q & 1) != 0))
		q += num < 0 ? -1 : 1;
	return q;
}

/* |x| without the overflow of -x at the most negative value. */
static u128 abs_u128(i128 x)
{
	return x < 0 ? -(u128)x : (u128)x;
}

static u128 gcd_u128(u128 a, u128 b)
{
	while (b != 0) {
		u128 t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* -1, 0 or 1 as a.sum / a.n is below, equal to or above b.sum / b.n
 * (both n > 0). */
static int mean_cmp(agg_mean a, agg_mean b)
{
	i128 l = (i128)a.sum * b.n, r = (i128)b.sum * a.n;

	return (l > r) - (l < r);
}

/* Checks the valid entries of hourly[lo..hi): a concentration is never
 * negative (GB 3095 values are masses per volume) and is bounded by
 * AGG_AIR_MAX_FX (the exactness budget, airstat.h). Also counts them. */
static int check_hours(const er_fx *hourly, const bool *valid, size_t lo, size_t hi, int *nvalid)
{
	int c = 0;

	for (size_t i = lo; i < hi; i++) {
		if (!valid[i])
			continue;
		if (hourly[i] < 0)
			return ER_EINVAL;
		if (hourly[i] > AGG_AIR_MAX_FX)
			return ER_ERANGE;
		c++;
	}
	*nvalid = c;
	return 0;
}

/* The mean of the valid values among hourly[lo..lo+len), checked already. */
static agg_mean mean_of(const er_fx *hourly, const bool *valid, size_t lo, size_t len)
{
	agg_mean m = {0, 0};

	for (size_t i = lo; i < lo + len; i++) {
		if (valid[i]) {
			m.sum += hourly[i];
			m.n++;
		}
	}
	return m;
}

/* ---- public ---- */

int agg_mean_round(agg_mean m, er_fx *out)
{
	if (out == NULL || m.n < 0)
		return ER_EINVAL;
	if (m.n == 0)
		return ER_ENOENT;
	/* |sum / n| <= |sum| for n >= 1, so the result fits int64 */
	*out = (er_fx)div_half_even(m.sum, m.n);
	return 0;
}

bool agg_air_hour_valid(uint32_t coverage_s)
{
	/* GB 3095-2012 Table 4: an hourly value needs >= 45 minutes of sampling */
	return coverage_s >= AGG_AIR_HOUR_MIN_S;
}

int agg_air_daily_mean(const er_fx hourly[24], const bool valid[24], agg_mean *out)
{
	int nvalid, rc;

	if (hourly == NULL || valid == NULL || out == NULL)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if ((rc = check_hours(hourly, valid, 0, HOURS_PER_DAY, &nvalid)) != 0)
		return rc;
	/* GB 3095-2012 Table 4: a 24-hour mean needs >= 20 hourly values */
	if (nvalid < AGG_AIR_DAY_MIN_HOURS)
		return ER_ENOENT;
	*out = mean_of(hourly, valid, 0, HOURS_PER_DAY);
	return 0;
}

int agg_air_o3_8h(const er_fx *hourly, const bool *valid, size_t n, size_t t, agg_mean *out)
{
	int nvalid, rc;

	if (hourly == NULL || valid == NULL || out == NULL)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if (t < WINDOW_HOURS - 1 || t >= n)
		return ER_EINVAL;
	size_t lo = t - (WINDOW_HOURS - 1);
	if ((rc = check_hours(hourly, valid, lo, t + 1, &nvalid)) != 0)
		return rc;
	/* GB 3095-2012 Table 4: an 8-hour average needs >= 6 hourly values */
	if (nvalid < AGG_AIR_8H_MIN_HOURS)
		return ER_ENOENT;
	*out = mean_of(hourly, valid, lo, WINDOW_HOURS);
	return 0;
}

int agg_air_mda8(const er_fx hourly[24], const bool valid[24], er_fx limit, agg_mean *out, int *valid_windows)
{
	agg_mean best = {0, 0};
	int nvalid, nwin = 0, rc;

	if (hourly == NULL || valid == NULL || out == NULL || limit < 0)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if (valid_windows != NULL)
		*valid_windows = 0;
	if ((rc = check_hours(hourly, valid, 0, HOURS_PER_DAY, &nvalid)) != 0)
		return rc;
	/* HJ 663-2013: the 8-hour averages of 08时..24时 (end labels), i.e. the
	 * windows [w, w+8) for w = 0..16, all inside the day */
	for (size_t w = 0; w < AGG_AIR_MDA8_WINDOWS; w++) {
		agg_mean m = mean_of(hourly, valid, w, WINDOW_HOURS);

		if (m.n < AGG_AIR_8H_MIN_HOURS)
			continue;
		nwin++;
		/* strictly greater: the earliest of equal windows stays */
		if (best.n == 0 || mean_cmp(m, best) > 0)
			best = m;
	}
	if (valid_windows != NULL)
		*valid_windows = nwin;
	/* HJ 663-2013: >= 14 valid windows, or fewer when the maximum exceeds
	 * the limit (an exceedance is certain whatever the missing windows) */
	if (nwin < AGG_AIR_MDA8_MIN_WINDOWS && (nwin == 0 || mean_cmp(best, (agg_mean){limit, 1}) <= 0))
		return ER_ENOENT;
	*out = best;
	return 0;
}

int agg_air_o3_max1h(const er_fx hourly[24], const bool valid[24], er_fx *out)
{
	int nvalid, rc;
	er_fx max = 0;

	if (hourly == NULL || valid == NULL || out == NULL)
		return ER_EINVAL;
	*out = 0;
	if ((rc = check_hours(hourly, valid, 0, HOURS_PER_DAY, &nvalid)) != 0)
		return rc;
	/* the daily rule of GB 3095-2012 Table 4 (airstat.h says why) */
	if (nvalid < AGG_AIR_DAY_MIN_HOURS)
		return ER_ENOENT;
	for (size_t h = 0; h < HOURS_PER_DAY; h++)
		if (valid[h] && hourly[h] > max)
			max = hourly[h];
	*out = max;
	return 0;
}

int agg_air_days_mean(const agg_mean *daily, size_t ndays, agg_mean *out, int *valid_days)
{
	/* the running sum num / den of the valid daily means, den > 0, reduced */
	i128 num = 0, den = 1;
	int nvalid = 0;

	if (daily == NULL || out == NULL || ndays > INT32_MAX)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if (valid_days != NULL)
		*valid_days = 0;
	for (size_t i = 0; i < ndays; i++)
		if (daily[i].n < 0)
			return ER_EINVAL;
	for (size_t i = 0; i < ndays; i++) {
		if (daily[i].n == 0)
			continue;
		nvalid++;
		/* num/den + s/n = (num (n/g) + s (den/g)) / (den/g x n), g = gcd(den, n) */
		i128 n = daily[i].n, g = (i128)gcd_u128((u128)den, (u128)n), a, b;
		if (__builtin_mul_overflow(num, n / g, &a) || __builtin_mul_overflow((i128)daily[i].sum, den / g, &b) ||
		    __builtin_add_overflow(a, b, &num) || __builtin_mul_overflow(den / g, n, &den))
			return ER_ERANGE;
		g = (i128)gcd_u128(abs_u128(num), (u128)den);
		num /= g;
		den /= g;
	}
	if (valid_days != NULL)
		*valid_days = nvalid;
	if (nvalid == 0)
		return ER_ENOENT;
	/* mean = num / (den x nvalid), reduced so that it fits when it can */
	if (__builtin_mul_overflow(den, (i128)nvalid, &den))
		return ER_ERANGE;
	i128 g = (i128)gcd_u128(abs_u128(num), (u128)den);
	num /= g;
	den /= g;
	if (num > INT64_MAX || num < INT64_MIN || den > INT32_MAX)
		return ER_ERANGE;
	*out = (agg_mean){(int64_t)num, (int32_t)den};
	return 0;
}

/* Days in month m of year y, from the calendar's own day numbers. */
static int month_days(int64_t y, int m)
{
	int64_t next = m == 12 ? er_days_from_civil(y + 1, 1, 1) : er_days_from_civil(y, (unsigned)m + 1, 1);

	return (int)(next - er_days_from_civil(y, (unsigned)m, 1));
}

/* GB 3095-2012 Table 4: 27 daily values a month, 25 in February */
static int month_min(int m)
{
	return m == 2 ? AGG_AIR_FEB_MIN_DAYS : AGG_AIR_MONTH_MIN_DAYS;
}

static int count_valid(const agg_mean *daily, size_t ndays)
{
	int c = 0;

	for (size_t i = 0; i < ndays; i++)
		c += daily[i].n > 0;
	return c;
}

int agg_air_month_mean(const agg_mean *daily, size_t ndays, int32_t year, int month, agg_mean *out, int *valid_days)
{
	int nvalid, rc;

	if (daily == NULL || out == NULL || month < 1 || month > 12)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if (valid_days != NULL)
		*valid_days = 0;
	if (ndays != (size_t)month_days(year, month))
		return ER_EINVAL;
	if ((rc = agg_air_days_mean(daily, ndays, out, &nvalid)) != 0 && rc != ER_ENOENT)
		return rc;
	if (valid_days != NULL)
		*valid_days = nvalid;
	if (nvalid < month_min(month)) {
		*out = (agg_mean){0, 0};
		return ER_ENOENT;
	}
	return 0;
}

int agg_air_year_mean(const agg_mean *daily, size_t ndays, int32_t year, agg_mean *out, int *valid_days,
		      int *failing_month)
{
	int nvalid, failing = 0, rc;
	size_t first = 0;

	if (daily == NULL || out == NULL)
		return ER_EINVAL;
	*out = (agg_mean){0, 0};
	if (valid_days != NULL)
		*valid_days = 0;
	if (failing_month != NULL)
		*failing_month = 0;
	if (ndays != (size_t)(er_days_from_civil((int64_t)year + 1, 1, 1) - er_days_from_civil(year, 1, 1)))
		return ER_EINVAL;
	if ((rc = agg_air_days_mean(daily, ndays, out, &nvalid)) != 0 && rc != ER_ENOENT)
		return rc;
	for (int m = 1; m <= 12; m++) {
		size_t len = (size_t)month_days(year, m);

		if (failing == 0 && count_valid(daily + first, len) < month_min(m))
			failing = m;
		first += len;
	}
	if (valid_days != NULL)
		*valid_days = nvalid;
	if (failing_month != NULL)
		*failing_month = failing;
	/* GB 3095-2012 Table 4: 324 daily values a year and the monthly minimum in every month */
	if (nvalid < AGG_AIR_YEAR_MIN_DAYS || failing != 0) {
		*out = (agg_mean){0, 0};
		return ER_ENOENT;
	}
	return 0;
}

static int cmp_fx(const void *a, const void *b)
{
	er_fx x = *(const er_fx *)a, y = *(const er_fx *)b;

	return (x > y) - (x < y);
}

int agg_air_percentile(er_fx *values, size_t n, int p_percent, er_fx *out)
{
	if (values == NULL || out == NULL || p_percent < 0 || p_percent > PERCENT)
		return ER_EINVAL;
	*out = 0;
	if (n == 0)
		return ER_ENOENT;
	qsort(values, n, sizeof values[0], cmp_fx);
	/* HJ 663-2013 Annex A with p = p_percent / 100: k - 1 = (n - 1) p_percent / 100,
	 * so s - 1 is the quotient and (k - s) x 100 the remainder of (n - 1) p_percent / 100 */
	u128 q = (u128)(n - 1) * (unsigned)p_percent;
	size_t s0 = (size_t)(q / PERCENT); /* s - 1: the 0-based index of X(s) */
	i128 r = (i128)(q % PERCENT);
	i128 base = values[s0];
	/* r == 0 when s == n (p = 100), so X(s+1) is read only when it exists */
	i128 step = r == 0 ? 0 : (i128)values[s0 + 1] - base;
	/* m lies between X(s) and X(s+1), so it fits an er_fx */
	*out = (er_fx)div_half_even(base * PERCENT + step * r, PERCENT);
	return 0;
}

int agg_air_good_share(int good_days, int valid_days, int *tenths)
{
	if (tenths == NULL || good_days < 0 || valid_days < 0 || good_days > valid_days)
		return ER_EINVAL;
	*tenths = 0;
	if (valid_days == 0)
		return ER_ENOENT;
	/* one decimal of a percent, rounded half to even (GB/T 8170) */
	*tenths = (int)div_half_even((i128)good_days * PERMILLE, valid_days);
	return 0;
}

int agg_air_target_level(agg_mean value, int kind, er_fx target, er_fx margin, int *level)
{
	if (level == NULL || value.n < 0 || target < 0 || margin < 0 || margin > ER_FX_SCALE ||
	    (kind != AGG_AT_MOST && kind != AGG_AT_LEAST))
		return ER_EINVAL;
	*level = 0;
	if (value.n == 0)
		return ER_ENOENT;
	/* value = sum / n against target x f / SCALE with f = SCALE +- margin:
	 * sum x SCALE against target x f x n, all within 128 bits
	 * (2^63 x 2^21 x 2^31 < 2^127) */
	i128 v = (i128)value.sum * ER_FX_SCALE;
	i128 t = (i128)target * ER_FX_SCALE * value.n;
	if (kind == AGG_AT_MOST) {
		i128 y = (i128)target * (ER_FX_SCALE + margin) * value.n;
		*level = v <= t ? AGG_GREEN : v <= y ? AGG_YELLOW : AGG_RED;
	} else {
		i128 y = (i128)target * (ER_FX_SCALE - margin) * value.n;
		*level = v >= t ? AGG_GREEN : v >= y ? AGG_YELLOW : AGG_RED;
	}
	return 0;
}
