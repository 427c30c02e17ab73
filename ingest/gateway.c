/* gateway.c: the ROUTER socket and its routing.
 *
 * Frames arrive as [routing id][payload]. The routing id is the sender's
 * name (clients set ZMQ_ROUTING_ID; ZMQ_ROUTER_HANDOVER lets a reconnecting
 * sender take its name over), so hashing it picks the sender's worker and
 * every batch of a sender is handled, in order, by one thread. Payloads are
 * moved, not copied, to the worker. An oversized frame is answered here
 * with TOO_LARGE without being decoded.
 *
 * Replies come back on the egress PULL socket as [routing id][payload]
 * from workers (hello, gaps, errors) and from the store thread (acks after
 * commit) and go out on the ROUTER unchanged.
 */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define GW_CTL "inproc://ecoroll-gateway-ctl"
/* The stop marker is a single-frame message: frames from senders always
 * reach a worker as two, [routing id][payload]. */
#define ING_STOP_MARKER "stop"

struct ing_gateway {
	void *zctx;
	void *router, *egress, *ctl;
	void **workers;
	const ing_config *cfg;
	ing_stats *stats;
	int nworkers;
};

void ing_worker_endpoint(int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "inproc://ecoroll-worker-%d", i);
}

int ing_send_reply(void *sock, const void *id, size_t idlen, const uint8_t *payload, size_t len)
{
	if (zmq_send(sock, id, idlen, ZMQ_SNDMORE) < 0 || zmq_send(sock, payload, len, 0) < 0)
		return ER_EIO;
	return 0;
}

int ing_gateway_new(void *zctx, const char *listen, const ing_config *cfg, ing_stats *stats, ing_gateway **out,
		    char *err, size_t errlen)
{
	ing_gateway *g = calloc(1, sizeof *g);
	int one = 1, zero = 0, hwm = 0;
	/* A hard cap on what libzmq will buffer for one frame: beyond it the
	 * peer is dropped. Frames between max_frame_bytes and this get a
	 * TOO_LARGE ack instead. */
	int64_t maxmsg = (int64_t)cfg->max_frame_bytes * 4 + 4096;
	char ep[64];

	if (g == NULL)
		return ER_ENOMEM;
	g->zctx = zctx;
	g->cfg = cfg;
	g->stats = stats;
	g->nworkers = cfg->nworkers;
	g->router = zmq_socket(zctx, ZMQ_ROUTER);
	g->egress = zmq_socket(zctx, ZMQ_PULL);
	g->ctl = zmq_socket(zctx, ZMQ_PULL);
	g->workers = calloc((size_t)g->nworkers, sizeof *g->workers);
	if (!g->router || !g->egress || !g->ctl || !g->workers)
		goto fail;
	zmq_setsockopt(g->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	zmq_setsockopt(g->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	zmq_setsockopt(g->router, ZMQ_LINGER, &(int){2000}, sizeof(int));
	/* No high-water marks on inproc pipes: the senders' windows bound
	 * what is in flight, and dropping a frame would stall a sender. */
	zmq_setsockopt(g->egress, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_bind(g->router, listen) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen, zmq_strerror(errno));
		goto fail_quiet;
	}
	if (zmq_bind(g->egress, ING_EGRESS) != 0 || zmq_bind(g->ctl, GW_CTL) != 0)
		goto fail;
	for (int i = 0; i < g->nworkers; i++) {
		g->workers[i] = zmq_socket(zctx, ZMQ_PUSH);
		if (g->workers[i] == NULL)
			goto fail;
		zmq_setsockopt(g->workers[i], ZMQ_SNDHWM, &hwm, sizeof hwm);
		zmq_setsockopt(g->workers[i], ZMQ_LINGER, &zero, sizeof zero);
		ing_worker_endpoint(i, ep, sizeof ep);
		if (zmq_bind(g->workers[i], ep) != 0)
			goto fail;
	}
	*out = g;
	return 0;
fail:
	snprintf(err, errlen, "gateway sockets: %s", zmq_strerror(errno));
fail_quiet:
	ing_gateway_free(g);
	return ER_EIO;
}

void ing_gateway_free(ing_gateway *g)
{
	if (g == NULL)
		return;
	if (g->router)
		zmq_close(g->router);
	if (g->egress)
		zmq_close(g->egress);
	if (g->ctl)
		zmq_close(g->ctl);
	for (int i = 0; g->workers && i < g->nworkers; i++)
		if (g->workers[i])
			zmq_close(g->workers[i]);
	free(g->workers);
	free(g);
}

void ing_gateway_stop(ing_gateway *g, int how)
{
	void *s = zmq_socket(g->zctx, ZMQ_PUSH);
	uint8_t b = (uint8_t)how;
	if (s == NULL)
		return;
	zmq_connect(s, GW_CTL);
	zmq_send(s, &b, 1, 0);
	zmq_setsockopt(s, ZMQ_LINGER, &(int){-1}, sizeof(int));
	zmq_close(s);
}

static void count(ing_gateway *g, int c)
{
	atomic_fetch_add_explicit(&g->stats->c[c], 1, memory_order_relaxed);
}

/* Drains the remaining frames of a multipart message. */
static void skip_rest(void *sock)
{
	int more = 1;
	size_t sz = sizeof more;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		zmq_msg_recv(&m, sock, 0);
		zmq_msg_close(&m);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
	}
}

