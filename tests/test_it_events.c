/* test_it_events.c: meter events through a real daemon (DOMAIN.md 3):
 * a quarantined spike that an operator accepts (once), a reset that adds
 * nothing, a replacement registered before the swap and one registered
 * after it (which resolves the reset the swap raised). Every figure is
 * computed by hand in the comments. */
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

#define T0 1793548800LL /* 2026-11-02T00:00:00+08:00 */
#define FX(x) ((er_fx)((x) * 1000000LL))

static it_daemon D;
static ing_client *C;
static uint64_t seq;

static int setup(void **state)
{
	(void)state;
	it_daemon_init(&D, it_tmpdir());
	if (it_daemon_start(&D) != 0)
		return -1;
	if (ing_client_new(D.listen, "it-events", &C) != 0)
		return -1;
	pb_msg m;
	if (ing_client_hello(C) != 0 || ing_client_recv(C, 10000, &m) != 0)
		return -1;
	pb_msg_fini(&m);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ing_client_free(C);
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

/* One reading per batch, acknowledged before the next. */
static void reading(const char *code, int64_t ts, double v)
{
	uint64_t key = er_key(code, strlen(code));
	pb_msg m = {.type = PB_BATCH}, a;
	uint8_t *buf;
	size_t len;

	m.u.batch.sender = "it-events";
	m.u.batch.seq = ++seq;
	m.u.batch.n = 1;
	m.u.batch.series = &key;
	m.u.batch.ts = &ts;
	m.u.batch.value = &v;
	assert_int_equal(pb_encode(&m, &buf, &len), 0);
	assert_int_equal(ing_client_send(C, buf, len), 0);
	free(buf);
	assert_int_equal(ing_client_recv(C, 10000, &a), 0);
	assert_int_equal(a.type, PB_ACK);
	assert_int_equal(a.u.ack.status, PB_ST_OK);
	assert_int_equal(a.u.ack.accepted, 1);
	pb_msg_fini(&a);
}

static er_fx day_sum(int level, const char *entity)
{
	er_fx s = 0;
	assert_int_equal(it_query_sum(D.control, level, entity, ER_RES_DAY, T0 - 86400, T0 + 86400, "electricity", &s,
				      NULL),
			 0);
	return s;
}

/* The meter's events, in id order, into ev (up to 8). */
static size_t events_of(const char *meter, pb_event *ev, pb_msg *keep)
{
	pb_msg req = {.type = PB_EVENTS_REQUEST};
	req.u.events_request.meter = meter;
	assert_int_equal(ing_request(D.control, &req, 10000, keep), 0);
	assert_int_equal(keep->type, PB_EVENTS_REPLY);
	assert_true(keep->u.events_reply.ok);
	size_t n = keep->u.events_reply.nevents;
	assert_true(n <= 8);
	memcpy(ev, keep->u.events_reply.events, n * sizeof *ev);
	return n;
}

static bool command(const pb_msg *req, char *msg, size_t cap)
{
	pb_msg rep;
	assert_int_equal(ing_request(D.control, req, 20000, &rep), 0);
	assert_int_equal(rep.type, PB_COMMAND_REPLY);
	bool ok = rep.u.command_reply.ok;
	snprintf(msg, cap, "%s", rep.u.command_reply.message);
	pb_msg_fini(&rep);
	return ok;
}

static void test_spike_quarantined_then_accepted_once(void **state)
{
	(void)state;
	pb_event ev[8];
	pb_msg keep, req = {.type = PB_EVENT_ACCEPT};
	char msg[256];

	/* max_per_hour 800 kWh: +50 in 15 min passes; +1000 in 15 min is
	 * 4000 kWh/h, quarantined. */
	reading("M-E0102-EL04", T0, 100);
	reading("M-E0102-EL04", T0 + 900, 150);
	reading("M-E0102-EL04", T0 + 1800, 1150);
	reading("M-E0102-EL04", T0 + 2700, 1160);
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL04"), FX(60));
	assert_int_equal(events_of("M-E0102-EL04", ev, &keep), 1);
	assert_string_equal(ev[0].type, "spike");
	assert_string_equal(ev[0].status, "open");
	assert_int_equal(ev[0].t0, T0 + 900);
	assert_int_equal(ev[0].t1, T0 + 1800);
	assert_int_equal(ev[0].v0, FX(150));
	assert_int_equal(ev[0].v1, FX(1150));
	assert_int_equal(ev[0].amount, FX(1000));
	uint64_t id = ev[0].id;
	pb_msg_fini(&keep);

	er_fx ent_before = day_sum(STO_ENTERPRISE, "E0102");
	req.u.event_accept = id;
	assert_true(command(&req, msg, sizeof msg));
	assert_non_null(strstr(msg, "1000 kWh added"));
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL04"), FX(1060));
	assert_int_equal(day_sum(STO_ENTERPRISE, "E0102"), ent_before + FX(1000));
	assert_int_equal(day_sum(STO_CITY, ""), day_sum(STO_DISTRICT, "D01") + day_sum(STO_DISTRICT, "D02") +
							day_sum(STO_DISTRICT, "D03") + day_sum(STO_DISTRICT, "D04"));
	/* Accepting again changes nothing. */
	assert_false(command(&req, msg, sizeof msg));
	assert_non_null(strstr(msg, "already accepted"));
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL04"), FX(1060));
	assert_int_equal(events_of("M-E0102-EL04", ev, &keep), 1);
	assert_string_equal(ev[0].status, "accepted");
	pb_msg_fini(&keep);
	/* A reset cannot be accepted; an unknown id is an error. */
	req.u.event_accept = 999999;
	assert_false(command(&req, msg, sizeof msg));
	assert_non_null(strstr(msg, "no event 999999"));
}

static void test_reset_adds_nothing(void **state)
{
	(void)state;
	pb_event ev[8];
	pb_msg keep;

	/* 500 -> 400 on a register of capacity 99999999.99: not a rollover. */
	reading("M-E0102-EL03", T0, 490);
	reading("M-E0102-EL03", T0 + 900, 500);
	reading("M-E0102-EL03", T0 + 1800, 400);
	reading("M-E0102-EL03", T0 + 2700, 404);
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL03"), FX(14));
	assert_int_equal(events_of("M-E0102-EL03", ev, &keep), 1);
	assert_string_equal(ev[0].type, "reset");
	assert_int_equal(ev[0].v0, FX(500));
	assert_int_equal(ev[0].v1, FX(400));
	pb_msg_fini(&keep);
}

static void test_replacement_registered_before(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_REPLACEMENT}, keep;
	pb_event ev[8];
	char msg[256];

	reading("M-E0102-EL02", T0, 1000);
	reading("M-E0102-EL02", T0 + 900, 1010);
	/* At T0+1200 the old register read 1015 and the new one 2. */
	req.u.replacement = (pb_replacement){"M-E0102-EL02", T0 + 1200, FX(1015), FX(2)};
	assert_true(command(&req, msg, sizeof msg));
	assert_non_null(strstr(msg, "applies to the first reading"));
	/* (1015 - 1010) + (7 - 2) = 10 */
	reading("M-E0102-EL02", T0 + 1800, 7);
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL02"), FX(20));
	assert_int_equal(events_of("M-E0102-EL02", ev, &keep), 1);
	assert_string_equal(ev[0].type, "replacement");
	assert_string_equal(ev[0].status, "applied");
	assert_int_equal(ev[0].amount, FX(10));
	pb_msg_fini(&keep);
}

