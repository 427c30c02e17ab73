/* batch.h: an in-memory set of rollup deltas combined by key, then walked
 * in LMDB key order so one write transaction merges them with sequential
 * page access (DESIGN.md "Store"). Single-threaded (_st): the store thread. */
#ifndef STO_BATCH_H
#define STO_BATCH_H

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sto_batch sto_batch;

int sto_batch_new(sto_batch **out);
void sto_batch_free(sto_batch *b);
/* Combines v into the entry for k (creating it). */
int sto_batch_add(sto_batch *b, const sto_key *k, const sto_val *v);
size_t sto_batch_len(const sto_batch *b);
/* Calls fn for every entry in key order; stops at a nonzero return. */
int sto_batch_each_sorted(sto_batch *b, sto_row_fn *fn, void *ctx);
void sto_batch_clear(sto_batch *b);

#ifdef __cplusplus
}
#endif
#endif
