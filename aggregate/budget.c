/* budget.c: budget and intensity-target warning levels (DOMAIN.md 6; see
 * budget.h for the rules).
 *
 * Every threshold test compares two products a x b x c with a < 2^127 and
 * b, c < 2^64, computed exactly in 256 bits: projected <= budget is
 * YTD x den <= budget x num, never a division followed by a comparison.
 * Figures shown (expected, projected) are divided once, rounded down.
 */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MICRO 1000000LL		 /* er_fx units per unit */
#define PCT_MICRO 100000000LL	 /* 100% in micro-percent */
#define PICO_PER_MICRO_TCE 1000000000LL /* 1e-6 tce = 1e-3 kgce = 1e9 x 1e-12 kgce */

typedef unsigned __int128 u128;

/* ---- exact products ---- */

typedef struct u256 {
	uint64_t w[4]; /* little-endian limbs */
} u256;

/* a x b x c, exact: a < 2^128 and b, c < 2^64 make at most 256 bits. */
static u256 mul3(u128 a, uint64_t b, uint64_t c)
{
	u256 r = {{(uint64_t)a, (uint64_t)(a >> 64), 0, 0}};
	uint64_t f[2] = {b, c};
	for (int k = 0; k < 2; k++) {
		u128 carry = 0;
		for (int i = 0; i < 4; i++) {
			u128 p = (u128)r.w[i] * f[k] + carry;
			r.w[i] = (uint64_t)p;
			carry = p >> 64;
		}
	}
	return r;
}

static int cmp256(const u256 *x, const u256 *y)
{
	for (int i = 3; i >= 0; i--)
		if (x->w[i] != y->w[i])
			return x->w[i] < y->w[i] ? -1 : 1;
	return 0;
}

/* sign of (a x b x c) - (d x e x f), all non-negative */
static int cmp_prod(u128 a, uint64_t b, uint64_t c, u128 d, uint64_t e, uint64_t f)
{
	u256 x = mul3(a, b, c), y = mul3(d, e, f);
	return cmp256(&x, &y);
}

/* floor(a x num / den) without overflowing while a x num would: the
 * quotient and remainder of a / den are scaled separately. Saturates at
 * the largest agg_pico. */
static agg_pico mul_div(agg_pico a, uint64_t num, uint64_t den)
{
	if (a <= 0 || num == 0)
		return 0;
	u128 q = (u128)a / den, r = (u128)a % den;
	u128 max = ((u128)1 << 126) - 1; /* well inside agg_pico */
	if (q != 0 && q > max / num)
		return (agg_pico)max;
	u128 v = q * num + r * num / den; /* r < den < 2^64 and num < 2^64: r x num < 2^128 */
	return (agg_pico)(v > max ? max : v);
}

/* ---- names ---- */

const char *agg_warn_level_name(int level)
{
	static const char *n[] = {"none", "green", "yellow", "red"};
	return level >= 0 && level <= 3 ? n[level] : "?";
}

const char *agg_warn_rule_name(int rule)
{
	static const char *n[AGG_RULE_COUNT] = {"none",		     "no_projection",  "within_budget",
						"over_budget",	     "over_limit",     "ytd_over_budget",
						"within_target",     "over_target",    "over_target_limit"};
	return rule >= 0 && rule < AGG_RULE_COUNT ? n[rule] : "?";
}

size_t agg_warn_rule_text(int rule, int64_t yellow_limit_micro, char *buf, size_t cap)
{
	char lim[32];
	er_fx_format(yellow_limit_micro, lim, sizeof lim);
	switch (rule) {
	case AGG_RULE_NO_PROJECTION: return (size_t)snprintf(buf, cap, "no projection yet; YTD <= budget");
	case AGG_RULE_WITHIN_BUDGET: return (size_t)snprintf(buf, cap, "projected <= budget");
	case AGG_RULE_OVER_BUDGET: return (size_t)snprintf(buf, cap, "budget < projected <= %s x budget", lim);
	case AGG_RULE_OVER_LIMIT: return (size_t)snprintf(buf, cap, "projected > %s x budget", lim);
	case AGG_RULE_YTD_OVER_BUDGET: return (size_t)snprintf(buf, cap, "YTD > budget");
	case AGG_RULE_WITHIN_TARGET: return (size_t)snprintf(buf, cap, "intensity <= target");
	case AGG_RULE_OVER_TARGET: return (size_t)snprintf(buf, cap, "target < intensity <= %s x target", lim);
	case AGG_RULE_OVER_TARGET_LIMIT: return (size_t)snprintf(buf, cap, "intensity > %s x target", lim);
	}
	return (size_t)snprintf(buf, cap, "-");
}

