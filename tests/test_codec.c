/* test_codec.c: proto/codec.c through its public API only. Every message
 * type makes a round trip with real values; a few frames are checked byte
 * for byte, which pins the .proto field numbers and wire types (a round
 * trip alone would pass with any numbering). Hostile input (garbage, random
 * bytes, mutated frames, other versions, columns of different lengths) must
 * decode to an error or to something harmless, never crash: under ASan a
 * stray read or a leak fails the run. The test does not include the
 * generated header; frames it needs that pb_encode cannot produce are
 * written out byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "er.h"

/* A fixed-seed generator, so that a failing garbage case can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
	/* splitmix64: small, and good enough to spread bytes over the wire types. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Encodes m, decodes it into out and checks the envelope-level fields. */
static void roundtrip(const pb_msg *m, pb_msg *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(pb_encode(m, &buf, &len), 0);
	assert_non_null(buf);
	assert_true(len >= 2);
	assert_int_equal(pb_decode(buf, len, out), 0);
	free(buf);
	assert_int_equal(out->type, m->type);
	assert_int_equal(out->version, PB_VERSION);
}

/* Reads every string and array a decoded message exposes, so that ASan
 * sees a dangling or short one; strings must never be NULL. */
static void touch(const pb_msg *m)
{
	volatile size_t sum = 0;
	size_t i;

	switch (m->type) {
	case PB_HELLO:
		assert_non_null(m->u.hello.sender);
		sum += strlen(m->u.hello.sender);
		break;
	case PB_WELCOME:
		assert_non_null(m->u.welcome.sender);
		sum += strlen(m->u.welcome.sender);
		break;
	case PB_BATCH: {
		const pb_batch *b = &m->u.batch;

		assert_non_null(b->sender);
		sum += strlen(b->sender);
		for (i = 0; i < b->n; i++)
			sum += (size_t)b->series[i];
		for (i = 0; i < b->nts; i++)
			sum += (size_t)b->ts[i];
		for (i = 0; i < b->nvalue; i++)
			sum += b->value[i] == b->value[i];
		for (i = 0; i < b->nflags; i++)
			sum += b->flags[i];
		break;
	}
	case PB_ACK:
		assert_true(m->u.ack.nreasons <= PB_MAX_REASONS);
		assert_non_null(m->u.ack.message);
		sum += strlen(m->u.ack.message);
		break;
	case PB_REGISTRY_IMPORT:
		sum += strlen(m->u.registry_import.districts_csv) + strlen(m->u.registry_import.enterprises_csv) +
		       strlen(m->u.registry_import.meters_csv) + strlen(m->u.registry_import.stations_csv) +
		       strlen(m->u.registry_import.origin);
		break;
	case PB_REGISTRY_REPLY:
		for (i = 0; i < m->u.registry_reply.nerrors; i++)
			sum += strlen(m->u.registry_reply.errors[i]);
		break;
	case PB_QUERY:
		sum += strlen(m->u.query.entity) + strlen(m->u.query.carrier);
		break;
	case PB_QUERY_REPLY:
		sum += strlen(m->u.query_reply.error) + strlen(m->u.query_reply.entity);
		for (i = 0; i < m->u.query_reply.nrows; i++)
			sum += strlen(m->u.query_reply.rows[i].carrier) + strlen(m->u.query_reply.rows[i].purpose) +
			       strlen(m->u.query_reply.rows[i].unit);
		break;
	case PB_STATUS_REQUEST:
	case PB_EVENT_ACCEPT:
	case PB_RELOAD:
		break;
	case PB_EVENTS_REQUEST:
		sum += strlen(m->u.events_request.meter);
		break;
	case PB_EVENTS_REPLY:
		sum += strlen(m->u.events_reply.error);
		for (i = 0; i < m->u.events_reply.nevents; i++)
			sum += strlen(m->u.events_reply.events[i].type) + strlen(m->u.events_reply.events[i].status) +
			       strlen(m->u.events_reply.events[i].meter);
		break;
	case PB_REPLACEMENT:
		sum += strlen(m->u.replacement.meter);
		break;
	case PB_COMMAND_REPLY:
		sum += strlen(m->u.command_reply.message);
		break;
	case PB_ECON_IMPORT:
		sum += strlen(m->u.econ_import.csv) + strlen(m->u.econ_import.origin);
		break;
	case PB_ECON_BATCH:
		sum += strlen(m->u.econ_batch.sender) + strlen(m->u.econ_batch.csv);
		break;
	case PB_INDICATORS_REQUEST:
		sum += strlen(m->u.indicators_request.entity);
		break;
	case PB_MONITORING_REQUEST:
		sum += strlen(m->u.monitoring_request.entity) + strlen(m->u.monitoring_request.period);
		break;
	case PB_CARBON_REQUEST:
		sum += strlen(m->u.carbon_request.entity);
		break;
	case PB_BENCHMARK_REQUEST:
		sum += strlen(m->u.benchmark_request.industry) + strlen(m->u.benchmark_request.period) +
		       strlen(m->u.benchmark_request.scope) + strlen(m->u.benchmark_request.method) +
		       strlen(m->u.benchmark_request.kind);
		break;
	case PB_AIR_REQUEST:
		sum += strlen(m->u.air_request.entity) + strlen(m->u.air_request.kind);
		break;
	case PB_TABLE:
		sum += strlen(m->u.table.error) + strlen(m->u.table.title);
		for (i = 0; i < m->u.table.ncols; i++)
			sum += strlen(m->u.table.columns[i]);
		for (i = 0; i < m->u.table.ncols * m->u.table.nrows; i++)
			sum += strlen(m->u.table.cells[i]);
		for (i = 0; i < m->u.table.nnotes; i++)
			sum += strlen(m->u.table.notes[i].name) + strlen(m->u.table.notes[i].value);
		break;
	case PB_INTENSITY_REQUEST:
		sum += strlen(m->u.intensity_request.entity) + strlen(m->u.intensity_request.period) +
		       strlen(m->u.intensity_request.kind) + strlen(m->u.intensity_request.base) +
		       strlen(m->u.intensity_request.scope) + strlen(m->u.intensity_request.method);
		break;
	case PB_REPORT:
		sum += strlen(m->u.report.error);
		for (i = 0; i < m->u.report.nfields; i++)
			sum += strlen(m->u.report.fields[i].name) + strlen(m->u.report.fields[i].value);
		break;
	case PB_STATUS_REPLY:
		sum += strlen(m->u.status_reply.role);
		for (i = 0; i < m->u.status_reply.ncounters; i++)
			sum += strlen(m->u.status_reply.counters[i].name);
		for (i = 0; i < m->u.status_reply.nsenders; i++)
			sum += strlen(m->u.status_reply.senders[i].sender);
		for (i = 0; i < m->u.status_reply.nnotes; i++)
			sum += strlen(m->u.status_reply.notes[i].name) + strlen(m->u.status_reply.notes[i].value);
		break;
	case PB_ROLLUP_BATCH: {
		const pb_rollup_batch *b = &m->u.rollup_batch;
		sum += strlen(b->sender);
		for (i = 0; i < b->nrows; i++)
			sum += (size_t)b->rows[i].sum + b->rows[i].level;
		for (i = 0; i < b->necon * PB_ECON_BYTES; i++)
			sum += b->econ[i];
		if (b->has_registry)
			sum += strlen(b->registry.districts_csv) + strlen(b->registry.enterprises_csv) +
			       strlen(b->registry.meters_csv) + strlen(b->registry.stations_csv) +
			       strlen(b->registry.origin);
		break;
	}
	default:
		fail_msg("decoded type %d is not a pb_type", (int)m->type);
	}
	(void)sum;
}

