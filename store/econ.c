/* econ.c: economic figures with revisions (see econ.h; DOMAIN.md 4 and 5).
 *
 * One row per (level, entity, kind, period) in the `econ` database; the row
 * holds the latest revision only, because every intensity must follow a
 * revision and nothing asks for a superseded figure. Invariants:
 *   - a stored row never goes back to a lower revision (sto_econ_put
 *     refuses with ER_EEXIST); an equal revision is a correction and
 *     replaces;
 *   - values are never negative and keys are always valid periods (checked
 *     at the boundary), so totals and ranges need no further checks;
 *   - denominators are summed in int64 micro-units with overflow checks,
 *     and intensities are formatted from exact int128 ratios: nothing is
 *     rounded before display (DOMAIN.md 5) except where sto_change_ratio
 *     documents its long double fallback.
 * The kind byte is opaque here, so issue 7's yearly statistics need names,
 * not a new layout.
 */
#include "econ.h"

#include <assert.h>
#include <lmdb.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h" /* AGG_CODE_MAX: CSV entity codes obey the registry's rule */
#include "store_internal.h"

#define ECON_VAL_VERSION 1

/* ---- byte order (store.c keeps its own copies static) ---- */


/* ---- keys, values, names ---- */

void sto_econ_key_encode(const sto_econ_key *k, uint8_t out[STO_ECON_KEY_LEN])
{
	out[0] = k->level;
	put_be64(out + 1, k->entity);
	out[9] = k->kind;
	out[10] = k->ptype;
	/* Years are 1900-9999, so two unbiased big-endian bytes sort them. */
	out[11] = (uint8_t)((uint32_t)k->year >> 8);
	out[12] = (uint8_t)k->year;
	out[13] = k->index;
}

void sto_econ_key_decode(const uint8_t in[STO_ECON_KEY_LEN], sto_econ_key *k)
{
	k->level = in[0];
	k->entity = get_be64(in + 1);
	k->kind = in[9];
	k->ptype = in[10];
	k->year = (int32_t)(in[11] << 8 | in[12]);
	k->index = in[13];
}

void sto_econ_val_encode(const sto_econ_val *v, uint8_t out[STO_ECON_VAL_LEN])
{
	out[0] = ECON_VAL_VERSION;
	put_le64(out + 1, (uint64_t)v->value);
	put_le32(out + 9, v->revision);
	put_le64(out + 13, (uint64_t)v->received);
}

int sto_econ_val_decode(const uint8_t in[STO_ECON_VAL_LEN], sto_econ_val *v)
{
	const uint8_t *p = in;
	if (p[0] != ECON_VAL_VERSION)
		return ER_EVERSION;
	v->value = (er_fx)get_le64(p + 1);
	v->revision = get_le32(p + 9);
	v->received = (int64_t)get_le64(p + 13);
	return 0;
}

static int val_decode(const MDB_val *d, sto_econ_val *v)
{
	if (d->mv_size < STO_ECON_VAL_LEN)
		return ER_EVERSION;
	return sto_econ_val_decode(d->mv_data, v);
}

static bool valid_period(int ptype, int32_t year, int index)
{
	if (year < STO_ECON_YEAR_MIN || year > STO_ECON_YEAR_MAX)
		return false;
	switch (ptype) {
	case STO_P_MONTH: return index >= 1 && index <= 12;
	case STO_P_QUARTER: return index >= 1 && index <= 4;
	case STO_P_YEAR: return index == 0;
	}
	return false;
}

static bool valid_level(int level)
{
	return level == STO_ENTERPRISE || level == STO_DISTRICT || level == STO_CITY;
}

bool sto_econ_key_valid(const sto_econ_key *k)
{
	return valid_level(k->level) && k->kind != 0 && valid_period(k->ptype, k->year, k->index);
}

