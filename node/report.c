/* report.c: the query layer. Reads rollups in an LMDB read transaction (an
 * MVCC snapshot that never blocks ingest) and derives standard coal and
 * CO2 at read time from the effective-dated tables (DOMAIN.md 4): only
 * physical quantities are stored, so a changed coefficient recomputes
 * history without re-ingesting anything.
 *
 * Exactness: a derived figure is the sum over the days of a bucket of
 * (quantity in micro-units) x (coefficient in micro-units per unit), an
 * exact 128-bit count of 1e-12 kg; hour buckets use their day's
 * coefficient. Sums of exact products are exact, so a city's tce equals
 * the sum of its districts'; rounding happens once, for display (half to
 * even, GB/T 8170), to 6 decimals of a tonne.
 *
 * Thread: the control thread (it alone reads n->energy).
 */
#include "node.h"

#include "aqi.h"
#include "econ.h"
#include "energy.h"

#include <ck_epoch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 1000000     /* a query answer larger than this is refused */
#define DERIVED_DECIMALS 6   /* tonnes to the gram: display only */
#define TOTAL_CARRIER "total" /* the per-bucket sum across carriers of a derived query */

enum { U_NATIVE = 0, U_TCE = 1, U_CO2 = 2 };

typedef struct qrow {
	sto_key k;
	sto_val v;
	agg_pico acc;	 /* derived, exact */
	bool missing;	 /* some day had no coefficient */
	const char *src; /* the coefficient's source when there was one */
	bool multi;	 /* several coefficients were used */
} qrow;

typedef struct qctx {
	qrow *rows;
	size_t n, cap;
	int carrier; /* 0: all */
	int scope;
	bool derived;
	int rc;
} qctx;

static int keep_row(void *ctx, const sto_key *k, const sto_val *v)
{
	qctx *q = ctx;
	int carrier = k->metric & 0xff;

	if (q->carrier && carrier != q->carrier)
		return 0;
	if (q->derived && carrier < AGG_PM25 && !agg_scope_includes(q->scope, k->metric >> 8))
		return 0;
	if (q->n == MAX_ROWS) {
		q->rc = ER_EFULL;
		return 1;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		qrow *r = realloc(q->rows, cap * sizeof *r);
		if (r == NULL) {
			q->rc = ER_ENOMEM;
			return 1;
		}
		q->rows = r;
		q->cap = cap;
	}
	q->rows[q->n++] = (qrow){.k = *k, .v = *v};
	return 0;
}

/* Resolves the query's entity to (level, key); fills err otherwise. */
static int resolve(node *n, const pb_query *q, int *level, uint64_t *key, int *carrier, char *err, size_t errlen)
{
	const char *code = q->entity;
	uint64_t k = er_key(code, strlen(code));
	int kind;

	*level = q->level;
	*key = k;
	switch (q->level) {
	case STO_CITY:
		if (code[0] != 0 && strcmp(code, n->cfg.city) != 0) {
			snprintf(err, errlen, "this node serves city '%s', not '%s'", n->cfg.city, code);
			return ER_ENOENT;
		}
		*key = n->city_key;
		return 0;
	case STO_METER: kind = AGG_SERIES; break;
	case STO_ENTERPRISE: kind = AGG_ENTERPRISE; break;
	case STO_DISTRICT: kind = AGG_DISTRICT; break;
	case STO_STATION: kind = AGG_STATION; break;
	default: snprintf(err, errlen, "unknown level %d", q->level); return ER_EINVAL;
	}
	const agg_head *h = agg_registry_find(n->reg, kind, k);
	if (h == NULL) {
		snprintf(err, errlen, "unknown %s '%s'", sto_level_name(q->level), code);
		return ER_ENOENT;
	}
	if (kind == AGG_SERIES && ((const agg_series *)h)->station != NULL) {
		/* "S01:pm25" is the pm25 row of station S01. */
		const agg_series *s = (const agg_series *)h;
		*level = STO_STATION;
		*key = s->station->h.key;
		*carrier = s->carrier;
	}
	return 0;
}

/* Whether a derived unit applies to a metric at all: tce to the carriers
 * that count in comprehensive consumption, CO2 to every energy carrier
 * but water (a medium, not burned or bought as energy: DOMAIN.md 4 gives
 * it no factor); never to levels (power, pollutants). */
static bool applies(node *n, int unit, uint16_t metric)
{
	int carrier = metric & 0xff;
	if (carrier == AGG_POWER || carrier >= AGG_PM25)
		return false;
	if (unit == U_CO2)
		return carrier != AGG_WATER;
	return agg_energy_counts(carrier, n->cfg.count_water);
}

/* The coefficient (tce) or factor (co2) of a row's metric on the day of t. */
static int coef_of(node *n, int unit, int method, uint16_t metric, int64_t t, int64_t *micro, const char **src)
{
	int carrier = metric & 0xff, purpose = metric >> 8;
	if (unit == U_TCE) {
		if (!agg_energy_counts(carrier, n->cfg.count_water))
			return ER_ENOENT;
		return agg_energy_coef(n->energy, carrier, carrier == AGG_ELECTRICITY || carrier == AGG_PV ? method : AGG_CALORIFIC,
				       t, n->cfg.utc_offset_s, micro, src);
	}
	if (carrier == AGG_POWER || carrier >= AGG_PM25)
		return ER_ENOENT;
	return agg_energy_factor(n->energy, carrier, purpose, t, n->cfg.utc_offset_s, micro, src);
}

static void add_day(node *n, qrow *r, int unit, int method, int64_t day_start, er_fx qty)
{
	int64_t c;
	const char *src = NULL;
	if (!applies(n, unit, r->k.metric))
		return;
	if (coef_of(n, unit, method, r->k.metric, day_start, &c, &src) != 0) {
		r->missing = true;
		return;
	}
	r->acc += agg_pico_mul(qty, c);
	if (r->src != NULL && src != NULL && strcmp(r->src, src) != 0)
		r->multi = true;
	r->src = src;
}

static int cmp_qrow(const void *a, const void *b)
{
	const qrow *x = a, *y = b;
	if (x->k.metric != y->k.metric)
		return x->k.metric < y->k.metric ? -1 : 1;
	return x->k.start < y->k.start ? -1 : x->k.start > y->k.start;
}

static int cmp_start(const void *a, const void *b)
{
	const qrow *x = *(const qrow *const *)a, *y = *(const qrow *const *)b;
	return x->k.start < y->k.start ? -1 : x->k.start > y->k.start;
}

struct day_ctx {
	node *n;
	qctx *q;
	int res, unit, method;
};

/* A day row of the entity: its quantity times the day's coefficient goes
 * to the month or year row holding it. */
static int on_day(void *ctx, const sto_key *k, const sto_val *v)
{
	struct day_ctx *d = ctx;
	qrow key = {.k = *k};
	key.k.start = er_bucket_start(k->start, (enum er_res)d->res, d->n->cfg.utc_offset_s);
	qrow *r = bsearch(&key, d->q->rows, d->q->n, sizeof *d->q->rows, cmp_qrow);
	if (r != NULL)
		add_day(d->n, r, d->unit, d->method, k->start, v->sum);
	return 0;
}

static char *keep_text(node_qbuf *b, const char *s)
{
	size_t len = strlen(s) + 1;
	if (b->ntext + len > b->captext) {
		/* Strings are referenced by offset until the end, then fixed
		 * up: the buffer may move while it grows. */
		size_t cap = b->captext ? b->captext * 2 : 4096;
		while (cap < b->ntext + len)
			cap *= 2;
		char *t = realloc(b->text, cap);
		if (t == NULL)
			return NULL;
		b->text = t;
		b->captext = cap;
	}
	memcpy(b->text + b->ntext, s, len);
	char *at = (char *)(uintptr_t)(b->ntext + 1); /* offset + 1, fixed up later */
	b->ntext += len;
	return at;
}

static const char *fix(node_qbuf *b, const char *off)
{
	return off == NULL ? "" : b->text + ((uintptr_t)off - 1);
}

