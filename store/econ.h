/* econ.h: economic figures with revisions, the denominators of every
 * intensity (DOMAIN.md 4 and 5), kept in the `econ` LMDB database.
 *
 * A figure is one number for one entity (enterprise, district or the city),
 * one kind (value added, output value, GDP; later the yearly statistics of
 * issue 7) and one period (a month, a quarter or a year). A later revision
 * of the same period replaces the earlier one; intensities are computed from
 * whatever is stored when they are asked for, so they follow revisions
 * without any recomputation.
 *
 * Key (STO_ECON_KEY_LEN bytes, big-endian so a cursor walks one entity's
 * figures by kind, then period type, then time):
 *   level(1) entity(8) kind(1) ptype(1) year(2, no bias) index(1)
 * Value (STO_ECON_VAL_LEN bytes, little-endian):
 *   version(1) = 1, value(8), revision(4), received(8)
 *
 * Threads: the functions taking a sto_txn follow store.h (writes in the one
 * write transaction, reads in any); the rest are pure and thread-safe.
 */
#ifndef STO_ECON_H
#define STO_ECON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "er.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kind is an opaque byte to the store: any kind 1-255 can be put, got,
 * totalled and walked, so adding one (issue 7) adds a name, never a schema
 * change. 1-15 are figures in 10^4 yuan; 16 and up are reserved for the
 * yearly statistics (employees, land area, wastewater, solid waste,
 * pollutant tonnages), each in its own unit. */
enum sto_econ_kind {
	STO_ECON_VALUE_ADDED = 1,
	STO_ECON_OUTPUT = 2,
	STO_ECON_GDP = 3,
	/* 4-15: further economic figures in 10^4 yuan */
	STO_ECON_STATS_FIRST = 16, /* 16..255: yearly statistics (DOMAIN.md 5) */
	STO_ECON_EMPLOYEES = 16,   /* persons */
	STO_ECON_LAND = 17,	   /* industrial land, km2 */
	STO_ECON_WASTEWATER = 18,  /* t */
	STO_ECON_SOLID_WASTE = 19, /* t */
	STO_ECON_COD = 20,	   /* t */
	STO_ECON_NH3N = 21,	   /* ammonia nitrogen, t */
	STO_ECON_SO2 = 22,	   /* t */
	STO_ECON_NOX = 23,	   /* t */
};
enum sto_period { STO_P_MONTH = 1, STO_P_QUARTER = 2, STO_P_YEAR = 3 };

/* Years a period may name: four digits in text, two bytes in the key.
 * 1900 is well before any base year the plans use (2005, 2010, 2020). */
#define STO_ECON_YEAR_MIN   1900
#define STO_ECON_YEAR_MAX   9999
#define STO_ECON_MAX_ERRORS 100 /* a CSV parse stops collecting errors here, as a registry import does */

typedef struct sto_econ_key {
	uint8_t level;   /* enum sto_level: 2 enterprise, 3 district, 4 city */
	uint64_t entity; /* er_key of the code; the city's code for the city */
	uint8_t kind;    /* enum sto_econ_kind */
	uint8_t ptype;   /* enum sto_period */
	int32_t year;    /* STO_ECON_YEAR_MIN..STO_ECON_YEAR_MAX */
	uint8_t index;   /* month 1-12, quarter 1-4, 0 for a year */
} sto_econ_key;

typedef struct sto_econ_val {
	er_fx value;       /* 10^4 yuan (kinds 1-15), micro-units; never negative */
	uint32_t revision; /* 0 for a first publication */
	int64_t received;  /* UTC seconds */
} sto_econ_val;

#define STO_ECON_KEY_LEN 14
#define STO_ECON_VAL_LEN 21
void sto_econ_key_encode(const sto_econ_key *k, uint8_t out[STO_ECON_KEY_LEN]);
void sto_econ_key_decode(const uint8_t in[STO_ECON_KEY_LEN], sto_econ_key *k);
/* A level of 2-4, a kind, a period that exists: what sto_econ_put takes. */
bool sto_econ_key_valid(const sto_econ_key *k);
void sto_econ_val_encode(const sto_econ_val *v, uint8_t out[STO_ECON_VAL_LEN]);
int sto_econ_val_decode(const uint8_t in[STO_ECON_VAL_LEN], sto_econ_val *v); /* ER_EVERSION */

/* "value_added", "output", "gdp"; "?" for a kind without a name. */
const char *sto_econ_kind_name(int kind);
int sto_econ_kind_parse(const char *s); /* 0 when unknown */

/* "2026-03" a month, "2026-Q1" a quarter, "2026" a year: exactly these
 * shapes (four-digit year, two-digit month, capital Q), so that formatting
 * a parsed period gives back the same text. "2026-3", "26", "2026-13",
 * "2026-Q5" and "2026-q1" are ER_EINVAL. Sets ptype, year and index only. */
int sto_period_parse(const char *s, sto_econ_key *k);
/* Like snprintf: returns the length of the whole text ("?" for an invalid
 * period), writing at most cap bytes. */
size_t sto_period_format(const sto_econ_key *k, char *buf, size_t cap);
/* UTC [from, to) of the key's period in local time at offset_s (seconds
 * east of UTC), for summing energy over the same period. The period must be
 * valid (asserted: keys come from sto_period_parse or the store). */
void sto_period_range(const sto_econ_key *k, int offset_s, int64_t *from, int64_t *to);

