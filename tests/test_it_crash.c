/* test_it_crash.c: nothing lost, nothing doubled, across crashes.
 *
 * The test writes its own readings file (40 cumulative electricity meters
 * of the sample city, 1,000 readings each, every value exact to 0.01) and
 * computes the expected totals itself, per meter, enterprise, district
 * and city, independently of the daemon's code. Then:
 *   - ecorolld is killed with SIGKILL while `ecoroll push` is mid-stream
 *     and restarted; push reconnects, resends what was not acknowledged,
 *     and finishes: every total equals the expected one exactly;
 *   - `ecoroll push` is killed with SIGKILL mid-stream and run again on
 *     the same file: the totals are exact again, and a third run sends
 *     nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "itutil.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NMETERS 40
#define NREAD 1000
#define T0 1790784000LL /* 2026-10-01T00:00:00+08:00 */

typedef struct meter {
	char code[64], ent[16], dist[16];
	int64_t first, last; /* register readings, in hundredths */
} meter;

static meter M[NMETERS];
static char file[600];

/* Picks the first NMETERS cumulative electricity meters of the sample
 * city, with their enterprise and district, from the registry files. */
static void load_meters(void)
{
	char line[512], ent_dist[64][2][16];
	int nent = 0, n = 0;
	FILE *f = fopen("conf/sample-city/enterprises.csv", "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) && nent < 64) {
		char *code = strtok(line, ",");
		if (!code || code[0] != 'E')
			continue;
		/* code,name,district,industry: a name may hold a quoted comma */
		char *rest = line + strlen(code) + 1, *d = strstr(rest, ",D");
		assert_non_null(d);
		snprintf(ent_dist[nent][0], 16, "%s", code);
		snprintf(ent_dist[nent][1], 16, "%.3s", d + 1);
		nent++;
	}
	fclose(f);
	f = fopen("conf/sample-city/meters.csv", "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) && n < NMETERS) {
		if (!strstr(line, ",electricity,kWh,cumulative,"))
			continue;
		char *code = strtok(line, ","), *ent = strtok(NULL, ",");
		snprintf(M[n].code, sizeof M[n].code, "%s", code);
		snprintf(M[n].ent, sizeof M[n].ent, "%s", ent);
		for (int e = 0; e < nent; e++)
			if (strcmp(ent_dist[e][0], ent) == 0)
				snprintf(M[n].dist, sizeof M[n].dist, "%s", ent_dist[e][1]);
		assert_true(M[n].dist[0] != 0);
		n++;
	}
	fclose(f);
	assert_int_equal(n, NMETERS);
}

/* Readings every 15 minutes, in time order across meters like a live
 * feed; increments of 1.25 to 8.77 kWh keep far below every spike guard. */
static void write_file(void)
{
	FILE *f;
	snprintf(file, sizeof file, "%s/readings.csv", it_tmpdir());
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "series,time,value\n");
	for (int m = 0; m < NMETERS; m++)
		M[m].first = M[m].last = 100000 + m * 1000; /* 1000.00 + 10 m kWh */
	for (int i = 0; i < NREAD; i++) {
		for (int m = 0; m < NMETERS; m++) {
			if (i > 0)
				M[m].last += (m % 7 + 1) * 125 + i % 3;
			fprintf(f, "%s,%lld,%lld.%02lld\n", M[m].code, (long long)(T0 + i * 900LL),
				(long long)(M[m].last / 100), (long long)(M[m].last % 100));
		}
	}
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("ECOROLL_SRC");
	if (src && src[0] && chdir(src) != 0)
		return -1;
	load_meters();
	write_file();
	return 0;
}

