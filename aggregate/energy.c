/* energy.c: the standard coal coefficient and CO2 factor tables (DOMAIN.md
 * 4, STYLE.md 16: data, not code), loaded from conf/energy/.
 *
 * Each table is an array of rows (key, valid_from, valid_to, value) where
 * the key is (carrier, method) for coefficients and (carrier, purpose) for
 * CO2 factors, with "any purpose" as a purpose of its own. Dates are local
 * day numbers (days since 1970-01-01 in the city's calendar), valid_to
 * exclusive, INT64_MAX when open-ended. Rows of one key never overlap
 * (checked at load), so after sorting by (key, valid_from) a lookup is a
 * binary search within the key's range for the last row starting on or
 * before the day.
 *
 * Values are micro-units per unit, parsed from decimal text with no double
 * in between, so 0.1229 is exactly 122900 and products with quantities are
 * exact (energy.h). Row sources point into the file buffers, which the
 * table keeps. Nothing changes after agg_energy_load returns: readers need
 * no synchronization. */
#include "energy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DAY_S      86400
#define OPEN_END   INT64_MAX      /* an empty valid_to: in force until the table is edited */
#define NFIELDS    7              /* both files have seven columns */
#define MAX_FIELDS 64             /* far more than a row has: a long row still gets a field count */
#define CARRIERS   (AGG_PV + 1)   /* energy carriers are 1..AGG_PV; power and pollutants have no rows */
#define NKEYS      (CARRIERS * 4) /* the larger key space: carrier x (any, fuel, feedstock, renewable) */

__extension__ typedef unsigned __int128 u128;

enum { F_COEF, F_CO2, F_COUNT };

static const char *const file_names[F_COUNT] = {"coefficients.csv", "co2.csv"};
static const char *const headers[F_COUNT] = {
    "carrier,method,valid_from,valid_to,kgce_per_unit,unit,source",
    "carrier,purpose,valid_from,valid_to,kgco2_per_unit,unit,source",
};
static const char *const value_names[F_COUNT] = {"kgce_per_unit", "kgco2_per_unit"};
static const char *const purpose_text[4] = {"any purpose", "fuel", "feedstock", "renewable"};

typedef struct erow {
	int64_t from, to; /* local day numbers; to is exclusive, OPEN_END when open */
	int64_t micro;    /* micro-kgce or micro-kgCO2 per unit */
	const char *source;
	uint32_t line;
	uint32_t key; /* coef_key() or factor_key() */
} erow;

typedef struct table {
	erow *rows;
	size_t n, cap;
	uint32_t lo[NKEYS], hi[NKEYS]; /* rows[lo[k] .. hi[k]) have key k, sorted by from */
} table;

struct agg_energy {
	table t[F_COUNT];
	char *buf[F_COUNT]; /* the files' text, split in place; row sources point here */
	char version[17];
};

/* k2: the method for coefficients; 0 (any) or purpose + 1 for factors. */
static uint32_t coef_key(int carrier, int method)
{
	return (uint32_t)(carrier * 2 + method);
}

static uint32_t factor_key(int carrier, int k2)
{
	return (uint32_t)(carrier * 4 + k2);
}

/* ---- errors: "file:line: reason", one a line, the first few kept ---- */

/* The shared error collector (er.h): "file:line: reason" lines. */
typedef er_errs load_ctx;
#define add_error er_errs_add

static int64_t local_day(int64_t t, int offset_s)
{
	return er_local_day(t, offset_s);
}

static const char *day_text(int64_t day, char *buf, size_t cap)
{
	int64_t y;
	unsigned m, d;

	if (day == OPEN_END)
		return "open";
	er_civil_from_days(day, &y, &m, &d);
	snprintf(buf, cap, "%04lld-%02u-%02u", (long long)y, m, d);
	return buf;
}

/* A local date YYYY-MM-DD, nothing else (er_time_parse would also take a
 * time or epoch seconds, which mean nothing here). The date is read at
 * offset 0: a day number names a local calendar day, whatever the city's
 * offset, and lookups turn instants into local days with it. */
