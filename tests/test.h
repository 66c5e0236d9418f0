/*
 * tests/test.h — the smallest test harness that can fail.
 *
 * Every check prints one TAP-like line, "ok - NAME" or "not ok - NAME (file:line)",
 * and tests/run.sh counts those lines across all test programs into the final
 * "N passed, N failed". A test program exits non-zero when any of its checks failed,
 * and a crash is counted as a failure by the runner.
 */
#ifndef KLUIS_TEST_H
#define KLUIS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int t_failed_;
extern int t_passed_;

/** Record one check: COND true passes, false fails; NAME is printed either way. */
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            t_passed_++;                                                        \
            printf("ok - ");                                                    \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        } else {                                                                \
            t_failed_++;                                                        \
            printf("not ok - ");                                                \
            printf(__VA_ARGS__);                                                \
            printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond);                \
        }                                                                       \
        fflush(stdout);                                                         \
    } while (0)

/** Compare two byte strings of known length; prints a hex diff hint on failure. */
#define CHECK_MEM(a, b, n, ...) CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

/** Use exactly once per test program, at file scope. */
#define TEST_MAIN_DEFS int t_failed_ = 0; int t_passed_ = 0;

/** End of main(): prints the program's own tally and returns its exit status. */
#define TEST_END()                                                              \
    (printf("# %d passed, %d failed\n", t_passed_, t_failed_), t_failed_ ? 1 : 0)

/** Path of ../shared/vectors, overridable with KLUIS_VECTORS. */
static inline const char *test_vectors_dir(void)
{
    const char *d = getenv("KLUIS_VECTORS");
    return d ? d : "../shared/vectors";
}

#endif
