/* node.h: one ecoroll node: its store, registry, aggregation core and the
 * threads that connect them (DESIGN.md "Data flow in a node"):
 *   gateway (ROUTER) -> workers -> delta tables -> flusher (LMDB, acks)
 *   control (registry import, query, status)
 * node_open loads state; node_start starts the threads; node_stop shuts
 * down in the order that loses nothing: stop reading senders, let workers
 * finish what they hold, flush and commit, send the acks, then close. */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "delta.h"
#include "energy.h" /* agg_pico */
#include "ingest.h"
#include "registry.h"
#include "store.h"
#include "econ.h"
#include "budgets.h" /* sto_warning */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct node_flusher node_flusher;
typedef struct node_uplink node_uplink;

/* README "Three tiers": a standalone node does every tier; a district
 * node keeps meter, enterprise, station and district rows and sends its
 * enterprise and station deltas to the city through its outbox; a city
 * node adds up what district nodes send (and takes readings of its own
 * senders, for districts no district node owns). */
enum node_role { NODE_STANDALONE = 0, NODE_DISTRICT = 1, NODE_CITY = 2 };

/* A command for the store thread, applied inside its next write
 * transaction so that its effects and the rollups commit together. The
 * control thread queues it and waits; see node_command. */
enum node_cmd_type {
	NODE_CMD_ACCEPT = 1,
	NODE_CMD_REPLACEMENT = 2,
	NODE_CMD_WARNING = 3,	     /* store a warning (node/warn.c); new_id is its event id */
	NODE_CMD_WARN_PUBLISHED = 4, /* mark warning event_id published */
};
typedef struct node_cmd {
	int type;
	uint64_t event_id;	       /* accept */
	uint64_t series;	       /* replacement: the meter's key */
	int64_t ts;		       /* replacement */
	er_fx old_final, new_initial; /* replacement */
	sto_warning warning;	       /* warning */
	/* store thread */
	int phase;	 /* replacement: 1 registered, 2 resolving earlier resets */
	uint64_t new_id; /* replacement: its event id */
	/* result, under node.cmd_lock */
	bool done, ok, abandoned;
	char message[256];
	struct node_cmd *next;
} node_cmd;

enum node_counter {
	NODE_C_FLUSHES,
	NODE_C_COMMITS,
	NODE_C_COMMIT_ERRORS,
	NODE_C_MAP_GROWS,
	NODE_C_ROWS_WRITTEN,
	NODE_C_ACKS_SENT,
	NODE_C_WARN_SEEN, /* the commits the latest budget evaluation saw (node/warn.c) */
	NODE_C_OUTBOX_APPENDED, /* outbox entries written (a district node) */
	NODE_C_OUTBOX_EVENTS,	/* outbox depth crossed its limit, either way */
	NODE_C_COUNT
};

typedef struct node {
	node_config cfg;
	ing_config icfg;
	void *zctx;
	sto_env *store;
	agg_core *core;
	agg_registry *reg;
	ing_senders *senders;
	ing_stats *stats; /* workers + 1 (the gateway's) */
	ing_gateway *gw;
	ing_worker *workers;
	node_flusher *flusher;
	int role; /* enum node_role */
	ing_owners *owners;	       /* a city node: which district node owns each district */
	pthread_mutex_t import_lock;   /* one registry import at a time (node/tiers.c says why) */
	node_uplink *uplink;	       /* a district node */
	struct api_http *http;	       /* api.listen: GET /metrics (api/http.c) */
	pthread_t uplink_thread;
	_Atomic bool stop_uplink;
	_Atomic bool outbox_recheck; /* the uplink drained an outbox that was over its limit */
	uint64_t city_key;
	int64_t started;
	_Atomic bool stop_flush, stop_control;
	_Atomic uint64_t c[NODE_C_COUNT];
	pthread_t gw_thread, flush_thread, control_thread, *worker_threads;
	bool running;
	struct agg_energy *energy; /* coefficient tables: the control thread's */
	struct agg_aqi *aqi;	     /* AQI rule sets: the control thread's */
	er_fx air_mda8_limit;	     /* conf/aqi/evaluation.csv */
	er_fx air_pm25_target, air_good_target, air_margin;
	_Atomic bool reload_wanted;  /* SIGHUP: the control thread reloads them */
	pthread_mutex_t cmd_lock;
	pthread_cond_t cmd_cond;
	node_cmd *cmds; /* queued for the store thread */
	struct node_warn *warn; /* budget warnings: the control thread's (node/warn.c) */
} node;

