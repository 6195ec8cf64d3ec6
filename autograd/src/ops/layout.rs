//! Moving data without arithmetic. Each backward is the adjoint movement:
//! reshape back, the inverse permutation, scatter a slice into zeros, split a
//! concatenation, scatter-add what was gathered.

use crate::{Tensor, Var};
use blitz_kernels::shape::{checked_output, numel, split_at_axis};
use blitz_kernels::{ops, Error, Result};

impl Var {
    /// The same elements under another shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        let from = self.shape().to_vec();
        let y = self.value().reshape(shape)?;
        self.tape().record("reshape", y, &[self], Box::new(move |g, _| Ok(vec![Some(g.reshape(&from)?)])))
    }

    /// Collapses all axes after the first: `[n, ...] -> [n, rest]`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a scalar.
    pub fn flatten(&self) -> Result<Var> {
        let s = self.shape();
        if s.is_empty() {
            return Err(Error::InvalidShape {
                op: "flatten",
                shape: Vec::new(),
                reason: "a scalar has no batch axis".into(),
            });
        }
        let rest = numel(&s[1..]);
        self.reshape(&[s[0], rest])
    }

    /// Reorders axes: output axis i is input axis `perm[i]` (materialised).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `perm` is a permutation of the axes.
    pub fn permute(&self, perm: &[usize]) -> Result<Var> {
        let ctx = self.tape().context();
        let shape = self.shape().to_vec();
        let mut seen = vec![false; shape.len()];
        if perm.len() != shape.len() || perm.iter().any(|&p| p >= shape.len() || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::invalid("permutation", format!("{perm:?} for shape {shape:?}")));
        }
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let y = Tensor::from_parts(ops::permute_in(&ctx, self.value().buffer(), &shape, perm)?, out_shape.clone());
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        self.tape().record(
            "permute",
            y,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(Tensor::from_parts(
                    ops::permute_in(&ctx, g.buffer(), &out_shape, &inverse)?,
                    shape.clone(),
                ))])
            }),
        )
    }

    /// Swaps two axes.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var> {
        let rank = self.shape().len();
        for ax in [a, b] {
            if ax >= rank {
                return Err(Error::AxisOutOfRange { op: "transpose", axis: ax, rank });
            }
        }
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Elements `start..start+len` along `axis`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::IndexOutOfRange`] when the range
    /// leaves the axis.
    pub fn slice(&self, axis: usize, start: usize, len: usize) -> Result<Var> {
        let ctx = self.tape().context();
        let shape = self.shape().to_vec();
        let (outer, ax, inner) = split_at_axis("slice", &shape, axis)?;
        if start + len > ax {
            return Err(Error::IndexOutOfRange { op: "slice", index: start + len, len: ax + 1 });
        }
        let mut out_shape = shape.clone();
        out_shape[axis] = len;
        let y = Tensor::from_parts(
            ops::slice_axis_in(&ctx, self.value().buffer(), outer, ax, inner, start, len)?,
            out_shape,
        );
        self.tape().record(
            "slice",
            y,
            &[self],
            Box::new(move |g, _| {
                let gx = ops::slice_axis_backward_in(&ctx, g.buffer(), outer, ax, inner, start, len)?;
                Ok(vec![Some(Tensor::from_parts(gx, shape.clone()))])
            }),
        )
    }

    /// Joins `parts` along `axis`; all other axes must agree.
    ///
    /// # Errors
    /// [`Error::Empty`] for no parts; [`Error::ShapeMismatch`] naming the
    /// first part and the one that differs; [`Error::AxisOutOfRange`];
    /// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for a result that
    /// cannot be allocated.
    pub fn concat(parts: &[&Var], axis: usize) -> Result<Var> {
        let first = parts.first().ok_or(Error::Empty { op: "concat" })?;
        let ctx = first.tape().context();
        let base = first.shape().to_vec();
        let (outer, _, inner) = split_at_axis("concat", &base, axis)?;
        let mut lens = Vec::with_capacity(parts.len());
        for p in parts {
            let s = p.shape();
            let fits = s.len() == base.len() && s.iter().zip(&base).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !fits {
                return Err(Error::ShapeMismatch { op: "concat", lhs: base.clone(), rhs: s.to_vec() });
            }
            first.check_same_device("concat", p)?;
            lens.push(s[axis]);
        }
        let bufs: Vec<_> = parts.iter().map(|p| p.value().buffer()).collect();
        let mut out_shape = base.clone();
        let total = lens.iter().try_fold(0usize, |acc, &l| acc.checked_add(l));
        out_shape[axis] = total.ok_or_else(|| Error::ShapeOverflow { op: "concat", shape: lens.clone() })?;
        checked_output("concat", &out_shape)?;
        let total = out_shape[axis];
        let y = Tensor::from_parts(ops::concat_axis_in(&ctx, &bufs, &lens, outer, inner)?, out_shape);
        let shapes: Vec<Vec<usize>> = parts.iter().map(|p| p.shape().to_vec()).collect();
        first.tape().record(
            "concat",
            y,
            parts,
            Box::new(move |g, needs| {
                let mut start = 0;
                let mut out = Vec::with_capacity(lens.len());
                for ((&len, shape), &need) in lens.iter().zip(&shapes).zip(needs) {
                    out.push(if need {
                        Some(Tensor::from_parts(
                            ops::slice_axis_in(&ctx, g.buffer(), outer, total, inner, start, len)?,
                            shape.clone(),
                        ))
                    } else {
                        None
                    });
                    start += len;
                }
                Ok(out)
            }),
        )
    }

    /// Picks whole slices along `axis` by index (rows of an embedding table, say).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::IndexOutOfRange`] for a bad index;
    /// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for a result that
    /// cannot be allocated.
    pub fn index_select(&self, axis: usize, idx: &[usize]) -> Result<Var> {
        let ctx = self.tape().context();
        let shape = self.shape().to_vec();
        let (outer, ax, inner) = split_at_axis("index_select", &shape, axis)?;
        if let Some(&bad) = idx.iter().find(|&&i| i >= ax) {
            return Err(Error::IndexOutOfRange { op: "index_select", index: bad, len: ax });
        }
        let mut out_shape = shape.clone();
        out_shape[axis] = idx.len();
        checked_output("index_select", &out_shape)?;
        let y =
            Tensor::from_parts(ops::index_select_in(&ctx, self.value().buffer(), outer, ax, inner, idx)?, out_shape);
        let idx = idx.to_vec();
        self.tape().record(
            "index_select",
            y,
            &[self],
            Box::new(move |g, _| {
                let gx = ops::index_select_backward_in(&ctx, g.buffer(), outer, ax, inner, &idx)?;
                Ok(vec![Some(Tensor::from_parts(gx, shape.clone()))])
            }),
        )
    }

    /// `out[r] = x[r, idx[r]]` for a `[rows, n]` matrix: one entry per row
    /// (the log-probability of each example's class).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] unless rank 2; [`Error::ShapeMismatch`] when
    /// `idx.len()` is not the row count; [`Error::IndexOutOfRange`].
    pub fn gather_rows(&self, idx: &[usize]) -> Result<Var> {
        let ctx = self.tape().context();
        let shape = self.shape().to_vec();
        if shape.len() != 2 {
            return Err(Error::InvalidShape { op: "gather_rows", shape, reason: "expects a [rows, n] matrix".into() });
        }
        let (rows, n) = (shape[0], shape[1]);
        if idx.len() != rows {
            return Err(Error::ShapeMismatch { op: "gather_rows", lhs: shape, rhs: vec![idx.len()] });
        }
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::IndexOutOfRange { op: "gather_rows", index: bad, len: n });
        }
        let y = Tensor::from_parts(ops::gather_rows_in(&ctx, self.value().buffer(), n, idx)?, vec![rows]);
        let idx = idx.to_vec();
        self.tape().record(
            "gather_rows",
            y,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(Tensor::from_parts(
                    ops::gather_rows_backward_in(&ctx, g.buffer(), n, &idx)?,
                    shape.clone(),
                ))])
            }),
        )
    }
}
