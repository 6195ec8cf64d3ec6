//! Why the reparameterisation trick: the variance of gradient estimates,
//! measured over many seeds, and a check that each estimator is unbiased.
//!
//! (a) A toy expectation E_{w ~ N(mu, sigma²)}[w²], whose gradient is known
//!     (∂/∂mu = 2mu, ∂/∂rho = 2 sigma·sigmoid(rho)): the score function
//!     (REINFORCE), the score function with a leave-one-out baseline, and the
//!     reparameterisation trick, each from the same 4 draws per estimate.
//! (b) ∂ELBO/∂mu of a BayesianLinear layer (13 → 1, closed-form KL against
//!     N(0, 1), per-example likelihood + KL / N) on a batch of 64 Boston
//!     houses: reparameterisation, Flipout and local reparameterisation. The
//!     likelihood is quadratic in the weights, so the exact gradient is known
//!     too: the gradient at the posterior means.
//!
//! `cargo run --release --example reparam_trick [-- --json --seeds N --svg PATH --data PATH]`
//!
//! Prints a table; with `--json` it ends with one JSON line. Writes an SVG of
//! each estimator's spread (`reparam_trick.svg` by default).

#[path = "common/flags.rs"]
mod flags;
#[path = "common/paths.rs"]
mod paths;

use blitz::kernels::reference::reparam as reference;
use blitz::layers::data::{read_delimited, Delimiter, ReadOptions, Standardizer};
use blitz::layers::{BayesianModule, Estimator};
use blitz::prelude::*;
use flags::Flags;
use paths::BOSTON_CSV;
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Args {
    json: bool,
    seeds: usize,
    svg: String,
    data: String,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args { json: false, seeds: 10_000, svg: "reparam_trick.svg".into(), data: BOSTON_CSV.into() };
    let mut flags = Flags::from_env();
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--json" => a.json = true,
            "--seeds" => a.seeds = flags.value(&flag)?.parse().map_err(|e| format!("--seeds: {e}"))?,
            "--svg" => a.svg = flags.value(&flag)?,
            "--data" => a.data = flags.value(&flag)?,
            other => return Err(format!("unknown argument {other}; see the file header")),
        }
    }
    if a.seeds < 10 {
        return Err(format!("--seeds {}: at least 10 are needed for a variance", a.seeds));
    }
    Ok(a)
}

/// Mean and variance (unbiased) of each component over the estimates.
pub struct Spread {
    /// Per component: the mean of the estimates.
    pub mean: Vec<f64>,
    /// Per component: their variance.
    pub var: Vec<f64>,
}

impl Spread {
    fn of(estimates: &[Vec<f64>]) -> Spread {
        let (n, d) = (estimates.len() as f64, estimates[0].len());
        let mean: Vec<f64> = (0..d).map(|k| estimates.iter().map(|e| e[k]).sum::<f64>() / n).collect();
        let var = (0..d).map(|k| estimates.iter().map(|e| (e[k] - mean[k]).powi(2)).sum::<f64>() / (n - 1.0)).collect();
        Spread { mean, var }
    }

    /// Σ of the components' variances (the trace of the covariance).
    pub fn total_var(&self) -> f64 {
        self.var.iter().sum()
    }

    /// max over components of |mean − exact| / standard error.
    fn max_z(&self, exact: &[f64], n: usize) -> f64 {
        let z = |k: usize| (self.mean[k] - exact[k]).abs() / (self.var[k] / n as f64).sqrt().max(1e-300);
        (0..exact.len()).map(z).fold(0.0, f64::max)
    }
}

/// One estimator's results, for the table, the JSON line and the plot.
pub struct Estimates {
    /// The estimator.
    pub name: &'static str,
    /// The estimates, one per seed, each a gradient (one value per parameter).
    pub values: Vec<Vec<f64>>,
    /// Their mean and variance.
    pub spread: Spread,
    /// max over components of |mean − exact| / standard error.
    pub max_z: f64,
}

impl Estimates {
    fn new(name: &'static str, values: Vec<Vec<f64>>, exact: &[f64]) -> Estimates {
        let spread = Spread::of(&values);
        let max_z = spread.max_z(exact, values.len());
        Estimates { name, values, spread, max_z }
    }
}

/// Draws per toy estimate (the same draws for every estimator).
const DRAWS: usize = 4;

