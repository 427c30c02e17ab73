/* uplink.c: a district node's uplink to the city (README "Three tiers").
 *
 * One thread sends the outbox, entry by entry, over the ingest protocol
 * that meters use: Hello -> Welcome{next_seq} names the first entry the
 * city has not applied; entries go out as they are (each is an encoded
 * RollupBatch whose seq is its number), with at most uplink.window unacked;
 * an Ack OK or DUPLICATE for seq s means the city has committed every
 * entry up to s, and those are trimmed from the outbox in a write
 * transaction of the uplink's own. GAP resends from the expected entry
 * (go-back-N); no ack for uplink.timeout_ms reconnects and says Hello
 * again. A refusal (DENIED: a registry conflict at the city) stops the
 * uplink at that entry, which it keeps; it tries again every timeout, so a
 * mended city registry lets it go on without a restart.
 *
 * Nothing is lost on either side: an entry leaves the outbox only after
 * the city's commit acknowledged it, and the city applies entry s only
 * when its high-water mark for this district is s - 1, so a resent entry
 * is acknowledged again and never applied twice.
 */
#include "node.h"

#include "client.h"
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 20 /* how soon a new outbox entry is sent when the uplink is idle */

struct node_uplink {
	node *n;
	ing_client *cli;
	pthread_mutex_t lock; /* st, for node_uplink_state_get */
	node_uplink_state st;
	uint64_t next;	   /* the next entry to send */
	uint64_t acked;	   /* every entry up to here is applied at the city */
	uint64_t trimmed;  /* the outbox holds nothing up to here */
	bool welcomed;	   /* the city said where to resume */
	bool halted;	   /* refused or out of step: wait, then Hello again */
	uint64_t last_io;  /* er_mono_ns of the last send or reply */
};

static void set_state(node_uplink *u, const char *state, const char *message)
{
	pthread_mutex_lock(&u->lock);
	bool changed = strcmp(u->st.state, state) != 0 || (message && strcmp(u->st.message, message) != 0);
	snprintf(u->st.state, sizeof u->st.state, "%s", state);
	if (message != NULL)
		snprintf(u->st.message, sizeof u->st.message, "%s", message);
	u->st.acked = u->acked;
	pthread_mutex_unlock(&u->lock);
	if (changed && message != NULL && message[0] != 0)
		er_log(ER_LOG_WARN, "uplink: %s: %s", state, message);
}

static void count(node_uplink *u, uint64_t *field, uint64_t by)
{
	pthread_mutex_lock(&u->lock);
	*field += by;
	pthread_mutex_unlock(&u->lock);
}

int node_uplink_new(node *n, node_uplink **out)
{
	node_uplink *u = calloc(1, sizeof *u);
	int rc;

	if (u == NULL)
		return ER_ENOMEM;
	u->n = n;
	pthread_mutex_init(&u->lock, NULL);
	if ((rc = ing_client_new(n->cfg.upstream, n->cfg.name, &u->cli)) != 0) {
		node_uplink_free(u);
		return rc;
	}
	snprintf(u->st.state, sizeof u->st.state, "connecting");
	*out = u;
	return 0;
}

