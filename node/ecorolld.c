/* ecorolld.c: the node daemon's main: options, configuration, signals.
 *
 * Signals are blocked in every thread and taken by sigwait here, so no
 * thread is ever interrupted in the middle of a commit. SIGTERM and SIGINT
 * shut down cleanly: what was applied is committed and acknowledged
 * before the process exits.
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECOROLL_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ecorolld [-c FILE] [OPTIONS]\n"
		"\n"
		"The ecoroll node daemon: takes meter and air-station readings over ZeroMQ,\n"
		"rolls them up by hour, day, month and year for meters, enterprises,\n"
		"districts and the city, and keeps the rollups in LMDB, exactly once.\n"
		"\n"
		"  -c, --config FILE      INI configuration (see conf/ecoroll.ini)\n"
		"      --role ROLE        standalone (default: every tier), district (sends its\n"
		"                         enterprise and station rollups to the city) or city\n"
		"                         (adds up what the districts send)\n"
		"      --name NAME        this node's name; a district node's name at the city\n"
		"      --upstream EP      a district node: the city node's ingest endpoint\n"
		"      --listen EP        ingest endpoint, e.g. tcp://127.0.0.1:7100\n"
		"      --control EP       control endpoint, e.g. tcp://127.0.0.1:7101\n"
		"      --data-dir DIR     LMDB directory\n"
		"      --utc-offset OFF   local time of the city, e.g. +08:00\n"
		"      --workers N        decode workers\n"
		"      --flush-ms MS      longest wait for a flush (group commit flushes sooner)\n"
		"      --set SEC.KEY=VAL  any configuration option\n"
		"      --pidfile FILE     write the process id here once serving\n"
		"      --log-level LEVEL  error, warning, info or debug\n"
		"  -h, --help             this text\n"
		"  -V, --version          the version\n"
		"\n"
		"Options override the file; the file overrides the built-in defaults.\n"
		"SIGTERM or SIGINT: commit, acknowledge and exit. SIGHUP: re-read the\n"
		"coefficient tables (energy.dir).\n");
}

static int set_opt(node_config *c, const char *sec, const char *key, const char *val)
{
	char err[256];
	if (node_config_set(c, sec, key, val, err, sizeof err) != 0) {
		fprintf(stderr, "ecorolld: %s\n", err);
		return -1;
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	char tmp[NODE_PATH_MAX + 8], buf[32];
	int fd, n;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},	   {"role", required_argument, 0, 'r'},
		{"listen", required_argument, 0, 'l'},	   {"control", required_argument, 0, 'C'},
		{"data-dir", required_argument, 0, 'd'},   {"utc-offset", required_argument, 0, 'u'},
		{"workers", required_argument, 0, 'w'},	   {"flush-ms", required_argument, 0, 'f'},
		{"set", required_argument, 0, 's'},	   {"pidfile", required_argument, 0, 'p'},
		{"log-level", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},	   {"name", required_argument, 0, 'n'},
		{"upstream", required_argument, 0, 'U'},   {0, 0, 0, 0},
	};
	node_config cfg;
	node n;
	char err[512];
	const char *config = NULL, *pidfile = NULL;
	sigset_t sigs;
	int c, sig;

	node_config_defaults(&cfg);
	/* The file first, wherever -c appears, so options override it. */
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			config = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	if (config && node_config_load(config, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "ecorolld: %s\n", err);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'c': break;
		case 'r': bad = set_opt(&cfg, "node", "role", optarg); break;
		case 'n': bad = set_opt(&cfg, "node", "name", optarg); break;
		case 'U': bad = set_opt(&cfg, "uplink", "upstream", optarg); break;
		case 'l': bad = set_opt(&cfg, "ingest", "listen", optarg); break;
		case 'C': bad = set_opt(&cfg, "control", "listen", optarg); break;
		case 'd': bad = set_opt(&cfg, "node", "data_dir", optarg); break;
		case 'u': bad = set_opt(&cfg, "node", "utc_offset", optarg); break;
		case 'w': bad = set_opt(&cfg, "ingest", "workers", optarg); break;
		case 'f': bad = set_opt(&cfg, "aggregate", "flush_ms", optarg); break;
		case 'L': bad = set_opt(&cfg, "node", "log_level", optarg); break;
		case 'p': pidfile = optarg; break;
		case 's': {
			char buf[1024], *dot, *eq;
			snprintf(buf, sizeof buf, "%s", optarg);
			dot = strchr(buf, '.');
			eq = strchr(buf, '=');
			if (dot == NULL || eq == NULL || dot > eq) {
				fprintf(stderr, "ecorolld: --set takes SECTION.KEY=VALUE, not '%s'\n", optarg);
				return 1;
			}
			*dot = 0;
			*eq = 0;
			bad = set_opt(&cfg, buf, dot + 1, eq + 1);
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("ecorolld %s (protocol %d, schema %d)\n", ECOROLL_VERSION, PB_VERSION, STO_SCHEMA); return 0;
		default: fprintf(stderr, "see 'ecorolld --help'\n"); return 1;
		}
		if (bad)
			return 1;
	}
	if (optind < argc) {
		fprintf(stderr, "ecorolld: unexpected argument '%s'; see 'ecorolld --help'\n", argv[optind]);
		return 1;
	}
	if (node_config_check(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "ecorolld: %s\n", err);
		return 1;
	}
	er_log_level = cfg.log_level;

	/* Block the signals before any thread exists: every thread inherits
	 * the mask and only sigwait below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (node_open(&n, &cfg, err, sizeof err) != 0) {
		er_log(ER_LOG_ERROR, "%s", err);
		return 1;
	}
	if (node_start(&n, err, sizeof err) != 0) {
		er_log(ER_LOG_ERROR, "%s", err);
		node_close(&n);
		return 1;
	}
	er_log(ER_LOG_INFO, "serving city '%s' (%s): ingest %s, control %s, data %s, %d workers, %u series",
	       cfg.city, cfg.role, cfg.listen, cfg.control, cfg.data_dir, cfg.workers,
	       agg_registry_count(n.reg, AGG_SERIES));
	if (pidfile && write_pidfile(pidfile) != 0)
		er_log(ER_LOG_WARN, "cannot write pidfile %s: %s", pidfile, strerror(errno));
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			/* The control thread owns the tables: it reloads them. */
			atomic_store(&n.reload_wanted, true);
			continue;
		}
		break;
	}
	er_log(ER_LOG_INFO, "signal %d: committing and acknowledging what was received, then exiting", sig);
	node_close(&n);
	if (pidfile)
		unlink(pidfile);
	er_log(ER_LOG_INFO, "stopped");
	return 0;
}