static void test_hello(void **state)
{
	pb_msg m = { .type = PB_HELLO, .u.hello.sender = "district-07" }, d;
	/* Envelope{version=1, hello=Hello{sender="x"}}: field 1 varint, field 2
	 * length-delimited, and inside it field 1 length-delimited. */
	static const uint8_t wire[] = { 0x08, 0x01, 0x12, 0x03, 0x0a, 0x01, 'x' };
	pb_msg x = { .type = PB_HELLO, .u.hello.sender = "x" };
	uint8_t *buf;
	size_t len;

	(void)state;
	roundtrip(&m, &d);
	assert_string_equal(d.u.hello.sender, "district-07");
	assert_non_null(d.opaque_);
	pb_msg_fini(&d);

	assert_int_equal(pb_encode(&x, &buf, &len), 0);
	assert_int_equal(len, sizeof(wire));
	assert_memory_equal(buf, wire, sizeof(wire));
	free(buf);

	/* A NULL string goes out as "" and comes back as "", never NULL. */
	m.u.hello.sender = NULL;
	roundtrip(&m, &d);
	assert_non_null(d.u.hello.sender);
	assert_string_equal(d.u.hello.sender, "");
	pb_msg_fini(&d);
}

static void test_welcome(void **state)
{
	pb_msg m = { .type = PB_WELCOME, .u.welcome = { .sender = "gw-3", .next_seq = 1234567890123ULL } }, d;

	(void)state;
	roundtrip(&m, &d);
	assert_string_equal(d.u.welcome.sender, "gw-3");
	assert_int_equal(d.u.welcome.next_seq, 1234567890123ULL);
	pb_msg_fini(&d);

	m.u.welcome.next_seq = UINT64_MAX;
	roundtrip(&m, &d);
	assert_int_equal(d.u.welcome.next_seq, UINT64_MAX);
	pb_msg_fini(&d);
}

#define NREAD 1000

/* Columns of a realistic batch: XXH3 keys of meter codes, quarter-hour
 * timestamps (one negative, for the zigzag encoding), values including
 * NaN, infinities and -0 (which must arrive bit for bit, so that the
 * receiver can reject them itself), and flags up to UINT32_MAX. */
struct cols {
	uint64_t series[NREAD];
	int64_t ts[NREAD];
	double value[NREAD];
	uint32_t flags[NREAD];
};

static void fill_cols(struct cols *c)
{
	char code[32];
	int i, len;

	for (i = 0; i < NREAD; i++) {
		len = snprintf(code, sizeof(code), "M%06d.elec", i);
		c->series[i] = er_key(code, (size_t)len);
		c->ts[i] = 1767225600LL + (int64_t)i * 900;
		c->value[i] = i * 0.25 - 100.0;
		c->flags[i] = (uint32_t)(i % 7);
	}
	c->ts[3] = -5;
	c->ts[4] = INT64_MIN;
	c->ts[5] = INT64_MAX;
	c->value[10] = NAN;
	c->value[11] = INFINITY;
	c->value[12] = -INFINITY;
	c->value[13] = -0.0;
	c->value[14] = 123456.789012;
	c->flags[20] = UINT32_MAX;
}

static void assert_batch_equal(const pb_batch *d, const struct cols *c, size_t nflags)
{
	assert_int_equal(d->n, NREAD);
	assert_int_equal(d->nts, NREAD);
	assert_int_equal(d->nvalue, NREAD);
	assert_int_equal(d->nflags, nflags);
	assert_memory_equal(d->series, c->series, sizeof(c->series));
	assert_memory_equal(d->ts, c->ts, sizeof(c->ts));
	assert_memory_equal(d->value, c->value, sizeof(c->value));
	if (nflags > 0)
		assert_memory_equal(d->flags, c->flags, sizeof(c->flags));
}

static void test_batch(void **state)
{
	struct cols *c = malloc(sizeof(*c));
	pb_msg m = { .type = PB_BATCH }, d;

	(void)state;
	assert_non_null(c);
	fill_cols(c);
	m.u.batch = (pb_batch){ .sender = "district-07", .seq = 42, .n = NREAD, .series = c->series,
				.ts = c->ts, .value = c->value, .nflags = NREAD, .flags = c->flags };
	roundtrip(&m, &d);
	assert_string_equal(d.u.batch.sender, "district-07");
	assert_int_equal(d.u.batch.seq, 42);
	assert_batch_equal(&d.u.batch, c, NREAD);
	assert_true(isnan(d.u.batch.value[10]));
	assert_true(signbit(d.u.batch.value[13]));
	assert_int_equal(d.u.batch.ts[3], -5);
	pb_msg_fini(&d);
	free(c);
}

static void test_batch_no_flags(void **state)
{
	struct cols *c = malloc(sizeof(*c));
	pb_msg m = { .type = PB_BATCH }, d;

	(void)state;
	assert_non_null(c);
	fill_cols(c);
	m.u.batch = (pb_batch){ .sender = "s", .seq = 1, .n = NREAD, .series = c->series, .ts = c->ts,
				.value = c->value };
	roundtrip(&m, &d);
	assert_int_equal(d.u.batch.seq, 1);
	assert_batch_equal(&d.u.batch, c, 0);
	pb_msg_fini(&d);

	/* An empty batch is legal (a sender may probe with one). */
	m.u.batch = (pb_batch){ .sender = "s", .seq = 2 };
	roundtrip(&m, &d);
	assert_int_equal(d.u.batch.seq, 2);
	assert_int_equal(d.u.batch.n, 0);
	assert_int_equal(d.u.batch.nts, 0);
	assert_int_equal(d.u.batch.nvalue, 0);
	assert_int_equal(d.u.batch.nflags, 0);
	pb_msg_fini(&d);
	free(c);
}

/* One reading, checked byte for byte: packed fixed64, packed zigzag
 * sint64, packed double, in fields 3, 4 and 5 of body field 4. */
static void test_batch_wire(void **state)
{
	static const uint64_t series[1] = { 0x0102030405060708ULL };
	static const int64_t ts[1] = { -1 };
	static const double value[1] = { 1.0 };
	static const uint8_t wire[] = {
		0x08, 0x01, 0x22, 0x1c,			   /* version 1, batch of 28 bytes */
		0x0a, 0x01, 'x', 0x10, 0x05,		   /* sender "x", seq 5 */
		0x1a, 0x08, 8, 7, 6, 5, 4, 3, 2, 1,	   /* series, little endian */
		0x22, 0x01, 0x01,			   /* ts -1, zigzag 1 */
		0x2a, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, /* value 1.0 */
	};
	pb_batch b = { .sender = "x", .seq = 5, .n = 1, .series = series, .ts = ts, .value = value };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(pb_encode_batch_into(&b, buf, sizeof(buf)), sizeof(wire));
	assert_memory_equal(buf, wire, sizeof(wire));
}

