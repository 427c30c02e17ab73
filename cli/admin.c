/* admin.c: ecoroll registry import and ecoroll status, the two control
 * requests that administer a node rather than ask it for data.
 *
 * registry import sends the text of up to four registry CSV files in one
 * RegistryImport; the server validates them together and applies all or
 * nothing (aggregate/registry.h), so a partial import never happens and the
 * command needs no undo. The file paths travel in the origin field, joined
 * by ';' in the order districts;enterprises;meters;stations (empty for a
 * file not sent), so the server's "file:line: reason" names the user's
 * files. status prints what StatusReply carries, as text or JSON.
 */
#include "api.h"
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"
#include "registry.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An import validates every row and persists the new ones in one LMDB
 * transaction; a city of 100,000 meters takes seconds, not minutes. */
#define IMPORT_TIMEOUT_MS 60000
#define STATUS_TIMEOUT_MS 10000

static const char registry_help[] =
    "usage: ecoroll registry import [OPTIONS] [DIR]\n"
    "\n"
    "Imports registry CSV files into a node: DIR/districts.csv, DIR/enterprises.csv,\n"
    "DIR/meters.csv and DIR/stations.csv, each if it exists, or the files named by\n"
    "the options (which take precedence over DIR). At least one file is needed.\n"
    "The server checks all files together and imports all or nothing; a row equal\n"
    "to a registered entry changes nothing, a row that would change one is refused.\n"
    "\n"
    "options:\n"
    "  --control EP        control endpoint (default $ECOROLL_CONTROL or " CLI_CONTROL_DEFAULT ")\n"
    "  --districts F       districts.csv     (code,name)\n"
    "  --enterprises F     enterprises.csv   (code,name,district,industry)\n"
    "  --meters F          meters.csv        (code,enterprise,carrier,unit,mode,capacity,\n"
    "                                         max_per_hour,purpose,interval_s)\n"
    "  --stations F        stations.csv      (code,name,district,pollutants,evaluation)\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 imported; 2 usage error, unreadable file, no reply, or the\n"
    "server refused the import (every error is listed on stderr as FILE:LINE: reason).\n";

static const char status_help[] =
    "usage: ecoroll status [--control EP] [--json | --prometheus]\n"
    "\n"
    "Prints a node's role, uptime, registered series, flushes, database size, its\n"
    "counters and the high-water sequence number of every sender. A district node\n"
    "adds its outbox (entries, bytes, lag: the age of the oldest entry the city has\n"
    "not acknowledged) and its uplink (upstream, state, the city's last refusal); a\n"
    "city node lists the districts each district node owns (README \"Three tiers\").\n"
    "\n"
    "options:\n"
    "  --control EP        control endpoint (default $ECOROLL_CONTROL or " CLI_CONTROL_DEFAULT ")\n"
    "  --json              one JSON object\n"
    "  --prometheus        the counters in the Prometheus text format, for a scraper\n"
    "                      (e.g. node_exporter's textfile collector)\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 success; 2 usage error or no reply.\n";