/* Queues cmd (heap-allocated) for the store thread and waits up to
 * timeout_ms for its result in cmd->ok / cmd->message. Returns false on a
 * timeout: the command then stays queued and frees itself when done. */
bool node_command(node *n, node_cmd *cmd, int timeout_ms);

int node_open(node *n, const node_config *cfg, char *err, size_t errlen);
int node_start(node *n, char *err, size_t errlen);
void node_stop(node *n);
void node_close(node *n);

/* status.c: the node's status into *r, whose arrays live in *buf until
 * node_status_buf_free; record is the caller's epoch record (AGG_REC_*). */
typedef struct node_status_buf node_status_buf;
int node_status(node *n, int record, pb_status_reply *r, node_status_buf **buf);
void node_status_buf_free(node_status_buf *buf);

/* Imports registry CSV texts into the registry and LMDB (all or nothing);
 * _locked when the caller holds import_lock. */
int node_registry_import(node *n, const agg_import *imp, agg_import_result *res);
int node__registry_import_locked(node *n, const agg_import *imp, agg_import_result *res);

/* report.c: the query layer (control socket now, HTTP API later). */
typedef struct node_qbuf {
	pb_row *rows;
	size_t n, cap;
	char *text; /* derived values and sources, NUL-separated */
	size_t ntext, captext;
	char err[256];
} node_qbuf;
/* Answers q into r; r's strings live in buf until node_qbuf_fini. */
void node_query(node *n, const pb_query *q, pb_query_reply *r, node_qbuf *buf);
void node_qbuf_fini(node_qbuf *buf);
/* A name/value report (intensity, later indicators). */
typedef struct node_rbuf {
	pb_field f[64];
	size_t n;
	char text[64][96];
	char err[256];
} node_rbuf;
void node_intensity(node *n, const pb_intensity_request *q, pb_report *r, node_rbuf *b);
void node_rbuf_fini(node_rbuf *b);

