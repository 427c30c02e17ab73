/* er.c: the shared helpers of er.h. Calendar arithmetic uses Howard
 * Hinnant's days_from_civil / civil_from_days, exact for every proleptic
 * Gregorian date; fixed point never goes through a double except at the one
 * conversion from the wire's double values. */

#include "er.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

int er_log_level = ER_LOG_INFO;

int er_grow(void *arrp, size_t n, size_t *cap, size_t elem, size_t first)
{
	void *a, *na;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	memcpy(&a, arrp, sizeof a); /* arrp is a T **: no aliasing through void ** */
	na = realloc(a, c * elem);
	if (na == NULL)
		return ER_ENOMEM;
	memcpy(arrp, &na, sizeof na);
	*cap = c;
	return 0;
}

const char *er_strerror(int err)
{
	switch (err) {
	case ER_OK: return "success";
	case ER_EINVAL: return "invalid argument or input";
	case ER_ENOMEM: return "out of memory";
	case ER_EIO: return "input/output error";
	case ER_ENOENT: return "not found";
	case ER_EEXIST: return "already exists with other contents";
	case ER_EFULL: return "full";
	case ER_EPROTO: return "protocol error";
	case ER_ERANGE: return "number out of range";
	case ER_ECOLLIDE: return "XXH3 key collision";
	case ER_ETIMEDOUT: return "timed out";
	case ER_EVERSION: return "unsupported version";
	case ER_ESTORE: return "storage error";
	case ER_EBUSY: return "resource busy";
	default: return "unknown error";
	}
}

/* ---- fixed point ---- */

int er_fx_from_double(double v, er_fx *out)
{
	if (!isfinite(v))
		return ER_ERANGE;
	if (fabs(v) > ER_FX_MAX_UNITS)
		return ER_ERANGE;
	/* llround: v * 1e6 of a 6-decimal value lands within 1e-9 of an
	 * integer, so rounding recovers the decimal the sender meant. */
	*out = (er_fx)llround(v * (double)ER_FX_SCALE);
	return 0;
}

double er_fx_to_double(er_fx v)
{
	return (double)v / (double)ER_FX_SCALE;
}

int er_fx_parse(const char *s, size_t n, er_fx *out)
{
	size_t i = 0;
	bool neg = false, digits = false;
	uint64_t ip = 0, fp = 0;
	int fd = 0;

	while (i < n && isspace((unsigned char)s[i]))
		i++;
	while (n > i && isspace((unsigned char)s[n - 1]))
		n--;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		digits = true;
		ip = ip * 10 + (uint64_t)(s[i] - '0');
		if (ip > (uint64_t)(ER_FX_MAX_UNITS))
			return ER_ERANGE;
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && isdigit((unsigned char)s[i]); i++) {
			digits = true;
			if (fd == 6) {
				if (s[i] != '0')
					return ER_ERANGE; /* finer than a micro-unit */
				continue;
			}
			fp = fp * 10 + (uint64_t)(s[i] - '0');
			fd++;
		}
	}
	if (!digits || i != n)
		return ER_EINVAL;
	for (; fd < 6; fd++)
		fp *= 10;
	int64_t v = (int64_t)(ip * (uint64_t)ER_FX_SCALE + fp);
	*out = neg ? -v : v;
	return 0;
}

size_t er_fx_format(er_fx v, char *buf, size_t cap)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t ip = mag / (uint64_t)ER_FX_SCALE, fp = mag % (uint64_t)ER_FX_SCALE;
	char frac[8];
	int n;

	if (fp == 0) {
		n = snprintf(buf, cap, "%s%llu", v < 0 ? "-" : "", (unsigned long long)ip);
	} else {
		snprintf(frac, sizeof frac, "%06llu", (unsigned long long)fp);
		for (int k = 5; k > 0 && frac[k] == '0'; k--)
			frac[k] = 0;
		n = snprintf(buf, cap, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)ip, frac);
	}
	return n < 0 ? 0 : (size_t)n;
}

uint64_t er_key(const char *code, size_t len)
{
	return XXH3_64bits(code, len);
}

/* ---- time and calendar ---- */

int64_t er_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t er_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t er_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void er_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t er_bucket_start(int64_t t, enum er_res res, int offset_s)
{
	int64_t local = t + offset_s, days, y;
	unsigned m, d;

	switch (res) {
	case ER_RES_HOUR:
		/* Hours follow the local clock, so a half-hour offset gives
		 * hours starting at :30 UTC (DOMAIN.md 2). */
		return floor_div(local, 3600) * 3600 - offset_s;
	case ER_RES_DAY:
		return floor_div(local, 86400) * 86400 - offset_s;
	case ER_RES_MONTH:
		days = floor_div(local, 86400);
		er_civil_from_days(days, &y, &m, &d);
		return er_days_from_civil(y, m, 1) * 86400 - offset_s;
	case ER_RES_YEAR:
		days = floor_div(local, 86400);
		er_civil_from_days(days, &y, &m, &d);
		return er_days_from_civil(y, 1, 1) * 86400 - offset_s;
	}
	return t;
}

