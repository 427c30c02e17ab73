/* aqi.c: the air quality index under HJ 633-2012 and HJ 633-2026
 * (DOMAIN.md 7), from the tables in conf/aqi/ (STYLE.md 16: data, not
 * code; conf/aqi/README.md gives the file layout).
 *
 * A rule set (agg_aqi_rules) holds, per breakpoint column, the breakpoint
 * concentrations in micro-units (er_fx: ug/m3 x 1e6, CO mg/m3 x 1e6) at
 * the rows' IAQI levels, the index of the column's last defined row (below
 * the last table row when the standard leaves the top cells empty), the
 * rounding quantum (0: none), the special rule of each column that ends
 * early, the columns each AQI kind uses, the missing-pollutant rule and
 * the categories. Invariants, checked at load so lookups need no checks:
 * levels rise strictly from 0; every column is 0 at level 0, defined at
 * level 1, and rises strictly up to its last defined row, after which it
 * is empty; a column ends early exactly when it has a rule, whose
 * threshold is its last breakpoint and whose "use" source is a full
 * column; categories are numbered 1.. and cover the scale without gaps.
 *
 * Arithmetic: a concentration is an exact ratio num/den; the IAQI is a
 * ratio of 128-bit integers rounded up with one integer division, so no
 * value is ever approximated (never ceil() on a double: 50/40 x 40 + 50
 * must be 100, not 100.00000000000001 -> 101). Bounds: |num|, den < 2^63,
 * breakpoints and quanta <= BP_MAX_MICRO < 2^40, levels <= IAQI_MAX <
 * 2^10, so every product below is < 2^115 and fits in 127 bits.
 *
 * Rule sets are selected by local day: days since 1970-01-01 in the city's
 * calendar, valid_to exclusive, OPEN_END when open-ended; rows never
 * overlap (checked). Everything is immutable after agg_aqi_load returns:
 * readers need no synchronization. */
#include "aqi.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S        86400
#define OPEN_END     INT64_MAX                 /* an empty valid_to: in force until the table is edited */
#define MAX_LEVELS   16                        /* breakpoint rows a table may have; HJ 633 has 8 */
#define MAX_CATS     16                        /* categories; HJ 633 has 6 */
#define MAX_FIELDS   64                        /* far more than a row has: a long row still gets a field count */
#define GRID_FIELDS  (2 + AQI_NCOL)            /* section, key and one cell per column */
#define IAQI_MAX     1000                      /* far above the scale's 500; bounds the 128-bit products */
#define BP_MAX_MICRO (1000000LL * ER_FX_SCALE) /* 10^6 ug/m3: far above any breakpoint (3840) */
#define RULESETS     "rulesets.csv"

__extension__ typedef __int128 i128;

enum { ACT_NONE, ACT_USE, ACT_IAQI };

typedef struct category {
	int lo, hi; /* hi INT_MAX when open-ended */
	char *name, *colour;
} category;

struct agg_aqi_rules {
	char *name, *source;
	int nlev;
	int level[MAX_LEVELS];            /* IAQI of each breakpoint row, rising from 0 */
	int64_t bp[AQI_NCOL][MAX_LEVELS]; /* micro-units; valid up to top[col] */
	int top[AQI_NCOL];                /* last defined row of the column */
	int64_t quantum[AQI_NCOL];        /* rounding quantum in micro-units, 0: none */
	uint32_t kind[AGG_AQI_DAILY + 1]; /* bit per column, by AGG_AQI_HOURLY / DAILY */
	struct {
		int act, arg; /* ACT_USE: the source column; ACT_IAQI: the IAQI */
	} rule[AQI_NCOL];
	int na_above;      /* missing pollutant: publish only above this; -1: always publish */
	int primary_above; /* primary pollutants only when the AQI is above this */
	int ncat;
	category cat[MAX_CATS];
};

typedef struct rset {
	int64_t from, to; /* local day numbers, to exclusive */
	agg_aqi_rules *r;
} rset;

struct agg_aqi {
	size_t n;
	rset *sets;
};

static const char *const col_names[AQI_NCOL] = {
    [AQI_SO2_24H] = "so2_24h",   [AQI_SO2_1H] = "so2_1h",     [AQI_NO2_24H] = "no2_24h", [AQI_NO2_1H] = "no2_1h",
    [AQI_PM10_24H] = "pm10_24h", [AQI_CO_24H] = "co_24h",     [AQI_CO_1H] = "co_1h",     [AQI_O3_1H] = "o3_1h",
    [AQI_O3_8H] = "o3_8h",       [AQI_PM25_24H] = "pm25_24h",
};

/* registry.h units: every pollutant in ug/m3 except CO in mg/m3. A table
 * in the wrong unit would be off by 1000, so the unit row is checked. */
static const char *col_unit(int col)
{
	return col == AQI_CO_24H || col == AQI_CO_1H ? "mg/m3" : "ug/m3";
}

const char *agg_aqi_col_name(int col)
{
	return col >= 0 && col < AQI_NCOL ? col_names[col] : NULL;
}

static int col_parse(const char *s)
{
	for (int i = 0; i < AQI_NCOL; i++)
		if (strcmp(s, col_names[i]) == 0)
			return i;
	return -1;
}

/* ---- errors: "file:line: reason", one a line, the first few kept ---- */