static int parse_day(const char *s, int64_t *day)
{
	int64_t t;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return ER_EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return ER_EINVAL;
	if (er_time_parse(s, 10, 0, &t) != 0) /* rejects month 13, 30 February, ... */
		return ER_EINVAL;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	*day = er_days_from_civil(y, m, d);
	return 0;
}

/* More than six significant fraction digits ("0.1234567"; "0.1229000" is
 * fine): finer than the micro-unit the table holds. */
static bool too_fine(const char *s)
{
	const char *dot = strchr(s, '.');
	size_t n;

	if (dot == NULL)
		return false;
	for (n = strspn(dot + 1, "0123456789"); n > 0 && dot[n] == '0'; n--)
		;
	return n > 6;
}

static int push_row(table *t, const erow *r)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		erow *rows = realloc(t->rows, cap * sizeof *rows);
		if (rows == NULL)
			return ER_ENOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	t->rows[t->n++] = *r;
	return 0;
}

/* One data row; reports the first thing wrong with it. */
static void parse_row(load_ctx *c, table *t, int file, char **f)
{
	erow r = {.line = c->line};
	int carrier = agg_carrier_parse(f[0]), k2 = 0;
	const char *what = file == F_COEF ? "coefficient" : "CO2 factor", *unit;
	char b1[16], b2[16], b3[16], b4[16];

	if (carrier == AGG_POWER) {
		add_error(c, "power is a level (kW), not an amount of energy: it has no %s", what);
		return;
	}
	if (carrier == 0) {
		add_error(c, "unknown carrier '%s'", f[0]);
		return;
	}
	if (carrier >= CARRIERS) {
		add_error(c, "'%s' is not an energy carrier: it has no %s", f[0], what);
		return;
	}
	if (file == F_COEF) {
		if (strcmp(f[1], "calorific") == 0) {
			k2 = AGG_CALORIFIC;
		} else if (strcmp(f[1], "equivalent") == 0) {
			k2 = AGG_EQUIVALENT;
		} else {
			add_error(c, "method '%s' is not calorific or equivalent", f[1]);
			return;
		}
		/* GB/T 2589-2020: the equivalent value is the grid's coal per
		 * kWh supplied; no other carrier has one. */
		if (k2 == AGG_EQUIVALENT && carrier != AGG_ELECTRICITY) {
			add_error(c, "method equivalent applies to electricity only, not %s", f[0]);
			return;
		}
		r.key = coef_key(carrier, k2);
	} else {
		if (f[1][0] == 0)
			k2 = 0;
		else if (strcmp(f[1], "fuel") == 0)
			k2 = 1 + AGG_FUEL;
		else if (strcmp(f[1], "feedstock") == 0)
			k2 = 1 + AGG_FEEDSTOCK;
		else if (strcmp(f[1], "renewable") == 0)
			k2 = 1 + AGG_RENEWABLE;
		else {
			add_error(c, "purpose '%s' is not fuel, feedstock, renewable or empty (any purpose)", f[1]);
			return;
		}
		r.key = factor_key(carrier, k2);
	}
	if (f[2][0] == 0) {
		add_error(c, "valid_from is empty: give the first day the value applies, YYYY-MM-DD");
		return;
	}
	if (parse_day(f[2], &r.from) != 0) {
		add_error(c, "valid_from '%s' is not a date YYYY-MM-DD", f[2]);
		return;
	}
	if (f[3][0] == 0) {
		r.to = OPEN_END;
	} else if (parse_day(f[3], &r.to) != 0) {
		add_error(c, "valid_to '%s' is not a date YYYY-MM-DD or empty (open-ended)", f[3]);
		return;
	} else if (r.to <= r.from) {
		add_error(c, "valid_to %s is not after valid_from %s (valid_to is exclusive)", f[3], f[2]);
		return;
	}
	if (f[4][0] == '-') {
		add_error(c, "%s '%s' is negative", value_names[file], f[4]);
		return;
	}
	int rc = er_fx_parse(f[4], strlen(f[4]), &r.micro);
	if (rc != 0 && too_fine(f[4])) {
		add_error(c, "%s '%s' has more than 6 decimals", value_names[file], f[4]);
		return;
	}
	if (rc != 0) {
		add_error(c, "%s '%s' is not a decimal number%s", value_names[file], f[4],
			  rc == ER_ERANGE ? " in range" : "");
		return;
	}
	unit = agg_carrier_unit(carrier);
	if (strcmp(f[5], unit) != 0) {
		add_error(c, "unit '%s' is not %s's unit %s (give the value per %s)", f[5], f[0], unit, unit);
		return;
	}
	if (f[6][0] == 0) {
		add_error(c, "source is empty: say where the value comes from");
		return;
	}
	r.source = f[6];
	/* Tables are tiny: compare with every earlier row of the key, so the
	 * message names both lines. */
	for (size_t i = 0; i < t->n; i++) {
		const erow *o = &t->rows[i];
		if (o->key == r.key && r.from < o->to && o->from < r.to) {
			add_error(c, "[%s, %s) overlaps line %u [%s, %s) for %s %s", day_text(r.from, b1, sizeof b1),
				  day_text(r.to, b2, sizeof b2), (unsigned)o->line, day_text(o->from, b3, sizeof b3),
				  day_text(o->to, b4, sizeof b4), f[0],
				  file == F_COEF ? (k2 == AGG_CALORIFIC ? "calorific" : "equivalent")
						 : purpose_text[k2]);
			return;
		}
	}
	if (push_row(t, &r) != 0) {
		c->oom = true;
		add_error(c, "out of memory");
	}
}

