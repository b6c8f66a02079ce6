/* optim.h — AdamW with the official EVA-01 parameter groups (optim_factory.py), layer-wise lr
 * decay, global-norm gradient clipping and the official per-step schedules.
 *
 * Parameter groups (get_parameter_groups + get_num_layer_for_vit, golden README-train-clip §1.4
 * and README-teacher-finetune §2.5):
 *   weight decay 0 if the tensor is 1-D, or its name ends in ".bias", or the name is in the skip
 *   list (model.no_weight_decay() = {pos_embed, cls_token}); everything else (mask_token,
 *   patch_embed.proj.weight, lm_head.weight, ...) gets the scheduled weight decay.
 *   layer id: cls_token / mask_token / pos_embed / patch_embed.* -> 0, blocks.i.* -> i + 1,
 *   rel_pos_bias* and everything else -> depth + 1; lr scale = r^(depth + 1 - id).
 *
 * Update (torch.optim.AdamW, step t, g = grad * grad_scale):
 *   p -= lr_p * wd_p * p
 *   m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2
 *   p -= (lr_p / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Precision: the moments are stored in float32 (as torch does for fp32 parameters); each element
 * update is computed in double from the float inputs and rounded once, which matches the
 * float64 golden step to ~1 ulp (tests/test_optim.c). */
#ifndef EVA_TRAIN_OPTIM_H
#define EVA_TRAIN_OPTIM_H

#include "base/base.h"

/* One trainable tensor. grad == NULL: the parameter has no gradient this step and is skipped
 * entirely (no decay, no moment update), as torch.optim.AdamW does for `.grad is None`. */
typedef struct eva_param_ref {
    const char *name;     /* official state_dict name, e.g. "blocks.3.attn.qkv.weight" */
    float *param;
    float *grad;
    int64_t numel;
    int ndim;             /* drives the no-weight-decay rule for 1-D tensors */
} eva_param_ref;

typedef struct eva_adamw_config {
    double beta1, beta2, eps;
    double weight_decay;       /* base value (the schedule may override it per step) */
    double layer_decay;        /* r; 1.0 = no layer-wise decay (pre-training) */
    int depth;                 /* number of blocks L (for layer ids) */
    const char *const *skip_list;   /* names without weight decay; NULL = {pos_embed, cls_token} */
    int skip_count;
} eva_adamw_config;

/* Pre-training defaults: betas (0.9, 0.98), eps 1e-6, wd 0.05, no layer decay. */
eva_adamw_config eva_adamw_config_pretrain(int depth);
/* Fine-tuning defaults (IN-1K recipe): betas (0.9, 0.999), eps 1e-8, wd 0.05, layer decay r. */
eva_adamw_config eva_adamw_config_finetune(int depth, double layer_decay);

/* Official rules, exposed for tests and for printing the group table. */
int eva_vit_layer_id(const char *name, int depth);                 /* 0 .. depth+1 */
double eva_layer_decay_scale(double r, int depth, int layer_id);   /* r^(depth+1-id) */
bool eva_param_has_weight_decay(const char *name, int ndim, const char *const *skip, int n_skip);

typedef struct eva_adamw eva_adamw;

/* Build the optimizer; the parameter list is copied (names too), the tensors are not. */
eva_status eva_adamw_create(const eva_param_ref *params, int n, const eva_adamw_config *cfg, eva_adamw **out);
void eva_adamw_free(eva_adamw *opt);

/* Per-parameter assignment (index in creation order). */
double eva_adamw_lr_scale(const eva_adamw *opt, int index);
int eva_adamw_layer_id(const eva_adamw *opt, int index);
bool eva_adamw_decayed(const eva_adamw *opt, int index);
int64_t eva_adamw_steps(const eva_adamw *opt);
/* Moment buffers of parameter `index` (numel floats each), for checkpointing / resuming;
 * eva_adamw_set_steps restores the step count used by the bias correction. */
void eva_adamw_state(eva_adamw *opt, int index, float **m, float **v);
void eva_adamw_set_steps(eva_adamw *opt, int64_t steps);
int eva_adamw_count(const eva_adamw *opt);

/* One step: lr = schedule value (each parameter uses lr * lr_scale), wd = scheduled weight decay
 * for the decayed parameters, grad_scale multiplies every gradient on the fly (the clipping
 * coefficient and/or 1/loss_scale; 1.0 for none). The gradients are not modified.
 * pool may be NULL (serial). */
eva_status eva_adamw_step(eva_adamw *opt, double lr, double wd, double grad_scale, eva_pool *pool);

/* Global L2 norm over all gradients (NULL grads skipped), accumulated in double. */
double eva_grad_global_norm(const eva_param_ref *params, int n);
/* torch clip_grad_norm_: coef = max_norm / (total_norm + 1e-6), clamped to 1 (1 when max_norm
 * <= 0, i.e. no clipping). Multiply the gradients by it (or pass it as grad_scale). */
double eva_grad_clip_coef(double total_norm, double max_norm);
/* Scale gradients in place (rounded to float). */
void eva_grad_scale(const eva_param_ref *params, int n, double coef);

/* ---- schedule.c: utils.cosine_scheduler of EVA-01/BEiT (per iteration)
 * warm-up: np.linspace(start_warmup, base, warmup_iters) (endpoint included), then
 * final + 0.5 (base - final)(1 + cos(pi i / n_cos)) for i in [0, n_cos), n_cos = total - warmup.
 * warmup_steps > 0 overrides warmup_epochs * niter_per_ep (as the official code does). */
typedef struct eva_cosine_schedule {
    double base, final, start_warmup;
    int64_t total_iters, warmup_iters;
} eva_cosine_schedule;

eva_status eva_cosine_schedule_init(eva_cosine_schedule *s, double base, double final, int epochs,
                                    int64_t niter_per_ep, int warmup_epochs, double start_warmup,
                                    int64_t warmup_steps);
/* Value at iteration it (clamped to the last one past the end, like indexing the last entry). */
double eva_cosine_schedule_at(const eva_cosine_schedule *s, int64_t it);

#endif
