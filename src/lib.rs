//! # blitz
//!
//! Bayesian neural-network layers (Bayes by Backprop) in Rust, on a small
//! tape-based autograd and its own CPU (and CUDA) kernels. This facade
//! re-exports the workspace's crates:
//!
//! - [`kernels`]: compute on raw buffers, no autograd;
//! - [`autograd`]: `Tensor`, `Tape`/`Var`, losses, optimizers;
//! - [`layers`]: modules, Bayesian layers, priors, KL, the ELBO estimator.
//!
//! Most programs need only `use blitz::prelude::*;`.
#![warn(missing_docs)]

pub use blitz_autograd as autograd;
pub use blitz_kernels as kernels;
pub use blitz_layers as layers;
pub mod tour;

/// The names most programs use.
pub mod prelude {
    pub use blitz_autograd::loss;
    pub use blitz_autograd::optim::{clip_grad_norm, Adam, Optimizer, Sgd};
    pub use blitz_autograd::{Device, Error, Gradients, Param, Result, Tape, Tensor, Var};
    pub use blitz_layers::{
        minibatch_weight, BayesianLinear, BayesianLinearOptions, BayesianModule, Dropout, Gaussian, KlMode, Laplace,
        Linear, Module, Prior, ReLU, ScaleMixture, Sequential, Sigmoid, Softplus, StudentT, Tanh, VariationalEstimator,
    };
}
