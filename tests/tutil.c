/* tutil.c: shared test helpers (see tutil.h). Everything allocated here is
 * remembered in one list and released by one atexit handler, which also
 * removes the temporary directories depth first. */
#include "tutil.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TU_MAX_OWNED 4096 /* strings per test program; tests make a few dozen */
#define TU_MAX_DIRS 64

static char *owned[TU_MAX_OWNED];
static size_t nowned;
static const char *dirs[TU_MAX_DIRS];
static size_t ndirs;
static int registered;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0; /* keep going: remove as much as we can */
}

static void tu_cleanup(void)
{
	for (size_t i = ndirs; i > 0; i--)
		nftw(dirs[i - 1], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	nowned = ndirs = 0;
}

static char *keep(char *s)
{
	if (s == NULL || nowned == TU_MAX_OWNED) {
		fprintf(stderr, "tutil: out of memory or too many strings\n");
		abort();
	}
	if (!registered) {
		atexit(tu_cleanup);
		registered = 1;
	}
	owned[nowned++] = s;
	return s;
}

const char *tu_str(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return keep(s);
}

const char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || base[0] == 0)
		base = "/tmp";
	path = (char *)tu_str("%s/ecoroll-test.XXXXXX", base);
	if (mkdtemp(path) == NULL || ndirs == TU_MAX_DIRS) {
		perror("tutil: mkdtemp");
		abort();
	}
	dirs[ndirs++] = path;
	return path;
}

const char *tu_write_file(const char *dir, const char *name, const char *text)
{
	const char *path = tu_str("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	size_t n = strlen(text);

	if (f == NULL || fwrite(text, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}
