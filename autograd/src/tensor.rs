//! `Tensor`: a shape and a contiguous row-major buffer on one device. Cloning
//! shares the storage (an `Arc`), so tensors are passed around by value freely.

use blitz_kernels::limits::{check_memory, checked_numel, f32_bytes};
use blitz_kernels::shape::numel;
use blitz_kernels::{ops, Buffer, Context, Device, Error, Result};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Normal};
use std::fmt;
use std::sync::Arc;

/// An n-dimensional `f32` array.
#[derive(Clone)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Buffer>,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?} on {}", self.shape, self.device())?;
        if let Buffer::Cpu(v) = &*self.data {
            let show = v.len().min(8);
            write!(f, " {:?}{}", &v[..show], if v.len() > show { " ..." } else { "" })?;
        }
        Ok(())
    }
}

impl Tensor {
    /// Wraps a buffer whose length must equal the shape's element count.
    ///
    /// # Errors
    /// [`Error::ShapeOverflow`] when the shape's element count does not fit
    /// in `usize` (or its bytes in `isize`); [`Error::InvalidShape`] when the
    /// lengths differ.
    pub fn from_buffer(data: Buffer, shape: &[usize]) -> Result<Tensor> {
        let n = checked_numel("tensor", shape)?;
        if data.len() != n {
            return Err(Error::InvalidShape {
                op: "tensor",
                shape: shape.to_vec(),
                reason: format!("{} elements given, the shape holds {n}", data.len()),
            });
        }
        Ok(Tensor { shape: shape.to_vec(), data: Arc::new(data) })
    }

