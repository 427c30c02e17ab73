/* econ.c: ecoroll econ import and ecoroll intensity: economic figures in,
 * energy and water intensity out (DOMAIN.md 5). */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "econ.h"
#include "er.h"
#include "registry.h"
#include "store.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 15000

static const char econ_help[] =
	"usage: ecoroll econ import [--control EP] FILE\n"
	"       ecoroll econ push [--endpoint EP] [--sender NAME] FILE\n"
	"\n"
	"import sends the file to the control socket; push sends it on the ingest\n"
	"socket like readings (hello, sequence number, ack after commit), for a\n"
	"district node or an enterprise system that reports its own figures.\n"
	"\n"
	"Imports economic figures (value added, output value, GDP) in 10^4 yuan:\n"
	"  level,entity,kind,period,value,revision\n"
	"  enterprise,E0101,value_added,2026-03,1234.5,\n"
	"  district,D01,gdp,2026-Q1,56789,2\n"
	"level: enterprise, district or city; kind: value_added, output or gdp;\n"
	"period: YYYY-MM, YYYY-Qn or YYYY; revision: empty (0) or a number: a later\n"
	"revision of a period replaces the earlier, and every intensity follows.\n"
	"All or nothing: a bad row stores nothing and is reported as FILE:LINE.\n";

static const char intensity_help[] =
	"usage: ecoroll intensity [--control EP] (--enterprise CODE | --district CODE | --city)\n"
	"                         --period P [--base P] [--kind K] [--scope S] [--method M] [--json]\n"
	"\n"
	"Energy (tce) and fresh-water (m3) intensity per 10^4 yuan for a month\n"
	"(2026-03), quarter (2026-Q1) or year (2026), with the change against the same\n"
	"period last year and, with --base, against a base period (DOMAIN.md 5).\n"
	"  --kind K     denominator: value_added (default; gdp for the city) or output\n"
	"  --scope S    energy scope: all (default), no-feedstock, control\n"
	"  --method M   electricity: calorific (default) or equivalent\n"
	"Figures are exact until display: intensities to 4 decimals, changes to 0.01%.\n";

#define PUSH_TRY_MS 3000	 /* wait this long for an ack before reconnecting */
#define PUSH_GIVE_UP_MS 60000 /* then stop */

/* One EconBatch, resent until it is acknowledged: figures are stored by
 * period (put, not add), so a resend after a lost ack changes nothing. */
static int econ_push(const char *endpoint, const char *sender, const char *path, const char *text)
{
	ing_client *cl;
	char name[128];
	uint64_t seq = 0;
	int waited = 0, ret = CLI_EXIT_FATAL;

	if (sender == NULL) {
		ing_sender_name("econ", name, sizeof name);
		sender = name;
	}
	if (ing_client_new(endpoint, sender, &cl) != 0) {
		fprintf(stderr, "ecoroll econ: cannot connect to %s\n", endpoint);
		return CLI_EXIT_FATAL;
	}
	ing_client_hello(cl);
	while (waited < PUSH_GIVE_UP_MS) {
		pb_msg m;
		int rc = ing_client_recv(cl, PUSH_TRY_MS, &m);
		if (rc == ER_ETIMEDOUT) {
			waited += PUSH_TRY_MS;
			ing_client_reconnect(cl);
			ing_client_hello(cl);
			continue;
		}
		if (rc != 0)
			continue;
		if (m.type == PB_WELCOME) {
			seq = m.u.welcome.next_seq;
			pb_msg b = {.type = PB_ECON_BATCH};
			uint8_t *buf;
			size_t len;
			b.u.econ_batch = (pb_econ_batch){sender, seq, text};
			if (pb_encode(&b, &buf, &len) == 0) {
				ing_client_send(cl, buf, len);
				free(buf);
			}
		} else if (m.type == PB_ACK && seq != 0 && m.u.ack.seq == seq &&
			   (m.u.ack.status == PB_ST_OK || m.u.ack.status == PB_ST_DUPLICATE)) {
			if (m.u.ack.status == PB_ST_OK)
				printf("pushed %s as %s: %llu figures stored, %llu refused\n%s", path, sender,
				       (unsigned long long)m.u.ack.accepted, (unsigned long long)m.u.ack.rejected,
				       m.u.ack.message ? m.u.ack.message : "");
			else
				printf("pushed %s as %s: already stored\n", path, sender);
			ret = m.u.ack.status == PB_ST_OK && m.u.ack.rejected ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
			pb_msg_fini(&m);
			break;
		} else if (m.type == PB_ACK && m.u.ack.status != PB_ST_OK && m.u.ack.status != PB_ST_DUPLICATE &&
			   m.u.ack.status != PB_ST_GAP) {
			fprintf(stderr, "ecoroll econ: %s: %s\n", pb_status_name(m.u.ack.status), m.u.ack.message);
			pb_msg_fini(&m);
			break;
		}
		pb_msg_fini(&m);
	}
	if (waited >= PUSH_GIVE_UP_MS)
		fprintf(stderr, "ecoroll econ: no ack from %s in %d s\n", endpoint, PUSH_GIVE_UP_MS / 1000);
	ing_client_free(cl);
	return ret;
}

