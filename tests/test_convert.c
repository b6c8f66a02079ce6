/* test_convert.c — eva_model_save round trips (F32 bit-identical outputs, F16/BF16 close, the
 * resampled-size variant, metadata so no flags are needed) and patch 14 -> 16 against the golden
 * tiny_p14to16 (kernel <= 1e-6 abs, outputs at the giant tolerance; timm's pinv variant against
 * the informational timm_loader outputs). */
#include "test_util.h"

static void forward_logits(const char *path, const eva_model_params *p, const float *input, int B, int S, float *logits,
                           float *pre) {
    eva_model *m = NULL;
    CHECK_OK(eva_model_load(path, p, &m));
    if (!m) return;
    eva_ctx *ctx;
    CHECK_OK(eva_ctx_create(m, 2, &ctx));
    eva_outputs out = {.logits = logits, .pre_logits = pre};
    CHECK_OK(eva_forward(ctx, input, B, S, &out));
    eva_ctx_free(ctx);
    eva_model_free(m);
}

int main(void) {
    const char *w = test_tiny_weights();
    CHECK(w != NULL, "tiny weights: %s", eva_last_error());
    if (!w) return test_finish("test_convert");
    char path[512];
    int B = 2;
    size_t n = (size_t)B * 3 * 224 * 224;
    float *input = malloc(sizeof(float) * n);
    eva_synthetic_input("tiny-public/224", input, n);
    float ref_logits[20], ref_pre[384], got[20], got_pre[384];
    eva_model_params p = eva_model_default_params();
    forward_logits(w, &p, input, B, 224, ref_logits, ref_pre);

    /* F32 round trip: bit-identical */
    eva_model *m;
    CHECK_OK(eva_model_load(w, &p, &m));
    snprintf(path, sizeof path, "%s/conv_f32.safetensors", test_tmp_dir());
    CHECK_OK(eva_model_save(m, path, EVA_F32, "test"));
    forward_logits(path, &p, input, B, 224, got, got_pre);
    CHECK(memcmp(got, ref_logits, sizeof got) == 0, "F32 round trip changed the logits");
    eva_tensor_file *f;
    CHECK_OK(eva_tensor_file_open(path, &f));
    const char *heads = eva_tensor_file_metadata(f, "eva.heads"), *pool = eva_tensor_file_metadata(f, "eva.pooling");
    CHECK(heads && !strcmp(heads, "3"), "eva.heads metadata %s", heads ? heads : "(none)");
    CHECK(pool && !strcmp(pool, "mean_fcnorm"), "eva.pooling metadata %s", pool ? pool : "(none)");
    eva_tensor_file_close(f);
    /* F16 and BF16: load with no flags, close to F32 */
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/conv_%s.safetensors", test_tmp_dir(), k ? "bf16" : "f16");
        CHECK_OK(eva_model_save(m, path, k ? EVA_BF16 : EVA_F16, NULL));
        forward_logits(path, &p, input, B, 224, got, got_pre);
        test_compare(k ? "bf16 weights logits" : "f16 weights logits", got, ref_logits, 20, k ? 3e-2 : 4e-3);
    }
    CHECK(eva_model_save(m, path, EVA_I32, NULL) == EVA_ERR_UNSUPPORTED, "I32 save accepted");
    eva_model_free(m);

    /* stored at another size: same numbers as resampling at load */
    eva_model_params p336 = eva_model_default_params();
    p336.img_size = 336;
    size_t n336 = (size_t)B * 3 * 336 * 336;
    float *in336 = malloc(sizeof(float) * n336);
    eva_synthetic_input("tiny-public/336", in336, n336);
    float l336[20], pre336[384];
    forward_logits(w, &p336, in336, B, 336, l336, pre336);
    CHECK_OK(eva_model_load(w, &p336, &m));
    snprintf(path, sizeof path, "%s/conv_336.safetensors", test_tmp_dir());
    CHECK_OK(eva_model_save(m, path, EVA_F32, NULL));
    eva_model_free(m);
    forward_logits(path, &p, in336, B, 336, got, got_pre);   /* no flags: 336 is its own size now */
    CHECK(memcmp(got, l336, sizeof got) == 0, "336 conversion changed the logits");
    free(in336);

    /* patch 14 -> 16, official and pinv */
    eva_tensor_file *gold;
    CHECK_OK(eva_tensor_file_open("data/golden/tiny/tiny_p14to16.safetensors", &gold));
    for (int method = 0; method < 2 && gold; method++) {
        snprintf(path, sizeof path, "%s/p16_%d.safetensors", test_tmp_dir(), method);
        CHECK_OK(eva_patch14to16(w, path, method ? EVA_PATCH_PINV : EVA_PATCH_OFFICIAL, NULL));
        if (method == 0) {
            eva_tensor_file *conv;
            CHECK_OK(eva_tensor_file_open(path, &conv));
            size_t nk = 0, nr = 0;
            float *k = test_read_tensor(conv, "patch_embed.proj.weight", &nk);
            float *r = test_read_tensor(gold, "patch_embed.proj.weight", &nr);
            double worst = 0;
            for (size_t i = 0; k && r && i < nk && nk == nr; i++) worst = fmax(worst, fabs((double)k[i] - r[i]));
            CHECK(k && r && nk == nr && worst <= 1e-6, "kernel max abs diff %g", worst);
            printf("patch14to16 kernel: max abs diff %.3e (tol 1e-6)\n", worst);
            free(k);
            free(r);
            float *pe = test_read_tensor(conv, "pos_embed", &nk), *pr = test_read_tensor(gold, "pos_embed", &nr);
            if (pe && pr && nk == nr) test_compare("p14to16 pos_embed", pe, pr, nk, 1e-6);
            free(pe);
            free(pr);
            eva_tensor_file_close(conv);
        }
        forward_logits(path, &p, input, B, 224, got, got_pre);
        float *rl = test_read_tensor(gold, method ? "timm_loader.logits" : "logits", NULL);
        float *rp = test_read_tensor(gold, method ? "timm_loader.pre_logits" : "pre_logits", NULL);
        if (rl) test_compare(method ? "pinv logits" : "p14to16 logits", got, rl, 20, 5e-5);
        if (rp) test_compare(method ? "pinv pre_logits" : "p14to16 pre_logits", got_pre, rp, 384, 5e-5);
        free(rl);
        free(rp);
    }
    eva_tensor_file_close(gold);
    free(input);
    return test_finish("test_convert");
}
