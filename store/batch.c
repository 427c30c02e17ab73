/* batch.c: open addressing over rollup keys, entries in one array so that
 * sorting them for the merge is one sort of the array. The table doubles
 * at 50% load; clear keeps the memory.
 *
 * The hash mixes the key's fields (the entity is already an XXH3 of its
 * code) and probes compare fields, not encoded bytes: a flush adds several
 * entries per meter-hour, so this is on the store thread's critical path
 * (bench/RESULTS.md). */
#include "batch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	sto_key k;
	uint64_t tag;
	sto_val v;
} entry;

struct sto_batch {
	entry *e; /* entries in insertion order, then key order once walked */
	size_t n, cap;
	uint32_t *slots; /* entry index + 1, 0 = empty */
	size_t mask;
	bool sorted; /* walked: the slots no longer point at the entries */
};

int sto_batch_new(sto_batch **out)
{
	sto_batch *b = calloc(1, sizeof *b);
	if (b == NULL)
		return ER_ENOMEM;
	b->mask = 1023;
	b->slots = calloc(b->mask + 1, sizeof *b->slots);
	if (b->slots == NULL) {
		free(b);
		return ER_ENOMEM;
	}
	*out = b;
	return 0;
}

void sto_batch_free(sto_batch *b)
{
	if (b == NULL)
		return;
	free(b->e);
	free(b->slots);
	free(b);
}

static uint64_t key_hash(const sto_key *k)
{
	/* a multiply-xorshift finalizer (splitmix64) over the fields */
	uint64_t h = k->entity ^ ((uint64_t)k->start * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)k->metric << 16 | (uint64_t)k->res << 8 | k->level);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static bool key_eq(const sto_key *a, const sto_key *b)
{
	return a->entity == b->entity && a->start == b->start && a->metric == b->metric && a->res == b->res &&
	       a->level == b->level;
}

int sto_key_order(const sto_key *a, const sto_key *b)
{
	/* store.c's byte order: level, res, start (signed), entity, metric */
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	if (a->res != b->res)
		return a->res < b->res ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->entity != b->entity)
		return a->entity < b->entity ? -1 : 1;
	return a->metric < b->metric ? -1 : a->metric > b->metric;
}

static size_t find(const sto_batch *b, const sto_key *k, uint64_t h)
{
	size_t i = h & b->mask;
	while (b->slots[i] && !key_eq(&b->e[b->slots[i] - 1].k, k))
		i = (i + 1) & b->mask;
	return i;
}

static int rehash(sto_batch *b)
{
	size_t mask = b->mask * 2 + 1;
	uint32_t *s = calloc(mask + 1, sizeof *s);
	if (s == NULL)
		return ER_ENOMEM;
	free(b->slots);
	b->slots = s;
	b->mask = mask;
	for (size_t j = 0; j < b->n; j++)
		b->slots[find(b, &b->e[j].k, key_hash(&b->e[j].k))] = (uint32_t)(j + 1);
	return 0;
}

int sto_batch_add(sto_batch *b, const sto_key *k, const sto_val *v, uint64_t tag)
{
	size_t i;

	assert(!b->sorted); /* programmer error: add after the walk without a clear */
	i = find(b, k, key_hash(k));
	if (b->slots[i]) {
		sto_val_merge(&b->e[b->slots[i] - 1].v, v);
		return 0;
	}
	if (er_grow(&b->e, b->n, &b->cap, sizeof *b->e, 1024) != 0)
		return ER_ENOMEM;
	b->e[b->n].k = *k;
	b->e[b->n].tag = tag;
	sto_val_zero(&b->e[b->n].v);
	sto_val_merge(&b->e[b->n].v, v);
	b->slots[i] = (uint32_t)(++b->n);
	if (b->n * 2 > b->mask + 1)
		return rehash(b);
	return 0;
}

size_t sto_batch_len(const sto_batch *b)
{
	return b->n;
}

static int cmp_entry(const void *a, const void *b)
{
	return sto_key_order(&((const entry *)a)->k, &((const entry *)b)->k);
}

int sto_batch_each_sorted(sto_batch *b, sto_batch_fn *fn, void *ctx)
{
	int rc;

	/* Sorting the entries in place invalidates the slots: the batch is
	 * walked once per flush and then cleared. */
	b->sorted = true;
	qsort(b->e, b->n, sizeof *b->e, cmp_entry);
	for (size_t j = 0; j < b->n; j++) {
		if ((rc = fn(ctx, &b->e[j].k, &b->e[j].v, b->e[j].tag)) != 0)
			return rc;
	}
	return 0;
}

void sto_batch_clear(sto_batch *b)
{
	memset(b->slots, 0, (b->mask + 1) * sizeof *b->slots);
	b->n = 0;
	b->sorted = false;
}