/* The shared error collector (er.h): "file:line: reason" lines. */
typedef er_errs load_ctx;
#define add_error er_errs_add

static int64_t local_day(int64_t t, int offset_s)
{
	return er_local_day(t, offset_s);
}

/* A local date YYYY-MM-DD, nothing else, read at offset 0: a day number
 * names a calendar day whatever the city's offset. */
static int parse_day(const char *s, int64_t *day)
{
	int64_t t;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return ER_EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return ER_EINVAL;
	if (er_time_parse(s, 10, 0, &t) != 0) /* rejects month 13, 30 February, ... */
		return ER_EINVAL;
	*day = er_local_day(t, 0);
	return 0;
}

/* A plain non-negative integer up to max: digits only. */
static int parse_int(const char *s, int max, int *out)
{
	long v = 0;

	if (*s == 0)
		return ER_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return ER_EINVAL;
		v = v * 10 + (*s - '0');
		if (v > max)
			return ER_ERANGE;
	}
	*out = (int)v;
	return 0;
}

/* A concentration: a non-negative decimal with at most 6 decimals, up to
 * BP_MAX_MICRO, as micro-units with no double in between. */
static int parse_conc(const char *s, int64_t *micro)
{
	if (*s == '-' || *s == '+')
		return ER_EINVAL;
	int rc = er_fx_parse(s, strlen(s), micro);
	if (rc != 0)
		return rc;
	return *micro > BP_MAX_MICRO ? ER_ERANGE : 0;
}

/* "R,G,B", each 0..255, digits only. */
static bool colour_ok(const char *s)
{
	for (int i = 0; i < 3; i++) {
		int v = 0, n = 0;
		for (; *s >= '0' && *s <= '9'; s++, n++)
			if (n < 3)
				v = v * 10 + (*s - '0'); /* a 4th digit fails below: no overflow */
		if (n == 0 || n > 3 || v > 255)
			return false;
		if (i < 2 && *s++ != ',')
			return false;
	}
	return *s == 0;
}

static char *dup_str(load_ctx *c, const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		c->oom = true;
		add_error(c, "out of memory");
	}
	return d;
}

/* ---- one table file (hj633-*.csv) ---- */

typedef struct tbl {
	agg_aqi_rules *r;
	const char *want_name;   /* the rulesets.csv name the file must carry */
	int colmap[GRID_FIELDS]; /* grid field index -> column */
	uint32_t name_line, source_line, unit_line, round_line, kind_line[AGG_AQI_DAILY + 1];
	uint32_t missing_line, primary_line, rule_line[AQI_NCOL], bp_line[MAX_LEVELS];
	bool ended[AQI_NCOL]; /* an empty breakpoint cell was seen */
	bool too_many;        /* MAX_LEVELS reported */
} tbl;

/* Fields past a row's arity must be empty: a spreadsheet pads every row
 * to the width of the widest. */
static bool extra_empty(load_ctx *c, char **f, int nf, int arity, const char *section)
{
	for (int i = arity; i < nf; i++) {
		if (f[i][0] != 0) {
			add_error(c, "field %d is not empty: a %s row has %d fields", i + 1, section, arity);
			return false;
		}
	}
	return true;
}

static bool once(load_ctx *c, uint32_t *seen, const char *what)
{
	if (*seen != 0) {
		add_error(c, "a second %s row (the first is line %u)", what, (unsigned)*seen);
		return false;
	}
	*seen = c->line;
	return true;
}

/* One breakpoint row. A row with a bad level is skipped; a row with a bad
 * cell is still recorded (the cell replaced by the previous row's value,
 * or left empty after an empty cell), so that one mistake gives one error
 * and the rows after it are checked against sensible neighbours. */
static void row_breakpoint(load_ctx *c, tbl *t, char **f)
{
	agg_aqi_rules *r = t->r;
	int lev, n = r->nlev;
	bool reported = false;

	if (parse_int(f[1], IAQI_MAX, &lev) != 0) {
		add_error(c, "IAQI '%s' is not an integer 0..%d", f[1], IAQI_MAX);
		return;
	}
	if (n == MAX_LEVELS) {
		if (!t->too_many)
			add_error(c, "more than %d breakpoint rows", MAX_LEVELS);
		t->too_many = true;
		return;
	}
	if (n == 0 && lev != 0) {
		add_error(c, "the first breakpoint row must be IAQI 0, not %d", lev);
		return;
	}
	if (n > 0 && lev <= r->level[n - 1]) {
		add_error(c, "IAQI %d is not above the previous row's %d (line %u)", lev, r->level[n - 1],
			  (unsigned)t->bp_line[n - 1]);
		return;
	}
#define ROW_ERROR(...)                                                                                                 \
	do {                                                                                                           \
		if (!reported)                                                                                         \
			add_error(c, __VA_ARGS__);                                                                     \
		reported = true;                                                                                       \
	} while (0)
	for (int i = 2; i < GRID_FIELDS; i++) {
		int col = t->colmap[i];
		const char *s = f[i];
		int64_t prev = n > 0 ? r->bp[col][n - 1] : 0, v;
		if (t->ended[col]) {
			if (s[0] != 0)
				ROW_ERROR("%s '%s' follows an empty cell: empty cells may only end a column",
					  col_names[col], s);
			continue; /* stays ended */
		}
		if (s[0] == 0) {
			/* HJ 633 leaves cells empty above a column's last
			 * breakpoint (SO2 1h, O3 8h); a column needs 0 and
			 * one more breakpoint to have a segment at all. */
			if (n >= 2) {
				t->ended[col] = true;
				continue;
			}
			ROW_ERROR("%s is empty: every column needs breakpoints at the first two rows", col_names[col]);
			v = prev;
		} else if (parse_conc(s, &v) != 0) {
			ROW_ERROR("%s '%s' is not a concentration (a decimal 0..%lld with at most 6 decimals)",
				  col_names[col], s, BP_MAX_MICRO / ER_FX_SCALE);
			v = prev;
		} else if (n == 0 && v != 0) {
			ROW_ERROR("%s '%s': IAQI 0 is at concentration 0", col_names[col], s);
		} else if (n > 0 && v <= prev) {
			char b[32];
			er_fx_format(prev, b, sizeof b);
			ROW_ERROR("%s %s is not above the previous row's %s (line %u)", col_names[col], s, b,
				  (unsigned)t->bp_line[n - 1]);
		}
		r->bp[col][n] = v;
		r->top[col] = n;
	}
#undef ROW_ERROR
	r->level[n] = lev;
	t->bp_line[n] = c->line;
	r->nlev = n + 1;
}

