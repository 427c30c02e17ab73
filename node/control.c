/* control.c: the control socket (ROUTER; clients use REQ): registry
 * imports, queries (node/report.c), events, budgets (node/warn.c), commands
 * and status; between requests it lets node/warn.c evaluate budgets. Queries read LMDB in a read transaction, an
 * MVCC snapshot that never blocks ingest. One request at a time: imports
 * are rare and queries are short; the HTTP API will add parallel readers.
 */
#include <ck_epoch.h>
#include "node.h"

#include "econ.h"
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define POLL_MS 100 /* how often the thread looks at its stop flag */

/* res and *names stay the caller's until the reply is encoded. */
static void do_import(node *n, const pb_registry_import *in, pb_msg *reply, agg_import_result *resp,
		      char **namesp, const char **why)
{
	agg_import imp = {0};
	agg_import_result res;
	char *names = strdup(in->origin ? in->origin : ""), *rest = names, *tok;
	static const char *dflt[AGG_F_COUNT] = {"districts.csv", "enterprises.csv", "meters.csv", "stations.csv"};

	imp.text[AGG_F_DISTRICTS] = in->districts_csv;
	imp.text[AGG_F_ENTERPRISES] = in->enterprises_csv;
	imp.text[AGG_F_METERS] = in->meters_csv;
	imp.text[AGG_F_STATIONS] = in->stations_csv;
	/* origin: the four file names joined by ';', in the files' order;
	 * strsep keeps empty names in their place */
	for (int f = 0; f < AGG_F_COUNT; f++) {
		tok = rest ? strsep(&rest, ";") : NULL;
		imp.name[f] = tok && tok[0] ? tok : dflt[f];
	}
	int rc = node_registry_import(n, &imp, &res);
	reply->type = PB_REGISTRY_REPLY;
	pb_registry_reply *r = &reply->u.registry_reply;
	r->ok = rc == 0;
	if (rc != 0 && res.nerrors == 0) {
		*why = er_strerror(rc);
		r->errors = why;
		r->nerrors = 1;
	} else {
		r->errors = (const char *const *)res.errors;
		r->nerrors = res.nerrors;
	}
	r->districts = res.rows[AGG_F_DISTRICTS];
	r->enterprises = res.rows[AGG_F_ENTERPRISES];
	r->meters = res.rows[AGG_F_METERS];
	r->stations = res.rows[AGG_F_STATIONS];
	r->added = res.added;
	if (rc == 0)
		er_log(ER_LOG_INFO, "registry import: %u new entries", res.added);
	*resp = res;
	*namesp = names;
}

/* ---- events ---- */

#define EVENTS_DEFAULT 1000 /* events per reply unless asked otherwise */

struct ev_list {
	node *n;
	uint64_t after; /* forwarded events: ids after this */
	sto_warning *warns; /* forwarded warnings' details, parallel to ev */
	char (*nodes)[ING_SENDER_MAX + 1]; /* forwarded events: the node's name, parallel to ev */
	uint64_t only; /* a meter's key (or, for warnings, an entity's), 0 for all */
	int type;      /* 0 for all */
	uint32_t limit;
	pb_event *ev;
	size_t count, cap;
};

static int on_event(void *ctx, const sto_event *e)
{
	struct ev_list *l = ctx;
	if ((l->type && e->type != l->type) || (l->only && e->series != l->only))
		return 0;
	if (l->count == l->limit)
		return 1;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		pb_event *v = realloc(l->ev, cap * sizeof *v);
		if (v == NULL)
			return 1;
		l->ev = v;
		l->cap = cap;
	}
	const agg_series *s = e->type == STO_EV_WARNING ? NULL : agg_registry_series(l->n->reg, e->series);
	l->ev[l->count++] = (pb_event){
		.id = e->id,
		.type = sto_event_type_name(e->type),
		.status = sto_event_status_name(e->status),
		.meter = s			    ? s->code
			 : e->type == STO_EV_WARNING ? ""
			 : e->type == STO_EV_OUTBOX  ? l->n->cfg.name /* the node whose outbox it is */
						     : "?",
		.t0 = e->t0,
		.t1 = e->t1,
		.v0 = e->v0,
		.v1 = e->v1,
		.amount = e->amount,
		.created = e->created,
		.resolved = e->resolved,
	};
	return 0;
}

