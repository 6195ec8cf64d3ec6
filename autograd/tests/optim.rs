//! Optimizers against hand-computed updates, and their refusals.

use blitz_autograd::optim::{clip_grad_norm, Adam, Optimizer, Sgd};
use blitz_autograd::{Error, Param, Tape, Tensor};

/// Gradients of L = Σ c_i·p_i (so ∂L/∂p = c) for a fresh tape.
fn linear_grads(p: &Param, c: &[f32]) -> blitz_autograd::Gradients {
    let tape = Tape::new(0);
    let cv = tape.constant(Tensor::from_vec(c.to_vec(), &[c.len()]).unwrap());
    let loss = tape.param(p).mul(&cv).unwrap().sum().unwrap();
    tape.backward(&loss).unwrap()
}

#[test]
fn adam_matches_the_textbook_update() {
    let p = Param::new("p", Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap());
    let mut opt = Adam::new(0.1).unwrap();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let (mut m, mut v, mut w) = ([0f64; 2], [0f64; 2], [1f64, -1.0]);
    for t in 1..=3 {
        let g = [0.5 * t as f64, -2.0];
        opt.step(&linear_grads(&p, &[g[0] as f32, g[1] as f32])).unwrap();
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let mh = m[i] / (1.0 - b1.powi(t));
            let vh = v[i] / (1.0 - b2.powi(t));
            w[i] -= 0.1 * mh / (vh.sqrt() + eps);
        }
    }
    let got = p.value().to_vec().unwrap();
    for i in 0..2 {
        assert!((got[i] as f64 - w[i]).abs() < 1e-5, "{got:?} vs {w:?}");
    }
}

#[test]
fn sgd_with_momentum_and_decay() {
    let p = Param::new("p", Tensor::from_vec(vec![1.0], &[1]).unwrap());
    let mut opt = Sgd::with_momentum(0.1, 0.9, 0.01).unwrap();
    opt.step(&linear_grads(&p, &[2.0])).unwrap(); // buf = 2.01, p = 1 - 0.201
    opt.step(&linear_grads(&p, &[2.0])).unwrap(); // buf = 0.9*2.01 + 2 + 0.01*0.799
    let want = 0.799 - 0.1 * (0.9 * 2.01 + 2.0 + 0.01 * 0.799);
    assert!((p.value().item().unwrap() - want as f32).abs() < 1e-6);
}

#[test]
fn a_step_with_non_finite_gradients_is_refused_and_changes_nothing() {
    let p = Param::new("w", Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let q = Param::new("q", Tensor::from_vec(vec![3.0], &[1]).unwrap());
    let tape = Tape::new(0);
    let bad = tape.constant(Tensor::from_vec(vec![f32::NAN, 1.0], &[2]).unwrap());
    let loss = tape.param(&q).sum().unwrap().add(&tape.param(&p).mul(&bad).unwrap().sum().unwrap()).unwrap();
    let grads = tape.backward(&loss).unwrap();
    for opt in [&mut Adam::new(0.1).unwrap() as &mut dyn Optimizer, &mut Sgd::new(0.1).unwrap()] {
        match opt.step(&grads) {
            Err(Error::NonFinite { what }) => assert!(what.contains('w'), "{what}"),
            other => panic!("expected NonFinite, got {other:?}"),
        }
    }
    assert_eq!(p.value().to_vec().unwrap(), vec![1.0, 2.0]);
    assert_eq!(q.value().to_vec().unwrap(), vec![3.0]);
}

#[test]
fn bad_hyperparameters_are_refused() {
    assert!(matches!(Adam::new(0.0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Adam::with_params(0.1, 1.0, 0.999, 1e-8, 0.0), Err(Error::InvalidArgument { name: "beta1", .. })));
    assert!(matches!(Sgd::new(f32::NAN), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Sgd::with_momentum(0.1, -0.5, 0.0), Err(Error::InvalidArgument { name: "momentum", .. })));
}

#[test]
fn clipping_scales_to_the_global_norm() {
    let p = Param::new("p", Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap());
    let mut g = linear_grads(&p, &[3.0, 4.0]);
    let norm = clip_grad_norm(&mut g, 1.0).unwrap();
    assert_eq!(norm, 5.0);
    let v = g.get(&p).unwrap().to_vec().unwrap();
    assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    let mut g = linear_grads(&p, &[0.3, 0.4]);
    clip_grad_norm(&mut g, 1.0).unwrap();
    assert_eq!(g.get(&p).unwrap().to_vec().unwrap(), vec![0.3, 0.4]);
    assert!(clip_grad_norm(&mut g, 0.0).is_err());
}
