/* push.c: ecoroll push, readings from a CSV file to a node, exactly once.
 *
 * The input is read twice: a pre-pass hashes the bytes (XXH3-64, the job's
 * identity) and counts the valid readings, then the sending pass cuts the
 * same readings into batches as the window allows. Batches are a pure
 * function of the file, the UTC offset and the batch size: batch k holds
 * valid readings k*B .. k*B+B-1 in file order and is sent with sequence
 * number job_base + k. That is what makes a crashed push resumable: the
 * state file remembers (sender, job hash, job_base, B, offset), and the
 * server's Welcome{next_seq} says which of the job's batches are durable.
 *
 * Invariants:
 * - The state file names the job and its base sequence number on disk
 *   (written atomically, fsync'd) before the first batch of that job is
 *   sent, so no batch is ever sent under a sequence number the state does
 *   not account for.
 * - A sequence number always carries the same readings: a resumed job
 *   re-reads the file with the stored batch size and offset, and refuses a
 *   file whose content no longer matches.
 * - A batch leaves the window only when the server has said it is durable:
 *   an OK or DUPLICATE ack for it, or a Welcome whose next_seq is above it.
 * - Only one push uses a state file at a time (flock on STATE.lock).
 * The server applies a batch only when seq == high_water + 1 (go-back-N,
 * DESIGN.md "Wire protocol"), so resending is always safe: a resend of an
 * applied batch is acknowledged again and not applied twice.
 */
#include "cli.h"

#include "client.h"
#include "codec.h"
#include "er.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define CMD                "push"
#define BATCH_DEFAULT      1000   /* ~21 KB frames: amortizes the server's per-batch work, small to resend */
#define BATCH_MAX          100000 /* the server's default max_batch_readings */
#define WINDOW_DEFAULT     8      /* enough batches in flight to cover a commit interval */
#define WINDOW_MAX         4096
#define TIMEOUT_DEFAULT_MS 3000 /* well above a commit interval (200 ms) plus an fsync */
#define UNPARSED_SHOWN     20   /* the first lines that do not parse are listed, the rest counted */
#define BACKOFF_MIN_MS     100  /* UNAVAILABLE: first retry soon ... */
#define BACKOFF_MAX_MS     5000 /* ... but never hammer a full disk more than every 5 s */

static const char help_text[] =
    "usage: ecoroll push [OPTIONS] [FILE|-]\n"
    "\n"
    "Sends readings to an ecorolld ingest endpoint, exactly once. FILE (or stdin\n"
    "for '-' or no FILE) holds CSV lines 'series,time,value': series is a meter\n"
    "code or a station series (S01:pm25); time is ISO 8601 or epoch seconds (text\n"
    "without a zone is local time at --utc-offset); value is a decimal with at most\n"
    "6 decimals. An optional header 'series,time,value', '#' comments and blank\n"
    "lines are skipped. Lines that do not parse are listed on stderr (the first 20)\n"
    "as FILE:LINE: reason and are not sent.\n"
    "\n"
    "options:\n"
    "  --endpoint EP       ingest endpoint (default $ECOROLL_ENDPOINT or " CLI_ENDPOINT_DEFAULT ")\n"
    "  --sender NAME       sender name (default: generated once and kept in the state)\n"
    "  --state FILE        state file (default $ECOROLL_STATE or\n"
    "                      ~/.local/state/ecoroll/push.state); one per sender\n"
    "  --batch N           readings per batch (default 1000, at most 100000)\n"
    "  --window N          batches in flight without an ack (default 8)\n"
    "  --timeout-ms MS     reconnect when the oldest batch has no ack within MS\n"
    "                      (default 3000); push retries for ever\n"
    "  --utc-offset OFF    offset for times without a zone (default +08:00)\n"
    "  --again             push FILE again although it was pushed completely\n"
    "  --abandon           give up an unfinished push recorded in the state and\n"
    "                      start this one (the unfinished part is not sent)\n"
    "  -q, --quiet         no notes about reconnects and retries on stderr\n"
    "  -h, --help          this text\n"
    "\n"
    "Exactly once: the state file records the sender, the input's hash and the\n"
    "sequence numbers of its batches before anything is sent. Re-running push on\n"
    "the same input after a crash resumes where the server's durable data ends\n"
    "(with the batch size and offset of the first run); re-running it after it\n"
    "finished does nothing unless --again is given. Another input is refused\n"
    "while one is unfinished, unless --abandon is given.\n"
    "\n"
    "exit status:\n"
    "  0  every batch acknowledged; nothing rejected, every line parsed\n"
    "  2  usage error, or a fatal error (I/O, state, refused by the server)\n"
    "  3  every batch acknowledged, but some readings were rejected by the\n"
    "     server or some lines did not parse\n";

typedef struct opts {
	const char *endpoint, *sender, *state, *file;
	uint64_t batch, window;
	int timeout_ms, offset;
	bool batch_set, offset_set, again, abandon, quiet;
} opts;

