/* test_convert.c — eva_model_save round trips (F32 bit-identical outputs, F16/BF16 close, the
 * resampled-size variant, metadata so no flags are needed) and patch 14 -> 16 against the golden
 * tiny_p14to16 (kernel <= 1e-6 abs, outputs at the giant tolerance; timm's pinv variant against
 * the informational timm_loader outputs). Weight panels (--layout panels): the file holds
 * F32 [ceil(N/32), K, 32] block matrices that load as views into the mmap (64-byte aligned by the
 * writer), and every combination of stored / requested layout gives bit-identical outputs.
 * eva_release_file_pages (checkpoint pages of matrices converted at load leave the process): the
 * resident page count drops, the data reads back the same, other memory is left alone. */
#include "models/vit.h"
#include "test_util.h"

#include <stdio.h>
#include <unistd.h>

/* Resident pages of this process (Linux /proc/self/statm), or -1. */
static long resident_pages(void) {
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, res = -1;
    if (fp && fscanf(fp, "%ld %ld", &size, &res) != 2) res = -1;
    if (fp) fclose(fp);
    return res;
}

/* eva_release_file_pages: the pages of a mapped checkpoint range leave this process's memory,
 * the data reads back the same from the file, and ranges outside the mapping are left alone. */
static void test_release_pages(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/release.bin", test_tmp_dir());
    enum { BYTES = 4 << 20 };
    uint8_t *buf = malloc(BYTES);
    FILE *fp = fopen(path, "wb");
    CHECK(buf && fp, "cannot write %s", path);
    if (!buf || !fp) { free(buf); if (fp) fclose(fp); return; }
    for (size_t i = 0; i < BYTES; i++) buf[i] = (uint8_t)(i * 131 + (i >> 12));
    CHECK(fwrite(buf, 1, BYTES, fp) == BYTES, "short write");
    fclose(fp);
    eva_mapped_file mf;
    CHECK_OK(eva_map_file(path, &mf));
    if (mf.data) {
        unsigned long sum = 0;
        for (size_t i = 0; i < BYTES; i += 512) sum += mf.data[i];   /* touch every page */
        long before = resident_pages();
        eva_release_file_pages(&mf, mf.data + 100, BYTES - 200);     /* all but the two partial pages */
        long after = resident_pages();
        long page = sysconf(_SC_PAGESIZE);
        if (before < 0 || page <= 0) {
            printf("SKIPPED: resident-page check (no /proc/self/statm)\n");
        } else {
            printf("release: %ld -> %ld resident pages (%ld in the range)\n", before, after, (long)(BYTES / page) - 2);
            CHECK(before - after >= (long)(BYTES / page) * 3 / 4, "released %ld pages of %ld", before - after,
                  (long)(BYTES / page));
        }
        CHECK(memcmp(mf.data, buf, BYTES) == 0 && sum > 0, "data changed after the release");
        eva_release_file_pages(&mf, buf, BYTES);   /* not in the mapping: ignored */
        CHECK(buf[12345] == (uint8_t)(12345 * 131 + 3), "a buffer outside the mapping was touched");
        eva_unmap_file(&mf);
    }
    free(buf);
    remove(path);
}

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

    test_release_pages();

    /* weight panels: saved, loaded as views, same numbers whichever layout runs */
    snprintf(path, sizeof path, "%s/conv_panels.safetensors", test_tmp_dir());
    CHECK_OK(eva_model_save_panels(m, path, NULL));
    CHECK(!eva_model_weights_panels(m), "a rows model reports panels");
    eva_model *pm = NULL;
    CHECK_OK(eva_model_load(path, &p, &pm));
    if (pm) {
        CHECK(eva_model_weights_panels(pm), "panels file not loaded as panels");
        const eva_block_weights *b0 = &pm->blocks[0];
        CHECK(b0->fc1_w == NULL && b0->fc1_lp.panels != NULL, "panels model holds fc1 rows");
        /* zero-copy: the panels point into the file mapping, not the owned arena */
        const char *pp = (const char *)b0->fc1_lp.panels, *own = (const char *)pm->owned;
        CHECK(!(pp >= own && pp < own + pm->owned_floats * sizeof(float)), "panels were copied at load");
        CHECK((uintptr_t)pp % 64 == 0, "panels view not 64-byte aligned");
        float w0 = eva_panels_at(b0->fc1_lp.panels, 192, 33, 5), r0 = m->blocks[0].fc1_w[33 * 192 + 5];
        CHECK(w0 == r0, "panel element [33, 5] = %g, row weight %g", w0, r0);
        eva_model_free(pm);
    }
    static const eva_weight_layout layouts[3] = {EVA_LAYOUT_AS_STORED, EVA_LAYOUT_ROWS, EVA_LAYOUT_PANELS};
    for (int f = 0; f < 2; f++)
        for (int l = 0; l < 3; l++) {
            eva_model_params pl = eva_model_default_params();
            pl.weight_layout = layouts[l];
            forward_logits(f ? path : w, &pl, input, B, 224, got, got_pre);
            CHECK(memcmp(got, ref_logits, sizeof got) == 0 && memcmp(got_pre, ref_pre, sizeof got_pre) == 0,
                  "%s file, layout %d: logits differ from the rows model", f ? "panels" : "rows", l);
        }
    eva_model_params bad = eva_model_default_params();
    bad.weight_layout = (eva_weight_layout)7;
    eva_model *none = NULL;
    CHECK(eva_model_load(path, &bad, &none) == EVA_ERR_INVALID_ARG && !none, "layout 7 accepted");
    /* panels file -> rows file: the original weights, bit for bit */
    CHECK_OK(eva_model_load(path, &p, &pm));
    if (pm) {
        char back[512];
        snprintf(back, sizeof back, "%s/conv_unpanelled.safetensors", test_tmp_dir());
        CHECK_OK(eva_model_save(pm, back, EVA_F32, NULL));
        eva_model_free(pm);
        eva_model *rm = NULL;
        CHECK_OK(eva_model_load(back, &p, &rm));
        if (rm) {
            CHECK(!eva_model_weights_panels(rm), "unpanelled file loads as panels");
            CHECK(memcmp(rm->blocks[1].qkv_w, m->blocks[1].qkv_w, sizeof(float) * 576 * 192) == 0,
                  "qkv rows changed by the panels round trip");
            eva_model_free(rm);
        }
    }
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
