// micro_domain.cc: the domain rules that run on every read of a figure:
// the exact IAQI/AQI (aggregate/aqi.h) under HJ 633-2012 and HJ 633-2026,
// and tce/CO2 from physical quantities with effective-dated coefficients
// (aggregate/energy.h), both with the tables shipped in conf/.
//
// conf/ is found as cli/bench.c finds it: $ECOROLL_SRC/conf, else ../../conf
// next to this program (build/bench/micro_domain -> conf/). Known values
// come from tests/test_aqi.c and tests/test_energy.c (computed by hand
// there); each benchmark checks them and that every pass of its timed
// loop gives the same total.
#include <benchmark/benchmark.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include "micro.h"

#include "aqi.h"
#include "energy.h"
#include "er.h"

#define MU 1000000LL    /* micro-units per ug/m3 (or mg/m3, kWh, ...) */
#define CST (8 * 3600) /* China Standard Time, +08:00 */

// $ECOROLL_SRC/conf/<sub>, or <this program's directory>/../../conf/<sub>.
static std::string conf_dir(const char *sub)
{
	const char *src = getenv("ECOROLL_SRC");
	std::string base;
	if (src != nullptr && src[0] != 0) {
		base = std::string(src) + "/conf";
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		check(n > 0, "readlink /proc/self/exe");
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash != nullptr)
			*slash = 0;
		base = std::string(exe) + "/../../conf";
	}
	char full[PATH_MAX];
	std::string path = base + "/" + sub;
	if (realpath(path.c_str(), full) == nullptr) {
		std::fprintf(stderr, "cannot find %s (set ECOROLL_SRC to the source tree)\n", path.c_str());
		check(false, "conf directory");
	}
	return full;
}

static int64_t at(const char *iso)
{
	int64_t t;
	check(er_time_parse(iso, strlen(iso), 0, &t) == 0, "er_time_parse");
	return t;
}

// A table loader's result: on an error, its "file:line: reason" lines.
static void check_load(int rc, const std::string &dir, const char *err, const char *what)
{
	if (rc != 0)
		std::fprintf(stderr, "loading %s: %s\n%s\n", dir.c_str(), er_strerror(rc), err);
	check(rc == 0, what);
}

// ---- AQI ----

static agg_aqi *load_aqi(const agg_aqi_rules **r12, const agg_aqi_rules **r26)
{
	agg_aqi *a;
	char err[4096];
	std::string dir = conf_dir("aqi");
	check_load(agg_aqi_load(dir.c_str(), &a, err, sizeof err), dir, err, "agg_aqi_load");
	*r12 = agg_aqi_rules_for(a, at("2025-06-01T00:00:00+08:00"), CST);
	*r26 = agg_aqi_rules_for(a, at("2026-06-01T00:00:00+08:00"), CST);
	check(*r12 && *r26, "rule sets in force in 2025 and 2026");
	check(strcmp(agg_aqi_rules_name(*r12), "HJ 633-2012") == 0, "2025 is HJ 633-2012");
	check(strcmp(agg_aqi_rules_name(*r26), "HJ 633-2026") == 0, "2026 is HJ 633-2026");
	return a;
}

static int iaqi_of(const agg_aqi_rules *r, int col, int64_t micro)
{
	int v = -1;
	check(agg_iaqi(r, col, agg_conc{micro, 1}, &v) == 0, "agg_iaqi of a known value");
	return v;
}

// tests/test_aqi.c test_domain_vectors, test_exact_not_double and
// test_2026_rounding: {column, micro-units, IAQI 2012, IAQI 2026}.
static void check_known_iaqi(const agg_aqi_rules *r12, const agg_aqi_rules *r26)
{
	static const struct {
		int col;
		int64_t micro;
		int v12, v26;
	} known[] = {
		{AQI_PM25_24H, 35 * MU, 50, 50},  {AQI_PM25_24H, 50 * MU, 69, 80}, {AQI_PM25_24H, 75 * MU, 100, 114},
		{AQI_PM25_24H, 34500000, 50, 49}, {AQI_PM10_24H, 150 * MU, 100, 112}, {AQI_O3_8H, 170 * MU, 110, 110},
		{AQI_CO_24H, 1250000, 32, 30},    {AQI_CO_24H, 2200000, 55, 55},
	};
	for (const auto &k : known) {
		check(iaqi_of(r12, k.col, k.micro) == k.v12, "known IAQI under HJ 633-2012");
		check(iaqi_of(r26, k.col, k.micro) == k.v26, "known IAQI under HJ 633-2026");
	}
	check(iaqi_of(r12, AQI_PM10_24H, 352100000) == 203, "PM10 352.1: 203 exactly, not 204");
	check(iaqi_of(r12, AQI_SO2_24H, 2120800000) == 404, "SO2 24h 2120.8: 404 exactly, not 405");
}

