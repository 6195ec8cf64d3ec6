//! In-process latency of one prediction: one row, 100 draws, the README's
//! Boston network (13-50-1, untrained, statistics of the shipped data).
//!
//! ```text
//! cargo run --release --example predict_latency [-- --calls 10000 --draws 100 --seconds 3]
//! ```
//! Prints, for `Model::predict` (one seed: the drawn weights kept between
//! calls), `Model::predict` with a new seed each call and nothing kept, and
//! `Regressor::predict` (the tape path), on one thread, alternating blocks
//! of calls: median, p99 and min in µs and the ratio of the medians; then
//! the calls per second of one thread and of two threads calling one shared
//! `Model` at once.

#[path = "common/flags.rs"]
mod flags;

use blitz::layers::data::{read_delimited, ReadOptions};
use blitz::layers::model::{ModelFile, Task};
use blitz::prelude::*;
use blitz::{Model, Prediction};
use std::time::{Duration, Instant};

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentiles(t: &mut [f64]) -> (f64, f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[t.len() * 99 / 100], t[0])
}

fn main() {
    flags::exit_on_error(run);
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (calls, draws, seconds) =
        (flag(&args, "--calls", 10_000), flag(&args, "--draws", 100), flag(&args, "--seconds", 3));
    // One thread for the tape path's draws too (rayon's pool), as the peers are measured.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .map_err(|e| Error::invalid("rayon", e.to_string()))?;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");
    let data = read_delimited(path, &ReadOptions::default().with_target(ColumnRef::name("MEDV")))?;
    let (x, y) = (data.x.to_tensor()?, data.values()?.to_tensor()?);
    let spec = MlpSpec::new(13, vec![50], 1);
    let reg = Regressor::new(spec.build(0)?, 1)?.standardized_on(&x, &y)?;
    let file = ModelFile {
        task: Task::Regression,
        spec,
        features: data.feature_names.clone(),
        target: "MEDV".into(),
        classes: vec![],
        log1p: vec![],
        settings: String::new(),
        seed: 0,
        conformal: None,
        method: blitz::layers::model::Method::Bbb,
    };
    let mut ck = reg.checkpoint()?;
    for (k, v) in file.metadata() {
        ck.set_metadata(k, v);
    }
    let model = Model::from_checkpoint(&ck)?;
    // The same model drawing its weights every call (nothing kept between calls).
    let drawing = Model::from_checkpoint(&ck)?.with_draw_cache(0);
    let row: Vec<f32> = data.x.row(0).to_vec();
    let xt = Tensor::from_vec(row.clone(), &[1, 13])?;
    // The same bits both ways.
    let (Prediction::Regression(a), b) = (model.predict(&[&row], draws, 0)?, reg.predict(&xt, draws, 0)?) else {
        return Err(Error::invalid("model", "not a regression"));
    };
    assert_eq!(a, b, "Model::predict and Regressor::predict differ");
    let Prediction::Regression(c) = drawing.predict(&[&row], draws, 0)? else {
        return Err(Error::invalid("model", "not a regression"));
    };
    assert_eq!(a, c, "the kept draws and fresh ones differ");

    let (mut fast, mut tape, mut fresh) = (Vec::with_capacity(calls), Vec::with_capacity(calls), Vec::new());
    for _ in 0..50 {
        model.predict(&[&row], draws, 0)?;
        reg.predict(&xt, draws, 0)?;
    }
    let block = 100.min(calls);
    while fast.len() < calls {
        for _ in 0..block {
            let t = Instant::now();
            std::hint::black_box(model.predict(&[&row], draws, 0)?);
            fast.push(t.elapsed().as_secs_f64() * 1e6);
        }
        for _ in 0..block / 10 {
            let t = Instant::now();
            std::hint::black_box(reg.predict(&xt, draws, 0)?);
            tape.push(t.elapsed().as_secs_f64() * 1e6);
            // A new seed every call: every draw drawn.
            let seed = fresh.len() as u64 + 1;
            let t = Instant::now();
            std::hint::black_box(drawing.predict(&[&row], draws, seed)?);
            fresh.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    // The same calls in a row, nothing between them (the other paths' blocks
    // above evict the model's caches before each block of its calls).
    let mut alone = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        std::hint::black_box(model.predict(&[&row], draws, 0)?);
        alone.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (am, ap, amin) = percentiles(&mut alone);
    let (fm, fp, fmin) = percentiles(&mut fast);
    let (tm, tp, tmin) = percentiles(&mut tape);
    let (dm, dp, dmin) = percentiles(&mut fresh);
    println!(
        "one row, {draws} draws, 13-50-1, one thread, {calls} calls (tape path: {} calls, interleaved)",
        tape.len()
    );
    println!("  Model::predict      median {fm:.1} us  p99 {fp:.1} us  min {fmin:.1} us  (p99/median {:.2})", fp / fm);
    println!(
        "  Model::predict, {calls} calls in a row: median {am:.1} us  p99 {ap:.1} us  min {amin:.1} us  (p99/median {:.2})",
        ap / am
    );
    println!(
        "  Model::predict, a new seed each call (nothing kept): median {dm:.1} us  p99 {dp:.1} us  min {dmin:.1} us"
    );
    println!("  Regressor::predict  median {tm:.1} us  p99 {tp:.1} us  min {tmin:.1} us",);
    println!("  ratio of medians    {:.1}x", tm / fm);
    // The floor: the draw's normals alone (760 a draw: 650 + 50 + 50 + 1, in blocks of 4).
    let mut floor = Vec::with_capacity(calls / 10);
    for _ in 0..calls / 10 {
        let t = Instant::now();
        for i in 0..draws as u64 {
            std::hint::black_box(blitz::kernels::ops::normal_in(
                &blitz::kernels::context::Context::default(),
                Device::Cpu,
                i,
                0,
                760,
            )?);
        }
        floor.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (nm, _, nmin) = percentiles(&mut floor);
    println!(
        "  the normals alone   median {nm:.1} us  min {nmin:.1} us ({:.2} ns a normal)",
        nm * 1e3 / (760.0 * draws as f64)
    );

    let window = Duration::from_secs(seconds as u64);
    let count = |threads: usize| -> usize {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let (start, mut n) = (Instant::now(), 0usize);
                        while start.elapsed() < window {
                            let _ = std::hint::black_box(model.predict(&[&row], draws, 0));
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        })
    };
    let one = count(1) as f64 / seconds as f64;
    let two = count(2) as f64 / seconds as f64;
    println!(
        "shared Model, {seconds} s each: one thread {one:.0} calls/s, two threads {two:.0} calls/s ({:.2}x)",
        two / one
    );
    Ok(())
}