static void row_unit(load_ctx *c, tbl *t, char **f)
{
	if (!once(c, &t->unit_line, "unit"))
		return;
	if (f[1][0] != 0) {
		add_error(c, "the key of a unit row is empty, not '%s'", f[1]);
		return;
	}
	for (int i = 2; i < GRID_FIELDS; i++) {
		int col = t->colmap[i];
		if (strcmp(f[i], col_unit(col)) != 0) {
			add_error(c, "%s unit '%s' is not %s (ecoroll's unit for the pollutant)", col_names[col], f[i],
				  col_unit(col));
			return;
		}
	}
}

static void row_round(load_ctx *c, tbl *t, char **f)
{
	if (!once(c, &t->round_line, "round"))
		return;
	if (f[1][0] != 0) {
		add_error(c, "the key of a round row is empty, not '%s'", f[1]);
		return;
	}
	for (int i = 2; i < GRID_FIELDS; i++) {
		int col = t->colmap[i];
		int64_t q = 0;
		if (f[i][0] == 0)
			continue; /* not rounded */
		if (parse_conc(f[i], &q) != 0 || q == 0) {
			add_error(c, "%s quantum '%s' is not a positive decimal (at most 6 decimals)", col_names[col],
				  f[i]);
			return;
		}
		t->r->quantum[col] = q;
	}
}

static void row_kind(load_ctx *c, tbl *t, char **f)
{
	int kind;
	uint32_t bits = 0;

	if (strcmp(f[1], "hourly") == 0) {
		kind = AGG_AQI_HOURLY;
	} else if (strcmp(f[1], "daily") == 0) {
		kind = AGG_AQI_DAILY;
	} else {
		add_error(c, "kind '%s' is not hourly or daily", f[1]);
		return;
	}
	if (!once(c, &t->kind_line[kind], kind == AGG_AQI_HOURLY ? "kind hourly" : "kind daily"))
		return;
	for (int i = 2; i < GRID_FIELDS; i++) {
		int col = t->colmap[i];
		if (strcmp(f[i], "x") == 0) {
			bits |= 1u << col;
		} else if (f[i][0] != 0) {
			add_error(c, "%s '%s' is not x (used) or empty (not used)", col_names[col], f[i]);
			return;
		}
	}
	if (bits == 0) {
		add_error(c, "kind %s uses no column", f[1]);
		return;
	}
	t->r->kind[kind] = bits;
}

/* rule,<column>,<above>,use,<column> or rule,<column>,<above>,iaqi,<n>;
 * checked against the breakpoints once the whole file is read. */
typedef struct pending_rule {
	int64_t above;
} pending_rule;

static void row_rule(load_ctx *c, tbl *t, char **f, pending_rule *pr)
{
	int col = col_parse(f[1]), arg;
	int64_t above;

	if (col < 0) {
		add_error(c, "column '%s' is not one of the header's", f[1]);
		return;
	}
	if (t->rule_line[col] != 0) {
		add_error(c, "a second rule for %s (the first is line %u)", f[1], (unsigned)t->rule_line[col]);
		return;
	}
	/* Taken even if wrong below, so that the column is not also
	 * reported as having no rule. */
	t->rule_line[col] = c->line;
	if (parse_conc(f[2], &above) != 0) {
		add_error(c, "threshold '%s' is not a concentration", f[2]);
		return;
	}
	if (strcmp(f[3], "use") == 0) {
		arg = col_parse(f[4]);
		if (arg < 0) {
			add_error(c, "use '%s': not a column", f[4]);
			return;
		}
		if (arg == col) {
			add_error(c, "%s cannot use itself", f[1]);
			return;
		}
		t->r->rule[col].act = ACT_USE;
	} else if (strcmp(f[3], "iaqi") == 0) {
		if (parse_int(f[4], IAQI_MAX, &arg) != 0) {
			add_error(c, "iaqi '%s' is not an integer 0..%d", f[4], IAQI_MAX);
			return;
		}
		t->r->rule[col].act = ACT_IAQI;
	} else {
		add_error(c, "action '%s' is not use (another column's IAQI) or iaqi (a fixed IAQI)", f[3]);
		return;
	}
	t->r->rule[col].arg = arg;
	pr[col].above = above;
}

