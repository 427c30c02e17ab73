/* worker.c: decode workers and the sender table.
 *
 * A worker owns the senders routed to it: it alone advances a sender's
 * applied sequence and the cursors of the meters that sender reports, so
 * readings of one meter are applied in order without locks. Go-back-N:
 *   seq <= committed          DUPLICATE ack now (already durable)
 *   committed < seq <= applied  no reply: its ack follows its commit
 * and Hello is answered with a Welcome that only names durable batches.
 *   seq == applied + 1        apply, ack after commit
 *   otherwise                 GAP, expected = applied + 1
 * A batch is applied inside one epoch section to one delta table, together
 * with its ack record and the cursors it moved, so a flush holds whole
 * batches and the high-water mark it persists matches its rollups.
 */
#include "ingest.h"
#include "econ.h"
#include "meter.h"
#include "outbox.h"

#include <ck_hs.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <xxhash.h>

/* ---- senders ---- */

struct ing_senders {
	pthread_mutex_t lock; /* creation is rare; lookups are per batch */
	ck_hs_t hs;
	ing_sender **all;
	size_t n, cap;
};

static unsigned long snd_hash(const void *o, unsigned long seed)
{
	const ing_sender *s = o;
	return (unsigned long)XXH3_64bits_withSeed(s->name, s->len, seed);
}

static bool snd_cmp(const void *a, const void *b)
{
	const ing_sender *x = a, *y = b;
	return x->len == y->len && memcmp(x->name, y->name, x->len) == 0;
}

static void *snd_malloc(size_t n)
{
	return malloc(n);
}

static void *snd_realloc(void *p, size_t o, size_t n, bool d)
{
	(void)o;
	(void)d;
	return realloc(p, n);
}

static void snd_free(void *p, size_t n, bool d)
{
	(void)n;
	(void)d; /* every reader holds the mutex: nothing to defer */
	free(p);
}

static struct ck_malloc snd_alloc = {snd_malloc, snd_realloc, snd_free};

int ing_senders_new(ing_senders **out)
{
	ing_senders *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ER_ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	if (!ck_hs_init(&s->hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, snd_hash, snd_cmp, &snd_alloc, 64, 7)) {
		free(s);
		return ER_ENOMEM;
	}
	*out = s;
	return 0;
}

void ing_senders_free(ing_senders *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->all[i]);
	free(s->all);
	ck_hs_destroy(&s->hs);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static ing_sender *find_locked(ing_senders *s, const char *name, size_t len, bool create)
{
	ing_sender probe;
	if (len > ING_SENDER_MAX)
		return NULL;
	probe.len = len;
	memcpy(probe.name, name, len);
	unsigned long h = snd_hash(&probe, 7);
	ing_sender *f = ck_hs_get(&s->hs, h, &probe);
	if (f != NULL || !create)
		return f;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		ing_sender **a = realloc(s->all, cap * sizeof *a);
		if (a == NULL)
			return NULL;
		s->all = a;
		s->cap = cap;
	}
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->len = len;
	memcpy(f->name, name, len);
	if (!ck_hs_put(&s->hs, h, f)) {
		free(f);
		return NULL;
	}
	s->all[s->n++] = f;
	return f;
}

ing_sender *ing_senders_get(ing_senders *s, const char *name, size_t len)
{
	pthread_mutex_lock(&s->lock);
	ing_sender *f = find_locked(s, name, len, true);
	pthread_mutex_unlock(&s->lock);
	return f;
}

int ing_senders_restore(ing_senders *s, const char *name, size_t len, uint64_t hwm)
{
	ing_sender *f = ing_senders_get(s, name, len);
	if (f == NULL)
		return ER_ENOMEM;
	f->applied = hwm;
	atomic_store_explicit(&f->committed, hwm, memory_order_relaxed);
	return 0;
}

void ing_senders_each(ing_senders *s, ing_sender_fn *fn, void *ctx)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		fn(ctx, s->all[i]);
	pthread_mutex_unlock(&s->lock);
}

const char *ing_counter_name(int c)
{
	static const char *n[ING_C_COUNT] = {
		"frames", "batches", "readings", "accepted", "duplicates",
		"rejected_unknown_series", "rejected_not_finite", "rejected_future_ts",
		"rejected_ancient_ts", "rejected_negative_register", "rejected_out_of_order",
		"rejected_out_of_range", "malformed_frames", "oversized_frames", "bad_version_frames",
		"denied_frames", "gap_batches", "duplicate_batches", "inflight_resends", "hellos",
		"rollovers", "resets", "spikes_quarantined", "gaps_apportioned",
		"rejected_remote_series", "rollup_batches", "rollup_rows", "announcements",
		"rollup_batches_refused",
	};
	return c >= 0 && c < ING_C_COUNT ? n[c] : "?";
}

