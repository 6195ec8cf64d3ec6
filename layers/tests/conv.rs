//! Convolution and pooling layers: BLiTZ's parameter names and defaults,
//! kernel sizes as numbers or tuples, torch's argument order, frozen mode,
//! the KL on the tape, and refused configurations.

use blitz_autograd::{ConvParams, Error, PoolParams, Tape, Tensor};
use blitz_layers::conv::{BayesianConv, BayesianConvOptions};
use blitz_layers::module::{params, BayesianModule};
use blitz_layers::{
    AvgPool1d, AvgPool2d, BayesianConv1d, BayesianConv2d, BayesianConv3d, Conv1d, Conv2d, Conv3d, Flatten, KlMode,
    MaxPool1d, MaxPool2d, Module, VariationalEstimator,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn mean(t: &Tensor) -> f32 {
    let v = t.to_vec().unwrap();
    v.iter().sum::<f32>() / v.len() as f32
}

#[test]
fn bayesian_conv_has_blitz_names_shapes_and_defaults() {
    let l = BayesianConv2d::new(3, 8, (3, 5), &mut rng()).unwrap();
    let ps = params(&l);
    let names: Vec<&str> = ps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["weight_mu", "weight_rho", "bias_mu", "bias_rho"]);
    assert_eq!(ps[0].1.value().shape(), &[8, 3, 3, 5]);
    assert_eq!(ps[3].1.value().shape(), &[8]);
    assert!((mean(&ps[1].1.value()) + 6.0).abs() < 0.05, "2d rho init is -6");
    assert!(mean(&ps[0].1.value()).abs() < 0.05, "mu init is 0");
    let l1 = BayesianConv1d::new(2, 4, 3, &mut rng()).unwrap();
    assert!((mean(&l1.weight().1.value()) + 7.0).abs() < 0.1, "1d rho init is -7");
    let l3 = BayesianConv3d::new(2, 4, 3, &mut rng()).unwrap();
    assert_eq!(l3.weight().0.value().shape(), &[4, 2, 3, 3, 3]);
    let o = BayesianConvOptions::default();
    assert_eq!((o.prior_sigma_1, o.prior_sigma_2, o.prior_pi, o.posterior_mu_init), (0.1, 0.002, 1.0, 0.0));
    let nb = BayesianConv2d::with_options(2, 4, 3, ConvParams::default(), o.without_bias(), &mut rng()).unwrap();
    assert_eq!(params(&nb).len(), 2, "no bias parameters at all without bias");
}

#[test]
fn torch_argument_order_stride_before_groups() {
    let p = ConvParams::default().stride(2).padding(1).dilation(1).groups(2);
    let l = BayesianConv2d::with_options(4, 6, (3, 3), p, BayesianConvOptions::default(), &mut rng()).unwrap();
    assert_eq!(l.weight().0.value().shape(), &[6, 2, 3, 3]);
    let tape = Tape::new(1);
    let y = l.forward(&tape.constant(Tensor::zeros(&[2, 4, 9, 8]).unwrap())).unwrap();
    assert_eq!(y.shape(), &[2, 6, 5, 4]);
}

#[test]
fn frozen_predicts_with_means_and_adds_no_kl() {
    let l = BayesianConv2d::new(1, 2, 3, &mut rng()).unwrap();
    let x = Tensor::randn(&[2, 1, 6, 6], 0.0, 1.0, &mut rng()).unwrap();
    let run = |seed| {
        let tape = Tape::new(seed);
        let y = l.forward(&tape.constant(x.clone())).unwrap().value().to_vec().unwrap();
        (y, tape.complexity().unwrap().item().unwrap())
    };
    let (a, kl_a) = run(1);
    let (b, _) = run(2);
    assert_ne!(a, b, "sampled weights differ between draws");
    assert!(kl_a.is_finite() && kl_a != 0.0);
    l.freeze();
    assert!(l.is_frozen());
    let (c, kl_c) = run(1);
    let (d, _) = run(2);
    assert_eq!(c, d);
    assert_eq!(kl_c, 0.0);
    l.unfreeze();
    assert!(!l.is_frozen());
}