const char *agg_budget_kind_name(int kind)
{
	return kind == AGG_BUDGET_ENERGY ? "budget" : kind == AGG_BUDGET_INTENSITY ? "intensity" : "?";
}

/* ---- thresholds ---- */

void agg_warn_rules_default(agg_warn_rules *r)
{
	r->yellow_limit_micro = AGG_WARN_YELLOW_LIMIT_DEFAULT;
	r->min_share_micro = AGG_WARN_MIN_SHARE_DEFAULT;
}

int agg_warn_rules_load(const char *path, agg_warn_rules *r, char *err, size_t errlen)
{
	er_errs c = {.err = err, .errlen = errlen, .max = AGG_BUDGET_MAX_ERRORS, .path = path};
	char *buf, *line, *f[4];
	size_t len;
	uint32_t nul;
	er_lines it;
	agg_warn_rules out = *r;

	if (errlen > 0)
		err[0] = 0;
	if (er_read_file(path, &buf, &len) != 0) {
		er_errs_add(&c, "cannot read the warning thresholds");
		return ER_EIO;
	}
	if (er_lines_init(&it, buf, len, &nul) != 0) {
		c.line = nul;
		er_errs_add(&c, "not a text file");
	}
	while (c.nerr == 0 && (line = er_lines_next(&it)) != NULL) {
		c.line = it.line;
		int nf = er_csv_split(line, f, 4);
		er_fx v;
		if (nf == 3 && strcmp(f[0], "name") == 0)
			continue; /* the header */
		if (nf != 3) {
			er_errs_add(&c, "expected name,value,source");
		} else if (er_fx_parse(f[1], strlen(f[1]), &v) != 0) {
			er_errs_add(&c, "%s: '%s' is not a decimal number", f[0], f[1]);
		} else if (strcmp(f[0], "yellow_limit") == 0) {
			if (v <= MICRO || v > 10 * MICRO) /* a yellow band needs a limit above the budget */
				er_errs_add(&c, "yellow_limit must be above 1 and at most 10");
			out.yellow_limit_micro = v;
		} else if (strcmp(f[0], "min_expected_share") == 0) {
			if (v < 0 || v >= MICRO)
				er_errs_add(&c, "min_expected_share must be from 0 to below 1");
			out.min_share_micro = v;
		} else {
			er_errs_add(&c, "unknown threshold '%s' (yellow_limit, min_expected_share)", f[0]);
		}
	}
	free(buf);
	if (c.nerr > 0)
		return ER_EINVAL;
	*r = out;
	return 0;
}

/* ---- profiles ---- */

