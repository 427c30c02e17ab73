/* warn.c: energy budgets, intensity targets and their warnings (DOMAIN.md 6).
 *
 * Everything here runs on the control thread, the only reader of the
 * coefficient tables. After the store thread has committed something new
 * (its commit counter moved) and at most every warnings.interval_ms, every
 * stored budget is evaluated from an LMDB read snapshot: YTD use in the
 * budget scope (no feedstock, no new renewables) up to the data time t,
 * the end of the latest hour with data for the entity in the budget's
 * year, so a year of readings pushed in minutes moves the levels as the
 * year would. A level that differs from the entity's last one is a
 * warning: it is queued to the store thread as a command (the store
 * thread owns the event ids and the write transaction), and only once it
 * is committed is it sent on the PUB socket and then marked published.
 *
 * Once per level change: each (entity, year, kind) starts the year green;
 * its last level is the level of its latest stored warning, rebuilt from
 * the events database at start, so a restart publishes nothing again. A
 * warning stored but not yet marked published (the node stopped between
 * the commit and the send) is sent at the next start: subscribers that
 * must never see one twice keep the last event id per entity.
 *
 * Forwarding warnings from a district node to the city (issue 6) is not
 * built: a city node evaluates its own budgets from the rollups it holds.
 */
#include <ck_epoch.h>
#include "node.h"

#include "budget.h"
#include "budgets.h"
#include "econ.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BIND_RETRY_NS (5 * 1000000000ull) /* a taken PUB port is tried again this often */
#define CMD_TIMEOUT_MS 5000		   /* a warning waits at most this for the store's commit */
#define WELCOME "warning.welcome"	   /* what a new subscriber receives first (ZMQ_XPUB_WELCOME_MSG) */
#define PICO_PER_TCE ((agg_pico)1000000000000000LL) /* 1 tce = 1e3 kgce = 1e15 x 1e-12 kgce */
#define INTENSITY_SCALE 1000 /* intensity x 1e12 = e x 1e3 / v (as benchmarking) */

typedef struct wstate {
	uint8_t elevel, kind, level;
	int32_t year;
	uint64_t entity;
} wstate;

struct node_warn {
	void *pub; /* XPUB: it takes subscriptions and sends the welcome */
	bool bound;
	uint64_t next_bind_ns;
	agg_warn_rules rules;
	uint64_t seen_commits, last_eval_ns;
	bool dirty; /* budgets changed: evaluate at the next turn */
	wstate *st;
	size_t nst, capst;
	uint64_t *pending; /* stored warnings not yet published, in id order */
	size_t npend, cappend;
};

/* One budget evaluated. */
typedef struct weval {
	int level, rule;
	bool have_data, projected_ok, coef_missing;
	int64_t t;
	agg_share share;
	agg_pico ytd, expected, projected, budget; /* budget: 1e-12 kgce; intensity: x 1e12 per 10^4 yuan */
	char note[160];
} weval;

/* ---- state ---- */

static wstate *state_of(struct node_warn *w, int elevel, uint64_t entity, int32_t year, int kind, bool add)
{
	for (size_t i = 0; i < w->nst; i++)
		if (w->st[i].entity == entity && w->st[i].year == year && w->st[i].kind == kind &&
		    w->st[i].elevel == elevel)
			return &w->st[i];
	if (!add)
		return NULL;
	if (er_grow(&w->st, w->nst, &w->capst, sizeof *w->st, 64) != 0)
		return NULL;
	/* every entity starts its year green: on track until shown otherwise */
	w->st[w->nst] = (wstate){(uint8_t)elevel, (uint8_t)kind, AGG_GREEN, year, entity};
	return &w->st[w->nst++];
}

static void pending_add(struct node_warn *w, uint64_t id)
{
	if (w->npend == w->cappend) {
		size_t cap = w->cappend ? w->cappend * 2 : 16;
		uint64_t *p = realloc(w->pending, cap * sizeof *p);
		if (p == NULL)
			return; /* it stays unpublished in the store: the next start sends it */
		w->pending = p;
		w->cappend = cap;
	}
	w->pending[w->npend++] = id;
}

struct rebuild {
	node *n;
	sto_txn *t;
};

