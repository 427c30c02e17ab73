/* delta.c: the lock-free delta tables and their epoch swap (see delta.h).
 *
 * Invariants:
 * - A slot's key goes from 0 to one value by CAS and stays until the store
 *   thread clears the whole table, which it does only after a grace period
 *   with the table no longer active, so no worker can be inside it.
 * - Each worker may claim at most its share of 70% of the slots; past that
 *   it spills new keys to a private list, so linear probing never meets a
 *   full table. At half its share it asks the store thread for an early
 *   flush.
 * - Counters are atomic; the drain reads them with relaxed atomics after
 *   the grace period (the epoch gives the ordering; er_tsan_* tells TSan).
 * - The worker that claims a slot appends its index to its own list, so a
 *   drain visits only claimed slots: a flush of a few keys costs a few
 *   keys, not a walk of the table (flushes run back to back under load).
 * - A worker leaving a table that holds its work asks for a flush (group
 *   commit): the store thread commits as soon as the previous commit is
 *   done, and whatever arrived meanwhile shares the next one.
 */
#include <ck_epoch.h>
#include "delta.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define FILL_PERCENT 70 /* max load factor: probe runs stay short */

typedef struct slot {
	_Atomic uint64_t key;
	_Atomic int64_t count;
	_Atomic int64_t sum;
	_Atomic int64_t min;
	_Atomic int64_t max;
	_Atomic uint32_t coverage;
	_Atomic uint32_t flags;
} slot;

typedef struct spilled {
	uint64_t key;
	agg_sample s;
} spilled;

/* One worker's private part of a table, on its own cache lines. */
typedef struct wpart {
	_Alignas(64) uint64_t claims;
	/* 1 while the worker is inside this table. The store thread checks it
	 * is 0 after the grace period: a cheap proof of the epoch's promise,
	 * and the C11 release/acquire pair that shows ThreadSanitizer the
	 * order the epoch gives (ck's fences are inline assembly it cannot
	 * see). */
	_Atomic int inside;
	bool asked; /* early flush requested for this table */
	uint32_t *claimed; /* slot indices this worker claimed, budget of them */
	spilled *spill;
	size_t nspill, capspill;
	uint8_t *log;
	size_t nlog, caplog;
} wpart;

struct agg_delta {
	slot *slots;
	uint64_t mask;
	uint64_t budget; /* claims per worker */
	uint64_t gen;
	int nworkers;
	wpart *parts;
	struct agg_core *core;
};

struct agg_core {
	_Alignas(64) _Atomic(agg_delta *) active;
	agg_delta **cur; /* the table each worker entered (its own slot) */
	agg_delta *spare;
	agg_delta tables[2];
	int nworkers;
	ck_epoch_t epoch;
	ck_epoch_record_t *records; /* AGG_REC_EXTRA + nworkers */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wanted; /* under lock */
	/* A flush is already asked for: workers read it before taking the
	 * lock, so under load asking costs one load. seq_cst with the store
	 * of false in agg_core_wait: a worker that sees true left its work
	 * in a table the coming swap takes. */
	_Atomic bool work;
	bool group_commit; /* set once at creation */
	uint64_t gen;
};

static void slot_clear(slot *s)
{
	/* relaxed: the table is not active and no worker is inside it */
	atomic_store_explicit(&s->count, 0, memory_order_relaxed);
	atomic_store_explicit(&s->sum, 0, memory_order_relaxed);
	atomic_store_explicit(&s->min, INT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&s->max, INT64_MIN, memory_order_relaxed);
	atomic_store_explicit(&s->coverage, 0, memory_order_relaxed);
	atomic_store_explicit(&s->flags, 0, memory_order_relaxed);
	atomic_store_explicit(&s->key, 0, memory_order_relaxed);
}

