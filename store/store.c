/* store.c: the LMDB environment (see store.h).
 *
 * Rollup keys are (level, resolution, bucket start, entity, metric),
 * big-endian, the start offset by 2^63 so that negative instants sort
 * before positive ones. Time comes before the entity (schema 2) because
 * that is how rollups are written: a flush touches the same few buckets of
 * every meter, and with the time first those rows share leaf pages, so a
 * commit dirties and fsyncs a few MB instead of one page per meter (with
 * entity-first keys, schema 1, the medium ecoroll-bench spent ~480 ms a
 * commit writing pages; bench/RESULTS.md). Reads of one entity skip from
 * bucket to bucket (sto_rollup_scan). Values are little-endian fixed
 * layouts that start with a version byte, so a later schema can read old
 * rows.
 *
 * Growing the map needs no transaction open in this process: read
 * transactions hold a shared lock that sto_grow takes exclusively.
 */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_internal.h"

static const char *db_names[DB_COUNT] = {"rollup", "series",  "registry", "senders",	     "meta",
					 "events", "econ",    "outbox",	 "budgets", "remote_events"};

const char *sto_level_name(int level)
{
	static const char *n[] = {"?", "meter", "enterprise", "district", "city", "station"};
	return level >= 1 && level <= 5 ? n[level] : "?";
}

int sto_level_parse(const char *s)
{
	for (int i = 1; i <= 5; i++)
		if (strcmp(s, sto_level_name(i)) == 0)
			return i;
	return 0;
}

/* ---- byte order ---- */


void sto_key_encode(const sto_key *k, uint8_t out[STO_KEY_LEN])
{
	out[0] = k->level;
	out[1] = k->res;
	put_be64(out + 2, (uint64_t)k->start ^ (1ull << 63));
	put_be64(out + 10, k->entity);
	out[18] = (uint8_t)(k->metric >> 8);
	out[19] = (uint8_t)k->metric;
}

void sto_key_decode(const uint8_t in[STO_KEY_LEN], sto_key *k)
{
	k->level = in[0];
	k->res = in[1];
	k->start = (int64_t)(get_be64(in + 2) ^ (1ull << 63));
	k->entity = get_be64(in + 10);
	k->metric = (uint16_t)(in[18] << 8 | in[19]);
}

int sto_key_cmp(const sto_key *a, const sto_key *b)
{
	uint8_t x[STO_KEY_LEN], y[STO_KEY_LEN];
	sto_key_encode(a, x);
	sto_key_encode(b, y);
	return memcmp(x, y, STO_KEY_LEN);
}

void sto_val_zero(sto_val *v)
{
	memset(v, 0, sizeof *v);
	v->min = INT64_MAX;
	v->max = INT64_MIN;
}

void sto_val_merge(sto_val *a, const sto_val *b)
{
	a->count += b->count;
	a->sum += b->sum;
	a->coverage_s += b->coverage_s;
	a->flags |= b->flags;
	a->members += b->members;
	a->complete += b->complete;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
}

static void val_encode(const sto_val *v, uint8_t out[VAL_LEN])
{
	memset(out, 0, VAL_LEN);
	out[0] = VAL_VERSION;
	put_le32(out + 4, v->flags);
	put_le64(out + 8, (uint64_t)v->count);
	put_le64(out + 16, (uint64_t)v->sum);
	put_le64(out + 24, (uint64_t)v->min);
	put_le64(out + 32, (uint64_t)v->max);
	put_le64(out + 40, v->coverage_s);
	put_le32(out + 48, v->members);
	put_le32(out + 52, v->complete);
}

static int val_decode(const MDB_val *d, sto_val *v)
{
	const uint8_t *p = d->mv_data;
	if (d->mv_size < VAL_LEN || p[0] != VAL_VERSION)
		return ER_EVERSION;
	v->flags = get_le32(p + 4);
	v->count = (int64_t)get_le64(p + 8);
	v->sum = (int64_t)get_le64(p + 16);
	v->min = (int64_t)get_le64(p + 24);
	v->max = (int64_t)get_le64(p + 32);
	v->coverage_s = get_le64(p + 40);
	v->members = get_le32(p + 48);
	v->complete = get_le32(p + 52);
	return 0;
}