/* ---- worker ---- */

static void bump(ing_worker *w, int c, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(&w->stats->c[c], n, memory_order_relaxed);
}

static void reply(ing_worker *w, void *out, zmq_msg_t *id, const pb_msg *m)
{
	uint8_t *buf;
	size_t len;
	if (pb_encode(m, &buf, &len) != 0)
		return;
	ing_send_reply(out, zmq_msg_data(id), zmq_msg_size(id), buf, len);
	free(buf);
	(void)w;
}

static void reply_ack(ing_worker *w, void *out, zmq_msg_t *id, int status, uint64_t seq, uint64_t expected,
		      const char *msg)
{
	pb_msg m = {.type = PB_ACK};
	m.u.ack.status = status;
	m.u.ack.seq = seq;
	m.u.ack.expected = expected;
	m.u.ack.message = msg;
	reply(w, out, id, &m);
}

static bool id_is(zmq_msg_t *id, const char *sender)
{
	size_t n = strlen(sender);
	return zmq_msg_size(id) == n && memcmp(zmq_msg_data(id), sender, n) == 0;
}

static const int reason_counter[PB_R_COUNT] = {
	[PB_R_UNKNOWN_SERIES] = ING_C_REJ_UNKNOWN_SERIES, [PB_R_NOT_FINITE] = ING_C_REJ_NOT_FINITE,
	[PB_R_FUTURE_TS] = ING_C_REJ_FUTURE_TS,		  [PB_R_ANCIENT_TS] = ING_C_REJ_ANCIENT_TS,
	[PB_R_NEGATIVE_REGISTER] = ING_C_REJ_NEGATIVE,	  [PB_R_OUT_OF_ORDER] = ING_C_REJ_OUT_OF_ORDER,
	[PB_R_OUT_OF_RANGE] = ING_C_REJ_OUT_OF_RANGE,	  [PB_R_REMOTE_SERIES] = ING_C_REJ_REMOTE,
};

typedef struct verdicts {
	uint64_t accepted, dups, rejected;
	uint64_t n[PB_R_COUNT];
	uint32_t first[PB_R_COUNT];
	uint64_t first_series[PB_R_COUNT];
} verdicts;

static void reject(verdicts *v, int reason, uint32_t i, uint64_t series)
{
	if (v->n[reason]++ == 0) {
		v->first[reason] = i;
		v->first_series[reason] = series;
	}
	v->rejected++;
}

static void touch(ing_worker *w, agg_series *s)
{
	if (s->touched == w->tag)
		return;
	s->touched = w->tag;
	if (w->ntouched == w->captouched) {
		size_t cap = w->captouched ? w->captouched * 2 : 256;
		agg_series **t = realloc(w->touched, cap * sizeof *t);
		if (t == NULL)
			abort(); /* cannot lose a cursor of an applied reading */
		w->touched = t;
		w->captouched = cap;
	}
	w->touched[w->ntouched++] = s;
}

/* Economic rows of one batch, collected before any is logged. */
typedef struct econ_rows {
	ing_econ_rec *r;
	char (*codes)[64];
	size_t n, cap;
} econ_rows;

static int collect_row(void *ctx, const sto_econ_key *k, const sto_econ_val *v, const char *code)
{
	econ_rows *e = ctx;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		ing_econ_rec *r = realloc(e->r, cap * sizeof *r);
		char(*c)[64] = realloc(e->codes, cap * sizeof *c);
		if (r)
			e->r = r;
		if (c)
			e->codes = c;
		if (r == NULL || c == NULL)
			return ER_ENOMEM;
		e->cap = cap;
	}
	e->r[e->n].k = *k;
	e->r[e->n].v = *v;
	snprintf(e->codes[e->n], 64, "%s", code);
	e->n++;
	return 0;
}

