//! The width / batch / prediction sweep of issue 26, blitz's side
//! (`scripts/sweep_peer.py` is the peer's): a 784-W-W-10 Bayesian MLP
//! (`BayesianLinear`, ReLU) on random inputs, one JSON line per case.
//!
//! ```text
//! cargo run --release --example sweep
//! ```
//! - `train_wW_bB`: ms per training step (one weight draw, cross-entropy +
//!   KL / N, backward, Adam) at batch B: the last epoch's mean step of a
//!   `Classifier::fit` of two epochs of 10 steps;
//! - `predict100_wW_n1024`: ms for `Classifier::predict` of 100 draws on
//!   1024 rows, the median of three calls after one warm-up.

#[path = "common/flags.rs"]
mod flags;

use blitz::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

fn mlp(w: usize, rng: &mut StdRng) -> Result<Sequential> {
    Ok(Sequential::new()
        .push(BayesianLinear::new(784, w, rng)?)
        .push(ReLU)
        .push(BayesianLinear::new(w, w, rng)?)
        .push(ReLU)
        .push(BayesianLinear::new(w, 10, rng)?))
}

fn classifier(w: usize) -> Result<Classifier> {
    let mut rng = StdRng::seed_from_u64(0);
    Classifier::new(mlp(w, &mut rng)?, (0..10).map(|d| d.to_string()).collect())
}

fn inputs(rows: usize) -> Result<Tensor> {
    let mut rng = StdRng::seed_from_u64(1);
    Tensor::from_vec((0..rows * 784).map(|_| rng.random::<f32>()).collect(), &[rows, 784])
}

fn train_ms(w: usize, batch: usize) -> Result<f64> {
    const STEPS: usize = 10;
    let x = inputs(batch * STEPS)?;
    let labels: Vec<usize> = (0..batch * STEPS).map(|i| i * 7 % 10).collect();
    let config =
        TrainConfig { epochs: 2, batch_size: batch, sample_nbr: 1, lr: 1e-3, lr_final: 1e-3, ..TrainConfig::default() };
    let mut last = f64::NAN;
    classifier(w)?.fit(&x, &labels, &config, |p| last = p.ms_per_step)?;
    Ok(last)
}

fn predict_ms(w: usize) -> Result<f64> {
    let (model, x) = (classifier(w)?, inputs(1024)?);
    model.predict(&x, 100, 0)?;
    let mut t: Vec<f64> = (0..3)
        .map(|i| {
            let start = Instant::now();
            model.predict(&x, 100, i).map(|_| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    t.sort_by(f64::total_cmp);
    Ok(t[1])
}

fn main() {
    flags::exit_on_error(run);
}

fn run() -> Result<()> {
    for (w, b) in [(400, 128), (1600, 128), (400, 1024)] {
        println!("{{\"peer\": \"blitz\", \"case\": \"train_w{w}_b{b}\", \"ms\": {:.4}}}", train_ms(w, b)?);
    }
    for w in [400, 1600] {
        println!("{{\"peer\": \"blitz\", \"case\": \"predict100_w{w}_n1024\", \"ms\": {:.4}}}", predict_ms(w)?);
    }
    Ok(())
}
