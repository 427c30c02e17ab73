/* test_budget.c: aggregate/budget.c, budget and intensity-target warning
 * levels (DOMAIN.md 6). Every expected figure is computed by hand in the
 * comments. The year is 2026 (365 days, 31,536,000 s) in +08:00; a budget
 * of 365 tce is 1 tce a day on track. Quantities are 1e-12 kgce: 1 tce =
 * 1e15. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "er.h"
#include "tutil.h"

#define CST (8 * 3600)
#define TCE(x) ((agg_pico)(x) * 1000000000000000LL) /* whole tce in 1e-12 kgce */
#define MILLI_TCE(x) ((agg_pico)(x) * 1000000000000LL)
#define Y2026 (31536000LL)

static int64_t at(const char *iso)
{
	int64_t t;
	assert_int_equal(er_time_parse(iso, strlen(iso), CST, &t), 0);
	return t;
}

static agg_budget_eval eval_at(agg_pico budget, agg_pico ytd, const agg_profile *p, const char *iso)
{
	agg_warn_rules r;
	agg_share s;
	agg_budget_eval e;
	agg_warn_rules_default(&r);
	assert_int_equal(agg_budget_share(p, 2026, at(iso), CST, &s), 0);
	assert_int_equal(agg_budget_level(&r, budget, ytd, &s, &e), 0);
	return e;
}

/* 2026-07-02 00:00: 181 days of January to June plus July 1 = 182 days
 * elapsed, share 182/365. */
#define JUL2 "2026-07-02T00:00:00+08:00"

static void test_share_linear(void **state)
{
	(void)state;
	agg_share s;
	assert_int_equal(agg_budget_share(NULL, 2026, at(JUL2), CST, &s), 0);
	assert_int_equal(s.num, 182 * 86400);
	assert_int_equal(s.den, Y2026);
	/* before the year: nothing expected; after it: everything */
	assert_int_equal(agg_budget_share(NULL, 2026, at("2025-12-31T23:00:00+08:00"), CST, &s), 0);
	assert_int_equal(s.num, 0);
	assert_int_equal(agg_budget_share(NULL, 2026, at("2027-01-01T00:00:00+08:00"), CST, &s), 0);
	assert_true(s.num == s.den);
	/* the year is local: 2026-01-01T00:00+08:00 is 2025-12-31T16:00Z */
	assert_int_equal(agg_budget_share(NULL, 2026, at("2025-12-31T17:00:00Z"), CST, &s), 0);
	assert_int_equal(s.num, 3600);
	/* 2028 is a leap year: 366 days */
	assert_int_equal(agg_budget_share(NULL, 2028, at("2028-03-01T00:00:00+08:00"), CST, &s), 0);
	assert_int_equal(s.num, 60 * 86400);
	assert_int_equal(s.den, 366 * 86400);
	assert_int_equal(agg_budget_share(NULL, 1800, 0, CST, &s), ER_EINVAL);
}

/* An enterprise with 365 tce crosses yellow, then red, in the middle of
 * the year (share 182/365 on July 2). */
static void test_crossing_yellow_then_red(void **state)
{
	(void)state;
	/* 150 tce: projected 150 x 365 / 182 = 300.82 <= 365: green;
	 * expected 365 x 182/365 = 182 */
	agg_budget_eval e = eval_at(TCE(365), TCE(150), NULL, JUL2);
	assert_int_equal(e.level, AGG_GREEN);
	assert_int_equal(e.rule, AGG_RULE_WITHIN_BUDGET);
	assert_true(e.expected == TCE(182));
	assert_true(e.projected_ok);
	/* 190 tce: projected 190 x 365 / 182 = 381.04 in (365, 401.5]: yellow */
	e = eval_at(TCE(365), TCE(190), NULL, JUL2);
	assert_int_equal(e.level, AGG_YELLOW);
	assert_int_equal(e.rule, AGG_RULE_OVER_BUDGET);
	/* 381.043956043956... tce, rounded down to 1e-12 kgce */
	assert_true(e.projected == (agg_pico)TCE(190) * 365 / 182);
	/* 201 tce: projected 403.10 > 1.10 x 365 = 401.5: red */
	e = eval_at(TCE(365), TCE(201), NULL, JUL2);
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_OVER_LIMIT);
	/* 366 tce: the year's budget is already used: red whatever the projection */
	e = eval_at(TCE(365), TCE(366), NULL, JUL2);
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_YTD_OVER_BUDGET);
}

