/* status.c: a node's status: its counters (the workers' summed, the store
 * thread's, a district node's outbox and uplink gauges), every sender's
 * high-water mark and the three-tier notes. The control socket answers
 * StatusRequest with it and the HTTP API serves it as Prometheus metrics;
 * any thread may build one, with an epoch record of its own for the
 * registry lookups. */
#include "node.h"

#include "outbox.h"

#include <stdlib.h>
#include <string.h>

struct snd_list {
	pb_sender_state *s;
	size_t n, cap;
};

static void on_sender(void *ctx, const ing_sender *snd)
{
	struct snd_list *l = ctx;
	if (er_grow(&l->s, l->n, &l->cap, sizeof *l->s, 16) != 0)
		return;
	l->s[l->n].sender = snd->name;
	l->s[l->n].high_water = atomic_load_explicit(&snd->committed, memory_order_relaxed);
	l->n++;
}

#define TIER_COUNTERS 9 /* the outbox and uplink gauges of a district node */
#define TIER_NOTES 16	/* district nodes listed in a city's status */

/* What a status reply points into. */
struct node_status_buf {
	pb_counter cnt[ING_C_COUNT + NODE_C_COUNT + TIER_COUNTERS];
	pb_field notes[TIER_NOTES];
	char text[2 * TIER_NOTES][256];
	struct snd_list sl;
};

/* A district node's outbox depth and age and its uplink, as counters (the
 * metrics an operator graphs and alerts on). */
static size_t tier_counters(node *n, pb_counter *cnt)
{
	sto_outbox_info info = {0};
	node_uplink_state st;
	sto_txn *t;
	size_t k = 0;

	if (n->role != NODE_DISTRICT || n->uplink == NULL)
		return 0;
	if (sto_read_begin(n->store, &t) == 0) {
		sto_outbox_info_get(t, &info);
		sto_abort(t);
	}
	node_uplink_state_get(n->uplink, &st);
	int64_t now = er_now();
	cnt[k++] = (pb_counter){"outbox_entries", info.entries};
	cnt[k++] = (pb_counter){"outbox_bytes", info.bytes};
	/* lag: the oldest entry the city has not acknowledged, in seconds */
	cnt[k++] = (pb_counter){"uplink_lag_s", info.entries && now > info.oldest ? (uint64_t)(now - info.oldest) : 0};
	cnt[k++] = (pb_counter){"outbox_next_seq", info.next};
	cnt[k++] = (pb_counter){"uplink_acked_seq", st.acked};
	cnt[k++] = (pb_counter){"uplink_sent", st.sent};
	cnt[k++] = (pb_counter){"uplink_resent", st.resent};
	cnt[k++] = (pb_counter){"uplink_reconnects", st.reconnects};
	cnt[k++] = (pb_counter){"uplink_refusals", st.refusals};
	return k;
}

int node_status(node *n, int record, pb_status_reply *r, node_status_buf **out)
{
	static const char *node_names[NODE_C_COUNT] = {"flushes",      "commits",	  "commit_errors",
						       "map_grows",    "rows_written",	  "acks_sent",
						       "warn_commits_seen", "outbox_appended", "outbox_limit_events"};
	node_status_buf *b = calloc(1, sizeof *b);
	size_t k = 0;

	*out = b;
	if (b == NULL)
		return ER_ENOMEM;
	pb_counter *cnt = b->cnt;
	struct snd_list *sl = &b->sl;

	for (int c = 0; c < ING_C_COUNT; c++) {
		uint64_t sum = 0;
		for (int w = 0; w <= n->cfg.workers; w++)
			sum += atomic_load_explicit(&n->stats[w].c[c], memory_order_relaxed);
		cnt[k].name = ing_counter_name(c);
		cnt[k++].value = sum;
	}
	for (int c = 0; c < NODE_C_COUNT; c++) {
		cnt[k].name = node_names[c];
		cnt[k++].value = atomic_load_explicit(&n->c[c], memory_order_relaxed);
	}
	k += tier_counters(n, cnt + k);
	ing_senders_each(n->senders, on_sender, sl);
	memset(r, 0, sizeof *r);
	r->role = n->cfg.role;
	r->uptime_s = (uint64_t)(er_now() - n->started);
	r->series = agg_registry_count(n->reg, AGG_SERIES);
	r->flushes = atomic_load(&n->c[NODE_C_FLUSHES]);
	sto_db_bytes(n->store, &r->db_bytes);
	r->counters = cnt;
	r->ncounters = k;
	r->senders = sl->s;
	r->nsenders = sl->n;
	r->notes = b->notes;
	r->nnotes = node__tier_notes(n, record, b->notes, TIER_NOTES, b->text);
	return 0;
}

void node_status_buf_free(node_status_buf *b)
{
	if (b == NULL)
		return;
	free(b->sl.s);
	free(b);
}