static void fill_row(pb_row *o, const qrow *r)
{
	int carrier = r->k.metric & 0xff;
	*o = (pb_row){.value = "", .value_unit = "", .source = ""};
	o->start = r->k.start;
	o->carrier = agg_carrier_name(carrier) ? agg_carrier_name(carrier) : "?";
	/* a pollutant has no accounting purpose */
	o->purpose = carrier >= AGG_PM25 ? "" : agg_purpose_name(r->k.metric >> 8);
	o->unit = agg_carrier_unit(carrier) ? agg_carrier_unit(carrier) : "";
	o->count = r->v.count;
	o->sum = r->v.sum;
	o->min = r->v.count ? r->v.min : 0;
	o->max = r->v.count ? r->v.max : 0;
	o->coverage_s = r->v.coverage_s;
	o->flags = r->v.flags;
	o->members = r->v.members;
	o->complete = r->v.complete;
}

static void fail(pb_query_reply *r, node_qbuf *b, const char *fmt, const char *arg)
{
	snprintf(b->err, sizeof b->err, fmt, arg);
	r->error = b->err;
}

void node_query(node *n, const pb_query *q, pb_query_reply *r, node_qbuf *b)
{
	qctx c = {0};
	int level, rc, unit = U_NATIVE, method = AGG_CALORIFIC;
	uint64_t key;
	sto_txn *t;
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);

	memset(r, 0, sizeof *r);
	r->entity = q->entity;
	r->level = q->level;
	r->resolution = q->resolution;
	r->utc_offset_s = n->cfg.utc_offset_s;
	r->error = "";
	r->table_version = "";
	if (q->resolution < ER_RES_HOUR || q->resolution > ER_RES_YEAR) {
		snprintf(b->err, sizeof b->err, "unknown resolution %d", q->resolution);
		r->error = b->err;
		return;
	}
	if (q->carrier[0] != 0 && (c.carrier = agg_carrier_parse(q->carrier)) == 0)
		return fail(r, b, "unknown carrier '%s'", q->carrier);
	if (strcmp(q->unit, "tce") == 0)
		unit = U_TCE;
	else if (strcmp(q->unit, "co2") == 0)
		unit = U_CO2;
	else if (q->unit[0] != 0 && strcmp(q->unit, "native") != 0)
		return fail(r, b, "unknown unit '%s' (native, tce or co2)", q->unit);
	if (strcmp(q->method, "equivalent") == 0)
		method = AGG_EQUIVALENT;
	else if (q->method[0] != 0 && strcmp(q->method, "calorific") != 0)
		return fail(r, b, "unknown method '%s' (calorific or equivalent)", q->method);
	c.scope = AGG_SCOPE_ALL;
	if (q->scope[0] != 0 && (c.scope = agg_scope_parse(q->scope)) < 0)
		return fail(r, b, "unknown scope '%s' (all, no-feedstock or control)", q->scope);
	c.derived = unit != U_NATIVE;

	ck_epoch_begin(rec, NULL);
	rc = resolve(n, q, &level, &key, &c.carrier, b->err, sizeof b->err);
	ck_epoch_end(rec, NULL);
	if (rc != 0) {
		r->error = b->err;
		return;
	}
	if ((rc = sto_read_begin(n->store, &t)) != 0)
		return fail(r, b, "store: %s", er_strerror(rc));
	rc = sto_rollup_scan(t, level, key, q->resolution, q->from, q->to, keep_row, &c);
	if (rc == 0 && c.rc == 0 && c.derived && c.n > 0) {
		if (q->resolution <= ER_RES_DAY) {
			for (size_t i = 0; i < c.n; i++)
				add_day(n, &c.rows[i], unit, method, c.rows[i].k.start, c.rows[i].v.sum);
		} else {
			/* Month and year: day by day, each with its own
			 * coefficient, over the buckets the query returned. */
			struct day_ctx d = {n, &c, q->resolution, unit, method};
			int64_t from = c.rows[0].k.start, to = 0;
			for (size_t i = 0; i < c.n; i++) {
				int64_t end = er_bucket_next(c.rows[i].k.start, (enum er_res)q->resolution,
							     n->cfg.utc_offset_s);
				if (c.rows[i].k.start < from)
					from = c.rows[i].k.start;
				if (end > to)
					to = end;
			}
			qsort(c.rows, c.n, sizeof *c.rows, cmp_qrow);
			rc = sto_rollup_scan(t, level, key, ER_RES_DAY, from, to, on_day, &d);
		}
	}
	sto_abort(t);
	if (rc != 0 || c.rc != 0) {
		fail(r, b,
		     c.rc == ER_EFULL ? "more than 1,000,000 rows: narrow the range%s" : "store: %s",
		     c.rc == ER_EFULL ? "" : er_strerror(c.rc ? c.rc : rc));
		free(c.rows);
		return;
	}

	/* Output rows: the scanned ones, and with a derived unit one total
	 * per bucket across the carriers that count. */
	size_t nout = c.n;
	if (c.derived) {
		qsort(c.rows, c.n, sizeof *c.rows, cmp_qrow);
		nout += c.n; /* at most one total per row */
	}
	b->rows = calloc(nout ? nout : 1, sizeof *b->rows);
	char **val = calloc(nout ? nout : 1, sizeof *val), **src = calloc(nout ? nout : 1, sizeof *src);
	if (b->rows == NULL || val == NULL || src == NULL) {
		free(val);
		free(src);
		free(c.rows);
		return fail(r, b, "%s", "out of memory");
	}
	const char *vunit = unit == U_TCE ? "tce" : "tCO2";
	char num[64];
	size_t o = 0;
	for (size_t i = 0; i < c.n; i++) {
		fill_row(&b->rows[o], &c.rows[i]);
		if (c.derived) {
			const qrow *x = &c.rows[i];
			if (!applies(n, unit, x->k.metric)) {
				val[o] = src[o] = NULL; /* not counted in this unit */
			} else if (x->missing && x->src == NULL) {
				val[o] = keep_text(b, "n/a");
				src[o] = keep_text(b, "no coefficient");
			} else {
				agg_pico_format(c.rows[i].acc, 3, DERIVED_DECIMALS, num, sizeof num);
				val[o] = keep_text(b, num);
				src[o] = keep_text(b, c.rows[i].multi ? "several rows (coefficient changed)"
							 : c.rows[i].missing ? "no coefficient for some days"
							 : c.rows[i].src ? c.rows[i].src : "");
			}
		}
		o++;
	}
	if (c.derived) {
		/* totals: the rows ordered by start, one group a bucket */
		const qrow **by = malloc((c.n ? c.n : 1) * sizeof *by);
		for (size_t i = 0; by && i < c.n; i++)
			by[i] = &c.rows[i];
		if (by)
			qsort(by, c.n, sizeof *by, cmp_start);
		for (size_t i = 0; by && i < c.n;) {
			size_t j = i;
			agg_pico tot = 0;
			bool missing = false, any = false;
			for (; j < c.n && by[j]->k.start == by[i]->k.start; j++) {
				if (!applies(n, unit, by[j]->k.metric))
					continue;
				tot += by[j]->acc;
				missing |= by[j]->missing;
				any = true;
			}
			if (any) {
				pb_row *t0 = &b->rows[o];
				*t0 = (pb_row){.value = "", .value_unit = "", .source = ""};
				t0->start = by[i]->k.start;
				t0->carrier = TOTAL_CARRIER;
				t0->purpose = agg_scope_name(c.scope);
				t0->unit = "";
				agg_pico_format(tot, 3, DERIVED_DECIMALS, num, sizeof num);
				val[o] = keep_text(b, num);
				src[o] = keep_text(b, missing ? "incomplete: no coefficient for some carriers or days" : "");
				o++;
			}
			i = j;
		}
		free(by);
		for (size_t i = 0; i < o; i++) {
			b->rows[i].value = fix(b, val[i]);
			b->rows[i].value_unit = val[i] ? vunit : "";
			b->rows[i].source = fix(b, src[i]);
		}
		r->table_version = agg_energy_version(n->energy);
	}
	free(val);
	free(src);
	free(c.rows);
	r->ok = true;
	r->rows = b->rows;
	r->nrows = o;
}

void node_qbuf_fini(node_qbuf *b)
{
	free(b->rows);
	free(b->text);
	memset(b, 0, sizeof *b);
}

