/* tiers.c: the three-tier glue (README "Three tiers", DESIGN.md).
 *
 * On a district node: what goes into the outbox. Rollup deltas come from
 * the flusher, economic figures from an EconBatch or an import, and the
 * registry announcement from every import that changed the registry; each
 * is appended in the write transaction that commits it, so the outbox
 * holds exactly what the district committed, in commit order, and the
 * city never receives a row for an entity it has not been told about.
 *
 * On a city node: announcements. An announcement is a district node's
 * whole registry. The city imports it (all or nothing, the same rules as a
 * file import: a row that would change a registered entity is refused)
 * and records the node as the owner of the districts it lists. An
 * announcement is refused whole when one of its districts belongs to
 * another district node, or when it lists an enterprise or station of a
 * district it does not list itself, or a meter of an enterprise it does
 * not list (one enterprise in two districts).
 * Imports run one at a time (import_lock): that is what makes the registry
 * lookups here safe outside an epoch section, since only an import
 * retires registry memory.
 */
#include "node.h"

#include "econ.h"
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ck_epoch.h>
#include <xxhash.h>

/* ---- district: the outbox ---- */

static int outbox_entry(node *n, sto_txn *t, const pb_rollup_row *rows, size_t nrows, const node_outbox_extra *x)
{
	sto_outbox_info info;
	uint8_t *buf;
	size_t len;
	int rc = sto_outbox_info_get(t, &info);

	if (rc != 0)
		return rc;
	pb_msg m = {.type = PB_ROLLUP_BATCH};
	pb_rollup_batch *b = &m.u.rollup_batch;
	b->sender = n->cfg.name;
	b->seq = info.next;
	b->created = er_now();
	b->rows = rows;
	b->nrows = nrows;
	if (x != NULL) {
		b->econ = x->econ;
		b->necon = x->necon;
		b->events = x->events;
		b->event_len = x->event_len;
		b->nevents = x->nevents;
		if (x->reg != NULL) {
			b->has_registry = true;
			b->registry = *x->reg;
		}
	}
	if ((rc = pb_encode(&m, &buf, &len)) != 0)
		return rc;
	rc = sto_outbox_append(t, b->seq, b->created, buf, len);
	free(buf);
	if (rc == 0)
		atomic_fetch_add_explicit(&n->c[NODE_C_OUTBOX_APPENDED], 1, memory_order_relaxed);
	return rc;
}

int node__outbox_put(node *n, sto_txn *t, const pb_rollup_row *rows, size_t nrows, const node_outbox_extra *x)
{
	size_t per = n->cfg.uplink_batch_rows, i = 0;
	node_outbox_extra last = {0};
	int rc = 0;

	if (x != NULL) {
		last = *x;
		last.reg = NULL;
	}
	/* The announcement rides alone: it is refused or taken as a whole,
	 * and rows behind it wait for it either way. */
	if (x != NULL && x->reg != NULL) {
		node_outbox_extra a = {.reg = x->reg};
		if ((rc = outbox_entry(n, t, NULL, 0, &a)) != 0)
			return rc;
	}
	if (nrows == 0 && last.necon == 0 && last.nevents == 0)
		return 0;
	/* Rows in entries of `per`; the figures and events with the last. */
	do {
		size_t take = nrows - i < per ? nrows - i : per;
		bool end = i + take >= nrows;
		rc = outbox_entry(n, t, rows ? rows + i : NULL, take, end ? &last : NULL);
		i += take;
	} while (rc == 0 && i < nrows);
	return rc;
}

int node__econ_add(uint8_t **buf, size_t *n, size_t *cap, const sto_econ_key *k, const sto_econ_val *v)
{
	if (k->level == STO_CITY)
		return 0; /* the city node's own figures are its own */
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		uint8_t *b = realloc(*buf, c * PB_ECON_BYTES);
		if (b == NULL)
			return ER_ENOMEM;
		*buf = b;
		*cap = c;
	}
	sto_econ_key_encode(k, *buf + *n * PB_ECON_BYTES);
	sto_econ_val_encode(v, *buf + *n * PB_ECON_BYTES + STO_ECON_KEY_LEN);
	(*n)++;
	return 0;
}

