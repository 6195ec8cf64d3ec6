//! A Bayesian LSTM forecasting a noisy seasonal series one step ahead, with
//! a predictive mean and a ±2σ band.
//!
//! ```text
//! cargo run --release --example sequence_forecast [-- --json --svg PATH --seed S --epochs N]
//! ```
//! The series (made here, seeded) is a daily-like cycle of period 24 plus a
//! weaker cycle of period 60 and Gaussian noise of sd 0.15. The model reads
//! the last 24 values: BayesianLSTM(1 → 16) → BayesianLinear(16 → 1), with a
//! learned Gaussian noise level; the loss is the per-example ELBO (mean NLL
//! plus KL / N_train). The last 120 points are held out; the band there is the
//! mixture over 50 weight draws (epistemic) plus the noise (aleatoric).

use blitz::layers::estimator::VariationalEstimator;
use blitz::layers::metrics::{interval_coverage, rmse};
use blitz::layers::{BayesianLSTM, BayesianRecurrentOptions};
use blitz::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::fmt::Write as _;

/// Points in the series, of which the last `HOLDOUT` are held out.
const LEN: usize = 600;
/// Held-out tail.
const HOLDOUT: usize = 120;
/// Past values the model reads.
const WINDOW: usize = 24;
/// Noise sd of the series.
const NOISE: f32 = 0.15;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct ForecastReport {
    /// The whole series.
    pub series: Vec<f32>,
    /// Predictive mean of each held-out point.
    pub mean: Vec<f32>,
    /// Predictive sd of each held-out point.
    pub std: Vec<f32>,
    /// Fraction of held-out points inside mean ± 2 sd.
    pub coverage_2sd: f32,
    /// RMSE of the mean on the held-out tail.
    pub test_rmse: f32,
    /// Learned noise sd.
    pub noise_std: f32,
    /// Milliseconds per training step.
    pub ms_per_step: f64,
}

/// The seeded series.
pub fn make_series(seed: u64) -> Result<Vec<f32>> {
    let noise = Tensor::randn(&[LEN], 0.0, NOISE, &mut StdRng::seed_from_u64(seed))?.to_vec()?;
    Ok((0..LEN)
        .map(|t| {
            let t = t as f32;
            (std::f32::consts::TAU * t / 24.0).sin()
                + 0.4 * (std::f32::consts::TAU * t / 60.0).cos()
                + noise[t as usize]
        })
        .collect())
}

/// The model: the LSTM's last hidden state, then a Bayesian linear read-out.
struct Forecaster {
    lstm: BayesianLSTM,
    head: BayesianLinear,
    log_noise: Param,
}

impl Module for Forecaster {
    fn forward(&self, x: &Var) -> Result<Var> {
        let (_, (h, _)) = self.lstm.forward_with_state(x, None)?;
        self.head.forward(&h)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.lstm.visit_params(&blitz::layers::module::join_name(prefix, "lstm"), f);
        self.head.visit_params(&blitz::layers::module::join_name(prefix, "head"), f);
    }
    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        self.lstm.visit_bayesian(f);
        self.head.visit_bayesian(f);
    }
}

/// Windows ending before each target index in `targets`: `[n, WINDOW, 1]` and `[n, 1]`.
fn windows(series: &[f32], targets: &[usize]) -> Result<(Tensor, Tensor)> {
    let x: Vec<f32> = targets.iter().flat_map(|&t| series[t - WINDOW..t].to_vec()).collect();
    let y: Vec<f32> = targets.iter().map(|&t| series[t]).collect();
    Ok((Tensor::from_vec(x, &[targets.len(), WINDOW, 1])?, Tensor::from_vec(y, &[targets.len(), 1])?))
}