// The top breakpoint of each column (HJ 633 Table 1, both rule sets),
// ug/m3 or mg/m3: the spread runs 10% past it.
static const int64_t TOP[AQI_NCOL] = {
	2620, 800, 940, 3840, /* SO2 24h, SO2 1h, NO2 24h, NO2 1h */
	600,  60,  150, 1200, /* PM10 24h, CO 24h, CO 1h, O3 1h */
	800,  500,            /* O3 8h, PM2.5 24h */
};
static_assert(AQI_NCOL == 10, "TOP has one breakpoint per column, in enum agg_aqi_col order");
#define SPREAD 256 /* concentrations per column */

struct Conc {
	int col;
	int64_t micro;
};

// SPREAD concentrations per column from 0 to 1.1 x its top, each with a
// fraction of a unit so 2026's half-to-even rounding has work to do.
static std::vector<Conc> iaqi_spread(void)
{
	std::vector<Conc> v;
	for (int c = 0; c < AQI_NCOL; c++)
		for (int64_t j = 0; j < SPREAD; j++)
			v.push_back({c, TOP[c] * 11 * MU / 10 * j / SPREAD + (j * 137909) % MU});
	return v;
}

// agg_iaqi over the spread, every column, under one rule set (arg 2012
// or 2026). SO2 1h and O3 8h above 800 are undefined (ER_ENOENT) and
// counted; any other error aborts.
static void BM_Iaqi(benchmark::State &state)
{
	const agg_aqi_rules *r12, *r26;
	agg_aqi *a = load_aqi(&r12, &r26);
	check_known_iaqi(r12, r26);
	const agg_aqi_rules *r = state.range(0) == 2012 ? r12 : r26;
	const std::vector<Conc> conc = iaqi_spread();
	int64_t first = -1;
	for (auto _ : state) {
		int64_t sum = 0, undefined = 0;
		for (const Conc &c : conc) {
			int v;
			int rc = agg_iaqi(r, c.col, agg_conc{c.micro, 1}, &v);
			if (rc == 0)
				sum += v;
			else
				check(rc == ER_ENOENT && (c.col == AQI_SO2_1H || c.col == AQI_O3_8H) && c.micro > 800 * MU,
				      "agg_iaqi: undefined only above 800 for SO2 1h and O3 8h");
			undefined += rc != 0;
		}
		sum = sum * 1000 + undefined;
		check(first < 0 || sum == first, "agg_iaqi: the same total every pass");
		first = sum;
	}
	agg_aqi_free(a);
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)conc.size());
}
BENCHMARK(BM_Iaqi)->Arg(2012)->Arg(2026);

static void set(agg_aqi_input *in, int col, int64_t micro)
{
	in->have[col] = true;
	in->c[col] = agg_conc{micro, 1};
}

// The hourly and daily AQI of tests/test_aqi.c (test_hourly_*, test_daily):
// 2012 hourly 110 (O3 8h), 2026 hourly 75, 2012 daily 125, 2026 daily 86.
static void known_inputs(agg_aqi_input *hourly, agg_aqi_input *daily)
{
	*hourly = agg_aqi_input{};
	set(hourly, AQI_SO2_1H, 10 * MU);
	set(hourly, AQI_NO2_1H, 150 * MU);
	set(hourly, AQI_CO_1H, 1 * MU);
	set(hourly, AQI_O3_1H, 150 * MU);
	set(hourly, AQI_O3_8H, 170 * MU);
	set(hourly, AQI_PM10_24H, 50 * MU);
	set(hourly, AQI_PM25_24H, 35 * MU);
	set(hourly, AQI_SO2_24H, 500 * MU);
	set(hourly, AQI_NO2_24H, 500 * MU);
	*daily = agg_aqi_input{};
	set(daily, AQI_SO2_24H, 100 * MU);
	set(daily, AQI_NO2_24H, 60 * MU);
	set(daily, AQI_PM10_24H, 100 * MU);
	set(daily, AQI_CO_24H, 3 * MU);
	set(daily, AQI_O3_1H, 250 * MU);
	set(daily, AQI_O3_8H, 130 * MU);
	set(daily, AQI_PM25_24H, 50 * MU);
	set(daily, AQI_SO2_1H, 700 * MU);
}

static int aqi_of(const agg_aqi_rules *r, int kind, const agg_aqi_input *in)
{
	agg_aqi_result res;
	check(agg_aqi_compute(r, kind, in, &res) == 0 && res.rules == r, "agg_aqi_compute");
	return res.aqi;
}