int node__announce(node *n, sto_txn *t)
{
	char *text[AGG_F_COUNT] = {0};
	sto_outbox_info info;
	XXH3_state_t *h = XXH3_createState();
	int rc;

	if (h == NULL)
		return ER_ENOMEM;
	if ((rc = node__registry_texts(t, text)) != 0 || (rc = sto_outbox_info_get(t, &info)) != 0)
		goto done;
	XXH3_64bits_reset(h);
	for (int f = 0; f < AGG_F_COUNT; f++) {
		const char *s = text[f] ? text[f] : "";
		XXH3_64bits_update(h, s, strlen(s) + 1); /* the NUL separates the files */
	}
	uint64_t fp = XXH3_64bits_digest(h) | 1; /* 0 means "never announced" */
	if (fp == info.announced || text[AGG_F_DISTRICTS] == NULL)
		goto done; /* unchanged, or nothing to announce yet */
	pb_registry_import reg = {
		.districts_csv = text[AGG_F_DISTRICTS],
		.enterprises_csv = text[AGG_F_ENTERPRISES] ? text[AGG_F_ENTERPRISES] : "",
		.meters_csv = text[AGG_F_METERS] ? text[AGG_F_METERS] : "",
		.stations_csv = text[AGG_F_STATIONS] ? text[AGG_F_STATIONS] : "",
		.origin = n->cfg.name,
	};
	node_outbox_extra x = {.reg = &reg};
	if ((rc = node__outbox_put(n, t, NULL, 0, &x)) == 0)
		rc = sto_outbox_set_announced(t, fp);
	if (rc == 0)
		er_log(ER_LOG_INFO, "uplink: registry announced to the city (outbox entry %llu)",
		       (unsigned long long)info.next);
done:
	XXH3_freeState(h);
	for (int f = 0; f < AGG_F_COUNT; f++)
		free(text[f]);
	return rc;
}

/* ---- city: ownership ---- */

static int owner_row(void *ctx, int kind, uint64_t key, const char *row, size_t len)
{
	node *n = ctx;
	const char *comma = memchr(row, ',', len);
	const agg_district *d;
	uint32_t other;

	if (kind != NODE_KIND_OWNER || comma == NULL)
		return 0;
	d = (const agg_district *)agg_registry_find(n->reg, AGG_DISTRICT, key);
	if (d == NULL)
		return 0; /* cannot happen: the district row is written first */
	uint32_t id = ing_owners_id(n->owners, comma + 1, len - (size_t)(comma + 1 - row), true);
	if (id == 0 || ing_owners_claim(n->owners, d->idx, id, &other) != 0)
		er_log(ER_LOG_ERROR, "registry: cannot restore the owner of district %s", d->code);
	return 0;
}

int node__owners_load(node *n, sto_txn *t)
{
	return sto_registry_each(t, owner_row, n);
}

/* The codes in the first column of a registry CSV text (header skipped). */
typedef struct code_row {
	char code[AGG_CODE_MAX + 1];
	char district[AGG_CODE_MAX + 1]; /* enterprises and stations: their district; meters: their enterprise */
} code_row;
typedef struct codes {
	code_row *r;
	size_t n, cap;
} codes;

static int read_codes(const char *text, int district_col, codes *c, char *msg, size_t cap, const char *what)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	er_lines it;
	char *line, *f[16];
	uint32_t nul;
	int rc = 0;

	if (buf == NULL)
		return ER_ENOMEM;
	memcpy(buf, text, len + 1);
	er_lines_init(&it, buf, len, &nul);
	for (bool header = true; (line = er_lines_next(&it)) != NULL; header = false) {
		int nf = er_csv_split(line, f, 16);
		if (header)
			continue;
		if (nf <= district_col || strlen(f[0]) > AGG_CODE_MAX || strlen(f[district_col]) > AGG_CODE_MAX) {
			snprintf(msg, cap, "%s line %u does not parse", what, it.line);
			rc = ER_EINVAL;
			break;
		}
		if (er_grow(&c->r, c->n, &c->cap, sizeof *c->r, 64) != 0) {
			rc = ER_ENOMEM;
			break;
		}
		snprintf(c->r[c->n].code, sizeof c->r[0].code, "%s", f[0]);
		snprintf(c->r[c->n].district, sizeof c->r[0].district, "%s", f[district_col]);
		c->n++;
	}
	free(buf);
	return rc;
}