/* One category row. Like a breakpoint row, a wrong row still takes its
 * place (its number, and its high when that parses), so that the rows
 * after it are checked against it and one mistake gives one error. */
static void row_category(load_ctx *c, tbl *t, char **f)
{
	agg_aqi_rules *r = t->r;
	int n = r->ncat + 1, num = 0, lo = 0, hi = 0;
	bool open_before = r->ncat > 0 && r->cat[r->ncat - 1].hi == INT_MAX;

	if (r->ncat == MAX_CATS) {
		add_error(c, "more than %d categories", MAX_CATS);
		return;
	}
	category *k = &r->cat[r->ncat++];
	int prev_hi = n > 1 ? r->cat[n - 2].hi : -1;
	bool lo_ok = parse_int(f[2], IAQI_MAX, &lo) == 0;
	bool hi_ok = f[3][0] == 0 || parse_int(f[3], IAQI_MAX, &hi) == 0;
	if (f[3][0] == 0)
		hi = INT_MAX;
	k->lo = lo_ok ? lo : prev_hi + 1;
	k->hi = hi_ok ? hi : k->lo;
	if (parse_int(f[1], MAX_CATS, &num) != 0 || num != n) {
		add_error(c, "category '%s' is not %d: number them 1, 2, ... in order", f[1], n);
	} else if (open_before) {
		add_error(c, "category %d follows an open-ended one", n);
	} else if (!lo_ok) {
		add_error(c, "low '%s' is not an integer 0..%d", f[2], IAQI_MAX);
	} else if (n == 1 && lo > 1) {
		/* HJ 633-2012 Table 2 starts at 0; 2026 writes 1-50 (DOMAIN.md 7). */
		add_error(c, "the first category must start at 0 or 1, not %d", lo);
	} else if (n > 1 && lo != prev_hi + 1) {
		add_error(c, "low %d does not follow category %d's high %d", lo, n - 1, prev_hi);
	} else if (!hi_ok || hi < lo) {
		add_error(c, "high '%s' is not an integer %d..%d or empty (open-ended)", f[3], lo, IAQI_MAX);
	} else if (f[4][0] == 0) {
		add_error(c, "the name is empty");
	} else if (!colour_ok(f[5])) {
		add_error(c, "colour '%s' is not R,G,B with each 0..255", f[5]);
	} else {
		k->name = dup_str(c, f[4]);
		if (k->name != NULL)
			k->colour = dup_str(c, f[5]);
	}
}

/* missing,any | missing,above,<n> | primary,above,<n>; f has three
 * fields, the third "" when the row had two. */
static void row_threshold(load_ctx *c, uint32_t *seen, const char *what, char **f, bool allow_any, int *out)
{
	int v;

	if (!once(c, seen, what))
		return;
	if (allow_any && strcmp(f[1], "any") == 0) {
		if (f[2][0] != 0)
			add_error(c, "%s any takes no value, not '%s'", what, f[2]);
		else
			*out = -1;
		return;
	}
	if (strcmp(f[1], "above") != 0) {
		add_error(c, "%s '%s' is not %sabove,<IAQI>", what, f[1], allow_any ? "any or " : "");
		return;
	}
	if (parse_int(f[2], IAQI_MAX, &v) != 0) {
		add_error(c, "%s above '%s' is not an integer 0..%d", what, f[2], IAQI_MAX);
		return;
	}
	*out = v;
}

static bool header_ok(load_ctx *c, tbl *t, char **f, int nf)
{
	bool seen[AQI_NCOL] = {false};

	if (nf != GRID_FIELDS || strcmp(f[0], "section") != 0 || strcmp(f[1], "key") != 0)
		goto bad;
	for (int i = 2; i < GRID_FIELDS; i++) {
		int col = col_parse(f[i]);
		if (col < 0 || seen[col])
			goto bad;
		seen[col] = true;
		t->colmap[i] = col;
	}
	return true;
bad:
	add_error(c, "header must be 'section,key,' and the ten columns so2_24h, so2_1h, no2_24h, no2_1h, "
		     "pm10_24h, co_24h, co_1h, o3_1h, o3_8h, pm25_24h, each once, in any order");
	return false;
}

