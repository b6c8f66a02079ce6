/* cmd_info.c — `eva info FILE`: what a weight file holds; `eva info --models`: the registry. */
#include "cli.h"
#include "io/tensor_map.h"
#include "models/registry.h"

#include <stdlib.h>
#include <string.h>

const char help_info[] =
    "usage: eva info FILE [--all] [--ckpt-key KEY] [--json]\n"
    "       eva info --models\n"
    "\n"
    "Shows what a weight file (.safetensors or PyTorch .pt) holds: format, top-level keys of a\n"
    ".pt and which state dict eva.c would use, tensors with dtypes and shapes (the first 24;\n"
    "--all lists every one), parameter count per dtype, __metadata__, and the architecture\n"
    "eva.c detects (width, depth, heads, patch, resolution, pooling, head).\n"
    "--models lists every registered architecture with its timm name.\n";

static const char *pooling_name(eva_pooling p) {
    switch (p) {
    case EVA_POOL_MEAN_FCNORM: return "mean of patch tokens + fc_norm";
    case EVA_POOL_CLS_NORM: return "final norm + cls token";
    case EVA_POOL_MIM: return "MIM: final norm + lm_head";
    }
    return "?";
}

static int list_models(void) {
    printf("%-40s %-42s %5s %6s %s\n", "name", "timm name", "size", "patch", "head");
    for (int i = 0; i < eva_arch_count(); i++) {
        const eva_arch *a = eva_arch_at(i);
        char head[48];
        if (a->pooling == EVA_POOL_MIM) snprintf(head, sizeof head, "MIM lm_head %d", a->lm_dim);
        else if (a->pooling == EVA_POOL_CLS_NORM) snprintf(head, sizeof head, "CLIP projection %d", a->num_classes);
        else snprintf(head, sizeof head, "%d classes", a->num_classes);
        printf("%-40s %-42s %5d %6d %s\n", a->name, a->timm_name ? a->timm_name : "-", a->img_size, a->patch, head);
    }
    printf("\nAll are EVA-g/14 trunks (width 1408, depth 40, 16 heads, MLP 6144). Other shapes load\n"
           "from their weights without a registry entry.\n");
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info", *path = NULL, *ckpt_key = NULL;
    bool all = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models")) return list_models();
        if (!strcmp(argv[i], "--all")) all = true;
        else if (!strcmp(argv[i], "--ckpt-key")) {
            if (!cli_take_str(cmd, argc, argv, &i, &ckpt_key)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) return cli_usage(cmd, "unknown option '%s'", argv[i]);
        else if (path) return cli_usage(cmd, "one file at a time");
        else path = argv[i];
    }
    if (!path) return cli_usage(cmd, "FILE is required");

    eva_tensor_map map;
    eva_status st = eva_tensor_map_open(path, &map);
    if (st != EVA_OK) {
        eva_tensor_map_free(&map);
        return cli_lib_error(cmd, st);
    }
    printf("file      %s\nformat    %s\ntensors   %d\n", path, map.format, map.count);
    if (!strcmp(map.format, "pt")) {
        eva_pt_info info;
        eva_tensor_map tmp;
        eva_tensor_map_init(&tmp);
        if (eva_pt_read(path, &tmp, &info) == EVA_OK) {
            if (info.bare) printf("top level a bare state dict\n");
            else {
                printf("top-level keys:\n");
                for (int i = 0; i < info.n_entries; i++)
                    printf("  %-24s %s%s\n", info.entries[i].key, info.entries[i].kind,
                           info.entries[i].n_tensors ? "" : "");
                for (int i = 0; i < info.n_entries; i++)
                    if (info.entries[i].n_tensors) printf("  '%s' holds %d tensors\n", info.entries[i].key, info.entries[i].n_tensors);
            }
        }
        eva_tensor_map_free(&tmp);
    }
    int64_t per_dtype[EVA_DTYPE_COUNT] = {0}, total = 0;
    for (int i = 0; i < map.count; i++) {
        const eva_named_tensor *t = &map.items[i];
        int64_t n = eva_tensor_numel(&t->t);
        per_dtype[t->t.dtype] += n;
        total += n;
        if (all || i < 24) {
            char shape[96];
            printf("  %-48s %-5s %s\n", t->name, eva_dtype_name(t->t.dtype), eva_shape_str(t->t.ndim, t->t.shape, shape, sizeof shape));
        } else if (i == 24) {
            printf("  ... %d more (--all lists them)\n", map.count - 24);
        }
    }
    printf("elements  %lld (", (long long)total);
    bool first = true;
    for (int d = 0; d < EVA_DTYPE_COUNT; d++)
        if (per_dtype[d]) {
            printf("%s%s %lld", first ? "" : ", ", eva_dtype_name((eva_dtype)d), (long long)per_dtype[d]);
            first = false;
        }
    printf(")\n");
    if (map.meta_count) {
        printf("metadata:\n");
        for (int i = 0; i < map.meta_count; i++) {
            const char *v = map.meta_values[i];
            printf("  %-22s %.*s%s\n", map.meta_keys[i], 100, v, strlen(v) > 100 ? "..." : "");
        }
    }
    eva_tensor_map_free(&map);

    /* what eva.c makes of it */
    eva_model_params p = eva_model_default_params();
    p.ckpt_key = ckpt_key;
    eva_model *m = NULL;
    st = eva_model_load(path, &p, &m);
    if (st != EVA_OK) {
        printf("model     not loadable as an EVA vision model: %s\n", eva_last_error());
        return 0;
    }
    eva_model_info mi;
    eva_model_get_info(m, &mi);
    printf("model     %s%s%s%s\n", mi.arch, mi.timm_name[0] ? " (timm " : "", mi.timm_name, mi.timm_name[0] ? ")" : "");
    printf("          width %d, depth %d, heads %d, MLP %d, patch %d, %dx%d px (%d tokens)\n", mi.width, mi.depth,
           mi.heads, mi.mlp_hidden, mi.patch, mi.img_size, mi.img_size, eva_model_tokens(m, mi.img_size));
    printf("          pooling: %s; head: %s", pooling_name(mi.pooling), mi.has_head ? "" : "none");
    if (mi.has_head) printf("%d outputs%s", mi.num_classes, mi.pooling == EVA_POOL_CLS_NORM && eva_model_is_classifier(m) ? " (classes: linear probe)" : "");
    printf("\n          parameters %lld, %.1f GFLOP per image\n", (long long)mi.n_params, eva_model_flops(m, 0) / 1e9);
    eva_model_free(m);
    return 0;
}