static int table_init(agg_delta *t, uint32_t slots, int nworkers)
{
	uint64_t n = 1024;
	while (n < slots)
		n <<= 1;
	t->slots = aligned_alloc(64, n * sizeof *t->slots);
	t->parts = aligned_alloc(64, (size_t)nworkers * sizeof *t->parts);
	if (t->slots == NULL || t->parts == NULL)
		return ER_ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		slot_clear(&t->slots[i]);
	memset(t->parts, 0, (size_t)nworkers * sizeof *t->parts);
	t->mask = n - 1;
	t->budget = n * FILL_PERCENT / 100 / (uint64_t)nworkers;
	t->nworkers = nworkers;
	for (int w = 0; w < nworkers; w++) {
		t->parts[w].claimed = malloc(t->budget * sizeof *t->parts[w].claimed);
		if (t->parts[w].claimed == NULL)
			return ER_ENOMEM;
	}
	return 0;
}

static void table_fini(agg_delta *t)
{
	if (t->parts) {
		for (int w = 0; w < t->nworkers; w++) {
			free(t->parts[w].spill);
			free(t->parts[w].log);
			free(t->parts[w].claimed);
		}
	}
	free(t->parts);
	free(t->slots);
}

int agg_core_new(const agg_core_opts *o, agg_core **out)
{
	agg_core *c;
	int n = o->nworkers > 0 ? o->nworkers : 1;

	c = aligned_alloc(64, sizeof *c);
	if (c == NULL)
		return ER_ENOMEM;
	memset(c, 0, sizeof *c);
	c->nworkers = n;
	c->group_commit = o->group_commit;
	if (table_init(&c->tables[0], o->slots, n) != 0 || table_init(&c->tables[1], o->slots, n) != 0)
		goto fail;
	/* ck_epoch_record_t is cache-line aligned: calloc's 16 bytes is not enough. */
	c->cur = calloc((size_t)n, sizeof *c->cur);
	if (c->cur == NULL)
		goto fail;
	c->records = aligned_alloc(64, (size_t)(AGG_REC_EXTRA + n) * sizeof *c->records);
	if (c->records == NULL)
		goto fail;
	memset(c->records, 0, (size_t)(AGG_REC_EXTRA + n) * sizeof *c->records);
	ck_epoch_init(&c->epoch);
	for (int i = 0; i < AGG_REC_EXTRA + n; i++)
		ck_epoch_register(&c->epoch, &c->records[i], NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->tables[0].core = c->tables[1].core = c;
	c->tables[0].gen = 1;
	c->gen = 1;
	atomic_init(&c->active, &c->tables[0]);
	c->spare = &c->tables[1];
	*out = c;
	return 0;
fail:
	table_fini(&c->tables[0]);
	table_fini(&c->tables[1]);
	free(c->records);
	free(c->cur);
	free(c);
	return ER_ENOMEM;
}

void agg_core_free(agg_core *c)
{
	if (c == NULL)
		return;
	table_fini(&c->tables[0]);
	table_fini(&c->tables[1]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->records);
	free(c->cur);
	free(c);
}

ck_epoch_record_t *agg_core_record(agg_core *c, int which)
{
	return &c->records[which];
}

ck_epoch_record_t *agg_core_worker_record(agg_core *c, int w)
{
	return &c->records[AGG_REC_EXTRA + w];
}

static void ask_flush(agg_core *c)
{
	pthread_mutex_lock(&c->lock);
	c->wanted = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

agg_delta *agg_core_enter(agg_core *c, int w)
{
	ck_epoch_begin(&c->records[AGG_REC_EXTRA + w], NULL);
	/* acquire: the recycled table's cleared slots are visible before we
	 * write into it (pairs with the release in agg_core_swap) */
	agg_delta *t = atomic_load_explicit(&c->active, memory_order_acquire);
	atomic_store_explicit(&t->parts[w].inside, 1, memory_order_relaxed);
	c->cur[w] = t;
	return t;
}

void agg_core_leave(agg_core *c, int w)
{
	/* TSan: our plain writes to the table's logs happen before the store
	 * thread drains it (pairs with er_tsan_acquire in agg_core_swap). */
	er_tsan_release(c);
	wpart *p = &c->cur[w]->parts[w];
	bool work = p->nlog > 0 || p->claims > 0 || p->nspill > 0;
	/* release: everything written into the table happens before the
	 * store thread's check in agg_core_swap (pairs with its acquire) */
	atomic_store_explicit(&p->inside, 0, memory_order_release);
	ck_epoch_end(&c->records[AGG_REC_EXTRA + w], NULL);
	/* after leaving: the swap this wakes must not wait for us */
	if (work && c->group_commit && !atomic_load(&c->work)) {
		atomic_store(&c->work, true);
		ask_flush(c);
	}
}

void agg_core_wake(agg_core *c)
{
	ask_flush(c);
}

void agg_core_wait(agg_core *c, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->wanted) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
			break;
	}
	c->wanted = false;
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->work, false); /* before the swap that follows */
}

