/* events.c: ecoroll events (list, accept), ecoroll replace and ecoroll
 * reload: the operator's side of meter events (DOMAIN.md 3). Each is one
 * control request; the node applies accepts and replacements inside its
 * next write transaction and answers once they are committed. */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 15000 /* a command waits for the node's next commit */

static const char events_help[] =
	"usage: ecoroll events [--control EP] [--meter CODE] [--type T] [--entity CODE] [--after ID]\n"
	"                      [--limit N] [--node NAME] [--json]\n"
	"       ecoroll events accept [--control EP] ID\n"
	"\n"
	"Lists meter events: resets (a cumulative register fell: the step added 0),\n"
	"spikes (an increment above the meter's max_per_hour, quarantined, not added)\n"
	"and replacements. 'accept ID' adds a quarantined spike's increment to the\n"
	"hours it spans, once. Times are shown in UTC; registers and amounts exactly.\n"
	"Budget warnings (type warning, DOMAIN.md 6: a level change of an entity's\n"
	"budget or intensity target) list the entity, the level and the one before,\n"
	"the rule that fired, the data time and the figures (tce, exact).\n"
	"Outbox events (type outbox, a district node): the outbox went over\n"
	"uplink.outbox_limit_kb (status open) or came back under (applied); the meter\n"
	"column is the node, t0 the oldest entry's time, v0 the bytes held, v1 the\n"
	"limit in bytes, amount the entries.\n"
	"  --type T        reset, spike, replacement, warning or outbox\n"
	"  --node NAME     on a city node: the events district node NAME stored and\n"
	"                  forwarded (its own ids and statuses, latest state); '*' for\n"
	"                  every district node's. Each line then starts with the node.\n"
	"  --entity CODE   the warnings of one enterprise, district or the city\n";

static const char replace_help[] =
	"usage: ecoroll replace [--control EP] [--utc-offset OFF] --meter CODE --time T\n"
	"                       --old-final X --new-initial Y\n"
	"\n"
	"Registers a meter replacement: at time T the old register read X when it came\n"
	"off and the new one Y when it went on. The step across T is then exact:\n"
	"(X - last old reading) + (first new reading - Y). Register it before the new\n"
	"meter's first reading, or afterwards: a reset the swap raised is resolved.\n";

static const char reload_help[] = "usage: ecoroll reload [--control EP]\n"
				  "\n"
				  "Asks the node to re-read its coefficient tables (as SIGHUP does); every\n"
				  "derived figure, past ones included, follows.\n";

