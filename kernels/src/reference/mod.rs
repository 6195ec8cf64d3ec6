//! The reference path: plain scalar Rust that *defines* what the fast
//! kernels compute, with no macros, intrinsics or `unsafe`. Every fast path
//! is tested against it (`kernels/tests/reference.rs`), and a
//! `BayesianLinear` can run its forward pass on it
//! (`BayesianLinear::forward_reference` in blitz-layers).
//!
//! - [`reparam`]: the reparameterisation trick — Philox normals named by
//!   (seed, offset), w = mu + softplus(rho)·eps, the posterior's and the
//!   priors' log-densities, the Monte Carlo and closed-form KL, and the
//!   gradient of each.

pub mod reparam;
