//! A central-finite-difference check for every differentiable op and loss,
//! on random inputs of several shapes (broadcasting included). One test per
//! op, named `gradcheck_<op>`, so the test list shows what is covered.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{loss, Tensor, Var};
use blitz_kernels::UnaryOp;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rand_t(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Values in [lo, hi): keeps inputs away from kinks and domain edges.
fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    Tensor::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Values with |x| in [0.2, 2): away from the kinks of relu and abs at 0.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let t = uniform(shape, 0.2, 2.0, seed);
    let signs = uniform(shape, -1.0, 1.0, seed + 1000);
    let v: Vec<f32> = t.to_vec().unwrap().iter().zip(signs.to_vec().unwrap()).map(|(a, s)| a * s.signum()).collect();
    Tensor::from_vec(v, shape).unwrap()
}

fn check(inputs: &[Tensor], f: impl Fn(&[Var]) -> blitz_autograd::Result<Var>) {
    gradcheck(inputs, f, GradcheckOptions::default()).unwrap();
}

fn check1(x: &Tensor, f: impl Fn(&[Var]) -> blitz_autograd::Result<Var>) {
    check(std::slice::from_ref(x), f);
}

const SHAPES: [&[usize]; 3] = [&[5], &[3, 4], &[2, 3, 2]];

fn unary_check(op: UnaryOp, gen: impl Fn(&[usize], u64) -> Tensor) {
    for (i, s) in SHAPES.iter().enumerate() {
        check(&[gen(s, i as u64)], |v| v[0].unary(op));
    }
}

#[test]
fn gradcheck_neg() {
    unary_check(UnaryOp::Neg, rand_t);
}
#[test]
fn gradcheck_exp() {
    unary_check(UnaryOp::Exp, rand_t);
}
#[test]
fn gradcheck_log() {
    unary_check(UnaryOp::Log, |s, i| uniform(s, 0.5, 3.0, i));
}
#[test]
fn gradcheck_log1p() {
    unary_check(UnaryOp::Log1p, |s, i| uniform(s, -0.5, 3.0, i));
}
#[test]
fn gradcheck_softplus() {
    unary_check(UnaryOp::Softplus, |s, i| uniform(s, -4.0, 4.0, i));
}
#[test]
fn gradcheck_sigmoid() {
    unary_check(UnaryOp::Sigmoid, |s, i| uniform(s, -4.0, 4.0, i));
}
#[test]
fn gradcheck_tanh() {
    unary_check(UnaryOp::Tanh, |s, i| uniform(s, -2.0, 2.0, i));
}
#[test]
fn gradcheck_relu() {
    unary_check(UnaryOp::Relu, away_from_zero);
}
#[test]
fn gradcheck_sqrt() {
    unary_check(UnaryOp::Sqrt, |s, i| uniform(s, 0.5, 3.0, i));
}
#[test]
fn gradcheck_square() {
    unary_check(UnaryOp::Square, rand_t);
}
#[test]
fn gradcheck_abs() {
    unary_check(UnaryOp::Abs, away_from_zero);
}

#[test]
fn gradcheck_scalar_ops() {
    let x = uniform(&[3, 4], 0.5, 2.0, 1);
    check1(&x, |v| v[0].add_scalar(1.5));
    check1(&x, |v| v[0].sub_scalar(0.5));
    check1(&x, |v| v[0].mul_scalar(-2.5));
    check1(&x, |v| v[0].div_scalar(4.0));
    check1(&x, |v| v[0].powf(1.7));
}

/// Shape pairs that exercise every broadcasting path: equal, trailing row,
/// scalar, both sides broadcast, leading axes added.
const PAIRS: [(&[usize], &[usize]); 6] = [
    (&[3, 4], &[3, 4]),
    (&[3, 4], &[4]),
    (&[3, 4], &[]),
    (&[3, 1], &[1, 4]),
    (&[4], &[2, 3, 4]),
    (&[2, 1, 3], &[4, 1]),
];

