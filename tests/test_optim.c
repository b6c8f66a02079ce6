/* test_optim.c — AdamW, parameter groups, layer-wise lr decay, clipping, schedule and init.
 *
 * Golden checks (tests/data/train, extracted by scripts/extract_train_fixtures.py):
 *   optim_step.safetensors: the isolated optimizer test of golden README-train-clip §1.7 — start
 *     from mim_student_init (F16, exact), feed the stored F32 gradients, clip with the stored
 *     global norm, one AdamW step (lr 1e-3, wd 0.05, betas (0.9, 0.98), eps 1e-6), compare with
 *     after.* (max norm 3.0, inactive) and after_clip.* (max norm 0.5) to |diff| <= 3e-7.
 *     Only the stored prefix of each tensor is used: the update is element-wise given the
 *     global clip coefficient. Weight decay moves mask_token by ~7.5e-7, so a wrong group fails.
 *   finetune_groups.json: layer id, lr scale and weight decay of every fine-tuning parameter
 *     (layer decay 0.75, depth 3) and the official lr schedule values. */
#include "test_util.h"
#include "base/base.h"
#include "train/init.h"
#include "train/optim.h"

#include <cjson/cJSON.h>

#define MAXP 64

typedef struct golden {
    eva_tensor_file *f;
    int n;
    char names[MAXP][96];
    int ndim[MAXP];
    int64_t k[MAXP];          /* stored prefix length */
    float *param[MAXP], *grad[MAXP];
    const float *after[MAXP], *after_clip[MAXP];
    int64_t k_clip[MAXP];
    double total_norm;
} golden;

static bool view(const golden *g, const char *prefix, const char *name, eva_dtype dt, eva_tensor_view *v) {
    char key[160];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    eva_status st = eva_tensor_file_find(g->f, key, v);
    CHECK(st == EVA_OK && v->dtype == dt, "tensor %s missing or wrong dtype", key);
    return st == EVA_OK && v->dtype == dt;
}

static bool load_golden(golden *g) {
    memset(g, 0, sizeof *g);
    eva_status st = eva_tensor_file_open("data/train/optim_step.safetensors", &g->f);
    CHECK(st == EVA_OK, "open optim_step.safetensors: %s", eva_last_error());
    if (st != EVA_OK) return false;
    int count = eva_tensor_file_count(g->f);
    for (int i = 0; i < count; i++) {
        eva_tensor_view v;
        eva_tensor_file_get(g->f, i, &v);
        if (strncmp(v.name, "shape.", 6) != 0) continue;
        if (g->n >= MAXP) break;
        int j = g->n++;
        snprintf(g->names[j], sizeof g->names[j], "%s", v.name + 6);
        g->ndim[j] = (int)v.shape[0];
        eva_tensor_view p, gr, a, ac;
        if (!view(g, "param.", g->names[j], EVA_F16, &p) || !view(g, "grad.", g->names[j], EVA_F32, &gr) ||
            !view(g, "after.", g->names[j], EVA_F32, &a) || !view(g, "after_clip.", g->names[j], EVA_F32, &ac))
            return false;
        g->k[j] = p.shape[0];
        g->k_clip[j] = ac.shape[0];
        CHECK(gr.shape[0] == g->k[j] && a.shape[0] == g->k[j] && ac.shape[0] <= g->k[j], "%s: prefix sizes", g->names[j]);
        g->param[j] = malloc(sizeof(float) * (size_t)g->k[j]);
        g->grad[j] = malloc(sizeof(float) * (size_t)g->k[j]);
        const uint16_t *h = p.data;
        for (int64_t e = 0; e < g->k[j]; e++) g->param[j][e] = eva_f16_to_f32(h[e]);
        memcpy(g->grad[j], gr.data, sizeof(float) * (size_t)g->k[j]);
        g->after[j] = a.data;
        g->after_clip[j] = ac.data;
    }
    eva_tensor_view nv;
    if (!view(g, "", "grad_total_norm_f64", EVA_F64, &nv)) return false;
    memcpy(&g->total_norm, nv.data, sizeof(double));
    return g->n >= 40 && g->n < MAXP;   /* 48 in mim_step (param_order) */
}