static void test_batch_into(void **state)
{
	struct cols *c = malloc(sizeof(*c));
	pb_batch b;
	pb_msg m = { .type = PB_BATCH }, d;
	uint8_t *ref, *buf;
	size_t reflen, need, i;

	(void)state;
	assert_non_null(c);
	fill_cols(c);
	b = (pb_batch){ .sender = "district-07", .seq = 99, .n = NREAD, .series = c->series, .ts = c->ts,
			.value = c->value, .nflags = NREAD, .flags = c->flags };
	m.u.batch = b;
	assert_int_equal(pb_encode(&m, &ref, &reflen), 0);

	/* Asking with no buffer at all gives the size. */
	need = pb_encode_batch_into(&b, NULL, 0);
	assert_int_equal(need, reflen);

	/* One byte short: the size comes back and not a byte is written. */
	buf = malloc(need + 16);
	assert_non_null(buf);
	memset(buf, 0xa5, need + 16);
	assert_int_equal(pb_encode_batch_into(&b, buf, need - 1), need);
	for (i = 0; i < need + 16; i++)
		assert_int_equal(buf[i], 0xa5);

	/* The exact size: the same bytes as pb_encode, nothing beyond. */
	assert_int_equal(pb_encode_batch_into(&b, buf, need), need);
	assert_memory_equal(buf, ref, need);
	for (i = need; i < need + 16; i++)
		assert_int_equal(buf[i], 0xa5);

	assert_int_equal(pb_decode(buf, need, &d), 0);
	assert_int_equal(d.type, PB_BATCH);
	assert_string_equal(d.u.batch.sender, "district-07");
	assert_int_equal(d.u.batch.seq, 99);
	assert_batch_equal(&d.u.batch, c, NREAD);
	pb_msg_fini(&d);
	free(buf);
	free(ref);
	free(c);
}

static void test_ack(void **state)
{
	pb_ack a = {
		.seq = 17,
		.status = PB_ST_OK,
		.expected = 18,
		.accepted = 997,
		.rejected = 3,
		.duplicates = 5,
		.nreasons = 3,
		.reasons = {
			{ PB_R_UNKNOWN_SERIES, 1, 4, 0xdeadbeefcafef00dULL },
			{ PB_R_NOT_FINITE, 1, 10, 42 },
			{ PB_R_OUT_OF_RANGE, 1, 999, UINT64_MAX },
		},
		.message = "3 readings rejected",
	};
	pb_msg d;
	uint8_t *buf;
	size_t len, i;

	(void)state;
	assert_int_equal(pb_encode_ack(&a, &buf, &len), 0);
	assert_int_equal(pb_decode(buf, len, &d), 0);
	free(buf);
	assert_int_equal(d.type, PB_ACK);
	assert_int_equal(d.u.ack.seq, 17);
	assert_int_equal(d.u.ack.status, PB_ST_OK);
	assert_int_equal(d.u.ack.expected, 18);
	assert_int_equal(d.u.ack.accepted, 997);
	assert_int_equal(d.u.ack.rejected, 3);
	assert_int_equal(d.u.ack.duplicates, 5);
	assert_int_equal(d.u.ack.nreasons, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(d.u.ack.reasons[i].reason, a.reasons[i].reason);
		assert_int_equal(d.u.ack.reasons[i].count, a.reasons[i].count);
		assert_int_equal(d.u.ack.reasons[i].first_index, a.reasons[i].first_index);
		assert_int_equal(d.u.ack.reasons[i].first_series, a.reasons[i].first_series);
	}
	assert_string_equal(d.u.ack.message, "3 readings rejected");
	pb_msg_fini(&d);

	/* A GAP ack with no message: the message arrives as "". */
	a = (pb_ack){ .seq = 30, .status = PB_ST_GAP, .expected = 21 };
	assert_int_equal(pb_encode_ack(&a, &buf, &len), 0);
	assert_int_equal(pb_decode(buf, len, &d), 0);
	free(buf);
	assert_int_equal(d.u.ack.status, PB_ST_GAP);
	assert_int_equal(d.u.ack.seq, 30);
	assert_int_equal(d.u.ack.expected, 21);
	assert_int_equal(d.u.ack.nreasons, 0);
	assert_string_equal(d.u.ack.message, "");
	pb_msg_fini(&d);
}

/* A peer may send more reasons than fit; the first PB_MAX_REASONS are kept. */
static void test_ack_too_many_reasons(void **state)
{
	uint8_t wire[4 + 9 * 4];
	pb_msg d;
	size_t i;

	(void)state;
	wire[0] = 0x08; /* version 1 */
	wire[1] = 0x01;
	wire[2] = 0x2a; /* field 5, ack */
	wire[3] = 9 * 4;
	for (i = 0; i < 9; i++) {
		wire[4 + 4 * i] = 0x32; /* field 6, a ReasonCount of 2 bytes */
		wire[5 + 4 * i] = 0x02;
		wire[6 + 4 * i] = 0x08; /* reason */
		wire[7 + 4 * i] = (uint8_t)(1 + i % 7);
	}
	assert_int_equal(pb_decode(wire, sizeof(wire), &d), 0);
	assert_int_equal(d.type, PB_ACK);
	assert_int_equal(d.u.ack.nreasons, PB_MAX_REASONS);
	for (i = 0; i < PB_MAX_REASONS; i++)
		assert_int_equal(d.u.ack.reasons[i].reason, 1 + i % 7);
	assert_string_equal(d.u.ack.message, "");
	pb_msg_fini(&d);
}

static void test_registry_import(void **state)
{
	pb_msg m = { .type = PB_REGISTRY_IMPORT }, d;

	(void)state;
	m.u.registry_import = (pb_registry_import){
		.districts_csv = "code,name\nD01,Harbour\n",
		.enterprises_csv = "",
		.meters_csv = "code,enterprise,carrier\nM1,E1,elec\nM2,E1,\"gas, natural\"\n",
		.stations_csv = NULL,
		.origin = "upload 2026-03-01",
	};
	roundtrip(&m, &d);
	assert_string_equal(d.u.registry_import.districts_csv, "code,name\nD01,Harbour\n");
	assert_string_equal(d.u.registry_import.enterprises_csv, "");
	assert_string_equal(d.u.registry_import.meters_csv,
			    "code,enterprise,carrier\nM1,E1,elec\nM2,E1,\"gas, natural\"\n");
	assert_string_equal(d.u.registry_import.stations_csv, "");
	assert_string_equal(d.u.registry_import.origin, "upload 2026-03-01");
	pb_msg_fini(&d);
}

static void test_registry_reply(void **state)
{
	static const char *const errors[] = {
		"meters.csv:3: unknown enterprise E9",
		"meters.csv:7: carrier \"steam\" is not known",
		"stations.csv:2: duplicate code S01",
	};
	pb_msg m = { .type = PB_REGISTRY_REPLY }, d;

	(void)state;
	m.u.registry_reply = (pb_registry_reply){ .ok = false, .nerrors = 3, .errors = errors, .districts = 12,
						  .enterprises = 340, .meters = 5021, .stations = 9, .added = 77 };
	roundtrip(&m, &d);
	assert_false(d.u.registry_reply.ok);
	assert_int_equal(d.u.registry_reply.nerrors, 3);
	assert_string_equal(d.u.registry_reply.errors[0], errors[0]);
	assert_string_equal(d.u.registry_reply.errors[1], errors[1]);
	assert_string_equal(d.u.registry_reply.errors[2], errors[2]);
	assert_int_equal(d.u.registry_reply.districts, 12);
	assert_int_equal(d.u.registry_reply.enterprises, 340);
	assert_int_equal(d.u.registry_reply.meters, 5021);
	assert_int_equal(d.u.registry_reply.stations, 9);
	assert_int_equal(d.u.registry_reply.added, 77);
	pb_msg_fini(&d);

	m.u.registry_reply = (pb_registry_reply){ .ok = true, .meters = 1 };
	roundtrip(&m, &d);
	assert_true(d.u.registry_reply.ok);
	assert_int_equal(d.u.registry_reply.nerrors, 0);
	assert_int_equal(d.u.registry_reply.meters, 1);
	pb_msg_fini(&d);
}

