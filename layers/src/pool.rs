//! Pooling layers and [`Flatten`], the shape adapters between the
//! convolutional and the dense part of a network. No parameters.

use crate::module::Module;
use blitz_autograd::{Dims, Param, PoolParams, Result, Var};

/// Max pooling over `R` spatial axes (1 or 2); stride defaults to the window.
#[derive(Debug, Clone)]
pub struct MaxPool<const R: usize> {
    params: PoolParams,
}

/// Max pooling of `[N, C, W]`.
pub type MaxPool1d = MaxPool<1>;
/// Max pooling of `[N, C, H, W]`.
pub type MaxPool2d = MaxPool<2>;

impl<const R: usize> MaxPool<R> {
    /// A window of `kernel_size` (a number or a tuple), stride equal to it, no padding.
    pub fn new(kernel_size: impl Into<Dims>) -> Self {
        MaxPool { params: PoolParams::new(kernel_size) }
    }

    /// With explicit window, stride and padding.
    pub fn with_params(params: PoolParams) -> Self {
        MaxPool { params }
    }
}

impl<const R: usize> Module for MaxPool<R> {
    fn forward(&self, x: &Var) -> Result<Var> {
        if R == 1 {
            x.max_pool1d(&self.params)
        } else {
            x.max_pool2d(&self.params)
        }
    }

    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Average pooling over `R` spatial axes (1 or 2); padding counts as zeros.
#[derive(Debug, Clone)]
pub struct AvgPool<const R: usize> {
    params: PoolParams,
}

/// Average pooling of `[N, C, W]`.
pub type AvgPool1d = AvgPool<1>;
/// Average pooling of `[N, C, H, W]`.
pub type AvgPool2d = AvgPool<2>;

impl<const R: usize> AvgPool<R> {
    /// A window of `kernel_size` (a number or a tuple), stride equal to it, no padding.
    pub fn new(kernel_size: impl Into<Dims>) -> Self {
        AvgPool { params: PoolParams::new(kernel_size) }
    }

    /// With explicit window, stride and padding.
    pub fn with_params(params: PoolParams) -> Self {
        AvgPool { params }
    }
}

impl<const R: usize> Module for AvgPool<R> {
    fn forward(&self, x: &Var) -> Result<Var> {
        if R == 1 {
            x.avg_pool1d(&self.params)
        } else {
            x.avg_pool2d(&self.params)
        }
    }

    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// `[N, ...] -> [N, rest]`: feeds convolutional features to a linear layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Var) -> Result<Var> {
        x.flatten()
    }

    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
