/* budget.h: energy budgets, intensity targets and their warning levels
 * (DOMAIN.md 6): the arithmetic, the budget CSV and the threshold table,
 * with no store and no network, so every rule can be checked by hand.
 *
 * A budget is an annual quantity of standard coal (budget scope: no
 * feedstock, no new renewables) for an enterprise, a district or the city.
 * At data time t (the end of the latest hour with data in the year) the
 * expected share of the year is the elapsed share of the year, or the
 * share a monthly profile gives (cumulative through the months before t's
 * month, linear inside it). Then
 *   expected  = budget x share
 *   projected = YTD / share          (none while share < min_share)
 *   green     projected <= budget
 *   yellow    budget < projected <= yellow_limit x budget
 *   red       projected > yellow_limit x budget, or YTD > budget
 * An intensity target is a change against a base (e.g. -3%): target =
 * base intensity x (1 + change); green at or under the target, yellow up
 * to yellow_limit x target, red above.
 *
 * Exactness: every comparison at a threshold is a comparison of exact
 * integer products (up to 256 bits); nothing is compared in floating
 * point. Quantities are agg_pico (1e-12 kgce); shares are exact fractions.
 *
 * Threads: pure functions, safe from any thread. */
#ifndef AGG_BUDGET_H
#define AGG_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "energy.h" /* agg_pico */
#include "er.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Warning levels; numbered so that a larger number is more severe. */
enum agg_warn_level { AGG_LEVEL_NONE = 0, AGG_GREEN = 1, AGG_YELLOW = 2, AGG_RED = 3 };
const char *agg_warn_level_name(int level); /* "none", "green", "yellow", "red" */

/* The rule that set a level. */
enum agg_warn_rule {
	AGG_RULE_NONE = 0,
	AGG_RULE_NO_PROJECTION = 1,   /* green: share below min_share, YTD within budget */
	AGG_RULE_WITHIN_BUDGET = 2,   /* green: projected <= budget */
	AGG_RULE_OVER_BUDGET = 3,     /* yellow: budget < projected <= limit x budget */
	AGG_RULE_OVER_LIMIT = 4,      /* red: projected > limit x budget */
	AGG_RULE_YTD_OVER_BUDGET = 5, /* red: YTD > budget */
	AGG_RULE_WITHIN_TARGET = 6,   /* green: intensity <= target */
	AGG_RULE_OVER_TARGET = 7,     /* yellow: target < intensity <= limit x target */
	AGG_RULE_OVER_TARGET_LIMIT = 8, /* red: intensity > limit x target */
	AGG_RULE_COUNT
};
/* The rule as a short sentence with the configured limit, e.g.
 * "budget < projected <= 1.1 x budget". */
size_t agg_warn_rule_text(int rule, int64_t yellow_limit_micro, char *buf, size_t cap);
const char *agg_warn_rule_name(int rule); /* "no_projection", "within_budget", ... */

/* The thresholds (conf/warnings.csv). */
typedef struct agg_warn_rules {
	int64_t yellow_limit_micro; /* 1.10 -> 1100000 */
	int64_t min_share_micro;    /* 0.02 -> 20000 */
} agg_warn_rules;
#define AGG_WARN_YELLOW_LIMIT_DEFAULT 1100000 /* DOMAIN.md 6: yellow up to 1.10 x budget */
#define AGG_WARN_MIN_SHARE_DEFAULT 20000      /* DOMAIN.md 6: no projection before 2% */
void agg_warn_rules_default(agg_warn_rules *r);
/* Loads name,value,source rows (yellow_limit, min_expected_share) over the
 * defaults. ER_EIO (unreadable) or ER_EINVAL with err "path:line: why". */
int agg_warn_rules_load(const char *path, agg_warn_rules *r, char *err, size_t errlen);

/* A monthly profile: the cumulative share of the year at the end of each
 * month, in micro-percent (cum[11] = 100% = 1e8). */
#define AGG_PROFILE_FULL 100000000u /* 100% in micro-percent */
typedef struct agg_profile {
	uint32_t cum[12];
} agg_profile;
/* 12 percentages separated by ';' or spaces: monthly shares summing to
 * 100, or cumulative shares rising to 100 (the two readings agree in the
 * only case both fit, everything in December). ER_EINVAL with err. */
int agg_profile_parse(const char *text, agg_profile *out, char *err, size_t errlen);
/* A profile from 12 monthly quantities (last year's use): ER_ERANGE when
 * they sum to 0 or one is negative. Rounded down to micro-percent, the
 * last month taking the remainder so that cum[11] is exactly 100%. */
int agg_profile_from_months(const agg_pico month[12], agg_profile *out);

/* The expected share of the year at t, num / den (0 <= num <= den). */
typedef struct agg_share {
	uint64_t num, den;
} agg_share;
/* p NULL: the elapsed share of the year (local calendar at offset_s). */
int agg_budget_share(const agg_profile *p, int32_t year, int64_t t, int offset_s, agg_share *out);

typedef struct agg_budget_eval {
	int level, rule;
	bool projected_ok;  /* a projection was made (share >= min_share) */
	agg_pico expected;  /* budget x share, rounded down */
	agg_pico projected; /* YTD / share, rounded down; 0 without a projection */
} agg_budget_eval;
/* budget and ytd in 1e-12 kgce (budget >= 0; a negative YTD counts as 0).
 * ER_EINVAL for a bad share or negative budget. */
int agg_budget_level(const agg_warn_rules *r, agg_pico budget, agg_pico ytd, const agg_share *s,
		     agg_budget_eval *out);

/* Intensity against a target: e_t / v_t against (e_0 / v_0) x (1 +
 * change), change in micro-percent (-3% -> -3000000). ER_ERANGE when an
 * intensity cannot be formed (a denominator or the base energy is not
 * positive, or change <= -100%). */
int agg_intensity_level(const agg_warn_rules *r, agg_pico e_t, er_fx v_t, agg_pico e_0, er_fx v_0, er_fx change,
			int *level, int *rule);

/* ---- the budget CSV ---- */

enum agg_budget_kind { AGG_BUDGET_ENERGY = 1, AGG_BUDGET_INTENSITY = 2 };
const char *agg_budget_kind_name(int kind); /* "budget", "intensity" */

#define AGG_BUDGET_HEADER "level,entity,year,kind,target,base,profile"
#define AGG_BUDGET_MAX_ERRORS 20 /* as the other table loaders list */

enum agg_profile_type { AGG_PROFILE_NONE = 0, AGG_PROFILE_GIVEN = 1, AGG_PROFILE_LAST_YEAR = 2 };

typedef struct agg_budget_row {
	int level;	  /* enum sto_level: 2 enterprise, 3 district, 4 city */
	const char *code; /* the entity's code (the city's may be empty) */
	int32_t year;
	int kind;
	er_fx target;	  /* budget: micro-tce; intensity: micro-percent change */
	int32_t base;	  /* intensity: base year; 0 = the same months last year */
	int profile_type; /* budget only */
	agg_profile profile;
	uint32_t line;
} agg_budget_row;
typedef int agg_budget_row_fn(void *ctx, const agg_budget_row *row);
/* Parses a budget CSV held in buf[0..len) (cut in place). Every row is
 * checked first; fn sees the rows only when the whole file is good.
 * ER_EINVAL with err holding "name:line: why" lines. */
int agg_budget_csv_parse(char *buf, size_t len, const char *name, agg_budget_row_fn *fn, void *ctx, char *err,
			 size_t errlen, uint32_t *nrows);

#ifdef __cplusplus
}
#endif
#endif
