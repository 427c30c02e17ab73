/* generate.c: ecoroll generate, plausible readings for every meter and
 * station series of a registry directory, as the CSV that push reads.
 *
 * The registry is imported into a private agg_registry, so generate reads
 * the files exactly as the server does and refuses what the server would
 * refuse. Every series draws from its own splitmix64 stream seeded with
 * (--seed, XXH3 of its code): a series' readings depend only on the seed,
 * its registry row and the time range, not on which other series exist or
 * on --meters-only/--stations-only. Values are built as integer micro-units
 * and printed with er_fx_format, so the decimal in the file is exactly what
 * the server sums, and a test can recompute expected totals from the file.
 *
 * Invariants of the output:
 * - lines are sorted by time, then by series code (a min-heap on
 *   (ts, rank of the code)), so a pushed file reads like a live feed;
 * - a reading at ts describes the period (ts - interval_s, ts], and ts is a
 *   local multiple of interval_s; cumulative registers get one extra
 *   baseline reading at the start of the range;
 * - a cumulative increment never exceeds max_per_hour * interval_s / 3600
 *   (no spike events) and registers wrap at their capacity (value mod
 *   capacity), which the server counts as a rollover (DOMAIN.md 3);
 * - PV yields nothing outside local 07:00-18:00.
 * The arithmetic that shapes the values uses doubles (no libm calls), then
 * truncates to the value's grid, so the output is the same on every
 * IEEE-754 machine.
 */
#include "cli.h"

#include "er.h"
#include "registry.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CMD          "generate"
#define FROM_DEFAULT "2026-11-01"
#define DAYS_MAX     3660 /* ten years; a year of the sample city is ~12 M lines */
#define MICRO        1000000LL

static const char help_text[] = "usage: ecoroll generate --registry DIR [OPTIONS]\n"
				"\n"
				"Writes readings CSV (series,time,value) for every meter and station series\n"
				"of the registry in DIR (districts.csv, enterprises.csv, meters.csv,\n"
				"stations.csv) to stdout, sorted by time and then series, ready for push.\n"
				"A reading at time T covers the interval_s seconds ending at T; cumulative\n"
				"registers also get a baseline reading at the start. The output is the same\n"
				"for the same registry, options and seed.\n"
				"\n"
				"options:\n"
				"  --registry DIR      the registry directory (required)\n"
				"  --from DATE         first local day (default " FROM_DEFAULT ")\n"
				"  --days N            days to generate (default 1)\n"
				"  --seed N            random seed (default 1)\n"
				"  --utc-offset OFF    the city's offset (default +08:00)\n"
				"  --meters-only       meters only, no station series\n"
				"  --stations-only     station series only, no meters\n"
				"  -h, --help          this text\n"
				"\n"
				"exit status: 0 success; 2 usage error or a registry the server would refuse.\n";

/* ---- random numbers: splitmix64 (Steele, Lea, Flood 2014) ---- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(splitmix64(s) >> 11) * 0x1.0p-53);
}

/* ---- daily shapes, by local hour; 1.0 is the meter's typical level ---- */

