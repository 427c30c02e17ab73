/* client.c: see client.h. The ZeroMQ context is per client so that a
 * client is a self-contained handle; a reconnect closes the socket with
 * linger 0, which discards unsent frames: the caller's window resends them
 * after the Welcome tells it where to resume. */
#include "client.h"

#include "er.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct ing_client {
	void *zctx, *sock;
	char *endpoint, *sender;
};

static int open_socket(ing_client *c)
{
	int zero = 0, hwm = 0;
	c->sock = zmq_socket(c->zctx, ZMQ_DEALER);
	if (c->sock == NULL)
		return ER_EIO;
	zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, c->sender, strlen(c->sender));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
	/* The window bounds what is queued; never drop or block on HWM. */
	zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_connect(c->sock, c->endpoint) != 0) {
		zmq_close(c->sock);
		c->sock = NULL;
		return ER_EINVAL;
	}
	return 0;
}

int ing_client_new(const char *endpoint, const char *sender, ing_client **out)
{
	ing_client *c;
	int rc;

	if (sender[0] == 0 || strlen(sender) > 255)
		return ER_EINVAL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return ER_ENOMEM;
	c->zctx = zmq_ctx_new();
	c->endpoint = strdup(endpoint);
	c->sender = strdup(sender);
	if (c->zctx == NULL || c->endpoint == NULL || c->sender == NULL) {
		ing_client_free(c);
		return ER_ENOMEM;
	}
	if ((rc = open_socket(c)) != 0) {
		ing_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ing_client_free(ing_client *c)
{
	if (c == NULL)
		return;
	if (c->sock)
		zmq_close(c->sock);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	free(c->endpoint);
	free(c->sender);
	free(c);
}

int ing_client_reconnect(ing_client *c)
{
	if (c->sock)
		zmq_close(c->sock);
	c->sock = NULL;
	return open_socket(c);
}

const char *ing_client_sender(const ing_client *c)
{
	return c->sender;
}

int ing_client_send(ing_client *c, const void *buf, size_t len)
{
	if (zmq_send(c->sock, buf, len, 0) < 0)
		return ER_EIO;
	return 0;
}

int ing_client_hello(ing_client *c)
{
	pb_msg m = {.type = PB_HELLO};
	uint8_t *buf;
	size_t len;
	int rc;

	m.u.hello.sender = c->sender;
	if ((rc = pb_encode(&m, &buf, &len)) != 0)
		return rc;
	rc = ing_client_send(c, buf, len);
	free(buf);
	return rc;
}

static int recv_one(void *sock, int timeout_ms, pb_msg *out)
{
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
	zmq_msg_t m;
	int rc;

	for (;;) {
		rc = zmq_poll(&it, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return ER_EIO;
		if (rc == 0)
			return ER_ETIMEDOUT;
		break;
	}
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sock, 0) < 0) {
		zmq_msg_close(&m);
		return ER_EIO;
	}
	rc = pb_decode(zmq_msg_data(&m), zmq_msg_size(&m), out);
	zmq_msg_close(&m);
	return rc;
}

int ing_client_recv(ing_client *c, int timeout_ms, pb_msg *out)
{
	return recv_one(c->sock, timeout_ms, out);
}

int ing_request(const char *endpoint, const pb_msg *req, int timeout_ms, pb_msg *reply)
{
	void *ctx = zmq_ctx_new(), *s = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, zero = 0;

	if (ctx == NULL)
		return ER_ENOMEM;
	s = zmq_socket(ctx, ZMQ_REQ);
	if (s == NULL) {
		rc = ER_EIO;
		goto done;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, endpoint) != 0) {
		rc = ER_EINVAL;
		goto done;
	}
	if ((rc = pb_encode(req, &buf, &len)) != 0)
		goto done;
	if (zmq_send(s, buf, len, 0) < 0) {
		rc = ER_EIO;
		goto done;
	}
	rc = recv_one(s, timeout_ms, reply);
done:
	free(buf);
	if (s)
		zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

void ing_sender_name(const char *prefix, char *buf, size_t cap)
{
	char host[64] = "host";
	unsigned long long r = 0;
	FILE *f = fopen("/dev/urandom", "rb");

	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	if (f) {
		if (fread(&r, sizeof r, 1, f) != 1)
			r = (unsigned long long)er_mono_ns() ^ (unsigned long long)getpid();
		fclose(f);
	} else {
		r = (unsigned long long)er_mono_ns() ^ (unsigned long long)getpid();
	}
	snprintf(buf, cap, "%s-%s-%08llx", prefix, host, r & 0xffffffffull);
}
