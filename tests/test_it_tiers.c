/* test_it_tiers.c: three tiers with real daemons on loopback (README
 * "Three tiers").
 *
 * The sample city is split among three district nodes (D01 | D02 |
 * D03,D04) that report to one city node; a standalone node takes the same
 * readings whole and is the reference. The tests run in order on that one
 * cluster:
 *   1. two days of readings: every row of the city, every district, every
 *      enterprise and every station, at every resolution, is the same at the
 *      city as at the standalone node (count, sum, min, max, coverage,
 *      members, complete), and the city's total is the districts' sum;
 *   2. the city is stopped; the districts take two more days, their outboxes
 *      fill (and one raises its outbox event); the city returns and
 *      converges exactly; the event is then closed;
 *   3. the city is stopped again, a district takes two more days with a
 *      small window, the city returns, and the district is killed with
 *      SIGKILL while its uplink is mid-way; restarted, it resumes, the city
 *      is killed with SIGKILL mid-way too and restarted, and the city is
 *      exact again;
 *   4. a reset and a spike at a district node reach the city's list of that
 *      node's events, and the spike's acceptance at the district changes its
 *      status there too; the accepted increment reaches the city's rows;
 *   5. a fourth district node announcing D01, which dn1 owns, is refused:
 *      its uplink says so and stops, and nothing of it reaches the city;
 *   6. a reading for a district node's meter sent straight to the city is
 *      rejected (it would count twice);
 *   7. the same RollupBatch delivered twice is applied once (a sender
 *      speaking the protocol itself), a gap is answered GAP, and a row for a
 *      district another node owns is refused.
 */
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
#include <sys/wait.h>

#define NDN 3
#define FROM 1767196800LL /* 2026-01-01T00:00+08:00: every row is in 2026 */
#define TO 1798732800LL	  /* 2027-01-01T00:00+08:00 */

static it_daemon city, sa, dn[NDN];
static char dir[600], names[NDN][16], regargs[NDN][4][700];
static char ents[64][16];
static int nents;
static const char *districts[] = {"D01", "D02", "D03", "D04"};
static const char *stations[] = {"S01", "S02", "S03", "S04", "S05", "S06"};

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "failed (%d): %s\n", rc, cmd);
	assert_int_equal(rc, 0);
}

/* Six days of readings, generated once (registers continue from day to
 * day), cut into three parts of two days: DIR/r<tag>.csv for the whole
 * city, split per district node in DIR/s<tag>/k/readings.csv. */
static void readings(const char *tag, const char *from, const char *to)
{
	char cmd[2048], line[256], path[700];
	snprintf(path, sizeof path, "%s/all.csv", dir);
	FILE *all = fopen(path, "r");
	if (all == NULL) {
		snprintf(cmd, sizeof cmd,
			 "cd \"$ECOROLL_SRC\" && \"$ECOROLL_BIN/ecoroll\" generate --registry conf/sample-city "
			 "--from 2026-11-01 --days 6 --seed 7 > %s",
			 path);
		run(cmd);
		assert_non_null(all = fopen(path, "r"));
	}
	snprintf(path, sizeof path, "%s/r%s.csv", dir, tag);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	/* series,2026-11-01T00:00:00+08:00,value: the times share one form */
	while (fgets(line, sizeof line, all)) {
		const char *t = strchr(line, ',');
		if (line[0] == '#' || t == NULL || strncmp(line, "series,", 7) == 0 ||
		    (strncmp(t + 1, from, strlen(from)) >= 0 && strncmp(t + 1, to, strlen(to)) < 0))
			fputs(line, out);
	}
	fclose(all);
	fclose(out);
	snprintf(cmd, sizeof cmd,
		 "cd \"$ECOROLL_SRC\" && python3 scripts/split_city.py conf/sample-city %s/s%s D01 D02 D03,D04 "
		 "--readings %s",
		 dir, tag, path);
	run(cmd);
}

