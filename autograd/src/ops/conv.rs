//! Convolutions over 1, 2 or 3 spatial axes. For y = conv(x, W) + b,
//!   ∂L/∂x = convᵀ(∂L/∂y, W)   (col2im of Wᵀ·G),
//!   ∂L/∂W = G·colᵀ            (summed over the batch inside one GEMM),
//!   ∂L/∂b = Σ over batch and positions of G.
//! The kernels are behind `blitz_kernels::ops`; this file checks shapes
//! and records the backward rule.

use crate::{Tensor, Var};
use blitz_kernels::ConvGeom;
use blitz_kernels::{ops, Error, Result};

/// A size per spatial axis: one number for every axis, or one per axis.
/// Built from `usize`, tuples, arrays or a `Vec` (`3.into()`, `(3, 5).into()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dims(pub Vec<usize>);

impl Dims {
    /// The values for `rank` spatial axes, left-padded with `fill` to three
    /// axes; a single value is repeated.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the number of values is neither 1 nor `rank`.
    pub fn expand(&self, name: &'static str, rank: usize, fill: usize) -> Result<[usize; 3]> {
        let v: Vec<usize> = match self.0.len() {
            1 => vec![self.0[0]; rank],
            n if n == rank => self.0.clone(),
            n => return Err(Error::invalid(name, format!("{n} values {:?} given for {rank} spatial axes", self.0))),
        };
        let mut out = [fill; 3];
        out[3 - rank..].copy_from_slice(&v);
        Ok(out)
    }
}

impl From<usize> for Dims {
    fn from(v: usize) -> Self {
        Dims(vec![v])
    }
}
impl From<(usize, usize)> for Dims {
    fn from(v: (usize, usize)) -> Self {
        Dims(vec![v.0, v.1])
    }
}
impl From<(usize, usize, usize)> for Dims {
    fn from(v: (usize, usize, usize)) -> Self {
        Dims(vec![v.0, v.1, v.2])
    }
}
impl<const N: usize> From<[usize; N]> for Dims {
    fn from(v: [usize; N]) -> Self {
        Dims(v.to_vec())
    }
}
impl From<Vec<usize>> for Dims {
    fn from(v: Vec<usize>) -> Self {
        Dims(v)
    }
}
impl From<&[usize]> for Dims {
    fn from(v: &[usize]) -> Self {
        Dims(v.to_vec())
    }
}

/// Stride, padding, dilation and groups of a convolution (torch.nn's
/// defaults: 1, 0, 1, 1). Build with `ConvParams::default().stride(2).padding((1, 0))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvParams {
    /// Step between output positions.
    pub stride: Dims,
    /// Zeros added on both sides of each spatial axis.
    pub padding: Dims,
    /// Spacing between kernel taps.
    pub dilation: Dims,
    /// Channel groups (C and OC must be multiples of it).
    pub groups: usize,
}

impl Default for ConvParams {
    fn default() -> Self {
        ConvParams { stride: 1.into(), padding: 0.into(), dilation: 1.into(), groups: 1 }
    }
}

impl ConvParams {
    /// With this stride.
    pub fn stride(mut self, s: impl Into<Dims>) -> Self {
        self.stride = s.into();
        self
    }
    /// With this padding.
    pub fn padding(mut self, p: impl Into<Dims>) -> Self {
        self.padding = p.into();
        self
    }
    /// With this dilation.
    pub fn dilation(mut self, d: impl Into<Dims>) -> Self {
        self.dilation = d.into();
        self
    }
    /// With this many groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// The kernel geometry of input shape `x` `[N, C, spatial...]` and weight
    /// shape `w` `[OC, C/groups, kernel...]` with `rank` spatial axes, and the output shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming both shapes when they do not fit;
    /// [`Error::InvalidArgument`] for bad stride, padding, dilation or groups.
    pub fn geometry(&self, op: &'static str, rank: usize, x: &[usize], w: &[usize]) -> Result<(ConvGeom, Vec<usize>)> {
        let mismatch = || Error::ShapeMismatch { op, lhs: x.to_vec(), rhs: w.to_vec() };
        if x.len() != rank + 2 || w.len() != rank + 2 {
            return Err(mismatch());
        }
        if self.groups == 0 {
            return Err(Error::invalid("groups", "must be at least 1"));
        }
        if w[1] * self.groups != x[1] || !w[0].is_multiple_of(self.groups) || w[0] == 0 {
            return Err(mismatch());
        }
        let g = ConvGeom {
            batch: x[0],
            in_channels: x[1],
            out_channels: w[0],
            groups: self.groups,
            input: pad3(&x[2..]),
            kernel: pad3(&w[2..]),
            stride: self.stride.expand("stride", rank, 1)?,
            padding: self.padding.expand("padding", rank, 0)?,
            dilation: self.dilation.expand("dilation", rank, 1)?,
        };
        let out = g.output().map_err(|e| match e {
            Error::InvalidArgument { name, reason } => {
                Error::InvalidArgument { name, reason: format!("{op} of {x:?} by {w:?}: {reason}") }
            }
            e => e,
        })?;
        let mut shape = vec![x[0], w[0]];
        shape.extend_from_slice(&out[3 - rank..]);
        Ok((g, shape))
    }
}

