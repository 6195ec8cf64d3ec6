//! The kernels' public entry points on arguments that do not fit together:
//! lengths that do not match the sizes given, indices out of range, sizes
//! whose products overflow, geometries whose spans overflow. Each ends in a
//! typed error before a kernel runs (the GPU kernels index raw memory with
//! these sizes), in debug and release builds alike.

use blitz_kernels::{ops, BinaryOp, Buffer, ConvGeom, Error, PoolGeom};

fn buf(n: usize) -> Buffer {
    Buffer::Cpu((0..n).map(|i| i as f32).collect())
}

#[test]
fn binary_ops_check_shapes_against_buffers() {
    let (a, b) = (buf(6), buf(3));
    assert!(ops::binary_in(&blitz_kernels::Context::default(), BinaryOp::Add, &a, &[2, 3], &b, &[3], &[2, 3]).is_ok());
    // A buffer shorter than its shape, a wrong output shape, a wrapped shape.
    assert!(matches!(
        ops::binary_in(&blitz_kernels::Context::default(), BinaryOp::Add, &a, &[4, 3], &b, &[3], &[4, 3]),
        Err(Error::InvalidShape { .. })
    ));
    assert!(matches!(
        ops::binary_in(&blitz_kernels::Context::default(), BinaryOp::Mul, &a, &[2, 3], &b, &[3], &[5, 3]),
        Err(Error::ShapeMismatch { .. })
    ));
    let wrapped = [1usize << 32, 1 << 32, 6];
    assert!(
        ops::binary_in(&blitz_kernels::Context::default(), BinaryOp::Add, &a, &wrapped, &b, &[3], &wrapped).is_err()
    );
    let g = buf(5);
    assert!(ops::binary_backward_in(
        &blitz_kernels::Context::default(),
        BinaryOp::Mul,
        &a,
        &[2, 3],
        &b,
        &[3],
        &g,
        &[2, 3],
        (true, true)
    )
    .is_err());
    assert!(ops::sum_to_shape_in(&blitz_kernels::Context::default(), &a, &[2, 3], &[4]).is_err());
    assert!(ops::sum_to_shape_in(&blitz_kernels::Context::default(), &buf(5), &[2, 3], &[3]).is_err());
}

#[test]
fn layout_ops_check_indices_and_ranges() {
    let x = buf(12); // 3 × 4
    assert!(matches!(
        ops::index_select_in(&blitz_kernels::Context::default(), &x, 1, 3, 4, &[0, 3]),
        Err(Error::IndexOutOfRange { index: 3, len: 3, .. })
    ));
    assert!(ops::index_select_in(&blitz_kernels::Context::default(), &x, 1, 3, 4, &[2, 0]).is_ok());
    assert!(ops::index_select_in(&blitz_kernels::Context::default(), &x, 1, 4, 4, &[0]).is_err());
    assert!(ops::index_select_backward_in(&blitz_kernels::Context::default(), &buf(8), 1, 3, 4, &[0, 7]).is_err());
    assert!(matches!(
        ops::gather_rows_in(&blitz_kernels::Context::default(), &x, 4, &[0, 1, 4]),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(ops::gather_rows_backward_in(&blitz_kernels::Context::default(), &buf(3), 4, &[0, 1, usize::MAX]).is_err());
    assert!(ops::slice_axis_in(&blitz_kernels::Context::default(), &x, 1, 3, 4, 2, 2).is_err());
    assert!(ops::slice_axis_in(&blitz_kernels::Context::default(), &x, 1, 3, 4, usize::MAX, 2).is_err());
    assert!(ops::slice_axis_in(&blitz_kernels::Context::default(), &x, 1, 3, 4, 1, 2).is_ok());
    assert!(ops::slice_axis_backward_in(&blitz_kernels::Context::default(), &buf(4), 1, 3, 4, 3, 1).is_err());
    assert!(ops::permute_in(&blitz_kernels::Context::default(), &x, &[3, 4], &[0, 0]).is_err());
    assert!(ops::permute_in(&blitz_kernels::Context::default(), &x, &[3, 4], &[1]).is_err());
    assert!(ops::permute_in(&blitz_kernels::Context::default(), &x, &[3, 5], &[1, 0]).is_err());
    assert!(ops::permute_in(&blitz_kernels::Context::default(), &x, &[3, 4], &[1, 0]).is_ok());
    assert!(ops::concat_axis_in(&blitz_kernels::Context::default(), &[&x, &x], &[3], 1, 4).is_err());
    assert!(ops::concat_axis_in(&blitz_kernels::Context::default(), &[&x, &x], &[3, 2], 1, 4).is_err());
    assert!(ops::max_axis_backward_in(&blitz_kernels::Context::default(), &buf(4), &[0, 1, 2, 9], 1, 3, 4).is_err());
    assert!(ops::max_axis_in(&blitz_kernels::Context::default(), &x, 1, 5, 4).is_err());
    assert!(ops::softmax_in(&blitz_kernels::Context::default(), &x, 5, false).is_err());
    assert!(ops::softmax_in(&blitz_kernels::Context::default(), &x, 0, true).is_err());
    assert!(ops::softmax_backward_in(&blitz_kernels::Context::default(), &x, &buf(11), 4, false).is_err());
    assert!(ops::sum_axis_in(&blitz_kernels::Context::default(), &x, 2, 3, 4).is_err());
    assert!(ops::unary_backward_in(&blitz_kernels::Context::default(), blitz_kernels::UnaryOp::Tanh, &x, &x, &buf(11))
        .is_err());
}

#[test]
fn gemm_checks_lengths_with_checked_arithmetic() {
    use blitz_kernels::Transpose;
    let (a, b) = (buf(6), buf(6));
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, 2, 3, 2, Transpose::NN).is_ok());
    // m·k = 2^64 + 6 wraps to 6 in release: the old assert passed, and sgemm read out of bounds.
    let m = (1usize << 63) + 3;
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, m, 2, 3, Transpose::NN).is_err());
    assert!(ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1 << 63, 2, 3, 1, Transpose::TN).is_err());
    assert!(matches!(
        ops::gemm_in(&blitz_kernels::Context::default(), &a, &b, 1, 3, 3, 2, Transpose::NT),
        Err(Error::InvalidShape { .. })
    ));
}