/* Splits buf (len bytes, NUL-terminated) into lines in place. Lines that
 * are blank or start with '#' are comments; the first other line is the
 * header. */
static void parse_file(load_ctx *c, table *t, int file, char *buf, size_t len)
{
	char *line, *f[MAX_FIELDS];
	bool header = false;
	int nf;

	er_lines it;
	uint32_t nul_line;

	if (er_lines_init(&it, buf, len, &nul_line) != 0) {
		c->line = nul_line;
		add_error(c, "a NUL byte: not a text file");
		return;
	}
	while ((line = er_lines_next(&it)) != NULL) {
		c->line = it.line;
		nf = er_csv_split(line, f, MAX_FIELDS);
		if (!header) {
			char got[256] = "";
			size_t n = 0;
			for (int i = 0; i < nf && n < sizeof got; i++)
				n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", i ? "," : "", f[i]);
			if (nf != NFIELDS || strcmp(got, headers[file]) != 0) {
				add_error(c, "header must be '%s'", headers[file]);
				return; /* the rows cannot be read without it */
			}
			header = true;
			continue;
		}
		if (nf < 0) {
			add_error(c,
				  "malformed CSV (unterminated quote, text after a closing quote, or more than %d "
				  "fields)",
				  MAX_FIELDS);
			continue;
		}
		if (nf != NFIELDS) {
			add_error(c, "%d fields, expected %d (%s)", nf, NFIELDS, headers[file]);
			continue;
		}
		parse_row(c, t, file, f);
		if (c->oom)
			return;
	}
	if (!header) {
		c->line = 1;
		add_error(c, "no header line; expected '%s'", headers[file]);
	}
}


static int cmp_row(const void *a, const void *b)
{
	const erow *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

static void index_table(table *t)
{
	if (t->n > 1)
		qsort(t->rows, t->n, sizeof *t->rows, cmp_row);
	for (size_t i = 0; i < t->n; i++) {
		uint32_t k = t->rows[i].key;
		if (t->hi[k] == 0)
			t->lo[k] = (uint32_t)i;
		t->hi[k] = (uint32_t)i + 1;
	}
}

/* The length before the bytes, so that no two pairs of files hash alike
 * by moving bytes from one to the other. */
static void hash_file(XXH3_state_t *st, const char *buf, size_t len)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)((uint64_t)len >> (8 * i));
	XXH3_64bits_update(st, le, sizeof le);
	XXH3_64bits_update(st, buf, len);
}

void agg_energy_free(agg_energy *e)
{
	if (e == NULL)
		return;
	for (int f = 0; f < F_COUNT; f++) {
		free(e->t[f].rows);
		free(e->buf[f]);
	}
	free(e);
}

