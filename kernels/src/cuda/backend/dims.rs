//! The shape descriptor passed by value to broadcasting, permuting and
//! reducing kernels (`struct Dims` in `cu/common.cuh`).

use crate::shape::{broadcast_strides, strides};
use crate::{Error, Result};
use cudarc::driver::DeviceRepr;

/// Largest rank the GPU kernels take (`BLITZ_MAX_RANK`).
pub(crate) const MAX_RANK: usize = 8;

/// An output shape and two operands' strides in it; layout of `struct Dims`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Dims {
    rank: u64,
    shape: [u64; MAX_RANK],
    sa: [u64; MAX_RANK],
    sb: [u64; MAX_RANK],
}

// SAFETY: plain-old-data with the C layout the kernels declare.
unsafe impl DeviceRepr for Dims {}

fn fill(dst: &mut [u64; MAX_RANK], src: &[usize]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s as u64;
    }
}

impl Dims {
    /// `shape` with per-axis values `sa` and `sb`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] above [`MAX_RANK`] axes.
    pub(crate) fn new(op: &'static str, shape: &[usize], sa: &[usize], sb: &[usize]) -> Result<Self> {
        if shape.len() > MAX_RANK {
            return Err(Error::InvalidShape {
                op,
                shape: shape.to_vec(),
                reason: format!("the CUDA kernels take at most {MAX_RANK} axes"),
            });
        }
        let mut d = Dims { rank: shape.len() as u64, ..Default::default() };
        fill(&mut d.shape, shape);
        fill(&mut d.sa, sa);
        fill(&mut d.sb, sb);
        Ok(d)
    }

    /// Operands of shapes `a` and `b` read broadcast to `out`.
    ///
    /// # Errors
    /// As [`Dims::new`].
    pub(crate) fn broadcast(op: &'static str, a: &[usize], b: &[usize], out: &[usize]) -> Result<Self> {
        Self::new(op, out, &broadcast_strides(a, out), &broadcast_strides(b, out))
    }

    /// The output of permuting `shape` by `perm`, with input strides per output axis.
    ///
    /// # Errors
    /// As [`Dims::new`].
    pub(crate) fn permute(shape: &[usize], perm: &[usize]) -> Result<Self> {
        let st = strides(shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let step: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
        Self::new("permute", &out, &step, &[])
    }

    /// Summing `from` down to `to` (broadcast-compatible): sa = strides of `to`
    /// aligned to `from`'s rank, sb = 1 on reduced axes. Returns the number of
    /// reduced combinations too.
    ///
    /// # Errors
    /// As [`Dims::new`].
    pub(crate) fn sum_to(from: &[usize], to: &[usize]) -> Result<(Self, u64)> {
        let lead = from.len() - to.len();
        let aligned: Vec<usize> = (0..from.len()).map(|i| if i < lead { 1 } else { to[i - lead] }).collect();
        let reduced: Vec<usize> = from.iter().zip(&aligned).map(|(&f, &t)| usize::from(t == 1 && f != 1)).collect();
        let n_red: usize = from.iter().zip(&reduced).filter(|(_, &r)| r == 1).map(|(&f, _)| f).product();
        Ok((Self::new("sum_to_shape", from, &strides(&aligned), &reduced)?, n_red as u64))
    }
}
