//! The stand-in CUDA backend of a build without the `cuda` feature.
//! [`CudaBuffer`] holds an uninhabited field, so no value of it exists and
//! every function taking one is statically unreachable; the functions that
//! would create one return [`Error::CudaNotCompiled`].

#![allow(clippy::too_many_arguments, unused_variables)]

use crate::backend::{Backend, ConvGrads};
use crate::context::Context;
use crate::types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};
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

/// The stand-in GPU backend: no [`CudaBuffer`] exists, so every method is
/// unreachable, except `normal`, which would make one.
pub(crate) struct Gpu;

impl Backend for Gpu {
    type Buf = CudaBuffer;

    fn unary(_ctx: &Context, _op: UnaryOp, _x: &CudaBuffer) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn unary_backward(
        _ctx: &Context,
        _op: UnaryOp,
        _x: &CudaBuffer,
        _y: &CudaBuffer,
        _g: &CudaBuffer,
    ) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn scalar(_ctx: &Context, _op: ScalarOp, _x: &CudaBuffer) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn scalar_backward(_ctx: &Context, _op: ScalarOp, _x: &CudaBuffer, _g: &CudaBuffer) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn binary(
        _ctx: &Context,
        _op: BinaryOp,
        _a: &CudaBuffer,
        _a_shape: &[usize],
        _b: &CudaBuffer,
        _b_shape: &[usize],
        _out_shape: &[usize],
    ) -> Result<CudaBuffer> {
        match _a.never {}
    }

    fn binary_backward_full(
        _ctx: &Context,
        _op: BinaryOp,
        _a: &CudaBuffer,
        _a_shape: &[usize],
        _b: &CudaBuffer,
        _b_shape: &[usize],
        _g: &CudaBuffer,
        _out_shape: &[usize],
        _need: (bool, bool),
    ) -> Result<(Option<CudaBuffer>, Option<CudaBuffer>)> {
        match _a.never {}
    }

    fn add_rows(_ctx: &Context, _c: &mut CudaBuffer, _b: &CudaBuffer) -> Result<()> {
        match _c.never {}
    }

    fn sum_to_shape(_ctx: &Context, _g: &CudaBuffer, _from: &[usize], _to: &[usize]) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn sum_all(_ctx: &Context, _x: &CudaBuffer) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn sum_axis(_ctx: &Context, _x: &CudaBuffer, _outer: usize, _len: usize, _inner: usize) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn expand_axis(_ctx: &Context, _g: &CudaBuffer, _outer: usize, _len: usize, _inner: usize) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn max_axis(
        _ctx: &Context,
        _x: &CudaBuffer,
        _outer: usize,
        _len: usize,
        _inner: usize,
    ) -> Result<(CudaBuffer, Vec<usize>)> {
        match _x.never {}
    }

    fn max_axis_backward(
        _ctx: &Context,
        _g: &CudaBuffer,
        _arg: &[usize],
        _outer: usize,
        _len: usize,
        _inner: usize,
    ) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn softmax(_ctx: &Context, _x: &CudaBuffer, _n: usize, _log: bool) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn softmax_backward(_ctx: &Context, _y: &CudaBuffer, _g: &CudaBuffer, _n: usize, _log: bool) -> Result<CudaBuffer> {
        match _y.never {}
    }

    fn gemm(
        _ctx: &Context,
        _a: &CudaBuffer,
        _b: &CudaBuffer,
        _batch: usize,
        _m: usize,
        _k: usize,
        _n: usize,
        _t: Transpose,
    ) -> Result<CudaBuffer> {
        match _a.never {}
    }

    fn permute(_ctx: &Context, _x: &CudaBuffer, _shape: &[usize], _perm: &[usize]) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn slice_axis(
        _ctx: &Context,
        _x: &CudaBuffer,
        _outer: usize,
        _axis: usize,
        _inner: usize,
        _start: usize,
        _len: usize,
    ) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn slice_axis_backward(
        _ctx: &Context,
        _g: &CudaBuffer,
        _outer: usize,
        _axis: usize,
        _inner: usize,
        _start: usize,
        _len: usize,
    ) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn concat_axis(
        _ctx: &Context,
        _parts: &[&CudaBuffer],
        _lens: &[usize],
        _outer: usize,
        _inner: usize,
    ) -> Result<CudaBuffer> {
        match _parts.first() {
            Some(p) => match p.never {},
            None => Err(Error::CudaNotCompiled),
        }
    }

    fn index_select(
        _ctx: &Context,
        _x: &CudaBuffer,
        _outer: usize,
        _axis: usize,
        _inner: usize,
        _idx: &[usize],
    ) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn index_select_backward(
        _ctx: &Context,
        _g: &CudaBuffer,
        _outer: usize,
        _axis: usize,
        _inner: usize,
        _idx: &[usize],
    ) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn gather_rows(_ctx: &Context, _x: &CudaBuffer, _n: usize, _idx: &[usize]) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn gather_rows_backward(_ctx: &Context, _g: &CudaBuffer, _n: usize, _idx: &[usize]) -> Result<CudaBuffer> {
        match _g.never {}
    }