static void test_replacement_registered_after(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_REPLACEMENT}, keep;
	pb_event ev[8];
	char msg[256];

	reading("M-E0102-EL01", T0, 300);
	reading("M-E0102-EL01", T0 + 900, 310);
	reading("M-E0102-EL01", T0 + 1800, 4); /* the swap, unknown yet: a reset */
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL01"), FX(10));
	/* Registered late: (318 - 310) + (4 - 1) = 11 is added. */
	req.u.replacement = (pb_replacement){"M-E0102-EL01", T0 + 1500, FX(318), FX(1)};
	assert_true(command(&req, msg, sizeof msg));
	assert_non_null(strstr(msg, "resolved reset"));
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL01"), FX(21));
	assert_int_equal(events_of("M-E0102-EL01", ev, &keep), 2);
	assert_string_equal(ev[0].type, "reset");
	assert_string_equal(ev[0].status, "applied");
	assert_string_equal(ev[1].type, "replacement");
	assert_string_equal(ev[1].status, "applied");
	assert_int_equal(ev[1].amount, FX(11));
	pb_msg_fini(&keep);

	/* Everything survives a restart. */
	it_daemon_kill(&D, SIGTERM);
	assert_int_equal(it_daemon_start(&D), 0);
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL01"), FX(21));
	assert_int_equal(day_sum(STO_METER, "M-E0102-EL04"), FX(1060));
	assert_int_equal(events_of("M-E0102-EL01", ev, &keep), 2);
	pb_msg_fini(&keep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spike_quarantined_then_accepted_once),
		cmocka_unit_test(test_reset_adds_nothing),
		cmocka_unit_test(test_replacement_registered_before),
		cmocka_unit_test(test_replacement_registered_after),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
