/* test_it_energy.c: standard coal, CO2 and intensity through a real daemon
 * (DOMAIN.md 4, 5): derived at read time from a copy of conf/energy that
 * the test edits, so a coefficient change recomputes last year without
 * re-ingesting (by `reload` and by SIGHUP); the electricity equivalent
 * method; scopes; CO2 factors by year; economic figures with revisions and
 * the intensity with its change against last year and a base year. Every
 * expected figure is computed by hand in the comments. */
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

static it_daemon D;
static char dir[700], dirarg[800];

static void write_coal(const char *rows)
{
	char path[800], cmd[1700];
	FILE *f;
	/* the shipped table without its coal row, then ours */
	snprintf(path, sizeof path, "%s/coefficients.csv", dir);
	snprintf(cmd, sizeof cmd, "grep -v '^coal,' conf/energy/coefficients.csv > '%s'", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs(rows, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	char cmd[1600];
	const char *src = getenv("ECOROLL_SRC");
	if (src && src[0] && chdir(src) != 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/energy", it_tmpdir());
	snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp conf/energy/co2.csv conf/energy/benchmarks.csv '%s'/", dir, dir);
	if (system(cmd) != 0)
		return -1;
	write_coal("coal,calorific,2000-01-01,,714.3,t,test: raw coal\n");
	it_daemon_init(&D, it_tmpdir());
	snprintf(dirarg, sizeof dirarg, "energy.dir=%s", dir);
	D.extra[0] = "--set";
	D.extra[1] = dirarg;
	D.extra[2] = "--set";
	D.extra[3] = "monitoring.key_user_tce=1"; /* the test's small data: 1 tce makes a key user */
	return it_daemon_start(&D);
}

static int teardown(void **state)
{
	(void)state;
	it_daemon_kill(&D, SIGTERM);
	return 0;
}

static void push(const char *name, const char *csv)
{
	char path[800], st[800], out[800];
	snprintf(path, sizeof path, "%s/%s.csv", it_tmpdir(), name);
	snprintf(st, sizeof st, "%s/%s.state", it_tmpdir(), name);
	snprintf(out, sizeof out, "%s/%s.out", it_tmpdir(), name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(csv, f);
	fclose(f);
	const char *args[] = {"push", "--endpoint", D.listen, "--state", st, "--quiet", path, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(args, out)), 0);
}

/* The derived value of the row with this carrier (or "total"). */
static void derived(int level, const char *entity, int res, const char *from, const char *to, const char *unit,
		    const char *method, const char *scope, const char *carrier, char *out, size_t cap)
{
	pb_msg req = {.type = PB_QUERY}, rep;
	int64_t f, t;
	assert_int_equal(er_time_parse(from, strlen(from), 8 * 3600, &f), 0);
	assert_int_equal(er_time_parse(to, strlen(to), 8 * 3600, &t), 0);
	req.u.query = (pb_query){.level = level, .entity = entity, .resolution = res, .from = f, .to = t,
				 .carrier = "", .unit = unit, .method = method, .scope = scope};
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.query_reply.ok);
	out[0] = 0;
	int hits = 0;
	for (size_t i = 0; i < rep.u.query_reply.nrows; i++)
		if (strcmp(rep.u.query_reply.rows[i].carrier, carrier) == 0) {
			snprintf(out, cap, "%s", rep.u.query_reply.rows[i].value);
			hits++;
		}
	assert_int_equal(hits, 1);
	pb_msg_fini(&rep);
}

static void reload(void)
{
	pb_msg req = {.type = PB_RELOAD}, rep;
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_int_equal(rep.type, PB_COMMAND_REPLY);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);
}

static void test_coal_change_recomputes_last_year(void **state)
{
	(void)state;
	char v[64];
	/* 1 t of coal on 2025-06-30 and 2 t on 2025-07-01 (interval meter, 15 min). */
	push("coal", "series,time,value\n"
		     "M-E0202-CL01,2025-06-30T12:00:00+08:00,1\n"
		     "M-E0202-CL01,2025-07-01T12:00:00+08:00,2\n");
	/* 3 t x 714.3 kgce/t = 2142.9 kgce */
	derived(STO_ENTERPRISE, "E0202", ER_RES_YEAR, "2025-01-01", "2026-01-01", "tce", "", "", "coal", v, sizeof v);
	assert_string_equal(v, "2.142900");
	/* From 2025-07-01 coal is 700 kgce/t: 714.3 + 2 x 700 = 2114.3 */
	write_coal("coal,calorific,2000-01-01,2025-07-01,714.3,t,test: before\n"
		   "coal,calorific,2025-07-01,,700,t,test: after\n");
	reload();
	derived(STO_ENTERPRISE, "E0202", ER_RES_YEAR, "2025-01-01", "2026-01-01", "tce", "", "", "coal", v, sizeof v);
	assert_string_equal(v, "2.114300");
	derived(STO_ENTERPRISE, "E0202", ER_RES_MONTH, "2025-06-01", "2025-07-01", "tce", "", "", "coal", v, sizeof v);
	assert_string_equal(v, "0.714300");
	derived(STO_ENTERPRISE, "E0202", ER_RES_MONTH, "2025-07-01", "2025-08-01", "tce", "", "", "coal", v, sizeof v);
	assert_string_equal(v, "1.400000");
	/* The city's total is the same exact sum. */
	derived(STO_CITY, "", ER_RES_YEAR, "2025-01-01", "2026-01-01", "tce", "", "", "coal", v, sizeof v);
	assert_string_equal(v, "2.114300");
}

static bool coal_is(void *ctx)
{
	char v[64];
	derived(STO_ENTERPRISE, "E0202", ER_RES_YEAR, "2025-01-01", "2026-01-01", "tce", "", "", "coal", v, sizeof v);
	return strcmp(v, ctx) == 0;
}

static void test_sighup_reloads(void **state)
{
	(void)state;
	/* 3 t x 800 = 2400 kgce */
	write_coal("coal,calorific,2000-01-01,,800,t,test: sighup\n");
	kill(D.pid, SIGHUP);
	assert_true(it_until(coal_is, "2.400000", 10000));
	/* A broken table is refused and the one in force stays. */
	write_coal("coal,calorific,2000-01-01,,not-a-number,t,broken\n");
	pb_msg req = {.type = PB_RELOAD}, rep;
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_false(rep.u.command_reply.ok);
	assert_non_null(strstr(rep.u.command_reply.message, "coefficients.csv:"));
	pb_msg_fini(&rep);
	assert_true(coal_is("2.400000"));
	write_coal("coal,calorific,2000-01-01,2025-07-01,714.3,t,test: before\n"
		   "coal,calorific,2025-07-01,,700,t,test: after\n");
	reload();
	assert_true(coal_is("2.114300"));
}

static void test_electricity_methods_co2_and_scopes(void **state)
{
	(void)state;
	char v[64];
	/* 100 kWh on 2022-03-01 (EL01) and 100 kWh on 2023-03-01 (EL02: a
	 * meter's next reading a year later would spread the year's step). */
	push("elec", "series,time,value\n"
		     "M-E0101-EL01,2022-03-01T10:00:00+08:00,1000\n"
		     "M-E0101-EL01,2022-03-01T10:15:00+08:00,1100\n"
		     "M-E0101-EL02,2023-03-01T10:00:00+08:00,5000\n"
		     "M-E0101-EL02,2023-03-01T10:15:00+08:00,5100\n");
	/* 100 x 0.1229 = 12.29 kgce; equivalent 100 x 0.30 = 30 kgce */
	derived(STO_METER, "M-E0101-EL01", ER_RES_DAY, "2022-03-01", "2022-03-02", "tce", "", "", "electricity", v,
		sizeof v);
	assert_string_equal(v, "0.012290");
	derived(STO_METER, "M-E0101-EL01", ER_RES_DAY, "2022-03-01", "2022-03-02", "tce", "equivalent", "",
		"electricity", v, sizeof v);
	assert_string_equal(v, "0.030000");
	/* CO2: 100 x 0.5366 in 2022, 100 x 0.5306 in 2023 (kg) */
	derived(STO_ENTERPRISE, "E0101", ER_RES_YEAR, "2022-01-01", "2023-01-01", "co2", "", "", "electricity", v,
		sizeof v);
	assert_string_equal(v, "0.053660");
	derived(STO_ENTERPRISE, "E0101", ER_RES_YEAR, "2023-01-01", "2024-01-01", "co2", "", "", "electricity", v,
		sizeof v);
	assert_string_equal(v, "0.053060");
	/* Feedstock coal at E0203 counts in "all" and not in "no-feedstock". */
	push("feed", "series,time,value\n"
		     "M-E0203-CL01,2024-05-01T12:00:00+08:00,10\n"
		     "M-E0203-GS02,2024-05-01T12:00:00+08:00,100\n"
		     "M-E0203-GS02,2024-05-01T12:15:00+08:00,150\n");
	/* all: 10 t x 714.3 + 50 m3 x 1.2143 = 7143 + 60.715 = 7203.715 kgce */
	derived(STO_ENTERPRISE, "E0203", ER_RES_DAY, "2024-05-01", "2024-05-02", "tce", "", "all", "total", v, sizeof v);
	assert_string_equal(v, "7.203715");
	derived(STO_ENTERPRISE, "E0203", ER_RES_DAY, "2024-05-01", "2024-05-02", "tce", "", "no-feedstock", "total", v,
		sizeof v);
	assert_string_equal(v, "0.060715");
}

static const char *field(const pb_msg *r, const char *name)
{
	for (size_t i = 0; i < r->u.report.nfields; i++)
		if (strcmp(r->u.report.fields[i].name, name) == 0)
			return r->u.report.fields[i].value;
	fail_msg("no field %s", name);
	return "";
}

static void test_intensity_and_revisions(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_ECON_IMPORT}, rep;
	/* E0202 value added: 2025 revised from 50 to 100 (10^4 yuan); 2024: 80 */
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0202,value_added,2025,50,1\n"
				"enterprise,E0202,value_added,2024,80,\n";
	req.u.econ_import.origin = "econ1.csv";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0202,value_added,2025,100,2\n";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);
	/* An older revision is kept out. */
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0202,value_added,2025,60,1\n";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_non_null(strstr(rep.u.command_reply.message, "1 kept out"));
	pb_msg_fini(&rep);
	/* A bad row stores nothing and names its line. */
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0202,value_added,2023,70,\n"
				"enterprise,E0202,value_added,2023-13,1,\n";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_false(rep.u.command_reply.ok);
	assert_non_null(strstr(rep.u.command_reply.message, "econ1.csv:3:"));
	pb_msg_fini(&rep);

	/* Figures also travel on the ingest socket (EconBatch): a district's
	 * 2025 value added, and a row for an unknown enterprise refused. */
	char path[800], out[800], text[600];
	snprintf(path, sizeof path, "%s/econ-push.csv", it_tmpdir());
	snprintf(out, sizeof out, "%s/econ-push.out", it_tmpdir());
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("level,entity,kind,period,value,revision\n"
	      "district,D02,value_added,2025,400,\n"
	      "enterprise,E9999,value_added,2025,1,\n", fp);
	fclose(fp);
	const char *args[] = {"econ", "push", "--endpoint", D.listen, path, NULL};
	assert_int_equal(it_wait(it_ecoroll_bg(args, out)), 3); /* some rows refused */
	fp = fopen(out, "r");
	assert_non_null(fp);
	size_t nread = fread(text, 1, sizeof text - 1, fp);
	text[nread] = 0;
	fclose(fp);
	assert_non_null(strstr(text, "1 figures stored, 1 refused"));
	assert_non_null(strstr(text, "unknown entity 'E9999'"));
	pb_msg qd = {.type = PB_INTENSITY_REQUEST};
	qd.u.intensity_request = (pb_intensity_request){STO_DISTRICT, "D02", "2025", "", "", "", ""};
	assert_int_equal(ing_request(D.control, &qd, 10000, &rep), 0);
	/* D02's 2025 energy is E0202's coal: 2.1143 tce / 400 = 0.00528575 */
	assert_string_equal(field(&rep, "denominator_10k_yuan"), "400");
	assert_string_equal(field(&rep, "energy_intensity_tce_per_10k_yuan"), "0.0053");
	pb_msg_fini(&rep);

	/* 2024 coal for E0202: 1 t -> 714.3 kgce */
	push("coal24", "series,time,value\nM-E0202-CL01,2024-08-01T12:00:00+08:00,1\n");
	pb_msg q = {.type = PB_INTENSITY_REQUEST};
	q.u.intensity_request = (pb_intensity_request){STO_ENTERPRISE, "E0202", "2025", "", "2024", "", ""};
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_true(rep.u.report.ok);
	/* 2025: 2.1143 tce / 100 = 0.021143 -> 0.0211; 2024: 0.7143 / 80 =
	 * 0.00892875 -> 0.0089; change = (2.1143/100) / (0.7143/80) - 1 =
	 * 1.36796... = +136.80% */
	assert_string_equal(field(&rep, "energy_tce"), "2.114300");
	assert_string_equal(field(&rep, "denominator_10k_yuan"), "100");
	assert_string_equal(field(&rep, "energy_intensity_tce_per_10k_yuan"), "0.0211");
	assert_string_equal(field(&rep, "last_year_energy_intensity"), "0.0089");
	assert_string_equal(field(&rep, "energy_change_vs_last_year"), "136.80%");
	assert_string_equal(field(&rep, "energy_change_vs_base"), "136.80%");
	pb_msg_fini(&rep);
	/* No denominator: n/a with the reason. */
	q.u.intensity_request.period = "2026";
	q.u.intensity_request.base = "";
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_string_equal(field(&rep, "energy_intensity_tce_per_10k_yuan"), "n/a");
	assert_non_null(strstr(field(&rep, "denominator_from"), "not available"));
	pb_msg_fini(&rep);
}