/* ---- small helpers ---- */

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("ecoroll push: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ns(void)
{
	return er_mono_ns();
}

/* Milliseconds from now to deadline, rounded up so that a poll for that
 * long ends at or after the deadline. */
static int ms_until(uint64_t now, uint64_t deadline)
{
	return deadline > now ? (int)((deadline - now + 999999) / 1000000) : 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* mkdir -p of the directory holding path. */
static int make_parent_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return ER_EINVAL;
	memcpy(buf, path, n + 1);
	char *slash = strrchr(buf, '/');
	if (slash == NULL || slash == buf)
		return 0;
	*slash = 0;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return ER_EIO;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return ER_EIO;
	return 0;
}

/* ---- the state file ---- */

typedef struct pstate {
	char sender[256];
	bool job; /* the job_* fields below are set */
	uint64_t hash;
	char path[PATH_MAX];
	uint64_t base, batch, batches;
	int offset;
	bool done;
} pstate;

/* Missing file: an empty state. Unknown keys are skipped so that a later
 * version may add some. */
static int state_read(const char *path, pstate *st)
{
	FILE *f = fopen(path, "r");
	char line[PATH_MAX + 64];
	unsigned lineno = 0;
	bool has_hash = false;

	memset(st, 0, sizeof *st);
	st->offset = CLI_OFFSET_DEFAULT;
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		fatal("cannot read the state file %s: %s", path, strerror(errno));
		return ER_EIO;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *eq, *v, *end;
		size_t n = strlen(line);

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL)
			goto bad;
		*eq = 0;
		v = eq + 1;
		errno = 0;
		if (strcmp(line, "sender") == 0) {
			if (strlen(v) >= sizeof st->sender)
				goto bad;
			strcpy(st->sender, v);
		} else if (strcmp(line, "job_hash") == 0) {
			st->hash = strtoull(v, &end, 16);
			if (errno != 0 || *end != 0 || end == v)
				goto bad;
			has_hash = true;
		} else if (strcmp(line, "job_path") == 0) {
			if (strlen(v) >= sizeof st->path)
				goto bad;
			strcpy(st->path, v);
		} else if (strcmp(line, "job_base") == 0 || strcmp(line, "job_batch") == 0 ||
			   strcmp(line, "job_batches") == 0 || strcmp(line, "job_done") == 0) {
			uint64_t x = strtoull(v, &end, 10);
			if (errno != 0 || *end != 0 || end == v)
				goto bad;
			if (strcmp(line, "job_base") == 0)
				st->base = x;
			else if (strcmp(line, "job_batch") == 0)
				st->batch = x;
			else if (strcmp(line, "job_batches") == 0)
				st->batches = x;
			else
				st->done = x != 0;
		} else if (strcmp(line, "job_utc_offset") == 0) {
			long x = strtol(v, &end, 10);
			if (errno != 0 || *end != 0 || end == v || x < -86400 || x > 86400)
				goto bad;
			st->offset = (int)x;
		}
	}
	fclose(f);
	st->job = has_hash;
	if (st->job && (st->base == 0 || st->batch == 0 || st->batch > BATCH_MAX)) {
		fatal("the state file %s has an incomplete job record; move it away to start afresh", path);
		return ER_EINVAL;
	}
	return 0;
bad:
	fclose(f);
	fatal("%s:%u: not a key=value line of an ecoroll push state; move the file away to start afresh", path, lineno);
	return ER_EINVAL;
}

/* Atomic replace: FILE.tmp, fsync, rename, fsync the directory, so the
 * state is either the old or the new one after a crash, never a mix. */
