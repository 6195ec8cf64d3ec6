//! Storage: a host `Vec<f32>` or a CUDA allocation. The enum is the same in
//! every build; without the `cuda` feature its CUDA variant cannot be built.

use crate::cuda::CudaBuffer;
use crate::{Device, Error, Result};

// The one module that binds the two backends to the variants of [`Buffer`]:
// `crate::ops` matches a buffer's variant and calls the backend named here.
pub(crate) use crate::cpu::Cpu;
pub use crate::cpu::SampleKlFactors;
pub(crate) use crate::cuda::Gpu;

/// A flat array of `f32` on one device.
#[derive(Debug, Clone)]
pub enum Buffer {
    /// Host memory.
    Cpu(Vec<f32>),
    /// Device memory on a CUDA GPU.
    Cuda(CudaBuffer),
}

/// A host buffer goes back to the crate's buffer pool for the next output of its length.
impl Drop for Buffer {
    fn drop(&mut self) {
        if let Buffer::Cpu(v) = self {
            crate::cpu::recycle::give(std::mem::take(v));
        }
    }
}

impl Buffer {
    /// Where this buffer lives.
    pub fn device(&self) -> Device {
        match self {
            Buffer::Cpu(_) => Device::Cpu,
            Buffer::Cuda(c) => c.device(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Cpu(v) => v.len(),
            Buffer::Cuda(c) => c.len(),
        }
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies host data onto `device`.
    ///
    /// # Errors
    /// [`Error::CudaNotCompiled`] or [`Error::Cuda`] for a GPU that cannot be used.
    pub fn from_host(data: Vec<f32>, device: Device) -> Result<Buffer> {
        match device {
            Device::Cpu => Ok(Buffer::Cpu(data)),
            Device::Cuda(ordinal) => Ok(Buffer::Cuda(CudaBuffer::from_host(&data, ordinal)?)),
        }
    }

    /// `len` zeros on `device`.
    ///
    /// # Errors
    /// As [`Buffer::full`].
    pub fn zeros(len: usize, device: Device) -> Result<Buffer> {
        Self::full(len, 0.0, device)
    }

    /// `len` copies of `value` on `device`.
    ///
    /// # Errors
    /// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for a `len` that cannot
    /// be allocated ([`crate::shape::checked_output`]); as [`Buffer::from_host`].
    pub fn full(len: usize, value: f32, device: Device) -> Result<Buffer> {
        crate::shape::checked_output("buffer", &[len])?;
        match device {
            Device::Cpu => Ok(Buffer::Cpu(vec![value; len])),
            Device::Cuda(ordinal) => Ok(Buffer::Cuda(CudaBuffer::full(len, value, ordinal)?)),
        }
    }

    /// A host copy of the contents.
    ///
    /// # Errors
    /// [`Error::Cuda`] when the device copy fails.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        match self {
            Buffer::Cpu(v) => Ok(v.clone()),
            Buffer::Cuda(c) => c.to_host(),
        }
    }

    /// The contents as a host `Vec`: moved out of a host buffer, copied from a GPU.
    ///
    /// # Errors
    /// CUDA failures.
    pub fn into_vec(mut self) -> Result<Vec<f32>> {
        match &mut self {
            Buffer::Cpu(v) => Ok(std::mem::take(v)),
            Buffer::Cuda(_) => self.to_vec(),
        }
    }

    /// The same contents on `device` (a clone when it is already there).
    ///
    /// # Errors
    /// As [`Buffer::from_host`].
    pub fn to_device(&self, device: Device) -> Result<Buffer> {
        if self.device() == device {
            return Ok(self.clone());
        }
        Buffer::from_host(self.to_vec()?, device)
    }

    /// The host slice, or an error naming the device for a GPU buffer.
    ///
    /// # Errors
    /// [`Error::DeviceMismatch`] when the buffer is not on the CPU.
    pub fn as_cpu(&self, op: &'static str) -> Result<&[f32]> {
        match self {
            Buffer::Cpu(v) => Ok(v),
            Buffer::Cuda(c) => Err(Error::DeviceMismatch { op, lhs: c.device(), rhs: Device::Cpu }),
        }
    }
}
