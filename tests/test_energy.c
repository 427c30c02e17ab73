/* test_energy.c: aggregate/energy.c, the standard coal coefficient and CO2
 * factor tables. The shipped conf/energy must hold exactly the DOMAIN.md 4
 * defaults, converted by hand to micro-units of ecoroll's units; a value
 * changes at local midnight of its valid_from whatever the city's offset;
 * an edited table gives the new value for old instants (history
 * recomputes); products and sums are exact and round half to even only
 * for display; every load error names its file and line. Fixtures are
 * computed by hand and written out in full, never derived from the code
 * under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "er.h"
#include "registry.h"
#include "energy.h"

#define H_COEF   "carrier,method,valid_from,valid_to,kgce_per_unit,unit,source\n"
#define H_CO2    "carrier,purpose,valid_from,valid_to,kgco2_per_unit,unit,source\n"
#define OK_COEF  H_COEF "coal,calorific,2000-01-01,,714.3,t,test\n"
#define OK_CO2   H_CO2 "coal,,2000-01-01,,2070,t,test\n"
#define CST      (8 * 3600)           /* China Standard Time, +08:00 */
#define NEG_HALF (-(3 * 3600 + 1800)) /* -03:30: a negative half-hour offset (DOMAIN.md 2) */
#define ERRLEN   8192

/* ---- helpers ---- */

#define MAX_DIRS 64 /* temporary directories per run; the tests make a handful */
static char *dirs[MAX_DIRS];
static int ndirs;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dirs(void)
{
	for (int i = ndirs; i > 0; i--) {
		nftw(dirs[i - 1], rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dirs[i - 1]);
	}
	ndirs = 0;
}

/* A fresh empty directory under $TMPDIR (or /tmp), removed at exit. */
static const char *tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = NULL;

	if (base == NULL || base[0] == 0)
		base = "/tmp";
	assert_true(ndirs < MAX_DIRS);
	assert_true(asprintf(&d, "%s/ecoroll-energy.XXXXXX", base) > 0);
	if (mkdtemp(d) == NULL) {
		free(d);
		fail_msg("mkdtemp under %s failed", base);
	}
	dirs[ndirs++] = d;
	return d;
}

static void write_bytes(const char *dir, const char *name, const char *text, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	write_bytes(dir, name, text, strlen(text));
}

static void remove_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

/* Writes both tables into dir (NULL: leave that file out) and loads them. */
static int load_in(const char *dir, const char *coef, const char *co2, agg_energy **e, char *err, size_t errlen)
{
	remove_file(dir, "coefficients.csv");
	remove_file(dir, "co2.csv");
	if (coef)
		write_file(dir, "coefficients.csv", coef);
	if (co2)
		write_file(dir, "co2.csv", co2);
	return agg_energy_load(dir, e, err, errlen);
}

static const char *conf_dir(void)
{
	static char buf[4096];
	const char *s = getenv("ECOROLL_SRC"); /* set by tests/run.sh */

	snprintf(buf, sizeof buf, "%s/conf/energy", s && s[0] ? s : ".");
	return buf;
}

static agg_energy *load_shipped(void)
{
	agg_energy *e = NULL;
	char err[ERRLEN];
	int rc = agg_energy_load(conf_dir(), &e, err, sizeof err);

	if (rc != 0)
		fail_msg("loading %s: %s\n%s", conf_dir(), er_strerror(rc), err);
	assert_string_equal(err, "");
	return e;
}

/* UTC seconds of an ISO 8601 instant with its zone. */
static int64_t at(const char *iso)
{
	int64_t t;
	assert_int_equal(er_time_parse(iso, strlen(iso), 0, &t), 0);
	return t;
}

static int64_t coef(const agg_energy *e, int carrier, int method, const char *iso, int offset_s)
{
	int64_t v = -1;
	int rc = agg_energy_coef(e, carrier, method, at(iso), offset_s, &v, NULL);
	if (rc != 0)
		fail_msg("coefficient of %s method %d at %s: %s", agg_carrier_name(carrier), method, iso,
			 er_strerror(rc));
	return v;
}

static int64_t factor(const agg_energy *e, int carrier, int purpose, const char *iso, int offset_s)
{
	int64_t v = -1;
	int rc = agg_energy_factor(e, carrier, purpose, at(iso), offset_s, &v, NULL);
	if (rc != 0)
		fail_msg("CO2 factor of %s purpose %d at %s: %s", agg_carrier_name(carrier), purpose, iso,
			 er_strerror(rc));
	return v;
}

static const char *fmt(agg_pico v, int shift, int decimals)
{
	static char buf[8][128]; /* a few results alive at once, for one assert */
	static int k;
	char *b = buf[k++ % 8];
	agg_pico_format(v, shift, decimals, b, 128);
	return b;
}

/* An __int128 as exact decimal digits, for messages that show both sides. */
static void assert_pico_equal(agg_pico got, agg_pico want)
{
	if (got != want)
		fail_msg("got %s, want %s", fmt(got, -12, 0), fmt(want, -12, 0));
}

static int count_lines(const char *s)
{
	int n = s[0] != 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, hay);
}

/* ---- the shipped tables ---- */