static void push(const it_daemon *d, const char *file, const char *state)
{
	char out[4096];
	const char *args[] = {"push", "--quiet", "--endpoint", d->listen, "--state", state, file, NULL};
	int rc = it_ecoroll(out, sizeof out, args);
	if (rc != 0)
		fprintf(stderr, "push %s: %d\n%s\n", file, rc, out);
	assert_int_equal(rc, 0);
}

/* Pushes batch tag to the standalone node (whole) and to every district
 * node whose bit is in mask (its part). */
static void push_all(const char *tag, unsigned mask)
{
	char f[700], st[700];
	snprintf(f, sizeof f, "%s/r%s.csv", dir, tag);
	snprintf(st, sizeof st, "%s/sa-%s.state", dir, tag);
	push(&sa, f, st);
	for (int k = 0; k < NDN; k++) {
		if (!(mask & 1u << k))
			continue;
		snprintf(f, sizeof f, "%s/s%s/%d/readings.csv", dir, tag, k + 1);
		snprintf(st, sizeof st, "%s/dn%d-%s.state", dir, k + 1, tag);
		push(&dn[k], f, st);
	}
}

static void start_district(int k, const char *const *more)
{
	it_daemon *d = &dn[k];
	int a = 0;
	static const char *file[4] = {"districts", "enterprises", "meters", "stations"};

	d->extra[a++] = "--role";
	d->extra[a++] = "district";
	d->extra[a++] = "--name";
	d->extra[a++] = names[k];
	d->extra[a++] = "--upstream";
	d->extra[a++] = city.listen;
	for (int f = 0; f < 4; f++) {
		snprintf(regargs[k][f], sizeof regargs[k][f], "registry.%s=%s/sreg/%d/%s.csv", file[f], dir, k + 1,
			 file[f]);
		d->extra[a++] = "--set";
		d->extra[a++] = regargs[k][f];
	}
	for (int i = 0; more && more[i]; i++)
		d->extra[a++] = more[i];
	d->extra[a] = NULL;
	assert_int_equal(it_daemon_start(d), 0);
}

static bool drained(void *ctx)
{
	(void)ctx;
	for (int k = 0; k < NDN; k++) {
		uint64_t next = it_counter(dn[k].control, "outbox_next_seq");
		if (next == UINT64_MAX || it_counter(dn[k].control, "outbox_entries") != 0 ||
		    it_counter(dn[k].control, "uplink_acked_seq") != next - 1)
			return false;
	}
	return true;
}

static void wait_drained(void)
{
	assert_true(it_until(drained, NULL, 60000));
}

/* Every row of one entity at one resolution is the same on both nodes. */
static size_t same_rows(int level, const char *entity, int res)
{
	pb_msg q = {.type = PB_QUERY}, ra, rb;
	size_t n;

	q.u.query.level = level;
	q.u.query.entity = entity;
	q.u.query.resolution = res;
	q.u.query.from = FROM;
	q.u.query.to = TO;
	q.u.query.carrier = "";
	assert_int_equal(ing_request(sa.control, &q, 10000, &ra), 0);
	assert_int_equal(ing_request(city.control, &q, 10000, &rb), 0);
	assert_int_equal(ra.type, PB_QUERY_REPLY);
	assert_int_equal(rb.type, PB_QUERY_REPLY);
	const pb_query_reply *a = &ra.u.query_reply, *b = &rb.u.query_reply;
	if (!a->ok || !b->ok || a->nrows != b->nrows)
		fprintf(stderr, "%s %s res %d: standalone %zu rows (%s), city %zu rows (%s)\n", sto_level_name(level),
			entity, res, a->nrows, a->error, b->nrows, b->error);
	assert_true(a->ok && b->ok);
	assert_int_equal(a->nrows, b->nrows);
	for (size_t i = 0; i < a->nrows; i++) {
		const pb_row *x = &a->rows[i], *y = &b->rows[i];
		bool same = x->start == y->start && strcmp(x->carrier, y->carrier) == 0 &&
			    strcmp(x->purpose, y->purpose) == 0 && x->count == y->count && x->sum == y->sum &&
			    x->min == y->min && x->max == y->max && x->coverage_s == y->coverage_s &&
			    x->flags == y->flags && x->members == y->members && x->complete == y->complete;
		if (!same)
			fprintf(stderr,
				"%s %s res %d row %zu (%s %s at %lld): standalone count %lld sum %lld members %u "
				"complete %u coverage %llu; city count %lld sum %lld members %u complete %u coverage "
				"%llu\n",
				sto_level_name(level), entity, res, i, x->carrier, x->purpose, (long long)x->start,
				(long long)x->count, (long long)x->sum, x->members, x->complete,
				(unsigned long long)x->coverage_s, (long long)y->count, (long long)y->sum, y->members,
				y->complete, (unsigned long long)y->coverage_s);
		assert_true(same);
	}
	n = a->nrows;
	pb_msg_fini(&ra);
	pb_msg_fini(&rb);
	return n;
}