static void free_golden(golden *g) {
    for (int j = 0; j < g->n; j++) free(g->param[j]), free(g->grad[j]);
    eva_tensor_file_close(g->f);
}

/* One golden step on fresh copies of the initial values; returns the max |diff| vs expected
 * over all tensors (and per tensor into worst_name). skip: no-weight-decay list (NULL: official). */
static double golden_step(const golden *g, double max_norm, bool clip_variant, const char *const *skip, int n_skip,
                          const char *only, double *only_diff, eva_pool *pool) {
    eva_param_ref refs[MAXP];
    float *work[MAXP];
    for (int j = 0; j < g->n; j++) {
        work[j] = malloc(sizeof(float) * (size_t)g->k[j]);
        memcpy(work[j], g->param[j], sizeof(float) * (size_t)g->k[j]);
        refs[j] = (eva_param_ref){g->names[j], work[j], g->grad[j], g->k[j], g->ndim[j]};
    }
    eva_adamw_config cfg = eva_adamw_config_pretrain(3);
    cfg.skip_list = skip;
    cfg.skip_count = n_skip;
    eva_adamw *opt = NULL;
    CHECK_OK(eva_adamw_create(refs, g->n, &cfg, &opt));
    double coef = eva_grad_clip_coef(g->total_norm, max_norm);
    CHECK_OK(eva_adamw_step(opt, 1e-3, 0.05, coef, pool));
    double worst = 0;
    if (only_diff) *only_diff = 0;
    for (int j = 0; j < g->n; j++) {
        const float *ref = clip_variant ? g->after_clip[j] : g->after[j];
        int64_t k = clip_variant ? g->k_clip[j] : g->k[j];
        double d = 0;
        for (int64_t e = 0; e < k; e++) d = fmax(d, fabs((double)work[j][e] - ref[e]));
        if (d > worst) worst = d;
        if (only && only_diff && strcmp(only, g->names[j]) == 0) *only_diff = d;
        free(work[j]);
    }
    eva_adamw_free(opt);
    return worst;
}

static void test_golden_step(void) {
    golden g;
    if (!load_golden(&g)) {
        CHECK(0, "golden fixture incomplete (%d tensors)", g.n);
        free_golden(&g);
        return;
    }
    CHECK(fabs(g.total_norm - 2.6550489908080257) < 1e-15, "stored norm %.17g", g.total_norm);
    double c3 = eva_grad_clip_coef(g.total_norm, 3.0), c05 = eva_grad_clip_coef(g.total_norm, 0.5);
    CHECK(c3 == 1.0, "max norm 3 must not clip (coef %g)", c3);
    CHECK(fabs(c05 - 0.18832037126646806) < 1e-15, "clip coef %.17g", c05);
    double d_mask;
    double d = golden_step(&g, 3.0, false, NULL, 0, "mask_token", &d_mask, NULL);
    printf("isolated AdamW step, max norm 3.0: max|after - ref| = %.3e (mask_token %.3e)\n", d, d_mask);
    CHECK(d <= 3e-7, "after.*: max diff %.3e > 3e-7", d);
    d = golden_step(&g, 0.5, true, NULL, 0, NULL, NULL, NULL);
    printf("isolated AdamW step, max norm 0.5: max|after_clip - ref| = %.3e\n", d);
    CHECK(d <= 3e-7, "after_clip.*: max diff %.3e > 3e-7", d);
    /* threads give the same bits */
    eva_pool *pool = NULL;
    CHECK_OK(eva_pool_create(2, &pool));
    double dp = golden_step(&g, 0.5, true, NULL, 0, NULL, NULL, pool);
    CHECK(dp == d, "pooled step differs: %.3e vs %.3e", dp, d);
    eva_pool_free(pool);
    /* sensitivity: taking mask_token out of weight decay (a plausible bug) must be caught */
    const char *wrong[] = {"pos_embed", "cls_token", "mask_token"};
    golden_step(&g, 3.0, false, wrong, 3, "mask_token", &d_mask, NULL);
    printf("wrong group (mask_token without decay): mask_token max diff %.3e (must exceed 3e-7)\n", d_mask);
    CHECK(d_mask > 3e-7, "a wrong weight-decay group went unnoticed (%.3e)", d_mask);
    /* and the groups themselves */
    for (int j = 0; j < g.n; j++) {
        const char *nm = g.names[j];
        bool expect = !(g.ndim[j] == 1 || strcmp(nm, "pos_embed") == 0 || strcmp(nm, "cls_token") == 0 ||
                        strstr(nm, ".bias") == nm + strlen(nm) - 5);
        CHECK(eva_param_has_weight_decay(nm, g.ndim[j], NULL, 0) == expect, "%s decay", nm);
    }
    CHECK(eva_param_has_weight_decay("mask_token", 3, NULL, 0), "mask_token must be decayed");
    free_golden(&g);
}