/* Exact boundaries: projected == budget is green, == 1.10 x budget is
 * yellow; one 1e-12 kgce more moves up a level. */
static void test_exact_boundaries(void **state)
{
	(void)state;
	/* 182 tce: projected exactly 365 */
	agg_budget_eval e = eval_at(TCE(365), TCE(182), NULL, JUL2);
	assert_int_equal(e.level, AGG_GREEN);
	assert_true(e.projected == TCE(365));
	e = eval_at(TCE(365), TCE(182) + 1, NULL, JUL2);
	assert_int_equal(e.level, AGG_YELLOW);
	/* 401.5 x 182 / 365 = 1.1 x 182 = 200.2 tce: projected exactly 401.5 */
	e = eval_at(TCE(365), MILLI_TCE(200200), NULL, JUL2);
	assert_int_equal(e.level, AGG_YELLOW);
	assert_true(e.projected == MILLI_TCE(401500));
	e = eval_at(TCE(365), MILLI_TCE(200200) + 1, NULL, JUL2);
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_OVER_LIMIT);
	/* YTD == budget is not over it; one more is. At the year's end
	 * (share 1) projected == YTD. */
	e = eval_at(TCE(365), TCE(365), NULL, "2027-01-01T00:00:00+08:00");
	assert_int_equal(e.level, AGG_GREEN);
	e = eval_at(TCE(365), TCE(365) + 1, NULL, "2027-01-01T00:00:00+08:00");
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_YTD_OVER_BUDGET);
}

/* No projection before 2% of the year is expected: 2% of 31,536,000 s is
 * 630,720 s = 7 days 7:12. */
static void test_no_projection_before_two_percent(void **state)
{
	(void)state;
	/* one second short: 10 tce (which would project to 500) stays green */
	agg_budget_eval e = eval_at(TCE(365), TCE(10), NULL, "2026-01-08T07:11:59+08:00");
	assert_int_equal(e.level, AGG_GREEN);
	assert_int_equal(e.rule, AGG_RULE_NO_PROJECTION);
	assert_false(e.projected_ok);
	assert_true(e.projected == 0);
	/* at exactly 2%: projected 10 / 0.02 = 500 > 401.5: red */
	e = eval_at(TCE(365), TCE(10), NULL, "2026-01-08T07:12:00+08:00");
	assert_true(e.projected_ok);
	assert_true(e.projected == TCE(500));
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_OVER_LIMIT);
	/* before 2%, YTD over the budget is still red */
	e = eval_at(TCE(100), TCE(101), NULL, "2026-01-03T00:00:00+08:00");
	assert_int_equal(e.level, AGG_RED);
	assert_int_equal(e.rule, AGG_RULE_YTD_OVER_BUDGET);
	/* a configured threshold of 5%: 18.25 days; on January 10 none */
	agg_warn_rules r = {.yellow_limit_micro = 1100000, .min_share_micro = 50000};
	agg_share s;
	assert_int_equal(agg_budget_share(NULL, 2026, at("2026-01-10T00:00:00+08:00"), CST, &s), 0);
	assert_int_equal(agg_budget_level(&r, TCE(365), TCE(10), &s, &e), 0);
	assert_int_equal(e.rule, AGG_RULE_NO_PROJECTION);
}

/* A monthly profile: January 20%, February 10%, 7% in each later month.
 * On 2026-02-15 00:00 (14 of February's 28 days) the expected share is
 * 20% + 10% x 14/28 = 25%. */
