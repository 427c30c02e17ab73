// micro.h: what the bench/micro_*.cc harnesses share. A benchmark checks
// its own result (STYLE.md 13) with check(), which aborts the run on a
// wrong answer: a figure from code that computes the wrong thing is no
// figure at all.
#ifndef BENCH_MICRO_H
#define BENCH_MICRO_H

#include <cstdio>
#include <cstdlib>

static inline void check(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "benchmark self-check failed: %s\n", what);
		std::abort();
	}
}

#endif