/* Efficiency benchmarking of industry C26 for 2023 (DOMAIN.md 9), one day
 * of electricity each (x 0.1229 kgce/kWh), against conf/energy's C26
 * benchmark 0.5 and baseline 1.2 tce per 10^4 yuan:
 *   E0201 1000 kWh / 10 = 0.01229   rank 1 (tie)  100.0
 *   E0202 1000 kWh / 10 = 0.01229   rank 1 (tie)  100.0
 *   E0203 8000 kWh /  1 = 0.9832    rank 3         33.3  between
 *   E0204 20000 kWh / 1 = 2.458     rank 4          0.0  restrict
 *   E0205 no value added: unranked
 * median of four = (0.01229 + 0.9832) / 2 = 0.497745 -> 0.4977 */
static void test_benchmark_tie_median_baseline(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_ECON_IMPORT}, rep;
	push("bench", "series,time,value\n"
		      "M-E0201-EL01,2023-03-01T00:00:00+08:00,100\nM-E0201-EL01,2023-03-02T00:00:00+08:00,1100\n"
		      "M-E0202-EL01,2023-03-01T00:00:00+08:00,100\nM-E0202-EL01,2023-03-02T00:00:00+08:00,1100\n"
		      "M-E0203-EL01,2023-03-01T00:00:00+08:00,100\nM-E0203-EL01,2023-03-02T00:00:00+08:00,8100\n"
		      "M-E0204-EL01,2023-03-01T00:00:00+08:00,100\nM-E0204-EL01,2023-03-02T00:00:00+08:00,20100\n"
		      "M-E0205-EL01,2023-03-01T00:00:00+08:00,100\nM-E0205-EL01,2023-03-02T00:00:00+08:00,600\n");
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0201,value_added,2023,10,\n"
				"enterprise,E0202,value_added,2023,10,\n"
				"enterprise,E0203,value_added,2023,1,\n"
				"enterprise,E0204,value_added,2023,1,\n";
	req.u.econ_import.origin = "bench.csv";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);

	pb_msg q = {.type = PB_BENCHMARK_REQUEST};
	q.u.benchmark_request = (pb_benchmark_request){"C26", "2023", "", "", ""};
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_int_equal(rep.type, PB_TABLE);
	assert_true(rep.u.table.ok);
	const pb_table *t = &rep.u.table;
	assert_int_equal(t->nrows, 5);
	assert_int_equal(t->ncols, 9);
	static const char *want[5][9] = {
		{"1", "E0201", "0.122900", "10", "0.0123", "100.0", "-0.4877", "-1.1877", "at or better than benchmark"},
		{"1", "E0202", "0.122900", "10", "0.0123", "100.0", "-0.4877", "-1.1877", "at or better than benchmark"},
		{"3", "E0203", "0.983200", "1", "0.9832", "33.3", "+0.4832", "-0.2168", "between benchmark and baseline"},
		{"4", "E0204", "2.458000", "1", "2.4580", "0.0", "+1.9580", "+1.2580", "worse than baseline: restrict"},
		{"-", "E0205", "0.061450", "n/a", "-", "-", "-", "-", "no denominator for the period"},
	};
	for (int r = 0; r < 5; r++)
		for (int c = 0; c < 9; c++)
			if (strcmp(t->cells[r * 9 + c], want[r][c]) != 0)
				fail_msg("row %d col %s: '%s' != '%s'", r, t->columns[c], t->cells[r * 9 + c], want[r][c]);
	const char *median = NULL;
	for (size_t i = 0; i < t->nnotes; i++)
		if (strcmp(t->notes[i].name, "median_intensity") == 0)
			median = t->notes[i].value;
	assert_non_null(median);
	assert_string_equal(median, "0.4977");
	pb_msg_fini(&rep);
}

