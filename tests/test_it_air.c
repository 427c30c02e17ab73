/* test_it_air.c: 18 months of hourly readings for the sample city's six
 * stations (gaps included: a station down for five days, six-hour holes,
 * 3% of hours lost) through a real daemon, and every daily value, daily
 * AQI (both rule sets: the data cross 2026-03-01), annual mean, validity,
 * percentile and good-day share of every station, a district and the city
 * compared with an independent computation: tests/air_check.py, written
 * from DOMAIN.md with exact rational arithmetic, not from the C code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "itutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static it_daemon D;
static char file[700];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("ECOROLL_SRC");
	if (src && src[0] && chdir(src) != 0)
		return -1;
	snprintf(file, sizeof file, "%s/air.csv", it_tmpdir());
	if (sh("python3 tests/air_check.py generate '%s'", file) != 0)
		return -1;
	it_daemon_init(&D, it_tmpdir());
	return it_daemon_start(&D);
}

static int teardown(void **state)
{
	(void)state;
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

static void test_air_statistics_match_independent_computation(void **state)
{
	(void)state;
	char st[800], out[800];
	snprintf(st, sizeof st, "%s/air.state", it_tmpdir());
	snprintf(out, sizeof out, "%s/air.out", it_tmpdir());
	const char *push[] = {"push", "--endpoint", D.listen, "--state", st, "--batch", "5000", "--window", "16",
			      "--quiet", file, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(push, out)), 0);
	const char *bin = getenv("ECOROLL_BIN");
	assert_int_equal(sh("python3 tests/air_check.py check '%s' '%s' '%s'", file, bin ? bin : "build", D.control), 0);
}

/* Minute data: a station registered with interval_s 60. An hour with 44
 * minutes of readings is not a valid hourly value, one with 45 is
 * (GB 3095 / HJ 663: >= 45 minutes), and its value is their mean. */
static void test_minute_data_validity(void **state)
{
	(void)state;
	char path[800], st[800], out[800], cmd[2048], text[4096];
	pb_msg req = {.type = PB_REGISTRY_IMPORT}, rep;
	req.u.registry_import.stations_csv = "code,name,district,pollutants,evaluation,interval_s\n"
					     "SM1,Minute station,D01,pm25,no,60\n";
	req.u.registry_import.origin = ";;;minute.csv";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.registry_reply.ok);
	pb_msg_fini(&rep);
	snprintf(path, sizeof path, "%s/minute.csv", it_tmpdir());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("series,time,value\n", f);
	/* 10:00-11:00: 44 readings of 30; 11:00-12:00: 45 readings, 40 and 50 alternating */
	for (int m = 1; m <= 44; m++)
		fprintf(f, "SM1:pm25,2025-06-01T10:%02d:00+08:00,30\n", m);
	for (int m = 1; m <= 45; m++)
		fprintf(f, "SM1:pm25,2025-06-01T%02d:%02d:00+08:00,%d\n", m == 60 ? 12 : 11, m % 60, m % 2 ? 40 : 50);
	fclose(f);
	snprintf(st, sizeof st, "%s/minute.state", it_tmpdir());
	snprintf(out, sizeof out, "%s/minute.out", it_tmpdir());
	const char *push[] = {"push", "--endpoint", D.listen, "--state", st, "--quiet", path, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(push, out)), 0);
	const char *bin = getenv("ECOROLL_BIN");
	snprintf(cmd, sizeof cmd,
		 "'%s/ecoroll' air hourly --station SM1 --from 2025-06-01T10:00 --to 2025-06-01T12:00 --control '%s' > '%s'",
		 bin ? bin : "build", D.control, out);
	assert_int_equal(sh("%s", cmd), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = 0;
	fclose(f);
	/* 10:00 has no valid value: no row; 11:00: (23 x 40 + 22 x 50) / 45 = 44.888... -> 44.9 */
	assert_null(strstr(text, "2025-06-01 10:00"));
	assert_non_null(strstr(text, "2025-06-01 11:00  44.9"));
}

/* HJ 633-2012: an SO2 1h concentration above 800 has no IAQI of its own;
 * the SO2 24-hour mean's IAQI is reported in its place. 23 hours of 100
 * and one of 900: the 24-hour mean is 3200/24 = 133.33..., whose IAQI is
 * 50 + ceil(50 x 83.33... / 100) = 50 + ceil(41.66...) = 92. */
static void test_so2_special_rule_2012(void **state)
{
	(void)state;
	char path[800], st[800], out[800], text[4096];
	pb_msg req = {.type = PB_REGISTRY_IMPORT}, rep;
	req.u.registry_import.stations_csv = "code,name,district,pollutants,evaluation,interval_s\n"
					     "SX1,Smelter fence,D03,so2,no,3600\n";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.registry_reply.ok);
	pb_msg_fini(&rep);
	snprintf(path, sizeof path, "%s/so2.csv", it_tmpdir());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("series,time,value\n", f);
	for (int k = 1; k <= 24; k++) /* readings close the hours 12:00 .. 11:00 */
		fprintf(f, "SX1:so2,%lld,%d\n", 1748750400LL /* 2025-06-01T12:00+08:00 */ + k * 3600LL,
			k == 24 ? 900 : 100);
	fclose(f);
	snprintf(st, sizeof st, "%s/so2.state", it_tmpdir());
	snprintf(out, sizeof out, "%s/so2.out", it_tmpdir());
	const char *push[] = {"push", "--endpoint", D.listen, "--state", st, "--quiet", path, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(push, out)), 0);
	const char *bin = getenv("ECOROLL_BIN");
	assert_int_equal(sh("'%s/ecoroll' air hourly --station SX1 --from 2025-06-02T11:00 --to 2025-06-02T12:00 "
			    "--control '%s' > '%s'",
			    bin ? bin : "build", D.control, out),
			 0);
	f = fopen(out, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = 0;
	fclose(f);
	assert_non_null(strstr(text, "2025-06-02 11:00"));
	assert_non_null(strstr(text, "900.0"));
	assert_non_null(strstr(text, " 92 "));
	assert_non_null(strstr(text, "so2_24h"));
	assert_non_null(strstr(text, "HJ 633-2012"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_air_statistics_match_independent_computation),
		cmocka_unit_test(test_minute_data_validity),
		cmocka_unit_test(test_so2_special_rule_2012),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