/// Trains for `epochs` and evaluates on the held-out tail.
pub fn train(epochs: usize, seed: u64, verbose: bool, device: Device) -> Result<ForecastReport> {
    let series = make_series(seed)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EA5);
    let opts = BayesianRecurrentOptions::default().with_prior(Gaussian::new(1.0)?).with_kl(KlMode::ClosedForm);
    let lin = BayesianLinearOptions::default()
        .with_rho_init(-6.0)
        .with_prior(Gaussian::new(1.0)?)
        .with_kl(KlMode::ClosedForm);
    let model = Forecaster {
        lstm: BayesianLSTM::with_options(1, 16, opts, &mut rng)?,
        head: BayesianLinear::with_options(16, 1, lin, &mut rng)?,
        log_noise: Param::new("log_noise", Tensor::from_vec(vec![0.0], &[1])?),
    };
    // Glorot-like means: BLiTZ's N(0, 0.1) means learn slowly through time.
    let mut init = StdRng::seed_from_u64(seed ^ 0x1417);
    let ((wi, _), (wh, _), _) = model.lstm.weights();
    wi.set(Tensor::randn(wi.value().shape(), 0.0, 0.5, &mut init)?)?;
    wh.set(Tensor::randn(wh.value().shape(), 0.0, 0.25, &mut init)?)?;
    blitz::layers::to_device(&model.lstm, device)?;
    blitz::layers::to_device(&model.head, device)?;
    model.log_noise.set(model.log_noise.value().to(device)?)?;
    let mut train_idx: Vec<usize> = (WINDOW..LEN - HOLDOUT).collect();
    let n = train_idx.len();
    let mut opt = Adam::new(0.01)?;
    let mut steps = 0usize;
    let start = std::time::Instant::now();
    for epoch in 1..=epochs {
        opt.set_learning_rate(0.01 * 0.1f32.powf((epoch - 1) as f32 / epochs.max(1) as f32));
        train_idx.shuffle(&mut rng);
        let mut nll = 0f64;
        for batch in train_idx.chunks(32) {
            let tape = Tape::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(steps as u64));
            let (x, y) = windows(&series, batch)?;
            let (x, y) = (tape.constant(x.to(device)?), tape.constant(y.to(device)?));
            let log_var = tape.param(&model.log_noise).mul_scalar(2.0)?;
            let parts =
                model.sample_elbo_detailed(&x, &y, |p, y| loss::gaussian_nll(p, &log_var, y), 1, 1.0 / n as f32)?;
            let grads = tape.backward(&parts.total)?;
            nll += parts.likelihood.item()? as f64 * batch.len() as f64;
            // The pass shares the parameters' storage: drop it so the step updates in place.
            drop((parts, log_var, x, y, tape));
            opt.step(&grads)?;
            steps += 1;
        }
        if verbose && (epoch % 10 == 0 || epoch == epochs) {
            let noise = model.log_noise.value().to_vec()?[0].exp();
            println!("epoch {epoch:>3}  nll {:.4}  noise sd {noise:.3}", nll / n as f64);
        }
    }
    let ms_per_step = 1000.0 * start.elapsed().as_secs_f64() / steps.max(1) as f64;
    // One-step-ahead forecasts of the tail from the true past values.
    let test_idx: Vec<usize> = (LEN - HOLDOUT..LEN).collect();
    let (x, y) = windows(&series, &test_idx)?;
    let tape = Tape::predict(seed ^ 0xE7A1);
    let (mean, epistemic) = model.mfvi_forward(&tape.constant(x.to(device)?), 50)?;
    let noise = model.log_noise.value().to_vec()?[0].exp();
    let mean = mean.to_vec()?;
    let std: Vec<f32> = epistemic.to_vec()?.iter().map(|e| (e * e + noise * noise).sqrt()).collect();
    let y = y.to_vec()?;
    Ok(ForecastReport {
        coverage_2sd: interval_coverage(&mean, &std, &y, 2.0)?,
        test_rmse: rmse(&mean, &y)?,
        series,
        mean,
        std,
        noise_std: noise,
        ms_per_step,
    })
}