static void test_query(void **state)
{
	pb_msg m = { .type = PB_QUERY }, d;

	(void)state;
	m.u.query = (pb_query){ .level = 2,
				.entity = "E-0042",
				.resolution = ER_RES_DAY,
				.from = 1767225600,
				.to = 1769904000,
				.carrier = "elec" };
	roundtrip(&m, &d);
	assert_int_equal(d.u.query.level, 2);
	assert_string_equal(d.u.query.entity, "E-0042");
	assert_int_equal(d.u.query.resolution, ER_RES_DAY);
	assert_int_equal(d.u.query.from, 1767225600);
	assert_int_equal(d.u.query.to, 1769904000);
	assert_string_equal(d.u.query.carrier, "elec");
	pb_msg_fini(&d);

	/* The city: no entity, every carrier, times before 1970. */
	m.u.query = (pb_query){ .level = 4, .resolution = ER_RES_YEAR, .from = -86400, .to = 0 };
	roundtrip(&m, &d);
	assert_int_equal(d.u.query.level, 4);
	assert_string_equal(d.u.query.entity, "");
	assert_string_equal(d.u.query.carrier, "");
	assert_int_equal(d.u.query.from, -86400);
	assert_int_equal(d.u.query.to, 0);
	pb_msg_fini(&d);
}

static void test_query_reply(void **state)
{
	static const pb_row rows[3] = {
		{ 1767225600, "elec", "production", "kWh", 96, 1234567890123, -5000000, 99000000, 86400, 0, 12,
		  "1.5173", "tce", "GB/T 2589-2020", 7 },
		{ 1767312000, "elec", "office", "kWh", 95, -42, INT64_MIN, INT64_MAX, 85500, 3, 11, "", "", "", 0 },
		{ 1767398400, "gas", "", "m3", 0, 0, 0, 0, 0, UINT32_MAX, 0, "0", "tCO2", "", UINT32_MAX },
	};
	pb_msg m = { .type = PB_QUERY_REPLY }, d;
	size_t i;

	(void)state;
	m.u.query_reply = (pb_query_reply){ .ok = true, .error = NULL, .entity = "E-0042", .level = 2,
					    .resolution = ER_RES_DAY, .utc_offset_s = -12600, .nrows = 3,
					    .rows = rows };
	roundtrip(&m, &d);
	assert_true(d.u.query_reply.ok);
	assert_string_equal(d.u.query_reply.error, "");
	assert_string_equal(d.u.query_reply.entity, "E-0042");
	assert_int_equal(d.u.query_reply.level, 2);
	assert_int_equal(d.u.query_reply.resolution, ER_RES_DAY);
	assert_int_equal(d.u.query_reply.utc_offset_s, -12600);
	assert_int_equal(d.u.query_reply.nrows, 3);
	assert_non_null(d.extra_);
	for (i = 0; i < 3; i++) {
		const pb_row *r = &d.u.query_reply.rows[i];

		assert_int_equal(r->start, rows[i].start);
		assert_string_equal(r->carrier, rows[i].carrier);
		assert_string_equal(r->purpose, rows[i].purpose);
		assert_string_equal(r->unit, rows[i].unit);
		assert_int_equal(r->count, rows[i].count);
		assert_int_equal(r->sum, rows[i].sum);
		assert_int_equal(r->min, rows[i].min);
		assert_int_equal(r->max, rows[i].max);
		assert_int_equal(r->coverage_s, rows[i].coverage_s);
		assert_int_equal(r->flags, rows[i].flags);
		assert_int_equal(r->members, rows[i].members);
		assert_string_equal(r->value, rows[i].value);
		assert_string_equal(r->value_unit, rows[i].value_unit);
		assert_string_equal(r->source, rows[i].source);
		assert_int_equal(r->complete, rows[i].complete);
	}
	pb_msg_fini(&d);

	m.u.query_reply = (pb_query_reply){ .ok = false, .error = "unknown entity E-9999" };
	roundtrip(&m, &d);
	assert_false(d.u.query_reply.ok);
	assert_string_equal(d.u.query_reply.error, "unknown entity E-9999");
	assert_int_equal(d.u.query_reply.nrows, 0);
	pb_msg_fini(&d);
}

static void test_status(void **state)
{
	static const pb_counter counters[] = {
		{ "readings_accepted", 67200000 },
		{ "readings_rejected", 12 },
		{ "batches_duplicate", 0 },
		{ "commit_us_p99", 1830 },
	};
	static const pb_sender_state senders[] = {
		{ "district-01", 6720 },
		{ "district-02", UINT64_MAX },
	};
	pb_msg m = { .type = PB_STATUS_REQUEST }, d;
	size_t i;

	(void)state;
	roundtrip(&m, &d);
	assert_int_equal(d.type, PB_STATUS_REQUEST);
	pb_msg_fini(&d);

	m.type = PB_STATUS_REPLY;
	m.u.status_reply = (pb_status_reply){ .role = "district",
					      .uptime_s = 3600,
					      .series = 100200,
					      .flushes = 17999,
					      .db_bytes = 5368709120ULL,
					      .ncounters = 4,
					      .counters = counters,
					      .nsenders = 2,
					      .senders = senders };
	roundtrip(&m, &d);
	assert_string_equal(d.u.status_reply.role, "district");
	assert_int_equal(d.u.status_reply.uptime_s, 3600);
	assert_int_equal(d.u.status_reply.series, 100200);
	assert_int_equal(d.u.status_reply.flushes, 17999);
	assert_int_equal(d.u.status_reply.db_bytes, 5368709120ULL);
	assert_int_equal(d.u.status_reply.ncounters, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(d.u.status_reply.counters[i].name, counters[i].name);
		assert_int_equal(d.u.status_reply.counters[i].value, counters[i].value);
	}
	assert_int_equal(d.u.status_reply.nsenders, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(d.u.status_reply.senders[i].sender, senders[i].sender);
		assert_int_equal(d.u.status_reply.senders[i].high_water, senders[i].high_water);
	}
	pb_msg_fini(&d);

	/* Senders but no counters, so the two arrays' placement in one block
	 * is exercised both ways. */
	m.u.status_reply = (pb_status_reply){ .role = "city", .nsenders = 1, .senders = senders + 1 };
	roundtrip(&m, &d);
	assert_int_equal(d.u.status_reply.ncounters, 0);
	assert_int_equal(d.u.status_reply.nsenders, 1);
	assert_string_equal(d.u.status_reply.senders[0].sender, "district-02");
	assert_int_equal(d.u.status_reply.senders[0].high_water, UINT64_MAX);
	pb_msg_fini(&d);
}

