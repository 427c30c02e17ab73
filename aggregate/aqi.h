/* aqi.h: the air quality index (AQI) and its per-pollutant sub-indices
 * (IAQI) under the two rule sets DOMAIN.md 7 describes, HJ 633-2012 and
 * HJ 633-2026, loaded from conf/aqi/ (conf/aqi/README.md describes the
 * files; STYLE.md 16: breakpoints, rounding, categories, colours and the
 * special rules are data, not code).
 *
 * A rule set is chosen by the local date of the data (rulesets.csv), and
 * every result carries the rule set that produced it: an IAQI of 100 means
 * a different concentration under 2012 and 2026.
 *
 * Exactness: a concentration is an exact ratio of micro-units (agg_conc),
 * so a daily mean needs no rounding before it is classed; the IAQI is
 * computed in 128-bit integers and rounded up exactly, with no floating
 * point anywhere (75 ug/m3 PM2.5 is IAQI 100 under 2012, never 101).
 *
 * Threads: an agg_aqi is immutable after agg_aqi_load returns; any number
 * of threads may use it and the rule sets and strings it hands out, without
 * locks, until agg_aqi_free. To reload, load a new one, swap the pointer
 * the readers use and free the old one once no reader can hold it (the
 * caller's business, e.g. through an epoch). Results point into it. */
#ifndef AGG_AQI_H
#define AGG_AQI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "er.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The breakpoint columns of HJ 633 Table 1: a pollutant and the averaging
 * time its breakpoints are for. Concentrations are ug/m3, CO mg/m3
 * (registry.h units). A column names the breakpoints, not how the input
 * was averaged: an hourly AQI puts the 1-hour PM10 and PM2.5 values in
 * AQI_PM10_24H and AQI_PM25_24H (DOMAIN.md 7: hourly PM uses the 24h
 * breakpoints), and a daily AQI puts the daily maximum 1-hour O3 in
 * AQI_O3_1H and the daily maximum 8-hour mean (MDA8) in AQI_O3_8H. */
enum agg_aqi_col {
	AQI_SO2_24H,
	AQI_SO2_1H,
	AQI_NO2_24H,
	AQI_NO2_1H,
	AQI_PM10_24H,
	AQI_CO_24H,
	AQI_CO_1H,
	AQI_O3_1H,
	AQI_O3_8H,
	AQI_PM25_24H,
	AQI_NCOL
};

typedef struct agg_aqi_rules agg_aqi_rules; /* one rule set */
typedef struct agg_aqi agg_aqi;             /* all rule sets, with their dates */

#define AGG_AQI_MAX_ERRORS 20 /* agg_aqi_load lists at most this many */

/* Loads dir/rulesets.csv and every table file it names, and checks all of
 * it. Returns 0 and *out, or ER_EINVAL (a row is wrong) or ER_EIO (a file
 * cannot be read) with *out NULL and err holding one "file:line: reason"
 * per line (line omitted for a whole-file problem), at most
 * AGG_AQI_MAX_ERRORS of them and a last line saying how many more. err may
 * be NULL; on success it holds "". */
int agg_aqi_load(const char *dir, agg_aqi **out, char *err, size_t errlen);
void agg_aqi_free(agg_aqi *a); /* NULL-safe */

/* The rule set in force on the local date (UTC offset offset_s, |offset_s|
 * < 1 day) of instant t: the rulesets.csv row with valid_from <= date <
 * valid_to. NULL when none is (a gap, a date before the first row, a bad
 * offset or a NULL a): the caller reports "no AQI rule set", never an AQI. */
const agg_aqi_rules *agg_aqi_rules_for(const agg_aqi *a, int64_t t, int offset_s);
const char *agg_aqi_rules_name(const agg_aqi_rules *r); /* "HJ 633-2012"; NULL for NULL */

/* A concentration as an exact ratio num/den of micro-units (ug/m3, or
 * mg/m3 for CO); den > 0. A single hourly value is (c, 1); a mean of n
 * values is (sum, n). */
typedef struct agg_conc {
	int64_t num, den;
} agg_conc;

/* IAQI of one column (DOMAIN.md 7; HJ 633-2012 4.2, formula (1)):
 *   - rule sets with a rounding row (2026) first round C half to even
 *     (GB/T 8170) to the column's quantum: integer ug/m3, CO 0.1 mg/m3;
 *   - IAQI = (IH - IL) / (BH - BL) x (C - BL) + IL over the segment
 *     [BL, BH] holding C, rounded UP to an integer, exactly;
 *   - above the top breakpoint of a full column: the top IAQI, 500.
 * Returns 0; ER_ENOENT when the column is undefined at C (2012 and 2026:
 * SO2 1h above 800, O3 8h above 800; *iaqi untouched): the special rule is
 * agg_aqi_compute's business; ER_EINVAL for a negative concentration,
 * den <= 0, a bad column or a NULL argument. */
int agg_iaqi(const agg_aqi_rules *r, int col, agg_conc c, int *iaqi);

