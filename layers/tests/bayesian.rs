//! BayesianLinear, KL and the estimator API.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{loss, Error, Tape, Tensor};
use blitz_kernels::context::{Context, Threads};
use blitz_layers::kl::{gaussian_kl, monte_carlo_kl};
use blitz_layers::{
    minibatch_weight, params, BayesianLinear, BayesianLinearOptions, Estimator, Gaussian, KlMode, Module, ReLU,
    Sequential, VariationalEstimator,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn input(tape: &Tape) -> blitz_autograd::Var {
    tape.constant(Tensor::from_vec((0..12).map(|i| (i as f32 * 0.37).sin()).collect(), &[4, 3]).unwrap())
}

fn model() -> Sequential {
    let mut r = rng();
    let o = BayesianLinearOptions::default().with_rho_init(-3.0);
    Sequential::new()
        .push(BayesianLinear::with_options(3, 5, o.clone(), &mut r).unwrap())
        .push(ReLU)
        .push(BayesianLinear::with_options(5, 2, o, &mut r).unwrap())
}

#[test]
fn parameter_names_follow_blitz_and_appear_once() {
    let names: Vec<String> = params(&model()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight_mu",
            "0.weight_rho",
            "0.bias_mu",
            "0.bias_rho",
            "2.weight_mu",
            "2.weight_rho",
            "2.bias_mu",
            "2.bias_rho"
        ]
    );
    let no_bias =
        BayesianLinear::with_options(3, 2, BayesianLinearOptions::default().without_bias(), &mut rng()).unwrap();
    let names: Vec<String> = params(&no_bias).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight_mu", "weight_rho"]);
}

#[test]
fn defaults_are_blitz_defaults() {
    let o = BayesianLinearOptions::default();
    assert!(o.bias && !o.freeze);
    assert_eq!((o.prior_sigma_1, o.prior_sigma_2, o.prior_pi), (0.1, 0.4, 1.0));
    assert_eq!((o.posterior_mu_init, o.posterior_rho_init), (0.0, -7.0));
    let l = BayesianLinear::new(30, 40, &mut rng()).unwrap();
    let rho = l.weight().1.value().to_vec().unwrap();
    let mean = rho.iter().sum::<f32>() / rho.len() as f32;
    let sd = (rho.iter().map(|r| (r - mean).powi(2)).sum::<f32>() / rho.len() as f32).sqrt();
    assert!((mean + 7.0).abs() < 0.02 && (sd - 0.1).abs() < 0.01, "rho ~ N({mean}, {sd})");
}

#[test]
fn frozen_forward_is_deterministic_and_uses_mu() {
    let l =
        BayesianLinear::with_options(3, 2, BayesianLinearOptions::default().with_rho_init(-2.0), &mut rng()).unwrap();
    l.freeze();
    let run = |seed| {
        let tape = Tape::new(seed);
        let y = l.forward(&input(&tape)).unwrap().value().to_vec().unwrap();
        assert_eq!(tape.complexity().unwrap().item().unwrap(), 0.0, "frozen adds no KL");
        y
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a, b);
    let tape = Tape::new(0);
    let (w, bias) = (l.weight().0.value(), l.bias().unwrap().0.value());
    let x = input(&tape);
    let direct = x.matmul_t(&tape.constant(w)).unwrap().add(&tape.constant(bias)).unwrap();
    assert_eq!(a, direct.value().to_vec().unwrap());
}

#[test]
fn unfrozen_forwards_differ_and_add_kl() {
    let m = model();
    let tape = Tape::new(3);
    let x = input(&tape);
    let a = m.forward(&x).unwrap().value().to_vec().unwrap();
    let b = m.forward(&x).unwrap().value().to_vec().unwrap();
    assert_ne!(a, b);
    assert!(tape.complexity().unwrap().item().unwrap().is_finite());
    // The same seed names the same draws.
    let tape2 = Tape::new(3);
    assert_eq!(a, m.forward(&input(&tape2)).unwrap().value().to_vec().unwrap());
}

