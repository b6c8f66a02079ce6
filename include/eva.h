/* eva.h — the public C API of eva.c: BAAI's EVA vision foundation models in C.
 *
 * Concepts
 *   eva_model   immutable weights + configuration (EVA ViT, optionally heads). Shareable by
 *               many threads at once.
 *   eva_ctx     per-thread working state for one model: thread pool and activation arena
 *               (sized once per batch and resolution). One ctx must not be used by two threads
 *               at the same time.
 *   eva_status  every fallible call returns one; on failure eva_last_error() holds a one-line
 *               message saying what was wrong and where (thread-local). The library never
 *               exits, aborts or prints on user input.
 *
 * Worked example (classify one preprocessed image):
 *
 *     eva_model_params mp = eva_model_default_params();
 *     eva_model *m;
 *     if (eva_model_load("eva_21k_1k_336px_psz14_ema_89p6.pt", &mp, &m) != EVA_OK) {
 *         fprintf(stderr, "eva: %s\n", eva_last_error()); return 1;
 *     }
 *     eva_ctx *ctx;
 *     eva_ctx_create(m, 4, &ctx);                // 4 threads
 *     eva_model_info info; eva_model_get_info(m, &info);
 *     float *logits = malloc(sizeof(float) * info.num_classes);
 *     eva_outputs out = {0}; out.logits = logits;
 *     eva_forward(ctx, pixels, 1, info.img_size, &out);   // pixels: [1,3,S,S] float32
 *     ...
 *     eva_ctx_free(ctx); eva_model_free(m);
 *
 * Ownership: every buffer the library returns has exactly one release function named next to
 * it; outputs are written into caller-provided buffers wherever the size is known in advance.
 */
#ifndef EVA_H
#define EVA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EVA_BUILDING_LIBRARY)
#define EVA_API __attribute__((visibility("default")))
#else
#define EVA_API
#endif

/* ============================================================================ status + errors */

typedef enum eva_status {
    EVA_OK = 0,
    EVA_ERR_INVALID_ARG = 1,   /* a bad argument or flag value */
    EVA_ERR_IO = 2,            /* file could not be opened, read or written */
    EVA_ERR_FORMAT = 3,        /* file is malformed, truncated or lies about its contents */
    EVA_ERR_UNSUPPORTED = 4,   /* valid but not supported (dtype, layout, legacy format) */
    EVA_ERR_NOMEM = 5,         /* allocation failed or a size is absurd */
    EVA_ERR_SHAPE = 6,         /* a tensor has the wrong shape for what it is used for */
    EVA_ERR_MISSING = 7,       /* a required tensor/key is absent */
    EVA_ERR_SECURITY = 8,      /* refused: e.g. a pickle global outside the allow-list */
    EVA_ERR_CANCELLED = 9,     /* interrupted by the caller */
    EVA_ERR_INTERNAL = 10,     /* a bug in eva.c: please report */
} eva_status;

/* Name of a status code ("invalid argument", ...). Never NULL. */
EVA_API const char *eva_strerror(eva_status status);
/* Message of the last failure on this thread (empty string if none). Never NULL. */
EVA_API const char *eva_last_error(void);
EVA_API void eva_clear_error(void);

EVA_API const char *eva_version(void);

/* Optional log sink for informational messages (default: none). */
typedef void (*eva_log_fn)(int level, const char *message, void *user_data);
EVA_API void eva_set_log_callback(eva_log_fn fn, void *user_data);

/* ============================================================================ dtypes */

typedef enum eva_dtype {
    EVA_F32 = 0, EVA_F16, EVA_BF16, EVA_F64, EVA_I64, EVA_I32, EVA_I16, EVA_I8, EVA_U8, EVA_BOOL,
    EVA_Q8,          /* eva.c's int8 weight format (per-output-channel scales) */
    EVA_DTYPE_COUNT
} eva_dtype;

EVA_API const char *eva_dtype_name(eva_dtype dt);   /* safetensors spelling: "F32", "BF16", ... */
EVA_API size_t eva_dtype_size(eva_dtype dt);

/* ============================================================================ models */

typedef struct eva_model eva_model;
typedef struct eva_ctx eva_ctx;

typedef enum eva_posemb_method {
    EVA_POSEMB_OFFICIAL = 0,   /* EVA-01 code: bicubic a=-0.75, clamped, no antialias */
    EVA_POSEMB_TIMM = 1,       /* timm: antialiased bicubic a=-0.5 */
} eva_posemb_method;

