//! Determinism: the same seed gives bitwise the same model on 1 and 2
//! threads, and a run stopped, checkpointed and resumed from the file equals
//! an uninterrupted one (Boston housing regressor, Adam).

use blitz_autograd::optim::{Adam, Optimizer};
use blitz_autograd::{Param, Tape, Tensor};
use blitz_layers::data::load_csv;
use blitz_layers::regression::{BayesianRegressor, RegressionConfig, RegressionData};
use blitz_layers::{params, Checkpoint, VariationalEstimator};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const BATCH: usize = 128;

fn data() -> RegressionData {
    let table = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/boston_house_prices.csv"), 2).unwrap();
    RegressionData::split(&table, |i| i % 4 == 0).unwrap()
}

/// Wide enough (256 hidden units, batches of 128) that the kernels' parallel
/// paths (≥ 32768 elements) run.
fn config(seed: u64) -> RegressionConfig {
    RegressionConfig { hidden: 256, hidden_layers: 2, seed, ..RegressionConfig::default() }
}

/// The regressor's parameters by name, its noise level included.
fn named(m: &BayesianRegressor) -> Vec<(String, Param)> {
    let mut v = params(&m.net);
    v.push(("log_noise".to_string(), m.log_noise.clone()));
    v
}

fn bits(m: &BayesianRegressor) -> Vec<(String, Vec<u32>)> {
    named(m).into_iter().map(|(n, p)| (n, p.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect())).collect()
}

/// Training steps `steps` (global indices): everything random is named by
/// the seed and the step index, so any range can be run on its own.
fn train_steps(m: &BayesianRegressor, opt: &mut Adam, d: &RegressionData, seed: u64, steps: std::ops::Range<usize>) {
    let n = d.x_train.rows;
    let per_epoch = n.div_ceil(BATCH);
    for s in steps {
        let (epoch, b) = (s / per_epoch, s % per_epoch);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed ^ ((epoch as u64) << 20)));
        let idx = &order[b * BATCH..((b + 1) * BATCH).min(n)];
        let tape = Tape::new(seed.wrapping_mul(1_000_003).wrapping_add(s as u64));
        let x = idx.iter().flat_map(|&i| d.x_train.row(i).to_vec()).collect();
        let x = tape.constant(Tensor::from_vec(x, &[idx.len(), d.x_train.cols]).unwrap());
        let y = tape.constant(Tensor::from_vec(idx.iter().map(|&i| d.y_train[i]).collect(), &[idx.len(), 1]).unwrap());
        let l = m.net.sample_elbo(&x, &y, |p, y| m.nll(p, y), 2, 1.0 / n as f32).unwrap();
        opt.step(&tape.backward(&l).unwrap()).unwrap();
    }
}

fn full_run(d: &RegressionData, seed: u64, steps: usize) -> Vec<(String, Vec<u32>)> {
    let m = BayesianRegressor::new(d.x_train.cols, &config(seed)).unwrap();
    let mut opt = Adam::new(3e-3).unwrap();
    train_steps(&m, &mut opt, d, seed, 0..steps);
    bits(&m)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

#[test]
fn same_seed_same_bits_on_one_and_two_threads() {
    let d = data();
    let steps = 6;
    let a = pool(1).install(|| full_run(&d, 11, steps));
    let b = pool(1).install(|| full_run(&d, 11, steps));
    let c = pool(2).install(|| full_run(&d, 11, steps));
    assert!(a == b, "two 1-thread runs differ");
    assert!(a == c, "1-thread and 2-thread runs differ");
    let other = pool(2).install(|| full_run(&d, 12, steps));
    assert!(a != other, "another seed must give another model");
}

#[test]
fn stopped_checkpointed_and_resumed_equals_uninterrupted() {
    let d = data();
    let (seed, stop, total) = (21, 4, 9); // stops mid-epoch (3 batches per epoch)
    let uninterrupted = full_run(&d, seed, total);

    let dir = std::env::temp_dir().join(format!("blitz-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("boston.safetensors");
    {
        let m = BayesianRegressor::new(d.x_train.cols, &config(seed)).unwrap();
        let mut opt = Adam::new(3e-3).unwrap();
        train_steps(&m, &mut opt, &d, seed, 0..stop);
        let mut ck = Checkpoint::from_params(&named(&m)).unwrap();
        ck.add_adam(&opt, &named(&m)).unwrap();
        ck.set_metadata("step", stop.to_string());
        ck.save(&path).unwrap();
    }
    // Resume into a model built from another seed: only the file carries state.
    let m = BayesianRegressor::new(d.x_train.cols, &config(999)).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    ck.restore_params(&named(&m)).unwrap();
    let mut opt = ck.restore_adam(&named(&m)).unwrap();
    let start: usize = ck.metadata()["step"].parse().unwrap();
    train_steps(&m, &mut opt, &d, seed, start..total);
    assert!(bits(&m) == uninterrupted, "resumed run differs from the uninterrupted one");
    std::fs::remove_dir_all(&dir).unwrap();
}