static const char *const file_names[AGG_F_COUNT] = {"districts.csv", "enterprises.csv", "meters.csv", "stations.csv"};

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int registry_import(int argc, char **argv)
{
	static const char cmd[] = "registry import";
	enum { O_CONTROL = 256, O_D, O_E, O_M, O_S };
	static const struct option lo[] = {
	    {"control", required_argument, NULL, O_CONTROL},
	    {"districts", required_argument, NULL, O_D},
	    {"enterprises", required_argument, NULL, O_E},
	    {"meters", required_argument, NULL, O_M},
	    {"stations", required_argument, NULL, O_S},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *dir = NULL;
	char *path[AGG_F_COUNT] = {0}, *text[AGG_F_COUNT] = {0}, *origin = NULL;
	pb_msg req = {.type = PB_REGISTRY_IMPORT}, rep = {0};
	int c, rc, ret = CLI_EXIT_FATAL, nfiles = 0;
	size_t olen = 0;
	bool have_rep = false;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_D:
		case O_E:
		case O_M:
		case O_S:
			free(path[c - O_D]);
			path[c - O_D] = strdup(optarg);
			break;
		case 'h':
			fputs(registry_help, stdout);
			ret = CLI_EXIT_OK;
			goto done;
		default: ret = cli_bad_option(cmd, c, argv); goto done;
		}
	}
	if (argc - optind > 1) {
		ret = cli_usage_error(cmd, "one directory at most (got '%s' and '%s')", argv[optind], argv[optind + 1]);
		goto done;
	}
	if (optind < argc)
		dir = argv[optind];
	for (int f = 0; f < AGG_F_COUNT; f++) {
		if (path[f] != NULL || dir == NULL)
			continue;
		char buf[4096];
		snprintf(buf, sizeof buf, "%s/%s", dir, file_names[f]);
		if (exists(buf))
			path[f] = strdup(buf);
	}
	for (int f = 0; f < AGG_F_COUNT; f++) {
		if (path[f] == NULL)
			continue;
		if (agg_read_file(path[f], &text[f]) != 0) {
			fprintf(stderr, "ecoroll registry import: cannot read %s: %s\n", path[f], strerror(errno));
			goto done;
		}
		nfiles++;
		olen += strlen(path[f]);
	}
	if (nfiles == 0) {
		if (dir != NULL)
			fprintf(stderr,
				"ecoroll registry import: %s holds none of districts.csv, enterprises.csv, "
				"meters.csv, stations.csv\n",
				dir);
		else
			ret = cli_usage_error(cmd, "give a DIR or at least one of --districts, --enterprises, "
						   "--meters, --stations");
		goto done;
	}
	origin = malloc(olen + AGG_F_COUNT);
	if (origin == NULL)
		goto done;
	origin[0] = 0;
	for (int f = 0; f < AGG_F_COUNT; f++) {
		if (f > 0)
			strcat(origin, ";");
		if (path[f] != NULL)
			strcat(origin, path[f]);
	}
	req.u.registry_import.districts_csv = text[AGG_F_DISTRICTS] ? text[AGG_F_DISTRICTS] : "";
	req.u.registry_import.enterprises_csv = text[AGG_F_ENTERPRISES] ? text[AGG_F_ENTERPRISES] : "";
	req.u.registry_import.meters_csv = text[AGG_F_METERS] ? text[AGG_F_METERS] : "";
	req.u.registry_import.stations_csv = text[AGG_F_STATIONS] ? text[AGG_F_STATIONS] : "";
	req.u.registry_import.origin = origin;
	rc = ing_request(control, &req, IMPORT_TIMEOUT_MS, &rep);
	if (rc != 0) {
		if (rc == ER_ETIMEDOUT)
			fprintf(stderr,
				"ecoroll registry import: no reply from %s within %d s (is ecorolld running?)\n",
				control, IMPORT_TIMEOUT_MS / 1000);
		else
			fprintf(stderr, "ecoroll registry import: request to %s failed: %s\n", control,
				er_strerror(rc));
		goto done;
	}
	have_rep = true;
	if (rep.type != PB_REGISTRY_REPLY) {
		fprintf(stderr, "ecoroll registry import: %s answered with something other than a registry reply\n",
			control);
		goto done;
	}
	const pb_registry_reply *r = &rep.u.registry_reply;
	for (size_t i = 0; i < r->nerrors; i++)
		fprintf(stderr, "%s\n", r->errors[i]);
	if (!r->ok) {
		if (r->nerrors == 0)
			fprintf(stderr, "ecoroll registry import: the server refused the import without a reason\n");
		goto done;
	}
	printf("imported: %" PRIu32 " districts, %" PRIu32 " enterprises, %" PRIu32 " meters, %" PRIu32
	       " stations (%" PRIu32 " new)\n",
	       r->districts, r->enterprises, r->meters, r->stations, r->added);
	ret = CLI_EXIT_OK;
done:
	if (have_rep)
		pb_msg_fini(&rep);
	for (int f = 0; f < AGG_F_COUNT; f++) {
		free(path[f]);
		free(text[f]);
	}
	free(origin);
	return ret;
}

