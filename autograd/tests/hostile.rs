//! Hostile shapes: sizes that overflow `usize`, or ask for more memory than
//! the machine has, end in a typed error (in debug and release builds), never
//! in a wrapped count, a crash inside a kernel, or an abort.

use blitz_autograd::{Tape, Tensor};
use blitz_kernels::Error;

fn is_overflow<T: std::fmt::Debug>(r: blitz_kernels::Result<T>) -> bool {
    matches!(r, Err(Error::ShapeOverflow { .. }))
}

fn is_too_large<T: std::fmt::Debug>(r: blitz_kernels::Result<T>) -> bool {
    matches!(r, Err(Error::ShapeOverflow { .. } | Error::TooLarge { .. }))
}

#[test]
fn a_shape_whose_element_count_wraps_is_refused() {
    // 2^32 · 2^32 wraps to 0 in release: an empty Vec used to be accepted.
    assert!(is_overflow(Tensor::from_vec(vec![], &[1 << 32, 1 << 32])));
    assert!(is_overflow(Tensor::from_vec(vec![], &[1 << 32, 1 << 32, 1 << 32])));
    assert!(is_overflow(Tensor::zeros(&[1 << 32, 1 << 32])));
    assert!(is_overflow(Tensor::full(&[usize::MAX, 2], 1.0)));
    let mut rng = rand::rng();
    assert!(is_overflow(Tensor::randn(&[1 << 32, 1 << 32], 0.0, 1.0, &mut rng)));
    assert!(is_overflow(Tensor::rand_uniform(&[1 << 32, 1 << 32], 0.0, 1.0, &mut rng)));
    let t = Tensor::zeros(&[0]).unwrap();
    assert_eq!(t.reshape(&[0, 1 << 62]).unwrap().shape(), &[0, 1 << 62]);
    // 2^64 wraps to 0 (= t's count) in release.
    assert!(is_overflow(t.reshape(&[1 << 32, 1 << 32])));
    assert!(is_overflow(Tensor::zeros(&[2]).unwrap().reshape(&[1 << 33, 1 << 33, 2])));
}

#[test]
fn a_shape_too_large_for_memory_is_refused_before_allocating() {
    // 2^40 floats is 4 TiB: refused by the memory check, not an abort.
    assert!(matches!(Tensor::zeros(&[1 << 20, 1 << 20]), Err(Error::TooLarge { .. })));
    assert!(matches!(Tensor::full(&[1 << 40], 0.5), Err(Error::TooLarge { .. })));
}

#[test]
fn matmul_on_the_largest_legal_shapes_returns_errors() {
    let tape = Tape::new(0);
    // Zero-element operands with huge dimensions are legal tensors.
    let a = tape.constant(Tensor::zeros(&[1 << 40, 0]).unwrap());
    let b = tape.constant(Tensor::zeros(&[0, 1 << 40]).unwrap());
    // m·n = 2^80: the output's count overflows.
    assert!(is_overflow(a.matmul(&b)));
    // The transposed product of the same: m·n again.
    assert!(is_overflow(a.matmul_t(&a)));
    // 2^20 × 2^20 output from valid m×0 and 0×n operands: 4 TiB.
    let a = tape.constant(Tensor::zeros(&[1 << 20, 0]).unwrap());
    let b = tape.constant(Tensor::zeros(&[0, 1 << 20]).unwrap());
    assert!(is_too_large(a.matmul(&b)));
    // m×1 by 1×n from small inputs: (2^20)² outputs.
    let a = tape.constant(Tensor::zeros(&[1 << 20, 1]).unwrap());
    let b = tape.constant(Tensor::zeros(&[1, 1 << 20]).unwrap());
    assert!(is_too_large(a.matmul(&b)));
    // Empty products still work.
    let e = tape.constant(Tensor::zeros(&[0, 1 << 40]).unwrap());
    let f = tape.constant(Tensor::zeros(&[1 << 40, 0]).unwrap());
    assert_eq!(e.matmul(&f).unwrap().shape(), &[0, 0]);
}

#[test]
fn broadcasting_concat_and_index_select_check_the_output_size() {
    let tape = Tape::new(0);
    let col = tape.constant(Tensor::zeros(&[1 << 20, 1]).unwrap());
    let row = tape.constant(Tensor::zeros(&[1, 1 << 20]).unwrap());
    assert!(is_too_large(col.add(&row)));
    let huge_col = tape.constant(Tensor::zeros(&[1 << 40, 1, 0]).unwrap());
    let huge_row = tape.constant(Tensor::zeros(&[1, 1 << 40, 0]).unwrap());
    // [2^40, 2^40, 0] has no element; `checked_numel` refuses it all the
    // same (its partial product overflows): an error, never a wrong shape.
    match huge_col.add(&huge_row) {
        Ok(v) => assert_eq!(v.shape(), &[1 << 40, 1 << 40, 0]),
        Err(e) => assert!(matches!(e, Error::ShapeOverflow { .. }), "{e}"),
    }
    let wide = tape.constant(Tensor::zeros(&[0, 1 << 62]).unwrap());
    // Four parts of 2^62 along the axis: the sum of lengths wraps to 0.
    assert!(is_overflow(blitz_autograd::Var::concat(&[&wide, &wide, &wide, &wide], 1)));
    let x = tape.constant(Tensor::zeros(&[2, 1 << 16]).unwrap());
    let idx = vec![0usize; 1 << 22];
    // 2^22 rows of 2^16: 1 TiB of rows picked from a 512 KiB table.
    assert!(matches!(x.index_select(0, &idx), Err(Error::TooLarge { .. })));
}

#[test]
fn kernel_entry_points_check_operand_lengths() {
    use blitz_kernels::{ops, Buffer, Transpose};
    let a = Buffer::Cpu(vec![0.0; 6]);
    let b = Buffer::Cpu(vec![0.0; 6]);
    // Lengths that do not match m, k, n.
    assert!(matches!(
        ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, 3, 3, 2, Transpose::NN),
        Err(Error::InvalidShape { .. })
    ));
    // m·k that wraps to the slice's length in release.
    let m = 1usize << 63;
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, m, 2, 3, Transpose::NN).is_err());
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1 << 62, 2, 3, 1, Transpose::NN).is_err());
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, 2, 3, 2, Transpose::NN).is_ok());
    assert!(is_overflow(ops::expand_axis_in(&blitz_kernels::Context::default(), &a, 2, usize::MAX, 3)));
    assert!(is_overflow(ops::concat_axis_in(&blitz_kernels::Context::default(), &[&a, &b], &[usize::MAX, 2], 1, 1)));
}