/* A district node's forwarded event (a city node): the same filters and
 * fields as the node's own, and the node's name. */
static int on_remote(void *ctx, uint64_t node_key, const sto_event *e, const sto_warning *w)
{
	struct ev_list *l = ctx;
	size_t at = l->count, cap = l->cap;

	if (e->id <= l->after)
		return 0;
	if (on_event(ctx, e) != 0)
		return 1;
	if (l->count == at)
		return 0; /* filtered out */
	if (l->cap != cap || l->warns == NULL) {
		sto_warning *ws = realloc(l->warns, l->cap * sizeof *ws);
		char(*ns)[ING_SENDER_MAX + 1] = realloc(l->nodes, l->cap * sizeof *ns);
		if (ws != NULL)
			l->warns = ws;
		if (ns != NULL)
			l->nodes = ns;
		if (ws == NULL || ns == NULL) {
			l->count = at;
			return 1;
		}
	}
	memset(&l->warns[at], 0, sizeof l->warns[at]);
	if (w != NULL)
		l->warns[at] = *w;
	l->nodes[at][0] = 0;
	for (uint32_t id = 1; l->n->owners != NULL; id++) {
		char name[ING_SENDER_MAX + 1];
		ing_owners_name(l->n->owners, id, name, sizeof name);
		if (name[0] == 0)
			break;
		if (er_key(name, strlen(name)) == node_key) {
			memcpy(l->nodes[at], name, sizeof name);
			break;
		}
	}
	if (e->type == STO_EV_OUTBOX)
		l->ev[at].meter = l->nodes[at];
	return 0;
}

static void do_events(node *n, const pb_events_request *q, pb_msg *reply, struct ev_list *l, node_warn_text **wt,
		      char *err, size_t cap)
{
	sto_txn *t;
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);

	reply->type = PB_EVENTS_REPLY;
	l->n = n;
	l->limit = q->limit ? q->limit : EVENTS_DEFAULT;
	if (q->type[0]) {
		for (l->type = STO_EV_RESET; l->type <= STO_EV_OUTBOX; l->type++)
			if (strcmp(sto_event_type_name(l->type), q->type) == 0)
				break;
		if (l->type > STO_EV_OUTBOX) {
			snprintf(err, cap, "unknown event type '%s' (reset, spike, replacement, warning, outbox)", q->type);
			reply->u.events_reply.error = err;
			return;
		}
	}
	if (q->entity[0]) {
		/* warnings of one entity: the city's code or an enterprise's or district's */
		l->type = STO_EV_WARNING;
		l->only = strcmp(q->entity, n->cfg.city) == 0 ? n->city_key : er_key(q->entity, strlen(q->entity));
	}
	ck_epoch_begin(rec, NULL);
	if (q->meter[0]) {
		l->only = er_key(q->meter, strlen(q->meter));
		if (agg_registry_series(n->reg, l->only) == NULL) {
			ck_epoch_end(rec, NULL);
			snprintf(err, cap, "unknown meter '%s'", q->meter);
			reply->u.events_reply.error = err;
			return;
		}
	}
	if (sto_read_begin(n->store, &t) != 0) {
		ck_epoch_end(rec, NULL);
		reply->u.events_reply.error = "store unavailable";
		return;
	}
	if (q->node[0] != 0) {
		/* what district nodes forwarded: node '*' for all of them */
		l->after = q->after_id;
		sto_remote_events_each(t, strcmp(q->node, "*") == 0 ? 0 : er_key(q->node, strlen(q->node)), on_remote, l);
	} else {
		sto_events_each(t, q->after_id, on_event, l);
	}
	*wt = calloc(l->count ? l->count : 1, sizeof **wt);
	for (size_t i = 0; *wt && i < l->count; i++) {
		if (l->nodes != NULL)
			l->ev[i].node = l->nodes[i];
		if (strcmp(l->ev[i].type, "warning") != 0)
			continue;
		if (q->node[0] != 0)
			node_warn_detail(n, &l->warns[i], &l->ev[i], &(*wt)[i]);
		else
			node_warn_event(n, t, &l->ev[i], &(*wt)[i]);
	}
	sto_abort(t);
	ck_epoch_end(rec, NULL);
	reply->u.events_reply.ok = true;
	reply->u.events_reply.events = l->ev;
	reply->u.events_reply.nevents = l->count;
}

