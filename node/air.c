/* air.c: air-quality statistics at read time (DOMAIN.md 7, 8) for a
 * station, a district or the city.
 *
 * Hourly concentrations come from the station-hour rollups: the mean of
 * the readings in the hour (rounded half to even to micro-units), valid
 * with >= 45 minutes of coverage. A district or the city is the mean of
 * its evaluation stations' concentrations for the same hour (hourly) or of
 * their daily values (daily), and its indices are computed from those
 * means, never by averaging station AQIs. Validity, MDA8, percentiles and
 * the good-day share are aggregate/airstat.c; IAQI and AQI are
 * aggregate/aqi.c, with the rule set chosen by the date of the data and
 * named on every row.
 *
 * A day counts in the good-day share when its daily AQI exists and every
 * pollutant the entity measures had a valid daily value; under HJ 633-2026
 * a day missing one is counted only when its AQI is published (> 100).
 *
 * Thread: the control thread.
 */
#include "node.h"

#include "airstat.h"
#include "aqi.h"

#include <ck_epoch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPOL 6
#define MAX_STATIONS 256
#define MAX_DAYS 800 /* two years and a bit: the longest range a request may span */

/* pollutant index -> carrier, and the AQI columns of its values */
static const int pol_carrier[NPOL] = {AGG_PM25, AGG_PM10, AGG_O3, AGG_NO2, AGG_SO2, AGG_CO};
static const char *pol_name[NPOL] = {"pm25", "pm10", "o3", "no2", "so2", "co"};
enum { P_PM25, P_PM10, P_O3, P_NO2, P_SO2, P_CO };

/* One entity's hourly series: per pollutant, per hour of the range. */
typedef struct series {
	size_t nh;
	er_fx *v[NPOL];
	bool *ok[NPOL];
} series;

typedef struct air_ctx {
	node *n;
	int64_t qfrom, qto; /* the range asked for (hourly rows are cut to it) */
	int64_t from; /* local midnight, UTC seconds */
	size_t ndays;
	const agg_station *st[MAX_STATIONS];
	size_t nst;
	uint32_t measured; /* bit per pollutant measured by at least one station */
	series *per;	   /* one per station */
	er_fx mda8_limit;
} air_ctx;

static void series_free(series *s)
{
	for (int p = 0; p < NPOL; p++) {
		free(s->v[p]);
		free(s->ok[p]);
	}
}

static int series_init(series *s, size_t nh)
{
	memset(s, 0, sizeof *s);
	s->nh = nh;
	for (int p = 0; p < NPOL; p++) {
		s->v[p] = calloc(nh ? nh : 1, sizeof *s->v[p]);
		s->ok[p] = calloc(nh ? nh : 1, sizeof *s->ok[p]);
		if (s->v[p] == NULL || s->ok[p] == NULL)
			return ER_ENOMEM;
	}
	return 0;
}

static int pol_of(int carrier)
{
	for (int p = 0; p < NPOL; p++)
		if (pol_carrier[p] == carrier)
			return p;
	return -1;
}

struct load {
	series *s;
	int64_t from;
};

static int on_hour(void *ctx, const sto_key *k, const sto_val *v)
{
	struct load *l = ctx;
	int p = pol_of(k->metric & 0xff);
	int64_t h = (k->start - l->from) / 3600;
	if (p < 0 || h < 0 || (size_t)h >= l->s->nh || v->count <= 0)
		return 0;
	agg_mean m = {v->sum, (int32_t)v->count};
	er_fx c;
	if (agg_mean_round(m, &c) != 0 || c < 0)
		return 0;
	l->s->v[p][h] = c;
	l->s->ok[p][h] = agg_air_hour_valid((uint32_t)(v->coverage_s > UINT32_MAX ? UINT32_MAX : v->coverage_s));
	return 0;
}

