//! Mutation fuzzing of every parser: IDX (plain and gzipped), CSV,
//! checkpoints (safetensors), the model loader (a model file's bytes, and
//! hand edits of its metadata and tensors, through the spec check, build,
//! restore and predict) and the resume path (edited progress, statistics
//! and tensors of a checkpoint taken at epoch 3 of 5). Each case is a valid seed input mutated (bit
//! flips, forged sizes, truncation, insertion, deletion, duplication); the
//! parser must return `Ok` or a typed `Err`, never panic, and never make an
//! allocation larger than `ALLOC_CAP` (a forged header must not reserve
//! what the file cannot hold).
//!
//! CI runs `support::fuzz::DEFAULT_CASES` per parser; a full run:
//! `FUZZ_CASES=10000 cargo test -p blitz-layers --release --test fuzz_parsers`.

use blitz_autograd::optim::Adam;
use blitz_autograd::{Param, Tensor};
use blitz_layers::checkpoint::DIGEST_KEY;
use blitz_layers::data::idx::{parse_idx, read_idx};
use blitz_layers::data::{parse_delimited, Delimiter, ReadOptions};
use blitz_layers::mlp::MlpSpec;
use blitz_layers::model::{Model, ModelFile, Task};
use blitz_layers::regression::Regressor;
use blitz_layers::train::{CheckpointEvery, TrainConfig};
use blitz_layers::{params, BayesianLinear, Checkpoint, Linear, ReLU, Sequential};
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

mod support;

use support::fuzz::{cases, fuzz, mutate, ALLOC_CAP, LARGEST};

/// A valid IDX file of type `code` and the given dimensions.
fn idx_bytes(code: u8, dims: &[u32]) -> Vec<u8> {
    let size = match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        _ => 8,
    };
    let mut b = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    let n: u32 = dims.iter().product();
    b.extend((0..n as usize * size).map(|i| (i * 37 % 251) as u8));
    b
}

fn idx_seeds() -> Vec<Vec<u8>> {
    vec![
        idx_bytes(0x08, &[3, 4, 5]),
        idx_bytes(0x09, &[10]),
        idx_bytes(0x0B, &[2, 3]),
        idx_bytes(0x0C, &[4, 1]),
        idx_bytes(0x0D, &[2, 2, 2]),
        idx_bytes(0x0E, &[3]),
        idx_bytes(0x08, &[0, 7]),
    ]
}

const BINARY: &[u8] = &[0, 1, 2, 3, 4, 0x08, 0x0D, 0x0E, 0x7F, 0x80, 0xFF, b'{', b'}', b'"', b':', b',', b'[', b']'];

#[test]
fn fuzz_idx_bytes() {
    fuzz("IDX", &idx_seeds(), BINARY, 1, |b| {
        if let Ok(a) = parse_idx(b, "fuzz") {
            assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        }
    });
}

