/* fuzz_tokenizer.c — libFuzzer target: the CLIP tokenizer on arbitrary bytes (invalid UTF-8,
 * entities, controls, huge words). The first byte picks the context length (77 or 2..129).
 * Checks: exactly `context` ids, ids[0] = 49406, the last non-pad id is 49407, zeros after it,
 * every id < 49408, and when nothing was truncated the ids equal eva_tokenize_encode's (the
 * early-stopping path agrees with the full one). Aborts on any violation.
 * Build + run: EVA_FUZZ_BUILD=build-fuzz fuzz/run.sh fuzz_tokenizer 600 -max_len=16384 */
#include "eva.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int context = data[0] < 128 ? 77 : 2 + (data[0] & 127);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t ids[130];
    int n = -1;
    if (eva_tokenize(text, len, ids, context, &n) != EVA_OK) {
        fprintf(stderr, "eva_tokenize failed: %s\n", eva_last_error());
        abort();
    }
    if (n < 2 || n > context || ids[0] != 49406 || ids[n - 1] != 49407) abort();
    for (int i = 0; i < context; i++)
        if (ids[i] < 0 || ids[i] >= 49408 || (i >= n && ids[i] != 0)) abort();
    size_t total = 0;
    if (eva_tokenize_encode(text, len, NULL, 0, &total) != EVA_OK) abort();
    if (total + 2 <= (size_t)context) {
        if ((size_t)n != total + 2) abort();
        int32_t *enc = malloc((total + 1) * sizeof *enc);
        size_t t2 = 0;
        if (!enc || eva_tokenize_encode(text, len, enc, total, &t2) != EVA_OK || t2 != total) abort();
        if (total && memcmp(enc, ids + 1, total * sizeof *enc) != 0) abort();
        free(enc);
    } else if (n != context) {
        abort();
    }
    return 0;
}