/// (a): estimates of (∂/∂mu, ∂/∂rho) E[w²] with w ~ N(mu, softplus(rho)²).
fn toy(n: usize) -> (Vec<Estimates>, Vec<f64>) {
    let (mu, sigma) = (1.5f32, 0.5f32);
    let rho = (sigma.exp() - 1.0).ln(); // softplus⁻¹
    let sig_rho = reference::sigmoid(rho) as f64;
    let exact = vec![2.0 * mu as f64, 2.0 * reference::softplus(rho) as f64 * sig_rho];
    let f = |w: f64| w * w;
    let df = |w: f64| 2.0 * w;
    let (mut score, mut baseline, mut reparam) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..n as u64 {
        let eps: Vec<f32> = (0..DRAWS as u64).map(|j| reference::normal(seed, j)).collect();
        let w: Vec<f64> = eps.iter().map(|&e| reference::sample(mu, rho, e) as f64).collect();
        let fw: Vec<f64> = w.iter().map(|&w| f(w)).collect();
        // ∂ ln q(w) / ∂(mu, rho) with w held fixed: the score.
        let s: Vec<(f64, f64)> =
            w.iter().map(|&w| reference::log_posterior_grad(w, mu as f64, rho)).map(|g| (g.1, g.2)).collect();
        let total: f64 = fw.iter().sum();
        let (mut a, mut b, mut c) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        for i in 0..DRAWS {
            // The baseline for draw i is the mean of f over the other draws: independent of w_i.
            let base = (total - fw[i]) / (DRAWS - 1) as f64;
            let (dw_dmu, dw_drho) = reference::sample_grad(rho, eps[i]);
            a[0] += fw[i] * s[i].0;
            a[1] += fw[i] * s[i].1;
            b[0] += (fw[i] - base) * s[i].0;
            b[1] += (fw[i] - base) * s[i].1;
            c[0] += df(w[i]) * dw_dmu as f64;
            c[1] += df(w[i]) * dw_drho as f64;
        }
        let per = |x: [f64; 2]| x.iter().map(|v| v / DRAWS as f64).collect::<Vec<f64>>();
        score.push(per(a));
        baseline.push(per(b));
        reparam.push(per(c));
    }
    let out = vec![
        Estimates::new("score function", score, &exact),
        Estimates::new("score + baseline", baseline, &exact),
        Estimates::new("reparameterisation", reparam, &exact),
    ];
    (out, exact)
}

/// (b): estimates of ∂ELBO/∂(weight_mu, bias_mu) of one BayesianLinear layer.
fn layer(seeds: usize, data: &str) -> Result<(Vec<Estimates>, Vec<f64>)> {
    let table =
        read_delimited(data, &ReadOptions::default().with_delimiter(Delimiter::Char(',')).with_header_rows(2))?.x;
    let table = Standardizer::fit(&table)?.transform(&table)?;
    let (d, n_train) = (table.cols - 1, table.rows - table.rows.div_ceil(4));
    // The training rows are those whose index is not a multiple of 4 (as the
    // Boston example); the batch is the first 64 of them.
    let rows: Vec<usize> = (0..table.rows).filter(|i| i % 4 != 0).take(64).collect();
    let x: Vec<f32> = rows.iter().flat_map(|&i| table.row(i)[..d].to_vec()).collect();
    let y: Vec<f32> = rows.iter().map(|&i| table.row(i)[d]).collect();
    let (x, y) = (Tensor::from_vec(x, &[rows.len(), d])?, Tensor::from_vec(y, &[rows.len(), 1])?);
    let kl_weight = 1.0 / n_train as f32;
    let build = |estimator| {
        let options = BayesianLinearOptions {
            prior: Some(std::sync::Arc::new(Gaussian::new(1.0)?)),
            kl: KlMode::ClosedForm,
            posterior_rho_init: -2.0,
            estimator,
            ..Default::default()
        };
        // The same seed: every estimator's layer has the same posterior.
        BayesianLinear::with_options(d, 1, options, &mut StdRng::seed_from_u64(3))
    };
    let grad = |l: &BayesianLinear, tape: &Tape| -> Result<Vec<f64>> {
        let pred = l.forward(&tape.constant(x.clone()))?;
        let elbo_loss = loss::mse(&pred, &tape.constant(y.clone()))?.add(&tape.complexity()?.mul_scalar(kl_weight)?)?;
        let g = tape.backward(&elbo_loss)?;
        let (w_mu, _) = l.weight();
        let (b_mu, _) = l.bias().expect("the layer has a bias");
        let mut v = g.get(w_mu).expect("weight_mu is used").to_vec()?;
        v.extend(g.get(b_mu).expect("bias_mu is used").to_vec()?);
        Ok(v.into_iter().map(f64::from).collect())
    };
    // Exact: E[(y − x·w)²] is quadratic in w, so its gradient at mu is that of
    // the loss at the means; the closed-form KL's gradient is deterministic.
    let reference_layer = build(Estimator::Reparameterisation)?;
    reference_layer.set_frozen(true);
    let exact = {
        let tape = Tape::new(0);
        tape.add_complexity(&reference_layer.kl(&tape)?.expect("a Gaussian prior has a closed-form KL"))?;
        grad(&reference_layer, &tape)?
    };
    let mut out = Vec::new();
    for (name, estimator) in [
        ("reparameterisation", Estimator::Reparameterisation),
        ("Flipout", Estimator::Flipout),
        ("local reparameterisation", Estimator::LocalReparameterisation),
    ] {
        let l = build(estimator)?;
        let values = (0..seeds as u64).map(|s| grad(&l, &Tape::new(s))).collect::<Result<Vec<_>>>()?;
        out.push(Estimates::new(name, values, &exact));
    }
    Ok((out, exact))
}