static int state_write(const char *path, const pstate *st)
{
	char tmp[PATH_MAX + 8], text[PATH_MAX + 512], dir[PATH_MAX];
	int fd, n;
	size_t off = 0;

	n = snprintf(text, sizeof text, "# ecoroll push state; written by ecoroll %s\nsender=%s\n", ECOROLL_VERSION,
		     st->sender);
	if (st->job)
		n += snprintf(text + n, sizeof text - (size_t)n,
			      "job_hash=%016" PRIx64 "\njob_path=%s\njob_base=%" PRIu64 "\njob_batch=%" PRIu64
			      "\njob_batches=%" PRIu64 "\njob_utc_offset=%d\njob_done=%d\n",
			      st->hash, st->path, st->base, st->batch, st->batches, st->offset, st->done ? 1 : 0);
	if (n < 0 || (size_t)n >= sizeof text || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		fatal("the state file path %s is too long", path);
		return ER_EINVAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	while (off < (size_t)n) {
		ssize_t w = write(fd, text + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		goto fail;
	snprintf(dir, sizeof dir, "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	fatal("cannot write the state file %s: %s", path, strerror(errno));
	return ER_EIO;
}

/* ---- input ---- */

typedef struct input {
	FILE *f;
	const char *name;    /* in messages: the path as given, or "stdin" */
	char path[PATH_MAX]; /* in the state: the absolute path, or "-" */
	off_t size;          /* at open, to notice a file changing under us */
	struct timespec mtime;
} input;

/* stdin goes to an unlinked temporary file first, so that it can be
 * hashed before anything is sent and read again for the batches. */
static int input_open(input *in, const char *file)
{
	struct stat sb;

	memset(in, 0, sizeof *in);
	if (file == NULL || strcmp(file, "-") == 0) {
		const char *dir = getenv("TMPDIR");
		char tmpl[PATH_MAX], buf[1 << 16];
		size_t n;
		int fd;

		snprintf(tmpl, sizeof tmpl, "%s/ecoroll-push-XXXXXX", dir != NULL && dir[0] ? dir : "/tmp");
		fd = mkstemp(tmpl);
		if (fd < 0) {
			fatal("cannot make a temporary file for stdin (%s): %s", tmpl, strerror(errno));
			return ER_EIO;
		}
		unlink(tmpl);
		in->f = fdopen(fd, "w+");
		if (in->f == NULL) {
			close(fd);
			fatal("cannot use a temporary file for stdin: %s", strerror(errno));
			return ER_EIO;
		}
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
			if (fwrite(buf, 1, n, in->f) != n) {
				fatal("cannot copy stdin to a temporary file: %s", strerror(errno));
				return ER_EIO;
			}
		}
		if (ferror(stdin)) {
			fatal("cannot read stdin: %s", strerror(errno));
			return ER_EIO;
		}
		if (fflush(in->f) != 0) {
			fatal("cannot copy stdin to a temporary file: %s", strerror(errno));
			return ER_EIO;
		}
		rewind(in->f);
		in->name = "stdin";
		strcpy(in->path, "-");
	} else {
		in->f = fopen(file, "r");
		if (in->f == NULL) {
			fatal("cannot open %s: %s", file, strerror(errno));
			return ER_EIO;
		}
		in->name = file;
		if (realpath(file, in->path) == NULL)
			snprintf(in->path, sizeof in->path, "%s", file);
	}
	if (fstat(fileno(in->f), &sb) != 0) {
		fatal("cannot stat %s: %s", in->name, strerror(errno));
		return ER_EIO;
	}
	in->size = sb.st_size;
	in->mtime = sb.st_mtim;
	return 0;
}

static bool input_changed(const input *in)
{
	struct stat sb;

	if (fstat(fileno(in->f), &sb) != 0)
		return true;
	return sb.st_size != in->size || sb.st_mtim.tv_sec != in->mtime.tv_sec ||
	       sb.st_mtim.tv_nsec != in->mtime.tv_nsec;
}

static int input_hash(input *in, uint64_t *out)
{
	XXH3_state_t *s = XXH3_createState();
	char buf[1 << 16];
	size_t n;

	if (s == NULL)
		return ER_ENOMEM;
	XXH3_64bits_reset(s);
	rewind(in->f);
	while ((n = fread(buf, 1, sizeof buf, in->f)) > 0)
		XXH3_64bits_update(s, buf, n);
	*out = XXH3_64bits_digest(s);
	XXH3_freeState(s);
	if (ferror(in->f)) {
		fatal("cannot read %s: %s", in->name, strerror(errno));
		return ER_EIO;
	}
	return 0;
}

/* ---- lines to readings ---- */

typedef struct reading {
	uint64_t series;
	int64_t ts;
	double value;
} reading;

typedef struct reader {
	input *in;
	int offset;
	char *buf;
	size_t cap;
	uint64_t line;
	bool content; /* a line other than blanks and comments was seen */
} reader;

static void reader_start(reader *rd, input *in, int offset)
{
	rd->in = in;
	rd->offset = offset;
	rd->line = 0;
	rd->content = false;
	rewind(in->f);
}

static void reader_fini(reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
	rd->cap = 0;
}

/* Parses one CSV line; false with the reason in why. */
static bool parse_reading(char *line, int offset, reading *r, char *why, size_t whylen)
{
	char *f[4];
	int nf = er_csv_split(line, f, 4);
	er_fx fx, back;
	int rc;

	if (nf < 0) {
		snprintf(why, whylen, "not 3 fields (series,time,value), or an unterminated quote");
		return false;
	}
	if (nf != 3) {
		snprintf(why, whylen, "%d field%s, expected 3 (series,time,value)", nf, nf == 1 ? "" : "s");
		return false;
	}
	if (f[0][0] == 0) {
		snprintf(why, whylen, "empty series code");
		return false;
	}
	if (er_time_parse(f[1], strlen(f[1]), offset, &r->ts) != 0) {
		snprintf(why, whylen, "bad time '%.40s' (ISO 8601 or epoch seconds)", f[1]);
		return false;
	}
	rc = er_fx_parse(f[2], strlen(f[2]), &fx);
	if (rc == ER_ERANGE) {
		snprintf(why, whylen, "value '%.40s' is too large or has more than 6 decimals", f[2]);
		return false;
	}
	if (rc != 0) {
		snprintf(why, whylen, "bad number '%.40s'", f[2]);
		return false;
	}
	/* The wire carries doubles; send only what the server turns back
	 * into exactly this decimal (DESIGN.md: |v| < ~9e9 with 6 decimals). */
	r->value = er_fx_to_double(fx);
	if (er_fx_from_double(r->value, &back) != 0 || back != fx) {
		snprintf(why, whylen, "value '%.40s' has too many digits to be sent exactly", f[2]);
		return false;
	}
	r->series = er_key(f[0], strlen(f[0]));
	return true;
}

enum { RD_EOF = 0, RD_READING = 1, RD_UNPARSED = 2 };

/* RD_READING: a reading in *r (its line number in rd->line); RD_EOF: end
 * of input; RD_UNPARSED: a line that does not parse, why says why;
 * ER_EIO on a read error. */
static int reader_next(reader *rd, reading *r, char *why, size_t whylen)
{
	for (;;) {
		ssize_t n = getline(&rd->buf, &rd->cap, rd->in->f);
		char *p;

		if (n < 0) {
			if (ferror(rd->in->f)) {
				fatal("cannot read %s: %s", rd->in->name, strerror(errno));
				return ER_EIO;
			}
			return RD_EOF;
		}
		rd->line++;
		p = rd->buf;
		if (rd->line == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
		    (unsigned char)p[2] == 0xBF)
			p += 3; /* a UTF-8 byte-order mark from a spreadsheet */
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == 0 || *p == '\n' || *p == '\r' || *p == '#')
			continue;
		if (!rd->content) {
			rd->content = true;
			/* The optional header: only as the first content line. */
			char *f[4], tmp[64];
			size_t len = strlen(p);
			if (len < sizeof tmp) {
				memcpy(tmp, p, len + 1);
				if (er_csv_split(tmp, f, 4) == 3 && strcmp(f[0], "series") == 0 &&
				    strcmp(f[1], "time") == 0 && strcmp(f[2], "value") == 0)
					continue;
			}
		}
		return parse_reading(p, rd->offset, r, why, whylen) ? RD_READING : RD_UNPARSED;
	}
}

/* The pre-pass: counts the valid readings and lists the first lines that
 * do not parse. */
static int count_readings(input *in, int offset, uint64_t *valid, uint64_t *unparsed)
{
	reader rd = {0};
	reading r;
	char why[160];
	int rc;

	*valid = *unparsed = 0;
	reader_start(&rd, in, offset);
	while ((rc = reader_next(&rd, &r, why, sizeof why)) != RD_EOF) {
		if (rc == RD_READING) {
			(*valid)++;
		} else if (rc == RD_UNPARSED) {
			if (++*unparsed <= UNPARSED_SHOWN)
				fprintf(stderr, "%s:%" PRIu64 ": %s\n", in->name, rd.line, why);
		} else {
			reader_fini(&rd);
			return rc;
		}
	}
	reader_fini(&rd);
	if (*unparsed > UNPARSED_SHOWN)
		fprintf(stderr, "%s: %" PRIu64 " more lines do not parse (%" PRIu64 " in all)\n", in->name,
			*unparsed - UNPARSED_SHOWN, *unparsed);
	return 0;
}

/* The series code on one line of the input, for the summary. */
static void line_code(input *in, uint64_t want, char *out, size_t cap)
{
	char *buf = NULL, *f[4];
	size_t bcap = 0;
	uint64_t line = 0;

	out[0] = 0;
	rewind(in->f);
	while (getline(&buf, &bcap, in->f) >= 0) {
		if (++line < want)
			continue;
		if (er_csv_split(buf, f, 4) >= 1)
			snprintf(out, cap, "%s", f[0]);
		break;
	}
	free(buf);
}

/* ---- the window ---- */

typedef struct pbatch {
	uint64_t seq;
	uint8_t *frame; /* the encoded envelope, kept until durable */
	size_t len;
	uint64_t *lines; /* file line of each reading, for the reasons */
	size_t n;
	uint64_t sent_ns;
	bool acked;
} pbatch;

typedef struct tally {
	uint64_t accepted, rejected, dups, earlier;
	struct {
		uint64_t count, first_line;
	} reason[PB_R_COUNT];
} tally;

typedef struct pusher {
	const opts *o;
	input *in;
	reader rd;
	ing_client *cl;
	const char *sender;
	uint64_t base, nbatches, bsize, valid;
	uint64_t next; /* seq of the next batch to build */
	pbatch *win;   /* ring of o->window slots */
	size_t head, n;
	uint64_t *col_series; /* scratch columns for one batch */
	int64_t *col_ts;
	double *col_value;
	bool resumed, await_welcome;
	uint64_t hello_ns, retry_at_ns; /* retry_at_ns: UNAVAILABLE backoff, 0 = none */
	int backoff_ms;
	uint64_t gap_k, gap_upto; /* last GAP resend, to skip the stale GAPs after it */
	tally t;
} pusher;

static pbatch *win_at(pusher *p, size_t i)
{
	return &p->win[(p->head + i) % p->o->window];
}

static pbatch *win_find(pusher *p, uint64_t seq)
{
	if (p->n == 0 || seq < win_at(p, 0)->seq || seq - win_at(p, 0)->seq >= p->n)
		return NULL;
	return win_at(p, (size_t)(seq - win_at(p, 0)->seq));
}

static void win_pop(pusher *p)
{
	pbatch *b = win_at(p, 0);

	free(b->frame);
	b->frame = NULL;
	p->head = (p->head + 1) % p->o->window;
	p->n--;
}

static void win_pop_acked(pusher *p)
{
	while (p->n > 0 && win_at(p, 0)->acked)
		win_pop(p);
}

/* Readings in batch seq (the last one may be short). */
static uint64_t batch_len(const pusher *p, uint64_t seq)
{
	uint64_t first = (seq - p->base) * p->bsize;
	return p->valid - first < p->bsize ? p->valid - first : p->bsize;
}

static int skip_batches(pusher *p, uint64_t count)
{
	reading r;
	char why[160];

	for (uint64_t s = 0; s < count; s++) {
		for (uint64_t i = batch_len(p, p->next); i > 0;) {
			int rc = reader_next(&p->rd, &r, why, sizeof why);
			if (rc == RD_EOF) {
				fatal("%s changed while it was being pushed; run push again", p->in->name);
				return ER_EINVAL;
			}
			if (rc < 0)
				return rc;
			if (rc == RD_READING)
				i--;
		}
		p->next++;
	}
	return 0;
}

/* Reads the readings of batch p->next into a free window slot and encodes
 * it. Nothing is sent here. */
static int build_batch(pusher *p)
{
	pbatch *b = &p->win[(p->head + p->n) % p->o->window];
	uint64_t want = batch_len(p, p->next);
	pb_msg m = {.type = PB_BATCH};
	reading r;
	char why[160];
	int rc;

	for (uint64_t i = 0; i < want;) {
		rc = reader_next(&p->rd, &r, why, sizeof why);
		if (rc == RD_EOF) {
			fatal("%s changed while it was being pushed; run push again", p->in->name);
			return ER_EINVAL;
		}
		if (rc < 0)
			return rc;
		if (rc == RD_UNPARSED)
			continue; /* reported by the pre-pass */
		p->col_series[i] = r.series;
		p->col_ts[i] = r.ts;
		p->col_value[i] = r.value;
		b->lines[i] = p->rd.line;
		i++;
	}
	if (input_changed(p->in)) {
		fatal("%s changed while it was being pushed; run push again", p->in->name);
		return ER_EINVAL;
	}
	m.u.batch.sender = p->sender;
	m.u.batch.seq = p->next;
	m.u.batch.n = m.u.batch.nts = m.u.batch.nvalue = (size_t)want;
	m.u.batch.series = p->col_series;
	m.u.batch.ts = p->col_ts;
	m.u.batch.value = p->col_value;
	if ((rc = pb_encode(&m, &b->frame, &b->len)) != 0) {
		fatal("cannot encode batch %" PRIu64 ": %s", p->next, er_strerror(rc));
		return rc;
	}
	b->seq = p->next;
	b->n = (size_t)want;
	b->acked = false;
	b->sent_ns = 0;
	p->n++;
	p->next++;
	return 0;
}

/* A send that fails leaves the batch unacknowledged, so the head timeout
 * reconnects and resends it. */
static void send_batch(pusher *p, pbatch *b)
{
	b->sent_ns = now_ns();
	(void)ing_client_send(p->cl, b->frame, b->len);
}

static void resend_from(pusher *p, uint64_t seq)
{
	for (size_t i = 0; i < p->n; i++) {
		pbatch *b = win_at(p, i);
		if (b->seq >= seq && !b->acked)
			send_batch(p, b);
	}
}

static void note(const pusher *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const pusher *p, const char *fmt, ...)
{
	va_list ap;

	if (p->o->quiet)
		return;
	fputs("ecoroll push: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void hello(pusher *p)
{
	p->hello_ns = now_ns();
	p->await_welcome = true;
	(void)ing_client_hello(p->cl);
}

static void reconnect(pusher *p, const char *what)
{
	note(p, "no %s in %d ms; reconnecting to %s", what, p->o->timeout_ms, p->o->endpoint);
	if (ing_client_reconnect(p->cl) != 0)
		note(p, "cannot reconnect to %s; trying again", p->o->endpoint);
	p->retry_at_ns = 0;
	p->gap_k = p->gap_upto = 0;
	hello(p);
}

static bool fatal_status(int st)
{
	return st == PB_ST_MALFORMED || st == PB_ST_TOO_LARGE || st == PB_ST_BAD_VERSION || st == PB_ST_DENIED;
}

static void refused(const pusher *p, const pb_ack *a)
{
	const char *msg = a->message != NULL && a->message[0] ? a->message : "no detail";

	if (a->seq != 0)
		fatal("the server refused batch %" PRIu64 " of %s: %s: %s", a->seq, p->in->name,
		      pb_status_name(a->status), msg);
	else
		fatal("the server refused %s: %s: %s", p->sender, pb_status_name(a->status), msg);
	if (a->status == PB_ST_TOO_LARGE)
		fputs("ecoroll push: try a smaller --batch, with --abandon to restart this input\n", stderr);
}

/* The first Welcome of a run: where the server's durable data for this
 * sender ends. Acks that come before it are for batches of an earlier run
 * and mean nothing yet. Retries for ever: the daemon may be restarting. */
static int first_welcome(pusher *p, uint64_t *next_seq)
{
	pb_msg m;
	int rc;

	hello(p);
	for (;;) {
		uint64_t now = now_ns(), deadline = p->hello_ns + (uint64_t)p->o->timeout_ms * 1000000u;

		if (now >= deadline) {
			reconnect(p, "welcome");
			continue;
		}
		rc = ing_client_recv(p->cl, ms_until(now, deadline), &m);
		if (rc == ER_EIO) {
			reconnect(p, "welcome");
			continue;
		}
		if (rc != 0)
			continue; /* a timeout (checked above), or a frame that is not an envelope */
		if (m.type == PB_WELCOME) {
			*next_seq = m.u.welcome.next_seq;
			p->await_welcome = false;
			pb_msg_fini(&m);
			return 0;
		}
		if (m.type == PB_ACK && fatal_status(m.u.ack.status)) {
			refused(p, &m.u.ack);
			pb_msg_fini(&m);
			return ER_EPROTO;
		}
		if (m.type == PB_ACK && m.u.ack.status == PB_ST_UNAVAILABLE) {
			note(p, "the server is unavailable (%s); retrying in %d ms",
			     m.u.ack.message ? m.u.ack.message : "", p->backoff_ms);
			sleep_ms(p->backoff_ms);
			p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
			hello(p);
		}
		pb_msg_fini(&m);
	}
}

static void on_ack_ok(pusher *p, pbatch *b, const pb_ack *a)
{
	p->t.accepted += a->accepted;
	p->t.rejected += a->rejected;
	p->t.dups += a->duplicates;
	for (size_t i = 0; i < a->nreasons; i++) {
		int r = a->reasons[i].reason;
		if (r <= 0 || r >= PB_R_COUNT)
			continue;
		p->t.reason[r].count += a->reasons[i].count;
		if (a->reasons[i].first_index < b->n) {
			uint64_t line = b->lines[a->reasons[i].first_index];
			if (p->t.reason[r].first_line == 0 || line < p->t.reason[r].first_line)
				p->t.reason[r].first_line = line;
		}
	}
	b->acked = true;
}

/* One reply during the run. Returns 0, or an error when the run must stop
 * (the message has been printed). */
static int on_reply(pusher *p, const pb_msg *m)
{
	if (m->type == PB_WELCOME) {
		uint64_t ns = m->u.welcome.next_seq;
		uint64_t low = p->n > 0 ? win_at(p, 0)->seq : p->next;

		if (ns < low) {
			fatal("the server says %s's next batch is %" PRIu64 ", but it acknowledged every batch up to "
			      "%" PRIu64 ": the server lost acknowledged data (was its database replaced?)",
			      p->sender, ns, low - 1);
			return ER_EPROTO;
		}
		while (p->n > 0 && win_at(p, 0)->seq < ns) {
			if (!win_at(p, 0)->acked)
				p->t.earlier++;
			win_pop(p);
		}
		if (ns > p->next) {
			if (ns > p->base + p->nbatches) {
				fatal("the server's next batch for %s is %" PRIu64 ", beyond this job's last batch "
				      "%" PRIu64 ": is another process pushing as %s?",
				      p->sender, ns, p->base + p->nbatches - 1, p->sender);
				return ER_EPROTO;
			}
			if (!p->resumed)
				note(p,
				     "the server already holds batches %" PRIu64 "..%" PRIu64
				     " that this run did not send: is another process pushing as %s?",
				     p->next, ns - 1, p->sender);
			p->t.earlier += ns - p->next;
			int rc = skip_batches(p, ns - p->next);
			if (rc != 0)
				return rc;
		}
		p->await_welcome = false;
		p->retry_at_ns = 0;
		p->gap_k = p->gap_upto = 0;
		resend_from(p, ns);
		return 0;
	}
	if (m->type != PB_ACK)
		return 0;

	const pb_ack *a = &m->u.ack;
	pbatch *b = win_find(p, a->seq);

	switch (a->status) {
	case PB_ST_OK:
		if (b != NULL && !b->acked) {
			on_ack_ok(p, b, a);
			win_pop_acked(p);
		}
		p->backoff_ms = BACKOFF_MIN_MS;
		return 0;
	case PB_ST_DUPLICATE:
		if (b != NULL && !b->acked) {
			p->t.earlier++;
			b->acked = true;
			win_pop_acked(p);
		}
		return 0;
	case PB_ST_GAP: {
		uint64_t k = a->expected;
		if (b == NULL || b->acked)
			return 0; /* about a batch that has been acknowledged since */
		if (p->retry_at_ns != 0)
			return 0; /* the backoff's retry resends the whole window */
		if (k < win_at(p, 0)->seq) {
			fatal("the server expects batch %" PRIu64 " from %s, but it acknowledged every batch up to "
			      "%" PRIu64 ": the server lost acknowledged data (was its database replaced?)",
			      k, p->sender, win_at(p, 0)->seq - 1);
			return ER_EPROTO;
		}
		if (k == p->gap_k && a->seq <= p->gap_upto)
			return 0; /* sent before the resend this GAP asks for */
		resend_from(p, k);
		p->gap_k = k;
		p->gap_upto = p->next - 1;
		return 0;
	}
	case PB_ST_UNAVAILABLE:
		if (p->retry_at_ns == 0) {
			note(p, "the server is unavailable (%s); retrying in %d ms",
			     a->message != NULL ? a->message : "", p->backoff_ms);
			p->retry_at_ns = now_ns() + (uint64_t)p->backoff_ms * 1000000u;
			p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
		}
		return 0;
	default:
		if (fatal_status(a->status)) {
			refused(p, a);
			return ER_EPROTO;
		}
		return 0; /* a status this version does not know: nothing to act on */
	}
}

/* Sends every batch from p->next on and waits until all are durable. */
static int run(pusher *p)
{
	pb_msg m;
	int rc;

	for (;;) {
		/* Fill the window, unless the server asked us to wait or we
		 * do not yet know where it resumes. */
		while (!p->await_welcome && p->retry_at_ns == 0 && p->n < p->o->window &&
		       p->next < p->base + p->nbatches) {
			if ((rc = build_batch(p)) != 0)
				return rc;
			send_batch(p, win_at(p, p->n - 1));
		}
		if (p->n == 0 && p->next >= p->base + p->nbatches)
			return 0;

		/* The deadline is absolute and checked before every receive,
		 * so a stream of frames that change nothing cannot starve it. */
		uint64_t now = now_ns(), deadline;
		if (p->retry_at_ns != 0)
			deadline = p->retry_at_ns;
		else if (p->await_welcome)
			deadline = p->hello_ns + (uint64_t)p->o->timeout_ms * 1000000u;
		else
			deadline = win_at(p, 0)->sent_ns + (uint64_t)p->o->timeout_ms * 1000000u;
		if (now >= deadline) {
			if (p->retry_at_ns != 0) {
				p->retry_at_ns = 0;
				if (p->await_welcome)
					hello(p);
				else
					resend_from(p, 0);
			} else {
				reconnect(p, p->await_welcome ? "welcome" : "ack");
			}
			continue;
		}
		rc = ing_client_recv(p->cl, ms_until(now, deadline), &m);
		if (rc == ER_EIO) {
			reconnect(p, p->await_welcome ? "welcome" : "ack");
			continue;
		}
		if (rc != 0)
			continue; /* a timeout (checked above), or a frame that is not an envelope */
		rc = on_reply(p, &m);
		pb_msg_fini(&m);
		if (rc != 0)
			return rc;
	}
}

/* ---- summary ---- */

static void print_summary(pusher *p, uint64_t unparsed)
{
	const char *name = p->in->name;

	printf("pushed %s as %s: %" PRIu64 " readings in %" PRIu64 " batches", name, p->sender, p->valid, p->nbatches);
	if (p->nbatches > 0)
		printf(" (seq %" PRIu64 "..%" PRIu64 ")", p->base, p->base + p->nbatches - 1);
	printf("\naccepted %" PRIu64 ", rejected %" PRIu64 ", duplicates %" PRIu64 ", unparsed %" PRIu64
	       ", acknowledged earlier %" PRIu64 " batches\n",
	       p->t.accepted, p->t.rejected, p->t.dups, unparsed, p->t.earlier);
	if (p->t.rejected == 0)
		return;
	fputs("rejected:", stdout);
	const char *sep = " ";
	for (int r = 1; r < PB_R_COUNT; r++) {
		if (p->t.reason[r].count == 0)
			continue;
		printf("%s%s %" PRIu64, sep, pb_reason_name(r), p->t.reason[r].count);
		if (p->t.reason[r].first_line != 0) {
			printf(" (first: %s:%" PRIu64, name, p->t.reason[r].first_line);
			if (r == PB_R_UNKNOWN_SERIES) {
				char code[256];
				line_code(p->in, p->t.reason[r].first_line, code, sizeof code);
				printf(" '%s'", code);
			}
			putchar(')');
		}
		sep = ", ";
	}
	putchar('\n');
}

/* ---- the command ---- */

static int parse_opts(int argc, char **argv, opts *o)
{
	enum { O_ENDPOINT = 256, O_SENDER, O_STATE, O_BATCH, O_WINDOW, O_TIMEOUT, O_OFFSET, O_AGAIN, O_ABANDON };
	static const struct option lo[] = {
	    {"endpoint", required_argument, NULL, O_ENDPOINT},
	    {"sender", required_argument, NULL, O_SENDER},
	    {"state", required_argument, NULL, O_STATE},
	    {"batch", required_argument, NULL, O_BATCH},
	    {"window", required_argument, NULL, O_WINDOW},
	    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
	    {"utc-offset", required_argument, NULL, O_OFFSET},
	    {"again", no_argument, NULL, O_AGAIN},
	    {"abandon", no_argument, NULL, O_ABANDON},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t x;
	int c;

	memset(o, 0, sizeof *o);
	o->endpoint = cli_endpoint_default();
	o->batch = BATCH_DEFAULT;
	o->window = WINDOW_DEFAULT;
	o->timeout_ms = TIMEOUT_DEFAULT_MS;
	o->offset = CLI_OFFSET_DEFAULT;
	while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
		switch (c) {
		case O_ENDPOINT: o->endpoint = optarg; break;
		case O_SENDER:
			if (optarg[0] == 0 || strlen(optarg) > 255 || strchr(optarg, '\n') != NULL)
				return cli_usage_error(CMD, "--sender must be 1-255 characters without a newline");
			o->sender = optarg;
			break;
		case O_STATE: o->state = optarg; break;
		case O_BATCH:
			if (!cli_parse_u64(optarg, 1, BATCH_MAX, &x))
				return cli_usage_error(CMD, "--batch '%s' is not a number from 1 to %d", optarg,
						       BATCH_MAX);
			o->batch = x;
			o->batch_set = true;
			break;
		case O_WINDOW:
			if (!cli_parse_u64(optarg, 1, WINDOW_MAX, &x))
				return cli_usage_error(CMD, "--window '%s' is not a number from 1 to %d", optarg,
						       WINDOW_MAX);
			o->window = x;
			break;
		case O_TIMEOUT:
			if (!cli_parse_u64(optarg, 10, 3600000, &x))
				return cli_usage_error(CMD, "--timeout-ms '%s' is not a number from 10 to 3600000",
						       optarg);
			o->timeout_ms = (int)x;
			break;
		case O_OFFSET:
			if (!cli_parse_offset(optarg, &o->offset))
				return cli_usage_error(CMD, "--utc-offset '%s' is not an offset like +08:00 or -03:30",
						       optarg);
			o->offset_set = true;
			break;
		case O_AGAIN: o->again = true; break;
		case O_ABANDON: o->abandon = true; break;
		case 'q': o->quiet = true; break;
		case 'h': fputs(help_text, stdout); return -1;
		default: return cli_bad_option(CMD, c, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(CMD, "one input file at most (got '%s' and '%s')", argv[optind],
				       argv[optind + 1]);
	o->file = optind < argc ? argv[optind] : NULL;
	return 0;
}

static int state_path(const opts *o, char *buf, size_t cap)
{
	const char *env = getenv("ECOROLL_STATE"), *home = getenv("HOME");

	if (o->state != NULL)
		snprintf(buf, cap, "%s", o->state);
	else if (env != NULL && env[0] != 0)
		snprintf(buf, cap, "%s", env);
	else if (home != NULL && home[0] != 0)
		snprintf(buf, cap, "%s/.local/state/ecoroll/push.state", home);
	else {
		fatal("neither --state, $ECOROLL_STATE nor $HOME is set: where should the state file go?");
		return ER_EINVAL;
	}
	return 0;
}

int cli_push(int argc, char **argv)
{
	opts o;
	pstate st;
	input in = {0};
	pusher p;
	char spath[PATH_MAX], lpath[PATH_MAX + 8];
	uint64_t hash, unparsed = 0, next_seq = 0;
	int lockfd = -1, rc, ret = CLI_EXIT_FATAL;
	bool same, resume;

	memset(&p, 0, sizeof p);
	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	p.o = &o;
	p.in = &in;
	p.backoff_ms = BACKOFF_MIN_MS;

	/* The state: one push at a time per state file. The lock is on a
	 * file of its own because the state is replaced by rename. */
	if (state_path(&o, spath, sizeof spath) != 0)
		return CLI_EXIT_FATAL;
	if (make_parent_dirs(spath) != 0) {
		fatal("cannot create the directory of the state file %s: %s", spath, strerror(errno));
		return CLI_EXIT_FATAL;
	}
	snprintf(lpath, sizeof lpath, "%s.lock", spath);
	lockfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0) {
		fatal("cannot open the lock file %s: %s", lpath, strerror(errno));
		return CLI_EXIT_FATAL;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			fatal("another ecoroll push is using %s", spath);
		else
			fatal("cannot lock %s: %s", lpath, strerror(errno));
		goto done;
	}
	if (state_read(spath, &st) != 0)
		goto done;

	/* The sender: one per state file, generated once and kept. */
	if (o.sender != NULL && st.sender[0] != 0 && strcmp(o.sender, st.sender) != 0) {
		fatal("the state file %s belongs to sender %s; pass --state FILE to push as %s", spath, st.sender,
		      o.sender);
		goto done;
	}
	if (st.sender[0] == 0) {
		if (o.sender != NULL)
			snprintf(st.sender, sizeof st.sender, "%s", o.sender);
		else
			ing_sender_name("push", st.sender, sizeof st.sender);
		if (state_write(spath, &st) != 0)
			goto done;
	}
	p.sender = st.sender;

	/* The job: this input's hash against the one in the state. */
	if (input_open(&in, o.file) != 0 || input_hash(&in, &hash) != 0)
		goto done;
	same = st.job && st.hash == hash;
	if (same && st.done && !o.again) {
		printf("%s was already pushed completely by %s (use --again to push it again)\n", in.name, st.sender);
		ret = CLI_EXIT_OK;
		goto done;
	}
	if (st.job && !st.done && !same && !o.abandon) {
		fatal("%s holds an unfinished push of %s (batches %" PRIu64 "..%" PRIu64 " as %s);\n"
		      "finish it by running 'ecoroll push %s' again, or pass --abandon to give it up",
		      spath, strcmp(st.path, "-") == 0 ? "an input read from stdin" : st.path, st.base,
		      st.base + st.batches - 1, st.sender, strcmp(st.path, "-") == 0 ? "- < THAT-INPUT" : st.path);
		goto done;
	}
	resume = same && !st.done && !o.abandon;
	if (resume) {
		/* The batches must come out as the first run cut them. */
		if ((o.batch_set && o.batch != st.batch) || (o.offset_set && o.offset != st.offset))
			note(&p, "resuming %s with the batch size (%" PRIu64 ") and UTC offset of its first run",
			     in.name, st.batch);
		p.bsize = st.batch;
		o.offset = st.offset;
	} else {
		p.bsize = o.batch;
	}
	if (count_readings(&in, o.offset, &p.valid, &unparsed) != 0)
		goto done;
	if (input_changed(&in)) {
		fatal("%s changed while it was being read; run push again", in.name);
		goto done;
	}
	p.nbatches = (p.valid + p.bsize - 1) / p.bsize;
	if (resume && p.nbatches != st.batches) {
		fatal("%s has the hash of the unfinished push in %s but cuts into %" PRIu64 " batches, not %" PRIu64
		      "; pass --abandon to start it afresh",
		      in.name, spath, p.nbatches, st.batches);
		goto done;
	}
	if (p.nbatches == 0) {
		p.base = 0;
		print_summary(&p, unparsed);
		ret = unparsed > 0 ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
		goto done;
	}

	/* Where the server's durable data for this sender ends. */
	rc = ing_client_new(o.endpoint, p.sender, &p.cl);
	if (rc != 0) {
		fatal("cannot connect to %s as %s: %s", o.endpoint, p.sender, er_strerror(rc));
		goto done;
	}
	if (first_welcome(&p, &next_seq) != 0)
		goto done;
	if (resume) {
		if (next_seq < st.base) {
			fatal("the server's next batch for %s is %" PRIu64 ", below this job's first batch %" PRIu64
			      ": the server lost acknowledged data (was its database replaced?)",
			      p.sender, next_seq, st.base);
			goto done;
		}
		if (next_seq > st.base + st.batches) {
			fatal("the server's next batch for %s is %" PRIu64 ", beyond this job's last batch %" PRIu64
			      ": is another process pushing as %s?",
			      p.sender, next_seq, st.base + st.batches - 1, p.sender);
			goto done;
		}
		p.base = st.base;
		p.resumed = true;
	} else {
		/* No wait needed after an abandoned run: the server sends
		 * Welcome only once everything it applied is committed. */
		st.job = true;
		st.hash = hash;
		snprintf(st.path, sizeof st.path, "%s", in.path);
		st.base = next_seq;
		st.batch = p.bsize;
		st.batches = p.nbatches;
		st.offset = o.offset;
		st.done = false;
		if (state_write(spath, &st) != 0)
			goto done;
		p.base = next_seq;
	}

	p.win = calloc(o.window, sizeof *p.win);
	p.col_series = malloc(p.bsize * sizeof *p.col_series);
	p.col_ts = malloc(p.bsize * sizeof *p.col_ts);
	p.col_value = malloc(p.bsize * sizeof *p.col_value);
	if (p.win == NULL || p.col_series == NULL || p.col_ts == NULL || p.col_value == NULL)
		goto nomem;
	for (size_t i = 0; i < o.window; i++)
		if ((p.win[i].lines = malloc(p.bsize * sizeof *p.win[i].lines)) == NULL)
			goto nomem;
	reader_start(&p.rd, &in, o.offset);
	p.next = p.base;
	if (next_seq > p.base) {
		p.t.earlier = next_seq - p.base; /* durable before this run */
		if (skip_batches(&p, next_seq - p.base) != 0)
			goto done;
	}
	if (run(&p) != 0)
		goto done;

	st.done = true;
	if (state_write(spath, &st) != 0)
		goto done;
	print_summary(&p, unparsed);
	ret = p.t.rejected > 0 || unparsed > 0 ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
	goto done;
nomem:
	fatal("out of memory for a window of %" PRIu64 " batches of %" PRIu64 " readings", o.window, p.bsize);
done:
	if (p.win != NULL) {
		for (size_t i = 0; i < o.window; i++) {
			free(p.win[i].frame);
			free(p.win[i].lines);
		}
		free(p.win);
	}
	free(p.col_series);
	free(p.col_ts);
	free(p.col_value);
	reader_fini(&p.rd);
	ing_client_free(p.cl);
	if (in.f != NULL)
		fclose(in.f);
	if (lockfd >= 0)
		close(lockfd);
	fflush(stdout);
	return ret;
}