/* The city agrees with the standalone node everywhere; returns the rows
 * compared (so a test can see they were not zero). */
static size_t city_agrees(void)
{
	size_t rows = 0;
	for (int res = ER_RES_HOUR; res <= ER_RES_YEAR; res++) {
		rows += same_rows(STO_CITY, "", res);
		for (size_t i = 0; i < sizeof districts / sizeof *districts; i++)
			rows += same_rows(STO_DISTRICT, districts[i], res);
		for (int i = 0; i < nents; i++)
			rows += same_rows(STO_ENTERPRISE, ents[i], res);
		for (size_t i = 0; i < sizeof stations / sizeof *stations; i++)
			rows += same_rows(STO_STATION, stations[i], res);
	}
	return rows;
}

static er_fx total_at(const char *control, int level, const char *entity, const char *carrier, int res)
{
	er_fx s;
	size_t n;
	assert_int_equal(it_query_sum(control, level, entity, res, FROM, TO, carrier, &s, &n), 0);
	return s;
}

static er_fx total(const char *control, int level, const char *entity, const char *carrier)
{
	return total_at(control, level, entity, carrier, ER_RES_YEAR);
}

static int setup(void **state)
{
	char line[512];
	(void)state;
	snprintf(dir, sizeof dir, "%s", it_tmpdir());
	setenv("ECOROLL_SRC", getenv("ECOROLL_SRC") ? getenv("ECOROLL_SRC") : ".", 0);
	FILE *f = fopen("conf/sample-city/enterprises.csv", "r");
	if (f == NULL) {
		char p[700];
		snprintf(p, sizeof p, "%s/conf/sample-city/enterprises.csv", getenv("ECOROLL_SRC"));
		f = fopen(p, "r");
	}
	assert_non_null(f);
	while (fgets(line, sizeof line, f) && nents < 64)
		if (line[0] == 'E' && line[1] != 'n' && strchr(line, ','))
			snprintf(ents[nents++], sizeof ents[0], "%.*s", (int)(strchr(line, ',') - line), line);
	fclose(f);
	assert_int_equal(nents, 40);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "cd \"$ECOROLL_SRC\" && python3 scripts/split_city.py conf/sample-city %s/sreg D01 D02 D03,D04", dir);
	run(cmd);

	it_daemon_init(&sa, dir);
	assert_int_equal(it_daemon_start(&sa), 0);
	it_daemon_init(&city, dir);
	city.extra[0] = "--role";
	city.extra[1] = "city";
	city.extra[2] = "--set";
	city.extra[3] = "registry.districts=";
	city.extra[4] = "--set";
	city.extra[5] = "registry.enterprises=";
	city.extra[6] = "--set";
	city.extra[7] = "registry.meters=";
	city.extra[8] = "--set";
	city.extra[9] = "registry.stations=";
	assert_int_equal(it_daemon_start(&city), 0);
	for (int k = 0; k < NDN; k++) {
		it_daemon_init(&dn[k], dir);
		snprintf(names[k], sizeof names[k], "dn%d", k + 1);
	}
	/* dn1 raises its outbox event early: 16 kB is a few flushes' rows */
	static const char *const small[] = {"--set", "uplink.outbox_limit_kb=16", NULL};
	start_district(0, small);
	for (int k = 1; k < NDN; k++)
		start_district(k, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int k = 0; k < NDN; k++)
		it_daemon_kill(&dn[k], SIGTERM);
	it_daemon_kill(&city, SIGTERM);
	it_daemon_kill(&sa, SIGTERM);
	return 0;
}

