/* query.c: ecoroll query, the rollups of one entity as a table or JSON.
 *
 * One Query request to the control endpoint, one QueryReply back. Sums,
 * minima and maxima travel as integer micro-units and are printed with
 * er_fx_format, so what is shown is the exact stored decimal; only the
 * coverage percentage goes through a double, as it is display-only.
 * Bucket starts are shown in the server's local time (the reply's
 * utc_offset_s), because calendar buckets are local (DOMAIN.md 2).
 * --from/--to are parsed before the reply tells the server's offset, so
 * times without a zone are read at --utc-offset (default +08:00).
 */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"
#include "registry.h"
#include "store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CMD              "query"
#define QUERY_TIMEOUT_MS 10000
#define FROM_DEFAULT     946684800LL  /* 2000-01-01T00:00:00Z: nothing older is stored */
#define TO_DEFAULT       4102444800LL /* 2100-01-01T00:00:00Z */

static const char help_text[] =
    "usage: ecoroll query [OPTIONS] (--meter CODE | --enterprise CODE | --district CODE |\n"
    "                                --station CODE | --city)\n"
    "\n"
    "Prints the rollups of one entity: one row per bucket, carrier and purpose.\n"
    "\n"
    "options:\n"
    "  --control EP        control endpoint (default $ECOROLL_CONTROL or " CLI_CONTROL_DEFAULT ")\n"
    "  --res RES           hour (default), day, month or year\n"
    "  --from TIME         first bucket to include (ISO 8601 or epoch seconds);\n"
    "                      default: everything\n"
    "  --to TIME           end of the range, exclusive; default: everything\n"
    "  --utc-offset OFF    offset for --from/--to without a zone (default +08:00;\n"
    "                      the server's own offset is known only from its reply)\n"
    "  --carrier NAME      one carrier or pollutant (electricity, water, heat, steam,\n"
    "                      gas, coal, oil, pv, power, pm25, pm10, o3, no2, so2, co)\n"
    "  --unit UNIT         native (default); tce (standard coal, tonnes); co2 (tCO2):\n"
    "                      derived from the coefficient tables in force for each day,\n"
    "                      with a 'total' row per bucket across the carriers that count\n"
    "  --method M          electricity in tce: calorific (default, 0.1229 kgce/kWh) or\n"
    "                      equivalent (the grid's generation value)\n"
    "  --scope S           with --unit: all (default), no-feedstock, or control (no\n"
    "                      feedstock and no renewables: the budget scope)\n"
    "  --json              one JSON object instead of a table; sums are exact\n"
    "                      decimal strings (\"sum\") and integer micro-units (\"sum_micro\")\n"
    "  -h, --help          this text\n"
    "\n"
    "Columns: bucket start (local time of the server), carrier, purpose, sum, unit,\n"
    "count, min and max (meters and stations only), coverage (seconds with data\n"
    "as a share of the bucket times its member count), members, and E for a bucket\n"
    "holding estimated (apportioned) data.\n"
    "\n"
    "exit status: 0 success (also when there is no data); 2 usage error, no reply,\n"
    "or an error reported by the server.\n";

typedef struct qopts {
	const char *control, *entity, *carrier;
	const char *unit, *method, *scope; /* NULL: the server's defaults */
	int level, res, offset;
	const char *from_s, *to_s;
	bool json;
} qopts;

/* Bucket start as local text: the date for day, YYYY-MM for month, YYYY
 * for year, "YYYY-MM-DD HH:MM" for hour. */
static void bucket_label(int64_t start, int res, int offset, char *buf, size_t cap)
{
	char iso[48];

	er_time_format(start, offset, iso, sizeof iso); /* 2026-11-01T08:00:00+08:00 */
	switch (res) {
	case ER_RES_YEAR: snprintf(buf, cap, "%.4s", iso); break;
	case ER_RES_MONTH: snprintf(buf, cap, "%.7s", iso); break;
	case ER_RES_DAY: snprintf(buf, cap, "%.10s", iso); break;
	default: snprintf(buf, cap, "%.10s %.5s", iso, iso + 11); break;
	}
}

