/* node.c: assembling a node and taking it apart in order (see node.h).
 *
 * Start-up order: open LMDB (the schema, offset and city must match),
 * rebuild the registry from its persisted rows, import the configured
 * registry files over it, restore every sender's high-water mark and every
 * cumulative meter's cursor, then start the threads. After a crash this is
 * the whole recovery: LMDB is always at its last commit, and whatever was
 * not committed was never acknowledged, so senders resend it.
 */
#include "node.h"

#include "api.h"
#include "aqi.h"
#include "energy.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* ---- registry persistence ---- */

struct persist_ctx {
	node *n;
	sto_txn *txn;
	int rc;
};

static int persist_row(void *ctx, int kind, uint64_t key, const char *row)
{
	struct persist_ctx *p = ctx;
	int rc;

	if (p->txn == NULL && (rc = sto_write_begin(p->n->store, &p->txn)) != 0)
		return rc;
	if (kind == 0) {
		/* A district node announces the registry in the same commit, so
		 * the city never sees a rollup of an entity before the entity. */
		if (p->n->role == NODE_DISTRICT && (rc = node__announce(p->n, p->txn)) != 0) {
			sto_abort(p->txn);
			p->txn = NULL;
			return rc;
		}
		rc = sto_commit(p->txn);
		p->txn = NULL;
		if (rc == ER_EFULL && sto_grow(p->n->store) == 0)
			rc = ER_EFULL; /* the import is refused; a retry will fit */
		return rc;
	}
	rc = sto_registry_put(p->txn, kind, key, row);
	if (rc != 0) {
		sto_abort(p->txn);
		p->txn = NULL;
	}
	return rc;
}

int node__registry_import_locked(node *n, const agg_import *imp, agg_import_result *res)
{
	struct persist_ctx p = {.n = n};
	int rc = agg_registry_import(n->reg, imp, persist_row, &p, res);
	if (p.txn)
		sto_abort(p.txn);
	return rc;
}

int node_registry_import(node *n, const agg_import *imp, agg_import_result *res)
{
	pthread_mutex_lock(&n->import_lock);
	int rc = node__registry_import_locked(n, imp, res);
	pthread_mutex_unlock(&n->import_lock);
	return rc;
}

/* Rebuilds the import texts from LMDB's canonical rows. */
struct reload_ctx {
	char *text[AGG_F_COUNT];
	size_t len[AGG_F_COUNT], cap[AGG_F_COUNT];
	int rc;
};

static int append(struct reload_ctx *r, int f, const char *s, size_t n)
{
	if (r->len[f] + n + 2 > r->cap[f]) {
		size_t cap = r->cap[f] ? r->cap[f] : 4096;
		while (cap < r->len[f] + n + 2)
			cap *= 2;
		char *t = realloc(r->text[f], cap);
		if (t == NULL)
			return ER_ENOMEM;
		r->text[f] = t;
		r->cap[f] = cap;
	}
	memcpy(r->text[f] + r->len[f], s, n);
	r->len[f] += n;
	r->text[f][r->len[f]++] = '\n';
	r->text[f][r->len[f]] = 0;
	return 0;
}

static int reload_row(void *ctx, int kind, uint64_t key, const char *row, size_t len)
{
	struct reload_ctx *r = ctx;
	if (kind == NODE_KIND_OWNER)
		return 0; /* not an entity: node__owners_load reads them */
	int f = kind == AGG_DISTRICT ? AGG_F_DISTRICTS
		: kind == AGG_ENTERPRISE ? AGG_F_ENTERPRISES
		: kind == AGG_STATION	 ? AGG_F_STATIONS
					 : AGG_F_METERS;
	(void)key;
	if (r->len[f] == 0) {
		const char *h = agg_registry_header(f);
		if ((r->rc = append(r, f, h, strlen(h))) != 0)
			return 1;
	}
	if ((r->rc = append(r, f, row, len)) != 0)
		return 1;
	return 0;
}

