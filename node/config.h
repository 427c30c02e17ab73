/* config.h: ecorolld's configuration, read from an INI file with inih
 * (conf/ecoroll.ini is the annotated reference) and then overridden by
 * command-line options. Relative paths are relative to the directory
 * ecorolld is started in. */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NODE_PATH_MAX 1024

typedef struct node_config {
	/* [node] */
	char role[16]; /* standalone, district or city (README "Three tiers") */
	char name[256]; /* this node's name: a district node's sender name at the city */
	char city[64];
	int utc_offset_s;
	char data_dir[NODE_PATH_MAX];
	int log_level;
	/* [ingest] */
	char listen[256];
	int workers;
	uint64_t max_frame_bytes;
	uint32_t max_batch_readings;
	int64_t max_future_skew_s;
	/* [control] */
	char control[256];
	/* [api] */
	char http_listen[64]; /* "127.0.0.1:7103"; "" serves no HTTP */
	/* [aggregate] */
	int flush_ms;
	bool group_commit;
	uint32_t delta_slots;
	/* [store] */
	uint64_t map_size_mb;
	bool sync;
	/* [energy] */
	char energy_dir[NODE_PATH_MAX];
	bool count_water;
	/* [monitoring] (DOMAIN.md 3: key energy users, online-monitoring quality) */
	int64_t key_user_tce;	     /* whole tce used last year that makes a key user */
	int completeness_min_pct;   /* received / expected readings */
	int consistency_max_pct;    /* day totals against the month total */
	/* [indicators] */
	char indicators_file[NODE_PATH_MAX];
	/* [aqi] */
	char aqi_dir[NODE_PATH_MAX];
	/* [warnings] (DOMAIN.md 6) */
	char warn_publish[256];		/* PUB endpoint; "" publishes nothing */
	char warn_rules[NODE_PATH_MAX];	/* thresholds CSV */
	char budgets_file[NODE_PATH_MAX]; /* budget CSV imported at start; "" none */
	int warn_interval_ms;		/* evaluate at most this often, after a commit */
	/* [uplink] (a district node: its outbox to the city) */
	char upstream[256];	    /* the city node's ingest endpoint */
	int uplink_window;	    /* batches sent and not yet acknowledged */
	uint32_t uplink_batch_rows; /* rollup rows per outbox entry */
	int uplink_timeout_ms;	    /* no ack for this long: reconnect, resend from the city's mark */
	uint64_t outbox_limit_kb;   /* a deeper outbox raises an event (and again when it drains) */
	/* [registry] */
	char districts[NODE_PATH_MAX], enterprises[NODE_PATH_MAX], meters[NODE_PATH_MAX], stations[NODE_PATH_MAX];
} node_config;

void node_config_defaults(node_config *c);
/* Reads path over the current values. On error err holds "path:line: why". */
int node_config_load(const char *path, node_config *c, char *err, size_t errlen);
/* Sets one option as "section.key" = value (command-line overrides). */
int node_config_set(node_config *c, const char *section, const char *key, const char *value, char *err,
		    size_t errlen);
/* Checks ranges and combinations; err says what is wrong. */
int node_config_check(const node_config *c, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