// agg_aqi_compute, hourly and daily, both rule sets, over station-hours
// whose concentrations are the known inputs scaled by 1/4 .. 4.
static void BM_AqiCompute(benchmark::State &state)
{
	const agg_aqi_rules *r12, *r26;
	agg_aqi *a = load_aqi(&r12, &r26);
	agg_aqi_input hourly, daily;
	known_inputs(&hourly, &daily);
	check(aqi_of(r12, AGG_AQI_HOURLY, &hourly) == 110, "2012 hourly AQI 110");
	check(aqi_of(r26, AGG_AQI_HOURLY, &hourly) == 75, "2026 hourly AQI 75");
	check(aqi_of(r12, AGG_AQI_DAILY, &daily) == 125, "2012 daily AQI 125");
	check(aqi_of(r26, AGG_AQI_DAILY, &daily) == 86, "2026 daily AQI 86");
	std::vector<agg_aqi_input> in;
	for (int s = 1; s <= 16; s++)
		for (const agg_aqi_input *base : {&hourly, &daily}) {
			agg_aqi_input x = *base;
			for (int c = 0; c < AQI_NCOL; c++)
				x.c[c].num = x.c[c].num * s / 4;
			in.push_back(x);
		}
	int64_t first = -1, n = 0;
	for (auto _ : state) {
		int64_t sum = 0;
		for (const agg_aqi_rules *r : {r12, r26})
			for (size_t i = 0; i < in.size(); i++)
				sum += aqi_of(r, i % 2 ? AGG_AQI_DAILY : AGG_AQI_HOURLY, &in[i]);
		check(first < 0 || sum == first, "agg_aqi_compute: the same total every pass");
		first = sum;
		n += 2 * (int64_t)in.size();
	}
	agg_aqi_free(a);
	state.SetItemsProcessed(n);
}
BENCHMARK(BM_AqiCompute);

// ---- tce and CO2 ----

struct Qty {
	int carrier;
	int64_t t;
	er_fx qty;
};

// tce and CO2 of `qty` as a report derives them: the coefficient and the
// factor in force on its local day, exact products. ER_ENOENT (no CO2
// factor: water, steam) adds nothing.
static void convert(const agg_energy *e, const Qty &q, agg_pico *kgce, agg_pico *kgco2)
{
	int64_t k;
	check(agg_energy_coef(e, q.carrier, AGG_CALORIFIC, q.t, CST, &k, nullptr) == 0, "agg_energy_coef");
	*kgce += agg_pico_mul(q.qty, k);
	int rc = agg_energy_factor(e, q.carrier, AGG_FUEL, q.t, CST, &k, nullptr);
	check(rc == 0 || (rc == ER_ENOENT && (q.carrier == AGG_WATER || q.carrier == AGG_STEAM)),
	      "agg_energy_factor");
	if (rc == 0)
		*kgco2 += agg_pico_mul(q.qty, k);
}

// 4,096 meter-hour quantities over eight carriers and 2021-2026 (the
// electricity CO2 factor changes on 2022-01-01 and 2023-01-01 local),
// each converted to kgce and kgCO2.
static void BM_TceConvert(benchmark::State &state)
{
	agg_energy *e;
	char err[4096];
	std::string dir = conf_dir("energy");
	check_load(agg_energy_load(dir.c_str(), &e, err, sizeof err), dir, err, "agg_energy_load");
	// tests/test_energy.c test_exact_products_and_sums: 12345.678901 kWh x
	// 0.1229 kgce/kWh = 1517.2839369329 kgce; 1000 kWh in 2026 x 0.5306 =
	// 530.6 kgCO2.
	agg_pico kgce = 0, kgco2 = 0;
	convert(e, Qty{AGG_ELECTRICITY, at("2026-06-01T12:00:00+08:00"), 12345678901}, &kgce, &kgco2);
	check(kgce == (agg_pico)1517283936932900LL, "12345.678901 kWh is 1517.2839369329 kgce");
	char buf[64];
	agg_pico_format(kgce, 3, 4, buf, sizeof buf);
	check(strcmp(buf, "1.5173") == 0, "1.5173 tce");
	kgce = kgco2 = 0;
	convert(e, Qty{AGG_ELECTRICITY, at("2026-06-01T12:00:00+08:00"), 1000 * MU}, &kgce, &kgco2);
	agg_pico_format(kgco2, 3, 4, buf, sizeof buf);
	check(strcmp(buf, "0.5306") == 0, "1000 kWh in 2026 is 0.5306 tCO2");

	static const int carriers[] = {AGG_ELECTRICITY, AGG_HEAT, AGG_GAS,  AGG_COAL,
				       AGG_OIL,         AGG_PV,   AGG_STEAM, AGG_WATER};
	const int64_t t0 = at("2021-06-01T00:00:00+08:00");
	std::vector<Qty> q(4096);
	for (size_t i = 0; i < q.size(); i++)
		q[i] = Qty{carriers[i % 8], t0 + (int64_t)i * 40063 /* ~11 h: 2021-06 .. 2026-09 */,
			   (er_fx)(1000 + i * 7919) * 1234};
	agg_pico first_ce = -1, first_co2 = -1;
	for (auto _ : state) {
		kgce = kgco2 = 0;
		for (const Qty &x : q)
			convert(e, x, &kgce, &kgco2);
		check(first_ce < 0 || (kgce == first_ce && kgco2 == first_co2), "tce: the same total every pass");
		first_ce = kgce;
		first_co2 = kgco2;
	}
	agg_energy_free(e);
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)q.size());
}
BENCHMARK(BM_TceConvert);

BENCHMARK_MAIN();