int64_t er_bucket_next(int64_t start, enum er_res res, int offset_s)
{
	int64_t days, y;
	unsigned m, d;

	switch (res) {
	case ER_RES_HOUR: return start + 3600;
	case ER_RES_DAY: return start + 86400;
	case ER_RES_MONTH:
		days = floor_div(start + offset_s, 86400);
		er_civil_from_days(days, &y, &m, &d);
		if (++m > 12) {
			m = 1;
			y++;
		}
		return er_days_from_civil(y, m, 1) * 86400 - offset_s;
	case ER_RES_YEAR:
		days = floor_div(start + offset_s, 86400);
		er_civil_from_days(days, &y, &m, &d);
		return er_days_from_civil(y + 1, 1, 1) * 86400 - offset_s;
	}
	return start;
}

const char *er_res_name(enum er_res res)
{
	switch (res) {
	case ER_RES_HOUR: return "hour";
	case ER_RES_DAY: return "day";
	case ER_RES_MONTH: return "month";
	case ER_RES_YEAR: return "year";
	}
	return "?";
}

int er_res_parse(const char *s, enum er_res *out)
{
	static const char *names[] = {"hour", "day", "month", "year"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0 || (s[0] == names[i][0] && s[1] == 0)) {
			*out = (enum er_res)(i + 1);
			return 0;
		}
	}
	return ER_EINVAL;
}

