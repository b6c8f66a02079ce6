/* test_forward_golden.c — the tiny EVA against the official code's numbers (golden README §2,
 * §4): main forward, block 0, both pos-embed resampling methods at 336 and 280, and the
 * reference kernels against the fast ones. Tolerance: max|c - ref| <= 2e-5 * max|ref|. */
#include "test_util.h"

#define TOL 2e-5

static void compare_named(eva_tensor_file *gold, const char *name, const float *got, size_t n) {
    size_t nref;
    float *ref = test_read_tensor(gold, name, &nref);
    if (!ref) return;
    CHECK(nref == n, "%s: %zu values, expected %zu", name, n, nref);
    if (nref == n) test_compare(name, got, ref, n, TOL);
    free(ref);
}

static void run_main_forward(const char *weights) {
    eva_tensor_file *gold;
    CHECK_OK(eva_tensor_file_open("data/golden/tiny/tiny_forward.safetensors", &gold));
    if (!gold) return;
    size_t n = 0;
    float *input = test_read_tensor(gold, "input", &n);
    if (!input) return;
    /* the stored input is the formula input 'tiny-public/224': check our formula against it */
    float *formula = malloc(sizeof(float) * n);
    eva_synthetic_input("tiny-public/224", formula, n);
    CHECK(memcmp(formula, input, sizeof(float) * n) == 0, "formula input differs from the stored input");
    free(formula);

    eva_model *m;
    eva_model_params p = eva_model_default_params();
    CHECK_OK(eva_model_load(weights, &p, &m));
    if (!m) return;
    eva_model_info info;
    eva_model_get_info(m, &info);
    CHECK(info.width == 192 && info.depth == 3 && info.heads == 3 && info.mlp_hidden == 832 && info.num_classes == 10,
          "inferred config %d/%d/%d/%d/%d", info.width, info.depth, info.heads, info.mlp_hidden, info.num_classes);
    CHECK(info.pooling == EVA_POOL_MEAN_FCNORM, "pooling %d", info.pooling);
    int B = 2, N = 257, D = 192;
    for (int variant = 0; variant < 2; variant++) {
        /* variant 0: fast kernels; 1: plain reference kernels */
        setenv("EVA_REFERENCE", variant ? "1" : "0", 1);
        eva_ctx *ctx;
        CHECK_OK(eva_ctx_create(m, 2, &ctx));
        float *logits = malloc(sizeof(float) * B * 10), *pre = malloc(sizeof(float) * B * D);
        float *tokens = malloc(sizeof(float) * B * N * D), *blk = malloc(sizeof(float) * B * N * D);
        float *cls = malloc(sizeof(float) * B * D);
        eva_outputs out = {.logits = logits, .pre_logits = pre, .tokens_final = tokens, .cls_final = cls,
                           .block_out = blk, .block_index = 0};
        CHECK_OK(eva_forward(ctx, input, B, 224, &out));
        printf("-- %s kernels\n", variant ? "reference" : "fast");
        compare_named(gold, "logits", logits, (size_t)B * 10);
        compare_named(gold, "pre_logits", pre, (size_t)B * D);
        compare_named(gold, "tokens_final", tokens, (size_t)B * N * D);
        compare_named(gold, "block0_out", blk, (size_t)B * N * D);
        /* cls_final is token 0 of tokens_final here (no final norm in a classifier) */
        CHECK(memcmp(cls, tokens, sizeof(float) * D) == 0, "cls_final != tokens_final[0,0]");
        /* a second call reuses the arena and gives identical numbers */
        float *logits2 = malloc(sizeof(float) * B * 10);
        eva_outputs out2 = {.logits = logits2};
        CHECK_OK(eva_forward(ctx, input, B, 224, &out2));
        CHECK(memcmp(logits, logits2, sizeof(float) * B * 10) == 0, "second forward differs");
        free(logits2);
        /* bad calls: wrong size, block out of range, no lm_head */
        CHECK(eva_forward(ctx, input, B, 210, &out2) == EVA_ERR_SHAPE, "wrong size accepted");
        eva_outputs bad = {.block_out = blk, .block_index = 3};
        CHECK(eva_forward(ctx, input, B, 224, &bad) == EVA_ERR_INVALID_ARG, "block 3 of 3 accepted");
        eva_outputs bad2 = {.lm_out = blk};
        CHECK(eva_forward(ctx, input, B, 224, &bad2) == EVA_ERR_INVALID_ARG, "lm_out without lm_head accepted");
        free(logits); free(pre); free(tokens); free(blk); free(cls);
        eva_ctx_free(ctx);
    }
    setenv("EVA_REFERENCE", "0", 1);
    free(input);
    eva_model_free(m);
    eva_tensor_file_close(gold);
}

static void run_posinterp(const char *weights, int S, eva_posemb_method method) {
    const char *mname = method == EVA_POSEMB_TIMM ? "timm" : "official";
    char path[256], tag[64], name[64];
    snprintf(path, sizeof path, "data/golden/tiny/tiny_posinterp_%d.safetensors", S);
    snprintf(tag, sizeof tag, "tiny-public/%d", S);
    eva_tensor_file *gold;
    CHECK_OK(eva_tensor_file_open(path, &gold));
    if (!gold) return;
    int B = 2, D = 192;
    size_t n = (size_t)B * 3 * S * S;
    float *input = malloc(sizeof(float) * n);
    eva_synthetic_input(tag, input, n);
    size_t n8;
    float *first8 = test_read_tensor(gold, "input_first8", &n8);
    CHECK(first8 && memcmp(first8, input, sizeof(float) * 8) == 0, "input_first8 mismatch for %s", tag);
    free(first8);
    eva_model_params p = eva_model_default_params();
    p.img_size = S;
    p.posemb = method;
    eva_model *m;
    CHECK_OK(eva_model_load(weights, &p, &m));
    if (!m) return;
    eva_ctx *ctx;
    CHECK_OK(eva_ctx_create(m, 2, &ctx));
    float logits[20], pre[2 * 192], cls[2 * 192];
    eva_outputs out = {.logits = logits, .pre_logits = pre, .cls_final = cls};
    CHECK_OK(eva_forward(ctx, input, B, S, &out));
    printf("-- %d px, %s resampling\n", S, mname);
    snprintf(name, sizeof name, "%s.logits", mname);
    compare_named(gold, name, logits, (size_t)B * 10);
    snprintf(name, sizeof name, "%s.pre_logits", mname);
    compare_named(gold, name, pre, (size_t)B * D);
    snprintf(name, sizeof name, "%s.cls_final", mname);
    compare_named(gold, name, cls, (size_t)B * D);
    eva_ctx_free(ctx);
    eva_model_free(m);
    free(input);
    eva_tensor_file_close(gold);
}

int main(void) {
    const char *weights = test_tiny_weights();
    CHECK(weights != NULL, "cannot assemble the tiny weights: %s", eva_last_error());
    if (!weights) return test_finish("test_forward_golden");
    run_main_forward(weights);
    for (int S = 280; S <= 336; S += 56) {
        run_posinterp(weights, S, EVA_POSEMB_OFFICIAL);
        run_posinterp(weights, S, EVA_POSEMB_TIMM);
    }
    /* a size that is not a multiple of the patch is refused at load */
    eva_model_params p = eva_model_default_params();
    p.img_size = 230;
    eva_model *m = NULL;
    CHECK(eva_model_load(weights, &p, &m) == EVA_ERR_INVALID_ARG && !m, "size 230 accepted");
    CHECK(strstr(eva_last_error(), "multiple of the patch") != NULL, "message: %s", eva_last_error());
    return test_finish("test_forward_golden");
}
