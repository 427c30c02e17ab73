/* flusher.c: the store thread (DESIGN.md "Store", "Acks").
 *
 * It flushes when a worker asks (group commit: a worker that applied a
 * batch asks at once, so under load commits run back to back and each
 * takes what arrived during the previous one), when a worker's share of
 * the delta table is half used, or every flush_ms. A flush swaps the delta
 * tables, drains the old one into *pending* (meter-hour deltas, cursor
 * snapshots, acks) and commits pending in one LMDB write transaction:
 *   1. meter-hour rows, sorted in key order (hour, then meter),
 *      read-modify-written; coverage is capped at 3600 s per meter-hour,
 *      and what a row really gained is what propagates upward;
 *   2. meter day/month/year rows from those gains (combined in memory,
 *      sorted, merged);
 *   3. enterprise rows at every resolution from the meter rows' gains,
 *      then district and city rows from the enterprise rows' gains, where
 *      "members" counts the meter rows that came into being;
 *   4. cursors of cumulative meters and each sender's high-water mark.
 *   5. on a district node, the enterprise and station rows' gains (every
 *      resolution), the economic figures and the events it stored,
 *      appended to the outbox; on a city node, the rows district nodes
 *      sent are merged like the enterprise and station rows of its own
 *      meters, and their events kept under the node (node/tiers.c).
 * Only after the commit does it publish each sender's committed sequence
 * and send the acks. A failed commit keeps pending and tries again later:
 * nothing is acknowledged that is not durable, and nothing is dropped.
 */
#include <ck_epoch.h>
#include "node.h"

#include "batch.h"
#include "econ.h"
#include "meter.h"
#include "outbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RETRY_MS_MAX 5000 /* back-off cap while LMDB refuses commits */

typedef struct pend {
	uint64_t skey; /* series key: after the hour, the LMDB order of meter rows */
	uint32_t hour;
	uint32_t idx;
	agg_sample s;
} pend;

typedef struct ackrec {
	ing_sender *sender;
	uint64_t seq;
	uint32_t idlen, acklen;
	uint8_t *bytes; /* identity then ack */
} ackrec;

struct node_flusher {
	node *n;
	void *egress;
	pend *p;
	size_t np, capp;
	agg_rec_cursor *cur;
	size_t ncur, capcur;
	ackrec *acks;
	size_t nacks, capacks;
	agg_rec_event *ev;
	size_t nev, capev;
	ing_econ_rec *econ;
	size_t necon, capecon;
	ing_rollup_rec *roll; /* a city node: rows from district nodes */
	size_t nroll, caproll;
	pb_rollup_row *ob;    /* a district node: this attempt's outbox rows */
	size_t nob, capob;
	uint8_t *obecon;      /* and economic figures stored (PB_ECON_BYTES each) */
	size_t nobecon, capobecon;
	uint64_t *evids;      /* and the events this attempt put, new or changed */
	size_t nevids, capevids;
	uint8_t *evbuf;	      /* those events as sent (collect_events) */
	size_t nevbuf, capevbuf;
	const uint8_t **evp;
	size_t *evlen, capevp;
	ing_event_rec **rev;  /* a city node: district nodes' events */
	size_t nrev, caprev;
	sto_batch *meter, *ent, *upper; /* meter day..year; enterprise; district and city */
	sto_txn *txn;
	int rc;		   /* first error of the commit in progress */
	size_t np_base;	   /* pending entries before this attempt's corrections */
	uint64_t next_id;  /* the next event id, after the last commit */
	uint64_t try_id;   /* the next event id within this attempt */
	node_cmd *active;  /* commands being applied */
	int64_t now;
};

#define GROW(arr, n, cap)                                                                                    \
	do {                                                                                                 \
		if ((n) == (cap)) {                                                                          \
			size_t c_ = (cap) ? (cap) * 2 : 1024;                                                \
			void *a_ = realloc((arr), c_ * sizeof *(arr));                                       \
			if (a_ == NULL)                                                                      \
				abort(); /* losing pending data is worse than stopping: senders resend */    \
			(arr) = a_;                                                                          \
			(cap) = c_;                                                                          \
		}                                                                                            \
	} while (0)

