/* test_it_protocol.c: a real ecorolld on loopback, spoken to through the
 * real protocol (ing_client: a DEALER socket whose routing id is the
 * sender). Covers hello/welcome, exact tier sums, go-back-N (gap,
 * duplicate), every rejection reason, malformed, oversized and garbage
 * frames and a wrong version (each answered while the daemon keeps
 * serving), a sender/identity mismatch, runtime registry import, and a
 * clean SIGTERM that acknowledges what it holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "itutil.h"
#include "store.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static it_daemon D;

/* 2026-11-02 00:00 +08:00 = 2026-11-01T16:00:00Z */
#define T0 1793548800LL
#define H 3600LL

static int setup(void **state)
{
	(void)state;
	it_daemon_init(&D, it_tmpdir());
	D.extra[0] = "--set";
	D.extra[1] = "ingest.max_frame_bytes=65536";
	D.extra[2] = "--set";
	D.extra[3] = "ingest.max_future_skew_s=300";
	return it_daemon_start(&D);
}

static int teardown(void **state)
{
	(void)state;
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

static ing_client *connect_as(const char *sender)
{
	ing_client *c;
	assert_int_equal(ing_client_new(D.listen, sender, &c), 0);
	return c;
}

/* Waits for the next reply of the given type (acks for other seqs are
 * returned too: the caller checks). */
static void recv_msg(ing_client *c, pb_msg *m)
{
	int rc = ing_client_recv(c, 10000, m);
	assert_int_equal(rc, 0);
}

static uint64_t hello(ing_client *c)
{
	pb_msg m;
	assert_int_equal(ing_client_hello(c), 0);
	recv_msg(c, &m);
	assert_int_equal(m.type, PB_WELCOME);
	uint64_t next = m.u.welcome.next_seq;
	pb_msg_fini(&m);
	return next;
}

typedef struct reading {
	const char *code;
	int64_t ts;
	double v;
} reading;

static void send_batch(ing_client *c, uint64_t seq, const reading *r, size_t n)
{
	uint64_t series[64];
	int64_t ts[64];
	double val[64];
	pb_msg m = {.type = PB_BATCH};
	uint8_t *buf;
	size_t len;

	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		series[i] = er_key(r[i].code, strlen(r[i].code));
		ts[i] = r[i].ts;
		val[i] = r[i].v;
	}
	m.u.batch.sender = ing_client_sender(c);
	m.u.batch.seq = seq;
	m.u.batch.n = n;
	m.u.batch.series = series;
	m.u.batch.ts = ts;
	m.u.batch.value = val;
	assert_int_equal(pb_encode(&m, &buf, &len), 0);
	assert_int_equal(ing_client_send(c, buf, len), 0);
	free(buf);
}

/* Sends a batch and returns its ack (caller fini's). */
static void roundtrip(ing_client *c, uint64_t seq, const reading *r, size_t n, pb_msg *ack)
{
	send_batch(c, seq, r, n);
	recv_msg(c, ack);
	assert_int_equal(ack->type, PB_ACK);
}

static er_fx qsum(int level, const char *entity, int res, const char *carrier)
{
	er_fx s = 0;
	assert_int_equal(it_query_sum(D.control, level, entity, res, ER_TS_MIN, 4102444800LL, carrier, &s, NULL), 0);
	return s;
}

static void test_hello_new_sender(void **state)
{
	(void)state;
	ing_client *c = connect_as("it-hello");
	assert_int_equal(hello(c), 1);
	ing_client_free(c);
}

/* Cumulative readings of two meters of E0101 (D01) and one of E0102,
 * plus an interval coal meter of E0202 (D02): every tier equals the hand
 * sum to the micro-unit. */
