/* cmd_convert.c — `eva convert` and `eva patch14to16`: checkpoints to self-describing
 * safetensors. */
#include "cli.h"
#include "cli_model.h"

#include <string.h>

const char help_convert[] =
    "usage: eva convert IN OUT.safetensors [--dtype f32|f16|bf16|q8] [--layout rows|panels]\n"
    "                   [--ckpt-key KEY] [--size S] [--posemb official|timm] [--arch NAME]\n"
    "                   [--timm-mim] [--heads H]\n"
    "\n"
    "Converts any supported checkpoint (.pt zip or .safetensors; official, timm, EVA-CLIP or\n"
    "open_clip layout) into one safetensors file with timm/official EVA-01 names and\n"
    "__metadata__ recording the architecture, heads, pooling, preprocessing, labels source and\n"
    "provenance, so `eva ... --model OUT` needs no flags. --size stores the position embedding\n"
    "resampled to S (official method unless --posemb timm). Default dtype: f32.\n"
    "--dtype q8 stores the block matrices (attn.qkv, attn.proj, mlp.fc1, mlp.fc2) as int8 with\n"
    "per-output-channel scales (NAME as I8 [N,K], NAME.scale F32 [N]; everything else F32) and\n"
    "metadata eva.dtype=q8: the file then runs with the int8 kernels without flags. bf16 files\n"
    "record eva.dtype=bf16 and run from the bf16 weights (same numbers, half the memory).\n"
    "--layout panels (f32 only) stores the block matrices in the GEMM kernel's layout: NAME as\n"
    "F32 [ceil(N/32), K, 32] with [p,k,j] = W[32p+j, k], metadata eva.layout=panels32. fp32\n"
    "inference then reads them straight from the mmap with no per-call weight packing (same\n"
    "numbers, ~5 % faster at batch 1). Training commands and other tools want rows (the default):\n"
    "`eva convert PANELS.safetensors ROWS.safetensors` converts back.\n";

const char help_patch14to16[] =
    "usage: eva patch14to16 IN OUT.safetensors [--method official|pinv] [--ckpt-key KEY]\n"
    "\n"
    "EVA-01's interpolate_patch_14to16: every 14x14 slice of patch_embed.proj.weight is resized\n"
    "to 16x16 with plain bicubic (a=-0.75, no antialias, no rescaling) and the position embedding\n"
    "grid is resized to 14x14 (224 px at patch 16), cls slot kept. --method pinv uses timm's\n"
    "pseudo-inverse kernel resampling (and its antialiased pos-embed resampling) instead.\n";

static int parse_dtype(const char *cmd, const char *s, eva_dtype *out) {
    if (!strcmp(s, "f32") || !strcmp(s, "F32")) *out = EVA_F32;
    else if (!strcmp(s, "f16") || !strcmp(s, "F16")) *out = EVA_F16;
    else if (!strcmp(s, "bf16") || !strcmp(s, "BF16")) *out = EVA_BF16;
    else if (!strcmp(s, "q8") || !strcmp(s, "Q8") || !strcmp(s, "int8")) *out = EVA_Q8;
    else return cli_usage(cmd, "--dtype must be f32, f16, bf16 or q8, got '%s'", s);
    return 0;
}

int cmd_convert(int argc, char **argv) {
    const char *cmd = "convert", *in = NULL, *out = NULL, *dt, *layout = "rows";
    eva_dtype dtype = EVA_F32;
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    for (int i = 1; i < argc; i++) {
        /* --dtype here is the output file's dtype: taken before the shared model options */
        if (!strcmp(argv[i], "--dtype")) {
            if (!cli_take_str(cmd, argc, argv, &i, &dt) || parse_dtype(cmd, dt, &dtype)) return 2;
            continue;
        }
        if (!strcmp(argv[i], "--layout")) {   /* likewise the output file's layout */
            if (!cli_take_str(cmd, argc, argv, &i, &layout)) return 2;
            if (strcmp(layout, "rows") && strcmp(layout, "panels"))
                return cli_usage(cmd, "--layout must be rows or panels, got '%s'", layout);
            continue;
        }
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!in || !out) return cli_usage(cmd, "IN and OUT are required");
    if (mo.synthetic || mo.model_path) return cli_usage(cmd, "give the input as IN, not --model/--synthetic");
    bool panels = !strcmp(layout, "panels");
    if (panels && dtype != EVA_F32) return cli_usage(cmd, "--layout panels is for --dtype f32 files");
    mo.model_path = in;
    eva_model *m;
    if (cli_model_open(cmd, &mo, &m) != EVA_OK) return 1;
    eva_status st = panels ? eva_model_save_panels(m, out, NULL) : eva_model_save(m, out, dtype, NULL);
    eva_model_free(m);
    return st == EVA_OK ? 0 : cli_lib_error(cmd, st);
}

int cmd_patch14to16(int argc, char **argv) {
    const char *cmd = "patch14to16", *in = NULL, *out = NULL, *method = "official";
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    for (int i = 1; i < argc; i++) {
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--method")) {
            if (!cli_take_str(cmd, argc, argv, &i, &method)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!in || !out) return cli_usage(cmd, "IN and OUT are required");
    eva_patch_method pm;
    if (!strcmp(method, "official")) pm = EVA_PATCH_OFFICIAL;
    else if (!strcmp(method, "pinv")) pm = EVA_PATCH_PINV;
    else return cli_usage(cmd, "--method must be 'official' or 'pinv', got '%s'", method);
    eva_status st = eva_patch14to16(in, out, pm, &mo.params);
    return st == EVA_OK ? 0 : cli_lib_error(cmd, st);
}