static void test_profile_projection(void **state)
{
	(void)state;
	agg_profile p, q;
	char err[256];
	assert_int_equal(agg_profile_parse("20;10;7;7;7;7;7;7;7;7;7;7", &p, err, sizeof err), 0);
	assert_int_equal(p.cum[0], 20000000);
	assert_int_equal(p.cum[1], 30000000);
	assert_int_equal(p.cum[11], 100000000);
	/* the same profile written cumulatively */
	assert_int_equal(agg_profile_parse("20 30 37 44 51 58 65 72 79 86 93 100", &q, err, sizeof err), 0);
	assert_memory_equal(&p, &q, sizeof p);

	agg_share s;
	assert_int_equal(agg_budget_share(&p, 2026, at("2026-02-15T00:00:00+08:00"), CST, &s), 0);
	/* (20% x 28 d + 10% x 14 d) / (100% x 28 d) = 0.25 */
	assert_true((__int128)s.num * 4 == (__int128)s.den);
	/* budget 400 tce: expected 100; 110 tce projects to 440 = 1.10 x 400: yellow */
	agg_budget_eval e = eval_at(TCE(400), TCE(110), &p, "2026-02-15T00:00:00+08:00");
	assert_true(e.expected == TCE(100));
	assert_true(e.projected == TCE(440));
	assert_int_equal(e.level, AGG_YELLOW);
	e = eval_at(TCE(400), TCE(100), &p, "2026-02-15T00:00:00+08:00");
	assert_int_equal(e.level, AGG_GREEN);
	assert_true(e.projected == TCE(400));
	/* without the profile 45 of 365 days have passed: 110 x 365 / 45 =
	 * 892.2 > 440: red. The profile is what keeps a heavy January green. */
	e = eval_at(TCE(400), TCE(110), NULL, "2026-02-15T00:00:00+08:00");
	assert_int_equal(e.level, AGG_RED);
	/* at a month end the share is the cumulative one: 30% on March 1 */
	assert_int_equal(agg_budget_share(&p, 2026, at("2026-03-01T00:00:00+08:00"), CST, &s), 0);
	assert_true((__int128)s.num * 10 == (__int128)s.den * 3);

	/* bad profiles */
	assert_int_equal(agg_profile_parse("10;10;10", &p, err, sizeof err), ER_EINVAL);
	assert_int_equal(agg_profile_parse("20;10;7;7;7;7;7;7;7;7;7;8", &p, err, sizeof err), ER_EINVAL);
	assert_int_equal(agg_profile_parse("20;30;37;44;51;58;65;72;79;86;93;99", &p, err, sizeof err), ER_EINVAL);
	assert_int_equal(agg_profile_parse("x;10;7;7;7;7;7;7;7;7;7;7", &p, err, sizeof err), ER_EINVAL);

	/* last year's use as a profile: equal months give k/12, rounded
	 * down to micro-percent, December exactly 100% */
	agg_pico m[12];
	for (int i = 0; i < 12; i++)
		m[i] = TCE(3);
	assert_int_equal(agg_profile_from_months(m, &p), 0);
	assert_int_equal(p.cum[0], 8333333);  /* 100/12 = 8.333333...% */
	assert_int_equal(p.cum[5], 50000000); /* 6/12 */
	assert_int_equal(p.cum[11], 100000000);
	memset(m, 0, sizeof m);
	assert_int_equal(agg_profile_from_months(m, &p), ER_ERANGE);
}

/* An intensity target: base 1000 tce / 2000 (10^4 yuan) = 0.5; -3% makes
 * the target 0.485 and the yellow limit 1.10 x 0.485 = 0.5335. */