static void test_three_districts_agree(void **state)
{
	(void)state;
	readings("a", "2026-11-01", "2026-11-03");
	push_all("a", 7);
	wait_drained();
	size_t rows = city_agrees();
	assert_true(rows > 5000);
	/* the city's total is its districts' sum, as each district node has it */
	er_fx sum = 0;
	for (size_t i = 0; i < 4; i++)
		sum += total(dn[i < 3 ? i : 2].control, STO_DISTRICT, districts[i], "electricity");
	assert_true(sum > 0);
	assert_int_equal(total(city.control, STO_CITY, "", "electricity"), sum);
	/* three district nodes, each announced once */
	assert_int_equal(it_counter(city.control, "announcements"), 3);
	assert_int_equal(it_counter(city.control, "rollup_batches_refused"), 0);

	/* the same as metrics, over HTTP */
	static char body[65536];
	assert_int_equal(it_http_get(city.http, "/metrics", body, sizeof body), 200);
	assert_non_null(strstr(body, "ecoroll_info{role=\"city\"} 1\n"));
	assert_non_null(strstr(body, "ecoroll_announcements 3\n"));
	assert_non_null(strstr(body, "ecoroll_district_owner{node=\"dn3\",district=\"D03\"} 1\n"));
	assert_non_null(strstr(body, "ecoroll_sender_high_water{sender=\"dn1\"}"));
	assert_int_equal(it_http_get(dn[0].http, "/metrics", body, sizeof body), 200);
	assert_non_null(strstr(body, "ecoroll_outbox_entries 0\n"));
	assert_non_null(strstr(body, "# TYPE ecoroll_uplink_lag_s gauge\necoroll_uplink_lag_s 0\n"));
	assert_non_null(strstr(body, "uplink=\"idle\""));
	assert_int_equal(it_http_get(dn[0].http, "/nothing", body, sizeof body), 404);
}

static bool has_outbox_event(const char *control, const char *status)
{
	pb_msg q = {.type = PB_EVENTS_REQUEST}, r;
	bool found = false;
	q.u.events_request.type = "outbox";
	q.u.events_request.meter = "";
	q.u.events_request.entity = "";
	if (ing_request(control, &q, 5000, &r) != 0)
		return false;
	if (r.type == PB_EVENTS_REPLY && r.u.events_reply.nevents > 0) {
		const pb_event *last = &r.u.events_reply.events[r.u.events_reply.nevents - 1];
		found = strcmp(last->status, status) == 0 && strcmp(last->meter, "dn1") == 0;
	}
	pb_msg_fini(&r);
	return found;
}

static bool dn1_event_closed(void *ctx)
{
	(void)ctx;
	return has_outbox_event(dn[0].control, "applied");
}

static void test_city_away(void **state)
{
	(void)state;
	assert_int_not_equal(it_daemon_kill(&city, SIGTERM), -1);
	readings("b", "2026-11-03", "2026-11-05");
	push_all("b", 7);
	/* the districts took everything; their outboxes hold it */
	for (int k = 0; k < NDN; k++)
		assert_true(it_counter(dn[k].control, "outbox_entries") > 0);
	assert_true(it_counter(dn[0].control, "outbox_bytes") > 16 * 1024);
	assert_true(has_outbox_event(dn[0].control, "open"));
	static char body[65536];
	assert_int_equal(it_http_get(dn[0].http, "/metrics", body, sizeof body), 200);
	assert_null(strstr(body, "ecoroll_outbox_entries 0\n"));
	assert_non_null(strstr(body, "ecoroll_outbox_entries "));
	assert_int_equal(it_daemon_start(&city), 0);
	wait_drained();
	city_agrees();
	assert_true(it_until(dn1_event_closed, NULL, 20000));
}