static cJSON *load_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static void test_finetune_groups(void) {
    cJSON *j = load_json("data/train/finetune_groups.json");
    CHECK(j != NULL, "cannot read finetune_groups.json");
    if (!j) return;
    int depth = cJSON_GetObjectItem(j, "depth")->valueint;
    double r = cJSON_GetObjectItem(j, "layer_decay")->valuedouble;
    const cJSON *params = cJSON_GetObjectItem(j, "params");
    int n = cJSON_GetArraySize(params);
    eva_param_ref refs[MAXP];
    static float dummy[4];
    for (int i = 0; i < n && i < MAXP; i++) {
        const cJSON *p = cJSON_GetArrayItem(params, i);
        refs[i] = (eva_param_ref){cJSON_GetObjectItem(p, "name")->valuestring, dummy, NULL, 1,
                                  cJSON_GetArraySize(cJSON_GetObjectItem(p, "shape"))};
    }
    eva_adamw_config cfg = eva_adamw_config_finetune(depth, r);
    eva_adamw *opt = NULL;
    CHECK_OK(eva_adamw_create(refs, n, &cfg, &opt));
    int bad = 0;
    for (int i = 0; opt && i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(params, i);
        int id = cJSON_GetObjectItem(p, "layer_id")->valueint;
        double scale = cJSON_GetObjectItem(p, "lr_scale")->valuedouble;
        bool decay = cJSON_GetObjectItem(p, "weight_decay")->valuedouble > 0;
        bool ok = eva_adamw_layer_id(opt, i) == id && eva_adamw_lr_scale(opt, i) == scale && eva_adamw_decayed(opt, i) == decay;
        if (!ok) bad++;
        CHECK(ok, "%s: id %d/%d scale %.17g/%.17g decay %d/%d", refs[i].name, eva_adamw_layer_id(opt, i), id,
              eva_adamw_lr_scale(opt, i), scale, eva_adamw_decayed(opt, i), decay);
    }
    printf("fine-tuning groups: %d parameters, %d mismatches (layer id, lr scale bit-exact, weight decay)\n", n, bad);
    const cJSON *vals = cJSON_GetObjectItem(j, "layer_decay_values");
    for (int i = 0; i < cJSON_GetArraySize(vals); i++)
        CHECK(eva_layer_decay_scale(r, depth, i) == cJSON_GetArrayItem(vals, i)->valuedouble, "scale table %d", i);
    /* EVA-g: 0.95^41 = 0.1221 (min/max lr ratio of the IN-1K log) */
    CHECK(fabs(eva_layer_decay_scale(0.95, 40, 0) - 0.12208) < 1e-4, "0.95^41");
    CHECK(eva_vit_layer_id("mask_token", 40) == 0 && eva_vit_layer_id("blocks.39.mlp.fc2.weight", 40) == 40 &&
          eva_vit_layer_id("rel_pos_bias.x", 40) == 41 && eva_vit_layer_id("lm_head.weight", 40) == 41 &&
          eva_vit_layer_id("patch_embed.proj.bias", 40) == 0 && eva_vit_layer_id("blocksX", 40) == 41,
          "layer ids");
    /* the schedule: utils.cosine_scheduler(3e-5, 0, 10 epochs, 1 it/ep, warm-up 2) */
    const cJSON *sch = cJSON_GetObjectItem(j, "schedule"), *lrs = cJSON_GetObjectItem(j, "lr_schedule");
    eva_cosine_schedule s;
    CHECK_OK(eva_cosine_schedule_init(&s, cJSON_GetObjectItem(sch, "base_lr")->valuedouble,
                                      cJSON_GetObjectItem(sch, "min_lr")->valuedouble,
                                      cJSON_GetObjectItem(sch, "epochs")->valueint,
                                      cJSON_GetObjectItem(sch, "niter_per_ep")->valueint,
                                      cJSON_GetObjectItem(sch, "warmup_epochs")->valueint, 0.0, -1));
    double worst = 0;
    for (int i = 0; i < cJSON_GetArraySize(lrs); i++) {
        double want = cJSON_GetArrayItem(lrs, i)->valuedouble, got = eva_cosine_schedule_at(&s, i);
        worst = fmax(worst, fabs(got - want) / 3e-5);
    }
    printf("lr schedule: %d values, max relative diff %.2e\n", cJSON_GetArraySize(lrs), worst);
    CHECK(worst <= 1e-15, "schedule differs by %.3e", worst);
    eva_adamw_free(opt);
    cJSON_Delete(j);
}

