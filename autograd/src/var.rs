//! `Var`: a value on a tape. Its methods (in `ops/`) compute the value and
//! record how to differentiate it, so model code reads like the maths.

use crate::{Tape, Tensor};
use blitz_kernels::{Device, Error, Result};

/// A tensor value plus its place on a [`Tape`] (none for constants and in
/// no-grad mode). Cloning is cheap.
#[derive(Clone)]
pub struct Var {
    value: Tensor,
    node: Option<usize>,
    tape: Tape,
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(node {:?}, {:?})", self.node, self.value)
    }
}

impl Var {
    pub(crate) fn from_parts(value: Tensor, node: Option<usize>, tape: Tape) -> Var {
        Var { value, node, tape }
    }

    /// The computed value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The device of the value.
    pub fn device(&self) -> Device {
        self.value.device()
    }

    /// The tape this value belongs to.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// Its position on the tape, if it requires a gradient.
    pub fn node(&self) -> Option<usize> {
        self.node
    }

    /// Whether a gradient flows to this value.
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// The value of a one-element var.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] otherwise.
    pub fn item(&self) -> Result<f32> {
        self.value.item()
    }

    /// The same value cut off from the tape (no gradient flows through it).
    pub fn detach(&self) -> Var {
        self.tape.constant(self.value.clone())
    }

    /// A constant on the same tape.
    pub fn constant_like(&self, value: Tensor) -> Var {
        self.tape.constant(value)
    }

    /// [`Error::ShapeMismatch`] naming `op` unless `other` has this shape
    /// (ops whose operands pair element by element without broadcasting).
    pub(crate) fn check_same_shape(&self, op: &'static str, other: &Var) -> Result<()> {
        if self.shape() != other.shape() {
            return Err(Error::ShapeMismatch { op, lhs: self.shape().to_vec(), rhs: other.shape().to_vec() });
        }
        Ok(())
    }

    pub(crate) fn check_same_device(&self, op: &'static str, other: &Var) -> Result<()> {
        if self.device() != other.device() {
            return Err(Error::DeviceMismatch { op, lhs: self.device(), rhs: other.device() });
        }
        Ok(())
    }
}