static bool mid_uplink(void *ctx)
{
	uint64_t acked = it_counter(dn[2].control, "uplink_acked_seq");
	uint64_t *from = ctx;
	return acked != UINT64_MAX && acked > from[0] + 3;
}

static void test_district_killed_mid_uplink(void **state)
{
	(void)state;
	static const char *const slow[] = {"--set", "uplink.window=1", "--set", "uplink.batch_rows=20", NULL};
	/* dn3 (D03 and D04) with small entries and a window of one, so its
	 * uplink takes a while to drain */
	it_daemon_kill(&dn[2], SIGTERM);
	start_district(2, slow);
	it_daemon_kill(&city, SIGTERM);
	readings("c", "2026-11-05", "2026-11-07");
	push_all("c", 7);
	uint64_t entries = it_counter(dn[2].control, "outbox_entries");
	assert_true(entries > 100);
	uint64_t from[1] = {it_counter(dn[2].control, "uplink_acked_seq")};
	assert_int_equal(it_daemon_start(&city), 0);
	assert_true(it_until(mid_uplink, from, 30000));
	int st = it_daemon_kill(&dn[2], SIGKILL);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	uint64_t acked = it_counter(city.control, "rollup_batches");
	assert_true(acked > 0);
	start_district(2, slow);
	/* and the city, mid-way too */
	from[0] = it_counter(dn[2].control, "uplink_acked_seq");
	assert_true(it_until(mid_uplink, from, 30000));
	st = it_daemon_kill(&city, SIGKILL);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(it_daemon_start(&city), 0);
	wait_drained();
	city_agrees();
}

/* A district node of the test's own: the protocol by hand. */
static int exchange(ing_client *c, const pb_msg *m, pb_msg *reply)
{
	uint8_t *buf;
	size_t len;
	int rc = pb_encode(m, &buf, &len);
	if (rc != 0)
		return rc;
	rc = ing_client_send(c, buf, len);
	free(buf);
	return rc ? rc : ing_client_recv(c, 10000, reply);
}