static const double shape_electricity[24] = {
    0.55, 0.52, 0.50, 0.50, 0.52, 0.58, 0.70, 0.85, 0.98, 1.00, 1.00, 0.97,
    0.85, 0.95, 1.00, 1.00, 0.98, 0.92, 0.85, 0.78, 0.72, 0.66, 0.60, 0.57,
};
static const double shape_water[24] = {
    0.30, 0.25, 0.22, 0.22, 0.25, 0.35, 0.60, 0.85, 1.00, 0.95, 0.90, 0.90,
    0.85, 0.90, 0.95, 0.95, 0.90, 0.85, 0.75, 0.65, 0.55, 0.45, 0.40, 0.35,
};
/* Heat in the heating season: more at night and in the early morning. */
static const double shape_heat[24] = {
    0.95, 0.97, 1.00, 1.00, 0.98, 0.95, 0.90, 0.85, 0.80, 0.78, 0.75, 0.75,
    0.75, 0.75, 0.76, 0.78, 0.80, 0.85, 0.90, 0.92, 0.94, 0.95, 0.95, 0.95,
};
/* Process fuels (gas, steam, coal, oil): continuous plants, a day shift. */
static const double shape_process[24] = {
    0.80, 0.80, 0.80, 0.80, 0.80, 0.82, 0.88, 0.95, 1.00, 1.00, 1.00, 1.00,
    0.95, 1.00, 1.00, 1.00, 1.00, 0.97, 0.93, 0.90, 0.87, 0.85, 0.83, 0.81,
};
/* Ozone is photochemical: it peaks in the afternoon. */
static const double shape_o3[24] = {
    0.55, 0.50, 0.45, 0.42, 0.40, 0.40, 0.45, 0.55, 0.70, 0.85, 1.00, 1.15,
    1.30, 1.40, 1.45, 1.40, 1.30, 1.15, 1.00, 0.85, 0.75, 0.68, 0.62, 0.58,
};
/* NO2 and CO follow traffic: morning and evening peaks. */
static const double shape_traffic[24] = {
    0.80, 0.72, 0.66, 0.62, 0.62, 0.70, 0.90, 1.15, 1.30, 1.20, 1.05, 0.95,
    0.90, 0.88, 0.88, 0.92, 1.00, 1.15, 1.30, 1.25, 1.10, 1.00, 0.92, 0.86,
};

/* Hourly limit when a meter declares none, per carrier (unit per hour). */
static double default_max_per_hour(int carrier)
{
	switch (carrier) {
	case AGG_ELECTRICITY: return 1000;
	case AGG_WATER: return 20;
	case AGG_HEAT: return 5;
	case AGG_STEAM: return 5;
	case AGG_GAS: return 200;
	case AGG_COAL: return 2;
	case AGG_OIL: return 0.5;
	case AGG_PV: return 200;
	default: return 100;
	}
}

/* Range of hourly station concentrations (ug/m3; CO mg/m3). */
static void pollutant_range(int carrier, double *lo, double *hi)
{
	switch (carrier) {
	case AGG_PM25: *lo = 10, *hi = 120; break;
	case AGG_PM10: *lo = 20, *hi = 180; break;
	case AGG_O3: *lo = 20, *hi = 200; break;
	case AGG_NO2: *lo = 10, *hi = 80; break;
	case AGG_SO2: *lo = 2, *hi = 30; break;
	default: *lo = 0.3, *hi = 2.0; break; /* CO */
	}
}

/* ---- one series ---- */

typedef struct gen {
	const agg_series *s;
	uint64_t rng;
	int64_t ts, end;   /* next reading; last allowed */
	uint32_t rank;     /* position of the code in sorted order */
	bool baseline;     /* the next reading is the cumulative baseline */
	er_fx reg;         /* cumulative register */
	double scale;      /* typical amount per hour (energy) or level */
	double level;      /* station: the AR(1) state */
	double day_factor; /* PV: the day's weather */
	int64_t day;       /* local day of day_factor */
} gen;

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int local_hour(int64_t t, int off)
{
	int64_t sod = t + off - floor_div(t + off, 86400) * 86400;
	return (int)(sod / 3600);
}

static double max_per_hour(const agg_series *s)
{
	return s->max_per_hour > 0 ? (double)s->max_per_hour / (double)MICRO : default_max_per_hour(s->carrier);
}

