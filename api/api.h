/* api.h: the node's HTTP API (DESIGN.md "api/"), served by libmicrohttpd
 * on one thread of its own.
 *
 *   GET /metrics   the node's status in the Prometheus text format: every
 *                  counter, the senders' high-water marks, a district
 *                  node's outbox depth and lag and its uplink, a city node's
 *                  district nodes and what they own
 *
 * Anything else is 404 (or 405 for another method). It binds loopback by
 * default (api.listen) and changes nothing, so it needs no token.
 */
#ifndef API_API_H
#define API_API_H

#include <stdio.h>

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct node;
typedef struct api_http api_http;

/* Listens on listen ("HOST:PORT", an IPv4 address) and serves until
 * api_http_stop. On error err says why. */
int api_http_start(struct node *n, const char *listen, api_http **out, char *err, size_t errlen);
void api_http_stop(api_http *a); /* NULL-safe */

/* A status reply in the Prometheus text exposition format (also what
 * `ecoroll status --prometheus` prints). */
void api_prometheus(FILE *f, const pb_status_reply *s);

#ifdef __cplusplus
}
#endif
#endif