static void test_duplicate_applied_once(void **state)
{
	ing_client *c;
	pb_msg m = {.type = PB_ROLLUP_BATCH}, r;
	pb_rollup_batch *b = &m.u.rollup_batch;
	(void)state;

	assert_int_equal(ing_client_new(city.listen, "dn-hand", &c), 0);
	assert_int_equal(ing_client_hello(c), 0);
	assert_int_equal(ing_client_recv(c, 10000, &r), 0);
	assert_int_equal(r.type, PB_WELCOME);
	assert_int_equal(r.u.welcome.next_seq, 1);
	pb_msg_fini(&r);

	b->sender = "dn-hand";
	b->seq = 1;
	b->has_registry = true;
	/* refused whole, and seq 1 stays next: an enterprise of dn1's D01, a
	 * meter of dn1's E0101 */
	static const struct {
		const char *ents, *meters, *why;
	} refused[] = {
		{"code,name,district,industry\nE9001,Hand works,D90,C26\nE9002,Stray,D01,C26\n", "",
		 "E9002 is in district D01, which this district node does not announce"},
		{"code,name,district,industry\nE9001,Hand works,D90,C26\n",
		 "code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n"
		 "M-E0101-X,E0101,coal,t,interval,,10,fuel,3600\n",
		 "meter M-E0101-X is of enterprise E0101"},
	};
	for (size_t i = 0; i < 2; i++) {
		b->registry = (pb_registry_import){.districts_csv = "code,name\nD90,Hand district\n",
						   .enterprises_csv = refused[i].ents, .meters_csv = refused[i].meters,
						   .stations_csv = "", .origin = "dn-hand"};
		assert_int_equal(exchange(c, &m, &r), 0);
		assert_int_equal(r.u.ack.status, PB_ST_DENIED);
		if (strstr(r.u.ack.message, refused[i].why) == NULL)
			fprintf(stderr, "refusal: %s\n", r.u.ack.message);
		assert_non_null(strstr(r.u.ack.message, refused[i].why));
		pb_msg_fini(&r);
	}
	b->registry = (pb_registry_import){
		.districts_csv = "code,name\nD90,Hand district\n",
		.enterprises_csv = "code,name,district,industry\nE9001,Hand works,D90,C26\n",
		.meters_csv = "code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n"
			      "M-E9001-C1,E9001,coal,t,interval,,10,fuel,3600\n",
		.stations_csv = "",
		.origin = "dn-hand"};
	assert_int_equal(exchange(c, &m, &r), 0);
	assert_int_equal(r.type, PB_ACK);
	if (r.u.ack.status != PB_ST_OK)
		fprintf(stderr, "announcement: %s\n", r.u.ack.message);
	assert_int_equal(r.u.ack.status, PB_ST_OK);
	pb_msg_fini(&r);

	/* the hour of 2026-11-01T08:00+08:00: 1.5 t of coal, E9001 (a hand-made
	 * district node sends only the hour row: the city adds up what it gets) */
	pb_rollup_row row = {.level = STO_ENTERPRISE, .res = ER_RES_HOUR, .metric = sto_metric(6, 0),
			     .entity = er_key("E9001", 5), .start = 1793491200, .count = 1, .sum = 1500000,
			     .min = INT64_MAX, .max = INT64_MIN, .coverage_s = 3600, .members = 1, .complete = 1};
	b->has_registry = false;
	b->seq = 2;
	b->rows = &row;
	b->nrows = 1;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(exchange(c, &m, &r), 0);
		assert_int_equal(r.type, PB_ACK);
		assert_int_equal(r.u.ack.seq, 2);
		/* the first is applied; the second, the same batch again, is not */
		assert_int_equal(r.u.ack.status, i == 0 ? PB_ST_OK : PB_ST_DUPLICATE);
		pb_msg_fini(&r);
	}
	assert_int_equal(total_at(city.control, STO_ENTERPRISE, "E9001", "coal", ER_RES_HOUR), 1500000);
	assert_int_equal(total_at(city.control, STO_DISTRICT, "D90", "coal", ER_RES_HOUR), 1500000);

	/* a gap: seq 4 before 3 */
	b->seq = 4;
	assert_int_equal(exchange(c, &m, &r), 0);
	assert_int_equal(r.u.ack.status, PB_ST_GAP);
	assert_int_equal(r.u.ack.expected, 3);
	pb_msg_fini(&r);

	/* a row of E0101 (D01, dn1's) is refused whole, and seq 3 stays next */
	pb_rollup_row rows[2] = {row, row};
	rows[1].entity = er_key("E0101", 5);
	er_fx before = total_at(city.control, STO_ENTERPRISE, "E9001", "coal", ER_RES_HOUR);
	b->seq = 3;
	b->rows = rows;
	b->nrows = 2;
	assert_int_equal(exchange(c, &m, &r), 0);
	assert_int_equal(r.u.ack.status, PB_ST_DENIED);
	assert_non_null(strstr(r.u.ack.message, "does not own"));
	pb_msg_fini(&r);
	assert_int_equal(total_at(city.control, STO_ENTERPRISE, "E9001", "coal", ER_RES_HOUR), before);
	b->nrows = 1;
	assert_int_equal(exchange(c, &m, &r), 0);
	assert_int_equal(r.u.ack.status, PB_ST_OK);
	pb_msg_fini(&r);
	assert_int_equal(total_at(city.control, STO_ENTERPRISE, "E9001", "coal", ER_RES_HOUR), 3000000);

	/* columns of different lengths: MALFORMED, and the node serves on */
	static const uint8_t bad[] = {
		0x08, 0x01, 0xf2, 0x01, 0x19,		     /* version 1, rollup_batch of 25 bytes */
		0x0a, 0x07, 'd', 'n', '-', 'h', 'a', 'n', 'd', /* sender */
		0x10, 0x04,				     /* seq 4 */
		0x22, 0x02, 0x02, 0x02,			     /* level: 2, 2 */
		0x2a, 0x08, 1, 0, 0, 0, 0, 0, 0, 0,	     /* entity: one */
	};
	assert_int_equal(ing_client_send(c, bad, sizeof bad), 0);
	assert_int_equal(ing_client_recv(c, 10000, &r), 0);
	assert_int_equal(r.type, PB_ACK);
	assert_int_equal(r.u.ack.status, PB_ST_MALFORMED);
	pb_msg_fini(&r);
	ing_client_free(c);

	/* a standalone node takes no rollups */
	assert_int_equal(ing_client_new(sa.listen, "dn-hand", &c), 0);
	b->seq = 1;
	assert_int_equal(exchange(c, &m, &r), 0);
	assert_int_equal(r.u.ack.status, PB_ST_DENIED);
	assert_non_null(strstr(r.u.ack.message, "--role city"));
	pb_msg_fini(&r);
	ing_client_free(c);
}

