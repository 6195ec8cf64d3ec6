//! `examples/embed.rs` (compiled into this test) prints what `blitz predict`
//! prints, byte for byte, for a model of each task the command trains: a
//! regression on the shipped Boston file, and a classifier of labels with a
//! comma and a `--log1p` column. Where the example's binary is built beside
//! the command (`cargo test` builds the examples), it is run as a process too.

#[allow(dead_code)]
#[path = "../examples/embed.rs"]
mod embed;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_blitz");
const BOSTON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-embed-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A folder of one test's own, not under [`dir`] (which a test removes when it ends).
fn own_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-embed-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn blitz(args: &[&str]) -> Vec<u8> {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(o.status.success(), "blitz {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// Boston with MEDV replaced by a label (three classes, one with a comma).
fn labelled(to: &Path) {
    let text = std::fs::read_to_string(BOSTON).unwrap();
    let mut lines = text.lines().skip(1);
    let mut out = lines.next().unwrap().replace("\"MEDV\"", "\"price\"");
    out.push('\n');
    for l in lines {
        let (head, medv) = l.rsplit_once(',').unwrap();
        let v: f32 = medv.parse().unwrap();
        let label = if v < 18.0 {
            "cheap"
        } else if v < 25.0 {
            "\"mid, fair\""
        } else {
            "dear"
        };
        out.push_str(&format!("{head},{label}\n"));
    }
    std::fs::write(to, out).unwrap();
}

fn fit(data: &str, target: &str, extra: &[&str], out: &Path) {
    let mut args = vec!["fit", data, "--target", target, "--hidden", "8", "--epochs", "3", "--batch-size", "64"];
    args.extend(extra);
    args.extend(["--quiet", "--force", "--out", out.to_str().unwrap()]);
    blitz(&args);
}

/// The example (and its binary, where built) prints what `blitz predict`
/// prints for the model file `m` on `data`.
fn same_as_blitz_predict(m: &str, data: &str) {
    let want = blitz(&["predict", m, data]);
    assert!(want.len() > 506 * 20, "{m}: {} bytes", want.len());
    let mut got = Vec::new();
    embed::run(m, data, &mut got).unwrap();
    assert!(got == want, "{m}: embed differs from blitz predict");
    if let Some(e) = embed_binary() {
        let o = Command::new(e).args([m, data]).output().unwrap();
        assert!(o.status.success() && o.stdout == want, "{m}: the embed binary differs");
    }
}

/// The example's binary beside the command's, when it has been built.
fn embed_binary() -> Option<PathBuf> {
    let bin = Path::new(BIN);
    let p = bin.parent()?.join("examples").join("embed").with_extension(std::env::consts::EXE_EXTENSION);
    p.exists().then_some(p)
}

/// The same for a model of each method the command offers beside Bayes by
/// Backprop, on both tasks (the example, and its binary where built).
#[test]
fn embed_prints_what_blitz_predict_prints_for_every_method() {
    let d = own_dir("methods");
    let classes = d.join("classes.csv");
    labelled(&classes);
    let classes = classes.to_str().unwrap();
    for method in ["mc-dropout", "ensemble", "ivon", "swag", "laplace"] {
        let mut extra = vec!["--method", method];
        if method == "ensemble" {
            extra.extend(["--members", "2"]);
        }
        for (data, target) in [(BOSTON, "MEDV"), (classes, "price")] {
            let model = d.join(format!("{method}-{target}.safetensors"));
            fit(data, target, &extra, &model);
            same_as_blitz_predict(model.to_str().unwrap(), data);
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn embed_prints_what_blitz_predict_prints_for_every_task() {
    let d = dir();
    let classes = d.join("classes.csv");
    labelled(&classes);
    let (reg, cls) = (d.join("reg.safetensors"), d.join("cls.safetensors"));
    fit(BOSTON, "MEDV", &[], &reg);
    fit(classes.to_str().unwrap(), "price", &["--log1p", "CRIM,LSTAT"], &cls);
    for (model, data) in [(&reg, BOSTON), (&cls, classes.to_str().unwrap())] {
        same_as_blitz_predict(model.to_str().unwrap(), data);
    }
    // Its errors are the command's line.
    let mut sink = Vec::new();
    let e = embed::run("/no/such/model.safetensors", BOSTON, &mut sink).unwrap_err();
    assert!(e.to_string().starts_with("/no/such/model.safetensors: "), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `Model::predict` from a slice of rows gives the bits of `blitz predict`
/// on a file of those rows, and one `Model` serves threads at once.
#[test]
fn predict_from_rows_matches_the_command_and_serves_threads() {
    let d = own_dir("rows");
    let model = d.join("reg.safetensors");
    fit(BOSTON, "MEDV", &["--log1p", "CRIM"], &model);
    let text = std::fs::read_to_string(BOSTON).unwrap();
    let one = d.join("one.csv");
    std::fs::write(&one, text.lines().skip(1).take(2).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let want = blitz(&["predict", model.to_str().unwrap(), one.to_str().unwrap(), "--draws", "30", "--seed", "4"]);
    let m = blitz::Model::load(&model).unwrap();
    let row: Vec<f32> = text.lines().nth(2).unwrap().split(',').take(13).map(|v| v.parse().unwrap()).collect();
    let p = m.predict(&[&row], 30, 4).unwrap();
    assert_eq!(m.table(&p).as_bytes(), &want[..]);
    let (shared, r) = (&m, &row[..]);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(move || shared.predict(&[r], 30, 4).unwrap())).collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), p);
        }
    });
    // The kept draws of a call give the bits of fresh ones: again with the
    // same seed, after other seeds and counts, and with nothing kept.
    let fresh = blitz::Model::load(&model).unwrap().with_draw_cache(0);
    let rows = [&row[..], &row[..]];
    for (draws, seed) in [(30, 4), (30, 5), (7, 4), (30, 4), (30, 4)] {
        assert_eq!(
            m.predict(&rows, draws, seed).unwrap(),
            fresh.predict(&rows, draws, seed).unwrap(),
            "{draws} {seed}"
        );
    }
    assert_eq!(m.predict(&[r], 30, 4).unwrap(), p);
    // A row of the wrong length is a typed error, not a panic.
    let e = m.predict(&[&row[..12]], 30, 4).unwrap_err();
    assert!(e.to_string().contains("12 values"), "{e}");
    // No rows, no draws, a value that is not finite, one that log1p refuses: typed errors.
    assert!(m.predict::<Vec<f32>>(&[], 30, 4).is_err());
    assert!(m.predict(&[&row[..]], 0, 4).is_err());
    let mut bad = row.clone();
    bad[5] = f32::NAN;
    let e = m.predict(&[&bad[..]], 30, 4).unwrap_err().to_string();
    assert!(e.contains("row 0, column 5"), "{e}");
    bad[5] = row[5];
    bad[0] = -3.0;
    let e = m.predict(&[&bad[..]], 30, 4).unwrap_err().to_string();
    assert!(e.starts_with("<rows>: --log1p"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `Model::predict` (the flat draw of the whole network, the kept draws)
/// gives the bits of the tape path, `Regressor::predict` and
/// `Classifier::predict`, on a network of two hidden layers.
#[test]
fn the_models_draws_give_the_tape_paths_bits() {
    use blitz::layers::data::{read_delimited, ReadOptions};
    use blitz::layers::model::{ModelFile, Task};
    use blitz::prelude::*;
    use blitz::Prediction;
    let data = read_delimited(BOSTON, &ReadOptions::default().with_target(ColumnRef::name("MEDV"))).unwrap();
    let (x, y) = (data.x.to_tensor().unwrap(), data.values().unwrap().to_tensor().unwrap());
    let rows: Vec<Vec<f32>> = (0..5).map(|i| data.x.row(i).to_vec()).collect();
    let xt = Tensor::from_vec(rows.concat(), &[5, 13]).unwrap();
    let file = |task, outputs, classes: Vec<String>| ModelFile {
        task,
        spec: MlpSpec::new(13, vec![9, 6], outputs),
        features: data.feature_names.clone(),
        target: "MEDV".into(),
        classes,
        log1p: vec![],
        settings: String::new(),
        seed: 0,
        conformal: None,
        method: blitz::layers::model::Method::Bbb,
    };
    let load = |mut ck: blitz::layers::checkpoint::Checkpoint, f: &ModelFile| {
        for (k, v) in f.metadata() {
            ck.set_metadata(k, v);
        }
        blitz::Model::from_checkpoint(&ck).unwrap()
    };
    let f = file(Task::Regression, 1, vec![]);
    let reg = Regressor::new(f.spec.build(3).unwrap(), 1).unwrap().standardized_on(&x, &y).unwrap();
    let (kept, fresh) = (load(reg.checkpoint().unwrap(), &f), load(reg.checkpoint().unwrap(), &f).with_draw_cache(0));
    for seed in [0, 3, 0] {
        let want = reg.predict(&xt, 20, seed).unwrap();
        for m in [&kept, &fresh] {
            let Prediction::Regression(got) = m.predict(&rows, 20, seed).unwrap() else { panic!("a regression") };
            assert_eq!(got, want, "seed {seed}");
        }
    }
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let f = file(Task::Classification, 3, names.clone());
    let cls = Classifier::new(f.spec.build(5).unwrap(), names).unwrap().standardized_on(&x).unwrap();
    let (kept, fresh) = (load(cls.checkpoint().unwrap(), &f), load(cls.checkpoint().unwrap(), &f).with_draw_cache(0));
    for seed in [1, 1, 2] {
        let want = cls.predict(&xt, 20, seed).unwrap();
        for m in [&kept, &fresh] {
            let Prediction::Classification(got) = m.predict(&rows, 20, seed).unwrap() else { panic!("a classifier") };
            assert_eq!(got, want, "seed {seed}");
        }
    }
}
