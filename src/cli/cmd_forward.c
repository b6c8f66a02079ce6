/* cmd_forward.c — `eva forward`: run a model on a stored input tensor and write every output a
 * conformance test needs (logits, pre_logits, tokens_final, cls_final, block<K>). */
#include "cli.h"
#include "cli_model.h"

#include <stdlib.h>
#include <string.h>

const char help_forward[] =
    "usage: eva forward (--model FILE | --synthetic --arch NAME) --input IN.safetensors[:TENSOR]\n"
    "                   --output OUT.safetensors [options]\n"
    "\n"
    "Runs the model on an F32 input tensor [B,3,S,S] (default tensor name 'input') and writes:\n"
    "  logits        [B,C]      classifier output (models with a head)\n"
    "  pre_logits    [B,D]      pooled features: fc_norm(mean of patch tokens) for classifiers,\n"
    "                           norm(x)[:,0] for CLIP vision, mean of normed patch tokens for MIM\n"
    "  tokens_final  [B,N+1,D]  token sequence after the last block (after the final norm if the\n"
    "                           model has one: CLIP vision, MIM)\n"
    "  cls_final     [B,D]      token 0 after the last block, before any final norm\n"
    "  block<K>      [B,N+1,D]  output of block K (with --block K)\n"
    "\n"
    "options:\n"
    "  --model FILE         weights: .safetensors or PyTorch .pt (zip); untrusted input is safe\n"
    "  --synthetic          build --arch with the deterministic formula weights (no download)\n"
    "  --arch NAME          registry name (official or timm); default: inferred from the weights\n"
    "  --size S             run resolution (multiple of the patch); default: the input's size\n"
    "  --posemb official|timm  position-embedding resampling when S differs (default official:\n"
    "                       bicubic a=-0.75 clamped; timm: antialiased bicubic a=-0.5)\n"
    "  --input-formula TAG  use the golden formula input 'input/TAG' instead of --input\n"
    "                       (with --batch B, default 1, and --size S)\n"
    "  --block K            also write block<K>\n"
    "  --ckpt-key KEY       state dict inside a .pt (model, model_ema, module, state_dict)\n"
    "  --ckpt-policy official|timm  default choice of state dict (official: model, module,\n"
    "                       state_dict, bare, then model_ema; timm: model_ema first)\n"
    "  --timm-mim           MIM checkpoints: timm mapping (norm -> fc_norm on the patch mean)\n"
    "  --heads H            attention heads for custom shapes without metadata\n"
    "  --classes C          synthetic models: number of classes\n"
    "  --dtype f32|bf16|q8  compute the block matrices from fp32, bf16 or int8 weights (default:\n"
    "                       the file's own, eva.dtype metadata; else f32)\n"
    "  --layout rows|panels fp32 block matrices as rows or as the GEMM kernel's 32-column panels\n"
    "                       (default: as stored; a rows file is then packed at load, into\n"
    "                       memory that replaces the file's pages; `eva convert --layout\n"
    "                       panels` writes a file that needs no packing)\n"
    "  -t, --threads N      worker threads (default: all cores)\n"
    "  --reference          use the plain reference kernels (slow; for debugging)\n";

int cmd_forward(int argc, char **argv) {
    const char *cmd = "forward";
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *input_spec = NULL, *output = NULL, *formula = NULL;
    int block = -1, batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(a, "--input") || !strcmp(a, "-i")) {
            if (!cli_take_str(cmd, argc, argv, &i, &input_spec)) return 2;
        } else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
            if (!cli_take_str(cmd, argc, argv, &i, &output)) return 2;
        } else if (!strcmp(a, "--block")) {
            if (!cli_take_int(cmd, argc, argv, &i, &block)) return 2;
            if (block < 0) return cli_usage(cmd, "--block must be >= 0");
        } else if (!strcmp(a, "--input-formula")) {
            if (!cli_take_str(cmd, argc, argv, &i, &formula)) return 2;
        } else if (!strcmp(a, "--batch") || !strcmp(a, "-b")) {
            if (!cli_take_int(cmd, argc, argv, &i, &batch)) return 2;
            if (batch < 1 || batch > 4096) return cli_usage(cmd, "--batch must be in 1..4096");
        } else {
            return cli_usage(cmd, "unknown option '%s'", a);
        }
    }
    if (!input_spec && !formula) return cli_usage(cmd, "--input is required");
    if (input_spec && formula) return cli_usage(cmd, "give --input or --input-formula, not both");
    if (!output) return cli_usage(cmd, "--output is required");
    if (cli_model_opts_check(cmd, &mo) != 0) return 2;

    /* input first: its size decides the run resolution */
    float *images = NULL;
    int B = 0, S = 0;
    eva_tensor_file *in_file = NULL;
    if (formula) {
        S = mo.size;
        if (S <= 0) return cli_usage(cmd, "--input-formula needs --size");
        B = batch;
        images = cli_formula_input(formula, B, S);
        if (!images) return cli_error(cmd, "out of memory for the input");
    } else {
        const char *tname;
        char *path = cli_split_tensor_spec(input_spec, "input", &tname);
        if (!path) return cli_error(cmd, "out of memory");
        eva_status st = eva_tensor_file_open(path, &in_file);
        free(path);
        if (st != EVA_OK) return cli_lib_error(cmd, st);
        eva_tensor_view v;
        if ((st = eva_tensor_file_find(in_file, tname, &v)) != EVA_OK) {
            eva_tensor_file_close(in_file);
            return cli_lib_error(cmd, st);
        }
        if (v.ndim != 4 || v.shape[1] != 3 || v.shape[2] != v.shape[3] || v.shape[0] < 1 || v.shape[2] < 1 ||
            v.shape[0] > 4096 || v.shape[2] > 8192) {
            char buf[96] = "[";
            for (int d = 0; d < v.ndim; d++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), d ? ", %lld" : "%lld", (long long)v.shape[d]);
            eva_tensor_file_close(in_file);
            return cli_error(cmd, "input tensor '%s' has shape %s]: expected [B, 3, S, S]", tname, buf);
        }
        B = (int)v.shape[0];
        S = (int)v.shape[2];
        if (mo.size && mo.size != S) {
            eva_tensor_file_close(in_file);
            return cli_error(cmd, "--size %d does not match the input's %dx%d", mo.size, S, S);
        }
        images = malloc(sizeof(float) * (size_t)B * 3 * S * S);
        if (!images || v.dtype == EVA_U8 || v.dtype == EVA_BOOL ||
            eva_tensor_convert_f32(&v, images) != EVA_OK) {
            free(images);
            eva_tensor_file_close(in_file);
            return cli_error(cmd, "input tensor '%s' must be floating point (F32; F16/BF16/F64 are converted)", tname);
        }
        eva_tensor_file_close(in_file);
    }
    mo.size = S;

    eva_model *model = NULL;
    eva_ctx *ctx = NULL;
    eva_status st = cli_model_open(cmd, &mo, &model);
    if (st != EVA_OK) {
        free(images);
        return 1;
    }
    eva_model_info info;
    eva_model_get_info(model, &info);
    if (block >= info.depth) {
        eva_model_free(model);
        free(images);
        return cli_error(cmd, "--block %d out of range: the model has %d blocks (0..%d)", block, info.depth,
                         info.depth - 1);
    }
    int N = eva_model_tokens(model, S), D = info.width;
    eva_outputs out = {0};
    size_t bn_d = (size_t)B * N * D;
    out.pre_logits = malloc(sizeof(float) * (size_t)B * D);
    out.tokens_final = malloc(sizeof(float) * bn_d);
    out.cls_final = malloc(sizeof(float) * (size_t)B * D);
    if (info.has_head) out.logits = malloc(sizeof(float) * (size_t)B * info.num_classes);
    if (block >= 0) {
        out.block_out = malloc(sizeof(float) * bn_d);
        out.block_index = block;
    }
    int rc = 0;
    if (!out.pre_logits || !out.tokens_final || !out.cls_final || (info.has_head && !out.logits) ||
        (block >= 0 && !out.block_out)) {
        rc = cli_error(cmd, "out of memory for the outputs");
        goto done;
    }
    if ((st = eva_ctx_create(model, mo.threads, &ctx)) != EVA_OK || (st = eva_forward(ctx, images, B, S, &out)) != EVA_OK) {
        rc = cli_lib_error(cmd, st);
        goto done;
    }
    eva_tensor_writer *w = NULL;
    if ((st = eva_tensor_writer_create(&w)) == EVA_OK) {
        if (out.logits) st = eva_tensor_writer_add_view(w, "logits", EVA_F32, 2, (int64_t[]){B, info.num_classes}, out.logits);
        if (st == EVA_OK) st = eva_tensor_writer_add_view(w, "pre_logits", EVA_F32, 2, (int64_t[]){B, D}, out.pre_logits);
        if (st == EVA_OK) st = eva_tensor_writer_add_view(w, "tokens_final", EVA_F32, 3, (int64_t[]){B, N, D}, out.tokens_final);
        if (st == EVA_OK) st = eva_tensor_writer_add_view(w, "cls_final", EVA_F32, 2, (int64_t[]){B, D}, out.cls_final);
        if (st == EVA_OK && out.block_out) {
            char name[32];
            snprintf(name, sizeof name, "block%d", block);
            st = eva_tensor_writer_add_view(w, name, EVA_F32, 3, (int64_t[]){B, N, D}, out.block_out);
        }
        eva_tensor_writer_set_metadata(w, "eva.arch", info.arch);
        eva_tensor_writer_set_metadata(w, "eva.version", eva_version());
        if (st == EVA_OK) st = eva_tensor_writer_save(w, output);
    }
    eva_tensor_writer_free(w);
    if (st != EVA_OK) rc = cli_lib_error(cmd, st);
done:
    free(out.logits);
    free(out.pre_logits);
    free(out.tokens_final);
    free(out.cls_final);
    free(out.block_out);
    free(images);
    eva_ctx_free(ctx);
    eva_model_free(model);
    return rc;
}
