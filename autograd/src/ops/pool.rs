//! Max and average pooling over 1 or 2 spatial axes. Max pooling keeps the
//! arg-max positions of its forward pass, and its backward routes each
//! output gradient there; average pooling spreads it evenly over the window.

use super::conv::Dims;
use crate::{Tensor, Var};
use blitz_kernels::PoolGeom;
use blitz_kernels::{ops, Error, Result};

/// Window, stride and padding of a pooling. The stride defaults to the
/// window (torch.nn's default); padding to 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolParams {
    /// Window size.
    pub kernel: Dims,
    /// Step between windows (`None`: the window size).
    pub stride: Option<Dims>,
    /// Padding on both sides (at most half the window).
    pub padding: Dims,
}

impl PoolParams {
    /// A window of `kernel`, stride equal to it, no padding.
    pub fn new(kernel: impl Into<Dims>) -> Self {
        PoolParams { kernel: kernel.into(), stride: None, padding: 0.into() }
    }
    /// With this stride.
    pub fn stride(mut self, s: impl Into<Dims>) -> Self {
        self.stride = Some(s.into());
        self
    }
    /// With this padding.
    pub fn padding(mut self, p: impl Into<Dims>) -> Self {
        self.padding = p.into();
        self
    }

    fn geometry(&self, op: &'static str, rank: usize, x: &[usize]) -> Result<(PoolGeom, Vec<usize>)> {
        if x.len() != rank + 2 {
            return Err(Error::InvalidShape {
                op,
                shape: x.to_vec(),
                reason: format!("expected [N, C] and {rank} spatial axes"),
            });
        }
        let mut input = [1; 3];
        input[3 - rank..].copy_from_slice(&x[2..]);
        let kernel = self.kernel.expand("kernel_size", rank, 1)?;
        let g = PoolGeom {
            planes: x[0] * x[1],
            input,
            kernel,
            stride: self.stride.as_ref().unwrap_or(&self.kernel).expand("stride", rank, 1)?,
            padding: self.padding.expand("padding", rank, 0)?,
        };
        let out = g.output().map_err(|e| match e {
            Error::InvalidArgument { name, reason } => {
                Error::InvalidArgument { name, reason: format!("{op} of {x:?}: {reason}") }
            }
            e => e,
        })?;
        let mut shape = x[..2].to_vec();
        shape.extend_from_slice(&out[3 - rank..]);
        Ok((g, shape))
    }
}

impl Var {
    /// Max pooling of `[N, C, W]`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a tensor that is not rank 3;
    /// [`Error::InvalidArgument`] for a bad window, stride or padding.
    pub fn max_pool1d(&self, p: &PoolParams) -> Result<Var> {
        self.max_pool("max_pool1d", 1, p)
    }

    /// Max pooling of `[N, C, H, W]`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a tensor that is not rank 4;
    /// [`Error::InvalidArgument`] for a bad window, stride or padding.
    pub fn max_pool2d(&self, p: &PoolParams) -> Result<Var> {
        self.max_pool("max_pool2d", 2, p)
    }

    /// Average pooling of `[N, C, W]` (padding counts as zeros).
    ///
    /// # Errors
    /// As [`Var::max_pool1d`].
    pub fn avg_pool1d(&self, p: &PoolParams) -> Result<Var> {
        self.avg_pool("avg_pool1d", 1, p)
    }

    /// Average pooling of `[N, C, H, W]` (padding counts as zeros).
    ///
    /// # Errors
    /// As [`Var::max_pool2d`].
    pub fn avg_pool2d(&self, p: &PoolParams) -> Result<Var> {
        self.avg_pool("avg_pool2d", 2, p)
    }

    fn max_pool(&self, op: &'static str, rank: usize, p: &PoolParams) -> Result<Var> {
        let (geom, shape) = p.geometry(op, rank, self.shape())?;
        let ctx = self.tape().context();
        let y = ops::max_pool_forward_in(&ctx, self.value().buffer(), &geom)?;
        let x = self.value().clone();
        let in_shape = self.shape().to_vec();
        self.tape().record(
            op,
            Tensor::from_parts(y, shape),
            &[self],
            Box::new(move |g, _| {
                // The arg-max is found again from x: nothing stored, nothing copied to the host.
                let dx = ops::max_pool_backward_in(&ctx, x.buffer(), g.buffer(), &geom)?;
                Ok(vec![Some(Tensor::from_parts(dx, in_shape.clone()))])
            }),
        )
    }

    fn avg_pool(&self, op: &'static str, rank: usize, p: &PoolParams) -> Result<Var> {
        let (geom, shape) = p.geometry(op, rank, self.shape())?;
        let ctx = self.tape().context();
        let y = ops::avg_pool_forward_in(&ctx, self.value().buffer(), &geom)?;
        let in_shape = self.shape().to_vec();
        self.tape().record(
            op,
            Tensor::from_parts(y, shape),
            &[self],
            Box::new(move |g, _| {
                let dx = ops::avg_pool_backward_in(&ctx, g.buffer(), &geom)?;
                Ok(vec![Some(Tensor::from_parts(dx, in_shape.clone()))])
            }),
        )
    }
}