#[test]
fn closed_form_kl_and_gradients_reach_every_parameter() {
    let o = BayesianConvOptions::default().with_kl(KlMode::ClosedForm);
    let l = BayesianConv::<1>::with_options(2, 3, 2, ConvParams::default(), o, &mut rng()).unwrap();
    let tape = Tape::new(3);
    let x = tape.constant(Tensor::randn(&[2, 2, 5], 0.0, 1.0, &mut rng()).unwrap());
    let loss = l.forward(&x).unwrap().square().unwrap().sum().unwrap().add(&tape.complexity().unwrap()).unwrap();
    let g = tape.backward(&loss).unwrap();
    for (name, p) in params(&l) {
        assert!(g.get(&p).is_some(), "no gradient for {name}");
    }
    assert!(l.kl(&Tape::no_grad(0)).unwrap().is_some());
    assert!(BayesianModule::moped(&l, 0.1).is_ok());
    assert!(BayesianModule::moped(&l, -1.0).is_err());
}

#[test]
fn deterministic_convs_pools_and_flatten() {
    let tape = Tape::new(0);
    let c1 = Conv1d::new(2, 3, 3, &mut rng()).unwrap();
    assert_eq!(c1.forward(&tape.constant(Tensor::zeros(&[1, 2, 7]).unwrap())).unwrap().shape(), &[1, 3, 5]);
    let c2 = Conv2d::with_params(2, 4, (3, 1), ConvParams::default().padding((1, 0)), false, &mut rng()).unwrap();
    assert!(c2.bias().is_none());
    let y = c2.forward(&tape.constant(Tensor::zeros(&[1, 2, 6, 5]).unwrap())).unwrap();
    assert_eq!(y.shape(), &[1, 4, 6, 5]);
    let c3 = Conv3d::new(1, 2, (1, 2, 2), &mut rng()).unwrap();
    assert_eq!(c3.forward(&tape.constant(Tensor::zeros(&[1, 1, 2, 3, 3]).unwrap())).unwrap().shape(), &[1, 2, 2, 2, 2]);
    assert_eq!(MaxPool2d::new(2).forward(&y).unwrap().shape(), &[1, 4, 3, 2]);
    assert_eq!(AvgPool2d::new((3, 1)).forward(&y).unwrap().shape(), &[1, 4, 2, 5]);
    let z = tape.constant(Tensor::zeros(&[2, 3, 8]).unwrap());
    assert_eq!(MaxPool1d::new(2).forward(&z).unwrap().shape(), &[2, 3, 4]);
    assert_eq!(AvgPool1d::with_params(PoolParams::new(3).stride(1)).forward(&z).unwrap().shape(), &[2, 3, 6]);
    assert_eq!(Flatten.forward(&y).unwrap().shape(), &[1, 120]);
}

#[test]
fn bad_configurations_are_typed_errors() {
    let e = BayesianConv2d::with_options(
        3,
        4,
        3,
        ConvParams::default().groups(2),
        BayesianConvOptions::default(),
        &mut rng(),
    );
    assert!(matches!(e, Err(Error::InvalidArgument { name: "groups", .. })));
    assert!(matches!(BayesianConv2d::new(3, 4, (3, 3, 3), &mut rng()), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Conv2d::new(0, 4, 3, &mut rng()), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Conv2d::new(1, 4, 0, &mut rng()), Err(Error::InvalidArgument { .. })));
    let bad_prior = BayesianConvOptions { prior_pi: 1.5, ..BayesianConvOptions::default() };
    assert!(BayesianConv2d::with_options(1, 1, 1, ConvParams::default(), bad_prior, &mut rng()).is_err());
    // A wrong input shape at forward time names both shapes.
    let l = BayesianConv2d::new(3, 4, 3, &mut rng()).unwrap();
    let tape = Tape::new(0);
    let r = l.forward(&tape.constant(Tensor::zeros(&[1, 2, 8, 8]).unwrap()));
    assert!(matches!(r, Err(Error::ShapeMismatch { op: "conv2d", .. })));
}