int sto__map_rc(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return 0;
	case MDB_NOTFOUND: return ER_ENOENT;
	case MDB_MAP_FULL: return ER_EFULL; /* sto_grow helps */
	case ENOSPC: return ER_EIO;	     /* the disk: retry later */
	case ENOMEM: return ER_ENOMEM;
	case EIO: return ER_EIO;
	default: return ER_ESTORE;
	}
}

/* ---- environment ---- */

static int meta_get(MDB_txn *t, MDB_dbi dbi, const char *k, char *buf, size_t cap)
{
	MDB_val key = {strlen(k), (void *)k}, val;
	int rc = mdb_get(t, dbi, &key, &val);
	if (rc != 0)
		return rc;
	size_t n = val.mv_size < cap - 1 ? val.mv_size : cap - 1;
	memcpy(buf, val.mv_data, n);
	buf[n] = 0;
	return 0;
}

static int meta_put(MDB_txn *t, MDB_dbi dbi, const char *k, const char *v)
{
	MDB_val key = {strlen(k), (void *)k}, val = {strlen(v), (void *)v};
	return mdb_put(t, dbi, &key, &val, 0);
}

int sto_open(const sto_opts *o, sto_env **out, char *err, size_t errlen)
{
	sto_env *e;
	MDB_txn *t = NULL;
	int rc;
	char buf[128], want[32];

	err[0] = 0;
	if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create data directory %s: %s", o->dir, strerror(errno));
		return ER_EIO;
	}
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return ER_ENOMEM;
	pthread_rwlock_init(&e->grow, NULL);
	e->map_size = o->map_size ? o->map_size : (1ull << 30);
	if ((rc = mdb_env_create(&e->env)) != 0)
		goto lmdb_fail;
	mdb_env_set_maxdbs(e->env, 16);
	mdb_env_set_maxreaders(e->env, 256);
	if ((rc = mdb_env_set_mapsize(e->env, e->map_size)) != 0)
		goto lmdb_fail;
	/* MDB_NOTLS: read transactions are not tied to threads. Without
	 * sync a commit is durable only at the next sync (benchmarks). */
	rc = mdb_env_open(e->env, o->dir, MDB_NOTLS | (o->sync ? 0 : MDB_NOSYNC), 0644);
	if (rc != 0)
		goto lmdb_fail;
	{
		MDB_envinfo info;
		mdb_env_info(e->env, &info);
		if (info.me_mapsize > e->map_size)
			e->map_size = info.me_mapsize; /* a grown database keeps its size */
	}
	if ((rc = mdb_txn_begin(e->env, NULL, 0, &t)) != 0)
		goto lmdb_fail;
	for (int i = 0; i < DB_COUNT; i++)
		if ((rc = mdb_dbi_open(t, db_names[i], MDB_CREATE, &e->dbi[i])) != 0)
			goto lmdb_fail;

	/* The schema, the UTC offset and the city are fixed when the
	 * database is created: day buckets written under one offset do not
	 * line up with another. */
	snprintf(want, sizeof want, "%d", o->utc_offset_s);
	rc = meta_get(t, e->dbi[DB_META], "schema", buf, sizeof buf);
	if (rc == MDB_NOTFOUND) {
		char sv[16];
		snprintf(sv, sizeof sv, "%d", STO_SCHEMA);
		if ((rc = meta_put(t, e->dbi[DB_META], "schema", sv)) != 0 ||
		    (rc = meta_put(t, e->dbi[DB_META], "utc_offset_s", want)) != 0 ||
		    (rc = meta_put(t, e->dbi[DB_META], "city", o->city ? o->city : "")) != 0 ||
		    (o->role && (rc = meta_put(t, e->dbi[DB_META], "role", o->role)) != 0))
			goto lmdb_fail;
	} else if (rc == 0) {
		if (atoi(buf) != STO_SCHEMA) {
			snprintf(err, errlen,
				 "database %s has schema %s; this ecorolld reads schema %d (schema 2 orders rollup "
				 "keys time first): start with a new data_dir and push the readings again",
				 o->dir, buf, STO_SCHEMA);
			rc = ER_EVERSION;
			goto fail;
		}
		if (meta_get(t, e->dbi[DB_META], "utc_offset_s", buf, sizeof buf) == 0 && strcmp(buf, want) != 0) {
			snprintf(err, errlen,
				 "database %s was created with utc_offset %s s but the configuration says %s s; "
				 "its day, month and year buckets would not line up (use a new data_dir)",
				 o->dir, buf, want);
			rc = ER_EINVAL;
			goto fail;
		}
		if (o->city && meta_get(t, e->dbi[DB_META], "city", buf, sizeof buf) == 0 &&
		    strcmp(buf, o->city) != 0) {
			snprintf(err, errlen, "database %s belongs to city '%s', not '%s' (use a new data_dir)",
				 o->dir, buf, o->city);
			rc = ER_EINVAL;
			goto fail;
		}
		/* A role is fixed too: a standalone database opened as a district
		 * node would never send the city what it held before, and a
		 * district's meter rows mean nothing to a city node. Databases
		 * from before roles were all standalone. */
		if (o->role) {
			if (meta_get(t, e->dbi[DB_META], "role", buf, sizeof buf) != 0)
				snprintf(buf, sizeof buf, "standalone");
			if (strcmp(buf, o->role) != 0) {
				snprintf(err, errlen,
					 "database %s was created by a %s node; it cannot be opened as a %s node "
					 "(use a new data_dir: a district node's rollups reach the city only from "
					 "its first commit)",
					 o->dir, buf, o->role);
				rc = ER_EINVAL;
				goto fail;
			}
		}
	} else {
		goto lmdb_fail;
	}
	if ((rc = mdb_txn_commit(t)) != 0) {
		t = NULL;
		goto lmdb_fail;
	}
	*out = e;
	return 0;