int node_reload(node *n, char *msg, size_t cap)
{
	agg_energy *e;
	agg_aqi *a;
	char err[2048];
	/* Both sets load before either is swapped in: all or nothing. The
	 * evaluation parameters are loaded into the node by node_load_air;
	 * they are restored if the energy tables then fail. */
	er_fx keep[4] = {n->air_mda8_limit, n->air_pm25_target, n->air_good_target, n->air_margin};
	int rc = node_load_air(n, &a, err, sizeof err);
	if (rc != 0) {
		n->air_mda8_limit = keep[0];
		n->air_pm25_target = keep[1];
		n->air_good_target = keep[2];
		n->air_margin = keep[3];
		snprintf(msg, cap, "kept the tables in force: %s", err);
		return rc;
	}
	rc = agg_energy_load(n->cfg.energy_dir, &e, err, sizeof err);
	if (rc != 0) {
		agg_aqi_free(a);
		n->air_mda8_limit = keep[0];
		n->air_pm25_target = keep[1];
		n->air_good_target = keep[2];
		n->air_margin = keep[3];
		snprintf(msg, cap, "kept the tables in force: %s", err);
		return rc;
	}
	agg_energy *old = n->energy;
	agg_aqi *olda = n->aqi;
	n->energy = e;
	n->aqi = a;
	agg_energy_free(old);
	agg_aqi_free(olda);
	char wmsg[512];
	rc = node_warn_reload(n, wmsg, sizeof wmsg);
	snprintf(msg, cap, "coefficient tables reloaded from %s (version %s) and AQI rules from %s; %s", n->cfg.energy_dir,
		 agg_energy_version(e), n->cfg.aqi_dir, rc == 0 ? wmsg : "kept the warning thresholds in force:");
	if (rc != 0 && strlen(msg) + strlen(wmsg) + 2 < cap) {
		strcat(msg, " ");
		strcat(msg, wmsg);
	}
	return rc;
}

/* ---- intensity (DOMAIN.md 5) ---- */

#define INTENSITY_DECIMALS 4 /* tce and m3 per 10^4 yuan: display only */
#define CHANGE_DECIMALS 2    /* percent */