static void gen_init(gen *g, const agg_series *s, uint64_t seed, int64_t start, int64_t end, int off)
{
	int64_t iv = s->interval_s;

	memset(g, 0, sizeof *g);
	g->s = s;
	g->rng = seed ^ er_key(s->code, strlen(s->code));
	splitmix64(&g->rng);
	/* The first local multiple of interval_s after start. */
	g->ts = (floor_div(start + off, iv) + 1) * iv - off;
	g->end = end;
	g->day = INT64_MIN;
	if (s->station != NULL) {
		double lo, hi;
		pollutant_range(s->carrier, &lo, &hi);
		g->level = uniform(&g->rng, lo, lo + (hi - lo) * 0.5);
		return;
	}
	if (s->mode == AGG_INSTANT) {
		g->scale = uniform(&g->rng, 100, 3000); /* kW */
		return;
	}
	/* A typical hour uses 20-55% of the spike-guard limit. */
	g->scale = max_per_hour(s) * (s->carrier == AGG_PV ? uniform(&g->rng, 0.6, 0.85) : uniform(&g->rng, 0.2, 0.55));
	if (s->mode == AGG_CUMULATIVE) {
		er_fx cap = s->capacity;
		g->baseline = true;
		g->ts -= iv;
		/* 1000.00 to 500000.00: whole units, then two decimals. */
		g->reg = (er_fx)uniform(&g->rng, 1000, 500000) * MICRO + (er_fx)uniform(&g->rng, 0, 100) * 10000;
		if (cap > 0 && g->reg >= cap / 2)
			g->reg = cap / 4 - cap / 4 % 10000; /* keep clear of a small capacity */
	}
}

static const double *energy_shape(int carrier)
{
	switch (carrier) {
	case AGG_ELECTRICITY:
	case AGG_POWER: return shape_electricity;
	case AGG_WATER: return shape_water;
	case AGG_HEAT: return shape_heat;
	default: return shape_process;
	}
}

/* Amount used in (ts - iv, ts], on a grid of `grid` micro-units, never
 * above the meter's limit for the interval. */
static er_fx gen_usage(gen *g, int off, er_fx grid)
{
	const agg_series *s = g->s;
	int64_t iv = s->interval_s, mid = g->ts - iv / 2;
	double amount, f;

	if (s->carrier == AGG_PV) {
		int64_t t0 = g->ts - iv + off, sod0 = t0 - floor_div(t0, 86400) * 86400, day = floor_div(t0, 86400);
		double x;
		if (day != g->day) {
			g->day = day;
			g->day_factor = uniform(&g->rng, 0.35, 1.0); /* cloud */
		}
		if (sod0 < 7 * 3600 || sod0 + iv > 18 * 3600)
			return 0; /* daylight only (local 07:00-18:00) */
		x = ((double)(sod0 + iv / 2) - 7 * 3600.0) / (11 * 3600.0);
		f = 4 * x * (1 - x) * g->day_factor;
	} else {
		f = energy_shape(s->carrier)[local_hour(mid, off)];
	}
	amount = g->scale * f * uniform(&g->rng, 0.85, 1.15) * (double)iv / 3600.0;
	er_fx v = (er_fx)(amount * (double)(MICRO / grid)) * grid;
	er_fx limit =
	    s->max_per_hour > 0 ? s->max_per_hour * iv / 3600 : (er_fx)(max_per_hour(s) * (double)iv / 3600.0 * MICRO);
	limit -= limit % grid;
	return v > limit ? limit : v < 0 ? 0 : v;
}

/* The value of the reading at g->ts, in micro-units. */
static er_fx gen_value(gen *g, int off)
{
	const agg_series *s = g->s;

	if (s->station != NULL) {
		double lo, hi, mean, v;
		const double *shape = s->carrier == AGG_O3                            ? shape_o3
				      : s->carrier == AGG_NO2 || s->carrier == AGG_CO ? shape_traffic
										      : NULL;
		pollutant_range(s->carrier, &lo, &hi);
		mean = lo + (hi - lo) * 0.3;
		/* AR(1): smooth hour to hour, drifting around the mean. */
		g->level = mean + 0.85 * (g->level - mean) + uniform(&g->rng, -1, 1) * (hi - lo) * 0.08;
		v = g->level * (shape ? shape[local_hour(g->ts - 1800, off)] : 1.0);
		v = v < lo ? lo : v > hi ? hi : v;
		if (s->carrier == AGG_CO)
			return (er_fx)(v * 10 + 0.5) * (MICRO / 10); /* mg/m3, one decimal */
		return (er_fx)(v + 0.5) * MICRO;                     /* ug/m3, whole */
	}
	switch (s->mode) {
	case AGG_INSTANT: {
		double v = g->scale * shape_electricity[local_hour(g->ts, off)] * uniform(&g->rng, 0.9, 1.1);
		return (er_fx)(v * 10) * (MICRO / 10); /* kW, one decimal */
	}
	case AGG_INTERVAL: return gen_usage(g, off, 1000); /* t, three decimals */
	default:
		if (g->baseline) {
			g->baseline = false;
			return g->reg;
		}
		g->reg += gen_usage(g, off, 10000); /* two decimals */
		if (s->capacity > 0)
			g->reg %= s->capacity; /* the register rolls over */
		return g->reg;
	}
}