/* Stores v unless a higher revision of the same period is stored (then
 * ER_EEXIST and nothing is written). An equal revision replaces: the later
 * call is a correction under the same number (received is not compared;
 * clocks step). ER_EINVAL for a bad key, a negative value or a read
 * transaction; ER_EVERSION if the stored row has an unknown layout. */
int sto_econ_put(sto_txn *t, const sto_econ_key *k, const sto_econ_val *v);
int sto_econ_get(sto_txn *t, const sto_econ_key *k, sto_econ_val *v); /* ER_ENOENT */

/* The denominator for one entity, kind and period:
 *   - the period's own figure when stored (*how "year", "quarter", "month");
 *   - else, for a year, its 4 quarters if all are stored ("4 quarters"),
 *     else its 12 months if all are stored ("12 months");
 *   - else, for a quarter, its 3 months if all are stored ("3 months").
 * Sources are never mixed (no year from 2 quarters and 6 months). When none
 * is complete: ER_ENOENT, and missing (if not NULL) gets a sentence naming
 * the first missing period of each source, e.g. "gdp for 2026 is not
 * available: there is no figure for the year, 2026-Q3 is the first missing
 * quarter and 2026-04 the first missing month"; the caller prefixes the
 * entity. ER_ERANGE if a sum overflows int64 micro-units. */
int sto_econ_total(sto_txn *t, int level, uint64_t entity, int kind, int ptype, int32_t year, int index, er_fx *value,
		   const char **how, char *missing, size_t cap);

/* Every stored figure of one entity, in key order (kind, period type,
 * year, index). A nonzero return from fn stops the walk and is returned. */
typedef int sto_econ_fn(void *ctx, const sto_econ_key *k, const sto_econ_val *v);
int sto_econ_each(sto_txn *t, int level, uint64_t entity, sto_econ_fn *fn, void *ctx);

/* CSV import (parse only; the caller checks entity codes against the
 * registry and stores the rows):
 *
 *   level,entity,kind,period,value,revision
 *   enterprise,E0101,value_added,2026-03,1234.5,
 *   district,D01,gdp,2026-Q1,56789,2
 *
 * The header line is required; `#` comments and blank lines are skipped.
 * level is enterprise, district or city; entity a registry code (1-63 of
 * A-Z a-z 0-9 . _ -), keyed by er_key; value a decimal >= 0 with at most 6
 * decimals; revision empty (0) or a whole number. Any period type is
 * accepted at any level (a city may report monthly). A period may appear
 * once per level, entity and kind in one file: two rows for it are an
 * error, since the store would keep whichever came last.
 *
 * All or nothing: every row is validated first; if any is bad, fn is called
 * for none and the result is ER_EINVAL with *errors (when errors is not
 * NULL) a malloc'd text of up to STO_ECON_MAX_ERRORS lines
 * "name:line: reason\n" in line order; otherwise *errors is NULL and fn is
 * called once per row in file order with received set to the parse's start
 * time. A nonzero return from fn stops and is returned (the caller aborts
 * its transaction). *rows (when not NULL) counts data rows read. */
typedef int sto_econ_csv_fn(void *ctx, const sto_econ_key *k, const sto_econ_val *v, const char *entity_code);
int sto_econ_csv_parse(const char *text, const char *name, sto_econ_csv_fn *fn, void *ctx, char **errors,
		       uint32_t *rows);
const char *sto_econ_csv_header(void); /* "level,entity,kind,period,value,revision" */

/* Intensity arithmetic (DOMAIN.md 5: round only for display).
 *
 * sto_ratio_format: the exact ratio num/den (any int128 values at a common
 * scale) with `decimals` decimals (0-30), rounded half to even on the exact
 * remainder (GB/T 8170). den 0 gives "n/a"; a result that rounds to zero
 * has no minus sign. Like snprintf: returns the whole length, writes at
 * most cap bytes; decimals outside 0-30 give "" and 0. Exact for every
 * int128 num and den (no intermediate product is formed).
 *
 * Example: intensity in tce per 10^4 yuan from energy in pico-kgce (1e15 a
 * tce) and value in micro 10^4 yuan is sto_ratio_format(E, V * 10^9, 2, ...);
 * a percentage multiplies num by 100. */
#define STO_RATIO_MAX_DECIMALS 30
size_t sto_ratio_format(__int128 num, __int128 den, int decimals, char *buf, size_t cap);

/* change = I_t / I_0 - 1 for intensities I = E / V (DOMAIN.md 5), given as
 * exact pairs at any scale common to e_t and e_0 and to v_t and v_0.
 * Returns the change as num/den with den > 0, or den 0 when it is undefined
 * (v_t, v_0 or e_0 is 0). Exact when the cross products e_t*v_0 and
 * v_t*e_0, after dividing out common factors, fit in int128: always when
 * |e| * |v| < 2^126 (~8.5e37; e.g. energies to 8.5e22 with values to 1e15,
 * or energies to 1e30 with values to 8.5e7). Beyond that the change is
 * computed in long double (64-bit mantissa) and returned as num/10^18:
 * off by at most ~1e-18, invisible at display precision unless the exact
 * value is within that of a rounding tie. den 0 also when the change
 * exceeds 1e38 in magnitude. */
void sto_change_ratio(__int128 e_t, __int128 v_t, __int128 e_0, __int128 v_0, __int128 *num, __int128 *den);

#ifdef __cplusplus
}
#endif
#endif
