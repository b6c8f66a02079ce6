/* cli_images.h — gathering image paths (files, directories walked recursively in a stable
 * order, @list files) and decoding + preprocessing a batch of them on worker threads. */
#ifndef EVA_CLI_IMAGES_H
#define EVA_CLI_IMAGES_H

#include "cli.h"

typedef struct cli_paths {
    char **v;
    int n, cap;
} cli_paths;

/* Adds IMAGE, every image file under DIR (sorted byte-wise at each level; .jpg .jpeg .png .webp,
 * any case), or the lines of @LIST (blank lines and '#' comments skipped). Returns 0, or prints
 * an error and returns 1. */
int cli_paths_add(const char *cmd, cli_paths *p, const char *arg);
void cli_paths_free(cli_paths *p);

/* Decodes and preprocesses paths[0..n) into images [n, 3, S, S] using `threads` threads.
 * ok[i] = false and errors[i] = malloc'd message for the ones that fail. */
void cli_load_batch(char *const *paths, int n, const eva_preprocess_params *pp, const eva_image_options *io,
                    int threads, float *images, bool *ok, char **errors);

/* Preprocessing flags shared by classify/embed: --preprocess official|timm, --size is the
 * model's, --crop-pct, --resize shortest|squash, --mean a,b,c, --std a,b,c, --exif-rotate.
 * Returns 1 if consumed, 0 if not ours, -1 on a usage error. */
typedef struct cli_pre_opts {
    const char *family;
    float crop_pct;
    int squash;           /* -1: keep */
    bool has_mean, has_std, exif_rotate;
    float mean[3], std[3];
} cli_pre_opts;
void cli_pre_opts_init(cli_pre_opts *o);
int cli_pre_opts_parse(const char *cmd, cli_pre_opts *o, int argc, char **argv, int *i);
/* Model preset + overrides. Prints the error itself. */
int cli_pre_resolve(const char *cmd, const cli_pre_opts *o, const eva_model *m, eva_preprocess_params *out);

#endif