/// One panel of box plots: for each estimator, the 1st–99th percentile
/// whiskers, the quartile box and the mean, of component `k`; a dashed line
/// at the exact value.
fn panel(title: &str, ests: &[Estimates], k: usize, exact: f64, top: f64) -> String {
    let (left, width, row) = (190.0, 560.0, 46.0);
    let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let sorted: Vec<Vec<f64>> = ests
        .iter()
        .map(|e| {
            let mut v: Vec<f64> = e.values.iter().map(|x| x[k]).collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let lo = sorted.iter().map(|v| pct(v, 0.01)).fold(exact, f64::min);
    let hi = sorted.iter().map(|v| pct(v, 0.99)).fold(exact, f64::max);
    let pad = 0.05 * (hi - lo).max(1e-12);
    let (lo, hi) = (lo - pad, hi + pad);
    let px = |v: f64| left + (v - lo) / (hi - lo) * width;
    let mut s = format!("<text x=\"20\" y=\"{:.0}\" font-weight=\"bold\">{title}</text>\n", top + 16.0);
    for (i, (e, v)) in ests.iter().zip(&sorted).enumerate() {
        let y = top + 40.0 + i as f64 * row;
        let (p1, q1, q3, p99) = (pct(v, 0.01), pct(v, 0.25), pct(v, 0.75), pct(v, 0.99));
        s += &format!("<text x=\"20\" y=\"{:.1}\">{}</text>\n", y + 5.0, e.name);
        s += &format!(
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#555\"/>\n",
            px(p1),
            px(p99)
        );
        s += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#9cc3e6\" stroke=\"#2b6cb0\"/>\n",
            px(q1),
            y - 8.0,
            (px(q3) - px(q1)).max(1.0)
        );
        s += &format!("<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"#c53030\"/>\n", px(e.spread.mean[k]));
        s += &format!(
            "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11\">var {:.3e}</text>\n",
            left + width + 10.0,
            y + 4.0,
            e.spread.var[k]
        );
    }
    let bottom = top + 40.0 + ests.len() as f64 * row - 20.0;
    s += &format!(
        "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n",
        px(exact),
        top + 24.0
    );
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">exact {exact:.4}</text>\n",
        px(exact),
        bottom + 14.0
    );
    for (v, anchor) in [(lo, "start"), (hi, "end")] {
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\">{v:.3}</text>\n",
            px(v),
            bottom + 14.0
        );
    }
    s
}

fn svg(toy: &[Estimates], toy_exact: &[f64], layer: &[Estimates], layer_exact: &[f64]) -> String {
    // The layer's component whose reparameterisation estimate varies most.
    let k =
        (0..layer_exact.len()).max_by(|&a, &b| layer[0].spread.var[a].total_cmp(&layer[0].spread.var[b])).unwrap_or(0);
    let mut s = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"880\" height=\"420\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
    );
    s += &panel("(a) ∂/∂mu E[w²], w ~ N(1.5, 0.5²): estimates over seeds", toy, 0, toy_exact[0], 10.0);
    let title = format!("(b) ∂ELBO/∂mu of a BayesianLinear weight ({k}) on 64 Boston houses");
    s += &panel(&title, layer, k, layer_exact[k], 210.0);
    s += "<text x=\"20\" y=\"410\" font-size=\"11\">whiskers 1st–99th percentile, box quartiles, red dot the mean</text>\n</svg>\n";
    s
}