/* A district's outbox entry: rows (extremes included), economic figures,
 * an announcement; and a city's status notes. */
static void test_rollup_batch(void **state)
{
	pb_rollup_row rows[3] = {
		{.level = 2, .res = 1, .metric = 0x0101, .entity = UINT64_MAX, .start = -3600, .count = 4,
		 .sum = INT64_MAX, .min = INT64_MIN, .max = INT64_MAX, .coverage_s = 3600, .flags = 1, .members = 3,
		 .complete = 2},
		{.level = 5, .res = 4, .metric = 32, .entity = 7, .start = 1793491200, .count = 0, .sum = -5,
		 .min = 1, .max = 2, .coverage_s = 0, .flags = 0, .members = 0, .complete = 0},
		{.level = 2, .res = 2, .metric = 6, .entity = 1, .start = 0, .count = 1, .sum = 1500000,
		 .min = 1500000, .max = 1500000, .coverage_s = 86400, .flags = 0, .members = 1, .complete = 1},
	};
	uint8_t econ[2 * PB_ECON_BYTES];
	pb_msg m = {.type = PB_ROLLUP_BATCH}, d;
	pb_rollup_batch *b = &m.u.rollup_batch;
	(void)state;

	for (size_t i = 0; i < sizeof econ; i++)
		econ[i] = (uint8_t)(i * 7);
	*b = (pb_rollup_batch){.sender = "dn1", .seq = 42, .created = 1793491299, .nrows = 3, .rows = rows,
			       .necon = 2, .econ = econ};
	roundtrip(&m, &d);
	touch(&d);
	const pb_rollup_batch *o = &d.u.rollup_batch;
	assert_true(o->columns_agree);
	assert_string_equal(o->sender, "dn1");
	assert_int_equal(o->seq, 42);
	assert_int_equal(o->created, 1793491299);
	assert_false(o->has_registry);
	assert_int_equal(o->nrows, 3);
	for (size_t i = 0; i < 3; i++) {
		const pb_rollup_row *x = &o->rows[i], *y = &rows[i];
		assert_int_equal(x->level, y->level);
		assert_int_equal(x->res, y->res);
		assert_int_equal(x->metric, y->metric);
		assert_int_equal(x->entity, y->entity);
		assert_int_equal(x->start, y->start);
		assert_int_equal(x->count, y->count);
		assert_int_equal(x->sum, y->sum);
		assert_int_equal(x->min, y->min);
		assert_int_equal(x->max, y->max);
		assert_int_equal(x->coverage_s, y->coverage_s);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->members, y->members);
		assert_int_equal(x->complete, y->complete);
	}
	assert_int_equal(o->necon, 2);
	assert_memory_equal(o->econ, econ, sizeof econ);
	pb_msg_fini(&d);

	/* an announcement alone */
	*b = (pb_rollup_batch){.sender = "dn2", .seq = 1, .has_registry = true,
			       .registry = {.districts_csv = "code,name\nD02,West\n", .enterprises_csv = "",
					    .meters_csv = "", .stations_csv = "", .origin = "dn2"}};
	roundtrip(&m, &d);
	touch(&d);
	o = &d.u.rollup_batch;
	assert_true(o->columns_agree);
	assert_true(o->has_registry);
	assert_string_equal(o->registry.districts_csv, "code,name\nD02,West\n");
	assert_string_equal(o->registry.origin, "dn2");
	assert_int_equal(o->nrows, 0);
	assert_int_equal(o->necon, 0);
	pb_msg_fini(&d);

	/* status notes */
	static const pb_field notes[] = {{"district node dn1", "D01"}, {"uplink", "idle"}};
	m.type = PB_STATUS_REPLY;
	m.u.status_reply = (pb_status_reply){.role = "city", .nnotes = 2, .notes = notes};
	roundtrip(&m, &d);
	assert_int_equal(d.u.status_reply.nnotes, 2);
	assert_string_equal(d.u.status_reply.notes[0].name, "district node dn1");
	assert_string_equal(d.u.status_reply.notes[1].value, "idle");
	pb_msg_fini(&d);
}

/* Columns of different lengths, or an econ entry of the wrong size,
 * decode with columns_agree false and no rows: the city answers MALFORMED. */
static void test_rollup_batch_inconsistent(void **state)
{
	static const uint8_t two_levels_one_entity[] = {
		0x08, 0x01, 0xf2, 0x01, 0x13,	 /* version 1, rollup_batch (field 30) of 19 bytes */
		0x0a, 0x01, 'a', 0x10, 0x07,	 /* sender "a", seq 7 */
		0x22, 0x02, 0x02, 0x02,		 /* level: 2, 2 */
		0x2a, 0x08, 1, 0, 0, 0, 0, 0, 0, 0, /* entity: 1 */
	};
	static const uint8_t short_econ[] = {
		0x08, 0x01, 0xf2, 0x01, 0x0a,	   /* version 1, rollup_batch of 10 bytes */
		0x0a, 0x01, 'a', 0x10, 0x07,	   /* sender "a", seq 7 */
		0x92, 0x01, 0x02, 0x01, 0x02,	   /* econ (field 18): 2 bytes, not 35 */
	};
	pb_msg d;
	(void)state;

	assert_int_equal(pb_decode(two_levels_one_entity, sizeof two_levels_one_entity, &d), 0);
	assert_int_equal(d.type, PB_ROLLUP_BATCH);
	assert_false(d.u.rollup_batch.columns_agree);
	assert_int_equal(d.u.rollup_batch.nrows, 0);
	assert_int_equal(d.u.rollup_batch.seq, 7);
	touch(&d);
	pb_msg_fini(&d);
	assert_int_equal(pb_decode(short_econ, sizeof short_econ, &d), 0);
	assert_false(d.u.rollup_batch.columns_agree);
	assert_int_equal(d.u.rollup_batch.necon, 0);
	touch(&d);
	pb_msg_fini(&d);
}

static void test_empty_and_ff(void **state)
{
	uint8_t ff[64];
	pb_msg d;

	(void)state;
	assert_int_equal(pb_decode(NULL, 0, &d), ER_EPROTO);
	assert_null(d.opaque_);
	assert_null(d.extra_);
	assert_int_equal(pb_decode(ff, 0, &d), ER_EPROTO);
	memset(ff, 0xff, sizeof(ff));
	assert_int_equal(pb_decode(ff, sizeof(ff), &d), ER_EPROTO);
	assert_int_equal(d.type, PB_NONE);
	assert_null(d.opaque_);
	/* A version and no body is not a message. */
	assert_int_equal(pb_decode((const uint8_t[]){ 0x08, 0x01 }, 2, &d), ER_EPROTO);
	/* A truncated body. */
	assert_int_equal(pb_decode((const uint8_t[]){ 0x08, 0x01, 0x12, 0x03, 0x0a, 0x01 }, 6, &d), ER_EPROTO);
	assert_int_equal(pb_decode(ff, 1, NULL), ER_EINVAL);
	assert_int_equal(pb_decode(NULL, 1, &d), ER_EINVAL);
}

/* Decodes buf; whatever comes back must be an error with nothing to
 * release or a message whose every string and array is readable. */