static int request(const char *cmd, const char *control, const pb_msg *req, pb_msg *rep)
{
	int rc = ing_request(control, req, TIMEOUT_MS, rep);
	if (rc != 0) {
		fprintf(stderr, "ecoroll %s: no reply from %s (%s; is ecorolld running?)\n", cmd, control,
			er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	return 0;
}

static int command_reply(const char *cmd, pb_msg *rep)
{
	int ret;
	if (rep->type != PB_COMMAND_REPLY) {
		fprintf(stderr, "ecoroll %s: unexpected reply from the node\n", cmd);
		ret = CLI_EXIT_FATAL;
	} else if (!rep->u.command_reply.ok) {
		fprintf(stderr, "ecoroll %s: %s\n", cmd, rep->u.command_reply.message);
		ret = CLI_EXIT_FATAL;
	} else {
		printf("%s\n", rep->u.command_reply.message);
		ret = CLI_EXIT_OK;
	}
	pb_msg_fini(rep);
	return ret;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
	if (t == 0)
		snprintf(buf, cap, "-");
	else
		er_time_format(t, 0, buf, cap);
}

static int accept_event(int argc, char **argv, const char *control)
{
	uint64_t id;
	pb_msg req = {.type = PB_EVENT_ACCEPT}, rep;

	if (argc != 1 || !cli_parse_u64(argv[0], 1, UINT64_MAX, &id))
		return cli_usage_error("events", "accept takes one event id");
	req.u.event_accept = id;
	if (request("events accept", control, &req, &rep) != 0)
		return CLI_EXIT_FATAL;
	return command_reply("events accept", &rep);
}

/* A budget warning: who, which level after which, why, and the figures. */
static void print_warning(const pb_event *e, size_t i, bool json)
{
	char t0[40];
	fmt_time(e->t0, t0, sizeof t0);
	if (!json) {
		printf("%-6" PRIu64 " %-12s %-9s %-16s %-20.20s %s %s %d: %s -> %s (%s); ytd %s, expected %s, "
		       "projected %s, %s %s\n",
		       e->id, e->type, e->status, e->entity, t0, e->entity_level, e->kind, (int)e->year, e->previous_level,
		       e->level, e->rule, e->ytd, e->expected[0] ? e->expected : "-", e->projected[0] ? e->projected : "-",
		       strcmp(e->kind, "intensity") == 0 ? "target" : "budget", e->budget);
		return;
	}
	static const char *names[] = {"status", "entity", "entity_level", "kind", "level", "previous_level",
				      "rule", "ytd", "expected", "projected", "budget"};
	const char *vals[] = {e->status, e->entity, e->entity_level, e->kind, e->level, e->previous_level,
			      e->rule, e->ytd, e->expected, e->projected, e->budget};
	printf("%s\n{\"id\":%" PRIu64 ",\"type\":\"warning\",\"year\":%d,\"time\":%" PRId64 ",\"created\":%" PRId64,
	       i ? "," : "", e->id, (int)e->year, e->t0, e->created);
	if (e->node[0]) {
		fputs(",\"node\":", stdout);
		cli_json_str(stdout, e->node);
	}
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		printf(",\"%s\":", names[k]);
		cli_json_str(stdout, vals[k]);
	}
	putchar('}');
}

int cli_events(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_METER, O_AFTER, O_LIMIT, O_JSON, O_TYPE, O_ENTITY, O_NODE };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL}, {"meter", required_argument, NULL, O_METER},
		{"type", required_argument, NULL, O_TYPE},	 {"entity", required_argument, NULL, O_ENTITY},
		{"after", required_argument, NULL, O_AFTER},	 {"limit", required_argument, NULL, O_LIMIT},
		{"json", no_argument, NULL, O_JSON},		 {"help", no_argument, NULL, 'h'},
		{"node", required_argument, NULL, O_NODE},	 {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *meter = "", *type = "", *entity = "", *node = "";
	uint64_t after = 0, limit = 0;
	bool json = false;
	pb_msg req = {.type = PB_EVENTS_REQUEST}, rep;
	int c;

	while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_METER: meter = optarg; break;
		case O_TYPE: type = optarg; break;
		case O_ENTITY: entity = optarg; break;
		case O_NODE: node = optarg; break;
		case O_AFTER:
			if (!cli_parse_u64(optarg, 0, UINT64_MAX, &after))
				return cli_usage_error("events", "--after takes an event id");
			break;
		case O_LIMIT:
			if (!cli_parse_u64(optarg, 1, 1000000, &limit))
				return cli_usage_error("events", "--limit takes 1 to 1000000");
			break;
		case O_JSON: json = true; break;
		case 'h': fputs(events_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("events", c, argv);
		}
	}
	if (optind < argc && strcmp(argv[optind], "accept") == 0)
		return accept_event(argc - optind - 1, argv + optind + 1, control);
	if (optind < argc)
		return cli_usage_error("events", "unexpected argument '%s'", argv[optind]);
	req.u.events_request.meter = meter;
	req.u.events_request.after_id = after;
	req.u.events_request.limit = (uint32_t)limit;
	req.u.events_request.type = type;
	req.u.events_request.entity = entity;
	req.u.events_request.node = node;
	if (request("events", control, &req, &rep) != 0)
		return CLI_EXIT_FATAL;
	if (rep.type != PB_EVENTS_REPLY || !rep.u.events_reply.ok) {
		fprintf(stderr, "ecoroll events: %s\n",
			rep.type == PB_EVENTS_REPLY ? rep.u.events_reply.error : "unexpected reply");
		pb_msg_fini(&rep);
		return CLI_EXIT_FATAL;
	}
	const pb_events_reply *r = &rep.u.events_reply;
	if (json)
		fputs("{\"events\":[", stdout);
	else if (r->nevents > 0)
		printf("%s%-6s %-12s %-9s %-16s %-20s %-20s %14s %14s %14s\n", node[0] ? "node         " : "", "id", "type",
		       "status", "meter", "t0 (UTC)", "t1 (UTC)", "v0", "v1", "amount");
	for (size_t i = 0; i < r->nevents; i++) {
		const pb_event *e = &r->events[i];
		char t0[40], t1[40], v0[32], v1[32], amt[32];
		fmt_time(e->t0, t0, sizeof t0);
		fmt_time(e->t1, t1, sizeof t1);
		er_fx_format(e->v0, v0, sizeof v0);
		er_fx_format(e->v1, v1, sizeof v1);
		er_fx_format(e->amount, amt, sizeof amt);
		if (node[0] && !json)
			printf("%-12s ", e->node);
		if (strcmp(e->type, "warning") == 0) {
			print_warning(e, i, json);
			continue;
		}
		if (json) {
			printf("%s\n{\"id\":%" PRIu64 ",\"type\":", i ? "," : "", e->id);
			cli_json_str(stdout, e->type);
			fputs(",\"status\":", stdout);
			cli_json_str(stdout, e->status);
			fputs(",\"meter\":", stdout);
			cli_json_str(stdout, e->meter);
			if (e->node[0]) {
				fputs(",\"node\":", stdout);
				cli_json_str(stdout, e->node);
			}
			printf(",\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"v0\":\"%s\",\"v1\":\"%s\",\"amount\":\"%s\","
			       "\"created\":%" PRId64 ",\"resolved\":%" PRId64 "}",
			       e->t0, e->t1, v0, v1, amt, e->created, e->resolved);
		} else {
			printf("%-6" PRIu64 " %-12s %-9s %-16s %-20.20s %-20.20s %14s %14s %14s\n", e->id, e->type,
			       e->status, e->meter, t0, t1, v0, v1, amt);
		}
	}
	if (json)
		fputs("\n]}\n", stdout);
	else if (r->nevents == 0)
		fprintf(stderr, "no events%s%s\n", meter[0] ? " for " : "", meter);
	pb_msg_fini(&rep);
	return CLI_EXIT_OK;
}