static void field(node_rbuf *b, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void field(node_rbuf *b, const char *name, const char *fmt, ...)
{
	va_list ap;
	if (b->n == sizeof b->f / sizeof b->f[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b->text[b->n], sizeof b->text[b->n], fmt, ap);
	va_end(ap);
	b->f[b->n].name = name;
	b->f[b->n].value = b->text[b->n];
	b->n++;
}

typedef struct inten {
	agg_pico e;	/* standard coal, 1e-12 kgce */
	er_fx w;	/* fresh water, micro-m3 */
	er_fx v;	/* the denominator, micro 10^4 yuan */
	bool have_v, coef_missing;
	const char *how;
	char missing[256];
} inten;

struct energy_ctx {
	node *n;
	int scope, method;
	inten *in;
	int64_t last; /* the latest start of a row that counted */
};

/* Whether a row counts in standard coal in a scope. */
static bool counts(node *n, int scope, uint16_t metric)
{
	return applies(n, U_TCE, metric) && agg_scope_includes(scope, metric >> 8);
}

static int on_energy_day(void *ctx, const sto_key *k, const sto_val *v)
{
	struct energy_ctx *c = ctx;
	int carrier = k->metric & 0xff;
	int64_t coef;

	if (carrier == AGG_WATER)
		c->in->w += v->sum;
	if (!counts(c->n, c->scope, k->metric))
		return 0;
	if (k->start > c->last)
		c->last = k->start;
	if (coef_of(c->n, U_TCE, c->method, k->metric, k->start, &coef, NULL) != 0)
		c->in->coef_missing = true;
	else
		c->in->e += agg_pico_mul(v->sum, coef);
	return 0;
}

/* Energy, water and the denominator of one entity for one period. */
static int intensity_of(node *n, sto_txn *t, int level, uint64_t key, const sto_econ_key *pk, int kind, int scope,
			int method, inten *in)
{
	int64_t from, to;
	er_fx v;
	struct energy_ctx c = {n, scope, method, in, INT64_MIN};

	memset(in, 0, sizeof *in);
	sto_period_range(pk, n->cfg.utc_offset_s, &from, &to);
	int rc = sto_rollup_scan(t, level, key, ER_RES_DAY, from, to, on_energy_day, &c);
	if (rc != 0)
		return rc;
	rc = sto_econ_total(t, level, key, kind, pk->ptype, pk->year, pk->index, &v, &in->how, in->missing,
			    sizeof in->missing);
	if (rc == 0) {
		in->v = v;
		in->have_v = true;
	} else if (rc != ER_ENOENT) {
		return rc;
	}
	return 0;
}

static int on_energy_hour(void *ctx, const sto_key *k, const sto_val *v)
{
	struct energy_ctx *c = ctx;
	(void)v;
	if (counts(c->n, c->scope, k->metric) && k->start > c->last)
		c->last = k->start;
	return 0;
}

int node__tce_of(node *n, sto_txn *t, int level, uint64_t key, int64_t from, int64_t to, int scope, agg_pico *e,
		 bool *coef_missing, int64_t *data_end)
{
	inten in;
	struct energy_ctx c = {n, scope, AGG_CALORIFIC, &in, INT64_MIN};

	memset(&in, 0, sizeof in);
	int rc = sto_rollup_scan(t, level, key, ER_RES_DAY, from, to, on_energy_day, &c);
	*e = in.e;
	*coef_missing = in.coef_missing;
	*data_end = 0;
	if (rc != 0 || c.last == INT64_MIN)
		return rc;
	/* the latest hour with data, inside the latest day with data */
	int64_t day = c.last;
	c.last = INT64_MIN;
	rc = sto_rollup_scan(t, level, key, ER_RES_HOUR, day, er_bucket_next(day, ER_RES_DAY, n->cfg.utc_offset_s),
			     on_energy_hour, &c);
	if (rc == 0 && c.last != INT64_MIN)
		*data_end = c.last + 3600 < to ? c.last + 3600 : to;
	return rc;
}

/* tce per 10^4 yuan = (e / 1e15) / (v / 1e6) = e / (v x 1e9) */
static void fmt_energy_intensity(const inten *in, char *buf, size_t cap)
{
	if (!in->have_v || in->v == 0)
		snprintf(buf, cap, "n/a");
	else
		sto_ratio_format(in->e, (__int128)in->v * 1000000000, INTENSITY_DECIMALS, buf, cap);
}

static void fmt_water_intensity(const inten *in, char *buf, size_t cap)
{
	if (!in->have_v || in->v == 0)
		snprintf(buf, cap, "n/a");
	else
		sto_ratio_format(in->w, in->v, INTENSITY_DECIMALS, buf, cap);
}

/* change = I_t / I_0 - 1, in percent */
static void fmt_change(__int128 x_t, er_fx v_t, __int128 x_0, er_fx v_0, bool ok, char *buf, size_t cap)
{
	__int128 num, den;
	if (!ok || v_t == 0 || v_0 == 0 || x_0 == 0) {
		snprintf(buf, cap, "n/a");
		return;
	}
	sto_change_ratio(x_t, v_t, x_0, v_0, &num, &den);
	if (den == 0) {
		snprintf(buf, cap, "n/a");
		return;
	}
	size_t k = sto_ratio_format(num * 100, den, CHANGE_DECIMALS, buf, cap);
	if (k + 2 <= cap)
		strcat(buf, "%");
}

static void compare(node_rbuf *b, const char *label, const char *period, const inten *now, const inten *then)
{
	char x[96];
	static const char *names[][5] = {
		{"base_period", "base_energy_intensity", "energy_change_vs_base", "base_water_intensity",
		 "water_change_vs_base"},
		{"last_year_period", "last_year_energy_intensity", "energy_change_vs_last_year",
		 "last_year_water_intensity", "water_change_vs_last_year"},
	};
	int i = strcmp(label, "base") == 0 ? 0 : 1;
	field(b, names[i][0], "%s", period);
	fmt_energy_intensity(then, x, sizeof x);
	field(b, names[i][1], "%s", x);
	fmt_change(now->e, now->v, then->e, then->v, now->have_v && then->have_v, x, sizeof x);
	field(b, names[i][2], "%s", x);
	fmt_water_intensity(then, x, sizeof x);
	field(b, names[i][3], "%s", x);
	fmt_change(now->w, now->v, then->w, then->v, now->have_v && then->have_v, x, sizeof x);
	field(b, names[i][4], "%s", x);
}

void node_intensity(node *n, const pb_intensity_request *q, pb_report *r, node_rbuf *b)
{
	sto_econ_key pk, base, last;
	int kind, scope = AGG_SCOPE_ALL, method = AGG_CALORIFIC, level = q->level, rc;
	uint64_t key;
	int carrier = 0;
	sto_txn *t;
	inten now, then, before;
	char x[96], pname[32];
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);

	memset(r, 0, sizeof *r);
	r->error = b->err;
	if (level != STO_ENTERPRISE && level != STO_DISTRICT && level != STO_CITY) {
		snprintf(b->err, sizeof b->err, "intensity is for an enterprise, a district or the city");
		return;
	}
	if (sto_period_parse(q->period, &pk) != 0) {
		snprintf(b->err, sizeof b->err, "period '%s' is not YYYY, YYYY-Qn or YYYY-MM", q->period);
		return;
	}
	kind = q->kind[0] ? sto_econ_kind_parse(q->kind) : (level == STO_CITY ? STO_ECON_GDP : STO_ECON_VALUE_ADDED);
	if (kind == 0) {
		snprintf(b->err, sizeof b->err, "unknown kind '%s' (value_added, output or gdp)", q->kind);
		return;
	}
	if (q->scope[0] && (scope = agg_scope_parse(q->scope)) < 0) {
		snprintf(b->err, sizeof b->err, "unknown scope '%s'", q->scope);
		return;
	}
	if (strcmp(q->method, "equivalent") == 0)
		method = AGG_EQUIVALENT;
	if (q->base[0] && sto_period_parse(q->base, &base) != 0) {
		snprintf(b->err, sizeof b->err, "base period '%s' is not YYYY, YYYY-Qn or YYYY-MM", q->base);
		return;
	}
	pb_query fake = {.level = level, .entity = q->entity};
	ck_epoch_begin(rec, NULL);
	rc = resolve(n, &fake, &level, &key, &carrier, b->err, sizeof b->err);
	ck_epoch_end(rec, NULL);
	if (rc != 0)
		return;
	if ((rc = sto_read_begin(n->store, &t)) != 0) {
		snprintf(b->err, sizeof b->err, "store: %s", er_strerror(rc));
		return;
	}
	last = pk;
	last.year--;
	rc = intensity_of(n, t, level, key, &pk, kind, scope, method, &now);
	if (rc == 0)
		rc = intensity_of(n, t, level, key, &last, kind, scope, method, &before);
	if (rc == 0 && q->base[0])
		rc = intensity_of(n, t, level, key, &base, kind, scope, method, &then);
	sto_abort(t);
	if (rc != 0) {
		snprintf(b->err, sizeof b->err, "store: %s", er_strerror(rc));
		return;
	}

	field(b, "entity", "%s", level == STO_CITY ? n->cfg.city : q->entity);
	field(b, "level", "%s", sto_level_name(level));
	sto_period_format(&pk, pname, sizeof pname);
	field(b, "period", "%s", pname);
	field(b, "scope", "%s", agg_scope_name(scope));
	field(b, "electricity_method", "%s", method == AGG_EQUIVALENT ? "equivalent" : "calorific");
	agg_pico_format(now.e, 3, DERIVED_DECIMALS, x, sizeof x);
	field(b, "energy_tce", "%s", x);
	er_fx_format(now.w, x, sizeof x);
	field(b, "water_m3", "%s", x);
	field(b, "denominator", "%s", sto_econ_kind_name(kind));
	if (now.have_v) {
		er_fx_format(now.v, x, sizeof x);
		field(b, "denominator_10k_yuan", "%s", x);
		field(b, "denominator_from", "%s", now.how ? now.how : "");
	} else {
		field(b, "denominator_10k_yuan", "n/a");
		field(b, "denominator_from", "%s", now.missing);
	}
	fmt_energy_intensity(&now, x, sizeof x);
	field(b, "energy_intensity_tce_per_10k_yuan", "%s", x);
	fmt_water_intensity(&now, x, sizeof x);
	field(b, "water_intensity_m3_per_10k_yuan", "%s", x);
	sto_period_format(&last, pname, sizeof pname);
	compare(b, "last", pname, &now, &before);
	if (q->base[0]) {
		sto_period_format(&base, pname, sizeof pname);
		compare(b, "base", pname, &now, &then);
	}
	if (now.coef_missing || before.coef_missing || (q->base[0] && then.coef_missing))
		field(b, "note", "some days had no coefficient for a carrier: energy is incomplete");
	field(b, "table_version", "%s", agg_energy_version(n->energy));
	r->ok = true;
	r->error = "";
	r->fields = b->f;
	r->nfields = b->n;
}

void node_rbuf_fini(node_rbuf *b)
{
	(void)b; /* everything lives in the buffer itself */
}

/* ---- efficiency benchmarking (DOMAIN.md 9) ---- */

#define BENCH_SCALE 1000 /* intensity kept as tce/10^4 yuan x 1e12: e x 1e3 / v */

typedef struct bench_row {
	const agg_enterprise *e;
	inten in;
	__int128 q; /* intensity x 1e12, rounded half to even */
	int rank;
} bench_row;

static int cmp_bench(const void *a, const void *b)
{
	const bench_row *x = a, *y = b;
	if (x->q != y->q)
		return x->q < y->q ? -1 : 1;
	return strcmp(x->e->code, y->e->code); /* ties: by code, for a stable listing */
}

/* e / v with e in 1e-12 kgce and v in micro 10^4 yuan, as tce per 10^4 yuan
 * x 1e12 = e x 1e3 / v, rounded half to even. */
static __int128 bench_q(const inten *in)
{
	__int128 num = in->e * BENCH_SCALE, den = in->v, q = num / den, r = num % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	return q;
}

static void fmt_q(__int128 q, char *buf, size_t cap)
{
	sto_ratio_format(q, (__int128)1000000000000, INTENSITY_DECIMALS, buf, cap);
}

/* The benchmark (标杆) and baseline (基准) of an industry, from
 * energy.dir/benchmarks.csv (industry,benchmark,baseline,unit,source):
 * the row of the longest industry code that prefixes the asked one. */
static bool bench_limits(node *n, const char *industry, __int128 *bm, __int128 *bl, char *src, size_t cap)
{
	char path[NODE_PATH_MAX + 32], *text, *line, *next, *f[8];
	size_t best = 0;
	bool found = false;

	snprintf(path, sizeof path, "%s/benchmarks.csv", n->cfg.energy_dir);
	if (agg_read_file(path, &text) != 0)
		return false;
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (line[0] == '#' || line[0] == 0 || strncmp(line, "industry,", 9) == 0)
			continue;
		er_fx b1, b2;
		if (er_csv_split(line, f, 8) != 5 || er_fx_parse(f[1], strlen(f[1]), &b1) != 0 ||
		    er_fx_parse(f[2], strlen(f[2]), &b2) != 0)
			continue;
		size_t len = strlen(f[0]);
		if (strncmp(industry, f[0], len) == 0 && len > best) {
			best = len;
			*bm = (__int128)b1 * 1000000; /* micro -> 1e-12 */
			*bl = (__int128)b2 * 1000000;
			snprintf(src, cap, "%s", f[4]);
			found = true;
		}
	}
	free(text);
	return found;
}

