/* batch.c: open addressing over encoded keys (XXH3 of the 20 key bytes),
 * entries in one array so that sorting them for the merge is one qsort of
 * indices. The table doubles at 50% load; clear keeps the memory. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
	uint8_t k[STO_KEY_LEN];
	sto_val v;
} entry;

struct sto_batch {
	entry *e;	  /* entries in insertion order */
	size_t n, cap;
	uint32_t *slots; /* entry index + 1, 0 = empty */
	size_t mask;
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

static size_t find(const sto_batch *b, const uint8_t *k)
{
	size_t i = XXH3_64bits(k, STO_KEY_LEN) & b->mask;
	while (b->slots[i] && memcmp(b->e[b->slots[i] - 1].k, k, STO_KEY_LEN) != 0)
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
		b->slots[find(b, b->e[j].k)] = (uint32_t)(j + 1);
	return 0;
}

int sto_batch_add(sto_batch *b, const sto_key *k, const sto_val *v)
{
	uint8_t kb[STO_KEY_LEN];
	size_t i;

	sto_key_encode(k, kb);
	i = find(b, kb);
	if (b->slots[i]) {
		sto_val_merge(&b->e[b->slots[i] - 1].v, v);
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		entry *e = realloc(b->e, cap * sizeof *e);
		if (e == NULL)
			return ER_ENOMEM;
		b->e = e;
		b->cap = cap;
	}
	memcpy(b->e[b->n].k, kb, STO_KEY_LEN);
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
	return memcmp(((const entry *)a)->k, ((const entry *)b)->k, STO_KEY_LEN);
}

int sto_batch_each_sorted(sto_batch *b, sto_row_fn *fn, void *ctx)
{
	sto_key k;
	int rc;

	/* Sorting the entries in place invalidates the slots; the batch is
	 * walked once per flush and then cleared. */
	qsort(b->e, b->n, sizeof *b->e, cmp_entry);
	memset(b->slots, 0, (b->mask + 1) * sizeof *b->slots);
	for (size_t j = 0; j < b->n; j++)
		b->slots[find(b, b->e[j].k)] = (uint32_t)(j + 1);
	for (size_t j = 0; j < b->n; j++) {
		sto_key_decode(b->e[j].k, &k);
		if ((rc = fn(ctx, &k, &b->e[j].v)) != 0)
			return rc;
	}
	return 0;
}

void sto_batch_clear(sto_batch *b)
{
	memset(b->slots, 0, (b->mask + 1) * sizeof *b->slots);
	b->n = 0;
}
