//! What the two MNIST examples share: their flags, the training run, and the
//! report (text, then one JSON line with `--json`). Each example names its
//! model and its default settings; this file does the rest.

#[path = "mnist_models.rs"]
pub mod mnist_models;

use blitz::layers::data::idx::Mnist;
use blitz::prelude::*;
use mnist_models::{digit_names, out_of_distribution};

struct Args {
    config: TrainConfig,
    draws: usize,
    limit: Option<usize>,
    json: bool,
    data: String,
}

fn parse_args(config: TrainConfig) -> std::result::Result<Args, String> {
    let mut a = Args {
        config,
        draws: 20,
        limit: None,
        json: false,
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k").into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|_| format!("{flag} {v:?}: not a whole number"));
        match flag.as_str() {
            "--json" => a.json = true,
            "--data" => a.data = value()?,
            "--epochs" => a.config.epochs = num(value()?)?,
            "--limit" => a.limit = Some(num(value()?)?),
            "--steps" => a.config.max_steps = Some(num(value()?)?),
            "--draws" => a.draws = num(value()?)?,
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

/// Runs [`train_and_report`] and prints an error as one line.
pub fn main(workload: &str, defaults: TrainConfig, describe: &str, build: fn(&mut StdRng) -> Result<Sequential>) {
    if let Err(e) = train_and_report(workload, defaults, describe, build) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

/// Parses the flags over `defaults`, trains the model `build` makes (seeded
/// with `--seed`) and prints the report; `workload` names it in the JSON line
/// and `describe` is the first line printed.
pub fn train_and_report(
    workload: &str,
    defaults: TrainConfig,
    describe: &str,
    build: fn(&mut StdRng) -> Result<Sequential>,
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
    let images = |m: &Mnist| Tensor::from_vec(m.images.clone(), &[m.len(), 1, 28, 28]);
    let model = Classifier::new(build(&mut StdRng::seed_from_u64(c.seed))?, digit_names())?;
    let s = model.fit(&images(&train_set)?, &train_set.labels, c, |p| {
        println!("epoch {:>3}  nll {:.4}  kl/N {:.4}  {:.2} ms/step", p.epoch, p.nll, p.kl, p.ms_per_step)
    })?;
    let x_test = images(&test_set)?;
    model.net.freeze();
    let frozen = model.evaluate(&x_test, &test_set.labels, 1, c.seed ^ 0xE7A1);
    model.net.unfreeze();
    let frozen = frozen?;
    let r = model.evaluate(&x_test, &test_set.labels, args.draws, c.seed ^ 0xD1)?;
    let k = test_set.len().min(1000);
    let (noise, rotated) = out_of_distribution(&test_set.images, k, c.seed ^ 0x4015E);
    let p_noise = model.predict(&Tensor::from_vec(noise, &[k, 1, 28, 28])?, args.draws, c.seed ^ 0xD2)?;
    let p_rot = model.predict(&Tensor::from_vec(rotated, &[k, 1, 28, 28])?, args.draws, c.seed ^ 0xD3)?;
    let (h_noise, h_rot) = (mean(&p_noise.entropy), mean(&p_rot.entropy));
    let (mi_noise, mi_rot) = (mean(&p_noise.mutual_information), mean(&p_rot.mutual_information));
    println!("test accuracy, mean weights       {:.4}", frozen.accuracy);
    println!("test accuracy, {}-draw average    {:.4}", args.draws, r.accuracy);
    println!("NLL / Brier / ECE                 {:.4} / {:.4} / {:.4}", r.nll, r.brier, r.ece);
    println!("mean predictive entropy (nats)    test {:.4}  noise {h_noise:.4}  rotated {h_rot:.4}", r.mean_entropy);
    println!("mean mutual information (nats)    test {:.4}  noise {mi_noise:.4}  rotated {mi_rot:.4}", r.mean_mi);
    println!("time per step                     {:.3} ms ({} steps)", s.ms_per_step, s.steps);
    if args.json {
        println!(
            "{{\"workload\":\"{workload}\",\"epochs\":{},\"steps\":{},\"ms_per_step\":{:.4},\"test_acc_mean_weights\":{:.4},\"test_acc_predictive\":{:.4},\"nll\":{:.4},\"brier\":{:.4},\"ece\":{:.4},\"entropy_test\":{:.4},\"entropy_noise\":{:.4},\"entropy_rotated\":{:.4},\"mi_test\":{:.4},\"mi_noise\":{:.4},\"mi_rotated\":{:.4}}}",
            c.epochs, s.steps, s.ms_per_step, frozen.accuracy, r.accuracy, r.nll, r.brier, r.ece, r.mean_entropy, h_noise, h_rot, r.mean_mi, mi_noise, mi_rot
        );
    }
    Ok(())
}