typedef enum eva_pooling {
    EVA_POOL_MEAN_FCNORM = 0,  /* classifiers: mean of patch tokens -> fc_norm -> head */
    EVA_POOL_CLS_NORM = 1,     /* CLIP vision / --use_cls: final norm over tokens, token 0 */
    EVA_POOL_MIM = 2,          /* MIM pre-training: final norm over all tokens, lm_head */
} eva_pooling;

typedef enum eva_ckpt_policy {
    EVA_CKPT_OFFICIAL = 0,     /* 'model' -> 'module' -> 'state_dict' -> bare (EVA-01 code) */
    EVA_CKPT_TIMM = 1,         /* 'model_ema' -> 'model' -> 'module' -> 'state_dict' -> bare */
} eva_ckpt_policy;

/* How an fp32 model holds its block matrices (attn.qkv, attn.proj, mlp.fc1, mlp.fc2) in memory. */
typedef enum eva_weight_layout {
    EVA_LAYOUT_AS_STORED = 0,  /* as the file has them: rows, or panels in a --layout panels file */
    EVA_LAYOUT_ROWS = 1,       /* PyTorch's [N, K] rows (a panels file is unpacked into memory) */
    EVA_LAYOUT_PANELS = 2,     /* the GEMM kernel's 32-column panels: no packing per call (4-9 %
                                  faster at batch 1); a rows file is packed into the model's memory
                                  and the file's pages of those matrices are released */
} eva_weight_layout;

typedef struct eva_model_params {
    const char *arch;          /* registry name (official or timm); NULL: infer from the file */
    int img_size;              /* run resolution; 0: the model's own. Must be a multiple of the patch */
    eva_posemb_method posemb;  /* how pos_embed is resampled when img_size differs */
    const char *ckpt_key;      /* state dict to take from a .pt ('model', 'model_ema', ...); NULL: policy */
    eva_ckpt_policy ckpt_policy;
    bool timm_mim_mapping;     /* MIM checkpoints: rename norm.* -> fc_norm.* (timm); else official MIM */
    eva_dtype weight_dtype;    /* block matrices as F32 (default), BF16 or Q8 (int8, VNNI); F16 is refused */
    int num_classes;           /* synthetic models: override the class count (0: registry) */
    int heads;                 /* custom shapes: attention heads (0: registry, file metadata, or width/64) */
    eva_weight_layout weight_layout; /* fp32 block matrices as rows or panels (see eva_weight_layout) */
} eva_model_params;

EVA_API eva_model_params eva_model_default_params(void);

/* Load weights from a .safetensors or PyTorch .pt (zip) file. Checkpoints are untrusted input:
 * the pickle reader executes nothing and accepts only an allow-list of globals. */
EVA_API eva_status eva_model_load(const char *path, const eva_model_params *params, eva_model **out);
/* Build an architecture with the deterministic formula weights (golden README §7.1). */
EVA_API eva_status eva_model_synthetic(const char *arch, const eva_model_params *params, eva_model **out);
EVA_API void eva_model_free(eva_model *model);

typedef struct eva_model_info {
    char arch[64];             /* registry name, or "custom" */
    char timm_name[64];
    int width, depth, heads, mlp_hidden, patch, img_size, in_chans;
    int num_classes;           /* 0 when there is no classifier head */
    int embed_dim;             /* width of pre_logits / projected features */
    int lm_dim;                /* MIM regression width (0 if none) */
    eva_pooling pooling;
    bool has_head, has_fc_norm, has_norm, has_mask_token, has_lm_head;
    int64_t n_params;
    /* Preprocessing carried by the model (official EVA-01 transform by default). */
    float mean[3], std[3];
    float crop_pct;
    int resize_squash;         /* 1: squash to a square (timm 336/560), 0: shorter side */
} eva_model_info;

EVA_API eva_status eva_model_get_info(const eva_model *model, eva_model_info *out);

/* Registry of named configurations. Returns the number of entries; fills *names if not NULL. */
EVA_API int eva_registry_count(void);
EVA_API const char *eva_registry_name(int index, const char **timm_name_out);

/* ============================================================================ inference */

