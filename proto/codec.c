/* codec.c: converts between ecoroll's plain C messages (codec.h) and the
 * protobuf-c code generated from proto/ecoroll.proto. It is the only file
 * that includes ecoroll.pb-c.h (STYLE.md 15), so the rest of the tree never
 * sees a protobuf-c type.
 *
 * Decoding keeps the unpacked envelope alive in pb_msg.opaque_: strings and
 * the batch columns point into it without a copy, which is what makes a
 * 1,000-reading batch cheap to receive. Only repeated sub-messages are
 * converted, into one allocation in pb_msg.extra_. Encoding builds the
 * protobuf-c structs on the stack pointing at the caller's data, so it
 * allocates the output buffer and at most one scratch array. No state is
 * shared between calls, so every function is thread-safe. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "ecoroll.pb-c.h"
#include "er.h"

/* codec.h promises that its enums carry the .proto values, and callers pass
 * enum er_res as a query resolution; the casts below rely on both. The
 * values are compared as int because they belong to different enum types. */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(PB_ST_OK, ECOROLL__STATUS__OK) && SAME(PB_ST_DUPLICATE, ECOROLL__STATUS__DUPLICATE) &&
		       SAME(PB_ST_GAP, ECOROLL__STATUS__GAP) && SAME(PB_ST_MALFORMED, ECOROLL__STATUS__MALFORMED) &&
		       SAME(PB_ST_TOO_LARGE, ECOROLL__STATUS__TOO_LARGE) &&
		       SAME(PB_ST_BAD_VERSION, ECOROLL__STATUS__BAD_VERSION) &&
		       SAME(PB_ST_UNAVAILABLE, ECOROLL__STATUS__UNAVAILABLE) &&
		       SAME(PB_ST_DENIED, ECOROLL__STATUS__DENIED),
	       "enum pb_status must equal the .proto Status");
_Static_assert(SAME(PB_R_UNKNOWN_SERIES, ECOROLL__REASON__UNKNOWN_SERIES) &&
		       SAME(PB_R_NOT_FINITE, ECOROLL__REASON__NOT_FINITE) &&
		       SAME(PB_R_FUTURE_TS, ECOROLL__REASON__FUTURE_TS) &&
		       SAME(PB_R_ANCIENT_TS, ECOROLL__REASON__ANCIENT_TS) &&
		       SAME(PB_R_NEGATIVE_REGISTER, ECOROLL__REASON__NEGATIVE_REGISTER) &&
		       SAME(PB_R_OUT_OF_ORDER, ECOROLL__REASON__OUT_OF_ORDER) &&
		       SAME(PB_R_OUT_OF_RANGE, ECOROLL__REASON__OUT_OF_RANGE) &&
		       SAME(PB_R_REMOTE_SERIES, ECOROLL__REASON__REMOTE_SERIES) &&
		       SAME(PB_R_COUNT, ECOROLL__REASON__REMOTE_SERIES + 1),
	       "enum pb_reason must equal the .proto Reason");
_Static_assert(SAME(ER_RES_HOUR, ECOROLL__RESOLUTION__HOUR) && SAME(ER_RES_DAY, ECOROLL__RESOLUTION__DAY) &&
		       SAME(ER_RES_MONTH, ECOROLL__RESOLUTION__MONTH) &&
		       SAME(ER_RES_YEAR, ECOROLL__RESOLUTION__YEAR),
	       "enum er_res must equal the .proto Resolution");
#undef SAME

const char *pb_status_name(int status)
{
	switch (status) {
	case PB_ST_OK: return "OK";
	case PB_ST_DUPLICATE: return "DUPLICATE";
	case PB_ST_GAP: return "GAP";
	case PB_ST_MALFORMED: return "MALFORMED";
	case PB_ST_TOO_LARGE: return "TOO_LARGE";
	case PB_ST_BAD_VERSION: return "BAD_VERSION";
	case PB_ST_UNAVAILABLE: return "UNAVAILABLE";
	case PB_ST_DENIED: return "DENIED";
	default: return "?";
	}
}

const char *pb_reason_name(int reason)
{
	switch (reason) {
	case PB_R_UNKNOWN_SERIES: return "unknown series";
	case PB_R_NOT_FINITE: return "not finite";
	case PB_R_FUTURE_TS: return "future timestamp";
	case PB_R_ANCIENT_TS: return "timestamp before 2000";
	case PB_R_NEGATIVE_REGISTER: return "negative register";
	case PB_R_OUT_OF_ORDER: return "out of order";
	case PB_R_OUT_OF_RANGE: return "out of range";
	case PB_R_REMOTE_SERIES: return "series of a district node";
	default: return "?";
	}
}

/* Reserves n elements of size bytes aligned to align at the end of a block
 * of *total bytes, so that several arrays share one malloc. The offset goes
 * to *off. False when the block would not fit in a size_t, which only a
 * caller passing absurd counts can cause. */
static bool layout_add(size_t *total, size_t n, size_t size, size_t align, size_t *off)
{
	size_t start = (*total + align - 1) / align * align;

	if (start < *total || (size != 0 && n > (SIZE_MAX - start) / size))
		return false;
	*off = start;
	*total = start + n * size;
	return true;
}

/* ---- decoding ---- */

/* protobuf-c gives "" for an absent proto3 string; this keeps codec.h's
 * "never NULL" promise even if a later protobuf-c stops doing so. */
static const char *rstr(const char *s)
{
	return s != NULL ? s : "";
}

static void dec_batch(const Ecoroll__ReadingBatch *rb, pb_batch *o)
{
	/* Zero copy: the columns stay in the unpacked message. Their lengths
	 * are passed on as received; the worker refuses a batch whose columns
	 * disagree, which is a protocol matter and not a decoding one. */
	o->sender = rstr(rb->sender);
	o->seq = rb->seq;
	o->n = rb->n_series;
	o->series = rb->series;
	o->nts = rb->n_ts;
	o->ts = rb->ts;
	o->nvalue = rb->n_value;
	o->value = rb->value;
	o->nflags = rb->n_flags;
	o->flags = rb->flags;
}

static void dec_ack(const Ecoroll__Ack *a, pb_ack *o)
{
	size_t i, n = a->n_reasons < PB_MAX_REASONS ? a->n_reasons : PB_MAX_REASONS;

	o->seq = a->seq;
	o->status = (int)a->status;
	o->expected = a->expected;
	o->accepted = a->accepted;
	o->rejected = a->rejected;
	o->duplicates = a->duplicates;
	/* There are only seven reasons, so a server never sends more than
	 * PB_MAX_REASONS; extra ones from a confused peer are dropped. */
	o->nreasons = n;
	for (i = 0; i < n; i++) {
		const Ecoroll__ReasonCount *r = a->reasons[i];

		o->reasons[i].reason = (int)r->reason;
		o->reasons[i].count = r->count;
		o->reasons[i].first_index = r->first_index;
		o->reasons[i].first_series = r->first_series;
	}
	o->message = rstr(a->message);
}

static int dec_query_reply(const Ecoroll__QueryReply *q, pb_msg *out)
{
	pb_query_reply *o = &out->u.query_reply;
	pb_row *rows = NULL;
	size_t i, total = 0, off;

	if (q->n_rows > 0) {
		if (!layout_add(&total, q->n_rows, sizeof(*rows), _Alignof(pb_row), &off))
			return ER_ENOMEM;
		rows = malloc(total);
		if (rows == NULL)
			return ER_ENOMEM;
	}
	for (i = 0; i < q->n_rows; i++) {
		const Ecoroll__Row *r = q->rows[i];

		rows[i] = (pb_row){
			.start = r->start,
			.carrier = rstr(r->carrier),
			.purpose = rstr(r->purpose),
			.unit = rstr(r->unit),
			.count = r->count,
			.sum = r->sum,
			.min = r->min,
			.max = r->max,
			.coverage_s = r->coverage_s,
			.flags = r->flags,
			.members = r->members,
			.value = rstr(r->value),
			.value_unit = rstr(r->value_unit),
			.source = rstr(r->source),
			.complete = r->complete,
		};
	}
	out->extra_ = rows;
	o->table_version = rstr(q->table_version);
	o->ok = q->ok;
	o->error = rstr(q->error);
	o->entity = rstr(q->entity);
	o->level = (int)q->level;
	o->resolution = (int)q->resolution;
	o->utc_offset_s = q->utc_offset_s;
	o->nrows = q->n_rows;
	o->rows = rows;
	return 0;
}

