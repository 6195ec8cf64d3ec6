//! The workload runner: exactly the workloads of the peer benchmark
//! (`../shared/peer/blitz_bench.py`, PyTorch + BLiTZ) — same models, data,
//! batch sizes, sample counts and epochs — printing one JSON line per
//! workload with the peer's keys, so `scripts/compare-peer.sh` can set the
//! two side by side.
//!
//! ```text
//! cargo run --release --example workloads -- --json [--only a,b] [--quick] [--device cpu|cuda] [--data DIR] [--seed N] [--mc100-repeat N] [--split default|eager|sequential]
//! ```
//! `--seed` (default 0, the peer's `torch.manual_seed(0)`) changes the
//! initialisation, the batch order and the weight draws: quality figures are
//! one seed's, and several seeds show their spread.
//! Threads: `RAYON_NUM_THREADS` (the compare script sets it and the peer's
//! `THREADS` to the same value). `--split` sets when the training steps of
//! every workload split a loop over them (`eager`: from two
//! chunks, to measure what waking a thread costs; the bits do not change).

#[path = "common/flags.rs"]
mod flags;
#[path = "common/json.rs"]
mod json;
#[path = "common/paths.rs"]
mod paths;
#[path = "common/timing.rs"]
mod timing;

use blitz::kernels::context::{Context, ThreadSplit};
use blitz::layers::data::idx::Mnist;
use blitz::layers::data::{read_delimited, Delimiter, ReadOptions};
use blitz::prelude::*;
use blitz::rand::seq::SliceRandom;
use json::Json;
use paths::default_data_dir;
use std::time::Instant;
use timing::ms_since;

/// Boston's split of the peer: test = rows whose index is a multiple of 4;
/// inputs and target standardised with the training rows' statistics.
struct BostonSplit {
    x_train: Table,
    y_train: Vec<f32>,
    x_test: Table,
    y_test: Vec<f32>,
    y_mean: f32,
    y_std: f32,
}

fn boston_split(table: &Table) -> Result<BostonSplit> {
    let (train, test) = Split::EveryKth(4).indices(table.rows)?;
    let f = table.cols - 1;
    let (tr, te) = (table.take_rows(&train)?, table.take_rows(&test)?);
    let (x_train, x_test) = (tr.columns(0, f)?, te.columns(0, f)?);
    let (y_train, y_test) = (tr.columns(f, f + 1)?, te.columns(f, f + 1)?);
    let xs = Standardizer::fit(&x_train)?;
    let ys = Standardizer::fit(&y_train)?;
    Ok(BostonSplit {
        x_train: xs.transform(&x_train)?,
        y_train: ys.transform(&y_train)?.data,
        x_test: xs.transform(&x_test)?,
        y_test: y_test.data,
        y_mean: ys.mean[0],
        y_std: ys.std[0],
    })
}

struct Opts {
    quick: bool,
    device: Device,
    data: String,
    seed: u64,
    /// Extra runs of the 100-draw prediction after the timed one (for a
    /// profiler: `scripts/profile-workloads.sh`); `mc100_infer_ms` stays the
    /// first run's (as the peer's), `mc100_repeat_median_ms` is theirs.
    mc100_repeat: usize,
    /// When the training steps of every workload split a loop over
    /// the threads (`--split default|eager|sequential`, the tapes' context).
    split: ThreadSplit,
}

impl Opts {
    /// The context of a training tape.
    fn context(&self) -> Context {
        Context { split: self.split, ..Context::default() }
    }
}

