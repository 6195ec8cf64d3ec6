//! `Var::linear` is `matmul_t` then a broadcast `add`, fused: the same bits
//! forward and backward, and the same shape errors.

use blitz_autograd::{Error, Tape, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn linear_is_matmul_t_plus_bias_bit_for_bit() {
    // 300×70: above the element-wise threads' threshold, and rows of 70.
    let (x, w, b, up) = (randn(&[300, 40], 1), randn(&[70, 40], 2), randn(&[70], 3), randn(&[300, 70], 4));
    let run = |fused: bool| {
        let tape = Tape::new(0);
        let (xv, wv, bv) = (tape.leaf(x.clone()), tape.leaf(w.clone()), tape.leaf(b.clone()));
        let y = if fused { xv.linear(&wv, Some(&bv)).unwrap() } else { xv.matmul_t(&wv).unwrap().add(&bv).unwrap() };
        let g = tape.backward(&y.mul(&tape.constant(up.clone())).unwrap().sum().unwrap()).unwrap();
        let grads: Vec<Vec<u32>> = [&xv, &wv, &bv].iter().map(|v| bits(g.wrt(v).unwrap())).collect();
        (bits(y.value()), grads)
    };
    assert_eq!(run(true), run(false));
}

#[test]
fn linear_refuses_a_bias_of_the_wrong_length() {
    let tape = Tape::new(0);
    let (x, w) = (tape.leaf(randn(&[3, 4], 5)), tape.leaf(randn(&[5, 4], 6)));
    for shape in [&[4][..], &[1, 5], &[6]] {
        let err = x.linear(&w, Some(&tape.leaf(Tensor::zeros(shape).unwrap()))).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "linear", .. }), "{shape:?}: {err:?}");
    }
    let y = x.linear(&w, None).unwrap();
    assert_eq!(bits(y.value()), bits(x.matmul_t(&w).unwrap().value()), "no bias: the product alone");
}

#[test]
fn add_rows_refuses_a_row_that_does_not_divide() {
    use blitz_kernels::{ops, Buffer};
    let mut c = Buffer::Cpu(vec![1.0; 6]);
    for b in [vec![], vec![1.0; 4]] {
        let err = ops::add_rows_in(&blitz_kernels::Context::default(), &mut c, &Buffer::Cpu(b)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "add_rows", .. }), "{err:?}");
    }
    ops::add_rows_in(&blitz_kernels::Context::default(), &mut c, &Buffer::Cpu(vec![0.5, 1.0, 2.0])).unwrap();
    assert_eq!(c.to_vec().unwrap(), [1.5, 2.0, 3.0, 1.5, 2.0, 3.0]);
}