int agg_energy_load(const char *dir, agg_energy **out, char *err, size_t errlen)
{
	load_ctx c = {.err = err, .errlen = err ? errlen : 0, .max = AGG_ENERGY_MAX_ERRORS};
	agg_energy *e = NULL;
	XXH3_state_t *st = NULL;
	char *path = NULL;
	bool io = false;
	int rc = ER_ENOMEM;

	if (c.errlen > 0)
		err[0] = 0;
	if (out != NULL)
		*out = NULL;
	if (dir == NULL || out == NULL)
		return ER_EINVAL;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--; /* "conf/energy/" names files as "conf/energy/co2.csv" */
	path = malloc(dl + 32);
	e = calloc(1, sizeof *e);
	st = XXH3_createState();
	if (path == NULL || e == NULL || st == NULL || XXH3_64bits_reset(st) != XXH_OK)
		goto fail;
	for (int f = 0; f < F_COUNT; f++) {
		size_t len = 0;
		snprintf(path, dl + 32, "%.*s/%s", (int)dl, dir, file_names[f]);
		c.path = path;
		c.line = 0;
		int r = er_read_file(path, &e->buf[f], &len);
		if (r == ER_ENOMEM)
			goto fail;
		if (r != 0) {
			add_error(&c, "cannot read: %s", strerror(errno));
			io = true;
			continue;
		}
		hash_file(st, e->buf[f], len);
		parse_file(&c, &e->t[f], f, e->buf[f], len);
		if (c.oom)
			goto fail;
	}
	if (c.nerr > 0) {
		if (c.nerr > AGG_ENERGY_MAX_ERRORS && c.errlen > c.errpos + 1)
			snprintf(c.err + c.errpos, c.errlen - c.errpos, "\n... and %d more errors",
				 c.nerr - AGG_ENERGY_MAX_ERRORS);
		rc = io ? ER_EIO : ER_EINVAL;
		goto fail;
	}
	for (int f = 0; f < F_COUNT; f++)
		index_table(&e->t[f]);
	snprintf(e->version, sizeof e->version, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
	free(path);
	*out = e;
	return 0;
fail:
	if (rc == ER_ENOMEM && c.errlen > 0)
		snprintf(err, c.errlen, "%s: out of memory", path ? path : dir);
	XXH3_freeState(st);
	free(path);
	agg_energy_free(e);
	return rc;
}

/* ---- lookups ---- */

/* The row of key k in force on day, or NULL: the last row starting on or
 * before day, if it has not ended. */
static const erow *find(const table *t, uint32_t k, int64_t day)
{
	uint32_t lo = t->lo[k], hi = t->hi[k], first = lo;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->rows[mid].from <= day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == first)
		return NULL;
	const erow *r = &t->rows[lo - 1];
	return day < r->to ? r : NULL;
}

static bool offset_ok(int offset_s)
{
	return offset_s > -DAY_S && offset_s < DAY_S;
}

int agg_energy_coef(const agg_energy *e, int carrier, int method, int64_t t, int offset_s, int64_t *micro,
		    const char **source)
{
	if (e == NULL || micro == NULL || agg_carrier_name(carrier) == NULL ||
	    (method != AGG_CALORIFIC && method != AGG_EQUIVALENT) || !offset_ok(offset_s))
		return ER_EINVAL;
	if (carrier >= CARRIERS)
		return ER_ENOENT; /* power and pollutants: never loaded */
	const erow *r = find(&e->t[F_COEF], coef_key(carrier, method), local_day(t, offset_s));
	if (r == NULL)
		return ER_ENOENT;
	*micro = r->micro;
	if (source != NULL)
		*source = r->source;
	return 0;
}

int agg_energy_factor(const agg_energy *e, int carrier, int purpose, int64_t t, int offset_s, int64_t *micro,
		      const char **source)
{
	if (e == NULL || micro == NULL || agg_carrier_name(carrier) == NULL || purpose < AGG_FUEL ||
	    purpose > AGG_RENEWABLE || !offset_ok(offset_s))
		return ER_EINVAL;
	if (carrier >= CARRIERS)
		return ER_ENOENT;
	int64_t day = local_day(t, offset_s);
	/* A row for the purpose wins over an any-purpose row (README.md). */
	const erow *r = find(&e->t[F_CO2], factor_key(carrier, 1 + purpose), day);
	if (r == NULL)
		r = find(&e->t[F_CO2], factor_key(carrier, 0), day);
	if (r == NULL)
		return ER_ENOENT;
	*micro = r->micro;
	if (source != NULL)
		*source = r->source;
	return 0;
}

