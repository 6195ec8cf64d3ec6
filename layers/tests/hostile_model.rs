//! Hostile model files and arguments against the library: forged sizes,
//! non-finite parameters, broken standardisation statistics, forged resume
//! progress, hostile `predict` inputs and malformed tables. Each ends in a
//! typed error, before anything is built, trained or written.

use blitz_autograd::{Error, Tensor};
use blitz_layers::checkpoint::DIGEST_KEY;
use blitz_layers::classification::Classifier;
use blitz_layers::data::{Standardizer, Table};
use blitz_layers::mlp::MlpSpec;
use blitz_layers::regression::Regressor;
use blitz_layers::train::{CheckpointEvery, TrainConfig};
use blitz_layers::Checkpoint;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-hostile-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// y = x0 − 2·x1 + small wobble, 40 rows.
fn data() -> (Tensor, Tensor) {
    let xs: Vec<f32> = (0..80).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let ys: Vec<f32> = xs.chunks(2).enumerate().map(|(i, r)| r[0] - 2.0 * r[1] + 0.01 * (i % 3) as f32).collect();
    (Tensor::from_vec(xs, &[40, 2]).unwrap(), Tensor::from_vec(ys, &[40, 1]).unwrap())
}

fn spec() -> MlpSpec {
    MlpSpec::new(2, vec![4], 1)
}

fn model() -> Regressor {
    let (x, y) = data();
    Regressor::new(spec().build(0).unwrap(), 1).unwrap().standardized_on(&x, &y).unwrap()
}

/// A model's checkpoint with the spec's metadata, as `blitz fit` writes it.
fn model_file() -> Checkpoint {
    let mut ck = model().checkpoint().unwrap();
    spec().to_metadata(&mut ck);
    ck
}