static const char *const kind_names[] = {
	[STO_ECON_VALUE_ADDED] = "value_added", [STO_ECON_OUTPUT] = "output",	      [STO_ECON_GDP] = "gdp",
	[STO_ECON_EMPLOYEES] = "employees",	[STO_ECON_LAND] = "land_km2",	      [STO_ECON_WASTEWATER] = "wastewater_t",
	[STO_ECON_SOLID_WASTE] = "solid_waste_t", [STO_ECON_COD] = "cod_t",	      [STO_ECON_NH3N] = "nh3n_t",
	[STO_ECON_SO2] = "so2_t",		[STO_ECON_NOX] = "nox_t",
};
#define KIND_NAMES (int)(sizeof kind_names / sizeof kind_names[0])

const char *sto_econ_kind_name(int kind)
{
	return kind >= 1 && kind < KIND_NAMES && kind_names[kind] ? kind_names[kind] : "?";
}

int sto_econ_kind_parse(const char *s)
{
	if (s == NULL)
		return 0;
	for (int i = 1; i < KIND_NAMES; i++)
		if (kind_names[i] && strcmp(s, kind_names[i]) == 0)
			return i;
	return 0;
}

/* ---- periods ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int sto_period_parse(const char *s, sto_econ_key *k)
{
	int y = 0, i;

	if (s == NULL || k == NULL)
		return ER_EINVAL;
	/* Exactly four digits: "26" or "02026" would be guesses. The checks
	 * run left to right, so nothing past the terminating NUL is read. */
	for (i = 0; i < 4; i++) {
		if (!is_digit(s[i]))
			return ER_EINVAL;
		y = y * 10 + (s[i] - '0');
	}
	if (y < STO_ECON_YEAR_MIN || y > STO_ECON_YEAR_MAX)
		return ER_EINVAL;
	if (s[4] == 0) {
		k->ptype = STO_P_YEAR;
		k->year = y;
		k->index = 0;
		return 0;
	}
	if (s[4] != '-')
		return ER_EINVAL;
	if (s[5] == 'Q') {
		if (s[6] < '1' || s[6] > '4' || s[7] != 0)
			return ER_EINVAL;
		k->ptype = STO_P_QUARTER;
		k->year = y;
		k->index = (uint8_t)(s[6] - '0');
		return 0;
	}
	/* Two-digit months only: one spelling per period, so that a
	 * formatted period parses back to itself and "2026-1" (a typo for
	 * 2026-10? 2026-11?) is not silently taken as January. */
	if (!is_digit(s[5]) || !is_digit(s[6]) || s[7] != 0)
		return ER_EINVAL;
	i = (s[5] - '0') * 10 + (s[6] - '0');
	if (i < 1 || i > 12)
		return ER_EINVAL;
	k->ptype = STO_P_MONTH;
	k->year = y;
	k->index = (uint8_t)i;
	return 0;
}

size_t sto_period_format(const sto_econ_key *k, char *buf, size_t cap)
{
	int n;

	if (k == NULL || !valid_period(k->ptype, k->year, k->index))
		n = snprintf(buf, cap, "?");
	else if (k->ptype == STO_P_YEAR)
		n = snprintf(buf, cap, "%04d", (int)k->year);
	else if (k->ptype == STO_P_QUARTER)
		n = snprintf(buf, cap, "%04d-Q%u", (int)k->year, (unsigned)k->index);
	else
		n = snprintf(buf, cap, "%04d-%02u", (int)k->year, (unsigned)k->index);
	return n < 0 ? 0 : (size_t)n;
}

/* The first month and the number of months of a valid period. */
static void period_months(int ptype, int index, unsigned *first, unsigned *count)
{
	switch (ptype) {
	case STO_P_MONTH:
		*first = (unsigned)index;
		*count = 1;
		break;
	case STO_P_QUARTER:
		*first = (unsigned)(index - 1) * 3 + 1;
		*count = 3;
		break;
	default:
		*first = 1;
		*count = 12;
		break;
	}
}