static void test_shipped_coefficients(void **state)
{
	(void)state;
	agg_energy *e = load_shipped();
	const char *when = "2026-06-01T12:00:00+08:00";
	const char *src = NULL;
	int64_t v = 0;

	/* GB/T 2589-2020 Appendix A (DOMAIN.md 4), per ecoroll unit. */
	assert_int_equal(coef(e, AGG_ELECTRICITY, AGG_CALORIFIC, when, CST), 122900);  /* 0.1229 kgce/kWh */
	assert_int_equal(coef(e, AGG_ELECTRICITY, AGG_EQUIVALENT, when, CST), 300000); /* 0.30 kgce/kWh */
	assert_int_equal(coef(e, AGG_WATER, AGG_CALORIFIC, when, CST), 85700);         /* 0.0857 kgce/t, t = m3 */
	assert_int_equal(coef(e, AGG_HEAT, AGG_CALORIFIC, when, CST), 34120000);       /* 0.03412 kgce/MJ x 1000 */
	assert_int_equal(coef(e, AGG_STEAM, AGG_CALORIFIC, when, CST), 128600000);     /* 0.1286 kgce/kg x 1000 */
	assert_int_equal(coef(e, AGG_GAS, AGG_CALORIFIC, when, CST), 1214300);         /* 1.2143 kgce/m3 */
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, when, CST), 714300000);      /* 0.7143 kgce/kg x 1000 */
	assert_int_equal(coef(e, AGG_OIL, AGG_CALORIFIC, when, CST), 1428600000);      /* 1.4286 kgce/kg x 1000 */
	assert_int_equal(coef(e, AGG_PV, AGG_CALORIFIC, when, CST), 122900);           /* own PV at 0.1229 kgce/kWh */

	/* One open-ended row each from 2000-01-01 local: in force then and
	 * far in the future, not the second before. */
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2000-01-01T00:00:00+08:00", CST), 714300000);
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2199-12-31T23:59:59+08:00", CST), 714300000);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, at("1999-12-31T23:59:59+08:00"), CST, &v, NULL),
			 ER_ENOENT);

	/* The equivalent value is electricity's only; power is a level. */
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_EQUIVALENT, at(when), CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_coef(e, AGG_PV, AGG_EQUIVALENT, at(when), CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_coef(e, AGG_POWER, AGG_CALORIFIC, at(when), CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_coef(e, AGG_PM25, AGG_CALORIFIC, at(when), CST, &v, NULL), ER_ENOENT);

	/* Every row says where it comes from. */
	for (int c = AGG_ELECTRICITY; c <= AGG_PV; c++) {
		src = NULL;
		assert_int_equal(agg_energy_coef(e, c, AGG_CALORIFIC, at(when), CST, &v, &src), 0);
		assert_non_null(src);
		assert_contains(src, "GB/T 2589-2020");
	}
	assert_int_equal(agg_energy_coef(e, AGG_ELECTRICITY, AGG_EQUIVALENT, at(when), CST, &v, &src), 0);
	assert_contains(src, "equivalent");
	agg_energy_free(e);
}

static void test_shipped_factors(void **state)
{
	(void)state;
	agg_energy *e = load_shipped();
	const char *when = "2026-06-01T12:00:00+08:00";
	const char *src = NULL;
	int64_t v = 0;

	/* DOMAIN.md 4 defaults, per ecoroll unit. */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, when, CST), 530600);      /* 2023: 0.5306 kgCO2/kWh */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FEEDSTOCK, when, CST), 530600); /* no feedstock row */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_RENEWABLE, when, CST), 0);      /* green power */
	assert_int_equal(factor(e, AGG_GAS, AGG_FUEL, when, CST), 2162000);             /* 2.162 kgCO2/m3 */
	assert_int_equal(factor(e, AGG_HEAT, AGG_FUEL, when, CST), 110000000);          /* 0.11 kgCO2/MJ x 1000 */
	assert_int_equal(factor(e, AGG_COAL, AGG_FUEL, when, CST), 2070000000);         /* 2.07 tCO2/t */
	assert_int_equal(factor(e, AGG_COAL, AGG_FEEDSTOCK, when, CST), 2070000000);    /* the carrier's factor */
	assert_int_equal(factor(e, AGG_OIL, AGG_FUEL, when, CST), 3150000000);          /* diesel 3.15 tCO2/t */
	assert_int_equal(factor(e, AGG_PV, AGG_RENEWABLE, when, CST), 0);               /* own renewable: 0 */
	assert_int_equal(factor(e, AGG_PV, AGG_FUEL, when, CST), 0);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2022-06-01T00:00:00+08:00", CST), 536600);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2015-06-01T00:00:00+08:00", CST), 536600);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_RENEWABLE, "2015-06-01T00:00:00+08:00", CST), 0);

	/* No default: steam and water must be configured. */
	assert_int_equal(agg_energy_factor(e, AGG_STEAM, AGG_FUEL, at(when), CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_factor(e, AGG_WATER, AGG_FUEL, at(when), CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_factor(e, AGG_POWER, AGG_FUEL, at(when), CST, &v, NULL), ER_ENOENT);

	assert_int_equal(agg_energy_factor(e, AGG_OIL, AGG_FUEL, at(when), CST, &v, &src), 0);
	assert_contains(src, "iesel");
	/* Before 2022 the 2022 value stands in, and says so. */
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, at("2021-12-31T15:59:59Z"), CST, &v, &src), 0);
	assert_int_equal(v, 536600);
	assert_contains(src, "earlier years");
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, at("2021-12-31T16:00:00Z"), CST, &v, &src), 0);
	assert_int_equal(v, 536600);
	assert_null(strstr(src, "earlier years"));
	agg_energy_free(e);
}

/* The 2023 grid factor starts at local midnight of 2023-01-01, wherever
 * the city is (DOMAIN.md 2: negative and half-hour offsets). */
static void test_co2_switch_at_local_midnight(void **state)
{
	(void)state;
	agg_energy *e = load_shipped();

	/* +08:00: local midnight is 2022-12-31T16:00:00Z. */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2022-12-31T15:59:59Z", CST), 536600);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2022-12-31T16:00:00Z", CST), 530600);
	/* -03:30: local midnight is 2023-01-01T03:30:00Z. */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2023-01-01T03:29:59Z", NEG_HALF), 536600);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2023-01-01T03:30:00Z", NEG_HALF), 530600);
	/* The same instants in UTC: the offset decides. */
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2022-12-31T16:00:00Z", 0), 536600);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2023-01-01T00:00:00Z", 0), 530600);
	/* Before 1970 and near the int64 ends the day arithmetic still floors
	 * and never overflows. */
	int64_t v = 0;
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, -1, CST, &v, NULL), ER_ENOENT);
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, INT64_MAX, CST, &v, NULL), 0);
	assert_int_equal(v, 530600);
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, INT64_MIN, NEG_HALF, &v, NULL), ER_ENOENT);
	agg_energy_free(e);
}

/* ---- effective dating ---- */

