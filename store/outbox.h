/* outbox.h: a district node's outbox (DESIGN.md "Three tiers"), in the
 * `outbox` LMDB database.
 *
 * An entry is one encoded RollupBatch envelope that the uplink sends to the
 * city as it is. Entries are numbered 1, 2, 3, ... in the order they were
 * committed; the number is the batch's seq on the wire, so the city's
 * high-water mark for the district says which entries it has applied.
 * Appending happens in the write transaction that produced the entry (a
 * flush, a registry import), so an entry exists exactly when its effects
 * are committed at the district; the uplink trims entries once the city has
 * acknowledged them.
 *
 * Key: seq, 8 bytes big-endian (seq 0 holds the outbox's own record).
 * Entry value (little-endian): version(1) = 1, created(8), payload.
 * Record value: version(1) = 1, next(8), entries(8), bytes(8),
 * announced(8), over_limit(1): the next seq to assign, the entries and
 * payload bytes held, the fingerprint of the registry last announced, and
 * whether the depth is over the configured limit (an event was raised).
 *
 * Threads: as store.h (writes in the one write transaction; any
 * transaction may append, because the next seq is read inside it). */
#ifndef STO_OUTBOX_H
#define STO_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budgets.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sto_outbox_info {
	uint64_t next;	    /* the seq the next entry gets (1 for a new outbox) */
	uint64_t entries;   /* entries held */
	uint64_t bytes;	    /* payload bytes held */
	uint64_t first;	    /* the oldest entry's seq (0 when empty) */
	int64_t oldest;	    /* its created time (0 when empty) */
	uint64_t announced; /* fingerprint of the last registry announcement (0: none) */
	bool over_limit;
} sto_outbox_info;

int sto_outbox_info_get(sto_txn *t, sto_outbox_info *out);
/* Appends payload as entry out->next (read with sto_outbox_info_get in the
 * same transaction, so the payload can carry its own seq). ER_EINVAL when
 * seq is not the next one. */
int sto_outbox_append(sto_txn *t, uint64_t seq, int64_t created, const void *payload, size_t len);
/* Entry seq; payload points into the transaction's map and is valid until
 * it ends. ER_ENOENT when it is not held. */
int sto_outbox_get(sto_txn *t, uint64_t seq, int64_t *created, const void **payload, size_t *len);
/* Deletes every entry with a seq <= upto; *removed counts them. */
int sto_outbox_trim(sto_txn *t, uint64_t upto, uint64_t *removed);
int sto_outbox_set_announced(sto_txn *t, uint64_t fingerprint);
int sto_outbox_set_over_limit(sto_txn *t, bool over);

/* ---- events between tiers ----
 *
 * A district node forwards every event it stores (resets, spikes,
 * replacements, warnings, outbox events), new or changed, as the bytes it
 * stored; the city keeps the latest state of each in `remote_events`, keyed
 * by the district node (er_key of its name) and the district's event id,
 * apart from its own events (their ids are the district's). */

/* The stored value of event id; *val points into the transaction's map. */
int sto_event_raw(sto_txn *t, uint64_t id, const void **val, size_t *len);
/* Whether bytes are an event value this store reads (common part, version). */
bool sto_event_raw_valid(const void *val, size_t len);
int sto_remote_event_put(sto_txn *t, uint64_t node, uint64_t id, const void *val, size_t len);
/* w is the warning's detail for a warning event, NULL otherwise. */
typedef int sto_remote_event_fn(void *ctx, uint64_t node, const sto_event *e, const sto_warning *w);
/* The events of one district node (node 0: every node's) in (node, id)
 * order; a nonzero return from fn stops and is returned. */
int sto_remote_events_each(sto_txn *t, uint64_t node, sto_remote_event_fn *fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