#[allow(dead_code)]
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let (mut json, mut svg, mut seed, mut epochs) = (false, "sequence_forecast.svg".to_string(), 0u64, 60usize);
    let mut device = Device::Cpu;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| Error::invalid("arguments", format!("{flag} needs a value")));
        match flag.as_str() {
            "--json" => json = true,
            "--device" => device = value()?.parse()?,
            "--svg" => svg = value()?,
            "--seed" => seed = value()?.parse().map_err(|e| Error::invalid("--seed", format!("{e}")))?,
            "--epochs" => epochs = value()?.parse().map_err(|e| Error::invalid("--epochs", format!("{e}")))?,
            other => return Err(Error::invalid("arguments", format!("unknown {other}; see the file header"))),
        }
    }
    println!("seasonal series: {LEN} points, last {HOLDOUT} held out; BayesianLSTM(1 → 16) → BayesianLinear(16 → 1)");
    let r = train(epochs, seed, true, device)?;
    println!("held-out RMSE      {:.4} (noise sd {NOISE})", r.test_rmse);
    println!("±2σ coverage       {:.3}", r.coverage_2sd);
    println!("learned noise sd   {:.4}", r.noise_std);
    println!("time per step      {:.3} ms", r.ms_per_step);
    std::fs::write(&svg, svg_plot(&r)).map_err(|e| Error::Io { path: svg.clone(), message: e.to_string() })?;
    println!("plot written to {svg}");
    if json {
        println!(
            "{{\"workload\":\"sequence_forecast\",\"ms_per_step\":{:.4},\"test_rmse\":{:.4},\"ci2sd_coverage\":{:.4},\"noise_std\":{:.4}}}",
            r.ms_per_step, r.test_rmse, r.coverage_2sd, r.noise_std
        );
    }
    Ok(())
}

/// The last 240 points, the forecast mean and its ±2σ band, as a hand-written SVG.
fn svg_plot(r: &ForecastReport) -> String {
    let (w, h, pad) = (900.0f32, 400.0f32, 50.0f32);
    let first = LEN - 2 * HOLDOUT;
    let (lo, hi) = (-2.2f32, 2.2f32);
    let sx = |t: usize| pad + (t - first) as f32 / (LEN - 1 - first) as f32 * (w - 2.0 * pad);
    let sy = |v: f32| h - pad - (v.clamp(lo, hi) - lo) / (hi - lo) * (h - 2.0 * pad);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let tail = LEN - HOLDOUT;
    // The band: upper edge forward, lower edge back.
    let mut band = String::new();
    for (i, (m, sd)) in r.mean.iter().zip(&r.std).enumerate() {
        let _ = write!(band, "{:.1},{:.1} ", sx(tail + i), sy(m + 2.0 * sd));
    }
    for (i, (m, sd)) in r.mean.iter().zip(&r.std).enumerate().rev() {
        let _ = write!(band, "{:.1},{:.1} ", sx(tail + i), sy(m - 2.0 * sd));
    }
    let _ = writeln!(s, r##"<polygon points="{band}" fill="#1f77b4" fill-opacity="0.25" stroke="none"/>"##);
    let line = |pts: Vec<(usize, f32)>| {
        pts.iter().map(|(t, v)| format!("{:.1},{:.1}", sx(*t), sy(*v))).collect::<Vec<_>>().join(" ")
    };
    let observed = line((first..LEN).map(|t| (t, r.series[t])).collect());
    let _ = writeln!(s, r##"<polyline points="{observed}" fill="none" stroke="#333" stroke-width="1"/>"##);
    let mean = line(r.mean.iter().enumerate().map(|(i, m)| (tail + i, *m)).collect());
    let _ = writeln!(s, r##"<polyline points="{mean}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##);
    let _ = writeln!(
        s,
        r##"<line x1="{x}" y1="{pad}" x2="{x}" y2="{}" stroke="#999" stroke-dasharray="4"/>"##,
        h - pad,
        x = sx(tail)
    );
    let _ = writeln!(
        s,
        r#"<rect x="{pad}" y="{pad}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        w - 2.0 * pad,
        h - 2.0 * pad
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="30" text-anchor="middle">Held-out tail (right of the dashes): mean and ±2σ band, coverage {:.3}, RMSE {:.3}</text>"#,
        w / 2.0,
        r.coverage_2sd,
        r.test_rmse
    );
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">time step</text>"#, w / 2.0, h - 15.0);
    s.push_str("</svg>\n");
    s
}
