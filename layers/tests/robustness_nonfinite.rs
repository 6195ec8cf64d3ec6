//! Bad numbers and bad hyperparameters: typed errors, and nothing changed.

use blitz_autograd::optim::{Adam, Optimizer, Sgd};
use blitz_autograd::ConvParams;
use blitz_autograd::{loss, Error, Tape, Tensor};
use blitz_layers::{
    minibatch_weight, params, BayesianConv2d, BayesianConvOptions, BayesianLinear, BayesianLinearOptions, Conv2d,
    Dropout, Gaussian, KlMode, Laplace, Linear, Module, ScaleMixture, StudentT, VariationalEstimator,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn bits(m: &dyn Module) -> Vec<Vec<u32>> {
    params(m).iter().map(|(_, p)| p.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect()).collect()
}

fn non_finite_what(e: &Error) -> &str {
    match e {
        Error::NonFinite { what } => what,
        other => panic!("expected NonFinite, got {other:?}"),
    }
}

fn model() -> BayesianLinear {
    BayesianLinear::new(3, 2, &mut StdRng::seed_from_u64(0)).unwrap()
}

#[test]
fn sample_elbo_names_a_non_finite_input() {
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::from_vec(vec![1.0, f32::NAN, 0.0, 1.0, 2.0, 3.0], &[2, 3]).unwrap());
    let y = tape.constant(Tensor::zeros(&[2, 2]).unwrap());
    let e = model().sample_elbo(&x, &y, loss::mse, 2, 0.1).unwrap_err();
    assert!(non_finite_what(&e).contains("input"), "{e}");
}

#[test]
fn sample_elbo_names_non_finite_labels() {
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::zeros(&[2, 3]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![0.0, f32::INFINITY, 0.0, 0.0], &[2, 2]).unwrap());
    let e = model().sample_elbo(&x, &y, loss::mse, 2, 0.1).unwrap_err();
    assert!(non_finite_what(&e).contains("label") || non_finite_what(&e).contains("target"), "{e}");
}

#[test]
fn sample_elbo_names_a_non_finite_loss() {
    // Finite inputs and targets whose squared error overflows f32.
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::full(&[2, 3], 1e30).unwrap());
    let y = tape.constant(Tensor::full(&[2, 2], -1e30).unwrap());
    let e = model().sample_elbo(&x, &y, loss::mse, 2, 0.1).unwrap_err();
    assert!(non_finite_what(&e).contains("loss"), "{e}");
}

#[test]
fn an_optimizer_step_with_non_finite_gradients_changes_nothing() {
    let m = model();
    let tape = Tape::new(1);
    // Inputs of 1e30 make the gradients of the weights overflow to inf / NaN.
    let x = tape.constant(Tensor::full(&[2, 3], 1e30).unwrap());
    let l = m.forward(&x).unwrap().square().unwrap().sum().unwrap();
    let grads = tape.backward(&l).unwrap();
    let before = bits(&m);

    let mut adam = Adam::new(0.1).unwrap();
    let e = adam.step(&grads).unwrap_err();
    assert!(non_finite_what(&e).starts_with("gradient of"), "{e}");
    assert_eq!(adam.steps(), 0, "a refused step must not count");
    assert!(adam.moments().is_empty());
    assert_eq!(bits(&m), before);

    let mut sgd = Sgd::with_momentum(0.1, 0.9, 0.0).unwrap();
    assert!(matches!(sgd.step(&grads), Err(Error::NonFinite { .. })));
    assert_eq!(bits(&m), before);
}

