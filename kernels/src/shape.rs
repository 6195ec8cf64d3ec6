//! Shape arithmetic shared by every backend: element counts, NumPy broadcasting,
//! and the (outer, axis, inner) view that axis-wise kernels iterate over.

use crate::limits::{check_memory, checked_numel, f32_bytes};
use crate::{Error, Result};

/// Number of elements of a shape (1 for a scalar, `[]`).
///
/// Precondition: a shape already validated (every tensor's shape is, when it
/// is built: [`crate::limits::checked_numel`]). A shape from outside goes
/// through `checked_numel` (or [`checked_output`]) instead. Should a shape
/// that overflows reach this anyway, the product saturates at `usize::MAX`
/// (a length no buffer has, and no allocation can take) rather than wrap
/// to a small plausible count.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
}

/// The element count of an output of `shape` that an op is about to
/// allocate: [`Error::ShapeOverflow`] when it does not fit, and
/// [`Error::TooLarge`] when it needs more memory than allowed
/// ([`crate::limits::check_memory`]). For outputs whose shape is computed
/// from the inputs (an m×1 by 1×n product, broadcasting, concatenation, …):
/// valid inputs can still ask for an output that cannot exist.
///
/// # Errors
/// As above, naming `op` and the shape.
pub fn checked_output(op: &'static str, shape: &[usize]) -> Result<usize> {
    let n = checked_numel(op, shape)?;
    check_memory(f32_bytes(n), || format!("the output of {op}, of shape {shape:?}"))?;
    Ok(n)
}

/// Row-major strides of a contiguous tensor (precondition as [`numel`]:
/// every stride is at most the element count; saturating otherwise).
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// The shape of `a op b` under NumPy broadcasting: align trailing axes; each
/// pair must be equal or contain a 1. The result is checked as an output
/// ([`checked_output`]): `[n, 1]` with `[1, n]` is `n²` elements.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `op` and both shapes;
/// [`Error::ShapeOverflow`] or [`Error::TooLarge`] for an output that
/// cannot be allocated.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let out = broadcast_dims(op, a, b)?;
    checked_output(op, &out)?;
    Ok(out)
}

/// [`broadcast_shape`] without the output's size check (for shapes whose
/// tensors already exist).
pub(crate) fn broadcast_dims(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(Error::ShapeMismatch { op, lhs: a.to_vec(), rhs: b.to_vec() }),
        };
    }
    Ok(out)
}

/// Strides of `shape` read as if broadcast to `out` (0 along broadcast axes).
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len()).map(|i| if i < lead || shape[i - lead] == 1 { 0 } else { own[i - lead] }).collect()
}

/// Splits `shape` around `axis` into (outer, axis length, inner) element counts.
///
/// # Errors
/// [`Error::AxisOutOfRange`] when `axis >= shape.len()`.
pub fn split_at_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<(usize, usize, usize)> {
    if axis >= shape.len() {
        return Err(Error::AxisOutOfRange { op, axis, rank: shape.len() });
    }
    Ok((numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape("t", &[4, 3], &[3]).unwrap(), vec![4, 3]);
        assert_eq!(broadcast_shape("t", &[4, 1], &[1, 5]).unwrap(), vec![4, 5]);
        assert_eq!(broadcast_shape("t", &[], &[2, 2]).unwrap(), vec![2, 2]);
        assert!(broadcast_shape("t", &[4, 3], &[4]).is_err());
        assert_eq!(broadcast_strides(&[3], &[4, 3]), vec![0, 1]);
        assert_eq!(broadcast_strides(&[4, 1], &[4, 5]), vec![1, 0]);
    }

    #[test]
    fn overflowing_shapes_saturate_or_are_refused() {
        assert_eq!(numel(&[1 << 32, 1 << 32]), usize::MAX);
        assert_eq!(numel(&[1 << 32, 1 << 32, 0]), 0);
        assert_eq!(numel(&[3, 4]), 12);
        let big = 1usize << 40;
        let e = broadcast_shape("t", &[big, 1], &[1, big]).unwrap_err();
        assert!(matches!(e, Error::ShapeOverflow { .. }), "{e}");
        let e = broadcast_shape("t", &[1 << 20, 1], &[1, 1 << 20]).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(matches!(checked_output("t", &[usize::MAX, 2]), Err(Error::ShapeOverflow { .. })));
    }
}