/* Which stations make up the entity; fills c->st. */
static int members(air_ctx *c, int level, const char *code, char *err, size_t cap)
{
	agg_registry *reg = c->n->reg;
	uint64_t key = er_key(code, strlen(code));
	uint32_t count = agg_registry_count(reg, AGG_STATION);

	c->nst = 0;
	if (level == STO_STATION) {
		const agg_station *s = (const agg_station *)agg_registry_find(reg, AGG_STATION, key);
		if (s == NULL) {
			snprintf(err, cap, "unknown station '%s'", code);
			return ER_ENOENT;
		}
		c->st[c->nst++] = s;
	} else {
		if (level == STO_DISTRICT && agg_registry_find(reg, AGG_DISTRICT, key) == NULL) {
			snprintf(err, cap, "unknown district '%s'", code);
			return ER_ENOENT;
		}
		if (level == STO_CITY && code[0] && strcmp(code, c->n->cfg.city) != 0) {
			snprintf(err, cap, "this node serves city '%s', not '%s'", c->n->cfg.city, code);
			return ER_ENOENT;
		}
		/* only stations marked for evaluation (DOMAIN.md 8) */
		for (uint32_t i = 0; i < count && c->nst < MAX_STATIONS; i++) {
			const agg_station *s = agg_registry_station_at(reg, i);
			if (s->evaluation && (level == STO_CITY || s->district->h.key == key))
				c->st[c->nst++] = s;
		}
		if (c->nst == 0) {
			snprintf(err, cap, "no evaluation stations in %s", level == STO_CITY ? "the city" : code);
			return ER_ENOENT;
		}
	}
	for (size_t i = 0; i < c->nst; i++)
		for (int p = 0; p < NPOL; p++)
			if (c->st[i]->pollutants & (1ull << (pol_carrier[p] - AGG_PM25)))
				c->measured |= 1u << p;
	return 0;
}

static int load(air_ctx *c)
{
	sto_txn *t;
	int rc = sto_read_begin(c->n->store, &t);
	if (rc != 0)
		return rc;
	c->per = calloc(c->nst, sizeof *c->per);
	if (c->per == NULL) {
		sto_abort(t);
		return ER_ENOMEM;
	}
	for (size_t i = 0; i < c->nst && rc == 0; i++) {
		struct load l = {&c->per[i], c->from};
		if ((rc = series_init(&c->per[i], c->ndays * 24)) == 0)
			rc = sto_rollup_scan(t, STO_STATION, c->st[i]->h.key, ER_RES_HOUR, c->from,
					     c->from + (int64_t)c->ndays * 86400, on_hour, &l);
	}
	sto_abort(t);
	return rc;
}

static void ctx_free(air_ctx *c)
{
	for (size_t i = 0; c->per && i < c->nst; i++)
		series_free(&c->per[i]);
	free(c->per);
}

/* ---- daily values ---- */

typedef struct day {
	agg_mean mean[NPOL]; /* 24-hour means (O3: unused) */
	agg_mean mda8;
	er_fx o3_1h;
	bool o3_1h_ok;
	agg_aqi_result aqi;
	bool aqi_ok;	/* counts as a valid daily AQI (see the top of the file) */
	int64_t start;
} day;

/* One station's daily values for day d. */
static void station_day(const air_ctx *c, const series *s, size_t d, day *out)
{
	size_t h0 = d * 24;
	memset(out, 0, sizeof *out);
	for (int p = 0; p < NPOL; p++)
		if (p != P_O3)
			agg_air_daily_mean(s->v[p] + h0, s->ok[p] + h0, &out->mean[p]);
	int vw;
	agg_air_mda8(s->v[P_O3] + h0, s->ok[P_O3] + h0, c->mda8_limit, &out->mda8, &vw);
	out->o3_1h_ok = agg_air_o3_max1h(s->v[P_O3] + h0, s->ok[P_O3] + h0, &out->o3_1h) == 0;
}