static int decode_hostile(const uint8_t *buf, size_t len)
{
	pb_msg d;
	int rc = pb_decode(buf, len, &d);

	if (rc == 0) {
		touch(&d);
		pb_msg_fini(&d);
	} else {
		assert_true(rc == ER_EPROTO || rc == ER_EVERSION);
		assert_int_equal(d.type, PB_NONE);
		assert_null(d.opaque_);
		assert_null(d.extra_);
	}
	return rc;
}

static void test_random_bytes(void **state)
{
	uint8_t buf[256];
	int i, ok = 0, proto = 0;
	size_t j, len;

	(void)state;
	for (i = 0; i < 10000; i++) {
		len = (size_t)(rng_next() % sizeof(buf));
		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)rng_next();
		/* Half the tries start like a real envelope, so that the
		 * parser gets past the first byte and into the bodies. */
		if (i % 2 == 0 && len >= 4) {
			buf[0] = 0x08;
			buf[1] = 0x01;
			buf[2] = (uint8_t)(((2 + rng_next() % 10) << 3) | 2);
			buf[3] = (uint8_t)(len - 4 < 127 ? len - 4 : 127);
		}
		switch (decode_hostile(buf, len)) {
		case 0: ok++; break;
		case ER_EPROTO: proto++; break;
		default: break;
		}
	}
	/* Both outcomes must occur, or the loop tested less than it seems. */
	assert_true(ok > 0);
	assert_true(proto > 0);
}

/* Valid frames of every type with one to four bytes changed: these reach
 * far deeper into the parser than random bytes do. */
static void test_mutated_frames(void **state)
{
	static const pb_row rows[2] = {
		{ 1, "elec", "p", "kWh", 1, 2, 3, 4, 5, 6, 7, "1", "tce", "s", 1 },
		{ 8, "gas", "q", "m3", 9, 10, 11, 12, 13, 14, 15, "", "", "", 0 },
	};
	static const char *const errors[] = { "a:1: x", "b:2: y" };
	static const pb_counter counters[] = { { "c", 1 }, { "d", 2 } };
	static const pb_sender_state senders[] = { { "s", 3 } };
	static const uint64_t series[4] = { 1, 2, 3, 4 };
	static const int64_t ts[4] = { -1, 0, 1, 1767225600 };
	static const double value[4] = { 0.5, -1, 1e300, 0 };
	static const uint32_t flags[4] = { 0, 1, 2, 3 };
	pb_msg msgs[] = {
		{ .type = PB_HELLO, .u.hello.sender = "sender" },
		{ .type = PB_WELCOME, .u.welcome = { "sender", 7 } },
		{ .type = PB_BATCH,
		  .u.batch = { .sender = "s", .seq = 9, .n = 4, .series = series, .ts = ts, .value = value,
			       .nflags = 4, .flags = flags } },
		{ .type = PB_ACK,
		  .u.ack = { .seq = 1, .status = 1, .nreasons = 2, .reasons = { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } },
			     .message = "m" } },
		{ .type = PB_REGISTRY_IMPORT, .u.registry_import = { "d", "e", "m", "s", "o" } },
		{ .type = PB_REGISTRY_REPLY, .u.registry_reply = { .nerrors = 2, .errors = errors } },
		{ .type = PB_QUERY, .u.query = { 1, "e", 2, 3, 4, "c" } },
		{ .type = PB_QUERY_REPLY, .u.query_reply = { .entity = "e", .nrows = 2, .rows = rows } },
		{ .type = PB_STATUS_REQUEST },
		{ .type = PB_STATUS_REPLY,
		  .u.status_reply = { .role = "r", .ncounters = 2, .counters = counters, .nsenders = 1,
				      .senders = senders } },
	};
	uint8_t *buf, *mut;
	size_t len, t, k;
	int i, ok = 0;

	(void)state;
	for (t = 0; t < sizeof(msgs) / sizeof(msgs[0]); t++) {
		assert_int_equal(pb_encode(&msgs[t], &buf, &len), 0);
		/* Every prefix: a frame cut short anywhere. */
		for (k = 0; k < len; k++) {
			mut = malloc(k + 1);
			assert_non_null(mut);
			memcpy(mut, buf, k);
			decode_hostile(mut, k);
			free(mut);
		}
		for (i = 0; i < 2000; i++) {
			/* A copy of exactly len bytes, so that ASan catches a
			 * read one past the end. */
			mut = malloc(len);
			assert_non_null(mut);
			memcpy(mut, buf, len);
			for (k = 1 + rng_next() % 4; k > 0; k--)
				mut[rng_next() % len] = (uint8_t)rng_next();
			ok += decode_hostile(mut, len) == 0;
			free(mut);
		}
		free(buf);
	}
	assert_true(ok > 0);
}

static void test_version(void **state)
{
	/* Envelope{version=2, hello=Hello{sender="x"}}. */
	static const uint8_t v2[] = { 0x08, 0x02, 0x12, 0x03, 0x0a, 0x01, 'x' };
	/* Version 2 with a body this build does not know (field 12). */
	static const uint8_t v2_new_body[] = { 0x08, 0x02, 0x62, 0x00 };
	/* No version field at all, with a body: version 0. */
	static const uint8_t v0[] = { 0x12, 0x03, 0x0a, 0x01, 'x' };
	static const uint8_t v1[] = { 0x08, 0x01, 0x12, 0x03, 0x0a, 0x01, 'x' };
	pb_msg d;

	(void)state;
	assert_int_equal(pb_decode(v2, sizeof(v2), &d), ER_EVERSION);
	assert_int_equal(d.version, 2);
	assert_int_equal(d.type, PB_NONE);
	assert_null(d.opaque_);
	assert_null(d.extra_);
	pb_msg_fini(&d); /* harmless, though nothing is held */

	assert_int_equal(pb_decode(v2_new_body, sizeof(v2_new_body), &d), ER_EVERSION);
	assert_int_equal(d.version, 2);

	assert_int_equal(pb_decode(v0, sizeof(v0), &d), ER_EVERSION);
	assert_int_equal(d.version, 0);

	assert_int_equal(pb_decode(v1, sizeof(v1), &d), 0);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.type, PB_HELLO);
	assert_string_equal(d.u.hello.sender, "x");
	pb_msg_fini(&d);
}

/* Columns of different lengths are the worker's to refuse, so they decode
 * as received; re-encoding such a batch is refused rather than reading
 * past the short columns. */