#[test]
fn fuzz_idx_gzip_files() {
    let dir = std::env::temp_dir().join(format!("blitz-fuzz-idx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seeds: Vec<Vec<u8>> = idx_seeds()
        .iter()
        .map(|raw| {
            let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(raw).unwrap();
            e.finish().unwrap()
        })
        .collect();
    let path = dir.join("f.idx.gz");
    // File I/O per case: a tenth of the cases (still ≥ 1000 in a full run).
    let runs = (cases() / 10).max(20);
    let mut rng = StdRng::seed_from_u64(2);
    for i in 0..runs {
        let input = mutate(&seeds[i % seeds.len()], &mut rng, BINARY);
        std::fs::write(&path, &input).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| read_idx(&path).map(|a| a.data.len())));
        assert!(outcome.is_ok(), "gzip IDX case {i} panicked on {input:?}");
    }
    // A gzip bomb (8 MiB of zeros behind a header announcing 4 GiB) is refused.
    let mut bomb = vec![0, 0, 0x08, 1];
    bomb.extend(u32::MAX.to_be_bytes());
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&bomb).unwrap();
    e.write_all(&vec![0u8; 8 << 20]).unwrap();
    std::fs::write(&path, e.finish().unwrap()).unwrap();
    assert!(read_idx(&path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn forged_idx_header_allocates_nothing_big() {
    // 4 dimensions of 2^32 − 1: announces ~3·10^38 bytes, holds 16.
    let mut b = vec![0, 0, 0x0D, 4];
    for _ in 0..4 {
        b.extend(u32::MAX.to_be_bytes());
    }
    assert!(parse_idx(&b, "forged").is_err());
    assert!(LARGEST.load(Ordering::Relaxed) <= ALLOC_CAP);
}

fn csv_seeds() -> Vec<Vec<u8>> {
    let boston = include_str!("../../data/boston_house_prices.csv");
    let head: String = boston.lines().take(12).collect::<Vec<_>>().join("\n");
    vec![
        head.into_bytes(),
        b"a,b,c\n1,2,3\n4,5,6\n".to_vec(),
        b"\"1.5\", -2e3 ,inf\n NaN,0,1e-45\n".to_vec(),
        b"1\n2\n\n3\n".to_vec(),
    ]
}

#[test]
fn fuzz_csv() {
    let alphabet = b",\n\r\"-+eE.0123456789 naif\xC3\xA9\0";
    fuzz("CSV", &csv_seeds(), alphabet, 3, |b| {
        let text = String::from_utf8_lossy(b);
        for header in 0..3 {
            if let Ok(t) = parse_delimited(
                &text,
                &ReadOptions::default().with_delimiter(Delimiter::Char(',')).with_header_rows(header),
                "fuzz",
            )
            .map(|d| d.x)
            {
                assert_eq!(t.data.len(), t.rows * t.cols);
            }
        }
    });
}

fn checkpoint_seeds() -> Vec<Vec<u8>> {
    let r = &mut StdRng::seed_from_u64(9);
    let m = Sequential::new()
        .push_named("fc1", BayesianLinear::new(3, 4, r).unwrap())
        .push(ReLU)
        .push_named("fc2", Linear::new(4, 2, true, r).unwrap());
    let named = params(&m);
    let mut with_adam = Checkpoint::from_params(&named).unwrap();
    with_adam.add_adam(&Adam::new(0.01).unwrap(), &named).unwrap();
    let one = [("w".to_string(), Param::new("w", Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap()))];
    vec![
        Checkpoint::from_module(&m).unwrap().to_bytes().unwrap(),
        with_adam.to_bytes().unwrap(),
        Checkpoint::from_params(&one).unwrap().to_bytes().unwrap(),
        Checkpoint::new().to_bytes().unwrap(),
    ]
}

#[test]
fn fuzz_checkpoint() {
    let r = &mut StdRng::seed_from_u64(9);
    let target = Sequential::new()
        .push_named("fc1", BayesianLinear::new(3, 4, r).unwrap())
        .push(ReLU)
        .push_named("fc2", Linear::new(4, 2, true, r).unwrap());
    let named = params(&target);
    fuzz("checkpoint", &checkpoint_seeds(), BINARY, 4, |b| {
        if let Ok(ck) = Checkpoint::from_bytes(b, "fuzz") {
            let _ = ck.restore_params(&named);
            let _ = ck.restore_adam(&named);
            let _ = ck.to_bytes();
        }
    });
}

#[test]
fn forged_checkpoint_header_is_refused() {
    let forge = |json: &str| {
        let mut b = (json.len() as u64).to_le_bytes().to_vec();
        b.extend(json.as_bytes());
        b
    };
    for bytes in [
        forge(r#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,16]}}"#),
        forge(r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]}}"#),
        forge(r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#), // no data
        u64::MAX.to_le_bytes().to_vec(),
        (1u64 << 40).to_le_bytes().to_vec(),
    ] {
        let err = Checkpoint::from_bytes(&bytes, "forged").unwrap_err();
        assert!(matches!(err, blitz_autograd::Error::Parse { .. }), "{err:?}");
    }
    assert!(LARGEST.load(Ordering::Relaxed) <= ALLOC_CAP);
}

/// A small regression model file as `blitz fit` writes it: parameters,
/// statistics, the spec, Adam's state and the progress of epoch 3 of 5.
fn trained_model_file() -> (Checkpoint, Tensor, Tensor, TrainConfig) {
    let xs: Vec<f32> = (0..48).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let ys: Vec<f32> = xs.chunks(2).map(|r| r[0] - 2.0 * r[1]).collect();
    let (x, y) = (Tensor::from_vec(xs, &[24, 2]).unwrap(), Tensor::from_vec(ys, &[24, 1]).unwrap());
    let spec = MlpSpec::new(2, vec![3], 1);
    // One folder a call: the tests that call this run side by side.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("blitz-fuzz-model-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let mut every = CheckpointEvery::new(&path, 1);
    let mut meta = Checkpoint::new();
    spec.to_metadata(&mut meta);
    every.metadata = meta.metadata().clone();
    let config =
        TrainConfig { epochs: 5, batch_size: 8, sample_nbr: 1, checkpoint: Some(every), ..TrainConfig::default() };
    let m = Regressor::new(spec.build(0).unwrap(), 1).unwrap().standardized_on(&x, &y).unwrap();
    m.fit(&x, &y, &TrainConfig { max_steps: Some(9), ..config.clone() }, |_| {}).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    // Resumed runs in the fuzzer write nothing.
    (ck, x, y, TrainConfig { checkpoint: None, ..config })
}

/// Values a hand-edited metadata entry might hold.
const HOSTILE_VALUES: [&str; 16] = [
    "18446744073709551615",
    "999999999999",
    "-1",
    "0",
    "5",
    "NaN",
    "inf",
    "1e-39",
    "1e37",
    "",
    "2-1000000000-1",
    "2-18446744073709551615-1",
    "2-3-3-1",
    "[\"a\",\"a\"]",
    "1,2,3",
    "3",
];

/// Values a hand-edited tensor element might hold.
const HOSTILE_FLOATS: [f32; 8] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1e9, 1e30, 200.0, 1e-45, -0.0];

/// One structured edit of `ck`: a metadata value replaced or removed, a
/// tensor element replaced, or a tensor's shape changed; sealed again half
/// of the time (so that the checks behind the digest are reached).
fn edit(ck: &Checkpoint, rng: &mut StdRng) -> Checkpoint {
    let mut ck = ck.clone();
    for _ in 0..rng.random_range(1..=3) {
        let keys: Vec<String> = ck.metadata().keys().cloned().collect();
        let names: Vec<String> = ck.names().iter().map(|s| s.to_string()).collect();
        match rng.random_range(0..4) {
            0 => {
                let k = &keys[rng.random_range(0..keys.len())];
                ck.set_metadata(k.clone(), HOSTILE_VALUES[rng.random_range(0..HOSTILE_VALUES.len())]);
            }
            1 => {
                ck.remove_metadata(&keys[rng.random_range(0..keys.len())]);
            }
            2 => {
                let n = &names[rng.random_range(0..names.len())];
                let (shape, mut data) = ck.tensor(n).map(|(s, d)| (s.to_vec(), d.to_vec())).unwrap();
                if !data.is_empty() {
                    let at = rng.random_range(0..data.len());
                    data[at] = HOSTILE_FLOATS[rng.random_range(0..HOSTILE_FLOATS.len())];
                }
                ck.set_tensor(n.clone(), &shape, data).unwrap();
            }
            _ => {
                let n = &names[rng.random_range(0..names.len())];
                let len = ck.tensor(n).map_or(0, |(_, d)| d.len());
                let data = vec![0.5; len + rng.random_range(0..2)];
                let shape = [data.len()];
                ck.set_tensor(n.clone(), &shape, data).unwrap();
            }
        }
    }
    if rng.random_bool(0.5) {
        ck.seal();
    }
    ck
}

/// The library's model loader, as `blitz predict` uses it: the spec checked
/// against the tensors, the network built, the model restored, a prediction.
fn load_and_predict(ck: &Checkpoint, x: &Tensor) {
    if ck.verify_seal().is_err() {
        return;
    }
    let Ok(spec) = MlpSpec::from_metadata(ck) else { return };
    let Ok(net) = spec.build(0) else { return };
    let Ok(mut m) = Regressor::new(net, spec.outputs) else { return };
    if m.restore(ck).is_ok() {
        if let Ok(p) = m.predict(x, 2, 0) {
            assert_eq!(p.mean.len(), x.shape()[0] * spec.outputs);
        }
    }
}

#[test]
fn fuzz_model_loader() {
    let (ck, x, _, _) = trained_model_file();
    let mut unsealed = ck.clone();
    unsealed.remove_metadata(DIGEST_KEY);
    let seeds = vec![ck.to_bytes().unwrap(), unsealed.to_bytes().unwrap()];
    // Byte-level mutations of the file.
    fuzz("model file bytes", &seeds, BINARY, 5, |b| {
        if let Ok(ck) = Checkpoint::from_bytes(b, "fuzz") {
            load_and_predict(&ck, &x);
        }
    });
    // Structured edits of its metadata and tensors.
    let mut rng = StdRng::seed_from_u64(6);
    for i in 0..cases() {
        let edited = edit(&unsealed, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| load_and_predict(&edited, &x)));
        assert!(outcome.is_ok(), "model edit case {i} panicked: {:?}", edited.metadata());
    }
    assert!(LARGEST.load(Ordering::Relaxed) <= ALLOC_CAP);
    eprintln!("model file edits: {} cases, no panic", cases());
}

