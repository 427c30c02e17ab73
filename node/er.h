/* er.h: helpers shared by every ecoroll module: the one error space, fixed
 * point, keys, time and calendar, CSV fields and logging. Everything here is
 * thread-safe and allocation-free unless said otherwise. */
#ifndef ER_H
#define ER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One error space: 0 or one of these. er_strerror() names them. */
enum {
	ER_OK = 0,
	ER_EINVAL = -1,	   /* bad argument or bad input */
	ER_ENOMEM = -2,
	ER_EIO = -3,	   /* an OS call failed; errno has the detail */
	ER_ENOENT = -4,	   /* not found */
	ER_EEXIST = -5,	   /* already present with other contents */
	ER_EFULL = -6,	   /* a table, a map or the disk is full */
	ER_EPROTO = -7,	   /* a peer broke the protocol */
	ER_ERANGE = -8,	   /* a number outside what can be represented */
	ER_ECOLLIDE = -9,  /* two codes share one XXH3 key */
	ER_ETIMEDOUT = -10,
	ER_EVERSION = -11, /* unsupported protocol or schema version */
	ER_ESTORE = -12,   /* LMDB reported an error */
	ER_EBUSY = -13,	   /* another process holds the resource */
};

const char *er_strerror(int err);

/* Room for one more element in a growable array: arrp points at the
 * array pointer, which holds n of *cap elements of elem bytes. Doubles the
 * capacity (first when it is 0). 0, or ER_ENOMEM with the array kept. */
int er_grow(void *arrp, size_t n, size_t *cap, size_t elem, size_t first);

/* Fixed point. Physical quantities are int64 micro-units so that sums are
 * exact and independent of arrival order (DOMAIN.md 3). A double converts
 * exactly when it has at most 6 decimals and |v| < 2^53 / 10^6 (~9e9). */
typedef int64_t er_fx;
#define ER_FX_SCALE 1000000LL
#define ER_FX_MAX_UNITS 9.0e12 /* |v| above this would overflow int64 micro-units */

int er_fx_from_double(double v, er_fx *out); /* ER_ERANGE if not finite or too big */
int er_fx_parse(const char *s, size_t n, er_fx *out); /* exact decimal text */
/* Exact decimal text of v, trailing zeros trimmed ("12.5", "-0.000001", "3"). */
size_t er_fx_format(er_fx v, char *buf, size_t cap);
double er_fx_to_double(er_fx v);

/* The key of a series, an enterprise, a district or a station: XXH3-64 of
 * its code. Computed once per code and passed down (STYLE.md 9). */
uint64_t er_key(const char *code, size_t len);

/* Time. Instants are UTC seconds. Calendar buckets are in the city's fixed
 * local offset (DOMAIN.md 2), which may be negative or a half hour. */
enum er_res { ER_RES_HOUR = 1, ER_RES_DAY = 2, ER_RES_MONTH = 3, ER_RES_YEAR = 4 };
#define ER_TS_MIN 946684800LL /* 2000-01-01T00:00:00Z: older is an absurd timestamp */

int64_t er_now(void);	     /* UTC seconds, wall clock */
uint64_t er_mono_ns(void);   /* monotonic nanoseconds */
int64_t er_days_from_civil(int64_t y, unsigned m, unsigned d);
void er_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Start (UTC seconds) of the bucket of resolution res holding t. */
int64_t er_bucket_start(int64_t t, enum er_res res, int offset_s);
/* Start of the bucket after the one starting at start. */
int64_t er_bucket_next(int64_t start, enum er_res res, int offset_s);
const char *er_res_name(enum er_res res);
int er_res_parse(const char *s, enum er_res *out);
/* ISO 8601 ("2026-03-01T08:00:00Z", "...+08:00", "2026-03-01 08:00",
 * "2026-03-01" in local time) or integer epoch seconds. Text without a zone
 * is local time at offset_s. */
int er_time_parse(const char *s, size_t n, int offset_s, int64_t *out);
/* "2026-03-01T08:00:00+08:00" for t at offset_s. */
size_t er_time_format(int64_t t, int offset_s, char *buf, size_t cap);
/* "+08:00", "-03:30" or "Z" -> seconds east of UTC. */
int er_offset_parse(const char *s, int *out);

/* Reads a whole file into a malloc'd buffer with a NUL after its *len
 * bytes (a file may hold NUL bytes: *len says where it ends). ER_EIO or
 * ER_ENOMEM. */
int er_read_file(const char *path, char **out, size_t *len);

/* Lines of a CSV file read into memory, the way every table loader reads
 * them: blank lines and '#' comments skipped, a UTF-8 byte-order mark on
 * the first line dropped. Lines are cut in place. */
typedef struct er_lines {
	char *next;
	uint32_t line; /* the number of the line last returned */
} er_lines;
/* ER_EINVAL when buf[0..len) holds a NUL byte (not a text file), with
 * *nul_line its line number. */
int er_lines_init(er_lines *it, char *buf, size_t len, uint32_t *nul_line);
/* The next line that is not blank or a comment; NULL at the end. */
char *er_lines_next(er_lines *it);

/* CSV. Splits one line in place into at most max fields, honouring double
 * quotes ("a ""b""" -> a "b"); trims spaces around unquoted fields and the
 * line end. Returns the field count, or ER_EINVAL for an unterminated quote
 * or more than max fields. */
int er_csv_split(char *line, char **fields, int max);

/* The local day number (days since 1970-01-01 in the city's calendar) of
 * instant t at offset_s, without overflow for any int64 t. */
int64_t er_local_day(int64_t t, int offset_s);

/* Collects "path:line: reason" errors, newline-separated, into a caller
 * buffer, up to max of them (the rest are only counted, for a closing
 * "... and N more" line by the caller). line 0 names the whole file. The
 * table loaders share it. */
typedef struct er_errs {
	char *err;
	size_t errlen, errpos;
	int nerr, max;
	bool oom;
	const char *path;
	uint32_t line;
} er_errs;
void er_errs_add(er_errs *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logging to stderr with a timestamp; level 0 error, 1 warning, 2 info,
 * 3 debug. er_log_level is set from the config or the command line. */
enum { ER_LOG_ERROR = 0, ER_LOG_WARN = 1, ER_LOG_INFO = 2, ER_LOG_DEBUG = 3 };
extern int er_log_level;
void er_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ThreadSanitizer does not see the fences inside Concurrency Kit's inline
 * assembly; these tell it about the happens-before an epoch grace period
 * gives. They compile to nothing without -fsanitize=thread. */
void er_tsan_release(void *addr);
void er_tsan_acquire(void *addr);

#ifdef __cplusplus
}
#endif
#endif
