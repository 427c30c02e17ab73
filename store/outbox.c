/* outbox.c: the district node's outbox (see outbox.h).
 *
 * The record at seq 0 is read and rewritten by every transaction that
 * appends or trims, so its counts are exact whichever thread writes: LMDB
 * runs one write transaction at a time. */
#include "outbox.h"

#include <string.h>

#include "store_internal.h"

#define OB_VERSION 1
#define REC_LEN 34   /* version, next, entries, bytes, announced, over_limit */
#define ENTRY_HEAD 9 /* version, created */

static int rec_get(sto_txn *t, sto_outbox_info *o)
{
	uint8_t kb[8] = {0};
	MDB_val k = {8, kb}, v;
	int rc = mdb_get(t->txn, t->env->dbi[DB_OUTBOX], &k, &v);

	memset(o, 0, sizeof *o);
	o->next = 1;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return sto__map_rc(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size != REC_LEN || p[0] != OB_VERSION)
		return ER_EVERSION;
	o->next = get_le64(p + 1);
	o->entries = get_le64(p + 9);
	o->bytes = get_le64(p + 17);
	o->announced = get_le64(p + 25);
	o->over_limit = p[33] != 0;
	return 0;
}

static int rec_put(sto_txn *t, const sto_outbox_info *o)
{
	uint8_t kb[8] = {0}, vb[REC_LEN];
	MDB_val k = {8, kb}, v = {REC_LEN, vb};

	vb[0] = OB_VERSION;
	put_le64(vb + 1, o->next);
	put_le64(vb + 9, o->entries);
	put_le64(vb + 17, o->bytes);
	put_le64(vb + 25, o->announced);
	vb[33] = o->over_limit;
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_OUTBOX], &k, &v, 0));
}

int sto_outbox_info_get(sto_txn *t, sto_outbox_info *out)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc = rec_get(t, out);

	if (rc != 0)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->env->dbi[DB_OUTBOX], &cur)) != 0)
		return sto__map_rc(rc);
	put_be64(kb, 1);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == 8 && v.mv_size >= ENTRY_HEAD) {
		out->first = get_be64(k.mv_data);
		out->oldest = (int64_t)get_le64((const uint8_t *)v.mv_data + 1);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : sto__map_rc(rc);
}

int sto_outbox_append(sto_txn *t, uint64_t seq, int64_t created, const void *payload, size_t len)
{
	sto_outbox_info o;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v = {ENTRY_HEAD + len, NULL};
	int rc = rec_get(t, &o);

	if (rc != 0)
		return rc;
	if (seq != o.next || seq == 0)
		return ER_EINVAL;
	put_be64(kb, seq);
	/* MDB_RESERVE: LMDB hands out the space and the entry is written in
	 * place, one copy instead of two for a payload of up to a few MB. */
	if ((rc = sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_OUTBOX], &k, &v, MDB_RESERVE | MDB_APPEND))) != 0)
		return rc;
	uint8_t *p = v.mv_data;
	p[0] = OB_VERSION;
	put_le64(p + 1, (uint64_t)created);
	memcpy(p + ENTRY_HEAD, payload, len);
	o.next = seq + 1;
	o.entries++;
	o.bytes += len;
	return rec_put(t, &o);
}

int sto_outbox_get(sto_txn *t, uint64_t seq, int64_t *created, const void **payload, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	if (seq == 0)
		return ER_ENOENT;
	put_be64(kb, seq);
	if ((rc = mdb_get(t->txn, t->env->dbi[DB_OUTBOX], &k, &v)) != 0)
		return sto__map_rc(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size < ENTRY_HEAD || p[0] != OB_VERSION)
		return ER_EVERSION;
	*created = (int64_t)get_le64(p + 1);
	*payload = p + ENTRY_HEAD;
	*len = v.mv_size - ENTRY_HEAD;
	return 0;
}

int sto_outbox_trim(sto_txn *t, uint64_t upto, uint64_t *removed)
{
	sto_outbox_info o;
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc = rec_get(t, &o);

	*removed = 0;
	if (rc != 0)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->env->dbi[DB_OUTBOX], &cur)) != 0)
		return sto__map_rc(rc);
	put_be64(kb, 1);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || get_be64(k.mv_data) > upto)
			break;
		size_t len = v.mv_size >= ENTRY_HEAD ? v.mv_size - ENTRY_HEAD : 0;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		o.entries--;
		o.bytes -= len;
		(*removed)++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return sto__wrc(t, rc);
	return *removed ? rec_put(t, &o) : 0;
}

int sto_outbox_set_announced(sto_txn *t, uint64_t fingerprint)
{
	sto_outbox_info o;
	int rc = rec_get(t, &o);
	if (rc != 0)
		return rc;
	o.announced = fingerprint;
	return rec_put(t, &o);
}

int sto_outbox_set_over_limit(sto_txn *t, bool over)
{
	sto_outbox_info o;
	int rc = rec_get(t, &o);
	if (rc != 0)
		return rc;
	o.over_limit = over;
	return rec_put(t, &o);
}

/* ---- events between tiers ---- */

int sto_event_raw(sto_txn *t, uint64_t id, const void **val, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	put_be64(kb, id);
	if ((rc = mdb_get(t->txn, t->env->dbi[DB_EVENTS], &k, &v)) != 0)
		return sto__map_rc(rc);
	*val = v.mv_data;
	*len = v.mv_size;
	return 0;
}

bool sto_event_raw_valid(const void *val, size_t len)
{
	sto_event e;
	sto_warning w;
	if (sto__event_decode(val, len, 0, &e) != 0 || e.type < STO_EV_RESET || e.type > STO_EV_OUTBOX)
		return false;
	return e.type != STO_EV_WARNING || sto__warning_decode(val, len, 0, &w) == 0;
}

int sto_remote_event_put(sto_txn *t, uint64_t node, uint64_t id, const void *val, size_t len)
{
	uint8_t kb[16];
	MDB_val k = {16, kb}, v = {len, (void *)val};

	if (!sto_event_raw_valid(val, len))
		return ER_EINVAL;
	put_be64(kb, node);
	put_be64(kb + 8, id);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_REMOTE_EVENTS], &k, &v, 0));
}

int sto_remote_events_each(sto_txn *t, uint64_t node, sto_remote_event_fn *fn, void *ctx)
{
	MDB_cursor *cur;
	uint8_t kb[16] = {0};
	MDB_val k = {node ? 8 : 16, kb}, v;
	int rc, out = 0;

	if ((rc = mdb_cursor_open(t->txn, t->env->dbi[DB_REMOTE_EVENTS], &cur)) != 0)
		return sto__map_rc(rc);
	put_be64(kb, node);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		sto_event e;
		sto_warning w;
		if (k.mv_size != 16 || (node != 0 && get_be64(k.mv_data) != node))
			break;
		uint64_t id = get_be64((const uint8_t *)k.mv_data + 8);
		if (sto__event_decode(v.mv_data, v.mv_size, id, &e) != 0)
			continue;
		bool warning = e.type == STO_EV_WARNING && sto__warning_decode(v.mv_data, v.mv_size, id, &w) == 0;
		if ((out = fn(ctx, get_be64(k.mv_data), &e, warning ? &w : NULL)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return out;
}