/* Mean of rounded station values: the district's concentration. */
static void mean_add(agg_mean *acc, agg_mean m)
{
	er_fx r;
	if (m.n > 0 && agg_mean_round(m, &r) == 0) {
		acc->sum += r;
		acc->n++;
	}
}

static agg_conc conc(agg_mean m)
{
	return (agg_conc){m.sum, m.n};
}

static void entity_day(const air_ctx *c, size_t d, day *out)
{
	day acc;
	memset(&acc, 0, sizeof acc);
	agg_mean o31 = {0, 0};
	for (size_t i = 0; i < c->nst; i++) {
		day sd;
		station_day(c, &c->per[i], d, &sd);
		for (int p = 0; p < NPOL; p++)
			mean_add(&acc.mean[p], sd.mean[p]);
		mean_add(&acc.mda8, sd.mda8);
		if (sd.o3_1h_ok)
			mean_add(&o31, (agg_mean){sd.o3_1h, 1});
	}
	*out = acc;
	out->start = c->from + (int64_t)d * 86400;
	if (o31.n > 0) {
		out->o3_1h_ok = true;
		agg_mean_round(o31, &out->o3_1h);
	}
	const agg_aqi_rules *r = agg_aqi_rules_for(c->n->aqi, out->start, c->n->cfg.utc_offset_s);
	agg_aqi_input in;
	memset(&in, 0, sizeof in);
	static const int col24[NPOL] = {AQI_PM25_24H, AQI_PM10_24H, -1, AQI_NO2_24H, AQI_SO2_24H, AQI_CO_24H};
	bool complete = true;
	for (int p = 0; p < NPOL; p++) {
		if (!(c->measured & (1u << p)))
			continue;
		if (p == P_O3) {
			if (out->mda8.n > 0) {
				in.have[AQI_O3_8H] = true;
				in.c[AQI_O3_8H] = conc(out->mda8);
			} else {
				complete = false;
			}
			if (out->o3_1h_ok) {
				in.have[AQI_O3_1H] = true;
				in.c[AQI_O3_1H] = (agg_conc){out->o3_1h, 1};
			}
			continue;
		}
		if (out->mean[p].n > 0) {
			in.have[col24[p]] = true;
			in.c[col24[p]] = conc(out->mean[p]);
		} else {
			complete = false;
		}
	}
	out->aqi_ok = false;
	if (r != NULL && agg_aqi_compute(r, AGG_AQI_DAILY, &in, &out->aqi) == 0 && !out->aqi.na)
		out->aqi_ok = complete || out->aqi.aqi > 100;
	if (r == NULL)
		memset(&out->aqi, 0, sizeof out->aqi);
}

/* ---- output ---- */

typedef struct tbl {
	node_tbuf *b;
	size_t ncols;
} tbl;

/* A formatted string that lives until node_tbuf_fini. */
const char *node_tbuf_keep(node_tbuf *b, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return "";
	if (b->nstrs == b->capstrs) {
		size_t cap = b->capstrs ? b->capstrs * 2 : 1024;
		char **v = realloc(b->strs, cap * sizeof *v);
		if (v == NULL) {
			free(s);
			return "";
		}
		b->strs = v;
		b->capstrs = cap;
	}
	b->strs[b->nstrs++] = s;
	return s;
}

void node_tbuf_cell(node_tbuf *b, const char *s)
{
	if (b->ncells == b->capcells) {
		size_t cap = b->capcells ? b->capcells * 2 : 1024;
		const char **c = realloc(b->cells, cap * sizeof *c);
		if (c == NULL)
			return;
		b->cells = c;
		b->capcells = cap;
	}
	b->cells[b->ncells++] = s;
}

/* A concentration for display: ug/m3 to 1 decimal, CO mg/m3 to 2,
 * rounded half to even; "-" when there is none. */
