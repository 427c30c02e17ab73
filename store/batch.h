/* batch.h: an in-memory set of rollup deltas combined by key, then walked
 * in LMDB key order so one write transaction merges them with sequential
 * page access (DESIGN.md "Store"). Single-threaded (_st): the store thread.
 *
 * Each entry carries a tag, the caller's word about the key (the store
 * thread keeps a meter's registry index or an enterprise's district
 * there), so the walk needs no lookup to roll a row further up. */
#ifndef STO_BATCH_H
#define STO_BATCH_H

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sto_batch sto_batch;

int sto_batch_new(sto_batch **out);
void sto_batch_free(sto_batch *b);
/* Combines v into the entry for k, creating it with tag (a key's tag is
 * the one it was created with). */
int sto_batch_add(sto_batch *b, const sto_key *k, const sto_val *v, uint64_t tag);
size_t sto_batch_len(const sto_batch *b);
typedef int sto_batch_fn(void *ctx, const sto_key *k, const sto_val *v, uint64_t tag);
/* Calls fn for every entry in key order; stops at a nonzero return. The
 * batch can then only be cleared. */
int sto_batch_each_sorted(sto_batch *b, sto_batch_fn *fn, void *ctx);
void sto_batch_clear(sto_batch *b);
/* Key order without encoding: the same as memcmp of sto_key_encode. */
int sto_key_order(const sto_key *a, const sto_key *b);

#ifdef __cplusplus
}
#endif
#endif
