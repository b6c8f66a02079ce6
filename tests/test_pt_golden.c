/* test_pt_golden.c — the published-checkpoint layouts through the model loader (golden README
 * §2.1): the official {'model','model_ema','epoch'} .pt (storages shared between the two state
 * dicts) with the official and timm key policies and --ckpt-key, and the DeepSpeed fp16 MIM .pt
 * with timm's norm->fc_norm mapping and with the official MIM semantics; then eva_model_save
 * round trips (converted file = identical outputs). Tolerance 2e-5 x max|ref|. The official .pt
 * is stored as two byte-range parts (files stay < 5 MB) and concatenated here. */
#include "test_util.h"

static const char *assemble_official(void) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/tiny_official_model_ema.pt", test_tmp_dir());
    FILE *out = fopen(path, "wb");
    if (!out) return NULL;
    for (int p = 0; p < 2; p++) {
        char part[256];
        snprintf(part, sizeof part, "data/pt/tiny_official_model_ema.pt.part%d", p);
        FILE *in = fopen(part, "rb");
        if (!in) { fclose(out); return NULL; }
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
        fclose(in);
    }
    return fclose(out) == 0 ? path : NULL;
}

typedef struct { float logits[20], pre[384], cls[384], tokens[2 * 257 * 192]; } outs;

static void run(const char *path, const eva_model_params *p, const float *input, outs *o, bool want_logits) {
    eva_model *m = NULL;
    CHECK_OK(eva_model_load(path, p, &m));
    if (!m) return;
    eva_ctx *ctx;
    CHECK_OK(eva_ctx_create(m, 2, &ctx));
    eva_outputs out = {.logits = want_logits ? o->logits : NULL, .pre_logits = o->pre, .cls_final = o->cls, .tokens_final = o->tokens};
    CHECK_OK(eva_forward(ctx, input, 2, 224, &out));
    eva_ctx_free(ctx);
    eva_model_free(m);
}

static void cmp(eva_tensor_file *g, const char *name, const float *got, size_t n) {
    float *ref = test_read_tensor(g, name, NULL);
    if (ref) test_compare(name, got, ref, n, 2e-5);
    free(ref);
}

int main(void) {
    eva_tensor_file *g;
    CHECK_OK(eva_tensor_file_open("data/golden/tiny/tiny_forward.safetensors", &g));
    float *input = g ? test_read_tensor(g, "input", NULL) : NULL;
    const char *official = assemble_official();
    CHECK(official != NULL, "cannot assemble the official .pt");
    if (!input || !official) return test_finish("test_pt_golden");
    outs *o = malloc(sizeof *o);
    eva_model_params p = eva_model_default_params();

    /* official policy: 'model' */
    run(official, &p, input, o, true);
    cmp(g, "logits", o->logits, 20);
    cmp(g, "pre_logits", o->pre, 384);
    /* --ckpt-key model_ema, and timm's policy (model_ema first) */
    p.ckpt_key = "model_ema";
    run(official, &p, input, o, true);
    cmp(g, "ema.logits", o->logits, 20);
    p.ckpt_key = NULL;
    p.ckpt_policy = EVA_CKPT_TIMM;
    run(official, &p, input, o, true);
    cmp(g, "ema.pre_logits", o->pre, 384);
    p = eva_model_default_params();
    p.ckpt_key = "optimizer";
    eva_model *bad = NULL;
    CHECK(eva_model_load(official, &p, &bad) == EVA_ERR_MISSING && strstr(eva_last_error(), "found:"), "bad key: %s",
          eva_last_error());

    /* DeepSpeed fp16 MIM checkpoint: timm mapping, then official MIM semantics */
    const char *mim = "data/pt/tiny_mim_deepspeed_fp16.pt";
    p = eva_model_default_params();
    p.timm_mim_mapping = true;
    run(mim, &p, input, o, false);
    cmp(g, "fp16mim.pre_logits", o->pre, 384);
    cmp(g, "fp16mim.cls_final", o->cls, 384);
    p.timm_mim_mapping = false;
    run(mim, &p, input, o, false);
    float normed_cls[384], normed_mean[384];
    for (int b = 0; b < 2; b++)
        for (int d = 0; d < 192; d++) {
            normed_cls[b * 192 + d] = o->tokens[(size_t)b * 257 * 192 + d];
            double s = 0;
            for (int t = 1; t < 257; t++) s += o->tokens[((size_t)b * 257 + t) * 192 + d];
            normed_mean[b * 192 + d] = (float)(s / 256);
        }
    cmp(g, "fp16mim.normed_cls", normed_cls, 384);
    cmp(g, "fp16mim.normed_patch_mean", normed_mean, 384);
    cmp(g, "fp16mim.normed_patch_mean", o->pre, 384);   /* a MIM model's pre_logits = that mean */

    /* conversion of both .pt files: identical outputs from the converted safetensors */
    char conv[1024];
    const char *srcs[2] = {official, mim};
    for (int k = 0; k < 2; k++) {
        eva_model *m = NULL;
        p = eva_model_default_params();
        CHECK_OK(eva_model_load(srcs[k], &p, &m));
        if (!m) continue;
        snprintf(conv, sizeof conv, "%s/pt_converted_%d.safetensors", test_tmp_dir(), k);
        CHECK_OK(eva_model_save(m, conv, EVA_F32, "test"));
        eva_model_free(m);
        outs *a = malloc(sizeof *a), *b = malloc(sizeof *b);
        run(srcs[k], &p, input, a, k == 0);
        run(conv, &p, input, b, k == 0);
        CHECK(memcmp(a->pre, b->pre, sizeof a->pre) == 0 && memcmp(a->tokens, b->tokens, sizeof a->tokens) == 0,
              "%s: converted file gives different outputs", srcs[k]);
        free(a);
        free(b);
    }
    free(o);
    free(input);
    eva_tensor_file_close(g);
    return test_finish("test_pt_golden");
}
