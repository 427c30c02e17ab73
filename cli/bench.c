/* bench.c: ecoroll-bench, the end-to-end load generator and capacity
 * planner (DESIGN.md "Performance targets").
 *
 * It writes a synthetic city's registry into a work directory, starts a
 * real ecorolld on free loopback ports, pushes every reading through the
 * real protocol (Hello/Welcome, a window of ReadingBatch frames, acks after
 * the LMDB commit, go-back-N on GAP), then asks the daemon for the city
 * totals and compares them with the generator's own exact sums. During
 * the push a probe sender measures freshness under load: one reading of
 * its own meter every 50 ms, and meter queries until it counts.
 *
 * Invariants:
 * - Every reading is generated and encoded before the clock starts, one
 *   contiguous buffer per sender, so the timed part is send, ack and the
 *   daemon's work only, and a resend (GAP, timeout) sends the very same
 *   bytes again.
 * - Values are integer micro-units turned into doubles with at most two
 *   (cumulative) or three (interval) decimals, which the server converts
 *   back exactly; the expected totals are summed from the same integers
 *   while generating, and checked against last - first per cumulative
 *   meter before anything is sent.
 * - A sender's readings are in time order (step by step, meters in a fixed
 *   order within a step), so every cumulative register only rises and no
 *   reading is a duplicate or out of order.
 * - No spike guard (max_per_hour empty) and no capacity: the increments
 *   are the whole story, so the totals are exact by construction.
 * - The probe's meter is the only steam meter, so the load's totals (all
 *   other carriers) are final when its senders are done, whatever the
 *   probe is doing, and the steam total is the sum of the probes sent.
 */
#include "client.h"
#include "codec.h"
#include "delta.h"
#include "er.h"
#include "registry.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define OFFSET_S        (8 * 3600) /* the city's offset, +08:00 (DOMAIN.md 2) */
#define ACK_TIMEOUT_MS  30000	   /* no reply for this long: resend the window (go-back-N) */
#define MAX_TIMEOUTS    10	   /* ... and give up after this many in a row */
#define START_WAIT_MS   120000	   /* registry load of 100 k meters plus LMDB creation */
#define STOP_WAIT_MS    60000	   /* SIGTERM commits and acknowledges first */
#define QUERY_TIMEOUT_MS 30000
#define FRESH_POLL_US   2000	   /* freshness probe: one city query every 2 ms */
#define FRESH_LIMIT_NS  (60ull * 1000000000ull)
/* The freshness probe: one reading of its own meter every 50 ms during
 * the push (20 samples/s, nothing next to the load), and a meter query
 * every 5 ms while one is out: the figures' resolution, ~200 control
 * connections/s at most. */
#define PROBE_PERIOD_NS (50ull * 1000000ull)
#define PROBE_POLL_US   5000
#define PROBE_LIMIT_NS  (10ull * 1000000000ull) /* not visible within 10 s: a timeout */
#define PROBE_WINDOW    (PROBE_LIMIT_NS / PROBE_PERIOD_NS) /* probes in flight: one per period within the limit */
#define PROBE_STEP_S    60	/* the probe's readings are a minute apart, from t0 ... */
#define PROBE_MAX       30000	/* ... so 30,000 (25 min of push) span 21 days from t0, days + 23 ago: all past */
#define PROBE_CARRIER   AGG_STEAM /* a carrier the city mix leaves out: the load's totals are not moved by it */
#define PROBE_METER     "P0000000"
#define PROBE_ENTERPRISE "EPROBE"
#define DECODE_CAP      20000000   /* readings the in-process ceilings go through at most */
#define NCARRIERS       AGG_CARRIER_MAX
#define MAX_SETS        16

/* ---- options ---- */

typedef struct opts {
	uint64_t districts, enterprises, meters, interval_s, days, stations, senders, batch, window;
	uint64_t flush_ms, workers; /* 0: the daemon's default */
	const char *keep, *ecorolld;
	bool json;
	const char *sets[MAX_SETS]; /* --set, passed to the daemon */
	size_t nsets;
	bool tiers; /* the daemon is a district node with a city node upstream */
} opts;