static void spill(agg_delta *t, int w, uint64_t key, const agg_sample *s)
{
	wpart *p = &t->parts[w];
	if (p->nspill == p->capspill) {
		size_t cap = p->capspill ? p->capspill * 2 : 1024;
		spilled *n = realloc(p->spill, cap * sizeof *n);
		if (n == NULL)
			abort(); /* nothing sane to do: we cannot lose an applied reading */
		p->spill = n;
		p->capspill = cap;
	}
	p->spill[p->nspill].key = key;
	p->spill[p->nspill].s = *s;
	p->nspill++;
}

static void slot_add(slot *sl, const agg_sample *s)
{
	int64_t v;

	/* relaxed: only atomicity matters here; the epoch grace period
	 * orders these adds before the drain */
	if (s->count)
		atomic_fetch_add_explicit(&sl->count, s->count, memory_order_relaxed);
	if (s->sum)
		atomic_fetch_add_explicit(&sl->sum, s->sum, memory_order_relaxed);
	if (s->coverage_s)
		atomic_fetch_add_explicit(&sl->coverage, s->coverage_s, memory_order_relaxed);
	if (s->flags)
		atomic_fetch_or_explicit(&sl->flags, s->flags, memory_order_relaxed);
	v = atomic_load_explicit(&sl->min, memory_order_relaxed);
	while (s->min < v && !atomic_compare_exchange_weak_explicit(&sl->min, &v, s->min, memory_order_relaxed,
								    memory_order_relaxed))
		;
	v = atomic_load_explicit(&sl->max, memory_order_relaxed);
	while (s->max > v && !atomic_compare_exchange_weak_explicit(&sl->max, &v, s->max, memory_order_relaxed,
								    memory_order_relaxed))
		;
}

void agg_delta_add(agg_delta *t, int w, uint64_t key, const agg_sample *s)
{
	uint64_t i = XXH3_64bits(&key, sizeof key) & t->mask;
	wpart *p = &t->parts[w];

	for (;;) {
		slot *sl = &t->slots[i];
		uint64_t cur = atomic_load_explicit(&sl->key, memory_order_relaxed);
		if (cur == key)
			return slot_add(sl, s);
		if (cur == 0) {
			if (p->claims >= t->budget)
				return spill(t, w, key, s);
			/* relaxed: the slot's fields were cleared before the
			 * table was published (acquire in agg_core_enter), and
			 * all later accesses are atomic RMWs */
			if (atomic_compare_exchange_strong_explicit(&sl->key, &cur, key, memory_order_relaxed,
								    memory_order_relaxed)) {
				p->claimed[p->claims++] = (uint32_t)i;
				if (!p->asked && p->claims >= t->budget / 2) {
					p->asked = true;
					ask_flush(t->core);
				}
				return slot_add(sl, s);
			}
			if (cur == key)
				return slot_add(sl, s);
		}
		i = (i + 1) & t->mask;
	}
}

int agg_delta_log(agg_delta *t, int w, int type, const void *rec, size_t len)
{
	wpart *p = &t->parts[w];
	size_t need = 8 + ((len + 7) & ~(size_t)7); /* type, length, payload 8-aligned */

	if (len > UINT32_MAX)
		return ER_EINVAL;
	if (p->nlog + need > p->caplog) {
		size_t cap = p->caplog ? p->caplog : 4096;
		while (cap < p->nlog + need)
			cap *= 2;
		uint8_t *n = realloc(p->log, cap);
		if (n == NULL)
			return ER_ENOMEM;
		p->log = n;
		p->caplog = cap;
	}
	uint32_t hdr[2] = {(uint32_t)type, (uint32_t)len};
	memcpy(p->log + p->nlog, hdr, sizeof hdr);
	memcpy(p->log + p->nlog + 8, rec, len);
	p->nlog += need;
	return 0;
}

