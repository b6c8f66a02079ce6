/* base.h — internal foundation shared by every layer: errors, checked allocation, dtypes and
 * half-precision conversion, the tensor descriptor, the activation arena, the thread pool, the
 * counter-based RNG, timing and file mapping. Depends on libc and pthreads only. */
#ifndef EVA_BASE_H
#define EVA_BASE_H

#include "eva.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EVA_INTERNAL __attribute__((visibility("hidden")))
#define EVA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EVA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EVA_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---------------------------------------------------------------- errors
 * eva_fail() records a printf-style message as this thread's last error and returns the status,
 * so failure paths read `return eva_fail(EVA_ERR_FORMAT, "%s: header truncated", path);`. */
eva_status eva_fail(eva_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with context ("loading X: " + previous message). */
eva_status eva_fail_context(eva_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eva_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum { EVA_LOG_DEBUG = 0, EVA_LOG_INFO = 1, EVA_LOG_WARN = 2 };

/* ---------------------------------------------------------------- checked allocation
 * Sizes from files are untrusted: multiply with overflow checks, refuse absurd totals. */
bool eva_size_mul(size_t a, size_t b, size_t *out);            /* false on overflow */
void *eva_malloc(size_t n);                                    /* NULL + EVA_ERR_NOMEM message */
void *eva_calloc(size_t count, size_t size);
void *eva_aligned_alloc(size_t n);                             /* 64-byte aligned; eva_aligned_free */
void eva_advise_hugepages(void *p, size_t n); /* blocks >= 8 MB: MADV_HUGEPAGE (EVA_HUGEPAGES=0: off) */
void eva_aligned_free(void *p);
char *eva_strdup(const char *s);

/* ---------------------------------------------------------------- half precision */
float eva_f16_to_f32(uint16_t h);
uint16_t eva_f32_to_f16(float f);      /* round to nearest even */
float eva_bf16_to_f32(uint16_t h);
uint16_t eva_f32_to_bf16(float f);     /* round to nearest even, NaN kept */
/* Convert n elements of a numeric dtype to float32 (F32/F16/BF16/F64/ints). */
eva_status eva_convert_to_f32(eva_dtype src_dtype, const void *src, float *dst, size_t n);
eva_status eva_dtype_from_name(const char *name, eva_dtype *out);

/* ---------------------------------------------------------------- tensor descriptor
 * A typed view: shape and strides in elements (row-major when contiguous). */
#define EVA_MAX_DIMS 8
typedef struct eva_tensor {
    eva_dtype dtype;
    int ndim;
    int64_t shape[EVA_MAX_DIMS];
    int64_t stride[EVA_MAX_DIMS];
    void *data;
} eva_tensor;

int64_t eva_tensor_numel(const eva_tensor *t);
bool eva_tensor_is_contiguous(const eva_tensor *t);
void eva_tensor_set_contiguous_strides(eva_tensor *t);
/* "[2, 3, 224, 224]" into buf. */
const char *eva_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

/* ---------------------------------------------------------------- arena
 * One allocation carved into 64-byte aligned slices; reset to reuse. Sized once per
 * (batch, resolution) so a forward pass never calls malloc. */
typedef struct eva_arena {
    char *base;
    size_t size;
    size_t used;
} eva_arena;

eva_status eva_arena_init(eva_arena *a, size_t bytes);
void *eva_arena_alloc(eva_arena *a, size_t bytes);   /* NULL if it does not fit (programming error) */
void eva_arena_reset(eva_arena *a);
void eva_arena_free(eva_arena *a);
size_t eva_arena_round(size_t bytes);                /* the size a slice really takes */

/* ---------------------------------------------------------------- thread pool
 * A fixed set of workers; eva_pool_run(p, n, fn, ctx) calls fn(ctx, task, thread) for task in
 * [0, n) spread over the workers (the calling thread works too) and returns when all are done.
 * Thread index is in [0, eva_pool_threads(p)). */
typedef struct eva_pool eva_pool;
typedef void (*eva_pool_fn)(void *ctx, int task, int thread);
eva_status eva_pool_create(int n_threads, eva_pool **out);
void eva_pool_free(eva_pool *p);
int eva_pool_threads(const eva_pool *p);
void eva_pool_run(eva_pool *p, int n_tasks, eva_pool_fn fn, void *ctx);
int eva_cpu_count(void);
/* true when this CPU has every instruction set the *_avx512.c files are compiled with (cached) */
bool eva_cpu_avx512(void);

/* ---------------------------------------------------------------- RNG
 * One counter-based generator for everything (Philox-4x32-10): a value depends only on
 * (key, counter), so any stream can be split, skipped or resumed exactly. */
typedef struct eva_rng {
    uint64_t key;
    uint64_t counter;
} eva_rng;

eva_rng eva_rng_make(uint64_t seed, uint64_t stream);
void eva_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]);
uint32_t eva_rng_u32(eva_rng *r);
uint64_t eva_rng_u64(eva_rng *r);
double eva_rng_uniform(eva_rng *r);          /* [0, 1), 53-bit */
double eva_rng_normal(eva_rng *r);           /* N(0, 1), Box-Muller */
int64_t eva_rng_below(eva_rng *r, int64_t n); /* uniform integer in [0, n) without bias */

/* ---------------------------------------------------------------- timing */
double eva_now_seconds(void);              /* monotonic */
size_t eva_peak_rss_bytes(void);

/* ---------------------------------------------------------------- file mapping */
typedef struct eva_mapped_file {
    const uint8_t *data;
    size_t size;
    bool mapped;        /* true: mmap; false: malloc'd copy (e.g. size 0) */
} eva_mapped_file;

eva_status eva_map_file(const char *path, eva_mapped_file *out);
void eva_unmap_file(eva_mapped_file *mf);
/* Drop the pages of [p, p+n) (whole pages inside it) from this process's memory when the range
 * lies in the read-only file mapping mf: a later access reads them back from the file, so it is
 * only a hint; anything else (a copy, an anonymous block) is left alone. For checkpoint tensors
 * that were converted into the model's own memory at load. */
void eva_release_file_pages(const eva_mapped_file *mf, const void *p, size_t n);

/* Atomic output: write to "<path>.tmp.<pid>", fsync, rename. */
typedef struct eva_atomic_file {
    void *fp;              /* FILE* */
    char *final_path;
    char *temp_path;
} eva_atomic_file;

eva_status eva_atomic_open(eva_atomic_file *af, const char *path);
eva_status eva_atomic_write(eva_atomic_file *af, const void *data, size_t n);
eva_status eva_atomic_commit(eva_atomic_file *af);   /* flush + fsync + rename */
void eva_atomic_abort(eva_atomic_file *af);          /* remove the temp file */

#endif /* EVA_BASE_H */