/// The peer's `boston`: the BLiTZ README model (13-512-1, MSE, KL weight 1)
/// or the tuned one (13-50-1, N(0,1) prior, rho −5, learned noise, KL / N).
fn boston(o: &Opts, tuned: bool) -> Result<Json> {
    let table = read_delimited(
        format!("{}/boston_house_prices.csv", o.data),
        &ReadOptions::default().with_delimiter(Delimiter::Char(',')).with_header_rows(2),
    )?
    .x;
    let data = boston_split(&table)?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let (hidden, opts) = if tuned {
        let opts =
            BayesianLinearOptions { posterior_rho_init: -5.0, ..Default::default() }.with_prior(Gaussian::new(1.0)?);
        (50, opts)
    } else {
        (512, BayesianLinearOptions::default())
    };
    let model = Sequential::new()
        .push(BayesianLinear::with_options(13, hidden, opts.clone(), &mut rng)?)
        .push(ReLU)
        .push(BayesianLinear::with_options(hidden, 1, opts, &mut rng)?);
    to_device(&model, o.device)?;
    let log_noise = Param::new("log_noise", Tensor::from_vec(vec![-1.0], &[1])?.to(o.device)?);
    let n = data.x_train.rows;
    let x_all = data.x_train.to_tensor()?;
    let epochs = if o.quick { 10 } else { 100 };
    let kl_weight = if tuned { 1.0 / n as f32 } else { 1.0 };
    let mut opt = Adam::new(0.01)?;
    let mut order: Vec<usize> = (0..n).collect();
    let x_host = x_all.to_vec()?;
    let (mut steps, start) = (0usize, Instant::now());
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for batch in order.chunks(16) {
            let tape = Tape::new((o.seed << 32) + steps as u64).with_context(o.context());
            let xb: Vec<f32> = batch.iter().flat_map(|&i| x_host[i * 13..(i + 1) * 13].to_vec()).collect();
            let yb: Vec<f32> = batch.iter().map(|&i| data.y_train[i]).collect();
            let x = tape.constant(Tensor::from_vec(xb, &[batch.len(), 13])?.to(o.device)?);
            let y = tape.constant(Tensor::from_vec(yb, &[batch.len(), 1])?.to(o.device)?);
            let loss = if tuned {
                let log_var = tape.param(&log_noise).mul_scalar(2.0)?;
                model.sample_elbo(&x, &y, |p, y| loss::gaussian_nll(p, &log_var, y), 3, kl_weight)?
            } else {
                model.sample_elbo(&x, &y, loss::mse, 3, kl_weight)?
            };
            let grads = tape.backward(&loss)?;
            // The pass shares the parameters' storage: let it go before the
            // step, which then updates them in place instead of copying each.
            drop((loss, x, y, tape));
            opt.step(&grads)?;
            steps += 1;
        }
    }
    // One read-back at the end waits for a GPU to finish (the peer's sync()).
    let noise = log_noise.value().to_vec()?[0].exp();
    let train_ms = ms_since(start);

    let x_test = data.x_test.to_tensor()?.to(o.device)?;
    let (faults, t) = (minor_faults(), Instant::now());
    // 100 predictions, each with its own weight draw (on the CPU, the draws share the threads).
    let outs = model.predict_draws(&o.context(), &x_test, 100, (o.seed << 32) + 1)?;
    let draws: Vec<Vec<f32>> = outs.iter().map(|t| t.to_vec()).collect::<Result<_>>()?;
    let infer_ms = ms_since(t);
    let first_faults = faults.zip(minor_faults()).map(|(a, b)| b - a);
    let (mut again, faults) = (Vec::with_capacity(o.mc100_repeat), minor_faults());
    for r in 0..o.mc100_repeat {
        let t = Instant::now();
        let outs = model.predict_draws(&o.context(), &x_test, 100, (o.seed << 32) + 2 + r as u64)?;
        std::hint::black_box(outs.iter().map(|t| t.to_vec()).collect::<Result<Vec<_>>>()?);
        again.push(ms_since(t));
    }
    let repeat_faults = faults.zip(minor_faults()).map(|(a, b)| (b - a) as f64 / o.mc100_repeat.max(1) as f64);
    again.sort_by(f64::total_cmp);

    let m = data.y_test.len();
    let y_test: Vec<f32> = data.y_test.iter().map(|v| (v - data.y_mean) / data.y_std).collect();
    let (mut mean, mut sd) = (vec![0f64; m], vec![0f64; m]);
    for i in 0..m {
        let col: Vec<f64> = draws.iter().map(|d| d[i] as f64).collect();
        mean[i] = col.iter().sum::<f64>() / 100.0;
        sd[i] = (col.iter().map(|v| (v - mean[i]).powi(2)).sum::<f64>() / 99.0).sqrt();
    }
    let noise_sd = if tuned { noise as f64 } else { 0.0 };
    let mut covered = 0;
    let mut sq = 0f64;
    for i in 0..m {
        let tot = (sd[i] * sd[i] + noise_sd * noise_sd).sqrt();
        let y = y_test[i] as f64;
        covered += (mean[i] - 2.0 * tot <= y && y <= mean[i] + 2.0 * tot) as usize;
        sq += (mean[i] - y).powi(2);
    }
    let mut j = Json::default()
        .text("workload", if tuned { "boston_tuned" } else { "boston_readme" })
        .text("model", if tuned { "13-50-1" } else { "13-512-1" })
        .int("batch", 16)
        .int("sample_nbr", 3)
        .int("epochs", epochs)
        .int("steps", steps)
        .int("product_flops_per_step", product_flops_per_step(16, 3, &[(13, hidden), (hidden, 1)], &[]))
        .num("train_s", train_ms / 1e3)
        .num("ms_per_step", train_ms / steps as f64)
        .num("mc100_infer_ms", infer_ms)
        .num("test_rmse_k_usd", (sq / m as f64).sqrt() * data.y_std as f64)
        .num("ci2sd_coverage", covered as f64 / m as f64);
    if let Some(f) = first_faults {
        j = j.int("mc100_minor_faults", f as usize);
    }
    if let Some(m) = again.get(again.len() / 2) {
        j = j.num("mc100_repeat_median_ms", *m);
        if let Some(f) = repeat_faults {
            j = j.num("mc100_repeat_minor_faults", f);
        }
    }
    if tuned {
        // Predictive density: the mixture over the 100 draws, each with the learned noise, in k$.
        let mut ll = 0f64;
        for i in 0..m {
            let comps: Vec<f64> = draws
                .iter()
                .map(|d| {
                    let z = (y_test[i] as f64 - d[i] as f64) / noise_sd;
                    -0.5 * z * z - noise_sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
                })
                .collect();
            let top = comps.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            ll += top + comps.iter().map(|c| (c - top).exp()).sum::<f64>().ln() - 100f64.ln();
        }
        j = j.num("test_loglik", ll / m as f64 - (data.y_std as f64).ln());
    }
    Ok(j)
}