lmdb_fail:
	snprintf(err, errlen, "LMDB at %s: %s", o->dir, mdb_strerror(rc));
	rc = sto__map_rc(rc);
	if (rc == ER_ENOENT)
		rc = ER_ESTORE;
fail:
	if (t)
		mdb_txn_abort(t);
	if (e->env)
		mdb_env_close(e->env);
	pthread_rwlock_destroy(&e->grow);
	free(e);
	return rc;
}

void sto_close(sto_env *e)
{
	if (e == NULL)
		return;
	mdb_env_close(e->env);
	pthread_rwlock_destroy(&e->grow);
	free(e);
}

int sto_db_bytes(sto_env *e, uint64_t *bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(e->env, &info) != 0 || mdb_env_stat(e->env, &st) != 0)
		return ER_ESTORE;
	*bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	return 0;
}

int sto_grow(sto_env *e)
{
	int rc;
	pthread_rwlock_wrlock(&e->grow);
	rc = mdb_env_set_mapsize(e->env, e->map_size * 2);
	if (rc == 0)
		e->map_size *= 2;
	pthread_rwlock_unlock(&e->grow);
	return sto__map_rc(rc);
}

static int txn_begin(sto_env *e, bool read, sto_txn **out)
{
	sto_txn *t = malloc(sizeof *t);
	int rc;
	if (t == NULL)
		return ER_ENOMEM;
	pthread_rwlock_rdlock(&e->grow);
	rc = mdb_txn_begin(e->env, NULL, read ? MDB_RDONLY : 0, &t->txn);
	if (rc != 0) {
		pthread_rwlock_unlock(&e->grow);
		free(t);
		return sto__map_rc(rc);
	}
	t->env = e;
	t->read = read;
	t->full = false;
	t->rollup = NULL;
	t->positioned = false;
	*out = t;
	return 0;
}