static void test_exact_tier_sums(void **state)
{
	(void)state;
	ing_client *c = connect_as("it-sums");
	pb_msg a;
	const reading r[] = {
		{"M-E0101-EL01", T0, 1000.10},	      {"M-E0101-EL01", T0 + 900, 1010.35},
		{"M-E0101-EL01", T0 + 1800, 1020.45}, {"M-E0101-EL02", T0, 50.000001},
		{"M-E0101-EL02", T0 + 900, 51.000002}, {"M-E0102-EL01", T0, 7.5},
		{"M-E0102-EL01", T0 + 900, 8.25},     {"M-E0202-CL01", T0 + 900, 1.234},
		{"M-E0202-CL01", T0 + 1800, 0.766},
	};
	assert_int_equal(hello(c), 1);
	roundtrip(c, 1, r, sizeof r / sizeof r[0], &a);
	assert_int_equal(a.u.ack.status, PB_ST_OK);
	assert_int_equal(a.u.ack.seq, 1);
	assert_int_equal(a.u.ack.accepted, 9);
	assert_int_equal(a.u.ack.rejected, 0);
	pb_msg_fini(&a);

	/* EL01: 20.35 kWh; EL02: 1.000001; E0102: 0.75; coal: 2 t */
	assert_int_equal(qsum(STO_METER, "M-E0101-EL01", ER_RES_HOUR, ""), 20350000);
	assert_int_equal(qsum(STO_METER, "M-E0101-EL01", ER_RES_DAY, ""), 20350000);
	assert_int_equal(qsum(STO_METER, "M-E0101-EL02", ER_RES_YEAR, ""), 1000001);
	assert_int_equal(qsum(STO_ENTERPRISE, "E0101", ER_RES_HOUR, "electricity"), 21350001);
	assert_int_equal(qsum(STO_ENTERPRISE, "E0101", ER_RES_MONTH, "electricity"), 21350001);
	assert_int_equal(qsum(STO_DISTRICT, "D01", ER_RES_DAY, "electricity"), 22100001);
	assert_int_equal(qsum(STO_DISTRICT, "D02", ER_RES_DAY, "coal"), 2000000);
	assert_int_equal(qsum(STO_CITY, "", ER_RES_YEAR, "electricity"), 22100001);
	assert_int_equal(qsum(STO_CITY, "", ER_RES_DAY, ""), 24100001);
	ing_client_free(c);
}

static void test_gap_and_duplicate(void **state)
{
	(void)state;
	ing_client *c = connect_as("it-gbn");
	pb_msg a;
	const reading r[] = {{"M-E0103-EL01", T0, 100}, {"M-E0103-EL01", T0 + 900, 110}};
	const reading r2[] = {{"M-E0103-EL01", T0 + 1800, 125}};

	assert_int_equal(hello(c), 1);
	roundtrip(c, 3, r, 2, &a); /* expected 1 */
	assert_int_equal(a.u.ack.status, PB_ST_GAP);
	assert_int_equal(a.u.ack.expected, 1);
	pb_msg_fini(&a);
	roundtrip(c, 1, r, 2, &a);
	assert_int_equal(a.u.ack.status, PB_ST_OK);
	pb_msg_fini(&a);
	/* The same batch again: acknowledged, not applied. */
	roundtrip(c, 1, r, 2, &a);
	assert_int_equal(a.u.ack.status, PB_ST_DUPLICATE);
	assert_int_equal(a.u.ack.expected, 2);
	pb_msg_fini(&a);
	roundtrip(c, 2, r2, 1, &a);
	assert_int_equal(a.u.ack.status, PB_ST_OK);
	pb_msg_fini(&a);
	assert_int_equal(qsum(STO_METER, "M-E0103-EL01", ER_RES_DAY, ""), 25000000);
	/* A reconnecting sender resumes after its high-water mark. */
	ing_client_free(c);
	c = connect_as("it-gbn");
	assert_int_equal(hello(c), 3);
	ing_client_free(c);
}

static void test_rejections_counted(void **state)
{
	(void)state;
	ing_client *c = connect_as("it-rej");
	pb_msg a;
	int64_t now = er_now();
	const reading r[] = {
		{"NO-SUCH-METER", T0, 1},	      /* unknown series */
		{"M-E0104-EL01", T0, NAN},	      /* not finite */
		{"M-E0104-EL01", now + 86400, 1},    /* future */
		{"M-E0104-EL01", 100, 1},	      /* before 2000 */
		{"M-E0104-EL01", T0, -5},	      /* negative register */
		{"M-E0104-EL01", T0, 500},	      /* ok: baseline */
		{"M-E0104-EL01", T0 - 900, 400},      /* out of order */
		{"M-E0104-EL01", T0, 500},	      /* exact repeat: dropped */
		{"M-E0104-EL01", T0 + 900, 1e300},    /* out of range */
		{"M-E0104-EL01", T0 + 900, INFINITY}, /* not finite */
	};
	uint64_t before = it_counter(D.control, "rejected_not_finite");

	assert_int_equal(hello(c), 1);
	roundtrip(c, 1, r, sizeof r / sizeof r[0], &a);
	assert_int_equal(a.u.ack.status, PB_ST_OK);
	assert_int_equal(a.u.ack.accepted, 1);
	assert_int_equal(a.u.ack.duplicates, 1);
	assert_int_equal(a.u.ack.rejected, 8);
	int seen[PB_R_COUNT] = {0};
	for (size_t i = 0; i < a.u.ack.nreasons; i++)
		seen[a.u.ack.reasons[i].reason] = (int)a.u.ack.reasons[i].count;
	assert_int_equal(seen[PB_R_UNKNOWN_SERIES], 1);
	assert_int_equal(seen[PB_R_NOT_FINITE], 2);
	assert_int_equal(seen[PB_R_FUTURE_TS], 1);
	assert_int_equal(seen[PB_R_ANCIENT_TS], 1);
	assert_int_equal(seen[PB_R_NEGATIVE_REGISTER], 1);
	assert_int_equal(seen[PB_R_OUT_OF_ORDER], 1);
	assert_int_equal(seen[PB_R_OUT_OF_RANGE], 1);
	for (size_t i = 0; i < a.u.ack.nreasons; i++)
		if (a.u.ack.reasons[i].reason == PB_R_NOT_FINITE)
			assert_int_equal(a.u.ack.reasons[i].first_index, 1);
	pb_msg_fini(&a);
	assert_int_equal(it_counter(D.control, "rejected_not_finite"), before + 2);
	ing_client_free(c);
}