void node_benchmark(node *n, const pb_benchmark_request *q, pb_table *t, node_tbuf *b)
{
	static const char *cols[] = {"rank",	  "enterprise", "energy_tce",  "denominator_10k_yuan",
				     "intensity", "percentile", "vs_benchmark", "vs_baseline", "status"};
	sto_econ_key pk;
	int kind, scope = AGG_SCOPE_ALL, method = AGG_CALORIFIC;
	sto_txn *txn;
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	bench_row *rows = NULL;
	size_t nrows = 0, nranked = 0;
	char x[96], y[96];

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (q->industry[0] == 0) {
		snprintf(b->err, sizeof b->err, "name an industry (GB/T 4754 code, e.g. C26)");
		return;
	}
	if (sto_period_parse(q->period, &pk) != 0) {
		snprintf(b->err, sizeof b->err, "period '%s' is not YYYY, YYYY-Qn or YYYY-MM", q->period);
		return;
	}
	kind = q->kind[0] ? sto_econ_kind_parse(q->kind) : STO_ECON_VALUE_ADDED;
	if (kind == 0 || (q->scope[0] && (scope = agg_scope_parse(q->scope)) < 0)) {
		snprintf(b->err, sizeof b->err, "unknown kind '%s' or scope '%s'", q->kind, q->scope);
		return;
	}
	if (strcmp(q->method, "equivalent") == 0)
		method = AGG_EQUIVALENT;

	/* the industry's enterprises (a prefix ranks a wider group) */
	ck_epoch_begin(rec, NULL);
	uint32_t ne = agg_registry_count(n->reg, AGG_ENTERPRISE);
	rows = calloc(ne ? ne : 1, sizeof *rows);
	for (uint32_t i = 0; rows && i < ne; i++) {
		const agg_enterprise *e = agg_registry_enterprise_at(n->reg, i);
		if (strncmp(e->industry, q->industry, strlen(q->industry)) == 0)
			rows[nrows++].e = e;
	}
	ck_epoch_end(rec, NULL);
	if (rows == NULL || nrows == 0) {
		snprintf(b->err, sizeof b->err, "no enterprise of industry %s is registered", q->industry);
		free(rows);
		return;
	}
	if (sto_read_begin(n->store, &txn) != 0) {
		snprintf(b->err, sizeof b->err, "store unavailable");
		free(rows);
		return;
	}
	for (size_t i = 0; i < nrows; i++) {
		intensity_of(n, txn, STO_ENTERPRISE, rows[i].e->h.key, &pk, kind, scope, method, &rows[i].in);
		rows[i].rank = 0;
		if (rows[i].in.have_v && rows[i].in.v > 0) {
			rows[i].q = bench_q(&rows[i].in);
			nranked++;
		}
	}
	sto_abort(txn);
	/* ranked first, by intensity; competition ranking: ties share a rank */
	for (size_t i = 0, j = nrows; i < j;) {
		if (rows[i].in.have_v && rows[i].in.v > 0) {
			i++;
		} else {
			bench_row tmp = rows[i];
			rows[i] = rows[--j];
			rows[j] = tmp;
		}
	}
	qsort(rows, nranked, sizeof *rows, cmp_bench);
	for (size_t i = 0; i < nranked; i++)
		rows[i].rank = i > 0 && rows[i].q == rows[i - 1].q ? rows[i - 1].rank : (int)i + 1;

	__int128 bm = 0, bl = 0;
	char src[256] = "";
	bool limits = bench_limits(n, q->industry, &bm, &bl, src, sizeof src);
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	for (size_t i = 0; i < nrows; i++) {
		bench_row *r = &rows[i];
		bool ranked = r->rank > 0;
		node_tbuf_cell(b, ranked ? node_tbuf_keep(b, "%d", r->rank) : "-");
		node_tbuf_cell(b, r->e->code);
		agg_pico_format(r->in.e, 3, DERIVED_DECIMALS, x, sizeof x);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", x));
		if (r->in.have_v)
			er_fx_format(r->in.v, y, sizeof y);
		node_tbuf_cell(b, r->in.have_v ? node_tbuf_keep(b, "%s", y) : "n/a");
		if (!ranked) {
			for (int k = 0; k < 4; k++)
				node_tbuf_cell(b, "-");
			node_tbuf_cell(b, "no denominator for the period");
			t->nrows++;
			continue;
		}
		fmt_q(r->q, x, sizeof x);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", x));
		/* percentile: the share of the other ranked enterprises it does
		 * at least as well as (100 best, 0 worst) */
		int pct10 = nranked > 1 ? (int)(((int64_t)(nranked - (size_t)r->rank) * 1000 + (int64_t)(nranked - 1) / 2) /
						 (int64_t)(nranked - 1))
					: 1000;
		node_tbuf_cell(b, node_tbuf_keep(b, "%d.%d", pct10 / 10, pct10 % 10));
		if (limits) {
			fmt_q(r->q - bm, x, sizeof x);
			fmt_q(r->q - bl, y, sizeof y);
			node_tbuf_cell(b, node_tbuf_keep(b, "%s%s", r->q - bm > 0 ? "+" : "", x));
			node_tbuf_cell(b, node_tbuf_keep(b, "%s%s", r->q - bl > 0 ? "+" : "", y));
			node_tbuf_cell(b, r->q > bl	? "worse than baseline: restrict"
					  : r->q <= bm ? "at or better than benchmark"
						       : "between benchmark and baseline");
		} else {
			node_tbuf_cell(b, "-");
			node_tbuf_cell(b, "-");
			node_tbuf_cell(b, "no benchmark configured");
		}
		t->nrows++;
	}
	/* the industry median of the ranked intensities */
	if (nranked > 0) {
		__int128 med = nranked % 2 ? rows[nranked / 2].q
					   : (rows[nranked / 2 - 1].q + rows[nranked / 2].q) / 2;
		fmt_q(med, x, sizeof x);
		node_tbuf_note(b, "median_intensity", node_tbuf_keep(b, "%s", x));
	}
	node_tbuf_note(b, "ranked", node_tbuf_keep(b, "%zu of %zu", nranked, nrows));
	if (limits) {
		fmt_q(bm, x, sizeof x);
		fmt_q(bl, y, sizeof y);
		node_tbuf_note(b, "benchmark", node_tbuf_keep(b, "%s", x));
		node_tbuf_note(b, "baseline", node_tbuf_keep(b, "%s", y));
		node_tbuf_note(b, "limits_source", node_tbuf_keep(b, "%s", src));
	}
	node_tbuf_note(b, "unit", "tce per 10^4 yuan");
	t->title = node_tbuf_keep(b, "benchmark %s %s (%s, %s)", q->industry, q->period, sto_econ_kind_name(kind),
				  agg_scope_name(scope));
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
	free(rows);
}

/* ---- carbon accounts (DOMAIN.md 4) ---- */

typedef struct carbon_src {
	uint16_t metric;
	er_fx qty;
	agg_pico co2; /* 1e-12 kgCO2 */
	const char *src;
	bool multi, missing;
} carbon_src;

struct carbon_ctx {
	node *n;
	carbon_src s[64];
	size_t ns;
};

static int on_carbon_day(void *ctx, const sto_key *k, const sto_val *v)
{
	struct carbon_ctx *c = ctx;
	int64_t f;
	const char *src = NULL;

	if (!applies(c->n, U_CO2, k->metric))
		return 0;
	size_t i;
	for (i = 0; i < c->ns && c->s[i].metric != k->metric; i++)
		;
	if (i == c->ns) {
		if (c->ns == sizeof c->s / sizeof c->s[0])
			return 0;
		c->s[c->ns++] = (carbon_src){.metric = k->metric};
	}
	carbon_src *s = &c->s[i];
	s->qty += v->sum;
	if (coef_of(c->n, U_CO2, AGG_CALORIFIC, k->metric, k->start, &f, &src) != 0) {
		s->missing = true;
		return 0;
	}
	s->co2 += agg_pico_mul(v->sum, f);
	if (s->src && src && strcmp(s->src, src) != 0)
		s->multi = true;
	s->src = src;
	return 0;
}

/* A source's name in a carbon account: what burns on site and what is
 * bought (DOMAIN.md 4: each fuel's combustion, purchased electricity,
 * purchased heat; own renewables at factor 0). */
static const char *source_name(uint16_t metric)
{
	int carrier = metric & 0xff, purpose = metric >> 8;
	switch (carrier) {
	case AGG_ELECTRICITY: return purpose == AGG_RENEWABLE ? "green electricity" : "purchased electricity";
	case AGG_HEAT: return "purchased heat";
	case AGG_STEAM: return "purchased steam";
	case AGG_GAS: return purpose == AGG_FEEDSTOCK ? "natural gas (feedstock)" : "natural gas combustion";
	case AGG_COAL: return purpose == AGG_FEEDSTOCK ? "coal (feedstock)" : "coal combustion";
	case AGG_OIL: return "oil combustion";
	case AGG_PV: return "own PV";
	}
	return "?";
}

