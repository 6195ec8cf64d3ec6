//! [`CudaBuffer`]: `f32`s in device memory, tied to their device's context.
//! Clones share the allocation (an `Arc`); the in-place optimizer kernels
//! copy first when it is shared, so a clone behaves like a deep copy.

use super::device::{device, drv, grid, DeviceCtx};
use super::sources::ELEMENTWISE;
use crate::{Device, Error, Result};
use cudarc::driver::CudaSlice;
use std::sync::Arc;

/// Device memory on a CUDA GPU.
#[derive(Clone)]
pub struct CudaBuffer {
    data: Arc<CudaSlice<f32>>,
    dev: Arc<DeviceCtx>,
}

impl std::fmt::Debug for CudaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBuffer({} f32 on {:?})", self.data.len(), self.dev)
    }
}

impl CudaBuffer {
    /// Copies host data to device `ordinal`.
    ///
    /// # Errors
    /// [`Error::Cuda`] when the device cannot be used or the copy fails.
    pub fn from_host(data: &[f32], ordinal: usize) -> Result<Self> {
        let dev = device(ordinal)?;
        if data.is_empty() {
            return Self::uninit(&dev, 0);
        }
        let s = dev.stream().clone_htod(data).map_err(drv("host-to-device copy"))?;
        Ok(Self::wrap(s, dev))
    }

    /// `len` copies of `value` on device `ordinal`.
    ///
    /// # Errors
    /// As [`CudaBuffer::from_host`].
    pub fn full(len: usize, value: f32, ordinal: usize) -> Result<Self> {
        let dev = device(ordinal)?;
        let mut b = Self::zeros(&dev, len)?;
        if value != 0.0 && len > 0 {
            fill(&mut b, value)?;
        }
        Ok(b)
    }

    /// Where it lives.
    pub fn device(&self) -> Device {
        Device::Cuda(self.dev.ordinal())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A host copy (waits for the device's queued work).
    ///
    /// # Errors
    /// [`Error::Cuda`] when the copy fails (including an earlier kernel's fault).
    pub fn to_host(&self) -> Result<Vec<f32>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        self.dev.stream().clone_dtoh(&*self.data).map_err(drv("device-to-host copy"))
    }

    pub(crate) fn wrap(s: CudaSlice<f32>, dev: Arc<DeviceCtx>) -> Self {
        Self { data: Arc::new(s), dev }
    }

    /// `len` uninitialised elements (every kernel using this writes all of them).
    pub(crate) fn uninit(dev: &Arc<DeviceCtx>, len: usize) -> Result<Self> {
        let s = if len == 0 {
            dev.stream().null::<f32>()
        } else {
            // SAFETY: f32 has no invalid bit patterns; callers overwrite every element.
            unsafe { dev.stream().alloc::<f32>(len) }
        }
        .map_err(drv("cuMemAlloc"))?;
        Ok(Self::wrap(s, dev.clone()))
    }

    /// `len` zeros on `dev`.
    pub(crate) fn zeros(dev: &Arc<DeviceCtx>, len: usize) -> Result<Self> {
        if len == 0 {
            return Self::uninit(dev, 0);
        }
        let s = dev.stream().alloc_zeros::<f32>(len).map_err(drv("cuMemAlloc"))?;
        Ok(Self::wrap(s, dev.clone()))
    }

    pub(crate) fn dev(&self) -> &Arc<DeviceCtx> {
        &self.dev
    }

    pub(crate) fn slice(&self) -> &CudaSlice<f32> {
        &self.data
    }

    /// Exclusive access for an in-place kernel, copying first when shared.
    pub(crate) fn slice_mut(&mut self) -> Result<&mut CudaSlice<f32>> {
        if Arc::get_mut(&mut self.data).is_none() {
            let copy = self.dev.stream().clone_dtod(&*self.data).map_err(drv("device copy"))?;
            self.data = Arc::new(copy);
        }
        Arc::get_mut(&mut self.data).ok_or_else(|| Error::Cuda("buffer still shared after copy".into()))
    }

    /// Copies `src` into this buffer (same length), device to device, with no
    /// allocation: the reference a bandwidth-bound kernel is measured against.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for different lengths; CUDA failures.
    pub fn copy_from(&mut self, src: &CudaBuffer) -> Result<()> {
        if self.len() != src.len() {
            return Err(Error::InvalidShape {
                op: "copy_from",
                shape: vec![src.len()],
                reason: format!("destination holds {} elements", self.len()),
            });
        }
        let stream = self.dev.stream().clone();
        let dst = self.slice_mut()?;
        stream.memcpy_dtod(&*src.data, dst).map_err(drv("device copy"))
    }

    /// A device copy of the contents.
    pub fn deep_clone(&self) -> Result<Self> {
        if self.is_empty() {
            return Self::uninit(&self.dev, 0);
        }
        let copy = self.dev.stream().clone_dtod(&*self.data).map_err(drv("device copy"))?;
        Ok(Self::wrap(copy, self.dev.clone()))
    }
}

/// The common device of several operands.
///
/// # Errors
/// [`Error::DeviceMismatch`] when they are on different GPUs.
pub(crate) fn same_device(op: &'static str, bufs: &[&CudaBuffer]) -> Result<Arc<DeviceCtx>> {
    let first = bufs[0];
    for b in &bufs[1..] {
        if b.dev.ordinal() != first.dev.ordinal() {
            return Err(Error::DeviceMismatch { op, lhs: first.device(), rhs: b.device() });
        }
    }
    Ok(first.dev.clone())
}

/// Host indices as a device `u64` array (an upload, not a round trip).
pub(crate) fn upload_indices(dev: &Arc<DeviceCtx>, idx: &[usize]) -> Result<CudaSlice<u64>> {
    if idx.is_empty() {
        return dev.stream().null::<u64>().map_err(drv("cuMemAlloc"));
    }
    let v: Vec<u64> = idx.iter().map(|&i| i as u64).collect();
    dev.stream().clone_htod(&v).map_err(drv("host-to-device copy"))
}

/// Sets every element to `value`.
///
/// # Errors
/// CUDA failures.
fn fill(x: &mut CudaBuffer, value: f32) -> Result<()> {
    let dev = x.dev().clone();
    let n = x.len() as u64;
    if n > 0 {
        let out = x.slice_mut()?;
        launch!(dev, ELEMENTWISE, "fill", grid(n), [out, &n, &value])?;
    }
    Ok(())
}