static bool take_num(const char *s, size_t n, size_t *i, int digits, int *out)
{
	int v = 0;
	for (int k = 0; k < digits; k++, (*i)++) {
		if (*i >= n || !isdigit((unsigned char)s[*i]))
			return false;
		v = v * 10 + (s[*i] - '0');
	}
	*out = v;
	return true;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static int parse_zone(const char *s, size_t n, size_t *i, int *off)
{
	int sign, hh = 0, mm = 0;

	if (*i < n && (s[*i] == 'Z' || s[*i] == 'z')) {
		(*i)++;
		*off = 0;
		return 0;
	}
	if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
		return ER_EINVAL;
	sign = s[(*i)++] == '-' ? -1 : 1;
	if (!take_num(s, n, i, 2, &hh))
		return ER_EINVAL;
	if (*i < n && s[*i] == ':')
		(*i)++;
	if (*i < n && !take_num(s, n, i, 2, &mm))
		return ER_EINVAL;
	if (hh > 14 || mm > 59)
		return ER_EINVAL;
	*off = sign * (hh * 3600 + mm * 60);
	return 0;
}

int er_offset_parse(const char *s, int *out)
{
	size_t i = 0, n = strlen(s);
	if (parse_zone(s, n, &i, out) != 0 || i != n)
		return ER_EINVAL;
	return 0;
}

int er_time_parse(const char *s, size_t n, int offset_s, int64_t *out)
{
	size_t i = 0;
	int y, mo, d, hh = 0, mi = 0, ss = 0, off = offset_s;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (i == n)
		return ER_EINVAL;

	/* Epoch seconds: an optional sign and digits only. */
	size_t j = i + (s[i] == '-');
	bool all_digits = j < n;
	for (size_t k = j; k < n; k++)
		all_digits = all_digits && isdigit((unsigned char)s[k]);
	if (all_digits && n - j != 8) { /* 8 digits would be a compact date */
		if (n - j > 15)
			return ER_ERANGE;
		char tmp[24];
		memcpy(tmp, s + i, n - i);
		tmp[n - i] = 0;
		*out = strtoll(tmp, NULL, 10);
		return 0;
	}

	if (!take_num(s, n, &i, 4, &y) || i >= n || s[i++] != '-' ||
	    !take_num(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
	    !take_num(s, n, &i, 2, &d))
		return ER_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
		return ER_ERANGE;
	if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		i++;
		if (!take_num(s, n, &i, 2, &hh) || i >= n || s[i++] != ':' ||
		    !take_num(s, n, &i, 2, &mi))
			return ER_EINVAL;
		if (i < n && s[i] == ':') {
			i++;
			if (!take_num(s, n, &i, 2, &ss))
				return ER_EINVAL;
			if (i < n && (s[i] == '.' || s[i] == ',')) {
				/* Fractional seconds are truncated: ts is whole seconds. */
				for (i++; i < n && isdigit((unsigned char)s[i]); i++)
					;
			}
		}
		if (hh > 23 || mi > 59 || ss > 59)
			return ER_ERANGE;
		if (i < n && parse_zone(s, n, &i, &off) != 0)
			return ER_EINVAL;
	}
	if (i != n)
		return ER_EINVAL;
	*out = er_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss - off;
	return 0;
}

size_t er_time_format(int64_t t, int offset_s, char *buf, size_t cap)
{
	int64_t local = t + offset_s, days = floor_div(local, 86400), y;
	int64_t sod = local - days * 86400;
	unsigned m, d;
	char zone[16];
	int n;

	er_civil_from_days(days, &y, &m, &d);
	if (offset_s == 0) {
		strcpy(zone, "Z");
	} else {
		int a = offset_s < 0 ? -offset_s : offset_s;
		snprintf(zone, sizeof zone, "%c%02d:%02d", offset_s < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
	}
	n = snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d%s", (long long)y, m, d, (int)(sod / 3600),
		     (int)(sod % 3600 / 60), (int)(sod % 60), zone);
	return n < 0 ? 0 : (size_t)n;
}

int64_t er_local_day(int64_t t, int offset_s)
{
	/* t is taken apart before the offset is added, so no t overflows */
	return t / 86400 + floor_div(t % 86400 + offset_s, 86400);
}

void er_errs_add(er_errs *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (++c->nerr > c->max || c->errlen == 0 || c->errpos + 1 >= c->errlen)
		return; /* still counted, for the closing "more" line */
	char *p = c->err + c->errpos;
	size_t room = c->errlen - c->errpos;
	if (c->line > 0)
		n = snprintf(p, room, "%s%s:%u: ", c->nerr > 1 ? "\n" : "", c->path, (unsigned)c->line);
	else
		n = snprintf(p, room, "%s%s: ", c->nerr > 1 ? "\n" : "", c->path);
	if (n > 0)
		c->errpos += (size_t)n < room ? (size_t)n : room - 1;
	if (c->errpos + 1 >= c->errlen)
		return;
	va_start(ap, fmt);
	n = vsnprintf(c->err + c->errpos, c->errlen - c->errpos, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->errpos += (size_t)n < c->errlen - c->errpos ? (size_t)n : c->errlen - c->errpos - 1;
}

/* ---- files ---- */

int er_read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;
	int rc = ER_EIO;

	if (f == NULL)
		return ER_EIO;
	for (;;) {
		if (cap - n < 4096 + 1) {
			cap = cap ? cap * 2 : 4096 * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = ER_ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}

int er_lines_init(er_lines *it, char *buf, size_t len, uint32_t *nul_line)
{
	const char *nul = memchr(buf, 0, len);
	it->next = buf;
	it->line = 0;
	if (nul != NULL) {
		uint32_t n = 1;
		for (const char *p = buf; p < nul; p++)
			n += *p == '\n';
		*nul_line = n;
		return ER_EINVAL;
	}
	return 0;
}

char *er_lines_next(er_lines *it)
{
	while (it->next != NULL) {
		char *line = it->next, *nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		it->next = nl;
		it->line++;
		if (it->line == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
		    (unsigned char)line[2] == 0xBF)
			line += 3; /* a UTF-8 byte-order mark from a spreadsheet */
		const char *p = line + strspn(line, " \t\r");
		if (*p != 0 && *p != '#')
			return line;
	}
	return NULL;
}

/* ---- CSV ---- */

int er_csv_split(char *line, char **fields, int max)
{
	char *r = line, *w;
	int nf = 0;
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = 0;
	if (len == 0)
		return 0;
	for (;;) {
		if (nf == max)
			return ER_EINVAL;
		while (*r == ' ' || *r == '\t')
			r++;
		w = r;
		fields[nf++] = w;
		if (*r == '"') {
			r++;
			for (;;) {
				if (*r == 0)
					return ER_EINVAL; /* unterminated quote */
				if (*r == '"') {
					if (r[1] == '"') {
						*w++ = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				*w++ = *r++;
			}
			while (*r == ' ' || *r == '\t')
				r++;
			if (*r != ',' && *r != 0)
				return ER_EINVAL; /* text after the closing quote */
		} else {
			while (*r != ',' && *r != 0)
				*w++ = *r++;
			while (w > fields[nf - 1] && (w[-1] == ' ' || w[-1] == '\t'))
				w--;
		}
		if (*r == 0) {
			*w = 0;
			return nf;
		}
		r++; /* the comma */
		*w = 0;
	}
}

/* ---- logging ---- */

void er_log(int level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	char ts[40], msg[1024];
	va_list ap;

	if (level > er_log_level)
		return;
	er_time_format(er_now(), 0, ts, sizeof ts);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s[%d] %s: %s\n", ts, program_invocation_short_name, (int)getpid(),
		names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

/* ---- ThreadSanitizer annotations ---- */

void er_tsan_release(void *addr)
{
#if defined(__SANITIZE_THREAD__)
	__tsan_release(addr);
#else
	(void)addr;
#endif
}

void er_tsan_acquire(void *addr)
{
#if defined(__SANITIZE_THREAD__)
	__tsan_acquire(addr);
#else
	(void)addr;
#endif
}
