/* cli_model.c — shared model options of the inference commands. */
#include "cli_model.h"

#include <stdlib.h>
#include <string.h>

void cli_model_opts_init(cli_model_opts *o) {
    memset(o, 0, sizeof *o);
    o->params = eva_model_default_params();
}

int cli_model_opts_parse(const char *cmd, cli_model_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
        if (!cli_take_str(cmd, argc, argv, i, &o->model_path)) return -1;
    } else if (!strcmp(a, "--arch")) {
        if (!cli_take_str(cmd, argc, argv, i, &o->arch)) return -1;
    } else if (!strcmp(a, "--synthetic")) {
        o->synthetic = true;
    } else if (!strcmp(a, "--size")) {
        if (!cli_take_int(cmd, argc, argv, i, &o->size)) return -1;
        if (o->size <= 0 || o->size > 8192) { cli_usage(cmd, "--size must be in 1..8192"); return -1; }
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (!cli_take_int(cmd, argc, argv, i, &o->threads)) return -1;
        if (o->threads < 0 || o->threads > 1024) { cli_usage(cmd, "--threads must be in 0..1024"); return -1; }
    } else if (!strcmp(a, "--posemb")) {
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!strcmp(v, "official")) o->params.posemb = EVA_POSEMB_OFFICIAL;
        else if (!strcmp(v, "timm")) o->params.posemb = EVA_POSEMB_TIMM;
        else { cli_usage(cmd, "--posemb must be 'official' or 'timm', got '%s'", v); return -1; }
    } else if (!strcmp(a, "--ckpt-key")) {
        if (!cli_take_str(cmd, argc, argv, i, &o->params.ckpt_key)) return -1;
    } else if (!strcmp(a, "--ckpt-policy")) {
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!strcmp(v, "official")) o->params.ckpt_policy = EVA_CKPT_OFFICIAL;
        else if (!strcmp(v, "timm")) o->params.ckpt_policy = EVA_CKPT_TIMM;
        else { cli_usage(cmd, "--ckpt-policy must be 'official' or 'timm', got '%s'", v); return -1; }
    } else if (!strcmp(a, "--timm-mim")) {
        o->params.timm_mim_mapping = true;
    } else if (!strcmp(a, "--heads")) {
        if (!cli_take_int(cmd, argc, argv, i, &o->params.heads)) return -1;
        if (o->params.heads <= 0) { cli_usage(cmd, "--heads must be positive"); return -1; }
    } else if (!strcmp(a, "--classes")) {
        if (!cli_take_int(cmd, argc, argv, i, &o->classes)) return -1;
        if (o->classes < 0 || o->classes > 1000000) { cli_usage(cmd, "--classes out of range"); return -1; }
    } else if (!strcmp(a, "--dtype")) {
        /* compute dtype of the block matrices (convert has its own --dtype: the file's) */
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!strcmp(v, "f32") || !strcmp(v, "F32")) o->params.weight_dtype = EVA_F32;
        else if (!strcmp(v, "bf16") || !strcmp(v, "BF16")) o->params.weight_dtype = EVA_BF16;
        else if (!strcmp(v, "q8") || !strcmp(v, "Q8") || !strcmp(v, "int8")) o->params.weight_dtype = EVA_Q8;
        else { cli_usage(cmd, "--dtype must be f32, bf16 or q8, got '%s'", v); return -1; }
    } else if (!strcmp(a, "--layout")) {
        /* how fp32 block matrices are held: a panels file runs as panels without this flag */
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!strcmp(v, "rows")) o->params.weight_layout = EVA_LAYOUT_ROWS;
        else if (!strcmp(v, "panels")) o->params.weight_layout = EVA_LAYOUT_PANELS;
        else { cli_usage(cmd, "--layout must be rows or panels, got '%s'", v); return -1; }
    } else if (!strcmp(a, "--reference")) {
        setenv("EVA_REFERENCE", "1", 1);
        setenv("EVA_GEMM", "ref", 1);
    } else {
        return 0;
    }
    return 1;
}

int cli_model_opts_check(const char *cmd, const cli_model_opts *o) {
    if (o->synthetic && o->model_path) return cli_usage(cmd, "give --model or --synthetic, not both");
    if (o->synthetic && !o->arch) return cli_usage(cmd, "--synthetic needs --arch NAME (eva info --models lists them)");
    if (!o->synthetic && !o->model_path) return cli_usage(cmd, "--model FILE (or --synthetic --arch NAME) is required");
    return 0;
}

eva_status cli_model_open(const char *cmd, cli_model_opts *o, eva_model **out) {
    o->params.arch = o->arch;
    o->params.img_size = o->size;
    o->params.num_classes = o->classes;
    eva_status st = o->synthetic ? eva_model_synthetic(o->arch, &o->params, out)
                                 : eva_model_load(o->model_path, &o->params, out);
    if (st != EVA_OK) cli_lib_error(cmd, st);
    return st;
}

float *cli_formula_input(const char *tag, int B, int S) {
    size_t n = (size_t)B * 3 * (size_t)S * (size_t)S;
    float *x = malloc(sizeof(float) * n);
    if (x) eva_synthetic_input(tag, x, n);
    return x;
}
