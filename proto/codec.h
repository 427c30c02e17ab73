/* codec.h: ecoroll's wire messages as plain C structs. proto/codec.c is the
 * only file that includes the protobuf-c generated code (STYLE.md 15); every
 * other module speaks these structs. Every frame is one Envelope carrying
 * PB_VERSION. Thread-safe: no shared state. */
#ifndef PB_CODEC_H
#define PB_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PB_VERSION 1

enum pb_type {
	PB_NONE = 0,
	PB_HELLO,
	PB_WELCOME,
	PB_BATCH,
	PB_ACK,
	PB_REGISTRY_IMPORT,
	PB_REGISTRY_REPLY,
	PB_QUERY,
	PB_QUERY_REPLY,
	PB_STATUS_REQUEST,
	PB_STATUS_REPLY,
	PB_EVENTS_REQUEST,
	PB_EVENTS_REPLY,
	PB_EVENT_ACCEPT,
	PB_REPLACEMENT,
	PB_RELOAD,
	PB_COMMAND_REPLY,
	PB_ECON_IMPORT,
	PB_INTENSITY_REQUEST,
	PB_REPORT,
	PB_ECON_BATCH,
	PB_AIR_REQUEST,
	PB_TABLE,
	PB_BENCHMARK_REQUEST,
	PB_CARBON_REQUEST,
	PB_MONITORING_REQUEST,
	PB_INDICATORS_REQUEST,
	PB_BUDGET_IMPORT,
	PB_BUDGET_STATUS_REQUEST,
	PB_ROLLUP_BATCH,
};

/* Values equal to the .proto enums. */
enum pb_status {
	PB_ST_OK = 1,
	PB_ST_DUPLICATE = 2,
	PB_ST_GAP = 3,
	PB_ST_MALFORMED = 4,
	PB_ST_TOO_LARGE = 5,
	PB_ST_BAD_VERSION = 6,
	PB_ST_UNAVAILABLE = 7,
	PB_ST_DENIED = 8,
};

enum pb_reason {
	PB_R_UNKNOWN_SERIES = 1,
	PB_R_NOT_FINITE = 2,
	PB_R_FUTURE_TS = 3,
	PB_R_ANCIENT_TS = 4,
	PB_R_NEGATIVE_REGISTER = 5,
	PB_R_OUT_OF_ORDER = 6,
	PB_R_OUT_OF_RANGE = 7,
	PB_R_REMOTE_SERIES = 8, /* a city node: the series' district has a district node */
	PB_R_COUNT = 9, /* one past the last reason */
};

const char *pb_status_name(int status); /* "OK", "GAP", ... */
const char *pb_reason_name(int reason); /* "unknown series", ... */

typedef struct pb_hello {
	const char *sender;
} pb_hello;

typedef struct pb_welcome {
	const char *sender;
	uint64_t next_seq;
} pb_welcome;

/* Columns of one batch; after pb_decode they point into the decoded message
 * and live until pb_msg_fini. nflags is 0 or n. */
typedef struct pb_batch {
	const char *sender;
	uint64_t seq;
	size_t n;
	const uint64_t *series;
	const int64_t *ts;
	const double *value;
	size_t nflags;
	const uint32_t *flags;
	/* Column lengths as received, so the receiver can refuse a batch whose
	 * columns disagree (n is the series column's length). */
	size_t nts, nvalue;
} pb_batch;

#define PB_MAX_REASONS 8
typedef struct pb_reason_count {
	int reason;
	uint64_t count;
	uint32_t first_index;
	uint64_t first_series;
} pb_reason_count;

typedef struct pb_ack {
	uint64_t seq;
	int status;
	uint64_t expected;
	uint64_t accepted;
	uint64_t rejected;
	uint64_t duplicates;
	size_t nreasons; /* at most PB_MAX_REASONS */
	pb_reason_count reasons[PB_MAX_REASONS];
	const char *message; /* may be NULL */
} pb_ack;