void node_uplink_free(node_uplink *u)
{
	if (u == NULL)
		return;
	ing_client_free(u->cli);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void node_uplink_state_get(node_uplink *u, node_uplink_state *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->st;
	pthread_mutex_unlock(&u->lock);
}

static void hello(node_uplink *u, bool reconnect)
{
	if (reconnect) {
		ing_client_reconnect(u->cli);
		count(u, &u->st.reconnects, 1);
	}
	u->welcomed = false;
	u->halted = false;
	u->last_io = er_mono_ns();
	ing_client_hello(u->cli);
	set_state(u, "connecting", NULL);
}

/* Entries up to acked leave the outbox. A failure (a full map, say) is
 * tried again on the next turn: the entries are only kept longer. */
static void trim(node_uplink *u)
{
	sto_txn *t;
	uint64_t removed;

	if (u->acked <= u->trimmed || sto_write_begin(u->n->store, &t) != 0)
		return;
	sto_outbox_info info;
	if (sto_outbox_trim(t, u->acked, &removed) != 0 || sto_outbox_info_get(t, &info) != 0) {
		sto_abort(t);
		return;
	}
	if (sto_commit(t) != 0)
		return;
	u->trimmed = u->acked;
	if (info.over_limit && info.bytes <= u->n->cfg.outbox_limit_kb << 10) {
		/* Back under the limit: the flusher records the event (it owns
		 * the event ids), even when no reading arrives to flush. */
		atomic_store_explicit(&u->n->outbox_recheck, true, memory_order_relaxed);
		agg_core_wake(u->n->core);
	}
}

/* Sends entries from next while the window has room; returns the outbox's
 * next seq (one past the last entry). */
static uint64_t send_window(node_uplink *u)
{
	sto_txn *t;
	sto_outbox_info info;
	uint64_t end = 0;

	if (sto_read_begin(u->n->store, &t) != 0)
		return 0;
	if (sto_outbox_info_get(t, &info) == 0) {
		end = info.next;
		uint64_t held = info.entries > 0 ? info.first : info.next; /* the oldest entry still here */
		if (u->welcomed && !u->halted && u->next < held) {
			/* The city acknowledged entries that it no longer has. */
			char m[256];
			snprintf(m, sizeof m,
				 "the city expects entry %llu but this outbox starts at %llu: the city lost entries it "
				 "had acknowledged (restored from a backup?); its totals for this district are short",
				 (unsigned long long)u->next, (unsigned long long)held);
			u->halted = true;
			set_state(u, "city behind", m);
		}
		if (u->welcomed && !u->halted && u->next > info.next) {
			char m[256];
			snprintf(m, sizeof m,
				 "the city has applied entries up to %llu but this outbox has only numbered %llu: this "
				 "district's database is older than the city's (restored from a backup?)",
				 (unsigned long long)(u->next - 1), (unsigned long long)(info.next - 1));
			u->halted = true;
			set_state(u, "city ahead", m);
		}
	}
	while (u->welcomed && !u->halted && u->next < end && u->next - u->acked <= (uint64_t)u->n->cfg.uplink_window) {
		int64_t created;
		const void *p;
		size_t len;
		if (sto_outbox_get(t, u->next, &created, &p, &len) != 0 || ing_client_send(u->cli, p, len) != 0)
			break;
		u->next++;
		u->last_io = er_mono_ns();
		count(u, &u->st.sent, 1);
	}
	sto_abort(t);
	return end;
}

static void on_reply(node_uplink *u, const pb_msg *m)
{
	char msg[256];

	u->last_io = er_mono_ns();
	if (m->type == PB_WELCOME) {
		uint64_t next = m->u.welcome.next_seq ? m->u.welcome.next_seq : 1;
		if (u->next > next && u->welcomed)
			count(u, &u->st.resent, u->next - next);
		u->next = next;
		u->acked = next - 1;
		u->welcomed = true;
		set_state(u, "sending", "");
		return;
	}
	if (m->type != PB_ACK)
		return;
	const pb_ack *a = &m->u.ack;
	switch (a->status) {
	case PB_ST_OK:
	case PB_ST_DUPLICATE:
		/* In order: the city applies s only after s - 1. */
		if (a->seq > u->acked && a->seq < u->next) {
			u->acked = a->seq;
			pthread_mutex_lock(&u->lock);
			u->st.last_ack = er_now();
			pthread_mutex_unlock(&u->lock);
		}
		if (!u->halted)
			set_state(u, "sending", "");
		break;
	case PB_ST_GAP:
		if (a->expected > u->acked && a->expected < u->next) {
			count(u, &u->st.resent, u->next - a->expected);
			u->next = a->expected;
		}
		break;
	default:
		/* DENIED (a registry conflict), MALFORMED, TOO_LARGE, BAD_VERSION,
		 * UNAVAILABLE: the entry stays; try again after a timeout. */
		snprintf(msg, sizeof msg, "entry %llu: %s: %s", (unsigned long long)a->seq, pb_status_name(a->status),
			 a->message ? a->message : "");
		u->halted = true;
		count(u, &u->st.refusals, 1);
		set_state(u, a->status == PB_ST_UNAVAILABLE ? "city unavailable" : "refused", msg);
		break;
	}
}

void *node_uplink_main(void *arg)
{
	node *n = arg;
	node_uplink *u = n->uplink;
	uint64_t timeout_ns = (uint64_t)n->cfg.uplink_timeout_ms * 1000000u;
	sto_txn *t;
	sto_outbox_info info;

	/* Entries up to the last trim are gone already; the city's Welcome
	 * says where to resume. */
	if (sto_read_begin(n->store, &t) == 0) {
		if (sto_outbox_info_get(t, &info) == 0)
			u->trimmed = info.first ? info.first - 1 : info.next - 1;
		sto_abort(t);
	}
	hello(u, false);
	while (!atomic_load_explicit(&n->stop_uplink, memory_order_relaxed)) {
		pb_msg m;
		int rc = ing_client_recv(u->cli, POLL_MS, &m);
		if (rc == 0) {
			on_reply(u, &m);
			pb_msg_fini(&m);
			/* take every reply queued before deciding what to send */
			while (ing_client_recv(u->cli, 0, &m) == 0) {
				on_reply(u, &m);
				pb_msg_fini(&m);
			}
		}
		trim(u);
		uint64_t end = send_window(u);
		bool waiting = !u->welcomed || u->halted || u->next - 1 > u->acked;
		if (waiting && er_mono_ns() - u->last_io > timeout_ns) {
			hello(u, true); /* go-back-N from the city's durable mark */
			continue;
		}
		if (u->welcomed && !u->halted)
			set_state(u, u->acked + 1 >= end ? "idle" : "sending", NULL);
	}
	return NULL;
}
