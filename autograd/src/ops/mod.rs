//! Differentiable operations on [`Var`](crate::Var), one family per file.
//! Each op keeps, in one place: its shape rule (an `Err` naming the shapes),
//! the forward kernel call, and its backward rule — the chain rule written out.

mod binary;
pub(crate) mod conv;
mod elementwise;
mod layout;
mod matmul;
pub(crate) mod pool;
mod reduce;
mod reference;
mod reparam;
mod sample_kl;
mod softmax;
