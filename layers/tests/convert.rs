//! MOPED conversion: a deterministic MLP trained on Boston, converted to a
//! Bayesian one, reaches the Boston figures (RMSE ≤ 3.6 k$, ±2σ coverage
//! 0.92–0.98, log-lik ≥ −2.65) after at most 250 Bayesian epochs — a quarter
//! of the 1000 the Bayesian example trains from scratch.

use blitz_autograd::{Tape, Tensor};
use blitz_layers::convert::{to_bayesian, ConvertOptions};
use blitz_layers::data::{read_delimited, Delimiter, ReadOptions, Split};
use blitz_layers::{
    params, BayesianLinearOptions, Conv2d, Gaussian, KlMode, Linear, Module, ReLU, Regressor, Sequential, TrainConfig,
    VariationalEstimator,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Boston as the example reads it: skewed columns as ln(1 + x); train and
/// test inputs `[n, 13]` and targets `[n, 1]`.
fn boston() -> (Tensor, Tensor, Tensor, Tensor) {
    let mut t = read_delimited(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../data/boston_house_prices.csv"),
        &ReadOptions::default().with_delimiter(Delimiter::Char(',')).with_header_rows(2),
    )
    .unwrap()
    .x;
    t.log1p_columns(&[0, 1, 7, 12]).unwrap();
    let (train, test) = Split::EveryKth(4).indices(t.rows).unwrap();
    let part = |idx: &[usize], a, b| t.take_rows(idx).unwrap().columns(a, b).unwrap().to_tensor().unwrap();
    (part(&train, 0, 13), part(&train, 13, 14), part(&test, 0, 13), part(&test, 13, 14))
}

#[test]
fn converted_boston_mlp_reaches_the_boston_figures() {
    let (x, y, xt, yt) = boston();
    let mut rng = StdRng::seed_from_u64(0);
    let net = Sequential::new()
        .push(Linear::new(13, 50, true, &mut rng).unwrap())
        .push(ReLU)
        .push(Linear::new(50, 1, true, &mut rng).unwrap());
    let det = Regressor::new(net, 1).unwrap().standardized_on(&x, &y).unwrap();
    let config = TrainConfig { epochs: 150, batch_size: 16, sample_nbr: 1, ..TrainConfig::default() };
    det.fit(&x, &y, &config, |_| ()).unwrap();
    let r0 = det.evaluate(&xt, &yt, 1, 0).unwrap();
    println!("deterministic: RMSE {:.3}, coverage {:.3}, log-lik {:.3}", r0.rmse, r0.coverage_2sd, r0.loglik);
    let options = ConvertOptions {
        linear: BayesianLinearOptions::default().with_prior(Gaussian::new(1.0).unwrap()).with_kl(KlMode::ClosedForm),
        conv: None,
    };
    let Regressor { net, log_noise, x_scale, y_scale, context } = det;
    let net = to_bayesian(net, 0.1, &options).unwrap();
    let names: Vec<String> = params(&net).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[..2], ["0.weight_mu".to_string(), "0.weight_rho".to_string()]);
    let model = Regressor { net, log_noise, x_scale, y_scale, context };
    let epochs = 250;
    let c = TrainConfig { epochs, batch_size: 16, lr: 0.001, lr_final: 0.0003, ..TrainConfig::default() };
    model.fit(&x, &y, &c, |_| ()).unwrap();
    let r = model.evaluate(&xt, &yt, 100, 0).unwrap();
    println!(
        "MOPED + {epochs} Bayesian epochs: RMSE {:.3} k$, ±2σ coverage {:.3}, log-lik {:.3}",
        r.rmse, r.coverage_2sd, r.loglik
    );
    assert!(r.rmse <= 3.6, "RMSE {}", r.rmse);
    assert!((0.92..=0.98).contains(&r.coverage_2sd), "coverage {}", r.coverage_2sd);
    assert!(r.loglik >= -2.65, "log-lik {}", r.loglik);
}

#[test]
fn conversion_keeps_the_function_and_sets_moped_sigma() {
    let mut rng = StdRng::seed_from_u64(1);
    let net = Sequential::new()
        .push(Conv2d::new(1, 2, 3, &mut rng).unwrap())
        .push(ReLU)
        .push(blitz_layers::Flatten)
        .push(Linear::new(2 * 3 * 3, 2, false, &mut rng).unwrap());
    let x = Tensor::randn(&[2, 1, 5, 5], 0.0, 1.0, &mut rng).unwrap();
    let before = net.forward(&Tape::no_grad(0).constant(x.clone())).unwrap().value().to_vec().unwrap();
    let weights: Vec<Vec<f32>> = params(&net).iter().map(|(_, p)| p.value().to_vec().unwrap()).collect();
    let b = to_bayesian(net, 0.05, &ConvertOptions::default()).unwrap();
    b.freeze();
    let after = b.forward(&Tape::no_grad(0).constant(x)).unwrap().value().to_vec().unwrap();
    assert_eq!(before, after, "frozen: the trained function");
    let p = params(&b);
    let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight_mu", "0.weight_rho", "0.bias_mu", "0.bias_rho", "3.weight_mu", "3.weight_rho"]);
    let (mu, rho) = (p[0].1.value().to_vec().unwrap(), p[1].1.value().to_vec().unwrap());
    assert_eq!(mu, weights[0]);
    for (m, r) in mu.iter().zip(&rho) {
        let sigma = (*r as f64).exp().ln_1p();
        assert!((sigma - 0.05 * m.abs() as f64).abs() < 1e-6 + 1e-3 * sigma, "sigma {sigma} for mu {m}");
    }
    assert!(to_bayesian(Sequential::new().push(ReLU), 0.1, &ConvertOptions::default()).is_err());
}
