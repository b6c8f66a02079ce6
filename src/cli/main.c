/* main.c — the `eva` command: dispatch to one subcommand per file (cmd_*.c). */
#include "cli.h"
#include "train/comm.h"

#include <string.h>

int cmd_forward(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
extern const char help_finetune[];
int cmd_finetune_step(int argc, char **argv);
extern const char help_finetune_step[];
int cmd_eval(int argc, char **argv);
extern const char help_eval[];
int cmd_pretrain(int argc, char **argv);
int cmd_plot(int argc, char **argv);
extern const char help_pretrain[], help_plot[];
int cmd_classify(int argc, char **argv);
int cmd_embed(int argc, char **argv);
extern const char help_classify[], help_embed[];
int cmd_patch14to16(int argc, char **argv);
extern const char help_convert[], help_patch14to16[];
int cmd_masks(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_mim_step(int argc, char **argv);
extern const char help_mim_step[];
int cmd_tokenize(int argc, char **argv);
extern const char help_tokenize[];
int cmd_clip(int argc, char **argv);
int cmd_zeroshot(int argc, char **argv);
int cmd_embed_text(int argc, char **argv);
int cmd_search(int argc, char **argv);
extern const char help_clip[], help_zeroshot[], help_embed_text[], help_search[];
int cmd_teacher_features(int argc, char **argv);
extern const char help_teacher_features[];
int cmd_teacher_cache(int argc, char **argv);
extern const char help_teacher_cache[];
extern const char help_preprocess[];
extern const char help_masks[];
extern const char help_forward[], help_info[], help_bench[];
int cmd_diff(int argc, char **argv);
extern const char help_diff[];

/* Subcommands, in the order `eva help` lists them. Add new ones here. */
static const eva_command g_commands[] = {
    {"forward", cmd_forward, "run a model on an input tensor and write its outputs (conformance)", help_forward},
    {"info", cmd_info, "show what a weight file holds", help_info},
    {"diff", cmd_diff, "compare the tensors of two weight files (max abs/rel difference)", help_diff},
    {"classify", cmd_classify, "top-k classes of images with probabilities and labels", help_classify},
    {"embed", cmd_embed, "embeddings of many images to .npy/.safetensors/.jsonl (streamed, resumable)", help_embed},
    {"finetune", cmd_finetune, "fine-tune a classifier from a pre-trained EVA (layer decay, EMA, CutMix/Mixup)", help_finetune},
    {"finetune-step", cmd_finetune_step, "one EVA-01 fine-tuning step (layer decay, EMA, CutMix) for conformance", help_finetune_step},
    {"eval", cmd_eval, "accuracy of a classifier on a labelled dataset (top-1/5, per class, confusion)", help_eval},
    {"pretrain", cmd_pretrain, "EVA-01 masked image modeling with a teacher (checkpoints, resume, metrics)", help_pretrain},
    {"teacher-cache", cmd_teacher_cache, "precompute a pre-training run's teacher features (eva pretrain --teacher-cache)", help_teacher_cache},
    {"plot", cmd_plot, "draw a run's loss curve (gnuplot)", help_plot},
    {"convert", cmd_convert, "convert a checkpoint (.pt/.safetensors) to self-describing safetensors", help_convert},
    {"patch14to16", cmd_patch14to16, "EVA-01's patch 14 -> 16 conversion (or timm's pseudo-inverse)", help_patch14to16},
    {"bench", cmd_bench, "measure inference speed (ms/image, GFLOP/s, peak RSS)", help_bench},
    {"masks", cmd_masks, "draw EVA-01 block-wise MIM masks (safetensors, optional PNG sheet)", help_masks},
    {"preprocess", cmd_preprocess, "decode an image and apply a model's evaluation transform (bit-exact)", help_preprocess},
    {"mim-step", cmd_mim_step, "one EVA-01 MIM training step (forward, loss, backward, AdamW) for conformance", help_mim_step},
    {"tokenize", cmd_tokenize, "CLIP BPE token ids of texts (EVA-CLIP text tower input)", help_tokenize},
    {"clip", cmd_clip, "EVA-CLIP image/text features and logits of a tensor input (conformance)", help_clip},
    {"zeroshot", cmd_zeroshot, "EVA-CLIP zero-shot classification (ImageNet or your labels)", help_zeroshot},
    {"embed-text", cmd_embed_text, "EVA-CLIP text embeddings of texts to a .npy file", help_embed_text},
    {"search", cmd_search, "rank image embeddings (.npy) against a text or image query with EVA-CLIP", help_search},
    {"teacher-features", cmd_teacher_features, "EVA-01 MIM teacher: CLIP vision patch features (conformance)", help_teacher_features},
};

const eva_command *cli_find_command(const char *name) {
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (strcmp(g_commands[i].name, name) == 0) return &g_commands[i];
    return NULL;
}

static void print_overview(FILE *f) {
    fprintf(f, "eva %s — EVA vision foundation models in C\n\n"
               "usage: eva <command> [options]   (eva help <command> for details)\n\ncommands:\n",
            eva_version());
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(f, "  %-16s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f, "\nmodels: eva info --models lists every registered architecture.\n");
}

/* The library reports warnings (e.g. a damaged checkpoint skipped) through its log callback. */
static void print_log(int level, const char *message, void *user) {
    (void)user;
    if (level >= 2) fprintf(stderr, "eva: warning: %s\n", message);
}

int main(int argc, char **argv) {
    eva_set_log_callback(print_log, NULL);
    if (argc < 2) {
        print_overview(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("eva %s\n", eva_version());
        return 0;
    }
    if (strcmp(name, "help") == 0 || cli_is_help(name)) {
        if (argc >= 3 && strcmp(name, "help") == 0) {
            const eva_command *c = cli_find_command(argv[2]);
            if (!c) {
                fprintf(stderr, "eva help: unknown command '%s'\n", argv[2]);
                return 2;
            }
            fputs(c->help, stdout);
            return 0;
        }
        print_overview(stdout);
        return 0;
    }
    const eva_command *c = cli_find_command(name);
    if (!c) {
        fprintf(stderr, "eva: unknown command '%s' (run 'eva help' for the list)\n", name);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(c->help, stdout);
            return 0;
        }
    /* data-parallel runs: MPI_Init only when started by mpirun/srun (docs/distributed.md) */
    if (eva_comm_init(&argc, &argv) != EVA_OK) {
        fprintf(stderr, "eva: %s\n", eva_last_error());
        return 1;
    }
    int rc = c->run(argc - 1, argv + 1);
    if (rc != 0 && rc != 130) eva_comm_abort(rc);   /* a failed rank ends the job instead of hanging the others */
    eva_comm_finalize();
    return rc;
}