/* Every expected total, in micro-units, against the daemon's. */
static void check_totals(const char *control)
{
	er_fx city = 0, got;
	for (int m = 0; m < NMETERS; m++) {
		er_fx want = (M[m].last - M[m].first) * 10000;
		assert_int_equal(it_query_sum(control, STO_METER, M[m].code, ER_RES_DAY, 0, 4102444800LL, "", &got, NULL),
				 0);
		if (got != want)
			fail_msg("meter %s: %lld != %lld", M[m].code, (long long)got, (long long)want);
		city += want;
	}
	/* Enterprises and districts: the sum of their meters here. */
	for (int m = 0; m < NMETERS; m++) {
		er_fx want_e = 0, want_d = 0;
		for (int k = 0; k < NMETERS; k++) {
			if (strcmp(M[k].ent, M[m].ent) == 0)
				want_e += (M[k].last - M[k].first) * 10000;
			if (strcmp(M[k].dist, M[m].dist) == 0)
				want_d += (M[k].last - M[k].first) * 10000;
		}
		assert_int_equal(it_query_sum(control, STO_ENTERPRISE, M[m].ent, ER_RES_MONTH, 0, 4102444800LL,
					      "electricity", &got, NULL),
				 0);
		assert_int_equal(got, want_e);
		assert_int_equal(it_query_sum(control, STO_DISTRICT, M[m].dist, ER_RES_HOUR, 0, 4102444800LL,
					      "electricity", &got, NULL),
				 0);
		assert_int_equal(got, want_d);
	}
	assert_int_equal(it_query_sum(control, STO_CITY, "", ER_RES_YEAR, 0, 4102444800LL, "electricity", &got, NULL),
			 0);
	assert_int_equal(got, city);
	assert_int_equal(it_query_sum(control, STO_CITY, "", ER_RES_HOUR, 0, 4102444800LL, "electricity", &got, NULL),
			 0);
	assert_int_equal(got, city);
}

struct progress {
	const char *control;
	uint64_t at_least;
	pid_t push;
};

static bool accepted_enough(void *ctx)
{
	struct progress *p = ctx;
	uint64_t v = it_counter(p->control, "accepted");
	return v != UINT64_MAX && v >= p->at_least;
}

static pid_t start_push(const it_daemon *d, const char *statefile)
{
	const char *args[] = {"push",	 "--endpoint",	 d->listen, "--state",	  statefile, "--batch", "100",
			      "--window", "2",		 "--timeout-ms", "1000", "--quiet", file,     NULL};
	return it_ecoroll_bg(args, NULL);
}

static bool still_running(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

static void test_daemon_killed_mid_stream(void **state)
{
	(void)state;
	it_daemon d;
	char statefile[700];
	it_daemon_init(&d, it_tmpdir());
	snprintf(statefile, sizeof statefile, "%s/push-daemon-crash.state", it_tmpdir());
	assert_int_equal(it_daemon_start(&d), 0);

	pid_t push = start_push(&d, statefile);
	struct progress p = {d.control, NMETERS * NREAD / 5, push};
	assert_true(it_until(accepted_enough, &p, 60000));
	assert_true(still_running(push)); /* the crash is mid-stream */
	int st = it_daemon_kill(&d, SIGKILL);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	assert_int_equal(it_daemon_start(&d), 0);
	assert_int_equal(it_wait(push), 0);
	check_totals(d.control);
	it_daemon_kill(&d, SIGTERM);
}

static void test_push_killed_and_rerun(void **state)
{
	(void)state;
	it_daemon d;
	char statefile[700], out[4096];
	it_daemon_init(&d, it_tmpdir());
	snprintf(statefile, sizeof statefile, "%s/push-crash.state", it_tmpdir());
	assert_int_equal(it_daemon_start(&d), 0);

	pid_t push = start_push(&d, statefile);
	struct progress p = {d.control, NMETERS * NREAD / 4, push};
	assert_true(it_until(accepted_enough, &p, 60000));
	assert_true(still_running(push));
	kill(push, SIGKILL);
	assert_int_equal(it_wait(push), 128 + SIGKILL);

	/* The same command again finishes the job without double counting. */
	push = start_push(&d, statefile);
	assert_int_equal(it_wait(push), 0);
	check_totals(d.control);

	/* And a third run sends nothing. */
	const char *args[] = {"push", "--endpoint", d.listen, "--state", statefile, file, NULL};
	assert_int_equal(it_ecoroll(out, sizeof out, args), 0);
	assert_non_null(strstr(out, "already pushed"));
	check_totals(d.control);
	it_daemon_kill(&d, SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_killed_mid_stream),
		cmocka_unit_test(test_push_killed_and_rerun),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
