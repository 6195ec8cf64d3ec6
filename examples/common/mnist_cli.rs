//! What the two MNIST examples share: their flags, the training run, and the
//! report (text, then one JSON line with `--json`). Each example names its
//! model and its default settings; this file does the rest.

use blitz::layers::classification::{evaluate, train, ClassifierConfig, EpochProgress};
use blitz::layers::data::idx::Mnist;
use blitz::layers::Sequential;
use blitz::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Args {
    config: ClassifierConfig,
    limit: Option<usize>,
    json: bool,
    data: String,
}

fn parse_args(config: ClassifierConfig) -> std::result::Result<Args, String> {
    let mut a =
        Args { config, limit: None, json: false, data: concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k").into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--json" => a.json = true,
            "--data" => a.data = value()?,
            "--epochs" => a.config.epochs = num(value()?)?,
            "--limit" => a.limit = Some(num(value()?)?),
            "--steps" => a.config.max_steps = Some(num(value()?)?),
            "--draws" => a.config.eval_draws = num(value()?)?,
            "--seed" => a.config.seed = num(value()?)? as u64,
            "--device" => a.config.device = value()?.parse().map_err(|e: Error| e.to_string())?,
            other => {
                return Err(format!(
                "unknown argument {other}; use --epochs, --limit, --steps, --draws, --seed, --data, --device, --json"
            ))
            }
        }
    }
    Ok(a)
}

/// Parses the flags over `defaults`, trains the model `build` makes (seeded
/// with `--seed`) and prints the report; `workload` names it in the JSON line
/// and `describe` is the first line printed.
pub fn run(
    workload: &str,
    defaults: ClassifierConfig,
    describe: &str,
    build: impl Fn(&mut StdRng) -> Result<Sequential>,
) -> Result<()> {
    let args = parse_args(defaults).map_err(|e| Error::invalid("arguments", e))?;
    let mut train_set = Mnist::load(&args.data, "train")?;
    if let Some(n) = args.limit {
        train_set = train_set.truncate(n);
    }
    let test_set = Mnist::load(&args.data, "test")?;
    let c = &args.config;
    println!(
        "MNIST: {} train / {} test images; {describe}; batch {}, sample_nbr {}, Adam {}, KL / {}, {} epochs",
        train_set.len(),
        test_set.len(),
        c.batch_size,
        c.sample_nbr,
        c.lr,
        train_set.len(),
        c.epochs
    );
    let model = build(&mut StdRng::seed_from_u64(c.seed))?;
    blitz::layers::to_device(&model, c.device)?;
    let (steps, ms) = train(&model, &train_set, c, |p: &EpochProgress| {
        println!(
            "epoch {:>3}  nll {:.4}  kl/N {:.4}  train acc {:.4}  {:.2} ms/step",
            p.epoch, p.nll, p.kl, p.train_acc, p.ms_per_step
        )
    })?;
    let mut r = evaluate(&model, &test_set, c)?;
    r.steps = steps;
    r.ms_per_step = ms;
    println!("test accuracy, mean weights       {:.4}", r.test_acc_mean_weights);
    println!("test accuracy, {}-draw average    {:.4}", c.eval_draws, r.test_acc_predictive);
    println!("expected calibration error        {:.4}", r.ece);
    println!(
        "mean predictive entropy (nats)    test {:.4}  noise {:.4}  rotated {:.4}",
        r.entropy_test, r.entropy_noise, r.entropy_rotated
    );
    println!("time per step                     {:.3} ms ({} steps)", r.ms_per_step, r.steps);
    if args.json {
        println!(
            "{{\"workload\":\"{workload}\",\"epochs\":{},\"steps\":{},\"ms_per_step\":{:.4},\"test_acc_mean_weights\":{:.4},\"test_acc_predictive\":{:.4},\"ece\":{:.4},\"entropy_test\":{:.4},\"entropy_noise\":{:.4},\"entropy_rotated\":{:.4}}}",
            c.epochs, r.steps, r.ms_per_step, r.test_acc_mean_weights, r.test_acc_predictive, r.ece, r.entropy_test, r.entropy_noise, r.entropy_rotated
        );
    }
    Ok(())
}
