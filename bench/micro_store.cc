// micro_store.cc: the store thread's write path, one LMDB write
// transaction merging a flush's rollup rows (store/store.h, store/batch.h).
//
// Rows are shaped like a flush: meter-hour rows of one hour for N meters,
// so with time-first keys (store.c: level, res, start, entity, metric)
// they are neighbours in the B-tree. Each benchmark opens a fresh store
// (sync=false: this measures the B-tree and page work, not the disk) in a
// temporary directory under /tmp, removed afterwards, and checks with
// sto_rollup_get that a row holds the sum it should.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <ftw.h>
#include <stdio.h>

#include "micro.h"

#include "batch.h"
#include "er.h"
#include "registry.h"
#include "store.h"

#define T0 1793548800LL	   /* 2026-11-02T00:00:00Z: an hour boundary */
#define DELTA_SUM 2500000  /* 2.5 kWh in micro-units: one meter's hour */
#define MAP_SIZE (4ull << 30) /* 4 GiB: no sto_grow mid-run, even for many new-row iterations */

static int rm_entry(const char *path, const struct stat *, int, struct FTW *)
{
	remove(path);
	return 0;
}

// A store in a fresh directory under /tmp, removed with everything in it.
struct Store {
	char dir[64];
	sto_env *env = nullptr;

	Store()
	{
		std::snprintf(dir, sizeof dir, "/tmp/ecoroll-micro.XXXXXX");
		check(mkdtemp(dir) != nullptr, "mkdtemp under /tmp");
		sto_opts o = {dir, MAP_SIZE, false, 8 * 3600, "bench"};
		char err[512];
		if (sto_open(&o, &env, err, sizeof err) != 0) {
			std::fprintf(stderr, "sto_open(%s): %s\n", dir, err);
			check(false, "sto_open");
		}
	}
	~Store()
	{
		sto_close(env);
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
};

static uint64_t mix64(uint64_t x) /* splitmix64: stands in for the XXH3 of a meter code */
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

// One meter-hour row key per meter, at hour `start`, in generation
// (registry) order, or in key order when `sorted`.
static std::vector<sto_key> flush_keys(size_t n, int64_t start, bool sorted)
{
	std::vector<sto_key> keys(n);
	for (size_t i = 0; i < n; i++) {
		keys[i] = sto_key{};
		keys[i].level = STO_METER;
		keys[i].entity = mix64(i);
		keys[i].metric = sto_metric(AGG_ELECTRICITY, AGG_FUEL);
		keys[i].res = ER_RES_HOUR;
		keys[i].start = start;
	}
	if (sorted)
		std::sort(keys.begin(), keys.end(),
			  [](const sto_key &a, const sto_key &b) { return sto_key_order(&a, &b) < 0; });
	return keys;
}

static sto_val hour_delta(void)
{
	sto_val v;
	sto_val_zero(&v);
	v.count = 4;
	v.sum = DELTA_SUM;
	v.min = v.max = DELTA_SUM / 4;
	v.coverage_s = 900;
	return v;
}

// Merges every key with the delta in one write transaction and commits;
// checks that each row existed before or not, as `existed` says.
static void merge_commit(sto_env *env, const std::vector<sto_key> &keys, const sto_val &d, bool existed)
{
	sto_txn *txn;
	check(sto_write_begin(env, &txn) == 0, "sto_write_begin");
	for (const sto_key &k : keys) {
		bool was;
		sto_val now;
		check(sto_rollup_merge(txn, &k, &d, &was, &now) == 0, "sto_rollup_merge");
		check(was == existed, existed ? "row should exist" : "row should be new");
	}
	check(sto_commit(txn) == 0, "sto_commit");
}

// The rows at `keys` (first, middle, last) hold `merges` deltas.
static void check_rows(sto_env *env, const std::vector<sto_key> &keys, int64_t merges)
{
	const sto_val d = hour_delta();
	sto_txn *txn;
	check(sto_read_begin(env, &txn) == 0, "sto_read_begin");
	for (size_t i : {(size_t)0, keys.size() / 2, keys.size() - 1}) {
		sto_val v;
		check(sto_rollup_get(txn, &keys[i], &v) == 0, "sto_rollup_get");
		check(v.sum == merges * d.sum && v.count == merges * d.count, "row sum after the merges");
	}
	sto_abort(txn);
}

// One benchmark's store and flush: N meter-hour rows of hour T0, written
// once before the timed loop when `prefill` (the rows then exist).
struct Flush {
	Store s;
	std::vector<sto_key> keys;
	const sto_val d = hour_delta();

	Flush(size_t n, bool sorted, bool prefill) : keys(flush_keys(n, T0, sorted))
	{
		if (prefill)
			merge_commit(s.env, keys, d, false);
	}
	// After the timed loop: the rows hold `merges` deltas; N rows an iteration.
	void finish(benchmark::State &state, int64_t merges)
	{
		check_rows(s.env, keys, merges);
		state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)keys.size());
	}
};

// New rows: each iteration merges the next hour of N meters (inserts,
// appended after every earlier hour), then commits.
static void BM_StoreMergeNew(benchmark::State &state)
{
	Flush f((size_t)state.range(0), true, false);
	int64_t hour = T0;
	for (auto _ : state) {
		for (sto_key &k : f.keys) /* the same entity order: still key order */
			k.start = hour;
		merge_commit(f.s.env, f.keys, f.d, false);
		hour += 3600;
	}
	f.finish(state, 1);
}
BENCHMARK(BM_StoreMergeNew)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// Existing rows (the steady state): N rows of one hour are written before
// the timed loop; each iteration read-modify-writes all of them, commits.
static void BM_StoreMergeExisting(benchmark::State &state)
{
	Flush f((size_t)state.range(0), true, true);
	for (auto _ : state)
		merge_commit(f.s.env, f.keys, f.d, true);
	f.finish(state, 1 + (int64_t)state.iterations());
}
BENCHMARK(BM_StoreMergeExisting)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// The flusher's way: N deltas added to a sto_batch in registry (unsorted)
// order, then walked in key order into one transaction that
// read-modify-writes existing rows, and committed.
static void BM_StoreBatchMerge(benchmark::State &state)
{
	Flush f((size_t)state.range(0), false, true);
	sto_batch *b;
	check(sto_batch_new(&b) == 0, "sto_batch_new");
	for (auto _ : state) {
		for (size_t i = 0; i < f.keys.size(); i++)
			check(sto_batch_add(b, &f.keys[i], &f.d, i) == 0, "sto_batch_add");
		check(sto_batch_len(b) == f.keys.size(), "batch length");
		sto_txn *txn;
		check(sto_write_begin(f.s.env, &txn) == 0, "sto_write_begin");
		int rc = sto_batch_each_sorted(
			b,
			[](void *ctx, const sto_key *k, const sto_val *v, uint64_t) {
				bool was;
				sto_val now;
				int r = sto_rollup_merge((sto_txn *)ctx, k, v, &was, &now);
				return r != 0 ? r : was ? 0 : (int)ER_EINVAL;
			},
			txn);
		check(rc == 0, "sto_batch_each_sorted: merge of an existing row");
		check(sto_commit(txn) == 0, "sto_commit");
		sto_batch_clear(b);
	}
	sto_batch_free(b);
	f.finish(state, 1 + (int64_t)state.iterations());
}
BENCHMARK(BM_StoreBatchMerge)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
