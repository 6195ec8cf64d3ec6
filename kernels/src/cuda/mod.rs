//! The CUDA backend, crate-private: [`crate::ops`] reaches its kernels
//! through the crate-private backend trait that `Gpu`
//! implements. Without the `cuda` feature a stub stands in whose buffer type
//! cannot be constructed, so every call on a GPU tensor fails with
//! [`crate::Error::CudaNotCompiled`]; the trait makes the stub and the real
//! backend offer the same kernels. With it, the `backend` module's real
//! kernels (cudarc + NVRTC + cuBLAS, libraries loaded at run time) run.
//!
//! Public: [`device`] (is a GPU there, how many, its name, wait for it) and
//! [`CudaBuffer`], the storage of [`crate::Buffer::Cuda`].

pub mod device;

#[cfg(not(feature = "cuda"))]
mod dummy;
#[cfg(not(feature = "cuda"))]
pub use dummy::CudaBuffer;
#[cfg(not(feature = "cuda"))]
pub(crate) use dummy::Gpu;
#[cfg(feature = "cuda")]
pub(crate) mod backend;
#[cfg(not(feature = "cuda"))]
mod no_cuda_extras;
#[cfg(feature = "cuda")]
pub use backend::CudaBuffer;
#[cfg(feature = "cuda")]
pub(crate) use backend::Gpu;
