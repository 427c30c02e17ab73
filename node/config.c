/* config.c: INI parsing with inih. Every option has a default that works
 * for the sample city on one machine; unknown sections or keys are errors,
 * so a typo never silently falls back to a default. */
#include "config.h"

#include "er.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void node_config_defaults(node_config *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->role, "standalone");
	strcpy(c->city, "city");
	c->utc_offset_s = 8 * 3600; /* China Standard Time (DOMAIN.md 2) */
	strcpy(c->data_dir, "./var/db");
	c->log_level = ER_LOG_INFO;
	strcpy(c->listen, "tcp://127.0.0.1:7100");
	c->workers = 2;
	c->max_frame_bytes = 16u << 20;
	c->max_batch_readings = 100000;
	c->max_future_skew_s = 300;
	strcpy(c->control, "tcp://127.0.0.1:7101");
	c->flush_ms = 200;
	c->group_commit = true;
	c->delta_slots = 1u << 20;
	c->map_size_mb = 1024;
	c->sync = true;
	strcpy(c->energy_dir, "conf/energy");
	strcpy(c->aqi_dir, "conf/aqi");
	strcpy(c->indicators_file, "conf/indicators.csv");
	c->key_user_tce = 1000;	      /* DOMAIN.md 1: every enterprise >= 1,000 tce/year */
	c->completeness_min_pct = 90; /* DOMAIN.md 3 */
	c->consistency_max_pct = 5;   /* DOMAIN.md 3 */
	c->count_water = false; /* DOMAIN.md 4: water counts in tce only where configured */
	strcpy(c->warn_publish, "tcp://127.0.0.1:7102");
	strcpy(c->warn_rules, "conf/warnings.csv");
	c->warn_interval_ms = 1000; /* a level is a yearly figure: a second's delay costs nothing */
	c->uplink_window = 16;	     /* 16 x 2,000 rows in flight: ~2 MB, enough to fill a WAN link */
	c->uplink_batch_rows = 2000; /* ~150 kB frames: far below the city's max_frame_bytes */
	c->uplink_timeout_ms = 10000; /* a city commit takes well under a second; ten is a dead link */
	c->outbox_limit_kb = 1u << 20; /* 1 GB: days of a 10,000-enterprise district (README "Three tiers") */
}