/* Applies every reading of b to table t; fills v. */
static void apply_batch(ing_worker *w, agg_delta *t, const pb_batch *b, verdicts *v, agg_meter_stats *ms)
{
	const ing_config *cfg = w->cfg;
	int64_t now = er_now();

	for (size_t i = 0; i < b->n; i++) {
		uint64_t key = b->series[i];
		int64_t ts = b->ts[i];
		double val = b->value[i];
		er_fx fx;
		agg_series *s = agg_registry_series(w->reg, key);

		if (s == NULL) {
			reject(v, PB_R_UNKNOWN_SERIES, (uint32_t)i, key);
			continue;
		}
		if (!isfinite(val)) {
			reject(v, PB_R_NOT_FINITE, (uint32_t)i, key);
			continue;
		}
		if (ts > now + cfg->max_future_skew_s) {
			reject(v, PB_R_FUTURE_TS, (uint32_t)i, key);
			continue;
		}
		if (ts < ER_TS_MIN) {
			reject(v, PB_R_ANCIENT_TS, (uint32_t)i, key);
			continue;
		}
		if (er_fx_from_double(val, &fx) != 0) {
			reject(v, PB_R_OUT_OF_RANGE, (uint32_t)i, key);
			continue;
		}
		if (cfg->owners != NULL) {
			/* A city node: a district node's series reach the city as
			 * its rollups; taken here as well, they would count twice. */
			const agg_district *d = s->enterprise ? s->enterprise->district : s->station->district;
			if (ing_owners_of(cfg->owners, d->idx) != 0) {
				reject(v, PB_R_REMOTE_SERIES, (uint32_t)i, key);
				continue;
			}
		}
		switch (agg_meter_apply(t, w->id, s, ts, fx, cfg->utc_offset_s, ms)) {
		case AGG_APPLIED:
			v->accepted++;
			if (s->mode == AGG_CUMULATIVE)
				touch(w, s);
			break;
		case AGG_DUPLICATE: v->dups++; break;
		case AGG_REJ_NEGATIVE: reject(v, PB_R_NEGATIVE_REGISTER, (uint32_t)i, key); break;
		default: reject(v, PB_R_OUT_OF_ORDER, (uint32_t)i, key); break;
		}
	}
}

static int log_ack(agg_delta *t, int wid, ing_sender *snd, uint64_t seq, zmq_msg_t *id, const uint8_t *ack,
		   size_t acklen)
{
	size_t idlen = zmq_msg_size(id), n = sizeof(ing_ack_rec) + idlen + acklen;
	uint8_t stackbuf[1024], *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
	ing_ack_rec r = {.sender = snd, .seq = seq, .idlen = (uint32_t)idlen, .acklen = (uint32_t)acklen};
	int rc;

	if (buf == NULL)
		return ER_ENOMEM;
	memcpy(buf, &r, sizeof r);
	memcpy(buf + sizeof r, zmq_msg_data(id), idlen);
	memcpy(buf + sizeof r + idlen, ack, acklen);
	rc = agg_delta_log(t, wid, ING_REC_ACK, buf, n);
	if (buf != stackbuf)
		free(buf);
	return rc;
}

/* Every sequenced batch names its sender, which must be the connection's
 * (the routing id): false when it is not, and the frame was answered. */
static bool own_sender(ing_worker *w, void *out, zmq_msg_t *id, const char *sender, uint64_t seq)
{
	if (id_is(id, sender))
		return true;
	bump(w, ING_C_DENIED, 1);
	reply_ack(w, out, id, PB_ST_DENIED, seq, 0, "the batch's sender must equal the connection's ZeroMQ routing id");
	return false;
}

/* A batch of n readings (or rows) within max_batch_readings: false when
 * it is larger, and the frame was answered TOO_LARGE. */
static bool fits(ing_worker *w, void *out, zmq_msg_t *id, uint64_t seq, size_t n, const char *what)
{
	char msg[128];
	if (n <= w->cfg->max_batch_readings)
		return true;
	bump(w, ING_C_TOO_LARGE, 1);
	snprintf(msg, sizeof msg, "batch of %zu %s exceeds max_batch_readings %u", n, what, w->cfg->max_batch_readings);
	reply_ack(w, out, id, PB_ST_TOO_LARGE, seq, 0, msg);
	return false;
}

/* The end of every applied batch: its ack (m) is logged into table t with
 * its effects, the sender's applied mark moves to seq, and the worker
 * leaves the table; the store thread sends the ack after the commit. */