typedef struct pb_registry_import {
	const char *districts_csv, *enterprises_csv, *meters_csv, *stations_csv; /* may be "" */
	const char *origin;
} pb_registry_import;

typedef struct pb_registry_reply {
	bool ok;
	size_t nerrors;
	const char *const *errors;
	uint32_t districts, enterprises, meters, stations, added;
} pb_registry_reply;

typedef struct pb_query {
	int level;	/* enum sto_level values: 1 meter .. 5 station */
	const char *entity;
	int resolution; /* enum er_res */
	int64_t from, to;
	const char *carrier;
	const char *unit, *method, *scope; /* "" for the defaults */
} pb_query;

typedef struct pb_row {
	int64_t start;
	const char *carrier, *purpose, *unit;
	int64_t count, sum, min, max;
	uint64_t coverage_s;
	uint32_t flags, members;
	const char *value, *value_unit, *source; /* derived figures; "" otherwise */
	uint32_t complete;
} pb_row;

typedef struct pb_query_reply {
	bool ok;
	const char *error;
	const char *entity;
	int level, resolution;
	int32_t utc_offset_s;
	size_t nrows;
	const pb_row *rows;
	const char *table_version;
} pb_query_reply;

typedef struct pb_events_request {
	const char *meter;
	uint64_t after_id;
	uint32_t limit;
	const char *type, *entity; /* filters; "" for all */
	const char *node;	   /* a district node's forwarded events ("*": all); "" for this node's own */
} pb_events_request;

typedef struct pb_event {
	uint64_t id;
	const char *type, *status, *meter;
	int64_t t0, t1, v0, v1, amount, created, resolved;
	/* warnings only ("" or 0 otherwise): figures as exact decimal text */
	const char *entity, *entity_level, *kind, *level, *previous_level, *rule;
	const char *ytd, *expected, *projected, *budget;
	int32_t year;
	const char *node; /* forwarded events: the district node ("" otherwise) */
} pb_event;

typedef struct pb_events_reply {
	bool ok;
	const char *error;
	size_t nevents;
	const pb_event *events;
} pb_events_reply;

typedef struct pb_replacement {
	const char *meter;
	int64_t ts, old_final, new_initial;
} pb_replacement;

typedef struct pb_command_reply {
	bool ok;
	const char *message;
} pb_command_reply;

typedef struct pb_intensity_request {
	int level;
	const char *entity, *period, *kind, *base, *scope, *method;
} pb_intensity_request;

typedef struct pb_field {
	const char *name, *value;
} pb_field;

typedef struct pb_report {
	bool ok;
	const char *error;
	size_t nfields;
	const pb_field *fields;
} pb_report;

typedef struct pb_air_request {
	int level;
	const char *entity, *kind;
	int64_t from, to;
	int32_t year;
} pb_air_request;

/* A table: ncols column names; rows of ncols cells each (row-major). */
typedef struct pb_table {
	bool ok;
	const char *error, *title;
	size_t ncols, nrows;
	const char *const *columns;
	const char *const *cells; /* nrows x ncols */
	size_t nnotes;
	const pb_field *notes;
} pb_table;

typedef struct pb_benchmark_request {
	const char *industry, *period, *scope, *method, *kind;
} pb_benchmark_request;

typedef struct pb_carbon_request {
	int level;
	const char *entity;
	int32_t year;
	int64_t to;
} pb_carbon_request;

typedef struct pb_monitoring_request {
	int level;
	const char *entity, *period;
} pb_monitoring_request;

typedef struct pb_indicators_request {
	const char *entity;
	int32_t year, base;
} pb_indicators_request;

typedef struct pb_budget_status_request {
	int level; /* 0: every entity */
	const char *entity;
	int32_t year; /* 0: every year */
} pb_budget_status_request;

typedef struct pb_econ_batch {
	const char *sender;
	uint64_t seq;
	const char *csv;
} pb_econ_batch;

/* One row of a RollupBatch: a district's delta of one rollup row (the
 * fields of store.h's sto_key and sto_val, which this layer does not see). */
