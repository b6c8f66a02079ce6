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

/* Merge safetensors part files (repo files stay < 5 MB) into one file at out_path, once per
 * build: written through the public writer (atomic), reused when already there. */
static inline const char *test_merge_parts(const char *const *parts, int n, const char *out_name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_tmp_dir(), out_name);
    FILE *f = fopen(path, "rb");
    if (f) { fclose(f); return path; }
    eva_tensor_writer *w = NULL;
    eva_tensor_file *files[8] = {0};
    if (n > 8 || eva_tensor_writer_create(&w) != EVA_OK) return NULL;
    for (int p = 0; p < n; p++) {
        if (eva_tensor_file_open(parts[p], &files[p]) != EVA_OK) {
            fprintf(stderr, "cannot open %s: %s\n", parts[p], eva_last_error());
            return NULL;
        }
        for (int i = 0; i < eva_tensor_file_count(files[p]); i++) {
            eva_tensor_view v;
            eva_tensor_file_get(files[p], i, &v);
            eva_tensor_writer_add_view(w, v.name, v.dtype, v.ndim, v.shape, v.data);
        }
        const char *keys[] = {"num_heads", "embed_dim", "depth", "mlp_hidden", "format"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const char *val = eva_tensor_file_metadata(files[p], keys[k]);
            if (val) eva_tensor_writer_set_metadata(w, keys[k], val);
        }
    }
    eva_status st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    for (int p = 0; p < n; p++) eva_tensor_file_close(files[p]);
    return st == EVA_OK ? path : NULL;
}

static inline const char *test_tiny_weights(void) {
    static const char *const parts[] = {"data/golden/tiny/tiny_timm.part0.safetensors",
                                        "data/golden/tiny/tiny_timm.part1.safetensors"};
    return test_merge_parts(parts, 2, "tiny_timm.safetensors");
}

/* Read a whole F32 tensor (any float dtype converted) from a file into a malloc'd buffer. */
static inline float *test_read_tensor(eva_tensor_file *f, const char *name, size_t *n_out) {
    eva_tensor_view v;
    if (eva_tensor_file_find(f, name, &v) != EVA_OK) {
        fprintf(stderr, "FAIL missing tensor %s\n", name);
        g_test_failures++;
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < v.ndim; i++) n *= (size_t)v.shape[i];
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (x) eva_tensor_convert_f32(&v, x);
    if (n_out) *n_out = n;
    return x;
}

#endif
