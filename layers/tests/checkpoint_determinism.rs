//! Determinism: the same seed gives bitwise the same model on 1 and 2
//! threads, and a run stopped, checkpointed and resumed from the file equals
//! an uninterrupted one (Boston housing regressor, Adam) — by hand, step by
//! step, and through `Regressor::fit` / `Regressor::resume`.

use blitz_autograd::optim::{Adam, Optimizer};
use blitz_autograd::{Tape, Tensor};
use blitz_layers::data::{read_delimited, Delimiter, ReadOptions, Split, Standardizer, Table};
use blitz_layers::{Checkpoint, CheckpointEvery, MlpSpec, Regressor, TrainConfig, VariationalEstimator};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const BATCH: usize = 128;

/// Boston's training rows (index not a multiple of 4), standardised.
struct Data {
    x_train: Table,
    y_train: Vec<f32>,
}

fn table() -> Table {
    read_delimited(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../data/boston_house_prices.csv"),
        &ReadOptions::default().with_delimiter(Delimiter::Char(',')).with_header_rows(2),
    )
    .unwrap()
    .x
}

fn data() -> Data {
    let t = table();
    let (train, _) = Split::EveryKth(4).indices(t.rows).unwrap();
    let t = t.take_rows(&train).unwrap();
    let (x, y) = (t.columns(0, 13).unwrap(), t.columns(13, 14).unwrap());
    let (xs, ys) = (Standardizer::fit(&x).unwrap(), Standardizer::fit(&y).unwrap());
    Data { x_train: xs.transform(&x).unwrap(), y_train: ys.transform(&y).unwrap().data }
}

/// Wide enough (two layers of 256 hidden units, batches of 128) that the
/// kernels' parallel paths (≥ 32768 elements) run.
fn model(seed: u64) -> Regressor {
    Regressor::new(MlpSpec::new(13, vec![256, 256], 1).build(seed).unwrap(), 1).unwrap()
}

fn bits(m: &Regressor) -> Vec<(String, Vec<u32>)> {
    m.named_params()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// Training steps `steps` (global indices): everything random is named by
/// the seed and the step index, so any range can be run on its own.
fn train_steps(m: &Regressor, opt: &mut Adam, d: &Data, seed: u64, steps: std::ops::Range<usize>) {
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

fn full_run(d: &Data, seed: u64, steps: usize) -> Vec<(String, Vec<u32>)> {
    let m = model(seed);
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
        let m = model(seed);
        let mut opt = Adam::new(3e-3).unwrap();
        train_steps(&m, &mut opt, &d, seed, 0..stop);
        let mut ck = Checkpoint::from_params(&m.named_params()).unwrap();
        ck.add_adam(&opt, &m.named_params()).unwrap();
        ck.set_metadata("step", stop.to_string());
        ck.save(&path).unwrap();
    }
    // Resume into a model built from another seed: only the file carries state.
    let m = model(999);
    let ck = Checkpoint::load(&path).unwrap();
    ck.restore_params(&m.named_params()).unwrap();
    let mut opt = ck.restore_adam(&m.named_params()).unwrap();
    let start: usize = ck.metadata()["step"].parse().unwrap();
    train_steps(&m, &mut opt, &d, seed, start..total);
    assert!(bits(&m) == uninterrupted, "resumed run differs from the uninterrupted one");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `Regressor::fit` with periodic checkpoints, stopped after 15 steps (mid
/// epoch 3 of batches of 64: 6 per epoch), then `Regressor::resume` from the
/// file into a model built from another seed: the same bits and the same
/// test figures as a run never stopped.
#[test]
fn fit_stopped_then_resumed_from_its_checkpoint_equals_uninterrupted() {
    let t = table();
    let (train, test) = Split::EveryKth(4).indices(t.rows).unwrap();
    let rows =
        |idx: &[usize], a: usize, b: usize| t.take_rows(idx).unwrap().columns(a, b).unwrap().to_tensor().unwrap();
    let (x, y) = (rows(&train, 0, 13), rows(&train, 13, 14));
    let (xt, yt) = (rows(&test, 0, 13), rows(&test, 13, 14));
    let dir = std::env::temp_dir().join(format!("blitz-fit-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let small = |seed| Regressor::new(MlpSpec::new(13, vec![16], 1).build(seed).unwrap(), 1).unwrap();
    let config = TrainConfig {
        epochs: 4,
        batch_size: 64,
        seed: 5,
        checkpoint: Some(CheckpointEvery::new(&path, 1)),
        ..TrainConfig::default()
    };
    let whole = small(5).standardized_on(&x, &y).unwrap();
    let s = whole.fit(&x, &y, &TrainConfig { checkpoint: None, ..config.clone() }, |_| ()).unwrap();
    assert_eq!((s.epochs, s.steps), (4, 24));

    let first = small(5).standardized_on(&x, &y).unwrap();
    let cut = first.fit(&x, &y, &TrainConfig { max_steps: Some(15), ..config.clone() }, |_| ()).unwrap();
    assert_eq!(cut.steps, 15);
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(ck.metadata()["train.epoch"], "2", "only whole epochs are checkpointed");
    let mut resumed = small(77);
    // Other settings than the run that wrote it: refused, nothing trained.
    let other = TrainConfig { batch_size: 32, ..config.clone() };
    let e = resumed.resume(&ck, &x, &y, &other, |_| ()).unwrap_err();
    assert!(e.to_string().contains("other settings or data"), "{e}");
    assert!(bits(&resumed) == bits(&small(77)), "a refused resume changes nothing");
    let mut epochs = Vec::new();
    let s = resumed.resume(&ck, &x, &y, &config, |p| epochs.push(p.epoch)).unwrap();
    assert_eq!((s.epochs, s.steps, epochs), (4, 24, vec![3, 4]));
    assert!(bits(&resumed) == bits(&whole), "resumed run differs from the uninterrupted one");
    let (a, b) = (whole.evaluate(&xt, &yt, 10, 1).unwrap(), resumed.evaluate(&xt, &yt, 10, 1).unwrap());
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The shipped loop (`Regressor::fit`, shared with `Classifier::fit`) gives
/// the same bits on one and two threads, wide enough for the kernels'
/// parallel paths.
#[test]
fn fit_is_the_same_on_one_and_two_threads() {
    let t = table();
    let (x, y) = (t.columns(0, 13).unwrap().to_tensor().unwrap(), t.columns(13, 14).unwrap().to_tensor().unwrap());
    let run = || {
        let m = model(8).standardized_on(&x, &y).unwrap();
        let c = TrainConfig { epochs: 2, batch_size: BATCH, sample_nbr: 2, seed: 8, ..TrainConfig::default() };
        m.fit(&x, &y, &c, |_| ()).unwrap();
        (bits(&m), m.predict(&x, 3, 1).unwrap().mean)
    };
    let (a, b) = (pool(1).install(run), pool(2).install(run));
    assert!(a == b, "1-thread and 2-thread fits differ");
}
