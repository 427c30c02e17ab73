/* ingest.h: the ingest stage (DESIGN.md "Data flow in a node").
 *
 * The gateway thread owns the ROUTER socket. It hands every frame to the
 * decode worker chosen by the sender (the frame's ZeroMQ routing id, which
 * a client sets to its sender name) and forwards replies from workers and
 * acks from the store thread back to the ROUTER. Workers decode, check the
 * sequence number (go-back-N), validate every reading and apply it to the
 * active delta table; the ack of an applied batch is logged into that same
 * table and sent by the store thread after the commit that holds it.
 *
 * Threads: ing_gateway_* on the gateway thread except new/free/stop;
 * ing_worker_run on its own thread; ing_senders_* from any thread.
 */
#ifndef ING_INGEST_H
#define ING_INGEST_H

#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>

#include "codec.h"
#include "econ.h"
#include "delta.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ING_EGRESS "inproc://ecoroll-egress"
#define ING_SENDER_MAX 255 /* ZeroMQ routing ids are at most 255 bytes */

/* ---- senders and their high-water marks ---- */

typedef struct ing_sender {
	uint64_t applied;	   /* last seq applied to a delta table; owner worker only */
	_Atomic uint64_t committed; /* last seq durable in LMDB; store thread writes */
	size_t len;
	char name[ING_SENDER_MAX + 1];
} ing_sender;

typedef struct ing_senders ing_senders;
int ing_senders_new(ing_senders **out);
void ing_senders_free(ing_senders *s);
/* Finds or creates the sender; the pointer stays valid until free. */
ing_sender *ing_senders_get(ing_senders *s, const char *name, size_t len);
/* Start-up: a sender recovered from LMDB at hwm. */
int ing_senders_restore(ing_senders *s, const char *name, size_t len, uint64_t hwm);
typedef void ing_sender_fn(void *ctx, const ing_sender *snd);
void ing_senders_each(ing_senders *s, ing_sender_fn *fn, void *ctx);

/* ---- counters ---- */

enum ing_counter {
	ING_C_FRAMES,
	ING_C_BATCHES,
	ING_C_READINGS,
	ING_C_ACCEPTED,
	ING_C_DUPLICATES,
	ING_C_REJ_UNKNOWN_SERIES,
	ING_C_REJ_NOT_FINITE,
	ING_C_REJ_FUTURE_TS,
	ING_C_REJ_ANCIENT_TS,
	ING_C_REJ_NEGATIVE,
	ING_C_REJ_OUT_OF_ORDER,
	ING_C_REJ_OUT_OF_RANGE,
	ING_C_MALFORMED,
	ING_C_TOO_LARGE,
	ING_C_BAD_VERSION,
	ING_C_DENIED,
	ING_C_GAP,
	ING_C_DUP_BATCHES,
	ING_C_INFLIGHT_RESENDS,
	ING_C_HELLOS,
	ING_C_ROLLOVERS,
	ING_C_RESETS,
	ING_C_SPIKES,
	ING_C_GAPS_APPORTIONED,
	ING_C_REJ_REMOTE,	  /* a city node: readings for a series of a district node */
	ING_C_ROLLUP_BATCHES,	  /* RollupBatches applied (a city node) */
	ING_C_ROLLUP_ROWS,	  /* their rollup rows */
	ING_C_ANNOUNCEMENTS,	  /* registry announcements imported */
	ING_C_ROLLUP_REFUSED,	  /* RollupBatches refused: a conflict or a row a district node does not own */
	ING_C_COUNT
};
const char *ing_counter_name(int c);

/* One worker's counters on their own cache lines; readers sum them. */
typedef struct ing_stats {
	_Alignas(64) _Atomic uint64_t c[ING_C_COUNT];
} ing_stats;

/* ---- the ack log record ---- */

/* Logged into the delta table with the batch's effects; the store thread
 * persists the sender's high-water mark from it and, after the commit,
 * marks the sender committed and sends ack to the identity. */
#define ING_REC_ACK AGG_REC_USER
typedef struct ing_ack_rec {
	ing_sender *sender;
	uint64_t seq;
	uint32_t idlen, acklen;
	/* then idlen bytes of identity, then acklen bytes of encoded Ack */
} ing_ack_rec;

/* An economic figure of an EconBatch, logged for the store thread. */
#define ING_REC_ECON (AGG_REC_USER + 1)
typedef struct ing_econ_rec {
	sto_econ_key k;
	sto_econ_val v;
} ing_econ_rec;