static int dec_status_reply(const Ecoroll__StatusReply *s, pb_msg *out)
{
	pb_status_reply *o = &out->u.status_reply;
	pb_counter *counters = NULL;
	pb_sender_state *senders = NULL;
	pb_field *notes = NULL;
	size_t i, total = 0, coff = 0, soff = 0, noff = 0;
	char *block = NULL;

	if (!layout_add(&total, s->n_counters, sizeof(*counters), _Alignof(pb_counter), &coff) ||
	    !layout_add(&total, s->n_senders, sizeof(*senders), _Alignof(pb_sender_state), &soff) ||
	    !layout_add(&total, s->n_notes, sizeof(*notes), _Alignof(pb_field), &noff))
		return ER_ENOMEM;
	if (total > 0) {
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
	}
	if (s->n_counters > 0)
		counters = (pb_counter *)(void *)(block + coff);
	if (s->n_senders > 0)
		senders = (pb_sender_state *)(void *)(block + soff);
	if (s->n_notes > 0)
		notes = (pb_field *)(void *)(block + noff);
	for (i = 0; i < s->n_notes; i++) {
		notes[i].name = rstr(s->notes[i]->name);
		notes[i].value = rstr(s->notes[i]->value);
	}
	for (i = 0; i < s->n_counters; i++) {
		counters[i].name = rstr(s->counters[i]->name);
		counters[i].value = s->counters[i]->value;
	}
	for (i = 0; i < s->n_senders; i++) {
		senders[i].sender = rstr(s->senders[i]->sender);
		senders[i].high_water = s->senders[i]->high_water;
	}
	out->extra_ = block;
	o->role = rstr(s->role);
	o->uptime_s = s->uptime_s;
	o->series = s->series;
	o->flushes = s->flushes;
	o->db_bytes = s->db_bytes;
	o->ncounters = s->n_counters;
	o->counters = counters;
	o->nsenders = s->n_senders;
	o->senders = senders;
	o->nnotes = s->n_notes;
	o->notes = notes;
	return 0;
}

/* Rows arrive as columns; the caller gets them as an array of structs in
 * one block with the econ figures. */
static int dec_rollup_batch(const Ecoroll__RollupBatch *b, pb_msg *out)
{
	pb_rollup_batch *o = &out->u.rollup_batch;
	size_t n = b->n_level, total = 0, roff = 0, eoff = 0, voff = 0, loff = 0;
	pb_rollup_row *rows = NULL;
	uint8_t *econ = NULL;
	char *block = NULL;

	out->type = PB_ROLLUP_BATCH;
	o->sender = rstr(b->sender);
	o->seq = b->seq;
	o->created = b->created;
	o->has_registry = b->registry != NULL;
	if (b->registry != NULL) {
		o->registry.districts_csv = rstr(b->registry->districts_csv);
		o->registry.enterprises_csv = rstr(b->registry->enterprises_csv);
		o->registry.meters_csv = rstr(b->registry->meters_csv);
		o->registry.stations_csv = rstr(b->registry->stations_csv);
		o->registry.origin = rstr(b->registry->origin);
	}
	o->columns_agree = b->n_entity == n && b->n_metric == n && b->n_res == n && b->n_start == n &&
			   b->n_count == n && b->n_sum == n && b->n_min == n && b->n_max == n &&
			   b->n_coverage_s == n && b->n_flags == n && b->n_members == n && b->n_complete == n;
	for (size_t i = 0; i < b->n_econ && o->columns_agree; i++)
		if (b->econ[i].len != PB_ECON_BYTES)
			o->columns_agree = false;
	if (!o->columns_agree)
		return 0;
	if (!layout_add(&total, n, sizeof(*rows), _Alignof(pb_rollup_row), &roff) ||
	    !layout_add(&total, b->n_econ, PB_ECON_BYTES, 1, &eoff) ||
	    !layout_add(&total, b->n_events, sizeof(uint8_t *), _Alignof(uint8_t *), &voff) ||
	    !layout_add(&total, b->n_events, sizeof(size_t), _Alignof(size_t), &loff))
		return ER_ENOMEM;
	if (total > 0 && (block = malloc(total)) == NULL)
		return ER_ENOMEM;
	rows = n ? (pb_rollup_row *)(void *)(block + roff) : NULL;
	econ = b->n_econ ? (uint8_t *)(block + eoff) : NULL;
	for (size_t i = 0; i < n; i++)
		rows[i] = (pb_rollup_row){.level = b->level[i], .res = b->res[i], .metric = b->metric[i],
					  .entity = b->entity[i], .start = b->start[i], .count = b->count[i],
					  .sum = b->sum[i], .min = b->min[i], .max = b->max[i],
					  .coverage_s = b->coverage_s[i], .flags = b->flags[i],
					  .members = b->members[i], .complete = b->complete[i]};
	for (size_t i = 0; i < b->n_econ; i++)
		memcpy(econ + i * PB_ECON_BYTES, b->econ[i].data, PB_ECON_BYTES);
	if (b->n_events > 0) {
		/* zero copy: the events stay in the unpacked message */
		const uint8_t **ev = (const uint8_t **)(void *)(block + voff);
		size_t *evlen = (size_t *)(void *)(block + loff);
		for (size_t i = 0; i < b->n_events; i++) {
			ev[i] = b->events[i].data;
			evlen[i] = b->events[i].len;
		}
		o->events = ev;
		o->event_len = evlen;
		o->nevents = b->n_events;
	}
	out->extra_ = block;
	o->nrows = n;
	o->rows = rows;
	o->necon = b->n_econ;
	o->econ = econ;
	return 0;
}

static int dec_events_reply(const Ecoroll__EventsReply *r, pb_msg *out)
{
	pb_events_reply *o = &out->u.events_reply;
	pb_event *ev = NULL;

	if (r->n_events > 0) {
		ev = calloc(r->n_events, sizeof *ev);
		if (ev == NULL)
			return ER_ENOMEM;
	}
	for (size_t i = 0; i < r->n_events; i++) {
		const Ecoroll__Event *e = r->events[i];
		ev[i] = (pb_event){
			.id = e->id,
			.type = rstr(e->type),
			.status = rstr(e->status),
			.meter = rstr(e->meter),
			.t0 = e->t0,
			.t1 = e->t1,
			.v0 = e->v0,
			.v1 = e->v1,
			.amount = e->amount,
			.created = e->created,
			.resolved = e->resolved,
			.entity = rstr(e->entity),
			.entity_level = rstr(e->entity_level),
			.kind = rstr(e->kind),
			.level = rstr(e->level),
			.previous_level = rstr(e->previous_level),
			.rule = rstr(e->rule),
			.ytd = rstr(e->ytd),
			.expected = rstr(e->expected),
			.projected = rstr(e->projected),
			.budget = rstr(e->budget),
			.year = e->year,
			.node = rstr(e->node),
		};
	}
	out->extra_ = ev;
	o->ok = r->ok;
	o->error = rstr(r->error);
	o->nevents = r->n_events;
	o->events = ev;
	return 0;
}

