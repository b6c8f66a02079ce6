/* cli_clip.h — pieces shared by the EVA-CLIP commands (clip, zeroshot, embed-text, search):
 * opening the model, reading images (decoded + preprocessed, or preprocessed tensors from
 * .safetensors), reading line lists, JSON string output. */
#ifndef EVA_CLI_CLIP_H
#define EVA_CLI_CLIP_H

#include "cli.h"

/* Load a CLIP model; prints "eva <cmd>: ..." itself on failure. */
eva_clip *cli_clip_open(const char *cmd, const char *path, int threads, int text_heads);

/* Images for the vision tower: [n, 3, S, S] float32 (S = the model's size) plus a display name
 * per image. An argument ending in .safetensors is a preprocessed tensor ("input.images", else
 * its only tensor; "FILE:NAME" picks one) of shape [3,S,S] or [B,3,S,S]; anything else is
 * decoded and preprocessed with `preset` (EVA-CLIP: eva_clip_psz14) at the model's size. */
typedef struct cli_images {
    int n, S;
    float *pixels;
    char **names;
} cli_images;

int cli_images_load(const char *cmd, const eva_clip_info *ci, const char *preset, char **args, int n_args, cli_images *out);
void cli_images_free(cli_images *im);

/* Lines of a text file: trailing \r and \n removed; blank (whitespace-only) lines skipped.
 * Returns 0 or prints an error and returns non-zero. */
int cli_read_lines(const char *cmd, const char *path, bool skip_blank, char ***lines_out, int *n_out);
void cli_free_lines(char **lines, int n);

/* JSON string literal of UTF-8 text (quotes, backslash and control characters escaped). */
void cli_json_string(FILE *f, const char *s);

#endif