agg_delta *agg_core_swap(agg_core *c)
{
	agg_delta *old = atomic_load_explicit(&c->active, memory_order_relaxed);
	agg_delta *next = c->spare;

	next->gen = ++c->gen;
	/* release: the cleared slots of next are visible to a worker that
	 * loads it (pairs with the acquire in agg_core_enter) */
	atomic_store_explicit(&c->active, next, memory_order_release);
	/* Every worker that could still hold old entered its section before
	 * the store above; the grace period waits for all of them to leave. */
	ck_epoch_synchronize(&c->records[AGG_REC_STORE]);
	er_tsan_acquire(c);
	for (int w = 0; w < c->nworkers; w++) {
		/* acquire: pairs with the release in agg_core_leave */
		if (atomic_load_explicit(&old->parts[w].inside, memory_order_acquire) != 0)
			abort(); /* a worker is still inside after the grace period */
	}
	c->spare = NULL;
	return old;
}

void agg_delta_drain(agg_delta *t, agg_drain_fn *fn, void *ctx)
{
	agg_sample s;

	/* Only the slots the workers claimed: an idle table costs nothing. */
	for (int w = 0; w < t->nworkers; w++) {
		wpart *p = &t->parts[w];
		for (uint64_t c = 0; c < p->claims; c++) {
			slot *sl = &t->slots[p->claimed[c]];
			uint64_t key = atomic_load_explicit(&sl->key, memory_order_relaxed);
			s.count = atomic_load_explicit(&sl->count, memory_order_relaxed);
			s.sum = atomic_load_explicit(&sl->sum, memory_order_relaxed);
			s.min = atomic_load_explicit(&sl->min, memory_order_relaxed);
			s.max = atomic_load_explicit(&sl->max, memory_order_relaxed);
			s.coverage_s = atomic_load_explicit(&sl->coverage, memory_order_relaxed);
			s.flags = atomic_load_explicit(&sl->flags, memory_order_relaxed);
			fn(ctx, key, &s);
			slot_clear(sl);
		}
	}
	for (int w = 0; w < t->nworkers; w++) {
		wpart *p = &t->parts[w];
		for (size_t i = 0; i < p->nspill; i++)
			fn(ctx, p->spill[i].key, &p->spill[i].s);
		p->nspill = 0;
		p->claims = 0;
		p->asked = false;
	}
}

void agg_delta_logs(agg_delta *t, agg_log_fn *fn, void *ctx)
{
	for (int w = 0; w < t->nworkers; w++) {
		wpart *p = &t->parts[w];
		for (size_t off = 0; off < p->nlog;) {
			uint32_t hdr[2];
			memcpy(hdr, p->log + off, sizeof hdr);
			fn(ctx, w, (int)hdr[0], p->log + off + 8, hdr[1]);
			off += 8 + ((hdr[1] + 7u) & ~7u);
		}
	}
}

void agg_core_recycle(agg_core *c, agg_delta *t)
{
	for (int w = 0; w < t->nworkers; w++) {
		t->parts[w].nlog = 0;
		t->parts[w].nspill = 0;
		t->parts[w].claims = 0;
		t->parts[w].asked = false;
	}
	c->spare = t;
}

uint64_t agg_delta_keys(const agg_delta *t)
{
	uint64_t n = 0;
	for (int w = 0; w < t->nworkers; w++)
		n += t->parts[w].claims + t->parts[w].nspill;
	return n;
}

uint64_t agg_delta_generation(const agg_delta *t)
{
	return t->gen;
}

void agg_sample_merge(agg_sample *a, const agg_sample *b)
{
	a->count += b->count;
	a->sum += b->sum;
	a->coverage_s += b->coverage_s;
	a->flags |= b->flags;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
}