typedef struct agg_aqi_input {
	bool have[AQI_NCOL];
	agg_conc c[AQI_NCOL];
} agg_aqi_input;

typedef struct agg_aqi_result {
	int aqi;                    /* -1 when NA */
	bool na;                    /* no AQI: see agg_aqi_compute */
	int iaqi[AQI_NCOL];         /* -1 where not computed */
	uint32_t primary;           /* bit (1u << col) per column with the max IAQI, only when aqi > 50 (ties: all) */
	int category;               /* 1..6 (excellent .. severe), 0 when NA */
	const char *category_name;  /* "excellent (优)" ... as in the table file; NULL when NA */
	const char *colour;         /* "0,228,0" ...; NULL when NA */
	const agg_aqi_rules *rules; /* which rule set produced it (tag every result) */
} agg_aqi_result;

enum { AGG_AQI_HOURLY = 1, AGG_AQI_DAILY = 2 };

/* The AQI of one hour or one day (DOMAIN.md 7; HJ 633-2012 4, formula (2)):
 * the max of the IAQIs of the columns the rule set's `kind` row lists.
 *
 * Columns per kind, as shipped (the table files' `kind` rows):
 *   hourly 2012: SO2 1h, NO2 1h, CO 1h, O3 1h, O3 8h (the moving 8-hour
 *     mean ending at the hour: HJ 633-2012 5, the real-time report carries
 *     it), PM10 and PM2.5 (their 1-hour values on the 24h breakpoints);
 *   hourly 2026: the same without O3 8h (DOMAIN.md 7: the 1h values);
 *   daily 2012: the daily means of SO2, NO2, PM10, PM2.5, CO, the O3 daily
 *     max 1h and the O3 MDA8 (HJ 633-2012 5: seven indicators);
 *   daily 2026: the five daily means and the O3 MDA8 only.
 * Columns the kind does not list are ignored, even when `have` is set,
 * except as the source of a special rule below.
 *
 * Special rules (a column undefined above its last breakpoint; the table
 * files' `rule` rows):
 *   2012 (Table 1 notes): SO2 1h > 800 -> the SO2 24h IAQI is reported in
 *     its place: iaqi[AQI_SO2_24H] is set (and can be primary) and
 *     iaqi[AQI_SO2_1H] stays -1. The caller supplies the SO2 24h mean in
 *     have/c[AQI_SO2_24H] for that (for an hourly AQI, the 24-hour moving
 *     mean ending at the hour); when it is absent the SO2 term is dropped,
 *     because no SO2 IAQI can be computed and inventing one would be a
 *     wrong report; the term then counts as missing (below).
 *     O3 8h > 800 -> the O3 1h IAQI is reported: both kinds of 2012 also
 *     list O3 1h, so the O3 8h term simply gives way to it (iaqi[AQI_O3_8H]
 *     stays -1); without an O3 1h value the O3 term is dropped likewise.
 *   2026 (DOMAIN.md 7): SO2 1h > 800 -> IAQI 200; O3 8h > 800 -> IAQI 300,
 *     written into that column's iaqi[].
 *
 * Missing columns (have[col] false for a listed column, or a dropped
 * term): 2012 computes the AQI from what is present; 2026 (DOMAIN.md 7)
 * publishes it only when that is > 100, else the result is NA. NA also
 * when no listed column could be computed at all, under either rule set.
 * An NA result has aqi -1, na true, category 0, no primary, NULL names,
 * and still the IAQIs that were computed.
 *
 * Returns 0; ER_EINVAL for a NULL argument, an unknown kind or a listed
 * column with a negative concentration or den <= 0 (the whole AQI is
 * refused: one bad input is not "missing"). out is filled (rules set, the
 * rest NA) even on error. */
int agg_aqi_compute(const agg_aqi_rules *r, int kind, const agg_aqi_input *in, agg_aqi_result *out);

/* The category of an AQI (DOMAIN.md 7; HJ 633-2012 Table 2 and Appendix
 * A): 1 excellent 0-50 (AQI 50 is excellent, 51 good), 2 good 51-100,
 * 3 light 101-150, 4 moderate 151-200, 5 heavy 201-300, 6 severe > 300,
 * with the table file's name and "R,G,B" colour. 2026 writes the first
 * class as 1-50; an AQI of 0 (every concentration rounds to 0) is classed
 * excellent all the same, the only class below 51. Returns the category,
 * or ER_EINVAL for aqi < 0, aqi above the last class or a NULL r. name and
 * colour may be NULL. */
int agg_aqi_category(const agg_aqi_rules *r, int aqi, const char **name, const char **colour);

/* "so2_24h", "so2_1h", "no2_24h", "no2_1h", "pm10_24h", "co_24h", "co_1h",
 * "o3_1h", "o3_8h", "pm25_24h" (the table files' column names); NULL for
 * an unknown column. */
const char *agg_aqi_col_name(int col);

#ifdef __cplusplus
}
#endif
#endif
