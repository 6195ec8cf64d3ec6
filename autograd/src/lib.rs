//! # blitz-autograd
//!
//! A tape-based reverse-mode autograd you can read in one sitting.
//!
//! - [`Tensor`]: shape + contiguous buffer on a device.
//! - [`Tape`]: a Wengert list; [`Var`] is a value on it whose methods
//!   (`matmul`, `add`, `relu`, ...) record how to differentiate them.
//! - [`Param`]: a named tensor that lives across steps; [`Tape::backward`]
//!   returns [`Gradients`] keyed by parameter; [`optim`] applies them.
//! - [`loss`]: MSE, cross-entropy, Gaussian NLL, BCE with logits.
//!
//! ```
//! use blitz_autograd::{Tape, Tensor, Param, optim::{Sgd, Optimizer}};
//! let w = Param::new("w", Tensor::from_vec(vec![1.0, -2.0], &[2, 1])?);
//! let tape = Tape::new(0);
//! let x = tape.constant(Tensor::from_vec(vec![3.0, 4.0], &[1, 2])?);
//! let y = x.matmul(&tape.param(&w))?.square()?.sum()?; // (3·1 − 4·2)² = 25
//! let grads = tape.backward(&y)?;
//! assert_eq!(grads.get(&w).unwrap().to_vec()?, vec![-30.0, -40.0]);
//! Sgd::new(0.01)?.step(&grads)?;
//! # Ok::<(), blitz_autograd::Error>(())
//! ```
#![warn(missing_docs)]

pub mod gradcheck;
pub mod loss;
mod ops;
pub mod optim;
mod param;
mod tape;
mod tensor;
mod var;

pub use blitz_kernels::{Context, Device, Error, PriorSpec, Result};
pub use ops::{conv::ConvParams, conv::Dims, pool::PoolParams};
pub use param::Param;
pub use tape::{Gradients, Tape};
pub use tensor::Tensor;
pub use var::Var;