/// Both measurements: the toy's three estimators (score function, with a
/// baseline, reparameterisation) and the layer's three (reparameterisation,
/// Flipout, local reparameterisation), with the exact gradients.
pub struct Measurement {
    /// (a), 25·seeds estimates each.
    pub toy: Vec<Estimates>,
    /// (∂/∂mu, ∂/∂rho) E[w²].
    pub toy_exact: Vec<f64>,
    /// (b), `seeds` estimates each.
    pub layer: Vec<Estimates>,
    /// ∂ELBO/∂(weight_mu, bias_mu).
    pub layer_exact: Vec<f64>,
}

impl Measurement {
    /// Every component of every estimator within 3 standard errors of the exact value.
    pub fn unbiased(&self) -> bool {
        self.toy.iter().chain(&self.layer).all(|e| e.max_z < 3.0)
    }
}

/// Runs (a) with 25·`seeds` estimates and (b) with `seeds`, on the Boston CSV at `data`.
///
/// # Errors
/// The CSV cannot be read or parsed.
pub fn measure(seeds: usize, data: &str) -> Result<Measurement> {
    let (toy, toy_exact) = toy(25 * seeds);
    let (layer, layer_exact) = layer(seeds, data)?;
    Ok(Measurement { toy, toy_exact, layer, layer_exact })
}

fn run() -> std::result::Result<(), String> {
    let args = parse_args()?;
    let toy_n = 25 * args.seeds;
    let Measurement { toy, toy_exact, layer, layer_exact } =
        measure(args.seeds, &args.data).map_err(|e| e.to_string())?;
    let tv = |e: &Estimates| e.spread.var[0];
    let lv = |e: &Estimates| e.spread.total_var();
    println!(
        "(a) toy: ∂/∂mu E[w²], w ~ N(1.5, 0.5²), exact {:.4}; {toy_n} estimates of {DRAWS} draws each",
        toy_exact[0]
    );
    for e in &toy {
        let (m, v) = (e.spread.mean[0], tv(e));
        println!(
            "  {:<26} mean {m:>8.4}  variance {v:>10.4}  ({:>6.1}x reparam)  max |z| {:.2}",
            e.name,
            v / tv(&toy[2]),
            e.max_z
        );
    }
    println!(
        "(b) layer: ∂ELBO/∂mu of BayesianLinear(13 → 1), 64 Boston rows; {} seeds; variance summed over the 14 means",
        args.seeds
    );
    for e in &layer {
        let v = lv(e);
        println!("  {:<26} variance {v:>10.4e}  ({:>6.3}x reparam)  max |z| {:.2}", e.name, v / lv(&layer[0]), e.max_z);
    }
    let unbiased = toy.iter().chain(&layer).all(|e| e.max_z < 3.0); // as Measurement::unbiased
    println!("unbiased within 3 standard errors: {unbiased}");
    std::fs::write(&args.svg, svg(&toy, &toy_exact, &layer, &layer_exact)).map_err(|e| format!("{}: {e}", args.svg))?;
    println!("plot written to {}", args.svg);
    if args.json {
        let z = |es: &[Estimates]| es.iter().map(|e| format!("{:.3}", e.max_z)).collect::<Vec<_>>().join(",");
        println!(
            "{{\"toy_score_var\":{:.6},\"toy_score_baseline_var\":{:.6},\"toy_reparam_var\":{:.6},\
             \"toy_score_ratio\":{:.3},\"toy_score_baseline_ratio\":{:.3},\
             \"toy_rho_score_var\":{:.6},\"toy_rho_score_baseline_var\":{:.6},\"toy_rho_reparam_var\":{:.6},\
             \"layer_reparam_var\":{:.6e},\"layer_flipout_var\":{:.6e},\"layer_local_var\":{:.6e},\
             \"layer_flipout_ratio\":{:.4},\"layer_local_ratio\":{:.4},\
             \"toy_max_abs_z\":[{}],\"layer_max_abs_z\":[{}],\"unbiased\":{unbiased},\
             \"toy_estimates\":{toy_n},\"layer_estimates\":{},\"svg\":\"{}\"}}",
            tv(&toy[0]),
            tv(&toy[1]),
            tv(&toy[2]),
            tv(&toy[0]) / tv(&toy[2]),
            tv(&toy[1]) / tv(&toy[2]),
            toy[0].spread.var[1],
            toy[1].spread.var[1],
            toy[2].spread.var[1],
            lv(&layer[0]),
            lv(&layer[1]),
            lv(&layer[2]),
            lv(&layer[1]) / lv(&layer[0]),
            lv(&layer[2]) / lv(&layer[0]),
            z(&toy),
            z(&layer),
            args.seeds,
            args.svg.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    Ok(())
}

fn main() {
    flags::exit_on_error(run);
}
