/* ecoroll.c: main of the ecoroll command line. It parses the global options
 * (--help, --version), picks the command by its name and hands it the rest
 * of argv, with the command's name as argv[0], so every command parses its
 * own options with getopt_long. Also the helpers of cli.h that every
 * command shares: default endpoints, usage errors, numbers and JSON text.
 *
 * Invariant: a usage error always ends in exit code 2 and a hint naming the
 * command's --help; nothing is sent to a server before the options parsed.
 */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "usage: ecoroll [--help] [--version] COMMAND [ARGS]\n"
				 "\n"
				 "The command line of ecoroll, the energy and air-quality aggregation service.\n"
				 "\n"
				 "commands:\n"
				 "  push       send readings (CSV series,time,value) to a node, exactly once\n"
				 "  query      rollups of a meter, enterprise, district, station or the city\n"
				 "  registry   registry import: load districts, enterprises, meters, stations\n"
				 "  status     a node's role, uptime, counters and senders\n"
				 "  generate   write plausible readings for a registry (CSV) to stdout\n"
				 "  events     events: meter resets, spikes, replacements; budget warnings\n"
				 "  replace    register a meter replacement\n"
				 "  reload     re-read the coefficient tables\n"
				 "  econ       econ import: value added, output value, GDP (10^4 yuan)\n"
				 "  intensity  energy and water intensity of an entity for a period\n"
				 "  air        air quality: hourly, daily, monthly, annual (AQI, HJ 633)\n"
				 "  benchmark  rank an industry's enterprises by energy intensity\n"
				 "  carbon     a carbon account: year-to-date CO2 by source, intensity\n"
				 "  monitoring online-monitoring coverage of key energy users\n"
				 "  report     report indicators: the yearly indicator table of an entity\n"
				 "  budget     energy budgets and intensity targets: import, status (warnings)\n"
				 "\n"
				 "'ecoroll COMMAND --help' describes a command.\n"
				 "\n"
				 "environment:\n"
				 "  ECOROLL_ENDPOINT  ingest endpoint (default " CLI_ENDPOINT_DEFAULT ")\n"
				 "  ECOROLL_CONTROL   control endpoint (default " CLI_CONTROL_DEFAULT ")\n"
				 "  ECOROLL_STATE     push's state file (default ~/.local/state/ecoroll/push.state)\n"
				 "\n"
				 "exit status: 0 success; 2 usage or fatal error; 3 push: some readings were\n"
				 "rejected by the server or did not parse.\n";

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
    {"push", cli_push},     {"query", cli_query},       {"registry", cli_registry},
    {"status", cli_status}, {"generate", cli_generate}, {"events", cli_events},
    {"replace", cli_replace}, {"reload", cli_reload}, {"econ", cli_econ}, {"intensity", cli_intensity},
    {"air", cli_air}, {"benchmark", cli_benchmark},
    {"carbon", cli_carbon}, {"monitoring", cli_monitoring},
    {"report", cli_report}, {"budget", cli_budget},
};

/* ---- tables (air, benchmark, carbon, monitoring, report) ---- */

int cli_table_request(const char *cmd, const char *control, const pb_msg *req, int timeout_ms,
		      void (*print)(const pb_table *t, bool json), bool json)
{
	pb_msg rep;
	int ret = CLI_EXIT_FATAL, rc = ing_request(control, req, timeout_ms, &rep);

	if (rc != 0) {
		fprintf(stderr, "ecoroll %s: no reply from %s (%s; is ecorolld running?)\n", cmd, control,
			er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	if (rep.type != PB_TABLE || !rep.u.table.ok) {
		fprintf(stderr, "ecoroll %s: %s\n", cmd, rep.type == PB_TABLE ? rep.u.table.error : "unexpected reply");
	} else {
		(print ? print : cli_print_table)(&rep.u.table, json);
		ret = CLI_EXIT_OK;
	}
	pb_msg_fini(&rep);
	return ret;
}

void cli_print_csv(const pb_table *t, bool json)
{
	(void)json;
	for (size_t c = 0; c < t->ncols; c++)
		printf("%s%s", c ? "," : "", t->columns[c]);
	putchar('\n');
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c)
				putchar(',');
			if (strpbrk(s, ",\"\n")) {
				putchar('"');
				for (; *s; s++) {
					if (*s == '"')
						putchar('"');
					putchar(*s);
				}
				putchar('"');
			} else {
				fputs(s, stdout);
			}
		}
		putchar('\n');
	}
}

