/* budgets.c: budgets and budget warnings in LMDB (see budgets.h). */
#include "budgets.h"

#include <lmdb.h>
#include <string.h>

#include "store_internal.h"

#define BUDGET_VAL_LEN 88  /* version .. code length; the code follows */
#define WARN_EXT 76	   /* where a warning's own fields start: after the common event part */
#define WARN_LEN (150 + 64) /* the extension ends at 150 + the code */

static void budget_key(uint8_t kb[STO_BUDGET_KEY_LEN], int level, uint64_t entity, int32_t year, int kind)
{
	kb[0] = (uint8_t)level;
	put_be64(kb + 1, entity);
	kb[9] = (uint8_t)((uint32_t)year >> 8);
	kb[10] = (uint8_t)year;
	kb[11] = (uint8_t)kind;
}

int sto_budget_put(sto_txn *t, const sto_budget *b)
{
	uint8_t kb[STO_BUDGET_KEY_LEN], vb[BUDGET_VAL_LEN + 64];
	size_t cl = strnlen(b->code, sizeof b->code - 1);
	MDB_val key = {sizeof kb, kb}, val = {BUDGET_VAL_LEN + cl, vb};

	budget_key(kb, b->level, b->entity, b->year, b->kind);
	memset(vb, 0, sizeof vb);
	vb[0] = VAL_VERSION;
	put_le64(vb + 1, (uint64_t)b->target);
	vb[9] = (uint8_t)((uint32_t)b->base & 0xff);
	vb[10] = (uint8_t)((uint32_t)b->base >> 8);
	vb[11] = b->profile_type;
	for (int i = 0; i < 12; i++)
		put_le32(vb + 12 + 4 * i, b->cum[i]);
	put_le64(vb + 60, (uint64_t)b->updated);
	vb[BUDGET_VAL_LEN - 1] = (uint8_t)cl;
	memcpy(vb + BUDGET_VAL_LEN, b->code, cl);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_BUDGETS], &key, &val, 0));
}

static int budget_decode(const MDB_val *k, const MDB_val *v, sto_budget *b)
{
	const uint8_t *kp = k->mv_data, *p = v->mv_data;
	if (k->mv_size != STO_BUDGET_KEY_LEN || v->mv_size < BUDGET_VAL_LEN || p[0] != VAL_VERSION)
		return ER_EVERSION;
	size_t cl = p[BUDGET_VAL_LEN - 1];
	if (cl > 63 || v->mv_size < BUDGET_VAL_LEN + cl)
		return ER_EVERSION;
	memset(b, 0, sizeof *b);
	b->level = kp[0];
	b->entity = get_be64(kp + 1);
	b->year = (int32_t)((uint32_t)kp[9] << 8 | kp[10]);
	b->kind = kp[11];
	b->target = (er_fx)get_le64(p + 1);
	b->base = (int32_t)((uint32_t)p[9] | (uint32_t)p[10] << 8);
	b->profile_type = p[11];
	for (int i = 0; i < 12; i++)
		b->cum[i] = get_le32(p + 12 + 4 * i);
	b->updated = (int64_t)get_le64(p + 60);
	memcpy(b->code, p + BUDGET_VAL_LEN, cl);
	return 0;
}

int sto_budget_get(sto_txn *t, int level, uint64_t entity, int32_t year, int kind, sto_budget *b)
{
	uint8_t kb[STO_BUDGET_KEY_LEN];
	MDB_val key = {sizeof kb, kb}, val;
	budget_key(kb, level, entity, year, kind);
	int rc = mdb_get(t->txn, t->env->dbi[DB_BUDGETS], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	return budget_decode(&key, &val, b);
}

int sto_budgets_each(sto_txn *t, sto_budget_fn *fn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val key, val;
	sto_budget b;
	int rc = mdb_cursor_open(t->txn, t->env->dbi[DB_BUDGETS], &cur), out = 0;
	if (rc != 0)
		return sto__map_rc(rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
		if (budget_decode(&key, &val, &b) == 0 && (out = fn(ctx, &b)) != 0)
			break;
	mdb_cursor_close(cur);
	return out;
}

/* ---- warnings ---- */

static void put_le128(uint8_t *p, __int128 v)
{
	put_le64(p, (uint64_t)v);
	put_le64(p + 8, (uint64_t)((unsigned __int128)v >> 64));
}

static __int128 get_le128(const uint8_t *p)
{
	return (__int128)((unsigned __int128)get_le64(p + 8) << 64 | get_le64(p));
}

int sto_warning_put(sto_txn *t, const sto_warning *w)
{
	uint8_t kb[8], vb[WARN_LEN];
	size_t cl = strnlen(w->code, sizeof w->code - 1);
	MDB_val key = {8, kb}, val = {150 + cl, vb};

	put_be64(kb, w->id);
	memset(vb, 0, sizeof vb);
	/* the common event part: what sto_events_each decodes */
	vb[0] = VAL_VERSION;
	vb[1] = STO_EV_WARNING;
	vb[2] = w->status;
	put_le64(vb + 4, w->entity);
	put_le64(vb + 12, (uint64_t)w->t);
	put_le64(vb + 52, (uint64_t)w->created);
	/* the warning's own part */
	uint8_t *p = vb + WARN_EXT;
	p[0] = w->entity_level;
	p[1] = w->kind;
	p[2] = w->level;
	p[3] = w->previous;
	p[4] = w->rule;
	put_le32(p + 5, (uint32_t)w->year);
	put_le128(p + 9, w->ytd);
	put_le128(p + 25, w->expected);
	put_le128(p + 41, w->projected);
	put_le128(p + 57, w->budget);
	p[73] = (uint8_t)cl;
	memcpy(p + 74, w->code, cl);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_EVENTS], &key, &val, 0));
}

int sto_warning_get(sto_txn *t, uint64_t id, sto_warning *w)
{
	uint8_t kb[8];
	MDB_val key = {8, kb}, val;
	put_be64(kb, id);
	int rc = mdb_get(t->txn, t->env->dbi[DB_EVENTS], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	return sto__warning_decode(val.mv_data, val.mv_size, id, w);
}

int sto__warning_decode(const uint8_t *v, size_t len, uint64_t id, struct sto_warning *w)
{
	const uint8_t *p = v + WARN_EXT;
	if (len < 150 || v[0] != VAL_VERSION || v[1] != STO_EV_WARNING || p[73] > 63 || len < 150u + p[73])
		return ER_EINVAL;
	memset(w, 0, sizeof *w);
	w->id = id;
	w->status = v[2];
	w->entity = get_le64(v + 4);
	w->t = (int64_t)get_le64(v + 12);
	w->created = (int64_t)get_le64(v + 52);
	w->entity_level = p[0];
	w->kind = p[1];
	w->level = p[2];
	w->previous = p[3];
	w->rule = p[4];
	w->year = (int32_t)get_le32(p + 5);
	w->ytd = get_le128(p + 9);
	w->expected = get_le128(p + 25);
	w->projected = get_le128(p + 41);
	w->budget = get_le128(p + 57);
	memcpy(w->code, p + 74, p[73]);
	return 0;
}