static void test_intensity_target(void **state)
{
	(void)state;
	agg_warn_rules r;
	int level, rule;
	er_fx v0 = 2000 * 1000000LL, vt = 1000 * 1000000LL, change = -3000000;
	agg_warn_rules_default(&r);
	/* 485 tce / 1000 = 0.485: exactly the target: green */
	assert_int_equal(agg_intensity_level(&r, TCE(485), vt, TCE(1000), v0, change, &level, &rule), 0);
	assert_int_equal(level, AGG_GREEN);
	assert_int_equal(rule, AGG_RULE_WITHIN_TARGET);
	assert_int_equal(agg_intensity_level(&r, TCE(485) + 1, vt, TCE(1000), v0, change, &level, &rule), 0);
	assert_int_equal(level, AGG_YELLOW);
	/* 533.5 tce / 1000 = 0.5335: the yellow limit itself: yellow */
	assert_int_equal(agg_intensity_level(&r, MILLI_TCE(533500), vt, TCE(1000), v0, change, &level, &rule), 0);
	assert_int_equal(level, AGG_YELLOW);
	assert_int_equal(rule, AGG_RULE_OVER_TARGET);
	assert_int_equal(agg_intensity_level(&r, MILLI_TCE(533500) + 1, vt, TCE(1000), v0, change, &level, &rule), 0);
	assert_int_equal(level, AGG_RED);
	assert_int_equal(rule, AGG_RULE_OVER_TARGET_LIMIT);
	/* no base energy or no denominator: no level */
	assert_int_equal(agg_intensity_level(&r, TCE(1), vt, 0, v0, change, &level, &rule), ER_ERANGE);
	assert_int_equal(agg_intensity_level(&r, TCE(1), 0, TCE(1), v0, change, &level, &rule), ER_ERANGE);
	assert_int_equal(agg_intensity_level(&r, TCE(1), vt, TCE(1), v0, -100000000, &level, &rule), ER_ERANGE);
	/* city scale does not overflow: 1e8 tce over 1e9 (10^4 yuan) */
	er_fx big = 1000000000LL * 1000000LL;
	assert_int_equal(agg_intensity_level(&r, TCE(100000000), big, TCE(100000000), big, 0, &level, &rule), 0);
	assert_int_equal(level, AGG_GREEN);
}

static void test_rules_file(void **state)
{
	(void)state;
	agg_warn_rules r;
	char err[512];
	const char *dir = tu_tmpdir();
	agg_warn_rules_default(&r);
	assert_int_equal(r.yellow_limit_micro, 1100000);
	assert_int_equal(r.min_share_micro, 20000);
	const char *ok = tu_write_file(dir, "w.csv", "# thresholds\nname,value,source\n"
						    "yellow_limit,1.2,test\nmin_expected_share,0.05,test\n");
	assert_int_equal(agg_warn_rules_load(ok, &r, err, sizeof err), 0);
	assert_int_equal(r.yellow_limit_micro, 1200000);
	assert_int_equal(r.min_share_micro, 50000);
	const char *bad = tu_write_file(dir, "b.csv", "name,value,source\nyellow_limit,0.9,test\n");
	assert_int_equal(agg_warn_rules_load(bad, &r, err, sizeof err), ER_EINVAL);
	assert_non_null(strstr(err, "b.csv:2: yellow_limit must be above 1"));
	assert_int_equal(r.yellow_limit_micro, 1200000); /* kept */
	assert_int_equal(agg_warn_rules_load(tu_str("%s/none.csv", dir), &r, err, sizeof err), ER_EIO);
	/* the shipped table holds the DOMAIN.md 6 defaults */
	agg_warn_rules_default(&r);
	const char *src = getenv("ECOROLL_SRC");
	assert_int_equal(agg_warn_rules_load(tu_str("%s/conf/warnings.csv", src && src[0] ? src : "."), &r, err,
					     sizeof err),
			 0);
	assert_int_equal(r.yellow_limit_micro, 1100000);
	assert_int_equal(r.min_share_micro, 20000);
}

struct rows {
	agg_budget_row r[8];
	char code[8][64];
	int n;
};

static int keep(void *ctx, const agg_budget_row *row)
{
	struct rows *c = ctx;
	c->r[c->n] = *row;
	snprintf(c->code[c->n], sizeof c->code[0], "%s", row->code);
	c->n++;
	return 0;
}

