//! Which math the GPU sampler runs: the CPU's own exactly-replayed sequences
//! (bit-for-bit the CPU's draws) or CUDA's accurate library functions (the
//! same draws to within a few ulp, several times fewer instructions). A
//! process-wide switch like [`super::GemmBackend`]; present in every build so
//! code that sets it compiles without the `cuda` feature. The CPU always runs
//! its own math.

use std::sync::atomic::{AtomicU8, Ordering};

/// The math of the GPU's normal sampler, fused reparameterisation and fused
/// sample + KL kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SamplerMath {
    /// CUDA's `logf`, `expf`, `log1pf`, `sincospif` (2 ulp or better) with
    /// fused multiply-adds: the same Philox bits as the CPU, normals that
    /// differ from the CPU's in the last few bits. Limited by memory
    /// bandwidth rather than arithmetic on current GPUs.
    #[default]
    Fast,
    /// The CPU's `ln`, `sin`/`cos`, `exp`, `log1p` replayed operation for
    /// operation with IEEE divisions and no contraction: sampled weights equal
    /// the CPU's bit for bit, at several times the instruction count.
    Exact,
}

static MATH: AtomicU8 = AtomicU8::new(0);

/// Selects the sampler math for every later GPU draw in this process.
pub fn set_sampler_math(m: SamplerMath) {
    MATH.store(matches!(m, SamplerMath::Exact) as u8, Ordering::Relaxed);
}

/// The sampler math currently selected (default [`SamplerMath::Fast`]).
pub fn sampler_math() -> SamplerMath {
    if MATH.load(Ordering::Relaxed) == 1 {
        SamplerMath::Exact
    } else {
        SamplerMath::Fast
    }
}