/* ---- economic figures ---- */

typedef struct econ_row {
	sto_econ_key k;
	sto_econ_val v;
	char code[64];
} econ_row;

typedef struct econ_ctx {
	econ_row *rows;
	size_t n, cap;
} econ_ctx;

static int collect_econ(void *ctx, const sto_econ_key *k, const sto_econ_val *v, const char *code)
{
	econ_ctx *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		econ_row *r = realloc(c->rows, cap * sizeof *r);
		if (r == NULL)
			return ER_ENOMEM;
		c->rows = r;
		c->cap = cap;
	}
	c->rows[c->n].k = *k;
	c->rows[c->n].v = *v;
	snprintf(c->rows[c->n].code, sizeof c->rows[c->n].code, "%s", code);
	c->n++;
	return 0;
}

/* Economic figures from CSV (store/econ.h), all or nothing: every row is
 * parsed and its entity checked before one transaction stores them. A
 * figure older than the stored revision is kept out and reported. */
static void do_econ_import(node *n, const pb_econ_import *in, pb_msg *reply, char *msg, size_t cap)
{
	econ_ctx c = {0};
	char *errors = NULL;
	uint32_t nrows = 0, stored = 0, stale = 0;
	const char *name = in->origin[0] ? in->origin : "econ.csv";
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	sto_txn *t = NULL;
	uint8_t *ob = NULL; /* figures for the outbox (a district node) */
	size_t nob = 0, capob = 0;
	int rc;

	reply->type = PB_COMMAND_REPLY;
	reply->u.command_reply.message = msg;
	rc = sto_econ_csv_parse(in->csv, name, collect_econ, &c, &errors, &nrows);
	if (rc != 0) {
		snprintf(msg, cap, "%s", errors ? errors : er_strerror(rc));
		goto done;
	}
	ck_epoch_begin(rec, NULL);
	for (size_t i = 0; i < c.n; i++) {
		econ_row *r = &c.rows[i];
		int kind = r->k.level == STO_ENTERPRISE ? AGG_ENTERPRISE : AGG_DISTRICT;
		bool known = r->k.level == STO_CITY ? strcmp(r->code, n->cfg.city) == 0
						    : agg_registry_find(n->reg, kind, r->k.entity) != NULL;
		if (r->k.level == STO_CITY)
			r->k.entity = n->city_key;
		if (!known) {
			ck_epoch_end(rec, NULL);
			snprintf(msg, cap, "%s: data row %zu: unknown %s '%s'; nothing was stored", name, i + 1,
				 sto_level_name(r->k.level), r->code);
			goto done;
		}
	}
	ck_epoch_end(rec, NULL);
	for (int attempt = 0; attempt < 3; attempt++) {
		stored = stale = 0;
		nob = 0;
		if ((rc = sto_write_begin(n->store, &t)) != 0)
			break;
		for (size_t i = 0; i < c.n && rc == 0; i++) {
			rc = sto_econ_put(t, &c.rows[i].k, &c.rows[i].v);
			if (rc == ER_EEXIST) {
				stale++;
				rc = 0;
			} else if (rc == 0) {
				stored++;
				/* a district node forwards what it stored to the city */
				if (n->role == NODE_DISTRICT)
					rc = node__econ_add(&ob, &nob, &capob, &c.rows[i].k, &c.rows[i].v);
			}
		}
		if (rc == 0 && nob > 0)
			rc = node__outbox_put(n, t, NULL, 0, &(node_outbox_extra){.econ = ob, .necon = nob});
		rc = rc == 0 ? sto_commit(t) : (sto_abort(t), rc);
		t = NULL;
		if (rc != ER_EFULL || sto_grow(n->store) != 0)
			break;
	}
	if (rc != 0) {
		snprintf(msg, cap, "nothing was stored: %s", er_strerror(rc));
		goto done;
	}
	reply->u.command_reply.ok = true;
	snprintf(msg, cap, "imported %u figures from %s (%u kept out: a higher revision is stored)", stored, name,
		 stale);
done:
	free(ob);
	free(errors);
	free(c.rows);
}

