/* cmd_diff.c — `eva diff A B`: compare the tensors of two weight files by name (max abs diff,
 * max relative diff, differing elements), e.g. the model of a 2-rank run against a 1-rank run.
 * Exit status as diff(1): 0 equal (bit-identical, or within --tol), 1 different, 2 trouble. */
#include "cli.h"
#include "io/tensor_map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char help_diff[] =
    "usage: eva diff A B [--tol T] [--quiet]\n"
    "\n"
    "Compares the tensors two weight files (.safetensors / .pt) share by name, after converting\n"
    "both to float32: per tensor the max abs difference, the max relative difference\n"
    "(|a-b| / max(|a|, |b|)) and how many elements differ; tensors present in only one file or\n"
    "with other shapes count as different. Metadata is ignored.\n"
    "  --tol T    equal when every |a-b| <= T (default 0: bit-identical values)\n"
    "  --quiet    only the summary line\n"
    "exit status: 0 equal, 1 different, 2 error.\n";

/* Contiguous float32 copy of a tensor (numel floats), or NULL with the error set. */
static float *as_f32(const eva_named_tensor *nt) {
    int64_t n = eva_tensor_numel(&nt->t);
    if (!eva_tensor_is_contiguous(&nt->t)) {
        eva_fail(EVA_ERR_UNSUPPORTED, "%s is not contiguous", nt->name);
        return NULL;
    }
    float *f = eva_malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (f && eva_convert_to_f32(nt->t.dtype, nt->t.data, f, (size_t)n) != EVA_OK) {
        free(f);
        return NULL;
    }
    return f;
}

int cmd_diff(int argc, char **argv) {
    const char *cmd = "diff", *path[2] = {NULL, NULL};
    double tol = 0;
    bool quiet = false;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tol")) {
            if (!cli_take_double(cmd, argc, argv, &i, &tol)) return 2;
            if (!(tol >= 0)) return cli_usage(cmd, "--tol must be >= 0");
        } else if (!strcmp(argv[i], "--quiet")) quiet = true;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage(cmd, "unknown option '%s'", argv[i]);
        else if (np < 2) path[np++] = argv[i];
        else return cli_usage(cmd, "expected two files");
    }
    if (np != 2) return cli_usage(cmd, "expected two files");
    eva_tensor_map a, b;
    eva_tensor_map_init(&a);
    eva_tensor_map_init(&b);
    eva_status st = eva_tensor_map_open(path[0], &a);
    if (st == EVA_OK) st = eva_tensor_map_open(path[1], &b);
    if (st != EVA_OK) {
        eva_tensor_map_free(&a);
        eva_tensor_map_free(&b);
        cli_lib_error(cmd, st);
        return 2;
    }
    double max_abs = 0, max_rel = 0;
    int64_t differ = 0, total = 0;
    int n_bad = 0;   /* missing / shape mismatches */
    for (int i = 0; i < a.count && st == EVA_OK; i++) {
        const eva_named_tensor *ta = &a.items[i], *tb = eva_tensor_map_find(&b, a.items[i].name);
        char sa[96], sb[96];
        eva_shape_str(ta->t.ndim, ta->t.shape, sa, sizeof sa);
        if (!tb) {
            n_bad++;
            if (!quiet) printf("%-48s %-16s only in %s\n", ta->name, sa, path[0]);
            continue;
        }
        eva_shape_str(tb->t.ndim, tb->t.shape, sb, sizeof sb);
        if (strcmp(sa, sb) != 0) {
            n_bad++;
            if (!quiet) printf("%-48s shapes differ: %s vs %s\n", ta->name, sa, sb);
            continue;
        }
        float *fa = as_f32(ta), *fb = fa ? as_f32(tb) : NULL;
        if (!fa || !fb) {
            free(fa);
            st = EVA_ERR_UNSUPPORTED;
            break;
        }
        int64_t n = eva_tensor_numel(&ta->t), nd = 0;
        double ma = 0, mr = 0;
        for (int64_t k = 0; k < n; k++) {
            if (memcmp(&fa[k], &fb[k], sizeof(float)) == 0) continue;
            double d = fabs((double)fa[k] - (double)fb[k]), s = fmax(fabs((double)fa[k]), fabs((double)fb[k]));
            if (isnan(d)) d = INFINITY;   /* NaN on one side only */
            nd++;
            ma = fmax(ma, d);
            if (s > 0) mr = fmax(mr, d / s);
        }
        free(fa);
        free(fb);
        if (!quiet) printf("%-48s %-16s max abs %.3g  max rel %.3g  %lld/%lld differ\n", ta->name, sa, ma, mr, (long long)nd, (long long)n);
        max_abs = fmax(max_abs, ma);
        max_rel = fmax(max_rel, mr);
        differ += nd;
        total += n;
    }
    for (int i = 0; i < b.count && st == EVA_OK; i++)
        if (!eva_tensor_map_find(&a, b.items[i].name)) {
            n_bad++;
            if (!quiet) printf("%-48s only in %s\n", b.items[i].name, path[1]);
        }
    eva_tensor_map_free(&a);
    eva_tensor_map_free(&b);
    if (st != EVA_OK) {
        cli_lib_error(cmd, st);
        return 2;
    }
    bool equal = n_bad == 0 && (differ == 0 || max_abs <= tol);
    printf("%s: max abs diff %.6g, max rel diff %.6g, %lld of %lld values differ%s%s -> %s\n", differ ? "differ" : "same",
           max_abs, max_rel, (long long)differ, (long long)total, n_bad ? ", tensors missing or reshaped" : "",
           differ == 0 && n_bad == 0 ? " (bit-identical)" : "", equal ? "equal" : "NOT equal");
    return equal ? 0 : 1;
}