static void close_batch(ing_worker *w, agg_delta *t, ing_sender *snd, uint64_t seq, zmq_msg_t *id, const pb_msg *m)
{
	uint8_t *ack;
	size_t acklen;
	if (pb_encode(m, &ack, &acklen) != 0 || log_ack(t, w->id, snd, seq, id, ack, acklen) != 0)
		abort(); /* out of memory with half a batch applied */
	free(ack);
	snd->applied = seq;
	agg_core_leave(w->core, w->id);
}

/* Go-back-N (see the top of this file): the sender when seq is the next
 * one to apply, NULL when the frame was answered (or is awaiting its ack). */
static ing_sender *next_in_order(ing_worker *w, void *out, zmq_msg_t *id, const char *sender, uint64_t seq)
{
	char msg[96];
	ing_sender *snd = ing_senders_get(w->senders, sender, strlen(sender));

	if (snd == NULL) {
		reply_ack(w, out, id, PB_ST_UNAVAILABLE, seq, 0, "out of memory");
		return NULL;
	}
	/* acquire: pairs with the store thread's release after its commit */
	uint64_t committed = atomic_load_explicit(&snd->committed, memory_order_acquire);
	if (seq <= committed) {
		bump(w, ING_C_DUP_BATCHES, 1);
		reply_ack(w, out, id, PB_ST_DUPLICATE, seq, snd->applied + 1, "already applied");
		return NULL;
	}
	if (seq <= snd->applied) {
		/* Applied, not yet durable: its ack comes after the commit. */
		bump(w, ING_C_INFLIGHT_RESENDS, 1);
		return NULL;
	}
	if (seq != snd->applied + 1) {
		bump(w, ING_C_GAP, 1);
		snprintf(msg, sizeof msg, "expected seq %llu", (unsigned long long)(snd->applied + 1));
		reply_ack(w, out, id, PB_ST_GAP, seq, snd->applied + 1, msg);
		return NULL;
	}
	return snd;
}

/* Economic figures (DOMAIN.md 5) ride the same sequence and ack as
 * readings: each valid row is logged into the delta table and stored by
 * the store thread in the commit that acknowledges the batch. A row for an
 * unknown entity, or a whole CSV that does not parse, is refused and
 * counted; the Ack's message carries the first refusals. */
static void on_econ(ing_worker *w, void *out, zmq_msg_t *id, const pb_econ_batch *b)
{
	ing_sender *snd;
	econ_rows rows = {0};
	char *errors = NULL, msg[512] = "";
	uint32_t nrows = 0;

	if (!own_sender(w, out, id, b->sender, b->seq))
		return;
	if ((snd = next_in_order(w, out, id, b->sender, b->seq)) == NULL)
		return;
	uint64_t rejected = 0;
	if (sto_econ_csv_parse(b->csv, "econ", collect_row, &rows, &errors, &nrows) != 0) {
		rejected = nrows;
		snprintf(msg, sizeof msg, "%s", errors ? errors : "the CSV does not parse");
		rows.n = 0;
	}
	free(errors);

	agg_delta *t = agg_core_enter(w->core, w->id);
	uint64_t accepted = 0;
	for (size_t i = 0; i < rows.n; i++) {
		ing_econ_rec *r = &rows.r[i];
		bool known;
		if (r->k.level == 4 /* STO_CITY */) {
			known = strcmp(rows.codes[i], w->cfg->city) == 0;
			r->k.entity = w->cfg->city_key;
		} else {
			known = agg_registry_find(w->reg, r->k.level == 2 ? AGG_ENTERPRISE : AGG_DISTRICT, r->k.entity) != NULL;
		}
		if (!known) {
			rejected++;
			if (strlen(msg) < sizeof msg - 80)
				snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "row %zu: unknown entity '%s'\n", i + 1,
					 rows.codes[i]);
			continue;
		}
		if (agg_delta_log(t, w->id, ING_REC_ECON, r, sizeof *r) != 0)
			abort(); /* out of memory with half a batch applied */
		accepted++;
	}
	pb_msg m = {.type = PB_ACK};
	m.u.ack.seq = b->seq;
	m.u.ack.status = PB_ST_OK;
	m.u.ack.expected = b->seq + 1;
	m.u.ack.accepted = accepted;
	m.u.ack.rejected = rejected;
	m.u.ack.message = msg;
	close_batch(w, t, snd, b->seq, id, &m);
	bump(w, ING_C_BATCHES, 1);
	free(rows.r);
	free(rows.codes);
}