/* Create a context with n_threads worker threads (0: all cores). */
EVA_API eva_status eva_ctx_create(const eva_model *model, int n_threads, eva_ctx **out);
EVA_API void eva_ctx_free(eva_ctx *ctx);

/* Caller-provided output buffers; NULL entries are not computed/copied. Sizes (N = tokens incl. cls):
 *   logits [B, num_classes], pre_logits [B, embed_dim], tokens_final [B, N, width],
 *   cls_final [B, width] (token 0 after the last block, before any final norm),
 *   block_out [B, N, width] (output of block `block_index`),
 *   lm_out [B, N-1, lm_dim] (MIM: lm_head of every normed patch token). */
typedef struct eva_outputs {
    float *logits;
    float *pre_logits;
    float *tokens_final;
    float *cls_final;
    float *block_out;
    int block_index;
    float *lm_out;
} eva_outputs;

/* images: [B, 3, S, S] float32, already normalised. S: 0 means the model's img_size. */
EVA_API eva_status eva_forward(eva_ctx *ctx, const float *images, int batch, int img_size,
                               eva_outputs *out);
/* Per-op time accounting (for `eva bench --profile`): off by default. GELU is fused into the
 * fc1 GEMM's epilogue and counted there; "other" is patch embedding glue, pooling, copies. */
typedef enum eva_prof_kind {
    EVA_PROF_GEMM = 0, EVA_PROF_ATTENTION, EVA_PROF_LAYERNORM, EVA_PROF_OTHER, EVA_PROF_COUNT
} eva_prof_kind;
EVA_API void eva_ctx_set_profiling(eva_ctx *ctx, bool on);   /* also resets the counters */
EVA_API eva_status eva_ctx_profile(const eva_ctx *ctx, double seconds[EVA_PROF_COUNT]);

/* Token count for a resolution (G*G + 1), or 0 if S is not a multiple of the patch. */
EVA_API int eva_model_tokens(const eva_model *model, int img_size);

/* The golden formula input (golden README §7.1): x_i = (float)(2 u_i) with NAME "input/<tag>",
 * e.g. tag "giant/224/seed0" for [1,3,224,224]; n = B*3*S*S values in NCHW order. */
EVA_API void eva_synthetic_input(const char *tag, float *out, size_t n);

/* FLOPs of one forward at resolution S (spec §1.4: 2 x MACs). */
EVA_API double eva_model_flops(const eva_model *model, int img_size);

/* ============================================================================ conversion */

/* Write the model's weights (as bound: converted, pos_embed at the loaded size) to one
 * safetensors file with timm/official names and __metadata__ (architecture, heads, pooling,
 * preprocessing, labels, provenance) so that loading it needs no flags. dtype: F32, F16, BF16. */
EVA_API eva_status eva_model_save(const eva_model *model, const char *path, eva_dtype dtype, const char *provenance);
/* The same as F32, with the block matrices (attn.qkv, attn.proj, mlp.fc1, mlp.fc2) stored as the
 * GEMM kernel's weight panels: tensor F32 [ceil(N/32), K, 32], element [p, k, j] = W[32p+j, k]
 * (0 past N), __metadata__ eva.layout = panels32. Such a file runs fp32 inference straight from
 * the mmap with no per-call weight packing (eva_weight_layout); every eva.c command reads it. */
EVA_API eva_status eva_model_save_panels(const eva_model *model, const char *path, const char *provenance);

typedef enum eva_patch_method {
    EVA_PATCH_OFFICIAL = 0,    /* EVA-01 interpolate_patch_14to16: bicubic a=-0.75 per kernel slice */
    EVA_PATCH_PINV = 1,        /* timm resample_patch_embed: pseudo-inverse of the antialiased resize */
} eva_patch_method;

/* Patch 14 -> 16 conversion of a checkpoint (kernel resampled, pos_embed to a 14x14 grid). */
EVA_API eva_status eva_patch14to16(const char *in_path, const char *out_path, eva_patch_method method,
                                   const eva_model_params *params);

/* ============================================================================ tensor files */

/* A read-only collection of named tensors from a .safetensors or .pt file. */
typedef struct eva_tensor_file eva_tensor_file;

typedef struct eva_tensor_view {
    const char *name;
    eva_dtype dtype;
    int ndim;
    int64_t shape[8];
    const void *data;          /* C-contiguous; valid until the file is closed */
    size_t nbytes;
} eva_tensor_view;

