//! Device queries of the real backend, present without the `cuda` feature
//! too so that benches and examples can call them in every build.

use crate::{Error, Result};

/// The name and compute capability of a CUDA device: never in this build.
///
/// # Errors
/// Always [`Error::CudaNotCompiled`].
pub(crate) fn device_name(_ordinal: usize) -> Result<String> {
    Err(Error::CudaNotCompiled)
}

/// The number of CUDA devices: never any in this build.
///
/// # Errors
/// Always [`Error::CudaNotCompiled`].
pub(crate) fn device_count() -> Result<usize> {
    Err(Error::CudaNotCompiled)
}

/// Waits for a device's queued work: there is none in this build.
///
/// # Errors
/// Always [`Error::CudaNotCompiled`].
pub(crate) fn synchronize(_ordinal: usize) -> Result<()> {
    Err(Error::CudaNotCompiled)
}

/// Whether a CUDA device can be used: never in this build.
///
/// # Errors
/// Always [`Error::CudaNotCompiled`].
pub(crate) fn available(_ordinal: usize) -> Result<()> {
    Err(Error::CudaNotCompiled)
}