int agg_profile_parse(const char *text, agg_profile *out, char *err, size_t errlen)
{
	er_fx v[12];
	int n = 0;
	const char *p = text;

	while (*p) {
		while (*p == ';' || *p == ' ')
			p++;
		if (*p == 0)
			break;
		const char *e = p;
		while (*e && *e != ';' && *e != ' ')
			e++;
		if (n == 12 || er_fx_parse(p, (size_t)(e - p), &v[n]) != 0 || v[n] < 0) {
			snprintf(err, errlen, "a profile is 12 percentages separated by ';'");
			return ER_EINVAL;
		}
		n++;
		p = e;
	}
	if (n != 12) {
		snprintf(err, errlen, "a profile is 12 percentages separated by ';' (got %d)", n);
		return ER_EINVAL;
	}
	int64_t sum = 0;
	bool rising = true;
	for (int i = 0; i < 12; i++) {
		sum += v[i];
		rising &= i == 0 || v[i] >= v[i - 1];
	}
	if (sum == PCT_MICRO) { /* monthly shares */
		int64_t cum = 0;
		for (int i = 0; i < 12; i++) {
			cum += v[i];
			out->cum[i] = (uint32_t)cum;
		}
		return 0;
	}
	if (rising && v[11] == PCT_MICRO) { /* cumulative shares */
		for (int i = 0; i < 12; i++)
			out->cum[i] = (uint32_t)v[i];
		return 0;
	}
	snprintf(err, errlen, "profile shares must sum to 100 (monthly) or rise to 100 (cumulative)");
	return ER_EINVAL;
}

int agg_profile_from_months(const agg_pico month[12], agg_profile *out)
{
	agg_pico total = 0, cum = 0;
	for (int i = 0; i < 12; i++) {
		if (month[i] < 0)
			return ER_ERANGE;
		total += month[i];
	}
	if (total <= 0)
		return ER_ERANGE;
	for (int i = 0; i < 12; i++) {
		cum += month[i];
		/* floor(cum x 1e8 / total): the largest q with q x total <= cum x 1e8
		 * (total may exceed 64 bits, so search instead of dividing) */
		uint64_t lo = 0, hi = AGG_PROFILE_FULL;
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo + 1) / 2;
			if (cmp_prod((u128)total, mid, 1, (u128)cum, PCT_MICRO, 1) <= 0)
				lo = mid;
			else
				hi = mid - 1;
		}
		out->cum[i] = (uint32_t)lo;
	}
	out->cum[11] = AGG_PROFILE_FULL;
	return 0;
}

/* ---- shares ---- */

int agg_budget_share(const agg_profile *p, int32_t year, int64_t t, int offset_s, agg_share *out)
{
	if (year < 1900 || year > 9999 || offset_s <= -86400 || offset_s >= 86400)
		return ER_EINVAL;
	int64_t y0 = er_days_from_civil(year, 1, 1) * 86400 - offset_s;
	int64_t y1 = er_days_from_civil(year + 1, 1, 1) * 86400 - offset_s;
	if (t <= y0) {
		*out = (agg_share){0, 1};
		return 0;
	}
	if (t >= y1) {
		*out = (agg_share){1, 1};
		return 0;
	}
	if (p == NULL) {
		*out = (agg_share){(uint64_t)(t - y0), (uint64_t)(y1 - y0)};
		return 0;
	}
	/* the month holding t: cumulative share before it, linear inside */
	int64_t y;
	unsigned m, d;
	er_civil_from_days(er_local_day(t, offset_s), &y, &m, &d);
	int64_t m0 = er_days_from_civil(year, m, 1) * 86400 - offset_s;
	int64_t m1 = (m == 12 ? y1 : er_days_from_civil(year, m + 1, 1) * 86400 - offset_s);
	uint64_t before = m > 1 ? p->cum[m - 2] : 0, in = p->cum[m - 1] - before, mlen = (uint64_t)(m1 - m0);
	*out = (agg_share){before * mlen + in * (uint64_t)(t - m0), (uint64_t)AGG_PROFILE_FULL * mlen};
	return 0;
}

/* ---- levels ---- */