/* E0101's carbon account for 2023: the 100 kWh pushed for 2023-03-01 (test
 * 3) at the 2023 grid factor 0.5306 = 53.06 kgCO2; value added 2 (10^4
 * yuan) -> 0.02653 tCO2 per 10^4 yuan -> 0.0265. */
static void test_carbon_account(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_ECON_IMPORT}, rep;
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\nenterprise,E0101,value_added,2023,2,\n";
	req.u.econ_import.origin = "carbon.csv";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);
	pb_msg q = {.type = PB_CARBON_REQUEST};
	q.u.carbon_request = (pb_carbon_request){STO_ENTERPRISE, "E0101", 2023, 0};
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_true(rep.u.table.ok);
	const pb_table *t = &rep.u.table;
	assert_int_equal(t->nrows, 1);
	assert_string_equal(t->cells[0], "purchased electricity");
	assert_string_equal(t->cells[3], "100");
	assert_string_equal(t->cells[5], "0.5306");
	assert_string_equal(t->cells[6], "0.053060");
	bool seen = false;
	for (size_t i = 0; i < t->nnotes; i++)
		if (strcmp(t->notes[i].name, "carbon_intensity_tCO2_per_10k_yuan") == 0) {
			assert_string_equal(t->notes[i].value, "0.0265");
			seen = true;
		}
	assert_true(seen);
	pb_msg_fini(&rep);
	/* 2022: the 2022 factor, 0.5366 */
	q.u.carbon_request.year = 2022;
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_string_equal(rep.u.table.cells[5], "0.5366");
	assert_string_equal(rep.u.table.cells[6], "0.053660");
	pb_msg_fini(&rep);
}

