/* cli.h: the commands of the ecoroll command line and the few helpers they
 * share. cli/ecoroll.c holds main, the dispatch and the helpers; each
 * command lives in its own file and is called with argv[0] = the command's
 * name, so it parses its options with getopt_long from a fresh state.
 *
 * Exit codes, the same for every command:
 *   0  success
 *   2  a usage error (unknown option, bad value) or a fatal error
 *   3  push only: every batch was acknowledged, but the server rejected
 *      some readings or some lines of the input did not parse
 * One thread; nothing here is reentrant (getopt is not).
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ECOROLL_VERSION
#define ECOROLL_VERSION "0.1.0"
#endif

enum { CLI_EXIT_OK = 0, CLI_EXIT_USAGE = 2, CLI_EXIT_FATAL = 2, CLI_EXIT_REJECTED = 3 };

#define CLI_ENDPOINT_DEFAULT "tcp://127.0.0.1:7100"
#define CLI_CONTROL_DEFAULT  "tcp://127.0.0.1:7101"
#define CLI_OFFSET_DEFAULT   (8 * 3600) /* +08:00, the default city offset (DOMAIN.md 2) */

/* The commands; each returns the process exit code. */
int cli_push(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_registry(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_events(int argc, char **argv);
int cli_replace(int argc, char **argv);
int cli_reload(int argc, char **argv);
int cli_econ(int argc, char **argv);
int cli_intensity(int argc, char **argv);
int cli_air(int argc, char **argv);
int cli_benchmark(int argc, char **argv);
int cli_carbon(int argc, char **argv);
int cli_monitoring(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_budget(int argc, char **argv);

/* $ECOROLL_ENDPOINT / $ECOROLL_CONTROL when set and not empty, else the
 * defaults above. */
const char *cli_endpoint_default(void);
const char *cli_control_default(void);

/* Prints "ecoroll CMD: MESSAGE" and "see 'ecoroll CMD --help'" to stderr
 * and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for what getopt_long returned ('?' or ':') at argv. */
int cli_bad_option(const char *cmd, int c, char **argv);
/* Resets getopt so a command can parse its own argv from the start. */
void cli_getopt_reset(void);

/* Whole numbers from lo to hi; false for anything else. */
bool cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* A UTC offset ("+08:00", "-03:30", "Z") in seconds; false when bad. */
bool cli_parse_offset(const char *s, int *out);

/* Prints a table reply: aligned text with its notes, or one JSON object
 * {"title", "rows": [{column: cell}], "notes": {name: value}}. */
struct pb_table;
void cli_print_table(const struct pb_table *t, bool json);
/* Sends a request answered by a table, prints it with print (NULL:
 * cli_print_table) and returns the exit code; errors say "ecoroll CMD: ...". */
struct pb_msg;
int cli_table_request(const char *cmd, const char *control, const struct pb_msg *req, int timeout_ms,
		      void (*print)(const struct pb_table *t, bool json), bool json);

/* Prints a table as CSV (json is ignored): a print function for
 * cli_table_request. */
void cli_print_csv(const struct pb_table *t, bool json);
/* Sends a request answered by a CommandReply and prints its message
 * (stdout when ok, stderr otherwise); returns the exit code. */
int cli_command_request(const char *cmd, const char *control, const struct pb_msg *req, int timeout_ms);

/* Writes s as a JSON string, quotes included. */
void cli_json_str(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif
