/* cmd_teacher_features.c — `eva teacher-features`: run the EVA-01 MIM teacher (a CLIP vision
 * tower) on given images and write its targets, for conformance checks against the golden
 * teacher (README-teacher-finetune §1). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_teacher_features[] =
    "usage: eva teacher-features --model TEACHER -i IN.safetensors -o OUT.safetensors [options]\n"
    "\n"
    "The MIM teacher of EVA-01 pre-training: an OpenAI / open_clip CLIP ViT vision tower with\n"
    "EVA-01's modified forward (conv1 without bias, class + positional embedding, ln_pre, blocks\n"
    "with QuickGELU, then the class token is dropped and the patch tokens go through ln_post and\n"
    "@ proj). TEACHER is a .safetensors or .pt with OpenAI/open_clip names (visual.conv1.weight,\n"
    "visual.transformer.resblocks.N.*, visual.proj, ...; the text tower is ignored); fp16/fp32\n"
    "mixed weights are converted to fp32; heads = width/64 unless --heads.\n"
    "\n"
    "inputs (IN.safetensors):\n"
    "  input.images              F32 [B, 3, S, S]  normalised with the CLIP mean/std; S a multiple\n"
    "                            of the patch (other than the checkpoint's: the positional\n"
    "                            embedding is resampled bicubically)\n"
    "\n"
    "outputs (OUT.safetensors, F32):\n"
    "  output.teacher_features   [B, G*G, D]  LN(patch tokens; ln_post) @ proj (EVA-01's targets)\n"
    "  output.image_embed        [B, D]       LN(class token; ln_post) @ proj (CLIP encode_image)\n"
    "\n"
    "options:\n"
    "  --layer K        features after block K (0 = after ln_pre; default: all blocks); with K the\n"
    "                   image embedding is not written unless K is the last block\n"
    "  --no-ln-post     features without ln_post\n"
    "  --no-proj        features without @ proj (width W instead of D)\n"
    "  --keep-cls       features include the class token as row 0 ([B, G*G + 1, dim])\n"
    "  --heads H        attention heads (default width/64)\n"
    "  --reference      use the plain reference kernels (slow, for checking)\n"
    "  -t N             threads (default: all cores)\n"
    "\n"
    "example: eva teacher-features --model teacher_clip_tiny.pt -i teacher_clip_io.safetensors -o out.safetensors\n";

static const char *CMD = "teacher-features";

int cmd_teacher_features(int argc, char **argv) {
    const char *model_path = NULL, *in_path = NULL, *out_path = NULL;
    eva_teacher_params tp = eva_teacher_default_params();
    eva_teacher_options opt = eva_teacher_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (!cli_take_str(CMD, argc, argv, &i, &model_path)) return 2;
        } else if (!strcmp(a, "--input") || !strcmp(a, "-i")) {
            if (!cli_take_str(CMD, argc, argv, &i, &in_path)) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!cli_take_str(CMD, argc, argv, &i, &out_path)) return 2;
        } else if (!strcmp(a, "--layer")) {
            if (!cli_take_int(CMD, argc, argv, &i, &opt.layer)) return 2;
            if (opt.layer < 0) return cli_usage(CMD, "--layer must be >= 0, got %d", opt.layer);
        } else if (!strcmp(a, "--no-ln-post")) {
            opt.ln_post = false;
        } else if (!strcmp(a, "--no-proj")) {
            opt.proj = false;
        } else if (!strcmp(a, "--keep-cls")) {
            opt.keep_cls = true;
        } else if (!strcmp(a, "--reference")) {
            opt.reference = true;
        } else if (!strcmp(a, "--heads")) {
            if (!cli_take_int(CMD, argc, argv, &i, &tp.heads)) return 2;
            if (tp.heads < 1) return cli_usage(CMD, "--heads must be >= 1, got %d", tp.heads);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_take_int(CMD, argc, argv, &i, &tp.n_threads)) return 2;
            if (tp.n_threads < 1 || tp.n_threads > 1024)
                return cli_usage(CMD, "-t must be in [1, 1024], got %d", tp.n_threads);
        } else {
            return cli_usage(CMD, "unknown option '%s'", a);
        }
    }
    if (!model_path) return cli_usage(CMD, "--model TEACHER is required");
    if (!in_path) return cli_usage(CMD, "--input IN.safetensors is required");
    if (!out_path) return cli_usage(CMD, "-o OUT.safetensors is required");

    int rc = 1;
    eva_teacher *t = NULL;
    eva_tensor_file *in = NULL;
    eva_tensor_writer *w = NULL;
    float *images = NULL, *feat = NULL, *embed = NULL;
    eva_status st = eva_teacher_load(model_path, &tp, &t);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    eva_teacher_info info;
    eva_teacher_get_info(t, &info);
    if (opt.layer > info.layers) {
        rc = cli_usage(CMD, "--layer %d: the teacher has %d blocks", opt.layer, info.layers);
        goto done;
    }
    if ((st = eva_tensor_file_open(in_path, &in)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    eva_tensor_view v;
    if (eva_tensor_file_find(in, "input.images", &v) != EVA_OK) {
        rc = cli_error(CMD, "%s: missing tensor 'input.images'", in_path);
        goto done;
    }
    if (v.ndim != 4 || v.shape[1] != 3 || v.shape[2] != v.shape[3] || v.shape[0] < 1 || v.shape[0] > 65536 ||
        v.shape[2] < 1 || v.shape[2] > 65536) {
        rc = cli_error(CMD, "%s: 'input.images' must be [B, 3, S, S] (B <= 65536, S <= 65536)", in_path);
        goto done;
    }
    if (v.dtype != EVA_F32 && v.dtype != EVA_F16 && v.dtype != EVA_BF16 && v.dtype != EVA_F64) {
        rc = cli_error(CMD, "%s: 'input.images' has dtype %s, expected F32", in_path, eva_dtype_name(v.dtype));
        goto done;
    }
    const int B = (int)v.shape[0], S = (int)v.shape[2];
    if (S % info.patch) {
        rc = cli_error(CMD, "%s: image size %d is not a multiple of the teacher's patch size %d", in_path, S, info.patch);
        goto done;
    }
    int rows, dim;
    if ((st = eva_teacher_feature_shape(t, S, &opt, &rows, &dim)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    const bool want_embed = opt.layer < 0 || opt.layer == info.layers;
    const size_t n_img = (size_t)B * 3 * (size_t)S * (size_t)S, n_feat = (size_t)B * (size_t)rows * (size_t)dim;
    images = malloc(sizeof(float) * n_img);
    feat = malloc(sizeof(float) * n_feat);
    embed = malloc(sizeof(float) * (size_t)B * (size_t)info.out_dim);
    if (!images || !feat || !embed) {
        rc = cli_error(CMD, "out of memory for batch %d at %d px", B, S);
        goto done;
    }
    if ((st = eva_tensor_convert_f32(&v, images)) != EVA_OK ||
        (st = eva_teacher_features(t, images, B, S, &opt, feat, want_embed ? embed : NULL)) != EVA_OK ||
        (st = eva_tensor_writer_create(&w)) != EVA_OK ||
        (st = eva_tensor_writer_add_view(w, "output.teacher_features", EVA_F32, 3,
                                         (const int64_t[3]){B, rows, dim}, feat)) != EVA_OK ||
        (want_embed && (st = eva_tensor_writer_add_view(w, "output.image_embed", EVA_F32, 2,
                                                        (const int64_t[2]){B, info.out_dim}, embed)) != EVA_OK) ||
        (st = eva_tensor_writer_set_metadata(w, "producer", "eva teacher-features")) != EVA_OK ||
        (st = eva_tensor_writer_save(w, out_path)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    rc = 0;
done:
    eva_tensor_writer_free(w);
    eva_tensor_file_close(in);
    eva_teacher_free(t);
    free(images);
    free(feat);
    free(embed);
    return rc;
}
