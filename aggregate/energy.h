/* energy.h: standard coal (tce) coefficients and CO2 emission factors as
 * effective-dated tables (DOMAIN.md 4), loaded from conf/energy/
 * coefficients.csv and co2.csv (conf/energy/README.md describes them).
 *
 * ecoroll stores only physical quantities. tce and CO2 are derived when a
 * figure is read, with the coefficient in force on each local day, so an
 * edited table recomputes history without re-ingesting anything.
 *
 * Exactness: quantities are er_fx micro-units of the meter's unit, and
 * coefficients are micro-units per unit (0.1229 kgce/kWh -> 122900). Their
 * product is an exact count of 1e-12 kgce (or kgCO2), an agg_pico. Sums of
 * agg_picos are exact and independent of order, so a city's tce equals the
 * sum of its districts' to the last unit. Round only for display, with
 * agg_pico_format.
 *
 * Threads: an agg_energy is immutable after agg_energy_load returns, so any
 * number of threads may read it without locks. To reload, load a new one,
 * swap the pointer the readers use and free the old one once no reader can
 * hold it (the caller's business, e.g. through an epoch). */
#ifndef AGG_ENERGY_H
#define AGG_ENERGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "er.h"
#include "registry.h" /* enum agg_carrier, enum agg_purpose; includes no ck header */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agg_energy agg_energy;

/* The two ways of converting electricity (GB/T 2589-2020): calorific value
 * (当量值, the default for every carrier) and the equivalent value (等价值,
 * the grid's year-specific coal per kWh supplied; electricity only). */
enum agg_elec_method { AGG_CALORIFIC = 0, AGG_EQUIVALENT = 1 };

#define AGG_ENERGY_MAX_ERRORS 20 /* agg_energy_load lists at most this many */

/* Loads dir/coefficients.csv and dir/co2.csv and checks every row. Returns
 * 0 and *out, or ER_EINVAL (a row is wrong) or ER_EIO (a file cannot be
 * read) with *out NULL and err holding one "file:line: reason" per line,
 * in file order, at most AGG_ENERGY_MAX_ERRORS of them (a last line says
 * when there were more). err may be NULL; on success it holds "". */
int agg_energy_load(const char *dir, agg_energy **out, char *err, size_t errlen);
void agg_energy_free(agg_energy *e); /* NULL-safe */

/* The coefficient in force on the local date (UTC offset offset_s) of the
 * instant t: micro-kgce per unit of the carrier (registry.h units). Returns
 * 0, ER_ENOENT when no row covers that day (the caller reports "no
 * coefficient"; power and pollutants never have one), or ER_EINVAL for an
 * unknown carrier or method or |offset_s| >= 1 day. *source, when source is
 * not NULL, is the row's source text, valid while e lives. */
int agg_energy_coef(const agg_energy *e, int carrier, int method, int64_t t, int offset_s, int64_t *micro,
		    const char **source);

/* The CO2 factor in force: micro-kgCO2 per unit. A row for the purpose
 * wins over a row for any purpose (empty purpose) on the same day. Same
 * returns as agg_energy_coef (ER_EINVAL also for an unknown purpose). */
int agg_energy_factor(const agg_energy *e, int carrier, int purpose, int64_t t, int offset_s, int64_t *micro,
		      const char **source);

/* Whether a carrier counts in comprehensive energy consumption (tce):
 * every energy carrier; water only when count_water (DOMAIN.md 4: an
 * energy-consuming medium, counted where the site config says so); never
 * power (a level) or a pollutant. */
bool agg_energy_counts(int carrier, bool count_water);

/* Reporting scopes (DOMAIN.md 4; reports show all three). CONTROL is the
 * budget and total-consumption-control scope: it excludes feedstock and
 * new renewable energy. */
enum agg_scope { AGG_SCOPE_ALL = 0, AGG_SCOPE_NO_FEEDSTOCK = 1, AGG_SCOPE_CONTROL = 2 };
bool agg_scope_includes(int scope, int purpose); /* false for an unknown scope or purpose */
const char *agg_scope_name(int scope);           /* "all", "no-feedstock", "control", or "?" */
int agg_scope_parse(const char *s);              /* the scope, or ER_EINVAL */

/* 1e-12 of a result unit (kgce or kgCO2). Any er_fx times any int64_t
 * fits: |INT64_MIN|^2 = 2^126 < 2^127. */
__extension__ typedef __int128 agg_pico; /* __extension__: no -Wpedantic noise in users */

/* Exact product: qty micro-units x coef_micro micro-units per unit. */
static inline agg_pico agg_pico_mul(er_fx qty, int64_t coef_micro)
{
	return (agg_pico)qty * coef_micro;
}

/* Writes v / 10^(12 + shift) rounded half to even with exactly `decimals`
 * decimals, e.g. tce from pico-kgce: agg_pico_format(v, 3, 4, buf, cap)
 * divides by 10^15 and prints 4 decimals. GB/T 8170-2008 3.2: a 5 followed
 * by nothing or zeros rounds to the even digit; a negative value is rounded
 * by magnitude and signed again, except one that rounds to zero ("0.0000",
 * never "-0.0000").
 * Like snprintf, returns the length of the whole text and writes at most
 * cap - 1 characters and a NUL. Returns 0 (and writes "") when shift is
 * outside [-12, 38] or decimals outside [0, 38]. */
size_t agg_pico_format(agg_pico v, int shift, int decimals, char *buf, size_t cap);

/* 16 lowercase hex digits naming the table version: XXH3-64 of both files'
 * bytes (each preceded by its length). Reports give it as "factor table
 * version used". Valid while e lives. */
const char *agg_energy_version(const agg_energy *e);

#ifdef __cplusplus
}
#endif
#endif