static void on_batch(ing_worker *w, void *out, zmq_msg_t *id, const pb_batch *b)
{
	ing_sender *snd;
	char msg[160];

	if (!own_sender(w, out, id, b->sender, b->seq))
		return;
	if (b->nts != b->n || b->nvalue != b->n || (b->nflags != 0 && b->nflags != b->n)) {
		bump(w, ING_C_MALFORMED, 1);
		snprintf(msg, sizeof msg, "columns disagree: %zu series, %zu ts, %zu values, %zu flags", b->n, b->nts,
			 b->nvalue, b->nflags);
		reply_ack(w, out, id, PB_ST_MALFORMED, b->seq, 0, msg);
		return;
	}
	if (!fits(w, out, id, b->seq, b->n, "readings"))
		return;
	if ((snd = next_in_order(w, out, id, b->sender, b->seq)) == NULL)
		return;

	verdicts v;
	agg_meter_stats ms = {0};
	memset(&v, 0, sizeof v);
	w->tag++;
	w->ntouched = 0;

	agg_delta *t = agg_core_enter(w->core, w->id);
	apply_batch(w, t, b, &v, &ms);
	for (size_t i = 0; i < w->ntouched; i++) {
		agg_series *s = w->touched[i];
		agg_rec_cursor c = {.series = s->idx, .ts = s->cur.ts, .value = s->cur.value};
		if (agg_delta_log(t, w->id, AGG_REC_CURSOR, &c, sizeof c) != 0)
			abort(); /* out of memory with half a batch applied */
	}
	pb_msg m = {.type = PB_ACK};
	pb_ack *a = &m.u.ack;
	a->seq = b->seq;
	a->status = PB_ST_OK;
	a->expected = b->seq + 1;
	a->accepted = v.accepted;
	a->rejected = v.rejected;
	a->duplicates = v.dups;
	for (int r = 1; r < PB_R_COUNT && a->nreasons < PB_MAX_REASONS; r++) {
		if (v.n[r] == 0)
			continue;
		pb_reason_count *rc = &a->reasons[a->nreasons++];
		rc->reason = r;
		rc->count = v.n[r];
		rc->first_index = v.first[r];
		rc->first_series = v.first_series[r];
	}
	close_batch(w, t, snd, b->seq, id, &m);

	bump(w, ING_C_BATCHES, 1);
	bump(w, ING_C_READINGS, b->n);
	bump(w, ING_C_ACCEPTED, v.accepted);
	bump(w, ING_C_DUPLICATES, v.dups);
	for (int r = 1; r < PB_R_COUNT; r++)
		bump(w, reason_counter[r], v.n[r]);
	bump(w, ING_C_ROLLOVERS, ms.rollovers);
	bump(w, ING_C_RESETS, ms.resets);
	bump(w, ING_C_SPIKES, ms.spikes);
	bump(w, ING_C_GAPS_APPORTIONED, ms.gaps);
}

/* ---- rollups from a district node (a city node) ---- */

/* Checks row r of a RollupBatch from owner id: its entity must be an
 * enterprise or station of a district that owner owns. 0 and *district set,
 * or a refusal in msg. */
static int check_row(ing_worker *w, uint32_t id, const pb_rollup_row *r, uint64_t *district, char *msg, size_t cap)
{
	const agg_district *d = NULL;

	if (r->res < ER_RES_HOUR || r->res > ER_RES_YEAR || r->metric > 0xffff || r->count < 0) {
		snprintf(msg, cap, "a row that is not a rollup delta (res %u, metric %u, count %lld)", r->res,
			 r->metric, (long long)r->count);
		return ER_EINVAL;
	}
	if (r->level == 2 /* STO_ENTERPRISE */) {
		const agg_enterprise *e = (const agg_enterprise *)agg_registry_find(w->reg, AGG_ENTERPRISE, r->entity);
		d = e ? e->district : NULL;
	} else if (r->level == 5 /* STO_STATION */) {
		const agg_station *st = (const agg_station *)agg_registry_find(w->reg, AGG_STATION, r->entity);
		d = st ? st->district : NULL;
	} else {
		snprintf(msg, cap, "a row of level %u: a district node sends enterprise and station rows", r->level);
		return ER_EINVAL;
	}
	if (d == NULL) {
		snprintf(msg, cap, "a %s row for entity %016llx, which no announcement registered",
			 r->level == 2 ? "enterprise" : "station", (unsigned long long)r->entity);
		return ER_EINVAL;
	}
	if (ing_owners_of(w->cfg->owners, d->idx) != id) {
		snprintf(msg, cap, "a row for district %s, which this district node does not own", d->code);
		return ER_EINVAL;
	}
	*district = d->h.key;
	return 0;
}

