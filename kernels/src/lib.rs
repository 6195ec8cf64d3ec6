//! # blitz-kernels
//!
//! The arithmetic of blitz on raw `f32` buffers, with no autograd: GEMM,
//! element-wise and broadcast ops, reductions, softmax, layout, the
//! counter-based Philox sampler and the fused reparameterisation kernel.
//!
//! - [`cpu`]: the kernels on slices, each usable and tested on its own.
//! - [`ops`]: the same kernels on [`Buffer`]s, dispatched by device.
//! - [`cuda`]: the CUDA backend (a stub returning [`Error::CudaNotCompiled`]
//!   without the `cuda` feature).
#![warn(missing_docs)]

mod buffer;
pub mod cpu;
pub mod cuda;
mod device;
mod error;
pub mod ops;
pub mod ops_conv;
pub mod shape;
pub mod types;

pub use buffer::Buffer;
pub use device::Device;
pub use error::{Error, Result};
pub use types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarKind, ScalarOp, Transpose, UnaryOp};
