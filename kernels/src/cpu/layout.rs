//! Data movement: permute (materialised), slices and concatenation along an
//! axis, and index-select (gather of whole slices along an axis).

use crate::shape::{numel, strides};

/// Writes `x` (of `shape`) permuted so that output axis i is input axis `perm[i]`.
pub(crate) fn permute(x: &[f32], shape: &[usize], perm: &[usize], out: &mut [f32]) {
    let rank = shape.len();
    if rank == 2 && perm == [1, 0] {
        transpose2d(x, shape[0], shape[1], out);
        return;
    }
    let in_strides = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    // Stride in the input of a step along each output axis.
    let step: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut idx = vec![0usize; rank];
    let mut src = 0usize;
    for o in out.iter_mut().take(numel(&out_shape)) {
        *o = x[src];
        for ax in (0..rank).rev() {
            idx[ax] += 1;
            src += step[ax];
            if idx[ax] < out_shape[ax] {
                break;
            }
            src -= step[ax] * idx[ax];
            idx[ax] = 0;
        }
    }
}

/// Rows×cols to cols×rows in cache-friendly blocks.
fn transpose2d(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = x[r * cols + c];
                }
            }
        }
    }
}

/// Copies `x[.., start..start+len, ..]` along the middle axis of an
/// (outer, axis, inner) view into `out` (outer·len·inner elements).
pub(crate) fn slice_axis(
    x: &[f32],
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
    out: &mut [f32],
) {
    for o in 0..outer {
        let src = &x[(o * axis + start) * inner..(o * axis + start + len) * inner];
        out[o * len * inner..(o + 1) * len * inner].copy_from_slice(src);
    }
}

/// Adds `g` (the gradient of a slice) into `gx` at its place: the adjoint of [`slice_axis`].
pub(crate) fn slice_axis_backward(
    g: &[f32],
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
    gx: &mut [f32],
) {
    for o in 0..outer {
        let dst = &mut gx[(o * axis + start) * inner..(o * axis + start + len) * inner];
        dst.iter_mut().zip(&g[o * len * inner..(o + 1) * len * inner]).for_each(|(d, &s)| *d += s);
    }
}

/// For each `(outer, axis_i)` block of every part, copies it into place along the
/// concatenated axis. `parts[i]` has `lens[i]` entries along that axis.
pub(crate) fn concat_axis(parts: &[&[f32]], lens: &[usize], outer: usize, inner: usize, out: &mut [f32]) {
    let total: usize = lens.iter().sum();
    let mut off = 0;
    for (p, &l) in parts.iter().zip(lens) {
        for o in 0..outer {
            out[(o * total + off) * inner..(o * total + off + l) * inner]
                .copy_from_slice(&p[o * l * inner..(o + 1) * l * inner]);
        }
        off += l;
    }
}

/// `out[o, j, :] = x[o, idx[j], :]` on an (outer, axis, inner) view.
/// Indices are checked by the caller.
pub(crate) fn index_select(x: &[f32], outer: usize, axis: usize, inner: usize, idx: &[usize], out: &mut [f32]) {
    let n = idx.len();
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            out[(o * n + j) * inner..(o * n + j + 1) * inner]
                .copy_from_slice(&x[(o * axis + i) * inner..(o * axis + i + 1) * inner]);
        }
    }
}

/// Scatter-adds `g` back through [`index_select`] (repeated indices accumulate).
pub(crate) fn index_select_backward(g: &[f32], outer: usize, axis: usize, inner: usize, idx: &[usize], gx: &mut [f32]) {
    let n = idx.len();
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            let dst = &mut gx[(o * axis + i) * inner..(o * axis + i + 1) * inner];
            dst.iter_mut().zip(&g[(o * n + j) * inner..(o * n + j + 1) * inner]).for_each(|(d, &s)| *d += s);
        }
    }
}

/// `out[r] = x[r, idx[r]]` for a rows×n matrix: one element per row (the
/// picked log-probabilities of a classification loss).
pub(crate) fn gather_rows(x: &[f32], n: usize, idx: &[usize], out: &mut [f32]) {
    for (r, (&i, o)) in idx.iter().zip(out.iter_mut()).enumerate() {
        *o = x[r * n + i];
    }
}

/// The adjoint of [`gather_rows`]: `gx` is zeroed, then `gx[r, idx[r]] = g[r]`.
pub(crate) fn gather_rows_backward(g: &[f32], n: usize, idx: &[usize], gx: &mut [f32]) {
    gx.fill(0.0);
    for (r, (&i, &gi)) in idx.iter().zip(g).enumerate() {
        gx[r * n + i] = gi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_3d_and_transpose() {
        let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let mut out = vec![0.0; 24];
        permute(&x, &[2, 3, 4], &[2, 0, 1], &mut out);
        // out[k][i][j] = x[i][j][k]; out shape [4,2,3]
        assert_eq!(out[(3 * 2 + 1) * 3 + 2], x[(3 + 2) * 4 + 3]);
        let mut t = vec![0.0; 6];
        permute(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &[1, 0], &mut t);
        assert_eq!(t, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn slice_then_concat_restores() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect(); // 2x6
        let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 8]);
        slice_axis(&x, 2, 6, 1, 0, 2, &mut a);
        slice_axis(&x, 2, 6, 1, 2, 4, &mut b);
        let mut y = vec![0.0; 12];
        concat_axis(&[&a, &b], &[2, 4], 2, 1, &mut y);
        assert_eq!(x, y);
    }
}