static double coverage_pct(const pb_row *r, int res, int offset)
{
	int64_t len = er_bucket_next(r->start, (enum er_res)res, offset) - r->start;
	double denom = (double)len * (double)(r->members > 0 ? r->members : 1);

	return denom > 0 ? 100.0 * (double)r->coverage_s / denom : 0.0;
}

/* min and max are meaningful for a meter's or a station's own rows; tier
 * rows and empty rows carry the sentinels of an empty value. */
static bool has_minmax(const pb_row *r, int level)
{
	return (level == STO_METER || level == STO_STATION) && r->count > 0 && r->min <= r->max;
}

static const char *entity_desc(const qopts *o, char *buf, size_t cap)
{
	if (o->level == STO_CITY)
		snprintf(buf, cap, "the city");
	else
		snprintf(buf, cap, "%s %s", sto_level_name(o->level), o->entity);
	return buf;
}

enum {
	C_START,
	C_CARRIER,
	C_PURPOSE,
	C_SUM,
	C_MEAN,
	C_UNIT,
	C_VALUE,
	C_VUNIT,
	C_COUNT,
	C_MIN,
	C_MAX,
	C_COVER,
	C_MEMBERS,
	C_COMPLETE,
	C_FLAG,
	NCOL
};

/* Levels (kW, concentrations) are read by their mean; quantities by their sum. */
static bool is_level(const char *carrier)
{
	int c = agg_carrier_parse(carrier);
	return c == AGG_POWER || c >= AGG_PM25;
}

/* sum / count rounded half away from zero, in micro-units. */
static er_fx mean_of(const pb_row *r)
{
	if (r->count <= 0)
		return 0;
	er_fx q = r->sum / r->count, rem = r->sum % r->count;
	if (2 * (rem < 0 ? -rem : rem) >= r->count)
		q += r->sum < 0 ? -1 : 1;
	return q;
}