/* ---- a min-heap of series on (next ts, rank) ---- */

static bool before(const gen *a, const gen *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->rank < b->rank);
}

static void sift_down(gen **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && before(h[l], h[m]))
			m = l;
		if (r < n && before(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		gen *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int by_code(const void *a, const void *b)
{
	const agg_series *x = *(const agg_series *const *)a, *y = *(const agg_series *const *)b;
	return strcmp(x->code, y->code);
}

/* ---- the command ---- */

static int load_registry(const char *dir, agg_registry **out)
{
	static const char *names[AGG_F_COUNT] = {"districts.csv", "enterprises.csv", "meters.csv", "stations.csv"};
	char *text[AGG_F_COUNT] = {0}, path[AGG_F_COUNT][4096];
	agg_import imp = {0};
	agg_import_result res;
	agg_registry *reg = NULL;
	int rc, found = 0;

	for (int f = 0; f < AGG_F_COUNT; f++) {
		snprintf(path[f], sizeof path[f], "%s/%s", dir, names[f]);
		if (agg_read_file(path[f], &text[f]) == 0)
			found++;
		imp.text[f] = text[f];
		imp.name[f] = path[f];
	}
	if (found == 0) {
		fprintf(stderr,
			"ecoroll generate: %s holds none of districts.csv, enterprises.csv, meters.csv, "
			"stations.csv\n",
			dir);
		rc = ER_ENOENT;
		goto done;
	}
	if ((rc = agg_registry_new(NULL, &reg)) != 0) {
		fprintf(stderr, "ecoroll generate: %s\n", er_strerror(rc));
		goto done;
	}
	rc = agg_registry_import(reg, &imp, NULL, NULL, &res);
	for (size_t i = 0; i < res.nerrors; i++)
		fprintf(stderr, "%s\n", res.errors[i]);
	if (rc != 0 && res.nerrors == 0)
		fprintf(stderr, "ecoroll generate: cannot import %s: %s\n", dir, er_strerror(rc));
	agg_import_result_fini(&res);
done:
	for (int f = 0; f < AGG_F_COUNT; f++)
		free(text[f]);
	if (rc != 0) {
		agg_registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}

int cli_generate(int argc, char **argv)
{
	enum { O_REGISTRY = 256, O_FROM, O_DAYS, O_SEED, O_OFFSET, O_STATIONS, O_METERS };
	static const struct option lo[] = {
	    {"registry", required_argument, NULL, O_REGISTRY},
	    {"from", required_argument, NULL, O_FROM},
	    {"days", required_argument, NULL, O_DAYS},
	    {"seed", required_argument, NULL, O_SEED},
	    {"utc-offset", required_argument, NULL, O_OFFSET},
	    {"stations-only", no_argument, NULL, O_STATIONS},
	    {"meters-only", no_argument, NULL, O_METERS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *from_s = FROM_DEFAULT, *off_s = "+08:00";
	uint64_t days = 1, seed = 1;
	int off = CLI_OFFSET_DEFAULT, c, ret = CLI_EXIT_FATAL;
	bool stations = true, meters = true;
	int64_t start, end;
	agg_registry *reg = NULL;
	agg_series **list = NULL;
	gen *gens = NULL, **heap = NULL;
	size_t n = 0, nheap = 0;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_REGISTRY: dir = optarg; break;
		case O_FROM: from_s = optarg; break;
		case O_DAYS:
			if (!cli_parse_u64(optarg, 1, DAYS_MAX, &days))
				return cli_usage_error(CMD, "--days '%s' is not a number from 1 to %d", optarg,
						       DAYS_MAX);
			break;
		case O_SEED:
			if (!cli_parse_u64(optarg, 0, UINT64_MAX, &seed))
				return cli_usage_error(CMD, "--seed '%s' is not a whole number", optarg);
			break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &off))
				return cli_usage_error(CMD, "--utc-offset '%s' is not an offset like +08:00 or -03:30",
						       optarg);
			off_s = optarg;
			break;
		case O_STATIONS: meters = false; break;
		case O_METERS: stations = false; break;
		case 'h': fputs(help_text, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return cli_usage_error(CMD, "--registry DIR is required");
	if (!meters && !stations)
		return cli_usage_error(CMD, "--meters-only and --stations-only exclude each other");
	if (er_time_parse(from_s, strlen(from_s), off, &start) != 0 || start < ER_TS_MIN)
		return cli_usage_error(CMD, "--from '%s' is not a local date from 2000 on (like 2026-11-01)", from_s);
	end = start + (int64_t)days * 86400;

	if (load_registry(dir, &reg) != 0)
		goto done;
	uint32_t total = agg_registry_count(reg, AGG_SERIES);
	list = malloc((total ? total : 1) * sizeof *list);
	if (list == NULL)
		goto nomem;
	for (uint32_t i = 0; i < total; i++) {
		agg_series *s = agg_registry_series_at(reg, i);
		if (s != NULL && s->interval_s > 0 && (s->station != NULL ? stations : meters))
			list[n++] = s;
	}
	if (n == 0) {
		fprintf(stderr, "ecoroll generate: %s has no %s\n", dir,
			meters && stations ? "meters or stations"
			: meters           ? "meters"
					   : "stations");
		goto done;
	}
	qsort(list, n, sizeof *list, by_code);
	gens = calloc(n, sizeof *gens);
	heap = calloc(n, sizeof *heap);
	if (gens == NULL || heap == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		gen_init(&gens[i], list[i], seed, start, end, off);
		gens[i].rank = (uint32_t)i;
		if (gens[i].ts <= gens[i].end)
			heap[nheap++] = &gens[i];
	}
	for (size_t i = nheap / 2; i-- > 0;)
		sift_down(heap, nheap, i);

	/* A large buffer: the output is line after line of short writes. */
	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	printf("# generated by ecoroll generate --registry %s --from %s --days %" PRIu64 " --seed %" PRIu64
	       " --utc-offset %s%s\n",
	       dir, from_s, days, seed, off_s,
	       !stations ? " --meters-only"
	       : !meters ? " --stations-only"
			 : "");
	puts("series,time,value");
	int64_t shown_ts = INT64_MIN;
	char tbuf[48], vbuf[48];
	while (nheap > 0) {
		gen *g = heap[0];
		if (g->ts != shown_ts) {
			shown_ts = g->ts;
			er_time_format(shown_ts, off, tbuf, sizeof tbuf);
		}
		er_fx_format(gen_value(g, off), vbuf, sizeof vbuf);
		fputs(g->s->code, stdout);
		putchar(',');
		fputs(tbuf, stdout);
		putchar(',');
		fputs(vbuf, stdout);
		putchar('\n');
		g->ts += g->s->interval_s;
		if (g->ts > g->end)
			heap[0] = heap[--nheap];
		sift_down(heap, nheap, 0);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("ecoroll generate: stdout");
		goto done;
	}
	ret = CLI_EXIT_OK;
	goto done;
nomem:
	fputs("ecoroll generate: out of memory\n", stderr);
done:
	free(heap);
	free(gens);
	free(list);
	agg_registry_free(reg);
	return ret;
}