/* Queues a command for the store thread and answers with its result. */
static void do_command(node *n, node_cmd *c, pb_msg *reply, char *msg, size_t cap)
{
	reply->type = PB_COMMAND_REPLY;
	if (!node_command(n, c, 10000)) {
		snprintf(msg, cap, "queued; the store has not committed it within 10 s (see ecorolld's log)");
		reply->u.command_reply.message = msg;
		return; /* c is the store thread's now */
	}
	reply->u.command_reply.ok = c->ok;
	snprintf(msg, cap, "%s", c->message);
	reply->u.command_reply.message = msg;
	free(c);
}

static void do_replacement(node *n, const pb_replacement *r, pb_msg *reply, char *msg, size_t cap)
{
	uint64_t key = er_key(r->meter, strlen(r->meter));
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	const agg_series *s;

	reply->type = PB_COMMAND_REPLY;
	reply->u.command_reply.message = msg;
	ck_epoch_begin(rec, NULL);
	s = agg_registry_series(n->reg, key);
	int mode = s ? s->mode : 0;
	ck_epoch_end(rec, NULL);
	if (s == NULL) {
		snprintf(msg, cap, "unknown meter '%s'", r->meter);
		return;
	}
	if (mode != AGG_CUMULATIVE) {
		snprintf(msg, cap, "%s is not a cumulative register: a replacement changes nothing", r->meter);
		return;
	}
	if (r->old_final < 0 || r->new_initial < 0 || r->ts < ER_TS_MIN) {
		snprintf(msg, cap, "readings must not be negative and the time must be after 2000");
		return;
	}
	node_cmd *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(msg, cap, "out of memory");
		return;
	}
	c->type = NODE_CMD_REPLACEMENT;
	c->series = key;
	c->ts = r->ts;
	c->old_final = r->old_final;
	c->new_initial = r->new_initial;
	do_command(n, c, reply, msg, cap);
}