#[test]
fn mfvi_std_is_zero_when_frozen() {
    let m = model();
    let tape = Tape::no_grad(0);
    let (_, std) = m.mfvi_forward(&input(&tape), 5).unwrap();
    assert!(std.to_vec().unwrap().iter().all(|&s| s > 0.0));
    m.freeze();
    let (mean, std) = m.mfvi_forward(&input(&tape), 5).unwrap();
    assert_eq!(mean.shape(), &[4, 2]);
    assert!(std.to_vec().unwrap().iter().all(|&s| s == 0.0));
    m.unfreeze();
    assert!(matches!(m.mfvi_forward(&input(&tape), 0), Err(Error::InvalidArgument { .. })));
}

/// A context whose kernels and draws run on a pool of `n` threads of its own.
fn threads_ctx(n: usize) -> Context {
    Context { threads: Threads::fixed(n).unwrap(), ..Context::default() }
}

#[test]
fn predict_draws_depend_on_the_seed_alone() {
    let m = model();
    let x = input(&Tape::no_grad(0)).value().clone();
    let on = |threads: usize, seed: u64| -> Vec<Vec<u32>> {
        let draws = m.predict_draws(&threads_ctx(threads), &x, 9, seed).unwrap();
        draws.iter().map(|d| d.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()).collect()
    };
    let one = on(1, 5);
    assert_eq!(one, on(2, 5), "one vs two threads");
    assert_ne!(one, on(1, 6), "another seed, other draws");
    assert!(one.windows(2).all(|w| w[0] != w[1]), "every draw its own weights");
    // Draw i is the forward pass on a prediction tape named draw_seed(seed, i).
    let tape = Tape::predict(blitz_layers::estimator::draw_seed(5, 3));
    let third: Vec<u32> =
        m.forward(&tape.constant(x.clone())).unwrap().value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect();
    assert_eq!(one[3], third);
    assert!(matches!(m.predict_draws(&Context::default(), &x, 0, 5), Err(Error::InvalidArgument { .. })));
}

#[test]
fn moped_sets_sigma_to_delta_abs_mu() {
    let m = model();
    m.freeze();
    m.moped(0.1).unwrap();
    let ps = params(&m);
    for pair in ps.chunks(2) {
        let (mu, rho) = (pair[0].1.value().to_vec().unwrap(), pair[1].1.value().to_vec().unwrap());
        for (mu, rho) in mu.iter().zip(&rho) {
            let sigma = (1.0 + rho.exp()).ln();
            assert!((sigma - 0.1 * mu.abs()).abs() <= 1e-4 * mu.abs() + 1e-7, "sigma {sigma}, mu {mu}");
        }
    }
    let mut frozen = false;
    m.visit_bayesian(&mut |b| frozen |= b.is_frozen());
    assert!(!frozen, "MOPED unfreezes");
    assert!(matches!(m.moped(0.0), Err(Error::InvalidArgument { .. })));
}

#[test]
fn closed_form_kl_matches_monte_carlo_mean() {
    let mut r = rng();
    let mu = Tensor::randn(&[50], 0.2, 0.5, &mut r).unwrap();
    let rho = Tensor::randn(&[50], -1.0, 0.5, &mut r).unwrap();
    let prior = Gaussian::new(0.8).unwrap();
    let tape = Tape::new(0);
    let (m, p) = (tape.constant(mu), tape.constant(rho));
    let exact = gaussian_kl(&m, &p, 0.8).unwrap().item().unwrap() as f64;
    let draws = 4000;
    let mut sum = 0f64;
    for seed in 0..draws {
        let w = m.reparam_sample(&p, seed, 0).unwrap();
        sum += monte_carlo_kl(&w, &p, seed, 0, &prior).unwrap().item().unwrap() as f64;
    }
    let mc = sum / draws as f64;
    // The MC estimate's sd is about sqrt(50/2)/sqrt(4000) ≈ 0.08.
    assert!((mc - exact).abs() < 0.3, "MC {mc} vs closed form {exact}");
}

