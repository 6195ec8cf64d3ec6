//! The sizes of a convolution or a pooling, shared by the CPU and CUDA kernels.

use crate::limits::checked_numel;
use crate::{Error, Result};

/// `a·b + c` or an [`Error::ShapeOverflow`] naming `op` and the sizes.
fn span(op: &'static str, sizes: [usize; 3]) -> Result<usize> {
    sizes[0]
        .checked_mul(sizes[1])
        .and_then(|v| v.checked_add(sizes[2]))
        .ok_or_else(|| Error::ShapeOverflow { op, shape: sizes.to_vec() })
}

/// The sizes of one convolution, all spatial quantities as (depth, height,
/// width). Unused leading axes have size 1, kernel 1, stride 1, padding 0, dilation 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Images in the batch (N).
    pub batch: usize,
    /// Input channels (C).
    pub in_channels: usize,
    /// Output channels (OC).
    pub out_channels: usize,
    /// Channel groups; C and OC are both multiples of it.
    pub groups: usize,
    /// Spatial size of the input.
    pub input: [usize; 3],
    /// Spatial size of the kernel.
    pub kernel: [usize; 3],
    /// Step between output positions.
    pub stride: [usize; 3],
    /// Implicit zeros added on both sides of each axis.
    pub padding: [usize; 3],
    /// Spacing between kernel taps.
    pub dilation: [usize; 3],
}

impl ConvGeom {
    /// A 2-D convolution of `batch` images of `in_channels` × `input` (height,
    /// width) by `kernel`-sized filters: unit stride and dilation, no
    /// padding, one group (override fields with `..` for the rest).
    pub fn plain_2d(
        batch: usize,
        in_channels: usize,
        out_channels: usize,
        input: [usize; 2],
        kernel: [usize; 2],
    ) -> ConvGeom {
        ConvGeom {
            batch,
            in_channels,
            out_channels,
            groups: 1,
            input: [1, input[0], input[1]],
            kernel: [1, kernel[0], kernel[1]],
            stride: [1; 3],
            padding: [0; 3],
            dilation: [1; 3],
        }
    }

    /// Spatial size of the output, or an error when the (dilated) kernel
    /// does not fit in the padded input or a stride/dilation/group is zero,
    /// or when a size overflows: the spans, and the element counts of the
    /// input, the weights, the output and the unfolded input, are checked
    /// (after this, the `*_len` methods cannot overflow).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the offending quantity;
    /// [`Error::ShapeOverflow`] for a size that does not fit in `usize`.
    pub fn output(&self) -> Result<[usize; 3]> {
        if self.groups == 0
            || !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return Err(Error::invalid(
                "groups",
                format!(
                    "{} groups must divide both {} input and {} output channels",
                    self.groups, self.in_channels, self.out_channels
                ),
            ));
        }
        let mut out = [0; 3];
        for a in 0..3 {
            if self.stride[a] == 0 || self.dilation[a] == 0 || self.kernel[a] == 0 {
                return Err(Error::invalid("stride/dilation/kernel", "every value must be at least 1"));
            }
            let span = span("conv", [self.dilation[a], self.kernel[a] - 1, 1])?;
            let padded = span_padded("conv", self.input[a], self.padding[a])?;
            if span > padded {
                return Err(Error::invalid(
                    "kernel_size",
                    format!(
                        "a kernel spanning {span} (kernel {:?}, dilation {:?}) does not fit in input {:?} padded by {:?}",
                        self.kernel, self.dilation, self.input, self.padding
                    ),
                ));
            }
            out[a] = (padded - span) / self.stride[a] + 1;
        }
        let per_group = self.in_channels / self.groups;
        let [k, i, o] = [self.kernel, self.input, out];
        checked_numel("conv input", &[self.batch, self.in_channels, i[0], i[1], i[2]])?;
        checked_numel("conv weight", &[self.out_channels, per_group, k[0], k[1], k[2]])?;
        checked_numel("conv output", &[self.batch, self.out_channels, o[0], o[1], o[2]])?;
        checked_numel("conv unfolded input", &[self.in_channels, k[0], k[1], k[2], o[0], o[1], o[2]])?;
        Ok(out)
    }

    pub(crate) fn out_dims(&self) -> [usize; 3] {
        self.output().expect("geometry checked by the caller")
    }

    /// Elements of the input tensor `[N, C, D, H, W]` (saturating; exact once
    /// [`ConvGeom::output`] has accepted the geometry).
    pub fn input_len(&self) -> usize {
        crate::shape::numel(&[self.batch, self.in_channels, self.input[0], self.input[1], self.input[2]])
    }

    /// Elements of the weight tensor `[OC, C/groups, kd, kh, kw]` (as
    /// [`ConvGeom::input_len`]; 0 groups count as 1).
    pub fn weight_len(&self) -> usize {
        let k = self.kernel;
        crate::shape::numel(&[self.out_channels, self.in_channels / self.groups.max(1), k[0], k[1], k[2]])
    }

    /// Elements of the output tensor `[N, OC, od, oh, ow]`.
    ///
    /// # Panics
    /// If [`ConvGeom::output`] refuses the geometry (callers check it first).
    pub fn output_len(&self) -> usize {
        let o = self.out_dims();
        crate::shape::numel(&[self.batch, self.out_channels, o[0], o[1], o[2]])
    }

    pub(crate) fn kvol(&self) -> usize {
        crate::shape::numel(&self.kernel)
    }
}

