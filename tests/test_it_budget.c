/* test_it_budget.c: budgets and warnings through a real daemon (DOMAIN.md
 * 6): a budget imported with `ecoroll budget import`, a year of coal
 * readings pushed through the real ingest protocol in three phases so that
 * enterprise E0202 goes green -> yellow -> red, a subscriber on the PUB
 * socket that must see each level change exactly once, the warnings in
 * LMDB and in `ecoroll events`, and nothing sent again after a restart.
 *
 * By hand (coal 714.3 kgce/t, conf/energy; budget 300 tce; readings at
 * 12:00 local, so the data time is 12:00 of the last day pushed):
 *   Jan 1 - Apr 30, 1 t/day:   120 t = 85.716 tce at 119.5 days:
 *                              projected 85.716 x 365 / 119.5 = 261.810 <= 300: green
 *   May 1 - Jun 30, 1.5 t/day: 211.5 t = 151.07445 tce at 180.5 days:
 *                              projected 305.4968 in (300, 330]: yellow
 *   Jul 1 - Sep 30, 3 t/day:   487.5 t = 348.22125 tce > 300: red (YTD > budget) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "itutil.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define WAIT_MS 20000 /* bounded waits; the test asserts correctness, never durations */

static it_daemon D;
static void *zctx, *sub;

static int setup(void **state)
{
	(void)state;
	it_daemon_init(&D, it_tmpdir());
	D.extra[0] = "--set";
	D.extra[1] = "warnings.interval_ms=10";
	return it_daemon_start(&D);
}

static int teardown(void **state)
{
	(void)state;
	if (sub)
		zmq_close(sub);
	if (zctx)
		zmq_ctx_term(zctx);
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

/* Subscribes to every warning and waits (bounded) for the node's welcome,
 * which proves the subscription is in place before anything is published. */
static void subscribe(void)
{
	char buf[256];
	if (zctx == NULL)
		zctx = zmq_ctx_new();
	if (sub)
		zmq_close(sub);
	sub = zmq_socket(zctx, ZMQ_SUB);
	assert_non_null(sub);
	zmq_setsockopt(sub, ZMQ_LINGER, &(int){0}, sizeof(int));
	assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "warning.", 8), 0);
	assert_int_equal(zmq_connect(sub, D.pub), 0);
	zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
	assert_int_equal(zmq_poll(&it, 1, WAIT_MS), 1);
	int n = zmq_recv(sub, buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, "warning.welcome");
}

/* The next published warning: topic and JSON body; false when none comes
 * within ms. */
static bool next_warning(int ms, char *topic, size_t tcap, char *body, size_t bcap)
{
	zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, ms) != 1)
		return false;
	int n = zmq_recv(sub, topic, tcap - 1, 0);
	assert_true(n > 0);
	topic[n] = 0;
	int more = 0;
	size_t sz = sizeof more;
	zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
	assert_true(more);
	n = zmq_recv(sub, body, bcap - 1, 0);
	assert_true(n > 0);
	body[n] = 0;
	return true;
}

static void run(const char *const *args, char *out, size_t cap)
{
	assert_int_equal(it_ecoroll(out, cap, args), 0);
}

/* Daily coal readings at 12:00 local from..to (inclusive), amount t each. */
static void push_days(const char *name, int m0, int d0, int m1, int d1, const char *amount)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	char path[800], st[800], out[800];
	snprintf(path, sizeof path, "%s/%s.csv", it_tmpdir(), name);
	snprintf(st, sizeof st, "%s/push.state", it_tmpdir());
	snprintf(out, sizeof out, "%s/%s.out", it_tmpdir(), name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("series,time,value\n", f);
	for (int m = m0, d = d0; m < m1 || (m == m1 && d <= d1);) {
		fprintf(f, "M-E0202-CL01,2026-%02d-%02dT12:00:00+08:00,%s\n", m, d, amount);
		if (++d > mdays[m - 1]) {
			d = 1;
			m++;
		}
	}
	fclose(f);
	const char *args[] = {"push", "--endpoint", D.listen, "--state", st, "--quiet", path, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(args, out)), 0);
}

static void status_has(const char *want)
{
	char out[8192];
	const char *args[] = {"budget", "status", "--control", D.control, "--enterprise", "E0202", "--format", "csv", NULL};
	run(args, out, sizeof out);
	if (strstr(out, want) == NULL)
		fail_msg("budget status lacks '%s':\n%s", want, out);
}

struct evals {
	uint64_t commits;
};

static bool evaluated(void *ctx)
{
	struct evals *e = ctx;
	uint64_t n = it_counter(D.control, "warn_commits_seen");
	return n != UINT64_MAX && n >= e->commits;
}

/* Waits (bounded) until the budgets were evaluated after every commit so
 * far, the pushed readings' included. */
static void wait_evaluation(void)
{
	struct evals e = {it_counter(D.control, "commits")};
	assert_true(e.commits != UINT64_MAX);
	assert_true(it_until(evaluated, &e, WAIT_MS));
}