/// Multiply-adds ×2 of one training step's products (the GEMMs and
/// convolutions: forward, and the backward's two products each), for
/// `draws` weight draws of a batch of `batch`: `dense` lists the (in, out)
/// of the linear layers, `conv` the (output pixels, out channels, in
/// channels × kernel pixels) of the convolutions. Element-wise work is not
/// counted. `scripts/compare_peer_goals.py` turns it into a share of the peak.
fn product_flops_per_step(
    batch: usize,
    draws: usize,
    dense: &[(usize, usize)],
    conv: &[(usize, usize, usize)],
) -> usize {
    let per_example: usize =
        dense.iter().map(|(i, o)| i * o).sum::<usize>() + conv.iter().map(|(p, o, k)| p * o * k).sum::<usize>();
    2 * 3 * batch * draws * per_example
}

/// Test accuracy with the posterior means (the peer's `freeze_()` evaluation).
fn mean_weight_accuracy(model: &dyn Module, test: &Mnist, device: Device) -> Result<f64> {
    model.freeze();
    let idx: Vec<usize> = (0..test.len()).collect();
    let mut correct = 0usize;
    for chunk in idx.chunks(500) {
        let (x, labels) = test.batch(chunk)?;
        let tape = Tape::predict(0);
        let logits = model.forward(&tape.constant(x.to(device)?))?;
        correct += logits.value().argmax_rows(&tape.context())?.iter().zip(&labels).filter(|(a, b)| a == b).count();
    }
    model.unfreeze();
    Ok(correct as f64 / test.len() as f64)
}