static void print_table(const qopts *o, const pb_query_reply *q)
{
	static const char *heads[NCOL] = {"start",   "carrier",	 "purpose", "sum", "mean",     "unit",
					  "derived", "",	 "count",   "min", "max",      "coverage",
					  "members", "complete", "E"};
	static const bool right[NCOL] = {false, false, false, true, true, true, true, false,
					 true,	true,  true,  true, true, true, false};
	bool show[NCOL];
	size_t w[NCOL];
	char(*cells)[NCOL][48] = calloc(q->nrows ? q->nrows : 1, sizeof *cells);
	char head0[48], offs[48];

	if (cells == NULL) {
		fputs("ecoroll query: out of memory\n", stderr);
		return;
	}
	for (int c = 0; c < NCOL; c++)
		show[c] = true;
	show[C_MIN] = show[C_MAX] = o->level == STO_METER || o->level == STO_STATION;
	/* members counts meters behind a tier row; a meter's own row has none */
	show[C_MEMBERS] = show[C_COMPLETE] = !(o->level == STO_METER || o->level == STO_STATION);
	show[C_VALUE] = show[C_VUNIT] = o->unit != NULL && strcmp(o->unit, "native") != 0;
	show[C_FLAG] = false;
	show[C_MEAN] = false;
	for (size_t i = 0; i < q->nrows; i++)
		if (is_level(q->rows[i].carrier))
			show[C_MEAN] = true;
	/* The offset in the start column's heading: the rows are local. */
	er_time_format(0, q->utc_offset_s, offs, sizeof offs);
	snprintf(head0, sizeof head0, "start (%s)", offs + 19);
	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(c == C_START ? head0 : heads[c]);
	for (size_t i = 0; i < q->nrows; i++) {
		const pb_row *r = &q->rows[i];
		char(*row)[48] = cells[i];

		bucket_label(r->start, q->resolution, q->utc_offset_s, row[C_START], 48);
		snprintf(row[C_CARRIER], 48, "%s", r->carrier);
		snprintf(row[C_PURPOSE], 48, "%s", r->purpose[0] ? r->purpose : "-");
		er_fx_format(r->sum, row[C_SUM], 48);
		if (is_level(r->carrier) && r->count > 0)
			er_fx_format(mean_of(r), row[C_MEAN], 48);
		else
			strcpy(row[C_MEAN], "-");
		snprintf(row[C_UNIT], 48, "%s", r->unit);
		snprintf(row[C_COUNT], 48, "%" PRId64, r->count);
		if (has_minmax(r, o->level)) {
			er_fx_format(r->min, row[C_MIN], 48);
			er_fx_format(r->max, row[C_MAX], 48);
		} else {
			strcpy(row[C_MIN], "-");
			strcpy(row[C_MAX], "-");
		}
		snprintf(row[C_COVER], 48, "%.1f%%", coverage_pct(r, q->resolution, q->utc_offset_s));
		snprintf(row[C_MEMBERS], 48, "%" PRIu32, r->members);
		snprintf(row[C_COMPLETE], 48, "%" PRIu32, r->complete);
		snprintf(row[C_VALUE], 48, "%s", r->value[0] ? r->value : "-");
		snprintf(row[C_VUNIT], 48, "%s", r->value_unit);
		if (strcmp(r->carrier, "total") == 0) {
			/* a derived total: the sum column means nothing */
			strcpy(row[C_SUM], "");
			strcpy(row[C_COUNT], "");
			strcpy(row[C_COVER], "");
			strcpy(row[C_MEMBERS], "");
			strcpy(row[C_COMPLETE], "");
		}
		strcpy(row[C_FLAG], r->flags & 1 ? "E" : "");
		if (r->flags & 1)
			show[C_FLAG] = true;
		for (int c = 0; c < NCOL; c++)
			if (strlen(row[c]) > w[c])
				w[c] = strlen(row[c]);
	}
	for (int c = 0, first = 1; c < NCOL; c++) {
		if (!show[c])
			continue;
		printf("%s%*s", first ? "" : "  ", right[c] ? (int)w[c] : -(int)w[c], c == C_START ? head0 : heads[c]);
		first = 0;
	}
	putchar('\n');
	for (size_t i = 0; i < q->nrows; i++) {
		/* Trailing spaces are trimmed: the last column is often empty. */
		char line[NCOL * 52], *p = line;
		for (int c = 0, first = 1; c < NCOL; c++) {
			if (!show[c])
				continue;
			p += sprintf(p, "%s%*s", first ? "" : "  ", right[c] ? (int)w[c] : -(int)w[c], cells[i][c]);
			first = 0;
		}
		while (p > line && p[-1] == ' ')
			p--;
		*p = 0;
		puts(line);
	}
	free(cells);
}