/* The checks that need the whole file. */
static void finish_table(load_ctx *c, tbl *t, const pending_rule *pr)
{
	agg_aqi_rules *r = t->r;
	const struct {
		uint32_t line;
		const char *what;
	} need[] = {
	    {t->name_line, "no name row"},
	    {t->source_line, "no source row"},
	    {t->unit_line, "no unit row"},
	    {t->kind_line[AGG_AQI_HOURLY], "no kind,hourly row"},
	    {t->kind_line[AGG_AQI_DAILY], "no kind,daily row"},
	    {t->missing_line, "no missing row (any, or above,<IAQI>)"},
	    {t->primary_line, "no primary row (above,<IAQI>)"},
	};

	c->line = 0;
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (need[i].line == 0)
			add_error(c, "%s", need[i].what);
	if (r->nlev < 2) {
		add_error(c, "%d breakpoint rows: a table needs at least two", r->nlev);
		return; /* the rules below read the breakpoints */
	}
	if (r->ncat == 0)
		add_error(c, "no category rows");
	else if (r->cat[r->ncat - 1].hi < r->level[r->nlev - 1])
		add_error(c, "the categories end at %d, below the top IAQI %d", r->cat[r->ncat - 1].hi,
			  r->level[r->nlev - 1]);
	for (int col = 0; col < AQI_NCOL; col++) {
		bool early = r->top[col] < r->nlev - 1;
		char b[32];
		c->line = t->rule_line[col];
		if (early && t->rule_line[col] == 0) {
			er_fx_format(r->bp[col][r->top[col]], b, sizeof b);
			add_error(c, "%s ends at %s (IAQI %d) but has no rule row for what is above it", col_names[col],
				  b, r->level[r->top[col]]);
			continue;
		}
		if (r->rule[col].act == ACT_NONE)
			continue; /* no rule, or a wrong one (reported) */
		if (!early) {
			add_error(c,
				  "%s is defined up to the top row: a rule applies only to a column that ends "
				  "early",
				  col_names[col]);
			continue;
		}
		if (pr[col].above != r->bp[col][r->top[col]]) {
			char a[32];
			er_fx_format(pr[col].above, a, sizeof a);
			er_fx_format(r->bp[col][r->top[col]], b, sizeof b);
			add_error(c, "threshold %s is not %s's last breakpoint %s", a, col_names[col], b);
			continue;
		}
		if (r->rule[col].act == ACT_USE && r->top[r->rule[col].arg] < r->nlev - 1)
			add_error(c, "%s uses %s, which ends early itself", col_names[col],
				  col_names[r->rule[col].arg]);
		/* an AQI above the top level would have no category */
		if (r->rule[col].act == ACT_IAQI && r->rule[col].arg > r->level[r->nlev - 1])
			add_error(c, "iaqi %d is above the top IAQI %d", r->rule[col].arg, r->level[r->nlev - 1]);
	}
}

/* The sections of a table file (README.md) and their fields: grid rows
 * have one field per header field; `least` < `arity` where a field may be
 * left out (missing,any). */
enum { S_NAME, S_SOURCE, S_UNIT, S_BREAKPOINT, S_ROUND, S_KIND, S_RULE, S_MISSING, S_PRIMARY, S_CATEGORY };
typedef struct section {
	const char *name;
	int id, arity, least;
} section;
static const section sections[] = {
    {"name", S_NAME, 2, 2},
    {"source", S_SOURCE, 2, 2},
    {"unit", S_UNIT, GRID_FIELDS, GRID_FIELDS},
    {"breakpoint", S_BREAKPOINT, GRID_FIELDS, GRID_FIELDS},
    {"round", S_ROUND, GRID_FIELDS, GRID_FIELDS},
    {"kind", S_KIND, GRID_FIELDS, GRID_FIELDS},
    {"rule", S_RULE, 5, 5},
    {"missing", S_MISSING, 3, 2},
    {"primary", S_PRIMARY, 3, 3},
    {"category", S_CATEGORY, 6, 6},
};

/* Splits buf (NUL-terminated, len bytes) into lines in place and reads the
 * table into t->r. Blank lines and lines starting with '#' are comments;
 * the first other line is the header. */
static void parse_table(load_ctx *c, tbl *t, char *buf, size_t len)
{
	char *line, *f[MAX_FIELDS];
	pending_rule pr[AQI_NCOL] = {{0}};
	bool header = false;
	int nf;

	er_lines it;
	uint32_t nul_line;

	if (er_lines_init(&it, buf, len, &nul_line) != 0) {
		c->line = nul_line;
		add_error(c, "a NUL byte: not a text file");
		return;
	}
	while ((line = er_lines_next(&it)) != NULL) {
		c->line = it.line;
		nf = er_csv_split(line, f, MAX_FIELDS);
		if (!header) {
			if (!header_ok(c, t, f, nf))
				return; /* the grid rows cannot be read without it */
			header = true;
			continue;
		}
		if (nf < 0) {
			add_error(c,
				  "malformed CSV (unterminated quote, text after a closing quote, or more than %d "
				  "fields)",
				  MAX_FIELDS);
			continue;
		}
		const section *sec = NULL;
		for (size_t i = 0; i < sizeof sections / sizeof sections[0] && sec == NULL; i++)
			if (strcmp(f[0], sections[i].name) == 0)
				sec = &sections[i];
		if (sec == NULL) {
			add_error(c,
				  "unknown section '%s' (name, source, unit, breakpoint, round, kind, rule, missing, "
				  "primary, category)",
				  f[0]);
			continue;
		}
		if (sec->arity == GRID_FIELDS && nf != GRID_FIELDS) {
			add_error(c, "%d fields, a %s row has %d (one per header field)", nf, sec->name, GRID_FIELDS);
			continue;
		}
		if (nf < sec->least) {
			add_error(c, "%d fields, a %s row has %d", nf, sec->name, sec->arity);
			continue;
		}
		if (!extra_empty(c, f, nf, sec->arity, sec->name))
			continue;
		char empty[1] = "";
		char *g[3] = {f[0], f[1], nf > 2 ? f[2] : empty}; /* missing,any: no third field */
		switch (sec->id) {
		case S_BREAKPOINT: row_breakpoint(c, t, f); break;
		case S_UNIT: row_unit(c, t, f); break;
		case S_ROUND: row_round(c, t, f); break;
		case S_KIND: row_kind(c, t, f); break;
		case S_RULE: row_rule(c, t, f, pr); break;
		case S_CATEGORY: row_category(c, t, f); break;
		case S_MISSING: row_threshold(c, &t->missing_line, "missing", g, true, &t->r->na_above); break;
		case S_PRIMARY: row_threshold(c, &t->primary_line, "primary", g, false, &t->r->primary_above); break;
		case S_NAME:
			if (!once(c, &t->name_line, "name"))
				break;
			if (strcmp(f[1], t->want_name) != 0)
				add_error(c, "name '%s' is not '%s', the name rulesets.csv gives this file", f[1],
					  t->want_name);
			else
				t->r->name = dup_str(c, f[1]);
			break;
		case S_SOURCE:
			if (!once(c, &t->source_line, "source"))
				break;
			if (f[1][0] == 0)
				add_error(c, "source is empty: say where the values come from");
			else
				t->r->source = dup_str(c, f[1]);
			break;
		}
		if (c->oom)
			return;
	}
	if (!header) {
		c->line = 1;
		add_error(c, "no header line; expected 'section,key,so2_24h,...,pm25_24h'");
		return;
	}
	finish_table(c, t, pr);
}