void sto_period_range(const sto_econ_key *k, int offset_s, int64_t *from, int64_t *to)
{
	unsigned m0, n, m1;
	int64_t y1;

	assert(k != NULL && valid_period(k->ptype, k->year, k->index));
	period_months(k->ptype, k->index, &m0, &n);
	m1 = m0 + n;
	y1 = k->year;
	if (m1 > 12) {
		m1 -= 12;
		y1++;
	}
	/* Local midnight of the first day, moved to UTC: a city east of
	 * Greenwich starts its month before UTC does (DOMAIN.md 2). */
	*from = er_days_from_civil(k->year, m0, 1) * 86400 - offset_s;
	*to = er_days_from_civil(y1, m1, 1) * 86400 - offset_s;
}

/* ---- put, get, walk ---- */

int sto_econ_put(sto_txn *t, const sto_econ_key *k, const sto_econ_val *v)
{
	uint8_t kb[STO_ECON_KEY_LEN], vb[STO_ECON_VAL_LEN];
	MDB_val key = {STO_ECON_KEY_LEN, kb}, val;
	sto_econ_val old;
	int rc;

	if (t == NULL || k == NULL || v == NULL || t->read || !sto_econ_key_valid(k) || v->value < 0)
		return ER_EINVAL;
	sto_econ_key_encode(k, kb);
	rc = mdb_get(t->txn, t->env->dbi[DB_ECON], &key, &val);
	if (rc == 0) {
		/* An unreadable row is not overwritten: it may be a newer
		 * revision in a layout this binary does not know. */
		if ((rc = val_decode(&val, &old)) != 0)
			return rc;
		if (old.revision > v->revision)
			return ER_EEXIST;
	} else if (rc != MDB_NOTFOUND) {
		return sto__map_rc(rc);
	}
	sto_econ_val_encode(v, vb);
	val.mv_size = STO_ECON_VAL_LEN;
	val.mv_data = vb;
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_ECON], &key, &val, 0));
}

int sto_econ_get(sto_txn *t, const sto_econ_key *k, sto_econ_val *v)
{
	uint8_t kb[STO_ECON_KEY_LEN];
	MDB_val key = {STO_ECON_KEY_LEN, kb}, val;
	int rc;

	if (t == NULL || k == NULL || v == NULL || !sto_econ_key_valid(k))
		return ER_EINVAL;
	sto_econ_key_encode(k, kb);
	rc = mdb_get(t->txn, t->env->dbi[DB_ECON], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	return val_decode(&val, v);
}

int sto_econ_each(sto_txn *t, int level, uint64_t entity, sto_econ_fn *fn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val key, val;
	uint8_t prefix[9];
	int rc, out = 0;

	if (t == NULL || fn == NULL || !valid_level(level))
		return ER_EINVAL;
	prefix[0] = (uint8_t)level;
	put_be64(prefix + 1, entity);
	rc = mdb_cursor_open(t->txn, t->env->dbi[DB_ECON], &cur);
	if (rc != 0)
		return sto__map_rc(rc);
	key.mv_size = sizeof prefix;
	key.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		sto_econ_key k;
		sto_econ_val v;
		if (key.mv_size < sizeof prefix || memcmp(key.mv_data, prefix, sizeof prefix) != 0)
			break;
		if (key.mv_size != STO_ECON_KEY_LEN)
			continue;
		sto_econ_key_decode(key.mv_data, &k);
		/* A row that cannot be read stops the walk loudly: skipping it
		 * would make a listing of denominators silently incomplete. */
		if ((out = val_decode(&val, &v)) != 0 || (out = fn(ctx, &k, &v)) != 0)
			break;
	}
	if (out == 0 && rc != 0 && rc != MDB_NOTFOUND)
		out = sto__map_rc(rc);
	mdb_cursor_close(cur);
	return out;
}

/* ---- denominators ---- */

/* Sums the figures of count consecutive sub-periods (ptype, first..) of
 * base's entity and kind. ER_ENOENT with *gap the first one missing. */
static int sum_parts(sto_txn *t, const sto_econ_key *base, int ptype, int first, int count, er_fx *sum, int *gap)
{
	sto_econ_key k = *base;
	sto_econ_val v;
	er_fx s = 0;
	int rc;

	k.ptype = (uint8_t)ptype;
	for (int i = first; i < first + count; i++) {
		k.index = (uint8_t)i;
		rc = sto_econ_get(t, &k, &v);
		if (rc == ER_ENOENT) {
			*gap = i;
			return ER_ENOENT;
		}
		if (rc != 0)
			return rc;
		if (__builtin_add_overflow(s, v.value, &s))
			return ER_ERANGE;
	}
	*sum = s;
	return 0;
}