/* A row of a RollupBatch, logged for the store thread: the district's
 * delta of one enterprise or station row; district is the enterprise's
 * district key (the store thread adds the row up into it and the city). */
#define ING_REC_ROLLUP (AGG_REC_USER + 2)
typedef struct ing_rollup_rec {
	sto_key k;
	sto_val v;
	uint64_t district;
} ing_rollup_rec;

/* An event of a RollupBatch (a city node), logged for the store thread:
 * the district node (er_key of its name), the district's event id, then
 * len bytes of the event as the district stored it. */
#define ING_REC_EVENT (AGG_REC_USER + 3)
typedef struct ing_event_rec {
	uint64_t node, id;
	uint32_t len;
	/* then len bytes */
} ing_event_rec;

/* ---- district ownership (a city node) ----
 *
 * Which district node owns each district: a district node's announcement
 * claims the districts it registers, and from then on only that node may
 * send their rollups, and readings for their series sent straight to the
 * city are refused (they arrive through the district node). Claims are
 * made by one writer at a time under a mutex and read lock-free by the
 * workers. */
#define ING_DISTRICTS_MAX 4096 /* districts a city can give to district nodes: far more than a city has */
typedef struct ing_owners ing_owners;
int ing_owners_new(ing_owners **out);
void ing_owners_free(ing_owners *o);
/* The id of owner name (1..), creating it when create; 0 when unknown. */
uint32_t ing_owners_id(ing_owners *o, const char *name, size_t len, bool create);
/* Gives the district at idx to owner id. ER_EEXIST when another owns it
 * (*other gets its id), ER_ERANGE when idx >= ING_DISTRICTS_MAX. */
int ing_owners_claim(ing_owners *o, uint32_t idx, uint32_t id, uint32_t *other);
/* The owner id of the district at idx, 0 for none. Lock-free (acquire:
 * pairs with the release in ing_owners_claim). */
uint32_t ing_owners_of(const ing_owners *o, uint32_t idx);
/* Copies the name of owner id into buf ("" when unknown). */
void ing_owners_name(ing_owners *o, uint32_t id, char *buf, size_t cap);

/* A city node's worker hands a RollupBatch's announcement to the node,
 * which imports it and records the claims in one LMDB transaction.
 * Returns 0, ER_EEXIST or ER_EINVAL when it is refused (msg says why), or
 * a store error. */
typedef int ing_announce_fn(void *ctx, const char *sender, const pb_registry_import *reg, char *msg, size_t cap);

/* ---- workers ---- */

typedef struct ing_config {
	int nworkers;
	int utc_offset_s;
	int64_t max_future_skew_s;
	uint32_t max_batch_readings;
	size_t max_frame_bytes;
	const char *city; /* the city's code and key, for city-level figures */
	uint64_t city_key;
	/* a city node: RollupBatches are accepted (NULL elsewhere) */
	ing_owners *owners;
	ing_announce_fn *announce;
	void *announce_ctx;
} ing_config;

typedef struct ing_worker {
	int id;
	void *zctx;
	const ing_config *cfg;
	agg_core *core;
	agg_registry *reg;
	ing_senders *senders;
	ing_stats *stats;
	/* private */
	uint32_t tag;
	agg_series **touched;
	size_t ntouched, captouched;
} ing_worker;

/* Runs until the gateway sends the stop marker; returns 0 or an error. */
int ing_worker_run(ing_worker *w);
/* The inproc endpoint of worker i. */
void ing_worker_endpoint(int i, char *buf, size_t cap);

/* ---- gateway ---- */

typedef struct ing_gateway ing_gateway;
/* Binds listen (tcp://...), the egress and the workers' endpoints. */
int ing_gateway_new(void *zctx, const char *listen, const ing_config *cfg, ing_stats *stats,
		    ing_gateway **out, char *err, size_t errlen);
/* Runs until ing_gateway_stop(.., ING_STOP_EXIT). */
int ing_gateway_run(ing_gateway *g);
enum { ING_STOP_INPUT = 1, ING_STOP_EXIT = 2 };
/* ING_STOP_INPUT: stop reading the ROUTER, send every worker its stop
 * marker after the frames already queued. ING_STOP_EXIT: forward what
 * the egress holds, then return from run. Any thread. */
void ing_gateway_stop(ing_gateway *g, int how);
void ing_gateway_free(ing_gateway *g);

/* Encodes and sends an ack to identity over a socket whose peer forwards
 * [identity, payload] pairs (the egress). */
int ing_send_reply(void *sock, const void *id, size_t idlen, const uint8_t *payload, size_t len);

#ifdef __cplusplus
}
#endif
#endif
