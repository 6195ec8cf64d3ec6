//! The CPU backend: kernels on plain `f32` slices. Each is usable on its own;
//! [`crate::ops`] wraps them behind device dispatch.

pub mod binary;
pub mod fastmath;
pub mod conv;
pub mod gemm;
pub mod layout;
pub mod optim;
pub mod parallel;
pub mod pool;
pub mod random;
pub mod reduce;
pub(crate) mod simd;
pub mod reparam;
pub mod softmax;
pub mod unary;