static void kind_label(int kind, char *buf, size_t cap)
{
	const char *n = sto_econ_kind_name(kind);
	if (n[0] != '?')
		snprintf(buf, cap, "%s", n);
	else
		snprintf(buf, cap, "kind %d", kind);
}

int sto_econ_total(sto_txn *t, int level, uint64_t entity, int kind, int ptype, int32_t year, int index, er_fx *value,
		   const char **how, char *missing, size_t cap)
{
	static const char *own[] = {"?", "month", "quarter", "year"};
	sto_econ_key k;
	sto_econ_val v;
	char what[24], period[16];
	int rc, gap_q = 0, gap_m = 0;
	er_fx sum = 0;

	if (t == NULL || value == NULL || how == NULL || kind < 1 || kind > 255 || !valid_level(level) ||
	    !valid_period(ptype, year, index))
		return ER_EINVAL;
	if (missing != NULL && cap > 0)
		missing[0] = 0;
	memset(&k, 0, sizeof k);
	k.level = (uint8_t)level;
	k.entity = entity;
	k.kind = (uint8_t)kind;
	k.ptype = (uint8_t)ptype;
	k.year = year;
	k.index = (uint8_t)index;

	/* The period's own figure wins even when its parts are stored and
	 * sum to something else: a bureau's annual figure is the final one,
	 * and the quarterly ones are not revised to match it. */
	rc = sto_econ_get(t, &k, &v);
	if (rc == 0) {
		*value = v.value;
		*how = own[ptype];
		return 0;
	}
	if (rc != ER_ENOENT)
		return rc;

	if (ptype == STO_P_YEAR) {
		rc = sum_parts(t, &k, STO_P_QUARTER, 1, 4, &sum, &gap_q);
		if (rc == 0) {
			*value = sum;
			*how = "4 quarters";
			return 0;
		}
		if (rc != ER_ENOENT)
			return rc;
		rc = sum_parts(t, &k, STO_P_MONTH, 1, 12, &sum, &gap_m);
		if (rc == 0) {
			*value = sum;
			*how = "12 months";
			return 0;
		}
	} else if (ptype == STO_P_QUARTER) {
		rc = sum_parts(t, &k, STO_P_MONTH, (index - 1) * 3 + 1, 3, &sum, &gap_m);
		if (rc == 0) {
			*value = sum;
			*how = "3 months";
			return 0;
		}
	} else {
		rc = ER_ENOENT;
	}
	if (rc != ER_ENOENT)
		return rc;

	if (missing != NULL && cap > 0) {
		kind_label(kind, what, sizeof what);
		sto_period_format(&k, period, sizeof period);
		if (ptype == STO_P_YEAR)
			snprintf(missing, cap,
				 "%s for %s is not available: there is no figure for the year, %04d-Q%d is the "
				 "first missing quarter and %04d-%02d the first missing month",
				 what, period, (int)year, gap_q, (int)year, gap_m);
		else if (ptype == STO_P_QUARTER)
			snprintf(missing, cap,
				 "%s for %s is not available: there is no figure for the quarter and %04d-%02d is "
				 "the first missing month",
				 what, period, (int)year, gap_m);
		else
			snprintf(missing, cap, "%s for %s is not available: there is no figure for the month", what,
				 period);
	}
	return ER_ENOENT;
}

/* ---- CSV import ---- */

static const char csv_header[] = "level,entity,kind,period,value,revision";
#define CSV_FIELDS     6
#define CSV_MAX_FIELDS 16 /* more than the 6 expected, so a long row still gets a field count */

const char *sto_econ_csv_header(void)
{
	return csv_header;
}

typedef struct csv_row {
	sto_econ_key k;
	sto_econ_val v;
	const char *code; /* points into the parse's copy of the text */
	unsigned line;
} csv_row;