static int check_econ(ing_worker *w, uint32_t id, const uint8_t *bytes, ing_econ_rec *out, char *msg, size_t cap)
{
	const agg_district *d = NULL;

	sto_econ_key_decode(bytes, &out->k);
	if (sto_econ_val_decode(bytes + STO_ECON_KEY_LEN, &out->v) != 0 || !sto_econ_key_valid(&out->k) ||
	    out->v.value < 0) {
		snprintf(msg, cap, "an economic figure in an unknown layout or with an impossible key or value");
		return ER_EINVAL;
	}
	if (out->k.level == 2) {
		const agg_enterprise *e = (const agg_enterprise *)agg_registry_find(w->reg, AGG_ENTERPRISE, out->k.entity);
		d = e ? e->district : NULL;
	} else if (out->k.level == 3) {
		d = (const agg_district *)agg_registry_find(w->reg, AGG_DISTRICT, out->k.entity);
	}
	if (d == NULL || ing_owners_of(w->cfg->owners, d->idx) != id) {
		snprintf(msg, cap, "an economic figure of an entity this district node does not own");
		return ER_EINVAL;
	}
	return 0;
}

/* An event of a RollupBatch: 8 bytes of id, then the stored event. */
static int log_event(agg_delta *t, int wid, uint64_t node, const uint8_t *ev, size_t len)
{
	size_t n = sizeof(ing_event_rec) + len - 8;
	uint8_t *buf = malloc(n);
	ing_event_rec r = {.node = node, .len = (uint32_t)(len - 8)};
	int rc;

	if (buf == NULL)
		return ER_ENOMEM;
	for (int k = 0; k < 8; k++)
		r.id = r.id << 8 | ev[k];
	memcpy(buf, &r, sizeof r);
	memcpy(buf + sizeof r, ev + 8, len - 8);
	rc = agg_delta_log(t, wid, ING_REC_EVENT, buf, n);
	free(buf);
	return rc;
}

/* A RollupBatch: one outbox entry of a district node. It is applied whole
 * or refused whole: a refusal (DENIED) leaves the high-water mark where it
 * was, so the district's uplink stops at that entry and keeps it, and the
 * operator mends the registry; nothing is skipped. */
