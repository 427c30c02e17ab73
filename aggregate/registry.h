/* registry.h: what exists in the city: districts, enterprises, stations and
 * the series (meters and station pollutants) readings are for.
 *
 * Concurrency: one writer at a time (imports take the registry's mutex);
 * any number of readers without locks. Readers that may run during an
 * import (decode workers, query threads) must look entries up inside an
 * epoch section of the epoch given to agg_registry_new, because a growing
 * index retires its old table through that epoch. Entries are immutable
 * once published and never freed while the registry lives, except the
 * series cursor, which belongs to the decode worker of the series' sender.
 *
 * Registry CSV formats (README "Registry files"):
 *   districts.csv   code,name
 *   enterprises.csv code,name,district,industry
 *   meters.csv      code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s
 *   stations.csv    code,name,district,pollutants,evaluation,interval_s
 *                   (interval_s may be left out: the five-column header
 *                   of earlier files still loads, with hourly readings)
 */
#ifndef AGG_REGISTRY_H
#define AGG_REGISTRY_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
/* Concurrency Kit epoch records, opaque here: ck headers are not C++-clean
 * and the benchmark harness includes this header. */
struct ck_epoch_record;

#include "er.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGG_CODE_MAX 63

enum agg_kind { AGG_DISTRICT = 1, AGG_ENTERPRISE = 2, AGG_STATION = 3, AGG_SERIES = 4 };
enum agg_mode { AGG_CUMULATIVE = 1, AGG_INTERVAL = 2, AGG_INSTANT = 3 };
enum agg_purpose { AGG_FUEL = 0, AGG_FEEDSTOCK = 1, AGG_RENEWABLE = 2 };

/* Carriers and pollutants share one numbering: the metric of a rollup row. */
enum agg_carrier {
	AGG_ELECTRICITY = 1,
	AGG_WATER = 2,
	AGG_HEAT = 3,
	AGG_STEAM = 4,
	AGG_GAS = 5,
	AGG_COAL = 6,
	AGG_OIL = 7,
	AGG_PV = 8,
	AGG_POWER = 9,
	AGG_PM25 = 32,
	AGG_PM10 = 33,
	AGG_O3 = 34,
	AGG_NO2 = 35,
	AGG_SO2 = 36,
	AGG_CO = 37,
	AGG_CARRIER_MAX = 64,
};

const char *agg_carrier_name(int carrier); /* "electricity", "pm25", ... or NULL */
const char *agg_carrier_unit(int carrier); /* "kWh", "ug/m3", ... or NULL */
int agg_carrier_parse(const char *name);   /* 0 when unknown */
const char *agg_purpose_name(int purpose);
const char *agg_mode_name(int mode);

/* Every entry starts with its key and kind, so one index holds them all. */
typedef struct agg_head {
	uint64_t key; /* XXH3-64 of the code */
	uint8_t kind;
} agg_head;

typedef struct agg_district {
	agg_head h;
	uint32_t idx;
	const char *code, *name;
} agg_district;

typedef struct agg_enterprise {
	agg_head h;
	uint32_t idx;
	const agg_district *district;
	const char *code, *name, *industry;
} agg_enterprise;

typedef struct agg_station {
	agg_head h;
	uint32_t idx;
	const agg_district *district;
	const char *code, *name;
	uint64_t pollutants; /* bit (carrier - AGG_PM25) per pollutant */
	bool evaluation;
	int32_t interval_s; /* the averaging period of one reading: 3600 hourly, 60 minute data */
} agg_station;

/* The last accepted reading of a cumulative meter. Written only by the
 * decode worker that owns the meter's sender; persisted through the delta
 * table's cursor log in the same transaction as the sender's high-water. */
typedef struct agg_cursor {
	int64_t ts;   /* 0: no reading yet */
	er_fx value;
} agg_cursor;

/* A registered meter replacement (DOMAIN.md 3): at ts the old register
 * read old_final and the new one new_initial. Immutable once published;
 * a series' list only grows, newest first. */
typedef struct agg_replacement {
	int64_t ts;
	er_fx old_final, new_initial;
	uint64_t event_id;
	const struct agg_replacement *next;
} agg_replacement;