typedef struct csv_err {
	unsigned line, seq; /* seq keeps errors of one line in the order found */
	char *text;         /* "name:line: reason\n" */
} csv_err;

typedef struct csv_ctx {
	const char *name;
	csv_row *rows;
	size_t nrows, caprows;
	csv_err *errs;
	size_t nerrs;
	bool oom;
} csv_ctx;

static void csv_error(csv_ctx *c, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void csv_error(csv_ctx *c, unsigned line, const char *fmt, ...)
{
	char msg[512], *text;
	va_list ap;

	if (c->nerrs >= STO_ECON_MAX_ERRORS)
		return;
	if (c->errs == NULL) {
		c->errs = calloc(STO_ECON_MAX_ERRORS, sizeof *c->errs);
		if (c->errs == NULL) {
			c->oom = true;
			return;
		}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (asprintf(&text, "%s:%u: %s\n", c->name, line, msg) < 0) {
		c->oom = true;
		return;
	}
	c->errs[c->nerrs].line = line;
	c->errs[c->nerrs].seq = (unsigned)c->nerrs;
	c->errs[c->nerrs].text = text;
	c->nerrs++;
}

static bool valid_code(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AGG_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* The value field: a decimal >= 0 in micro-units, with the reason when not. */
static const char *parse_value(const char *s, er_fx *out)
{
	int rc;
	const char *dot;
	size_t frac = 0;

	if (s[0] == 0)
		return "is empty";
	if (s[0] == '-')
		return "is negative";
	rc = er_fx_parse(s, strlen(s), out);
	if (rc == ER_EINVAL)
		return "is not a decimal number";
	if (rc == ER_ERANGE) {
		if ((dot = strchr(s, '.')) != NULL)
			while (is_digit(dot[1 + frac]))
				frac++;
		return frac > 6 ? "has more than 6 decimals (a micro-unit is the finest)"
				: "is too large (at most 9e12)";
	}
	return rc == 0 ? NULL : "is not a decimal number";
}

static bool parse_revision(const char *s, uint32_t *out)
{
	uint64_t r = 0;
	size_t n = strlen(s);

	*out = 0;
	if (n == 0)
		return true; /* a first publication */
	if (n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		r = r * 10 + (uint64_t)(s[i] - '0');
	}
	if (r > UINT32_MAX)
		return false;
	*out = (uint32_t)r;
	return true;
}

static void csv_row_parse(csv_ctx *c, unsigned line, char **f, int64_t received)
{
	csv_row r;
	const char *why;

	memset(&r, 0, sizeof r);
	r.line = line;
	r.code = f[1];
	r.k.level = (uint8_t)sto_level_parse(f[0]);
	r.k.kind = (uint8_t)sto_econ_kind_parse(f[2]);
	r.v.received = received;
	/* One reason per row, the first found: a row with a bad level is
	 * usually shifted, and its later fields would only add noise. */
	if (!valid_level(r.k.level)) {
		csv_error(c, line, "level '%.64s' is not enterprise, district or city", f[0]);
	} else if (!valid_code(f[1])) {
		csv_error(c, line, "entity '%.64s' must be 1-%d characters of A-Z a-z 0-9 . _ -", f[1], AGG_CODE_MAX);
	} else if (r.k.kind == 0) {
		csv_error(c, line,
			  "kind '%.64s' is not value_added, output, gdp or a yearly statistic (employees, land_km2, "
			  "wastewater_t, solid_waste_t, cod_t, nh3n_t, so2_t, nox_t)",
			  f[2]);
	} else if (sto_period_parse(f[3], &r.k) != 0) {
		csv_error(c, line,
			  "period '%.64s' is not YYYY-MM (a month), YYYY-Qn (a quarter) or YYYY (a year) with a "
			  "year from %d to %d",
			  f[3], STO_ECON_YEAR_MIN, STO_ECON_YEAR_MAX);
	} else if ((why = parse_value(f[4], &r.v.value)) != NULL) {
		csv_error(c, line, "value '%.64s' %s", f[4], why);
	} else if (!parse_revision(f[5], &r.v.revision)) {
		csv_error(c, line, "revision '%.64s' is not empty or a whole number from 0 to %u", f[5],
			  (unsigned)UINT32_MAX);
	} else {
		r.k.entity = er_key(f[1], strlen(f[1]));
		if (c->nrows == c->caprows) {
			size_t cap = c->caprows ? c->caprows * 2 : 64;
			csv_row *n = realloc(c->rows, cap * sizeof *n);
			if (n == NULL) {
				c->oom = true;
				return;
			}
			c->rows = n;
			c->caprows = cap;
		}
		c->rows[c->nrows++] = r;
	}
}

static int row_cmp(const void *a, const void *b)
{
	const csv_row *x = *(const csv_row *const *)a, *y = *(const csv_row *const *)b;
	uint8_t kx[STO_ECON_KEY_LEN], ky[STO_ECON_KEY_LEN];
	int d;

	sto_econ_key_encode(&x->k, kx);
	sto_econ_key_encode(&y->k, ky);
	if ((d = memcmp(kx, ky, sizeof kx)) != 0)
		return d;
	if ((d = strcmp(x->code, y->code)) != 0)
		return d;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Two rows for one period in one file: the store would keep whichever was
 * put last, so the file's meaning would hang on row order. */
static void csv_duplicates(csv_ctx *c)
{
	csv_row **p;
	char period[16];

	if (c->nrows < 2)
		return;
	p = malloc(c->nrows * sizeof *p);
	if (p == NULL) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < c->nrows; i++)
		p[i] = &c->rows[i];
	qsort(p, c->nrows, sizeof *p, row_cmp);
	for (size_t i = 1; i < c->nrows; i++) {
		const csv_row *a = p[i - 1], *b = p[i];
		if (a->k.level == b->k.level && a->k.entity == b->k.entity && a->k.kind == b->k.kind &&
		    a->k.ptype == b->k.ptype && a->k.year == b->k.year && a->k.index == b->k.index &&
		    strcmp(a->code, b->code) == 0) {
			sto_period_format(&b->k, period, sizeof period);
			csv_error(c, b->line,
				  "%s %s %s %s repeats line %u; give each period once per file (its latest revision)",
				  sto_level_name(b->k.level), b->code, sto_econ_kind_name(b->k.kind), period, a->line);
		}
	}
	free(p);
}

static int err_cmp(const void *a, const void *b)
{
	const csv_err *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Joins the errors in line order into one malloc'd text (NULL when out of
 * memory: the ER_EINVAL still says the import was refused). */
static char *csv_join_errors(csv_ctx *c)
{
	size_t len = 0, at = 0;
	char *s;

	qsort(c->errs, c->nerrs, sizeof *c->errs, err_cmp);
	for (size_t i = 0; i < c->nerrs; i++)
		len += strlen(c->errs[i].text);
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < c->nerrs; i++) {
		size_t n = strlen(c->errs[i].text);
		memcpy(s + at, c->errs[i].text, n);
		at += n;
	}
	s[at] = 0;
	return s;
}

int sto_econ_csv_parse(const char *text, const char *name, sto_econ_csv_fn *fn, void *ctx, char **errors,
		       uint32_t *rows)
{
	csv_ctx c;
	char *buf, *line, *next, *f[CSV_MAX_FIELDS];
	unsigned lineno = 0;
	uint32_t nrows = 0;
	bool header = false;
	int64_t received = er_now(); /* one arrival time for the whole file */
	int nf, rc = 0;

	if (errors != NULL)
		*errors = NULL;
	if (rows != NULL)
		*rows = 0;
	if (fn == NULL)
		return ER_EINVAL;
	memset(&c, 0, sizeof c);
	c.name = name != NULL ? name : "econ.csv";
	buf = strdup(text != NULL ? text : "");
	if (buf == NULL)
		return ER_ENOMEM;

	/* Pass 1: validate every row, keeping the good ones. */
	for (line = buf; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = 0;
		lineno++;
		if (lineno == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
		    (unsigned char)line[2] == 0xBF)
			line += 3; /* a UTF-8 byte-order mark from a spreadsheet */
		char *p = line;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == 0 || *p == '#')
			continue;
		nf = er_csv_split(line, f, CSV_MAX_FIELDS);
		if (!header) {
			char got[128] = "";
			for (int i = 0; i < nf; i++) {
				if (i > 0)
					strncat(got, ",", sizeof got - strlen(got) - 1);
				strncat(got, f[i], sizeof got - strlen(got) - 1);
			}
			if (strcmp(got, csv_header) != 0) {
				/* Without the header the columns cannot be
				 * trusted, so nothing after it is read. */
				csv_error(&c, lineno, "header must be '%s'", csv_header);
				break;
			}
			header = true;
			continue;
		}
		nrows++;
		if (nf < 0) {
			csv_error(&c, lineno,
				  "malformed CSV (unterminated quote, text after a closing quote, or more than %d "
				  "fields)",
				  CSV_MAX_FIELDS);
			continue;
		}
		if (nf != CSV_FIELDS) {
			csv_error(&c, lineno, "%d fields, expected %d (%s); leave revision empty for 0", nf, CSV_FIELDS,
				  csv_header);
			continue;
		}
		csv_row_parse(&c, lineno, f, received);
	}
	if (!header && c.nerrs == 0)
		csv_error(&c, 1, "no header line; expected '%s'", csv_header);
	csv_duplicates(&c);
	if (rows != NULL)
		*rows = nrows;

	if (c.nerrs > 0) {
		rc = ER_EINVAL;
		if (errors != NULL)
			*errors = csv_join_errors(&c);
	} else if (c.oom) {
		rc = ER_ENOMEM;
	} else {
		/* Pass 2: every row is good; hand them over in file order. */
		for (size_t i = 0; i < c.nrows && rc == 0; i++)
			rc = fn(ctx, &c.rows[i].k, &c.rows[i].v, c.rows[i].code);
	}
	for (size_t i = 0; i < c.nerrs; i++)
		free(c.errs[i].text);
	free(c.errs);
	free(c.rows);
	free(buf);
	return rc;
}

/* ---- intensity arithmetic ---- */

typedef unsigned __int128 u128;
#define I128_MAX ((__int128)(~(u128)0 >> 1))

/* |x| without overflow, INT128_MIN included (2^127 fits unsigned). */
static u128 mag(__int128 x)
{
	return x < 0 ? (u128)0 - (u128)x : (u128)x;
}

static u128 gcd128(u128 a, u128 b)
{
	while (b != 0) {
		u128 r = a % b;
		a = b;
		b = r;
	}
	return a;
}

/* One decimal digit of r/b (r < b): floor(10r / b), leaving 10r mod b in
 * r. 10r is formed as ten additions modulo b, each kept below b, because
 * 10r itself overflows 128 bits once b passes 2^124. */
static int next_digit(u128 *r, u128 b)
{
	u128 acc = 0, gap = b - *r; /* acc + r >= b exactly when acc >= gap */
	int d = 0;

	for (int i = 0; i < 10; i++) {
		if (acc >= gap) {
			acc -= gap;
			d++;
		} else {
			acc += *r;
		}
	}
	*r = acc;
	return d;
}

static size_t u128_digits(u128 v, char *out)
{
	char tmp[40];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t sto_ratio_format(__int128 num, __int128 den, int decimals, char *buf, size_t cap)
{
	/* sign, 39 digits of 2^127 + 1, point, decimals, NUL */
	char out[1 + 39 + 1 + STO_RATIO_MAX_DECIMALS + 1], frac[STO_RATIO_MAX_DECIMALS];
	u128 a, b, ip, r;
	size_t n = 0;
	bool neg, up, zero;
	int i, last;

	if (decimals < 0 || decimals > STO_RATIO_MAX_DECIMALS) {
		if (cap > 0)
			buf[0] = 0;
		return 0;
	}
	if (den == 0) {
		int k = snprintf(buf, cap, "n/a");
		return k < 0 ? 0 : (size_t)k;
	}
	a = mag(num);
	b = mag(den);
	neg = (num < 0) != (den < 0);
	ip = a / b;
	r = a % b;
	for (i = 0; i < decimals; i++)
		frac[i] = (char)('0' + next_digit(&r, b));
	/* GB/T 8170: compare the exact rest r/b with one half; at exactly
	 * one half round to the even digit. r < b <= 2^127, so 2r fits. */
	last = decimals > 0 ? frac[decimals - 1] - '0' : (int)(ip % 10);
	up = r * 2 > b || (r * 2 == b && (last & 1));
	if (up) {
		for (i = decimals - 1; i >= 0; i--) {
			if (frac[i] != '9') {
				frac[i]++;
				break;
			}
			frac[i] = '0';
		}
		if (i < 0)
			ip++; /* ip <= 2^127, so no overflow */
	}
	zero = ip == 0;
	for (i = 0; i < decimals && zero; i++)
		zero = frac[i] == '0';
	if (neg && !zero)
		out[n++] = '-';
	n += u128_digits(ip, out + n);
	if (decimals > 0) {
		out[n++] = '.';
		memcpy(out + n, frac, (size_t)decimals);
		n += (size_t)decimals;
	}
	out[n] = 0;
	if (cap > 0) {
		size_t k = n < cap - 1 ? n : cap - 1;
		memcpy(buf, out, k);
		buf[k] = 0;
	}
	return n;
}

void sto_change_ratio(__int128 e_t, __int128 v_t, __int128 e_0, __int128 v_0, __int128 *num, __int128 *den)
{
	u128 a, b, c, d, g, p, q;
	bool neg;

	/* I_t undefined (v_t 0), I_0 undefined (v_0 0) or zero (e_0 0):
	 * no change can be stated. */
	if (v_t == 0 || v_0 == 0 || e_0 == 0) {
		*num = 0;
		*den = 0;
		return;
	}
	/* I_t / I_0 = (e_t * v_0) / (v_t * e_0) = (a * d) / (b * c) after
	 * dividing out every common factor, which keeps the products small
	 * whenever the inputs share a scale (pico-kgce and micro-yuan figures
	 * are mostly multiples of large powers of ten). */
	neg = ((e_t < 0) ^ (v_t < 0) ^ (e_0 < 0) ^ (v_0 < 0)) && e_t != 0;
	a = mag(e_t);
	b = mag(v_t);
	c = mag(e_0);
	d = mag(v_0);
	g = gcd128(a, c); /* c != 0, so g != 0 */
	a /= g;
	c /= g;
	g = gcd128(b, d);
	b /= g;
	d /= g;
	g = gcd128(a, b); /* b != 0 */
	a /= g;
	b /= g;
	g = gcd128(d, c);
	d /= g;
	c /= g;
	/* change = ±p/q - 1 = (±p - q) / q, in int128 when p and q (and for
	 * a negative ratio p + q) stay below 2^127. */
	if (!__builtin_mul_overflow(a, d, &p) && !__builtin_mul_overflow(b, c, &q) && p <= (u128)I128_MAX &&
	    q <= (u128)I128_MAX && (!neg || p + q <= (u128)I128_MAX)) {
		*num = (neg ? -(__int128)p : (__int128)p) - (__int128)q;
		*den = (__int128)q;
		return;
	}
	/* Fallback: the exact fraction needs more than 128 bits (e.g.
	 * energies near 1e30 pico-kgce with values near 1e15 that share no
	 * factors). long double carries 64 mantissa bits, so the ratio is
	 * within ~3e-19 relative, and it is returned at a scale of 10^18,
	 * far finer than any displayed decimal. */
	{
		long double ratio = ((long double)a / (long double)b) * ((long double)d / (long double)c);
		long double ch = (neg ? -ratio : ratio) - 1.0L;
		if (!isfinite(ch) || fabsl(ch) >= 1e38L) {
			*num = 0;
			*den = 0;
		} else if (fabsl(ch) < 1e18L) {
			*num = (__int128)roundl(ch * 1e18L); /* |num| < 1e36 */
			*den = (__int128)1000000000000000000LL;
		} else {
			*num = (__int128)roundl(ch);
			*den = 1;
		}
	}
}