fn mnist(o: &Opts, lenet: bool) -> Result<Json> {
    let train_set = Mnist::load(format!("{}/mnist10k", o.data), "train")?;
    let test_set = Mnist::load(format!("{}/mnist10k", o.data), "test")?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let model = if lenet {
        Sequential::new()
            .push(BayesianConv2d::new(1, 6, (5, 5), &mut rng)?)
            .push(ReLU)
            .push(MaxPool2d::new(2))
            .push(BayesianConv2d::new(6, 16, (5, 5), &mut rng)?)
            .push(ReLU)
            .push(MaxPool2d::new(2))
            .push(Flatten)
            .push(BayesianLinear::new(256, 120, &mut rng)?)
            .push(ReLU)
            .push(BayesianLinear::new(120, 84, &mut rng)?)
            .push(ReLU)
            .push(BayesianLinear::new(84, 10, &mut rng)?)
    } else {
        Sequential::new()
            .push(Flatten)
            .push(BayesianLinear::new(784, 400, &mut rng)?)
            .push(ReLU)
            .push(BayesianLinear::new(400, 400, &mut rng)?)
            .push(ReLU)
            .push(BayesianLinear::new(400, 10, &mut rng)?)
    };
    to_device(&model, o.device)?;
    let (batch, sample_nbr, epochs) = match (lenet, o.quick) {
        (true, q) => (64, 3, if q { 1 } else { 3 }),
        (false, q) => (128, 1, if q { 1 } else { 5 }),
    };
    let c = TrainConfig {
        epochs,
        batch_size: batch,
        sample_nbr,
        lr: 1e-3,
        lr_final: 1e-3,
        device: o.device,
        seed: o.seed,
        context: o.context(),
        ..Default::default()
    };
    let x = Tensor::from_vec(train_set.images.clone(), &[train_set.len(), 1, 28, 28])?;
    let names = (0..10).map(|d| d.to_string()).collect();
    let start = Instant::now();
    let clf = Classifier::new(model, names)?;
    let steps = clf.fit(&x, &train_set.labels, &c, |_| {})?.steps;
    let train_ms = ms_since(start);
    let acc = mean_weight_accuracy(&clf.net, &test_set, o.device)?;
    let mut j = Json::default().text("workload", if lenet { "mnist_lenet" } else { "mnist_mlp400" });
    if !lenet {
        j = j.text("model", "784-400-400-10");
    }
    let flops = if lenet {
        // conv1 1→6 (5×5) on 28×28 gives 24×24; conv2 6→16 (5×5) on 12×12 gives 8×8.
        product_flops_per_step(batch, sample_nbr, &[(256, 120), (120, 84), (84, 10)], &[(576, 6, 25), (64, 16, 150)])
    } else {
        product_flops_per_step(batch, sample_nbr, &[(784, 400), (400, 400), (400, 10)], &[])
    };
    Ok(j.int("batch", batch)
        .int("sample_nbr", sample_nbr)
        .int("epochs", epochs)
        .int("steps", steps)
        .int("product_flops_per_step", flops)
        .num("train_s", train_ms / 1e3)
        .num("ms_per_step", train_ms / steps as f64)
        .num("test_acc_mean_weights", acc))
}