static int on_stored(void *ctx, const sto_event *e)
{
	struct rebuild *r = ctx;
	struct node_warn *w = r->n->warn;
	sto_warning x;
	if (e->type != STO_EV_WARNING || sto_warning_get(r->t, e->id, &x) != 0)
		return 0;
	wstate *s = state_of(w, x.entity_level, x.entity, x.year, x.kind, true);
	if (s != NULL)
		s->level = x.level; /* id order: the latest warning wins */
	if (x.status == STO_EV_OPEN)
		pending_add(w, x.id);
	return 0;
}

static void try_bind(node *n)
{
	struct node_warn *w = n->warn;
	if (w->bound || n->cfg.warn_publish[0] == 0 || er_mono_ns() < w->next_bind_ns)
		return;
	if (zmq_bind(w->pub, n->cfg.warn_publish) == 0) {
		w->bound = true;
		er_log(ER_LOG_INFO, "warnings: publishing on %s", n->cfg.warn_publish);
		return;
	}
	if (w->next_bind_ns == 0)
		er_log(ER_LOG_ERROR, "warnings: cannot bind %s (%s); warnings are stored and sent once it binds",
		       n->cfg.warn_publish, zmq_strerror(zmq_errno()));
	w->next_bind_ns = er_mono_ns() + BIND_RETRY_NS;
}

int node_warn_open(node *n, char *err, size_t cap)
{
	struct node_warn *w = calloc(1, sizeof *w);
	sto_txn *t;
	int rc;

	if (w == NULL)
		return ER_ENOMEM;
	n->warn = w;
	agg_warn_rules_default(&w->rules);
	if ((rc = agg_warn_rules_load(n->cfg.warn_rules, &w->rules, err, cap)) != 0)
		return rc;
	w->pub = zmq_socket(n->zctx, ZMQ_XPUB);
	if (w->pub == NULL) {
		snprintf(err, cap, "warnings: cannot create the PUB socket");
		return ER_EIO;
	}
	zmq_setsockopt(w->pub, ZMQ_LINGER, &(int){1000}, sizeof(int));
	zmq_setsockopt(w->pub, ZMQ_XPUB_WELCOME_MSG, WELCOME, strlen(WELCOME));
	if ((rc = sto_read_begin(n->store, &t)) != 0) {
		snprintf(err, cap, "warnings: store: %s", er_strerror(rc));
		return rc;
	}
	struct rebuild r = {n, t};
	rc = sto_events_each(t, 0, on_stored, &r);
	sto_abort(t);
	if (rc < 0) {
		snprintf(err, cap, "warnings: reading stored warnings: %s", er_strerror(rc));
		return rc;
	}
	try_bind(n);
	w->dirty = true;
	return 0;
}

void node_warn_close(node *n)
{
	struct node_warn *w = n->warn;
	if (w == NULL)
		return;
	if (w->pub)
		zmq_close(w->pub);
	free(w->st);
	free(w->pending);
	free(w);
	n->warn = NULL;
}

int node_warn_reload(node *n, char *msg, size_t cap)
{
	agg_warn_rules r;
	agg_warn_rules_default(&r);
	int rc = agg_warn_rules_load(n->cfg.warn_rules, &r, msg, cap);
	if (rc == 0) {
		n->warn->rules = r;
		n->warn->dirty = true;
		snprintf(msg, cap, "warning thresholds reloaded from %s", n->cfg.warn_rules);
	}
	return rc;
}

/* ---- evaluation ---- */

static int64_t year_start(node *n, int32_t year)
{
	return er_days_from_civil(year, 1, 1) * 86400 - n->cfg.utc_offset_s;
}

static int64_t month_end(node *n, int32_t year, unsigned m)
{
	return m == 12 ? year_start(n, year + 1) : er_days_from_civil(year, m + 1, 1) * 86400 - n->cfg.utc_offset_s;
}

/* Energy and the denominator of months 1..m of a year (m = 12: the year's
 * figure, or its parts). */
