/* test_finetune_step.c — `eva finetune-step` against one official EVA-01 fine-tuning step
 * (golden README-teacher-finetune §2): logits, loss, every stored gradient (full or row
 * selections), the parameters after AdamW with layer decay 0.75, the EMA, stop_grad_conv1
 * (patch_embed untouched, no gradient), and the CutMix variant replayed with the recorded box.
 * Tolerances of §2.10: logits 1e-5 x max|ref|, loss 2e-6, gradients 2e-5 x max|ref| per tensor,
 * parameters after 2e-5, EMA 3e-7, patch_embed bit-identical, CutMix targets 1e-7. */
#include "test_util.h"

#include <cJSON.h>

static cJSON *g_json;

static int row_stride(const char *variant, const char *name) {
    cJSON *pp = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g_json, "storage"), "per_param"), variant);
    cJSON *e = cJSON_GetObjectItem(pp, name);
    cJSON *s = e ? cJSON_GetObjectItem(e, "row_stride") : NULL;
    return s && cJSON_IsNumber(s) && s->valueint > 0 ? s->valueint : 1;
}

/* compare got rows 0, s, 2s, ... (of a tensor whose first dim has R rows of `per_row` values) */
static double max_diff_rows(const float *got, const float *ref, size_t n_ref, size_t per_row, int stride, double *max_ref) {
    double worst = 0;
    *max_ref = 0;
    for (size_t i = 0; i < n_ref; i++) {
        size_t row = i / per_row, col = i % per_row;
        double r = ref[i], g = got[row * stride * per_row + col];
        worst = fmax(worst, fabs(g - r));
        *max_ref = fmax(*max_ref, fabs(r));
    }
    return worst;
}

