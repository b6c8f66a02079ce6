/* test_teacher.c — the EVA-01 MIM teacher (CLIP vision tower) against the golden teacher
 * (README-teacher-finetune §1): loaded weights bit-equal to the F16 values from both files
 * (.safetensors and the OpenAI-layout .pt with its fp16/fp32 mix), teacher features, image
 * embedding and every debug intermediate at max|c - ref| <= 1e-5 max|ref| through the API (fast
 * and reference kernels) and through `eva teacher-features`, name layouts, bad inputs.
 *
 * `test_teacher --bench [threads] [batch] [size]` instead times a ViT-L/14-shaped teacher
 * (W 1024, 24 layers, 16 heads, D 768) with random weights built in memory. */
#include "models/clip_vision.h"
#include "ops/gemm.h"
#include "test_util.h"

#include <stdint.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TOL 1e-5
static const char *SF = "data/teacher/teacher_clip_tiny_f16.safetensors";
static const char *PT = "data/teacher/teacher_clip_tiny.pt";
static const char *IO = "data/teacher/teacher_clip_io.safetensors";

/* The model's fp32 copy of the tensor named `name` (OpenAI name without "visual."). */
static const float *weight_ptr(const eva_clip_vision *m, const char *name) {
    int l;
    char rest[128];
    if (!strcmp(name, "conv1.weight")) return m->conv_w;
    if (!strcmp(name, "class_embedding")) return m->cls;
    if (!strcmp(name, "positional_embedding")) return m->pos;
    if (!strcmp(name, "proj")) return m->proj;
    if (!strcmp(name, "ln_pre.weight")) return m->ln_pre_w;
    if (!strcmp(name, "ln_pre.bias")) return m->ln_pre_b;
    if (!strcmp(name, "ln_post.weight")) return m->ln_post_w;
    if (!strcmp(name, "ln_post.bias")) return m->ln_post_b;
    if (sscanf(name, "transformer.resblocks.%d.%127s", &l, rest) != 2 || l < 0 || l >= m->cfg.layers) return NULL;
    const eva_clip_block *b = &m->blocks[l];
    static const char *names[] = {"ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
                                  "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight", "ln_2.bias",
                                  "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
    const float *ptrs[] = {b->ln1_w, b->ln1_b, b->in_w, b->in_b, b->out_w, b->out_b,
                           b->ln2_w, b->ln2_b, b->fc_w, b->fc_b, b->cproj_w, b->cproj_b};
    for (size_t i = 0; i < EVA_ARRAY_LEN(names); i++)
        if (!strcmp(rest, names[i])) return ptrs[i];
    return NULL;
}

/* Every loaded weight equals the F16 value of the safetensors file exactly (both files). */
static void test_weights_exact(const char *path) {
    eva_clip_vision m;
    eva_tensor_file *f = NULL;
    CHECK_OK(eva_clip_vision_load(path, 0, &m));
    CHECK_OK(eva_tensor_file_open(SF, &f));
    if (!m.storage || !f) return;
    CHECK(m.cfg.width == 128 && m.cfg.layers == 2 && m.cfg.heads == 2 && m.cfg.patch == 14 && m.cfg.grid == 4 &&
              m.cfg.mlp_hidden == 512 && m.cfg.out_dim == 64 && !m.cfg.layer_scale,
          "%s: config W%d L%d H%d P%d G%d F%d D%d", path, m.cfg.width, m.cfg.layers, m.cfg.heads, m.cfg.patch,
          m.cfg.grid, m.cfg.mlp_hidden, m.cfg.out_dim);
    CHECK(m.n_params == 482816, "n_params %zu", m.n_params);
    int n = eva_tensor_file_count(f), bad = 0;
    CHECK(n == 32, "%d tensors in the safetensors", n);
    for (int i = 0; i < n; i++) {
        eva_tensor_view v;
        eva_tensor_file_get(f, i, &v);
        const float *got = weight_ptr(&m, v.name + strlen("visual."));
        size_t cnt;
        float *ref = test_read_tensor(f, v.name, &cnt);
        if (!got || !ref || memcmp(got, ref, cnt * sizeof(float)) != 0) {
            bad++;
            fprintf(stderr, "FAIL %s: weight %s differs from the F16 value\n", path, v.name);
        }
        free(ref);
    }
    CHECK(bad == 0, "%s: %d weights differ", path, bad);
    printf("weights of %s: 32 tensors bit-equal to the F16 values\n", path);
    eva_tensor_file_close(f);
    eva_clip_vision_free(&m);
}

/* Golden outputs and intermediates through the public API. */
static void test_golden_api(const char *path, eva_tensor_file *io, const float *images, bool reference) {
    eva_teacher_params tp = eva_teacher_default_params();
    tp.n_threads = 2;
    eva_teacher *t = NULL;
    CHECK_OK(eva_teacher_load(path, &tp, &t));
    if (!t) return;
    eva_teacher_info info;
    CHECK_OK(eva_teacher_get_info(t, &info));
    CHECK(info.img_size == 56 && info.out_dim == 64 && info.n_params == 482816, "info S%d D%d n%lld", info.img_size,
          info.out_dim, (long long)info.n_params);
    eva_teacher_options o = eva_teacher_default_options();
    o.reference = reference;
    int rows = 0, dim = 0;
    CHECK_OK(eva_teacher_feature_shape(t, 0, &o, &rows, &dim));
    CHECK(rows == 16 && dim == 64, "shape %d x %d", rows, dim);
    float feat[2 * 17 * 128], embed[2 * 64];
    char name[160];
    const char *tag = reference ? "ref" : "fast";
    CHECK_OK(eva_teacher_features(t, images, 2, 56, &o, feat, embed));
    size_t n;
    float *ref = test_read_tensor(io, "output.teacher_features", &n);
    snprintf(name, sizeof name, "%s/%s teacher_features", strrchr(path, '.'), tag);
    if (ref) test_compare(name, feat, ref, n, TOL);
    free(ref);
    ref = test_read_tensor(io, "output.image_embed", &n);
    snprintf(name, sizeof name, "%s/%s image_embed", strrchr(path, '.'), tag);
    if (ref) test_compare(name, embed, ref, n, TOL);
    free(ref);
    /* Intermediates via the selection options: (layer, ln_post, proj, keep_cls) -> debug tensor. */
    struct { int layer; bool ln_post, proj, keep_cls; const char *golden; } cases[] = {
        {0, false, false, true, "debug.ln_pre"},
        {1, false, false, true, "debug.block0_out"},
        {2, false, false, true, "debug.block1_out"},
        {-1, true, false, false, "debug.ln_post_patch"},
    };
    for (size_t c = 0; c < EVA_ARRAY_LEN(cases); c++) {
        o.layer = cases[c].layer;
        o.ln_post = cases[c].ln_post;
        o.proj = cases[c].proj;
        o.keep_cls = cases[c].keep_cls;
        CHECK_OK(eva_teacher_feature_shape(t, 56, &o, &rows, &dim));
        CHECK_OK(eva_teacher_features(t, images, 2, 56, &o, feat, NULL));
        ref = test_read_tensor(io, cases[c].golden, &n);
        CHECK(n == (size_t)2 * rows * dim, "%s: %zu values vs %d x %d", cases[c].golden, n, rows, dim);
        snprintf(name, sizeof name, "%s/%s %s", strrchr(path, '.'), tag, cases[c].golden);
        if (ref && n == (size_t)2 * rows * dim) test_compare(name, feat, ref, n, TOL);
        free(ref);
    }
    eva_teacher_free(t);
}

/* The same through `eva teacher-features`. */
static void test_golden_cli(const char *path, eva_tensor_file *io) {
    const char *bin = getenv("EVA_BIN");
    if (!bin) {
        printf("EVA_BIN not set: CLI golden check skipped\n");
        return;
    }
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/teacher_out%s", test_tmp_dir(), strrchr(path, '.'));
    snprintf(out + strlen(out), sizeof out - strlen(out), ".safetensors");
    remove(out);
    snprintf(cmd, sizeof cmd, "'%s' teacher-features --model %s -i %s -o '%s' -t 2", bin, path, IO, out);
    int rc = system(cmd);
    CHECK(rc == 0, "%s -> %d", cmd, rc);
    eva_tensor_file *f = NULL;
    CHECK_OK(eva_tensor_file_open(out, &f));
    if (!f) return;
    const char *names[] = {"output.teacher_features", "output.image_embed"};
    for (int i = 0; i < 2; i++) {
        size_t n, nr;
        float *got = test_read_tensor(f, names[i], &n), *ref = test_read_tensor(io, names[i], &nr);
        char label[128];
        snprintf(label, sizeof label, "cli%s %s", strrchr(path, '.'), names[i]);
        CHECK(n == nr, "%s: %zu vs %zu values", label, n, nr);
        if (got && ref && n == nr) test_compare(label, got, ref, n, TOL);
        eva_tensor_view v;
        if (eva_tensor_file_find(f, names[i], &v) == EVA_OK)
            CHECK(v.dtype == EVA_F32 && v.ndim == 3 - i && v.shape[0] == 2, "%s layout", names[i]);
        free(got);
        free(ref);
    }
    eva_tensor_file_close(f);
}

/* Rewrite the safetensors weights under another prefix, optionally dropping or reshaping one
 * tensor, and return the load status (features compared when it loads). */
static eva_status load_variant(const char *prefix, const char *drop, const char *reshape, const float *images,
                               const float *golden) {
    eva_tensor_file *f = NULL;
    eva_tensor_writer *w = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/teacher_variant.safetensors", test_tmp_dir());
    if (eva_tensor_file_open(SF, &f) != EVA_OK || eva_tensor_writer_create(&w) != EVA_OK) return EVA_ERR_INTERNAL;
    for (int i = 0; i < eva_tensor_file_count(f); i++) {
        eva_tensor_view v;
        eva_tensor_file_get(f, i, &v);
        if (drop && strstr(v.name, drop)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, v.name + strlen("visual."));
        int64_t shape[8];
        memcpy(shape, v.shape, sizeof shape);
        int nd = v.ndim;
        if (reshape && strstr(v.name, reshape)) {   /* same bytes, one dim fewer: [a, b] -> [a*b] */
            shape[0] *= nd > 1 ? shape[1] : 1;
            nd = 1;
        }
        eva_tensor_writer_add_view(w, name, v.dtype, nd, shape, v.data);
    }
    eva_tensor_writer_add(w, "text_projection", EVA_F32, 1, (const int64_t[1]){1}, &(float){1.0f});
    eva_status st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    eva_tensor_file_close(f);
    if (st != EVA_OK) return EVA_ERR_INTERNAL;
    eva_teacher *t = NULL;
    st = eva_teacher_load(path, NULL, &t);
    if (st == EVA_OK) {
        float feat[2 * 16 * 64];
        CHECK_OK(eva_teacher_features(t, images, 2, 0, NULL, feat, NULL));
        char label[128];
        snprintf(label, sizeof label, "prefix '%s' features", prefix);
        test_compare(label, feat, golden, EVA_ARRAY_LEN(feat), TOL);
        eva_teacher_free(t);
    }
    return st;
}

static void test_layouts_and_errors(const float *images, const float *golden) {
    CHECK(load_variant("", NULL, NULL, images, golden) == EVA_OK, "bare tower: %s", eva_last_error());
    CHECK(load_variant("state_dict.visual.", NULL, NULL, images, golden) == EVA_OK, "nested: %s", eva_last_error());
    CHECK(load_variant("module.", NULL, NULL, images, golden) == EVA_OK, "module.: %s", eva_last_error());
    eva_status st = load_variant("visual.", "ln_post.bias", NULL, images, golden);
    CHECK(st == EVA_ERR_MISSING && strstr(eva_last_error(), "ln_post.bias"), "missing ln_post.bias: %s", eva_last_error());
    st = load_variant("visual.", NULL, "resblocks.1.attn.in_proj_weight", images, golden);
    CHECK(st == EVA_ERR_SHAPE && strstr(eva_last_error(), "in_proj_weight"), "bad shape: %s", eva_last_error());
    st = load_variant("visual.", "conv1.weight", NULL, images, golden);
    CHECK(st == EVA_ERR_MISSING && strstr(eva_last_error(), "not a CLIP vision"), "no conv1: %s", eva_last_error());

    eva_teacher *t = NULL;
    CHECK(eva_teacher_load(IO, NULL, &t) == EVA_ERR_MISSING && !t, "non-CLIP file: %s", eva_last_error());
    CHECK(eva_teacher_load("data/teacher/absent.pt", NULL, &t) != EVA_OK && !t, "absent file");
    CHECK(eva_teacher_load("data/teacher/teacher_clip.json", NULL, &t) != EVA_OK && !t, "json file");
    eva_teacher_params tp = {.heads = 3};
    CHECK(eva_teacher_load(SF, &tp, &t) == EVA_ERR_SHAPE && !t, "3 heads for width 128: %s", eva_last_error());
    CHECK_OK(eva_teacher_load(SF, NULL, &t));
    if (!t) return;
    float feat[2 * 25 * 64], embed[128];
    eva_teacher_options o = eva_teacher_default_options();
    CHECK(eva_teacher_features(t, images, 1, 57, NULL, feat, NULL) == EVA_ERR_SHAPE, "S=57: %s", eva_last_error());
    CHECK(eva_teacher_features(t, images, 1, 7, NULL, feat, NULL) == EVA_ERR_SHAPE, "S=7: %s", eva_last_error());
    CHECK(eva_teacher_features(t, images, 0, 56, NULL, feat, NULL) == EVA_ERR_INVALID_ARG, "B=0");
    CHECK(eva_teacher_features(t, NULL, 1, 56, NULL, feat, NULL) == EVA_ERR_INVALID_ARG, "null images");
    o.layer = 3;
    CHECK(eva_teacher_features(t, images, 1, 56, &o, feat, NULL) == EVA_ERR_INVALID_ARG, "layer 3 of 2");
    o.layer = 1;
    CHECK(eva_teacher_features(t, images, 1, 56, &o, feat, embed) == EVA_ERR_INVALID_ARG, "embed at layer 1");
    CHECK(eva_teacher_feature_shape(t, 57, NULL, NULL, NULL) == EVA_ERR_SHAPE, "shape at 57");
    /* A grid other than the checkpoint's (5x5 at 70 px): positional embedding resampled. */
    float *big = calloc((size_t)3 * 70 * 70, sizeof(float));
    for (int c = 0; big && c < 3; c++)
        for (int y = 0; y < 56; y++) memcpy(big + ((size_t)c * 70 + y) * 70, images + ((size_t)c * 56 + y) * 56, 56 * sizeof(float));
    int rows = 0;
    CHECK_OK(eva_teacher_feature_shape(t, 70, NULL, &rows, NULL));
    CHECK(rows == 25, "rows at 70 px: %d", rows);
    CHECK_OK(eva_teacher_features(t, big, 1, 70, NULL, feat, embed));
    int finite = 1;
    for (int i = 0; i < 25 * 64; i++) finite &= isfinite(feat[i]) != 0;
    CHECK(finite, "non-finite features at 70 px");
    /* fast kernels vs the plain reference on the resampled grid, class token and no proj too */
    static float fast_out[26 * 128], ref_out[26 * 128];
    o = eva_teacher_default_options();
    o.keep_cls = true;
    o.proj = false;
    CHECK_OK(eva_teacher_features(t, big, 1, 70, &o, fast_out, NULL));
    o.reference = true;
    CHECK_OK(eva_teacher_features(t, big, 1, 70, &o, ref_out, NULL));
    test_compare("70px fast vs reference", fast_out, ref_out, 26 * 128, TOL);
    free(big);
    eva_teacher_free(t);
}

static void test_quick_gelu(void) {
    float x[] = {-100.f, -5.f, -1.f, -0.25f, 0.f, 0.5f, 1.f, 3.f, 100.f}, y[9];
    memcpy(y, x, sizeof x);
    eva_quick_gelu_ref(y, 9);
    int ok = 1;
    for (int i = 0; i < 9; i++) {
        double want = x[i] / (1.0 + exp(-1.702 * x[i]));
        ok &= fabs(y[i] - want) <= 1e-6 * fmax(1.0, fabs(want));
    }
    CHECK(ok, "quick_gelu_ref values");
    float big[40000], big2[40000];
    for (int i = 0; i < 40000; i++) big[i] = big2[i] = (float)(i - 20000) * 1e-3f;
    eva_pool *p = NULL;
    CHECK_OK(eva_pool_create(2, &p));
    eva_quick_gelu(p, big, 40000);
    eva_quick_gelu_ref(big2, 40000);
    double worst = 0;
    for (int i = 0; i < 40000; i++) worst = fmax(worst, fabs(big[i] - big2[i]) / fmax(fabs(big2[i]), 1e-30));
    CHECK(worst <= 1e-6, "threaded quick_gelu vs reference: relative diff %.3e", worst);
    printf("QuickGELU dispatcher vs libm reference: max relative diff %.2e over [-20, 20]\n", worst);
    if (__builtin_cpu_supports("avx512f")) {
        /* odd lengths (masked tail), extremes, NaN/inf: same as the reference up to rounding */
        float e[21] = {-1e30f, -200.f, -60.f, -52.f, -10.f, -1e-3f, 0.f, 1e-3f, 10.f, 60.f, 200.f, 1e30f,
                       INFINITY, NAN, -0.f, 1e-38f, -1e-38f, 0.75f, -0.75f, 30.f, -30.f};
        float e2[21];
        memcpy(e2, e, sizeof e);
        eva_quick_gelu_avx512(e, 21);
        eva_quick_gelu_ref(e2, 21);
        int same = 1;
        for (int i = 0; i < 21; i++) {
            bool ok = e[i] == e2[i] || (isnan(e[i]) && isnan(e2[i])) || fabs(e[i] - e2[i]) <= 1e-6 * fabs(e2[i]) + 1e-37;
            if (!ok) fprintf(stderr, "quick_gelu_avx512 element %d = %g, reference %g\n", i, (double)e[i], (double)e2[i]);
            same &= ok;
        }
        CHECK(same, "avx512 QuickGELU extremes");
    }
    eva_pool_free(p);
}

/* ---------------------------------------------------------------- benchmark */

static int bench(int threads, int B, int S) {
    eva_clip_vision_config cfg = {.width = 1024, .layers = 24, .heads = 16, .patch = 14, .grid = 16,
                                  .mlp_hidden = 4096, .out_dim = 768, .ln_eps = 1e-5f};
    eva_clip_vision m;
    if (eva_clip_vision_alloc(&cfg, &m) != EVA_OK) {
        fprintf(stderr, "alloc: %s\n", eva_last_error());
        return 1;
    }
    /* Random weights, roughly CLIP's init scales, so activations stay in a realistic range. */
    eva_rng r = eva_rng_make(7, 0);
    const size_t W = 1024, F = 4096, P = 14, T = 257;
    struct { float *p; size_t n; double std, mean; } t[] = {
        {m.conv_w, W * 3 * P * P, 0.02, 0}, {m.cls, W, 0.03, 0}, {m.pos, T * W, 0.01, 0},
        {m.ln_pre_w, W, 0, 1}, {m.ln_pre_b, W, 0, 0}, {m.ln_post_w, W, 0, 1}, {m.ln_post_b, W, 0, 0},
        {m.proj, W * 768, 0.03, 0}};
    for (size_t i = 0; i < EVA_ARRAY_LEN(t); i++)
        for (size_t k = 0; k < t[i].n; k++) t[i].p[k] = (float)(t[i].mean + t[i].std * eva_rng_normal(&r));
    for (int l = 0; l < 24; l++) {
        eva_clip_block *b = &m.blocks[l];
        struct { float *p; size_t n; double std, mean; } u[] = {
            {b->ln1_w, W, 0, 1}, {b->ln1_b, W, 0, 0}, {b->ln2_w, W, 0, 1}, {b->ln2_b, W, 0, 0},
            {b->in_w, 3 * W * W, 0.03, 0}, {b->in_b, 3 * W, 0, 0}, {b->out_w, W * W, 0.02, 0}, {b->out_b, W, 0, 0},
            {b->fc_w, F * W, 0.02, 0}, {b->fc_b, F, 0, 0}, {b->cproj_w, W * F, 0.01, 0}, {b->cproj_b, W, 0, 0}};
        for (size_t i = 0; i < EVA_ARRAY_LEN(u); i++)
            for (size_t k = 0; k < u[i].n; k++) u[i].p[k] = (float)(u[i].mean + u[i].std * eva_rng_normal(&r));
    }
    size_t n_img = (size_t)B * 3 * S * S, G = (size_t)S / 14;
    float *img = malloc(n_img * sizeof(float)), *feat = malloc((size_t)B * G * G * 768 * sizeof(float));
    for (size_t i = 0; i < n_img; i++) img[i] = (float)eva_rng_normal(&r);
    eva_pool *pool = NULL;
    eva_pool_create(threads, &pool);
    eva_clip_vision_work w = {0};
    double flops = 0;   /* 2 x MACs per image: conv1, per block qkv/out/fc/cproj + attention, proj */
    {
        double Np = (double)(G * G), Tn = Np + 1, Wd = (double)W, Fd = (double)F;
        flops = 2 * (Np * Wd * 3 * 196 + 24 * (Tn * (4 * Wd * Wd + 2 * Wd * Fd) + 2 * Tn * Tn * Wd) + Np * Wd * 768);
    }
    printf("teacher bench: ViT-L/14 (W 1024, 24 layers, 16 heads, D 768), %zu params, batch %d, %d px, %d threads, gemm %s\n",
           m.n_params, B, S, eva_pool_threads(pool), eva_gemm_kernel_name());
    eva_clip_vision_select sel = {.layer = -1, .ln_post = true, .proj = true};
    double best = 1e30, best_cpu = 1e30;
    for (int it = 0; it < 3; it++) {
        double t0 = eva_now_seconds(), c0 = cpu_seconds();
        eva_status st = eva_clip_vision_forward(&m, &w, pool, img, B, S, &sel, feat, NULL);
        double dt = eva_now_seconds() - t0, cpu = cpu_seconds() - c0;
        if (st != EVA_OK) {
            fprintf(stderr, "forward: %s\n", eva_last_error());
            return 1;
        }
        /* On a shared machine wall time includes waiting for a core; CPU time / threads is what
         * the pass would take with the threads running undisturbed. */
        int nt = eva_pool_threads(pool);
        printf("  run %d: wall %.3f s (%.2f images/s, %.1f GFLOP/s); cpu %.3f s -> %.2f images/s at %d busy threads\n", it,
               dt, B / dt, flops * B / dt * 1e-9, cpu, B / (cpu / nt), nt);
        if (dt < best) best = dt;
        if (cpu < best_cpu) best_cpu = cpu;
    }
    /* QuickGELU alone over the same activations (24 blocks x B*T*F values): its share of the pass. */
    {
        size_t nq = (size_t)B * (G * G + 1) * F;
        double c0 = cpu_seconds();
        for (int l = 0; l < 24; l++) eva_quick_gelu(pool, w.f, nq);
        printf("QuickGELU: %.3f s cpu per batch (24 x %zu values)\n", cpu_seconds() - c0, nq);
    }
    printf("best cpu: %.3f s per batch = %.2f images/s at %d undisturbed threads (%.1f GFLOP/s)\n", best_cpu,
           B / (best_cpu / eva_pool_threads(pool)), eva_pool_threads(pool), flops * B / (best_cpu / eva_pool_threads(pool)) * 1e-9);
    printf("best: %.3f s per batch, %.2f images/s, %.1f GFLOP/s (%.1f GFLOP per image), peak RSS %.0f MB\n", best,
           B / best, flops * B / best * 1e-9, flops * 1e-9, eva_peak_rss_bytes() / 1048576.0);
    eva_clip_vision_work_free(&w);
    eva_pool_free(pool);
    eva_clip_vision_free(&m);
    free(img);
    free(feat);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--bench"))
        return bench(argc > 2 ? atoi(argv[2]) : 2, argc > 3 ? atoi(argv[3]) : 8, argc > 4 ? atoi(argv[4]) : 224);
    eva_tensor_file *io = NULL;
    CHECK_OK(eva_tensor_file_open(IO, &io));
    if (!io) return test_finish("test_teacher");
    size_t n;
    float *images = test_read_tensor(io, "input.images", &n);
    float *golden = test_read_tensor(io, "output.teacher_features", &n);
    if (!images || !golden) return test_finish("test_teacher");
    test_quick_gelu();
    test_weights_exact(SF);
    test_weights_exact(PT);
    test_golden_api(SF, io, images, false);
    test_golden_api(PT, io, images, false);
    test_golden_api(SF, io, images, true);
    test_golden_cli(SF, io);
    test_golden_cli(PT, io);
    test_layouts_and_errors(images, golden);
    free(images);
    free(golden);
    eva_tensor_file_close(io);
    return test_finish("test_teacher");
}