/* Air statistics (node/air.c) as a table. */
typedef struct node_tbuf {
	const char **cells;
	size_t ncells, capcells;
	char **strs;
	size_t nstrs, capstrs;
	pb_field notes[16];
	size_t nnotes;
	char err[256];
} node_tbuf;
void node_air(node *n, const pb_air_request *q, pb_table *t, node_tbuf *b);
void node_tbuf_fini(node_tbuf *b);
const char *node_tbuf_keep(node_tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void node_tbuf_cell(node_tbuf *b, const char *s);
void node_tbuf_note(node_tbuf *b, const char *name, const char *value);
/* Efficiency benchmarking (node/report.c) as a table. */
void node_benchmark(node *n, const pb_benchmark_request *q, pb_table *t, node_tbuf *b);
/* A carbon account (node/report.c) as a table. */
void node_carbon(node *n, const pb_carbon_request *q, pb_table *t, node_tbuf *b);
/* Online-monitoring coverage of key energy users (node/report.c). */
void node_monitoring(node *n, const pb_monitoring_request *q, pb_table *t, node_tbuf *b);
/* The yearly indicator table (node/report.c). */
void node_indicators(node *n, const pb_indicators_request *q, pb_table *t, node_tbuf *b);
/* Loads aqi.dir: the rule sets and the evaluation parameters. */
int node_load_air(node *n, struct agg_aqi **aqi, char *err, size_t cap);

/* Re-reads the coefficient tables; msg says what happened. Control
 * thread only (it is the tables' only reader). */
int node_reload(node *n, char *msg, size_t cap);

/* warn.c: budgets and their warnings (DOMAIN.md 6), on the control thread
 * (it alone reads the coefficient tables). node_warn_open loads the
 * thresholds, binds the PUB socket and rebuilds each entity's last level
 * from the stored warnings; node_warn_tick, called on every turn of the
 * control loop, evaluates the budgets after new commits and publishes
 * level changes. */
int node_warn_open(node *n, char *err, size_t cap);
void node_warn_close(node *n);
void node_warn_tick(node *n);
/* Re-reads the thresholds (with the coefficient tables); msg says what happened. */
int node_warn_reload(node *n, char *msg, size_t cap);
/* Budget CSV (agg_budget_csv_parse), all or nothing; answers a CommandReply. */
void node_budget_import(node *n, const pb_econ_import *in, pb_msg *reply, char *msg, size_t cap);
void node_budget_status(node *n, const pb_budget_status_request *q, pb_table *t, node_tbuf *b);
/* A warning event's own fields for a listing: o's strings point into *x. */
typedef struct node_warn_text {
	char entity[64], rule[96], ytd[48], expected[48], projected[48], budget[48];
} node_warn_text;
void node_warn_event(node *n, sto_txn *t, pb_event *o, node_warn_text *x);
/* The same from a warning already read (a district node's, on a city node). */
void node_warn_detail(node *n, const sto_warning *w, pb_event *o, node_warn_text *x);
/* Imports warnings.budgets, when configured (at start). */
int node_budgets_load(node *n, char *err, size_t cap);
/* Store thread: applies a NODE_CMD_WARNING or NODE_CMD_WARN_PUBLISHED in
 * its write transaction; *next_id is its next event id. */
int node__warn_apply(sto_txn *t, node_cmd *c, uint64_t *next_id);
/* report.c: standard coal of an entity over [from, to) in a scope, day by
 * day with each day's coefficient; *data_end is the end of the latest hour
 * with a counted row (0 when none). */
int node__tce_of(node *n, sto_txn *t, int level, uint64_t key, int64_t from, int64_t to, int scope,
		 agg_pico *e, bool *coef_missing, int64_t *data_end);

/* tiers.c: the outbox, announcements and ownership (README "Three tiers").
 *
 * node__outbox_put appends rows and the extras (economic figures in the
 * store/econ.h layout, PB_ECON_BYTES each; events as an 8-byte big-endian
 * id then the stored value; an announcement) to the outbox inside t, split
 * into entries of at most uplink.batch_rows rows; any write transaction may
 * call it on a district node. node__announce appends the whole registry as
 * an announcement when it differs from the last one announced. */
typedef struct node_outbox_extra {
	const uint8_t *econ;
	size_t necon;
	const uint8_t *const *events;
	const size_t *event_len;
	size_t nevents;
	const pb_registry_import *reg;
} node_outbox_extra;
int node__outbox_put(node *n, sto_txn *t, const pb_rollup_row *rows, size_t nrows, const node_outbox_extra *x);
int node__announce(node *n, sto_txn *t);
/* Appends an economic figure, stored at this node, to *buf (n of *cap
 * figures, PB_ECON_BYTES each) for node__outbox_put; city figures stay. */
int node__econ_add(uint8_t **buf, size_t *n, size_t *cap, const sto_econ_key *k, const sto_econ_val *v);
/* The registry as the four CSV texts (malloc'd, each with its header, NULL
 * when empty), rebuilt from the canonical rows in LMDB. */
int node__registry_texts(sto_txn *t, char *text[AGG_F_COUNT]);
/* The registry database's kind for "district code,owner" rows on a city
 * node (the entity kinds are agg_kind, 1-4). */
#define NODE_KIND_OWNER 16
/* A city node: the ownership rows persisted in the registry database. */
int node__owners_load(node *n, sto_txn *t);
/* A city node: the announce hook of ing_config (see ingest.h). */
int node__announce_import(void *ctx, const char *sender, const pb_registry_import *reg, char *msg, size_t cap);
/* Status notes: the uplink's state (a district node) or the districts each
 * district node owns (a city node); strings are kept in buf. */
size_t node__tier_notes(node *n, int record, pb_field *notes, size_t cap, char (*buf)[256]); /* buf: 2 x cap */

/* uplink.c: a district node's uplink thread (see the file's comment). */
int node_uplink_new(node *n, node_uplink **out);
void node_uplink_free(node_uplink *u);
void *node_uplink_main(void *arg);
typedef struct node_uplink_state {
	char state[32];	      /* "connecting", "sending", "idle", "refused", "city ahead" */
	char message[256];    /* the city's last refusal, or "" */
	uint64_t acked;	      /* the city's high-water mark: the last entry it acknowledged */
	uint64_t sent, resent, reconnects, refusals;
	int64_t last_ack;     /* UTC seconds of the last ack, 0 before one */
} node_uplink_state;
void node_uplink_state_get(node_uplink *u, node_uplink_state *out);

/* flusher.c */
int node_flusher_new(node *n, node_flusher **out);
void node_flusher_free(node_flusher *f);
void *node_flusher_main(void *arg);
/* control.c */
void *node_control_main(void *arg);

#ifdef __cplusplus
}
#endif
#endif
