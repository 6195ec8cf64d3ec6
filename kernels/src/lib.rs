//! # blitz-kernels
//!
//! The arithmetic of blitz on raw `f32` buffers, with no autograd: GEMM,
//! element-wise and broadcast ops, reductions, softmax, layout, the
//! counter-based Philox sampler and the fused reparameterisation kernel.
//!
//! - [`ops`]: the kernels on [`Buffer`]s, one file per family, dispatched by
//!   device to a backend (the CPU's or the GPU's, both implementing one
//!   crate-private trait); every entry point (`*_in`) takes a [`Context`],
//!   which says which variant of each kernel family runs and on which threads.
//! - [`context`]: that context; [`Context::default`] is the fastest verified variant of each family.
//! - [`types`]: device-neutral op types (element-wise ops and their op codes, geometries, priors).
//! - [`registry`]: every kernel family, its variants, what this machine can run, the defaults.
//! - [`mod@reference`]: the reference variants, the plain scalar definitions every fast path is tested against.
//! - [`fastmath`]: the scalar f32 math every path shares, so that they draw the same bits.
//! - [`limits`]: checked element counts and the memory check every size from outside goes through.
//! - [`cuda`]: crate-private but for [`cuda::device`] (is a GPU usable, how
//!   many, their names, synchronisation) and [`cuda::CudaBuffer`]; without the
//!   `cuda` feature every GPU call returns [`Error::CudaNotCompiled`].
#![warn(missing_docs)]

mod backend;
mod buffer;
pub mod context;
pub(crate) mod cpu;
pub mod cuda;
mod device;
mod error;
pub mod fastmath;
pub mod limits;
pub mod ops;
pub mod reference;
pub mod registry;
pub mod shape;
pub mod types;
#[cfg(test)]
mod variant_tests;

pub use buffer::Buffer;
pub use context::Context;
pub use device::Device;
pub use error::{one_line, Error, Result, MAX_MESSAGE_CHARS};
pub use types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarKind, ScalarOp, Transpose, UnaryOp};
