/* client.h: the sending side of the ingest protocol and the control
 * request/reply, for ecoroll push, ecoroll-bench and the tests.
 *
 * An ing_client is a DEALER socket whose routing id is the sender name, so
 * the gateway routes all of its frames to one worker and a reconnect takes
 * the name over (ZMQ_ROUTER_HANDOVER on the server). One thread per client.
 */
#ifndef ING_CLIENT_H
#define ING_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ing_client ing_client;

/* Connects (asynchronously, as ZeroMQ does) to endpoint as sender. */
int ing_client_new(const char *endpoint, const char *sender, ing_client **out);
void ing_client_free(ing_client *c);
/* Drops the connection and everything queued on it, and connects again. */
int ing_client_reconnect(ing_client *c);
const char *ing_client_sender(const ing_client *c);
/* Sends one encoded envelope. */
int ing_client_send(ing_client *c, const void *buf, size_t len);
int ing_client_hello(ing_client *c);
/* Waits up to timeout_ms for one reply; ER_ETIMEDOUT when none came.
 * Release *out with pb_msg_fini. */
int ing_client_recv(ing_client *c, int timeout_ms, pb_msg *out);

/* One control request (registry import, query, status) to the control
 * endpoint; waits up to timeout_ms. Release *reply with pb_msg_fini. */
int ing_request(const char *endpoint, const pb_msg *req, int timeout_ms, pb_msg *reply);

/* A sender name nobody else uses: "PREFIX-HOST-RANDOM". */
void ing_sender_name(const char *prefix, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
