/* budget.c: ecoroll budget import and ecoroll budget status: energy
 * budgets and intensity targets in, their warning levels out (DOMAIN.md 6).
 * The node evaluates the levels; level changes are events (ecoroll events
 * --type warning) and are published on its PUB socket. */
#include "cli.h"

#include "codec.h"
#include "er.h"
#include "registry.h"
#include "store.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 15000

static const char budget_help[] =
	"usage: ecoroll budget import [--control EP] FILE\n"
	"       ecoroll budget status [--control EP] [--enterprise CODE | --district CODE | --city]\n"
	"                             [--year Y] [--format text|csv|json]\n"
	"\n"
	"import stores annual budgets and intensity targets (all or nothing; a row\n"
	"for the same entity, year and kind replaces the stored one):\n"
	"  level,entity,year,kind,target,base,profile\n"
	"  enterprise,E0101,2026,budget,1200,,\n"
	"  enterprise,E0102,2026,budget,800,,20;10;7;7;7;7;7;7;7;7;7;7\n"
	"  district,D01,2026,budget,50000,,last_year\n"
	"  city,,2026,intensity,-3,2020,\n"
	"kind budget: target in tce (budget scope: no feedstock, no new renewables);\n"
	"  profile empty (the year's elapsed share), 12 monthly or cumulative\n"
	"  percentages separated by ';', or last_year (last year's monthly use).\n"
	"kind intensity: target = change in percent of tce per 10^4 yuan against\n"
	"  base: a year (its whole-year intensity) or empty/last (the same months\n"
	"  last year); value added, GDP for the city.\n"
	"\n"
	"status prints each budget's YTD use up to the data time (the end of the\n"
	"latest hour with data in the year), the expected share and use, the\n"
	"projected year-end, and the level: green (projected <= budget), yellow\n"
	"(budget < projected <= 1.10 x budget), red (above, or YTD > budget); no\n"
	"projection before 2% of the year is expected (conf/warnings.csv).\n";

static int import(const char *control, const char *path)
{
	pb_msg req = {.type = PB_BUDGET_IMPORT};
	char *text;
	size_t len;
	if (er_read_file(path, &text, &len) != 0) {
		fprintf(stderr, "ecoroll budget: cannot read %s\n", path);
		return CLI_EXIT_FATAL;
	}
	req.u.econ_import.csv = text;
	req.u.econ_import.origin = path;
	int ret = cli_command_request("budget", control, &req, TIMEOUT_MS);
	free(text);
	return ret;
}

int cli_budget(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_ENT, O_DIST, O_CITY, O_YEAR, O_FORMAT };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"enterprise", required_argument, NULL, O_ENT},
		{"district", required_argument, NULL, O_DIST},	 {"city", no_argument, NULL, O_CITY},
		{"year", required_argument, NULL, O_YEAR},	 {"format", required_argument, NULL, O_FORMAT},
		{"help", no_argument, NULL, 'h'},		 {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *format = "text";
	pb_msg req = {.type = PB_BUDGET_STATUS_REQUEST};
	pb_budget_status_request *q = &req.u.budget_status_request;
	uint64_t year = 0;
	int c;

	*q = (pb_budget_status_request){.entity = ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_ENT: q->level = STO_ENTERPRISE; q->entity = optarg; break;
		case O_DIST: q->level = STO_DISTRICT; q->entity = optarg; break;
		case O_CITY: q->level = STO_CITY; break;
		case O_YEAR:
			if (!cli_parse_u64(optarg, 2000, 2200, &year))
				return cli_usage_error("budget", "--year takes a year from 2000 to 2200");
			break;
		case O_FORMAT: format = optarg; break;
		case 'h': fputs(budget_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("budget", c, argv);
		}
	}
	if (optind < argc && strcmp(argv[optind], "import") == 0) {
		if (argc - optind != 2)
			return cli_usage_error("budget", "import takes one FILE");
		return import(control, argv[optind + 1]);
	}
	if (argc - optind != 1 || strcmp(argv[optind], "status") != 0)
		return cli_usage_error("budget", "expected 'import FILE' or 'status'");
	if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("budget", "--format is text, csv or json");
	q->year = (int32_t)year;
	return cli_table_request("budget", control, &req, TIMEOUT_MS, strcmp(format, "csv") == 0 ? cli_print_csv : NULL,
				 strcmp(format, "json") == 0);
}
