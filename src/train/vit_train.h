/* vit_train.h — a trainable EVA ViT (EVA-01 MIM student, modeling_pretrain.py): parameters,
 * gradients, the activations the backward needs, the forward with mask tokens and the full
 * backward. Shapes: B batch, S image side, P patch, C input channels, G = S/P, Np = G*G patches,
 * N = Np + 1 tokens, D width, H heads, F MLP hidden, L depth, Dt teacher / lm_head dim,
 * M masked patches in the batch.
 *
 * Forward (golden README-train-clip §1.2):
 *   e = im2col(images)·Wpe^T + bpe                              [B Np, D]
 *   e[b,p] = mask_token where mask[b,p]                          (before cls concat and pos)
 *   x = [cls | e] + pos                                          [B, N, D]
 *   block i: x = x + dp1·proj(attn(qkv(LN1 x)));  x = x + dp2·fc2(gelu(fc1(LN2 x)))
 *            (qkv bias = [q_bias | 0 | v_bias]; dp = per-sample drop-path scale, 1 without it)
 *   pred = lm_head(LN(x)[b, 1+p] for masked (b, p), b-major then p ascending)   [M, Dt]
 *   loss = -mean_m cos(pred_m, teacher[b, p])
 * Saved per block: block input, (mean, rstd) of both LayerNorms, qkv, attention output + lse,
 * the mid-block residual, fc1 output (pre-GELU) and GELU output; the LayerNorm outputs are
 * recomputed in the backward (cheap) instead of stored.
 *
 * Parameters and gradients each live in one float block, in the official state_dict order
 * (param_order of the golden json); eva_param_ref entries point into them for the optimizer. */
#ifndef EVA_TRAIN_VIT_TRAIN_H
#define EVA_TRAIN_VIT_TRAIN_H

#include "train/optim.h"

typedef struct eva_vit_train_config {
    int img_size, patch, in_chans;
    int width, depth, heads, mlp;
    int lm_dim;             /* lm_head output (teacher feature dim); MIM mode only */
    int num_classes;        /* > 0: classifier (mean pool -> fc_norm -> head), no mask token / lm_head */
    bool stop_grad_conv1;   /* classifier: the official default True: patch_embed gets no gradient */
    float ln_eps;           /* 1e-6 */
    double drop_path;       /* stochastic depth: block i uses drop_path * i / (L-1); 0 = off */
    uint64_t seed;          /* drop-path RNG seed (Philox stream per step) */
} eva_vit_train_config;

typedef struct eva_vit_train_block {
    float *norm1_w, *norm1_b, *q_bias, *v_bias, *qkv_w, *proj_w, *proj_b;
    float *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} eva_vit_train_block;

/* Pointers to every tensor, into either the parameter or the gradient block. */
typedef struct eva_vit_train_tensors {
    float *cls_token, *mask_token, *pos_embed, *patch_w, *patch_b;
    eva_vit_train_block *blocks;   /* [L] */
    float *norm_w, *norm_b, *lm_w, *lm_b;          /* MIM mode */
    float *fc_norm_w, *fc_norm_b, *head_w, *head_b; /* classifier mode */
} eva_vit_train_tensors;

typedef struct eva_vit_train_acts eva_vit_train_acts;

typedef struct eva_vit_train {
    eva_vit_train_config cfg;
    int n_params;
    eva_param_ref *params;         /* [n_params], names owned; .param/.grad point into the blocks */
    int64_t total;                 /* number of scalar parameters */
    float *param_mem, *grad_mem;
    eva_vit_train_tensors p, g;
    eva_pool *pool;
    bool reference;                /* use the plain _ref kernels everywhere */
    uint64_t step;                 /* counts forward passes (drop-path stream) */
    eva_vit_train_acts *acts;      /* sized for the last batch */
    /* Recompute each block's activations in the backward from its saved input instead of keeping
     * them (--checkpoint-activations): per block only the [B N, D] input stays, at the cost of a
     * second forward. Gradients are bit-identical either way. Set before the first step. */
    bool checkpoint_activations;
    /* bf16 mixed precision: every matrix product (GEMMs of forward and backward, attention's
     * q k^T and p v excepted) takes its operands rounded to bf16 (round to nearest even) and
     * accumulates in fp32; LayerNorm, softmax, GELU, residuals, master weights, gradients and
     * optimizer state stay fp32. */
    bool bf16;
    /* Called during the backward as soon as gradients grad_mem[begin, end) are final (the
     * head first, then each block from the last, then the embeddings), so a data-parallel run
     * can start reducing them while the rest of the backward runs. Every element of
     * [0, total) is reported exactly once per step, in decreasing-offset order of ranges. */
    void (*grad_ready)(void *user, int64_t begin, int64_t end);
    void *grad_ready_user;
} eva_vit_train;

