//! The one error type of blitz. Every crate of the workspace re-exports it, so a
//! user matches on a single enum whatever layer the failure came from.

use crate::Device;
use std::fmt;

/// Everything that can go wrong on a user's input: shapes, devices,
/// hyperparameters, files. Panics are kept for broken internal invariants.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Two operands whose shapes do not fit the operation.
    ShapeMismatch {
        /// The operation that refused them.
        op: &'static str,
        /// Shape of the left (first) operand.
        lhs: Vec<usize>,
        /// Shape of the right (second) operand.
        rhs: Vec<usize>,
    },
    /// A single shape that the operation cannot take.
    InvalidShape {
        /// The operation that refused it.
        op: &'static str,
        /// The shape given.
        shape: Vec<usize>,
        /// Why it is refused.
        reason: String,
    },
    /// An axis that the tensor does not have.
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An index (class label, gathered row, ...) outside its range.
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The size it must stay below.
        len: usize,
    },
    /// A tensor with no elements where at least one is needed.
    Empty {
        /// The operation.
        op: &'static str,
    },
    /// NaN or infinity where finite values are required.
    NonFinite {
        /// What held the non-finite value (e.g. "labels", "loss", "gradient of l1.weight_mu").
        what: String,
    },
    /// Operands on different devices.
    DeviceMismatch {
        /// The operation.
        op: &'static str,
        /// Device of the first operand.
        lhs: Device,
        /// Device of the second operand.
        rhs: Device,
    },
    /// Operands recorded on different tapes.
    TapeMismatch {
        /// The operation.
        op: &'static str,
    },
    /// A hyperparameter or argument outside its valid range.
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A CUDA device was asked for but this build has no `cuda` feature.
    CudaNotCompiled,
    /// The CUDA driver, NVRTC or a kernel launch failed.
    Cuda(String),
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A file's contents are not what its format requires.
    Parse {
        /// The file (or a description of the source).
        path: String,
        /// What is wrong, and where.
        message: String,
    },
}

/// `Result` with blitz's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { op, lhs, rhs } => {
                write!(f, "{op}: shapes {lhs:?} and {rhs:?} do not fit")
            }
            Error::InvalidShape { op, shape, reason } => {
                write!(f, "{op}: shape {shape:?} refused: {reason}")
            }
            Error::AxisOutOfRange { op, axis, rank } => {
                write!(f, "{op}: axis {axis} out of range for a rank-{rank} tensor")
            }
            Error::IndexOutOfRange { op, index, len } => {
                write!(f, "{op}: index {index} out of range (must be < {len})")
            }
            Error::Empty { op } => write!(f, "{op}: empty tensor where elements are required"),
            Error::NonFinite { what } => write!(f, "non-finite value (NaN or inf) in {what}"),
            Error::DeviceMismatch { op, lhs, rhs } => {
                write!(f, "{op}: operands on different devices ({lhs} and {rhs})")
            }
            Error::TapeMismatch { op } => {
                write!(f, "{op}: operands were recorded on different tapes")
            }
            Error::InvalidArgument { name, reason } => write!(f, "invalid {name}: {reason}"),
            Error::CudaNotCompiled => {
                write!(f, "a CUDA device was requested but blitz was built without the `cuda` feature")
            }
            Error::Cuda(msg) => write!(f, "CUDA: {msg}"),
            Error::Io { path, message } => write!(f, "{path}: {message}"),
            Error::Parse { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument { name, reason: reason.into() }
    }
}