/* ---- files ---- */


static void rules_free(agg_aqi_rules *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->source);
	for (int i = 0; i < r->ncat; i++) {
		free(r->cat[i].name);
		free(r->cat[i].colour);
	}
	free(r);
}

/* Loads one table file. Returns the rules, or NULL with the errors added
 * (c->oom on out of memory, *io when the file cannot be read). */
static agg_aqi_rules *load_table(load_ctx *c, const char *path, const char *name, bool *io)
{
	agg_aqi_rules *r = calloc(1, sizeof *r);
	tbl t = {.r = r, .want_name = name};
	char *buf = NULL;
	size_t len = 0;
	int nerr = c->nerr;
	const char *saved_path = c->path;
	uint32_t saved_line = c->line;

	if (r == NULL) {
		c->oom = true;
		return NULL;
	}
	c->path = path;
	int rc = er_read_file(path, &buf, &len);
	if (rc == ER_ENOMEM) {
		c->oom = true;
	} else if (rc != 0) {
		c->line = 0;
		add_error(c, "cannot read: %s", strerror(errno));
		*io = true;
	} else {
		parse_table(c, &t, buf, len);
	}
	free(buf);
	c->path = saved_path;
	c->line = saved_line;
	if (c->oom || c->nerr != nerr) {
		rules_free(r);
		return NULL;
	}
	return r;
}

void agg_aqi_free(agg_aqi *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		rules_free(a->sets[i].r);
	free(a->sets);
	free(a);
}

/* One rulesets.csv row: name,file,valid_from,valid_to. */
typedef struct set_row {
	char *name;
	int64_t from, to;
	uint32_t line;
} set_row;

static void parse_sets(load_ctx *c, agg_aqi *a, char *buf, size_t len, const char *dir, size_t dl, bool *io)
{
	static const char header[] = "name,file,valid_from,valid_to";
	char *line, *next, *f[MAX_FIELDS], b1[16], b2[16];
	set_row *rows = NULL;
	size_t nrows = 0;
	bool seen_header = false;
	char *path = NULL;

	if (memchr(buf, 0, len) != NULL) {
		c->line = 0;
		add_error(c, "a NUL byte: not a text file");
		return;
	}
	rows = calloc(len / 8 + 1, sizeof *rows); /* a row is longer than 8 bytes */
	a->sets = calloc(len / 8 + 1, sizeof *a->sets);
	path = malloc(dl + len + 2); /* dir, '/', a file name from this buffer */
	if (rows == NULL || a->sets == NULL || path == NULL) {
		c->oom = true;
		goto done;
	}
	c->line = 0;
	for (line = buf; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		c->line++;
		if (c->line == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
		    (unsigned char)line[2] == 0xBF)
			line += 3;
		const char *p = line + strspn(line, " \t\r");
		if (*p == 0 || *p == '#')
			continue;
		int nf = er_csv_split(line, f, MAX_FIELDS);
		if (!seen_header) {
			if (nf != 4 || strcmp(f[0], "name") || strcmp(f[1], "file") || strcmp(f[2], "valid_from") ||
			    strcmp(f[3], "valid_to")) {
				add_error(c, "header must be '%s'", header);
				goto done;
			}
			seen_header = true;
			continue;
		}
		if (nf != 4) {
			add_error(c, "%d fields, expected 4 (%s)", nf, header);
			continue;
		}
		set_row row = {.line = c->line};
		if (f[0][0] == 0) {
			add_error(c, "name is empty");
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < nrows && !dup; i++) {
			if (strcmp(rows[i].name, f[0]) == 0) {
				add_error(c, "name '%s' is already line %u", f[0], (unsigned)rows[i].line);
				dup = true;
			}
		}
		if (dup)
			continue;
		if (f[1][0] == 0 || f[1][0] == '.' || strchr(f[1], '/') != NULL) {
			add_error(c, "file '%s' is not a file name in this folder", f[1]);
			continue;
		}
		if (parse_day(f[2], &row.from) != 0) {
			add_error(c, "valid_from '%s' is not a date YYYY-MM-DD", f[2]);
			continue;
		}
		if (f[3][0] == 0) {
			row.to = OPEN_END;
		} else if (parse_day(f[3], &row.to) != 0) {
			add_error(c, "valid_to '%s' is not a date YYYY-MM-DD or empty (open-ended)", f[3]);
			continue;
		} else if (row.to <= row.from) {
			add_error(c, "valid_to %s is not after valid_from %s (valid_to is exclusive)", f[3], f[2]);
			continue;
		}
		bool overlap = false;
		for (size_t i = 0; i < nrows && !overlap; i++) {
			if (row.from < rows[i].to && rows[i].from < row.to) {
				int64_t y;
				unsigned m, d;
				er_civil_from_days(rows[i].from, &y, &m, &d);
				snprintf(b1, sizeof b1, "%04lld-%02u-%02u", (long long)y, m, d);
				if (rows[i].to == OPEN_END) {
					snprintf(b2, sizeof b2, "open");
				} else {
					er_civil_from_days(rows[i].to, &y, &m, &d);
					snprintf(b2, sizeof b2, "%04lld-%02u-%02u", (long long)y, m, d);
				}
				add_error(c, "[%s, %s) overlaps line %u [%s, %s)", f[2], f[3][0] ? f[3] : "open",
					  (unsigned)rows[i].line, b1, b2);
				overlap = true;
			}
		}
		if (overlap)
			continue;
		row.name = f[0];
		rows[nrows++] = row;
		/* The table's errors name the table file and its lines. */
		snprintf(path, dl + len + 2, "%.*s/%s", (int)dl, dir, f[1]);
		agg_aqi_rules *r = load_table(c, path, f[0], io);
		if (c->oom)
			goto done;
		if (r != NULL)
			a->sets[a->n++] = (rset){.from = row.from, .to = row.to, .r = r};
	}
	if (!seen_header) {
		c->line = 1;
		add_error(c, "no header line; expected '%s'", header);
	} else if (nrows == 0 && c->nerr == 0) {
		c->line = 0;
		add_error(c, "no rule sets");
	}
done:
	free(path);
	free(rows);
}