/* Bytes of activation storage a step of batch B needs (as allocated by the next step). */
size_t eva_vit_train_activation_bytes(const eva_vit_train *m, int B);
/* One line for the start of a run: "<what> P M parameters, A MB of activations per step (batch B,
 * stored|recomputed per block, fp32|bf16 products)". */
void eva_vit_train_memory_summary(const eva_vit_train *m, int B, const char *what, char *buf, size_t n);

/* Zero parameters; EVA_ERR_INVALID_ARG on an inconsistent config. n_threads <= 0: all cores. */
eva_status eva_vit_train_create(const eva_vit_train_config *cfg, int n_threads, eva_vit_train **out);
void eva_vit_train_free(eva_vit_train *m);
/* Shape of parameter `index` (official layout); returns ndim (0 if out of range). */
int eva_vit_train_shape(const eva_vit_train *m, int index, int64_t shape[4]);
/* Index of a parameter by official name, or -1. */
int eva_vit_train_find(const eva_vit_train *m, const char *name);

/* Build from a MIM student checkpoint (safetensors or .pt; any float dtype). The architecture is
 * inferred from the tensors: width from cls_token, depth from blocks.*, MLP from fc1, patch and
 * channels from patch_embed.proj.weight, image size from pos_embed, lm_dim from lm_head. Heads:
 * `heads` if > 0, else __metadata__ "num_heads"/"heads", else width/64. Every parameter must be
 * present with the expected shape. */
eva_status eva_vit_train_load(const char *path, int heads, int n_threads, eva_vit_train **out);
/* Same for a classifier checkpoint (fc_norm + head; num_classes from head.weight). */
eva_status eva_vit_train_load_classifier(const char *path, int heads, int n_threads, bool stop_grad_conv1,
                                         eva_vit_train **out);
/* Copy every tensor of an EVA checkpoint (e.g. a MIM pre-training result) whose name and size
 * match into the model; pos_embed of another grid is resampled (official bicubic). Tensors the
 * model does not have (mask_token, norm, lm_head) are ignored. Returns the number copied. */
eva_status eva_vit_train_init_from(eva_vit_train *m, const char *path, int *copied);

/* One MIM forward + loss + backward. images [B,C,S,S]; mask [B,Np] bytes 0/1; teacher
 * [B,Np,Dt]. Gradients of every parameter are overwritten. pred_out (may be NULL) receives
 * [M, Dt] predictions (room for B*Np rows); *M_out the masked count; *loss_out the loss. */
eva_status eva_vit_train_mim_step(eva_vit_train *m, const float *images, int B, const uint8_t *mask,
                                  const float *teacher, float *pred_out, int *M_out, double *loss_out);

/* Classifier mode: forward + soft-target cross-entropy + backward. targets [B, C] (rows sum to 1:
 * one-hot, label-smoothed or mixed); loss = -(1/B) sum_b sum_c T[b,c] log_softmax(logits)[b,c].
 * logits_out [B, C] may be NULL. With stop_grad_conv1 the patch embedding gets no gradient (its
 * eva_param_ref.grad is NULL, so AdamW leaves it untouched, as torch does for .grad None). */
eva_status eva_vit_train_cls_step(eva_vit_train *m, const float *images, int B, const float *targets, float *logits_out,
                                  double *loss_out);
/* Classifier forward only: logits [B, C]. */
eva_status eva_vit_train_cls_forward(eva_vit_train *m, const float *images, int B, float *logits);

/* Forward only (same saved activations), returning the loss: for finite-difference checks. */
eva_status eva_vit_train_mim_loss(eva_vit_train *m, const float *images, int B, const uint8_t *mask,
                                  const float *teacher, double *loss_out);

/* FLOPs of one training step (forward + backward, 2 x MACs of the matrix products and
 * attention; backward counted as 2x forward, the usual convention). */
double eva_vit_train_step_flops(const eva_vit_train_config *cfg, int B, int M);

#endif