fn invalid(r: blitz_autograd::Result<impl std::fmt::Debug>, what: &str) {
    match r {
        Err(Error::InvalidArgument { .. }) => {}
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn bad_hyperparameters_are_refused_at_construction() {
    let r = &mut StdRng::seed_from_u64(0);
    let o = BayesianLinearOptions::default;
    invalid(BayesianLinear::new(0, 2, r), "zero in_features");
    invalid(BayesianLinear::new(2, 0, r), "zero out_features");
    invalid(BayesianLinear::with_options(2, 2, o().with_rho_init(f32::NAN), r), "NaN rho init");
    invalid(BayesianLinear::with_options(2, 2, BayesianLinearOptions { prior_pi: 1.5, ..o() }, r), "pi > 1");
    invalid(BayesianLinear::with_options(2, 2, BayesianLinearOptions { prior_sigma_1: 0.0, ..o() }, r), "sigma 0");
    invalid(
        BayesianLinear::with_options(2, 2, BayesianLinearOptions { prior_sigma_2: -1.0, prior_pi: 0.5, ..o() }, r),
        "sigma < 0",
    );
    invalid(
        BayesianLinear::with_options(2, 2, o().with_prior(Laplace::new(1.0).unwrap()).with_kl(KlMode::ClosedForm), r),
        "closed-form KL with a Laplace prior",
    );
    invalid(Linear::new(0, 1, true, r), "Linear zero size");
    invalid(Conv2d::new(3, 4, 0, r), "zero kernel");
    invalid(Conv2d::with_params(3, 4, 3, ConvParams::default().groups(2), true, r), "groups not dividing");
    invalid(Conv2d::new(3, 4, (3, 3, 3), r), "3 kernel sizes for 2d");
    invalid(
        BayesianConv2d::with_options(
            2,
            2,
            3,
            ConvParams::default(),
            BayesianConvOptions::default().with_rho_init(f32::INFINITY),
            r,
        ),
        "inf rho",
    );
    invalid(Gaussian::new(-1.0), "Gaussian sigma < 0");
    invalid(ScaleMixture::new(f32::NAN, 0.1, 0.2), "NaN pi");
    invalid(Laplace::new(0.0), "Laplace scale 0");
    invalid(StudentT::new(0.0, 1.0), "Student-t nu 0");
    invalid(Dropout::new(1.0), "dropout 1");
    invalid(Dropout::new(f32::NAN), "dropout NaN");
    invalid(Adam::new(0.0), "lr 0");
    invalid(Adam::new(f32::NAN), "lr NaN");
    invalid(Adam::with_params(0.1, 1.0, 0.999, 1e-8, 0.0), "beta1 1");
    invalid(Adam::with_params(0.1, 0.9, 0.999, 1e-8, -1.0), "negative decay");
    invalid(Sgd::with_momentum(0.1, -0.5, 0.0), "negative momentum");
    invalid(minibatch_weight(3, 3), "batch index past the end");
}

#[test]
fn bad_call_arguments_are_refused() {
    let m = model();
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::zeros(&[2, 3]).unwrap());
    let y = tape.constant(Tensor::zeros(&[2, 2]).unwrap());
    invalid(m.sample_elbo(&x, &y, loss::mse, 0, 0.1).map(|_| ()), "sample_nbr 0");
    invalid(m.sample_elbo(&x, &y, loss::mse, 1, -1.0).map(|_| ()), "negative weight");
    invalid(m.sample_elbo(&x, &y, loss::mse, 1, f32::NAN).map(|_| ()), "NaN weight");
    invalid(m.mfvi_forward(&x, 0).map(|_| ()), "mfvi 0 draws");
    invalid(VariationalEstimator::moped(&m, 0.0), "moped delta 0");
    let y3 = tape.constant(Tensor::zeros(&[3, 2]).unwrap());
    assert!(matches!(m.sample_elbo(&x, &y3, loss::mse, 1, 0.1), Err(Error::ShapeMismatch { .. })));
    let wrong = tape.constant(Tensor::zeros(&[2, 4]).unwrap());
    assert!(matches!(m.forward(&wrong), Err(Error::ShapeMismatch { .. })));
    let labels = [0usize, 7];
    let logits = m.forward(&x).unwrap();
    assert!(matches!(loss::cross_entropy(&logits, &labels), Err(Error::IndexOutOfRange { .. })));
}
