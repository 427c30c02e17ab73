/* store.h: ecoroll's LMDB environment (DESIGN.md "Storage").
 *
 * Named databases: rollup (level, resolution, bucket start, entity,
 * metric; big-endian, so the rows of one flush are neighbours), series
 * (cumulative meter cursors), registry (canonical CSV rows), senders
 * (high-water marks), meta (schema version, UTC offset, city), events,
 * econ, budgets (store/budgets.h), outbox (kept for later capabilities).
 * Values are fixed-layout records with a version byte.
 *
 * Threads: one write transaction at a time (LMDB serializes writers);
 * read transactions from any thread (MDB_NOTLS), never blocking writers.
 */
#ifndef STO_STORE_H
#define STO_STORE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "er.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STO_SCHEMA 2 /* 2: rollup keys time first (store.c) */

enum sto_level { STO_METER = 1, STO_ENTERPRISE = 2, STO_DISTRICT = 3, STO_CITY = 4, STO_STATION = 5 };
const char *sto_level_name(int level);
int sto_level_parse(const char *s);

/* metric = carrier | purpose << 8 (aggregate/registry.h numbering). */
static inline uint16_t sto_metric(int carrier, int purpose)
{
	return (uint16_t)(carrier | purpose << 8);
}

#define STO_KEY_LEN 20
typedef struct sto_key {
	uint8_t level;
	uint64_t entity; /* XXH3 key of the code; the city's is its code's */
	uint16_t metric;
	uint8_t res; /* enum er_res */
	int64_t start;
} sto_key;

typedef struct sto_val {
	int64_t count;
	er_fx sum, min, max;
	uint64_t coverage_s;
	uint32_t flags;
	uint32_t members; /* distinct member series with data (tier rows) */
	uint32_t complete; /* members whose coverage is the whole bucket (tier rows) */
} sto_val;

void sto_key_encode(const sto_key *k, uint8_t out[STO_KEY_LEN]);
void sto_key_decode(const uint8_t in[STO_KEY_LEN], sto_key *k);
int sto_key_cmp(const sto_key *a, const sto_key *b);
/* An empty value: counts 0, min INT64_MAX, max INT64_MIN. */
void sto_val_zero(sto_val *v);
void sto_val_merge(sto_val *a, const sto_val *b);

typedef struct sto_env sto_env;
typedef struct sto_txn sto_txn;

typedef struct sto_opts {
	const char *dir;
	uint64_t map_size; /* bytes; grows by doubling when full */
	bool sync;	   /* fsync every commit (default); false only for benchmarks */
	int utc_offset_s;  /* must match the database's */
	const char *city;
	const char *role; /* "standalone", "district" or "city": must match the database's (NULL: not checked) */
} sto_opts;

/* Creates dir if needed. On error, err says why in a sentence. */
int sto_open(const sto_opts *o, sto_env **out, char *err, size_t errlen);
void sto_close(sto_env *env);
int sto_db_bytes(sto_env *env, uint64_t *bytes);

int sto_write_begin(sto_env *env, sto_txn **out);
/* ER_EFULL when the map is full: the transaction is gone; call sto_grow
 * and redo it. */
int sto_commit(sto_txn *txn);
void sto_abort(sto_txn *txn);
int sto_grow(sto_env *env);
int sto_read_begin(sto_env *env, sto_txn **out);

/* Adds delta to the row at k (creating it); reports whether it existed
 * and the new value. */
int sto_rollup_merge(sto_txn *txn, const sto_key *k, const sto_val *delta, bool *existed, sto_val *now);
/* The same with the row's value before (may be NULL) and coverage held
 * at coverage_cap when it is not 0 (a meter-hour: 3600 s). */
int sto_rollup_add(sto_txn *txn, const sto_key *k, const sto_val *delta, uint64_t coverage_cap, sto_val *before,
		   sto_val *after, bool *existed);
int sto_rollup_get(sto_txn *txn, const sto_key *k, sto_val *out); /* ER_ENOENT */
typedef int sto_row_fn(void *ctx, const sto_key *k, const sto_val *v);
/* Rows of one entity at one resolution with from <= start < to, every
 * metric, in (metric, start) order. A nonzero return from fn stops. */
int sto_rollup_scan(sto_txn *txn, int level, uint64_t entity, int res, int64_t from, int64_t to, sto_row_fn *fn,
		    void *ctx);

int sto_sender_put(sto_txn *txn, const char *sender, size_t len, uint64_t hwm);
int sto_sender_get(sto_txn *txn, const char *sender, size_t len, uint64_t *hwm);
typedef int sto_sender_fn(void *ctx, const char *sender, size_t len, uint64_t hwm);
int sto_senders_each(sto_txn *txn, sto_sender_fn *fn, void *ctx);

int sto_cursor_put(sto_txn *txn, uint64_t series_key, int64_t ts, er_fx value);
typedef int sto_cursor_fn(void *ctx, uint64_t series_key, int64_t ts, er_fx value);
int sto_cursors_each(sto_txn *txn, sto_cursor_fn *fn, void *ctx);

int sto_registry_put(sto_txn *txn, int kind, uint64_t key, const char *row);
typedef int sto_registry_fn(void *ctx, int kind, uint64_t key, const char *row, size_t len);
int sto_registry_each(sto_txn *txn, sto_registry_fn *fn, void *ctx);

/* ---- meter events (DOMAIN.md 3) ---- */

/* STO_EV_WARNING: a budget or intensity-target level change (DOMAIN.md 6),
 * written with sto_warning_put (store/budgets.h); sto_events_each shows its
 * common part (series = the entity's key, t0 = the data time). */
/* STO_EV_OUTBOX: a district node's outbox crossed uplink.outbox_limit_kb
 * (node/flusher.c): series = the node name's key, t0 = the oldest entry's
 * time, v0 = bytes held, v1 = the limit, amount = entries; open when it
 * went over, applied when it came back under. */
enum sto_event_type {
	STO_EV_RESET = 1,
	STO_EV_SPIKE = 2,
	STO_EV_REPLACEMENT = 3,
	STO_EV_WARNING = 4,
	STO_EV_OUTBOX = 5
};
enum sto_event_status {
	STO_EV_OPEN = 1,     /* a reset on record; a spike quarantined; a replacement registered; a warning stored, not yet published */
	STO_EV_ACCEPTED = 2, /* a spike an operator accepted: its increment is in its hours */
	STO_EV_APPLIED = 3,  /* a replacement applied, or a reset it resolved */
	STO_EV_PUBLISHED = 4, /* a warning sent on the PUB socket */
};
const char *sto_event_type_name(int type);
const char *sto_event_status_name(int status);

typedef struct sto_event {
	uint64_t id;
	uint8_t type, status;
	uint64_t series; /* the meter's key */
	int64_t t0, t1;	 /* previous reading and the reading that raised it (replacement: t0 = its time) */
	er_fx v0, v1;	 /* registers at t0 and t1 (replacement: old final, new initial) */
	er_fx amount;	 /* the quarantined or applied increment */
	int64_t created, resolved;
} sto_event;

int sto_event_put(sto_txn *txn, const sto_event *e);
int sto_event_get(sto_txn *txn, uint64_t id, sto_event *e); /* ER_ENOENT */
typedef int sto_event_fn(void *ctx, const sto_event *e);
/* Events with id > after_id in id order; a nonzero return from fn stops. */
int sto_events_each(sto_txn *txn, uint64_t after_id, sto_event_fn *fn, void *ctx);
int sto_event_last_id(sto_txn *txn, uint64_t *id); /* 0 when there are none */

#ifdef __cplusplus
}
#endif
#endif
