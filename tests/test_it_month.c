/* test_it_month.c: a generated month of the sample city through a real
 * daemon, every tier checked to the micro-unit against totals this test
 * computes itself from the readings file and the registry CSVs (not with
 * the daemon's normalization code): per meter the register increments
 * (wrapping at capacity), per interval meter the amounts, each counted in
 * the local day of (reading time - 1 s); then summed by enterprise,
 * district and city, per carrier and purpose, by day and by month.
 * Late interval readings for the previous month are merged into it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "itutil.h"
#include "registry.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAYS 30
#define OFFSET (8 * 3600)
#define DAY0 1790784000LL /* 2026-10-01T00:00:00+08:00 */
#define MAXM 512
#define MAXE 64
#define NMETRIC 64 /* carrier | purpose << 4 fits: carriers <= 9, purposes <= 2 */

typedef struct meter {
	char code[64];
	int ent, carrier, purpose, mode;
	er_fx capacity;
	bool seen;
	er_fx last;
} meter;

typedef struct ent {
	char code[16];
	int dist;
} ent;

static meter M[MAXM];
static int nm;
static ent E[MAXE];
static int ne;
static char dcode[8][16];
static int nd;
/* expected sums: [entity][metric][day]; metric = carrier + 16 * purpose */
static er_fx meter_day[MAXM][DAYS];
static er_fx ent_day[MAXE][NMETRIC][DAYS], dist_day[8][NMETRIC][DAYS], city_day[NMETRIC][DAYS];
static it_daemon D;
static char file[700];

static int metric(int carrier, int purpose)
{
	return carrier + 16 * purpose;
}

static void load_registry(void)
{
	char line[1024], *f[16];
	FILE *fp = fopen("conf/sample-city/enterprises.csv", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp)) {
		if (line[0] == '#' || strncmp(line, "code,", 5) == 0 || er_csv_split(line, f, 16) != 4)
			continue;
		int d;
		for (d = 0; d < nd && strcmp(dcode[d], f[2]) != 0; d++)
			;
		if (d == nd)
			snprintf(dcode[nd++], 16, "%s", f[2]);
		snprintf(E[ne].code, sizeof E[ne].code, "%s", f[0]);
		E[ne++].dist = d;
	}
	fclose(fp);
	fp = fopen("conf/sample-city/meters.csv", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp)) {
		if (line[0] == '#' || strncmp(line, "code,", 5) == 0 || er_csv_split(line, f, 16) != 9)
			continue;
		meter *m = &M[nm++];
		snprintf(m->code, sizeof m->code, "%s", f[0]);
		for (m->ent = 0; strcmp(E[m->ent].code, f[1]) != 0; m->ent++)
			;
		m->carrier = agg_carrier_parse(f[2]);
		m->mode = strcmp(f[4], "cumulative") == 0 ? 1 : strcmp(f[4], "interval") == 0 ? 2 : 3;
		m->capacity = 0;
		if (f[5][0])
			assert_int_equal(er_fx_parse(f[5], strlen(f[5]), &m->capacity), 0);
		m->purpose = strcmp(f[7], "feedstock") == 0 ? 1 : strcmp(f[7], "renewable") == 0 ? 2 : 0;
		if (f[7][0] == 0 && m->carrier == AGG_PV)
			m->purpose = 2;
	}
	fclose(fp);
}

static meter *find_meter(const char *code)
{
	for (int i = 0; i < nm; i++)
		if (strcmp(M[i].code, code) == 0)
			return &M[i];
	return NULL;
}

static void add(meter *m, int64_t ts, er_fx amount)
{
	int64_t day = (ts - 1 + OFFSET) / 86400 - (DAY0 + OFFSET) / 86400;
	int mi = m - M, k = metric(m->carrier, m->purpose);
	assert_true(day >= 0 && day < DAYS);
	meter_day[mi][day] += amount;
	ent_day[m->ent][k][day] += amount;
	dist_day[E[m->ent].dist][k][day] += amount;
	city_day[k][day] += amount;
}