int node_flusher_new(node *n, node_flusher **out)
{
	node_flusher *f = calloc(1, sizeof *f);
	int hwm = 0;

	if (f == NULL)
		return ER_ENOMEM;
	f->n = n;
	if (sto_batch_new(&f->meter) != 0 || sto_batch_new(&f->ent) != 0 || sto_batch_new(&f->upper) != 0)
		goto fail;
	f->egress = zmq_socket(n->zctx, ZMQ_PUSH);
	if (f->egress == NULL)
		goto fail;
	zmq_setsockopt(f->egress, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(f->egress, ZMQ_LINGER, &(int){-1}, sizeof(int));
	if (zmq_connect(f->egress, ING_EGRESS) != 0)
		goto fail;
	sto_txn *t;
	if (sto_read_begin(n->store, &t) != 0)
		goto fail;
	int rc = sto_event_last_id(t, &f->next_id);
	sto_abort(t);
	if (rc != 0)
		goto fail;
	f->next_id++;
	*out = f;
	return 0;
fail:
	node_flusher_free(f);
	return ER_ENOMEM;
}

void node_flusher_free(node_flusher *f)
{
	if (f == NULL)
		return;
	if (f->egress)
		zmq_close(f->egress);
	for (size_t i = 0; i < f->nacks; i++)
		free(f->acks[i].bytes);
	free(f->acks);
	free(f->ev);
	free(f->econ);
	free(f->roll);
	free(f->ob);
	free(f->obecon);
	free(f->evids);
	free(f->evbuf);
	free(f->evp);
	free(f->evlen);
	for (size_t i = 0; i < f->nrev; i++)
		free(f->rev[i]);
	free(f->rev);
	for (node_cmd *c = f->active, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(f->p);
	free(f->cur);
	sto_batch_free(f->meter);
	sto_batch_free(f->ent);
	sto_batch_free(f->upper);
	free(f);
}

/* ---- draining a table into pending ---- */

static void on_delta(void *ctx, uint64_t key, const agg_sample *s)
{
	node_flusher *f = ctx;
	agg_series *ser = agg_registry_series_at(f->n->reg, agg_key_series(key));

	if (ser == NULL)
		return; /* cannot happen: workers only apply registered series */
	GROW(f->p, f->np, f->capp);
	f->p[f->np].skey = ser->h.key;
	f->p[f->np].hour = agg_key_hour(key);
	f->p[f->np].idx = ser->idx;
	f->p[f->np].s = *s;
	f->np++;
}

static void on_log(void *ctx, int w, int type, const void *rec, size_t len)
{
	node_flusher *f = ctx;
	(void)w;
	if (type == AGG_REC_CURSOR && len == sizeof(agg_rec_cursor)) {
		GROW(f->cur, f->ncur, f->capcur);
		memcpy(&f->cur[f->ncur++], rec, sizeof(agg_rec_cursor));
	} else if (type == ING_REC_ECON && len == sizeof(ing_econ_rec)) {
		GROW(f->econ, f->necon, f->capecon);
		memcpy(&f->econ[f->necon++], rec, sizeof(ing_econ_rec));
	} else if (type == ING_REC_EVENT && len > sizeof(ing_event_rec)) {
		ing_event_rec *r = malloc(len);
		if (r == NULL)
			abort(); /* losing pending data is worse than stopping: senders resend */
		memcpy(r, rec, len);
		GROW(f->rev, f->nrev, f->caprev);
		f->rev[f->nrev++] = r;
	} else if (type == ING_REC_ROLLUP && len == sizeof(ing_rollup_rec)) {
		GROW(f->roll, f->nroll, f->caproll);
		memcpy(&f->roll[f->nroll++], rec, sizeof(ing_rollup_rec));
	} else if (type == AGG_REC_EVENT && len == sizeof(agg_rec_event)) {
		GROW(f->ev, f->nev, f->capev);
		memcpy(&f->ev[f->nev++], rec, sizeof(agg_rec_event));
	} else if (type == ING_REC_ACK && len >= sizeof(ing_ack_rec)) {
		ing_ack_rec r;
		memcpy(&r, rec, sizeof r);
		GROW(f->acks, f->nacks, f->capacks);
		ackrec *a = &f->acks[f->nacks++];
		a->sender = r.sender;
		a->seq = r.seq;
		a->idlen = r.idlen;
		a->acklen = r.acklen;
		a->bytes = malloc((size_t)r.idlen + r.acklen);
		if (a->bytes == NULL)
			abort();
		memcpy(a->bytes, (const uint8_t *)rec + sizeof r, (size_t)r.idlen + r.acklen);
	}
}

/* ---- committing pending ---- */

/* The rollup key order (store.c): hour first, then the meter, so the
 * meter-hour read-modify-writes walk the B-tree forward. */
static int cmp_pend(const void *a, const void *b)
{
	const pend *x = a, *y = b;
	if (x->hour != y->hour)
		return x->hour < y->hour ? -1 : 1;
	return x->skey < y->skey ? -1 : x->skey > y->skey;
}

/* Sorts pending and merges entries with the same (series, hour). */
static void combine_pending(node_flusher *f)
{
	size_t w = 0;
	qsort(f->p, f->np, sizeof *f->p, cmp_pend);
	for (size_t i = 0; i < f->np; i++) {
		if (w > 0 && f->p[w - 1].skey == f->p[i].skey && f->p[w - 1].hour == f->p[i].hour)
			agg_sample_merge(&f->p[w - 1].s, &f->p[i].s);
		else
			f->p[w++] = f->p[i];
	}
	f->np = w;
}

/* The row a series' readings roll into at its own level. */
static void series_key(node *n, const agg_series *s, sto_key *k)
{
	if (s->station != NULL) {
		k->level = STO_STATION;
		k->entity = s->station->h.key;
		k->metric = sto_metric(s->carrier, 0);
	} else {
		k->level = STO_METER;
		k->entity = s->h.key;
		k->metric = sto_metric(s->carrier, s->purpose);
	}
	(void)n;
}

/* Quantities (cumulative, interval) add up across meters; levels do not. */
static bool rolls_up(const agg_series *s)
{
	return s->station == NULL && s->mode != AGG_INSTANT;
}

/* A meter's gain goes to its enterprise's row (tagged with the district);
 * the enterprise rows' gains go on to the district and the city when they
 * are merged, so a meter-hour costs one tier entry, not three. */
static void add_enterprise(node_flusher *f, const agg_enterprise *ent, const sto_key *k, const sto_val *gain)
{
	sto_key t = *k;

	t.level = STO_ENTERPRISE;
	t.entity = ent->h.key;
	if (f->rc == 0)
		f->rc = sto_batch_add(f->ent, &t, gain, ent->district->h.key);
}

/* A meter row's tag: the enterprise it rolls up into, or 0. Registry
 * entries live as long as the node; carrying the pointer saves the walk
 * back to the series (a cache miss per row with 100,000 meters, the
 * largest single cost of a city-week flush in perf). */
static uint64_t rollup_tag(const agg_series *s)
{
	return rolls_up(s) ? (uint64_t)(uintptr_t)s->enterprise : 0;
}

/* Whether a meter row became complete with this merge: its coverage
 * reached the bucket's length (a tier row counts complete members). */
static uint32_t became_complete(const sto_key *k, uint64_t before, uint64_t after, int offset_s)
{
	uint64_t len = (uint64_t)(er_bucket_next(k->start, (enum er_res)k->res, offset_s) - k->start);
	return before < len && after >= len;
}

/* A district node: the gain of an enterprise or station row goes to the
 * outbox. The city merges exactly these gains, so its rows are the
 * district's, members and complete included. */
static void to_outbox(node_flusher *f, const sto_key *k, const sto_val *d)
{
	if (f->n->role != NODE_DISTRICT)
		return;
	GROW(f->ob, f->nob, f->capob);
	f->ob[f->nob++] = (pb_rollup_row){.level = k->level, .res = k->res, .metric = k->metric, .entity = k->entity,
					  .start = k->start, .count = d->count, .sum = d->sum, .min = d->min,
					  .max = d->max, .coverage_s = d->coverage_s, .flags = d->flags,
					  .members = d->members, .complete = d->complete};
}

static int merge_meter_hours(node_flusher *f)
{
	node *n = f->n;
	int off = n->cfg.utc_offset_s;

	for (size_t i = 0; i < f->np; i++) {
		pend *e = &f->p[i];
		agg_series *s = agg_registry_series_at(n->reg, e->idx);
		sto_key k;
		sto_val before, d, after, gain;
		bool existed = true;
		int rc;

		series_key(n, s, &k);
		k.res = ER_RES_HOUR;
		k.start = (int64_t)e->hour * 3600 - off;
		d.count = e->s.count;
		d.sum = e->s.sum;
		d.min = e->s.min;
		d.max = e->s.max;
		d.flags = e->s.flags;
		d.members = 0;
		d.complete = 0;
		d.coverage_s = e->s.coverage_s;
		/* Coverage is seconds of the hour backed by readings: never
		 * more than the hour, however many readings overlap. */
		if ((rc = sto_rollup_add(f->txn, &k, &d, 3600, &before, &after, &existed)) != 0)
			return rc;
		d.coverage_s = after.coverage_s - before.coverage_s; /* what the row really gained */
		gain = d;
		gain.members = 0;
		gain.complete = 0;
		for (int r = ER_RES_DAY; r <= ER_RES_YEAR; r++) {
			sto_key up = k;
			up.res = (uint8_t)r;
			up.start = er_bucket_start(k.start, (enum er_res)r, off);
			if ((rc = sto_batch_add(f->meter, &up, &gain, rollup_tag(s))) != 0)
				return rc;
		}
		if (s->station != NULL)
			to_outbox(f, &k, &gain);
		if (rolls_up(s)) {
			gain.members = existed ? 0 : 1;
			gain.complete = became_complete(&k, before.coverage_s, after.coverage_s, off);
			add_enterprise(f, s->enterprise, &k, &gain);
			if (f->rc != 0)
				return f->rc;
		}
	}
	return 0;
}

static int merge_meter_row(void *ctx, const sto_key *k, const sto_val *d, uint64_t ent)
{
	node_flusher *f = ctx;
	sto_val after, gain;
	bool existed;
	int rc = sto_rollup_merge(f->txn, k, d, &existed, &after);

	if (rc != 0)
		return rc;
	if (k->level == STO_STATION)
		to_outbox(f, k, d);
	if (k->level != STO_METER || ent == 0)
		return 0;
	gain = *d;
	gain.members = existed ? 0 : 1;
	gain.complete = became_complete(k, after.coverage_s - d->coverage_s, after.coverage_s, f->n->cfg.utc_offset_s);
	add_enterprise(f, (const agg_enterprise *)(uintptr_t)ent, k, &gain);
	return f->rc;
}

static int merge_enterprise_row(void *ctx, const sto_key *k, const sto_val *d, uint64_t district)
{
	node_flusher *f = ctx;
	sto_val after;
	sto_key t = *k;
	bool existed;
	int rc = sto_rollup_merge(f->txn, k, d, &existed, &after);

	if (rc != 0)
		return rc;
	to_outbox(f, k, d);
	/* members and complete count meter rows at every tier: they add up */
	t.level = STO_DISTRICT;
	t.entity = district;
	if ((rc = sto_batch_add(f->upper, &t, d, 0)) != 0)
		return rc;
	if (f->n->role == NODE_DISTRICT)
		return 0; /* the city row is the city node's */
	t.level = STO_CITY;
	t.entity = f->n->city_key;
	return sto_batch_add(f->upper, &t, d, 0);
}

static int merge_row(void *ctx, const sto_key *k, const sto_val *d, uint64_t tag)
{
	node_flusher *f = ctx;
	sto_val after;
	bool existed;
	(void)tag;
	return sto_rollup_merge(f->txn, k, d, &existed, &after);
}

/* ---- events and commands ---- */

static void to_pending(void *ctx, uint64_t key, const agg_sample *smp)
{
	node_flusher *f = ctx;
	agg_series *ser = agg_registry_series_at(f->n->reg, agg_key_series(key));
	GROW(f->p, f->np, f->capp);
	f->p[f->np].skey = ser->h.key;
	f->p[f->np].hour = agg_key_hour(key);
	f->p[f->np].idx = ser->idx;
	f->p[f->np].s = *smp;
	f->np++;
}

/* Every event the store thread puts goes through here: on a district node
 * its id is kept, and the event, as stored, travels to the city with this
 * commit's outbox entries. */
static void forward_event(node_flusher *f, uint64_t id)
{
	if (f->n->role != NODE_DISTRICT)
		return;
	GROW(f->evids, f->nevids, f->capevids);
	f->evids[f->nevids++] = id;
}

static int put_event(node_flusher *f, const sto_event *e)
{
	int rc = sto_event_put(f->txn, e);
	if (rc == 0)
		forward_event(f, e->id);
	return rc;
}

static int write_events(node_flusher *f)
{
	node *n = f->n;
	int rc;

	for (size_t i = 0; i < f->nev; i++) {
		const agg_rec_event *r = &f->ev[i];
		agg_series *s = agg_registry_series_at(n->reg, r->series);
		sto_event e;
		if (r->type == STO_EV_REPLACEMENT) {
			/* A worker applied a registered replacement: mark it. */
			if ((rc = sto_event_get(f->txn, r->ref, &e)) != 0)
				continue;
			e.status = STO_EV_APPLIED;
			e.t1 = r->t1;
			e.amount = r->amount;
			e.resolved = f->now;
		} else {
			e = (sto_event){.id = f->try_id++, .type = r->type, .status = STO_EV_OPEN,
					.series = s->h.key, .t0 = r->t0, .t1 = r->t1, .v0 = r->v0, .v1 = r->v1,
					.amount = r->amount, .created = f->now};
		}
		if ((rc = put_event(f, &e)) != 0)
			return rc;
	}
	return 0;
}

static void say(node_cmd *c, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(node_cmd *c, bool ok, const char *fmt, ...)
{
	va_list ap;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
}

static int cmd_accept(node_flusher *f, node_cmd *c)
{
	node *n = f->n;
	sto_event e;
	char amt[32];
	int rc = sto_event_get(f->txn, c->event_id, &e);

	if (rc == ER_ENOENT) {
		say(c, false, "no event %llu", (unsigned long long)c->event_id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (e.type != STO_EV_SPIKE) {
		say(c, false, "event %llu is a %s; only a quarantined spike can be accepted",
		    (unsigned long long)e.id, sto_event_type_name(e.type));
		return 0;
	}
	if (e.status != STO_EV_OPEN) {
		say(c, false, "spike %llu was already accepted", (unsigned long long)e.id);
		return 0;
	}
	agg_series *s = agg_registry_series(n->reg, e.series);
	if (s == NULL) {
		say(c, false, "the meter of event %llu is not registered", (unsigned long long)e.id);
		return 0;
	}
	/* The quarantined increment goes to the hours it spans, exactly as
	 * it would have without the guard (DOMAIN.md 3). */
	agg_apportion_to(to_pending, f, s->idx, e.t0, e.t1, e.amount, n->cfg.utc_offset_s, 0);
	e.status = STO_EV_ACCEPTED;
	e.resolved = f->now;
	if ((rc = put_event(f, &e)) != 0)
		return rc;
	er_fx_format(e.amount, amt, sizeof amt);
	say(c, true, "accepted spike %llu: %s %s added to %s", (unsigned long long)e.id, amt,
	    agg_carrier_unit(s->carrier), s->code);
	return 0;
}

struct reset_find {
	uint64_t series;
	int64_t ts;
	sto_event found;
	bool ok;
};

static int find_reset(void *ctx, const sto_event *e)
{
	struct reset_find *r = ctx;
	if (e->type == STO_EV_RESET && e->status == STO_EV_OPEN && e->series == r->series && e->t0 < r->ts &&
	    r->ts <= e->t1) {
		r->found = *e;
		r->ok = true;
		return 1;
	}
	return 0;
}

static int cmd_replacement(node_flusher *f, node_cmd *c)
{
	node *n = f->n;
	sto_event e;
	int rc;
	agg_series *s = agg_registry_series(n->reg, c->series);

	if (s == NULL) {
		say(c, false, "the meter is not registered");
		return 0;
	}
	if (c->phase == 1) {
		/* Registered now; published to the meter's worker after the
		 * commit; earlier resets it explains are resolved next flush. */
		e = (sto_event){.id = f->try_id++, .type = STO_EV_REPLACEMENT, .status = STO_EV_OPEN,
				.series = c->series, .t0 = c->ts, .v0 = c->old_final, .v1 = c->new_initial,
				.created = f->now};
		c->new_id = e.id;
		return put_event(f, &e);
	}
	/* Phase 2: a reading across ts may have been applied before the
	 * replacement was known: it raised a reset that added 0. */
	struct reset_find rf = {.series = c->series, .ts = c->ts};
	if ((rc = sto_events_each(f->txn, 0, find_reset, &rf)) < 0)
		return rc;
	if (!rf.ok || c->old_final < rf.found.v0 || rf.found.v1 < c->new_initial) {
		say(c, true, "replacement of %s registered as event %llu; it applies to the first reading after it",
		    s->code, (unsigned long long)c->new_id);
		return 0;
	}
	er_fx corr = (c->old_final - rf.found.v0) + (rf.found.v1 - c->new_initial);
	char amt[32];
	agg_apportion_to(to_pending, f, s->idx, rf.found.t0, rf.found.t1, corr, n->cfg.utc_offset_s, 0);
	rf.found.status = STO_EV_APPLIED;
	rf.found.resolved = f->now;
	if ((rc = put_event(f, &rf.found)) != 0)
		return rc;
	if ((rc = sto_event_get(f->txn, c->new_id, &e)) != 0)
		return rc;
	e.status = STO_EV_APPLIED;
	e.t1 = rf.found.t1;
	e.amount = corr;
	e.resolved = f->now;
	if ((rc = put_event(f, &e)) != 0)
		return rc;
	er_fx_format(corr, amt, sizeof amt);
	say(c, true, "replacement of %s registered as event %llu; it resolved reset %llu: %s %s added", s->code,
	    (unsigned long long)c->new_id, (unsigned long long)rf.found.id, amt, agg_carrier_unit(s->carrier));
	return 0;
}

static int run_commands(node_flusher *f)
{
	int rc = 0;
	ck_epoch_record_t *rec = agg_core_record(f->n->core, AGG_REC_SPARE);

	/* registry lookups by key: inside an epoch section */
	ck_epoch_begin(rec, NULL);
	for (node_cmd *c = f->active; c != NULL && rc == 0; c = c->next) {
		switch (c->type) {
		case NODE_CMD_ACCEPT: rc = cmd_accept(f, c); break;
		case NODE_CMD_REPLACEMENT: rc = cmd_replacement(f, c); break;
		default: /* warnings (node/warn.c) */
			rc = node__warn_apply(f->txn, c, &f->try_id);
			if (rc == 0 && c->ok)
				forward_event(f, c->type == NODE_CMD_WARNING ? c->new_id : c->event_id);
			break;
		}
	}
	ck_epoch_end(rec, NULL);
	return rc;
}

/* After a commit: replies, and replacements move to their second phase. */
static void finish_commands(node_flusher *f)
{
	node *n = f->n;
	node_cmd **pp = &f->active;

	pthread_mutex_lock(&n->cmd_lock);
	while (*pp != NULL) {
		node_cmd *c = *pp;
		if (c->type == NODE_CMD_REPLACEMENT && c->phase == 1) {
			agg_series *s;
			ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_SPARE);
			ck_epoch_begin(rec, NULL);
			s = agg_registry_series(n->reg, c->series);
			ck_epoch_end(rec, NULL);
			agg_replacement *r = calloc(1, sizeof *r);
			if (s != NULL && r != NULL) {
				r->ts = c->ts;
				r->old_final = c->old_final;
				r->new_initial = c->new_initial;
				r->event_id = c->new_id;
				agg_series_add_replacement(s, r);
			} else {
				free(r);
			}
			c->phase = 2;
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->done = true;
		if (c->abandoned)
			free(c);
	}
	pthread_cond_broadcast(&n->cmd_cond);
	pthread_mutex_unlock(&n->cmd_lock);
}

static void take_commands(node_flusher *f)
{
	node *n = f->n;
	pthread_mutex_lock(&n->cmd_lock);
	while (n->cmds != NULL) {
		node_cmd *c = n->cmds;
		n->cmds = c->next;
		c->phase = 1;
		c->next = f->active;
		f->active = c;
	}
	pthread_mutex_unlock(&n->cmd_lock);
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The events kept by forward_event, each as its id (8 bytes, big-endian)
 * and its value as stored now (its latest state), copied out of the
 * transaction (later writes may move the pages it points into) into
 * f->evbuf; the extra's arrays point into it. */
static int collect_events(node_flusher *f, node_outbox_extra *x)
{
	size_t w = 0;

	qsort(f->evids, f->nevids, sizeof *f->evids, cmp_id);
	for (size_t i = 0; i < f->nevids; i++)
		if (w == 0 || f->evids[w - 1] != f->evids[i])
			f->evids[w++] = f->evids[i];
	f->nevids = w;
	if (f->nevids > f->capevp) {
		const uint8_t **p = realloc(f->evp, f->nevids * sizeof *p);
		if (p != NULL)
			f->evp = p;
		size_t *l = realloc(f->evlen, f->nevids * sizeof *l);
		if (l != NULL)
			f->evlen = l;
		if (p == NULL || l == NULL)
			return ER_ENOMEM;
		f->capevp = f->nevids;
	}
	f->nevbuf = 0;
	for (size_t i = 0; i < f->nevids; i++) {
		const void *v;
		size_t len;
		int rc = sto_event_raw(f->txn, f->evids[i], &v, &len);
		if (rc != 0)
			return rc;
		if (f->nevbuf + 8 + len > f->capevbuf) {
			size_t cap = f->capevbuf ? f->capevbuf : 4096;
			while (cap < f->nevbuf + 8 + len)
				cap *= 2;
			uint8_t *b = realloc(f->evbuf, cap);
			if (b == NULL)
				return ER_ENOMEM;
			f->evbuf = b;
			f->capevbuf = cap;
		}
		for (int k = 0; k < 8; k++) /* the id, big-endian */
			f->evbuf[f->nevbuf + (size_t)k] = (uint8_t)(f->evids[i] >> (56 - 8 * k));
		memcpy(f->evbuf + f->nevbuf + 8, v, len);
		f->evlen[i] = 8 + len;
		f->nevbuf += 8 + len;
	}
	/* pointers last: evbuf may have moved while it grew */
	for (size_t i = 0, at = 0; i < f->nevids; at += f->evlen[i], i++)
		f->evp[i] = f->evbuf + at;
	x->events = f->evp;
	x->event_len = f->evlen;
	x->nevents = f->nevids;
	return 0;
}

/* A district node: this commit's rows, figures and events go to the
 * outbox, and the outbox's depth is judged against its limit: crossing it
 * either way is an event (type outbox: v0 the bytes held, v1 the limit,
 * amount the entries, t0 the oldest entry's time; open = over the limit,
 * applied = back under), so an operator hears of a city that is away long
 * before the disk fills. That event follows in an entry of its own. */
static int write_outbox(node_flusher *f)
{
	node *n = f->n;
	sto_outbox_info info;
	node_outbox_extra x = {.econ = f->obecon, .necon = f->nobecon};
	int rc;

	if ((rc = collect_events(f, &x)) != 0 || (rc = node__outbox_put(n, f->txn, f->ob, f->nob, &x)) != 0 ||
	    (rc = sto_outbox_info_get(f->txn, &info)) != 0)
		return rc;
	uint64_t limit = n->cfg.outbox_limit_kb << 10;
	bool over = info.bytes > limit;
	if (over == info.over_limit)
		return 0;
	sto_event e = {.id = f->try_id++, .type = STO_EV_OUTBOX, .status = over ? STO_EV_OPEN : STO_EV_APPLIED,
		       .series = er_key(n->cfg.name, strlen(n->cfg.name)), .t0 = info.oldest, .t1 = f->now,
		       /* counts in the fixed point of every event figure, so they print as whole numbers */
		       .v0 = (er_fx)info.bytes * ER_FX_SCALE, .v1 = (er_fx)limit * ER_FX_SCALE,
		       .amount = (er_fx)info.entries * ER_FX_SCALE, .created = f->now};
	f->nevids = 0;
	if ((rc = put_event(f, &e)) != 0 || (rc = sto_outbox_set_over_limit(f->txn, over)) != 0)
		return rc;
	x = (node_outbox_extra){0};
	if ((rc = collect_events(f, &x)) != 0 || (rc = node__outbox_put(n, f->txn, NULL, 0, &x)) != 0)
		return rc;
	atomic_fetch_add_explicit(&n->c[NODE_C_OUTBOX_EVENTS], 1, memory_order_relaxed);
	er_log(over ? ER_LOG_WARN : ER_LOG_INFO,
	       "outbox: %llu entries, %llu bytes %s the limit of %llu kB (uplink.outbox_limit_kb); event %llu",
	       (unsigned long long)info.entries, (unsigned long long)info.bytes, over ? "over" : "back under",
	       (unsigned long long)n->cfg.outbox_limit_kb, (unsigned long long)e.id);
	return 0;
}

static int write_pending(node_flusher *f)
{
	node *n = f->n;
	int rc;

	f->rc = 0;
	f->nevids = 0;
	f->np = f->np_base; /* corrections are recomputed on every attempt */
	f->try_id = f->next_id;
	f->now = er_now();
	if ((rc = write_events(f)) != 0 || (rc = run_commands(f)) != 0)
		return rc;
	sto_batch_clear(f->meter);
	sto_batch_clear(f->ent);
	sto_batch_clear(f->upper);
	f->nob = 0;
	if ((rc = merge_meter_hours(f)) != 0)
		return rc;
	for (size_t i = 0; i < f->nrev; i++) {
		const ing_event_rec *r = f->rev[i];
		rc = sto_remote_event_put(f->txn, r->node, r->id, r + 1, r->len);
		if (rc != 0 && rc != ER_EINVAL) /* EINVAL: cannot happen, the worker checked it */
			return rc;
	}
	/* A city node: district nodes' rows join its own meters' gains here,
	 * enterprise rows tagged with their district like add_enterprise's. */
	for (size_t i = 0; i < f->nroll; i++) {
		const ing_rollup_rec *r = &f->roll[i];
		if (r->k.level == STO_ENTERPRISE)
			rc = sto_batch_add(f->ent, &r->k, &r->v, r->district);
		else
			rc = sto_batch_add(f->meter, &r->k, &r->v, 0);
		if (rc != 0)
			return rc;
	}
	if ((rc = sto_batch_each_sorted(f->meter, merge_meter_row, f)) != 0 ||
	    (rc = sto_batch_each_sorted(f->ent, merge_enterprise_row, f)) != 0 ||
	    (rc = sto_batch_each_sorted(f->upper, merge_row, f)) != 0)
		return rc;
	for (size_t i = 0; i < f->ncur; i++) {
		agg_series *s = agg_registry_series_at(n->reg, f->cur[i].series);
		if ((rc = sto_cursor_put(f->txn, s->h.key, f->cur[i].ts, f->cur[i].value)) != 0)
			return rc;
	}
	f->nobecon = 0;
	for (size_t i = 0; i < f->necon; i++) {
		/* a figure older than the stored revision is kept out */
		rc = sto_econ_put(f->txn, &f->econ[i].k, &f->econ[i].v);
		if (rc != 0 && rc != ER_EEXIST)
			return rc;
		if (rc == 0 && n->role == NODE_DISTRICT &&
		    (rc = node__econ_add(&f->obecon, &f->nobecon, &f->capobecon, &f->econ[i].k, &f->econ[i].v)) != 0)
			return rc;
	}
	for (size_t i = 0; i < f->nacks; i++) {
		ackrec *a = &f->acks[i];
		if ((rc = sto_sender_put(f->txn, a->sender->name, a->sender->len, a->seq)) != 0)
			return rc;
	}
	if (n->role == NODE_DISTRICT && (rc = write_outbox(f)) != 0)
		return rc;
	atomic_fetch_add_explicit(&n->c[NODE_C_ROWS_WRITTEN],
				  f->np + sto_batch_len(f->meter) + sto_batch_len(f->ent) + sto_batch_len(f->upper),
				  memory_order_relaxed);
	return 0;
}

static int commit_pending(node_flusher *f)
{
	node *n = f->n;
	int rc;

	take_commands(f);
	if (f->np == 0 && f->ncur == 0 && f->nacks == 0 && f->nev == 0 && f->necon == 0 && f->nroll == 0 && f->nrev == 0 &&
	    f->active == NULL && !atomic_exchange_explicit(&n->outbox_recheck, false, memory_order_relaxed))
		return 0;
	combine_pending(f);
	f->np_base = f->np;
	for (int attempt = 0; attempt < 4; attempt++) {
		if ((rc = sto_write_begin(n->store, &f->txn)) != 0)
			break;
		rc = write_pending(f);
		if (rc == 0) {
			rc = sto_commit(f->txn);
		} else {
			sto_abort(f->txn);
		}
		f->txn = NULL;
		if (rc != ER_EFULL)
			break;
		/* The map is full: double it and write the same again. */
		if (sto_grow(n->store) != 0)
			break;
		atomic_fetch_add_explicit(&n->c[NODE_C_MAP_GROWS], 1, memory_order_relaxed);
		er_log(ER_LOG_INFO, "store: map grown");
	}
	if (rc != 0) {
		f->np = f->np_base;
		atomic_fetch_add_explicit(&n->c[NODE_C_COMMIT_ERRORS], 1, memory_order_relaxed);
		er_log(ER_LOG_ERROR, "store: commit failed (%s); %zu acks wait, retrying", er_strerror(rc),
		       f->nacks);
		return rc;
	}
	atomic_fetch_add_explicit(&n->c[NODE_C_COMMITS], 1, memory_order_relaxed);
	/* Durable: publish the high-water marks, then ack. */
	for (size_t i = 0; i < f->nacks; i++) {
		ackrec *a = &f->acks[i];
		/* release: pairs with the worker's acquire of committed */
		atomic_store_explicit(&a->sender->committed, a->seq, memory_order_release);
		ing_send_reply(f->egress, a->bytes, a->idlen, a->bytes + a->idlen, a->acklen);
		free(a->bytes);
	}
	atomic_fetch_add_explicit(&n->c[NODE_C_ACKS_SENT], f->nacks, memory_order_relaxed);
	f->np = f->np_base = f->ncur = f->nacks = f->nev = f->necon = f->nroll = 0;
	for (size_t i = 0; i < f->nrev; i++)
		free(f->rev[i]);
	f->nrev = 0;
	f->next_id = f->try_id;
	finish_commands(f);
	return 0;
}

static int flush_once(node_flusher *f)
{
	node *n = f->n;
	agg_delta *t = agg_core_swap(n->core);
	agg_delta_drain(t, on_delta, f);
	agg_delta_logs(t, on_log, f);
	agg_core_recycle(n->core, t);
	atomic_fetch_add_explicit(&n->c[NODE_C_FLUSHES], 1, memory_order_relaxed);
	return commit_pending(f);
}

void *node_flusher_main(void *arg)
{
	node *n = arg;
	node_flusher *f = n->flusher;
	int wait_ms = n->cfg.flush_ms, backoff = n->cfg.flush_ms;

	while (!atomic_load(&n->stop_flush)) {
		if (wait_ms > 0)
			agg_core_wait(n->core, wait_ms);
		uint64_t t0 = er_mono_ns();
		if (flush_once(f) != 0) {
			backoff = backoff * 2 > RETRY_MS_MAX ? RETRY_MS_MAX : backoff * 2;
			wait_ms = backoff;
			continue;
		}
		backoff = n->cfg.flush_ms;
		/* A flush starts flush_ms after the previous one started, not
		 * after it ended: under load a commit that took longer than
		 * the interval is followed at once by the next, so acks wait
		 * one commit, not a commit and an interval. */
		int64_t spent = (int64_t)((er_mono_ns() - t0) / 1000000u);
		wait_ms = spent >= n->cfg.flush_ms ? 0 : n->cfg.flush_ms - (int)spent;
	}
	/* The workers have stopped: one last swap takes everything. */
	for (int attempt = 0; attempt < 5; attempt++) {
		if (flush_once(f) == 0)
			return NULL;
	}
	er_log(ER_LOG_ERROR, "store: shutting down with %zu batches uncommitted; they were never acknowledged "
			     "and their senders will resend them",
	       f->nacks);
	return NULL;
}