EVA_API eva_status eva_tensor_file_open(const char *path, eva_tensor_file **out);
EVA_API void eva_tensor_file_close(eva_tensor_file *f);
EVA_API int eva_tensor_file_count(const eva_tensor_file *f);
EVA_API eva_status eva_tensor_file_get(const eva_tensor_file *f, int index, eva_tensor_view *out);
EVA_API eva_status eva_tensor_file_find(const eva_tensor_file *f, const char *name, eva_tensor_view *out);
/* __metadata__ value for key, or NULL. */
EVA_API const char *eva_tensor_file_metadata(const eva_tensor_file *f, const char *key);

/* Convert a view's elements (any numeric dtype) to float32; dst holds numel floats. */
EVA_API eva_status eva_tensor_convert_f32(const eva_tensor_view *v, float *dst);

/* Writer: collect tensors (data is copied at add time), then write atomically (temp + rename). */
typedef struct eva_tensor_writer eva_tensor_writer;
EVA_API eva_status eva_tensor_writer_create(eva_tensor_writer **out);
EVA_API eva_status eva_tensor_writer_add(eva_tensor_writer *w, const char *name, eva_dtype dtype,
                                         int ndim, const int64_t *shape, const void *data);
/* Same without copying: data must stay valid until save returns (used for large weights). */
EVA_API eva_status eva_tensor_writer_add_view(eva_tensor_writer *w, const char *name, eva_dtype dtype,
                                              int ndim, const int64_t *shape, const void *data);
EVA_API eva_status eva_tensor_writer_set_metadata(eva_tensor_writer *w, const char *key, const char *value);
EVA_API eva_status eva_tensor_writer_save(eva_tensor_writer *w, const char *path);
EVA_API void eva_tensor_writer_free(eva_tensor_writer *w);

/* ============================================================================ more sections
 * Later parts of the API (preprocessing, classification, embedding, CLIP, tokenizer, training)
 * are declared below, one section each. */

/* ============================================================================ images + preprocessing
 *
 * Decoding reproduces Pillow 9.4's `Image.open(f).convert('RGB')` pixel for pixel (libjpeg-turbo
 * with accurate integer IDCT and fancy upsampling; CMYK/YCCK JPEGs with Adobe inverted CMYK;
 * PNG grey replicated, alpha dropped without compositing, palettes expanded, 16-bit RGB/RGBA/LA
 * reduced to the high byte, 16-bit grey clamped to 255 as Pillow's "I" -> "RGB" conversion does;
 * WebP when built with libwebp). The format is detected from magic bytes.
 * Limits: at most 65535 pixels per side and at most 178956970 pixels (Pillow's decompression-bomb
 * error threshold) or eva_image_options.max_pixels; larger images fail with EVA_ERR_UNSUPPORTED
 * before any pixel memory is allocated. Truncated or corrupt files fail with EVA_ERR_FORMAT.
 *
 *     eva_preprocess_params pp;
 *     eva_preprocess_preset("eva_giant_patch14_224.clip_ft_in1k", &pp);
 *     float *x = malloc(sizeof(float) * 3 * pp.size * pp.size);
 *     if (eva_preprocess_file("cat.jpg", &pp, x, NULL) != EVA_OK) ...eva_last_error()...
 */

typedef struct eva_image {
    int width, height;
    uint8_t *data;             /* height x width x 3, RGB, row-major; release with eva_image_free */
} eva_image;

typedef struct eva_image_options {
    bool exif_rotate;          /* apply the EXIF orientation tag (JPEG APP1 / PNG eXIf); default off */
    int64_t max_pixels;        /* 0: the default limit above; else a smaller limit */
} eva_image_options;

/* opts may be NULL (defaults). `out` is zeroed on failure. */
EVA_API eva_status eva_image_load(const char *path, const eva_image_options *opts, eva_image *out);
EVA_API eva_status eva_image_decode(const void *data, size_t size, const eva_image_options *opts,
                                    eva_image *out);
EVA_API void eva_image_free(eva_image *img);

/* Evaluation transform: resize (Pillow bicubic, fixed point), center crop, ToTensor, Normalize.
 *   squash = 0: shorter side to floor(size / crop_pct) (aspect kept, torchvision rule), then
 *               CenterCrop(size) (round half to even; zero padding if the image is smaller);
 *   squash = 1: resize to floor(size / crop_pct) square (aspect not kept), then CenterCrop(size).
 *   x = (float)(u / 255.0f - mean) / std, all in float32, layout [3, size, size]. */