static void expected_from_file(void)
{
	char line[256], *f[8];
	FILE *fp = fopen(file, "r");
	long n = 0;
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp)) {
		if (line[0] == '#' || strncmp(line, "series,", 7) == 0 || er_csv_split(line, f, 8) != 3)
			continue;
		meter *m = find_meter(f[0]);
		int64_t ts;
		er_fx v;
		n++;
		if (m == NULL || m->mode == 3)
			continue; /* station series and power levels do not roll up */
		assert_int_equal(er_time_parse(f[1], strlen(f[1]), OFFSET, &ts), 0);
		assert_int_equal(er_fx_parse(f[2], strlen(f[2]), &v), 0);
		if (m->mode == 2) {
			add(m, ts, v);
		} else {
			if (m->seen) {
				er_fx inc = v - m->last;
				if (inc < 0)
					inc += m->capacity; /* the generator wraps at capacity */
				add(m, ts, inc);
			}
			m->seen = true;
			m->last = v;
		}
	}
	fclose(fp);
	assert_true(n > 700000);
}

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("ECOROLL_SRC");
	char days[8];
	if (src && src[0] && chdir(src) != 0)
		return -1;
	load_registry();
	snprintf(file, sizeof file, "%s/month.csv", it_tmpdir());
	snprintf(days, sizeof days, "%d", DAYS);
	const char *gen[] = {"generate", "--registry", "conf/sample-city", "--from", "2026-10-01", "--days",
			     days,	 "--seed",     "7",		   NULL};
	pid_t pid = it_ecoroll_bg(gen, file);
	if (it_wait(pid) != 0)
		return -1;
	expected_from_file();
	it_daemon_init(&D, it_tmpdir());
	return it_daemon_start(&D);
}