static void on_rollup(ing_worker *w, void *out, zmq_msg_t *id, const pb_rollup_batch *b)
{
	ing_sender *snd;
	char msg[256];
	uint32_t owner;

	if (!own_sender(w, out, id, b->sender, b->seq))
		return;
	if (w->cfg->owners == NULL) {
		bump(w, ING_C_DENIED, 1);
		reply_ack(w, out, id, PB_ST_DENIED, b->seq, 0,
			  "this node does not take rollups: send them to a node started with --role city");
		return;
	}
	if (!b->columns_agree) {
		bump(w, ING_C_MALFORMED, 1);
		reply_ack(w, out, id, PB_ST_MALFORMED, b->seq, 0, "the rollup columns have different lengths");
		return;
	}
	if (!fits(w, out, id, b->seq, b->nrows, "rows"))
		return;
	if ((snd = next_in_order(w, out, id, b->sender, b->seq)) == NULL)
		return;
	if (b->has_registry) {
		int rc = w->cfg->announce(w->cfg->announce_ctx, b->sender, &b->registry, msg, sizeof msg);
		if (rc == ER_EEXIST || rc == ER_EINVAL) {
			bump(w, ING_C_ROLLUP_REFUSED, 1);
			er_log(ER_LOG_ERROR, "district node %s: announcement (batch %llu) refused: %s", b->sender,
			       (unsigned long long)b->seq, msg);
			reply_ack(w, out, id, PB_ST_DENIED, b->seq, b->seq, msg);
			return;
		}
		if (rc != 0) {
			snprintf(msg, sizeof msg, "cannot store the announcement now: %s", er_strerror(rc));
			reply_ack(w, out, id, PB_ST_UNAVAILABLE, b->seq, b->seq, msg);
			return;
		}
		bump(w, ING_C_ANNOUNCEMENTS, 1);
	}
	owner = ing_owners_id(w->cfg->owners, b->sender, strlen(b->sender), false);
	ing_rollup_rec *recs = b->nrows ? malloc(b->nrows * sizeof *recs) : NULL;
	ing_econ_rec *econ = b->necon ? malloc(b->necon * sizeof *econ) : NULL;
	if ((b->nrows && recs == NULL) || (b->necon && econ == NULL)) {
		free(recs);
		free(econ);
		reply_ack(w, out, id, PB_ST_UNAVAILABLE, b->seq, b->seq, "out of memory");
		return;
	}
	/* Everything is checked before anything is applied; the registry
	 * lookups run inside the epoch section, as on_batch's do. */
	agg_delta *t = agg_core_enter(w->core, w->id);
	for (size_t i = 0; i < b->nrows; i++) {
		const pb_rollup_row *r = &b->rows[i];
		ing_rollup_rec *o = &recs[i];
		char why[160];
		if (check_row(w, owner, r, &o->district, why, sizeof why) != 0) {
			snprintf(msg, sizeof msg, "row %zu: %s", i + 1, why);
			goto refuse;
		}
		o->k = (sto_key){.level = (uint8_t)r->level, .entity = r->entity, .metric = (uint16_t)r->metric,
				 .res = (uint8_t)r->res, .start = r->start};
		o->v = (sto_val){.count = r->count, .sum = r->sum, .min = r->min, .max = r->max,
				 .coverage_s = r->coverage_s, .flags = r->flags, .members = r->members,
				 .complete = r->complete};
	}
	for (size_t i = 0; i < b->necon; i++) {
		char why[160];
		if (check_econ(w, owner, b->econ + i * PB_ECON_BYTES, &econ[i], why, sizeof why) != 0) {
			snprintf(msg, sizeof msg, "figure %zu: %s", i + 1, why);
			goto refuse;
		}
	}
	for (size_t i = 0; i < b->nevents; i++) {
		if (b->event_len[i] < 8 || b->event_len[i] - 8 > UINT32_MAX ||
		    !sto_event_raw_valid(b->events[i] + 8, b->event_len[i] - 8)) {
			snprintf(msg, sizeof msg, "event %zu: not an event this node can store", i + 1);
			goto refuse;
		}
	}
	for (size_t i = 0; i < b->nrows; i++)
		if (agg_delta_log(t, w->id, ING_REC_ROLLUP, &recs[i], sizeof recs[i]) != 0)
			abort(); /* out of memory with half a batch applied */
	for (size_t i = 0; i < b->necon; i++)
		if (agg_delta_log(t, w->id, ING_REC_ECON, &econ[i], sizeof econ[i]) != 0)
			abort(); /* out of memory with half a batch applied */
	uint64_t node_key = er_key(b->sender, strlen(b->sender));
	for (size_t i = 0; i < b->nevents; i++)
		if (log_event(t, w->id, node_key, b->events[i], b->event_len[i]) != 0)
			abort(); /* out of memory with half a batch applied */
	pb_msg m = {.type = PB_ACK};
	m.u.ack.seq = b->seq;
	m.u.ack.status = PB_ST_OK;
	m.u.ack.expected = b->seq + 1;
	m.u.ack.accepted = b->nrows + b->necon + b->nevents;
	close_batch(w, t, snd, b->seq, id, &m);
	bump(w, ING_C_ROLLUP_BATCHES, 1);
	bump(w, ING_C_ROLLUP_ROWS, b->nrows);
	free(recs);
	free(econ);
	return;
refuse:
	agg_core_leave(w->core, w->id);
	bump(w, ING_C_ROLLUP_REFUSED, 1);
	er_log(ER_LOG_ERROR, "district node %s: batch %llu refused: %s", b->sender, (unsigned long long)b->seq, msg);
	reply_ack(w, out, id, PB_ST_DENIED, b->seq, b->seq, msg);
	free(recs);
	free(econ);
}

/* Welcome{next_seq} tells a sender where to resume, so it must name a
 * durable point: when every batch this sender had applied is committed,
 * it is sent at once with committed + 1; otherwise it is logged into the
 * active table like an ack and the store thread sends it after the commit
 * that makes those batches durable, with applied + 1. Either way the
 * sender never skips a batch that a crash could still lose, and never
 * resends one that was applied. */