int cli_registry(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return registry_import(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(registry_help, stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error("registry", "say what to do: 'ecoroll registry import [DIR]'");
	return cli_usage_error("registry", "unknown subcommand '%s' (import)", argv[1]);
}

/* "3d 04:05:06" */
static void format_uptime(uint64_t s, char *buf, size_t cap)
{
	if (s >= 86400)
		snprintf(buf, cap, "%" PRIu64 "d %02u:%02u:%02u", s / 86400, (unsigned)(s % 86400 / 3600),
			 (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
	else
		snprintf(buf, cap, "%02u:%02u:%02u", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60),
			 (unsigned)(s % 60));
}

static void status_text(const pb_status_reply *s)
{
	char up[48];
	size_t w = 8;

	format_uptime(s->uptime_s, up, sizeof up);
	printf("role      %s\n", s->role[0] ? s->role : "?");
	printf("uptime    %s (%" PRIu64 " s)\n", up, s->uptime_s);
	printf("series    %" PRIu64 "\n", s->series);
	printf("flushes   %" PRIu64 "\n", s->flushes);
	printf("db bytes  %" PRIu64 "\n", s->db_bytes);
	for (size_t i = 0; i < s->ncounters; i++)
		if (strlen(s->counters[i].name) > w)
			w = strlen(s->counters[i].name);
	if (s->ncounters > 0)
		puts("counters");
	for (size_t i = 0; i < s->ncounters; i++)
		printf("  %-*s  %" PRIu64 "\n", (int)w, s->counters[i].name, s->counters[i].value);
	w = 8;
	for (size_t i = 0; i < s->nsenders; i++)
		if (strlen(s->senders[i].sender) > w)
			w = strlen(s->senders[i].sender);
	printf("senders   %zu%s\n", s->nsenders, s->nsenders ? " (high-water seq)" : "");
	for (size_t i = 0; i < s->nsenders; i++)
		printf("  %-*s  %" PRIu64 "\n", (int)w, s->senders[i].sender, s->senders[i].high_water);
	if (s->nnotes > 0)
		puts("tiers");
	w = 8;
	for (size_t i = 0; i < s->nnotes; i++)
		if (strlen(s->notes[i].name) > w)
			w = strlen(s->notes[i].name);
	for (size_t i = 0; i < s->nnotes; i++)
		printf("  %-*s  %s\n", (int)w, s->notes[i].name, s->notes[i].value);
}

static void status_json(const pb_status_reply *s)
{
	fputs("{\"role\":", stdout);
	cli_json_str(stdout, s->role);
	printf(",\"uptime_s\":%" PRIu64 ",\"series\":%" PRIu64 ",\"flushes\":%" PRIu64 ",\"db_bytes\":%" PRIu64
	       ",\"counters\":{",
	       s->uptime_s, s->series, s->flushes, s->db_bytes);
	for (size_t i = 0; i < s->ncounters; i++) {
		if (i)
			putchar(',');
		cli_json_str(stdout, s->counters[i].name);
		printf(":%" PRIu64, s->counters[i].value);
	}
	fputs("},\"senders\":[", stdout);
	for (size_t i = 0; i < s->nsenders; i++) {
		fputs(i ? ",{\"sender\":" : "{\"sender\":", stdout);
		cli_json_str(stdout, s->senders[i].sender);
		printf(",\"high_water\":%" PRIu64 "}", s->senders[i].high_water);
	}
	fputs("],\"tiers\":{", stdout);
	for (size_t i = 0; i < s->nnotes; i++) {
		if (i)
			putchar(',');
		cli_json_str(stdout, s->notes[i].name);
		putchar(':');
		cli_json_str(stdout, s->notes[i].value);
	}
	puts("}}");
}

int cli_status(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_JSON, O_PROM };
	static const struct option lo[] = {
	    {"control", required_argument, NULL, O_CONTROL},
	    {"json", no_argument, NULL, O_JSON},
	    {"prometheus", no_argument, NULL, O_PROM},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default();
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	bool json = false, prom = false;
	int c, rc, ret = CLI_EXIT_FATAL;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_JSON: json = true; break;
		case O_PROM: prom = true; break;
		case 'h': fputs(status_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("status", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	rc = ing_request(control, &req, STATUS_TIMEOUT_MS, &rep);
	if (rc != 0) {
		if (rc == ER_ETIMEDOUT)
			fprintf(stderr, "ecoroll status: no reply from %s within %d s (is ecorolld running?)\n",
				control, STATUS_TIMEOUT_MS / 1000);
		else
			fprintf(stderr, "ecoroll status: request to %s failed: %s\n", control, er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	if (rep.type != PB_STATUS_REPLY) {
		fprintf(stderr, "ecoroll status: %s answered with something other than a status reply\n", control);
	} else {
		if (json)
			status_json(&rep.u.status_reply);
		else if (prom)
			api_prometheus(stdout, &rep.u.status_reply);
		else
			status_text(&rep.u.status_reply);
		ret = CLI_EXIT_OK;
	}
	pb_msg_fini(&rep);
	return ret;
}
