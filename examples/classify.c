/* classify.c — the smallest complete program against the installed eva.c library: load a
 * model (or build one from formula weights), run one image tensor through it, print the top-5.
 *
 *   cc -std=c17 classify.c $(pkg-config --cflags --libs eva) -o classify
 *   ./classify --synthetic-tiny            # no download: the tiny test architecture
 *   ./classify MODEL.safetensors|.pt       # a real checkpoint, on the formula test image */
#include <eva.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s (MODEL | --synthetic-tiny)\n", argv[0]);
        return 2;
    }
    eva_model_params params = eva_model_default_params();
    eva_model *model = NULL;
    eva_status st = strcmp(argv[1], "--synthetic-tiny") == 0 ? eva_model_synthetic("eva_tiny_test", &params, &model)
                                                                : eva_model_load(argv[1], &params, &model);
    if (st != EVA_OK) {
        fprintf(stderr, "classify: %s\n", eva_last_error());
        return 1;
    }
    eva_model_info info;
    eva_model_get_info(model, &info);
    if (!info.has_head) {
        fprintf(stderr, "classify: %s has no classifier head\n", info.arch);
        eva_model_free(model);
        return 1;
    }
    int S = info.img_size;
    size_t n = (size_t)3 * S * S;
    float *image = malloc(n * sizeof(float));
    float *logits = malloc((size_t)info.num_classes * sizeof(float));
    eva_synthetic_input("example", image, n);   /* stands in for a preprocessed photo */
    eva_ctx *ctx = NULL;
    eva_outputs out = {0};
    out.logits = logits;
    if ((st = eva_ctx_create(model, 0, &ctx)) != EVA_OK || (st = eva_forward(ctx, image, 1, S, &out)) != EVA_OK) {
        fprintf(stderr, "classify: %s\n", eva_last_error());
    } else {
        printf("%s (%d params), top-5 of %d classes:\n", info.arch, (int)info.n_params, info.num_classes);
        for (int k = 0; k < 5 && k < info.num_classes; k++) {
            int best = 0;
            for (int c = 1; c < info.num_classes; c++) if (logits[c] > logits[best]) best = c;
            printf("  class %4d  logit %+.4f\n", best, logits[best]);
            logits[best] = -1e30f;
        }
    }
    eva_ctx_free(ctx);
    eva_model_free(model);
    free(image);
    free(logits);
    return st == EVA_OK ? 0 : 1;
}