int agg_aqi_load(const char *dir, agg_aqi **out, char *err, size_t errlen)
{
	load_ctx c = {.err = err, .errlen = err ? errlen : 0, .max = AGG_AQI_MAX_ERRORS};
	agg_aqi *a = NULL;
	char *path = NULL, *buf = NULL;
	size_t len = 0;
	bool io = false;
	int rc = ER_ENOMEM;

	if (c.errlen > 0)
		err[0] = 0;
	if (out != NULL)
		*out = NULL;
	if (dir == NULL || out == NULL)
		return ER_EINVAL;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--; /* "conf/aqi/" names files as "conf/aqi/rulesets.csv" */
	path = malloc(dl + sizeof RULESETS + 1);
	a = calloc(1, sizeof *a);
	if (path == NULL || a == NULL)
		goto fail;
	snprintf(path, dl + sizeof RULESETS + 1, "%.*s/%s", (int)dl, dir, RULESETS);
	c.path = path;
	int r = er_read_file(path, &buf, &len);
	if (r == ER_ENOMEM)
		goto fail;
	if (r != 0) {
		add_error(&c, "cannot read: %s", strerror(errno));
		rc = ER_EIO;
		goto fail;
	}
	parse_sets(&c, a, buf, len, dir, dl, &io);
	if (c.oom)
		goto fail;
	if (c.nerr > 0) {
		if (c.nerr > AGG_AQI_MAX_ERRORS && c.errlen > c.errpos + 1)
			snprintf(c.err + c.errpos, c.errlen - c.errpos, "\n... and %d more errors",
				 c.nerr - AGG_AQI_MAX_ERRORS);
		rc = io ? ER_EIO : ER_EINVAL;
		goto fail;
	}
	free(buf);
	free(path);
	*out = a;
	return 0;
fail:
	if (rc == ER_ENOMEM && c.errlen > 0)
		snprintf(err, c.errlen, "%s: out of memory", path ? path : dir);
	free(buf);
	free(path);
	agg_aqi_free(a);
	return rc;
}

/* ---- lookups ---- */

const agg_aqi_rules *agg_aqi_rules_for(const agg_aqi *a, int64_t t, int offset_s)
{
	if (a == NULL || offset_s <= -DAY_S || offset_s >= DAY_S)
		return NULL;
	int64_t day = local_day(t, offset_s);
	for (size_t i = 0; i < a->n; i++) /* a handful of rows, never overlapping */
		if (a->sets[i].from <= day && day < a->sets[i].to)
			return a->sets[i].r;
	return NULL;
}

const char *agg_aqi_rules_name(const agg_aqi_rules *r)
{
	return r ? r->name : NULL;
}

/* ---- IAQI ---- */