int cli_replace(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_METER, O_TIME, O_OLD, O_NEW, O_OFFSET };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL},     {"meter", required_argument, NULL, O_METER},
		{"time", required_argument, NULL, O_TIME},	     {"old-final", required_argument, NULL, O_OLD},
		{"new-initial", required_argument, NULL, O_NEW},     {"utc-offset", required_argument, NULL, O_OFFSET},
		{"help", no_argument, NULL, 'h'},		     {NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default(), *meter = NULL, *time = NULL, *oldv = NULL, *newv = NULL;
	int offset = CLI_OFFSET_DEFAULT, c;
	pb_msg req = {.type = PB_REPLACEMENT}, rep;
	pb_replacement *r = &req.u.replacement;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case O_METER: meter = optarg; break;
		case O_TIME: time = optarg; break;
		case O_OLD: oldv = optarg; break;
		case O_NEW: newv = optarg; break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &offset))
				return cli_usage_error("replace", "bad --utc-offset '%s'", optarg);
			break;
		case 'h': fputs(replace_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("replace", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("replace", "unexpected argument '%s'", argv[optind]);
	if (!meter || !time || !oldv || !newv)
		return cli_usage_error("replace", "--meter, --time, --old-final and --new-initial are all needed");
	r->meter = meter;
	if (er_time_parse(time, strlen(time), offset, &r->ts) != 0)
		return cli_usage_error("replace", "bad --time '%s'", time);
	if (er_fx_parse(oldv, strlen(oldv), &r->old_final) != 0 || er_fx_parse(newv, strlen(newv), &r->new_initial) != 0)
		return cli_usage_error("replace", "readings are decimals with at most 6 fraction digits");
	if (request("replace", control, &req, &rep) != 0)
		return CLI_EXIT_FATAL;
	return command_reply("replace", &rep);
}

int cli_reload(int argc, char **argv)
{
	enum { O_CONTROL = 256 };
	static const struct option lo[] = {
		{"control", required_argument, NULL, O_CONTROL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = cli_control_default();
	pb_msg req = {.type = PB_RELOAD}, rep;
	int c;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: control = optarg; break;
		case 'h': fputs(reload_help, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("reload", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("reload", "unexpected argument '%s'", argv[optind]);
	if (request("reload", control, &req, &rep) != 0)
		return CLI_EXIT_FATAL;
	return command_reply("reload", &rep);
}