static int teardown(void **state)
{
	(void)state;
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

/* Every row of the query must be expected, and every expected nonzero
 * cell must come back. */
struct cmp {
	er_fx (*cells)[DAYS]; /* [metric][day] */
	int month;	       /* compare month sums instead of days */
	int rows, bad;
	bool seen[NMETRIC][DAYS];
	const char *what;
};

static er_fx month_sum(er_fx (*cells)[DAYS], int k)
{
	er_fx s = 0;
	for (int d = 0; d < DAYS; d++)
		s += cells[k][d];
	return s;
}

static void check(const char *what, int level, const char *entity, int res, er_fx (*cells)[DAYS])
{
	pb_msg req = {.type = PB_QUERY}, rep;
	bool seen[NMETRIC][DAYS];
	memset(seen, 0, sizeof seen);
	req.u.query.level = level;
	req.u.query.entity = entity;
	req.u.query.resolution = res;
	req.u.query.from = DAY0;
	req.u.query.to = DAY0 + DAYS * 86400LL;
	req.u.query.carrier = "";
	assert_int_equal(ing_request(D.control, &req, 20000, &rep), 0);
	assert_true(rep.u.query_reply.ok);
	for (size_t i = 0; i < rep.u.query_reply.nrows; i++) {
		const pb_row *r = &rep.u.query_reply.rows[i];
		int carrier = agg_carrier_parse(r->carrier);
		int purpose = strcmp(r->purpose, "feedstock") == 0 ? 1 : strcmp(r->purpose, "renewable") == 0 ? 2 : 0;
		int k = metric(carrier, purpose);
		er_fx want;
		if (res == ER_RES_MONTH) {
			want = month_sum(cells, k);
			seen[k][0] = true;
		} else {
			int day = (int)((r->start - DAY0) / 86400);
			assert_true(day >= 0 && day < DAYS);
			want = cells[k][day];
			seen[k][day] = true;
		}
		if (r->sum != want)
			fail_msg("%s %s %s/%s at %lld: %lld != expected %lld", what, entity, r->carrier, r->purpose,
				 (long long)r->start, (long long)r->sum, (long long)want);
	}
	for (int k = 0; k < NMETRIC; k++)
		for (int d = 0; d < DAYS; d++) {
			bool nonzero = res == ER_RES_MONTH ? (d == 0 && month_sum(cells, k) != 0) : cells[k][d] != 0;
			if (nonzero && !seen[k][res == ER_RES_MONTH ? 0 : d])
				fail_msg("%s %s: no row for metric %d day %d", what, entity, k, d);
		}
	pb_msg_fini(&rep);
}

static void test_month_every_tier_exact(void **state)
{
	(void)state;
	char statefile[700];
	snprintf(statefile, sizeof statefile, "%s/month.state", it_tmpdir());
	const char *push[] = {"push", "--endpoint", D.listen, "--state", statefile, "--batch", "5000", "--window", "16",
			      "--quiet", file, NULL};
	snprintf(statefile, sizeof statefile, "%s/month.out", it_tmpdir());
	assert_int_equal(it_wait(it_ecoroll_bg(push, statefile)), 0);

	check("city", STO_CITY, "", ER_RES_DAY, city_day);
	check("city", STO_CITY, "", ER_RES_MONTH, city_day);
	for (int d = 0; d < nd; d++) {
		check("district", STO_DISTRICT, dcode[d], ER_RES_DAY, dist_day[d]);
		check("district", STO_DISTRICT, dcode[d], ER_RES_MONTH, dist_day[d]);
	}
	for (int e = 0; e < ne; e++) {
		check("enterprise", STO_ENTERPRISE, E[e].code, ER_RES_DAY, ent_day[e]);
		check("enterprise", STO_ENTERPRISE, E[e].code, ER_RES_MONTH, ent_day[e]);
	}
	for (int i = 0; i < nm; i++) {
		er_fx want = 0, got;
		if (M[i].mode == 3)
			continue;
		for (int d = 0; d < DAYS; d++)
			want += meter_day[i][d];
		assert_int_equal(it_query_sum(D.control, STO_METER, M[i].code, ER_RES_MONTH, DAY0, DAY0 + DAYS * 86400LL, "",
					      &got, NULL),
				 0);
		if (got != want)
			fail_msg("meter %s month: %lld != %lld", M[i].code, (long long)got, (long long)want);
	}
}

/* Interval readings for the last day of September, sent after October:
 * they land in September, and October is unchanged. */
static void test_late_data_into_last_month(void **state)
{
	(void)state;
	char late[700], statefile[700];
	er_fx sep = 0, oct = 0;
	snprintf(late, sizeof late, "%s/late.csv", it_tmpdir());
	snprintf(statefile, sizeof statefile, "%s/late.state", it_tmpdir());
	FILE *fp = fopen(late, "w");
	assert_non_null(fp);
	fprintf(fp, "series,time,value\n"
		    "M-E0202-CL01,2026-09-30T23:45:00+08:00,1.25\n"
		    "M-E0202-CL01,2026-10-01T00:00:00+08:00,0.5\n"
		    "M-E0202-CL01,2026-09-30T12:00:00+08:00,2\n");
	fclose(fp);
	er_fx oct_before;
	assert_int_equal(it_query_sum(D.control, STO_ENTERPRISE, "E0202", ER_RES_MONTH, DAY0, DAY0 + 1, "coal", &oct_before,
				      NULL),
			 0);
	const char *push[] = {"push", "--endpoint", D.listen, "--state", statefile, "--quiet", late, NULL};
	char out[700];
	snprintf(out, sizeof out, "%s/late.out", it_tmpdir());
	assert_int_equal(it_wait(it_ecoroll_bg(push, out)), 0);
	assert_int_equal(it_query_sum(D.control, STO_ENTERPRISE, "E0202", ER_RES_MONTH, DAY0 - 30 * 86400LL, DAY0,
				      "coal", &sep, NULL),
			 0);
	assert_int_equal(it_query_sum(D.control, STO_ENTERPRISE, "E0202", ER_RES_MONTH, DAY0, DAY0 + 1, "coal", &oct,
				      NULL),
			 0);
	/* 00:00 closes 23:45-24:00 of September 30 too */
	assert_int_equal(sep, 3750000);
	assert_int_equal(oct, oct_before);
	er_fx city_sep;
	assert_int_equal(it_query_sum(D.control, STO_CITY, "", ER_RES_YEAR, DAY0 - 300 * 86400LL, DAY0 + 1, "coal",
				      &city_sep, NULL),
			 0);
	assert_int_equal(city_sep, month_sum(city_day, metric(AGG_COAL, 0)) + month_sum(city_day, metric(AGG_COAL, 1)) +
					   3750000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_month_every_tier_exact),
		cmocka_unit_test(test_late_data_into_last_month),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