fn binary_check(f: fn(&Var, &Var) -> blitz_autograd::Result<Var>, positive_rhs: bool) {
    for (i, (a, b)) in PAIRS.iter().enumerate() {
        let x = rand_t(a, 10 + i as u64);
        let y = if positive_rhs { uniform(b, 0.5, 2.0, 20 + i as u64) } else { rand_t(b, 20 + i as u64) };
        check(&[x, y], |v| f(&v[0], &v[1]));
    }
}

#[test]
fn gradcheck_add() {
    binary_check(Var::add, false);
}
#[test]
fn gradcheck_sub() {
    binary_check(Var::sub, false);
}
#[test]
fn gradcheck_mul() {
    binary_check(Var::mul, false);
}
#[test]
fn gradcheck_div() {
    binary_check(Var::div, true);
}

#[test]
fn gradcheck_matmul() {
    for &(m, k, n) in &[(3, 4, 5), (1, 6, 3), (4, 5, 1), (2, 1, 2)] {
        check(&[rand_t(&[m, k], 1), rand_t(&[k, n], 2)], |v| v[0].matmul(&v[1]));
    }
    check(&[rand_t(&[2, 3, 4], 3), rand_t(&[2, 4, 2], 4)], |v| v[0].matmul(&v[1]));
}

#[test]
fn gradcheck_matmul_t() {
    for &(m, k, n) in &[(3, 4, 5), (1, 6, 3), (4, 5, 1)] {
        check(&[rand_t(&[m, k], 5), rand_t(&[n, k], 6)], |v| v[0].matmul_t(&v[1]));
    }
    check(&[rand_t(&[2, 3, 4], 7), rand_t(&[2, 5, 4], 8)], |v| v[0].matmul_t(&v[1]));
}

#[test]
fn gradcheck_linear() {
    for &(m, k, n) in &[(3, 4, 5), (1, 6, 3), (4, 5, 1)] {
        let ins = [rand_t(&[m, k], 9), rand_t(&[n, k], 10), rand_t(&[n], 11)];
        check(&ins, |v| v[0].linear(&v[1], Some(&v[2])));
    }
    check(&[rand_t(&[2, 3, 4], 12), rand_t(&[2, 5, 4], 13), rand_t(&[5], 14)], |v| v[0].linear(&v[1], Some(&v[2])));
}

#[test]
fn gradcheck_sum() {
    for (i, s) in SHAPES.iter().enumerate() {
        check(&[rand_t(s, i as u64)], |v| v[0].sum());
    }
}
#[test]
fn gradcheck_mean() {
    for (i, s) in SHAPES.iter().enumerate() {
        check(&[rand_t(s, i as u64)], |v| v[0].mean());
    }
}
#[test]
fn gradcheck_sum_axis() {
    let x = rand_t(&[2, 3, 4], 9);
    for axis in 0..3 {
        check1(&x, |v| v[0].sum_axis(axis, false));
        check1(&x, |v| v[0].sum_axis(axis, true));
    }
}
#[test]
fn gradcheck_mean_axis() {
    let x = rand_t(&[2, 3, 4], 10);
    for axis in 0..3 {
        check1(&x, |v| v[0].mean_axis(axis, false));
    }
}
#[test]
fn gradcheck_max_axis() {
    // Distinct values so the arg-max is unique and stable under the probe step.
    let mut vals: Vec<f32> = (0..24).map(|i| i as f32 * 0.37).collect();
    vals.reverse();
    vals.swap(3, 17);
    let x = Tensor::from_vec(vals, &[2, 3, 4]).unwrap();
    for axis in 0..3 {
        check1(&x, |v| v[0].max_axis(axis, false));
    }
}

#[test]
fn gradcheck_softmax() {
    check(&[rand_t(&[3, 5], 11)], |v| v[0].softmax());
    check(&[rand_t(&[2, 2, 4], 12)], |v| v[0].softmax());
}
#[test]
fn gradcheck_log_softmax() {
    check(&[rand_t(&[3, 5], 13)], |v| v[0].log_softmax());
    check(&[rand_t(&[4], 14)], |v| v[0].log_softmax());
}