static bool inten_months(node *n, sto_txn *t, const sto_budget *b, int32_t year, unsigned m, int kind, agg_pico *e,
			 er_fx *v, weval *out)
{
	bool miss;
	int64_t end;
	const char *how;
	char why[120];
	er_fx x;

	node__tce_of(n, t, b->level, b->entity, year_start(n, year), month_end(n, year, m), AGG_SCOPE_ALL, e, &miss,
		     &end);
	out->coef_missing |= miss;
	*v = 0;
	if (m == 12 && sto_econ_total(t, b->level, b->entity, kind, STO_P_YEAR, year, 0, v, &how, why, sizeof why) == 0)
		return true;
	for (unsigned i = 1; i <= m; i++) {
		if (sto_econ_total(t, b->level, b->entity, kind, STO_P_MONTH, year, (int)i, &x, &how, why, sizeof why) != 0) {
			snprintf(out->note, sizeof out->note, "no %s for %d-%02u", sto_econ_kind_name(kind), (int)year, i);
			return false;
		}
		*v += x;
	}
	return true;
}

/* intensity x 1e12 (tce per 10^4 yuan), rounded down: e x 1e3 / v */
static agg_pico intensity_q(agg_pico e, er_fx v)
{
	return v > 0 ? e * INTENSITY_SCALE / v : 0;
}

static void eval_intensity(node *n, sto_txn *t, const sto_budget *b, weval *out)
{
	int kind = b->level == STO_CITY ? STO_ECON_GDP : STO_ECON_VALUE_ADDED;
	agg_pico e_t, e_0;
	er_fx v_t, v_0;
	bool miss;
	int64_t end;

	/* the complete months at the data time */
	node__tce_of(n, t, b->level, b->entity, year_start(n, b->year), year_start(n, b->year + 1), AGG_SCOPE_ALL, &e_t,
		     &miss, &end);
	if (end == 0) {
		snprintf(out->note, sizeof out->note, "no data in %d", (int)b->year);
		return;
	}
	out->have_data = true;
	out->t = end;
	unsigned m = 0;
	while (m < 12 && month_end(n, b->year, m + 1) <= end)
		m++;
	if (m == 0) {
		snprintf(out->note, sizeof out->note, "no complete month yet");
		return;
	}
	if (!inten_months(n, t, b, b->year, m, kind, &e_t, &v_t, out))
		return;
	/* base: the same months last year, or a whole base year */
	bool ok = b->base == 0 ? inten_months(n, t, b, b->year - 1, m, kind, &e_0, &v_0, out)
			       : inten_months(n, t, b, b->base, 12, kind, &e_0, &v_0, out);
	if (!ok)
		return;
	if (agg_intensity_level(&n->warn->rules, e_t, v_t, e_0, v_0, b->target, &out->level, &out->rule) != 0) {
		snprintf(out->note, sizeof out->note, "no base intensity (no energy or denominator in the base)");
		return;
	}
	out->ytd = intensity_q(e_t, v_t);
	/* target = I_0 x (1 + change), shown rounded down */
	out->budget = intensity_q(e_0, v_0) * (100000000 + b->target) / 100000000;
	snprintf(out->note, sizeof out->note, "months 1-%u against %s", m, b->base == 0 ? "the same months last year" : "the base year");
}

static void eval_budget(node *n, sto_txn *t, const sto_budget *b, weval *out)
{
	agg_profile prof, *p = NULL;
	int64_t end;

	memset(out, 0, sizeof *out);
	out->budget = (agg_pico)b->target * (PICO_PER_TCE / 1000000);
	if (b->kind == AGG_BUDGET_INTENSITY) {
		out->budget = 0;
		eval_intensity(n, t, b, out);
		return;
	}
	node__tce_of(n, t, b->level, b->entity, year_start(n, b->year), year_start(n, b->year + 1), AGG_SCOPE_CONTROL,
		     &out->ytd, &out->coef_missing, &end);
	if (end == 0) {
		snprintf(out->note, sizeof out->note, "no data in %d", (int)b->year);
		return;
	}
	out->have_data = true;
	out->t = end;
	if (b->profile_type == AGG_PROFILE_GIVEN) {
		memcpy(prof.cum, b->cum, sizeof prof.cum);
		p = &prof;
	} else if (b->profile_type == AGG_PROFILE_LAST_YEAR) {
		/* last year's use, month by month, as the profile */
		agg_pico m[12];
		bool miss;
		int64_t e2;
		for (unsigned i = 0; i < 12; i++)
			node__tce_of(n, t, b->level, b->entity, i == 0 ? year_start(n, b->year - 1) : month_end(n, b->year - 1, i),
				     month_end(n, b->year - 1, i + 1), AGG_SCOPE_CONTROL, &m[i], &miss, &e2);
		if (agg_profile_from_months(m, &prof) == 0)
			p = &prof;
		else
			snprintf(out->note, sizeof out->note, "no data for %d: linear profile", (int)b->year - 1);
	}
	agg_budget_eval e;
	if (agg_budget_share(p, b->year, end, n->cfg.utc_offset_s, &out->share) != 0 ||
	    agg_budget_level(&n->warn->rules, out->budget, out->ytd, &out->share, &e) != 0)
		return;
	out->level = e.level;
	out->rule = e.rule;
	out->projected_ok = e.projected_ok;
	out->expected = e.expected;
	out->projected = e.projected;
}

