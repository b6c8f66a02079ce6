/* test_classify.c — images in, answers out, through the public API: decoding + the model's
 * preprocessing (with crop_pct 0.9 = the timm t224 transform) reproduces the stored golden
 * tensor bit for bit, and eva_classify / eva_embed give exactly what eva_forward gives on that
 * stored tensor (same numbers, not just close). */
#include "test_util.h"

int main(void) {
    const char *w = test_tiny_weights();
    CHECK(w != NULL, "tiny weights: %s", eva_last_error());
    if (!w) return test_finish("test_classify");
    eva_model *m;
    eva_model_params p = eva_model_default_params();
    CHECK_OK(eva_model_load(w, &p, &m));
    if (!m) return test_finish("test_classify");
    eva_ctx *ctx;
    CHECK_OK(eva_ctx_create(m, 2, &ctx));
    eva_preprocess_params pp;
    CHECK_OK(eva_model_preprocess(m, NULL, &pp));
    CHECK(pp.size == 224 && pp.squash == 0, "preset size %d squash %d", pp.size, pp.squash);
    pp.crop_pct = 0.9f;   /* = timm eva_giant_patch14_224 (t224): Resize(248) + CenterCrop(224) */
    const char *names[] = {"grace_hopper.jpg", "chelsea.png", "rocket.jpg"};
    for (int i = 0; i < 3; i++) {
        char img_path[256], gold_path[256], stem[64];
        snprintf(img_path, sizeof img_path, "data/preprocess/%s", names[i]);
        snprintf(stem, sizeof stem, "%.*s", (int)(strchr(names[i], '.') - names[i]), names[i]);
        snprintf(gold_path, sizeof gold_path, "data/preprocess/preprocess_%s.safetensors", stem);
        float *x = malloc(sizeof(float) * 3 * 224 * 224);
        CHECK_OK(eva_preprocess_file(img_path, &pp, x, NULL));
        eva_tensor_file *g;
        CHECK_OK(eva_tensor_file_open(gold_path, &g));
        float *ref = g ? test_read_tensor(g, "t224.input", NULL) : NULL;
        CHECK(ref && memcmp(ref, x, sizeof(float) * 3 * 224 * 224) == 0, "%s: preprocessing is not bit-exact", names[i]);
        /* forward on the stored tensor vs classify / embed on the decoded image */
        float logits[10], pre[192], emb[192];
        eva_outputs o = {.logits = logits, .pre_logits = pre};
        CHECK_OK(eva_forward(ctx, ref ? ref : x, 1, 224, &o));
        eva_topk top[3];
        CHECK_OK(eva_classify(ctx, x, 1, 3, top));
        int best = 0;
        for (int c = 1; c < 10; c++) if (logits[c] > logits[best]) best = c;
        CHECK(top[0].index == best && top[0].logit == logits[best], "%s: top-1 %d (%g) vs forward %d (%g)", names[i],
              top[0].index, top[0].logit, best, logits[best]);
        CHECK(top[0].logit >= top[1].logit && top[1].logit >= top[2].logit, "top-k not sorted");
        double z = 0;
        for (int c = 0; c < 10; c++) z += exp((double)logits[c] - logits[best]);
        CHECK(fabs(top[0].prob - 1.0 / z) < 1e-6, "probability %g vs %g", top[0].prob, 1.0 / z);
        CHECK_OK(eva_embed(ctx, x, 1, EVA_EMBED_DEFAULT, -1, emb));
        CHECK(memcmp(emb, pre, sizeof pre) == 0, "%s: embedding != pre_logits", names[i]);
        CHECK(eva_embed_dim(m, EVA_EMBED_TOKENS, -1) == 257 * 192, "tokens dim");
        free(ref);
        free(x);
        eva_tensor_file_close(g);
    }
    /* a bad file fails cleanly through the same path */
    float *x = malloc(sizeof(float) * 3 * 224 * 224);
    CHECK(eva_preprocess_file("data/preprocess/does_not_exist.jpg", &pp, x, NULL) != EVA_OK, "missing file accepted");
    CHECK(eva_preprocess_file("test_classify.c", &pp, x, NULL) != EVA_OK, "C source decoded as an image");
    free(x);
    eva_ctx_free(ctx);
    eva_model_free(m);
    return test_finish("test_classify");
}
