//! In-place parameter updates: the optimizer steps as single fused loops.

use super::parallel::{for_each_chunk_mut_above, LIGHT_PAR_THRESHOLD};

/// Hyperparameters of one Adam step (bias corrections already folded in by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Learning rate times the bias correction √(1−β₂ᵗ)/(1−β₁ᵗ).
    pub step_size: f32,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε, added to √v̂ (scaled by √(1−β₂ᵗ) to match the textbook form).
    pub eps_hat: f32,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f32,
}

/// One Adam step in place on `p`, with moments `m`, `v` and gradient `g`.
pub fn adam(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: AdamStep) {
    for (((pi, mi), vi), &gi) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let gi = gi + h.weight_decay * *pi;
        *mi = h.beta1 * *mi + (1.0 - h.beta1) * gi;
        *vi = h.beta2 * *vi + (1.0 - h.beta2) * gi * gi;
        *pi -= h.step_size * *mi / (vi.sqrt() + h.eps_hat);
    }
}

/// One SGD step with momentum and weight decay in place:
/// `buf = momentum·buf + (g + wd·p)`, `p -= lr·buf`.
pub fn sgd(p: &mut [f32], buf: &mut [f32], g: &[f32], lr: f32, momentum: f32, weight_decay: f32) {
    for ((pi, bi), &gi) in p.iter_mut().zip(buf.iter_mut()).zip(g) {
        let d = gi + weight_decay * *pi;
        *bi = momentum * *bi + d;
        *pi -= lr * *bi;
    }
}

/// Multiplies in place.
pub fn scale(x: &mut [f32], s: f32) {
    for_each_chunk_mut_above(LIGHT_PAR_THRESHOLD, x, |_, c| c.iter_mut().for_each(|v| *v *= s));
}

/// Σ x², accumulated in f64.
pub fn sum_squares(x: &[f32]) -> f64 {
    x.iter().map(|&v| (v as f64) * (v as f64)).sum()
}