static void reply_status(ing_gateway *g, zmq_msg_t *id, int status, const char *msg)
{
	pb_ack a = {.status = status, .message = msg};
	uint8_t *buf;
	size_t len;
	if (pb_encode_ack(&a, &buf, &len) != 0)
		return;
	ing_send_reply(g->router, zmq_msg_data(id), zmq_msg_size(id), buf, len);
	free(buf);
}

static void on_router(ing_gateway *g)
{
	zmq_msg_t id, body;
	int more = 0;
	size_t sz = sizeof more;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, g->router, 0) < 0) {
		zmq_msg_close(&id);
		return;
	}
	zmq_getsockopt(g->router, ZMQ_RCVMORE, &more, &sz);
	if (!more) { /* a ROUTER always gives an id frame first */
		zmq_msg_close(&id);
		return;
	}
	zmq_msg_init(&body);
	zmq_msg_recv(&body, g->router, 0);
	zmq_getsockopt(g->router, ZMQ_RCVMORE, &more, &sz);
	count(g, ING_C_FRAMES);
	if (more) {
		skip_rest(g->router);
		count(g, ING_C_MALFORMED);
		reply_status(g, &id, PB_ST_MALFORMED, "a message must be one frame holding one envelope");
		goto done;
	}
	if (zmq_msg_size(&body) > g->cfg->max_frame_bytes) {
		char msg[128];
		count(g, ING_C_TOO_LARGE);
		snprintf(msg, sizeof msg, "frame of %zu bytes exceeds max_frame_bytes %zu; send smaller batches",
			 zmq_msg_size(&body), g->cfg->max_frame_bytes);
		reply_status(g, &id, PB_ST_TOO_LARGE, msg);
		goto done;
	}
	int w = (int)(XXH3_64bits(zmq_msg_data(&id), zmq_msg_size(&id)) % (uint64_t)g->nworkers);
	/* zmq_msg_send takes the message: nothing is copied. */
	if (zmq_msg_send(&id, g->workers[w], ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, g->workers[w], 0) < 0)
		er_log(ER_LOG_ERROR, "gateway: cannot pass a frame to worker %d: %s", w, zmq_strerror(errno));
done:
	zmq_msg_close(&id);
	zmq_msg_close(&body);
}

/* Forwards one [id][payload] from the egress; false when it was empty. */
static bool on_egress(ing_gateway *g, int flags)
{
	zmq_msg_t id, body;
	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, g->egress, flags) < 0) {
		zmq_msg_close(&id);
		return false;
	}
	zmq_msg_init(&body);
	zmq_msg_recv(&body, g->egress, 0);
	/* A reply to a sender that has gone is dropped by the ROUTER; the
	 * sender asks again after it reconnects. */
	zmq_msg_send(&id, g->router, ZMQ_SNDMORE);
	zmq_msg_send(&body, g->router, 0);
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	return true;
}

int ing_gateway_run(ing_gateway *g)
{
	zmq_pollitem_t items[3] = {
		{g->ctl, 0, ZMQ_POLLIN, 0},
		{g->egress, 0, ZMQ_POLLIN, 0},
		{g->router, 0, ZMQ_POLLIN, 0},
	};
	int nitems = 3;

	for (;;) {
		if (zmq_poll(items, nitems, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ER_EIO;
		}
		if (items[0].revents & ZMQ_POLLIN) {
			uint8_t how = 0;
			zmq_recv(g->ctl, &how, 1, 0);
			if (how == ING_STOP_INPUT && nitems == 3) {
				nitems = 2; /* no more frames from senders */
				for (int i = 0; i < g->nworkers; i++)
					zmq_send(g->workers[i], ING_STOP_MARKER, 4, 0);
			} else if (how == ING_STOP_EXIT) {
				while (on_egress(g, ZMQ_DONTWAIT))
					;
				return 0;
			}
		}
		if (items[1].revents & ZMQ_POLLIN) {
			/* Replies first, a bounded burst: acks free the senders'
			 * windows, which is what keeps data flowing. */
			for (int i = 0; i < 256 && on_egress(g, ZMQ_DONTWAIT); i++)
				;
		}
		if (nitems == 3 && (items[2].revents & ZMQ_POLLIN)) {
			for (int i = 0; i < 64; i++) {
				int ev = 0;
				size_t sz = sizeof ev;
				on_router(g);
				zmq_getsockopt(g->router, ZMQ_EVENTS, &ev, &sz);
				if (!(ev & ZMQ_POLLIN))
					break;
			}
		}
	}
}