static const char *fmt_conc(node_tbuf *b, int p, agg_mean m)
{
	er_fx r;
	if (m.n <= 0 || agg_mean_round(m, &r) != 0)
		return "-";
	int64_t q = p == P_CO ? 10000 : 100000; /* micro-units per displayed digit */
	int64_t whole = r / q, rem = r % q;
	if (2 * rem > q || (2 * rem == q && (whole & 1)))
		whole++;
	if (p == P_CO)
		return node_tbuf_keep(b, "%lld.%02lld", (long long)(whole / 100), (long long)(whole % 100));
	return node_tbuf_keep(b, "%lld.%lld", (long long)(whole / 10), (long long)(whole % 10));
}

static const char *fmt_primary(node_tbuf *b, const agg_aqi_result *r)
{
	char buf[96] = "";
	if (r->aqi <= 50 || r->primary == 0)
		return "-";
	for (int col = 0; col < AQI_NCOL; col++) {
		if (!(r->primary & (1u << col)))
			continue;
		if (buf[0])
			strncat(buf, ";", sizeof buf - strlen(buf) - 1);
		strncat(buf, agg_aqi_col_name(col), sizeof buf - strlen(buf) - 1);
	}
	return node_tbuf_keep(b, "%s", buf);
}

static void aqi_cells(node_tbuf *b, const agg_aqi_result *r, bool any_rules)
{
	if (!any_rules || r->rules == NULL) {
		node_tbuf_cell(b, "-");
		node_tbuf_cell(b, "-");
		node_tbuf_cell(b, "-");
		node_tbuf_cell(b, "no AQI rule set for this date");
		return;
	}
	node_tbuf_cell(b, r->na ? "NA" : node_tbuf_keep(b, "%d", r->aqi));
	node_tbuf_cell(b, r->na || r->category_name == NULL ? "-" : r->category_name);
	node_tbuf_cell(b, fmt_primary(b, r));
	node_tbuf_cell(b, agg_aqi_rules_name(r->rules));
}

static void date_label(int64_t t, int off, int res, char *buf, size_t cap)
{
	char iso[40];
	er_time_format(t, off, iso, sizeof iso);
	if (res == ER_RES_HOUR)
		snprintf(buf, cap, "%.10s %.5s", iso, iso + 11);
	else if (res == ER_RES_DAY)
		snprintf(buf, cap, "%.10s", iso);
	else
		snprintf(buf, cap, "%.7s", iso);
}