#[test]
fn gradcheck_gaussian_kl() {
    let mut r = rng();
    let mu = Tensor::randn(&[6], 0.0, 0.5, &mut r).unwrap();
    let rho = Tensor::randn(&[6], -1.0, 0.5, &mut r).unwrap();
    gradcheck(&[mu, rho], |v| gaussian_kl(&v[0], &v[1], 0.7), GradcheckOptions::default()).unwrap();
}

#[test]
fn closed_form_layer_kl_equals_nn_kl_divergence() {
    let o = BayesianLinearOptions::default().with_prior(Gaussian::new(1.0).unwrap()).with_kl(KlMode::ClosedForm);
    let l = BayesianLinear::with_options(3, 2, o, &mut rng()).unwrap();
    let tape = Tape::new(0);
    l.forward(&input(&tape)).unwrap();
    let in_pass = tape.take_complexity().unwrap().item().unwrap();
    let direct = l.nn_kl_divergence(&tape).unwrap().item().unwrap();
    assert!((in_pass - direct).abs() < 1e-3 * direct.abs());
    // The default scale mixture with pi = 1 is Gaussian, so it has a closed form too;
    // a true mixture does not.
    let mix = BayesianLinearOptions { prior_pi: 0.5, ..Default::default() };
    let l = BayesianLinear::with_options(3, 2, mix.clone(), &mut rng()).unwrap();
    assert!(matches!(l.nn_kl_divergence(&tape), Err(Error::InvalidArgument { .. })));
    let bad = BayesianLinear::with_options(3, 2, mix.with_kl(KlMode::ClosedForm), &mut rng());
    assert!(matches!(bad, Err(Error::InvalidArgument { name: "kl", .. })));
}