/// `ck` with what `blitz fit` adds (task, columns, transforms): a model
/// file that [`Model::from_bytes`] takes.
fn with_model_metadata(ck: &Checkpoint) -> Checkpoint {
    let file = ModelFile {
        task: Task::Regression,
        spec: MlpSpec::new(2, vec![3], 1),
        features: vec!["a".into(), "b".into()],
        target: "y".into(),
        classes: vec![],
        log1p: vec!["b".into()],
        settings: "fuzz".into(),
        seed: 0,
        // A calibration too, so that the fuzzer reaches its parser.
        conformal: Some(blitz_layers::model::Calibration {
            rule: blitz_layers::model::Conformal::Regression(
                blitz_layers::uncertainty::ConformalRegressor::from_quantiles(0.1, 20, vec![1.5]).unwrap(),
            ),
            draws: 10,
            seed: 0,
        }),
        method: blitz_layers::model::Method::Bbb,
    };
    let mut ck = ck.clone();
    for (k, v) in file.metadata() {
        ck.set_metadata(k, v);
    }
    ck.remove_metadata(DIGEST_KEY);
    ck
}

/// The library's `Model` (what `blitz predict` and embedding programs
/// load): mutated bytes of a model file through `Model::from_bytes`, then
/// a prediction from rows and the table.
#[test]
fn fuzz_model_from_bytes() {
    let (ck, _, _, _) = trained_model_file();
    let file = with_model_metadata(&ck);
    let mut sealed = file.clone();
    sealed.seal();
    let seeds = vec![file.to_bytes().unwrap(), sealed.to_bytes().unwrap()];
    assert!(Model::from_bytes(&seeds[0], "seed").is_ok(), "the seed is a valid model file");
    let rows = [[0.5f32, 1.0], [2.0, 0.0]];
    fuzz("Model::from_bytes", &seeds, BINARY, 5, |b| {
        if let Ok(m) = Model::from_bytes(b, "fuzz") {
            if let Ok(p) = m.predict(&rows, 2, 0) {
                assert_eq!(p.rows(), 2);
                let _ = m.table(&p);
            }
        }
    });
    assert!(LARGEST.load(Ordering::Relaxed) <= ALLOC_CAP);
}

#[test]
fn fuzz_resume() {
    let (ck, x, y, config) = trained_model_file();
    let mut unsealed = ck.clone();
    unsealed.remove_metadata(DIGEST_KEY);
    let mut rng = StdRng::seed_from_u64(7);
    let (mut resumed, n) = (0usize, cases());
    for i in 0..n {
        let edited = edit(&unsealed, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut m = Regressor::new(MlpSpec::new(2, vec![3], 1).build(1).unwrap(), 1).unwrap();
            m.resume(&edited, &x, &y, &config, |_| {}).map(|s| s.epochs)
        }));
        match outcome {
            Err(_) => panic!("resume case {i} panicked: {:?}", edited.metadata()),
            // An edit the checks let through (a changed value within bounds) still ends the run at its last epoch.
            Ok(Ok(epochs)) => {
                assert_eq!(epochs, config.epochs, "case {i}");
                resumed += 1;
            }
            Ok(Err(_)) => {}
        }
    }
    assert!(LARGEST.load(Ordering::Relaxed) <= ALLOC_CAP);
    eprintln!("resume edits: {n} cases, no panic, {resumed} resumed to the end");
}
