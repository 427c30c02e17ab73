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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_air_statistics_match_independent_computation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