#[test]
fn bad_layer_hyperparameters_are_typed_errors() {
    let try_opts = |o: BayesianLinearOptions| BayesianLinear::with_options(3, 2, o, &mut rng()).map(|_| ());
    assert!(matches!(
        try_opts(BayesianLinearOptions { prior_sigma_1: 0.0, ..Default::default() }),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        try_opts(BayesianLinearOptions { prior_sigma_2: -1.0, ..Default::default() }),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        try_opts(BayesianLinearOptions { prior_pi: 1.5, ..Default::default() }),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(BayesianLinear::new(0, 2, &mut rng()), Err(Error::InvalidArgument { .. })));
    let l = BayesianLinear::new(3, 2, &mut rng()).unwrap();
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::zeros(&[4, 5]).unwrap());
    assert!(matches!(l.forward(&x), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn sample_elbo_parts_and_errors() {
    let m = model();
    let tape = Tape::new(0);
    let x = input(&tape);
    let y = tape.constant(Tensor::zeros(&[4, 2]).unwrap());
    let parts = m.sample_elbo_detailed(&x, &y, loss::mse, 3, 0.01).unwrap();
    assert_eq!(parts.predictions.shape(), &[3, 4, 2]);
    let (t, l, c) = (parts.total.item().unwrap(), parts.likelihood.item().unwrap(), parts.complexity.item().unwrap());
    assert!((t - l - c).abs() < 1e-5 && c > 0.0);
    let grads = tape.backward(&parts.total).unwrap();
    assert_eq!(grads.params().len(), 8);
    // sample_nbr 0, wrong batch length, wrong label shape: typed errors.
    assert!(matches!(m.sample_elbo(&x, &y, loss::mse, 0, 1.0), Err(Error::InvalidArgument { .. })));
    let y3 = tape.constant(Tensor::zeros(&[3, 2]).unwrap());
    assert!(matches!(m.sample_elbo(&x, &y3, loss::mse, 1, 1.0), Err(Error::ShapeMismatch { .. })));
    let y_flat = tape.constant(Tensor::zeros(&[4]).unwrap());
    assert!(matches!(m.sample_elbo(&x, &y_flat, loss::mse, 1, 1.0), Err(Error::ShapeMismatch { .. })));
    // Classification reads the same way, with class labels.
    let labels = [0usize, 1, 1, 0];
    assert!(m.sample_elbo(&x, &labels[..], loss::cross_entropy, 2, 0.01).unwrap().item().unwrap().is_finite());
    assert!(matches!(m.sample_elbo(&x, &labels[..3], loss::cross_entropy, 2, 0.01), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn minibatch_weights_sum_to_one() {
    for m in [1usize, 2, 5, 24, 100, 2000] {
        let s: f64 = (0..m).map(|i| minibatch_weight(i, m).unwrap() as f64).sum();
        assert!((s - 1.0).abs() < 1e-5, "M = {m}: {s}");
    }
    assert!((minibatch_weight(0, 3).unwrap() - 4.0 / 7.0).abs() < 1e-6);
    assert!(matches!(minibatch_weight(3, 3), Err(Error::InvalidArgument { .. })));
}

/// Each draw of `sample_elbo` back-propagates through its own eps. (BLiTZ
/// 0.2.8 refills one eps buffer in place with `eps_w.data.normal_()`, so
/// autograd's saved copy is overwritten and with `sample_nbr > 1` every
/// draw's gradient uses the last draw's eps: the KL's push on sigma shrinks
/// by a factor `sample_nbr` and the posterior comes out too narrow.)
/// One weight, x = 1, loss = w, no KL: d loss / d rho = sigmoid(rho)·mean_k eps_k,
/// and each eps_k is read back from its draw's prediction.
#[test]
fn every_draw_of_sample_elbo_backpropagates_its_own_eps() {
    let layer = BayesianLinear::with_options(
        1,
        1,
        BayesianLinearOptions::default().without_bias().with_rho_init(-1.0),
        &mut rng(),
    )
    .unwrap();
    let (mu, rho) = {
        let ps = params(&layer);
        let get = |n: &str| ps.iter().find(|(name, _)| name == n).unwrap().1.clone();
        (get("weight_mu"), get("weight_rho"))
    };
    let (m, r) = (mu.value().to_vec().unwrap()[0], rho.value().to_vec().unwrap()[0]);
    let sigma = r.exp().ln_1p();
    let tape = Tape::new(11);
    let x = tape.constant(Tensor::from_vec(vec![1.0], &[1, 1]).unwrap());
    let y = tape.constant(Tensor::from_vec(vec![0.0], &[1, 1]).unwrap());
    let parts = layer.sample_elbo_detailed(&x, &y, |p, _| p.sum(), 3, 0.0).unwrap();
    let eps: Vec<f32> = parts.predictions.to_vec().unwrap().iter().map(|w| (w - m) / sigma).collect();
    assert!(eps.windows(2).all(|p| (p[0] - p[1]).abs() > 1e-3), "three different draws: {eps:?}");
    let grads = tape.backward(&parts.total).unwrap();
    let g_rho = grads.get(&rho).unwrap().to_vec().unwrap()[0];
    let sigmoid = 1.0 / (1.0 + (-r).exp());
    let want = sigmoid * eps.iter().sum::<f32>() / 3.0;
    assert!((g_rho - want).abs() <= 1e-5 * want.abs().max(1.0), "d/d rho {g_rho} vs sigmoid(rho)·mean eps {want}");
    let last_only = sigmoid * eps[2];
    assert!((g_rho - last_only).abs() > 1e-3, "the gradient used only the last draw's eps");
}

#[test]
fn a_prediction_tape_draws_the_same_weights_without_their_kl() {
    // Every estimator (Radial adds its own complexity term; local
    // reparameterisation draws no weights but reserves their draw), through
    // two layers and two passes, so a draw out of step would show.
    let all =
        [Estimator::Reparameterisation, Estimator::Radial, Estimator::Flipout, Estimator::LocalReparameterisation];
    for estimator in all {
        let o = BayesianLinearOptions::default().with_estimator(estimator).with_rho_init(-3.0);
        let mut r = rng();
        let model = Sequential::new()
            .push(BayesianLinear::with_options(3, 4, o.clone(), &mut r).unwrap())
            .push(ReLU)
            .push(BayesianLinear::with_options(4, 2, o, &mut r).unwrap());
        let input = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.1, 0.2, 0.3], &[2, 3]).unwrap();
        let run = |tape: &Tape| {
            let mut y = model.forward(&tape.constant(input.clone())).unwrap().value().to_vec().unwrap();
            y.extend(model.forward(&tape.constant(input.clone())).unwrap().value().to_vec().unwrap());
            (y, tape.complexity().unwrap().value().item().unwrap())
        };
        let (with_kl, kl) = run(&Tape::no_grad(5));
        let (predicted, none) = run(&Tape::predict(5));
        assert_eq!(with_kl, predicted, "{estimator:?}: same seed, same draws");
        assert!(kl != 0.0 && none == 0.0, "{estimator:?}: KL {kl} on no_grad, {none} on predict");
    }
    let layer = BayesianLinear::new(1, 1, &mut rng()).unwrap();
    let tape = Tape::predict(0);
    let x = tape.constant(Tensor::from_vec(vec![1.0], &[1, 1]).unwrap());
    let err = layer.sample_elbo(&x, &x, |p, y| p.sub(y)?.square()?.sum(), 1, 1.0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

#[test]
fn predictions_follow_every_change_of_rho() {
    // Prediction tapes reuse sigma = softplus(rho) between draws (on the CPU);
    // a `no_grad` tape draws the same weights through the fused KL kernel,
    // which computes sigma afresh: the two must agree after any change.
    let m = model();
    let run = |tape: Tape| -> Vec<u32> {
        let y = m.forward(&input(&tape)).unwrap();
        y.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
    };
    let before = run(Tape::predict(9));
    assert_eq!(before, run(Tape::no_grad(9)));
    let rhos: Vec<_> = params(&m).into_iter().filter(|(name, _)| name.ends_with("rho")).map(|(_, p)| p).collect();
    assert!(!rhos.is_empty());
    for p in &rhos {
        p.set(
            p.value().add(&blitz_kernels::Context::default(), &Tensor::full(p.value().shape(), 0.5).unwrap()).unwrap(),
        )
        .unwrap();
    }
    let after_set = run(Tape::predict(9));
    assert_ne!(after_set, before, "set: a wider posterior, other weights");
    assert_eq!(after_set, run(Tape::no_grad(9)), "set");
    for p in &rhos {
        // In place, as the optimizers update.
        p.update(|b| {
            *b = blitz_kernels::ops::scalar_in(
                &blitz_kernels::Context::default(),
                blitz_kernels::ScalarOp::Add(-1.0),
                b,
            )?;
            Ok(())
        })
        .unwrap();
    }
    let after_update = run(Tape::predict(9));
    assert_ne!(after_update, after_set, "update: other weights");
    assert_eq!(after_update, run(Tape::no_grad(9)), "update");
}

#[test]
fn the_first_predictions_after_a_change_share_sigma_on_many_threads() {
    // 65k weights: softplus(rho) itself runs on threads, which may pick up
    // other draws of the same layer while the first one computes it (they
    // must neither wait on it forever nor see a half-made cache).
    let layer = BayesianLinear::new(256, 256, &mut rng()).unwrap();
    let x = Tensor::from_vec((0..3 * 256).map(|i| (i as f32 * 0.01).sin()).collect(), &[3, 256]).unwrap();
    let six = threads_ctx(6);
    let bits = |outs: Vec<Tensor>| -> Vec<Vec<u32>> {
        outs.iter().map(|t| t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()).collect()
    };
    let first = bits(layer.predict_draws(&six, &x, 24, 3).unwrap());
    let again = bits(layer.predict_draws(&six, &x, 24, 3).unwrap());
    assert_eq!(first, again);
    let one = bits(layer.predict_draws(&threads_ctx(1), &x, 24, 3).unwrap());
    assert_eq!(first, one, "the same draws on any number of threads");
}
