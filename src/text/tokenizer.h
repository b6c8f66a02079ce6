/* tokenizer.h — internal interface of the CLIP BPE tokenizer (open_clip SimpleTokenizer,
 * clean='lower', as used by EVA-CLIP / EVA01-g-14). The public entry points are eva_tokenize and
 * eva_tokenize_encode in eva.h; the stage functions here exist so tests can check each stage
 * against tests/data/tokenizer/tokenizer_cases.json.
 *
 * Pipeline (golden README-train-clip.md §4):
 *   bytes --utf8 (invalid -> U+FFFD)--> code points --ftfy subset--> --html.unescape x2-->
 *   --strip, collapse whitespace, str.lower()--> --regex split--> pieces --bytes->GPT-2 chars,
 *   BPE with merge ranks--> ids; [49406] + ids + [49407], truncate/pad to the context. */
#ifndef EVA_TEXT_TOKENIZER_H
#define EVA_TEXT_TOKENIZER_H

#include "base/base.h"

enum { EVA_TOK_VOCAB = 49408, EVA_TOK_SOT = 49406, EVA_TOK_EOT = 49407, EVA_TOK_MERGES = 48894 };

/* A growable code point buffer. Push returns false (and sets the error) when memory runs out. */
typedef struct eva_cpbuf {
    uint32_t *v;
    size_t n, cap;
} eva_cpbuf;

bool eva_cpbuf_push(eva_cpbuf *b, uint32_t c);
bool eva_cpbuf_append(eva_cpbuf *b, const uint32_t *c, size_t n);
void eva_cpbuf_free(eva_cpbuf *b);

/* UTF-8 -> code points like Python bytes.decode('utf-8', 'replace'): every maximal invalid
 * subpart becomes one U+FFFD. strict: return false instead at the first invalid byte. */
bool eva_utf8_decode(const uint8_t *s, size_t len, eva_cpbuf *out, bool strict);
/* One code point -> 1..4 UTF-8 bytes (surrogates are written as U+FFFD). */
int eva_utf8_put(uint32_t c, uint8_t out[4]);

/* ---- cleaning stages (text_clean.c, ftfy_lite.c) */
/* ftfy.fix_text subset (see ftfy_lite.c for exactly what is and is not reproduced). */
eva_status eva_text_ftfy(const uint32_t *in, size_t n, eva_cpbuf *out);
/* Unicode NFC (unicodedata.normalize('NFC'), Unicode 14). */
eva_status eva_text_nfc(const uint32_t *in, size_t n, eva_cpbuf *out);
/* Python html.unescape (HTML5 entity table, numeric references with the same replacements). */
eva_status eva_text_html_unescape(const uint32_t *in, size_t n, eva_cpbuf *out);
/* basic_clean: ftfy, html.unescape twice, strip. */
eva_status eva_text_basic_clean(const uint32_t *in, size_t n, eva_cpbuf *out);
/* whitespace_clean + str.lower() (with Greek final sigma). */
eva_status eva_text_whitespace_lower(const uint32_t *in, size_t n, eva_cpbuf *out);

/* ---- pre-tokenisation (tokenizer.c): the next regex match at or after *pos in cleaned text.
 * Returns false at the end; else [*start, *end) is the piece and *pos is advanced. */
bool eva_text_next_piece(const uint32_t *t, size_t n, size_t *pos, size_t *start, size_t *end);

/* ---- BPE (bpe.c) */
/* Load the embedded vocabulary once (thread-safe). */
eva_status eva_bpe_init(void);
/* Encode one piece (UTF-8 bytes, as cut by the regex) to ids, appended to ids[*n..cap).
 * Returns the number of ids the piece produced (may exceed the room left; only what fits
 * is written), or -1 on allocation failure. The specials map to 49406/49407. */
int eva_bpe_piece(const uint8_t *piece, size_t len, int32_t *ids, size_t room);
/* The token string of an id (GPT-2 byte characters, "</w>" suffix kept), for debugging/tests. */
const char *eva_bpe_token_str(int32_t id);

/* Whole cleaning pipeline on UTF-8 input -> cleaned code points. */
eva_status eva_text_clean_utf8(const char *text, size_t len, eva_cpbuf *out);

#endif