typedef struct pb_rollup_row {
	uint32_t level, res, metric; /* as received: the receiver checks the ranges */
	uint64_t entity;
	int64_t start, count, sum, min, max;
	uint64_t coverage_s;
	uint32_t flags, members, complete;
} pb_rollup_row;
/* An economic figure in a RollupBatch: store/econ.h's key then value. */
#define PB_ECON_BYTES 35
/* After pb_decode, rows and econ live until pb_msg_fini. columns_agree is
 * false (and nrows 0) when the row columns have different lengths or an
 * econ entry is not PB_ECON_BYTES long: the receiver answers MALFORMED. */
typedef struct pb_rollup_batch {
	const char *sender;
	uint64_t seq;
	int64_t created;
	size_t nrows;
	const pb_rollup_row *rows;
	bool has_registry;
	pb_registry_import registry;
	size_t necon;
	const uint8_t *econ; /* necon x PB_ECON_BYTES */
	size_t nevents;	     /* events: 8-byte big-endian id, then the stored event */
	const uint8_t *const *events;
	const size_t *event_len;
	bool columns_agree;
} pb_rollup_batch;
typedef struct pb_econ_import {
	const char *csv, *origin;
} pb_econ_import;

typedef struct pb_counter {
	const char *name;
	uint64_t value;
} pb_counter;

typedef struct pb_sender_state {
	const char *sender;
	uint64_t high_water;
} pb_sender_state;

typedef struct pb_status_reply {
	const char *role;
	uint64_t uptime_s, series, flushes, db_bytes;
	size_t ncounters;
	const pb_counter *counters;
	size_t nsenders;
	const pb_sender_state *senders;
	size_t nnotes;
	const pb_field *notes;
} pb_status_reply;

typedef struct pb_msg {
	enum pb_type type;
	uint32_t version;
	union {
		pb_hello hello;
		pb_welcome welcome;
		pb_batch batch;
		pb_ack ack;
		pb_registry_import registry_import;
		pb_registry_reply registry_reply;
		pb_query query;
		pb_query_reply query_reply;
		pb_status_reply status_reply;
		pb_events_request events_request;
		pb_events_reply events_reply;
		uint64_t event_accept; /* the event id */
		pb_replacement replacement;
		pb_command_reply command_reply;
		pb_econ_import econ_import; /* also PB_BUDGET_IMPORT: csv and origin */
		pb_intensity_request intensity_request;
		pb_report report;
		pb_econ_batch econ_batch;
		pb_air_request air_request;
		pb_table table;
		pb_benchmark_request benchmark_request;
		pb_carbon_request carbon_request;
		pb_monitoring_request monitoring_request;
		pb_indicators_request indicators_request;
		pb_budget_status_request budget_status_request;
		pb_rollup_batch rollup_batch;
	} u;
	void *opaque_; /* the decoded protobuf-c message; pb_msg_fini frees it */
	void *extra_;  /* arrays converted for the caller; freed by pb_msg_fini */
} pb_msg;

/* Decodes one envelope. 0 and *out filled (release with pb_msg_fini);
 * ER_EPROTO for bytes that are not an envelope or carry no body;
 * ER_EVERSION when the version is not PB_VERSION (out->version says which;
 * nothing to release). Strings are never NULL after a successful decode. */
int pb_decode(const void *buf, size_t len, pb_msg *out);
void pb_msg_fini(pb_msg *m);

/* Encodes m (type and the matching union member; version is set to
 * PB_VERSION) into a malloc'd buffer the caller frees. */
int pb_encode(const pb_msg *m, uint8_t **out, size_t *len);

/* Encodes a batch into buf of cap bytes without allocating. Returns the
 * encoded length, or the length needed when it is larger than cap (nothing
 * written then), or 0 on error. The load generator's hot path. */
size_t pb_encode_batch_into(const pb_batch *b, void *buf, size_t cap);

/* Convenience constructors for the common replies. */
int pb_encode_ack(const pb_ack *a, uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
