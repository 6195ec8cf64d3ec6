//! The stand-in CUDA backend of a build without the `cuda` feature.
//! [`CudaBuffer`] holds an uninhabited field, so no value of it exists and
//! every function taking one is statically unreachable; the functions that
//! would create one return [`Error::CudaNotCompiled`].

#![allow(clippy::too_many_arguments, unused_variables)]

use crate::context::{GemmBackend, SamplerMath};
use crate::types::{AdamStep, BinaryOp, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::{Device, Error, Result};
use std::convert::Infallible;

/// Device memory on a CUDA GPU (cannot exist in this build).
#[derive(Debug, Clone)]
pub struct CudaBuffer {
    never: Infallible,
}

impl CudaBuffer {
    /// Always [`Error::CudaNotCompiled`].
    ///
    /// # Errors
    /// Always.
    pub fn from_host(data: &[f32], ordinal: usize) -> Result<Self> {
        Err(Error::CudaNotCompiled)
    }
    /// Always [`Error::CudaNotCompiled`].
    ///
    /// # Errors
    /// Always.
    pub fn full(len: usize, value: f32, ordinal: usize) -> Result<Self> {
        Err(Error::CudaNotCompiled)
    }
    /// Unreachable.
    pub fn device(&self) -> Device {
        match self.never {}
    }
    /// Unreachable.
    pub fn len(&self) -> usize {
        match self.never {}
    }
    /// Unreachable.
    pub fn is_empty(&self) -> bool {
        match self.never {}
    }
    /// Unreachable.
    ///
    /// # Errors
    /// Never returns.
    pub fn to_host(&self) -> Result<Vec<f32>> {
        match self.never {}
    }
}

/// Whether a CUDA device can be used: never in this build.
///
/// # Errors
/// Always [`Error::CudaNotCompiled`].
pub fn available(ordinal: usize) -> Result<()> {
    Err(Error::CudaNotCompiled)
}

macro_rules! unreachable_on {
    ($( fn $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty => $buf:ident; )*) => {
        $(
            /// Unreachable in a build without `cuda`.
            ///
            /// # Errors
            /// Never returns.
            pub fn $name($($arg: $ty),*) -> $ret {
                match $buf.never {}
            }
        )*
    };
}

type B = CudaBuffer;

unreachable_on! {
    fn unary(op: UnaryOp, x: &B) -> Result<B> => x;
    fn unary_backward(op: UnaryOp, x: &B, y: &B, g: &B) -> Result<B> => x;
    fn scalar(op: ScalarOp, x: &B) -> Result<B> => x;
    fn scalar_backward(op: ScalarOp, x: &B, g: &B) -> Result<B> => x;
    fn binary(op: BinaryOp, a: &B, a_shape: &[usize], b: &B, b_shape: &[usize], out_shape: &[usize]) -> Result<B> => a;
    fn binary_backward(op: BinaryOp, a: &B, a_shape: &[usize], b: &B, b_shape: &[usize], g: &B, out_shape: &[usize], need: (bool, bool)) -> Result<(Option<B>, Option<B>)> => a;
    fn sum_to_shape(g: &B, from: &[usize], to: &[usize]) -> Result<B> => g;
    fn sum_all(x: &B) -> Result<B> => x;
    fn sum_axis(x: &B, outer: usize, len: usize, inner: usize) -> Result<B> => x;
    fn expand_axis(g: &B, outer: usize, len: usize, inner: usize) -> Result<B> => g;
    fn max_axis(x: &B, outer: usize, len: usize, inner: usize) -> Result<(B, Vec<usize>)> => x;
    fn max_axis_backward(g: &B, arg: &[usize], outer: usize, len: usize, inner: usize) -> Result<B> => g;
    fn gemm(a: &B, b: &B, batch: usize, m: usize, k: usize, n: usize, t: Transpose) -> Result<B> => a;
    fn gemm_with(backend: GemmBackend, a: &B, b: &B, batch: usize, m: usize, k: usize, n: usize, t: Transpose) -> Result<B> => a;
    fn softmax(x: &B, n: usize, log: bool) -> Result<B> => x;
    fn softmax_backward(y: &B, g: &B, n: usize, log: bool) -> Result<B> => y;
    fn permute(x: &B, shape: &[usize], perm: &[usize]) -> Result<B> => x;
    fn slice_axis(x: &B, outer: usize, axis: usize, inner: usize, start: usize, len: usize) -> Result<B> => x;
    fn slice_axis_backward(g: &B, outer: usize, axis: usize, inner: usize, start: usize, len: usize) -> Result<B> => g;
    fn index_select(x: &B, outer: usize, axis: usize, inner: usize, idx: &[usize]) -> Result<B> => x;
    fn index_select_backward(g: &B, outer: usize, axis: usize, inner: usize, idx: &[usize]) -> Result<B> => g;
    fn gather_rows(x: &B, n: usize, idx: &[usize]) -> Result<B> => x;
    fn gather_rows_backward(g: &B, n: usize, idx: &[usize]) -> Result<B> => g;
    fn reparam_forward(math: SamplerMath, mu: &B, rho: &B, seed: u64, offset: u64) -> Result<B> => mu;
    fn reparam_backward(math: SamplerMath, rho: &B, g: &B, seed: u64, offset: u64) -> Result<(B, B)> => rho;
    fn reparam_log_posterior(math: SamplerMath, rho: &B, seed: u64, offset: u64) -> Result<B> => rho;
    fn sample_kl_forward(math: SamplerMath, mu: &B, rho: &B, seed: u64, offset: u64, prior: PriorSpec) -> Result<(B, B)> => mu;
    fn sample_kl_backward(math: SamplerMath, mu: &B, rho: &B, g_w: Option<&B>, g_kl: &B, seed: u64, offset: u64, prior: PriorSpec) -> Result<(B, B)> => mu;
    fn kl_at(math: SamplerMath, w: &B, rho: &B, seed: u64, offset: u64, prior: PriorSpec) -> Result<B> => w;
    fn kl_at_backward(math: SamplerMath, w: &B, rho: &B, g_kl: &B, prior: PriorSpec) -> Result<(B, B)> => w;
    fn adam_step(p: &mut B, m: &mut B, v: &mut B, g: &B, h: AdamStep) -> Result<()> => g;
    fn sgd_step(p: &mut B, buf: &mut B, g: &B, lr: f32, momentum: f32, weight_decay: f32) -> Result<()> => g;
    fn scale_inplace(x: &mut B, s: f32) -> Result<()> => x;
    fn sum_squares(x: &B) -> Result<f64> => x;
}

/// Unreachable in a build without `cuda` (no buffers: an empty result).
///
/// # Errors
/// Never returns one.
pub fn sum_squares_many(xs: &[&B]) -> Result<Vec<f64>> {
    match xs.first() {
        Some(x) => match x.never {},
        None => Ok(Vec::new()),
    }
}

/// Unreachable in a build without `cuda`.
///
/// # Errors
/// Never returns.
pub fn concat_axis(parts: &[&B], lens: &[usize], outer: usize, inner: usize) -> Result<B> {
    match parts.first() {
        Some(p) => match p.never {},
        None => Err(Error::CudaNotCompiled),
    }
}

/// Always [`Error::CudaNotCompiled`].
///
/// # Errors
/// Always.
pub fn normal(math: SamplerMath, ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<B> {
    Err(Error::CudaNotCompiled)
}

// Convolution and pooling (see `crate::ops`).
use crate::types::{ConvGeom, PoolGeom};

unreachable_on! {
    fn conv_forward(backend: GemmBackend, x: &B, w: &B, b: Option<&B>, g: &ConvGeom) -> Result<B> => x;
    fn conv_backward(backend: GemmBackend, x: &B, w: &B, gy: &B, g: &ConvGeom, need: (bool, bool, bool)) -> Result<(Option<B>, Option<B>, Option<B>)> => x;
    fn max_pool_forward(x: &B, g: &PoolGeom) -> Result<B> => x;
    fn max_pool_backward(x: &B, gy: &B, g: &PoolGeom) -> Result<B> => gy;
    fn avg_pool_forward(x: &B, g: &PoolGeom) -> Result<B> => x;
    fn avg_pool_backward(gy: &B, g: &PoolGeom) -> Result<B> => gy;
}
