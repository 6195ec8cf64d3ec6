//! A deterministic MLP (1-64-64-1, tanh) fitted to a noisy sine curve with
//! nothing but the autograd crate: parameters, a tape per step, Adam.
//!
//! `cargo run --release --example sine [-- --epochs N --seed S --device cpu|cuda]`

use blitz::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::f32::consts::PI;

/// What a training run reports.
pub struct SineReport {
    /// Mean squared error against the clean sine on held-out points.
    pub test_mse: f32,
    /// Training loss of the last epoch.
    pub final_train_loss: f32,
}

/// One dense layer's parameters: weight (in, out) and bias (out).
struct Dense {
    w: Param,
    b: Param,
}

impl Dense {
    fn new(name: &str, fan_in: usize, fan_out: usize, rng: &mut StdRng, device: Device) -> Result<Dense> {
        // Glorot-style scale keeps tanh units out of saturation at the start.
        let std = (2.0 / (fan_in + fan_out) as f32).sqrt();
        Ok(Dense {
            w: Param::new(format!("{name}.weight"), Tensor::randn(&[fan_in, fan_out], 0.0, std, rng)?.to(device)?),
            b: Param::new(format!("{name}.bias"), Tensor::zeros(&[fan_out])?.to(device)?),
        })
    }

    fn forward(&self, tape: &Tape, x: &Var) -> Result<Var> {
        x.matmul(&tape.param(&self.w))?.add(&tape.param(&self.b))
    }
}

fn mlp(layers: &[Dense], tape: &Tape, x: &Var) -> Result<Var> {
    let mut h = x.clone();
    for (i, l) in layers.iter().enumerate() {
        h = l.forward(tape, &h)?;
        if i + 1 < layers.len() {
            h = h.tanh()?;
        }
    }
    Ok(h)
}

fn column(v: Vec<f32>) -> Result<Tensor> {
    let n = v.len();
    Tensor::from_vec(v, &[n, 1])
}

/// Trains on 256 noisy samples of sin(x), x in [-π, π], and measures the
/// test MSE on 200 evenly spaced points against the clean curve.
pub fn train(epochs: usize, seed: u64, verbose: bool, device: Device) -> Result<SineReport> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 256;
    let xs: Vec<f32> = (0..n).map(|_| rng.random_range(-PI..PI)).collect();
    let ys: Vec<f32> = xs.iter().map(|&x| x.sin() + 0.05 * (rng.random::<f32>() - 0.5) * 2.0).collect();
    let layers = [
        Dense::new("l1", 1, 64, &mut rng, device)?,
        Dense::new("l2", 64, 64, &mut rng, device)?,
        Dense::new("l3", 64, 1, &mut rng, device)?,
    ];
    let mut opt = Adam::new(0.01)?;
    let batch = 32;
    let mut order: Vec<usize> = (0..n).collect();
    let mut last = f32::NAN;
    for epoch in 0..epochs {
        // Fisher-Yates with the run's own generator: same seed, same batches.
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            let tape = Tape::new(0);
            let x = tape.constant(column(chunk.iter().map(|&i| xs[i]).collect())?.to(device)?);
            let y = tape.constant(column(chunk.iter().map(|&i| ys[i]).collect())?.to(device)?);
            let loss = loss::mse(&mlp(&layers, &tape, &x)?, &y)?;
            total += loss.item()? * chunk.len() as f32;
            opt.step(&tape.backward(&loss)?)?;
        }
        last = total / n as f32;
        if verbose && (epoch + 1) % 50 == 0 {
            println!("epoch {:4}  train mse {:.5}", epoch + 1, last);
        }
    }
    let test_x: Vec<f32> = (0..200).map(|i| -PI + 2.0 * PI * (i as f32 + 0.5) / 200.0).collect();
    let tape = Tape::no_grad(0);
    let pred = mlp(&layers, &tape, &tape.constant(column(test_x.clone())?.to(device)?))?.value().to_vec()?;
    let test_mse = pred.iter().zip(&test_x).map(|(p, x)| (p - x.sin()).powi(2)).sum::<f32>() / 200.0;
    Ok(SineReport { test_mse, final_train_loss: last })
}

#[allow(dead_code)] // the integration test includes this file for `train` only
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let device: Device = match args.iter().position(|a| a == "--device").and_then(|i| args.get(i + 1)) {
        Some(d) => d.parse()?,
        None => Device::Cpu,
    };
    let report = train(arg("--epochs", 300) as usize, arg("--seed", 0), true, device)?;
    println!("final train mse {:.5}  test mse vs sin(x) {:.5}", report.final_train_loss, report.test_mse);
    Ok(())
}
