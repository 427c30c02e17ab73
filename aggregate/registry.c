/* registry.c: the city's districts, enterprises, stations and series.
 *
 * One Concurrency Kit hash set (ck_hs, single writer / many readers) indexes
 * every entry by (kind, XXH3 key of its code); dense per-kind arrays map the
 * entry numbers the delta table uses back to entries. Imports are all or
 * nothing: every row of every file is parsed and checked against the
 * registered entries and against the rest of the import before anything is
 * persisted or published, so a failed import leaves no trace. Entries are
 * published after their fields are written (ck_hs_put has the store fence),
 * and they are never changed or freed while the registry lives; an import
 * that would change one is refused.
 *
 * Invariant: two different codes of one kind never share a key. A
 * collision is refused at import (DESIGN.md "Series"), so a key is a code. */
#include <ck_epoch.h>
#include "registry.h"

#include <ck_hs.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- carriers ---- */

static const struct carrier_info {
	int id;
	const char *name, *unit;
} carriers[] = {
	{AGG_ELECTRICITY, "electricity", "kWh"}, {AGG_WATER, "water", "m3"}, {AGG_HEAT, "heat", "GJ"},
	{AGG_STEAM, "steam", "t"},		 {AGG_GAS, "gas", "m3"},     {AGG_COAL, "coal", "t"},
	{AGG_OIL, "oil", "t"},			 {AGG_PV, "pv", "kWh"},	     {AGG_POWER, "power", "kW"},
	{AGG_PM25, "pm25", "ug/m3"},		 {AGG_PM10, "pm10", "ug/m3"}, {AGG_O3, "o3", "ug/m3"},
	{AGG_NO2, "no2", "ug/m3"},		 {AGG_SO2, "so2", "ug/m3"},   {AGG_CO, "co", "mg/m3"},
};

static const struct carrier_info *carrier_info(int id)
{
	for (size_t i = 0; i < sizeof carriers / sizeof carriers[0]; i++)
		if (carriers[i].id == id)
			return &carriers[i];
	return NULL;
}

const char *agg_carrier_name(int carrier)
{
	const struct carrier_info *c = carrier_info(carrier);
	return c ? c->name : NULL;
}

const char *agg_carrier_unit(int carrier)
{
	const struct carrier_info *c = carrier_info(carrier);
	return c ? c->unit : NULL;
}

int agg_carrier_parse(const char *name)
{
	for (size_t i = 0; i < sizeof carriers / sizeof carriers[0]; i++)
		if (strcmp(carriers[i].name, name) == 0)
			return carriers[i].id;
	return 0;
}

static bool is_pollutant(int c)
{
	return c >= AGG_PM25 && c <= AGG_CO;
}

const char *agg_purpose_name(int purpose)
{
	static const char *n[] = {"fuel", "feedstock", "renewable"};
	return purpose >= 0 && purpose <= 2 ? n[purpose] : "?";
}

const char *agg_mode_name(int mode)
{
	static const char *n[] = {"?", "cumulative", "interval", "instant"};
	return mode >= 1 && mode <= 3 ? n[mode] : "?";
}

static const char *headers[AGG_F_COUNT] = {
	"code,name",
	"code,name,district,industry",
	"code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s",
	"code,name,district,pollutants,evaluation,interval_s",
};
/* The stations header before interval_s: still read, as hourly readings. */
static const char station_header_v1[] = "code,name,district,pollutants,evaluation";

const char *agg_registry_header(int file)
{
	return file >= 0 && file < AGG_F_COUNT ? headers[file] : NULL;
}

/* ---- dense arrays: entry number -> entry, readable without locks ---- */

#define CHUNK_BITS 16
#define CHUNK_LEN (1u << CHUNK_BITS)
#define CHUNKS 4096 /* 2^28 entries per kind, far beyond any city */

typedef struct idxvec {
	_Atomic(_Atomic(void *) *) chunk[CHUNKS];
	_Atomic uint32_t n;
} idxvec;

