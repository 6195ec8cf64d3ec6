//! The CUDA backend. Without the `cuda` feature this is a stub with the same
//! function names whose buffer type cannot be constructed, so every call on a
//! GPU tensor fails with [`crate::Error::CudaNotCompiled`] and the public API
//! is the same in both builds.

#[cfg(not(feature = "cuda"))]
mod dummy;
#[cfg(not(feature = "cuda"))]
pub use dummy::*;
#[cfg(feature = "cuda")]
mod dummy;
#[cfg(feature = "cuda")]
pub use dummy::*;