int sto_write_begin(sto_env *e, sto_txn **out)
{
	return txn_begin(e, false, out);
}

int sto_read_begin(sto_env *e, sto_txn **out)
{
	return txn_begin(e, true, out);
}

int sto_commit(sto_txn *t)
{
	int rc;
	if (t->full) {
		mdb_txn_abort(t->txn);
		rc = MDB_MAP_FULL;
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	pthread_rwlock_unlock(&t->env->grow);
	free(t);
	return sto__map_rc(rc);
}

int sto__wrc(sto_txn *t, int rc)
{
	if (rc == MDB_MAP_FULL)
		t->full = true;
	return sto__map_rc(rc);
}

void sto_abort(sto_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	pthread_rwlock_unlock(&t->env->grow);
	free(t);
}

/* ---- rollups ---- */

#define WALK_STEPS 8 /* rows stepped before a descent from the root is cheaper */
#define WALK_FAR 1   /* not an LMDB code: the row is not near the cursor */

/* The flusher merges rows in key order, and most of them are neighbours
 * of the previous one (the same hour of the next meter): step forward
 * from the cursor instead of descending the tree again. 0 with the cursor
 * on kb, MDB_NOTFOUND when kb is not there (the cursor just past it), or
 * WALK_FAR. */
static int walk_to(sto_txn *t, const uint8_t *kb, MDB_val *key, MDB_val *val)
{
	if (!t->positioned || memcmp(kb, t->last, STO_KEY_LEN) <= 0)
		return WALK_FAR;
	for (int i = 0; i < WALK_STEPS; i++) {
		int rc = mdb_cursor_get(t->rollup, key, val, MDB_NEXT);
		if (rc != 0 || key->mv_size != STO_KEY_LEN)
			return rc == MDB_NOTFOUND ? MDB_NOTFOUND : WALK_FAR;
		int c = memcmp(key->mv_data, kb, STO_KEY_LEN);
		if (c == 0)
			return 0;
		if (c > 0)
			return MDB_NOTFOUND;
	}
	return WALK_FAR;
}

int sto_rollup_add(sto_txn *t, const sto_key *k, const sto_val *delta, uint64_t coverage_cap, sto_val *before,
		   sto_val *after, bool *existed)
{
	uint8_t kb[STO_KEY_LEN], vb[VAL_LEN];
	MDB_val key = {STO_KEY_LEN, kb}, val;
	sto_val v, d = *delta;
	int rc, flags = 0;

	/* One cursor descent finds the row and rewrites it in place
	 * (MDB_CURRENT): half the B-tree walks of a get and a put. */
	if (t->rollup == NULL && (rc = mdb_cursor_open(t->txn, t->env->dbi[DB_ROLLUP], &t->rollup)) != 0)
		return sto__map_rc(rc);
	sto_key_encode(k, kb);
	rc = walk_to(t, kb, &key, &val);
	if (rc == WALK_FAR) {
		key.mv_size = STO_KEY_LEN; /* the walk may have moved key to another row */
		key.mv_data = kb;
		rc = mdb_cursor_get(t->rollup, &key, &val, MDB_SET_KEY);
	}
	if (rc == 0) {
		if ((rc = val_decode(&val, &v)) != 0)
			return rc;
		*existed = true;
		flags = MDB_CURRENT;
	} else if (rc == MDB_NOTFOUND) {
		sto_val_zero(&v);
		*existed = false;
		key.mv_size = STO_KEY_LEN;
		key.mv_data = kb;
	} else {
		return sto__map_rc(rc);
	}
	if (before)
		*before = v;
	if (coverage_cap && v.coverage_s + d.coverage_s > coverage_cap)
		d.coverage_s = v.coverage_s < coverage_cap ? coverage_cap - v.coverage_s : 0;
	sto_val_merge(&v, &d);
	val_encode(&v, vb);
	val.mv_size = VAL_LEN;
	val.mv_data = vb;
	rc = mdb_cursor_put(t->rollup, &key, &val, flags);
	if (rc != 0) {
		t->positioned = false;
		return sto__wrc(t, rc);
	}
	memcpy(t->last, kb, STO_KEY_LEN);
	t->positioned = true;
	*after = v;
	return 0;
}

int sto_rollup_merge(sto_txn *t, const sto_key *k, const sto_val *delta, bool *existed, sto_val *now)
{
	return sto_rollup_add(t, k, delta, 0, NULL, now, existed);
}

int sto_rollup_get(sto_txn *t, const sto_key *k, sto_val *out)
{
	uint8_t kb[STO_KEY_LEN];
	MDB_val key = {STO_KEY_LEN, kb}, val;
	int rc;

	sto_key_encode(k, kb);
	rc = mdb_get(t->txn, t->env->dbi[DB_ROLLUP], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	return val_decode(&val, out);
}

struct scan_row {
	sto_key k;
	sto_val v;
};

static int cmp_scan_row(const void *a, const void *b)
{
	const sto_key *x = &((const struct scan_row *)a)->k, *y = &((const struct scan_row *)b)->k;
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Seeks the first row at or after (level, res, start, entity, metric 0). */
static int scan_seek(MDB_cursor *cur, const sto_key *at, MDB_val *key, MDB_val *val, sto_key *got)
{
	uint8_t kb[STO_KEY_LEN];
	int rc;

	sto_key_encode(at, kb);
	key->mv_size = STO_KEY_LEN;
	key->mv_data = kb;
	rc = mdb_cursor_get(cur, key, val, MDB_SET_RANGE);
	if (rc != 0)
		return rc;
	if (key->mv_size != STO_KEY_LEN)
		return MDB_NOTFOUND; /* no such row is ever written */
	sto_key_decode(key->mv_data, got);
	return 0;
}

int sto_rollup_scan(sto_txn *t, int level, uint64_t entity, int res, int64_t from, int64_t to, sto_row_fn *fn,
		    void *ctx)
{
	MDB_cursor *cur;
	MDB_val key, val;
	sto_key at = {.level = (uint8_t)level, .entity = entity, .metric = 0, .res = (uint8_t)res, .start = from};
	struct scan_row *rows = NULL;
	size_t n = 0, cap = 0;
	bool sorted = true;
	int rc, out = 0;

	if (from >= to)
		return 0;
	rc = mdb_cursor_open(t->txn, t->env->dbi[DB_ROLLUP], &cur);
	if (rc != 0)
		return sto__map_rc(rc);
	/* A skip scan: seek (start, entity) for each bucket start present at
	 * this level and resolution, read the entity's metrics there, then
	 * seek past that start. Buckets no entity has are never visited, so
	 * the cost is about two seeks a present bucket, whatever from is. */
	for (;;) {
		sto_key g;
		rc = scan_seek(cur, &at, &key, &val, &g);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			out = sto__map_rc(rc);
			goto done;
		}
		if (g.level != level || g.res != res || g.start >= to)
			break;
		if (g.start != at.start) {
			at.start = g.start; /* the next bucket present */
			if (g.entity < entity)
				continue; /* seek the entity in it */
		}
		if (g.entity != entity) { /* the entity has no row at this start */
			if (at.start == INT64_MAX)
				break;
			at.start++;
			continue;
		}
		while (g.level == level && g.res == res && g.start == at.start && g.entity == entity) {
			if (er_grow(&rows, n, &cap, sizeof *rows, 64) != 0) {
				out = ER_ENOMEM;
				goto done;
			}
			if (val_decode(&val, &rows[n].v) == 0) {
				rows[n].k = g;
				if (n > 0 && cmp_scan_row(&rows[n - 1], &rows[n]) > 0)
					sorted = false;
				n++;
			}
			rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
			if (rc != 0 || key.mv_size != STO_KEY_LEN)
				break;
			sto_key_decode(key.mv_data, &g);
		}
		if (at.start == INT64_MAX)
			break;
		at.start++;
	}
	/* Callers get the (metric, start) order of the header. */
	if (!sorted)
		qsort(rows, n, sizeof *rows, cmp_scan_row);
	for (size_t i = 0; i < n && out == 0; i++)
		out = fn(ctx, &rows[i].k, &rows[i].v);
done:
	free(rows);
	mdb_cursor_close(cur);
	return out;
}

/* ---- senders, cursors, registry ---- */

int sto_sender_put(sto_txn *t, const char *sender, size_t len, uint64_t hwm)
{
	uint8_t vb[9];
	MDB_val key = {len, (void *)sender}, val = {sizeof vb, vb};
	vb[0] = VAL_VERSION;
	put_be64(vb + 1, hwm);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_SENDERS], &key, &val, 0));
}