typedef struct eva_preprocess_params {
    int size;
    float crop_pct;
    int squash;
    float mean[3], std[3];
    bool exif_rotate;
} eva_preprocess_params;

/* Preset by name: official EVA-01 registry names (eva_psz14, eva_psz14to16, eva_21k_224px_psz14,
 * eva_21k_1k_336px_psz14_ema, eva_21k_1k_560px_psz14_ema, eva_clip_psz14), timm names with or
 * without pretrained tag (eva_giant_patch14_224.clip_ft_in1k, eva_giant_patch14_336.clip_ft_in1k,
 * eva_giant_patch14_336.m30m_ft_in22k_in1k, eva_giant_patch14_560.m30m_ft_in22k_in1k,
 * eva_giant_patch14_clip_224.laion400m, ...) and the golden keys t224, t336, t560. */
EVA_API eva_status eva_preprocess_preset(const char *name, eva_preprocess_params *out);
/* Same with an explicit family: "official" (EVA-01 code: shorter side + crop, CLIP mean/std,
 * crop_pct 1.0 as in the README commands) or "timm" (timm's pretrained_cfg); NULL: the family
 * the name belongs to. */
EVA_API eva_status eva_preprocess_preset_family(const char *name, const char *family,
                                                eva_preprocess_params *out);
/* out: [3, S, S] float32 (may be NULL); crop_u8: [S, S, 3] uint8 before ToTensor (may be NULL). */
EVA_API eva_status eva_preprocess_image(const eva_image *img, const eva_preprocess_params *p,
                                        float *out, uint8_t *crop_u8);
EVA_API eva_status eva_preprocess_file(const char *path, const eva_preprocess_params *p,
                                       float *out, uint8_t *crop_u8);

/* ============================================================================ text tokenizer */

/* The CLIP BPE tokenizer of EVA-CLIP (open_clip SimpleTokenizer, clean='lower', as returned by
 * get_tokenizer('EVA01-g-14')): ftfy-style repair, html.unescape x2, whitespace collapse,
 * lower-case, regex pre-tokenisation, byte-level BPE over the 49,408-token vocabulary, which is
 * embedded in the library (no file needed). Thread-safe; the vocabulary is built on first use.
 *
 * eva_tokenize writes exactly `context` ids (CLIP: 77): 49406 <start_of_text>, the BPE ids,
 * 49407 <end_of_text>, then zeros. Longer texts are truncated to `context` ids with the last one
 * forced to 49407 (open_clip / EVA-CLIP behaviour). *n_tokens_out (may be NULL) receives the
 * number of non-padding ids (<= context). text is UTF-8 of `len` bytes (no NUL needed); invalid
 * sequences become U+FFFD as Python's bytes.decode('utf-8', 'replace'). context in [2, 2^20]. */
EVA_API eva_status eva_tokenize(const char *text, size_t len, int32_t *ids, int context, int *n_tokens_out);
/* The BPE ids alone (no specials, no truncation): writes min(total, cap) ids and sets
 * *n_ids_out to the total (call with cap 0 to measure). */
EVA_API eva_status eva_tokenize_encode(const char *text, size_t len, int32_t *ids, size_t cap, size_t *n_ids_out);

/* ============================================================================ EVA-CLIP
 *
 * EVA-CLIP = the EVA ViT vision tower (final norm, token 0, head = image projection) + the
 * open_clip text Transformer (erf GELU, causal mask, pooled at the first end-of-text token,
 * x @ text_projection) + logit_scale. One file holds both towers, in any of three layouts:
 * open_clip EVA01-g-14 (`visual.trunk.*`, `logit_scale`), EVA-01 original eva_clip_psz14
 * (`visual.*`, `text.logit_scale`) and the EVA-CLIP repo (`visual.*`, `logit_scale`); text
 * tensors are `text.*` in all three. .pt or .safetensors. A file without a vision tower loads
 * as text-only (image calls fail); a file without a text tower is refused.
 *
 *     eva_clip *clip;
 *     if (eva_clip_load("EVA01-g-14.safetensors", NULL, &clip) != EVA_OK) ...eva_last_error()...
 *     eva_clip_info ci; eva_clip_get_info(clip, &ci);
 *     float *img = malloc(sizeof(float) * ci.embed_dim), *txt = malloc(...2 * ci.embed_dim...);
 *     eva_clip_encode_images(clip, pixels, 1, 0, NULL, img);             // normalised [1, E]
 *     const char *texts[] = {"a photo of a cat", "a photo of a dog"};
 *     eva_clip_encode_texts(clip, texts, 2, NULL, txt);                  // normalised [2, E]
 *
 * A handle owns a thread pool and scratch: one handle must not be used by two threads at once
 * (load one per thread; the weights are mmapped and shared by the OS). */