static void hourly(air_ctx *c, node_tbuf *b, pb_table *t)
{
	static const char *cols[] = {"hour", "pm25", "pm10", "o3", "no2", "so2", "co (mg/m3)",
				     "aqi", "category", "primary", "rules"};
	static const int col1h[NPOL] = {AQI_PM25_24H, AQI_PM10_24H, AQI_O3_1H, AQI_NO2_1H, AQI_SO2_1H, AQI_CO_1H};
	size_t nh = c->ndays * 24;
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	for (size_t h = 0; h < nh; h++) {
		agg_mean m[NPOL];
		agg_aqi_input in;
		bool any = false;
		memset(&in, 0, sizeof in);
		for (int p = 0; p < NPOL; p++) {
			m[p] = (agg_mean){0, 0};
			for (size_t i = 0; i < c->nst; i++)
				if (c->per[i].ok[p][h])
					mean_add(&m[p], (agg_mean){c->per[i].v[p][h], 1});
			if (m[p].n > 0) {
				in.have[col1h[p]] = true;
				in.c[col1h[p]] = conc(m[p]);
				any = true;
			}
		}
		if (!any)
			continue;
		/* O3 8h moving mean and SO2 24h moving mean ending at the hour,
		 * for the 2012 hourly report and its SO2 special rule */
		if (h >= 7) {
			agg_mean o8 = {0, 0};
			for (size_t i = 0; i < c->nst; i++) {
				agg_mean s8;
				if (agg_air_o3_8h(c->per[i].v[P_O3], c->per[i].ok[P_O3], nh, h, &s8) == 0)
					mean_add(&o8, s8);
			}
			if (o8.n > 0) {
				in.have[AQI_O3_8H] = true;
				in.c[AQI_O3_8H] = conc(o8);
			}
		}
		if (h >= 23) {
			/* the 24 hours ending at this one, valid like a day's
			 * mean: what HJ 633-2012 reports in place of an SO2 1h
			 * IAQI above 800 */
			agg_mean s24 = {0, 0};
			for (size_t i = 0; i < c->nst; i++) {
				agg_mean m24;
				if (agg_air_daily_mean(c->per[i].v[P_SO2] + h - 23, c->per[i].ok[P_SO2] + h - 23, &m24) == 0)
					mean_add(&s24, m24);
			}
			if (s24.n > 0) {
				in.have[AQI_SO2_24H] = true;
				in.c[AQI_SO2_24H] = conc(s24);
			}
		}
		int64_t start = c->from + (int64_t)h * 3600;
		if (start < c->qfrom || start >= c->qto)
			continue;
		const agg_aqi_rules *r = agg_aqi_rules_for(c->n->aqi, start, c->n->cfg.utc_offset_s);
		agg_aqi_result res;
		memset(&res, 0, sizeof res);
		if (r)
			agg_aqi_compute(r, AGG_AQI_HOURLY, &in, &res);
		char label[40];
		date_label(start, c->n->cfg.utc_offset_s, ER_RES_HOUR, label, sizeof label);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", label));
		for (int p = 0; p < NPOL; p++)
			node_tbuf_cell(b, fmt_conc(b, p, m[p]));
		aqi_cells(b, &res, r != NULL);
		t->nrows++;
	}
}

static void daily(air_ctx *c, node_tbuf *b, pb_table *t, day *days)
{
	static const char *cols[] = {"day",	 "pm25", "pm10",     "o3_8h",   "o3_1h", "no2", "so2",
				     "co (mg/m3)", "aqi",  "category", "primary", "rules"};
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	for (size_t d = 0; d < c->ndays; d++) {
		day *x = &days[d];
		char label[40];
		date_label(x->start, c->n->cfg.utc_offset_s, ER_RES_DAY, label, sizeof label);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", label));
		node_tbuf_cell(b, fmt_conc(b, P_PM25, x->mean[P_PM25]));
		node_tbuf_cell(b, fmt_conc(b, P_PM10, x->mean[P_PM10]));
		node_tbuf_cell(b, fmt_conc(b, P_O3, x->mda8));
		node_tbuf_cell(b, x->o3_1h_ok ? fmt_conc(b, P_O3, (agg_mean){x->o3_1h, 1}) : "-");
		node_tbuf_cell(b, fmt_conc(b, P_NO2, x->mean[P_NO2]));
		node_tbuf_cell(b, fmt_conc(b, P_SO2, x->mean[P_SO2]));
		node_tbuf_cell(b, fmt_conc(b, P_CO, x->mean[P_CO]));
		aqi_cells(b, &x->aqi, x->aqi.rules != NULL);
		t->nrows++;
	}
}

void node_tbuf_note(node_tbuf *b, const char *name, const char *value)
{
	if (b->nnotes < sizeof b->notes / sizeof b->notes[0]) {
		b->notes[b->nnotes].name = name;
		b->notes[b->nnotes].value = value;
		b->nnotes++;
	}
}

/* Monthly (one row per month of the range) or annual (one row per
 * pollutant, with the percentile statistic and the year's validity). */
