//! Element-wise ops by their definitions, one element at a time, with the
//! standard library's functions (the fast CPU paths use vectorisable
//! approximations of exp, ln and softplus; the tests state the tolerance).

use crate::types::{BinaryOp, ScalarOp, UnaryOp};

/// f(x) for one element.
pub fn unary_eval(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Softplus => softplus(x),
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Square => x * x,
        UnaryOp::Abs => x.abs(),
    }
}

/// f'(x) for one element (from x alone: the definition, not the shortcut through y).
pub fn unary_derivative(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -1.0,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => 1.0 / x,
        UnaryOp::Log1p => 1.0 / (1.0 + x),
        UnaryOp::Softplus => sigmoid(x),
        UnaryOp::Sigmoid => sigmoid(x) * (1.0 - sigmoid(x)),
        UnaryOp::Tanh => 1.0 - x.tanh() * x.tanh(),
        UnaryOp::Relu => step(x),
        UnaryOp::Sqrt => 0.5 / x.sqrt(),
        UnaryOp::Square => 2.0 * x,
        UnaryOp::Abs => step(x) - step(-x),
    }
}

/// 1 for x > 0, else 0.
fn step(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// ln(1 + eˣ), as max(x, 0) + ln(1 + e^−|x|) so that it never overflows.
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// 1 / (1 + e⁻ˣ).
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `y[i] = f(x[i])`.
pub fn unary(op: UnaryOp, x: &[f32], y: &mut [f32]) {
    for i in 0..x.len() {
        y[i] = unary_eval(op, x[i]);
    }
}

/// `gx[i] = g[i]·f'(x[i])`.
pub fn unary_backward(op: UnaryOp, x: &[f32], g: &[f32], gx: &mut [f32]) {
    for i in 0..x.len() {
        gx[i] = g[i] * unary_derivative(op, x[i]);
    }
}

/// `y[i] = x[i] ∘ s`.
pub fn scalar(op: ScalarOp, x: &[f32], y: &mut [f32]) {
    for i in 0..x.len() {
        y[i] = match op {
            ScalarOp::Add(s) => x[i] + s,
            ScalarOp::Mul(s) => x[i] * s,
            ScalarOp::Pow(s) => x[i].powf(s),
        };
    }
}

/// `gx[i] = g[i]·d(x[i] ∘ s)/dx`.
pub fn scalar_backward(op: ScalarOp, x: &[f32], g: &[f32], gx: &mut [f32]) {
    for i in 0..x.len() {
        let d = match op {
            ScalarOp::Add(_) => 1.0,
            ScalarOp::Mul(s) => s,
            ScalarOp::Pow(s) => s * x[i].powf(s - 1.0),
        };
        gx[i] = g[i] * d;
    }
}

/// (∂(a ∘ b)/∂a, ∂(a ∘ b)/∂b) at (a, b).
pub fn binary_partials(op: BinaryOp, a: f32, b: f32) -> (f32, f32) {
    match op {
        BinaryOp::Add => (1.0, 1.0),
        BinaryOp::Sub => (1.0, -1.0),
        BinaryOp::Mul => (b, a),
        BinaryOp::Div => (1.0 / b, -a / (b * b)),
    }
}

/// a ∘ b for one pair.
pub fn binary_eval(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
    }
}

/// `out = a ∘ b` with NumPy broadcasting: shapes aligned at the last axis,
/// an axis of size 1 (or a missing leading axis) repeated.
pub fn binary(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out: &mut [f32],
    out_shape: &[usize],
) {
    let mut index: Vec<usize> = out_shape.iter().map(|_| 0).collect();
    for o in 0..out.len() {
        // index = the multi-index of output element o (last axis fastest).
        let mut rest = o;
        for axis in (0..out_shape.len()).rev() {
            index[axis] = rest % out_shape[axis];
            rest /= out_shape[axis];
        }
        out[o] = binary_eval(op, a[source(&index, a_shape)], b[source(&index, b_shape)]);
    }
}

/// The gradients of `out = a ∘ b` (broadcast) with respect to `a` and `b`,
/// each of its operand's shape: every output element's `g·∂/∂a` added (in
/// f64, in output order) to the element of `a` it read, the same for `b`.
#[allow(clippy::too_many_arguments)]
pub fn binary_backward(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    g: &[f32],
    out_shape: &[usize],
    ga: &mut [f32],
    gb: &mut [f32],
) {
    let mut sum_a: Vec<f64> = a.iter().map(|_| 0.0).collect();
    let mut sum_b: Vec<f64> = b.iter().map(|_| 0.0).collect();
    let mut index: Vec<usize> = out_shape.iter().map(|_| 0).collect();
    for o in 0..g.len() {
        let mut rest = o;
        for axis in (0..out_shape.len()).rev() {
            index[axis] = rest % out_shape[axis];
            rest /= out_shape[axis];
        }
        let (ia, ib) = (source(&index, a_shape), source(&index, b_shape));
        let (da, db) = binary_partials(op, a[ia], b[ib]);
        sum_a[ia] += g[o] as f64 * da as f64;
        sum_b[ib] += g[o] as f64 * db as f64;
    }
    for i in 0..ga.len() {
        ga[i] = sum_a[i] as f32;
    }
    for i in 0..gb.len() {
        gb[i] = sum_b[i] as f32;
    }
}

/// The flat index into an operand of `shape` that output multi-index `index` reads.
fn source(index: &[usize], shape: &[usize]) -> usize {
    let skip = index.len() - shape.len();
    let mut flat = 0;
    for axis in 0..shape.len() {
        let i = if shape[axis] == 1 { 0 } else { index[skip + axis] };
        flat = flat * shape[axis] + i;
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(softplus(0.0), std::f32::consts::LN_2);
        assert_eq!(softplus(100.0), 100.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(unary_derivative(UnaryOp::Abs, -2.0), -1.0);
        assert_eq!(unary_derivative(UnaryOp::Abs, 0.0), 0.0);
        let mut out = [0.0; 6];
        // [2,3] - [3] broadcasts the row.
        binary(BinaryOp::Sub, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &[1.0, 1.0, 2.0], &[3], &mut out, &[2, 3]);
        assert_eq!(out, [0.0, 1.0, 1.0, 3.0, 4.0, 4.0]);
        // [2,1] * [1,3] is an outer product.
        binary(BinaryOp::Mul, &[2.0, 3.0], &[2, 1], &[1.0, 10.0, 100.0], &[1, 3], &mut out, &[2, 3]);
        assert_eq!(out, [2.0, 20.0, 200.0, 3.0, 30.0, 300.0]);
        // Its gradients: ∂/∂a sums over the broadcast columns, ∂/∂b over the rows.
        let (mut ga, mut gb) = ([0.0; 2], [0.0; 3]);
        let g = [1.0; 6];
        binary_backward(
            BinaryOp::Mul,
            &[2.0, 3.0],
            &[2, 1],
            &[1.0, 10.0, 100.0],
            &[1, 3],
            &g,
            &[2, 3],
            &mut ga,
            &mut gb,
        );
        assert_eq!((ga, gb), ([111.0, 111.0], [5.0, 5.0, 5.0]));
    }
}