    /// A CPU tensor from host data.
    ///
    /// # Errors
    /// As [`Tensor::from_buffer`]: [`Error::ShapeOverflow`], or
    /// [`Error::InvalidShape`] when `data.len()` is not the shape's element count.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        Self::from_buffer(Buffer::Cpu(data), shape)
    }

    /// A one-element tensor of shape `[]`.
    pub fn scalar(v: f32) -> Tensor {
        Tensor { shape: Vec::new(), data: Arc::new(Buffer::Cpu(vec![v])) }
    }

    /// Zeros on the CPU.
    ///
    /// # Errors
    /// As [`Tensor::full`].
    pub fn zeros(shape: &[usize]) -> Result<Tensor> {
        Self::full(shape, 0.0)
    }

    /// `value` everywhere, on the CPU.
    ///
    /// # Errors
    /// [`Error::ShapeOverflow`] when the element count overflows,
    /// [`Error::TooLarge`] when it needs more memory than allowed
    /// ([`blitz_kernels::limits::memory_limit`]).
    pub fn full(shape: &[usize], value: f32) -> Result<Tensor> {
        let n = Self::checked_alloc("tensor", shape)?;
        Ok(Tensor { shape: shape.to_vec(), data: Arc::new(Buffer::Cpu(vec![value; n])) })
    }

    /// The element count of a new tensor of `shape`, checked for overflow and
    /// against the memory limit before anything is allocated.
    fn checked_alloc(op: &'static str, shape: &[usize]) -> Result<usize> {
        let n = checked_numel(op, shape)?;
        check_memory(f32_bytes(n), || format!("a {op} of shape {shape:?}"))?;
        Ok(n)
    }

    /// `value` everywhere, with the shape and device of `self`.
    ///
    /// # Errors
    /// CUDA failures.
    pub fn full_like(&self, value: f32) -> Result<Tensor> {
        Ok(Tensor { shape: self.shape.clone(), data: Arc::new(Buffer::full(self.numel(), value, self.device())?) })
    }

    /// Draws from N(mean, std²) with the caller's generator (initialisation, data).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `std` is negative or not finite;
    /// as [`Tensor::full`] for the shape.
    pub fn randn(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Result<Tensor> {
        let dist = Normal::new(mean, std).map_err(|e| Error::invalid("std", format!("{std}: {e}")))?;
        let n = Self::checked_alloc("randn", shape)?;
        let data = (0..n).map(|_| dist.sample(rng)).collect();
        Self::from_vec(data, shape)
    }

    /// Draws from U(lo, hi) with the caller's generator.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `lo < hi`, both finite; as
    /// [`Tensor::full`] for the shape.
    pub fn rand_uniform(shape: &[usize], lo: f32, hi: f32, rng: &mut impl Rng) -> Result<Tensor> {
        if !(lo < hi && lo.is_finite() && hi.is_finite()) {
            return Err(Error::invalid("uniform range", format!("[{lo}, {hi})")));
        }
        let n = Self::checked_alloc("rand_uniform", shape)?;
        let data = (0..n).map(|_| rng.random_range(lo..hi)).collect();
        Self::from_vec(data, shape)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The device holding the data.
    pub fn device(&self) -> Device {
        self.data.device()
    }

    /// The storage.
    pub fn buffer(&self) -> &Buffer {
        &self.data
    }

    /// Mutable storage, copied first if shared (copy-on-write).
    pub fn buffer_mut(&mut self) -> &mut Buffer {
        Arc::make_mut(&mut self.data)
    }

    /// A host copy of the elements, row-major.
    ///
    /// # Errors
    /// CUDA copy failures.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.data.to_vec()
    }

    /// The value of a one-element tensor.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when it has more or fewer than one element.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::InvalidShape {
                op: "item",
                shape: self.shape.clone(),
                reason: "item() needs exactly one element".into(),
            });
        }
        Ok(self.to_vec()?[0])
    }

    /// The same data on `device`.
    ///
    /// # Errors
    /// [`Error::CudaNotCompiled`] / [`Error::Cuda`] for an unusable GPU.
    pub fn to(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        Ok(Tensor { shape: self.shape.clone(), data: Arc::new(self.data.to_device(device)?) })
    }

    /// The same data under another shape with the same element count (no copy).
    ///
    /// # Errors
    /// [`Error::ShapeOverflow`] when the new shape's element count
    /// overflows; [`Error::ShapeMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if checked_numel("reshape", shape)? != self.numel() {
            return Err(Error::ShapeMismatch { op: "reshape", lhs: self.shape.clone(), rhs: shape.to_vec() });
        }
        Ok(Tensor { shape: shape.to_vec(), data: self.data.clone() })
    }

    /// A tensor of this shape over another buffer (the result of a kernel).
    pub(crate) fn with_buffer(&self, data: Buffer) -> Tensor {
        debug_assert_eq!(data.len(), self.numel());
        Tensor { shape: self.shape.clone(), data: Arc::new(data) }
    }

    /// A tensor from a kernel result whose length the caller guarantees.
    pub(crate) fn from_parts(data: Buffer, shape: Vec<usize>) -> Tensor {
        debug_assert_eq!(data.len(), numel(&shape));
        Tensor { shape, data: Arc::new(data) }
    }

    /// Element-wise sum of two same-shaped tensors (gradient accumulation),
    /// with the kernels and threads of `ctx` (a tape passes its own).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] or a device mismatch.
    pub fn add(&self, ctx: &Context, other: &Tensor) -> Result<Tensor> {
        if self.shape != other.shape {
            return Err(Error::ShapeMismatch { op: "add", lhs: self.shape.clone(), rhs: other.shape.clone() });
        }
        let out = ops::binary_in(
            ctx,
            blitz_kernels::BinaryOp::Add,
            &self.data,
            &self.shape,
            &other.data,
            &other.shape,
            &self.shape,
        )?;
        Ok(self.with_buffer(out))
    }

    /// Whether every element is finite, read on the threads of `ctx`.
    ///
    /// # Errors
    /// CUDA copy failures.
    pub fn all_finite(&self, ctx: &Context) -> Result<bool> {
        ops::all_finite_in(ctx, &self.data)
    }

    /// Softmax over the last axis (no tape: for predictions; on a tape use
    /// [`Var::softmax`](crate::Var::softmax), which has a backward), with
    /// the kernels and threads of `ctx`.
    ///
    /// # Errors
    /// [`Error::Empty`] for a scalar or a zero-length last axis.
    pub fn softmax(&self, ctx: &Context) -> Result<Tensor> {
        let n = *self.shape.last().ok_or(Error::Empty { op: "softmax" })?;
        if n == 0 {
            return Err(Error::Empty { op: "softmax" });
        }
        Ok(self.with_buffer(ops::softmax_in(ctx, &self.data, n, false)?))
    }

    /// Index of the largest element of each row of the last axis (NaN wins),
    /// on the threads of `ctx`.
    ///
    /// # Errors
    /// [`Error::Empty`] for a scalar or a zero-length last axis.
    pub fn argmax_rows(&self, ctx: &Context) -> Result<Vec<usize>> {
        let n = *self.shape.last().ok_or(Error::Empty { op: "argmax" })?;
        if n == 0 {
            return Err(Error::Empty { op: "argmax" });
        }
        let (_, arg) = ops::max_axis_in(ctx, &self.data, self.numel() / n, n, 1)?;
        Ok(arg)
    }
}