int agg_iaqi(const agg_aqi_rules *r, int col, agg_conc c, int *iaqi)
{
	if (r == NULL || iaqi == NULL || col < 0 || col >= AQI_NCOL || c.den <= 0 || c.num < 0)
		return ER_EINVAL;
	i128 cn = c.num, cd = c.den;
	int64_t q = r->quantum[col];
	if (q > 0) {
		/* DOMAIN.md 7 (2026): round the concentration half to even
		 * to the quantum first (GB/T 8170-2008 3.2: more than half
		 * up, less down, exactly half to the even neighbour). */
		i128 d = cd * q, k = cn / d, rem = cn % d;
		if (2 * rem > d || (2 * rem == d && (k & 1) != 0))
			k++;
		cn = k * q;
		cd = 1;
	}
	const int64_t *bp = r->bp[col];
	int top = r->top[col];
	if (cn > (i128)bp[top] * cd) {
		/* HJ 633-2012 Table 1 notes: SO2 1h and O3 8h are not indexed
		 * above their last breakpoint (800); a special rule applies. */
		if (top < r->nlev - 1)
			return ER_ENOENT;
		/* DOMAIN.md 7: above the top breakpoint the IAQI is 500. */
		*iaqi = r->level[top];
		return 0;
	}
	int i = 1;
	while (cn > (i128)bp[i] * cd) /* stops at top at the latest: cn <= bp[top] x cd */
		i++;
	/* HJ 633-2012 4.2 formula (1) over [BL, BH] = [bp[i-1], bp[i]]:
	 * IAQI = IL + (IH - IL)(C - BL)/(BH - BL), C = cn/cd, so the excess
	 * over IL is (IH - IL)(cn - BL cd) / ((BH - BL) cd), >= 0, rounded up
	 * (DOMAIN.md 7) by one exact integer division. */
	i128 num = (i128)(r->level[i] - r->level[i - 1]) * (cn - (i128)bp[i - 1] * cd);
	i128 den = (i128)(bp[i] - bp[i - 1]) * cd;
	*iaqi = r->level[i - 1] + (int)((num + den - 1) / den);
	return 0;
}

/* ---- AQI ---- */

int agg_aqi_category(const agg_aqi_rules *r, int aqi, const char **name, const char **colour)
{
	if (r == NULL || aqi < 0)
		return ER_EINVAL;
	for (int i = 0; i < r->ncat; i++) {
		const category *k = &r->cat[i];
		/* aqi < the first class's low: only 0 under 2026's "1-50",
		 * classed excellent (aqi.h). */
		if (aqi <= k->hi && (aqi >= k->lo || i == 0)) {
			if (name)
				*name = k->name;
			if (colour)
				*colour = k->colour;
			return i + 1;
		}
	}
	return ER_EINVAL;
}

static void result_na(agg_aqi_result *out, const agg_aqi_rules *r)
{
	out->aqi = -1;
	out->na = true;
	for (int i = 0; i < AQI_NCOL; i++)
		out->iaqi[i] = -1;
	out->primary = 0;
	out->category = 0;
	out->category_name = NULL;
	out->colour = NULL;
	out->rules = r;
}

int agg_aqi_compute(const agg_aqi_rules *r, int kind, const agg_aqi_input *in, agg_aqi_result *out)
{
	bool missing = false;
	int best = -1, rc = ER_EINVAL, v;

	if (out != NULL)
		result_na(out, r);
	if (r == NULL || in == NULL || out == NULL || (kind != AGG_AQI_HOURLY && kind != AGG_AQI_DAILY))
		return ER_EINVAL;
	uint32_t need = r->kind[kind];
	for (int col = 0; col < AQI_NCOL; col++) {
		if ((need & (1u << col)) == 0)
			continue;
		if (!in->have[col]) {
			missing = true;
			continue;
		}
		rc = agg_iaqi(r, col, in->c[col], &v);
		if (rc == 0) {
			out->iaqi[col] = v;
			continue;
		}
		if (rc != ER_ENOENT)
			goto fail;
		/* The column is undefined at this concentration (load made
		 * sure it has a rule). */
		if (r->rule[col].act == ACT_IAQI) {
			/* DOMAIN.md 7 (2026): SO2 1h > 800 -> 200, O3 8h > 800 -> 300. */
			out->iaqi[col] = r->rule[col].arg;
			continue;
		}
		/* HJ 633-2012 Table 1 notes: SO2 1h > 800 reports the SO2 24h
		 * IAQI, O3 8h > 800 the O3 1h IAQI. Without that value the
		 * term is dropped: no IAQI can be computed for the pollutant,
		 * and it counts as missing. */
		int src = r->rule[col].arg;
		if (!in->have[src]) {
			missing = true;
			continue;
		}
		rc = agg_iaqi(r, src, in->c[src], &v); /* never ER_ENOENT: load checked src is full */
		if (rc != 0)
			goto fail;
		out->iaqi[src] = v;
	}
	for (int col = 0; col < AQI_NCOL; col++)
		if (out->iaqi[col] > best)
			best = out->iaqi[col];
	if (best < 0)
		return 0; /* nothing to compute from: NA under either rule set */
	/* DOMAIN.md 7 (2026): with a pollutant missing, the AQI from the
	 * others is published only above 100. 2012 (na_above -1): always. */
	if (missing && r->na_above >= 0 && best <= r->na_above)
		return 0;
	out->aqi = best;
	out->na = false;
	/* HJ 633-2012 4: the primary pollutant(s) are those with the max
	 * IAQI, named only when the AQI is above 50; ties are all named. */
	if (best > r->primary_above)
		for (int col = 0; col < AQI_NCOL; col++)
			if (out->iaqi[col] == best)
				out->primary |= 1u << col;
	out->category = agg_aqi_category(r, best, &out->category_name, &out->colour);
	return 0;
fail:
	result_na(out, r);
	return rc;
}