/// Spatial sizes left-padded with 1 to three axes.
fn pad3(s: &[usize]) -> [usize; 3] {
    let mut out = [1; 3];
    out[3 - s.len()..].copy_from_slice(s);
    out
}

impl Var {
    /// 1d convolution of `[N, C, W]` by `[OC, C/groups, k]` (+ bias `[OC]`).
    ///
    /// # Errors
    /// As [`Var::conv3d`].
    pub fn conv1d(&self, weight: &Var, bias: Option<&Var>, p: &ConvParams) -> Result<Var> {
        self.conv_nd("conv1d", 1, weight, bias, p)
    }

    /// 2d convolution of `[N, C, H, W]` by `[OC, C/groups, kh, kw]` (+ bias `[OC]`).
    ///
    /// # Errors
    /// As [`Var::conv3d`].
    pub fn conv2d(&self, weight: &Var, bias: Option<&Var>, p: &ConvParams) -> Result<Var> {
        self.conv_nd("conv2d", 2, weight, bias, p)
    }

    /// 3d convolution of `[N, C, D, H, W]` by `[OC, C/groups, kd, kh, kw]` (+ bias `[OC]`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the input and weight shapes (or weight
    /// and bias shapes) when they do not fit; [`Error::InvalidArgument`] for
    /// a zero stride or dilation, groups that do not divide the channels, or
    /// a kernel larger than the padded input; [`Error::DeviceMismatch`].
    pub fn conv3d(&self, weight: &Var, bias: Option<&Var>, p: &ConvParams) -> Result<Var> {
        self.conv_nd("conv3d", 3, weight, bias, p)
    }

    fn conv_nd(&self, op: &'static str, rank: usize, weight: &Var, bias: Option<&Var>, p: &ConvParams) -> Result<Var> {
        self.check_same_device(op, weight)?;
        let (geom, out_shape) = p.geometry(op, rank, self.shape(), weight.shape())?;
        if let Some(b) = bias {
            self.check_same_device(op, b)?;
            if b.shape() != [weight.shape()[0]] {
                return Err(Error::ShapeMismatch { op, lhs: weight.shape().to_vec(), rhs: b.shape().to_vec() });
            }
        }
        let (x, w) = (self.value().clone(), weight.value().clone());
        let ctx = self.tape().context();
        let y = ops::conv_forward_in(&ctx, x.buffer(), w.buffer(), bias.map(|b| b.value().buffer()), &geom)?;
        let y = Tensor::from_parts(y, out_shape);
        let mut inputs = vec![self, weight];
        let b_val = bias.map(|b| b.value().clone());
        inputs.extend(bias);
        self.tape().record(
            op,
            y,
            &inputs,
            Box::new(move |g, needs| {
                let need_b = needs.get(2).copied().unwrap_or(false);
                let (dx, dw, db) = ops::conv_backward_in(
                    &ctx,
                    x.buffer(),
                    w.buffer(),
                    g.buffer(),
                    &geom,
                    (needs[0], needs[1], need_b),
                )?;
                let mut out = vec![dx.map(|t| x.with_buffer(t)), dw.map(|t| w.with_buffer(t))];
                if let Some(bv) = &b_val {
                    out.push(db.map(|t| bv.with_buffer(t)));
                }
                Ok(out)
            }),
        )
    }
}
