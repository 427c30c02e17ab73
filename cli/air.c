/* air.c: ecoroll air: hourly, daily, monthly and annual air-quality
 * statistics of a station, a district or the city (DOMAIN.md 7, 8), as a
 * table or JSON. The node computes everything; this prints it. */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"
#include "store.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000 /* a year of hourly data for a city takes a moment */

static const char air_help[] =
	"usage: ecoroll air KIND [--control EP] (--station CODE | --district CODE | --city)\n"
	"                   [--from TIME --to TIME | --year YYYY] [--utc-offset OFF] [--json]\n"
	"\n"
	"KIND:\n"
	"  hourly    concentrations (ug/m3; CO mg/m3), hourly AQI, category, primary\n"
	"            pollutants and the rule set (HJ 633-2012 before 2026-03-01,\n"
	"            HJ 633-2026 from then), for every hour with data\n"
	"  daily     daily means (>= 20 valid hours), O3 MDA8 and max 1h, daily AQI;\n"
	"            with --year, the year's daily AQI calendar\n"
	"  monthly   monthly means (>= 27 valid days; February 25), good-day share\n"
	"  annual    annual means (>= 324 days, >= 27 a month), P95/P98/P90, the\n"
	"            good-day share with one decimal and the targets' warning levels\n"
	"A district or the city is the mean of its evaluation stations'\n"
	"concentrations, its indices computed from those means.\n"
	"--from/--to take local dates or times (default offset +08:00); --year a\n"
	"calendar year (annual needs it).\n";

int cli_air(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_STATION, O_DISTRICT, O_CITY, O_FROM, O_TO, O_YEAR, O_OFFSET, O_JSON };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"station", required_argument, NULL, O_STATION},
		{"district", required_argument, NULL, O_DISTRICT}, {"city", no_argument, NULL, O_CITY},
		{"from", required_argument, NULL, O_FROM},	   {"to", required_argument, NULL, O_TO},
		{"year", required_argument, NULL, O_YEAR},	   {"utc-offset", required_argument, NULL, O_OFFSET},
		{"json", no_argument, NULL, O_JSON},		   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *from_s = NULL, *to_s = NULL;
	pb_msg req = {.type = PB_AIR_REQUEST};
	pb_air_request *q = &req.u.air_request;
	int offset = CLI_OFFSET_DEFAULT, c;
	uint64_t year = 0;
	bool json = false;

	*q = (pb_air_request){.entity = "", .kind = ""};
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_STATION: q->level = STO_STATION; q->entity = optarg; break;
		case O_DISTRICT: q->level = STO_DISTRICT; q->entity = optarg; break;
		case O_CITY: q->level = STO_CITY; break;
		case O_FROM: from_s = optarg; break;
		case O_TO: to_s = optarg; break;
		case O_YEAR:
			if (!cli_parse_u64(optarg, 2000, 2200, &year))
				return cli_usage_error("air", "--year takes a year from 2000 to 2200");
			break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &offset))
				return cli_usage_error("air", "bad --utc-offset '%s'", optarg);
			break;
		case O_JSON: json = true; break;
		case 'h': fputs(air_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("air", c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("air", "name one KIND: hourly, daily, monthly or annual");
	q->kind = argv[optind];
	if (q->level == 0)
		return cli_usage_error("air", "name an entity: --station, --district or --city");
	q->year = (int32_t)year;
	if (year) {
		q->from = er_days_from_civil((int64_t)year, 1, 1) * 86400 - offset;
		q->to = er_days_from_civil((int64_t)year + 1, 1, 1) * 86400 - offset;
	}
	if (from_s && er_time_parse(from_s, strlen(from_s), offset, &q->from) != 0)
		return cli_usage_error("air", "bad --from '%s'", from_s);
	if (to_s && er_time_parse(to_s, strlen(to_s), offset, &q->to) != 0)
		return cli_usage_error("air", "bad --to '%s'", to_s);
	if (strcmp(q->kind, "annual") == 0 && year == 0)
		return cli_usage_error("air", "annual needs --year");
	if (strcmp(q->kind, "annual") != 0 && (q->from == 0 || q->to == 0))
		return cli_usage_error("air", "give --from and --to, or --year");
	return cli_table_request("air", control, &req, TIMEOUT_MS, NULL, json);
}
