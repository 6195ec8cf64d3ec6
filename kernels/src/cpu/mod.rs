//! The CPU backend: kernels on plain `f32` slices. Each is usable on its own;
//! [`crate::ops`] wraps them behind device dispatch.

mod backend;
pub(crate) mod binary;
pub(crate) mod conv;
pub(crate) mod conv_direct;
pub(crate) mod gemm;
pub(crate) mod gemm_blocked;
pub(crate) mod gemm_dots;
pub(crate) mod gemm_pack;
pub(crate) mod gemm_tile;
pub(crate) mod lanes;
pub(crate) mod layout;
pub(crate) mod optim;
pub(crate) mod parallel;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod recycle;
pub(crate) mod reduce;
#[cfg(test)]
mod reference_tests;
pub(crate) mod reparam;
pub(crate) mod sample_kl;
pub(crate) mod simd;
pub(crate) mod softmax;
pub(crate) mod unary;

pub(crate) use backend::Cpu;
pub use backend::SampleKlFactors;