static bool listed(const codes *c, const char *code)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->r[i].code, code) == 0)
			return true;
	return false;
}

/* Checks the announcement's districts and the districts its enterprises
 * and stations name; 0, or a refusal in msg. */
static int check_announcement(node *n, uint32_t id, const pb_registry_import *reg, codes *ds, char *msg, size_t cap)
{
	codes es = {0}, ms = {0};
	int rc;
	char owner[ING_SENDER_MAX + 1];

	if ((rc = read_codes(reg->districts_csv, 0, ds, msg, cap, "districts")) != 0)
		return rc;
	if (ds->n == 0) {
		snprintf(msg, cap, "the announcement lists no district");
		return ER_EINVAL;
	}
	for (size_t i = 0; i < ds->n; i++) {
		const agg_district *d = (const agg_district *)agg_registry_find(
			n->reg, AGG_DISTRICT, er_key(ds->r[i].code, strlen(ds->r[i].code)));
		uint32_t cur = d ? ing_owners_of(n->owners, d->idx) : 0;
		if (cur != 0 && cur != id) {
			ing_owners_name(n->owners, cur, owner, sizeof owner);
			snprintf(msg, cap, "district %s belongs to district node %s", ds->r[i].code, owner);
			return ER_EEXIST;
		}
	}
	/* enterprises.csv: code,name,district,...; stations.csv: code,name,district,... */
	if ((rc = read_codes(reg->enterprises_csv, 2, &es, msg, cap, "enterprises")) != 0)
		goto done;
	size_t nents = es.n;
	if ((rc = read_codes(reg->stations_csv, 2, &es, msg, cap, "stations")) != 0)
		goto done;
	for (size_t i = 0; i < es.n; i++) {
		if (!listed(ds, es.r[i].district)) {
			snprintf(msg, cap, "%s is in district %s, which this district node does not announce",
				 es.r[i].code, es.r[i].district);
			rc = ER_EEXIST;
			goto done;
		}
	}
	/* meters.csv: code,enterprise,...: an enterprise of the announcement */
	es.n = nents; /* the enterprises only */
	if ((rc = read_codes(reg->meters_csv, 1, &ms, msg, cap, "meters")) != 0)
		goto done;
	for (size_t i = 0; i < ms.n; i++) {
		if (!listed(&es, ms.r[i].district)) {
			snprintf(msg, cap, "meter %s is of enterprise %s, which this district node does not announce",
				 ms.r[i].code, ms.r[i].district);
			rc = ER_EEXIST;
			goto done;
		}
	}
done:
	free(es.r);
	free(ms.r);
	return rc;
}

static int claim(node *n, uint32_t id, const char *sender, const codes *ds, char *msg, size_t cap)
{
	sto_txn *t = NULL;
	int rc = 0;
	char row[AGG_CODE_MAX + ING_SENDER_MAX + 2];

	for (size_t i = 0; i < ds->n && rc == 0; i++) {
		uint64_t key = er_key(ds->r[i].code, strlen(ds->r[i].code));
		const agg_district *d = (const agg_district *)agg_registry_find(n->reg, AGG_DISTRICT, key);
		uint32_t other;
		if (d == NULL)
			continue; /* cannot happen: the import registered it */
		if (ing_owners_of(n->owners, d->idx) == id)
			continue;
		if (t == NULL && (rc = sto_write_begin(n->store, &t)) != 0)
			break;
		snprintf(row, sizeof row, "%s,%s", d->code, sender);
		if ((rc = sto_registry_put(t, NODE_KIND_OWNER, key, row)) != 0)
			break;
		if ((rc = ing_owners_claim(n->owners, d->idx, id, &other)) != 0) {
			snprintf(msg, cap, "district %s cannot be given to a district node (more than %d districts)",
				 d->code, ING_DISTRICTS_MAX);
			rc = ER_EINVAL;
		}
	}
	if (t != NULL) {
		if (rc == 0)
			rc = sto_commit(t);
		else
			sto_abort(t);
	}
	return rc;
}