int sto_sender_get(sto_txn *t, const char *sender, size_t len, uint64_t *hwm)
{
	MDB_val key = {len, (void *)sender}, val;
	int rc = mdb_get(t->txn, t->env->dbi[DB_SENDERS], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	if (val.mv_size != 9 || ((uint8_t *)val.mv_data)[0] != VAL_VERSION)
		return ER_EVERSION;
	*hwm = get_be64((uint8_t *)val.mv_data + 1);
	return 0;
}

typedef int each_fn(void *ctx, const MDB_val *k, const MDB_val *v);

static int each(sto_txn *t, int db, each_fn *fn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->env->dbi[db], &cur), out = 0;
	if (rc != 0)
		return sto__map_rc(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if ((out = fn(ctx, &k, &v)) != 0)
			break;
	mdb_cursor_close(cur);
	return out;
}

struct sender_each {
	sto_sender_fn *fn;
	void *ctx;
};

static int sender_cb(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct sender_each *s = ctx;
	if (v->mv_size != 9)
		return 0;
	return s->fn(s->ctx, k->mv_data, k->mv_size, get_be64((uint8_t *)v->mv_data + 1));
}

int sto_senders_each(sto_txn *t, sto_sender_fn *fn, void *ctx)
{
	struct sender_each s = {fn, ctx};
	return each(t, DB_SENDERS, sender_cb, &s);
}

int sto_cursor_put(sto_txn *t, uint64_t series_key, int64_t ts, er_fx value)
{
	uint8_t kb[8], vb[17];
	MDB_val key = {8, kb}, val = {sizeof vb, vb};
	put_be64(kb, series_key);
	vb[0] = VAL_VERSION;
	put_le64(vb + 1, (uint64_t)ts);
	put_le64(vb + 9, (uint64_t)value);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_SERIES], &key, &val, 0));
}