/* Events, commands and the query's derived-unit fields. */
static void test_events_and_commands(void **state)
{
	static const pb_event ev[2] = {
		{ .id = 7, .type = "spike", .status = "open", .meter = "M-E0101-EL01", .t0 = 1793548800,
		  .t1 = 1793552400, .v0 = 1000000000, .v1 = 1900000000, .amount = 900000000, .created = 1793560000,
		  .resolved = 0 },
		{ .id = 9, .type = "replacement", .status = "applied", .meter = "M-E0102-EL01", .t0 = 1793548800,
		  .t1 = 0, .v0 = 99999, .v1 = 5, .amount = -1, .created = 1, .resolved = 2 },
	};
	pb_msg m = { .type = PB_EVENTS_REPLY }, d;
	(void)state;

	m.u.events_reply = (pb_events_reply){ .ok = true, .error = "", .nevents = 2, .events = ev };
	roundtrip(&m, &d);
	assert_int_equal(d.type, PB_EVENTS_REPLY);
	assert_true(d.u.events_reply.ok);
	assert_int_equal(d.u.events_reply.nevents, 2);
	for (int i = 0; i < 2; i++) {
		const pb_event *x = &d.u.events_reply.events[i];
		assert_int_equal(x->id, ev[i].id);
		assert_string_equal(x->type, ev[i].type);
		assert_string_equal(x->status, ev[i].status);
		assert_string_equal(x->meter, ev[i].meter);
		assert_int_equal(x->t0, ev[i].t0);
		assert_int_equal(x->t1, ev[i].t1);
		assert_int_equal(x->v0, ev[i].v0);
		assert_int_equal(x->v1, ev[i].v1);
		assert_int_equal(x->amount, ev[i].amount);
		assert_int_equal(x->created, ev[i].created);
		assert_int_equal(x->resolved, ev[i].resolved);
	}
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_EVENTS_REQUEST };
	m.u.events_request = (pb_events_request){ .meter = "M-1", .after_id = 42, .limit = 100 };
	roundtrip(&m, &d);
	assert_string_equal(d.u.events_request.meter, "M-1");
	assert_int_equal(d.u.events_request.after_id, 42);
	assert_int_equal(d.u.events_request.limit, 100);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_EVENT_ACCEPT };
	m.u.event_accept = 123456789012345ull;
	roundtrip(&m, &d);
	assert_int_equal(d.type, PB_EVENT_ACCEPT);
	assert_int_equal(d.u.event_accept, 123456789012345ull);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_REPLACEMENT };
	m.u.replacement = (pb_replacement){ "M-2", 1793548800, 99999990000, 5000000 };
	roundtrip(&m, &d);
	assert_string_equal(d.u.replacement.meter, "M-2");
	assert_int_equal(d.u.replacement.ts, 1793548800);
	assert_int_equal(d.u.replacement.old_final, 99999990000);
	assert_int_equal(d.u.replacement.new_initial, 5000000);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_RELOAD };
	roundtrip(&m, &d);
	assert_int_equal(d.type, PB_RELOAD);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_COMMAND_REPLY };
	m.u.command_reply = (pb_command_reply){ false, "no such event 5" };
	roundtrip(&m, &d);
	assert_false(d.u.command_reply.ok);
	assert_string_equal(d.u.command_reply.message, "no such event 5");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_ECON_IMPORT };
	m.u.econ_import = (pb_econ_import){ "level,entity\n", "econ.csv" };
	roundtrip(&m, &d);
	assert_string_equal(d.u.econ_import.csv, "level,entity\n");
	assert_string_equal(d.u.econ_import.origin, "econ.csv");
	pb_msg_fini(&d);

	static const pb_field fields[2] = { { "energy_tce", "44.960296" }, { "note", "" } };
	m = (pb_msg){ .type = PB_REPORT };
	m.u.report = (pb_report){ .ok = true, .error = "", .nfields = 2, .fields = fields };
	roundtrip(&m, &d);
	assert_true(d.u.report.ok);
	assert_int_equal(d.u.report.nfields, 2);
	assert_string_equal(d.u.report.fields[0].name, "energy_tce");
	assert_string_equal(d.u.report.fields[0].value, "44.960296");
	assert_string_equal(d.u.report.fields[1].value, "");
	pb_msg_fini(&d);

	static const char *const cols[3] = { "day", "aqi", "rules" };
	static const char *const cells[6] = { "2026-03-01", "51", "HJ 633-2026", "2026-02-28", "", "HJ 633-2012" };
	static const pb_field notes[1] = { { "valid_days", "2" } };
	m = (pb_msg){ .type = PB_TABLE };
	m.u.table = (pb_table){ .ok = true, .error = "", .title = "daily AQI", .ncols = 3, .nrows = 2,
				.columns = cols, .cells = cells, .nnotes = 1, .notes = notes };
	roundtrip(&m, &d);
	assert_int_equal(d.type, PB_TABLE);
	assert_string_equal(d.u.table.title, "daily AQI");
	assert_int_equal(d.u.table.ncols, 3);
	assert_int_equal(d.u.table.nrows, 2);
	for (int k = 0; k < 3; k++)
		assert_string_equal(d.u.table.columns[k], cols[k]);
	for (int k = 0; k < 6; k++)
		assert_string_equal(d.u.table.cells[k], cells[k]);
	assert_string_equal(d.u.table.notes[0].name, "valid_days");
	assert_string_equal(d.u.table.notes[0].value, "2");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_INDICATORS_REQUEST };
	m.u.indicators_request = (pb_indicators_request){ "P01", 2026, 2020 };
	roundtrip(&m, &d);
	assert_string_equal(d.u.indicators_request.entity, "P01");
	assert_int_equal(d.u.indicators_request.year, 2026);
	assert_int_equal(d.u.indicators_request.base, 2020);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_MONITORING_REQUEST };
	m.u.monitoring_request = (pb_monitoring_request){ 3, "D01", "2026-11" };
	roundtrip(&m, &d);
	assert_int_equal(d.u.monitoring_request.level, 3);
	assert_string_equal(d.u.monitoring_request.entity, "D01");
	assert_string_equal(d.u.monitoring_request.period, "2026-11");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_CARBON_REQUEST };
	m.u.carbon_request = (pb_carbon_request){ 2, "E0101", 2026, 1793548800 };
	roundtrip(&m, &d);
	assert_int_equal(d.u.carbon_request.level, 2);
	assert_string_equal(d.u.carbon_request.entity, "E0101");
	assert_int_equal(d.u.carbon_request.year, 2026);
	assert_int_equal(d.u.carbon_request.to, 1793548800);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_BENCHMARK_REQUEST };
	m.u.benchmark_request = (pb_benchmark_request){ "C26", "2026", "control", "equivalent", "output" };
	roundtrip(&m, &d);
	assert_string_equal(d.u.benchmark_request.industry, "C26");
	assert_string_equal(d.u.benchmark_request.period, "2026");
	assert_string_equal(d.u.benchmark_request.scope, "control");
	assert_string_equal(d.u.benchmark_request.method, "equivalent");
	assert_string_equal(d.u.benchmark_request.kind, "output");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_AIR_REQUEST };
	m.u.air_request = (pb_air_request){ 5, "S01", "daily", -5, 99, 2026 };
	roundtrip(&m, &d);
	assert_int_equal(d.u.air_request.level, 5);
	assert_string_equal(d.u.air_request.entity, "S01");
	assert_string_equal(d.u.air_request.kind, "daily");
	assert_int_equal(d.u.air_request.from, -5);
	assert_int_equal(d.u.air_request.to, 99);
	assert_int_equal(d.u.air_request.year, 2026);
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_ECON_BATCH };
	m.u.econ_batch = (pb_econ_batch){ "s1", 42, "level,entity\n" };
	roundtrip(&m, &d);
	assert_string_equal(d.u.econ_batch.sender, "s1");
	assert_int_equal(d.u.econ_batch.seq, 42);
	assert_string_equal(d.u.econ_batch.csv, "level,entity\n");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_INTENSITY_REQUEST };
	m.u.intensity_request = (pb_intensity_request){ 2, "E0101", "2026-03", "value_added", "2025", "control",
							"equivalent" };
	roundtrip(&m, &d);
	assert_int_equal(d.u.intensity_request.level, 2);
	assert_string_equal(d.u.intensity_request.entity, "E0101");
	assert_string_equal(d.u.intensity_request.period, "2026-03");
	assert_string_equal(d.u.intensity_request.kind, "value_added");
	assert_string_equal(d.u.intensity_request.base, "2025");
	assert_string_equal(d.u.intensity_request.scope, "control");
	assert_string_equal(d.u.intensity_request.method, "equivalent");
	pb_msg_fini(&d);

	m = (pb_msg){ .type = PB_QUERY };
	m.u.query = (pb_query){ .level = 2, .entity = "E0101", .resolution = 3, .from = 1, .to = 2, .carrier = "",
				.unit = "tce", .method = "equivalent", .scope = "control" };
	roundtrip(&m, &d);
	assert_string_equal(d.u.query.unit, "tce");
	assert_string_equal(d.u.query.method, "equivalent");
	assert_string_equal(d.u.query.scope, "control");
	pb_msg_fini(&d);
}