/// `input + 2·padding`, or an [`Error::ShapeOverflow`].
fn span_padded(op: &'static str, input: usize, padding: usize) -> Result<usize> {
    span(op, [2, padding, input])
}

/// The gradients of a convolution with respect to x, w and b: `(dx, dw, db)`,
/// each `None` when not asked for.
pub type ConvGrads = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// The sizes of one pooling, spatial quantities as (depth, height, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    /// Number of independent planes (batch × channels).
    pub planes: usize,
    /// Spatial size of each input plane.
    pub input: [usize; 3],
    /// Window size.
    pub kernel: [usize; 3],
    /// Step between windows.
    pub stride: [usize; 3],
    /// Implicit padding on both sides (ignored by max, zeros for average).
    pub padding: [usize; 3],
}

impl PoolGeom {
    /// Spatial size of each output plane.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero window or stride, padding more
    /// than half the window (as torch refuses), or a window larger than the
    /// padded input; [`Error::ShapeOverflow`] when the padded input or the
    /// input's or output's element count does not fit in `usize`.
    pub fn output(&self) -> Result<[usize; 3]> {
        let mut out = [0; 3];
        for a in 0..3 {
            let (k, s, p) = (self.kernel[a], self.stride[a], self.padding[a]);
            if k == 0 || s == 0 {
                return Err(Error::invalid("kernel_size/stride", "every value must be at least 1"));
            }
            if p > k / 2 {
                return Err(Error::invalid(
                    "padding",
                    format!("padding {:?} must be at most half the window {:?}", self.padding, self.kernel),
                ));
            }
            let padded = span_padded("pool", self.input[a], p)?;
            if k > padded {
                return Err(Error::invalid(
                    "kernel_size",
                    format!("window {:?} larger than the padded input {:?}", self.kernel, self.input),
                ));
            }
            out[a] = (padded - k) / s + 1;
        }
        let i = self.input;
        checked_numel("pool input", &[self.planes, i[0], i[1], i[2]])?;
        checked_numel("pool output", &[self.planes, out[0], out[1], out[2]])?;
        Ok(out)
    }

    pub(crate) fn out_dims(&self) -> [usize; 3] {
        self.output().expect("geometry checked by the caller")
    }

    /// Elements of the input (saturating; exact once [`PoolGeom::output`]
    /// has accepted the geometry).
    pub fn input_len(&self) -> usize {
        crate::shape::numel(&[self.planes, self.input[0], self.input[1], self.input[2]])
    }

    /// Elements of the output.
    ///
    /// # Panics
    /// If [`PoolGeom::output`] refuses the geometry (callers check it first).
    pub fn output_len(&self) -> usize {
        let o = self.out_dims();
        crate::shape::numel(&[self.planes, o[0], o[1], o[2]])
    }

    /// Input positions of the window of output `o` along axis `a` (clipped to the input).
    pub(crate) fn window(&self, o: usize, a: usize) -> std::ops::Range<usize> {
        let start = (o * self.stride[a]) as isize - self.padding[a] as isize;
        let end = (start + self.kernel[a] as isize).min(self.input[a] as isize);
        start.max(0) as usize..end.max(0) as usize
    }
}
