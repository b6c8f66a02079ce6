/* vocab_embed.S — embeds data/bpe_simple_vocab_16e6.txt.gz (the CLIP BPE merges, MIT licence,
 * OpenAI CLIP; md5 933b7abbbbde62c36f02f0e6ccde464f) into libeva, so the tokenizer never needs
 * a file at run time. The path is found through the compiler's include path (src/ is on it:
 * the assembler resolves "../data/..." against each -I directory). bpe.c inflates it once.
 * Note: the build does not track this dependency; touch this file if the vocabulary changes. */
    .section .rodata
    .balign 16
    .globl eva_vocab_gz
    .hidden eva_vocab_gz
    .type eva_vocab_gz, @object
eva_vocab_gz:
    .incbin "../data/bpe_simple_vocab_16e6.txt.gz"
    .globl eva_vocab_gz_end
    .hidden eva_vocab_gz_end
eva_vocab_gz_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