/* Sends raw bytes on a fresh connection and returns the ack's status. */
static int raw_status(const char *sender, const void *bytes, size_t len, char *msg, size_t cap)
{
	ing_client *c = connect_as(sender);
	pb_msg m;
	int st;
	assert_int_equal(ing_client_send(c, bytes, len), 0);
	recv_msg(c, &m);
	assert_int_equal(m.type, PB_ACK);
	st = m.u.ack.status;
	if (msg)
		snprintf(msg, cap, "%s", m.u.ack.message);
	pb_msg_fini(&m);
	ing_client_free(c);
	return st;
}

static void still_serving(void)
{
	ing_client *c = connect_as("it-alive");
	assert_true(hello(c) >= 1);
	ing_client_free(c);
}

static void test_garbage_malformed_oversized_version(void **state)
{
	(void)state;
	char msg[256];
	uint8_t junk[64];
	memset(junk, 0xff, sizeof junk);
	assert_int_equal(raw_status("it-junk", junk, sizeof junk, msg, sizeof msg), PB_ST_MALFORMED);
	still_serving();

	/* A batch whose columns disagree: 2 series, 1 ts, 2 values. */
	uint64_t s[2] = {1, 2};
	int64_t ts[1] = {T0};
	double v[2] = {1, 2};
	pb_msg m = {.type = PB_BATCH};
	uint8_t *buf;
	size_t len;
	m.u.batch.sender = "it-cols";
	m.u.batch.seq = 1;
	m.u.batch.n = 2;
	m.u.batch.series = s;
	m.u.batch.ts = ts;
	m.u.batch.value = v;
	m.u.batch.nts = 1;
	assert_int_not_equal(pb_encode(&m, &buf, &len), 0); /* the codec refuses to build it */
	/* Hand-made envelope: version 1, batch{sender "it-cols", seq 1,
	 * series [1,2] (packed fixed64), ts [0] (packed sint64), value [1,2]} */
	static const uint8_t bad[] = {
		0x08, 0x01, 0x22, 0x32, 0x0a, 0x07, 'i', 't', '-', 'c', 'o', 'l', 's', 0x10, 0x01, 0x1a, 0x10,
		1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x22, 0x01, 0x00, 0x2a, 0x10,
		0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40,
	};
	assert_int_equal(raw_status("it-cols", bad, sizeof bad, msg, sizeof msg), PB_ST_MALFORMED);
	assert_non_null(strstr(msg, "columns disagree"));
	still_serving();

	/* Over max_frame_bytes (64 KiB here): refused undecoded. */
	size_t big = 100 * 1024;
	uint8_t *huge = calloc(1, big);
	assert_int_equal(raw_status("it-big", huge, big, msg, sizeof msg), PB_ST_TOO_LARGE);
	assert_non_null(strstr(msg, "max_frame_bytes"));
	free(huge);
	still_serving();

	/* Version 2 hello. */
	static const uint8_t v2[] = {0x08, 0x02, 0x12, 0x05, 0x0a, 0x03, 'i', 't', 'v'};
	assert_int_equal(raw_status("itv", v2, sizeof v2, msg, sizeof msg), PB_ST_BAD_VERSION);
	still_serving();

	/* A hello naming another sender than the connection's routing id. */
	ing_client *c = connect_as("it-who");
	pb_msg h = {.type = PB_HELLO};
	h.u.hello.sender = "somebody-else";
	assert_int_equal(pb_encode(&h, &buf, &len), 0);
	assert_int_equal(ing_client_send(c, buf, len), 0);
	free(buf);
	recv_msg(c, &m);
	assert_int_equal(m.type, PB_ACK);
	assert_int_equal(m.u.ack.status, PB_ST_DENIED);
	pb_msg_fini(&m);
	ing_client_free(c);

	assert_true(it_counter(D.control, "malformed_frames") >= 2);
	assert_true(it_counter(D.control, "oversized_frames") >= 1);
	assert_true(it_counter(D.control, "bad_version_frames") >= 1);
	still_serving();
}