void node_carbon(node *n, const pb_carbon_request *q, pb_table *t, node_tbuf *b)
{
	static const char *cols[] = {"source", "carrier", "purpose", "quantity", "unit", "factor_kgCO2_per_unit",
				     "tCO2"};
	int off = n->cfg.utc_offset_s, level = q->level, carrier = 0, rc;
	uint64_t key;
	sto_txn *txn;
	struct carbon_ctx c = {.n = n};
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	char x[96], y[96];

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (level != STO_ENTERPRISE && level != STO_DISTRICT && level != STO_CITY) {
		snprintf(b->err, sizeof b->err, "a carbon account is kept for an enterprise, a district or the city");
		return;
	}
	if (q->year < 2000 || q->year > 2200) {
		snprintf(b->err, sizeof b->err, "name a year");
		return;
	}
	int64_t from = er_days_from_civil(q->year, 1, 1) * 86400 - off;
	int64_t end = er_days_from_civil(q->year + 1, 1, 1) * 86400 - off;
	int64_t to = q->to > from && q->to < end ? er_bucket_start(q->to - 1, ER_RES_DAY, off) + 86400 : end;
	pb_query fake = {.level = level, .entity = q->entity};
	ck_epoch_begin(rec, NULL);
	rc = resolve(n, &fake, &level, &key, &carrier, b->err, sizeof b->err);
	ck_epoch_end(rec, NULL);
	if (rc != 0)
		return;
	if (sto_read_begin(n->store, &txn) != 0) {
		snprintf(b->err, sizeof b->err, "store unavailable");
		return;
	}
	rc = sto_rollup_scan(txn, level, key, ER_RES_DAY, from, to, on_carbon_day, &c);
	/* the denominator year to date: the whole year's figure, or its
	 * months one by one */
	int kind = level == STO_CITY ? STO_ECON_GDP : STO_ECON_VALUE_ADDED;
	er_fx va = 0, v;
	const char *how = NULL;
	char missing[256] = "";
	bool have_va = true;
	if (to == end) {
		have_va = sto_econ_total(txn, level, key, kind, STO_P_YEAR, q->year, 0, &va, &how, missing,
					 sizeof missing) == 0;
	} else {
		int64_t ly;
		unsigned lm, ld;
		er_civil_from_days((to - 1 + off) / 86400, &ly, &lm, &ld);
		for (unsigned m = 1; m <= lm && have_va; m++) {
			have_va = sto_econ_total(txn, level, key, kind, STO_P_MONTH, q->year, (int)m, &v, &how, missing,
						 sizeof missing) == 0;
			va += have_va ? v : 0;
		}
	}
	sto_abort(txn);
	if (rc != 0) {
		snprintf(b->err, sizeof b->err, "store: %s", er_strerror(rc));
		return;
	}

	agg_pico total = 0;
	bool incomplete = false;
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	for (size_t i = 0; i < c.ns; i++) {
		carbon_src *s = &c.s[i];
		int car = s->metric & 0xff;
		node_tbuf_cell(b, source_name(s->metric));
		node_tbuf_cell(b, agg_carrier_name(car));
		node_tbuf_cell(b, agg_purpose_name(s->metric >> 8));
		er_fx_format(s->qty, x, sizeof x);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", x));
		node_tbuf_cell(b, agg_carrier_unit(car));
		if (s->missing && s->src == NULL) {
			node_tbuf_cell(b, "no factor configured");
			node_tbuf_cell(b, "n/a");
			incomplete = true;
		} else {
			int64_t f = 0;
			coef_of(n, U_CO2, AGG_CALORIFIC, s->metric, to - 1, &f, NULL);
			er_fx_format(f, y, sizeof y);
			node_tbuf_cell(b, s->multi ? "several (changed during the period)" : node_tbuf_keep(b, "%s", y));
			agg_pico_format(s->co2, 3, DERIVED_DECIMALS, x, sizeof x);
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", x));
			total += s->co2;
			incomplete |= s->missing;
		}
		t->nrows++;
	}
	agg_pico_format(total, 3, DERIVED_DECIMALS, x, sizeof x);
	node_tbuf_note(b, "total_tCO2", node_tbuf_keep(b, "%s%s", x, incomplete ? " (incomplete: a source has no factor)" : ""));
	char d0[40], d1[40];
	er_time_format(from, off, d0, sizeof d0);
	er_time_format(to - 1, off, d1, sizeof d1);
	node_tbuf_note(b, "period", node_tbuf_keep(b, "%.10s .. %.10s", d0, d1));
	if (have_va && va > 0) {
		er_fx_format(va, x, sizeof x);
		node_tbuf_note(b, level == STO_CITY ? "gdp_10k_yuan" : "value_added_10k_yuan", node_tbuf_keep(b, "%s", x));
		/* tCO2 per 10^4 yuan = (total / 1e15) / (va / 1e6) */
		sto_ratio_format(total, (__int128)va * 1000000000, INTENSITY_DECIMALS, y, sizeof y);
		node_tbuf_note(b, "carbon_intensity_tCO2_per_10k_yuan", node_tbuf_keep(b, "%s", y));
	} else {
		node_tbuf_note(b, "carbon_intensity_tCO2_per_10k_yuan",
			       node_tbuf_keep(b, "n/a (%s)", missing[0] ? missing : "no denominator"));
	}
	node_tbuf_note(b, "factor_table_version", agg_energy_version(n->energy));
	t->title = node_tbuf_keep(b, "carbon account %s %d", level == STO_CITY ? n->cfg.city : q->entity, (int)q->year);
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
}

/* ---- online-monitoring coverage (DOMAIN.md 3) ---- */

static int cmp_ent_code(const void *a, const void *b)
{
	return strcmp((*(const agg_enterprise *const *)a)->code, (*(const agg_enterprise *const *)b)->code);
}

struct count_ctx {
	int64_t count;
};

static int on_count(void *ctx, const sto_key *k, const sto_val *v)
{
	(void)k;
	((struct count_ctx *)ctx)->count += v->count;
	return 0;
}

struct consistency_ctx {
	int res;
	er_fx sum[256]; /* by metric & 0xff + purpose: small */
	uint16_t metric[256];
	int n;
};

static int on_sum(void *ctx, const sto_key *k, const sto_val *v)
{
	struct consistency_ctx *c = ctx;
	int i;
	for (i = 0; i < c->n && c->metric[i] != k->metric; i++)
		;
	if (i == c->n) {
		if (c->n == 256)
			return 0;
		c->metric[c->n++] = k->metric;
		c->sum[i] = 0;
	}
	c->sum[i] += v->sum;
	return 0;
}