static int dec_table(const Ecoroll__Table *t, pb_msg *out)
{
	pb_table *o = &out->u.table;
	size_t ncols = t->n_columns, ncells = 0;

	for (size_t r = 0; r < t->n_rows; r++)
		if (t->rows[r]->n_cells != ncols)
			return ER_EPROTO; /* every row has one cell per column */
	ncells = t->n_rows * ncols;
	/* one block: cell pointers, then notes */
	size_t total = 0, coff = 0, noff = 0;
	const char **cells;
	pb_field *notes;
	char *block = NULL;
	if (!layout_add(&total, ncells, sizeof(char *), _Alignof(char *), &coff) ||
	    !layout_add(&total, t->n_notes, sizeof(pb_field), _Alignof(pb_field), &noff))
		return ER_ENOMEM;
	if (total > 0 && (block = malloc(total)) == NULL)
		return ER_ENOMEM;
	cells = (const char **)(void *)(block + coff);
	notes = (pb_field *)(void *)(block + noff);
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < ncols; c++)
			cells[r * ncols + c] = rstr(t->rows[r]->cells[c]);
	for (size_t i = 0; i < t->n_notes; i++) {
		notes[i].name = rstr(t->notes[i]->name);
		notes[i].value = rstr(t->notes[i]->value);
	}
	out->extra_ = block;
	o->ok = t->ok;
	o->error = rstr(t->error);
	o->title = rstr(t->title);
	o->ncols = ncols;
	o->nrows = t->n_rows;
	o->columns = (const char *const *)t->columns;
	o->cells = ncells ? cells : NULL;
	o->nnotes = t->n_notes;
	o->notes = t->n_notes ? notes : NULL;
	return 0;
}

/* Fills out from the body of env. protobuf-c sets body_case only after it
 * has allocated the body, so the NULL checks are belts and braces. */