typedef struct eva_clip eva_clip;

typedef struct eva_clip_params {
    int n_threads;             /* 0: all cores */
    int text_heads;            /* 0: text width / 64 (open_clip's head_width default) */
    int vision_heads;          /* 0: as eva_model_load infers */
    eva_dtype weight_dtype;    /* vision compute weights (see eva_model_params) */
} eva_clip_params;

EVA_API eva_clip_params eva_clip_default_params(void);
/* params may be NULL (defaults). */
EVA_API eva_status eva_clip_load(const char *path, const eva_clip_params *params, eva_clip **out);
EVA_API void eva_clip_free(eva_clip *clip);

typedef struct eva_clip_info {
    char layout[16];           /* "open_clip" | "eva01" | "eva_clip" */
    bool has_vision;
    int embed_dim;             /* joint space E */
    int img_size, patch;       /* vision (0 when text-only) */
    int vision_width, vision_depth, vision_heads;
    int text_width, text_layers, text_heads, text_mlp, context_length, vocab_size;
    float logit_scale;         /* the stored parameter (log scale) */
    float logit_scale_exp;     /* exp(logit_scale): the training-time logit multiplier */
    int64_t n_params;
} eva_clip_info;

EVA_API eva_status eva_clip_get_info(const eva_clip *clip, eva_clip_info *out);

/* images [B, 3, S, S] float32, already normalised (S = 0: the model's size). raw_out [B, E]
 * image projections, out [B, E] L2-normalised; either may be NULL. */
EVA_API eva_status eva_clip_encode_images(eva_clip *clip, const float *images, int batch, int img_size,
                                          float *raw_out, float *out);
/* ids [n, context] token ids (as eva_tokenize writes them; context <= the model's 77).
 * Pooled at the first position of the largest id (end-of-text). raw_out / out [n, E]. */
EVA_API eva_status eva_clip_encode_token_ids(eva_clip *clip, const int32_t *ids, int n, int context,
                                             float *raw_out, float *out);
/* UTF-8 strings (NUL-terminated) -> tokenizer -> text tower. Empty strings are valid (start +
 * end-of-text only); long strings are truncated to the context (CLIP behaviour). */
EVA_API eva_status eva_clip_encode_texts(eva_clip *clip, const char *const *texts, int n, float *raw_out, float *out);

/* Zero-shot classifier (EVA-CLIP rei / open_clip protocol): for each class, every template
 * ("{}" replaced by the class name) is encoded and L2-normalised, the template embeddings are
 * averaged and the mean is L2-normalised. weights_out: [n_classes, E]. templates NULL: the 80
 * ImageNet templates. progress (may be NULL) is called after each class. */
typedef void (*eva_clip_progress_fn)(int done, int total, void *user_data);
EVA_API eva_status eva_clip_zeroshot_weights(eva_clip *clip, const char *const *class_names, int n_classes,
                                             const char *const *templates, int n_templates, float *weights_out,
                                             eva_clip_progress_fn progress, void *user_data);
/* logits [n_images, n_classes] = scale * features @ weights^T (features / weights normalised
 * [*, E]; zero-shot uses scale 100); probs_out (may be NULL) = row-wise softmax of the logits. */
EVA_API eva_status eva_clip_zeroshot_logits(const eva_clip *clip, const float *features, int n_images,
                                            const float *weights, int n_classes, float scale, float *logits_out,
                                            float *probs_out);

/* The 1000 ImageNet class names (zero-shot spelling, index order) and the 80 OpenAI prompt
 * templates; NULL outside 0..999 / 0..79. */
EVA_API const char *eva_imagenet_class_name(int index);
EVA_API const char *eva_imagenet_template(int index);