static void periods(air_ctx *c, node_tbuf *b, pb_table *t, day *days, bool annual, int32_t year)
{
	int good = 0, valid = 0;
	for (size_t d = 0; d < c->ndays; d++)
		if (days[d].aqi_ok) {
			valid++;
			good += days[d].aqi.aqi <= 100;
		}
	if (!annual) {
		static const char *cols[] = {"month", "pm25", "pm10", "o3_8h", "no2", "so2", "co (mg/m3)",
					     "valid_days", "good_days", "aqi_days", "good_share_%"};
		t->columns = cols;
		t->ncols = sizeof cols / sizeof cols[0];
		for (size_t d0 = 0; d0 < c->ndays;) {
			int64_t y;
			unsigned m, dd;
			er_civil_from_days((days[d0].start + c->n->cfg.utc_offset_s) / 86400, &y, &m, &dd);
			size_t d1 = d0;
			int g = 0, v = 0, vd = 0;
			agg_mean means[NPOL + 1];
			agg_mean buf[NPOL + 1][32];
			size_t nd = 0;
			while (d1 < c->ndays) {
				int64_t y2;
				unsigned m2, dd2;
				er_civil_from_days((days[d1].start + c->n->cfg.utc_offset_s) / 86400, &y2, &m2, &dd2);
				if (y2 != y || m2 != m)
					break;
				for (int p = 0; p < NPOL; p++)
					buf[p][nd] = p == P_O3 ? days[d1].mda8 : days[d1].mean[p];
				if (days[d1].aqi_ok) {
					v++;
					g += days[d1].aqi.aqi <= 100;
				}
				nd++;
				d1++;
			}
			char label[40];
			date_label(days[d0].start, c->n->cfg.utc_offset_s, ER_RES_MONTH, label, sizeof label);
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", label));
			for (int p = 0; p < NPOL; p++) {
				int vdays = 0;
				int rc = agg_air_month_mean(buf[p], nd, (int32_t)y, (int)m, &means[p], &vdays);
				if (p == P_PM25)
					vd = vdays;
				agg_mean dm;
				int dv;
				/* an invalid month shows what it has, marked */
				if (rc == 0)
					node_tbuf_cell(b, fmt_conc(b, p, means[p]));
				else if (agg_air_days_mean(buf[p], nd, &dm, &dv) == 0)
					node_tbuf_cell(b, node_tbuf_keep(b, "%s (invalid: %d days)", fmt_conc(b, p, dm), dv));
				else
					node_tbuf_cell(b, "-");
			}
			int tenths;
			node_tbuf_cell(b, node_tbuf_keep(b, "%d", vd));
			node_tbuf_cell(b, node_tbuf_keep(b, "%d", g));
			node_tbuf_cell(b, node_tbuf_keep(b, "%d", v));
			node_tbuf_cell(b, agg_air_good_share(g, v, &tenths) == 0 ? node_tbuf_keep(b, "%d.%d", tenths / 10, tenths % 10) : "-");
			t->nrows++;
			d0 = d1;
		}
		return;
	}
	static const char *cols[] = {"pollutant", "annual_mean", "valid_days", "valid_year", "statistic", "value"};
	static const int pct[NPOL] = {95, 95, 90, 98, 98, 95};
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	er_fx *vals = malloc(c->ndays * sizeof *vals);
	agg_mean *series_d = malloc(c->ndays * sizeof *series_d);
	for (int p = 0; p < NPOL && vals && series_d; p++) {
		if (!(c->measured & (1u << p)))
			continue;
		size_t nv = 0;
		for (size_t d = 0; d < c->ndays; d++) {
			series_d[d] = p == P_O3 ? days[d].mda8 : days[d].mean[p];
			if (series_d[d].n > 0 && agg_mean_round(series_d[d], &vals[nv]) == 0)
				nv++;
		}
		agg_mean ym;
		int vdays = 0, failing = 0;
		int rc = agg_air_year_mean(series_d, c->ndays, year, &ym, &vdays, &failing);
		er_fx pv;
		node_tbuf_cell(b, p == P_O3 ? "o3 (MDA8)" : pol_name[p]);
		agg_mean dm;
		int dv;
		node_tbuf_cell(b, agg_air_days_mean(series_d, c->ndays, &dm, &dv) == 0 ? fmt_conc(b, p, dm) : "-");
		node_tbuf_cell(b, node_tbuf_keep(b, "%d", vdays));
		node_tbuf_cell(b, rc == 0 ? "yes" : failing ? node_tbuf_keep(b, "no (month %d short)", failing) : "no (< 324 days)");
		node_tbuf_cell(b, node_tbuf_keep(b, "P%d", pct[p]));
		node_tbuf_cell(b, agg_air_percentile(vals, nv, pct[p], &pv) == 0 ? fmt_conc(b, p, (agg_mean){pv, 1}) : "-");
		t->nrows++;
		if (p == P_PM25 && agg_air_days_mean(series_d, c->ndays, &dm, &dv) == 0) {
			int level;
			if (agg_air_target_level(dm, AGG_AT_MOST, c->n->air_pm25_target, c->n->air_margin, &level) == 0)
				node_tbuf_note(b, "pm25_target_level",
				     node_tbuf_keep(b, "%s (YTD mean %s vs target %s)",
					  level == AGG_GREEN ? "green" : level == AGG_YELLOW ? "yellow" : "red",
					  fmt_conc(b, p, dm), fmt_conc(b, p, (agg_mean){c->n->air_pm25_target, 1})));
		}
	}
	free(vals);
	free(series_d);
	int tenths;
	node_tbuf_note(b, "aqi_days", node_tbuf_keep(b, "%d", valid));
	node_tbuf_note(b, "good_days", node_tbuf_keep(b, "%d", good));
	if (agg_air_good_share(good, valid, &tenths) == 0) {
		node_tbuf_note(b, "good_share_%", node_tbuf_keep(b, "%d.%d", tenths / 10, tenths % 10));
		int level;
		/* the share as an exact mean of 0/100 days, in micro-percent */
		agg_mean share = {(int64_t)good * 100 * ER_FX_SCALE, valid};
		if (agg_air_target_level(share, AGG_AT_LEAST, c->n->air_good_target, c->n->air_margin, &level) == 0)
			node_tbuf_note(b, "good_share_target_level",
			     level == AGG_GREEN ? "green" : level == AGG_YELLOW ? "yellow" : "red");
	}
}