static void test_coefficient_change_recomputes(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	agg_energy *v1 = NULL, *v2 = NULL;
	char err[ERRLEN];
	const er_fx ten_t = 10000000; /* 10 t of raw coal */
	const char *june = "2025-06-30T23:59:59+08:00", *july = "2025-07-01T00:00:00+08:00";

	assert_int_equal(load_in(dir, OK_COEF, OK_CO2, &v1, err, sizeof err), 0);
	assert_int_equal(coef(v1, AGG_COAL, AGG_CALORIFIC, july, CST), 714300000);
	assert_string_equal(fmt(agg_pico_mul(ten_t, coef(v1, AGG_COAL, AGG_CALORIFIC, july, CST)), 3, 4), "7.1430");

	/* The office revises raw coal to 700 kgce/t from 2025-07-01. */
	assert_int_equal(load_in(dir,
				 H_COEF "coal,calorific,2000-01-01,2025-07-01,714.3,t,\"GB/T 2589-2020, raw coal\"\n"
					"coal,calorific,2025-07-01,,700,t,measured calorific value 2025\n",
				 OK_CO2, &v2, err, sizeof err),
			 0);
	assert_int_equal(coef(v2, AGG_COAL, AGG_CALORIFIC, june, CST), 714300000);
	assert_int_equal(coef(v2, AGG_COAL, AGG_CALORIFIC, july, CST), 700000000);
	/* The same stored quantity, read again: June keeps its value, July
	 * follows the new coefficient. */
	assert_string_equal(fmt(agg_pico_mul(ten_t, coef(v2, AGG_COAL, AGG_CALORIFIC, june, CST)), 3, 4), "7.1430");
	assert_string_equal(fmt(agg_pico_mul(ten_t, coef(v2, AGG_COAL, AGG_CALORIFIC, july, CST)), 3, 4), "7.0000");
	const char *src = NULL;
	int64_t v = 0;
	assert_int_equal(agg_energy_coef(v2, AGG_COAL, AGG_CALORIFIC, at(july), CST, &v, &src), 0);
	assert_string_equal(src, "measured calorific value 2025");
	assert_int_equal(agg_energy_coef(v2, AGG_COAL, AGG_CALORIFIC, at(june), CST, &v, &src), 0);
	assert_string_equal(src, "GB/T 2589-2020, raw coal");
	/* A different table has a different version. */
	assert_string_not_equal(agg_energy_version(v1), agg_energy_version(v2));
	agg_energy_free(v1);
	agg_energy_free(v2);
}

static void test_purpose_precedence_and_gaps(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	agg_energy *e = NULL;
	char err[ERRLEN];
	const char *src = NULL;
	int64_t v = 0;

	int rc = load_in(dir,
			 H_COEF "coal,calorific,2000-01-01,2010-01-01,714.3,t,a\n"
				"coal,calorific,2011-01-01,,700,t,b\n"
				/* methods are separate keys: they may overlap */
				"electricity,equivalent,2000-01-01,,0.30,kWh,eq\n"
				"electricity,calorific,2000-01-01,,0.1229,kWh,cal\n",
			 H_CO2 "electricity,,2000-01-01,,0.5,kWh,any\n"
			       "electricity,feedstock,2024-01-01,2025-01-01,0.7,kWh,feed\n"
			       "coal,,2000-01-01,2020-01-01,2000,t,old\n"
			       "coal,,2020-01-01,,2070,t,new\n",
			 &e, err, sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	/* The purpose row wins while it is in force, then the any-purpose
	 * row takes over again. */
	assert_int_equal(
	    agg_energy_factor(e, AGG_ELECTRICITY, AGG_FEEDSTOCK, at("2024-03-01T00:00:00+08:00"), CST, &v, &src), 0);
	assert_int_equal(v, 700000);
	assert_string_equal(src, "feed");
	assert_int_equal(
	    agg_energy_factor(e, AGG_ELECTRICITY, AGG_FEEDSTOCK, at("2025-01-01T00:00:00+08:00"), CST, &v, &src), 0);
	assert_int_equal(v, 500000);
	assert_string_equal(src, "any");
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FEEDSTOCK, "2024-12-31T23:59:59+08:00", CST), 700000);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FEEDSTOCK, "2023-12-31T23:59:59+08:00", CST), 500000);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_FUEL, "2024-03-01T00:00:00+08:00", CST), 500000);
	assert_int_equal(factor(e, AGG_ELECTRICITY, AGG_RENEWABLE, "2024-03-01T00:00:00+08:00", CST), 500000);
	/* Adjacent rows: valid_to is exclusive. */
	assert_int_equal(factor(e, AGG_COAL, AGG_FUEL, "2019-12-31T23:59:59+08:00", CST), 2000000000);
	assert_int_equal(factor(e, AGG_COAL, AGG_FUEL, "2020-01-01T00:00:00+08:00", CST), 2070000000);
	/* A gap: no coefficient in 2010. */
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2009-12-31T23:59:59+08:00", CST), 714300000);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, at("2010-01-01T00:00:00+08:00"), CST, &v, NULL),
			 ER_ENOENT);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, at("2010-12-31T23:59:59+08:00"), CST, &v, NULL),
			 ER_ENOENT);
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2011-01-01T00:00:00+08:00", CST), 700000000);
	assert_int_equal(coef(e, AGG_ELECTRICITY, AGG_EQUIVALENT, "2011-01-01T00:00:00+08:00", CST), 300000);
	assert_int_equal(coef(e, AGG_ELECTRICITY, AGG_CALORIFIC, "2011-01-01T00:00:00+08:00", CST), 122900);
	/* Carriers with no rows at all. */
	assert_int_equal(agg_energy_coef(e, AGG_GAS, AGG_CALORIFIC, at("2011-01-01T00:00:00Z"), CST, &v, NULL),
			 ER_ENOENT);
	assert_int_equal(agg_energy_factor(e, AGG_GAS, AGG_FUEL, at("2011-01-01T00:00:00Z"), CST, &v, NULL), ER_ENOENT);
	agg_energy_free(e);
}

/* Spreadsheet output: a byte-order mark, CRLF, quotes, comments, blank
 * lines, trailing zeros past the sixth decimal. */