    fn normal(_ctx: &Context, _ordinal: usize, _seed: u64, _offset: u64, _len: usize) -> Result<CudaBuffer> {
        Err(Error::CudaNotCompiled)
    }

    fn reparam_forward(
        _ctx: &Context,
        _mu: &CudaBuffer,
        _rho: &CudaBuffer,
        _seed: u64,
        _offset: u64,
    ) -> Result<CudaBuffer> {
        match _mu.never {}
    }

    fn reparam_forward_sigma(
        _ctx: &Context,
        _mu: &CudaBuffer,
        _sigma: &CudaBuffer,
        _seed: u64,
        _offset: u64,
    ) -> Result<CudaBuffer> {
        match _mu.never {}
    }

    fn reparam_backward(
        _ctx: &Context,
        _rho: &CudaBuffer,
        _g: &CudaBuffer,
        _seed: u64,
        _offset: u64,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        match _rho.never {}
    }

    fn reparam_log_posterior(_ctx: &Context, _rho: &CudaBuffer, _seed: u64, _offset: u64) -> Result<CudaBuffer> {
        match _rho.never {}
    }

    fn sample_kl_forward(
        _ctx: &Context,
        _mu: &CudaBuffer,
        _rho: &CudaBuffer,
        _seed: u64,
        _offset: u64,
        _prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        match _mu.never {}
    }

    fn sample_kl_backward(
        _ctx: &Context,
        _mu: &CudaBuffer,
        _rho: &CudaBuffer,
        _g_w: Option<&CudaBuffer>,
        _g_kl: &CudaBuffer,
        _seed: u64,
        _offset: u64,
        _prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        match _mu.never {}
    }

    fn kl_at(
        _ctx: &Context,
        _w: &CudaBuffer,
        _rho: &CudaBuffer,
        _seed: u64,
        _offset: u64,
        _prior: PriorSpec,
    ) -> Result<CudaBuffer> {
        match _w.never {}
    }

    fn kl_at_backward(
        _ctx: &Context,
        _w: &CudaBuffer,
        _rho: &CudaBuffer,
        _g_kl: &CudaBuffer,
        _prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        match _w.never {}
    }

    fn adam_step(
        _ctx: &Context,
        _p: &mut CudaBuffer,
        _m: &mut CudaBuffer,
        _v: &mut CudaBuffer,
        _g: &CudaBuffer,
        _h: AdamStep,
    ) -> Result<()> {
        match _p.never {}
    }

    fn sgd_step(
        _ctx: &Context,
        _p: &mut CudaBuffer,
        _buf: &mut CudaBuffer,
        _g: &CudaBuffer,
        _lr: f32,
        _momentum: f32,
        _weight_decay: f32,
    ) -> Result<()> {
        match _p.never {}
    }

    fn scale_inplace(_ctx: &Context, _x: &mut CudaBuffer, _s: f32) -> Result<()> {
        match _x.never {}
    }

    fn all_finite(_ctx: &Context, _x: &CudaBuffer) -> Result<bool> {
        match _x.never {}
    }

    fn sum_squares(_ctx: &Context, _x: &CudaBuffer) -> Result<f64> {
        match _x.never {}
    }

    fn sum_squares_many(_ctx: &Context, _xs: &[&CudaBuffer]) -> Result<Vec<f64>> {
        match _xs.first() {
            Some(x) => match x.never {},
            None => Ok(Vec::new()),
        }
    }

    fn conv_forward(
        _ctx: &Context,
        _x: &CudaBuffer,
        _w: &CudaBuffer,
        _b: Option<&CudaBuffer>,
        _g: &ConvGeom,
    ) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn conv_backward(
        _ctx: &Context,
        _x: &CudaBuffer,
        _w: &CudaBuffer,
        _gy: &CudaBuffer,
        _g: &ConvGeom,
        _need: (bool, bool, bool),
    ) -> Result<ConvGrads<CudaBuffer>> {
        match _x.never {}
    }

    fn max_pool_forward(_ctx: &Context, _x: &CudaBuffer, _g: &PoolGeom) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn max_pool_backward(_ctx: &Context, _x: &CudaBuffer, _gy: &CudaBuffer, _g: &PoolGeom) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn avg_pool_forward(_ctx: &Context, _x: &CudaBuffer, _g: &PoolGeom) -> Result<CudaBuffer> {
        match _x.never {}
    }

    fn avg_pool_backward(_ctx: &Context, _gy: &CudaBuffer, _g: &PoolGeom) -> Result<CudaBuffer> {
        match _gy.never {}
    }
}