fn parse_message(e: &Error) -> String {
    match e {
        Error::Parse { message, .. } => message.clone(),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn forged_model_sizes_are_refused_before_anything_is_built() {
    assert!(MlpSpec::from_metadata(&model_file()).is_ok());
    for sizes in ["2-18446744073709551615-1", "2-1000000000-1", "2-4-4-1", "2-0-1", "3-4-1", "2-5-1"] {
        let mut ck = model_file();
        ck.set_metadata("model.sizes", sizes);
        let e = MlpSpec::from_metadata(&ck).unwrap_err();
        assert!(parse_message(&e).contains("model.sizes"), "{sizes}: {e}");
        assert!(e.to_string().starts_with("<memory>:"), "names the file: {e}");
    }
    // An extra layer's tensors that the sizes do not describe.
    let mut ck = model_file();
    ck.set_tensor("fc3.weight_mu", &[1, 1], vec![0.0]).unwrap();
    assert!(parse_message(&MlpSpec::from_metadata(&ck).unwrap_err()).contains("fc3.weight_mu"));
    // A non-finite prior.
    let mut ck = model_file();
    ck.set_metadata("model.prior_sigma", "NaN");
    assert!(parse_message(&MlpSpec::from_metadata(&ck).unwrap_err()).contains("prior_sigma"));
}

#[test]
fn non_finite_parameters_are_refused_naming_the_tensor() {
    for (name, value) in [("fc1.weight_mu", f32::NAN), ("fc2.bias_rho", f32::INFINITY), ("log_noise", f32::NAN)] {
        let mut ck = model_file();
        let (shape, data) = ck.tensor(name).map(|(s, d)| (s.to_vec(), d.to_vec())).unwrap();
        let mut data = data;
        data[0] = value;
        ck.set_tensor(name, &shape, data).unwrap();
        let mut m = model();
        let before = m.checkpoint().unwrap();
        let e = m.restore(&ck).unwrap_err();
        assert!(matches!(&e, Error::NonFinite { what } if what.contains(name)), "{name}: {e:?}");
        assert_eq!(m.checkpoint().unwrap(), before, "nothing changed");
        if name.starts_with("fc") {
            let e = MlpSpec::from_metadata(&ck).unwrap_err();
            assert!(matches!(&e, Error::NonFinite { what } if what.contains(name)), "{name}: {e:?}");
        }
    }
    // A rho so low that sigma underflows.
    let mut ck = model_file();
    ck.set_tensor("fc1.bias_rho", &[4], vec![-1e9; 4]).unwrap();
    assert!(parse_message(&MlpSpec::from_metadata(&ck).unwrap_err()).contains("fc1.bias_rho"));
}

#[test]
fn broken_standardisation_statistics_are_refused() {
    let cases: [(&str, &str, &str); 6] = [
        ("x_scale.std", "1e-39,1", "x_scale"), // subnormal
        ("x_scale.std", "1e-30,1", "x_scale"), // far below |mean|·2^-41
        ("y_scale.std", "1e37", "y_scale"),    // beyond MAX_SCALE
        ("y_scale.mean", "-3e38", "y_scale"),  // beyond MAX_SCALE
        ("x_scale.std", "1", "x_scale"),       // one deviation for two means
        ("x_scale.std", "0,1", "x_scale"),     // zero
    ];
    for (key, value, named) in cases {
        let mut ck = model_file();
        ck.set_metadata(key, value);
        let e = model().restore(&ck).unwrap_err();
        assert!(parse_message(&e).contains(named), "{key}={value}: {e}");
    }
    // Deleting the statistics of a standardised model is noticed.
    for key in ["x_scale.mean", "x_scale.std", "y_scale.mean", "y_scale.std"] {
        let mut ck = model_file();
        ck.remove_metadata(key);
        let e = model().restore(&ck).unwrap_err();
        assert!(parse_message(&e).contains(&key[..7]), "{key}: {e}");
        ck.remove_metadata(&format!("{}.{}", &key[..7], if key.ends_with("mean") { "std" } else { "mean" }));
        let e = model().restore(&ck).unwrap_err();
        assert!(parse_message(&e).contains("standardized"), "{key}: {e}");
    }
    // A model built without statistics still round-trips without them.
    let plain = Regressor::new(spec().build(0).unwrap(), 1).unwrap();
    let ck = plain.checkpoint().unwrap();
    let mut again = Regressor::new(spec().build(1).unwrap(), 1).unwrap();
    again.restore(&ck).unwrap();
    assert!(again.x_scale.is_none() && again.y_scale.is_none());
    // A file of another tool (no `standardized` entry, no statistics) loads too.
    let mut foreign = ck.clone();
    foreign.remove_metadata("standardized");
    again.restore(&foreign).unwrap();
}

#[test]
fn real_data_standardises_as_before() {
    // Spread at f32's resolution of a large mean, a constant column, negatives.
    let t = Table::new(vec![1e6, 5.0, -3.0, 1e6 + 0.0625, 5.0, -1.0], 2, 3).unwrap();
    let s = Standardizer::fit(&t).unwrap();
    assert_eq!(s.mean, vec![1e6 + 0.03125, 5.0, -2.0]);
    assert_eq!(s.std, vec![0.03125, 1.0, 1.0]);
    s.check_stats().unwrap();
    // Values beyond what can be mapped back are refused, not standardised.
    let huge = Table::new(vec![3e38, -3e38], 2, 1).unwrap();
    assert!(Standardizer::fit(&huge).is_err());
}

#[test]
fn malformed_tables_are_errors_not_panics() {
    let bad = Table { data: vec![1.0; 5], rows: 3, cols: 2 };
    assert!(matches!(Standardizer::fit(&bad), Err(Error::InvalidShape { .. })));
    let overflow = Table { data: vec![1.0; 4], rows: usize::MAX, cols: 2 };
    assert!(matches!(Standardizer::fit(&overflow), Err(Error::InvalidShape { .. })));
    assert!(bad.take_rows(&[0]).is_err());
    assert!(bad.columns(0, 1).is_err());
    assert!(bad.to_tensor().is_err());
    assert!(bad.clone().log1p_columns(&[0]).is_err());
    assert_eq!(bad.row(2), &[] as &[f32]);
    assert_eq!(overflow.row(usize::MAX / 2), &[] as &[f32]);
    let good = Standardizer::fit(&Table::new(vec![1.0, 2.0], 1, 2).unwrap()).unwrap();
    assert!(good.transform(&bad).is_err());
    assert!(Table::new(vec![1.0; 5], 3, 2).is_err());
}

/// A run of 5 epochs checkpointed after each, stopped after 3.
fn three_of_five(d: &std::path::Path) -> (PathBuf, TrainConfig) {
    let path = d.join("run.safetensors");
    let config = TrainConfig {
        epochs: 5,
        batch_size: 16,
        sample_nbr: 1,
        checkpoint: Some(CheckpointEvery::new(&path, 1)),
        ..TrainConfig::default()
    };
    let (x, y) = data();
    // 40 rows in batches of 16: 3 steps per epoch.
    model().fit(&x, &y, &TrainConfig { max_steps: Some(9), ..config.clone() }, |_| {}).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!((ck.metadata()["train.epoch"].as_str(), ck.metadata()["train.steps"].as_str()), ("3", "9"));
    (path, config)
}

#[test]
fn forged_resume_progress_is_refused_and_the_file_kept() {
    let d = dir("resume");
    let (path, config) = three_of_five(&d);
    let original = std::fs::read(&path).unwrap();
    let (x, y) = data();
    let forged: [(&[(&str, &str)], &str); 6] = [
        (&[("train.epoch", "5")], "train.steps"),
        (&[("train.epoch", "999999999999")], "train.epoch"),
        (&[("train.epoch", "18446744073709551615")], "train.epoch"),
        (&[("train.steps", "18446744073709551615")], "train.steps"),
        (&[("train.epoch", "5"), ("train.steps", "15")], "optimizer.adam.step"),
        (&[("optimizer.adam.step", "10")], "optimizer.adam.step"),
    ];
    for (edits, named) in forged {
        let mut ck = Checkpoint::from_bytes(&original, "orig").unwrap();
        for (k, v) in edits {
            ck.set_metadata(*k, *v);
        }
        // Sealed again: the consistency checks alone must catch it.
        ck.seal();
        ck.save(&path).unwrap();
        let ck = Checkpoint::load(&path).unwrap();
        let e = model().resume(&ck, &x, &y, &config, |_| {}).unwrap_err();
        assert!(e.to_string().contains(named), "{edits:?}: {e}");
        // Left unsealed after the edit: the digest catches it at load.
        let mut ck = Checkpoint::from_bytes(&original, "orig").unwrap();
        for (k, v) in edits {
            ck.set_metadata(*k, *v);
        }
        ck.save(&path).unwrap();
        let e = Checkpoint::load(&path).unwrap_err();
        assert!(e.to_string().contains(DIGEST_KEY), "{edits:?}: {e}");
    }
    // A noise level outside the f32 range: refused before the first write.
    let mut ck = Checkpoint::from_bytes(&original, "orig").unwrap();
    ck.set_tensor("log_noise", &[1], vec![200.0]).unwrap();
    ck.seal();
    ck.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    let e = model().resume(&ck, &x, &y, &config, |_| {}).unwrap_err();
    assert!(e.to_string().contains("log_noise"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is not rewritten");
    // The untouched checkpoint resumes to the end.
    std::fs::write(&path, &original).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    let s = model().resume(&ck, &x, &y, &config, |_| {}).unwrap();
    assert_eq!((s.epochs, s.steps), (5, 15));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn predict_refuses_non_finite_inputs_naming_row_and_column() {
    let m = model();
    let mut xs = data().0.to_vec().unwrap();
    xs[7] = f32::NAN; // row 3, column 1
    let x = Tensor::from_vec(xs, &[40, 2]).unwrap();
    let e = m.predict(&x, 4, 0).unwrap_err();
    assert!(matches!(&e, Error::NonFinite { what } if what.contains("row 3, column 1")), "{e:?}");
    assert!(m.evaluate(&x, &data().1, 4, 0).is_err());
    let c = Classifier::new(MlpSpec::new(2, vec![4], 2).build(0).unwrap(), vec!["a".into(), "b".into()]).unwrap();
    let e = c.predict(&x, 4, 0).unwrap_err();
    assert!(matches!(&e, Error::NonFinite { what } if what.contains("row 3, column 1")), "{e:?}");
    let labels = vec![0usize; 40];
    assert!(c.evaluate(&x, &labels, 4, 0).is_err());
    // Finite inputs that standardisation sends to infinity.
    let mut far = data().0.to_vec().unwrap();
    far[0] = f32::MAX;
    let e = m.predict(&Tensor::from_vec(far, &[40, 2]).unwrap(), 4, 0).unwrap_err();
    assert!(matches!(&e, Error::NonFinite { what } if what.contains("standardised")), "{e:?}");
}

#[test]
fn predict_refuses_draws_that_cannot_fit_before_starting() {
    let m = model();
    let (x, _) = data();
    let c = Classifier::new(MlpSpec::new(2, vec![4], 2).build(0).unwrap(), vec!["a".into(), "b".into()]).unwrap();
    for draws in [1_000_000_000, usize::MAX] {
        let start = std::time::Instant::now();
        assert!(matches!(m.predict(&x, draws, 0), Err(Error::TooLarge { .. })), "{draws}");
        assert!(matches!(c.predict(&x, draws, 0), Err(Error::TooLarge { .. })), "{draws}");
        assert!(start.elapsed().as_secs() < 5, "refused before starting");
    }
    assert!(matches!(m.predict(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(c.predict(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    assert_eq!(m.predict(&x, 3, 0).unwrap().draws.len(), 3);
}