static void print_json(const qopts *o, const pb_query_reply *q)
{
	char buf[48];

	fputs("{\"entity\":", stdout);
	cli_json_str(stdout, q->entity[0] ? q->entity : (o->entity ? o->entity : ""));
	printf(",\"level\":\"%s\",\"resolution\":\"%s\",\"utc_offset_s\":%d,", sto_level_name(q->level),
	       er_res_name((enum er_res)q->resolution), (int)q->utc_offset_s);
	if (q->table_version[0])
		printf("\"table_version\":\"%s\",", q->table_version);
	fputs("\"rows\":[", stdout);
	for (size_t i = 0; i < q->nrows; i++) {
		const pb_row *r = &q->rows[i];

		fputs(i ? ",\n{" : "\n{", stdout);
		er_time_format(r->start, q->utc_offset_s, buf, sizeof buf);
		printf("\"start\":\"%s\",\"start_s\":%" PRId64 ",\"carrier\":", buf, r->start);
		cli_json_str(stdout, r->carrier);
		fputs(",\"purpose\":", stdout);
		cli_json_str(stdout, r->purpose);
		fputs(",\"unit\":", stdout);
		cli_json_str(stdout, r->unit);
		er_fx_format(r->sum, buf, sizeof buf);
		printf(",\"sum\":\"%s\",\"sum_micro\":%" PRId64 ",\"count\":%" PRId64, buf, r->sum, r->count);
		/* min and max as exact decimal literals, null where they mean
		 * nothing (tier rows). */
		if (has_minmax(r, q->level)) {
			er_fx_format(r->min, buf, sizeof buf);
			printf(",\"min\":%s", buf);
			er_fx_format(r->max, buf, sizeof buf);
			printf(",\"max\":%s", buf);
		} else {
			fputs(",\"min\":null,\"max\":null", stdout);
		}
		printf(",\"coverage_s\":%" PRIu64 ",\"coverage_pct\":%.1f,\"members\":%" PRIu32 ",\"complete\":%" PRIu32
		       ",\"estimated\":%s",
		       r->coverage_s, coverage_pct(r, q->resolution, q->utc_offset_s), r->members, r->complete,
		       r->flags & 1 ? "true" : "false");
		if (r->value_unit[0] || r->value[0]) {
			fputs(",\"value\":", stdout);
			cli_json_str(stdout, r->value);
			fputs(",\"value_unit\":", stdout);
			cli_json_str(stdout, r->value_unit);
			fputs(",\"source\":", stdout);
			cli_json_str(stdout, r->source);
		}
		putchar('}');
	}
	puts(q->nrows ? "\n]}" : "]}");
}

static int parse_time(const char *opt, const char *s, int offset, int64_t *out)
{
	if (er_time_parse(s, strlen(s), offset, out) != 0)
		return cli_usage_error(CMD,
				       "%s '%s' is not a time (2026-11-01, 2026-11-01T08:00, "
				       "2026-11-01T08:00:00+08:00 or epoch seconds)",
				       opt, s);
	return 0;
}