static void check_variant(const char *variant, const char *extra_flags, eva_tensor_file *gold) {
    char cmd[2048], out[512];
    snprintf(out, sizeof out, "%s/ft_%s.safetensors", test_tmp_dir(), variant);
    snprintf(cmd, sizeof cmd,
             "\"%s\" finetune-step --model data/finetune/finetune_init_f16.safetensors --input "
             "data/finetune/finetune_step.safetensors -o %s --lr 3e-5 --layer-decay 0.75 --wd 0.05 --betas 0.9,0.999 "
             "--eps 1e-8 --ema 0.9999 -t 2 %s",
             getenv("EVA_BIN"), out, extra_flags);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    eva_tensor_file *o = NULL, *init = NULL;
    CHECK_OK(eva_tensor_file_open(out, &o));
    CHECK_OK(eva_tensor_file_open("data/finetune/finetune_init_f16.safetensors", &init));
    if (!o || !init) return;
    char name[300];
    size_t n;
    printf("-- variant %s\n", variant);
    snprintf(name, sizeof name, "%s.logits", variant);
    float *ref = test_read_tensor(gold, name, &n), *got = test_read_tensor(o, "output.logits", NULL);
    if (ref && got) test_compare(name, got, ref, n, 1e-5);
    free(ref); free(got);
    eva_tensor_view lv;
    snprintf(name, sizeof name, "%s.loss_f64", variant);
    if (eva_tensor_file_find(gold, name, &lv) == EVA_OK) {
        eva_tensor_view gv;
        CHECK_OK(eva_tensor_file_find(o, "output.loss_f64", &gv));
        double dl = fabs(*(const double *)gv.data - *(const double *)lv.data);
        CHECK(dl <= 2e-6, "loss differs by %g", dl);
        printf("loss %.12f vs %.12f (|diff| %.2e, tol 2e-6)\n", *(const double *)gv.data, *(const double *)lv.data, dl);
    }
    int n_grad = 0, n_after = 0, n_ema = 0;
    double worst_after = 0, worst_ema = 0;
    for (int i = 0; i < eva_tensor_file_count(gold); i++) {
        eva_tensor_view v;
        eva_tensor_file_get(gold, i, &v);
        size_t vl = strlen(variant);
        if (strncmp(v.name, variant, vl) || v.name[vl] != '.') continue;
        const char *rest = v.name + vl + 1;
        const char *kinds[] = {"grad.", "grad_rows.", "after.", "after_rows.", "ema_prefix."};
        for (int k = 0; k < 5; k++) {
            size_t kl = strlen(kinds[k]);
            if (strncmp(rest, kinds[k], kl)) continue;
            const char *param = rest + kl;
            snprintf(name, sizeof name, "%s%s", k <= 1 ? "grad." : k <= 3 ? "after." : "ema.", param);
            eva_tensor_view gv;
            if (eva_tensor_file_find(o, name, &gv) != EVA_OK) {
                CHECK(0, "output lacks %s", name);
                continue;
            }
            size_t nref = 1, per_row = 1;
            for (int d = 0; d < v.ndim; d++) nref *= (size_t)v.shape[d];
            for (int d = 1; d < v.ndim; d++) per_row *= (size_t)v.shape[d];
            float *r = test_read_tensor(gold, v.name, NULL), *c = test_read_tensor(o, name, NULL);
            int stride = (k == 1 || k == 3) ? row_stride(variant, param) : 1;
            double mref, diff = max_diff_rows(c, r, nref, k == 4 ? nref : per_row, k == 4 ? 1 : stride, &mref);
            if (k <= 1) {
                n_grad++;
                CHECK(diff <= 2e-5 * mref, "%s: gradient max|diff| %g (max|ref| %g)", v.name, diff, mref);
            } else if (k <= 3) {
                n_after++;
                worst_after = fmax(worst_after, diff);
                CHECK(diff <= 2e-5, "%s: after max|diff| %g", v.name, diff);
            } else {
                n_ema++;
                worst_ema = fmax(worst_ema, diff);
                CHECK(diff <= 3e-7, "%s: ema max|diff| %g", v.name, diff);
            }
            free(r);
            free(c);
        }
    }
    printf("%d gradients, %d after (worst %.2e), %d ema (worst %.2e) checked\n", n_grad, n_after, worst_after, n_ema, worst_ema);
    CHECK(n_grad >= 40 && n_after >= 45 && n_ema == 47, "too few tensors compared (%d %d %d)", n_grad, n_after, n_ema);
    /* stop_grad_conv1: no gradient, bit-identical parameters */
    eva_tensor_view gv;
    CHECK(eva_tensor_file_find(o, "grad.patch_embed.proj.weight", &gv) != EVA_OK, "patch_embed got a gradient");
    const char *pe[] = {"patch_embed.proj.weight", "patch_embed.proj.bias"};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "after.%s", pe[k]);
        size_t na, nb;
        float *a = test_read_tensor(o, name, &na), *b = test_read_tensor(init, pe[k], &nb);
        CHECK(a && b && na == nb && memcmp(a, b, na * 4) == 0, "%s changed", pe[k]);
        free(a);
        free(b);
    }
    if (!strcmp(variant, "cutmix")) {
        float *t = test_read_tensor(o, "output.targets", &n), *tr = test_read_tensor(gold, "cutmix.targets", NULL);
        double worst = 0;
        for (size_t i = 0; t && tr && i < n; i++) worst = fmax(worst, fabs((double)t[i] - tr[i]));
        CHECK(t && tr && worst <= 1e-7, "cutmix targets differ by %g", worst);
        free(t);
        free(tr);
        /* the mixed images: per-image sums as stored */
        float *im = test_read_tensor(o, "output.images", &n);
        eva_tensor_view sv;
        CHECK_OK(eva_tensor_file_find(gold, "cutmix.images_mixed_sum_f64", &sv));
        for (int b = 0; im && b < 4; b++) {
            double s = 0;
            for (size_t k = 0; k < n / 4; k++) s += im[b * (n / 4) + k];
            CHECK(fabs(s - ((const double *)sv.data)[b]) < 1e-6, "mixed image %d sum %.9f", b, s);
        }
        free(im);
    }
    eva_tensor_file_close(o);
    eva_tensor_file_close(init);
}

int main(void) {
    FILE *f = fopen("data/finetune/finetune_step.json", "rb");
    char *buf = malloc(1 << 20);
    size_t len = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f) fclose(f);
    buf[len] = 0;
    g_json = cJSON_Parse(buf);
    CHECK(g_json != NULL, "cannot parse finetune_step.json");
    eva_tensor_file *gold = NULL;
    CHECK_OK(eva_tensor_file_open("data/finetune/finetune_step.safetensors", &gold));
    if (gold && g_json) {
        check_variant("ls", "--smoothing 0.3", gold);
        check_variant("cutmix", "--smoothing 0.1 --cutmix-box 17,45,31,56", gold);
    }
    eva_tensor_file_close(gold);
    cJSON_Delete(g_json);
    free(buf);
    return test_finish("test_finetune_step");
}