int cli_econ(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_ENDPOINT, O_SENDER };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL},
		{"endpoint", required_argument, NULL, O_ENDPOINT},
		{"sender", required_argument, NULL, O_SENDER},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *endpoint = cli_endpoint_default(), *sender = NULL;
	pb_msg req = {.type = PB_ECON_IMPORT};
	char *text;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_ENDPOINT: endpoint = optarg; break;
		case O_SENDER: sender = optarg; break;
		case 'h': fputs(econ_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("econ", c, argv);
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind], "import") != 0 && strcmp(argv[optind], "push") != 0))
		return cli_usage_error("econ", "expected 'import FILE' or 'push FILE'");
	const char *path = argv[optind + 1];
	if (agg_read_file(path, &text) != 0) {
		fprintf(stderr, "ecoroll econ: cannot read %s\n", path);
		return CLI_EXIT_FATAL;
	}
	if (strcmp(argv[optind], "push") == 0) {
		ret = econ_push(endpoint, sender, path, text);
		free(text);
		return ret;
	}
	req.u.econ_import.csv = text;
	req.u.econ_import.origin = path;
	ret = cli_command_request("econ", control, &req, TIMEOUT_MS);
	free(text);
	return ret;
}

int cli_intensity(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_ENT, O_DIST, O_CITY, O_PERIOD, O_BASE, O_KIND, O_SCOPE, O_METHOD, O_JSON };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"enterprise", required_argument, NULL, O_ENT},
		{"district", required_argument, NULL, O_DIST},	 {"city", no_argument, NULL, O_CITY},
		{"period", required_argument, NULL, O_PERIOD},	 {"base", required_argument, NULL, O_BASE},
		{"kind", required_argument, NULL, O_KIND},	 {"scope", required_argument, NULL, O_SCOPE},
		{"method", required_argument, NULL, O_METHOD},	 {"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},		 {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default();
	pb_msg req = {.type = PB_INTENSITY_REQUEST}, rep;
	pb_intensity_request *q = &req.u.intensity_request;
	bool json = false;
	int c, rc, ret = CLI_EXIT_FATAL;

	*q = (pb_intensity_request){.entity = "", .period = "", .kind = "", .base = "", .scope = "", .method = ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_ENT: q->level = STO_ENTERPRISE; q->entity = optarg; break;
		case O_DIST: q->level = STO_DISTRICT; q->entity = optarg; break;
		case O_CITY: q->level = STO_CITY; break;
		case O_PERIOD: q->period = optarg; break;
		case O_BASE: q->base = optarg; break;
		case O_KIND: q->kind = optarg; break;
		case O_SCOPE: q->scope = optarg; break;
		case O_METHOD: q->method = optarg; break;
		case O_JSON: json = true; break;
		case 'h': fputs(intensity_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("intensity", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("intensity", "unexpected argument '%s'", argv[optind]);
	if (q->level == 0 || q->period[0] == 0)
		return cli_usage_error("intensity", "name an entity (--enterprise, --district or --city) and --period");
	rc = ing_request(control, &req, TIMEOUT_MS, &rep);
	if (rc != 0) {
		fprintf(stderr, "ecoroll intensity: no reply from %s (%s; is ecorolld running?)\n", control,
			er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	if (rep.type != PB_REPORT || !rep.u.report.ok) {
		fprintf(stderr, "ecoroll intensity: %s\n", rep.type == PB_REPORT ? rep.u.report.error : "unexpected reply");
		goto done;
	}
	if (json)
		putchar('{');
	for (size_t i = 0; i < rep.u.report.nfields; i++) {
		const pb_field *f = &rep.u.report.fields[i];
		if (json) {
			fputs(i ? "," : "", stdout);
			cli_json_str(stdout, f->name);
			putchar(':');
			cli_json_str(stdout, f->value);
		} else {
			printf("%-34s %s\n", f->name, f->value);
		}
	}
	if (json)
		puts("}");
	ret = CLI_EXIT_OK;
done:
	pb_msg_fini(&rep);
	return ret;
}

static const char benchmark_help[] =
	"usage: ecoroll benchmark [--control EP] --industry CODE --period P [--scope S]\n"
	"                         [--method M] [--kind K] [--json]\n"
	"\n"
	"Efficiency benchmarking (能效对标, DOMAIN.md 9): the enterprises of one industry\n"
	"(GB/T 4754 code; a prefix ranks a wider group) ranked by energy intensity (tce\n"
	"per 10^4 yuan of value added, or of output value with --kind output) for a\n"
	"period, with rank (ties share one), percentile (100 best), the industry\n"
	"median and the gaps to the configured benchmark (标杆) and baseline (基准)\n"
	"of energy.dir/benchmarks.csv; enterprises worse than the baseline are marked\n"
	"for use restriction. Enterprises without a denominator are listed unranked.\n";

int cli_benchmark(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_IND, O_PERIOD, O_SCOPE, O_METHOD, O_KIND, O_JSON };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"industry", required_argument, NULL, O_IND},
		{"period", required_argument, NULL, O_PERIOD},	 {"scope", required_argument, NULL, O_SCOPE},
		{"method", required_argument, NULL, O_METHOD},	 {"kind", required_argument, NULL, O_KIND},
		{"json", no_argument, NULL, O_JSON},		 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default();
	pb_msg req = {.type = PB_BENCHMARK_REQUEST};
	pb_benchmark_request *q = &req.u.benchmark_request;
	bool json = false;
	int c;

	*q = (pb_benchmark_request){"", "", "", "", ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_IND: q->industry = optarg; break;
		case O_PERIOD: q->period = optarg; break;
		case O_SCOPE: q->scope = optarg; break;
		case O_METHOD: q->method = optarg; break;
		case O_KIND: q->kind = optarg; break;
		case O_JSON: json = true; break;
		case 'h': fputs(benchmark_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("benchmark", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("benchmark", "unexpected argument '%s'", argv[optind]);
	if (q->industry[0] == 0 || q->period[0] == 0)
		return cli_usage_error("benchmark", "--industry and --period are needed");
	return cli_table_request("benchmark", control, &req, TIMEOUT_MS, NULL, json);
}

static const char carbon_help[] =
	"usage: ecoroll carbon [--control EP] (--enterprise CODE | --district CODE | --city)\n"
	"                      --year YYYY [--to DATE] [--utc-offset OFF] [--json]\n"
	"\n"
	"A carbon account (碳账户, DOMAIN.md 4): CO2 from January 1 to --to (default:\n"
	"the whole year) by source (each fuel's combustion, purchased electricity,\n"
	"purchased heat; own renewables at factor 0), each with the factor in force\n"
	"(energy.dir/co2.csv, effective-dated), the total, the carbon intensity per\n"
	"10^4 yuan of value added (GDP for the city) over the same months, and the\n"
	"version of the factor table used.\n";

int cli_carbon(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_ENT, O_DIST, O_CITY, O_YEAR, O_TO, O_OFFSET, O_JSON };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"enterprise", required_argument, NULL, O_ENT},
		{"district", required_argument, NULL, O_DIST},	 {"city", no_argument, NULL, O_CITY},
		{"year", required_argument, NULL, O_YEAR},	 {"to", required_argument, NULL, O_TO},
		{"utc-offset", required_argument, NULL, O_OFFSET}, {"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},		 {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *to_s = NULL;
	pb_msg req = {.type = PB_CARBON_REQUEST};
	pb_carbon_request *q = &req.u.carbon_request;
	int offset = CLI_OFFSET_DEFAULT, c;
	uint64_t year = 0;
	bool json = false;

	*q = (pb_carbon_request){.entity = ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_ENT: q->level = STO_ENTERPRISE; q->entity = optarg; break;
		case O_DIST: q->level = STO_DISTRICT; q->entity = optarg; break;
		case O_CITY: q->level = STO_CITY; break;
		case O_YEAR:
			if (!cli_parse_u64(optarg, 2000, 2200, &year))
				return cli_usage_error("carbon", "--year takes a year from 2000 to 2200");
			break;
		case O_TO: to_s = optarg; break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &offset))
				return cli_usage_error("carbon", "bad --utc-offset '%s'", optarg);
			break;
		case O_JSON: json = true; break;
		case 'h': fputs(carbon_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("carbon", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("carbon", "unexpected argument '%s'", argv[optind]);
	if (q->level == 0 || year == 0)
		return cli_usage_error("carbon", "name an entity (--enterprise, --district or --city) and --year");
	q->year = (int32_t)year;
	if (to_s && er_time_parse(to_s, strlen(to_s), offset, &q->to) != 0)
		return cli_usage_error("carbon", "bad --to '%s'", to_s);
	return cli_table_request("carbon", control, &req, TIMEOUT_MS, NULL, json);
}

static const char monitoring_help[] =
	"usage: ecoroll monitoring [--control EP] (--district CODE | --city) --period P [--json]\n"
	"\n"
	"Online-monitoring coverage (DOMAIN.md 1, 3): every enterprise of the district\n"
	"or the city with its energy use last year (tce), whether that makes it a key\n"
	"energy user (monitoring.key_user_tce, default 1,000), whether it reports\n"
	"online, its readings received against expected for the period (each meter's\n"
	"interval), complete at >= monitoring.completeness_min_pct (90%), and for a\n"
	"month the largest gap between its day totals and its month total (limit\n"
	"monitoring.consistency_max_pct, 5%); then the coverage: key users online\n"
	"and complete / key users.\n";

int cli_monitoring(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_DIST, O_CITY, O_PERIOD, O_JSON };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"district", required_argument, NULL, O_DIST},
		{"city", no_argument, NULL, O_CITY},		 {"period", required_argument, NULL, O_PERIOD},
		{"json", no_argument, NULL, O_JSON},		 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default();
	pb_msg req = {.type = PB_MONITORING_REQUEST};
	pb_monitoring_request *q = &req.u.monitoring_request;
	bool json = false;
	int c;

	*q = (pb_monitoring_request){0, "", ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_DIST: q->level = STO_DISTRICT; q->entity = optarg; break;
		case O_CITY: q->level = STO_CITY; break;
		case O_PERIOD: q->period = optarg; break;
		case O_JSON: json = true; break;
		case 'h': fputs(monitoring_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("monitoring", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("monitoring", "unexpected argument '%s'", argv[optind]);
	if (q->level == 0 || q->period[0] == 0)
		return cli_usage_error("monitoring", "name --district CODE or --city, and --period");
	return cli_table_request("monitoring", control, &req, TIMEOUT_MS, NULL, json);
}

static const char report_help[] =
	"usage: ecoroll report indicators [--control EP] --entity CODE --year Y --base B\n"
	"                                 [--format text|csv|json]\n"
	"\n"
	"The yearly indicator table (DOMAIN.md 5) of an enterprise, a district (e.g.\n"
	"an eco-industrial park) or the city: energy, fresh water, wastewater and\n"
	"solid waste per 10^4 yuan of value added; value added per employee and per\n"
	"km2 of industrial land; value added's average annual growth; the energy,\n"
	"fresh-water and pollutant elasticities; the average annual reduction of CO2\n"
	"intensity; each against its limit in indicators.file (pass/fail; an\n"
	"elasticity limit applies the other way when value added shrinks). Figures\n"
	"not metered come from econ imports: employees, land_km2, wastewater_t,\n"
	"solid_waste_t, cod_t, nh3n_t, so2_t, nox_t. Shown to two decimals.\n";

int cli_report(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_ENTITY, O_YEAR, O_BASE, O_FORMAT };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"entity", required_argument, NULL, O_ENTITY},
		{"year", required_argument, NULL, O_YEAR},	 {"base", required_argument, NULL, O_BASE},
		{"format", required_argument, NULL, O_FORMAT},	 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *format = "text";
	pb_msg req = {.type = PB_INDICATORS_REQUEST};
	pb_indicators_request *q = &req.u.indicators_request;
	uint64_t year = 0, base = 0;
	int c;

	*q = (pb_indicators_request){.entity = ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_ENTITY: q->entity = optarg; break;
		case O_YEAR:
		case O_BASE:
			if (!cli_parse_u64(optarg, 2000, 2200, c == O_YEAR ? &year : &base))
				return cli_usage_error("report", "--year and --base take years from 2000 to 2200");
			break;
		case O_FORMAT: format = optarg; break;
		case 'h': fputs(report_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("report", c, argv);
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "indicators") != 0)
		return cli_usage_error("report", "the report is 'indicators'");
	if (q->entity[0] == 0 || year == 0 || base == 0 || base >= year)
		return cli_usage_error("report", "--entity, --year and an earlier --base are needed");
	if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("report", "--format is text, csv or json");
	q->year = (int32_t)year;
	q->base = (int32_t)base;
	return cli_table_request("report", control, &req, TIMEOUT_MS, strcmp(format, "csv") == 0 ? cli_print_csv : NULL,
				 strcmp(format, "json") == 0);
}
