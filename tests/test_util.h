/* test_util.h — tiny test harness: CHECK macros, tensor comparison with the golden tolerance
 * rule (max|c - ref| <= tol * max|ref|), and access to the eva binary for CLI tests. */
#ifndef EVA_TEST_UTIL_H
#define EVA_TEST_UTIL_H

#include "eva.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_test_failures = 0;
static int g_test_checks = 0;

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        g_test_checks++;                                                               \
        if (!(cond)) {                                                                 \
            g_test_failures++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s — ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

#define CHECK_OK(expr)                                                                 \
    do {                                                                               \
        eva_status st_ = (expr);                                                       \
        CHECK(st_ == EVA_OK, "%s -> %s: %s", #expr, eva_strerror(st_), eva_last_error()); \
    } while (0)

/* Compare n floats; prints "TENSOR OK/FAIL name maxdiff ratio". Returns 1 if within tolerance. */
static inline int test_compare(const char *name, const float *got, const float *ref, size_t n, double tol_rel_max) {
    double max_ref = 0, max_diff = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)ref[i]);
        if (r > max_ref) max_ref = r;
        double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= max_diff)) { max_diff = d; worst = i; }   /* NaN counts as worst */
    }
    int ok = max_diff <= tol_rel_max * max_ref;
    g_test_checks++;
    if (!ok) g_test_failures++;
    fprintf(ok ? stdout : stderr, "%s %-28s n=%zu max|diff|=%.3e max|ref|=%.3e ratio=%.2e (tol %.1e) worst[%zu]=%g vs %g\n",
            ok ? "TENSOR OK  " : "TENSOR FAIL", name, n, max_diff, max_ref, max_ref > 0 ? max_diff / max_ref : max_diff,
            tol_rel_max, worst, n ? (double)got[worst] : 0.0, n ? (double)ref[worst] : 0.0);
    return ok;
}

static inline int test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, g_test_checks, g_test_failures);
    return g_test_failures ? 1 : 0;
}

static inline const char *test_tmp_dir(void) {
    const char *t = getenv("EVA_TMP");
    return t ? t : "/tmp";
}

#endif
