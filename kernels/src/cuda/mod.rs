//! The CUDA backend. Without the `cuda` feature this is a stub with the same
//! function names whose buffer type cannot be constructed, so every call on a
//! GPU tensor fails with [`crate::Error::CudaNotCompiled`] and the public API
//! is the same in both builds. With it, the `backend` module's real kernels (cudarc +
//! NVRTC + cuBLAS, libraries loaded at run time) are used.

/// The GPU variant choices, which live in [`crate::context`] (re-exported here for CUDA code).
pub use crate::context::{GemmBackend, SamplerMath};

#[cfg(not(feature = "cuda"))]
mod dummy;
#[cfg(not(feature = "cuda"))]
pub use dummy::*;
#[cfg(not(feature = "cuda"))]
mod no_cuda_extras;
#[cfg(not(feature = "cuda"))]
pub use no_cuda_extras::*;
#[cfg(feature = "cuda")]
pub mod backend;
#[cfg(feature = "cuda")]
pub use backend::*;