int agg_budget_level(const agg_warn_rules *r, agg_pico budget, agg_pico ytd, const agg_share *s,
		     agg_budget_eval *out)
{
	if (budget < 0 || s->den == 0 || s->num > s->den)
		return ER_EINVAL;
	u128 y = ytd > 0 ? (u128)ytd : 0, b = (u128)budget;
	memset(out, 0, sizeof *out);
	out->expected = mul_div(budget, s->num, s->den);
	/* DOMAIN.md 6: no projection before min_share of the year is expected:
	 * num / den < min / 1e6 */
	out->projected_ok = s->num > 0 && cmp_prod(s->num, MICRO, 1, (u128)r->min_share_micro, s->den, 1) >= 0;
	if (out->projected_ok)
		out->projected = mul_div((agg_pico)y, s->den, s->num);
	if (y > b) {
		out->level = AGG_RED;
		out->rule = AGG_RULE_YTD_OVER_BUDGET;
	} else if (!out->projected_ok) {
		out->level = AGG_GREEN;
		out->rule = AGG_RULE_NO_PROJECTION;
	} else if (cmp_prod(y, s->den, 1, b, s->num, 1) <= 0) {
		/* projected = y x den / num <= b */
		out->level = AGG_GREEN;
		out->rule = AGG_RULE_WITHIN_BUDGET;
	} else if (cmp_prod(y, s->den, MICRO, b, s->num, (uint64_t)r->yellow_limit_micro) <= 0) {
		out->level = AGG_YELLOW;
		out->rule = AGG_RULE_OVER_BUDGET;
	} else {
		out->level = AGG_RED;
		out->rule = AGG_RULE_OVER_LIMIT;
	}
	return 0;
}

int agg_intensity_level(const agg_warn_rules *r, agg_pico e_t, er_fx v_t, agg_pico e_0, er_fx v_0, er_fx change,
			int *level, int *rule)
{
	if (v_t <= 0 || v_0 <= 0 || e_0 <= 0 || change <= -PCT_MICRO)
		return ER_ERANGE;
	u128 et = e_t > 0 ? (u128)e_t : 0;
	uint64_t k = (uint64_t)(PCT_MICRO + change); /* target = I_0 x k / 1e8 */
	/* e_t / v_t <= (e_0 / v_0) x k / 1e8  <=>  e_t x v_0 x 1e8 <= e_0 x v_t x k */
	if (cmp_prod(et, (uint64_t)v_0, PCT_MICRO, (u128)e_0, (uint64_t)v_t, k) <= 0) {
		*level = AGG_GREEN;
		*rule = AGG_RULE_WITHIN_TARGET;
	} else if (cmp_prod(et, (uint64_t)v_0, (uint64_t)PCT_MICRO * MICRO, (u128)e_0, (uint64_t)v_t,
			    k * (uint64_t)r->yellow_limit_micro) <= 0) {
		*level = AGG_YELLOW;
		*rule = AGG_RULE_OVER_TARGET;
	} else {
		*level = AGG_RED;
		*rule = AGG_RULE_OVER_TARGET_LIMIT;
	}
	return 0;
}

/* ---- the budget CSV ---- */

static int level_parse(const char *s)
{
	return strcmp(s, "enterprise") == 0 ? 2 : strcmp(s, "district") == 0 ? 3 : strcmp(s, "city") == 0 ? 4 : 0;
}

/* The registry's code rule: 1-63 of A-Z a-z 0-9 . _ - */
static bool code_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool year_parse(const char *s, int32_t *y)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 2000 || v > 2200)
		return false;
	*y = (int32_t)v;
	return true;
}