/// One weight draw + its complexity cost (log q − log p), forward and
/// backward, on a 2048x2048 layer with the scale-mixture prior (0.5, 1, 0.002).
fn sample_kl(o: &Opts) -> Result<Json> {
    let n = 2048 * 2048;
    let mut rng = StdRng::seed_from_u64(0);
    let mu = Param::new("mu", Tensor::randn(&[n], 0.0, 0.1, &mut rng)?.to(o.device)?);
    let rho = Param::new("rho", Tensor::full(&[n], -7.0)?.to(o.device)?);
    let prior = ScaleMixture::new(0.5, 1.0, 0.002)?;
    let reps = if o.quick { 5 } else { 20 };
    let step = |i: u64| -> Result<f32> {
        let tape = Tape::new(i).with_context(o.context());
        let (seed, off) = tape.draw(n);
        let (m, r) = (tape.param(&mu), tape.param(&rho));
        // One fused pass draws w and sums log q − log p; its backward regenerates eps once.
        let spec = prior.spec().ok_or_else(|| Error::invalid("prior", "no fused form"))?;
        let (w, kl) = m.sample_with_kl(&r, seed, off, spec)?;
        let grads = tape.backward(&kl.add(&w.sum()?)?)?;
        // Reading one gradient element waits for a GPU to finish.
        Ok(grads.get(&rho).map(|g| g.numel() as f32).unwrap_or(0.0) + kl.item()? * 0.0)
    };
    for i in 0..2 {
        step(i)?;
    }
    let t = Instant::now();
    for i in 0..reps {
        step(100 + i as u64)?;
    }
    let per = ms_since(t) / reps as f64;
    Ok(Json::default()
        .text("workload", "sample_kl_4M")
        .int("params", n)
        .num("ms_per_draw_fwd_bwd", per)
        .num("mparams_per_s", n as f64 / per / 1e3))
}

fn main() {
    flags::exit_on_error(run);
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut only: Vec<String> = Vec::new();
    let mut o = Opts {
        quick: false,
        device: Device::Cpu,
        data: default_data_dir(),
        seed: 0,
        mc100_repeat: 0,
        split: ThreadSplit::default(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => {}
            "--quick" => o.quick = true,
            "--data" => o.data = it.next().cloned().unwrap_or_else(default_data_dir),
            "--only" => only = it.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
            "--device" => o.device = it.next().map(|s| s.parse()).transpose()?.unwrap_or(Device::Cpu),
            "--seed" => {
                o.seed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::invalid("--seed", "needs a non-negative integer"))?
            }
            "--mc100-repeat" => {
                o.mc100_repeat = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::invalid("--mc100-repeat", "needs a non-negative integer"))?
            }
            "--split" => {
                o.split = match it.next().map(String::as_str) {
                    Some("default") => ThreadSplit::default(),
                    Some("eager") => ThreadSplit::eager(),
                    Some("sequential") => ThreadSplit::sequential(),
                    other => {
                        return Err(Error::invalid("--split", format!("{other:?}: use default, eager or sequential")))
                    }
                }
            }
            other => return Err(Error::invalid("argument", format!("{other} (see the file header)"))),
        }
    }
    let all = ["boston_readme", "boston_tuned", "mnist_mlp400", "mnist_lenet", "sample_kl_4M"];
    let names: Vec<&str> = if only.is_empty() { all.to_vec() } else { only.iter().map(String::as_str).collect() };
    for name in names {
        let j = match name {
            "boston_readme" => boston(&o, false)?,
            "boston_tuned" => boston(&o, true)?,
            "mnist_mlp400" => mnist(&o, false)?,
            "mnist_lenet" => mnist(&o, true)?,
            "sample_kl_4M" => sample_kl(&o)?,
            other => return Err(Error::invalid("workload", format!("{other}: not one of {all:?}"))),
        };
        let j = j.int("threads", rayon::current_num_threads()).text("device", &o.device.to_string());
        println!("{}", j.render());
    }
    Ok(())
}

/// The process's minor page faults so far (Linux: `/proc/self/stat`, field
/// 10), to show what a first run pays in fresh pages; None elsewhere.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name in parentheses start at field 3.
    stat.rsplit_once(')')?.1.split_whitespace().nth(10 - 3)?.parse().ok()
}
