/* budgets.h: energy budgets and intensity targets (DOMAIN.md 6) in the
 * `budgets` LMDB database, and budget warnings in `events`.
 *
 * Budget key (STO_BUDGET_KEY_LEN bytes, big-endian, so one entity's
 * budgets sort by year and kind):
 *   level(1) entity(8) year(2) kind(1)
 * Value (little-endian): version(1) = 1, target(8), base(2), profile
 * type(1), cum[12](4 each), updated(8), code length(1), code.
 *
 * A warning is an event (type STO_EV_WARNING) whose first STO_EV part is
 * the common event layout, so `ecoroll events` and sto_events_each list it
 * with the meter events; the rest (entity level, year, kind, levels, rule,
 * the figures as 128-bit counts, the entity's code) follows it. Its status
 * is STO_EV_OPEN until it was published, then STO_EV_PUBLISHED: a node
 * that stops between the commit and the send publishes it at its next
 * start, and one that has sent it never sends it again.
 *
 * Threads: as store.h (writes in the one write transaction). */
#ifndef STO_BUDGETS_H
#define STO_BUDGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STO_BUDGET_KEY_LEN 12

typedef struct sto_budget {
	uint8_t level; /* STO_ENTERPRISE, STO_DISTRICT, STO_CITY */
	uint64_t entity;
	int32_t year;
	uint8_t kind;	      /* agg_budget_kind: 1 energy budget, 2 intensity target */
	er_fx target;	      /* micro-tce, or a change in micro-percent */
	int32_t base;	      /* intensity: base year; 0 = the same months last year */
	uint8_t profile_type; /* agg_profile_type */
	uint32_t cum[12];     /* the profile: cumulative micro-percent */
	int64_t updated;
	char code[64];
} sto_budget;

/* Puts (replaces) the budget of (level, entity, year, kind). */
int sto_budget_put(sto_txn *t, const sto_budget *b);
int sto_budget_get(sto_txn *t, int level, uint64_t entity, int32_t year, int kind, sto_budget *b); /* ER_ENOENT */
typedef int sto_budget_fn(void *ctx, const sto_budget *b);
/* Every budget in key order; a nonzero return from fn stops and is returned. */
int sto_budgets_each(sto_txn *t, sto_budget_fn *fn, void *ctx);

typedef struct sto_warning {
	uint64_t id;
	uint8_t status; /* STO_EV_OPEN (not yet published) or STO_EV_PUBLISHED */
	uint8_t entity_level;
	uint64_t entity;
	int32_t year;
	uint8_t kind;		  /* as sto_budget */
	uint8_t level, previous;  /* agg_warn_level */
	uint8_t rule;		  /* agg_warn_rule */
	int64_t t;		  /* the data time the level was computed at */
	int64_t created;
	/* budget: 1e-12 kgce; intensity: ytd = YTD intensity, budget = the
	 * target, in 1e-12 tce per 10^4 yuan (expected, projected 0) */
	__int128 ytd, expected, projected, budget;
	char code[64];
} sto_warning;

int sto_warning_put(sto_txn *t, const sto_warning *w);
/* ER_ENOENT, or ER_EINVAL when event id is not a warning. */
int sto_warning_get(sto_txn *t, uint64_t id, sto_warning *w);

#ifdef __cplusplus
}
#endif
#endif
