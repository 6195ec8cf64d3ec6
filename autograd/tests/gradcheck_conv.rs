//! Gradient checks of convolution and pooling (stride, padding, dilation,
//! groups, non-square kernels), a conv2d forward compared with the direct
//! definition, and the shape errors.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{ConvParams, Error, PoolParams, Tape, Tensor, Var};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn rand_t(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Distinct values 0.1 apart in random order: no ties for max pooling, and a
/// finite-difference step cannot change which element is the maximum.
fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - n as f32 * 0.05).collect();
    v.shuffle(&mut StdRng::seed_from_u64(seed));
    Tensor::from_vec(v, shape).unwrap()
}

fn check(inputs: &[Tensor], f: impl Fn(&[Var]) -> blitz_autograd::Result<Var>) {
    gradcheck(inputs, f, GradcheckOptions::default()).unwrap();
}

/// Checks conv with and without bias; `rank` picks conv1d/2d/3d.
fn conv_check(rank: usize, x: &[usize], w: &[usize], p: ConvParams) {
    let conv = move |v: &[Var], bias: Option<&Var>, p: &ConvParams| match rank {
        1 => v[0].conv1d(&v[1], bias, p),
        2 => v[0].conv2d(&v[1], bias, p),
        _ => v[0].conv3d(&v[1], bias, p),
    };
    let b = rand_t(&[w[0]], 3);
    check(&[rand_t(x, 1), rand_t(w, 2), b], |v| conv(v, Some(&v[2]), &p));
    check(&[rand_t(x, 4), rand_t(w, 5)], |v| conv(v, None, &p));
}

#[test]
fn gradcheck_conv1d_plain() {
    conv_check(1, &[2, 3, 7], &[4, 3, 3], ConvParams::default());
}

#[test]
fn gradcheck_conv1d_stride_padding_dilation_groups() {
    conv_check(1, &[2, 4, 9], &[6, 2, 3], ConvParams::default().stride(2).padding(1).dilation(2).groups(2));
}

#[test]
fn gradcheck_conv2d_plain() {
    conv_check(2, &[2, 2, 5, 6], &[3, 2, 3, 3], ConvParams::default());
}

#[test]
fn gradcheck_conv2d_non_square_kernel_and_padding() {
    conv_check(2, &[1, 2, 5, 6], &[3, 2, 2, 4], ConvParams::default().padding((1, 2)));
}

#[test]
fn gradcheck_conv2d_stride() {
    conv_check(2, &[2, 1, 7, 6], &[2, 1, 3, 2], ConvParams::default().stride((2, 3)));
}

#[test]
fn gradcheck_conv2d_dilation() {
    conv_check(2, &[1, 2, 7, 7], &[2, 2, 3, 2], ConvParams::default().dilation((2, 3)).padding(1));
}

#[test]
fn gradcheck_conv2d_groups() {
    conv_check(2, &[2, 6, 4, 5], &[9, 2, 2, 3], ConvParams::default().groups(3));
}

#[test]
fn gradcheck_conv2d_depthwise_all_options() {
    conv_check(
        2,
        &[1, 4, 8, 7],
        &[4, 1, 3, 2],
        ConvParams::default().groups(4).stride(2).dilation((1, 2)).padding((2, 1)),
    );
}

#[test]
fn gradcheck_conv3d_plain() {
    conv_check(3, &[1, 2, 3, 4, 4], &[2, 2, 2, 2, 3], ConvParams::default());
}

#[test]
fn gradcheck_conv3d_stride_padding_dilation_groups() {
    conv_check(
        3,
        &[2, 2, 4, 5, 4],
        &[4, 1, 2, 3, 2],
        ConvParams::default().stride((1, 2, 1)).padding(1).dilation((2, 1, 1)).groups(2),
    );
}

#[test]
fn gradcheck_max_pool1d() {
    check(&[distinct(&[2, 3, 9], 1)], |v| v[0].max_pool1d(&PoolParams::new(3).stride(2).padding(1)));
}

#[test]
fn gradcheck_max_pool2d() {
    check(&[distinct(&[2, 2, 6, 5], 2)], |v| v[0].max_pool2d(&PoolParams::new(2)));
    check(&[distinct(&[1, 2, 7, 6], 3)], |v| v[0].max_pool2d(&PoolParams::new((3, 2)).stride((2, 1)).padding((1, 0))));
}

#[test]
fn gradcheck_avg_pool1d() {
    check(&[rand_t(&[2, 3, 8], 4)], |v| v[0].avg_pool1d(&PoolParams::new(3).stride(2).padding(1)));
}

#[test]
fn gradcheck_avg_pool2d() {
    check(&[rand_t(&[2, 2, 6, 5], 5)], |v| v[0].avg_pool2d(&PoolParams::new(2)));
    check(&[rand_t(&[1, 2, 7, 6], 6)], |v| v[0].avg_pool2d(&PoolParams::new((3, 2)).stride((2, 1)).padding((1, 1))));
}