typedef struct agg_series {
	agg_head h;
	uint32_t idx;	  /* dense number, the delta table's series field */
	uint8_t mode;	  /* enum agg_mode */
	uint8_t carrier;  /* enum agg_carrier */
	uint8_t purpose;  /* enum agg_purpose */
	int32_t interval_s;
	er_fx capacity;	    /* register capacity, 0 = none */
	er_fx max_per_hour; /* spike guard, 0 = none */
	const agg_enterprise *enterprise; /* NULL for station series */
	const agg_station *station;	  /* NULL for meters */
	const char *code;
	/* Replacements: published by the store thread with a release store,
	 * read by the owning worker with an acquire load. (C++ sees only a
	 * plain pointer of the same size: the benchmark harness includes
	 * this header but never touches the field.) */
#ifdef __cplusplus
	const agg_replacement *repl;
#else
	_Atomic(const agg_replacement *) repl;
#endif
	/* worker-owned state */
	agg_cursor cur;
	uint32_t touched; /* batch tag of the owning worker (cursor logging) */
} agg_series;

/* Publishes r at the head of s's list (one writer: the store thread). */
void agg_series_add_replacement(agg_series *s, agg_replacement *r);

typedef struct agg_registry agg_registry;

/* writer is an epoch record the registry uses (under its mutex) to wait
 * out readers before freeing a grown index's old table; the caller owns it
 * and keeps it alive longer than the registry. NULL when there is only
 * ever one thread (tests, tools). */
int agg_registry_new(struct ck_epoch_record *writer, agg_registry **out);
void agg_registry_free(agg_registry *reg);

/* Lock-free lookups; see the header comment about epoch sections. */
const agg_head *agg_registry_find(agg_registry *reg, int kind, uint64_t key);
static inline agg_series *agg_registry_series(agg_registry *reg, uint64_t key)
{
	return (agg_series *)agg_registry_find(reg, AGG_SERIES, key);
}
agg_series *agg_registry_series_at(agg_registry *reg, uint32_t idx);
uint32_t agg_registry_count(agg_registry *reg, int kind);
const agg_district *agg_registry_district_at(agg_registry *reg, uint32_t idx);
const agg_enterprise *agg_registry_enterprise_at(agg_registry *reg, uint32_t idx);
const agg_station *agg_registry_station_at(agg_registry *reg, uint32_t idx);

/* An import: up to four CSV texts (NULL or "" to skip), each with the
 * name used in error messages. */
enum { AGG_F_DISTRICTS, AGG_F_ENTERPRISES, AGG_F_METERS, AGG_F_STATIONS, AGG_F_COUNT };
typedef struct agg_import {
	const char *text[AGG_F_COUNT];
	const char *name[AGG_F_COUNT];
} agg_import;

typedef struct agg_import_result {
	uint32_t rows[AGG_F_COUNT]; /* data rows read per file */
	uint32_t added;		    /* entries that were new */
	char **errors;		    /* "file:line: reason", malloc'd */
	size_t nerrors;
} agg_import_result;
#define AGG_MAX_ERRORS 100 /* an import stops collecting errors here */

/* Called once per new entry, before anything is published, with its
 * canonical CSV row; a nonzero return aborts the whole import. The node
 * persists rows to LMDB here and commits in a final call with kind 0. At
 * start-up the node re-imports the persisted rows with persist NULL. */
typedef int agg_persist_fn(void *ctx, int kind, uint64_t key, const char *row);

/* Validates the whole import; on any error nothing is added (all or
 * nothing) and the errors are listed. A row equal to a registered entry is
 * accepted and changes nothing; a row that would change a registered entry
 * is refused. Returns 0, ER_EINVAL with errors, or the persist error. */
int agg_registry_import(agg_registry *reg, const agg_import *imp, agg_persist_fn *persist, void *ctx,
			agg_import_result *res);
void agg_import_result_fini(agg_import_result *res);

/* The header line each file must start with, per AGG_F_* file. */
const char *agg_registry_header(int file);

/* Reads a file into a malloc'd NUL-terminated string. */
int agg_read_file(const char *path, char **out);

#ifdef __cplusplus
}
#endif
#endif
