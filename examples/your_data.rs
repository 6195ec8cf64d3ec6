//! Your own data in twenty lines, with nothing but `blitz::prelude`: read a
//! delimited file, split it, train a Bayesian MLP, evaluate it, and print a
//! prediction with its uncertainty split into epistemic and aleatoric parts.
//!
//! ```text
//! cargo run --release --example your_data [-- FILE TARGET_COLUMN]
//! ```
//! Without arguments it runs on the shipped Boston housing data (target `MEDV`).

use blitz::prelude::*;

fn run(path: &str, target: &str) -> Result<()> {
    let data = read_delimited(path, &ReadOptions::default().with_target(ColumnRef::name(target)))?;
    let (train, test) = Split::Fraction { test: 0.2, seed: 0 }.apply(&data)?;
    let (x, y) = (train.x.to_tensor()?, train.values()?.to_tensor()?);
    let net = MlpSpec::new(x.shape()[1], vec![50], 1).build(0)?;
    let model = Regressor::new(net, 1)?.standardized_on(&x, &y)?;
    let config = TrainConfig { epochs: 300, batch_size: 16, ..TrainConfig::default() };
    model.fit(&x, &y, &config, |p| {
        if p.epoch % 50 == 0 {
            eprintln!("epoch {} nll {:.3}", p.epoch, p.nll)
        }
    })?;
    let (xt, yt) = (test.x.to_tensor()?, test.values()?.to_tensor()?);
    let m = model.evaluate(&xt, &yt, 100, 0)?;
    println!("{} test rows: RMSE {:.3}, ±2σ coverage {:.3}, log-lik {:.3}", m.rows, m.rmse, m.coverage_2sd, m.loglik);
    let p = model.predict(&xt, 100, 0)?;
    println!(
        "first test row: {:.2} ± {:.2} (epistemic {:.2}, aleatoric {:.2}); true {:.2}",
        p.mean[0],
        p.std[0],
        p.epistemic_std[0],
        p.aleatoric_std[0],
        yt.to_vec()?[0]
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let boston = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");
    let (path, target) = match &args[..] {
        [p, t] => (p.as_str(), t.as_str()),
        _ => (boston, "MEDV"),
    };
    if let Err(e) = run(path, target) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