static void test_lenient_text(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	agg_energy *e = NULL;
	char err[ERRLEN];

	int rc = load_in(dir,
			 "\xEF\xBB\xBF# exported\r\n" H_COEF "\r\n"
			 "\"electricity\",calorific,2000-01-01,,0.12290000,kWh,\"GB/T 2589-2020, \"\"A\"\"\"\r\n"
			 "   \r\n# end\r\n",
			 H_CO2, &e, err, sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	const char *src = NULL;
	int64_t v = 0;
	assert_int_equal(agg_energy_coef(e, AGG_ELECTRICITY, AGG_CALORIFIC, 1800000000, CST, &v, &src), 0);
	assert_int_equal(v, 122900);
	assert_string_equal(src, "GB/T 2589-2020, \"A\"");
	/* A header-only table is valid and has no factors. */
	assert_int_equal(agg_energy_factor(e, AGG_ELECTRICITY, AGG_FUEL, 1800000000, CST, &v, NULL), ER_ENOENT);
	agg_energy_free(e);
}

/* ---- exact arithmetic ---- */

static void test_exact_products_and_sums(void **state)
{
	(void)state;
	agg_energy *e = load_shipped();
	const char *when = "2026-06-01T12:00:00+08:00";
	er_fx qty, a, b, c;

	assert_int_equal(er_fx_parse("12345.678901", 12, &qty), 0);
	assert_int_equal(qty, 12345678901);
	int64_t k = coef(e, AGG_ELECTRICITY, AGG_CALORIFIC, when, CST);
	/* 12345.678901 kWh x 0.1229 kgce/kWh = 1517.2839369329 kgce: by hand,
	 * 12345678901 x 1229 = 15172839369329, x 100. */
	agg_pico p = agg_pico_mul(qty, k);
	assert_pico_equal(p, (agg_pico)1517283936932900LL);
	assert_string_equal(fmt(p, 3, 4), "1.5173");             /* tce */
	assert_string_equal(fmt(p, 3, 15), "1.517283936932900"); /* every digit there is */
	assert_string_equal(fmt(p, 0, 2), "1517.28");            /* kgce */

	/* Three meters that add up to the same quantity: the sum of their
	 * products is the product of the sum, to the last 1e-12 kgce. */
	assert_int_equal(er_fx_parse("3000.4", 6, &a), 0);
	assert_int_equal(er_fx_parse("3000.4", 6, &b), 0);
	assert_int_equal(er_fx_parse("6344.878901", 11, &c), 0);
	assert_int_equal(a + b + c, qty);
	agg_pico parts = agg_pico_mul(a, k) + agg_pico_mul(b, k) + agg_pico_mul(c, k);
	agg_pico other = agg_pico_mul(c, k) + agg_pico_mul(a, k) + agg_pico_mul(b, k);
	assert_pico_equal(parts, p);
	assert_pico_equal(other, p);
	/* Rounding each part first would not add up: 0.3687 + 0.3687 +
	 * 0.7798 = 1.5172 tce, not 1.5173 (why only display rounds). */
	assert_string_equal(fmt(agg_pico_mul(a, k), 3, 4), "0.3687");
	assert_string_equal(fmt(agg_pico_mul(b, k), 3, 4), "0.3687");
	assert_string_equal(fmt(agg_pico_mul(c, k), 3, 4), "0.7798");

	/* A mixed total: 1 t raw coal + 1 GJ heat = 714.3 + 34.12 kgce. */
	agg_pico mix = agg_pico_mul(1000000, coef(e, AGG_COAL, AGG_CALORIFIC, when, CST)) +
		       agg_pico_mul(1000000, coef(e, AGG_HEAT, AGG_CALORIFIC, when, CST));
	assert_string_equal(fmt(mix, 3, 5), "0.74842");
	/* CO2: 1000 kWh in 2026 x 0.5306 = 530.6 kgCO2 = 0.5306 tCO2. */
	assert_string_equal(fmt(agg_pico_mul(1000000000, factor(e, AGG_ELECTRICITY, AGG_FUEL, when, CST)), 3, 4),
			    "0.5306");
	/* Negative quantities (a correction) stay exact. */
	assert_pico_equal(agg_pico_mul(-qty, k), -(agg_pico)1517283936932900LL);

	/* The extremes of int64 x int64 fit: INT64_MAX micro-t of oil at
	 * 1428.6 kgce/t, and INT64_MIN x INT64_MAX (python: exact). */
	assert_string_equal(fmt(agg_pico_mul(INT64_MAX, 1428600000), -12, 0), "13176509291850732717880200000");
	assert_string_equal(fmt(agg_pico_mul(INT64_MIN, INT64_MAX), -12, 0), "-85070591730234615856620279821087277056");
	agg_energy_free(e);
}

static void test_format_half_even(void **state)
{
	(void)state;
	/* tce from pico-kgce, 4 decimals: 0.00025 tce = 2.5e11 pico-kgce.
	 * GB/T 8170: a tie goes to the even digit. */
	assert_string_equal(fmt(250000000000LL, 3, 4), "0.0002");
	assert_string_equal(fmt(350000000000LL, 3, 4), "0.0004");
	assert_string_equal(fmt(150000000000LL, 3, 4), "0.0002");
	assert_string_equal(fmt(450000000000LL, 3, 4), "0.0004");
	assert_string_equal(fmt(950000000000LL, 3, 4), "0.0010");
	/* Not a tie: anything past the 5 rounds up, anything short down. */
	assert_string_equal(fmt(250000000001LL, 3, 4), "0.0003");
	assert_string_equal(fmt(249999999999LL, 3, 4), "0.0002");
	/* Negatives round by magnitude. */
	assert_string_equal(fmt(-250000000000LL, 3, 4), "-0.0002");
	assert_string_equal(fmt(-350000000000LL, 3, 4), "-0.0004");
	assert_string_equal(fmt(-250000000001LL, 3, 4), "-0.0003");
	assert_string_equal(fmt(-15172839369329000LL, 3, 4), "-15.1728");
	/* Zero, and what rounds to it, has no sign. */
	assert_string_equal(fmt(0, 3, 4), "0.0000");
	assert_string_equal(fmt(-1, 3, 4), "0.0000");
	assert_string_equal(fmt(-50000000000LL, 3, 4), "0.0000"); /* -0.00005: tie to 0 */
	/* No decimals: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 (kgce, shift 0). */
	assert_string_equal(fmt(2500000000000LL, 0, 0), "2");
	assert_string_equal(fmt(3500000000000LL, 0, 0), "4");
	assert_string_equal(fmt(-2500000000000LL, 0, 0), "-2");
	assert_string_equal(fmt(12345000000000000LL, 0, 0), "12345");
	/* Every digit, and more decimals than there are digits. */
	assert_string_equal(fmt(1, 0, 12), "0.000000000001");
	assert_string_equal(fmt(7, -12, 2), "7.00");
	assert_string_equal(fmt(-7, -12, 2), "-7.00");
	assert_string_equal(fmt(1, 0, 14), "0.00000000000100");
	/* The ends of __int128. */
	agg_pico max = (agg_pico)(((unsigned __int128)1 << 127) - 1), min = -max - 1;
	assert_string_equal(fmt(max, -12, 0), "170141183460469231731687303715884105727");
	assert_string_equal(fmt(min, -12, 0), "-170141183460469231731687303715884105728");
	assert_string_equal(fmt(max, 26, 0), "2"); /* 1.70e38 / 1e38 */
	assert_string_equal(fmt(min, 26, 1), "-1.7");
	assert_string_equal(fmt(max, 38, 0), "0"); /* beyond 10^38 */
	assert_string_equal(fmt(min, 38, 3), "0.000");

	/* snprintf manners: the whole length back, a NUL always. */
	char small[4];
	assert_int_equal(agg_pico_format(1517283936932900LL, 3, 4, small, sizeof small), 6);
	assert_string_equal(small, "1.5");
	assert_int_equal(agg_pico_format(1517283936932900LL, 3, 4, NULL, 0), 6);
	/* Bad arguments: nothing. */
	char buf[16] = "x";
	assert_int_equal(agg_pico_format(1, 3, -1, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(agg_pico_format(1, 39, 0, buf, sizeof buf), 0);
	assert_int_equal(agg_pico_format(1, -13, 0, buf, sizeof buf), 0);
	assert_int_equal(agg_pico_format(1, 0, 39, buf, sizeof buf), 0);
}

/* ---- load errors ---- */

struct bad {
	const char *coef, *co2; /* NULL: the minimal good table */
	const char *where;      /* "/file:line: " */
	const char *reason;
};

static const struct bad bad_files[] = {
    {"carrier,method,valid_from,valid_to,kgce,unit,source\n", NULL,
     "/coefficients.csv:1: ", "header must be 'carrier,method,valid_from,valid_to,kgce_per_unit,unit,source'"},
    {"", NULL, "/coefficients.csv:1: ", "no header line"},
    {"# nothing but a comment\n\n", NULL, "/coefficients.csv:1: ", "no header line"},
    {NULL, H_COEF, "/co2.csv:1: ", "header must be 'carrier,purpose,"},
    {H_COEF "# a comment\n\nsteel,calorific,2000-01-01,,1,t,s\n", NULL,
     "/coefficients.csv:4: ", "unknown carrier 'steel'"},
    {H_COEF "power,calorific,2000-01-01,,1,kW,s\n", NULL, "/coefficients.csv:2: ", "power is a level"},
    {H_COEF "pm25,calorific,2000-01-01,,1,ug/m3,s\n", NULL, "/coefficients.csv:2: ", "'pm25' is not an energy carrier"},
    {H_COEF "coal,calorific,2000-01-01,,0.7143,kg,s\n", NULL,
     "/coefficients.csv:2: ", "unit 'kg' is not coal's unit t"},
    {H_COEF "heat,calorific,2000-01-01,,0.03412,MJ,s\n", NULL,
     "/coefficients.csv:2: ", "unit 'MJ' is not heat's unit GJ"},
    {H_COEF "coal,lower,2000-01-01,,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "method 'lower' is not calorific or equivalent"},
    {H_COEF "coal,,2000-01-01,,714.3,t,s\n", NULL, "/coefficients.csv:2: ", "method '' is not"},
    {H_COEF "coal,equivalent,2000-01-01,,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "method equivalent applies to electricity only, not coal"},
    {H_COEF "coal,calorific,2023/01/01,,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_from '2023/01/01' is not a date"},
    {H_COEF "coal,calorific,2023-02-29,,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_from '2023-02-29' is not a date"},
    {H_COEF "coal,calorific,2023-01-01T00:00,,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_from '2023-01-01T00:00' is not a date"},
    {H_COEF "coal,calorific,1672502400,,714.3,t,s\n", NULL, "/coefficients.csv:2: ", "is not a date"},
    {H_COEF "coal,calorific,,,714.3,t,s\n", NULL, "/coefficients.csv:2: ", "valid_from is empty"},
    {H_COEF "coal,calorific,2023-01-01,2023-13-01,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_to '2023-13-01' is not a date"},
    {H_COEF "coal,calorific,2023-01-01,2023-01-01,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_to 2023-01-01 is not after valid_from 2023-01-01"},
    {H_COEF "coal,calorific,2023-01-01,2022-01-01,714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "valid_to 2022-01-01 is not after valid_from 2023-01-01"},
    {H_COEF "coal,calorific,2000-01-01,,-714.3,t,s\n", NULL,
     "/coefficients.csv:2: ", "kgce_per_unit '-714.3' is negative"},
    {H_COEF "coal,calorific,2000-01-01,,-0,t,s\n", NULL, "/coefficients.csv:2: ", "is negative"},
    {H_COEF "coal,calorific,2000-01-01,,abc,t,s\n", NULL,
     "/coefficients.csv:2: ", "kgce_per_unit 'abc' is not a decimal number"},
    {H_COEF "coal,calorific,2000-01-01,,7.143e2,t,s\n", NULL, "/coefficients.csv:2: ", "is not a decimal number"},
    {H_COEF "coal,calorific,2000-01-01,,,t,s\n", NULL,
     "/coefficients.csv:2: ", "kgce_per_unit '' is not a decimal number"},
    {H_COEF "electricity,calorific,2000-01-01,,0.1229001,kWh,s\n", NULL,
     "/coefficients.csv:2: ", "kgce_per_unit '0.1229001' has more than 6 decimals"},
    {H_COEF "coal,calorific,2000-01-01,,99999999999999,t,s\n", NULL,
     "/coefficients.csv:2: ", "is not a decimal number in range"},
    {H_COEF "coal,calorific,2000-01-01,,714.3,t,\n", NULL, "/coefficients.csv:2: ", "source is empty"},
    {H_COEF "coal,calorific,2000-01-01,,714.3,t\n", NULL, "/coefficients.csv:2: ", "6 fields, expected 7"},
    {H_COEF "coal,calorific,2000-01-01,,714.3,t,s,x\n", NULL, "/coefficients.csv:2: ", "8 fields, expected 7"},
    {H_COEF "coal,calorific,2000-01-01,,714.3,t,\"s\n", NULL, "/coefficients.csv:2: ", "malformed CSV"},
    {H_COEF "coal,calorific,2000-01-01,2024-01-01,714.3,t,a\n"
	    "coal,calorific,2023-06-01,,700,t,b\n",
     NULL, "/coefficients.csv:3: ", "[2023-06-01, open) overlaps line 2 [2000-01-01, 2024-01-01) for coal calorific"},
    {H_COEF "coal,calorific,2000-01-01,,714.3,t,a\n"
	    "gas,calorific,2000-01-01,,1.2143,m3,b\n"
	    "coal,calorific,2010-01-01,2011-01-01,700,t,c\n",
     NULL, "/coefficients.csv:4: ", "[2010-01-01, 2011-01-01) overlaps line 2 [2000-01-01, open)"},
    {H_COEF "electricity,equivalent,2020-01-01,2021-01-01,0.30,kWh,a\n"
	    "electricity,equivalent,2020-12-31,2022-01-01,0.29,kWh,b\n",
     NULL, "/coefficients.csv:3: ", "for electricity equivalent"},
    {NULL, H_CO2 "electricity,industrial,2000-01-01,,0.5,kWh,s\n",
     "/co2.csv:2: ", "purpose 'industrial' is not fuel, feedstock, renewable or empty (any purpose)"},
    {NULL, H_CO2 "power,,2000-01-01,,0.5,kW,s\n",
     "/co2.csv:2: ", "power is a level (kW), not an amount of energy: it has no CO2 factor"},
    {NULL, H_CO2 "heat,,2000-01-01,,0.11,MJ,s\n", "/co2.csv:2: ", "unit 'MJ' is not heat's unit GJ"},
    {NULL, H_CO2 "gas,,2000-01-01,,-2.162,m3,s\n", "/co2.csv:2: ", "kgco2_per_unit '-2.162' is negative"},
    {NULL, H_CO2 "gas,,2000-01-01,,2.1620001,m3,s\n",
     "/co2.csv:2: ", "kgco2_per_unit '2.1620001' has more than 6 decimals"},
    {NULL, H_CO2 "gas,fuel,2000-01-01,,2.162,m3,s\nwater,,2000-01-01,,0,m3,s\ngas,fuel,2020-01-01,,2.2,m3,s\n",
     "/co2.csv:4: ", "overlaps line 2 [2000-01-01, open) for gas fuel"},
    {NULL, H_CO2 "gas,,2000-01-01,,2.162,m3,s\ngas,,1999-01-01,2000-01-02,2.2,m3,s\n",
     "/co2.csv:3: ", "overlaps line 2 [2000-01-01, open) for gas any purpose"},
};

static void test_load_errors(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN];

	for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		const struct bad *b = &bad_files[i];
		agg_energy *e = (agg_energy *)&err; /* must come back NULL */
		int rc = load_in(dir, b->coef ? b->coef : OK_COEF, b->co2 ? b->co2 : OK_CO2, &e, err, sizeof err);
		if (rc != ER_EINVAL || e != NULL || strstr(err, b->where) == NULL || strstr(err, b->reason) == NULL ||
		    count_lines(err) != 1)
			fail_msg("case %zu: rc %d (%s), want ER_EINVAL with one line '...%s...%s...'; got:\n%s", i, rc,
				 er_strerror(rc), b->where, b->reason, err);
		/* the message starts with the file's path */
		assert_int_equal(strncmp(err, dir, strlen(dir)), 0);
	}
}

/* What must load: the edges of the rules above. */
static void test_load_accepts(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN];
	agg_energy *e = NULL;
	int64_t v = 0;

	static const char *const good_coef[] = {
	    /* adjacent rows: valid_to is exclusive */
	    H_COEF "coal,calorific,2000-01-01,2025-07-01,714.3,t,a\ncoal,calorific,2025-07-01,,700,t,b\n",
	    /* the same dates under another method or carrier */
	    H_COEF "electricity,calorific,2000-01-01,,0.1229,kWh,a\nelectricity,equivalent,2000-01-01,,0.3,kWh,b\n"
		   "pv,calorific,2000-01-01,,0.1229,kWh,c\n",
	    /* zero and "+", leap day, trailing zeros past the sixth decimal */
	    H_COEF "water,calorific,2024-02-29,,0,m3,a\ngas,calorific,2000-01-01,,+1.214300000,m3,b\n",
	    /* rows in any order */
	    H_COEF "coal,calorific,2025-07-01,,700,t,b\ncoal,calorific,2000-01-01,2025-07-01,714.3,t,a\n",
	};
	for (size_t i = 0; i < sizeof good_coef / sizeof good_coef[0]; i++) {
		int rc = load_in(dir, good_coef[i], OK_CO2, &e, err, sizeof err);
		if (rc != 0)
			fail_msg("case %zu: %s\n%s", i, er_strerror(rc), err);
		assert_string_equal(err, "");
		agg_energy_free(e);
	}
	/* rows out of order are sorted for the lookup */
	assert_int_equal(load_in(dir, good_coef[3], OK_CO2, &e, err, sizeof err), 0);
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2025-06-30T12:00:00+08:00", CST), 714300000);
	assert_int_equal(coef(e, AGG_COAL, AGG_CALORIFIC, "2025-07-01T12:00:00+08:00", CST), 700000000);
	agg_energy_free(e);
	assert_int_equal(load_in(dir, good_coef[2], OK_CO2, &e, err, sizeof err), 0);
	assert_int_equal(coef(e, AGG_GAS, AGG_CALORIFIC, "2025-06-30T12:00:00+08:00", CST), 1214300);
	assert_int_equal(coef(e, AGG_WATER, AGG_CALORIFIC, "2024-02-29T00:00:00+08:00", CST), 0);
	assert_int_equal(agg_energy_coef(e, AGG_WATER, AGG_CALORIFIC, at("2024-02-28T23:59:59+08:00"), CST, &v, NULL),
			 ER_ENOENT);
	agg_energy_free(e);
	/* a trailing slash on the directory */
	assert_int_equal(load_in(dir, OK_COEF, OK_CO2, &e, err, sizeof err), 0);
	agg_energy_free(e);
	char slash[4096];
	snprintf(slash, sizeof slash, "%s/", dir);
	assert_int_equal(agg_energy_load(slash, &e, err, sizeof err), 0);
	agg_energy_free(e);
	/* err may be NULL */
	assert_int_equal(agg_energy_load(dir, &e, NULL, 0), 0);
	agg_energy_free(e);
}

/* Every bad row is listed, in file order, both files, up to 20. */
static void test_error_collection(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN], want[256];
	agg_energy *e = NULL;

	int rc = load_in(dir,
			 H_COEF "coal,calorific,2000-01-01,,714.3,kg,s\n"
				"coal,calorific,2000-01-01,,714.3,t,s\n"
				"# comment\n"
				"oil,fuel,2000-01-01,,1428.6,t,s\n"
				"oil,calorific,2000-01-01,,1428.6,t,s\n"
				"coal,calorific,2024-01-01,,700,t,s\n",
			 H_CO2 "gas,,2000-01-01,,2.162,m3,\n"
			       "gas,industrial,2000-01-01,,2.162,m3,s\n",
			 &e, err, sizeof err);
	assert_int_equal(rc, ER_EINVAL);
	assert_null(e);
	assert_int_equal(count_lines(err), 5);
	const char *lines[] = {"/coefficients.csv:2: unit 'kg'", "/coefficients.csv:5: method 'fuel'",
			       "/coefficients.csv:7: [2024-01-01, open) overlaps line 3", "/co2.csv:2: source is empty",
			       "/co2.csv:3: purpose 'industrial'"};
	const char *p = err;
	for (int i = 0; i < 5; i++) {
		const char *hit = strstr(p, lines[i]);
		if (hit == NULL)
			fail_msg("'%s' missing or out of order in:\n%s", lines[i], err);
		p = hit + strlen(lines[i]);
	}

	/* 25 bad rows: the first 20, then how many more. */
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof text, "%s", H_COEF);
	for (int i = 0; i < 25; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "x%d,calorific,2000-01-01,,1,t,s\n", i);
	rc = load_in(dir, text, OK_CO2, &e, err, sizeof err);
	assert_int_equal(rc, ER_EINVAL);
	assert_int_equal(count_lines(err), 21);
	snprintf(want, sizeof want, "/coefficients.csv:21: unknown carrier 'x19'\n... and 5 more errors");
	assert_contains(err, want);
	assert_null(strstr(err, "'x20'"));

	/* A short buffer is cut, never overrun. */
	char tiny[24];
	memset(tiny, 'z', sizeof tiny);
	rc = load_in(dir, text, OK_CO2, &e, tiny, 16);
	assert_int_equal(rc, ER_EINVAL);
	assert_int_equal(strlen(tiny), 15);
	assert_int_equal(tiny[16], 'z');
	/* And no buffer at all. */
	assert_int_equal(load_in(dir, text, OK_CO2, &e, NULL, 0), ER_EINVAL);
	assert_null(e);
}

static void test_io_errors(void **state)
{
	(void)state;
	const char *dir = tmpdir();
	char err[ERRLEN];
	agg_energy *e = NULL;

	/* co2.csv missing */
	assert_int_equal(load_in(dir, OK_COEF, NULL, &e, err, sizeof err), ER_EIO);
	assert_null(e);
	assert_contains(err, "/co2.csv: cannot read: No such file or directory");
	assert_int_equal(count_lines(err), 1);
	/* a bad row in one and the other missing: both listed, ER_EIO wins */
	assert_int_equal(load_in(dir, NULL, H_CO2 "gas,,2000-01-01,,2.162,m3,\n", &e, err, sizeof err), ER_EIO);
	assert_contains(err, "/coefficients.csv: cannot read");
	assert_contains(err, "/co2.csv:2: source is empty");
	assert_int_equal(count_lines(err), 2);
	/* no such directory */
	assert_int_equal(agg_energy_load("/nonexistent/ecoroll/energy", &e, err, sizeof err), ER_EIO);
	assert_contains(err, "/nonexistent/ecoroll/energy/coefficients.csv: cannot read");
	/* a directory where a file should be */
	remove_file(dir, "coefficients.csv");
	remove_file(dir, "co2.csv");
	write_file(dir, "coefficients.csv", OK_COEF);
	char sub[4096];
	snprintf(sub, sizeof sub, "%s/co2.csv", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(agg_energy_load(dir, &e, err, sizeof err), ER_EIO);
	assert_contains(err, "/co2.csv: cannot read");
	assert_int_equal(rmdir(sub), 0);
	/* a NUL byte: not text; its line is named */
	const char nul[] = H_CO2 "gas,,2000-01-01,,2.162,m3,s\ngas\0,,2000-01-01,,2.162,m3,s\n";
	write_bytes(dir, "co2.csv", nul, sizeof nul - 1);
	assert_int_equal(agg_energy_load(dir, &e, err, sizeof err), ER_EINVAL);
	assert_contains(err, "/co2.csv:3: a NUL byte");
	/* bad arguments */
	assert_int_equal(agg_energy_load(NULL, &e, err, sizeof err), ER_EINVAL);
	assert_int_equal(agg_energy_load(dir, NULL, err, sizeof err), ER_EINVAL);
}

/* ---- lookups: arguments ---- */

static void test_lookup_arguments(void **state)
{
	(void)state;
	agg_energy *e = load_shipped();
	int64_t v = 42, t = at("2026-06-01T00:00:00+08:00");

	assert_int_equal(agg_energy_coef(NULL, AGG_COAL, AGG_CALORIFIC, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, t, CST, NULL, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, 0, AGG_CALORIFIC, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, 10, AGG_CALORIFIC, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, -1, AGG_CALORIFIC, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_CARRIER_MAX, AGG_CALORIFIC, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, 2, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, -1, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, t, 86400, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, t, -86400, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(NULL, AGG_COAL, AGG_FUEL, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(e, AGG_COAL, AGG_FUEL, t, CST, NULL, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(e, AGG_COAL, 3, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(e, AGG_COAL, -1, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(e, 0, AGG_FUEL, t, CST, &v, NULL), ER_EINVAL);
	assert_int_equal(agg_energy_factor(e, AGG_COAL, AGG_FUEL, t, 90000, &v, NULL), ER_EINVAL);
	/* Nothing written on failure. */
	assert_int_equal(v, 42);
	assert_int_equal(agg_energy_coef(e, AGG_COAL, AGG_CALORIFIC, t, CST, &v, NULL), 0);
	assert_int_equal(v, 714300000);
	agg_energy_free(e);
	agg_energy_free(NULL);
	assert_null(agg_energy_version(NULL));
}

static void test_version(void **state)
{
	(void)state;
	const char *d1 = tmpdir(), *d2 = tmpdir();
	char err[ERRLEN];
	agg_energy *a = NULL, *b = NULL, *c = NULL, *s = load_shipped();

	assert_int_equal(load_in(d1, OK_COEF, OK_CO2, &a, err, sizeof err), 0);
	assert_int_equal(load_in(d2, OK_COEF, OK_CO2, &b, err, sizeof err), 0);
	const char *v = agg_energy_version(a);
	assert_int_equal(strlen(v), 16);
	assert_int_equal(strspn(v, "0123456789abcdef"), 16);
	assert_string_equal(v, agg_energy_version(b)); /* same bytes, same version */
	assert_string_not_equal(v, agg_energy_version(s));
	assert_int_equal(strspn(agg_energy_version(s), "0123456789abcdef"), 16);
	/* Any byte counts, a comment too: the version names the files. */
	assert_int_equal(load_in(d2, "# edited\n" OK_COEF, OK_CO2, &c, err, sizeof err), 0);
	assert_string_not_equal(v, agg_energy_version(c));
	agg_energy_free(c);
	/* Moving the boundary between the files changes it: the co2 text's
	 * leading comment line moved to the end of the coefficients. */
	assert_int_equal(load_in(d1, OK_COEF, "#\n" OK_CO2, &c, err, sizeof err), 0);
	char v1[17];
	snprintf(v1, sizeof v1, "%s", agg_energy_version(c));
	agg_energy_free(c);
	assert_int_equal(load_in(d1, OK_COEF "#\n", OK_CO2, &c, err, sizeof err), 0);
	assert_string_not_equal(v1, agg_energy_version(c));
	agg_energy_free(c);
	agg_energy_free(a);
	agg_energy_free(b);
	agg_energy_free(s);
}

/* ---- scopes and what counts ---- */

static void test_scopes(void **state)
{
	(void)state;
	/* DOMAIN.md 4: budgets and total-consumption control exclude
	 * feedstock and new renewables. */
	assert_true(agg_scope_includes(AGG_SCOPE_ALL, AGG_FUEL));
	assert_true(agg_scope_includes(AGG_SCOPE_ALL, AGG_FEEDSTOCK));
	assert_true(agg_scope_includes(AGG_SCOPE_ALL, AGG_RENEWABLE));
	assert_true(agg_scope_includes(AGG_SCOPE_NO_FEEDSTOCK, AGG_FUEL));
	assert_false(agg_scope_includes(AGG_SCOPE_NO_FEEDSTOCK, AGG_FEEDSTOCK));
	assert_true(agg_scope_includes(AGG_SCOPE_NO_FEEDSTOCK, AGG_RENEWABLE));
	assert_true(agg_scope_includes(AGG_SCOPE_CONTROL, AGG_FUEL));
	assert_false(agg_scope_includes(AGG_SCOPE_CONTROL, AGG_FEEDSTOCK));
	assert_false(agg_scope_includes(AGG_SCOPE_CONTROL, AGG_RENEWABLE));
	assert_false(agg_scope_includes(3, AGG_FUEL));
	assert_false(agg_scope_includes(-1, AGG_FUEL));
	assert_false(agg_scope_includes(AGG_SCOPE_ALL, 3));
	assert_false(agg_scope_includes(AGG_SCOPE_ALL, -1));

	assert_string_equal(agg_scope_name(AGG_SCOPE_ALL), "all");
	assert_string_equal(agg_scope_name(AGG_SCOPE_NO_FEEDSTOCK), "no-feedstock");
	assert_string_equal(agg_scope_name(AGG_SCOPE_CONTROL), "control");
	assert_string_equal(agg_scope_name(3), "?");
	assert_string_equal(agg_scope_name(-1), "?");
	for (int s = AGG_SCOPE_ALL; s <= AGG_SCOPE_CONTROL; s++)
		assert_int_equal(agg_scope_parse(agg_scope_name(s)), s);
	assert_int_equal(agg_scope_parse("Control"), ER_EINVAL);
	assert_int_equal(agg_scope_parse("no_feedstock"), ER_EINVAL);
	assert_int_equal(agg_scope_parse(""), ER_EINVAL);
	assert_int_equal(agg_scope_parse(NULL), ER_EINVAL);
}

static void test_counts(void **state)
{
	(void)state;
	static const int energy[] = {AGG_ELECTRICITY, AGG_HEAT, AGG_STEAM, AGG_GAS, AGG_COAL, AGG_OIL, AGG_PV};

	for (size_t i = 0; i < sizeof energy / sizeof energy[0]; i++) {
		assert_true(agg_energy_counts(energy[i], false));
		assert_true(agg_energy_counts(energy[i], true));
	}
	/* DOMAIN.md 4: water only where the site config says so. */
	assert_false(agg_energy_counts(AGG_WATER, false));
	assert_true(agg_energy_counts(AGG_WATER, true));
	/* power is a level; pollutants and unknowns never count */
	assert_false(agg_energy_counts(AGG_POWER, false));
	assert_false(agg_energy_counts(AGG_POWER, true));
	assert_false(agg_energy_counts(AGG_PM25, true));
	assert_false(agg_energy_counts(0, true));
	assert_false(agg_energy_counts(-1, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_coefficients),
	    cmocka_unit_test(test_shipped_factors),
	    cmocka_unit_test(test_co2_switch_at_local_midnight),
	    cmocka_unit_test(test_coefficient_change_recomputes),
	    cmocka_unit_test(test_purpose_precedence_and_gaps),
	    cmocka_unit_test(test_lenient_text),
	    cmocka_unit_test(test_exact_products_and_sums),
	    cmocka_unit_test(test_format_half_even),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_accepts),
	    cmocka_unit_test(test_error_collection),
	    cmocka_unit_test(test_io_errors),
	    cmocka_unit_test(test_lookup_arguments),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_scopes),
	    cmocka_unit_test(test_counts),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	remove_dirs();
	return rc;
}