int cli_command_request(const char *cmd, const char *control, const pb_msg *req, int timeout_ms)
{
	pb_msg rep;
	int ret, rc = ing_request(control, req, timeout_ms, &rep);

	if (rc != 0) {
		fprintf(stderr, "ecoroll %s: no reply from %s (%s; is ecorolld running?)\n", cmd, control, er_strerror(rc));
		return CLI_EXIT_FATAL;
	}
	if (rep.type != PB_COMMAND_REPLY) {
		fprintf(stderr, "ecoroll %s: unexpected reply\n", cmd);
		ret = CLI_EXIT_FATAL;
	} else if (!rep.u.command_reply.ok) {
		/* a file's errors come one "FILE:LINE: why" a line */
		fprintf(stderr, "%s%s", rep.u.command_reply.message, strchr(rep.u.command_reply.message, '\n') ? "" : "\n");
		ret = CLI_EXIT_FATAL;
	} else {
		printf("%s\n", rep.u.command_reply.message);
		ret = CLI_EXIT_OK;
	}
	pb_msg_fini(&rep);
	return ret;
}

static void print_text_table(const pb_table *t)
{
	size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
	if (w == NULL)
		return;
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = strlen(t->columns[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			if (strlen(t->cells[r * t->ncols + c]) > w[c])
				w[c] = strlen(t->cells[r * t->ncols + c]);
	for (size_t c = 0; c < t->ncols; c++)
		printf("%s%-*s", c ? "  " : "", c + 1 == t->ncols ? 0 : (int)w[c], t->columns[c]);
	putchar('\n');
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			printf("%s%-*s", c ? "  " : "", c + 1 == t->ncols ? 0 : (int)w[c], t->cells[r * t->ncols + c]);
		putchar('\n');
	}
	for (size_t i = 0; i < t->nnotes; i++)
		printf("%s: %s\n", t->notes[i].name, t->notes[i].value);
	free(w);
}

static void print_json_table(const pb_table *t)
{
	fputs("{\"title\":", stdout);
	cli_json_str(stdout, t->title);
	fputs(",\"rows\":[", stdout);
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(r ? ",\n{" : "\n{", stdout);
		for (size_t c = 0; c < t->ncols; c++) {
			if (c)
				putchar(',');
			cli_json_str(stdout, t->columns[c]);
			putchar(':');
			cli_json_str(stdout, t->cells[r * t->ncols + c]);
		}
		putchar('}');
	}
	fputs("\n],\"notes\":{", stdout);
	for (size_t i = 0; i < t->nnotes; i++) {
		if (i)
			putchar(',');
		cli_json_str(stdout, t->notes[i].name);
		putchar(':');
		cli_json_str(stdout, t->notes[i].value);
	}
	puts("}}");
}

void cli_print_table(const pb_table *t, bool json)
{
	if (json)
		print_json_table(t);
	else
		print_text_table(t);
}

const char *cli_endpoint_default(void)
{
	const char *e = getenv("ECOROLL_ENDPOINT");
	return e != NULL && e[0] != 0 ? e : CLI_ENDPOINT_DEFAULT;
}

const char *cli_control_default(void)
{
	const char *e = getenv("ECOROLL_CONTROL");
	return e != NULL && e[0] != 0 ? e : CLI_CONTROL_DEFAULT;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ecoroll %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'ecoroll %s --help'\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	/* getopt_long leaves optind past the offending word, except for a
	 * short option inside a cluster ("-xq"); argv[optind - 1] names the
	 * word either way, which is what the user typed. */
	const char *word = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", word);
	if (optopt != 0 && strncmp(word, "--", 2) != 0)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", word);
}

void cli_getopt_reset(void)
{
	/* glibc: optind = 0 reinitializes getopt completely, including its
	 * position inside a cluster of short options. */
	optind = 0;
	opterr = 0;
}

bool cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool cli_parse_offset(const char *s, int *out)
{
	return er_offset_parse(s, out) == 0;
}

void cli_json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			/* UTF-8 bytes pass through: JSON text is UTF-8. */
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				putc(*p, f);
		}
	}
	putc('"', f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	cli_getopt_reset();
	/* '+': stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(usage_text, stdout); return CLI_EXIT_OK;
		case 'V': printf("ecoroll %s (protocol %d)\n", ECOROLL_VERSION, PB_VERSION); return CLI_EXIT_OK;
		default: {
			const char *word = optind > 0 ? argv[optind - 1] : "?";
			fprintf(stderr, "ecoroll: unknown option '%s'\nsee 'ecoroll --help'\n", word);
			return CLI_EXIT_USAGE;
		}
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **sub = argv + optind;
			int n = argc - optind;
			cli_getopt_reset();
			return commands[i].run(n, sub);
		}
	}
	fprintf(stderr, "ecoroll: unknown command '%s'\nsee 'ecoroll --help'\n", argv[optind]);
	return CLI_EXIT_USAGE;
}