fn conv(input: usize, kernel: usize, dilation: usize, padding: usize) -> ConvGeom {
    ConvGeom {
        input: [1, 1, input],
        kernel: [1, 1, kernel],
        dilation: [1, 1, dilation],
        padding: [0, 0, padding],
        ..ConvGeom::plain_2d(1, 1, 1, [1, input], [1, kernel])
    }
}

#[test]
fn conv_and_pool_geometry_use_checked_arithmetic() {
    // dilation·(kernel − 1) + 1 and input + 2·padding overflow.
    assert!(matches!(conv(8, 3, usize::MAX, 0).output(), Err(Error::ShapeOverflow { .. })));
    assert!(matches!(conv(8, 3, 1, usize::MAX / 2 + 1).output(), Err(Error::ShapeOverflow { .. })));
    assert_eq!(conv(8, 3, 1, 0).output().unwrap(), [1, 1, 6]);
    // Element counts that overflow.
    let g = ConvGeom { batch: 1 << 40, in_channels: 1 << 40, ..conv(8, 3, 1, 0) };
    assert!(matches!(g.output(), Err(Error::ShapeOverflow { .. })));
    let p =
        PoolGeom { planes: 1, input: [1, 1, 8], kernel: [1, 1, 2], stride: [1, 1, 2], padding: [0, 0, usize::MAX / 2] };
    assert!(p.output().is_err());
    let p = PoolGeom { planes: usize::MAX, input: [1, 1, 8], kernel: [1, 1, 2], stride: [1, 1, 2], padding: [0; 3] };
    assert!(matches!(p.output(), Err(Error::ShapeOverflow { .. })));
}

#[test]
fn conv_and_pool_entry_points_check_operand_lengths() {
    let g = conv(8, 3, 1, 0);
    let (x, w) = (buf(8), buf(3));
    assert_eq!(ops::conv_forward_in(&blitz_kernels::Context::default(), &x, &w, None, &g).unwrap().len(), 6);
    assert!(matches!(
        ops::conv_forward_in(&blitz_kernels::Context::default(), &buf(7), &w, None, &g),
        Err(Error::InvalidShape { .. })
    ));
    assert!(ops::conv_forward_in(&blitz_kernels::Context::default(), &x, &buf(2), None, &g).is_err());
    assert!(ops::conv_forward_in(&blitz_kernels::Context::default(), &x, &w, Some(&buf(2)), &g).is_err());
    assert!(ops::conv_backward_in(&blitz_kernels::Context::default(), &x, &w, &buf(5), &g, (true, true, true)).is_err());
    let p = PoolGeom { planes: 2, input: [1, 1, 8], kernel: [1, 1, 2], stride: [1, 1, 2], padding: [0; 3] };
    assert_eq!(ops::max_pool_forward_in(&blitz_kernels::Context::default(), &buf(16), &p).unwrap().len(), 8);
    assert!(ops::max_pool_forward_in(&blitz_kernels::Context::default(), &buf(15), &p).is_err());
    assert!(ops::avg_pool_forward_in(&blitz_kernels::Context::default(), &buf(17), &p).is_err());
    assert!(ops::max_pool_backward_in(&blitz_kernels::Context::default(), &buf(16), &buf(7), &p).is_err());
    assert!(ops::avg_pool_backward_in(&blitz_kernels::Context::default(), &buf(9), &p).is_err());
}

#[test]
fn buffers_and_draws_of_impossible_lengths_are_refused() {
    use blitz_kernels::Device;
    assert!(matches!(Buffer::zeros(usize::MAX, Device::Cpu), Err(Error::ShapeOverflow { .. })));
    assert!(matches!(Buffer::full(1 << 40, 1.0, Device::Cpu), Err(Error::TooLarge { .. })));
    assert!(matches!(
        ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, 0, 0, usize::MAX),
        Err(Error::ShapeOverflow { .. })
    ));
    assert!(matches!(
        ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, 0, 0, 1 << 40),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, 0, 0, 3).unwrap().len(), 3);
}