/// conv2d by its definition: y[n,o,i,j] = b[o] + Σ x[n, c, i·s − p + a·d, j·s − p + b·d]·w[o, c', a, b].
#[allow(clippy::too_many_arguments)]
fn direct_conv2d(
    x: &[f32],
    xs: &[usize],
    w: &[f32],
    ws: &[usize],
    b: &[f32],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
) -> (Vec<f32>, Vec<usize>) {
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (oc, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
    let ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
    let ocg = oc / groups;
    let mut y = Vec::new();
    for ni in 0..n {
        for o in 0..oc {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[o] as f64;
                    for ci in 0..cg {
                        let ch = (o / ocg) * cg + ci;
                        for a in 0..kh {
                            for bb in 0..kw {
                                let (r, q) = (
                                    (i * s[0] + a * d[0]) as isize - p[0] as isize,
                                    (j * s[1] + bb * d[1]) as isize - p[1] as isize,
                                );
                                if r < 0 || q < 0 || r >= h as isize || q >= wd as isize {
                                    continue;
                                }
                                let xv = x[((ni * c + ch) * h + r as usize) * wd + q as usize];
                                acc += (xv * w[((o * cg + ci) * kh + a) * kw + bb]) as f64;
                            }
                        }
                    }
                    y.push(acc as f32);
                }
            }
        }
    }
    (y, vec![n, oc, oh, ow])
}

#[test]
fn conv2d_forward_matches_direct_convolution() {
    // (x shape, w shape, stride, padding, dilation, groups)
    let configs: [(&[usize], &[usize], [usize; 2], [usize; 2], [usize; 2], usize); 6] = [
        (&[2, 3, 8, 8], &[4, 3, 3, 3], [1, 1], [0, 0], [1, 1], 1),
        (&[3, 1, 28, 28], &[6, 1, 5, 5], [1, 1], [0, 0], [1, 1], 1),
        (&[2, 4, 9, 7], &[6, 2, 2, 3], [2, 1], [1, 2], [1, 1], 2),
        (&[1, 3, 10, 11], &[5, 3, 3, 2], [3, 2], [2, 0], [2, 3], 1),
        (&[2, 6, 6, 6], &[6, 1, 3, 3], [1, 1], [1, 1], [1, 1], 6),
        (&[70, 6, 12, 12], &[16, 6, 5, 5], [1, 1], [0, 0], [1, 1], 1), // large enough to run in parallel
    ];
    for (k, (xs, ws, s, p, d, groups)) in configs.into_iter().enumerate() {
        let (x, w, b) = (rand_t(xs, 10 + k as u64), rand_t(ws, 20 + k as u64), rand_t(&[ws[0]], 30 + k as u64));
        let tape = Tape::no_grad(0);
        let params = ConvParams::default().stride(s).padding(p).dilation(d).groups(groups);
        let y = tape
            .constant(x.clone())
            .conv2d(&tape.constant(w.clone()), Some(&tape.constant(b.clone())), &params)
            .unwrap();
        let (want, shape) =
            direct_conv2d(&x.to_vec().unwrap(), xs, &w.to_vec().unwrap(), ws, &b.to_vec().unwrap(), s, p, d, groups);
        assert_eq!(y.shape(), &shape[..], "config {k}");
        for (a, e) in y.value().to_vec().unwrap().iter().zip(&want) {
            assert!((a - e).abs() < 1e-4 * (1.0 + e.abs()), "config {k}: {a} vs {e}");
        }
    }
}

#[test]
fn conv_shape_errors_name_both_shapes() {
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::zeros(&[1, 3, 8, 8]).unwrap());
    let w = tape.constant(Tensor::zeros(&[4, 2, 3, 3]).unwrap());
    match x.conv2d(&w, None, &ConvParams::default()) {
        Err(Error::ShapeMismatch { op: "conv2d", lhs, rhs }) => {
            assert_eq!((lhs, rhs), (vec![1, 3, 8, 8], vec![4, 2, 3, 3]));
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
    let w = tape.constant(Tensor::zeros(&[4, 3, 3, 3]).unwrap());
    let b = tape.constant(Tensor::zeros(&[5]).unwrap());
    assert!(matches!(x.conv2d(&w, Some(&b), &ConvParams::default()), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(x.conv1d(&w, None, &ConvParams::default()), Err(Error::ShapeMismatch { .. })));
    let big = tape.constant(Tensor::zeros(&[4, 3, 9, 3]).unwrap());
    assert!(matches!(x.conv2d(&big, None, &ConvParams::default()), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.conv2d(&w, None, &ConvParams::default().stride(0)), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.conv2d(&w, None, &ConvParams::default().stride((1, 2, 3))), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.conv2d(&w, None, &ConvParams::default().groups(2)), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(x.max_pool1d(&PoolParams::new(2)), Err(Error::InvalidShape { .. })));
    assert!(matches!(x.max_pool2d(&PoolParams::new(9)), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.avg_pool2d(&PoolParams::new(2).padding(2)), Err(Error::InvalidArgument { .. })));
}

#[test]
fn conv_is_the_same_on_one_or_many_threads() {
    let (x, w) = (rand_t(&[64, 6, 12, 12], 1), rand_t(&[16, 6, 5, 5], 2));
    let run = || {
        let tape = Tape::new(0);
        let (xv, wv) = (tape.leaf(x.clone()), tape.leaf(w.clone()));
        let y = xv.conv2d(&wv, None, &ConvParams::default()).unwrap().max_pool2d(&PoolParams::new(2)).unwrap();
        let loss = y.square().unwrap().sum().unwrap();
        let g = tape.backward(&loss).unwrap();
        (y.value().to_vec().unwrap(), g.wrt(&xv).unwrap().to_vec().unwrap(), g.wrt(&wv).unwrap().to_vec().unwrap())
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run);
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(run);
    assert!(one == four, "results differ with the thread count");
}