void node_monitoring(node *n, const pb_monitoring_request *q, pb_table *t, node_tbuf *b)
{
	static const char *cols[] = {"enterprise", "district", "last_year_tce", "key_user", "online",
				     "received", "expected", "completeness_%", "complete", "day_vs_month_%"};
	sto_econ_key pk, last;
	int64_t from, to, lfrom, lto;
	uint64_t dkey = 0;
	sto_txn *txn;
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	char x[96];

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (q->level != STO_DISTRICT && q->level != STO_CITY) {
		snprintf(b->err, sizeof b->err, "monitoring coverage is for a district or the city");
		return;
	}
	if (sto_period_parse(q->period, &pk) != 0) {
		snprintf(b->err, sizeof b->err, "period '%s' is not YYYY, YYYY-Qn or YYYY-MM", q->period);
		return;
	}
	sto_period_range(&pk, n->cfg.utc_offset_s, &from, &to);
	memset(&last, 0, sizeof last);
	last.ptype = STO_P_YEAR;
	last.year = pk.year - 1;
	sto_period_range(&last, n->cfg.utc_offset_s, &lfrom, &lto);
	(void)lfrom;
	(void)lto;

	ck_epoch_begin(rec, NULL);
	if (q->level == STO_DISTRICT) {
		dkey = er_key(q->entity, strlen(q->entity));
		if (agg_registry_find(n->reg, AGG_DISTRICT, dkey) == NULL) {
			ck_epoch_end(rec, NULL);
			snprintf(b->err, sizeof b->err, "unknown district '%s'", q->entity);
			return;
		}
	}
	uint32_t ne = agg_registry_count(n->reg, AGG_ENTERPRISE), ns = agg_registry_count(n->reg, AGG_SERIES);
	/* the meters of each enterprise, grouped (a counting sort by
	 * enterprise), and the readings each period should bring */
	int64_t *expected = calloc(ne ? ne : 1, sizeof *expected);
	uint32_t *first = calloc((size_t)ne + 1, sizeof *first);
	const agg_series **ms = calloc(ns ? ns : 1, sizeof *ms);
	for (uint32_t i = 0; expected && first && ms && i < ns; i++) {
		const agg_series *s = agg_registry_series_at(n->reg, i);
		if (s->enterprise != NULL) {
			expected[s->enterprise->idx] += (to - from) / s->interval_s;
			first[s->enterprise->idx + 1]++;
		}
	}
	for (uint32_t i = 0; first && i < ne; i++)
		first[i + 1] += first[i];
	uint32_t *fill = first ? calloc((size_t)ne + 1, sizeof *fill) : NULL;
	for (uint32_t i = 0; fill && ms && i < ns; i++) {
		const agg_series *s = agg_registry_series_at(n->reg, i);
		if (s->enterprise != NULL)
			ms[first[s->enterprise->idx] + fill[s->enterprise->idx]++] = s;
	}
	ck_epoch_end(rec, NULL);
	free(fill);
	if (expected == NULL || first == NULL || ms == NULL || sto_read_begin(n->store, &txn) != 0) {
		snprintf(b->err, sizeof b->err, "out of memory or store unavailable");
		free(expected);
		free(first);
		free(ms);
		return;
	}
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	int keyn = 0, online = 0, good = 0;
	agg_pico threshold = (agg_pico)n->cfg.key_user_tce * 1000000000000000LL; /* tce -> 1e-12 kgce */
	/* the entity's enterprises, by code */
	const agg_enterprise **es = calloc(ne ? ne : 1, sizeof *es);
	uint32_t nes = 0;
	for (uint32_t i = 0; es && i < ne; i++) {
		const agg_enterprise *e = agg_registry_enterprise_at(n->reg, i);
		if (q->level == STO_CITY || e->district->h.key == dkey)
			es[nes++] = e;
	}
	if (es)
		qsort(es, nes, sizeof *es, cmp_ent_code);
	for (uint32_t k = 0; k < nes; k++) {
		const agg_enterprise *e = es[k];
		uint32_t i = e->idx;
		inten in;
		intensity_of(n, txn, STO_ENTERPRISE, e->h.key, &last, STO_ECON_VALUE_ADDED, AGG_SCOPE_ALL, AGG_CALORIFIC,
			     &in);
		bool key_user = in.e >= threshold;
		struct count_ctx cc = {0};
		for (uint32_t j = first[i]; j < first[i + 1]; j++)
			sto_rollup_scan(txn, STO_METER, ms[j]->h.key, ER_RES_DAY, from, to, on_count, &cc);
		int64_t exp = expected[i];
		int tenths = exp > 0 ? (int)((cc.count * 2000 + exp) / (2 * exp)) : 0; /* half up, display only */
		bool complete = exp > 0 && cc.count * 100 >= exp * n->cfg.completeness_min_pct;
		/* day totals against the month total, per carrier: the largest
		 * relative difference (monthly periods only) */
		char cons[32] = "-";
		if (pk.ptype == STO_P_MONTH) {
			struct consistency_ctx dc = {.res = ER_RES_DAY}, mc = {.res = ER_RES_MONTH};
			sto_rollup_scan(txn, STO_ENTERPRISE, e->h.key, ER_RES_DAY, from, to, on_sum, &dc);
			sto_rollup_scan(txn, STO_ENTERPRISE, e->h.key, ER_RES_MONTH, from, to, on_sum, &mc);
			int worst = 0; /* tenths of a percent */
			for (int m = 0; m < mc.n; m++) {
				er_fx days = 0;
				for (int l = 0; l < dc.n; l++)
					if (dc.metric[l] == mc.metric[m])
						days += dc.sum[l];
				er_fx diff = days > mc.sum[m] ? days - mc.sum[m] : mc.sum[m] - days;
				int d10 = mc.sum[m] ? (int)((__int128)diff * 1000 / mc.sum[m]) : 0;
				if (d10 > worst)
					worst = d10;
			}
			if (mc.n > 0)
				snprintf(cons, sizeof cons, "%d.%d%s", worst / 10, worst % 10,
					 worst > n->cfg.consistency_max_pct * 10 ? " (over limit)" : "");
		}
		node_tbuf_cell(b, e->code);
		node_tbuf_cell(b, e->district->code);
		agg_pico_format(in.e, 3, 3, x, sizeof x);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", x));
		node_tbuf_cell(b, key_user ? "yes" : "no");
		node_tbuf_cell(b, cc.count > 0 ? "yes" : "no");
		node_tbuf_cell(b, node_tbuf_keep(b, "%lld", (long long)cc.count));
		node_tbuf_cell(b, node_tbuf_keep(b, "%lld", (long long)exp));
		node_tbuf_cell(b, node_tbuf_keep(b, "%d.%d", tenths / 10, tenths % 10));
		node_tbuf_cell(b, complete ? "yes" : "no");
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", cons));
		t->nrows++;
		if (key_user) {
			keyn++;
			online += cc.count > 0;
			good += cc.count > 0 && complete;
		}
	}
	sto_abort(txn);
	free(es);
	free(expected);
	free(first);
	free(ms);
	node_tbuf_note(b, "key_users", node_tbuf_keep(b, "%d (>= %lld tce in %d)", keyn, (long long)n->cfg.key_user_tce,
						      (int)last.year));
	node_tbuf_note(b, "key_users_online", node_tbuf_keep(b, "%d", online));
	node_tbuf_note(b, "key_users_complete", node_tbuf_keep(b, "%d (>= %d%% of expected readings)", good,
							       n->cfg.completeness_min_pct));
	if (keyn > 0) {
		int c10 = (good * 2000 + keyn) / (2 * keyn);
		node_tbuf_note(b, "coverage_%", node_tbuf_keep(b, "%d.%d", c10 / 10, c10 % 10));
	} else {
		node_tbuf_note(b, "coverage_%", "n/a (no key users)");
	}
	t->title = node_tbuf_keep(b, "monitoring %s %s", q->level == STO_CITY ? n->cfg.city : q->entity, q->period);
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
}

/* ---- yearly indicators (DOMAIN.md 5) ---- */

/* One year of an entity: energy (1e-12 kgce), water (micro m3), CO2
 * (1e-12 kgCO2), and the yearly figures of econ (micro units). */
typedef struct yearly {
	agg_pico e, co2;
	er_fx w;
	bool have[24];
	er_fx fig[24]; /* by econ kind */
} yearly;

static void year_of(node *n, sto_txn *t, int level, uint64_t key, int32_t year, yearly *y)
{
	sto_econ_key pk = {.ptype = STO_P_YEAR, .year = year};
	inten in;
	struct carbon_ctx cc = {.n = n};
	int64_t from, to;
	const char *how;
	char missing[64];

	memset(y, 0, sizeof *y);
	intensity_of(n, t, level, key, &pk, STO_ECON_VALUE_ADDED, AGG_SCOPE_ALL, AGG_CALORIFIC, &in);
	y->e = in.e;
	y->w = in.w;
	sto_period_range(&pk, n->cfg.utc_offset_s, &from, &to);
	sto_rollup_scan(t, level, key, ER_RES_DAY, from, to, on_carbon_day, &cc);
	for (size_t i = 0; i < cc.ns; i++)
		y->co2 += cc.s[i].co2;
	static const int kinds[] = {STO_ECON_VALUE_ADDED, STO_ECON_EMPLOYEES, STO_ECON_LAND,
				    STO_ECON_WASTEWATER,  STO_ECON_SOLID_WASTE, STO_ECON_COD,
				    STO_ECON_NH3N,	  STO_ECON_SO2,		STO_ECON_NOX};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		y->have[kinds[i]] = sto_econ_total(t, level, key, kinds[i], STO_P_YEAR, year, 0, &y->fig[kinds[i]], &how,
						   missing, sizeof missing) == 0;
}

/* average annual growth rate (X_t / X_0)^(1/n) - 1 (DOMAIN.md 5): roots
 * are not exact; long double, shown to two decimals */
static bool growth(long double x_t, long double x_0, int n, long double *g)
{
	if (x_0 <= 0 || x_t <= 0 || n <= 0)
		return false;
	*g = powl(x_t / x_0, 1.0L / n) - 1.0L;
	return true;
}

typedef struct limit {
	char name[48], direction[16], unit[32], source[160];
	long double limit;
} limit;

static int load_limits(const char *path, limit *out, int max)
{
	char *text, *line, *next, *f[8];
	int n = 0;
	if (agg_read_file(path, &text) != 0)
		return -1;
	for (line = text; line && n < max; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (line[0] == '#' || line[0] == 0 || strncmp(line, "name,", 5) == 0)
			continue;
		if (er_csv_split(line, f, 8) != 5)
			continue;
		snprintf(out[n].name, sizeof out[n].name, "%s", f[0]);
		snprintf(out[n].direction, sizeof out[n].direction, "%s", f[1]);
		out[n].limit = strtold(f[2], NULL);
		snprintf(out[n].unit, sizeof out[n].unit, "%s", f[3]);
		snprintf(out[n].source, sizeof out[n].source, "%s", f[4]);
		n++;
	}
	free(text);
	return n;
}