struct cursor_each {
	sto_cursor_fn *fn;
	void *ctx;
};

static int cursor_cb(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct cursor_each *c = ctx;
	const uint8_t *p = v->mv_data;
	if (k->mv_size != 8 || v->mv_size != 17 || p[0] != VAL_VERSION)
		return 0;
	return c->fn(c->ctx, get_be64(k->mv_data), (int64_t)get_le64(p + 1), (er_fx)get_le64(p + 9));
}

int sto_cursors_each(sto_txn *t, sto_cursor_fn *fn, void *ctx)
{
	struct cursor_each c = {fn, ctx};
	return each(t, DB_SERIES, cursor_cb, &c);
}

int sto_registry_put(sto_txn *t, int kind, uint64_t key, const char *row)
{
	uint8_t kb[9];
	MDB_val k = {9, kb}, v = {strlen(row), (void *)row};
	kb[0] = (uint8_t)kind;
	put_be64(kb + 1, key);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_REGISTRY], &k, &v, 0));
}

struct registry_each {
	sto_registry_fn *fn;
	void *ctx;
};

static int registry_cb(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct registry_each *r = ctx;
	const uint8_t *p = k->mv_data;
	if (k->mv_size != 9)
		return 0;
	return r->fn(r->ctx, p[0], get_be64(p + 1), v->mv_data, v->mv_size);
}