static int idxvec_push(idxvec *v, void *p, uint32_t *idx)
{
	uint32_t i = atomic_load_explicit(&v->n, memory_order_relaxed); /* writer-only field */
	uint32_t c = i >> CHUNK_BITS;

	if (c >= CHUNKS)
		return ER_EFULL;
	_Atomic(void *) *ch = atomic_load_explicit(&v->chunk[c], memory_order_relaxed);
	if (ch == NULL) {
		ch = calloc(CHUNK_LEN, sizeof *ch);
		if (ch == NULL)
			return ER_ENOMEM;
		/* release: the zeroed chunk is visible before its pointer
		 * (pairs with the acquire in idxvec_at) */
		atomic_store_explicit(&v->chunk[c], ch, memory_order_release);
	}
	/* release: the entry's fields are visible before it can be found by
	 * number (pairs with the acquire in idxvec_at) */
	atomic_store_explicit(&ch[i & (CHUNK_LEN - 1)], p, memory_order_release);
	atomic_store_explicit(&v->n, i + 1, memory_order_release);
	*idx = i;
	return 0;
}

static void *idxvec_at(idxvec *v, uint32_t idx)
{
	if (idx >= atomic_load_explicit(&v->n, memory_order_acquire))
		return NULL;
	_Atomic(void *) *ch = atomic_load_explicit(&v->chunk[idx >> CHUNK_BITS], memory_order_acquire);
	return atomic_load_explicit(&ch[idx & (CHUNK_LEN - 1)], memory_order_acquire);
}

/* ---- the index ---- */

struct agg_registry {
	pthread_mutex_t lock; /* serializes writers */
	ck_hs_t hs;
	ck_epoch_record_t *writer;
	idxvec vec[AGG_SERIES + 1]; /* by kind */
};

static uint64_t head_hash(uint64_t key, int kind)
{
	/* The key is already XXH3: mixing in the kind keeps a meter and an
	 * enterprise with the same code apart. */
	return key ^ ((uint64_t)kind * 0x9E3779B97F4A7C15ull);
}

/* The seed is ignored: lookups pass head_hash() directly, so a rehash on
 * growth must compute exactly the same value. */
static unsigned long hs_hash(const void *obj, unsigned long seed)
{
	const agg_head *h = obj;
	(void)seed;
	return (unsigned long)head_hash(h->key, h->kind);
}

static bool hs_cmp(const void *a, const void *b)
{
	const agg_head *x = a, *y = b;
	return x->key == y->key && x->kind == y->kind;
}

/* ck_hs's allocator has no context argument; the writer sets this while it
 * holds the registry's mutex so a deferred free can wait out readers. */
static _Thread_local agg_registry *tl_writer;

static void *hs_malloc(size_t n)
{
	return malloc(n);
}

static void *hs_realloc(void *p, size_t old, size_t n, bool defer)
{
	(void)old;
	(void)defer; /* ck_hs never reallocates a live map */
	return realloc(p, n);
}

static void hs_free(void *p, size_t n, bool defer)
{
	(void)n;
	/* defer: readers may still walk the old map; a grace period on the
	 * shared epoch guarantees they have left it. */
	if (defer && tl_writer != NULL && tl_writer->writer != NULL)
		ck_epoch_synchronize(tl_writer->writer);
	free(p);
}

static struct ck_malloc hs_alloc = {hs_malloc, hs_realloc, hs_free};

int agg_registry_new(ck_epoch_record_t *writer, agg_registry **out)
{
	agg_registry *r = calloc(1, sizeof *r);
	if (r == NULL)
		return ER_ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->writer = writer;
	if (!ck_hs_init(&r->hs, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT, hs_hash, hs_cmp, &hs_alloc, 1024,
			0x65636f726f6c6cull)) {
		free(r);
		return ER_ENOMEM;
	}
	*out = r;
	return 0;
}

static void free_entry(int kind, void *p)
{
	switch (kind) {
	case AGG_DISTRICT: {
		agg_district *d = p;
		free((char *)d->code);
		free((char *)d->name);
		break;
	}
	case AGG_ENTERPRISE: {
		agg_enterprise *e = p;
		free((char *)e->code);
		free((char *)e->name);
		free((char *)e->industry);
		break;
	}
	case AGG_STATION: {
		agg_station *s = p;
		free((char *)s->code);
		free((char *)s->name);
		break;
	}
	case AGG_SERIES: {
		agg_series *m = p;
		const agg_replacement *r = atomic_load(&m->repl), *next;
		for (; r != NULL; r = next) {
			next = r->next;
			free((void *)r);
		}
		free((char *)m->code);
		break;
	}
	}
	free(p);
}