static void handle(node *n, void *sock, zmq_msg_t *id, zmq_msg_t *body)
{
	pb_msg req, reply;
	node_status_buf *sb = NULL;
	agg_import_result ires = {0};
	struct ev_list evl = {0};
	node_warn_text *wt = NULL;
	node_qbuf qbuf = {0};
	node_rbuf rbuf = {0};
	node_tbuf tbuf = {0};
	char msg[4096];
	char *inames = NULL;
	const char *why = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pb_decode(zmq_msg_data(body), zmq_msg_size(body), &req);

	memset(&reply, 0, sizeof reply);
	if (rc != 0) {
		reply.type = PB_ACK;
		reply.u.ack.status = rc == ER_EVERSION ? PB_ST_BAD_VERSION : PB_ST_MALFORMED;
		reply.u.ack.message = "the control socket takes RegistryImport, Query or StatusRequest envelopes";
	} else {
		switch (req.type) {
		case PB_QUERY:
			reply.type = PB_QUERY_REPLY;
			node_query(n, &req.u.query, &reply.u.query_reply, &qbuf);
			break;
		case PB_RELOAD:
			reply.type = PB_COMMAND_REPLY;
			reply.u.command_reply.ok = node_reload(n, msg, sizeof msg) == 0;
			reply.u.command_reply.message = msg;
			break;
		case PB_REGISTRY_IMPORT:
			do_import(n, &req.u.registry_import, &reply, &ires, &inames, &why);
			break;
		case PB_STATUS_REQUEST:
			if (node_status(n, AGG_REC_READER, &reply.u.status_reply, &sb) != 0) {
				reply.type = PB_ACK;
				reply.u.ack.status = PB_ST_UNAVAILABLE;
				reply.u.ack.message = "out of memory";
				break;
			}
			reply.type = PB_STATUS_REPLY;
			break;
		case PB_EVENTS_REQUEST: do_events(n, &req.u.events_request, &reply, &evl, &wt, msg, sizeof msg); break;
		case PB_BUDGET_IMPORT: node_budget_import(n, &req.u.econ_import, &reply, msg, sizeof msg); break;
		case PB_BUDGET_STATUS_REQUEST:
			reply.type = PB_TABLE;
			node_budget_status(n, &req.u.budget_status_request, &reply.u.table, &tbuf);
			break;
		case PB_EVENT_ACCEPT: {
			node_cmd *c = calloc(1, sizeof *c);
			if (c == NULL) {
				reply.type = PB_COMMAND_REPLY;
				reply.u.command_reply.message = "out of memory";
				break;
			}
			c->type = NODE_CMD_ACCEPT;
			c->event_id = req.u.event_accept;
			do_command(n, c, &reply, msg, sizeof msg);
			break;
		}
		case PB_REPLACEMENT: do_replacement(n, &req.u.replacement, &reply, msg, sizeof msg); break;
		case PB_ECON_IMPORT: do_econ_import(n, &req.u.econ_import, &reply, msg, sizeof msg); break;
		case PB_INDICATORS_REQUEST:
			reply.type = PB_TABLE;
			node_indicators(n, &req.u.indicators_request, &reply.u.table, &tbuf);
			break;
		case PB_MONITORING_REQUEST:
			reply.type = PB_TABLE;
			node_monitoring(n, &req.u.monitoring_request, &reply.u.table, &tbuf);
			break;
		case PB_CARBON_REQUEST:
			reply.type = PB_TABLE;
			node_carbon(n, &req.u.carbon_request, &reply.u.table, &tbuf);
			break;
		case PB_BENCHMARK_REQUEST:
			reply.type = PB_TABLE;
			node_benchmark(n, &req.u.benchmark_request, &reply.u.table, &tbuf);
			break;
		case PB_AIR_REQUEST:
			reply.type = PB_TABLE;
			node_air(n, &req.u.air_request, &reply.u.table, &tbuf);
			break;
		case PB_INTENSITY_REQUEST:
			reply.type = PB_REPORT;
			node_intensity(n, &req.u.intensity_request, &reply.u.report, &rbuf);
			break;
		default:
			reply.type = PB_ACK;
			reply.u.ack.status = PB_ST_MALFORMED;
			reply.u.ack.message = "the control socket takes RegistryImport, Query or StatusRequest envelopes";
		}
	}
	if (pb_encode(&reply, &buf, &len) == 0) {
		zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
		zmq_send(sock, "", 0, ZMQ_SNDMORE); /* the REQ envelope delimiter */
		zmq_send(sock, buf, len, 0);
	}
	free(buf);
	node_qbuf_fini(&qbuf);
	node_rbuf_fini(&rbuf);
	node_tbuf_fini(&tbuf);
	agg_import_result_fini(&ires);
	free(inames);
	node_status_buf_free(sb);
	free(evl.ev);
	free(evl.warns);
	free(evl.nodes);
	free(wt);
	if (rc == 0)
		pb_msg_fini(&req);
}

void *node_control_main(void *arg)
{
	node *n = arg;
	void *sock = zmq_socket(n->zctx, ZMQ_ROUTER);
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};

	if (sock == NULL || zmq_bind(sock, n->cfg.control) != 0) {
		er_log(ER_LOG_ERROR, "control: cannot listen on %s: %s", n->cfg.control, zmq_strerror(errno));
		if (sock)
			zmq_close(sock);
		return NULL;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &(int){1000}, sizeof(int));
	while (!atomic_load(&n->stop_control)) {
		if (atomic_exchange(&n->reload_wanted, false)) {
			char msg[512];
			int rc = node_reload(n, msg, sizeof msg);
			er_log(rc == 0 ? ER_LOG_INFO : ER_LOG_ERROR, "SIGHUP: %s", msg);
		}
		node_warn_tick(n);
		if (zmq_poll(&it, 1, POLL_MS) <= 0)
			continue;
		zmq_msg_t id, delim, body;
		int more = 0;
		size_t sz = sizeof more;
		zmq_msg_init(&id);
		zmq_msg_init(&delim);
		zmq_msg_init(&body);
		zmq_msg_recv(&id, sock, 0);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
		if (more)
			zmq_msg_recv(&delim, sock, 0);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
		if (more) {
			zmq_msg_recv(&body, sock, 0);
			zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
			while (more) { /* not a REQ envelope: drop the rest */
				zmq_msg_t x;
				zmq_msg_init(&x);
				zmq_msg_recv(&x, sock, 0);
				zmq_msg_close(&x);
				zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
			}
			handle(n, sock, &id, &body);
		}
		zmq_msg_close(&id);
		zmq_msg_close(&delim);
		zmq_msg_close(&body);
	}
	zmq_close(sock);
	return NULL;
}