int node__announce_import(void *ctx, const char *sender, const pb_registry_import *reg, char *msg, size_t cap)
{
	node *n = ctx;
	codes ds = {0};
	agg_import imp = {0};
	agg_import_result res;
	int rc;

	msg[0] = 0;
	pthread_mutex_lock(&n->import_lock);
	uint32_t id = ing_owners_id(n->owners, sender, strlen(sender), false);
	if ((rc = check_announcement(n, id ? id : UINT32_MAX, reg, &ds, msg, cap)) != 0)
		goto done;
	imp.text[AGG_F_DISTRICTS] = reg->districts_csv;
	imp.text[AGG_F_ENTERPRISES] = reg->enterprises_csv;
	imp.text[AGG_F_METERS] = reg->meters_csv;
	imp.text[AGG_F_STATIONS] = reg->stations_csv;
	imp.name[AGG_F_DISTRICTS] = "districts";
	imp.name[AGG_F_ENTERPRISES] = "enterprises";
	imp.name[AGG_F_METERS] = "meters";
	imp.name[AGG_F_STATIONS] = "stations";
	rc = node__registry_import_locked(n, &imp, &res);
	if (rc == ER_EINVAL || rc == ER_ECOLLIDE) {
		size_t at = (size_t)snprintf(msg, cap, "the announcement conflicts with the city's registry:");
		for (size_t i = 0; i < res.nerrors && i < 3 && at < cap; i++)
			at += (size_t)snprintf(msg + at, cap - at, " %s%s", res.errors[i], i + 1 < res.nerrors ? ";" : "");
		rc = ER_EINVAL;
	}
	agg_import_result_fini(&res);
	if (rc != 0)
		goto done;
	if ((id = ing_owners_id(n->owners, sender, strlen(sender), true)) == 0) {
		rc = ER_ENOMEM;
		goto done;
	}
	if ((rc = claim(n, id, sender, &ds, msg, cap)) == 0)
		er_log(ER_LOG_INFO, "district node %s announced %zu districts (%u new entries)", sender, ds.n, res.added);
done:
	pthread_mutex_unlock(&n->import_lock);
	free(ds.r);
	return rc;
}

/* ---- status ---- */

/* buf holds 2 x cap strings: a note's name and value may both be built. */
size_t node__tier_notes(node *n, int record, pb_field *notes, size_t cap, char (*buf)[256])
{
	size_t k = 0;

	if (n->role == NODE_DISTRICT && n->uplink != NULL && cap >= 3) {
		node_uplink_state s;
		node_uplink_state_get(n->uplink, &s);
		snprintf(buf[k], 256, "%s", n->cfg.upstream);
		notes[k] = (pb_field){.name = "upstream", .value = buf[k]};
		k++;
		snprintf(buf[k], 256, "%s", s.state);
		notes[k] = (pb_field){.name = "uplink", .value = buf[k]};
		k++;
		snprintf(buf[k], 256, "%s", s.message);
		notes[k] = (pb_field){.name = "uplink_message", .value = buf[k]};
		k++;
	} else if (n->role == NODE_CITY) {
		/* One note per district node: its name, and the districts it owns. */
		ck_epoch_record_t *rec = agg_core_record(n->core, record);
		uint32_t nd = agg_registry_count(n->reg, AGG_DISTRICT);
		char name[ING_SENDER_MAX + 1];
		ck_epoch_begin(rec, NULL);
		for (uint32_t id = 1; k < cap; id++) {
			size_t at = 0;
			char *v = buf[2 * k + 1];
			ing_owners_name(n->owners, id, name, sizeof name);
			if (name[0] == 0)
				break;
			snprintf(buf[2 * k], 256, "district node %.200s", name);
			v[0] = 0;
			for (uint32_t i = 0; i < nd && i < ING_DISTRICTS_MAX; i++) {
				const agg_district *d = ing_owners_of(n->owners, i) == id ? agg_registry_district_at(n->reg, i) : NULL;
				if (d != NULL && at + strlen(d->code) + 2 < 256)
					at += (size_t)snprintf(v + at, 256 - at, "%s%s", at ? " " : "", d->code);
			}
			notes[k] = (pb_field){.name = buf[2 * k], .value = v};
			k++;
		}
		ck_epoch_end(rec, NULL);
	}
	return k;
}
