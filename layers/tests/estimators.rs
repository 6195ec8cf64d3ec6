//! The four estimators: the same expected output, lower gradient variance
//! for Flipout and local reparameterisation, and the radial sampler's shape.

use blitz_autograd::{loss, ConvParams, Device, Tape, Tensor};
use blitz_layers::{
    radial_noise, BayesianConv2d, BayesianConvOptions, BayesianLinear, BayesianLinearOptions, Estimator, Module,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

const ALL: [Estimator; 4] =
    [Estimator::Reparameterisation, Estimator::Flipout, Estimator::LocalReparameterisation, Estimator::Radial];

fn layer(e: Estimator, inp: usize, out: usize, rho: f32) -> BayesianLinear {
    let o = BayesianLinearOptions::default().with_rho_init(rho).with_estimator(e);
    BayesianLinear::with_options(inp, out, o, &mut StdRng::seed_from_u64(42)).unwrap()
}

/// Mean and standard error per output element over `draws` forwards.
fn moments(m: &dyn Module, x: &Tensor, draws: usize) -> (Vec<f64>, Vec<f64>) {
    let mut sum: Vec<f64> = Vec::new();
    let mut sq: Vec<f64> = Vec::new();
    for d in 0..draws {
        let tape = Tape::no_grad(1000 + d as u64);
        let y = m.forward(&tape.constant(x.clone())).unwrap().value().to_vec().unwrap();
        if sum.is_empty() {
            (sum, sq) = (vec![0.0; y.len()], vec![0.0; y.len()]);
        }
        for (i, v) in y.iter().enumerate() {
            sum[i] += *v as f64;
            sq[i] += (*v as f64).powi(2);
        }
    }
    let n = draws as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let se = sq.iter().zip(&mean).map(|(q, m)| ((q / n - m * m).max(0.0) / n).sqrt()).collect();
    (mean, se)
}

#[test]
fn every_estimator_has_the_same_mean_output() {
    let x = Tensor::randn(&[6, 8], 0.0, 1.0, &mut StdRng::seed_from_u64(1)).unwrap();
    let mut exact = None;
    for e in ALL {
        let l = layer(e, 8, 4, -1.0);
        if exact.is_none() {
            use blitz_layers::BayesianModule;
            l.set_frozen(true);
            exact = Some(moments(&l, &x, 1).0);
            l.set_frozen(false);
        }
        let (mean, se) = moments(&l, &x, 2000);
        let exact = exact.as_ref().unwrap();
        let worst = mean.iter().zip(exact).zip(&se).map(|((m, t), s)| (m - t).abs() / s.max(1e-6)).fold(0.0, f64::max);
        println!("{e:?}: worst |MC mean − x·mu| = {worst:.2} standard errors");
        assert!(worst < 4.5, "{e:?}: {worst:.2} standard errors off the exact mean");
    }
}

#[test]
fn conv_estimators_have_the_same_mean_output() {
    let x = Tensor::randn(&[2, 2, 5, 5], 0.0, 1.0, &mut StdRng::seed_from_u64(2)).unwrap();
    let mut exact = None;
    for e in ALL {
        let o = BayesianConvOptions::default().with_rho_init(-1.0).with_estimator(e);
        let c =
            BayesianConv2d::with_options(2, 3, 3, ConvParams::default().padding(1), o, &mut StdRng::seed_from_u64(3))
                .unwrap();
        if exact.is_none() {
            use blitz_layers::BayesianModule;
            c.set_frozen(true);
            exact = Some(moments(&c, &x, 1).0);
            c.set_frozen(false);
        }
        let (mean, se) = moments(&c, &x, 600);
        let exact = exact.as_ref().unwrap();
        let worst = mean.iter().zip(exact).zip(&se).map(|((m, t), s)| (m - t).abs() / s.max(1e-6)).fold(0.0, f64::max);
        println!("conv {e:?}: worst = {worst:.2} standard errors");
        assert!(worst < 5.0, "conv {e:?}: {worst:.2} standard errors off");
    }
}

/// Mean over elements of the variance across draws of the minibatch gradient of weight_mu.
fn gradient_variance(e: Estimator, draws: usize) -> f64 {
    let (inp, out, batch) = (16, 8, 128);
    let l = layer(e, inp, out, -2.0);
    let mut rng = StdRng::seed_from_u64(5);
    let x = Tensor::randn(&[batch, inp], 0.0, 1.0, &mut rng).unwrap();
    let y = Tensor::randn(&[batch, out], 0.0, 1.0, &mut rng).unwrap();
    let mut grads: Vec<Vec<f32>> = Vec::new();
    for d in 0..draws {
        let tape = Tape::new(77 + d as u64);
        let pred = l.forward(&tape.constant(x.clone())).unwrap();
        let loss = loss::mse(&pred, &tape.constant(y.clone())).unwrap();
        let g = tape.backward(&loss).unwrap();
        grads.push(g.get(l.weight().0).unwrap().to_vec().unwrap());
    }
    let n = draws as f64;
    (0..grads[0].len())
        .map(|j| {
            let m = grads.iter().map(|g| g[j] as f64).sum::<f64>() / n;
            grads.iter().map(|g| (g[j] as f64 - m).powi(2)).sum::<f64>() / (n - 1.0)
        })
        .sum::<f64>()
        / grads[0].len() as f64
}

#[test]
fn flipout_and_local_reparameterisation_lower_the_gradient_variance() {
    let base = gradient_variance(Estimator::Reparameterisation, 300);
    for e in [Estimator::Flipout, Estimator::LocalReparameterisation] {
        let v = gradient_variance(e, 300);
        println!("batch 128: Var[grad mu] {e:?} / Reparameterisation = {v:.3e} / {base:.3e} = {:.4}", v / base);
        assert!(v < 0.5 * base, "{e:?}: ratio {}", v / base);
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let p = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    (1.0 - p * (-x * x).exp()).copysign(x)
}

#[test]
fn radial_draws_have_the_radial_shape() {
    let (d, n) = (10usize, 4000usize);
    let mut radii = Vec::with_capacity(n);
    let mut mean_dir = vec![0f64; d];
    let mut second = vec![0f64; d];
    for s in 0..n {
        let v =
            radial_noise(&blitz_kernels::Context::default(), Device::Cpu, s as u64, 0, d).unwrap().to_vec().unwrap();
        let r = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        radii.push(r);
        for i in 0..d {
            let u = v[i] as f64 / r;
            mean_dir[i] += u / n as f64;
            second[i] += u * u / n as f64;
        }
    }
    // Direction uniform on the sphere: E[u] = 0, E[u_i²] = 1/d.
    let se = (1.0 / (d as f64 * n as f64)).sqrt();
    assert!(mean_dir.iter().all(|m| m.abs() < 4.0 * se), "mean direction {mean_dir:?}");
    assert!(second.iter().all(|s| (s - 1.0 / d as f64).abs() < 0.01), "E[u²] {second:?}");
    // Radius half-normal: Kolmogorov–Smirnov against P(r ≤ t) = erf(t/√2).
    radii.sort_by(f64::total_cmp);
    let ks = radii
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            let f = erf(r / std::f64::consts::SQRT_2);
            (f - i as f64 / n as f64).abs().max(((i + 1) as f64 / n as f64 - f).abs())
        })
        .fold(0.0, f64::max);
    println!(
        "radial radius: KS distance to the half-normal {ks:.4} (1% critical value {:.4})",
        1.63 / (n as f64).sqrt()
    );
    assert!(ks < 1.63 / (n as f64).sqrt());
    let mean_r = radii.iter().sum::<f64>() / n as f64;
    assert!((mean_r - (2.0 / std::f64::consts::PI).sqrt()).abs() < 0.03, "E r = {mean_r}");
}

#[test]
fn estimators_keep_the_kl_and_train() {
    for e in ALL {
        let l = layer(e, 4, 3, -3.0);
        let tape = Tape::new(9);
        let x = tape.constant(Tensor::randn(&[5, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(0)).unwrap());
        let y = l.forward(&x).unwrap().square().unwrap().mean().unwrap();
        let kl = tape.complexity().unwrap();
        assert!(kl.item().unwrap().is_finite(), "{e:?}");
        let g = tape.backward(&y.add(&kl.mul_scalar(0.01).unwrap()).unwrap()).unwrap();
        let grho = g.get(l.weight().1).unwrap().to_vec().unwrap();
        assert!(grho.iter().all(|v| v.is_finite()) && grho.iter().any(|v| *v != 0.0), "{e:?}");
    }
}