static const char help_text[] =
    "usage: ecoroll-bench [OPTIONS]\n"
    "\n"
    "End-to-end load generator: writes a synthetic city's registry, starts a real\n"
    "ecorolld on free loopback ports, pushes every reading through the ingest\n"
    "protocol, checks the city totals against the generator's exact sums, and\n"
    "reports rate, ack latency, freshness, the daemon's CPU, memory and disk.\n"
    "Freshness under load: while the load is sent, a probe sender sends one\n"
    "reading of its own meter (" PROBE_METER ", steam, outside the load's carriers)\n"
    "every 50 ms and queries that meter every 5 ms until the reading counts;\n"
    "p50/p99/max of send -> visible, probes, timeouts (not visible in 10 s).\n"
    "Defaults: the city-week workload of DESIGN.md (67.2 M meter readings).\n"
    "\n"
    "  --districts N     districts (default 50)\n"
    "  --enterprises N   enterprises (default 10000)\n"
    "  --meters N        meters (default 100000)\n"
    "  --interval-s S    meter reading period, divides 86400 (default 900)\n"
    "  --days D          days of readings (default 7)\n"
    "  --stations N      air stations, 6 pollutants hourly each (default 200)\n"
    "  --senders N       concurrent senders, one thread each (default 50)\n"
    "  --batch N         readings per batch (default 1000)\n"
    "  --window N        unacknowledged batches per sender (default 8)\n"
    "  --flush-ms MS     the daemon's flush interval (default: its own, 200)\n"
    "  --workers N       the daemon's decode workers (default: its own, 2)\n"
    "  --small           2 districts, 20 enterprises, 200 meters, 1 day, 2 stations,\n"
    "                    4 senders (options after it still apply)\n"
    "  --keep DIR        work in DIR (must not hold a database) and keep it\n"
    "  --ecorolld PATH   the daemon (default: ecorolld next to this program)\n"
    "  --set SEC.KEY=VAL passed to the daemon (repeatable), e.g. store.sync=false\n"
    "  --tiers           three tiers: the daemon is a district node (--role district)\n"
    "                    whose uplink sends its rollups to a city node the bench\n"
    "                    also starts; freshness and the exact totals are read at\n"
    "                    the city, and the report adds how long after the last ack\n"
    "                    the city had everything, the rows it took and its CPU\n"
    "  --json            one JSON object instead of the table\n"
    "  -h, --help        this text\n"
    "\n"
    "Environment: ECOROLL_SRC, the source tree whose conf/ holds the energy and\n"
    "AQI tables (default: ../conf next to this program).\n"
    "exit status: 0 success and EXACT totals; 1 wrong totals or a failed run;\n"
    "2 usage error.\n";

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* ---- small helpers ---- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static char g_workdir[PATH_MAX];
static bool g_keep;
static pid_t g_daemon, g_city;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (g_city > 0) {
		kill(g_city, SIGKILL);
		waitpid(g_city, NULL, 0);
		g_city = 0;
	}
	if (g_daemon > 0) {
		kill(g_daemon, SIGKILL);
		waitpid(g_daemon, NULL, 0);
		g_daemon = 0;
	}
	if (!g_keep && g_workdir[0] != 0) {
		nftw(g_workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		g_workdir[0] = 0;
	}
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("ecoroll-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (g_workdir[0] != 0)
		fprintf(stderr, "ecoroll-bench: the daemon's log: %s/ecorolld.log%s\n", g_workdir,
			g_keep ? "" : " (removed; run with --keep DIR to look at it)");
	cleanup();
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (p == NULL)
		die("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* ---- the synthetic city ---- */

/* Meter j's carrier: half electricity, then water, gas, heat, coal
 * (interval), PV (cumulative, renewable): the city-week mix. */
static int meter_carrier(uint64_t j)
{
	static const int mix[10] = {AGG_ELECTRICITY, AGG_ELECTRICITY, AGG_ELECTRICITY, AGG_ELECTRICITY,
				    AGG_ELECTRICITY, AGG_WATER,	      AGG_GAS,	       AGG_HEAT,
				    AGG_COAL,	     AGG_PV};
	return mix[j % 10];
}

static bool meter_cumulative(uint64_t j)
{
	return meter_carrier(j) != AGG_COAL;
}

static const int pollutants[6] = {AGG_PM25, AGG_PM10, AGG_O3, AGG_NO2, AGG_SO2, AGG_CO};

static void meter_code(uint64_t j, char *buf, size_t cap)
{
	snprintf(buf, cap, "M%07" PRIu64, j);
}

static void station_series_code(uint64_t st, int p, char *buf, size_t cap)
{
	snprintf(buf, cap, "S%04" PRIu64 ":%s", st, agg_carrier_name(pollutants[p]));
}

/* The first register reading of cumulative meter j: 1000.00 to 100999.99. */
static er_fx meter_base(uint64_t j)
{
	uint64_t h = splitmix64(j ^ 0x5eed);
	return (er_fx)(1000 + h % 100000) * ER_FX_SCALE + (er_fx)(h >> 40) % 100 * 10000;
}

/* What meter j used in step s: cumulative 0.01 to 50.00 (two decimals),
 * interval 0.001 to 5.000 (three decimals). Exact in micro-units. */
static er_fx meter_inc(uint64_t j, uint64_t s)
{
	uint64_t h = splitmix64(j * 1000003ull + s);
	if (meter_cumulative(j))
		return (er_fx)(h % 5000 + 1) * 10000;
	return (er_fx)(h % 5000 + 1) * 1000;
}

static void write_file(const char *dir, const char *name, FILE **out)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((*out = fopen(path, "w")) == NULL)
		die("cannot write %s: %s", path, strerror(errno));
}

static void close_file(FILE *f)
{
	if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
		die("cannot write the registry: %s", strerror(errno));
}

/* The probe's reading b: an interval amount of 0.001 to 1.000 t (exact). */
static er_fx probe_value(uint64_t b)
{
	return (er_fx)(b % 1000 + 1) * 1000;
}

/* The city of o, and with probe the freshness probe's meter in an
 * enterprise of its own in the first district. */
static void write_registry(const opts *o, const char *dir, bool probe)
{
	FILE *f;
	char code[64];

	write_file(dir, "districts.csv", &f);
	fputs("code,name\n", f);
	for (uint64_t d = 0; d < o->districts; d++)
		fprintf(f, "D%03" PRIu64 ",Bench district %" PRIu64 "\n", d, d);
	close_file(f);

	write_file(dir, "enterprises.csv", &f);
	fputs("code,name,district,industry\n", f);
	for (uint64_t e = 0; e < o->enterprises; e++)
		fprintf(f, "E%06" PRIu64 ",Bench enterprise %" PRIu64 ",D%03" PRIu64 ",C39\n", e, e, e % o->districts);
	if (probe)
		fputs(PROBE_ENTERPRISE ",Bench freshness probe,D000,C39\n", f);
	close_file(f);

	write_file(dir, "meters.csv", &f);
	fputs("code,enterprise,carrier,unit,mode,capacity,max_per_hour,purpose,interval_s\n", f);
	for (uint64_t j = 0; j < o->meters; j++) {
		int c = meter_carrier(j);
		meter_code(j, code, sizeof code);
		fprintf(f, "%s,E%06" PRIu64 ",%s,%s,%s,,,%s,%" PRIu64 "\n", code, j % o->enterprises,
			agg_carrier_name(c), agg_carrier_unit(c), meter_cumulative(j) ? "cumulative" : "interval",
			c == AGG_PV ? "renewable" : "fuel", o->interval_s);
	}
	if (probe)
		fprintf(f, "%s,%s,%s,%s,interval,,,fuel,%d\n", PROBE_METER, PROBE_ENTERPRISE,
			agg_carrier_name(PROBE_CARRIER), agg_carrier_unit(PROBE_CARRIER), PROBE_STEP_S);
	close_file(f);

	write_file(dir, "stations.csv", &f);
	fputs("code,name,district,pollutants,evaluation,interval_s\n", f);
	for (uint64_t st = 0; st < o->stations; st++)
		fprintf(f, "S%04" PRIu64 ",Bench station %" PRIu64 ",D%03" PRIu64 ",pm25;pm10;o3;no2;so2;co,yes,3600\n",
			st, st, st % o->districts);
	close_file(f);
}

/* ---- one sender: its readings, encoded; its push ---- */

typedef struct sender {
	/* set up by main */
	int id;
	const opts *o;
	int64_t t0;
	const char *endpoint;
	char name[32];	/* bench-NNN, bench-probe */
	size_t window; /* unacknowledged batches at most */
	/* generated */
	uint8_t *buf;
	size_t len, cap;
	size_t *off; /* batch b's bytes are buf[off[b] .. off[b + 1]) */
	size_t nbatches;
	uint64_t readings;
	int64_t expected[NCARRIERS]; /* micro-units per carrier */
	/* the push */
	uint64_t *lat_ns; /* per batch, send to ack */
	uint64_t *sent_ns;
	uint64_t first_send_ns, last_send_ns, last_ack_ns;
	uint64_t accepted, rejected, duplicates, gaps, dup_acks, timeouts, resends;
	char error[256];
} sender;

static _Atomic int g_sent_all; /* senders that have sent their last batch once */

/* Room for nbatches batches of about cap bytes in all. */
static void sender_alloc(sender *s, size_t nbatches, size_t cap)
{
	s->nbatches = nbatches;
	s->off = xmalloc((nbatches + 1) * sizeof *s->off);
	s->lat_ns = xcalloc(nbatches, sizeof *s->lat_ns);
	s->sent_ns = xcalloc(nbatches, sizeof *s->sent_ns);
	s->cap = cap;
	s->buf = xmalloc(cap);
	s->off[0] = 0;
}

static void sender_free(sender *s)
{
	free(s->buf);
	free(s->off);
	free(s->lat_ns);
	free(s->sent_ns);
}

/* Encodes pb as batch b (pb->seq = b + 1), growing the buffer if needed. */
static void sender_append(sender *s, const pb_batch *pb, size_t b)
{
	for (;;) {
		size_t need = pb_encode_batch_into(pb, s->buf + s->len, s->cap - s->len);
		if (need == 0)
			die("%s: cannot encode batch %zu", s->name, b + 1);
		if (need <= s->cap - s->len) {
			s->len += need;
			break;
		}
		s->cap = s->cap + s->cap / 2 + need;
		uint8_t *nb = realloc(s->buf, s->cap);
		if (nb == NULL)
			die("out of memory growing %s's buffer", s->name);
		s->buf = nb;
	}
	s->off[b + 1] = s->len;
}

/* Generates and encodes every batch of s. Meters j with j % senders == id
 * and stations likewise; step by step. */
static void sender_generate(sender *s)
{
	const opts *o = s->o;
	uint64_t nm = 0, nst = 0, steps = o->days * 86400 / o->interval_s;
	uint64_t *mj, *mkey, *stkey;
	er_fx *reg;
	char code[64];

	for (uint64_t j = (uint64_t)s->id; j < o->meters; j += o->senders)
		nm++;
	for (uint64_t st = (uint64_t)s->id; st < o->stations; st += o->senders)
		nst++;
	mj = xmalloc(nm * sizeof *mj);
	mkey = xmalloc(nm * sizeof *mkey);
	reg = xmalloc(nm * sizeof *reg);
	stkey = xmalloc(nst * 6 * sizeof *stkey);
	nm = 0;
	for (uint64_t j = (uint64_t)s->id; j < o->meters; j += o->senders) {
		meter_code(j, code, sizeof code);
		mj[nm] = j;
		mkey[nm] = er_key(code, strlen(code));
		reg[nm] = meter_base(j);
		nm++;
	}
	nst = 0;
	for (uint64_t st = (uint64_t)s->id; st < o->stations; st += o->senders, nst++)
		for (int p = 0; p < 6; p++) {
			station_series_code(st, p, code, sizeof code);
			stkey[nst * 6 + (uint64_t)p] = er_key(code, strlen(code));
		}

	/* Readings: nm every step, nst * 6 at every local full hour. */
	uint64_t hourly_steps = 0;
	for (uint64_t st = 0; st < steps; st++)
		if (st * o->interval_s % 3600 == 0)
			hourly_steps++;
	s->readings = nm * steps + nst * 6 * hourly_steps;
	size_t nb = (size_t)((s->readings + o->batch - 1) / o->batch);
	sender_alloc(s, nb, (size_t)s->readings * 24 + nb * 128 + 1024); /* ~22 bytes a reading */

	uint64_t *ser = xmalloc(o->batch * sizeof *ser);
	int64_t *ts = xmalloc(o->batch * sizeof *ts);
	double *val = xmalloc(o->batch * sizeof *val);

	uint64_t step = 0, pos = 0; /* the next reading: step, position within the step */
	for (size_t b = 0; b < s->nbatches; b++) {
		size_t n = 0;
		while (n < o->batch && step < steps) {
			bool hourly = step * o->interval_s % 3600 == 0;
			uint64_t width = nm + (hourly ? nst * 6 : 0);
			if (pos >= width) {
				step++;
				pos = 0;
				continue;
			}
			int64_t t = s->t0 + (int64_t)(step * o->interval_s);
			if (pos < nm) {
				uint64_t j = mj[pos];
				er_fx v;
				if (meter_cumulative(j)) {
					if (step > 0) {
						er_fx inc = meter_inc(j, step);
						reg[pos] += inc;
						s->expected[meter_carrier(j)] += inc;
					}
					v = reg[pos];
				} else {
					v = meter_inc(j, step);
					s->expected[meter_carrier(j)] += v;
				}
				ser[n] = mkey[pos];
				val[n] = (double)v / (double)ER_FX_SCALE;
			} else {
				uint64_t k = pos - nm;
				ser[n] = stkey[k];
				val[n] = (double)(5 + splitmix64(stkey[k] ^ (uint64_t)t) % 95); /* whole ug/m3 */
			}
			ts[n] = t;
			n++;
			pos++;
		}
		pb_batch pb = {.sender = s->name, .seq = b + 1, .n = n, .series = ser, .ts = ts, .value = val,
			       .nts = n, .nvalue = n};
		sender_append(s, &pb, b);
	}
	/* The expected totals, recomputed the other way: last - first per
	 * cumulative meter, sum of values per interval meter. */
	int64_t check[NCARRIERS] = {0};
	for (uint64_t i = 0; i < nm; i++) {
		uint64_t j = mj[i];
		if (meter_cumulative(j)) {
			check[meter_carrier(j)] += reg[i] - meter_base(j);
		} else {
			for (uint64_t st = 0; st < steps; st++)
				check[meter_carrier(j)] += meter_inc(j, st);
		}
	}
	if (memcmp(check, s->expected, sizeof check) != 0)
		die("sender %d: the generator's totals disagree with last - first (a bug in ecoroll-bench)", s->id);
	free(ser);
	free(ts);
	free(val);
	free(mj);
	free(mkey);
	free(reg);
	free(stkey);
}

/* The probe's batches: PROBE_MAX of one reading each, PROBE_STEP_S apart
 * from t0, all encoded before the clock starts as a sender's are. */
static void probe_generate(sender *s)
{
	uint64_t key = er_key(PROBE_METER, strlen(PROBE_METER));
	sender_alloc(s, PROBE_MAX, PROBE_MAX * 64);
	s->readings = PROBE_MAX;
	for (size_t b = 0; b < s->nbatches; b++) {
		int64_t ts = s->t0 + PROBE_STEP_S * (int64_t)(b + 1);
		double v = (double)probe_value(b) / (double)ER_FX_SCALE;
		pb_batch pb = {.sender = s->name, .seq = b + 1, .n = 1, .series = &key, .ts = &ts, .value = &v,
			       .nts = 1, .nvalue = 1};
		sender_append(s, &pb, b);
	}
}

static void *sender_generate_thread(void *arg)
{
	sender *all = arg;
	int n = (int)all[0].o->senders;
	static _Atomic int next;
	for (int i; (i = atomic_fetch_add(&next, 1)) < n;)
		sender_generate(&all[i]);
	return NULL;
}

static void fail_sender(sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_sender(sender *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
}

static pthread_barrier_t g_start;

/* One sender's connection and go-back-N window: batches [acked, sent)
 * are in flight, high is the most ever sent. A GAP{expected} rewinds sent
 * to expected - 1 (the batches before it were applied and their acks
 * follow their commit); a timeout rewinds to acked. A GAP for a frame
 * sent before the last rewind is stale and ignored, so one loss does not
 * cause a storm of rewinds. */
typedef struct push {
	ing_client *c;
	size_t acked, sent, high;
	uint64_t rewind_ns;
	int timeouts; /* in a row */
} push;

/* Connects, Hello until Welcome; the daemon must hold no batch of this
 * sender yet. 0, or -1 with s->error set (p->c may need freeing). */
static int push_open(sender *s, push *p)
{
	pb_msg m;
	int rc;
	uint64_t base = 0; /* batches durable before we started (welcome.next_seq - 1) */

	memset(p, 0, sizeof *p);
	if ((rc = ing_client_new(s->endpoint, s->name, &p->c)) != 0) {
		fail_sender(s, "connect: %s", er_strerror(rc));
		return -1;
	}
	for (int tries = 0;; tries++) {
		if (tries == 5) {
			fail_sender(s, "no Welcome after 5 Hellos");
			return -1;
		}
		ing_client_hello(p->c);
		rc = ing_client_recv(p->c, 5000, &m);
		if (rc == ER_ETIMEDOUT)
			continue;
		if (rc != 0) {
			fail_sender(s, "hello: %s", er_strerror(rc));
			return -1;
		}
		if (m.type == PB_WELCOME) {
			base = m.u.welcome.next_seq - 1;
			pb_msg_fini(&m);
			break;
		}
		pb_msg_fini(&m);
	}
	if (base != 0) {
		fail_sender(s, "the daemon already holds %" PRIu64 " batches of %s: use a fresh directory", base, s->name);
		return -1;
	}
	return 0;
}

/* Sends batches from p->sent up to (not including) upto, at most
 * s->window unacknowledged. 0, or -1 with s->error set. */
static int push_send(sender *s, push *p, size_t upto)
{
	while (p->sent < upto && p->sent - p->acked < s->window) {
		uint64_t now = er_mono_ns();
		int rc = ing_client_send(p->c, s->buf + s->off[p->sent], s->off[p->sent + 1] - s->off[p->sent]);
		if (rc != 0) {
			fail_sender(s, "send: %s", er_strerror(rc));
			return -1;
		}
		if (s->first_send_ns == 0)
			s->first_send_ns = now;
		if (p->sent < p->high)
			s->resends++;
		s->sent_ns[p->sent] = now;
		p->sent++;
		if (p->sent > p->high) {
			p->high = p->sent;
			if (p->high == s->nbatches)
				s->last_send_ns = now;
		}
	}
	return 0;
}

/* Waits up to timeout_ms for one reply: OK/DUPLICATE advance acked, a
 * GAP may rewind. ER_ETIMEDOUT when none came (nothing changed), 0, or -1
 * with s->error set. */
static int push_recv(sender *s, push *p, int timeout_ms)
{
	pb_msg m;
	int rc = ing_client_recv(p->c, timeout_ms, &m);
	if (rc == ER_ETIMEDOUT)
		return rc;
	if (rc != 0) {
		fail_sender(s, "recv: %s", er_strerror(rc));
		return -1;
	}
	p->timeouts = 0;
	if (m.type != PB_ACK) {
		pb_msg_fini(&m);
		return 0;
	}
	pb_ack *a = &m.u.ack;
	uint64_t now = er_mono_ns();
	switch (a->status) {
	case PB_ST_OK:
	case PB_ST_DUPLICATE:
		if (a->seq > p->acked && a->seq <= p->high) {
			/* Acks come in order (one worker, commits in order);
			 * one for seq also covers any before it. */
			s->lat_ns[a->seq - 1] = now - s->sent_ns[a->seq - 1];
			if (a->status == PB_ST_OK) {
				s->accepted += a->accepted;
				s->rejected += a->rejected;
				s->duplicates += a->duplicates;
				if (a->rejected != 0 && s->error[0] == 0)
					fail_sender(s, "batch %" PRIu64 ": %" PRIu64 " readings rejected (%s)", a->seq,
						    a->rejected, a->nreasons ? pb_reason_name(a->reasons[0].reason) : "?");
			} else {
				s->dup_acks++;
			}
			p->acked = (size_t)a->seq;
			if (p->sent < p->acked)
				p->sent = p->acked;
			s->last_ack_ns = now;
		}
		break;
	case PB_ST_GAP:
		s->gaps++;
		if (a->seq >= 1 && a->seq <= p->high && s->sent_ns[a->seq - 1] >= p->rewind_ns && a->expected >= 1 &&
		    a->expected - 1 >= p->acked && a->expected - 1 < p->sent) {
			p->sent = (size_t)(a->expected - 1);
			p->rewind_ns = now;
		}
		break;
	default:
		fail_sender(s, "batch %" PRIu64 ": %s%s%s", a->seq, pb_status_name(a->status), a->message ? ": " : "",
			    a->message ? a->message : "");
		pb_msg_fini(&m);
		return -1;
	}
	pb_msg_fini(&m);
	return 0;
}

/* No reply for ACK_TIMEOUT_MS: resend the window (rewind to acked), or
 * give up after MAX_TIMEOUTS in a row. 0, or -1 with s->error set. */
static int push_timeout(sender *s, push *p)
{
	s->timeouts++;
	if (++p->timeouts > MAX_TIMEOUTS) {
		fail_sender(s, "no ack for %d s, %d times: giving up at batch %zu", ACK_TIMEOUT_MS / 1000, MAX_TIMEOUTS,
			    p->acked + 1);
		return -1;
	}
	p->sent = p->acked;
	p->rewind_ns = er_mono_ns();
	return 0;
}

/* A load sender: Hello, Welcome, then every batch through the window. */
static void *sender_push(void *arg)
{
	sender *s = arg;
	push p;
	bool counted = false; /* in g_sent_all */
	int rc = push_open(s, &p);

	pthread_barrier_wait(&g_start);
	if (rc != 0)
		goto out;
	while (p.acked < s->nbatches) {
		if (push_send(s, &p, s->nbatches) != 0)
			goto out;
		if (!counted && p.high == s->nbatches) {
			/* release: last_send_ns written before (pairs with the acquire in fresh_thread) */
			atomic_fetch_add_explicit(&g_sent_all, 1, memory_order_release);
			counted = true;
		}
		rc = push_recv(s, &p, ACK_TIMEOUT_MS);
		if (rc == ER_ETIMEDOUT)
			rc = push_timeout(s, &p);
		if (rc != 0)
			goto out;
	}
out:
	if (!counted)
		atomic_fetch_add(&g_sent_all, 1);
	ing_client_free(p.c);
	return NULL;
}

/* ---- the daemon ---- */

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		die("cannot find a free port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void exe_dir(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n <= 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash != NULL)
		*slash = 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_conf(char *buf, size_t cap)
{
	const char *src = getenv("ECOROLL_SRC");
	char dir[PATH_MAX], path[PATH_MAX + 32];
	if (src != NULL && src[0] != 0) {
		snprintf(path, sizeof path, "%s/conf", src);
	} else {
		exe_dir(dir, sizeof dir);
		snprintf(path, sizeof path, "%s/../conf", dir);
	}
	char full[PATH_MAX];
	if (realpath(path, full) == NULL || !is_dir(full))
		die("cannot find the conf/ directory at %s (set ECOROLL_SRC to the source tree)", path);
	snprintf(buf, cap, "%s", full);
}

typedef struct proc_stat {
	double cpu_s;
	uint64_t rss_kb, hwm_kb, anon_kb;
} proc_stat;

static proc_stat read_proc(pid_t pid)
{
	proc_stat r = {0};
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		char buf[2048];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = 0;
		fclose(f);
		char *p = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		/* after ")": state(3) ... utime(14) stime(15) */
		if (p != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
			r.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			unsigned long long v;
			if (sscanf(line, "VmRSS: %llu", &v) == 1)
				r.rss_kb = v;
			else if (sscanf(line, "VmHWM: %llu", &v) == 1)
				r.hwm_kb = v;
			else if (sscanf(line, "RssAnon: %llu", &v) == 1)
				r.anon_kb = v;
		}
		fclose(f);
	}
	return r;
}

static pid_t start_daemon(const opts *o, const char *dir, const char *regdir, const char *conf, const char *listen,
			  const char *control, const char *const *more)
{
	char exe[PATH_MAX + 16], args[16][PATH_MAX + 64], log[PATH_MAX + 32];
	char *argv[40 + 2 * MAX_SETS];
	int n = 0, k = 0;

	if (o->ecorolld != NULL) {
		snprintf(exe, sizeof exe, "%s", o->ecorolld);
	} else {
		char d[PATH_MAX];
		exe_dir(d, sizeof d);
		snprintf(exe, sizeof exe, "%s/ecorolld", d);
	}
	if (access(exe, X_OK) != 0)
		die("cannot run the daemon %s: %s (use --ecorolld PATH)", exe, strerror(errno));

	argv[n++] = exe;
	argv[n++] = "--listen";
	argv[n++] = (char *)listen;
	argv[n++] = "--control";
	argv[n++] = (char *)control;
	argv[n++] = "--data-dir";
	snprintf(args[k], sizeof args[k], "%s/db", dir);
	argv[n++] = args[k++];
	argv[n++] = "--utc-offset";
	argv[n++] = "+08:00";
#define SET(...)                                                                                                       \
	do {                                                                                                           \
		argv[n++] = "--set";                                                                                   \
		snprintf(args[k], sizeof args[k], __VA_ARGS__);                                                        \
		argv[n++] = args[k++];                                                                                 \
	} while (0)
	SET("node.city=bench-city");
	SET("registry.districts=%s/districts.csv", regdir);
	SET("registry.enterprises=%s/enterprises.csv", regdir);
	SET("registry.meters=%s/meters.csv", regdir);
	SET("registry.stations=%s/stations.csv", regdir);
	SET("energy.dir=%s/energy", conf);
	SET("aqi.dir=%s/aqi", conf);
	SET("ingest.max_batch_readings=%" PRIu64, o->batch > 100000 ? o->batch : 100000);
	if (o->flush_ms)
		SET("aggregate.flush_ms=%" PRIu64, o->flush_ms);
	if (o->workers)
		SET("ingest.workers=%" PRIu64, o->workers);
#undef SET
	for (size_t i = 0; i < o->nsets && n < 38; i++) {
		argv[n++] = "--set";
		argv[n++] = (char *)o->sets[i];
	}
	for (size_t i = 0; more != NULL && more[i] != NULL && n < 38 + 2 * MAX_SETS; i++)
		argv[n++] = (char *)more[i];
	argv[n] = NULL;

	snprintf(log, sizeof log, "%s/ecorolld.log", dir);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(exe, argv);
		_exit(127);
	}
	return pid;
}

static void wait_ready(pid_t *pid, const char *control, pb_status_reply *out_series)
{
	uint64_t t0 = er_mono_ns();
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	for (;;) {
		int st;
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = 0;
			die("ecorolld exited during start-up (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
		if (ing_request(control, &req, 500, &rep) == 0) {
			if (rep.type == PB_STATUS_REPLY) {
				out_series->series = rep.u.status_reply.series;
				pb_msg_fini(&rep);
				return;
			}
			pb_msg_fini(&rep);
		}
		if (er_mono_ns() - t0 > (uint64_t)START_WAIT_MS * 1000000)
			die("ecorolld did not answer a status request within %d s", START_WAIT_MS / 1000);
		usleep(50000);
	}
}

/* One counter of a node's status; UINT64_MAX when there is none. */
static uint64_t status_counter(const char *control, const char *name)
{
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	uint64_t v = UINT64_MAX;
	if (ing_request(control, &req, QUERY_TIMEOUT_MS, &rep) == 0) {
		for (size_t i = 0; rep.type == PB_STATUS_REPLY && i < rep.u.status_reply.ncounters; i++)
			if (strcmp(rep.u.status_reply.counters[i].name, name) == 0)
				v = rep.u.status_reply.counters[i].value;
		pb_msg_fini(&rep);
	}
	return v;
}

static uint64_t status_db_bytes(const char *control)
{
	pb_msg req = {.type = PB_STATUS_REQUEST}, rep;
	uint64_t b = 0;
	if (ing_request(control, &req, QUERY_TIMEOUT_MS, &rep) == 0) {
		if (rep.type == PB_STATUS_REPLY)
			b = rep.u.status_reply.db_bytes;
		pb_msg_fini(&rep);
	}
	return b;
}

/* One entity's yearly rows (every carrier) summed: the sum per energy
 * carrier (metric < AGG_PM25) into got, and the readings counted into
 * *count when it is not NULL. */
static int query_totals(const char *control, int level, const char *entity, int timeout_ms, int64_t got[NCARRIERS],
			int64_t *count, char *err, size_t errlen)
{
	pb_msg req = {.type = PB_QUERY}, rep;
	int rc;

	req.u.query.level = level;
	req.u.query.entity = entity;
	req.u.query.resolution = ER_RES_YEAR;
	req.u.query.from = ER_TS_MIN;
	req.u.query.to = er_now() + 2 * 366 * 86400;
	req.u.query.carrier = "";
	req.u.query.unit = "";
	req.u.query.method = "";
	req.u.query.scope = "";
	memset(got, 0, NCARRIERS * sizeof *got);
	if (count != NULL)
		*count = 0;
	if ((rc = ing_request(control, &req, timeout_ms, &rep)) != 0) {
		snprintf(err, errlen, "%s query: %s", sto_level_name(level), er_strerror(rc));
		return rc;
	}
	if (rep.type != PB_QUERY_REPLY || !rep.u.query_reply.ok) {
		snprintf(err, errlen, "%s query refused: %s", sto_level_name(level),
			 rep.type == PB_QUERY_REPLY ? rep.u.query_reply.error : "not a query reply");
		pb_msg_fini(&rep);
		return ER_EPROTO;
	}
	for (size_t i = 0; i < rep.u.query_reply.nrows; i++) {
		const pb_row *r = &rep.u.query_reply.rows[i];
		int c = agg_carrier_parse(r->carrier);
		if (c > 0 && c < AGG_PM25)
			got[c] += r->sum;
		if (count != NULL)
			*count += r->count;
	}
	pb_msg_fini(&rep);
	return 0;
}

static int query_city(const char *control, int timeout_ms, int64_t got[NCARRIERS], char *err, size_t errlen)
{
	return query_totals(control, STO_CITY, "", timeout_ms, got, NULL, err, errlen);
}

/* ---- freshness: last batch sent -> the final totals visible ---- */

typedef struct fresh {
	const char *control;
	sender *s;
	int nsenders;
	const int64_t *expected; /* the load's, without the probe's carrier */
	uint64_t ns; /* 0: not measured */
	int queries;
} fresh;

static void *fresh_thread(void *arg)
{
	fresh *f = arg;
	int64_t got[NCARRIERS];
	char err[256];

	/* acquire: pairs with each sender's release after its last first send */
	while (atomic_load_explicit(&g_sent_all, memory_order_acquire) < f->nsenders)
		usleep(200);
	uint64_t last = 0;
	for (int i = 0; i < f->nsenders; i++)
		if (f->s[i].last_send_ns > last)
			last = f->s[i].last_send_ns;
	if (last == 0)
		return NULL;
	for (;;) {
		f->queries++;
		if (query_city(f->control, QUERY_TIMEOUT_MS, got, err, sizeof err) == 0) {
			got[PROBE_CARRIER] = f->expected[PROBE_CARRIER]; /* still moving: the probe's, not the load's */
			if (memcmp(got, f->expected, sizeof got) == 0) {
				f->ns = er_mono_ns() - last;
				return NULL;
			}
		}
		if (er_mono_ns() - last > FRESH_LIMIT_NS)
			return NULL;
		usleep(FRESH_POLL_US);
	}
}

/* ---- freshness under load: a probe reading sent -> visible in a query ---- */

/* Its own sender and meter. While the load's senders are still sending,
 * a probe reading goes out every PROBE_PERIOD_NS, and the probe meter's
 * rows are queried every PROBE_POLL_US while any is out. A sender's
 * batches are applied and committed in order, so a count of n readings
 * means probes 0 .. n - 1 are visible. */
typedef struct probe {
	sender s;
	const char *control;
	int nsenders;	 /* the load's: probing stops when they all have sent their last batch */
	uint64_t *t_ns;	 /* per probe: its first send */
	uint64_t *lat_ns; /* per probe resolved: send to visible; PROBE_LIMIT_NS for a timeout */
	size_t nsent, nresolved, ntimeouts;
	uint64_t queries;
} probe;

static void *probe_thread(void *arg)
{
	probe *pr = arg;
	sender *s = &pr->s;
	push p;
	uint64_t tick = 0, last_reply;
	int64_t got[NCARRIERS], count;
	char err[256];
	int rc = push_open(s, &p);

	pthread_barrier_wait(&g_start);
	if (rc != 0)
		goto out;
	last_reply = er_mono_ns();
	for (;;) {
		uint64_t now = er_mono_ns();
		bool live = atomic_load_explicit(&g_sent_all, memory_order_relaxed) < pr->nsenders;
		if (live && now >= tick && pr->nsent < s->nbatches && pr->nsent - p.acked < s->window) {
			pr->t_ns[pr->nsent++] = now;
			tick = now + PROBE_PERIOD_NS;
		}
		if (push_send(s, &p, pr->nsent) != 0)
			goto out;
		while ((rc = push_recv(s, &p, 0)) == 0)
			last_reply = er_mono_ns();
		if (rc != ER_ETIMEDOUT)
			goto out;
		now = er_mono_ns();
		if (p.acked == pr->nsent || now - last_reply < (uint64_t)ACK_TIMEOUT_MS * 1000000) {
			/* waiting for nothing, or not for long */
		} else if (push_timeout(s, &p) != 0) {
			goto out;
		} else {
			last_reply = now;
		}
		if (pr->nresolved < pr->nsent) {
			pr->queries++;
			if (query_totals(pr->control, STO_METER, PROBE_METER, QUERY_TIMEOUT_MS, got, &count, err,
					 sizeof err) != 0) {
				fail_sender(s, "%s", err);
				goto out;
			}
			now = er_mono_ns();
			while (pr->nresolved < pr->nsent && (int64_t)pr->nresolved < count) {
				pr->lat_ns[pr->nresolved] = now - pr->t_ns[pr->nresolved];
				pr->nresolved++;
			}
			while (pr->nresolved < pr->nsent && now - pr->t_ns[pr->nresolved] > PROBE_LIMIT_NS) {
				pr->lat_ns[pr->nresolved++] = PROBE_LIMIT_NS;
				pr->ntimeouts++;
			}
		}
		if (!live && pr->nresolved == pr->nsent && p.acked == pr->nsent)
			break;
		usleep(PROBE_POLL_US);
	}
out:
	ing_client_free(p.c);
	return NULL;
}

/* ---- in-process ceilings ---- */

static double ceiling_decode(sender *s, int nsenders, uint64_t *nread)
{
	uint64_t n = 0, ns = 0;
	for (int i = 0; i < nsenders && n < DECODE_CAP; i++)
		for (size_t b = 0; b < s[i].nbatches && n < DECODE_CAP; b++) {
			pb_msg m;
			uint64_t t = er_mono_ns();
			if (pb_decode(s[i].buf + s[i].off[b], s[i].off[b + 1] - s[i].off[b], &m) != 0)
				die("decode ceiling: batch %zu of sender %d does not decode", b + 1, i);
			ns += er_mono_ns() - t;
			if (m.type != PB_BATCH)
				die("decode ceiling: not a batch");
			n += m.u.batch.n;
			pb_msg_fini(&m);
		}
	*nread = n;
	return ns ? (double)n / secs(ns) : 0;
}

/* Series key -> dense number, as the daemon's registry gives one. */
typedef struct keymap {
	uint64_t *k;
	uint32_t *v;
	size_t mask;
} keymap;

static void keymap_put(keymap *m, uint64_t k, uint32_t v)
{
	size_t i = (size_t)k & m->mask;
	while (m->k[i] != 0 && m->k[i] != k)
		i = (i + 1) & m->mask;
	m->k[i] = k;
	m->v[i] = v;
}

static uint32_t keymap_get(const keymap *m, uint64_t k)
{
	size_t i = (size_t)k & m->mask;
	while (m->k[i] != 0 && m->k[i] != k)
		i = (i + 1) & m->mask;
	return m->k[i] == k ? m->v[i] : UINT32_MAX;
}

static void noop_drain(void *ctx, uint64_t key, const agg_sample *x)
{
	(void)key;
	*(int64_t *)ctx += x->count;
}

/* One worker adding every reading's sample to the delta table, keyed by
 * (series number, local hour); swap and drain (untimed) whenever the
 * worker's share is half used, as the daemon's store thread would. */
static double ceiling_delta(const opts *o, sender *s, int nsenders, uint64_t *nread)
{
	size_t total = o->meters + o->stations * 6, cap = 1024;
	while (cap < total * 2)
		cap <<= 1;
	keymap km = {xcalloc(cap, sizeof(uint64_t)), xcalloc(cap, sizeof(uint32_t)), cap - 1};
	char code[64];
	uint32_t idx = 0;
	for (uint64_t j = 0; j < o->meters; j++) {
		meter_code(j, code, sizeof code);
		keymap_put(&km, er_key(code, strlen(code)), idx++);
	}
	for (uint64_t st = 0; st < o->stations; st++)
		for (int p = 0; p < 6; p++) {
			station_series_code(st, p, code, sizeof code);
			keymap_put(&km, er_key(code, strlen(code)), idx++);
		}

	agg_core *core;
	agg_core_opts co = {1, 1u << 20, false}; /* the daemon's default delta_slots */
	if (agg_core_new(&co, &core) != 0)
		die("delta ceiling: cannot make a core");
	uint64_t *keys = xmalloc(o->batch * sizeof *keys);
	agg_sample *smp = xmalloc(o->batch * sizeof *smp);
	uint64_t n = 0, ns = 0;
	int64_t drained = 0;
	for (int i = 0; i < nsenders && n < DECODE_CAP; i++)
		for (size_t b = 0; b < s[i].nbatches && n < DECODE_CAP; b++) {
			pb_msg m;
			if (pb_decode(s[i].buf + s[i].off[b], s[i].off[b + 1] - s[i].off[b], &m) != 0)
				die("delta ceiling: a batch does not decode");
			const pb_batch *pb = &m.u.batch;
			for (size_t r = 0; r < pb->n; r++) {
				uint32_t sid = keymap_get(&km, pb->series[r]);
				int64_t hour = (pb->ts[r] + OFFSET_S) / 3600;
				er_fx v = (er_fx)llround(pb->value[r] * (double)ER_FX_SCALE);
				keys[r] = agg_key(sid, (uint32_t)hour);
				smp[r] = (agg_sample){1, v, v, v, (uint32_t)o->interval_s, 0};
			}
			size_t cnt = pb->n;
			pb_msg_fini(&m);
			uint64_t t = er_mono_ns();
			agg_delta *d = agg_core_enter(core, 0);
			for (size_t r = 0; r < cnt; r++)
				agg_delta_add(d, 0, keys[r], &smp[r]);
			agg_core_leave(core, 0);
			ns += er_mono_ns() - t;
			n += cnt;
			if (agg_delta_keys(d) > (uint64_t)co.slots * 35 / 100) {
				agg_delta *old = agg_core_swap(core);
				agg_delta_drain(old, noop_drain, &drained);
				agg_core_recycle(core, old);
			}
		}
	for (int k = 0; k < 2; k++) {
		agg_delta *old = agg_core_swap(core);
		agg_delta_drain(old, noop_drain, &drained);
		agg_core_recycle(core, old);
	}
	if ((uint64_t)drained != n)
		die("delta ceiling: %" PRIu64 " added, %" PRId64 " drained (lost update)", n, drained);
	agg_core_free(core);
	free(keys);
	free(smp);
	free(km.k);
	free(km.v);
	*nread = n;
	return ns ? (double)n / secs(ns) : 0;
}

/* ---- reporting ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *a, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	return a[(i > n ? n : i) - 1];
}

static void fmt_fx(er_fx v, char *buf, size_t cap)
{
	er_fx_format(v, buf, cap);
}

static uint64_t file_bytes(const char *path, uint64_t *alloc)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		*alloc = 0;
		return 0;
	}
	*alloc = (uint64_t)st.st_blocks * 512;
	return (uint64_t)st.st_size;
}

int main(int argc, char **argv)
{
	enum { O_DISTRICTS = 256, O_ENTERPRISES, O_METERS, O_INTERVAL, O_DAYS, O_STATIONS, O_SENDERS, O_BATCH,
	       O_WINDOW, O_FLUSH, O_WORKERS, O_KEEP, O_ECOROLLD, O_JSON, O_SMALL, O_SET, O_TIERS };
	static const struct option lo[] = {
	    {"districts", required_argument, NULL, O_DISTRICTS}, {"enterprises", required_argument, NULL, O_ENTERPRISES},
	    {"meters", required_argument, NULL, O_METERS},	 {"interval-s", required_argument, NULL, O_INTERVAL},
	    {"days", required_argument, NULL, O_DAYS},		 {"stations", required_argument, NULL, O_STATIONS},
	    {"senders", required_argument, NULL, O_SENDERS},	 {"batch", required_argument, NULL, O_BATCH},
	    {"window", required_argument, NULL, O_WINDOW},	 {"flush-ms", required_argument, NULL, O_FLUSH},
	    {"workers", required_argument, NULL, O_WORKERS},	 {"keep", required_argument, NULL, O_KEEP},
	    {"ecorolld", required_argument, NULL, O_ECOROLLD},	 {"json", no_argument, NULL, O_JSON},
	    {"small", no_argument, NULL, O_SMALL},		 {"help", no_argument, NULL, 'h'},
	    {"set", required_argument, NULL, O_SET},		 {"tiers", no_argument, NULL, O_TIERS},
	    {NULL, 0, NULL, 0},
	};
	opts o = {.districts = 50, .enterprises = 10000, .meters = 100000, .interval_s = 900, .days = 7,
		  .stations = 200, .senders = 50, .batch = 1000, .window = 8};
	int c;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		uint64_t *dst = NULL, lo_ = 1, hi = 10000000;
		switch (c) {
		case O_DISTRICTS: dst = &o.districts, hi = 999; break;
		case O_ENTERPRISES: dst = &o.enterprises, hi = 999999; break;
		case O_METERS: dst = &o.meters, hi = 9999999; break;
		case O_INTERVAL: dst = &o.interval_s, lo_ = 60, hi = 86400; break;
		case O_DAYS: dst = &o.days, hi = 366; break;
		case O_STATIONS: dst = &o.stations, lo_ = 0, hi = 9999; break;
		case O_SENDERS: dst = &o.senders, hi = 999; break;
		case O_BATCH: dst = &o.batch, hi = 1000000; break;
		case O_WINDOW: dst = &o.window, hi = 100000; break;
		case O_FLUSH: dst = &o.flush_ms, hi = 60000; break;
		case O_WORKERS: dst = &o.workers, hi = 64; break;
		case O_KEEP: o.keep = optarg; break;
		case O_ECOROLLD: o.ecorolld = optarg; break;
		case O_JSON: o.json = true; break;
		case O_TIERS: o.tiers = true; break;
		case O_SET:
			if (o.nsets == MAX_SETS || strchr(optarg, '=') == NULL) {
				fprintf(stderr, "ecoroll-bench: --set '%s': SEC.KEY=VALUE, at most %d\n", optarg, MAX_SETS);
				return 2;
			}
			o.sets[o.nsets++] = optarg;
			break;
		case O_SMALL:
			o.districts = 2, o.enterprises = 20, o.meters = 200, o.days = 1, o.stations = 2, o.senders = 4;
			break;
		case 'h': fputs(help_text, stdout); return 0;
		default:
			fprintf(stderr, "ecoroll-bench: %s '%s'\nsee 'ecoroll-bench --help'\n",
				c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return 2;
		}
		if (dst != NULL && !parse_u64(optarg, lo_, hi, dst)) {
			fprintf(stderr, "ecoroll-bench: --%s '%s' is not a number from %" PRIu64 " to %" PRIu64 "\n",
				lo[c - 256].name, optarg, lo_, hi);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ecoroll-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (86400 % o.interval_s != 0) {
		fprintf(stderr, "ecoroll-bench: --interval-s %" PRIu64 " must divide a day (86400)\n", o.interval_s);
		return 2;
	}
	if (o.enterprises < o.districts || o.meters < o.enterprises) {
		fprintf(stderr, "ecoroll-bench: need districts <= enterprises <= meters\n");
		return 2;
	}
	if (o.senders > o.meters)
		o.senders = o.meters;

	/* 1. The work directory, the registry, the daemon. */
	char conf[PATH_MAX], ep_listen[64], ep_control[64];
	find_conf(conf, sizeof conf);
	if (o.keep != NULL) {
		char db[PATH_MAX + 32];
		if (mkdir(o.keep, 0755) != 0 && errno != EEXIST)
			die("cannot create %s: %s", o.keep, strerror(errno));
		if (realpath(o.keep, g_workdir) == NULL)
			die("cannot resolve %s: %s", o.keep, strerror(errno));
		snprintf(db, sizeof db, "%s/db/data.mdb", g_workdir);
		g_keep = true;
		if (access(db, F_OK) == 0)
			die("%s already holds a database: the totals would not be exact; give a fresh directory", db);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(g_workdir, sizeof g_workdir, "%s/ecoroll-bench.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
		if (mkdtemp(g_workdir) == NULL)
			die("cannot create a temporary directory: %s", strerror(errno));
	}
	signal(SIGPIPE, SIG_IGN);
	write_registry(&o, g_workdir, true);
	snprintf(ep_listen, sizeof ep_listen, "tcp://127.0.0.1:%d", free_port());
	snprintf(ep_control, sizeof ep_control, "tcp://127.0.0.1:%d", free_port());

	if (!o.json)
		fprintf(stderr, "ecoroll-bench: %" PRIu64 " districts, %" PRIu64 " enterprises, %" PRIu64
				" meters every %" PRIu64 " s for %" PRIu64 " days, %" PRIu64
				" stations; %" PRIu64 " senders, batches of %" PRIu64 ", window %" PRIu64 "\n",
			o.districts, o.enterprises, o.meters, o.interval_s, o.days, o.stations, o.senders, o.batch,
			o.window);
	/* The same daemon with an empty registry first: its resident size is
	 * the fixed cost (delta tables, LMDB map, ZeroMQ), so the difference
	 * is what the registry costs per meter. */
	char empty[PATH_MAX + 16], e_listen[64], e_control[64];
	snprintf(empty, sizeof empty, "%s/empty", g_workdir);
	if (mkdir(empty, 0755) != 0)
		die("cannot create %s: %s", empty, strerror(errno));
	opts eo = o;
	eo.districts = eo.enterprises = eo.meters = eo.stations = 0;
	write_registry(&eo, empty, false);
	snprintf(e_listen, sizeof e_listen, "tcp://127.0.0.1:%d", free_port());
	snprintf(e_control, sizeof e_control, "tcp://127.0.0.1:%d", free_port());
	g_daemon = start_daemon(&o, empty, empty, conf, e_listen, e_control, NULL);
	pb_status_reply ready = {0};
	wait_ready(&g_daemon, e_control, &ready);
	proc_stat base_proc = read_proc(g_daemon);
	kill(g_daemon, SIGTERM);
	waitpid(g_daemon, NULL, 0);
	g_daemon = 0;

	/* --tiers: a city node with no registry of its own first; the district
	 * node announces the city's registry to it. */
	char c_dir[PATH_MAX + 16], c_listen[64], c_control[64];
	const char *district_args[] = {"--role", "district", "--name", "bench-district", "--upstream", c_listen, NULL};
	proc_stat city_before = {0};
	if (o.tiers) {
		static const char *const city_args[] = {"--role", "city", "--name", "bench-city-node", NULL};
		snprintf(c_dir, sizeof c_dir, "%s/city", g_workdir);
		if (mkdir(c_dir, 0755) != 0)
			die("cannot create %s: %s", c_dir, strerror(errno));
		snprintf(c_listen, sizeof c_listen, "tcp://127.0.0.1:%d", free_port());
		snprintf(c_control, sizeof c_control, "tcp://127.0.0.1:%d", free_port());
		g_city = start_daemon(&o, c_dir, empty, conf, c_listen, c_control, city_args);
		pb_status_reply cready = {0};
		wait_ready(&g_city, c_control, &cready);
	}
	const char *check_control = o.tiers ? c_control : ep_control; /* where the city's totals are */

	uint64_t t_start_daemon = er_mono_ns();
	g_daemon = start_daemon(&o, g_workdir, g_workdir, conf, ep_listen, ep_control, o.tiers ? district_args : NULL);
	wait_ready(&g_daemon, ep_control, &ready);
	uint64_t startup_ns = er_mono_ns() - t_start_daemon;
	proc_stat loaded = read_proc(g_daemon);

	/* 2. Every reading, generated and encoded (two threads: 2 cores). */
	int ns = (int)o.senders;
	sender *s = xcalloc((size_t)ns, sizeof *s);
	int64_t day = er_local_day(er_now(), OFFSET_S), back = (int64_t)o.days + 23;
	int64_t t0 = (day - back) * 86400 - OFFSET_S; /* a local midnight, all of it in the past */
	for (int i = 0; i < ns; i++) {
		s[i].id = i;
		s[i].o = &o;
		s[i].t0 = t0;
		s[i].endpoint = ep_listen;
		s[i].window = o.window;
		snprintf(s[i].name, sizeof s[i].name, "bench-%03d", i);
	}
	probe pr = {.s = {.id = -1, .o = &o, .t0 = t0, .endpoint = ep_listen, .name = "bench-probe",
			  .window = PROBE_WINDOW},
		    .control = ep_control, .nsenders = ns};
	probe_generate(&pr.s);
	pr.t_ns = xcalloc(pr.s.nbatches, sizeof *pr.t_ns);
	pr.lat_ns = xcalloc(pr.s.nbatches, sizeof *pr.lat_ns);
	uint64_t tg = er_mono_ns();
	pthread_t gt[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&gt[i], NULL, sender_generate_thread, s);
	for (int i = 0; i < 2; i++)
		pthread_join(gt[i], NULL);
	uint64_t gen_ns = er_mono_ns() - tg;
	int64_t expected[NCARRIERS] = {0};
	uint64_t readings = 0, batches = 0, bytes = 0;
	for (int i = 0; i < ns; i++) {
		for (int k = 0; k < NCARRIERS; k++)
			expected[k] += s[i].expected[k];
		readings += s[i].readings;
		batches += s[i].nbatches;
		bytes += s[i].len;
	}
	if (!o.json)
		fprintf(stderr, "ecoroll-bench: %" PRIu64 " readings in %" PRIu64 " batches (%.1f MB encoded) in %.1f s; pushing\n",
			readings, batches, (double)bytes / 1e6, secs(gen_ns));

	/* 3. The push: one thread (and one ing_client) per sender. */
	pthread_barrier_init(&g_start, NULL, (unsigned)ns + 2); /* senders, the probe, main */
	pthread_t *th = xcalloc((size_t)ns, sizeof *th);
	for (int i = 0; i < ns; i++)
		if (pthread_create(&th[i], NULL, sender_push, &s[i]) != 0)
			die("cannot start sender thread %d", i);
	fresh fr = {check_control, s, ns, expected, 0, 0};
	pthread_t ft, pt;
	pthread_create(&ft, NULL, fresh_thread, &fr);
	if (pthread_create(&pt, NULL, probe_thread, &pr) != 0)
		die("cannot start the probe thread");
	pthread_barrier_wait(&g_start);
	proc_stat before = read_proc(g_daemon);
	if (o.tiers)
		city_before = read_proc(g_city);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < ns; i++)
		pthread_join(th[i], NULL);
	proc_stat after = read_proc(g_daemon);
	getrusage(RUSAGE_SELF, &ru1);
	pthread_join(ft, NULL);
	pthread_join(pt, NULL);
	if (pr.s.error[0] != 0)
		die("the freshness probe: %s", pr.s.error);
	/* Every probe sent was acknowledged, so the daemon holds them all. */
	for (size_t b = 0; b < pr.nsent; b++)
		expected[PROBE_CARRIER] += probe_value(b);
	qsort(pr.lat_ns, pr.nresolved, sizeof *pr.lat_ns, cmp_u64);

	uint64_t first = UINT64_MAX, last = 0, accepted = 0, rejected = 0, gaps = 0, dup_acks = 0, timeouts = 0,
		 resends = 0, duplicates = 0;
	for (int i = 0; i < ns; i++) {
		if (s[i].error[0] != 0 && s[i].rejected == 0)
			die("sender bench-%03d: %s", i, s[i].error);
		if (s[i].first_send_ns && s[i].first_send_ns < first)
			first = s[i].first_send_ns;
		if (s[i].last_ack_ns > last)
			last = s[i].last_ack_ns;
		accepted += s[i].accepted;
		rejected += s[i].rejected;
		duplicates += s[i].duplicates;
		gaps += s[i].gaps;
		dup_acks += s[i].dup_acks;
		timeouts += s[i].timeouts;
		resends += s[i].resends;
	}
	uint64_t push_ns = last > first ? last - first : 1;
	uint64_t *lat = xmalloc(batches * sizeof *lat);
	size_t nl = 0;
	for (int i = 0; i < ns; i++)
		for (size_t b = 0; b < s[i].nbatches; b++)
			lat[nl++] = s[i].lat_ns[b];
	qsort(lat, nl, sizeof *lat, cmp_u64);

	/* 4b. --tiers: the city has everything when the district node's outbox
	 * is empty and acknowledged. */
	uint64_t drain_ns = 0, city_rows = 0, city_batches = 0, outbox_entries = 0;
	proc_stat city_after = {0};
	if (o.tiers) {
		for (;;) {
			uint64_t next = status_counter(ep_control, "outbox_next_seq");
			if (next != UINT64_MAX && status_counter(ep_control, "outbox_entries") == 0 &&
			    status_counter(ep_control, "uplink_acked_seq") == next - 1) {
				outbox_entries = next - 1;
				break;
			}
			if (er_mono_ns() - last > (uint64_t)STOP_WAIT_MS * 1000000 * 20)
				die("the district node's outbox did not drain to the city");
			usleep(20000);
		}
		drain_ns = er_mono_ns() - last;
		city_after = read_proc(g_city);
		city_rows = status_counter(c_control, "rollup_rows");
		city_batches = status_counter(c_control, "rollup_batches");
	}

	/* 5. Verify. */
	int64_t got[NCARRIERS];
	char err[256];
	if (query_city(check_control, QUERY_TIMEOUT_MS, got, err, sizeof err) != 0)
		die("%s", err);
	/* A DUPLICATE ack (after a resend) carries no counts: then only the
	 * totals can say, and they do. */
	bool exact = memcmp(got, expected, sizeof got) == 0 && rejected == 0 && (accepted == readings || dup_acks > 0) &&
		     pr.s.rejected == 0 && (pr.s.accepted == pr.nsent || pr.s.dup_acks > 0);

	/* 4. Disk, memory, then stop. */
	uint64_t db_status = status_db_bytes(ep_control), mdb_alloc;
	char mdb[PATH_MAX + 32];
	snprintf(mdb, sizeof mdb, "%s/db/data.mdb", g_workdir);
	uint64_t mdb_size = file_bytes(mdb, &mdb_alloc);
	proc_stat peak = read_proc(g_daemon);
	kill(g_daemon, SIGTERM);
	uint64_t ts = er_mono_ns();
	int wst = 0;
	for (;;) {
		pid_t w = waitpid(g_daemon, &wst, WNOHANG);
		if (w == g_daemon)
			break;
		if (er_mono_ns() - ts > (uint64_t)STOP_WAIT_MS * 1000000)
			die("ecorolld did not stop within %d s of SIGTERM", STOP_WAIT_MS / 1000);
		usleep(20000);
	}
	g_daemon = 0;
	uint64_t stop_ns = er_mono_ns() - ts;
	if (g_city > 0) {
		kill(g_city, SIGTERM);
		waitpid(g_city, NULL, 0);
		g_city = 0;
	}

	/* 6. The ceilings, with the daemon gone. */
	uint64_t ndec, ndelta;
	double dec_rate = ceiling_decode(s, ns, &ndec);
	double delta_rate = ceiling_delta(&o, s, ns, &ndelta);

	/* 7. Report. */
	double rate = (double)accepted / secs(push_ns);
	double cpu = after.cpu_s - before.cpu_s;
	double self_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			  (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
			      1e6;
	double per_meter = (double)loaded.rss_kb * 1024.0 / (double)o.meters;
	double per_meter_marg = ((double)loaded.rss_kb - (double)base_proc.rss_kb) * 1024.0 / (double)o.meters;
	double inflight = (double)o.senders * (double)o.window * (double)o.batch;
	double p50 = (double)pct(lat, nl, 0.50);
	double window_bound = p50 > 0 ? inflight / (p50 / 1e9) : 0;
	double per_reading_disk = readings ? (double)mdb_alloc / (double)readings : 0;
	double fresh_p50 = (double)pct(pr.lat_ns, pr.nresolved, 0.50) / 1e6;
	double fresh_p99 = (double)pct(pr.lat_ns, pr.nresolved, 0.99) / 1e6;
	double fresh_max = pr.nresolved ? (double)pr.lat_ns[pr.nresolved - 1] / 1e6 : 0.0;
	if (o.json) {
		printf("{\"workload\":{\"districts\":%" PRIu64 ",\"enterprises\":%" PRIu64 ",\"meters\":%" PRIu64
		       ",\"interval_s\":%" PRIu64 ",\"days\":%" PRIu64 ",\"stations\":%" PRIu64 ",\"senders\":%" PRIu64
		       ",\"batch\":%" PRIu64 ",\"window\":%" PRIu64 ",\"flush_ms\":%" PRIu64 ",\"workers\":%" PRIu64 "},",
		       o.districts, o.enterprises, o.meters, o.interval_s, o.days, o.stations, o.senders, o.batch, o.window,
		       o.flush_ms, o.workers);
		printf("\"readings\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"encoded_bytes\":%" PRIu64
		       ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"gap_acks\":%" PRIu64
		       ",\"duplicate_acks\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"resent_batches\":%" PRIu64 ",",
		       readings, batches, bytes, accepted, rejected, duplicates, gaps, dup_acks, timeouts, resends);
		printf("\"push_s\":%.3f,\"readings_per_s\":%.0f,\"ack_latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
		       secs(push_ns), rate, (double)pct(lat, nl, 0.50) / 1e6, (double)pct(lat, nl, 0.99) / 1e6,
		       nl ? (double)lat[nl - 1] / 1e6 : 0.0);
		if (fr.ns)
			printf("\"freshness_ms\":%.3f,", (double)fr.ns / 1e6);
		else
			printf("\"freshness_ms\":null,");
		printf("\"freshness_probe\":{\"probes\":%zu,\"timeouts\":%zu,\"queries\":%" PRIu64, pr.nresolved,
		       pr.ntimeouts, pr.queries);
		if (pr.nresolved)
			printf(",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},", fresh_p50, fresh_p99, fresh_max);
		else
			printf(",\"p50_ms\":null,\"p99_ms\":null,\"max_ms\":null},");
		printf("\"daemon\":{\"startup_s\":%.3f,\"cpu_s_push\":%.2f,\"cpu_s_total\":%.2f,\"rss_loaded_bytes\":%" PRIu64
		       ",\"rss_empty_registry_bytes\":%" PRIu64 ",\"peak_rss_bytes\":%" PRIu64
		       ",\"bytes_per_meter_rss\":%.0f,\"bytes_per_meter_marginal\":%.0f,\"stop_s\":%.3f},",
		       secs(startup_ns), cpu, peak.cpu_s, loaded.rss_kb * 1024, base_proc.rss_kb * 1024, peak.hwm_kb * 1024,
		       per_meter, per_meter_marg, secs(stop_ns));
		printf("\"window_readings\":%.0f,\"window_bound_per_s\":%.0f,", inflight, window_bound);
		printf("\"bench_cpu_s_push\":%.2f,\"disk\":{\"status_db_bytes\":%" PRIu64 ",\"data_mdb_size\":%" PRIu64
		       ",\"data_mdb_allocated\":%" PRIu64 ",\"allocated_per_reading\":%.2f},",
		       self_cpu, db_status, mdb_size, mdb_alloc, per_reading_disk);
		printf("\"ceilings\":{\"decode_per_s\":%.0f,\"decode_readings\":%" PRIu64
		       ",\"delta_add_per_s\":%.0f,\"delta_add_readings\":%" PRIu64 "},",
		       dec_rate, ndec, delta_rate, ndelta);
		printf("\"totals\":{");
		bool firstc = true;
		for (int k = 1; k < AGG_PM25; k++) {
			if (expected[k] == 0 && got[k] == 0)
				continue;
			printf("%s\"%s\":{\"expected\":%" PRId64 ",\"got\":%" PRId64 "}", firstc ? "" : ",",
			       agg_carrier_name(k), expected[k], got[k]);
			firstc = false;
		}
		printf("}");
		if (o.tiers)
			printf(",\"tiers\":{\"city_complete_after_last_ack_s\":%.3f,\"outbox_entries\":%" PRIu64
			       ",\"rollup_batches\":%" PRIu64 ",\"rollup_rows\":%" PRIu64 ",\"city_cpu_s\":%.2f"
			       ",\"city_peak_rss_bytes\":%" PRIu64 "}",
			       secs(drain_ns), outbox_entries, city_batches, city_rows, city_after.cpu_s - city_before.cpu_s,
			       city_after.hwm_kb * 1024);
		printf(",\"exact\":%s}\n", exact ? "true" : "false");
	} else {
		printf("ecoroll-bench: %" PRIu64 " meters x %" PRIu64 " days every %" PRIu64 " s + %" PRIu64
		       " stations x 6 hourly; %" PRIu64 " senders, batch %" PRIu64 ", window %" PRIu64 "\n",
		       o.meters, o.days, o.interval_s, o.stations, o.senders, o.batch, o.window);
		printf("  %-34s %" PRIu64 " in %" PRIu64 " batches (%.1f MB encoded)\n", "readings", readings, batches,
		       (double)bytes / 1e6);
		printf("  %-34s %" PRIu64 " accepted, %" PRIu64 " rejected, %" PRIu64 " gap acks, %" PRIu64
		       " timeouts, %" PRIu64 " resent\n", "acks", accepted, rejected, gaps, timeouts, resends);
		printf("  %-34s %.3f s\n", "push (first send to last ack)", secs(push_ns));
		printf("  %-34s %.0f readings/s\n", "durable ingest", rate);
		printf("  %-34s %.0f readings/s (%.0f in flight / p50 ack latency)\n", "window bound (Little's law)",
		       window_bound, inflight);
		printf("  %-34s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", "ack latency (send to ack)",
		       (double)pct(lat, nl, 0.50) / 1e6, (double)pct(lat, nl, 0.99) / 1e6,
		       nl ? (double)lat[nl - 1] / 1e6 : 0.0);
		if (fr.ns)
			printf("  %-34s %.1f ms (%d city queries)\n", "freshness (last send to totals)", (double)fr.ns / 1e6,
			       fr.queries);
		else
			printf("  %-34s not measured\n", "freshness (last send to totals)");
		if (pr.nresolved)
			printf("  %-34s p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu probes, %zu timeouts, %" PRIu64
			       " queries)\n", "freshness under load (probe)", fresh_p50, fresh_p99, fresh_max, pr.nresolved,
			       pr.ntimeouts, pr.queries);
		else
			printf("  %-34s no probe\n", "freshness under load (probe)");
		printf("  %-34s %.2f s during the push (%.0f%% of one core), %.2f s in all\n", "daemon CPU", cpu,
		       100.0 * cpu / secs(push_ns), peak.cpu_s);
		printf("  %-34s %.2f s during the push (%.0f%% of one core)\n", "ecoroll-bench CPU", self_cpu,
		       100.0 * self_cpu / secs(push_ns));
		printf("  %-34s %.1f MB after the registry load, peak %.1f MB\n", "daemon RSS",
		       (double)loaded.rss_kb / 1024.0, (double)peak.hwm_kb / 1024.0);
		printf("  %-34s %.0f B ((VmRSS loaded - VmRSS empty registry %.1f MB) / meters); %.0f B all-in\n",
		       "memory per meter", per_meter_marg, (double)base_proc.rss_kb / 1024.0, per_meter);
		printf("  %-34s %.1f MB data.mdb (%.1f MB allocated, %.2f B/reading); status db_bytes %.1f MB\n",
		       "disk", (double)mdb_size / 1e6, (double)mdb_alloc / 1e6, per_reading_disk, (double)db_status / 1e6);
		printf("  %-34s start %.2f s (registry load), stop %.2f s after SIGTERM\n", "daemon", secs(startup_ns),
		       secs(stop_ns));
		printf("  %-34s %.0f readings/s (pb_decode, one thread, %" PRIu64 " readings)\n", "ceiling: decode only",
		       dec_rate, ndec);
		printf("  %-34s %.0f readings/s (agg_delta_add, one worker, %" PRIu64 " readings)\n",
		       "ceiling: delta add only", delta_rate, ndelta);
		if (o.tiers) {
			printf("  %-34s %.3f s after the last ack (%" PRIu64 " outbox entries, %" PRIu64
			       " rollup rows in %" PRIu64 " batches)\n",
			       "three tiers: city has everything", secs(drain_ns), outbox_entries, city_rows, city_batches);
			printf("  %-34s %.2f s (%.0f%% of one core over push + drain), peak RSS %.1f MB\n",
			       "three tiers: city node CPU", city_after.cpu_s - city_before.cpu_s,
			       100.0 * (city_after.cpu_s - city_before.cpu_s) / (secs(push_ns) + secs(drain_ns)),
			       (double)city_after.hwm_kb / 1024.0);
		}
		for (int k = 1; k < AGG_PM25; k++) {
			char e[48], g[48], label[48];
			if (expected[k] == 0 && got[k] == 0)
				continue;
			fmt_fx(expected[k], e, sizeof e);
			fmt_fx(got[k], g, sizeof g);
			snprintf(label, sizeof label, "city %s (%s)", agg_carrier_name(k), agg_carrier_unit(k));
			printf("  %-34s expected %s, got %s%s\n", label, e, g, expected[k] == got[k] ? "" : "  <-- WRONG");
		}
		printf("%s\n", exact ? "EXACT" : "NOT EXACT");
	}
	if (!exact) {
		fprintf(stderr, "ecoroll-bench: the city totals differ from the generator's (accepted %" PRIu64
				" of %" PRIu64 " readings, %" PRIu64 " rejected; probe: %" PRIu64 " of %zu, %" PRIu64
				" rejected)\n",
			accepted, readings, rejected, pr.s.accepted, pr.nsent, pr.s.rejected);
		for (int k = 1; k < AGG_PM25; k++)
			if (expected[k] != got[k])
				fprintf(stderr, "ecoroll-bench: %s: expected %" PRId64 " micro-units, got %" PRId64 "\n",
					agg_carrier_name(k), expected[k], got[k]);
	}
	for (int i = 0; i < ns; i++)
		sender_free(&s[i]);
	sender_free(&pr.s);
	free(pr.t_ns);
	free(pr.lat_ns);
	free(s);
	free(th);
	free(lat);
	pthread_barrier_destroy(&g_start);
	(void)wst;
	cleanup();
	return exact ? 0 : 1;
}