void node_air(node *n, const pb_air_request *q, pb_table *t, node_tbuf *b)
{
	air_ctx c = {.n = n, .mda8_limit = n->air_mda8_limit};
	int off = n->cfg.utc_offset_s, rc;
	int64_t from, to;
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	day *days = NULL;
	bool annual = strcmp(q->kind, "annual") == 0;

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (n->aqi == NULL) {
		snprintf(b->err, sizeof b->err, "no AQI rule sets loaded (aqi.dir)");
		return;
	}
	if (annual) {
		if (q->year < 2000 || q->year > 2200) {
			snprintf(b->err, sizeof b->err, "an annual report needs a year");
			return;
		}
		from = er_days_from_civil(q->year, 1, 1) * 86400 - off;
		to = er_days_from_civil(q->year + 1, 1, 1) * 86400 - off;
	} else if (strcmp(q->kind, "monthly") == 0) {
		/* whole months: a month's validity needs all of its days */
		from = er_bucket_start(q->from, ER_RES_MONTH, off);
		to = er_bucket_next(er_bucket_start(q->to - 1, ER_RES_MONTH, off), ER_RES_MONTH, off);
	} else {
		from = er_bucket_start(q->from, ER_RES_DAY, off);
		to = er_bucket_start(q->to - 1, ER_RES_DAY, off) + 86400;
		/* hourly: a day before, for the 8- and 24-hour moving means */
		if (strcmp(q->kind, "hourly") == 0)
			from -= 86400;
	}
	c.qfrom = q->from;
	c.qto = q->to;
	if (to <= from || (to - from) / 86400 > MAX_DAYS) {
		snprintf(b->err, sizeof b->err, "the range must hold 1 to %d days", MAX_DAYS);
		return;
	}
	c.from = from;
	c.ndays = (size_t)((to - from) / 86400);
	ck_epoch_begin(rec, NULL);
	rc = members(&c, q->level, q->entity, b->err, sizeof b->err);
	ck_epoch_end(rec, NULL);
	if (rc != 0)
		return;
	if ((rc = load(&c)) != 0) {
		snprintf(b->err, sizeof b->err, "store: %s", er_strerror(rc));
		goto done;
	}
	if (strcmp(q->kind, "hourly") == 0) {
		hourly(&c, b, t);
	} else {
		days = calloc(c.ndays, sizeof *days);
		if (days == NULL) {
			snprintf(b->err, sizeof b->err, "out of memory");
			goto done;
		}
		for (size_t d = 0; d < c.ndays; d++)
			entity_day(&c, d, &days[d]);
		if (strcmp(q->kind, "daily") == 0)
			daily(&c, b, t, days);
		else if (strcmp(q->kind, "monthly") == 0 || annual)
			periods(&c, b, t, days, annual, q->year);
		else {
			snprintf(b->err, sizeof b->err, "kind '%s' is not hourly, daily, monthly or annual", q->kind);
			goto done;
		}
	}
	t->title = node_tbuf_keep(b, "%s %s %s", q->kind, sto_level_name(q->level),
			q->level == STO_CITY ? n->cfg.city : q->entity);
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
done:
	free(days);
	ctx_free(&c);
}

