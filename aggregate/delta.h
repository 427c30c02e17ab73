/* delta.h: the lock-free aggregation core.
 *
 * Decode workers add readings' effects into the *active* delta table, an
 * open-addressing table keyed by (series number, local hour) whose keys are
 * claimed by CAS and whose fixed-point fields are updated with atomic adds
 * (min/max by CAS). Every flush the store thread swaps in the spare table,
 * waits for a Concurrency Kit epoch grace period so that no worker still
 * writes the old one, and drains it. A worker applies a whole batch to the
 * one table it entered, so a drained table holds whole batches only: its
 * per-worker logs (acks, cursor snapshots) describe exactly its contents.
 *
 * Threads: agg_core_enter/leave/agg_delta_add/agg_delta_log are called by
 * worker w only (one thread per w, _st per worker). agg_core_swap,
 * agg_delta_drain, agg_delta_logs and agg_core_recycle by the store thread
 * only. agg_core_wait by the store thread; agg_core_wake by anyone.
 */
#ifndef AGG_DELTA_H
#define AGG_DELTA_H

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

/* The effect of readings on one (series, hour) bucket. */
typedef struct agg_sample {
	int64_t count; /* readings that ended in the hour */
	er_fx sum;
	er_fx min, max;
	uint32_t coverage_s; /* seconds of the hour backed by readings */
	uint32_t flags;	     /* AGG_FLAG_* */
} agg_sample;

#define AGG_FLAG_ESTIMATED 1u /* part of the hour only apportioned across a gap */

/* A delta key: series number + 1 in the high half (never 0, the empty
 * slot), local hour number (floor((t + utc_offset) / 3600)) in the low. */
static inline uint64_t agg_key(uint32_t series, uint32_t hour)
{
	return ((uint64_t)series + 1) << 32 | hour;
}
static inline uint32_t agg_key_series(uint64_t k)
{
	return (uint32_t)(k >> 32) - 1;
}
static inline uint32_t agg_key_hour(uint64_t k)
{
	return (uint32_t)k;
}

/* Log record types written into a table alongside its deltas. */
enum { AGG_REC_CURSOR = 1, AGG_REC_EVENT = 2, AGG_REC_USER = 16 /* first type for other modules */ };

typedef struct agg_rec_cursor {
	uint32_t series;
	int64_t ts;
	er_fx value;
} agg_rec_cursor;

/* A meter event noticed while applying a reading (store.h sto_event
 * types: 1 reset, 2 spike, 3 replacement applied, with ref the id of the
 * registered replacement). */
typedef struct agg_rec_event {
	uint32_t series;
	uint8_t type;
	uint64_t ref;
	int64_t t0, t1;
	er_fx v0, v1, amount;
} agg_rec_event;

typedef struct agg_core agg_core;
typedef struct agg_delta agg_delta;

typedef struct agg_core_opts {
	int nworkers;
	uint32_t slots; /* per table, rounded up to a power of two */
	bool group_commit; /* a worker leaving a table with work in it asks for a flush */
} agg_core_opts;

/* Epoch records the core registers besides one per worker. */
enum {
	AGG_REC_STORE = 0,
	AGG_REC_REGISTRY = 1,
	AGG_REC_READER = 2,
	AGG_REC_SPARE = 3,
	AGG_REC_HTTP = 4, /* the HTTP thread (api/http.c) */
	AGG_REC_EXTRA = 5 /* the count: worker records follow */
};

int agg_core_new(const agg_core_opts *opts, agg_core **out);
void agg_core_free(agg_core *core);
/* Record i of AGG_REC_* (for the store thread, the registry writer, one
 * reader thread). The core owns the epoch and every record. */
struct ck_epoch_record *agg_core_record(agg_core *core, int which);
struct ck_epoch_record *agg_core_worker_record(agg_core *core, int w);

/* Worker side. enter begins an epoch section and returns the active table;
 * leave ends it. Everything between goes to that one table. */
agg_delta *agg_core_enter(agg_core *core, int w);
void agg_core_leave(agg_core *core, int w);
void agg_delta_add(agg_delta *t, int w, uint64_t key, const agg_sample *s);
int agg_delta_log(agg_delta *t, int w, int type, const void *rec, size_t len);

/* Store side. wait returns after timeout_ms, or earlier when a worker's
 * share of the table is half used or agg_core_wake was called. */
void agg_core_wait(agg_core *core, int timeout_ms);
void agg_core_wake(agg_core *core);
/* Publishes the spare table, waits out the epoch, returns the old one. */
agg_delta *agg_core_swap(agg_core *core);
typedef void agg_drain_fn(void *ctx, uint64_t key, const agg_sample *s);
typedef void agg_log_fn(void *ctx, int w, int type, const void *rec, size_t len);
/* Calls fn once per distinct key (table slots, then spilled entries; a key
 * may appear in both), and clears what it visits. */
void agg_delta_drain(agg_delta *t, agg_drain_fn *fn, void *ctx);
void agg_delta_logs(agg_delta *t, agg_log_fn *fn, void *ctx);
/* Clears the logs and makes t the spare table again. */
void agg_core_recycle(agg_core *core, agg_delta *t);
uint64_t agg_delta_keys(const agg_delta *t); /* keys claimed + spilled */
uint64_t agg_delta_generation(const agg_delta *t);

/* Adds b into a (count, sum, coverage added; min, max, flags combined). */
void agg_sample_merge(agg_sample *a, const agg_sample *b);

#ifdef __cplusplus
}
#endif
#endif