void node_indicators(node *n, const pb_indicators_request *q, pb_table *t, node_tbuf *b)
{
	static const char *cols[] = {"indicator", "value", "unit", "limit", "result", "inputs"};
	int level = 0, carrier = 0, nyears = q->year - q->base;
	uint64_t key;
	sto_txn *txn;
	yearly Y, B;
	limit lim[32];
	char path[NODE_PATH_MAX + 32];
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (q->year < 2000 || q->year > 2200 || nyears <= 0) {
		snprintf(b->err, sizeof b->err, "give a year and an earlier base year");
		return;
	}
	/* the entity: an enterprise, a district or the city, by its code */
	static const int levels[] = {STO_ENTERPRISE, STO_DISTRICT, STO_CITY};
	ck_epoch_begin(rec, NULL);
	for (size_t i = 0; i < 3 && level == 0; i++) {
		pb_query fake = {.level = levels[i], .entity = q->entity};
		int lv;
		if (resolve(n, &fake, &lv, &key, &carrier, b->err, sizeof b->err) == 0)
			level = lv;
	}
	ck_epoch_end(rec, NULL);
	if (level == 0) {
		snprintf(b->err, sizeof b->err, "'%s' is no enterprise, district or city of this node", q->entity);
		return;
	}
	snprintf(path, sizeof path, "%s", n->cfg.indicators_file);
	int nlim = load_limits(path, lim, 32);
	if (sto_read_begin(n->store, &txn) != 0) {
		snprintf(b->err, sizeof b->err, "store unavailable");
		return;
	}
	year_of(n, txn, level, key, q->year, &Y);
	year_of(n, txn, level, key, q->base, &B);
	sto_abort(txn);

	long double va = (long double)Y.fig[STO_ECON_VALUE_ADDED] / 1e6L, va0 = (long double)B.fig[STO_ECON_VALUE_ADDED] / 1e6L;
	bool hv = Y.have[STO_ECON_VALUE_ADDED] && va > 0, hv0 = B.have[STO_ECON_VALUE_ADDED] && va0 > 0;
	long double tce = (long double)Y.e / 1e15L, tce0 = (long double)B.e / 1e15L;
	long double w = (long double)Y.w / 1e6L, w0 = (long double)B.w / 1e6L;
	long double co2 = (long double)Y.co2 / 1e15L, co20 = (long double)B.co2 / 1e15L;
	long double gv = 0;
	bool have_gv = hv && hv0 && growth(va, va0, nyears, &gv);

	struct ind {
		const char *name;
		bool ok;
		long double v;
		bool elasticity;
		char inputs[160];
	} ind[11];
	int ni = 0;
#define FIG(y, k) ((long double)(y).fig[k] / 1e6L)
#define IND(nm, cond, val, el, ...)                                                                          \
	do {                                                                                                 \
		ind[ni].name = nm;                                                                           \
		ind[ni].ok = (cond);                                                                         \
		ind[ni].v = ind[ni].ok ? (val) : 0;                                                          \
		ind[ni].elasticity = el;                                                                     \
		snprintf(ind[ni].inputs, sizeof ind[ni].inputs, __VA_ARGS__);                                \
		ni++;                                                                                        \
	} while (0)
	IND("energy_intensity", hv, tce / va, false, "%.6Lf tce / %.2Lf 10^4 yuan", tce, va);
	IND("fresh_water_intensity", hv, w / va, false, "%.2Lf m3 / %.2Lf 10^4 yuan", w, va);
	IND("wastewater_intensity", hv && Y.have[STO_ECON_WASTEWATER], FIG(Y, STO_ECON_WASTEWATER) / va, false,
	    "wastewater_t %s", Y.have[STO_ECON_WASTEWATER] ? "given" : "missing");
	IND("solid_waste_intensity", hv && Y.have[STO_ECON_SOLID_WASTE], FIG(Y, STO_ECON_SOLID_WASTE) / va, false,
	    "solid_waste_t %s", Y.have[STO_ECON_SOLID_WASTE] ? "given" : "missing");
	IND("value_added_per_employee", hv && Y.have[STO_ECON_EMPLOYEES] && Y.fig[STO_ECON_EMPLOYEES] > 0,
	    va / FIG(Y, STO_ECON_EMPLOYEES), false, "employees %s", Y.have[STO_ECON_EMPLOYEES] ? "given" : "missing");
	IND("value_added_per_km2", hv && Y.have[STO_ECON_LAND] && Y.fig[STO_ECON_LAND] > 0, va / FIG(Y, STO_ECON_LAND),
	    false, "land_km2 %s", Y.have[STO_ECON_LAND] ? "given" : "missing");
	IND("value_added_growth", have_gv, gv * 100, false, "%d years from %d", nyears, (int)q->base);
	long double ge = 0, gw = 0;
	bool have_ge = have_gv && gv != 0 && growth(tce, tce0, nyears, &ge);
	bool have_gw = have_gv && gv != 0 && growth(w, w0, nyears, &gw);
	IND("energy_elasticity", have_ge, ge / gv, true, "energy growth %.4Lf / value added growth %.4Lf", ge, gv);
	IND("fresh_water_elasticity", have_gw, gw / gv, true, "water growth %.4Lf / value added growth %.4Lf", gw, gv);
	/* pollutant elasticity: the mean of COD, NH3-N, SO2 and NOx's */
	static const int pk[4] = {STO_ECON_COD, STO_ECON_NH3N, STO_ECON_SO2, STO_ECON_NOX};
	long double sum = 0;
	bool have_p = have_gv && gv != 0;
	for (int i = 0; i < 4 && have_p; i++) {
		long double gp;
		have_p = Y.have[pk[i]] && B.have[pk[i]] && growth(FIG(Y, pk[i]), FIG(B, pk[i]), nyears, &gp);
		sum += have_p ? gp / gv : 0;
	}
	IND("pollutant_elasticity", have_p, sum / 4, true, "mean of COD, NH3-N, SO2, NOx elasticities");
	/* average annual reduction of CO2 intensity: 1 - (I_t / I_0)^(1/n) */
	long double gi = 0;
	bool have_ci = hv && hv0 && co20 > 0 && growth(co2 / va, co20 / va0, nyears, &gi);
	IND("co2_intensity_reduction", have_ci, -gi * 100, false, "%.6Lf / %.6Lf tCO2 per 10^4 yuan", hv ? co2 / va : 0,
	    hv0 ? co20 / va0 : 0);
#undef IND
#undef FIG

	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	int pass = 0, fail = 0;
	for (int i = 0; i < ni; i++) {
		const limit *l = NULL;
		for (int j = 0; j < nlim; j++)
			if (strcmp(lim[j].name, ind[i].name) == 0)
				l = &lim[j];
		node_tbuf_cell(b, ind[i].name);
		node_tbuf_cell(b, ind[i].ok ? node_tbuf_keep(b, "%.2Lf", ind[i].v) : "n/a");
		node_tbuf_cell(b, l ? l->unit : "");
		const char *result = "n/a";
		if (l == NULL) {
			node_tbuf_cell(b, "-");
			result = "no limit configured";
		} else {
			bool el = strcmp(l->direction, "elasticity") == 0, most = strcmp(l->direction, "at_most") == 0;
			/* DOMAIN.md 5: with value added shrinking, an elasticity
			 * limit applies the other way */
			bool upper = el ? gv >= 0 : most;
			node_tbuf_cell(b, node_tbuf_keep(b, "%s %.2Lf", upper ? "<=" : ">=", l->limit));
			if (ind[i].ok) {
				bool ok = upper ? ind[i].v <= l->limit : ind[i].v >= l->limit;
				result = ok ? "pass" : "fail";
				pass += ok;
				fail += !ok;
			}
		}
		node_tbuf_cell(b, result);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", ind[i].inputs));
		t->nrows++;
	}
	node_tbuf_note(b, "entity", node_tbuf_keep(b, "%s (%s)", q->entity, sto_level_name(level)));
	node_tbuf_note(b, "years", node_tbuf_keep(b, "%d against %d (n = %d)", (int)q->year, (int)q->base, nyears));
	node_tbuf_note(b, "passed", node_tbuf_keep(b, "%d of %d with data", pass, pass + fail));
	if (nlim < 0)
		node_tbuf_note(b, "limits", node_tbuf_keep(b, "%s could not be read", n->cfg.indicators_file));
	t->title = node_tbuf_keep(b, "indicators %s %d (base %d)", q->entity, (int)q->year, (int)q->base);
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
}