/* The bundled default model (a tiny EVA pre-trained and fine-tuned by eva.c on Fashion-MNIST):
 * $EVA_DEFAULT_MODEL, else share/eva/models/eva-tiny-fmnist.safetensors next to the binary, in
 * the install prefix, or in the source tree. EVA_ERR_MISSING when there is none. */
EVA_API eva_status eva_default_model_path(char *out, size_t cap);

/* ============================================================================ classify + embed
 * The everyday jobs on preprocessed images [B, 3, S, S] (S = the size the model was loaded for);
 * eva_model_preprocess gives the transform that produces them from a decoded image. */

/* The model's evaluation transform: its registry preset ("official" EVA-01 or "timm" family;
 * NULL = the family its name belongs to), or for custom models the values in its metadata;
 * size = the resolution the model was loaded for. */
EVA_API eva_status eva_model_preprocess(const eva_model *model, const char *family, eva_preprocess_params *out);
EVA_API const eva_model *eva_ctx_model(const eva_ctx *ctx);

typedef struct eva_topk {
    int index;      /* class index */
    float prob;     /* softmax probability over all classes */
    float logit;
} eva_topk;

/* Top-k classes per image: out[b*k + j], best first. k is clamped to the class count. */
EVA_API eva_status eva_classify(eva_ctx *ctx, const float *images, int batch, int k, eva_topk *out);

/* Class name recorded in the model file (metadata "eva.class_names", one per line): copies it
 * into buf and returns 1, or returns 0 when the file names no classes. */
EVA_API int eva_model_class_name(const eva_model *model, int index, char *buf, size_t cap);

/* ImageNet-1k class name (open_clip / EVA-CLIP list), NULL outside 0..999. */
EVA_API const char *eva_imagenet_class_name(int index);

typedef enum eva_embed_pool {
    EVA_EMBED_DEFAULT = 0,    /* CLIP vision: L2-normalised projection; others: pre-logits (cls after --block) */
    EVA_EMBED_CLS,            /* token 0 (after the final norm where the model has one, or of block K) */
    EVA_EMBED_MEAN,           /* mean of the patch tokens (cls excluded) */
    EVA_EMBED_PRELOGITS,      /* the pooled features the head sees */
    EVA_EMBED_TOKENS,         /* every token, flattened: N*D values */
} eva_embed_pool;

/* Values per image for (pool, block); block < 0 means after the last block. */
EVA_API int eva_embed_dim(const eva_model *model, eva_embed_pool pool, int block);
/* out: [B, eva_embed_dim(...)] */
EVA_API eva_status eva_embed(eva_ctx *ctx, const float *images, int batch, eva_embed_pool pool, int block, float *out);

/* ============================================================================ MIM teacher (CLIP vision)
 *
 * The teacher of EVA-01 MIM pre-training: an OpenAI / open_clip CLIP ViT vision tower (conv1
 * without bias, class + positional embedding, ln_pre, pre-norm blocks with QuickGELU and packed
 * in_proj, ln_post, proj; LayerNorm eps 1e-5) with EVA-01's modified forward:
 *   features [B, G*G, D] = LN(patch tokens of the last block; ln_post) @ proj  (class token dropped)
 *   image_embed [B, D]   = LN(class token; ln_post) @ proj                     (CLIP encode_image)
 * Weights: .safetensors or .pt with the names `visual.conv1.weight`, `visual.class_embedding`,
 * `visual.positional_embedding`, `visual.ln_pre.*`, `visual.transformer.resblocks.N.*`,
 * `visual.ln_post.*`, `visual.proj` (OpenAI and open_clip; a bare tower without `visual.` and
 * prefixed dicts such as `state_dict.visual.*` too); fp16/fp32 mixed is converted to fp32;
 * everything else in the file (text tower) is ignored. Width, layers, patch, grid, MLP and D
 * come from the shapes; heads = width / 64 unless given. An image side other than the
 * checkpoint's resamples the patch positional embedding (bicubic, a = -0.75, by size).
 * A teacher owns a thread pool and workspace: use one handle from one thread at a time.
 *
 *     eva_teacher *t;
 *     if (eva_teacher_load("ViT-L-14.pt", NULL, &t) != EVA_OK) ...eva_last_error()...
 *     int rows, dim; eva_teacher_feature_shape(t, 224, NULL, &rows, &dim);   // 256, 768
 *     float *feat = malloc(sizeof(float) * B * rows * dim);
 *     eva_teacher_features(t, images, B, 224, NULL, feat, NULL);
 *     eva_teacher_free(t);
 */
