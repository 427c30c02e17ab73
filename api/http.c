/* http.c: the HTTP API with libmicrohttpd (see api.h).
 *
 * One libmicrohttpd thread (MHD_USE_INTERNAL_POLLING_THREAD) answers every
 * request, so the node's status is built on that thread with an epoch
 * record of its own (AGG_REC_HTTP) and nothing here is shared with another
 * thread: each response is built, sent and freed by libmicrohttpd. */
#include "api.h"

#include "node.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_http {
	node *n;
	struct MHD_Daemon *d;
};

/* Gauges among the counters: the rest only ever grow. */
static bool is_gauge(const char *name)
{
	static const char *g[] = {"outbox_entries",   "outbox_bytes", "uplink_lag_s", "outbox_next_seq",
				  "uplink_acked_seq", "warn_commits_seen"};
	for (size_t i = 0; i < sizeof g / sizeof *g; i++)
		if (strcmp(name, g[i]) == 0)
			return true;
	return false;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void api_prometheus(FILE *f, const pb_status_reply *s)
{
	fputs("# TYPE ecoroll_info gauge\necoroll_info{role=\"", f);
	label(f, s->role);
	fputc('"', f);
	for (size_t i = 0; i < s->nnotes; i++) {
		/* a district node's upstream and uplink state as labels */
		if (strcmp(s->notes[i].name, "upstream") == 0 || strcmp(s->notes[i].name, "uplink") == 0) {
			fprintf(f, ",%s=\"", s->notes[i].name);
			label(f, s->notes[i].value);
			fputc('"', f);
		}
	}
	fputs("} 1\n", f);
	fprintf(f, "# TYPE ecoroll_uptime_seconds gauge\necoroll_uptime_seconds %" PRIu64 "\n", s->uptime_s);
	fprintf(f, "# TYPE ecoroll_series gauge\necoroll_series %" PRIu64 "\n", s->series);
	fprintf(f, "# TYPE ecoroll_db_bytes gauge\necoroll_db_bytes %" PRIu64 "\n", s->db_bytes);
	for (size_t i = 0; i < s->ncounters; i++) {
		const char *name = s->counters[i].name;
		fprintf(f, "# TYPE ecoroll_%s %s\necoroll_%s %" PRIu64 "\n", name, is_gauge(name) ? "gauge" : "counter",
			name, s->counters[i].value);
	}
	if (s->nsenders > 0)
		fputs("# TYPE ecoroll_sender_high_water gauge\n", f);
	for (size_t i = 0; i < s->nsenders; i++) {
		fputs("ecoroll_sender_high_water{sender=\"", f);
		label(f, s->senders[i].sender);
		fprintf(f, "\"} %" PRIu64 "\n", s->senders[i].high_water);
	}
	/* a city node: "district node NAME" = "D01 D02" */
	bool typed = false;
	for (size_t i = 0; i < s->nnotes; i++) {
		const char *prefix = "district node ", *name = s->notes[i].name;
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		if (!typed) {
			fputs("# TYPE ecoroll_district_owner gauge\n", f);
			typed = true;
		}
		const char *v = s->notes[i].value;
		while (*v) {
			size_t len = strcspn(v, " ");
			fputs("ecoroll_district_owner{node=\"", f);
			label(f, name + strlen(prefix));
			fprintf(f, "\",district=\"%.*s\"} 1\n", (int)len, v);
			v += len;
			v += strspn(v, " ");
		}
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	api_http *a = cls;
	char *body = NULL;
	size_t len = 0;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("only GET\n"), 9);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found: the API serves /metrics\n"), 35);
	pb_status_reply s;
	node_status_buf *b;
	FILE *f = open_memstream(&body, &len);
	if (f == NULL || node_status(a->n, AGG_REC_HTTP, &s, &b) != 0) {
		if (f != NULL)
			fclose(f);
		free(body);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", strdup("out of memory\n"), 14);
	}
	api_prometheus(f, &s);
	node_status_buf_free(b);
	fclose(f);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", body, len);
}

int api_http_start(node *n, const char *listen, api_http **out, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(listen, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;

	if (colon == NULL || *end != 0 || port < 1 || port > 65535 || (size_t)(colon - listen) >= sizeof host) {
		snprintf(err, errlen, "api.listen = %s: give HOST:PORT, e.g. 127.0.0.1:7103", listen);
		return ER_EINVAL;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "api.listen = %s: %s is not an IPv4 address", listen, host);
		return ER_EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	api_http *a = calloc(1, sizeof *a);
	if (a == NULL)
		return ER_ENOMEM;
	a->n = n;
	a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
				on_request, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "api.listen = %s: cannot listen there (in use?)", listen);
		free(a);
		return ER_EIO;
	}
	*out = a;
	return 0;
}

void api_http_stop(api_http *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	free(a);
}