void node_tbuf_fini(node_tbuf *b)
{
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	free(b->cells);
	memset(b, 0, sizeof *b);
}

/* evaluation.csv: name,value,source */
static int load_evaluation(node *n, const char *dir, char *err, size_t cap)
{
	char path[NODE_PATH_MAX + 32], *text, *line, *next, *f[4];
	int lineno = 0;
	struct {
		const char *name;
		er_fx *out;
		bool seen;
	} want[] = {
		{"o3_mda8_limit", &n->air_mda8_limit, false},
		{"pm25_annual_target", &n->air_pm25_target, false},
		{"good_share_target", &n->air_good_target, false},
		{"warning_margin", &n->air_margin, false},
	};

	snprintf(path, sizeof path, "%s/evaluation.csv", dir);
	if (agg_read_file(path, &text) != 0) {
		snprintf(err, cap, "cannot read %s", path);
		return ER_EIO;
	}
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		if (line[0] == '#' || line[0] == 0 || line[0] == '\r' || strncmp(line, "name,", 5) == 0)
			continue;
		er_fx v;
		if (er_csv_split(line, f, 4) != 3 || er_fx_parse(f[1], strlen(f[1]), &v) != 0 || v < 0) {
			snprintf(err, cap, "%s:%d: expected name,value,source with a number", path, lineno);
			free(text);
			return ER_EINVAL;
		}
		size_t i;
		for (i = 0; i < sizeof want / sizeof want[0]; i++)
			if (strcmp(f[0], want[i].name) == 0) {
				*want[i].out = v;
				want[i].seen = true;
				break;
			}
		if (i == sizeof want / sizeof want[0]) {
			snprintf(err, cap, "%s:%d: unknown parameter '%s'", path, lineno, f[0]);
			free(text);
			return ER_EINVAL;
		}
	}
	free(text);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!want[i].seen) {
			snprintf(err, cap, "%s: %s is missing", path, want[i].name);
			return ER_EINVAL;
		}
	return 0;
}

int node_load_air(node *n, struct agg_aqi **aqi, char *err, size_t cap)
{
	int rc = agg_aqi_load(n->cfg.aqi_dir, aqi, err, cap);
	if (rc != 0)
		return rc;
	if ((rc = load_evaluation(n, n->cfg.aqi_dir, err, cap)) != 0) {
		agg_aqi_free(*aqi);
		*aqi = NULL;
	}
	return rc;
}