const char *agg_energy_version(const agg_energy *e)
{
	return e ? e->version : NULL;
}

/* ---- what counts, and in which scope ---- */

bool agg_energy_counts(int carrier, bool count_water)
{
	switch (carrier) {
	case AGG_ELECTRICITY:
	case AGG_HEAT:
	case AGG_STEAM:
	case AGG_GAS:
	case AGG_COAL:
	case AGG_OIL:
	case AGG_PV: return true;
	/* DOMAIN.md 4: water is an energy-consuming medium, counted in tce
	 * only where the site config says so. */
	case AGG_WATER: return count_water;
	default: return false; /* power is a level; pollutants are not energy */
	}
}

static const char *const scope_names[] = {"all", "no-feedstock", "control"};

bool agg_scope_includes(int scope, int purpose)
{
	if (purpose < AGG_FUEL || purpose > AGG_RENEWABLE)
		return false;
	switch (scope) {
	case AGG_SCOPE_ALL: return true;
	case AGG_SCOPE_NO_FEEDSTOCK: return purpose != AGG_FEEDSTOCK;
	/* DOMAIN.md 4: budget and total-consumption-control figures exclude
	 * feedstock and new renewable energy. */
	case AGG_SCOPE_CONTROL: return purpose == AGG_FUEL;
	default: return false;
	}
}

const char *agg_scope_name(int scope)
{
	return scope >= AGG_SCOPE_ALL && scope <= AGG_SCOPE_CONTROL ? scope_names[scope] : "?";
}

int agg_scope_parse(const char *s)
{
	for (int i = AGG_SCOPE_ALL; s != NULL && i <= AGG_SCOPE_CONTROL; i++)
		if (strcmp(s, scope_names[i]) == 0)
			return i;
	return ER_EINVAL;
}

/* ---- display ---- */

size_t agg_pico_format(agg_pico v, int shift, int decimals, char *buf, size_t cap)
{
	u128 mag = v < 0 ? (u128)0 - (u128)v : (u128)v;
	int drop = 12 + shift - decimals; /* digits rounded away; < 0: zeros appended */
	char rev[48], text[128];
	int nd = 0, len = 0;

	if (cap > 0)
		buf[0] = 0;
	if (shift < -12 || shift > 38 || decimals < 0 || decimals > 38)
		return 0;
	if (drop > 38) {
		mag = 0; /* |v| <= 2^127 < 10^39 / 2 rounds to zero; 10^39 would not fit */
	} else if (drop > 0) {
		u128 p = 1;
		for (int i = 0; i < drop; i++)
			p *= 10;
		u128 q = mag / p, r = mag % p, half = p / 2;
		/* GB/T 8170-2008 3.2: more than half up, less down, exactly
		 * half to the even neighbour. */
		if (r > half || (r == half && (q & 1)))
			q++;
		mag = q;
	}
	bool neg = v < 0 && mag != 0;
	do {
		rev[nd++] = (char)('0' + (int)(mag % 10));
		mag /= 10;
	} while (mag != 0);
	/* the rounded digits, then the appended zeros, with at least one
	 * digit before the point */
	int zeros = drop < 0 ? -drop : 0, total = nd + zeros;
	if (neg)
		text[len++] = '-';
	if (total < decimals + 1)
		total = decimals + 1; /* leading zeros: "0.0002" */
	/* pos numbers the printed digits from the right, 1 = the last */
	for (int pos = total; pos > 0; pos--) {
		int i = pos - 1 - zeros; /* rev index of this digit, if it has one */
		if (pos == decimals)
			text[len++] = '.';
		text[len++] = pos > zeros && i < nd ? rev[i] : '0';
	}
	text[len] = 0;
	snprintf(buf, cap, "%s", text);
	return (size_t)len;
}