static void test_budget_year(void **state)
{
	(void)state;
	char out[8192], topic[256], body[2048];
	char path[800];

	subscribe();
	snprintf(path, sizeof path, "%s/budgets.csv", it_tmpdir());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("level,entity,year,kind,target,base,profile\n"
	      "enterprise,E0202,2026,budget,300,,\n",
	      f);
	fclose(f);
	const char *imp[] = {"budget", "import", "--control", D.control, path, NULL};
	run(imp, out, sizeof out);
	assert_non_null(strstr(out, "imported 1 budgets and targets"));

	/* green: no warning, the level is there */
	push_days("p1", 1, 1, 4, 30, "1");
	wait_evaluation();
	status_has("E0202,enterprise,2026,budget (linear),300.000000,85.716000,2026-04-30T12:00,32.74,98.219178,");
	status_has(",261.810377,green,projected <= budget");
	assert_false(next_warning(0, topic, sizeof topic, body, sizeof body));

	/* yellow */
	push_days("p2", 5, 1, 6, 30, "1.5");
	assert_true(next_warning(WAIT_MS, topic, sizeof topic, body, sizeof body));
	assert_string_equal(topic, "warning.yellow.E0202");
	assert_non_null(strstr(body, "\"level\":\"yellow\",\"previous_level\":\"green\""));
	assert_non_null(strstr(body, "\"ytd\":\"151.074450\""));
	assert_non_null(strstr(body, "\"projected\":\"305.496810\""));
	assert_non_null(strstr(body, "\"rule\":\"budget < projected <= 1.1 x budget\""));
	assert_non_null(strstr(body, "\"time\":\"2026-06-30T12:00:00+08:00\""));

	/* red */
	push_days("p3", 7, 1, 9, 30, "3");
	assert_true(next_warning(WAIT_MS, topic, sizeof topic, body, sizeof body));
	assert_string_equal(topic, "warning.red.E0202");
	assert_non_null(strstr(body, "\"level\":\"red\",\"previous_level\":\"yellow\""));
	assert_non_null(strstr(body, "\"ytd\":\"348.221250\""));
	assert_non_null(strstr(body, "\"rule\":\"YTD > budget\""));
	/* still red after more data: nothing more is published */
	push_days("p4", 10, 1, 10, 5, "3");
	wait_evaluation();
	assert_false(next_warning(0, topic, sizeof topic, body, sizeof body));

	/* stored, listed, published: exactly two warnings */
	const char *ev[] = {"events", "--control", D.control, "--type", "warning", "--json", NULL};
	run(ev, out, sizeof out);
	int n = 0;
	for (const char *p = out; (p = strstr(p, "\"type\":\"warning\"")) != NULL; p++)
		n++;
	assert_int_equal(n, 2);
	assert_non_null(strstr(out, "\"status\":\"published\",\"entity\":\"E0202\",\"entity_level\":\"enterprise\","
				    "\"kind\":\"budget\",\"level\":\"yellow\",\"previous_level\":\"green\""));
	assert_non_null(strstr(out, "\"level\":\"red\",\"previous_level\":\"yellow\""));
	const char *ent[] = {"events", "--control", D.control, "--entity", "E0202", NULL};
	run(ent, out, sizeof out);
	assert_non_null(strstr(out, "enterprise budget 2026: green -> yellow"));
	assert_non_null(strstr(out, "enterprise budget 2026: yellow -> red (YTD > budget)"));

	/* a restart publishes nothing again */
	assert_int_equal(it_daemon_kill(&D, SIGTERM), 0);
	D.pid = 0;
	assert_int_equal(it_daemon_start(&D), 0);
	subscribe();
	push_days("p5", 10, 6, 10, 6, "3");
	wait_evaluation();
	assert_false(next_warning(0, topic, sizeof topic, body, sizeof body));
	run(ev, out, sizeof out);
	n = 0;
	for (const char *p = out; (p = strstr(p, "\"type\":\"warning\"")) != NULL; p++)
		n++;
	assert_int_equal(n, 2);
	status_has(",red,YTD > budget");
}

static void test_bad_budget_file(void **state)
{
	(void)state;
	char out[4096], path[800];
	snprintf(path, sizeof path, "%s/bad.csv", it_tmpdir());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("level,entity,year,kind,target,base,profile\n"
	      "enterprise,NO-SUCH,2026,budget,300,,\n",
	      f);
	fclose(f);
	const char *imp[] = {"budget", "import", "--control", D.control, path, NULL};
	assert_int_equal(it_ecoroll(out, sizeof out, imp), 2);
	const char *help[] = {"budget", "--help", NULL};
	run(help, out, sizeof out);
	assert_non_null(strstr(out, "level,entity,year,kind,target,base,profile"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget_year),
	    cmocka_unit_test(test_bad_budget_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