static bool dn4_refused(void *ctx)
{
	pb_msg q = {.type = PB_STATUS_REQUEST}, r;
	bool refused = false;
	if (ing_request(ctx, &q, 5000, &r) != 0)
		return false;
	for (size_t i = 0; r.type == PB_STATUS_REPLY && i < r.u.status_reply.nnotes; i++)
		if (strcmp(r.u.status_reply.notes[i].name, "uplink_message") == 0 &&
		    strstr(r.u.status_reply.notes[i].value, "district D01 belongs to district node dn1") != NULL)
			refused = true;
	pb_msg_fini(&r);
	return refused;
}

static void test_conflicting_announcement_refused(void **state)
{
	it_daemon d4;
	char reg[4][700];
	static const char *file[4] = {"districts", "enterprises", "meters", "stations"};
	(void)state;

	er_fx before = total(city.control, STO_CITY, "", "electricity");
	uint64_t refused = it_counter(city.control, "rollup_batches_refused");
	it_daemon_init(&d4, dir);
	int a = 0;
	d4.extra[a++] = "--role";
	d4.extra[a++] = "district";
	d4.extra[a++] = "--name";
	d4.extra[a++] = "dn4";
	d4.extra[a++] = "--upstream";
	d4.extra[a++] = city.listen;
	for (int f = 0; f < 4; f++) {
		/* the registry of dn1: D01 again */
		snprintf(reg[f], sizeof reg[f], "registry.%s=%s/sreg/1/%s.csv", file[f], dir, file[f]);
		d4.extra[a++] = "--set";
		d4.extra[a++] = reg[f];
	}
	d4.extra[a] = NULL;
	assert_int_equal(it_daemon_start(&d4), 0);
	assert_true(it_until(dn4_refused, d4.control, 20000));
	assert_true(it_counter(city.control, "rollup_batches_refused") > refused);
	assert_int_equal(it_counter(d4.control, "uplink_acked_seq"), 0);
	assert_int_equal(total(city.control, STO_CITY, "", "electricity"), before);
	it_daemon_kill(&d4, SIGTERM);
}

static void test_remote_series_rejected(void **state)
{
	char csv[700], st[700], out[4096];
	(void)state;
	snprintf(csv, sizeof csv, "%s/direct.csv", dir);
	snprintf(st, sizeof st, "%s/direct.state", dir);
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	fputs("series,time,value\nM-E0101-EL01,2026-11-06T10:00:00+08:00,1\n", f);
	fclose(f);
	er_fx before = total(city.control, STO_CITY, "", "electricity");
	const char *args[] = {"push", "--quiet", "--endpoint", city.listen, "--state", st, csv, NULL};
	/* 3: acknowledged, with a reading rejected */
	assert_int_equal(it_ecoroll(out, sizeof out, args), 3);
	assert_int_equal(it_counter(city.control, "rejected_remote_series"), 1);
	assert_int_equal(total(city.control, STO_CITY, "", "electricity"), before);
}