static void test_schedule_pretrain(void) {
    /* pre-training: 1e-3 peak, min 1e-5, 150 epochs, warm-up 2 epochs from 0, 100 it/epoch */
    eva_cosine_schedule s;
    CHECK_OK(eva_cosine_schedule_init(&s, 1e-3, 1e-5, 150, 100, 2, 0.0, -1));
    CHECK(eva_cosine_schedule_at(&s, 0) == 0.0, "first lr must be 0");
    CHECK(eva_cosine_schedule_at(&s, 199) == 1e-3 && eva_cosine_schedule_at(&s, 200) == 1e-3, "peak");
    CHECK(fabs(eva_cosine_schedule_at(&s, 100) - 1e-3 * 100 / 199) < 1e-18, "linspace point");
    double last = eva_cosine_schedule_at(&s, 14999);
    CHECK(last > 1e-5 && last < 1e-5 + 1e-9, "last %.17g", last);
    /* epoch-0 mean lr ~ a quarter of the peak (log: 2.4998e-4 with many more iterations) */
    double mean = 0;
    for (int i = 0; i < 100; i++) mean += eva_cosine_schedule_at(&s, i) / 100;
    CHECK(fabs(mean - 1e-3 * 49.5 / 199) < 1e-15, "epoch-0 mean %.6g", mean);
    CHECK(eva_cosine_schedule_init(&s, 1e-3, 0, 1, 10, 2, 0, -1) == EVA_ERR_INVALID_ARG, "warm-up > total accepted");
    CHECK_OK(eva_cosine_schedule_init(&s, 1e-3, 0, 10, 10, 0, 0, 5));   /* warmup_steps overrides */
    CHECK(eva_cosine_schedule_at(&s, 0) == 0.0 && eva_cosine_schedule_at(&s, 4) == 1e-3, "warmup_steps");
}

/* Several steps against a direct transcription of torch.optim.AdamW (double), with decay and
 * layer scales, a parameter without gradient and a grad scale. */