static const char *cell_of(const pb_table *t, const char *row0, const char *col)
{
	for (size_t r = 0; r < t->nrows; r++)
		if (strcmp(t->cells[r * t->ncols], row0) == 0)
			for (size_t c = 0; c < t->ncols; c++)
				if (strcmp(t->columns[c], col) == 0)
					return t->cells[r * t->ncols + c];
	fail_msg("no cell %s/%s", row0, col);
	return "";
}

static const char *note_of(const pb_table *t, const char *name)
{
	for (size_t i = 0; i < t->nnotes; i++)
		if (strcmp(t->notes[i].name, name) == 0)
			return t->notes[i].value;
	fail_msg("no note %s", name);
	return "";
}

/* Online monitoring, with key users at >= 1 tce (the daemon's setting here):
 * for 2025, D02's key users are those above 1 tce in 2024: only E0203
 * (7.203715 tce: 10 t feedstock coal + 50 m3 gas); it sent nothing in 2025.
 * For May 2024 E0203 sent 2 counted readings (1 coal amount, 1 gas
 * increment after the gas baseline) against its meters' expected count. */
static void test_monitoring_coverage(void **state)
{
	(void)state;
	pb_msg q = {.type = PB_MONITORING_REQUEST}, rep;
	q.u.monitoring_request = (pb_monitoring_request){STO_DISTRICT, "D02", "2025"};
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_true(rep.u.table.ok);
	const pb_table *t = &rep.u.table;
	assert_string_equal(cell_of(t, "E0203", "last_year_tce"), "7.204");
	assert_string_equal(cell_of(t, "E0203", "key_user"), "yes");
	assert_string_equal(cell_of(t, "E0203", "online"), "no");
	assert_string_equal(cell_of(t, "E0202", "key_user"), "no"); /* 2024: 0.7143 tce */
	assert_string_equal(note_of(t, "key_users"), "1 (>= 1 tce in 2024)");
	assert_string_equal(note_of(t, "coverage_%"), "0.0");
	pb_msg_fini(&rep);

	/* expected readings in May 2024 (31 days) from E0203's meters */
	char line[512];
	long long expected = 0;
	FILE *f = fopen("conf/sample-city/meters.csv", "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "M-E0203-", 8) == 0)
			expected += 31LL * 86400 / atol(strrchr(line, ',') + 1);
	fclose(f);
	q.u.monitoring_request.period = "2024-05";
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	t = &rep.u.table;
	assert_string_equal(cell_of(t, "E0203", "online"), "yes");
	assert_string_equal(cell_of(t, "E0203", "received"), "2");
	char want[32];
	snprintf(want, sizeof want, "%lld", expected);
	assert_string_equal(cell_of(t, "E0203", "expected"), want);
	assert_string_equal(cell_of(t, "E0203", "complete"), "no");
	assert_string_equal(cell_of(t, "E0203", "day_vs_month_%"), "0.0");
	pb_msg_fini(&rep);
}

/* The yearly indicator table of E0206, 2025 against 2019 (n = 6), with
 * value added falling from 100 to 50 (10^4 yuan) and electricity from
 * 1000 to 800 kWh (computed by hand, shown to two decimals):
 *   value added growth (50/100)^(1/6) - 1 = -10.9101%: below 15, fail
 *   energy elasticity ((0.8)^(1/6) - 1) / -0.109101 = 0.3346: value added
 *     shrinks, so the limit 0.6 applies as a floor: 0.33 < 0.6, fail
 *   CO2 intensity 2019 536.6 kg / 100 = 0.005366 t; 2025 424.48 kg / 50 =
 *     0.0084896 t: reduction 1 - (0.0084896/0.005366)^(1/6) = -7.9459%, fail
 *   energy intensity 0.09832 tce / 50 = 0.0019664: 0.00 <= 0.5, pass */
static void test_indicators_negative_growth_six_years(void **state)
{
	(void)state;
	pb_msg req = {.type = PB_ECON_IMPORT}, rep;
	push("ind", "series,time,value\n"
		    "M-E0206-EL01,2019-06-01T00:00:00+08:00,10\nM-E0206-EL01,2019-06-02T00:00:00+08:00,1010\n"
		    "M-E0206-EL02,2025-06-01T00:00:00+08:00,10\nM-E0206-EL02,2025-06-02T00:00:00+08:00,810\n");
	req.u.econ_import.csv = "level,entity,kind,period,value,revision\n"
				"enterprise,E0206,value_added,2019,100,\n"
				"enterprise,E0206,value_added,2025,50,\n";
	req.u.econ_import.origin = "ind.csv";
	assert_int_equal(ing_request(D.control, &req, 10000, &rep), 0);
	assert_true(rep.u.command_reply.ok);
	pb_msg_fini(&rep);
	pb_msg q = {.type = PB_INDICATORS_REQUEST};
	q.u.indicators_request = (pb_indicators_request){"E0206", 2025, 2019};
	assert_int_equal(ing_request(D.control, &q, 10000, &rep), 0);
	assert_true(rep.u.table.ok);
	const pb_table *t = &rep.u.table;
	assert_string_equal(cell_of(t, "value_added_growth", "value"), "-10.91");
	assert_string_equal(cell_of(t, "value_added_growth", "result"), "fail");
	assert_string_equal(cell_of(t, "energy_elasticity", "value"), "0.33");
	assert_string_equal(cell_of(t, "energy_elasticity", "limit"), ">= 0.60");
	assert_string_equal(cell_of(t, "energy_elasticity", "result"), "fail");
	assert_string_equal(cell_of(t, "co2_intensity_reduction", "value"), "-7.95");
	assert_string_equal(cell_of(t, "co2_intensity_reduction", "result"), "fail");
	assert_string_equal(cell_of(t, "energy_intensity", "value"), "0.00");
	assert_string_equal(cell_of(t, "energy_intensity", "result"), "pass");
	assert_string_equal(cell_of(t, "wastewater_intensity", "value"), "n/a");
	pb_msg_fini(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coal_change_recomputes_last_year),
		cmocka_unit_test(test_sighup_reloads),
		cmocka_unit_test(test_electricity_methods_co2_and_scopes),
		cmocka_unit_test(test_intensity_and_revisions),
		cmocka_unit_test(test_benchmark_tie_median_baseline),
		cmocka_unit_test(test_carbon_account),
		cmocka_unit_test(test_monitoring_coverage),
		cmocka_unit_test(test_indicators_negative_growth_six_years),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
