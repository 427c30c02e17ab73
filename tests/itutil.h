/* itutil.h: helpers for integration tests: real ecorolld processes on
 * loopback ports, the ecoroll CLI as a child process, and queries through
 * the real control protocol. Binaries come from $ECOROLL_BIN (set by
 * tests/run.sh), sources from $ECOROLL_SRC. */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "er.h"

typedef struct it_daemon {
	pid_t pid;
	char dir[512];	  /* LMDB data directory */
	char listen[64];  /* tcp://127.0.0.1:P */
	char control[64]; /* tcp://127.0.0.1:Q */
	char pub[64];	  /* warnings.publish: tcp://127.0.0.1:R */
	char pubarg[96];
	char http[32];	  /* api.listen: 127.0.0.1:S */
	char httparg[64];
	char log[600];
	const char *extra[32]; /* more ecorolld arguments, NULL-terminated */
} it_daemon;

/* A fresh data directory and three free loopback ports (ingest, control,
 * the warnings' PUB socket). */
void it_daemon_init(it_daemon *d, const char *tmpdir);
/* Starts ecorolld and waits (bounded) until its control socket answers. */
int it_daemon_start(it_daemon *d);
/* Sends sig and waits for the process to exit; returns its wait status. */
int it_daemon_kill(it_daemon *d, int sig);

/* Runs $ECOROLL_BIN/ecoroll with args (NULL-terminated), stdout to out
 * (may be NULL), and returns its exit status (or -1). */
int it_ecoroll(char *out, size_t cap, const char *const *args);
/* Starts it in the background; it_wait collects the exit status. */
pid_t it_ecoroll_bg(const char *const *args, const char *outfile);
int it_wait(pid_t pid);

/* Sum of a query's rows' sums (micro-units); rows counted in *nrows. */
int it_query_sum(const char *control, int level, const char *entity, int res, int64_t from, int64_t to,
		 const char *carrier, er_fx *sum, size_t *nrows);
/* GET http://HOSTPORT/PATH: the status code, the body into out (NUL-
 * terminated, cut at cap - 1); -1 when the node does not answer. */
int it_http_get(const char *hostport, const char *path, char *out, size_t cap);

/* One counter from the status reply; UINT64_MAX when missing. */
uint64_t it_counter(const char *control, const char *name);

/* A temporary directory removed at exit. */
const char *it_tmpdir(void);
/* Waits until pred(ctx) is true, checking every 20 ms, up to timeout_ms. */
bool it_until(bool (*pred)(void *), void *ctx, int timeout_ms);

#endif
