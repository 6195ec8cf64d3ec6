//! The CPU backend: kernels on plain `f32` slices. Each is usable on its own;
//! [`crate::ops`] wraps them behind device dispatch.

mod backend;
pub mod binary;
pub mod conv;
pub mod conv_direct;
pub mod gemm;
pub(crate) mod lanes;
pub mod layout;
pub mod optim;
pub(crate) mod parallel;
pub mod pool;
pub mod random;
pub(crate) mod recycle;
pub mod reduce;
#[cfg(test)]
mod reference_tests;
pub mod reparam;
pub mod sample_kl;
pub(crate) mod simd;
pub mod softmax;
pub mod unary;

pub(crate) use backend::Cpu;
pub use backend::SampleKlFactors;