#[test]
fn gradcheck_reshape() {
    check(&[rand_t(&[2, 6], 15)], |v| v[0].reshape(&[3, 4])?.mul(&v[0].reshape(&[3, 4])?));
    check(&[rand_t(&[2, 3, 2], 15)], |v| v[0].flatten());
}
#[test]
fn gradcheck_permute() {
    check(&[rand_t(&[2, 3, 4], 16)], |v| v[0].permute(&[2, 0, 1]));
    check(&[rand_t(&[3, 5], 17)], |v| v[0].transpose(0, 1));
}
#[test]
fn gradcheck_slice() {
    let x = rand_t(&[3, 5, 2], 18);
    check1(&x, |v| v[0].slice(1, 1, 3));
    check1(&x, |v| v[0].slice(0, 2, 1));
    check1(&x, |v| v[0].slice(2, 0, 1));
}
#[test]
fn gradcheck_concat() {
    let (a, b, c) = (rand_t(&[2, 3], 19), rand_t(&[2, 1], 20), rand_t(&[2, 2], 21));
    check(&[a.clone(), b, c], |v| Var::concat(&[&v[0], &v[1], &v[2]], 1));
    check(&[a.clone(), a], |v| Var::concat(&[&v[0], &v[1]], 0));
}
#[test]
fn gradcheck_index_select() {
    let x = rand_t(&[4, 3], 22);
    check1(&x, |v| v[0].index_select(0, &[3, 0, 3, 1]));
    check1(&x, |v| v[0].index_select(1, &[2, 2]));
}
#[test]
fn gradcheck_gather_rows() {
    check(&[rand_t(&[4, 3], 23)], |v| v[0].gather_rows(&[2, 0, 1, 2]));
}

#[test]
fn gradcheck_reparam_sample() {
    let mu = rand_t(&[3, 7], 24);
    let rho = uniform(&[3, 7], -3.0, 1.0, 25);
    check(&[mu, rho], |v| v[0].reparam_sample(&v[1], 42, 8));
}
#[test]
fn gradcheck_reparam_sample_sigma() {
    let mu = rand_t(&[3, 7], 24);
    let sigma = uniform(&[3, 7], 0.05, 2.0, 25);
    check(&[mu, sigma], |v| v[0].reparam_sample_sigma(&v[1], 42, 8));
}
#[test]
fn gradcheck_reparam_log_posterior() {
    let rho = uniform(&[3, 7], -3.0, 1.0, 26);
    check(&[rho], |v| v[0].reparam_log_posterior(42, 8));
}

#[test]
fn gradcheck_mse() {
    check(&[rand_t(&[6, 1], 27), rand_t(&[6, 1], 28)], |v| loss::mse(&v[0], &v[1]));
}
#[test]
fn gradcheck_cross_entropy() {
    check(&[rand_t(&[5, 4], 29)], |v| loss::cross_entropy(&v[0], &[0, 3, 1, 1, 2]));
}
#[test]
fn gradcheck_gaussian_nll() {
    let (m, t) = (rand_t(&[6, 2], 30), rand_t(&[6, 2], 31));
    check(&[m.clone(), uniform(&[6, 2], -1.0, 1.0, 32), t.clone()], |v| loss::gaussian_nll(&v[0], &v[1], &v[2]));
    // One shared learned log-variance, broadcast over the batch.
    check(&[m, uniform(&[], -1.0, 1.0, 33), t], |v| loss::gaussian_nll(&v[0], &v[1], &v[2]));
}
#[test]
fn gradcheck_bce_with_logits() {
    check(&[rand_t(&[7], 34), uniform(&[7], 0.0, 1.0, 35)], |v| loss::bce_with_logits(&v[0], &v[1]));
}

/// The checker itself must fail on a wrong gradient: here the analytic
/// gradient is zero (the input is detached) while the numeric one is 2x.
#[test]
fn gradcheck_detects_a_wrong_gradient() {
    let r = gradcheck(&[rand_t(&[3], 36)], |v| v[0].detach().square(), GradcheckOptions::default());
    assert!(r.is_err(), "a detached input must fail the check");
}
