//! Which math the GPU sampler runs: the CPU's own exactly-replayed sequences
//! (bit-for-bit the CPU's draws) or cheaper hardware and polynomial math (the
//! same draws to within 5e-6, about half the instructions). A
//! process-wide switch like [`super::GemmBackend`]; present in every build so
//! code that sets it compiles without the `cuda` feature. The CPU always runs
//! its own math.

use std::sync::atomic::{AtomicU8, Ordering};

/// The math of the GPU's normal sampler, fused reparameterisation and fused
/// sample + KL kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SamplerMath {
    /// The hardware sin/cos, exp and square root, an atanh-series ln, a fitted
    /// polynomial for softplus's log1p, the hardware ln for the KL terms,
    /// fused multiply-adds and flush-to-zero: the same Philox bits as the CPU,
    /// normals within 5e-6 of the CPU's (weights within 2e-7 relative). Near
    /// the memory bandwidth on an H200 (see BENCHMARKS.md).
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