static void test_budget_csv(void **state)
{
	(void)state;
	char err[2048], buf[1024];
	struct rows c = {0};
	uint32_t n;
	snprintf(buf, sizeof buf,
		 AGG_BUDGET_HEADER "\n"
				   "enterprise,E0101,2026,budget,365,,\n"
				   "district,D01,2026,budget,4000.5,,last_year\n"
				   "enterprise,E0102,2026,budget,400,,20;10;7;7;7;7;7;7;7;7;7;7\n"
				   "city,,2026,intensity,-3,2020,\n"
				   "enterprise,E0101,2026,intensity,-3.5,last,\n");
	assert_int_equal(agg_budget_csv_parse(buf, strlen(buf), "b.csv", keep, &c, err, sizeof err, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(c.r[0].level, 2);
	assert_string_equal(c.code[0], "E0101");
	assert_int_equal(c.r[0].target, 365000000);
	assert_int_equal(c.r[0].profile_type, AGG_PROFILE_NONE);
	assert_int_equal(c.r[1].profile_type, AGG_PROFILE_LAST_YEAR);
	assert_int_equal(c.r[2].profile_type, AGG_PROFILE_GIVEN);
	assert_int_equal(c.r[2].profile.cum[1], 30000000);
	assert_int_equal(c.r[3].kind, AGG_BUDGET_INTENSITY);
	assert_int_equal(c.r[3].base, 2020);
	assert_int_equal(c.r[3].target, -3000000);
	assert_int_equal(c.r[4].base, 0);

	/* every bad row is named; nothing reaches fn */
	c.n = 0;
	snprintf(buf, sizeof buf,
		 AGG_BUDGET_HEADER "\n"
				   "enterprise,E0101,2026,budget,-1,,\n"
				   "street,X,2026,budget,1,,\n"
				   "enterprise,E0101,1999,budget,1,,\n"
				   "enterprise,E0101,2026,budget,1,2020,\n"
				   "enterprise,E0101,2026,intensity,-3,2027,\n"
				   "enterprise,E0101,2026,budget,1,,1;2\n"
				   "enterprise,E0102,2026,budget,1,,\n"
				   "enterprise,E0102,2026,budget,2,,\n");
	assert_int_equal(agg_budget_csv_parse(buf, strlen(buf), "b.csv", keep, &c, err, sizeof err, &n), ER_EINVAL);
	assert_int_equal(c.n, 0);
	assert_non_null(strstr(err, "b.csv:2: a budget is a positive quantity"));
	assert_non_null(strstr(err, "b.csv:3: level 'street'"));
	assert_non_null(strstr(err, "b.csv:4: year '1999'"));
	assert_non_null(strstr(err, "b.csv:5: base is for intensity targets only"));
	assert_non_null(strstr(err, "b.csv:6: base '2027'"));
	assert_non_null(strstr(err, "b.csv:7: a profile is 12 percentages"));
	/* the duplicate check runs once the rows themselves are good */
	snprintf(buf, sizeof buf,
		 AGG_BUDGET_HEADER "\nenterprise,E0102,2026,budget,1,,\nenterprise,E0102,2026,budget,2,,\n");
	assert_int_equal(agg_budget_csv_parse(buf, strlen(buf), "b.csv", keep, &c, err, sizeof err, &n), ER_EINVAL);
	assert_non_null(strstr(err, "b.csv:3: a second budget row for E0102 2026 (first at line 2)"));
}

static void test_names(void **state)
{
	(void)state;
	char buf[96];
	assert_string_equal(agg_warn_level_name(AGG_YELLOW), "yellow");
	assert_string_equal(agg_warn_level_name(9), "?");
	assert_string_equal(agg_warn_rule_name(AGG_RULE_OVER_LIMIT), "over_limit");
	agg_warn_rule_text(AGG_RULE_OVER_BUDGET, 1100000, buf, sizeof buf);
	assert_string_equal(buf, "budget < projected <= 1.1 x budget");
	agg_warn_rule_text(AGG_RULE_YTD_OVER_BUDGET, 1100000, buf, sizeof buf);
	assert_string_equal(buf, "YTD > budget");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share_linear),
	    cmocka_unit_test(test_crossing_yellow_then_red),
	    cmocka_unit_test(test_exact_boundaries),
	    cmocka_unit_test(test_no_projection_before_two_percent),
	    cmocka_unit_test(test_profile_projection),
	    cmocka_unit_test(test_intensity_target),
	    cmocka_unit_test(test_rules_file),
	    cmocka_unit_test(test_budget_csv),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
