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
    /// A shape whose element count (or byte size) does not fit in `usize`.
    ShapeOverflow {
        /// The operation (or constructor) that refused it.
        op: &'static str,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// An allocation that would be larger than the memory allowed
    /// ([`crate::limits::memory_limit`]): refused before it is made.
    TooLarge {
        /// What would have been allocated, and which input asked for it
        /// (e.g. "--hidden 100000000: the weights of layer 1").
        what: String,
        /// The bytes it would take (saturated at `u64::MAX`).
        bytes: u64,
        /// The limit in force.
        limit: u64,
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
    /// One readable line: control characters (terminal escapes, line breaks)
    /// that came from a file are shown escaped, and the line is cut at
    /// [`MAX_MESSAGE_CHARS`] characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = String::new();
        self.fmt_raw(&mut raw)?;
        f.write_str(&one_line(&raw, MAX_MESSAGE_CHARS))
    }
}

/// The longest error line [`Error`]'s `Display` prints, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// `s` as one printable line of at most `max` characters (plus a note of
/// how many were cut): control characters become `\n`, `\t`, `\u{1b}`, …
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 64));
    for (shown, c) in s.chars().enumerate() {
        if shown >= max {
            let rest = s.chars().count() - shown;
            out.push_str(&format!("… ({rest} more characters)"));
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

impl Error {
    fn fmt_raw(&self, f: &mut impl fmt::Write) -> fmt::Result {
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
            Error::ShapeOverflow { op, shape } => {
                write!(f, "{op}: shape {shape:?} has more elements than memory can address")
            }
            Error::TooLarge { what, bytes, limit } => {
                write!(
                    f,
                    "{what}: needs {} but the limit is {} (set BLITZ_MEMORY_LIMIT to change it)",
                    human_bytes(*bytes),
                    human_bytes(*limit)
                )
            }
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

// The parse of a device name lives with the error type it returns, so
// that `device` needs nothing from `error` (which names `Device`).
impl std::str::FromStr for Device {
    type Err = Error;

    /// Parses `cpu`, `cuda` (ordinal 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| Error::invalid("device", format!("`{s}` (expected cpu, cuda or cuda:N)"))),
        }
    }
}

/// `bytes` for a person: `512 B`, `3.2 MiB`, `52.0 GiB`, …
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes == u64::MAX {
        return "more than 16 EiB".into();
    }
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_escaped_line_of_bounded_length() {
        let e = Error::Parse { path: "a.csv".into(), message: "header \u{1b}[31mred\nnext".into() };
        assert_eq!(e.to_string(), "a.csv: header \\u{1b}[31mred\\nnext");
        let long = Error::Parse { path: "b".into(), message: "x".repeat(10 * MAX_MESSAGE_CHARS) };
        let shown = long.to_string();
        assert!(shown.chars().count() < MAX_MESSAGE_CHARS + 40, "{}", shown.len());
        assert!(shown.ends_with("more characters)"), "{shown}");
    }
}