static void test_multi_step(void) {
    enum { N = 1000 };
    static float w[3][N], gbuf[3][N], ref[3][N];
    static double m[3][N], v[3][N];
    eva_rng rng = eva_rng_make(5, 0);
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < N; i++) w[t][i] = ref[t][i] = (float)(0.1 * eva_rng_normal(&rng));
    eva_param_ref refs[3] = {{"blocks.0.attn.qkv.weight", w[0], gbuf[0], N, 2},
                             {"blocks.1.norm1.bias", w[1], gbuf[1], N, 1},
                             {"head.weight", w[2], NULL, N, 2}};
    eva_adamw_config cfg = eva_adamw_config_finetune(2, 0.5);
    eva_adamw *opt;
    CHECK_OK(eva_adamw_create(refs, 3, &cfg, &opt));
    double worst = 0;
    for (int step = 1; step <= 5; step++) {
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < N; i++) gbuf[t][i] = (float)eva_rng_normal(&rng) * (i % 7 == 0 ? 1e-7f : 1.0f);
        double lr = 1e-3 * step, wd = 0.05, scale = 0.7;
        CHECK_OK(eva_adamw_step(opt, lr, wd, scale, NULL));
        double lrs[2] = {lr * 0.25, lr * 0.5}, wds[2] = {wd, 0};   /* layer ids 1, 2 of depth 2 */
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < N; i++) {
                double g = gbuf[t][i] * scale;
                double p = ref[t][i] * (1 - lrs[t] * wds[t]);
                m[t][i] = 0.9 * m[t][i] + 0.1 * g;
                v[t][i] = 0.999 * v[t][i] + 0.001 * g * g;
                double denom = sqrt(v[t][i]) / sqrt(1 - pow(0.999, step)) + 1e-8;
                p -= lrs[t] / (1 - pow(0.9, step)) * m[t][i] / denom;
                ref[t][i] = (float)p;
                worst = fmax(worst, fabs((double)w[t][i] - ref[t][i]));
            }
    }
    int untouched = memcmp(w[2], ref[2], sizeof w[2]) == 0;
    printf("5 AdamW steps vs double transcription: max diff %.3e; no-grad parameter untouched: %d\n", worst, untouched);
    CHECK(worst <= 2e-8, "multi-step diff %.3e", worst);   /* float moments vs double: tiny drift */
    CHECK(untouched, "a parameter without gradient moved");
    CHECK(eva_adamw_steps(opt) == 5, "step count");
    {
        float *mm, *vv;
        eva_adamw_state(opt, 0, &mm, &vv);
        CHECK(eva_adamw_count(opt) == 3 && fabs(mm[1] - m[0][1]) < 1e-6 && fabs(vv[1] - v[0][1]) < 1e-6, "state access");
    }
    eva_adamw_free(opt);
    /* clipping helpers */
    float ga[2] = {3, 0}, gb[1] = {4};
    eva_param_ref cr[3] = {{"a", ga, ga, 2, 1}, {"b", gb, gb, 1, 1}, {"c", gb, NULL, 1, 1}};
    double norm = eva_grad_global_norm(cr, 3);
    CHECK(norm == 5.0, "norm %g", norm);
    double coef = eva_grad_clip_coef(norm, 1.0);
    CHECK(fabs(coef - 1.0 / (5.0 + 1e-6)) < 1e-16, "coef %.17g", coef);
    CHECK(eva_grad_clip_coef(norm, 10.0) == 1.0 && eva_grad_clip_coef(norm, 0) == 1.0, "no clip");
    eva_grad_scale(cr, 3, coef);
    CHECK(fabs(eva_grad_global_norm(cr, 3) - 1.0) < 1e-6, "clipped norm");
    eva_adamw_config badc = eva_adamw_config_pretrain(1);
    badc.beta2 = 1.0;
    eva_adamw *o2 = NULL;
    CHECK(eva_adamw_create(cr, 3, &badc, &o2) == EVA_ERR_INVALID_ARG && !o2, "beta2 = 1 accepted");
}