static void test_registry_import_runtime(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_REGISTRY_IMPORT}, rep, a;
	req.u.registry_import.meters_csv =
		"code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n"
		"M-NEW-1,E0105,water,m3,cumulative,,,fuel,900\n";
	req.u.registry_import.origin = ";;new-meters.csv;";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_int_equal(rep.type, PB_REGISTRY_REPLY);
	assert_true(rep.u.registry_reply.ok);
	assert_int_equal(rep.u.registry_reply.added, 1);
	pb_msg_fini(&rep);

	ing_client *c = connect_as("it-newmeter");
	const reading r[] = {{"M-NEW-1", T0, 10}, {"M-NEW-1", T0 + 900, 12.5}};
	assert_int_equal(hello(c), 1);
	roundtrip(c, 1, r, 2, &a);
	assert_int_equal(a.u.ack.accepted, 2);
	pb_msg_fini(&a);
	assert_int_equal(qsum(STO_METER, "M-NEW-1", ER_RES_DAY, ""), 2500000);
	ing_client_free(c);

	/* A bad row: refused with file:line, nothing added. */
	req.u.registry_import.meters_csv = "code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n"
					   "M-NEW-2,E0105,water,m3,cumulative,,,fuel,900\n"
					   "M-NEW-3,NOPE,water,m3,cumulative,,,fuel,900\n";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_false(rep.u.registry_reply.ok);
	assert_int_equal(rep.u.registry_reply.nerrors, 1);
	assert_string_equal(rep.u.registry_reply.errors[0], "new-meters.csv:3: unknown enterprise 'NOPE'");
	pb_msg_fini(&rep);
	er_fx s;
	assert_int_not_equal(it_query_sum(D.control, STO_METER, "M-NEW-2", ER_RES_DAY, 0, 1, "", &s, NULL), 0);
}

/* SIGTERM with a batch applied but not yet flushed: the daemon commits
 * and acknowledges it before exiting, and it is there after a restart. */
static void test_sigterm_acks_and_keeps(void **state)
{
	(void)state;
	it_daemon d;
	it_daemon_init(&d, it_tmpdir());
	d.extra[0] = "--flush-ms";
	d.extra[1] = "60000"; /* no periodic flush: only the shutdown one */
	d.extra[2] = "--set";
	d.extra[3] = "aggregate.group_commit=false"; /* and no flush asked by the batch */
	assert_int_equal(it_daemon_start(&d), 0);
	ing_client *c;
	assert_int_equal(ing_client_new(d.listen, "it-term", &c), 0);
	pb_msg m;
	assert_int_equal(ing_client_hello(c), 0);
	assert_int_equal(ing_client_recv(c, 10000, &m), 0);
	pb_msg_fini(&m);
	const reading r[] = {{"M-E0106-EL01", T0, 1}, {"M-E0106-EL01", T0 + 900, 4}};
	send_batch(c, 1, r, 2);
	/* No ack yet: nothing is durable before the flush. */
	assert_int_equal(ing_client_recv(c, 300, &m), ER_ETIMEDOUT);
	kill(d.pid, SIGTERM);
	assert_int_equal(ing_client_recv(c, 20000, &m), 0);
	assert_int_equal(m.type, PB_ACK);
	assert_int_equal(m.u.ack.status, PB_ST_OK);
	assert_int_equal(m.u.ack.accepted, 2);
	pb_msg_fini(&m);
	int st = it_daemon_kill(&d, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ing_client_free(c);

	d.extra[0] = NULL;
	assert_int_equal(it_daemon_start(&d), 0);
	er_fx s = 0;
	assert_int_equal(it_query_sum(d.control, STO_METER, "M-E0106-EL01", ER_RES_DAY, 0, 4102444800LL, "", &s, NULL),
			 0);
	assert_int_equal(s, 3000000);
	assert_int_equal(ing_client_new(d.listen, "it-term", &c), 0);
	assert_int_equal(ing_client_hello(c), 0);
	assert_int_equal(ing_client_recv(c, 10000, &m), 0);
	assert_int_equal(m.type, PB_WELCOME);
	assert_int_equal(m.u.welcome.next_seq, 2);
	pb_msg_fini(&m);
	ing_client_free(c);
	it_daemon_kill(&d, SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_new_sender),
		cmocka_unit_test(test_exact_tier_sums),
		cmocka_unit_test(test_gap_and_duplicate),
		cmocka_unit_test(test_rejections_counted),
		cmocka_unit_test(test_garbage_malformed_oversized_version),
		cmocka_unit_test(test_registry_import_runtime),
		cmocka_unit_test(test_sigterm_acks_and_keeps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
