//! The GPU devices: whether one can be used, how many there are, their
//! names, and waiting for their queued work (for timing). In a build without
//! the `cuda` feature each returns [`Error::CudaNotCompiled`](crate::Error::CudaNotCompiled).

#[cfg(feature = "cuda")]
use super::backend as imp;
#[cfg(not(feature = "cuda"))]
use super::no_cuda_extras as imp;
use crate::Result;

/// Whether CUDA device `ordinal` can be used: the driver library, NVRTC and
/// the device are all present (creates the device's context on success).
///
/// # Errors
/// [`crate::Error::Cuda`] naming what is missing; [`crate::Error::CudaNotCompiled`].
pub fn available(ordinal: usize) -> Result<()> {
    imp::available(ordinal)
}

/// The number of CUDA devices.
///
/// # Errors
/// As [`available`].
pub fn count() -> Result<usize> {
    imp::device_count()
}

/// The name and compute capability of device `ordinal`, e.g. "NVIDIA H100 (sm_90)".
///
/// # Errors
/// As [`available`].
pub fn name(ordinal: usize) -> Result<String> {
    imp::device_name(ordinal)
}

/// Waits until all work queued on device `ordinal` has finished (for timing).
///
/// # Errors
/// The device cannot be used, or a queued kernel failed.
pub fn synchronize(ordinal: usize) -> Result<()> {
    imp::synchronize(ordinal)
}