int node__registry_texts(sto_txn *t, char *text[AGG_F_COUNT])
{
	struct reload_ctx r = {0};
	int rc = sto_registry_each(t, reload_row, &r);

	if (rc != 0 || r.rc != 0) {
		for (int f = 0; f < AGG_F_COUNT; f++)
			free(r.text[f]);
		return r.rc ? r.rc : rc;
	}
	for (int f = 0; f < AGG_F_COUNT; f++)
		text[f] = r.text[f];
	return 0;
}

static int restore_sender(void *ctx, const char *name, size_t len, uint64_t hwm)
{
	return ing_senders_restore(ctx, name, len, hwm);
}

static int restore_cursor(void *ctx, uint64_t key, int64_t ts, er_fx value)
{
	agg_series *s = agg_registry_series(ctx, key);
	if (s != NULL) {
		s->cur.ts = ts;
		s->cur.value = value;
	}
	return 0;
}

/* Registered replacements are part of each meter's state: reload them. */
static int restore_replacement(void *ctx, const sto_event *e)
{
	agg_registry *reg = ctx;
	if (e->type != STO_EV_REPLACEMENT)
		return 0;
	agg_series *s = agg_registry_series(reg, e->series);
	agg_replacement *r = calloc(1, sizeof *r);
	if (s == NULL || r == NULL) {
		free(r);
		return 0;
	}
	r->ts = e->t0;
	r->old_final = e->v0;
	r->new_initial = e->v1;
	r->event_id = e->id;
	agg_series_add_replacement(s, r);
	return 0;
}

static void log_import_errors(const char *what, agg_import_result *res)
{
	size_t show = res->nerrors < 20 ? res->nerrors : 20;
	for (size_t i = 0; i < show; i++)
		er_log(ER_LOG_ERROR, "%s: %s", what, res->errors[i]);
	if (res->nerrors > show)
		er_log(ER_LOG_ERROR, "%s: ... and %zu more errors", what, res->nerrors - show);
}

static int load_state(node *n, char *err, size_t errlen)
{
	struct reload_ctx r = {0};
	agg_import imp = {0};
	agg_import_result res;
	sto_txn *t;
	int rc;

	if ((rc = sto_read_begin(n->store, &t)) != 0)
		goto store_fail;
	rc = node__registry_texts(t, r.text);
	sto_abort(t);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the registry from LMDB: %s", er_strerror(rc));
		goto fail;
	}
	for (int f = 0; f < AGG_F_COUNT; f++) {
		imp.text[f] = r.text[f];
		imp.name[f] = "lmdb:registry";
	}
	rc = agg_registry_import(n->reg, &imp, NULL, NULL, &res);
	if (rc != 0) {
		log_import_errors("persisted registry", &res);
		snprintf(err, errlen, "the registry persisted in %s does not load (see above)", n->cfg.data_dir);
		agg_import_result_fini(&res);
		goto fail;
	}
	agg_import_result_fini(&res);

	/* The configured files: new rows are added and persisted; rows
	 * already registered are checked to be unchanged. */
	const char *paths[AGG_F_COUNT] = {n->cfg.districts, n->cfg.enterprises, n->cfg.meters, n->cfg.stations};
	char *texts[AGG_F_COUNT] = {0};
	memset(&imp, 0, sizeof imp);
	bool any = false;
	for (int f = 0; f < AGG_F_COUNT; f++) {
		if (paths[f][0] == 0)
			continue;
		if (agg_read_file(paths[f], &texts[f]) != 0) {
			snprintf(err, errlen, "cannot read registry file %s: %s", paths[f], strerror(errno));
			for (int g = 0; g < f; g++)
				free(texts[g]);
			rc = ER_EIO;
			goto fail;
		}
		imp.text[f] = texts[f];
		imp.name[f] = paths[f];
		any = true;
	}
	if (any) {
		rc = node_registry_import(n, &imp, &res);
		if (rc != 0) {
			log_import_errors("registry", &res);
			snprintf(err, errlen, "the registry files do not import (errors above)");
		} else {
			er_log(ER_LOG_INFO, "registry: %u districts, %u enterprises, %u meters, %u stations read; %u new",
			       res.rows[AGG_F_DISTRICTS], res.rows[AGG_F_ENTERPRISES], res.rows[AGG_F_METERS],
			       res.rows[AGG_F_STATIONS], res.added);
		}
		agg_import_result_fini(&res);
	}
	for (int f = 0; f < AGG_F_COUNT; f++)
		free(texts[f]);
	if (rc != 0)
		goto fail;

	if ((rc = sto_read_begin(n->store, &t)) != 0)
		goto store_fail;
	rc = sto_senders_each(t, restore_sender, n->senders);
	if (rc == 0 && n->role == NODE_CITY)
		rc = node__owners_load(n, t);
	if (rc == 0)
		rc = sto_cursors_each(t, restore_cursor, n->reg);
	if (rc == 0)
		rc = sto_events_each(t, 0, restore_replacement, n->reg);
	sto_abort(t);
	if (rc != 0)
		goto store_fail;
	if (n->role == NODE_DISTRICT) {
		/* The city learns this node's registry before any rollup of it:
		 * announced here, before the flusher runs, and after every
		 * import in the import's own transaction (persist_row). */
		if ((rc = sto_write_begin(n->store, &t)) != 0)
			goto store_fail;
		if ((rc = node__announce(n, t)) != 0) {
			sto_abort(t);
			goto store_fail;
		}
		if ((rc = sto_commit(t)) != 0)
			goto store_fail;
	}
	for (int f = 0; f < AGG_F_COUNT; f++)
		free(r.text[f]);
	return 0;