struct ev_want {
	const char *control, *node, *type, *status;
	char meter[64];
	uint64_t id; /* out: the event's id */
};

static bool has_event(void *ctx)
{
	struct ev_want *w = ctx;
	pb_msg q = {.type = PB_EVENTS_REQUEST}, r;
	bool found = false;
	q.u.events_request = (pb_events_request){.meter = "", .type = w->type, .entity = "", .node = w->node};
	if (ing_request(w->control, &q, 5000, &r) != 0)
		return false;
	for (size_t i = 0; r.type == PB_EVENTS_REPLY && i < r.u.events_reply.nevents; i++) {
		const pb_event *e = &r.u.events_reply.events[i];
		if (strcmp(e->status, w->status) == 0 && strcmp(e->meter, w->meter) == 0 &&
		    (w->node[0] == 0 || strcmp(e->node, w->node) == 0)) {
			found = true;
			w->id = e->id;
		}
	}
	pb_msg_fini(&r);
	return found;
}

static void accept_spike(const char *control, uint64_t id)
{
	pb_msg q = {.type = PB_EVENT_ACCEPT}, r;
	q.u.event_accept = id;
	assert_int_equal(ing_request(control, &q, 20000, &r), 0);
	assert_int_equal(r.type, PB_COMMAND_REPLY);
	assert_true(r.u.command_reply.ok);
	pb_msg_fini(&r);
}

static void test_events_forwarded(void **state)
{
	char csv[700], st[700];
	(void)state;
	snprintf(csv, sizeof csv, "%s/events.csv", dir);
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	/* after the six days: a register that falls (a reset), then a jump
	 * far above max_per_hour (a spike, quarantined) */
	fputs("series,time,value\nM-E0101-EL01,2026-11-07T01:00:00+08:00,5\n"
	      "M-E0101-EL01,2026-11-07T02:00:00+08:00,99999999\n",
	      f);
	fclose(f);
	snprintf(st, sizeof st, "%s/ev-dn1.state", dir);
	push(&dn[0], csv, st);
	snprintf(st, sizeof st, "%s/ev-sa.state", dir);
	push(&sa, csv, st);

	struct ev_want reset = {city.control, "dn1", "reset", "open", "M-E0101-EL01", 0};
	struct ev_want spike = {city.control, "dn1", "spike", "open", "M-E0101-EL01", 0};
	assert_true(it_until(has_event, &reset, 20000));
	assert_true(it_until(has_event, &spike, 20000));
	/* the same events on the district node, under the same ids */
	struct ev_want local = {dn[0].control, "", "spike", "open", "M-E0101-EL01", 0};
	assert_true(has_event(&local));
	assert_int_equal(local.id, spike.id);
	/* the other nodes forwarded none of theirs about this meter */
	struct ev_want other = {city.control, "dn2", "spike", "open", "M-E0101-EL01", 0};
	assert_false(has_event(&other));

	accept_spike(dn[0].control, local.id);
	struct ev_want sa_spike = {sa.control, "", "spike", "open", "M-E0101-EL01", 0};
	assert_true(has_event(&sa_spike));
	accept_spike(sa.control, sa_spike.id);
	struct ev_want accepted = {city.control, "dn1", "spike", "accepted", "M-E0101-EL01", 0};
	assert_true(it_until(has_event, &accepted, 20000));
	assert_int_equal(accepted.id, spike.id);
	wait_drained();
	city_agrees();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_districts_agree),
		cmocka_unit_test(test_city_away),
		cmocka_unit_test(test_district_killed_mid_uplink),
		cmocka_unit_test(test_events_forwarded),
		cmocka_unit_test(test_conflicting_announcement_refused),
		cmocka_unit_test(test_remote_series_rejected),
		/* last: its hand-made district D90 is at the city only */
		cmocka_unit_test(test_duplicate_applied_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