void agg_registry_free(agg_registry *r)
{
	if (r == NULL)
		return;
	for (int k = AGG_DISTRICT; k <= AGG_SERIES; k++) {
		idxvec *v = &r->vec[k];
		uint32_t n = atomic_load(&v->n);
		for (uint32_t i = 0; i < n; i++)
			free_entry(k, idxvec_at(v, i));
		for (int c = 0; c < CHUNKS; c++)
			free(atomic_load(&v->chunk[c]));
	}
	tl_writer = NULL;
	ck_hs_destroy(&r->hs);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const agg_head *agg_registry_find(agg_registry *r, int kind, uint64_t key)
{
	agg_head probe = {.key = key, .kind = (uint8_t)kind};
	return ck_hs_get(&r->hs, (unsigned long)head_hash(key, kind), &probe);
}

agg_series *agg_registry_series_at(agg_registry *r, uint32_t idx)
{
	return idxvec_at(&r->vec[AGG_SERIES], idx);
}

const agg_district *agg_registry_district_at(agg_registry *r, uint32_t idx)
{
	return idxvec_at(&r->vec[AGG_DISTRICT], idx);
}

const agg_enterprise *agg_registry_enterprise_at(agg_registry *r, uint32_t idx)
{
	return idxvec_at(&r->vec[AGG_ENTERPRISE], idx);
}

const agg_station *agg_registry_station_at(agg_registry *r, uint32_t idx)
{
	return idxvec_at(&r->vec[AGG_STATION], idx);
}

uint32_t agg_registry_count(agg_registry *r, int kind)
{
	if (kind < AGG_DISTRICT || kind > AGG_SERIES)
		return 0;
	return atomic_load_explicit(&r->vec[kind].n, memory_order_acquire);
}

/* ---- import ---- */

/* One import in progress: new entries in file order, and a private index
 * of them so rows can refer to entries of the same import. */
typedef struct staged {
	int kind;
	void *entry;
} staged;

typedef struct import_ctx {
	agg_registry *reg;
	agg_import_result *res;
	staged *list;
	size_t n, cap;
	ck_hs_t hs; /* the staged entries */
	const char *file;
	unsigned line;
} import_ctx;

static void add_error(import_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(import_ctx *c, const char *fmt, ...)
{
	agg_import_result *res = c->res;
	char msg[512], *line;
	va_list ap;

	if (res->nerrors >= AGG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s:%u: %s", c->file, c->line, msg) < 0)
		return;
	char **e = realloc(res->errors, (res->nerrors + 1) * sizeof *e);
	if (e == NULL) {
		free(line);
		return;
	}
	res->errors = e;
	res->errors[res->nerrors++] = line;
}

/* Looks a code up among the registered entries and then the staged ones. */
static const agg_head *lookup(import_ctx *c, int kind, uint64_t key)
{
	const agg_head *h = agg_registry_find(c->reg, kind, key);
	if (h == NULL) {
		agg_head probe = {.key = key, .kind = (uint8_t)kind};
		h = ck_hs_get(&c->hs, (unsigned long)head_hash(key, kind), &probe);
	}
	return h;
}

static const char *entry_code(const agg_head *h)
{
	switch (h->kind) {
	case AGG_DISTRICT: return ((const agg_district *)h)->code;
	case AGG_ENTERPRISE: return ((const agg_enterprise *)h)->code;
	case AGG_STATION: return ((const agg_station *)h)->code;
	case AGG_SERIES: return ((const agg_series *)h)->code;
	}
	return "?";
}

static bool valid_code(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AGG_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* Appends a CSV field, quoted when it has a comma, a quote or edge spaces. */
static void csv_put(char **w, char *end, const char *s, bool last)
{
	/* er_csv_split trims spaces and tabs around unquoted fields */
	size_t n = strlen(s);
	bool q = strpbrk(s, ",\"") != NULL || (n && (s[0] == ' ' || s[0] == '\t')) ||
		 (n && (s[n - 1] == ' ' || s[n - 1] == '\t'));
	char *p = *w;
	if (q && p < end)
		*p++ = '"';
	for (; *s && p < end; s++) {
		if (*s == '"' && p + 1 < end)
			*p++ = '"';
		*p++ = *s;
	}
	if (q && p < end)
		*p++ = '"';
	if (!last && p < end)
		*p++ = ',';
	*p = 0;
	*w = p;
}

#define ROW_MAX 1024
#define NAME_MAX_BYTES 255 /* keeps every canonical row well inside ROW_MAX */

static void canon_row(const agg_head *h, char *buf)
{
	char *w = buf, *end = buf + ROW_MAX - 1, num[3][32];

	switch (h->kind) {
	case AGG_DISTRICT: {
		const agg_district *d = (const void *)h;
		csv_put(&w, end, d->code, false);
		csv_put(&w, end, d->name, true);
		break;
	}
	case AGG_ENTERPRISE: {
		const agg_enterprise *e = (const void *)h;
		csv_put(&w, end, e->code, false);
		csv_put(&w, end, e->name, false);
		csv_put(&w, end, e->district->code, false);
		csv_put(&w, end, e->industry, true);
		break;
	}
	case AGG_STATION: {
		const agg_station *s = (const void *)h;
		char pol[64] = "";
		for (int c = AGG_PM25; c <= AGG_CO; c++) {
			if (s->pollutants & (1ull << (c - AGG_PM25))) {
				if (pol[0])
					strcat(pol, ";");
				strcat(pol, agg_carrier_name(c));
			}
		}
		csv_put(&w, end, s->code, false);
		csv_put(&w, end, s->name, false);
		csv_put(&w, end, s->district->code, false);
		snprintf(num[0], sizeof num[0], "%d", (int)s->interval_s);
		csv_put(&w, end, pol, false);
		csv_put(&w, end, s->evaluation ? "yes" : "no", false);
		csv_put(&w, end, num[0], true);
		break;
	}
	case AGG_SERIES: {
		const agg_series *m = (const void *)h;
		num[0][0] = num[1][0] = 0;
		if (m->capacity)
			er_fx_format(m->capacity, num[0], sizeof num[0]);
		if (m->max_per_hour)
			er_fx_format(m->max_per_hour, num[1], sizeof num[1]);
		snprintf(num[2], sizeof num[2], "%d", (int)m->interval_s);
		csv_put(&w, end, m->code, false);
		csv_put(&w, end, m->enterprise->code, false);
		csv_put(&w, end, agg_carrier_name(m->carrier), false);
		csv_put(&w, end, agg_carrier_unit(m->carrier), false);
		csv_put(&w, end, agg_mode_name(m->mode), false);
		csv_put(&w, end, num[0], false);
		csv_put(&w, end, num[1], false);
		csv_put(&w, end, agg_purpose_name(m->purpose), false);
		csv_put(&w, end, num[2], true);
		break;
	}
	}
}

static bool stage_grow(import_ctx *c)
{
	if (c->n < c->cap)
		return true;
	size_t cap = c->cap ? c->cap * 2 : 256;
	staged *l = realloc(c->list, cap * sizeof *l);
	if (l == NULL)
		return false;
	c->list = l;
	c->cap = cap;
	return true;
}

/* Checks a parsed entry against what exists: new (staged), unchanged
 * (freed), or refused (collision or change; freed). */
static void stage(import_ctx *c, agg_head *h)
{
	const agg_head *old = lookup(c, h->kind, h->key);
	const char *code = entry_code(h);

	if (old != NULL) {
		if (strcmp(entry_code(old), code) != 0) {
			add_error(c, "code '%s' collides with '%s' (same XXH3 key %016llx); rename one", code,
				  entry_code(old), (unsigned long long)h->key);
		} else {
			char a[ROW_MAX], b[ROW_MAX];
			canon_row(old, a);
			canon_row(h, b);
			if (strcmp(a, b) != 0)
				add_error(c, "'%s' is already registered as '%s'; changing a registered entry is not supported",
					  code, a);
		}
		free_entry(h->kind, h);
		return;
	}
	if (!stage_grow(c)) {
		add_error(c, "out of memory");
		free_entry(h->kind, h);
		return;
	}
	c->list[c->n].kind = h->kind;
	c->list[c->n].entry = h;
	c->n++;
	ck_hs_put(&c->hs, (unsigned long)head_hash(h->key, h->kind), h);
	c->res->added++;
}

static const agg_head *need(import_ctx *c, int kind, const char *code, const char *what)
{
	const agg_head *h = lookup(c, kind, er_key(code, strlen(code)));
	if (h == NULL || strcmp(entry_code(h), code) != 0) {
		add_error(c, "unknown %s '%s'", what, code);
		return NULL;
	}
	return h;
}

static char *dup_field(const char *s)
{
	return strdup(s);
}

static bool bad_name(import_ctx *c, const char *name)
{
	if (name[0] == 0) {
		add_error(c, "empty name");
		return true;
	}
	if (strlen(name) > NAME_MAX_BYTES) {
		add_error(c, "name longer than %d bytes", NAME_MAX_BYTES);
		return true;
	}
	return false;
}

static void parse_district(import_ctx *c, char **f)
{
	agg_district *d;
	if (bad_name(c, f[1]))
		return;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return add_error(c, "out of memory");
	d->h.kind = AGG_DISTRICT;
	d->h.key = er_key(f[0], strlen(f[0]));
	d->code = dup_field(f[0]);
	d->name = dup_field(f[1]);
	stage(c, &d->h);
}

static bool valid_industry(const char *s)
{
	/* GB/T 4754-2017: a section letter and 2 to 4 digits; may be empty. */
	size_t n = strlen(s);
	if (n == 0)
		return true;
	if (n < 3 || n > 5 || s[0] < 'A' || s[0] > 'T')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void parse_enterprise(import_ctx *c, char **f)
{
	const agg_head *d;
	agg_enterprise *e;

	if (bad_name(c, f[1]))
		return;
	if (!valid_industry(f[3]))
		return add_error(c, "industry '%s' is not a GB/T 4754 code (a letter and 2-4 digits, e.g. C26)", f[3]);
	if ((d = need(c, AGG_DISTRICT, f[2], "district")) == NULL)
		return;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return add_error(c, "out of memory");
	e->h.kind = AGG_ENTERPRISE;
	e->h.key = er_key(f[0], strlen(f[0]));
	e->district = (const agg_district *)d;
	e->code = dup_field(f[0]);
	e->name = dup_field(f[1]);
	e->industry = dup_field(f[3]);
	stage(c, &e->h);
}

static int parse_positive_fx(import_ctx *c, const char *s, const char *what, er_fx *out)
{
	int rc;
	*out = 0;
	if (s[0] == 0)
		return 0;
	rc = er_fx_parse(s, strlen(s), out);
	if (rc != 0 || *out <= 0) {
		add_error(c, "%s '%s' is not a positive number (at most 6 decimals)", what, s);
		return -1;
	}
	return 0;
}

static void parse_meter(import_ctx *c, char **f)
{
	const agg_head *e;
	agg_series *m;
	int carrier, mode, purpose;
	er_fx cap, limit;
	long interval = 900;
	char *endp;

	carrier = agg_carrier_parse(f[2]);
	if (carrier == 0 || is_pollutant(carrier))
		return add_error(c, "unknown carrier '%s' (electricity, water, heat, steam, gas, coal, oil, pv, power)",
				 f[2]);
	if (strcmp(f[3], agg_carrier_unit(carrier)) != 0)
		return add_error(c, "unit '%s' does not match carrier %s, which is metered in %s", f[3], f[2],
				 agg_carrier_unit(carrier));
	if (strcmp(f[4], "cumulative") == 0)
		mode = AGG_CUMULATIVE;
	else if (strcmp(f[4], "interval") == 0)
		mode = AGG_INTERVAL;
	else if (strcmp(f[4], "instant") == 0)
		mode = AGG_INSTANT;
	else
		return add_error(c, "mode '%s' is not cumulative, interval or instant", f[4]);
	if ((carrier == AGG_POWER) != (mode == AGG_INSTANT))
		return add_error(c, "%s", carrier == AGG_POWER ? "carrier power (kW) is a level: its mode must be instant"
							       : "an energy quantity is cumulative or interval, not instant");
	if (parse_positive_fx(c, f[5], "capacity", &cap) != 0 ||
	    parse_positive_fx(c, f[6], "max_per_hour", &limit) != 0)
		return;
	if (cap != 0 && mode != AGG_CUMULATIVE)
		return add_error(c, "capacity applies to cumulative registers only");
	if (f[7][0] == 0)
		purpose = carrier == AGG_PV ? AGG_RENEWABLE : AGG_FUEL;
	else if (strcmp(f[7], "fuel") == 0)
		purpose = AGG_FUEL;
	else if (strcmp(f[7], "feedstock") == 0)
		purpose = AGG_FEEDSTOCK;
	else if (strcmp(f[7], "renewable") == 0)
		purpose = AGG_RENEWABLE;
	else
		return add_error(c, "purpose '%s' is not fuel, feedstock or renewable", f[7]);
	if (f[8][0] != 0) {
		errno = 0;
		interval = strtol(f[8], &endp, 10);
		if (errno != 0 || *endp != 0 || interval < 1 || interval > 86400)
			return add_error(c, "interval_s '%s' is not a whole number of seconds from 1 to 86400", f[8]);
	}
	if ((e = need(c, AGG_ENTERPRISE, f[1], "enterprise")) == NULL)
		return;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return add_error(c, "out of memory");
	m->h.kind = AGG_SERIES;
	m->h.key = er_key(f[0], strlen(f[0]));
	m->mode = (uint8_t)mode;
	m->carrier = (uint8_t)carrier;
	m->purpose = (uint8_t)purpose;
	m->interval_s = (int32_t)interval;
	m->capacity = cap;
	m->max_per_hour = limit;
	m->enterprise = (const agg_enterprise *)e;
	m->code = dup_field(f[0]);
	stage(c, &m->h);
}

static void parse_station(import_ctx *c, char **f, int nf)
{
	const agg_head *d;
	agg_station *s;
	uint64_t pol = 0;
	bool eval;
	char list[256], *tok, *save;
	long interval = 3600;

	if (bad_name(c, f[1]))
		return;
	if (strlen(f[3]) >= sizeof list)
		return add_error(c, "pollutant list too long");
	strcpy(list, f[3]);
	for (tok = strtok_r(list, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = 0;
		int p = agg_carrier_parse(tok);
		if (!is_pollutant(p))
			return add_error(c, "unknown pollutant '%s' (pm25, pm10, o3, no2, so2, co)", tok);
		if (pol & (1ull << (p - AGG_PM25)))
			return add_error(c, "pollutant '%s' listed twice", tok);
		pol |= 1ull << (p - AGG_PM25);
	}
	if (pol == 0)
		return add_error(c, "no pollutants listed");
	if (strcmp(f[4], "yes") == 0 || strcmp(f[4], "true") == 0 || strcmp(f[4], "1") == 0)
		eval = true;
	else if (strcmp(f[4], "no") == 0 || strcmp(f[4], "false") == 0 || strcmp(f[4], "0") == 0)
		eval = false;
	else
		return add_error(c, "evaluation '%s' is not yes or no", f[4]);
	if (nf > 5 && f[5][0] != 0) {
		char *endp;
		errno = 0;
		interval = strtol(f[5], &endp, 10);
		/* a reading averages a whole part of the hour: 60 s minute data,
		 * 300, 900, ... 3600 s hourly values */
		if (errno != 0 || *endp != 0 || interval < 1 || interval > 3600 || 3600 % interval != 0)
			return add_error(c, "interval_s '%s' must divide 3600 (60 for minute data, 3600 hourly)", f[5]);
	}
	if ((d = need(c, AGG_DISTRICT, f[2], "district")) == NULL)
		return;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return add_error(c, "out of memory");
	s->h.kind = AGG_STATION;
	s->h.key = er_key(f[0], strlen(f[0]));
	s->district = (const agg_district *)d;
	s->code = dup_field(f[0]);
	s->name = dup_field(f[1]);
	s->pollutants = pol;
	s->evaluation = eval;
	s->interval_s = (int32_t)interval;
	stage(c, &s->h);
}

/* The series of one station pollutant: code "S01:pm25", hourly levels. */
static agg_series *station_series(const agg_station *s, int pollutant)
{
	agg_series *m = calloc(1, sizeof *m);
	char code[AGG_CODE_MAX + 16];

	if (m == NULL)
		return NULL;
	snprintf(code, sizeof code, "%s:%s", s->code, agg_carrier_name(pollutant));
	m->h.kind = AGG_SERIES;
	m->h.key = er_key(code, strlen(code));
	m->mode = AGG_INSTANT;
	m->carrier = (uint8_t)pollutant;
	m->purpose = AGG_FUEL;
	m->interval_s = s->interval_s;
	m->station = s;
	m->code = strdup(code);
	if (m->code == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

#define MAX_FIELDS 64 /* far more than any file has: a long row still gets a field count */

static void parse_file(import_ctx *c, int file, const char *text)
{
	char *buf, *line, *f[MAX_FIELDS];
	int nf, want = file == AGG_F_DISTRICTS ? 2 : file == AGG_F_ENTERPRISES ? 4 : file == AGG_F_METERS ? 9 : 6;
	bool header = false;

	if (text == NULL || text[0] == 0)
		return;
	buf = strdup(text);
	if (buf == NULL)
		return add_error(c, "out of memory");
	er_lines it;
	uint32_t nul_line;
	/* the text came as a C string: it holds no NUL before its end */
	er_lines_init(&it, buf, strlen(buf), &nul_line);
	c->line = 0;
	while ((line = er_lines_next(&it)) != NULL) {
		c->line = it.line;
		if (!header) {
			char want_h[128];
			snprintf(want_h, sizeof want_h, "%s", headers[file]);
			nf = er_csv_split(line, f, MAX_FIELDS);
			char got[256] = "";
			for (int i = 0; i < nf; i++) {
				if (i)
					strncat(got, ",", sizeof got - strlen(got) - 1);
				strncat(got, f[i], sizeof got - strlen(got) - 1);
			}
			if (file == AGG_F_STATIONS && strcmp(got, station_header_v1) == 0) {
				want = 5;
			} else if (strcmp(got, want_h) != 0) {
				add_error(c, "header must be '%s'", want_h);
				break;
			}
			header = true;
			continue;
		}
		nf = er_csv_split(line, f, MAX_FIELDS);
		if (nf < 0) {
			add_error(c, "malformed CSV (unterminated quote, text after a closing quote, or more than %d fields)",
				  MAX_FIELDS);
			continue;
		}
		/* a station row without interval_s (rows persisted before it
		 * existed) reads as hourly */
		if (nf != want && !(file == AGG_F_STATIONS && nf == 5)) {
			add_error(c, "%d fields, expected %d (%s)", nf, want, headers[file]);
			continue;
		}
		if (!valid_code(f[0])) {
			add_error(c, "code '%s' must be 1-%d characters of A-Z a-z 0-9 . _ -", f[0], AGG_CODE_MAX);
			continue;
		}
		c->res->rows[file]++;
		switch (file) {
		case AGG_F_DISTRICTS: parse_district(c, f); break;
		case AGG_F_ENTERPRISES: parse_enterprise(c, f); break;
		case AGG_F_METERS: parse_meter(c, f); break;
		case AGG_F_STATIONS: parse_station(c, f, nf); break;
		}
	}
	if (!header && c->res->nerrors == 0) {
		c->line = 1;
		add_error(c, "no header line; expected '%s'", headers[file]);
	}
	free(buf);
}

static int publish(agg_registry *r, int kind, void *entry)
{
	agg_head *h = entry;
	uint32_t idx;
	int rc = idxvec_push(&r->vec[kind], entry, &idx);

	if (rc != 0)
		return rc;
	switch (kind) {
	case AGG_DISTRICT: ((agg_district *)entry)->idx = idx; break;
	case AGG_ENTERPRISE: ((agg_enterprise *)entry)->idx = idx; break;
	case AGG_STATION: ((agg_station *)entry)->idx = idx; break;
	case AGG_SERIES: ((agg_series *)entry)->idx = idx; break;
	}
	/* ck_hs_put fences before the entry becomes reachable, so a reader
	 * that finds it sees idx and every field written above. */
	if (!ck_hs_put(&r->hs, (unsigned long)head_hash(h->key, h->kind), h))
		return ER_ENOMEM;
	return 0;
}

int agg_registry_import(agg_registry *r, const agg_import *imp, agg_persist_fn *persist, void *ctx,
			agg_import_result *res)
{
	static const int order[] = {AGG_F_DISTRICTS, AGG_F_ENTERPRISES, AGG_F_STATIONS, AGG_F_METERS};
	import_ctx c = {.reg = r, .res = res};
	int rc = 0;

	memset(res, 0, sizeof *res);
	if (!ck_hs_init(&c.hs, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT, hs_hash, hs_cmp, &hs_alloc, 256, 0x5eed))
		return ER_ENOMEM;
	pthread_mutex_lock(&r->lock);
	tl_writer = NULL; /* the staging set has no readers: free at once */
	for (size_t i = 0; i < 4; i++) {
		int f = order[i];
		c.file = imp->name[f] ? imp->name[f] : headers[f];
		parse_file(&c, f, imp->text[f]);
	}
	/* Station pollutant series are checked like meters: a pollutant
	 * series code could collide with a meter code. */
	size_t nstaged = c.n;
	for (size_t i = 0; i < nstaged && res->nerrors == 0; i++) {
		if (c.list[i].kind != AGG_STATION)
			continue;
		agg_station *s = c.list[i].entry;
		for (int p = AGG_PM25; p <= AGG_CO; p++) {
			if (!(s->pollutants & (1ull << (p - AGG_PM25))))
				continue;
			agg_series *m = station_series(s, p);
			if (m == NULL) {
				c.file = "stations";
				add_error(&c, "out of memory");
				break;
			}
			c.file = imp->name[AGG_F_STATIONS] ? imp->name[AGG_F_STATIONS] : "stations";
			c.line = 0;
			res->added--; /* derived series are not counted as rows */
			stage(&c, &m->h);
		}
	}
	if (res->nerrors > 0) {
		rc = ER_EINVAL;
		goto abort;
	}
	if (persist != NULL && c.n > 0) {
		char row[ROW_MAX];
		for (size_t i = 0; i < c.n && rc == 0; i++) {
			agg_head *h = c.list[i].entry;
			if (h->kind == AGG_SERIES && ((agg_series *)h)->station != NULL)
				continue; /* derived from its station's row */
			canon_row(h, row);
			rc = persist(ctx, h->kind, h->key, row);
		}
		if (rc == 0)
			rc = persist(ctx, 0, 0, NULL);
		if (rc != 0)
			goto abort;
	}
	tl_writer = r;
	for (size_t i = 0; i < c.n; i++) {
		rc = publish(r, c.list[i].kind, c.list[i].entry);
		if (rc != 0) {
			/* Only an allocation can fail here; what was published
			 * stays (it is persisted), the rest is dropped. */
			for (size_t j = i; j < c.n; j++)
				free_entry(c.list[j].kind, c.list[j].entry);
			break;
		}
	}
	tl_writer = NULL;
	goto done;
abort:
	for (size_t i = 0; i < c.n; i++)
		free_entry(c.list[i].kind, c.list[i].entry);
	res->added = 0;
done:
	pthread_mutex_unlock(&r->lock);
	ck_hs_destroy(&c.hs);
	free(c.list);
	return rc;
}

void agg_import_result_fini(agg_import_result *res)
{
	for (size_t i = 0; i < res->nerrors; i++)
		free(res->errors[i]);
	free(res->errors);
	res->errors = NULL;
	res->nerrors = 0;
}

int agg_read_file(const char *path, char **out)
{
	size_t len;
	return er_read_file(path, out, &len);
}

void agg_series_add_replacement(agg_series *s, agg_replacement *r)
{
	r->next = atomic_load_explicit(&s->repl, memory_order_relaxed);
	/* release: r's fields are visible before it is reachable (pairs with
	 * the acquire in meter.c find_replacement) */
	atomic_store_explicit(&s->repl, r, memory_order_release);
}