static void test_init(void) {
    enum { N = 200000 };
    float *x = malloc(sizeof(float) * N);
    eva_rng rng = eva_rng_make(11, 0);
    CHECK_OK(eva_trunc_normal_fill(x, N, 0.0, 0.015, -0.015, 0.015, &rng));
    double s1 = 0, s2 = 0, mn = 1, mx = -1;
    for (int i = 0; i < N; i++) s1 += x[i], s2 += (double)x[i] * x[i], mn = fmin(mn, x[i]), mx = fmax(mx, x[i]);
    double mean = s1 / N, sd = sqrt(s2 / N - mean * mean);
    /* N(0,1) truncated to [-1, 1]: variance 1 - 2 phi(1) / (Phi(1) - Phi(-1)) = 0.291125 */
    double phi1 = exp(-0.5) / sqrt(2 * M_PI), mass = erf(1 / M_SQRT2);
    double want_sd = 0.015 * sqrt(1 - 2 * phi1 / mass);
    double z_mean = mean / (want_sd / sqrt(N));
    /* sd of the sample sd ~ sd * sqrt((kurtosis - 1) / (4 N)); kurtosis of this law < 3 */
    double z_sd = (sd - want_sd) / (want_sd * sqrt(2.0 / (4.0 * N)));
    printf("trunc_normal(0.015, +-1 std): mean %.3e (z %.2f), std %.6f vs %.6f (z %.2f), range [%.6f, %.6f]\n", mean,
           z_mean, sd, want_sd, z_sd, mn, mx);
    CHECK(fabs(z_mean) <= 4 && fabs(z_sd) <= 4, "trunc normal moments");
    CHECK(mn >= -0.015f && mx <= 0.015f && mx > 0.0149f && mn < -0.0149f, "bounds");
    CHECK(eva_trunc_normal_fill(x, 1, 0, 1, 5, 6, &rng) == EVA_ERR_INVALID_ARG, "far tail accepted");
    CHECK(eva_trunc_normal_fill(x, 1, 0, 0, -1, 1, &rng) == EVA_ERR_INVALID_ARG, "std 0 accepted");
    free(x);
    /* per-name rules on a one-block model */
    static float cls[8], posb[16], qkv[3 * 64], qb[8], n1w[8], n1b[8], proj[64], fc2[64], fc2b[8], head[80], headb[10];
    eva_param_ref p[] = {{"cls_token", cls, NULL, 8, 3},       {"pos_embed", posb, NULL, 16, 3},
                         {"blocks.0.attn.qkv.weight", qkv, NULL, 192, 2}, {"blocks.0.attn.q_bias", qb, NULL, 8, 1},
                         {"blocks.0.norm1.weight", n1w, NULL, 8, 1}, {"blocks.0.norm1.bias", n1b, NULL, 8, 1},
                         {"blocks.1.attn.proj.weight", proj, NULL, 64, 2}, {"blocks.1.mlp.fc2.weight", fc2, NULL, 64, 2},
                         {"blocks.1.mlp.fc2.bias", fc2b, NULL, 8, 1}, {"head.weight", head, NULL, 80, 2},
                         {"head.bias", headb, NULL, 10, 1}};
    for (int i = 0; i < 8; i++) qb[i] = n1b[i] = fc2b[i] = 5;
    eva_init_config ic = eva_init_config_pretrain();
    CHECK_OK(eva_init_vit_params(p, (int)EVA_ARRAY_LEN(p), &ic, 3));
    double amax_proj = 0, amax_qkv = 0;
    for (int i = 0; i < 64; i++) amax_proj = fmax(amax_proj, fabs(proj[i])), amax_proj = fmax(amax_proj, fabs(fc2[i]));
    for (int i = 0; i < 192; i++) amax_qkv = fmax(amax_qkv, fabs(qkv[i]));
    CHECK(amax_proj <= 0.015 / 2.0 + 1e-9 && amax_proj > 0.004, "block 1 proj/fc2 rescaled by 1/sqrt(4): %g", amax_proj);
    CHECK(amax_qkv <= 0.015 && amax_qkv > 0.01, "qkv not rescaled: %g", amax_qkv);
    CHECK(qb[0] == 0 && n1b[3] == 0 && fc2b[7] == 0 && n1w[0] == 1 && n1w[7] == 1, "constants");
    CHECK(cls[0] != 0 && fabs(cls[0]) <= 0.015 && posb[15] != 0, "tokens drawn");
    eva_init_config fc = eva_init_config_finetune();
    CHECK_OK(eva_init_vit_params(p, (int)EVA_ARRAY_LEN(p), &fc, 3));
    double amax_head = 0;
    for (int i = 0; i < 80; i++) amax_head = fmax(amax_head, fabs(head[i]));
    CHECK(amax_head > 0 && amax_head < 0.02 * 5 * 1e-3, "head scaled by 1e-3: %g", amax_head);
}

int main(void) {
    test_golden_step();
    test_finetune_groups();
    test_schedule_pretrain();
    test_multi_step();
    test_init();
    return test_finish("test_optim");
}