static void test_inconsistent_columns(void **state)
{
	static const uint8_t wire[] = {
		0x08, 0x01, 0x22, 0x39,	     /* version 1, batch of 57 bytes */
		0x0a, 0x01, 'a', 0x10, 0x07, /* sender "a", seq 7 */
		0x1a, 0x10,		     /* two series */
		1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
		0x22, 0x01, 0x03,	     /* one ts: zigzag 3 = -2 */
		0x2a, 0x18,		     /* three values: 1.0, 2.0, -0.5 */
		0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0xe0, 0xbf,
		0x32, 0x03, 1, 2, 3,	     /* three flags */
	};
	pb_msg d, m;
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	assert_int_equal(pb_decode(wire, sizeof(wire), &d), 0);
	assert_int_equal(d.type, PB_BATCH);
	assert_string_equal(d.u.batch.sender, "a");
	assert_int_equal(d.u.batch.seq, 7);
	assert_int_equal(d.u.batch.n, 2);
	assert_int_equal(d.u.batch.nts, 1);
	assert_int_equal(d.u.batch.nvalue, 3);
	assert_int_equal(d.u.batch.nflags, 3);
	assert_int_equal(d.u.batch.series[0], 1);
	assert_int_equal(d.u.batch.series[1], 2);
	assert_int_equal(d.u.batch.ts[0], -2);
	assert_true(d.u.batch.value[0] == 1.0 && d.u.batch.value[1] == 2.0 && d.u.batch.value[2] == -0.5);
	assert_int_equal(d.u.batch.flags[2], 3);

	m = (pb_msg){ .type = PB_BATCH, .u.batch = d.u.batch };
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
	assert_null(buf);
	assert_int_equal(pb_encode_batch_into(&d.u.batch, NULL, 0), 0);
	pb_msg_fini(&d);
}

static void test_encode_refuses(void **state)
{
	static const uint64_t series[2] = { 1, 2 };
	static const int64_t ts[2] = { 3, 4 };
	static const double value[2] = { 5, 6 };
	static const uint32_t flags[2] = { 7, 8 };
	pb_msg m = { .type = PB_NONE };
	pb_batch b = { .sender = "s", .n = 2, .series = series, .ts = ts, .value = value, .nflags = 2, .flags = flags };
	uint8_t *buf = (uint8_t *)&m, out[128];
	size_t len = 99;

	(void)state;
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(pb_encode(NULL, &buf, &len), ER_EINVAL);

	assert_true(pb_encode_batch_into(&b, out, sizeof(out)) > 0);
	b.nflags = 1; /* flags must be empty or as long as series */
	assert_int_equal(pb_encode_batch_into(&b, out, sizeof(out)), 0);
	b.nflags = 0;
	b.ts = NULL;
	assert_int_equal(pb_encode_batch_into(&b, out, sizeof(out)), 0);
	b.ts = ts;
	assert_int_equal(pb_encode_batch_into(NULL, out, sizeof(out)), 0);
	assert_int_equal(pb_encode_batch_into(&b, NULL, sizeof(out)), 0);

	m.type = PB_ACK;
	m.u.ack = (pb_ack){ .nreasons = PB_MAX_REASONS + 1 };
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
	assert_int_equal(pb_encode_ack(NULL, &buf, &len), ER_EINVAL);

	m.type = PB_QUERY_REPLY;
	m.u.query_reply = (pb_query_reply){ .nrows = 1, .rows = NULL };
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
	m.type = PB_REGISTRY_REPLY;
	m.u.registry_reply = (pb_registry_reply){ .nerrors = 1, .errors = NULL };
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
	m.type = PB_STATUS_REPLY;
	m.u.status_reply = (pb_status_reply){ .ncounters = 1, .counters = NULL };
	assert_int_equal(pb_encode(&m, &buf, &len), ER_EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pb_status_name(PB_ST_OK), "OK");
	assert_string_equal(pb_status_name(PB_ST_DUPLICATE), "DUPLICATE");
	assert_string_equal(pb_status_name(PB_ST_GAP), "GAP");
	assert_string_equal(pb_status_name(PB_ST_MALFORMED), "MALFORMED");
	assert_string_equal(pb_status_name(PB_ST_TOO_LARGE), "TOO_LARGE");
	assert_string_equal(pb_status_name(PB_ST_BAD_VERSION), "BAD_VERSION");
	assert_string_equal(pb_status_name(PB_ST_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(pb_status_name(PB_ST_DENIED), "DENIED");
	assert_string_equal(pb_status_name(0), "?");
	assert_string_equal(pb_status_name(9), "?");
	assert_string_equal(pb_status_name(-1), "?");

	assert_string_equal(pb_reason_name(PB_R_UNKNOWN_SERIES), "unknown series");
	assert_string_equal(pb_reason_name(PB_R_NOT_FINITE), "not finite");
	assert_string_equal(pb_reason_name(PB_R_FUTURE_TS), "future timestamp");
	assert_string_equal(pb_reason_name(PB_R_ANCIENT_TS), "timestamp before 2000");
	assert_string_equal(pb_reason_name(PB_R_NEGATIVE_REGISTER), "negative register");
	assert_string_equal(pb_reason_name(PB_R_OUT_OF_ORDER), "out of order");
	assert_string_equal(pb_reason_name(PB_R_OUT_OF_RANGE), "out of range");
	assert_string_equal(pb_reason_name(0), "?");
	assert_string_equal(pb_reason_name(PB_R_COUNT), "?");
}

static void test_fini(void **state)
{
	pb_msg z;
	pb_msg d;

	(void)state;
	memset(&z, 0, sizeof(z));
	pb_msg_fini(&z);
	pb_msg_fini(NULL);
	assert_int_equal(pb_decode((const uint8_t[]){ 0x08, 0x01, 0x52, 0x00 }, 4, &d), 0);
	assert_int_equal(d.type, PB_STATUS_REQUEST);
	pb_msg_fini(&d);
	assert_null(d.opaque_);
	pb_msg_fini(&d); /* a second fini is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_no_flags),
		cmocka_unit_test(test_batch_wire),
		cmocka_unit_test(test_batch_into),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_ack_too_many_reasons),
		cmocka_unit_test(test_registry_import),
		cmocka_unit_test(test_registry_reply),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_reply),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_rollup_batch),
		cmocka_unit_test(test_rollup_batch_inconsistent),
		cmocka_unit_test(test_empty_and_ff),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_mutated_frames),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_events_and_commands),
		cmocka_unit_test(test_inconsistent_columns),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fini),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