static int boolean(const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int num(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int copy(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -1;
	strcpy(dst, v);
	return 0;
}

int node_config_set(node_config *c, const char *s, const char *k, const char *v, char *err, size_t errlen)
{
	int64_t x;
	int bad = 0;
#define IS(sec, key) (strcmp(s, sec) == 0 && strcmp(k, key) == 0)
	if (IS("node", "role")) {
		bad = copy(c->role, sizeof c->role, v) ||
		      (strcmp(v, "standalone") != 0 && strcmp(v, "district") != 0 && strcmp(v, "city") != 0);
		if (bad) {
			snprintf(err, errlen, "node.role = %s: the roles are standalone, district and city", v);
			return ER_EINVAL;
		}
	} else if (IS("node", "name")) {
		bad = copy(c->name, sizeof c->name, v);
	} else if (IS("uplink", "upstream")) {
		bad = copy(c->upstream, sizeof c->upstream, v);
	} else if (IS("uplink", "window")) {
		bad = num(v, 1, 1024, &x);
		c->uplink_window = (int)x;
	} else if (IS("uplink", "batch_rows")) {
		bad = num(v, 1, 1000000, &x);
		c->uplink_batch_rows = (uint32_t)x;
	} else if (IS("uplink", "timeout_ms")) {
		bad = num(v, 100, 3600000, &x);
		c->uplink_timeout_ms = (int)x;
	} else if (IS("uplink", "outbox_limit_kb")) {
		bad = num(v, 1, 1ll << 34, &x);
		c->outbox_limit_kb = (uint64_t)x;
	} else if (IS("node", "city")) {
		bad = copy(c->city, sizeof c->city, v) || v[0] == 0;
	} else if (IS("node", "utc_offset")) {
		bad = er_offset_parse(v, &c->utc_offset_s) != 0;
	} else if (IS("node", "data_dir")) {
		bad = copy(c->data_dir, sizeof c->data_dir, v) || v[0] == 0;
	} else if (IS("node", "log_level")) {
		if (strcasecmp(v, "error") == 0)
			c->log_level = ER_LOG_ERROR;
		else if (strcasecmp(v, "warning") == 0)
			c->log_level = ER_LOG_WARN;
		else if (strcasecmp(v, "info") == 0)
			c->log_level = ER_LOG_INFO;
		else if (strcasecmp(v, "debug") == 0)
			c->log_level = ER_LOG_DEBUG;
		else
			bad = 1;
	} else if (IS("ingest", "listen")) {
		bad = copy(c->listen, sizeof c->listen, v);
	} else if (IS("ingest", "workers")) {
		bad = num(v, 1, 64, &x);
		c->workers = (int)x;
	} else if (IS("ingest", "max_frame_bytes")) {
		bad = num(v, 1024, 1ll << 30, &x);
		c->max_frame_bytes = (uint64_t)x;
	} else if (IS("ingest", "max_batch_readings")) {
		bad = num(v, 1, 10000000, &x);
		c->max_batch_readings = (uint32_t)x;
	} else if (IS("ingest", "max_future_skew_s")) {
		bad = num(v, 0, 366 * 86400, &x);
		c->max_future_skew_s = x;
	} else if (IS("control", "listen")) {
		bad = copy(c->control, sizeof c->control, v);
	} else if (IS("api", "listen")) {
		bad = copy(c->http_listen, sizeof c->http_listen, v);
	} else if (IS("aggregate", "flush_ms")) {
		bad = num(v, 1, 60000, &x);
		c->flush_ms = (int)x;
	} else if (IS("aggregate", "group_commit")) {
		bad = boolean(v, &c->group_commit);
	} else if (IS("aggregate", "delta_slots")) {
		bad = num(v, 1024, 1ll << 30, &x);
		c->delta_slots = (uint32_t)x;
	} else if (IS("store", "map_size_mb")) {
		bad = num(v, 1, 1ll << 24, &x);
		c->map_size_mb = (uint64_t)x;
	} else if (IS("store", "sync")) {
		bad = boolean(v, &c->sync);
	} else if (IS("energy", "dir")) {
		bad = copy(c->energy_dir, sizeof c->energy_dir, v) || v[0] == 0;
	} else if (IS("energy", "count_water")) {
		bad = boolean(v, &c->count_water);
	} else if (IS("monitoring", "key_user_tce")) {
		bad = num(v, 0, 1ll << 40, &c->key_user_tce);
	} else if (IS("monitoring", "completeness_min_pct")) {
		bad = num(v, 0, 100, &x);
		c->completeness_min_pct = (int)x;
	} else if (IS("monitoring", "consistency_max_pct")) {
		bad = num(v, 0, 100, &x);
		c->consistency_max_pct = (int)x;
	} else if (IS("indicators", "file")) {
		bad = copy(c->indicators_file, sizeof c->indicators_file, v) || v[0] == 0;
	} else if (IS("aqi", "dir")) {
		bad = copy(c->aqi_dir, sizeof c->aqi_dir, v) || v[0] == 0;
	} else if (IS("warnings", "publish")) {
		bad = copy(c->warn_publish, sizeof c->warn_publish, v);
	} else if (IS("warnings", "rules")) {
		bad = copy(c->warn_rules, sizeof c->warn_rules, v) || v[0] == 0;
	} else if (IS("warnings", "budgets")) {
		bad = copy(c->budgets_file, sizeof c->budgets_file, v);
	} else if (IS("warnings", "interval_ms")) {
		bad = num(v, 10, 3600000, &x);
		c->warn_interval_ms = (int)x;
	} else if (IS("registry", "districts")) {
		bad = copy(c->districts, sizeof c->districts, v);
	} else if (IS("registry", "enterprises")) {
		bad = copy(c->enterprises, sizeof c->enterprises, v);
	} else if (IS("registry", "meters")) {
		bad = copy(c->meters, sizeof c->meters, v);
	} else if (IS("registry", "stations")) {
		bad = copy(c->stations, sizeof c->stations, v);
	} else {
		snprintf(err, errlen, "unknown option %s.%s", s, k);
		return ER_EINVAL;
	}
#undef IS
	if (bad) {
		snprintf(err, errlen, "bad value for %s.%s: '%s'", s, k, v);
		return ER_EINVAL;
	}
	return 0;
}

struct load_ctx {
	node_config *c;
	char why[256]; /* the first error; inih reports its line */
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *l = user;
	if (l->why[0] != 0)
		return 0;
	return node_config_set(l->c, section, name, value, l->why, sizeof l->why) == 0;
}

int node_config_load(const char *path, node_config *c, char *err, size_t errlen)
{
	struct load_ctx l = {.c = c};
	FILE *f = fopen(path, "r");
	int rc;

	err[0] = 0;
	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return ER_EIO;
	}
	rc = ini_parse_file(f, on_ini, &l);
	fclose(f);
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, rc, l.why[0] ? l.why : "not INI syntax");
		return ER_EINVAL;
	}
	return 0;
}

int node_config_check(const node_config *c, char *err, size_t errlen)
{
	if (strcmp(c->listen, c->control) == 0) {
		snprintf(err, errlen, "ingest.listen and control.listen must differ (both %s)", c->listen);
		return ER_EINVAL;
	}
	if (strcmp(c->role, "district") == 0) {
		if (c->upstream[0] == 0) {
			snprintf(err, errlen, "a district node needs uplink.upstream (--upstream), the city node's "
					      "ingest endpoint");
			return ER_EINVAL;
		}
		if (c->name[0] == 0) {
			snprintf(err, errlen, "a district node needs node.name (--name): the city knows it by that name");
			return ER_EINVAL;
		}
	} else if (c->upstream[0] != 0) {
		snprintf(err, errlen, "uplink.upstream is set but node.role is %s: only a district node sends upstream",
			 c->role);
		return ER_EINVAL;
	}
	return 0;
}
