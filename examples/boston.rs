//! Bayesian regression on Boston housing — BLiTZ's README example, done so
//! that it learns and its intervals mean something.
//!
//! ```text
//! cargo run --release --example boston [-- --json --svg PATH --seed S --epochs N --device cpu|cuda]
//! ```
//! Tuning flags: `--hidden --hidden-layers --lr --lr-final --batch-size
//! --sample-nbr --prior-sigma --prior-pi --prior-sigma-2 --rho-init
//! --noise-init --empirical-bayes --data`.
//!
//! Test set: the rows whose 0-based index is a multiple of 4 (127), training
//! the other 379; the skewed columns CRIM, ZN, DIS, LSTAT taken as ln(1 + x),
//! then everything standardised with the training statistics. The likelihood
//! is Gaussian with a learned noise level and the KL is scaled per example
//! (mean NLL + KL / N_train), so the ±2σ interval holds both the weight
//! (epistemic) and the noise (aleatoric) uncertainty.

use blitz::layers::data::load_csv;
use blitz::layers::regression::{train, Progress, RegressionConfig, RegressionData, RegressionReport};
use blitz::prelude::*;
use std::fmt::Write as _;

struct Args {
    config: RegressionConfig,
    svg: String,
    json: bool,
    data: String,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args {
        config: RegressionConfig::default(),
        svg: "boston.svg".into(),
        json: false,
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv").into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--json" => a.json = true,
            "--svg" => a.svg = value()?,
            "--data" => a.data = value()?,
            "--epochs" => a.config.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--seed" => a.config.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--device" => a.config.device = value()?.parse().map_err(|e: Error| e.to_string())?,
            "--hidden" => a.config.hidden = value()?.parse().map_err(|e| format!("--hidden: {e}"))?,
            "--lr" => a.config.lr = value()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--lr-final" => a.config.lr_final = value()?.parse().map_err(|e| format!("--lr-final: {e}"))?,
            "--hidden-layers" => {
                a.config.hidden_layers = value()?.parse().map_err(|e| format!("--hidden-layers: {e}"))?
            }
            "--noise-init" => a.config.noise_init = value()?.parse().map_err(|e| format!("--noise-init: {e}"))?,
            "--empirical-bayes" => a.config.kl = blitz::layers::KlMode::EmpiricalBayes,
            "--prior-pi" => a.config.prior_pi = value()?.parse().map_err(|e| format!("--prior-pi: {e}"))?,
            "--prior-sigma-2" => {
                a.config.prior_sigma_2 = value()?.parse().map_err(|e| format!("--prior-sigma-2: {e}"))?
            }
            "--batch-size" => a.config.batch_size = value()?.parse().map_err(|e| format!("--batch-size: {e}"))?,
            "--sample-nbr" => a.config.sample_nbr = value()?.parse().map_err(|e| format!("--sample-nbr: {e}"))?,
            "--prior-sigma" => a.config.prior_sigma = value()?.parse().map_err(|e| format!("--prior-sigma: {e}"))?,
            "--rho-init" => a.config.rho_init = value()?.parse().map_err(|e| format!("--rho-init: {e}"))?,
            other => return Err(format!("unknown argument {other}; see the file header")),
        }
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse_args().map_err(|e| Error::invalid("arguments", e))?;
    let table = load_csv(&args.data, 2)?;
    let data = RegressionData::boston(&table)?;
    let c = &args.config;
    println!(
        "Boston housing: {} train / {} test rows; {}-{}-1 Bayesian MLP, prior N(0, {}), rho init {}, {} epochs",
        data.x_train.rows, data.x_test.rows, data.x_train.cols, c.hidden, c.prior_sigma, c.rho_init, c.epochs
    );
    let (_, r) = train(&data, c, |p: &Progress| {
        println!("epoch {:>4}  nll {:.4}  kl/N {:.4}  noise {:.2} k$", p.epoch, p.nll, p.kl, p.noise_std)
    })?;
    let epistemic = r.epistemic_std.iter().sum::<f32>() / r.epistemic_std.len() as f32;
    println!("test RMSE          {:.3} k$", r.test_rmse);
    println!("±2σ coverage       {:.3}", r.coverage_2sd);
    println!("test log-lik       {:.3} (per example, k$ units)", r.test_loglik);
    println!("std: epistemic     {:.3} k$ (mean), aleatoric {:.3} k$", epistemic, r.aleatoric_std);
    println!("time per step      {:.3} ms ({} steps)", r.ms_per_step, r.steps);
    std::fs::write(&args.svg, svg_plot(&data.y_test, &r))
        .map_err(|e| Error::Io { path: args.svg.clone(), message: e.to_string() })?;
    println!("plot written to {}", args.svg);
    if args.json {
        println!(
            "{{\"workload\":\"boston\",\"ms_per_step\":{:.4},\"test_rmse_k_usd\":{:.4},\"ci2sd_coverage\":{:.4},\"test_loglik\":{:.4},\"epistemic_std_k_usd\":{:.4},\"aleatoric_std_k_usd\":{:.4}}}",
            r.ms_per_step, r.test_rmse, r.coverage_2sd, r.test_loglik, epistemic, r.aleatoric_std
        );
    }
    Ok(())
}

/// Predicted vs. true price with ±2σ bars, as a hand-written SVG.
fn svg_plot(y: &[f32], r: &RegressionReport) -> String {
    let (w, h, pad) = (640.0f32, 640.0f32, 60.0f32);
    let lo = 0.0f32;
    let hi = y.iter().chain(r.mean.iter()).fold(50.0f32, |a, &b| a.max(b)) + 5.0;
    let sx = |v: f32| pad + (v - lo) / (hi - lo) * (w - 2.0 * pad);
    let sy = |v: f32| h - pad - (v.clamp(lo, hi) - lo) / (hi - lo) * (h - 2.0 * pad);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4"/>"##,
        sx(lo),
        sy(lo),
        sx(hi),
        sy(hi)
    );
    for t in (0..=(hi as i32)).step_by(10) {
        let t = t as f32;
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{t}</text>"#, sx(t), h - pad + 18.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{t}</text>"#, pad - 6.0, sy(t) + 4.0);
    }
    let _ = writeln!(
        s,
        r#"<rect x="{pad}" y="{pad}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        w - 2.0 * pad,
        h - 2.0 * pad
    );
    for (i, &t) in y.iter().enumerate() {
        let (m, sd) = (r.mean[i], r.std[i]);
        let inside = (t - m).abs() <= 2.0 * sd;
        let color = if inside { "#1f77b4" } else { "#d62728" };
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{color}" stroke-opacity="0.4"/>"#,
            sy(m - 2.0 * sd),
            sy(m + 2.0 * sd),
            x = sx(t)
        );
        let _ = writeln!(s, r#"<circle cx="{}" cy="{}" r="2.5" fill="{color}"/>"#, sx(t), sy(m));
    }
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">true price (k$)</text>"#, w / 2.0, h - 15.0);
    let _ = writeln!(
        s,
        r#"<text x="15" y="{}" transform="rotate(-90 15 {})" text-anchor="middle">predicted price, ±2σ (k$)</text>"#,
        h / 2.0,
        h / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="30" text-anchor="middle">Boston test set: RMSE {:.2} k$, ±2σ coverage {:.3} (red: outside)</text>"#,
        w / 2.0,
        r.test_rmse,
        r.coverage_2sd
    );
    s.push_str("</svg>\n");
    s
}