/* ---- publishing ---- */

static void fmt_tce(agg_pico v, char *buf, size_t cap)
{
	agg_pico_format(v, 3, 6, buf, cap); /* 1e-12 kgce -> tce, to the gram */
}

static void fmt_figures(const sto_warning *x, char ytd[48], char exp[48], char proj[48], char bud[48])
{
	if (x->kind == AGG_BUDGET_INTENSITY) {
		sto_ratio_format(x->ytd, (__int128)1000000000000, 4, ytd, 48);
		sto_ratio_format(x->budget, (__int128)1000000000000, 4, bud, 48);
		exp[0] = proj[0] = 0;
		return;
	}
	fmt_tce(x->ytd, ytd, 48);
	fmt_tce(x->expected, exp, 48);
	fmt_tce(x->budget, bud, 48);
	if (x->rule == AGG_RULE_NO_PROJECTION)
		proj[0] = 0;
	else
		fmt_tce(x->projected, proj, 48);
}

static const char *code_of(node *n, const sto_warning *x)
{
	return x->entity_level == STO_CITY ? n->cfg.city : x->code;
}

static bool publish(node *n, const sto_warning *x)
{
	struct node_warn *w = n->warn;
	char topic[128], body[1024], ytd[48], exp[48], proj[48], bud[48], rule[96], when[40];

	if (!w->bound)
		return false;
	fmt_figures(x, ytd, exp, proj, bud);
	agg_warn_rule_text(x->rule, w->rules.yellow_limit_micro, rule, sizeof rule);
	er_time_format(x->t, n->cfg.utc_offset_s, when, sizeof when);
	snprintf(topic, sizeof topic, "warning.%s.%s", agg_warn_level_name(x->level), code_of(n, x));
	/* codes are [A-Za-z0-9._-] and the rest is ours: no JSON escaping needed */
	snprintf(body, sizeof body,
		 "{\"id\":%" PRIu64 ",\"entity\":\"%s\",\"entity_level\":\"%s\",\"kind\":\"%s\",\"year\":%d,"
		 "\"level\":\"%s\",\"previous_level\":\"%s\",\"rule\":\"%s\",\"rule_name\":\"%s\",\"time\":\"%s\","
		 "\"time_s\":%" PRId64 ",\"ytd\":\"%s\",\"expected\":\"%s\",\"projected\":\"%s\",\"%s\":\"%s\","
		 "\"unit\":\"%s\",\"created_s\":%" PRId64 "}",
		 x->id, code_of(n, x), sto_level_name(x->entity_level), agg_budget_kind_name(x->kind), (int)x->year,
		 agg_warn_level_name(x->level), agg_warn_level_name(x->previous), rule, agg_warn_rule_name(x->rule), when,
		 x->t, ytd, exp, proj, x->kind == AGG_BUDGET_INTENSITY ? "target" : "budget", bud,
		 x->kind == AGG_BUDGET_INTENSITY ? "tce per 10^4 yuan" : "tce", x->created);
	if (zmq_send(w->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(w->pub, body, strlen(body), ZMQ_DONTWAIT) < 0)
		return false;
	er_log(ER_LOG_INFO, "warning %" PRIu64 ": %s %s %s -> %s (%s)", x->id, sto_level_name(x->entity_level),
	       code_of(n, x), agg_warn_level_name(x->previous), agg_warn_level_name(x->level), rule);
	/* mark it published; no need to wait for the commit */
	node_cmd *c = calloc(1, sizeof *c);
	if (c != NULL) {
		c->type = NODE_CMD_WARN_PUBLISHED;
		c->event_id = x->id;
		if (node_command(n, c, 0))
			free(c);
	}
	return true;
}

static void publish_pending(node *n)
{
	struct node_warn *w = n->warn;
	sto_txn *t;
	size_t kept = 0;

	if (w->npend == 0 || !w->bound || sto_read_begin(n->store, &t) != 0)
		return;
	for (size_t i = 0; i < w->npend; i++) {
		sto_warning x;
		if (sto_warning_get(t, w->pending[i], &x) == 0 && x.status == STO_EV_OPEN && !publish(n, &x))
			w->pending[kept++] = w->pending[i];
	}
	sto_abort(t);
	w->npend = kept;
}

void node_warn_event(node *n, sto_txn *t, pb_event *o, node_warn_text *x)
{
	sto_warning w;
	if (sto_warning_get(t, o->id, &w) != 0)
		return;
	node_warn_detail(n, &w, o, x);
}

void node_warn_detail(node *n, const sto_warning *wp, pb_event *o, node_warn_text *x)
{
	sto_warning w = *wp;
	fmt_figures(&w, x->ytd, x->expected, x->projected, x->budget);
	agg_warn_rule_text(w.rule, n->warn->rules.yellow_limit_micro, x->rule, sizeof x->rule);
	snprintf(x->entity, sizeof x->entity, "%s", code_of(n, &w));
	o->entity = x->entity;
	o->entity_level = sto_level_name(w.entity_level);
	o->kind = agg_budget_kind_name(w.kind);
	o->year = w.year;
	o->level = agg_warn_level_name(w.level);
	o->previous_level = agg_warn_level_name(w.previous);
	o->rule = x->rule;
	o->ytd = x->ytd;
	o->expected = x->expected;
	o->projected = x->projected;
	o->budget = x->budget;
}

/* ---- the store thread's side ---- */

int node__warn_apply(sto_txn *t, node_cmd *c, uint64_t *next_id)
{
	if (c->type == NODE_CMD_WARNING) {
		c->warning.id = (*next_id)++;
		c->new_id = c->warning.id;
		c->ok = true;
		return sto_warning_put(t, &c->warning);
	}
	sto_warning x;
	int rc = sto_warning_get(t, c->event_id, &x);
	if (rc != 0) {
		c->ok = false;
		return rc == ER_ENOENT || rc == ER_EINVAL ? 0 : rc;
	}
	x.status = STO_EV_PUBLISHED;
	c->ok = true;
	return sto_warning_put(t, &x);
}

/* ---- the evaluator ---- */

struct blist {
	sto_budget *b;
	size_t n, cap;
};

static int keep_budget(void *ctx, const sto_budget *b)
{
	struct blist *l = ctx;
	if (er_grow(&l->b, l->n, &l->cap, sizeof *l->b, 64) != 0)
		return ER_ENOMEM;
	l->b[l->n++] = *b;
	return 0;
}

static int budgets(node *n, sto_txn *t, struct blist *l)
{
	(void)n;
	memset(l, 0, sizeof *l);
	return sto_budgets_each(t, keep_budget, l);
}

static void level_changed(node *n, const sto_budget *b, const weval *e, wstate *s)
{
	node_cmd *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->type = NODE_CMD_WARNING;
	c->warning = (sto_warning){.status = STO_EV_OPEN, .entity_level = b->level, .entity = b->entity,
				   .year = b->year, .kind = b->kind, .level = (uint8_t)e->level,
				   .previous = s->level, .rule = (uint8_t)e->rule, .t = e->t, .created = er_now(),
				   .ytd = e->ytd, .expected = e->expected, .projected = e->projected,
				   .budget = e->budget};
	snprintf(c->warning.code, sizeof c->warning.code, "%s", b->code);
	/* the level is taken as changed whatever happens next: a warning the
	 * store commits later is published at the next start */
	s->level = (uint8_t)e->level;
	if (!node_command(n, c, CMD_TIMEOUT_MS)) {
		er_log(ER_LOG_WARN, "warnings: the store has not committed a warning for %s within %d ms", b->code,
		       CMD_TIMEOUT_MS);
		return; /* c is the store thread's now */
	}
	c->warning.id = c->new_id;
	if (!c->ok || !publish(n, &c->warning))
		pending_add(n->warn, c->new_id);
	free(c);
}

static void evaluate(node *n)
{
	struct node_warn *w = n->warn;
	struct blist l;
	sto_txn *t;

	if (sto_read_begin(n->store, &t) != 0)
		return;
	if (budgets(n, t, &l) != 0) {
		sto_abort(t);
		free(l.b);
		return;
	}
	weval *ev = calloc(l.n ? l.n : 1, sizeof *ev);
	for (size_t i = 0; ev && i < l.n; i++)
		eval_budget(n, t, &l.b[i], &ev[i]);
	sto_abort(t); /* the commands below need the store thread, not this snapshot */
	for (size_t i = 0; ev && i < l.n; i++) {
		if (ev[i].level == AGG_LEVEL_NONE)
			continue;
		wstate *s = state_of(w, l.b[i].level, l.b[i].entity, l.b[i].year, l.b[i].kind, true);
		if (s != NULL && s->level != ev[i].level)
			level_changed(n, &l.b[i], &ev[i], s);
	}
	free(ev);
	free(l.b);
}

void node_warn_tick(node *n)
{
	struct node_warn *w = n->warn;
	char sub[256];

	if (w == NULL || atomic_load(&n->stop_flush))
		return; /* stopping: the store thread takes no more commands */
	try_bind(n);
	/* subscriptions arrive as messages on an XPUB: take them */
	while (w->bound && zmq_recv(w->pub, sub, sizeof sub, ZMQ_DONTWAIT) >= 0)
		;
	publish_pending(n);
	uint64_t commits = atomic_load_explicit(&n->c[NODE_C_COMMITS], memory_order_relaxed), now = er_mono_ns();
	if (!w->dirty && commits == w->seen_commits)
		return;
	if (now - w->last_eval_ns < (uint64_t)n->cfg.warn_interval_ms * 1000000u)
		return;
	w->dirty = false;
	w->seen_commits = commits;
	w->last_eval_ns = now;
	evaluate(n); /* its own warnings' commits cause one more, quiet, look */
	/* for tests and operators: everything committed up to here is judged */
	atomic_store_explicit(&n->c[NODE_C_WARN_SEEN], commits, memory_order_relaxed);
}

/* ---- import ---- */

struct import_ctx {
	node *n;
	struct blist l;
	char *msg;
	size_t cap;
	const char *name;
};

static int on_row(void *ctx, const agg_budget_row *r)
{
	struct import_ctx *c = ctx;
	node *n = c->n;
	sto_budget b = {.level = (uint8_t)r->level, .year = r->year, .kind = (uint8_t)r->kind, .target = r->target,
			.base = r->base, .profile_type = (uint8_t)r->profile_type, .updated = er_now()};

	if (r->level == STO_CITY) {
		if (r->code[0] != 0 && strcmp(r->code, n->cfg.city) != 0) {
			snprintf(c->msg, c->cap, "%s:%u: this node serves city '%s', not '%s'; nothing was stored", c->name,
				 (unsigned)r->line, n->cfg.city, r->code);
			return ER_ENOENT;
		}
		b.entity = n->city_key;
		snprintf(b.code, sizeof b.code, "%s", n->cfg.city);
	} else {
		b.entity = er_key(r->code, strlen(r->code));
		if (agg_registry_find(n->reg, r->level == STO_ENTERPRISE ? AGG_ENTERPRISE : AGG_DISTRICT, b.entity) ==
		    NULL) {
			snprintf(c->msg, c->cap, "%s:%u: unknown %s '%s'; nothing was stored", c->name, (unsigned)r->line,
				 sto_level_name(r->level), r->code);
			return ER_ENOENT;
		}
		snprintf(b.code, sizeof b.code, "%s", r->code);
	}
	if (r->profile_type == AGG_PROFILE_GIVEN)
		memcpy(b.cum, r->profile.cum, sizeof b.cum);
	return keep_budget(&c->l, &b);
}

/* Parses, checks and stores a budget CSV; 0 or an error with msg set. */
static int import_text(node *n, const char *text, const char *name, char *msg, size_t cap, uint32_t *nrows)
{
	struct import_ctx c = {.n = n, .msg = msg, .cap = cap, .name = name};
	ck_epoch_record_t *rec = agg_core_record(n->core, AGG_REC_READER);
	char *buf = strdup(text);
	sto_txn *t;
	int rc;

	msg[0] = 0;
	if (buf == NULL)
		return ER_ENOMEM;
	/* registry lookups by key: inside an epoch section */
	ck_epoch_begin(rec, NULL);
	rc = agg_budget_csv_parse(buf, strlen(buf), name, on_row, &c, msg, cap, nrows);
	ck_epoch_end(rec, NULL);
	for (int attempt = 0; rc == 0 && attempt < 3; attempt++) {
		if ((rc = sto_write_begin(n->store, &t)) != 0)
			break;
		for (size_t i = 0; i < c.l.n && rc == 0; i++)
			rc = sto_budget_put(t, &c.l.b[i]);
		rc = rc == 0 ? sto_commit(t) : (sto_abort(t), rc);
		if (rc != ER_EFULL || sto_grow(n->store) != 0)
			break;
	}
	if (rc != 0 && msg[0] == 0)
		snprintf(msg, cap, "nothing was stored: %s", er_strerror(rc));
	free(c.l.b);
	free(buf);
	if (rc == 0)
		n->warn->dirty = true; /* evaluate the new budgets at the next turn */
	return rc;
}

void node_budget_import(node *n, const pb_econ_import *in, pb_msg *reply, char *msg, size_t cap)
{
	const char *name = in->origin[0] ? in->origin : "budgets.csv";
	uint32_t nrows = 0;
	reply->type = PB_COMMAND_REPLY;
	reply->u.command_reply.message = msg;
	if (import_text(n, in->csv, name, msg, cap, &nrows) == 0) {
		reply->u.command_reply.ok = true;
		snprintf(msg, cap, "imported %u budgets and targets from %s", nrows, name);
	}
}

int node_budgets_load(node *n, char *err, size_t cap)
{
	char *text;
	size_t len;
	uint32_t nrows;
	if (n->cfg.budgets_file[0] == 0)
		return 0;
	if (er_read_file(n->cfg.budgets_file, &text, &len) != 0) {
		snprintf(err, cap, "cannot read warnings.budgets %s", n->cfg.budgets_file);
		return ER_EIO;
	}
	int rc = import_text(n, text, n->cfg.budgets_file, err, cap, &nrows);
	free(text);
	if (rc == 0)
		er_log(ER_LOG_INFO, "warnings: %u budgets and targets from %s", nrows, n->cfg.budgets_file);
	return rc;
}

/* ---- status ---- */

void node_budget_status(node *n, const pb_budget_status_request *q, pb_table *t, node_tbuf *b)
{
	static const char *cols[] = {"entity", "tier", "year", "kind", "budget", "ytd", "data_time", "expected_share_%",
				     "expected", "projected", "level", "rule"};
	struct blist l;
	sto_txn *txn;
	char x[48], y[48], z[48], w4[48], when[40];
	uint64_t key = 0;

	memset(t, 0, sizeof *t);
	t->error = b->err;
	if (q->level != 0 && q->level != STO_ENTERPRISE && q->level != STO_DISTRICT && q->level != STO_CITY) {
		snprintf(b->err, sizeof b->err, "budgets are kept for enterprises, districts and the city");
		return;
	}
	if (q->level != 0)
		key = q->level == STO_CITY ? n->city_key : er_key(q->entity, strlen(q->entity));
	if (sto_read_begin(n->store, &txn) != 0) {
		snprintf(b->err, sizeof b->err, "store unavailable");
		return;
	}
	if (budgets(n, txn, &l) != 0) {
		sto_abort(txn);
		free(l.b);
		snprintf(b->err, sizeof b->err, "store: cannot read the budgets");
		return;
	}
	t->columns = cols;
	t->ncols = sizeof cols / sizeof cols[0];
	for (size_t i = 0; i < l.n; i++) {
		const sto_budget *bg = &l.b[i];
		weval e;
		if ((q->level != 0 && (bg->level != q->level || bg->entity != key)) || (q->year != 0 && bg->year != q->year))
			continue;
		eval_budget(n, txn, bg, &e);
		sto_warning fig = {.kind = bg->kind, .rule = (uint8_t)e.rule, .ytd = e.ytd, .expected = e.expected,
				   .projected = e.projected, .budget = e.budget};
		fmt_figures(&fig, x, y, z, w4);
		node_tbuf_cell(b, node_tbuf_keep(b, "%s", bg->code));
		node_tbuf_cell(b, sto_level_name(bg->level));
		node_tbuf_cell(b, node_tbuf_keep(b, "%d", (int)bg->year));
		if (bg->kind == AGG_BUDGET_INTENSITY) {
			char chg[32];
			er_fx_format(bg->target, chg, sizeof chg);
			node_tbuf_cell(b, node_tbuf_keep(b, "intensity %s%s%% vs %s", bg->target > 0 ? "+" : "", chg,
							 bg->base ? node_tbuf_keep(b, "%d", (int)bg->base) : "last year"));
			node_tbuf_cell(b, e.level ? node_tbuf_keep(b, "target %s", w4) : "-");
			node_tbuf_cell(b, e.level ? node_tbuf_keep(b, "%s", x) : "-");
		} else {
			node_tbuf_cell(b, node_tbuf_keep(b, "budget %s", bg->profile_type == AGG_PROFILE_GIVEN ? "(profile)"
								 : bg->profile_type == AGG_PROFILE_LAST_YEAR ? "(last year's profile)"
															  : "(linear)"));
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", w4));
			node_tbuf_cell(b, e.have_data ? node_tbuf_keep(b, "%s", x) : "-");
		}
		if (e.have_data) {
			er_time_format(e.t, n->cfg.utc_offset_s, when, sizeof when);
			node_tbuf_cell(b, node_tbuf_keep(b, "%.16s", when));
		} else {
			node_tbuf_cell(b, "-");
		}
		if (bg->kind == AGG_BUDGET_ENERGY && e.have_data && e.share.den > 0) {
			sto_ratio_format((__int128)e.share.num * 100, (__int128)e.share.den, 2, when, sizeof when);
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", when));
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", y));
			node_tbuf_cell(b, e.projected_ok ? node_tbuf_keep(b, "%s", z) : "-");
		} else {
			node_tbuf_cell(b, "-");
			node_tbuf_cell(b, "-");
			node_tbuf_cell(b, "-");
		}
		node_tbuf_cell(b, e.level ? agg_warn_level_name(e.level) : "n/a");
		if (e.level) {
			char rule[96];
			agg_warn_rule_text(e.rule, n->warn->rules.yellow_limit_micro, rule, sizeof rule);
			node_tbuf_cell(b, node_tbuf_keep(b, "%s%s%s%s", rule, e.note[0] ? " (" : "", e.note,
							 e.note[0] ? ")" : ""));
		} else {
			node_tbuf_cell(b, node_tbuf_keep(b, "%s", e.note));
		}
		t->nrows++;
	}
	sto_abort(txn);
	free(l.b);
	er_fx_format(n->warn->rules.yellow_limit_micro, x, sizeof x);
	er_fx_format(n->warn->rules.min_share_micro * 100, y, sizeof y);
	node_tbuf_note(b, "scope", "budgets: control (no feedstock, no new renewables); intensity: all");
	node_tbuf_note(b, "unit", "tce; intensity in tce per 10^4 yuan");
	node_tbuf_note(b, "thresholds", node_tbuf_keep(b, "yellow up to %s x budget; no projection before %s%% (%s)", x, y,
						       n->cfg.warn_rules));
	node_tbuf_note(b, "data_time", "the end of the latest hour with data in the year");
	t->title = node_tbuf_keep(b, "budget status");
	t->ok = true;
	t->error = "";
	t->cells = b->cells;
	t->notes = b->notes;
	t->nnotes = b->nnotes;
}
