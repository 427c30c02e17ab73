/* tutil.h: the small helpers every test program shares. Temporary
 * directories are made fresh under $TMPDIR (or /tmp) and removed, with
 * everything in them, when the program exits; strings the helpers return
 * belong to the helpers and are freed at exit too, so tests under ASan's
 * leak checker need not track them. Single-threaded: call from the test
 * thread only. */
#ifndef TUTIL_H
#define TUTIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A new empty directory, e.g. "/tmp/ecoroll-test.Ab12Cd"; aborts the
 * program when one cannot be made (no test can run without it). */
const char *tu_tmpdir(void);

/* Writes text to dir/name (replacing it) and returns the path; aborts on
 * an I/O error. */
const char *tu_write_file(const char *dir, const char *name, const char *text);

/* A formatted string owned by tutil (freed at exit). */
const char *tu_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