store_fail:
	snprintf(err, errlen, "cannot read state from LMDB: %s", er_strerror(rc));
fail:
	for (int f = 0; f < AGG_F_COUNT; f++)
		free(r.text[f]);
	return rc ? rc : ER_EINVAL;
}

int node_open(node *n, const node_config *cfg, char *err, size_t errlen)
{
	sto_opts so;
	agg_core_opts co;
	int rc;

	memset(n, 0, sizeof *n);
	pthread_mutex_init(&n->cmd_lock, NULL);
	pthread_cond_init(&n->cmd_cond, NULL);
	n->cfg = *cfg;
	n->started = er_now();
	n->city_key = er_key(cfg->city, strlen(cfg->city));
	n->icfg.nworkers = cfg->workers;
	n->icfg.utc_offset_s = cfg->utc_offset_s;
	n->icfg.max_future_skew_s = cfg->max_future_skew_s;
	n->icfg.max_batch_readings = cfg->max_batch_readings;
	n->icfg.max_frame_bytes = cfg->max_frame_bytes;
	n->icfg.city = n->cfg.city;
	n->icfg.city_key = n->city_key;
	n->role = strcmp(cfg->role, "district") == 0 ? NODE_DISTRICT
		  : strcmp(cfg->role, "city") == 0   ? NODE_CITY
						     : NODE_STANDALONE;
	pthread_mutex_init(&n->import_lock, NULL);
	if (n->role == NODE_CITY) {
		if ((rc = ing_owners_new(&n->owners)) != 0) {
			snprintf(err, errlen, "out of memory");
			return rc;
		}
		n->icfg.owners = n->owners;
		n->icfg.announce = node__announce_import;
		n->icfg.announce_ctx = n;
	}

	so.dir = cfg->data_dir;
	so.map_size = cfg->map_size_mb << 20;
	so.sync = cfg->sync;
	so.utc_offset_s = cfg->utc_offset_s;
	so.city = cfg->city;
	so.role = cfg->role;
	if ((rc = sto_open(&so, &n->store, err, errlen)) != 0)
		return rc;
	co.nworkers = cfg->workers;
	co.slots = cfg->delta_slots;
	co.group_commit = cfg->group_commit;
	if ((rc = agg_core_new(&co, &n->core)) != 0 ||
	    (rc = agg_registry_new(agg_core_record(n->core, AGG_REC_REGISTRY), &n->reg)) != 0 ||
	    (rc = ing_senders_new(&n->senders)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n->stats = aligned_alloc(64, sizeof(ing_stats) * (size_t)(cfg->workers + 1));
	if (n->stats == NULL) {
		rc = ER_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memset(n->stats, 0, sizeof(ing_stats) * (size_t)(cfg->workers + 1));
	if ((rc = load_state(n, err, errlen)) != 0)
		goto fail;
	if ((rc = agg_energy_load(cfg->energy_dir, &n->energy, err, errlen)) != 0)
		goto fail;
	if ((rc = node_load_air(n, &n->aqi, err, errlen)) != 0)
		goto fail;
	/* Loading parsed the registry twice (LMDB's rows, then the files):
	 * hand the freed parse buffers back to the system so the resident
	 * size is what the node keeps, not what it passed through. */
	malloc_trim(0);
	return 0;
fail:
	node_close(n);
	return rc;
}

static void *gateway_main(void *arg)
{
	node *n = arg;
	int rc = ing_gateway_run(n->gw);
	if (rc != 0)
		er_log(ER_LOG_ERROR, "gateway stopped: %s", er_strerror(rc));
	return NULL;
}

static void *worker_main(void *arg)
{
	ing_worker *w = arg;
	int rc = ing_worker_run(w);
	if (rc != 0)
		er_log(ER_LOG_ERROR, "worker %d stopped: %s", w->id, er_strerror(rc));
	return NULL;
}

int node_start(node *n, char *err, size_t errlen)
{
	int rc, nw = n->cfg.workers;

	n->zctx = zmq_ctx_new();
	if (n->zctx == NULL) {
		snprintf(err, errlen, "cannot create a ZeroMQ context");
		return ER_EIO;
	}
	rc = ing_gateway_new(n->zctx, n->cfg.listen, &n->icfg, &n->stats[nw], &n->gw, err, errlen);
	if (rc != 0)
		return rc;
	if ((rc = node_flusher_new(n, &n->flusher)) != 0) {
		snprintf(err, errlen, "flusher: %s", er_strerror(rc));
		return rc;
	}
	/* the uplink's state: before any thread starts (status reads it) */
	if (n->role == NODE_DISTRICT && (rc = node_uplink_new(n, &n->uplink)) != 0) {
		if (rc == ER_EINVAL)
			snprintf(err, errlen, "uplink.upstream = %s is not a ZeroMQ endpoint (e.g. tcp://city-host:7100)",
				 n->cfg.upstream);
		else
			snprintf(err, errlen, "uplink: %s", er_strerror(rc));
		return rc;
	}
	/* budgets and warnings: before any thread starts (the control thread owns them) */
	if ((rc = node_warn_open(n, err, errlen)) != 0 || (rc = node_budgets_load(n, err, errlen)) != 0)
		return rc;
	n->workers = calloc((size_t)nw, sizeof *n->workers);
	n->worker_threads = calloc((size_t)nw, sizeof *n->worker_threads);
	if (n->workers == NULL || n->worker_threads == NULL)
		return ER_ENOMEM;
	for (int i = 0; i < nw; i++) {
		ing_worker *w = &n->workers[i];
		w->id = i;
		w->zctx = n->zctx;
		w->cfg = &n->icfg;
		w->core = n->core;
		w->reg = n->reg;
		w->senders = n->senders;
		w->stats = &n->stats[i];
		pthread_create(&n->worker_threads[i], NULL, worker_main, w);
		char name[16];
		snprintf(name, sizeof name, "er-worker%d", i % 1000);
		pthread_setname_np(n->worker_threads[i], name);
	}
	/* Named threads: top -H and perf show which stage is busy. */
	pthread_create(&n->flush_thread, NULL, node_flusher_main, n);
	pthread_setname_np(n->flush_thread, "er-flusher");
	pthread_create(&n->gw_thread, NULL, gateway_main, n);
	pthread_setname_np(n->gw_thread, "er-gateway");
	pthread_create(&n->control_thread, NULL, node_control_main, n);
	pthread_setname_np(n->control_thread, "er-control");
	if (n->uplink != NULL) {
		pthread_create(&n->uplink_thread, NULL, node_uplink_main, n);
		pthread_setname_np(n->uplink_thread, "er-uplink");
	}
	n->running = true;
	if (n->cfg.http_listen[0] != 0) {
		if ((rc = api_http_start(n, n->cfg.http_listen, &n->http, err, errlen)) != 0)
			return rc; /* node_close stops what was started */
		er_log(ER_LOG_INFO, "http: GET /metrics on http://%s", n->cfg.http_listen);
	}
	return 0;
}

void node_stop(node *n)
{
	if (!n->running)
		return;
	api_http_stop(n->http); /* it reads what the threads below keep */
	n->http = NULL;
	/* 1. No new frames; each worker gets a stop marker behind the frames
	 *    it already holds, and finishes them. */
	ing_gateway_stop(n->gw, ING_STOP_INPUT);
	for (int i = 0; i < n->cfg.workers; i++)
		pthread_join(n->worker_threads[i], NULL);
	/* 2. The flusher commits what the workers applied and queues the
	 *    acks on the egress. */
	atomic_store(&n->stop_flush, true);
	agg_core_wake(n->core);
	pthread_join(n->flush_thread, NULL);
	/* 3. The gateway forwards those acks and exits. */
	ing_gateway_stop(n->gw, ING_STOP_EXIT);
	pthread_join(n->gw_thread, NULL);
	atomic_store(&n->stop_control, true);
	pthread_join(n->control_thread, NULL);
	/* 4. The uplink: what it sent and was not acknowledged stays in the
	 *    outbox and is sent again at the next start. */
	if (n->uplink != NULL) {
		atomic_store(&n->stop_uplink, true);
		pthread_join(n->uplink_thread, NULL);
	}
	n->running = false;
}

bool node_command(node *n, node_cmd *cmd, int timeout_ms)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->cmd_lock);
	cmd->next = n->cmds;
	n->cmds = cmd;
	pthread_mutex_unlock(&n->cmd_lock);
	agg_core_wake(n->core);
	pthread_mutex_lock(&n->cmd_lock);
	while (!cmd->done)
		if (pthread_cond_timedwait(&n->cmd_cond, &n->cmd_lock, &ts) != 0)
			break;
	done = cmd->done;
	if (!done)
		cmd->abandoned = true; /* the store thread frees it */
	pthread_mutex_unlock(&n->cmd_lock);
	return done;
}

void node_close(node *n)
{
	node_stop(n);
	ing_gateway_free(n->gw);
	n->gw = NULL;
	node_flusher_free(n->flusher);
	n->flusher = NULL;
	node_uplink_free(n->uplink); /* its socket before the context */
	n->uplink = NULL;
	node_warn_close(n); /* its socket before the context */
	if (n->zctx)
		zmq_ctx_term(n->zctx);
	n->zctx = NULL;
	free(n->workers);
	free(n->worker_threads);
	n->workers = NULL;
	n->worker_threads = NULL;
	ing_senders_free(n->senders);
	ing_owners_free(n->owners);
	n->owners = NULL;
	agg_energy_free(n->energy);
	n->energy = NULL;
	agg_aqi_free(n->aqi);
	n->aqi = NULL;
	agg_registry_free(n->reg);
	agg_core_free(n->core);
	sto_close(n->store);
	free(n->stats);
	n->senders = NULL;
	n->reg = NULL;
	n->core = NULL;
	n->store = NULL;
	n->stats = NULL;
	for (node_cmd *c = n->cmds, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	n->cmds = NULL;
	pthread_mutex_destroy(&n->cmd_lock);
	pthread_cond_destroy(&n->cmd_cond);
	pthread_mutex_destroy(&n->import_lock);
}