static void on_hello(ing_worker *w, void *out, zmq_msg_t *id, ing_sender *snd)
{
	pb_msg r = {.type = PB_WELCOME};
	uint8_t *buf;
	size_t len;
	/* acquire: pairs with the store thread's release after its commit */
	uint64_t committed = atomic_load_explicit(&snd->committed, memory_order_acquire);

	r.u.welcome.sender = snd->name;
	r.u.welcome.next_seq = snd->applied + 1;
	if (committed == snd->applied) {
		reply(w, out, id, &r);
		return;
	}
	if (pb_encode(&r, &buf, &len) != 0)
		return;
	agg_delta *t = agg_core_enter(w->core, w->id);
	/* seq = applied: persisting it again as the high-water mark is a
	 * no-op, and it never moves committed backwards. */
	if (log_ack(t, w->id, snd, snd->applied, id, buf, len) != 0)
		abort(); /* out of memory: cannot queue the reply */
	agg_core_leave(w->core, w->id);
	free(buf);
}

static void on_frame(ing_worker *w, void *out, zmq_msg_t *id, zmq_msg_t *body)
{
	pb_msg m;
	char msg[128];
	int rc = pb_decode(zmq_msg_data(body), zmq_msg_size(body), &m);

	if (rc == ER_EVERSION) {
		bump(w, ING_C_BAD_VERSION, 1);
		snprintf(msg, sizeof msg, "protocol version %u is not supported; this server speaks %d", m.version,
			 PB_VERSION);
		reply_ack(w, out, id, PB_ST_BAD_VERSION, 0, 0, msg);
		return;
	}
	if (rc != 0) {
		bump(w, ING_C_MALFORMED, 1);
		reply_ack(w, out, id, PB_ST_MALFORMED, 0, 0, "the frame is not an ecoroll envelope");
		return;
	}
	switch (m.type) {
	case PB_HELLO: {
		if (!id_is(id, m.u.hello.sender)) {
			bump(w, ING_C_DENIED, 1);
			reply_ack(w, out, id, PB_ST_DENIED, 0, 0,
				  "set the ZeroMQ routing id (ZMQ_ROUTING_ID) to the sender name");
			break;
		}
		ing_sender *snd = ing_senders_get(w->senders, m.u.hello.sender, strlen(m.u.hello.sender));
		if (snd == NULL) {
			reply_ack(w, out, id, PB_ST_UNAVAILABLE, 0, 0, "out of memory");
			break;
		}
		bump(w, ING_C_HELLOS, 1);
		on_hello(w, out, id, snd);
		break;
	}
	case PB_BATCH: on_batch(w, out, id, &m.u.batch); break;
	case PB_ECON_BATCH: on_econ(w, out, id, &m.u.econ_batch); break;
	case PB_ROLLUP_BATCH: on_rollup(w, out, id, &m.u.rollup_batch); break;
	default:
		bump(w, ING_C_MALFORMED, 1);
		reply_ack(w, out, id, PB_ST_MALFORMED, 0, 0,
			  "only Hello, ReadingBatch, EconBatch and RollupBatch are accepted here");
		break;
	}
	pb_msg_fini(&m);
}

int ing_worker_run(ing_worker *w)
{
	void *in = zmq_socket(w->zctx, ZMQ_PULL), *out = zmq_socket(w->zctx, ZMQ_PUSH);
	char ep[64];
	int hwm = 0, more;
	size_t sz;

	if (in == NULL || out == NULL)
		return ER_EIO;
	zmq_setsockopt(in, ZMQ_RCVHWM, &hwm, sizeof hwm);
	zmq_setsockopt(out, ZMQ_SNDHWM, &hwm, sizeof hwm);
	ing_worker_endpoint(w->id, ep, sizeof ep);
	if (zmq_connect(in, ep) != 0 || zmq_connect(out, ING_EGRESS) != 0) {
		zmq_close(in);
		zmq_close(out);
		return ER_EIO;
	}
	for (;;) {
		zmq_msg_t id, body;
		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, in, 0) < 0) {
			zmq_msg_close(&id);
			if (errno == EINTR)
				continue;
			break;
		}
		sz = sizeof more;
		zmq_getsockopt(in, ZMQ_RCVMORE, &more, &sz);
		if (!more) { /* the gateway's stop marker */
			zmq_msg_close(&id);
			break;
		}
		zmq_msg_init(&body);
		zmq_msg_recv(&body, in, 0);
		on_frame(w, out, &id, &body);
		zmq_msg_close(&id);
		zmq_msg_close(&body);
	}
	free(w->touched);
	w->touched = NULL;
	zmq_setsockopt(out, ZMQ_LINGER, &(int){-1}, sizeof(int));
	zmq_close(in);
	zmq_close(out);
	return 0;
}