static void row_parse(er_errs *c, char **f, int nf, agg_budget_row *row)
{
	char why[128];
	memset(row, 0, sizeof *row);
	row->line = c->line;
	if (nf != 7) {
		er_errs_add(c, "expected %d fields (" AGG_BUDGET_HEADER "), got %d", 7, nf);
		return;
	}
	if ((row->level = level_parse(f[0])) == 0)
		return er_errs_add(c, "level '%s' is not enterprise, district or city", f[0]);
	row->code = f[1];
	if (row->level != 4 && !code_ok(f[1]))
		return er_errs_add(c, "entity '%s' is not a code", f[1]);
	if (!year_parse(f[2], &row->year))
		return er_errs_add(c, "year '%s' is not a year from 2000 to 2200", f[2]);
	if (strcmp(f[3], "budget") == 0)
		row->kind = AGG_BUDGET_ENERGY;
	else if (strcmp(f[3], "intensity") == 0)
		row->kind = AGG_BUDGET_INTENSITY;
	else
		return er_errs_add(c, "kind '%s' is not budget or intensity", f[3]);
	if (er_fx_parse(f[4], strlen(f[4]), &row->target) != 0)
		return er_errs_add(c, "target '%s' is not a decimal with at most 6 fraction digits", f[4]);
	if (row->kind == AGG_BUDGET_ENERGY) {
		if (row->target <= 0)
			return er_errs_add(c, "a budget is a positive quantity of tce");
		if (f[5][0] != 0)
			return er_errs_add(c, "base is for intensity targets only");
		if (f[6][0] == 0) {
			row->profile_type = AGG_PROFILE_NONE;
		} else if (strcmp(f[6], "last_year") == 0) {
			row->profile_type = AGG_PROFILE_LAST_YEAR;
		} else if (agg_profile_parse(f[6], &row->profile, why, sizeof why) == 0) {
			row->profile_type = AGG_PROFILE_GIVEN;
		} else {
			return er_errs_add(c, "%s", why);
		}
		return;
	}
	/* an intensity target: a change in percent against a base */
	if (row->target <= -PCT_MICRO)
		return er_errs_add(c, "a change must be above -100%%");
	if (f[6][0] != 0)
		return er_errs_add(c, "a profile is for energy budgets only");
	if (f[5][0] == 0 || strcmp(f[5], "last") == 0)
		row->base = 0;
	else if (!year_parse(f[5], &row->base) || row->base >= row->year)
		return er_errs_add(c, "base '%s' is not 'last' or a year before %d", f[5], (int)row->year);
}

int agg_budget_csv_parse(char *buf, size_t len, const char *name, agg_budget_row_fn *fn, void *ctx, char *err,
			 size_t errlen, uint32_t *nrows)
{
	er_errs c = {.err = err, .errlen = errlen, .max = AGG_BUDGET_MAX_ERRORS, .path = name};
	er_lines it;
	uint32_t nul, n = 0;
	char *line, *f[8];
	agg_budget_row *rows = NULL;
	size_t cap = 0;
	int rc = 0;

	if (errlen > 0)
		err[0] = 0;
	*nrows = 0;
	if (er_lines_init(&it, buf, len, &nul) != 0) {
		c.line = nul;
		er_errs_add(&c, "not a text file (a NUL byte)");
		return ER_EINVAL;
	}
	while ((line = er_lines_next(&it)) != NULL) {
		c.line = it.line;
		int nf = er_csv_split(line, f, 8);
		if (nf > 0 && strcmp(f[0], "level") == 0)
			continue; /* the header */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			agg_budget_row *r = realloc(rows, nc * sizeof *r);
			if (r == NULL) {
				free(rows);
				return ER_ENOMEM;
			}
			rows = r;
			cap = nc;
		}
		int before = c.nerr;
		row_parse(&c, f, nf < 0 ? 0 : nf, &rows[n]);
		if (c.nerr == before)
			n++;
	}
	/* one row per (level, entity, year, kind): a second is a mistake */
	for (uint32_t i = 0; i < n && c.nerr == 0; i++)
		for (uint32_t j = 0; j < i; j++)
			if (rows[i].level == rows[j].level && rows[i].year == rows[j].year &&
			    rows[i].kind == rows[j].kind && strcmp(rows[i].code, rows[j].code) == 0) {
				c.line = rows[i].line;
				er_errs_add(&c, "a second %s row for %s %d (first at line %u)",
					    agg_budget_kind_name(rows[i].kind), rows[i].code, (int)rows[i].year,
					    (unsigned)rows[j].line);
				break;
			}
	if (c.nerr > AGG_BUDGET_MAX_ERRORS && c.errlen > c.errpos + 1)
		snprintf(c.err + c.errpos, c.errlen - c.errpos, "\n... and %d more errors", c.nerr - AGG_BUDGET_MAX_ERRORS);
	if (c.nerr > 0)
		rc = ER_EINVAL;
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		rc = fn(ctx, &rows[i]);
	if (rc == 0)
		*nrows = n;
	free(rows);
	return rc;
}