int cli_query(int argc, char **argv)
{
	enum {
		O_CONTROL = 256,
		O_METER,
		O_ENTERPRISE,
		O_DISTRICT,
		O_STATION,
		O_CITY,
		O_RES,
		O_FROM,
		O_TO,
		O_CARRIER,
		O_JSON,
		O_OFFSET,
		O_UNIT,
		O_METHOD,
		O_SCOPE
	};
	static const struct option lo[] = {
	    {"control", required_argument, NULL, O_CONTROL},
	    {"meter", required_argument, NULL, O_METER},
	    {"enterprise", required_argument, NULL, O_ENTERPRISE},
	    {"district", required_argument, NULL, O_DISTRICT},
	    {"station", required_argument, NULL, O_STATION},
	    {"city", no_argument, NULL, O_CITY},
	    {"res", required_argument, NULL, O_RES},
	    {"from", required_argument, NULL, O_FROM},
	    {"to", required_argument, NULL, O_TO},
	    {"carrier", required_argument, NULL, O_CARRIER},
	    {"json", no_argument, NULL, O_JSON},
	    {"utc-offset", required_argument, NULL, O_OFFSET},
	    {"unit", required_argument, NULL, O_UNIT},
	    {"method", required_argument, NULL, O_METHOD},
	    {"scope", required_argument, NULL, O_SCOPE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	qopts o = {.control = cli_control_default(), .res = ER_RES_HOUR, .offset = CLI_OFFSET_DEFAULT};
	pb_msg req = {.type = PB_QUERY}, rep;
	int64_t from = FROM_DEFAULT, to = TO_DEFAULT;
	int c, rc, nent = 0, ret = CLI_EXIT_FATAL;
	char desc[128];

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: o.control = optarg; break;
		case O_METER:
		case O_ENTERPRISE:
		case O_DISTRICT:
		case O_STATION:
			o.level = c == O_METER        ? STO_METER
				  : c == O_ENTERPRISE ? STO_ENTERPRISE
				  : c == O_DISTRICT   ? STO_DISTRICT
						      : STO_STATION;
			if (optarg[0] == 0)
				return cli_usage_error(CMD, "an empty code for --%s", sto_level_name(o.level));
			o.entity = optarg;
			nent++;
			break;
		case O_CITY:
			o.level = STO_CITY;
			o.entity = "";
			nent++;
			break;
		case O_RES: {
			enum er_res r;
			if (er_res_parse(optarg, &r) != 0)
				return cli_usage_error(CMD, "--res '%s' is not hour, day, month or year", optarg);
			o.res = (int)r;
			break;
		}
		case O_FROM: o.from_s = optarg; break;
		case O_TO: o.to_s = optarg; break;
		case O_CARRIER:
			if (agg_carrier_parse(optarg) == 0)
				return cli_usage_error(CMD,
						       "unknown carrier '%s' (electricity, water, heat, steam, gas, "
						       "coal, oil, pv, power, pm25, pm10, o3, no2, so2, co)",
						       optarg);
			o.carrier = optarg;
			break;
		case O_JSON: o.json = true; break;
		case O_UNIT: o.unit = optarg; break;
		case O_METHOD: o.method = optarg; break;
		case O_SCOPE: o.scope = optarg; break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &o.offset))
				return cli_usage_error(CMD, "--utc-offset '%s' is not an offset like +08:00 or -03:30",
						       optarg);
			break;
		case 'h': fputs(help_text, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (nent != 1)
		return cli_usage_error(CMD, "%s",
				       nent == 0
					   ? "say what to query: --meter, --enterprise, --district, "
					     "--station CODE or --city"
					   : "give only one of --meter, --enterprise, --district, --station, --city");
	if (o.from_s != NULL && (rc = parse_time("--from", o.from_s, o.offset, &from)) != 0)
		return rc;
	if (o.to_s != NULL && (rc = parse_time("--to", o.to_s, o.offset, &to)) != 0)
		return rc;
	if (from >= to)
		return cli_usage_error(CMD, "--from must be before --to");

	req.u.query.level = o.level;
	req.u.query.entity = o.entity;
	req.u.query.resolution = o.res;
	req.u.query.from = from;
	req.u.query.to = to;
	req.u.query.carrier = o.carrier != NULL ? o.carrier : "";
	req.u.query.unit = o.unit != NULL ? o.unit : "";
	req.u.query.method = o.method != NULL ? o.method : "";
	req.u.query.scope = o.scope != NULL ? o.scope : "";
	rc = ing_request(o.control, &req, QUERY_TIMEOUT_MS, &rep);
	if (rc == ER_ETIMEDOUT) {
		fprintf(stderr, "ecoroll query: no reply from %s within %d s (is ecorolld running?)\n", o.control,
			QUERY_TIMEOUT_MS / 1000);
		return CLI_EXIT_FATAL;
	}
	if (rc != 0) {
		fprintf(stderr, "ecoroll query: request to %s failed: %s\n", o.control, er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	if (rep.type != PB_QUERY_REPLY) {
		fprintf(stderr, "ecoroll query: %s answered with something other than a query reply\n", o.control);
		goto done;
	}
	/* A reply that leaves level or resolution unset means what was asked. */
	pb_query_reply qr = rep.u.query_reply;
	const pb_query_reply *q = &qr;
	if (qr.level < STO_METER || qr.level > STO_STATION)
		qr.level = o.level;
	if (qr.resolution < ER_RES_HOUR || qr.resolution > ER_RES_YEAR)
		qr.resolution = o.res;
	if (!q->ok) {
		fprintf(stderr, "ecoroll query: %s\n", q->error[0] ? q->error : "the server refused the query");
		goto done;
	}
	if (q->nrows == 0) {
		fprintf(stderr, "no data for %s in that range\n", entity_desc(&o, desc, sizeof desc));
		if (o.json)
			print_json(&o, q);
		ret = CLI_EXIT_OK;
		goto done;
	}
	if (o.json)
		print_json(&o, q);
	else
		print_table(&o, q);
	ret = CLI_EXIT_OK;
done:
	pb_msg_fini(&rep);
	return ret;
}
