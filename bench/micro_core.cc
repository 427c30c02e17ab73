// micro_core.cc: Google Benchmark harness over ecoroll's C hot paths.
// Each benchmark checks its own result (a wrong answer aborts the run) and
// reports items per second. Figures go to bench/RESULTS.md with the
// command, the date and the machine; nothing here is a pass/fail gate.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "micro.h"

extern "C" {
#include "codec.h"
#include "delta.h"
#include "er.h"
#include "meter.h"
#include "registry.h"
}

// Decoding one ReadingBatch of 1,000 packed readings (the wire default).
static void BM_BatchDecode(benchmark::State &state)
{
	const size_t n = (size_t)state.range(0);
	std::vector<uint64_t> series(n);
	std::vector<int64_t> ts(n);
	std::vector<double> val(n);
	for (size_t i = 0; i < n; i++) {
		series[i] = 0x9E3779B97F4A7C15ull * (i + 1);
		ts[i] = 1793548800 + (int64_t)(i / 100) * 900;
		val[i] = 1000.25 + (double)i;
	}
	pb_batch b = {};
	b.sender = "bench";
	b.seq = 1;
	b.n = n;
	b.series = series.data();
	b.ts = ts.data();
	b.value = val.data();
	std::vector<uint8_t> buf(n * 32 + 256);
	size_t len = pb_encode_batch_into(&b, buf.data(), buf.size());
	check(len > 0 && len <= buf.size(), "encode");
	for (auto _ : state) {
		pb_msg m;
		int rc = pb_decode(buf.data(), len, &m);
		check(rc == 0 && m.u.batch.n == n && m.u.batch.value[n - 1] == val[n - 1], "decode");
		benchmark::DoNotOptimize(m.u.batch.series);
		pb_msg_fini(&m);
	}
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)n);
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)len);
}
BENCHMARK(BM_BatchDecode)->Arg(1000)->Arg(10000);

// Adding samples to the active delta table, one worker, keys spread over
// `series` series and 2 hours: 1 K fits in L1/L2, 1 M does not.
static void BM_DeltaAdd(benchmark::State &state)
{
	const uint32_t nseries = (uint32_t)state.range(0);
	agg_core *core;
	agg_core_opts o = {1, nseries * 4 > (1u << 22) ? (1u << 22) : nseries * 4, false};
	check(agg_core_new(&o, &core) == 0, "core");
	uint64_t added = 0;
	uint32_t s = 0;
	for (auto _ : state) {
		agg_delta *t = agg_core_enter(core, 0);
		for (int i = 0; i < 1000; i++) {
			agg_sample smp = {1, 2500000, 2500000, 2500000, 900, 0};
			agg_delta_add(t, 0, agg_key(s, 500000 + (s & 1)), &smp);
			s = (s + 7919) % nseries;
		}
		agg_core_leave(core, 0);
		added += 1000;
	}
	// Drain and check that every add is there (after the timed loop).
	int64_t count = 0;
	for (int k = 0; k < 2; k++) {
		agg_delta *t = agg_core_swap(core);
		agg_delta_drain(
			t, [](void *ctx, uint64_t, const agg_sample *x) { *(int64_t *)ctx += x->count; }, &count);
		agg_core_recycle(core, t);
	}
	check((uint64_t)count == added, "delta add: no lost update");
	agg_core_free(core);
	state.SetItemsProcessed((int64_t)added);
}
BENCHMARK(BM_DeltaAdd)->Arg(1000)->Arg(100000)->Arg(1000000);

// Swap (epoch grace period with 2 idle worker records) and drain of a
// table holding `keys` keys.
static void BM_SwapDrain(benchmark::State &state)
{
	const uint32_t keys = (uint32_t)state.range(0);
	agg_core *core;
	agg_core_opts o = {2, keys * 2, false};
	check(agg_core_new(&o, &core) == 0, "core");
	int64_t drained = 0;
	for (auto _ : state) {
		state.PauseTiming();
		agg_delta *t = agg_core_enter(core, 0);
		for (uint32_t k = 0; k < keys; k++) {
			agg_sample smp = {1, 1, 1, 1, 1, 0};
			agg_delta_add(t, 0, agg_key(k, 7), &smp);
		}
		agg_core_leave(core, 0);
		state.ResumeTiming();
		int64_t n = 0;
		t = agg_core_swap(core);
		agg_delta_drain(
			t, [](void *ctx, uint64_t, const agg_sample *x) { *(int64_t *)ctx += x->count; }, &n);
		agg_core_recycle(core, t);
		check(n == (int64_t)keys, "drain count");
		drained += n;
	}
	agg_core_free(core);
	state.SetItemsProcessed(drained);
}
BENCHMARK(BM_SwapDrain)->Arg(1000)->Arg(100000);

// Meter normalization of 15-minute cumulative readings, apportioned.
static void BM_MeterApplyCumulative(benchmark::State &state)
{
	agg_core *core;
	agg_core_opts o = {1, 1u << 20, false};
	check(agg_core_new(&o, &core) == 0, "core");
	std::vector<agg_series> ser(1000);
	for (uint32_t i = 0; i < ser.size(); i++) {
		std::memset(&ser[i], 0, sizeof ser[i]);
		ser[i].idx = i;
		ser[i].mode = AGG_CUMULATIVE;
		ser[i].interval_s = 900;
	}
	int64_t ts = 1793548800;
	er_fx v = 1000000;
	agg_meter_stats st = {};
	uint64_t n = 0;
	for (auto _ : state) {
		agg_delta *t = agg_core_enter(core, 0);
		ts += 900;
		v += 2500000;
		for (auto &s : ser)
			check(agg_meter_apply(t, 0, &s, ts, v, 8 * 3600, &st) == AGG_APPLIED, "apply");
		agg_core_leave(core, 0);
		n += ser.size();
		if ((n & ((1 << 16) - 1)) < ser.size()) {
			agg_delta *old = agg_core_swap(core);
			agg_delta_drain(old, [](void *, uint64_t, const agg_sample *) {}, nullptr);
			agg_core_recycle(core, old);
		}
	}
	agg_core_free(core);
	state.SetItemsProcessed((int64_t)n);
}
BENCHMARK(BM_MeterApplyCumulative);

// Fixed-point conversion of wire doubles.
static void BM_FixedPoint(benchmark::State &state)
{
	double v = 0.0;
	er_fx x = 0;
	for (auto _ : state) {
		v += 0.25;
		er_fx_from_double(v, &x);
		benchmark::DoNotOptimize(x);
	}
	check(x == (er_fx)(v * 4) * 250000, "fixed point");
	state.SetItemsProcessed((int64_t)state.iterations());
}
BENCHMARK(BM_FixedPoint);

BENCHMARK_MAIN();
