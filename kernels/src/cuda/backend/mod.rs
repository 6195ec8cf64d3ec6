//! The real CUDA backend (feature `cuda`): cudarc for the driver, NVRTC and
//! cuBLAS, all loaded at run time. `Gpu` (in `contract.rs`) implements the
//! crate's backend trait on these kernels, as the stub does without the feature.

#![allow(clippy::too_many_arguments)]

/// Launches kernel `$name` of source `$src` on `$dev`'s stream with the
/// argument list in the kernel's order. One expression, so temporaries passed
/// by reference live until the launch has read them.
macro_rules! launch {
    ($dev:expr, $src:expr, $name:literal, $cfg:expr, [$($arg:expr),* $(,)?]) => {{
        use cudarc::driver::PushKernelArg as _;
        let f = $dev.function($src, $name)?;
        // SAFETY: the argument list matches the kernel's signature in its .cu
        // source, and every buffer was allocated with the length it indexes.
        unsafe { $dev.stream().launch_builder(&f)$(.arg($arg))*.launch($cfg) }
            .map(|_| ())
            .map_err($crate::cuda::backend::device::drv($name))
    }};
}

mod buffer;
mod contract;
mod conv;
mod device;
mod dims;
mod elementwise;
mod gemm;
mod layout;
pub(crate) mod nvrtc;
#[cfg(test)]
mod nvrtc_tests;
mod optim;
mod random;
mod reduce;
mod softmax;
pub(crate) mod sources;

pub use buffer::CudaBuffer;
pub(crate) use contract::Gpu;
pub(crate) use conv::*;
pub(crate) use elementwise::{binary, binary_backward, scalar, scalar_backward, unary, unary_backward};
pub(crate) use gemm::gemm_with;
pub(crate) use layout::{
    concat_axis, gather_rows, gather_rows_backward, index_select, index_select_backward, permute, slice_axis,
    slice_axis_backward,
};
pub(crate) use optim::{adam_step, scale_inplace, sgd_step};
pub(crate) use random::{
    kl_at, kl_at_backward, normal, reparam_backward, reparam_forward, reparam_log_posterior, sample_kl_backward,
    sample_kl_forward,
};
pub(crate) use reduce::{
    expand_axis, max_axis, max_axis_backward, sum_all, sum_axis, sum_squares, sum_squares_many, sum_to_shape,
};
pub(crate) use softmax::{softmax, softmax_backward};

/// Whether CUDA device `ordinal` can be used: the driver library, NVRTC and
/// the device are all present. Creates the device's context on success.
///
/// # Errors
/// [`crate::Error::Cuda`] naming what is missing (driver library, NVRTC, device).
pub(crate) fn available(ordinal: usize) -> crate::Result<()> {
    device::device(ordinal).map(|_| ())
}

/// The number of CUDA devices, or the reason there are none usable.
///
/// # Errors
/// As [`available`].
pub(crate) fn device_count() -> crate::Result<usize> {
    device::check(0).map(|_| ()).or_else(|e| match e {
        crate::Error::Cuda(ref m) if m.starts_with("no CUDA device") => Ok(()),
        e => Err(e),
    })?;
    cudarc::driver::result::device::get_count().map(|c| c.max(0) as usize).map_err(device::drv("cuDeviceGetCount"))
}

/// The name and compute capability of device `ordinal`, e.g. "NVIDIA H100 (sm_90)".
///
/// # Errors
/// As [`available`].
pub(crate) fn device_name(ordinal: usize) -> crate::Result<String> {
    device::device(ordinal).map(|d| d.describe())
}

/// Waits until all work queued on device `ordinal` has finished (for timing).
///
/// # Errors
/// The device cannot be used, or a queued kernel failed.
pub(crate) fn synchronize(ordinal: usize) -> crate::Result<()> {
    device::device(ordinal)?.stream().synchronize().map_err(device::drv("cuStreamSynchronize"))
}
