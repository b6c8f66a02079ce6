/* mim_step_bench.c — time one EVA-01 MIM training step (forward + cosine loss + backward +
 * global-norm clip + AdamW) of a ViT-B-sized student with synthetic weights and inputs.
 * Shapes: B 8, 224 px, patch P (default 16), D 768, depth 12, heads 12, MLP 3072, teacher dim 768,
 * block-wise masks with 40 % of the patches. Not a test; prints ms/step and GFLOP/s.
 * build: cc -std=c17 -O2 -Iinclude -Isrc bench/mim_step_bench.c build-X/libeva.a -lm -lpthread (+ image libs)
 * usage: mim_step_bench [-t THREADS] [-b BATCH] [-p PATCH] [-n STEPS] [--reference] [--checkpoint-activations]
 *                       [--bf16] [--giant] [--memory]   (--memory: print the activation bytes of ViT-B and of the
 *                       1 B-parameter EVA-g student with and without checkpointing, then exit) */
#define _GNU_SOURCE
#include "train/masking.h"
#include "train/optim.h"
#include "train/vit_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 2, B = 8, P = 16, steps = 3;
    bool reference = false, ckpt = false, bf16 = false, memory = false, giant = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-b") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) P = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reference")) reference = true;
        else if (!strcmp(argv[i], "--checkpoint-activations")) ckpt = true;
        else if (!strcmp(argv[i], "--bf16")) bf16 = true;
        else if (!strcmp(argv[i], "--memory")) memory = true;
        else if (!strcmp(argv[i], "--giant")) giant = true;
    }
    if (memory) {   /* activation memory of one step (no allocation: the sizes are computed) */
        const struct { const char *name; eva_vit_train_config c; } arch[2] = {
            {"ViT-B/16 224", {.img_size = 224, .patch = 16, .in_chans = 3, .width = 768, .depth = 12, .heads = 12,
                              .mlp = 3072, .lm_dim = 768, .ln_eps = 1e-6f}},
            {"EVA-g/14 224", {.img_size = 224, .patch = 14, .in_chans = 3, .width = 1408, .depth = 40, .heads = 16,
                              .mlp = 6144, .lm_dim = 768, .ln_eps = 1e-6f}}};
        for (int a = 0; a < 2; a++) {
            eva_vit_train *mm = NULL;
            if (eva_vit_train_create(&arch[a].c, 1, &mm) != EVA_OK) {
                fprintf(stderr, "create %s: %s\n", arch[a].name, eva_last_error());
                return 1;
            }
            size_t full = eva_vit_train_activation_bytes(mm, B);
            mm->checkpoint_activations = true;
            size_t ck = eva_vit_train_activation_bytes(mm, B);
            printf("%s B=%d: parameters %.0f M (%.2f GB fp32; + gradients + 2 AdamW moments = %.2f GB), "
                   "activations %.2f GB stored, %.2f GB with --checkpoint-activations\n",
                   arch[a].name, B, mm->total / 1e6, mm->total * 4e-9, mm->total * 16e-9, full / 1e9, ck / 1e9);
            eva_vit_train_free(mm);
        }
        return 0;
    }
    eva_vit_train_config cfg = {.img_size = 224, .patch = P, .in_chans = 3, .width = 768, .depth = 12, .heads = 12,
                                .mlp = 3072, .lm_dim = 768, .ln_eps = 1e-6f};
    if (giant)   /* the 1 B-parameter EVA-01 student (CLIP-L teacher dim 768 in the official run) */
        cfg = (eva_vit_train_config){.img_size = 224, .patch = P = 14, .in_chans = 3, .width = 1408, .depth = 40,
                                     .heads = 16, .mlp = 6144, .lm_dim = 768, .ln_eps = 1e-6f};
    eva_vit_train *m = NULL;
    if (eva_vit_train_create(&cfg, threads, &m) != EVA_OK) {
        fprintf(stderr, "create: %s\n", eva_last_error());
        return 1;
    }
    m->reference = reference;
    m->checkpoint_activations = ckpt;
    m->bf16 = bf16;
    eva_rng rng = eva_rng_make(7, 0);
    for (int i = 0; i < m->n_params; i++) {
        eva_param_ref *p = &m->params[i];
        bool ln_w = strstr(p->name, "norm") && strstr(p->name, ".weight");
        for (int64_t k = 0; k < p->numel; k++)
            p->param[k] = ln_w ? 1.0f : p->ndim == 1 ? 0.0f : (float)(0.02 * eva_rng_normal(&rng));
    }
    int G = 224 / P, Np = G * G;
    size_t n_img = (size_t)B * 3 * 224 * 224;
    float *img = malloc(4 * n_img), *teacher = malloc(4 * (size_t)B * Np * cfg.lm_dim);
    uint8_t *mask = malloc((size_t)B * Np);
    for (size_t i = 0; i < n_img; i++) img[i] = (float)eva_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)B * Np * cfg.lm_dim; i++) teacher[i] = (float)eva_rng_normal(&rng);
    eva_mask_config mc = eva_mask_config_official();
    mc.height = mc.width = G;
    mc.num_masking_patches = (int)(0.4 * Np + 0.5);
    if (eva_mask_config_resolve(&mc) != EVA_OK || eva_mask_generate_batch(&mc, 1, B, mask, NULL) != EVA_OK) {
        fprintf(stderr, "mask: %s\n", eva_last_error());
        return 1;
    }
    eva_adamw_config oc = eva_adamw_config_pretrain(cfg.depth);
    eva_adamw *opt = NULL;
    if (eva_adamw_create(m->params, m->n_params, &oc, &opt) != EVA_OK) return 1;
    double best = 1e30, sum = 0, best_cpu = 1e30;
    int M = 0;
    for (int s = 0; s <= steps; s++) {
        double loss;
        double t0 = eva_now_seconds(), c0 = cpu_seconds();
        if (eva_vit_train_mim_step(m, img, B, mask, teacher, NULL, &M, &loss) != EVA_OK) {
            fprintf(stderr, "step: %s\n", eva_last_error());
            return 1;
        }
        double coef = eva_grad_clip_coef(eva_grad_global_norm(m->params, m->n_params), 3.0);
        eva_adamw_step(opt, 1e-3, 0.05, coef, m->pool);
        double dt = eva_now_seconds() - t0, dc = cpu_seconds() - c0;
        if (s > 0) {   /* step 0 is warm-up (first-touch of the activation arena) */
            sum += dt;
            if (dt < best) best = dt;
        }
        if (s > 0 && dc < best_cpu) best_cpu = dc;
        fprintf(stderr, "step %d: %.1f ms wall, %.1f ms CPU (all threads), loss %.6f\n", s, dt * 1e3, dc * 1e3, loss);
    }
    double flops = eva_vit_train_step_flops(&cfg, B, M);
    printf("eva.c MIM step %s/%d B=%d M=%d threads=%d %s: mean %.1f ms, best %.1f ms, %.1f GFLOP/step, %.1f GFLOP/s "
           "(best), peak RSS %.0f MB\n",
           giant ? "EVA-g" : "ViT-B", P, B, M, threads, reference ? "reference" : bf16 ? (ckpt ? "fast bf16 ckpt" : "fast bf16") : ckpt ? "fast ckpt" : "fast",
           sum / steps * 1e3, best * 1e3, flops / 1e9,
           flops / best / 1e9, eva_peak_rss_bytes() / 1e6);
    printf("  CPU time of the best step %.1f ms (all threads): %.1f GFLOP/s per CPU-second; wall estimate on %d idle "
           "cores %.1f ms\n", best_cpu * 1e3, flops / best_cpu / 1e9, threads, best_cpu / threads * 1e3);
    eva_adamw_free(opt);
    eva_vit_train_free(m);
    free(img), free(teacher), free(mask);
    return 0;
}