typedef struct eva_teacher eva_teacher;

typedef struct eva_teacher_params {
    int heads;                 /* 0: width / 64 (OpenAI build_model) */
    int n_threads;             /* 0: all cores */
} eva_teacher_params;

/* Which tokens to return, and how normalised (defaults: EVA-01's target). */
typedef struct eva_teacher_options {
    int layer;                 /* blocks to run: -1 = all (default), 0 = output of ln_pre, k = after block k */
    bool ln_post;              /* apply ln_post (default true) */
    bool proj;                 /* apply @ proj: dim D (default true); false: dim = width */
    bool keep_cls;             /* also return the class token as row 0 (default false) */
    bool reference;            /* plain reference kernels (slow; for checking) */
} eva_teacher_options;

typedef struct eva_teacher_info {
    int width, layers, heads, patch, img_size, mlp_hidden, out_dim;
    int64_t n_params;
} eva_teacher_info;

EVA_API eva_teacher_params eva_teacher_default_params(void);
EVA_API eva_teacher_options eva_teacher_default_options(void);
/* params may be NULL (defaults). */
EVA_API eva_status eva_teacher_load(const char *path, const eva_teacher_params *params, eva_teacher **out);
EVA_API void eva_teacher_free(eva_teacher *teacher);
EVA_API eva_status eva_teacher_get_info(const eva_teacher *teacher, eva_teacher_info *out);
/* Rows per image and values per row of the features at side img_size (0: the checkpoint's). */
EVA_API eva_status eva_teacher_feature_shape(const eva_teacher *teacher, int img_size, const eva_teacher_options *opts,
                                             int *rows, int *dim);
/* images [B, 3, S, S] float32, normalised with the CLIP mean/std; S = img_size (0: the
 * checkpoint's), a multiple of the patch. features [B, rows, dim] (may be NULL); image_embed
 * [B, D] (may be NULL; only with all blocks). opts may be NULL (EVA-01 defaults). */
EVA_API eva_status eva_teacher_features(eva_teacher *teacher, const float *images, int batch, int img_size,
                                        const eva_teacher_options *opts, float *features, float *image_embed);

/* ============================================================================ low-precision weights
 * eva_model_params.weight_dtype = EVA_BF16 or EVA_Q8 keeps the block matrices (attn.qkv,
 * attn.proj, mlp.fc1, mlp.fc2) in bf16 or int8 (per-output-channel scales, activations quantised
 * per row, int32 VNNI accumulation); everything else stays fp32. bf16 math: where the CPU has
 * avx512_bf16, activations are rounded to bf16 and multiplied with vdpbf16ps (fp32 sums); else
 * the weights are widened to fp32 (fp32 math, results equal to fp32 weights rounded to bf16).
 * The environment variable EVA_BF16=widen|dot overrides the choice (dot without the instruction
 * runs an exact emulation: slower, for accuracy studies). A file with __metadata__ eva.dtype=q8 (eva_model_save with EVA_Q8: tensor NAME as I8
 * [N,K] plus NAME.scale F32 [N]) loads as Q8 without asking. Returns the dtype a model computes
 * its block matrices in (EVA_F32, EVA_BF16 or EVA_Q8). */
EVA_API eva_dtype eva_model_weight_dtype(const eva_model *model);
/* Whether the model's fp32 block matrices are held as weight panels (eva_weight_layout). A file
 * saved with eva_model_save_panels (eva convert --layout panels; __metadata__ eva.layout =
 * panels32, tensors F32 [ceil(N/32), K, 32]) loads that way, straight from the mmap. */
EVA_API bool eva_model_weights_panels(const eva_model *model);

/* ============================================================================ classifier heads
 * Whether the model's head gives class logits (eva_classify / eva eval work): mean pooling +
 * fc_norm + head (fine-tuned EVA), or final norm + cls token + head when the file's metadata says
 * eva.pooling = cls_classifier (eva finetune --linear-probe: BatchNorm folded into the Linear).
 * Final norm + cls + head without that mark is a CLIP image projection (not a classifier). */
EVA_API bool eva_model_is_classifier(const eva_model *model);

#ifdef __cplusplus
}
#endif

#endif /* EVA_H */