int sto_registry_each(sto_txn *t, sto_registry_fn *fn, void *ctx)
{
	struct registry_each r = {fn, ctx};
	return each(t, DB_REGISTRY, registry_cb, &r);
}

/* ---- events ---- */

const char *sto_event_type_name(int type)
{
	static const char *n[] = {"?", "reset", "spike", "replacement", "warning", "outbox"};
	return type >= 1 && type <= 5 ? n[type] : "?";
}

const char *sto_event_status_name(int status)
{
	static const char *n[] = {"?", "open", "accepted", "applied", "published"};
	return status >= 1 && status <= 4 ? n[status] : "?";
}

int sto_event_put(sto_txn *t, const sto_event *e)
{
	uint8_t kb[8], vb[EV_LEN];
	MDB_val key = {8, kb}, val = {EV_LEN, vb};

	put_be64(kb, e->id);
	memset(vb, 0, sizeof vb);
	vb[0] = VAL_VERSION;
	vb[1] = e->type;
	vb[2] = e->status;
	put_le64(vb + 4, e->series);
	put_le64(vb + 12, (uint64_t)e->t0);
	put_le64(vb + 20, (uint64_t)e->t1);
	put_le64(vb + 28, (uint64_t)e->v0);
	put_le64(vb + 36, (uint64_t)e->v1);
	put_le64(vb + 44, (uint64_t)e->amount);
	put_le64(vb + 52, (uint64_t)e->created);
	put_le64(vb + 60, (uint64_t)e->resolved);
	return sto__wrc(t, mdb_put(t->txn, t->env->dbi[DB_EVENTS], &key, &val, 0));
}

int sto__event_decode(const uint8_t *p, size_t len, uint64_t id, sto_event *e)
{
	if (len < EV_LEN || p[0] != VAL_VERSION)
		return ER_EVERSION;
	e->id = id;
	e->type = p[1];
	e->status = p[2];
	e->series = get_le64(p + 4);
	e->t0 = (int64_t)get_le64(p + 12);
	e->t1 = (int64_t)get_le64(p + 20);
	e->v0 = (er_fx)get_le64(p + 28);
	e->v1 = (er_fx)get_le64(p + 36);
	e->amount = (er_fx)get_le64(p + 44);
	e->created = (int64_t)get_le64(p + 52);
	e->resolved = (int64_t)get_le64(p + 60);
	return 0;
}

static int event_decode(const MDB_val *k, const MDB_val *v, sto_event *e)
{
	if (k->mv_size != 8)
		return ER_EVERSION;
	return sto__event_decode(v->mv_data, v->mv_size, get_be64(k->mv_data), e);
}

int sto_event_get(sto_txn *t, uint64_t id, sto_event *e)
{
	uint8_t kb[8];
	MDB_val key = {8, kb}, val;
	int rc;
	put_be64(kb, id);
	rc = mdb_get(t->txn, t->env->dbi[DB_EVENTS], &key, &val);
	if (rc != 0)
		return sto__map_rc(rc);
	return event_decode(&key, &val, e);
}

int sto_events_each(sto_txn *t, uint64_t after_id, sto_event_fn *fn, void *ctx)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val key = {8, kb}, val;
	sto_event e;
	int rc, out = 0;

	if (after_id == UINT64_MAX)
		return 0;
	rc = mdb_cursor_open(t->txn, t->env->dbi[DB_EVENTS], &cur);
	if (rc != 0)
		return sto__map_rc(rc);
	put_be64(kb, after_id + 1);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (event_decode(&key, &val, &e) == 0 && (out = fn(ctx, &e)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return out;
}

int sto_event_last_id(sto_txn *t, uint64_t *id)
{
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = mdb_cursor_open(t->txn, t->env->dbi[DB_EVENTS], &cur);
	if (rc != 0)
		return sto__map_rc(rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
	*id = rc == 0 && key.mv_size == 8 ? get_be64(key.mv_data) : 0;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : sto__map_rc(rc);
}
