/* mim.h — the EVA-01 masked-image-modeling loss (golden README-train-clip §1.3).
 * pred, target [M, C] (M masked patches of the whole batch, (b, p) order; C teacher dim):
 *   loss = -(1/M) Σ_m cos(pred_m, target_m),  cos(a, b) = a·b / max(|a| |b|, eps)
 * (nn.CosineSimilarity(dim=-1), eps 1e-8). The teacher features are used as they are (not
 * L2-normalised: the cosine makes that irrelevant) and are a constant (no gradient). */
#ifndef EVA_TRAIN_MIM_H
#define EVA_TRAIN_MIM_H

#include "base/base.h"

#define EVA_MIM_COS_EPS 1e-8

/* Computed in double. dpred (=, may be NULL) receives d loss / d pred; cos_out[M] (may be
 * NULL) each cosine. Returns the loss (0 when M == 0). */
double eva_mim_cosine_loss(const float *pred, const float *target, int M, int C, double eps, float *dpred,
                           float *cos_out);

#endif