static int dec_body(const Ecoroll__Envelope *env, pb_msg *out)
{
	switch (env->body_case) {
	case ECOROLL__ENVELOPE__BODY_HELLO:
		if (env->hello == NULL)
			return ER_EPROTO;
		out->type = PB_HELLO;
		out->u.hello.sender = rstr(env->hello->sender);
		return 0;
	case ECOROLL__ENVELOPE__BODY_WELCOME:
		if (env->welcome == NULL)
			return ER_EPROTO;
		out->type = PB_WELCOME;
		out->u.welcome.sender = rstr(env->welcome->sender);
		out->u.welcome.next_seq = env->welcome->next_seq;
		return 0;
	case ECOROLL__ENVELOPE__BODY_BATCH:
		if (env->batch == NULL)
			return ER_EPROTO;
		out->type = PB_BATCH;
		dec_batch(env->batch, &out->u.batch);
		return 0;
	case ECOROLL__ENVELOPE__BODY_ACK:
		if (env->ack == NULL)
			return ER_EPROTO;
		out->type = PB_ACK;
		dec_ack(env->ack, &out->u.ack);
		return 0;
	case ECOROLL__ENVELOPE__BODY_REGISTRY_IMPORT: {
		const Ecoroll__RegistryImport *ri = env->registry_import;

		if (ri == NULL)
			return ER_EPROTO;
		out->type = PB_REGISTRY_IMPORT;
		out->u.registry_import.districts_csv = rstr(ri->districts_csv);
		out->u.registry_import.enterprises_csv = rstr(ri->enterprises_csv);
		out->u.registry_import.meters_csv = rstr(ri->meters_csv);
		out->u.registry_import.stations_csv = rstr(ri->stations_csv);
		out->u.registry_import.origin = rstr(ri->origin);
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_REGISTRY_REPLY: {
		const Ecoroll__RegistryReply *rr = env->registry_reply;

		if (rr == NULL)
			return ER_EPROTO;
		out->type = PB_REGISTRY_REPLY;
		out->u.registry_reply.ok = rr->ok;
		/* Elements of a repeated string are always allocated by
		 * protobuf-c (never NULL), so the array is used as is. */
		out->u.registry_reply.nerrors = rr->n_errors;
		out->u.registry_reply.errors = (const char *const *)rr->errors;
		out->u.registry_reply.districts = rr->districts;
		out->u.registry_reply.enterprises = rr->enterprises;
		out->u.registry_reply.meters = rr->meters;
		out->u.registry_reply.stations = rr->stations;
		out->u.registry_reply.added = rr->added;
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_QUERY: {
		const Ecoroll__Query *q = env->query;

		if (q == NULL)
			return ER_EPROTO;
		out->type = PB_QUERY;
		out->u.query.level = (int)q->level;
		out->u.query.entity = rstr(q->entity);
		out->u.query.resolution = (int)q->resolution;
		out->u.query.from = q->from;
		out->u.query.to = q->to;
		out->u.query.carrier = rstr(q->carrier);
		out->u.query.unit = rstr(q->unit);
		out->u.query.method = rstr(q->method);
		out->u.query.scope = rstr(q->scope);
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_QUERY_REPLY:
		if (env->query_reply == NULL)
			return ER_EPROTO;
		out->type = PB_QUERY_REPLY;
		return dec_query_reply(env->query_reply, out);
	case ECOROLL__ENVELOPE__BODY_STATUS_REQUEST:
		if (env->status_request == NULL)
			return ER_EPROTO;
		out->type = PB_STATUS_REQUEST;
		return 0;
	case ECOROLL__ENVELOPE__BODY_STATUS_REPLY:
		if (env->status_reply == NULL)
			return ER_EPROTO;
		out->type = PB_STATUS_REPLY;
		return dec_status_reply(env->status_reply, out);
	case ECOROLL__ENVELOPE__BODY_EVENTS_REQUEST:
		if (env->events_request == NULL)
			return ER_EPROTO;
		out->type = PB_EVENTS_REQUEST;
		out->u.events_request.meter = rstr(env->events_request->meter);
		out->u.events_request.after_id = env->events_request->after_id;
		out->u.events_request.limit = env->events_request->limit;
		out->u.events_request.type = rstr(env->events_request->type);
		out->u.events_request.entity = rstr(env->events_request->entity);
		out->u.events_request.node = rstr(env->events_request->node);
		return 0;
	case ECOROLL__ENVELOPE__BODY_EVENTS_REPLY:
		if (env->events_reply == NULL)
			return ER_EPROTO;
		out->type = PB_EVENTS_REPLY;
		return dec_events_reply(env->events_reply, out);
	case ECOROLL__ENVELOPE__BODY_EVENT_ACCEPT:
		if (env->event_accept == NULL)
			return ER_EPROTO;
		out->type = PB_EVENT_ACCEPT;
		out->u.event_accept = env->event_accept->id;
		return 0;
	case ECOROLL__ENVELOPE__BODY_REPLACEMENT:
		if (env->replacement == NULL)
			return ER_EPROTO;
		out->type = PB_REPLACEMENT;
		out->u.replacement.meter = rstr(env->replacement->meter);
		out->u.replacement.ts = env->replacement->ts;
		out->u.replacement.old_final = env->replacement->old_final;
		out->u.replacement.new_initial = env->replacement->new_initial;
		return 0;
	case ECOROLL__ENVELOPE__BODY_RELOAD:
		if (env->reload == NULL)
			return ER_EPROTO;
		out->type = PB_RELOAD;
		return 0;
	case ECOROLL__ENVELOPE__BODY_COMMAND_REPLY:
		if (env->command_reply == NULL)
			return ER_EPROTO;
		out->type = PB_COMMAND_REPLY;
		out->u.command_reply.ok = env->command_reply->ok;
		out->u.command_reply.message = rstr(env->command_reply->message);
		return 0;
	case ECOROLL__ENVELOPE__BODY_INTENSITY_REQUEST: {
		const Ecoroll__IntensityRequest *q = env->intensity_request;
		if (q == NULL)
			return ER_EPROTO;
		out->type = PB_INTENSITY_REQUEST;
		out->u.intensity_request.level = (int)q->level;
		out->u.intensity_request.entity = rstr(q->entity);
		out->u.intensity_request.period = rstr(q->period);
		out->u.intensity_request.kind = rstr(q->kind);
		out->u.intensity_request.base = rstr(q->base_period);
		out->u.intensity_request.scope = rstr(q->scope);
		out->u.intensity_request.method = rstr(q->method);
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_REPORT: {
		const Ecoroll__Report *r = env->report;
		pb_field *f = NULL;
		if (r == NULL)
			return ER_EPROTO;
		if (r->n_fields > 0 && (f = calloc(r->n_fields, sizeof *f)) == NULL)
			return ER_ENOMEM;
		for (size_t i = 0; i < r->n_fields; i++) {
			f[i].name = rstr(r->fields[i]->name);
			f[i].value = rstr(r->fields[i]->value);
		}
		out->type = PB_REPORT;
		out->extra_ = f;
		out->u.report.ok = r->ok;
		out->u.report.error = rstr(r->error);
		out->u.report.nfields = r->n_fields;
		out->u.report.fields = f;
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_AIR_REQUEST: {
		const Ecoroll__AirRequest *q = env->air_request;
		if (q == NULL)
			return ER_EPROTO;
		out->type = PB_AIR_REQUEST;
		out->u.air_request.level = (int)q->level;
		out->u.air_request.entity = rstr(q->entity);
		out->u.air_request.kind = rstr(q->kind);
		out->u.air_request.from = q->from;
		out->u.air_request.to = q->to;
		out->u.air_request.year = q->year;
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_BENCHMARK_REQUEST: {
		const Ecoroll__BenchmarkRequest *q = env->benchmark_request;
		if (q == NULL)
			return ER_EPROTO;
		out->type = PB_BENCHMARK_REQUEST;
		out->u.benchmark_request.industry = rstr(q->industry);
		out->u.benchmark_request.period = rstr(q->period);
		out->u.benchmark_request.scope = rstr(q->scope);
		out->u.benchmark_request.method = rstr(q->method);
		out->u.benchmark_request.kind = rstr(q->kind);
		return 0;
	}
	case ECOROLL__ENVELOPE__BODY_CARBON_REQUEST:
		if (env->carbon_request == NULL)
			return ER_EPROTO;
		out->type = PB_CARBON_REQUEST;
		out->u.carbon_request.level = (int)env->carbon_request->level;
		out->u.carbon_request.entity = rstr(env->carbon_request->entity);
		out->u.carbon_request.year = env->carbon_request->year;
		out->u.carbon_request.to = env->carbon_request->to;
		return 0;
	case ECOROLL__ENVELOPE__BODY_MONITORING_REQUEST:
		if (env->monitoring_request == NULL)
			return ER_EPROTO;
		out->type = PB_MONITORING_REQUEST;
		out->u.monitoring_request.level = (int)env->monitoring_request->level;
		out->u.monitoring_request.entity = rstr(env->monitoring_request->entity);
		out->u.monitoring_request.period = rstr(env->monitoring_request->period);
		return 0;
	case ECOROLL__ENVELOPE__BODY_INDICATORS_REQUEST:
		if (env->indicators_request == NULL)
			return ER_EPROTO;
		out->type = PB_INDICATORS_REQUEST;
		out->u.indicators_request.entity = rstr(env->indicators_request->entity);
		out->u.indicators_request.year = env->indicators_request->year;
		out->u.indicators_request.base = env->indicators_request->base_year;
		return 0;
	case ECOROLL__ENVELOPE__BODY_TABLE:
		if (env->table == NULL)
			return ER_EPROTO;
		out->type = PB_TABLE;
		return dec_table(env->table, out);
	case ECOROLL__ENVELOPE__BODY_ECON_BATCH:
		if (env->econ_batch == NULL)
			return ER_EPROTO;
		out->type = PB_ECON_BATCH;
		out->u.econ_batch.sender = rstr(env->econ_batch->sender);
		out->u.econ_batch.seq = env->econ_batch->seq;
		out->u.econ_batch.csv = rstr(env->econ_batch->csv);
		return 0;
	case ECOROLL__ENVELOPE__BODY_BUDGET_IMPORT:
		if (env->budget_import == NULL)
			return ER_EPROTO;
		out->type = PB_BUDGET_IMPORT;
		out->u.econ_import.csv = rstr(env->budget_import->csv);
		out->u.econ_import.origin = rstr(env->budget_import->origin);
		return 0;
	case ECOROLL__ENVELOPE__BODY_BUDGET_STATUS_REQUEST:
		if (env->budget_status_request == NULL)
			return ER_EPROTO;
		out->type = PB_BUDGET_STATUS_REQUEST;
		out->u.budget_status_request.level = (int)env->budget_status_request->level;
		out->u.budget_status_request.entity = rstr(env->budget_status_request->entity);
		out->u.budget_status_request.year = env->budget_status_request->year;
		return 0;
	case ECOROLL__ENVELOPE__BODY_ROLLUP_BATCH:
		if (env->rollup_batch == NULL)
			return ER_EPROTO;
		return dec_rollup_batch(env->rollup_batch, out);
	case ECOROLL__ENVELOPE__BODY_ECON_IMPORT:
		if (env->econ_import == NULL)
			return ER_EPROTO;
		out->type = PB_ECON_IMPORT;
		out->u.econ_import.csv = rstr(env->econ_import->csv);
		out->u.econ_import.origin = rstr(env->econ_import->origin);
		return 0;
	default:
		return ER_EPROTO;
	}
}

int pb_decode(const void *buf, size_t len, pb_msg *out)
{
	Ecoroll__Envelope *env;
	int rc;

	if (out == NULL || (buf == NULL && len > 0))
		return ER_EINVAL;
	memset(out, 0, sizeof(*out));
	/* NULL means malformed bytes, or (rarely) that malloc failed inside
	 * protobuf-c; it does not say which, and both earn the peer a
	 * MALFORMED ack at worst. */
	env = ecoroll__envelope__unpack(NULL, len, buf);
	if (env == NULL)
		return ER_EPROTO;
	out->version = env->version;
	/* The version is judged before the body: a peer speaking another
	 * version may send a body this build does not know, and it should hear
	 * BAD_VERSION, not MALFORMED. Version 0 means the field was absent;
	 * without a body that is simply not an envelope (an empty frame
	 * decodes so). */
	if (env->version != PB_VERSION &&
	    (env->version != 0 || env->body_case != ECOROLL__ENVELOPE__BODY__NOT_SET)) {
		rc = ER_EVERSION;
		goto fail;
	}
	rc = dec_body(env, out);
	if (rc != 0)
		goto fail;
	out->opaque_ = env;
	return 0;

fail:
	ecoroll__envelope__free_unpacked(env, NULL);
	free(out->extra_);
	out->extra_ = NULL;
	out->type = PB_NONE;
	memset(&out->u, 0, sizeof(out->u));
	return rc;
}

void pb_msg_fini(pb_msg *m)
{
	if (m == NULL)
		return;
	if (m->opaque_ != NULL)
		ecoroll__envelope__free_unpacked(m->opaque_, NULL);
	free(m->extra_);
	/* Zeroed, a second fini or a stale pointer into it does no harm. */
	memset(m, 0, sizeof(*m));
}

/* ---- encoding ---- */

/* protobuf-c's structs take char * but never write through it when
 * packing; a NULL from the C structs encodes as the empty string, which is
 * what proto3 would decode it to anyway. */
static char *wstr(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

/* Points rb at b's columns. ts and value carry n entries like series;
 * nts and nvalue are "as received" lengths, so a sender leaves them 0, and
 * a relay re-encoding a decoded batch must have them equal n: otherwise
 * the columns are shorter than n and packing would read past them. */
static int enc_batch(const pb_batch *b, Ecoroll__ReadingBatch *rb)
{
	if ((b->nts != 0 && b->nts != b->n) || (b->nvalue != 0 && b->nvalue != b->n))
		return ER_EINVAL;
	if (b->n > 0 && (b->series == NULL || b->ts == NULL || b->value == NULL))
		return ER_EINVAL;
	if (b->nflags != 0 && (b->nflags != b->n || b->flags == NULL))
		return ER_EINVAL;
	rb->sender = wstr(b->sender);
	rb->seq = b->seq;
	rb->n_series = b->n;
	rb->series = (uint64_t *)b->series;
	rb->n_ts = b->n;
	rb->ts = (int64_t *)b->ts;
	rb->n_value = b->n;
	rb->value = (double *)b->value;
	rb->n_flags = b->nflags;
	rb->flags = (uint32_t *)b->flags;
	return 0;
}

/* One envelope being encoded: the body lives here, on pb_encode's stack,
 * and heap holds the arrays of repeated sub-messages, if any. */
struct enc {
	Ecoroll__Envelope env;
	union {
		Ecoroll__Hello hello;
		Ecoroll__Welcome welcome;
		Ecoroll__ReadingBatch batch;
		Ecoroll__Ack ack;
		Ecoroll__RegistryImport registry_import;
		Ecoroll__RegistryReply registry_reply;
		Ecoroll__Query query;
		Ecoroll__QueryReply query_reply;
		Ecoroll__StatusRequest status_request;
		Ecoroll__StatusReply status_reply;
		Ecoroll__EventsRequest events_request;
		Ecoroll__EventsReply events_reply;
		Ecoroll__EventAccept event_accept;
		Ecoroll__Replacement replacement;
		Ecoroll__Reload reload;
		Ecoroll__CommandReply command_reply;
		Ecoroll__EconImport econ_import;
		Ecoroll__IntensityRequest intensity_request;
		Ecoroll__Report report;
		Ecoroll__EconBatch econ_batch;
		Ecoroll__AirRequest air_request;
		Ecoroll__Table table;
		Ecoroll__BenchmarkRequest benchmark_request;
		Ecoroll__CarbonRequest carbon_request;
		Ecoroll__MonitoringRequest monitoring_request;
		Ecoroll__IndicatorsRequest indicators_request;
		Ecoroll__BudgetImport budget_import;
		Ecoroll__BudgetStatusRequest budget_status_request;
		Ecoroll__RollupBatch rollup_batch;
	} b;
	Ecoroll__RegistryImport registry; /* a RollupBatch's announcement */
	Ecoroll__ReasonCount reasons[PB_MAX_REASONS];
	Ecoroll__ReasonCount *reasonp[PB_MAX_REASONS];
	void *heap;
};

static int enc_ack(const pb_ack *a, struct enc *e)
{
	Ecoroll__Ack *o = &e->b.ack;
	size_t i;

	if (a->nreasons > PB_MAX_REASONS)
		return ER_EINVAL;
	ecoroll__ack__init(o);
	o->seq = a->seq;
	o->status = (Ecoroll__Status)a->status;
	o->expected = a->expected;
	o->accepted = a->accepted;
	o->rejected = a->rejected;
	o->duplicates = a->duplicates;
	o->message = wstr(a->message);
	for (i = 0; i < a->nreasons; i++) {
		ecoroll__reason_count__init(&e->reasons[i]);
		e->reasons[i].reason = (Ecoroll__Reason)a->reasons[i].reason;
		e->reasons[i].count = a->reasons[i].count;
		e->reasons[i].first_index = a->reasons[i].first_index;
		e->reasons[i].first_series = a->reasons[i].first_series;
		e->reasonp[i] = &e->reasons[i];
	}
	o->n_reasons = a->nreasons;
	o->reasons = a->nreasons > 0 ? e->reasonp : NULL;
	e->env.ack = o;
	return 0;
}

static int enc_registry_reply(const pb_registry_reply *r, struct enc *e)
{
	Ecoroll__RegistryReply *o = &e->b.registry_reply;
	char **errors = NULL;
	size_t i, total = 0, off;

	if (r->nerrors > 0) {
		if (r->errors == NULL)
			return ER_EINVAL;
		/* A copy of the pointer array, so that a NULL entry becomes ""
		 * instead of a crash inside protobuf-c. */
		if (!layout_add(&total, r->nerrors, sizeof(*errors), _Alignof(char *), &off))
			return ER_EINVAL;
		errors = malloc(total);
		if (errors == NULL)
			return ER_ENOMEM;
		e->heap = errors;
		for (i = 0; i < r->nerrors; i++)
			errors[i] = wstr(r->errors[i]);
	}
	ecoroll__registry_reply__init(o);
	o->ok = r->ok;
	o->n_errors = r->nerrors;
	o->errors = errors;
	o->districts = r->districts;
	o->enterprises = r->enterprises;
	o->meters = r->meters;
	o->stations = r->stations;
	o->added = r->added;
	e->env.registry_reply = o;
	return 0;
}

static int enc_query_reply(const pb_query_reply *q, struct enc *e)
{
	Ecoroll__QueryReply *o = &e->b.query_reply;
	Ecoroll__Row *rows = NULL;
	Ecoroll__Row **rowp = NULL;
	size_t i, total = 0, roff = 0, poff = 0;
	char *block;

	if (q->nrows > 0) {
		if (q->rows == NULL)
			return ER_EINVAL;
		if (!layout_add(&total, q->nrows, sizeof(*rows), _Alignof(Ecoroll__Row), &roff) ||
		    !layout_add(&total, q->nrows, sizeof(*rowp), _Alignof(Ecoroll__Row *), &poff))
			return ER_EINVAL;
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
		e->heap = block;
		rows = (Ecoroll__Row *)(void *)(block + roff);
		rowp = (Ecoroll__Row **)(void *)(block + poff);
	}
	for (i = 0; i < q->nrows; i++) {
		const pb_row *r = &q->rows[i];

		ecoroll__row__init(&rows[i]);
		rows[i].start = r->start;
		rows[i].carrier = wstr(r->carrier);
		rows[i].purpose = wstr(r->purpose);
		rows[i].unit = wstr(r->unit);
		rows[i].count = r->count;
		rows[i].sum = r->sum;
		rows[i].min = r->min;
		rows[i].max = r->max;
		rows[i].coverage_s = r->coverage_s;
		rows[i].flags = r->flags;
		rows[i].members = r->members;
		rows[i].value = wstr(r->value);
		rows[i].value_unit = wstr(r->value_unit);
		rows[i].source = wstr(r->source);
		rows[i].complete = r->complete;
		rowp[i] = &rows[i];
	}
	ecoroll__query_reply__init(o);
	o->ok = q->ok;
	o->error = wstr(q->error);
	o->entity = wstr(q->entity);
	o->level = (Ecoroll__Level)q->level;
	o->resolution = (Ecoroll__Resolution)q->resolution;
	o->utc_offset_s = q->utc_offset_s;
	o->n_rows = q->nrows;
	o->rows = rowp;
	o->table_version = wstr(q->table_version);
	e->env.query_reply = o;
	return 0;
}

static int enc_report(const pb_report *r, struct enc *e)
{
	Ecoroll__Report *o = &e->b.report;
	Ecoroll__Field *f = NULL, **fp = NULL;
	size_t total = 0, foff = 0, poff = 0;
	char *block;

	if (r->nfields > 0) {
		if (r->fields == NULL)
			return ER_EINVAL;
		if (!layout_add(&total, r->nfields, sizeof(*f), _Alignof(Ecoroll__Field), &foff) ||
		    !layout_add(&total, r->nfields, sizeof(*fp), _Alignof(Ecoroll__Field *), &poff))
			return ER_EINVAL;
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
		e->heap = block;
		f = (Ecoroll__Field *)(void *)(block + foff);
		fp = (Ecoroll__Field **)(void *)(block + poff);
	}
	for (size_t i = 0; i < r->nfields; i++) {
		ecoroll__field__init(&f[i]);
		f[i].name = wstr(r->fields[i].name);
		f[i].value = wstr(r->fields[i].value);
		fp[i] = &f[i];
	}
	ecoroll__report__init(o);
	o->ok = r->ok;
	o->error = wstr(r->error);
	o->n_fields = r->nfields;
	o->fields = fp;
	e->env.report = o;
	return 0;
}

static int enc_table(const pb_table *t, struct enc *e)
{
	Ecoroll__Table *o = &e->b.table;
	size_t ncells = t->nrows * t->ncols, total = 0, loff = 0, lpoff = 0, noff = 0, npoff = 0;
	Ecoroll__Line *lines = NULL, **linep = NULL;
	Ecoroll__Field *notes = NULL, **notep = NULL;
	char *block = NULL;

	if ((t->ncols && t->columns == NULL) || (ncells && t->cells == NULL) || (t->nnotes && t->notes == NULL))
		return ER_EINVAL;
	if (!layout_add(&total, t->nrows, sizeof(*lines), _Alignof(Ecoroll__Line), &loff) ||
	    !layout_add(&total, t->nrows, sizeof(*linep), _Alignof(Ecoroll__Line *), &lpoff) ||
	    !layout_add(&total, t->nnotes, sizeof(*notes), _Alignof(Ecoroll__Field), &noff) ||
	    !layout_add(&total, t->nnotes, sizeof(*notep), _Alignof(Ecoroll__Field *), &npoff))
		return ER_EINVAL;
	if (total > 0) {
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
		e->heap = block;
		lines = (Ecoroll__Line *)(void *)(block + loff);
		linep = (Ecoroll__Line **)(void *)(block + lpoff);
		notes = (Ecoroll__Field *)(void *)(block + noff);
		notep = (Ecoroll__Field **)(void *)(block + npoff);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		ecoroll__line__init(&lines[r]);
		lines[r].n_cells = t->ncols;
		/* protobuf-c reads, never writes, these strings */
		lines[r].cells = (char **)(uintptr_t)(t->cells + r * t->ncols);
		linep[r] = &lines[r];
	}
	for (size_t i = 0; i < t->nnotes; i++) {
		ecoroll__field__init(&notes[i]);
		notes[i].name = wstr(t->notes[i].name);
		notes[i].value = wstr(t->notes[i].value);
		notep[i] = &notes[i];
	}
	ecoroll__table__init(o);
	o->ok = t->ok;
	o->error = wstr(t->error);
	o->title = wstr(t->title);
	o->n_columns = t->ncols;
	o->columns = (char **)(uintptr_t)t->columns;
	o->n_rows = t->nrows;
	o->rows = linep;
	o->n_notes = t->nnotes;
	o->notes = notep;
	e->env.table = o;
	return 0;
}

static int enc_events_reply(const pb_events_reply *r, struct enc *e)
{
	Ecoroll__EventsReply *o = &e->b.events_reply;
	Ecoroll__Event *ev = NULL, **evp = NULL;
	size_t total = 0, eoff = 0, poff = 0;
	char *block;

	if (r->nevents > 0) {
		if (r->events == NULL)
			return ER_EINVAL;
		if (!layout_add(&total, r->nevents, sizeof(*ev), _Alignof(Ecoroll__Event), &eoff) ||
		    !layout_add(&total, r->nevents, sizeof(*evp), _Alignof(Ecoroll__Event *), &poff))
			return ER_EINVAL;
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
		e->heap = block;
		ev = (Ecoroll__Event *)(void *)(block + eoff);
		evp = (Ecoroll__Event **)(void *)(block + poff);
	}
	for (size_t i = 0; i < r->nevents; i++) {
		const pb_event *x = &r->events[i];
		ecoroll__event__init(&ev[i]);
		ev[i].id = x->id;
		ev[i].type = wstr(x->type);
		ev[i].status = wstr(x->status);
		ev[i].meter = wstr(x->meter);
		ev[i].t0 = x->t0;
		ev[i].t1 = x->t1;
		ev[i].v0 = x->v0;
		ev[i].v1 = x->v1;
		ev[i].amount = x->amount;
		ev[i].created = x->created;
		ev[i].resolved = x->resolved;
		ev[i].entity = wstr(x->entity);
		ev[i].entity_level = wstr(x->entity_level);
		ev[i].kind = wstr(x->kind);
		ev[i].level = wstr(x->level);
		ev[i].previous_level = wstr(x->previous_level);
		ev[i].rule = wstr(x->rule);
		ev[i].ytd = wstr(x->ytd);
		ev[i].expected = wstr(x->expected);
		ev[i].projected = wstr(x->projected);
		ev[i].budget = wstr(x->budget);
		ev[i].year = x->year;
		ev[i].node = wstr(x->node);
		evp[i] = &ev[i];
	}
	ecoroll__events_reply__init(o);
	o->ok = r->ok;
	o->error = wstr(r->error);
	o->n_events = r->nevents;
	o->events = evp;
	e->env.events_reply = o;
	return 0;
}

static int enc_status_reply(const pb_status_reply *s, struct enc *e)
{
	Ecoroll__StatusReply *o = &e->b.status_reply;
	Ecoroll__Counter *counters = NULL, **counterp = NULL;
	Ecoroll__SenderState *senders = NULL, **senderp = NULL;
	Ecoroll__Field *notes = NULL, **notep = NULL;
	size_t i, total = 0, coff = 0, cpoff = 0, soff = 0, spoff = 0, noff = 0, npoff = 0;
	char *block = NULL;

	if ((s->ncounters > 0 && s->counters == NULL) || (s->nsenders > 0 && s->senders == NULL) ||
	    (s->nnotes > 0 && s->notes == NULL))
		return ER_EINVAL;
	if (!layout_add(&total, s->ncounters, sizeof(*counters), _Alignof(Ecoroll__Counter), &coff) ||
	    !layout_add(&total, s->ncounters, sizeof(*counterp), _Alignof(Ecoroll__Counter *), &cpoff) ||
	    !layout_add(&total, s->nsenders, sizeof(*senders), _Alignof(Ecoroll__SenderState), &soff) ||
	    !layout_add(&total, s->nsenders, sizeof(*senderp), _Alignof(Ecoroll__SenderState *), &spoff) ||
	    !layout_add(&total, s->nnotes, sizeof(*notes), _Alignof(Ecoroll__Field), &noff) ||
	    !layout_add(&total, s->nnotes, sizeof(*notep), _Alignof(Ecoroll__Field *), &npoff))
		return ER_EINVAL;
	if (total > 0) {
		block = malloc(total);
		if (block == NULL)
			return ER_ENOMEM;
		e->heap = block;
	}
	if (s->ncounters > 0) {
		counters = (Ecoroll__Counter *)(void *)(block + coff);
		counterp = (Ecoroll__Counter **)(void *)(block + cpoff);
	}
	if (s->nsenders > 0) {
		senders = (Ecoroll__SenderState *)(void *)(block + soff);
		senderp = (Ecoroll__SenderState **)(void *)(block + spoff);
	}
	for (i = 0; i < s->ncounters; i++) {
		ecoroll__counter__init(&counters[i]);
		counters[i].name = wstr(s->counters[i].name);
		counters[i].value = s->counters[i].value;
		counterp[i] = &counters[i];
	}
	for (i = 0; i < s->nsenders; i++) {
		ecoroll__sender_state__init(&senders[i]);
		senders[i].sender = wstr(s->senders[i].sender);
		senders[i].high_water = s->senders[i].high_water;
		senderp[i] = &senders[i];
	}
	if (s->nnotes > 0) {
		notes = (Ecoroll__Field *)(void *)(block + noff);
		notep = (Ecoroll__Field **)(void *)(block + npoff);
	}
	for (i = 0; i < s->nnotes; i++) {
		ecoroll__field__init(&notes[i]);
		notes[i].name = wstr(s->notes[i].name);
		notes[i].value = wstr(s->notes[i].value);
		notep[i] = &notes[i];
	}
	ecoroll__status_reply__init(o);
	o->role = wstr(s->role);
	o->uptime_s = s->uptime_s;
	o->series = s->series;
	o->flushes = s->flushes;
	o->db_bytes = s->db_bytes;
	o->n_counters = s->ncounters;
	o->counters = counterp;
	o->n_senders = s->nsenders;
	o->senders = senderp;
	o->n_notes = s->nnotes;
	o->notes = notep;
	e->env.status_reply = o;
	return 0;
}

/* The rows' columns and the econ entries share one heap block. */
static int enc_rollup_batch(const pb_rollup_batch *b, struct enc *e)
{
	Ecoroll__RollupBatch *o = &e->b.rollup_batch;
	size_t n = b->nrows, total = 0, off[13], eoff = 0;
	char *block = NULL;

	if ((n > 0 && b->rows == NULL) || (b->necon > 0 && b->econ == NULL))
		return ER_EINVAL;
	for (int c = 0; c < 13; c++)
		if (!layout_add(&total, n, 8, 8, &off[c]))
			return ER_EINVAL;
	size_t voff = 0;
	if (!layout_add(&total, b->necon, sizeof(ProtobufCBinaryData), _Alignof(ProtobufCBinaryData), &eoff) ||
	    !layout_add(&total, b->nevents, sizeof(ProtobufCBinaryData), _Alignof(ProtobufCBinaryData), &voff))
		return ER_EINVAL;
	if (b->nevents > 0 && (b->events == NULL || b->event_len == NULL))
		return ER_EINVAL;
	if (total > 0) {
		if ((block = malloc(total)) == NULL)
			return ER_ENOMEM;
		e->heap = block;
	}
	ecoroll__rollup_batch__init(o);
	o->sender = wstr(b->sender);
	o->seq = b->seq;
	o->created = b->created;
	o->n_level = o->n_metric = o->n_res = o->n_flags = o->n_members = o->n_complete = n;
	o->n_entity = o->n_coverage_s = o->n_start = o->n_count = o->n_sum = o->n_min = o->n_max = n;
	if (n > 0) {
		o->level = (uint32_t *)(void *)(block + off[0]);
		o->metric = (uint32_t *)(void *)(block + off[1]);
		o->res = (uint32_t *)(void *)(block + off[2]);
		o->flags = (uint32_t *)(void *)(block + off[3]);
		o->members = (uint32_t *)(void *)(block + off[4]);
		o->complete = (uint32_t *)(void *)(block + off[5]);
		o->entity = (uint64_t *)(void *)(block + off[6]);
		o->coverage_s = (uint64_t *)(void *)(block + off[7]);
		o->start = (int64_t *)(void *)(block + off[8]);
		o->count = (int64_t *)(void *)(block + off[9]);
		o->sum = (int64_t *)(void *)(block + off[10]);
		o->min = (int64_t *)(void *)(block + off[11]);
		o->max = (int64_t *)(void *)(block + off[12]);
	}
	for (size_t i = 0; i < n; i++) {
		const pb_rollup_row *r = &b->rows[i];
		o->level[i] = r->level;
		o->metric[i] = r->metric;
		o->res[i] = r->res;
		o->flags[i] = r->flags;
		o->members[i] = r->members;
		o->complete[i] = r->complete;
		o->entity[i] = r->entity;
		o->coverage_s[i] = r->coverage_s;
		o->start[i] = r->start;
		o->count[i] = r->count;
		o->sum[i] = r->sum;
		o->min[i] = r->min;
		o->max[i] = r->max;
	}
	if (b->necon > 0) {
		ProtobufCBinaryData *ec = (ProtobufCBinaryData *)(void *)(block + eoff);
		for (size_t i = 0; i < b->necon; i++) {
			ec[i].len = PB_ECON_BYTES;
			ec[i].data = (uint8_t *)b->econ + i * PB_ECON_BYTES;
		}
		o->n_econ = b->necon;
		o->econ = ec;
	}
	if (b->nevents > 0) {
		ProtobufCBinaryData *ev = (ProtobufCBinaryData *)(void *)(block + voff);
		for (size_t i = 0; i < b->nevents; i++) {
			ev[i].len = b->event_len[i];
			ev[i].data = (uint8_t *)b->events[i];
		}
		o->n_events = b->nevents;
		o->events = ev;
	}
	if (b->has_registry) {
		ecoroll__registry_import__init(&e->registry);
		e->registry.districts_csv = wstr(b->registry.districts_csv);
		e->registry.enterprises_csv = wstr(b->registry.enterprises_csv);
		e->registry.meters_csv = wstr(b->registry.meters_csv);
		e->registry.stations_csv = wstr(b->registry.stations_csv);
		e->registry.origin = wstr(b->registry.origin);
		o->registry = &e->registry;
	}
	e->env.body_case = ECOROLL__ENVELOPE__BODY_ROLLUP_BATCH;
	e->env.rollup_batch = o;
	return 0;
}

/* Builds e->env from m. On failure e->heap may still hold an allocation,
 * which the caller frees either way. */
static int enc_build(const pb_msg *m, struct enc *e)
{
	ecoroll__envelope__init(&e->env);
	e->env.version = PB_VERSION;
	e->heap = NULL;
	switch (m->type) {
	case PB_HELLO:
		ecoroll__hello__init(&e->b.hello);
		e->b.hello.sender = wstr(m->u.hello.sender);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_HELLO;
		e->env.hello = &e->b.hello;
		return 0;
	case PB_WELCOME:
		ecoroll__welcome__init(&e->b.welcome);
		e->b.welcome.sender = wstr(m->u.welcome.sender);
		e->b.welcome.next_seq = m->u.welcome.next_seq;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_WELCOME;
		e->env.welcome = &e->b.welcome;
		return 0;
	case PB_BATCH:
		ecoroll__reading_batch__init(&e->b.batch);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_BATCH;
		e->env.batch = &e->b.batch;
		return enc_batch(&m->u.batch, &e->b.batch);
	case PB_ACK:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_ACK;
		return enc_ack(&m->u.ack, e);
	case PB_REGISTRY_IMPORT: {
		const pb_registry_import *ri = &m->u.registry_import;

		ecoroll__registry_import__init(&e->b.registry_import);
		e->b.registry_import.districts_csv = wstr(ri->districts_csv);
		e->b.registry_import.enterprises_csv = wstr(ri->enterprises_csv);
		e->b.registry_import.meters_csv = wstr(ri->meters_csv);
		e->b.registry_import.stations_csv = wstr(ri->stations_csv);
		e->b.registry_import.origin = wstr(ri->origin);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_REGISTRY_IMPORT;
		e->env.registry_import = &e->b.registry_import;
		return 0;
	}
	case PB_REGISTRY_REPLY:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_REGISTRY_REPLY;
		return enc_registry_reply(&m->u.registry_reply, e);
	case PB_QUERY:
		ecoroll__query__init(&e->b.query);
		e->b.query.level = (Ecoroll__Level)m->u.query.level;
		e->b.query.entity = wstr(m->u.query.entity);
		e->b.query.resolution = (Ecoroll__Resolution)m->u.query.resolution;
		e->b.query.from = m->u.query.from;
		e->b.query.to = m->u.query.to;
		e->b.query.carrier = wstr(m->u.query.carrier);
		e->b.query.unit = wstr(m->u.query.unit);
		e->b.query.method = wstr(m->u.query.method);
		e->b.query.scope = wstr(m->u.query.scope);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_QUERY;
		e->env.query = &e->b.query;
		return 0;
	case PB_QUERY_REPLY:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_QUERY_REPLY;
		return enc_query_reply(&m->u.query_reply, e);
	case PB_STATUS_REQUEST:
		ecoroll__status_request__init(&e->b.status_request);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_STATUS_REQUEST;
		e->env.status_request = &e->b.status_request;
		return 0;
	case PB_STATUS_REPLY:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_STATUS_REPLY;
		return enc_status_reply(&m->u.status_reply, e);
	case PB_EVENTS_REQUEST:
		ecoroll__events_request__init(&e->b.events_request);
		e->b.events_request.meter = wstr(m->u.events_request.meter);
		e->b.events_request.after_id = m->u.events_request.after_id;
		e->b.events_request.limit = m->u.events_request.limit;
		e->b.events_request.type = wstr(m->u.events_request.type);
		e->b.events_request.entity = wstr(m->u.events_request.entity);
		e->b.events_request.node = wstr(m->u.events_request.node);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_EVENTS_REQUEST;
		e->env.events_request = &e->b.events_request;
		return 0;
	case PB_EVENTS_REPLY:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_EVENTS_REPLY;
		return enc_events_reply(&m->u.events_reply, e);
	case PB_EVENT_ACCEPT:
		ecoroll__event_accept__init(&e->b.event_accept);
		e->b.event_accept.id = m->u.event_accept;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_EVENT_ACCEPT;
		e->env.event_accept = &e->b.event_accept;
		return 0;
	case PB_REPLACEMENT:
		ecoroll__replacement__init(&e->b.replacement);
		e->b.replacement.meter = wstr(m->u.replacement.meter);
		e->b.replacement.ts = m->u.replacement.ts;
		e->b.replacement.old_final = m->u.replacement.old_final;
		e->b.replacement.new_initial = m->u.replacement.new_initial;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_REPLACEMENT;
		e->env.replacement = &e->b.replacement;
		return 0;
	case PB_RELOAD:
		ecoroll__reload__init(&e->b.reload);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_RELOAD;
		e->env.reload = &e->b.reload;
		return 0;
	case PB_COMMAND_REPLY:
		ecoroll__command_reply__init(&e->b.command_reply);
		e->b.command_reply.ok = m->u.command_reply.ok;
		e->b.command_reply.message = wstr(m->u.command_reply.message);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_COMMAND_REPLY;
		e->env.command_reply = &e->b.command_reply;
		return 0;
	case PB_INTENSITY_REQUEST:
		ecoroll__intensity_request__init(&e->b.intensity_request);
		e->b.intensity_request.level = (Ecoroll__Level)m->u.intensity_request.level;
		e->b.intensity_request.entity = wstr(m->u.intensity_request.entity);
		e->b.intensity_request.period = wstr(m->u.intensity_request.period);
		e->b.intensity_request.kind = wstr(m->u.intensity_request.kind);
		e->b.intensity_request.base_period = wstr(m->u.intensity_request.base);
		e->b.intensity_request.scope = wstr(m->u.intensity_request.scope);
		e->b.intensity_request.method = wstr(m->u.intensity_request.method);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_INTENSITY_REQUEST;
		e->env.intensity_request = &e->b.intensity_request;
		return 0;
	case PB_REPORT:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_REPORT;
		return enc_report(&m->u.report, e);
	case PB_AIR_REQUEST:
		ecoroll__air_request__init(&e->b.air_request);
		e->b.air_request.level = (Ecoroll__Level)m->u.air_request.level;
		e->b.air_request.entity = wstr(m->u.air_request.entity);
		e->b.air_request.kind = wstr(m->u.air_request.kind);
		e->b.air_request.from = m->u.air_request.from;
		e->b.air_request.to = m->u.air_request.to;
		e->b.air_request.year = m->u.air_request.year;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_AIR_REQUEST;
		e->env.air_request = &e->b.air_request;
		return 0;
	case PB_BENCHMARK_REQUEST:
		ecoroll__benchmark_request__init(&e->b.benchmark_request);
		e->b.benchmark_request.industry = wstr(m->u.benchmark_request.industry);
		e->b.benchmark_request.period = wstr(m->u.benchmark_request.period);
		e->b.benchmark_request.scope = wstr(m->u.benchmark_request.scope);
		e->b.benchmark_request.method = wstr(m->u.benchmark_request.method);
		e->b.benchmark_request.kind = wstr(m->u.benchmark_request.kind);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_BENCHMARK_REQUEST;
		e->env.benchmark_request = &e->b.benchmark_request;
		return 0;
	case PB_CARBON_REQUEST:
		ecoroll__carbon_request__init(&e->b.carbon_request);
		e->b.carbon_request.level = (Ecoroll__Level)m->u.carbon_request.level;
		e->b.carbon_request.entity = wstr(m->u.carbon_request.entity);
		e->b.carbon_request.year = m->u.carbon_request.year;
		e->b.carbon_request.to = m->u.carbon_request.to;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_CARBON_REQUEST;
		e->env.carbon_request = &e->b.carbon_request;
		return 0;
	case PB_MONITORING_REQUEST:
		ecoroll__monitoring_request__init(&e->b.monitoring_request);
		e->b.monitoring_request.level = (Ecoroll__Level)m->u.monitoring_request.level;
		e->b.monitoring_request.entity = wstr(m->u.monitoring_request.entity);
		e->b.monitoring_request.period = wstr(m->u.monitoring_request.period);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_MONITORING_REQUEST;
		e->env.monitoring_request = &e->b.monitoring_request;
		return 0;
	case PB_INDICATORS_REQUEST:
		ecoroll__indicators_request__init(&e->b.indicators_request);
		e->b.indicators_request.entity = wstr(m->u.indicators_request.entity);
		e->b.indicators_request.year = m->u.indicators_request.year;
		e->b.indicators_request.base_year = m->u.indicators_request.base;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_INDICATORS_REQUEST;
		e->env.indicators_request = &e->b.indicators_request;
		return 0;
	case PB_TABLE:
		e->env.body_case = ECOROLL__ENVELOPE__BODY_TABLE;
		return enc_table(&m->u.table, e);
	case PB_ECON_BATCH:
		ecoroll__econ_batch__init(&e->b.econ_batch);
		e->b.econ_batch.sender = wstr(m->u.econ_batch.sender);
		e->b.econ_batch.seq = m->u.econ_batch.seq;
		e->b.econ_batch.csv = wstr(m->u.econ_batch.csv);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_ECON_BATCH;
		e->env.econ_batch = &e->b.econ_batch;
		return 0;
	case PB_ROLLUP_BATCH:
		return enc_rollup_batch(&m->u.rollup_batch, e);
	case PB_BUDGET_IMPORT:
		ecoroll__budget_import__init(&e->b.budget_import);
		e->b.budget_import.csv = wstr(m->u.econ_import.csv);
		e->b.budget_import.origin = wstr(m->u.econ_import.origin);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_BUDGET_IMPORT;
		e->env.budget_import = &e->b.budget_import;
		return 0;
	case PB_BUDGET_STATUS_REQUEST:
		ecoroll__budget_status_request__init(&e->b.budget_status_request);
		e->b.budget_status_request.level = (Ecoroll__Level)m->u.budget_status_request.level;
		e->b.budget_status_request.entity = wstr(m->u.budget_status_request.entity);
		e->b.budget_status_request.year = m->u.budget_status_request.year;
		e->env.body_case = ECOROLL__ENVELOPE__BODY_BUDGET_STATUS_REQUEST;
		e->env.budget_status_request = &e->b.budget_status_request;
		return 0;
	case PB_ECON_IMPORT:
		ecoroll__econ_import__init(&e->b.econ_import);
		e->b.econ_import.csv = wstr(m->u.econ_import.csv);
		e->b.econ_import.origin = wstr(m->u.econ_import.origin);
		e->env.body_case = ECOROLL__ENVELOPE__BODY_ECON_IMPORT;
		e->env.econ_import = &e->b.econ_import;
		return 0;
	case PB_NONE:
	default:
		return ER_EINVAL;
	}
}

int pb_encode(const pb_msg *m, uint8_t **out, size_t *len)
{
	struct enc e;
	uint8_t *buf = NULL;
	size_t size;
	int rc;

	if (m == NULL || out == NULL || len == NULL)
		return ER_EINVAL;
	*out = NULL;
	*len = 0;
	rc = enc_build(m, &e);
	if (rc != 0)
		goto done;
	/* Never 0: the version field alone takes two bytes. */
	size = ecoroll__envelope__get_packed_size(&e.env);
	buf = malloc(size);
	if (buf == NULL) {
		rc = ER_ENOMEM;
		goto done;
	}
	ecoroll__envelope__pack(&e.env, buf);
	*out = buf;
	*len = size;
done:
	free(e.heap);
	return rc;
}

size_t pb_encode_batch_into(const pb_batch *b, void *buf, size_t cap)
{
	Ecoroll__Envelope env = ECOROLL__ENVELOPE__INIT;
	Ecoroll__ReadingBatch rb = ECOROLL__READING_BATCH__INIT;
	size_t size;

	if (b == NULL || (buf == NULL && cap > 0))
		return 0;
	if (enc_batch(b, &rb) != 0)
		return 0;
	env.version = PB_VERSION;
	env.body_case = ECOROLL__ENVELOPE__BODY_BATCH;
	env.batch = &rb;
	/* Sizing walks the columns once more than packing alone would, but
	 * it is what lets the caller keep one buffer and never overrun it. */
	size = ecoroll__envelope__get_packed_size(&env);
	if (size > cap)
		return size;
	ecoroll__envelope__pack(&env, buf);
	return size;
}

int pb_encode_ack(const pb_ack *a, uint8_t **out, size_t *len)
{
	pb_msg m = { .type = PB_ACK };

	if (a == NULL)
		return ER_EINVAL;
	m.u.ack = *a;
	return pb_encode(&m, out, len);
}
