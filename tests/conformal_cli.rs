//! `blitz fit --conformal F`: calibration rows carved from the training
//! rows, the calibration kept in the model file, the columns `predict`
//! adds, the figures `evaluate` adds, resume, and hostile calibrations.

mod support;

use blitz::layers::model::{Model, KEY_CONFORMAL};
use blitz::layers::Checkpoint;
use std::path::Path;
use support::{assert_refused, run, stderr, BOSTON};

fn fit(out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec![
        "fit",
        BOSTON,
        "--target",
        "MEDV",
        "--test-every",
        "4",
        "--conformal",
        "0.25",
        "--epochs",
        "20",
        "--hidden",
        "16",
        "--json",
        "--quiet",
        "--out",
        &out,
    ];
    args.extend(extra);
    run(&args)
}

/// The JSON line's `key` as a number.
fn figure(o: &std::process::Output, key: &str) -> f64 {
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().unwrap_or_default();
    let at = line.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key} in {line}"));
    let rest = &line[at + key.len() + 3..];
    rest[..rest.find([',', '}']).unwrap()].parse().unwrap()
}

#[test]
fn a_calibrated_model_predicts_intervals_and_evaluates_their_coverage() {
    let d = support::dir("conformal", "reg");
    let m = d.join("m.safetensors");
    let o = fit(&m, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 379 training rows less a quarter for calibration.
    assert_eq!(figure(&o, "train_rows"), 284.0);
    let cov = figure(&o, "conformal_coverage");
    assert!(cov > 0.75 && cov <= 1.0 && figure(&o, "mean_width") > 0.0, "coverage {cov}");
    let model = Model::load(&m).unwrap();
    let c = model.file().conformal.as_ref().expect("the calibration is in the file");
    assert_eq!((c.rows(), c.draws, c.seed, c.alpha()), (95, 100, 0, 0.1));
    // predict: two more columns, each interval around its mean, and the library's table is the command's.
    let p = run(&["predict", &m.display().to_string(), BOSTON]);
    assert!(p.status.success(), "{}", stderr(&p));
    let text = String::from_utf8(p.stdout).unwrap();
    assert!(
        text.starts_with("mean,std,epistemic_std,aleatoric_std,lower_2sd,upper_2sd,lower_conformal,upper_conformal\n")
    );
    for row in text.lines().skip(1) {
        let v: Vec<f32> = row.split(',').map(|c| c.parse().unwrap()).collect();
        assert!(v[6] < v[0] && v[0] < v[7], "{row}");
    }
    let data = model.read_data(BOSTON).unwrap();
    assert_eq!(model.table(&model.predict_dataset(&data, 100, 0).unwrap()), text);
    // evaluate adds the same two figures.
    let e = run(&["evaluate", &m.display().to_string(), BOSTON, "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(figure(&e, "conformal_coverage") > 0.75 && figure(&e, "mean_width") > 0.0);
    // A resumed run (nothing left to train) calibrates again to the same file and figures.
    let before = std::fs::read(&m).unwrap();
    let again = fit(&m, &["--resume"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(figure(&again, "conformal_coverage"), cov);
    assert_eq!(std::fs::read(&m).unwrap(), before, "the same bytes");
}

#[test]
fn bad_conformal_flags_are_usage_errors() {
    for (flag, v) in
        [("--conformal", "0"), ("--conformal", "1"), ("--conformal", "nan"), ("--alpha", "0"), ("--alpha", "1.5")]
    {
        let o = run(&["fit", BOSTON, "--target", "MEDV", flag, v]);
        assert_eq!(o.status.code(), Some(2), "{flag} {v}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{flag} {v}: {}", stderr(&o));
    }
}

#[test]
fn a_forged_calibration_is_refused_naming_its_key() {
    let d = support::dir("conformal", "forged");
    let m = d.join("m.safetensors");
    let o = fit(&m, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let good = Checkpoint::load(&m).unwrap().metadata()[KEY_CONFORMAL].clone();
    for (case, value) in [
        ("alpha out of range", good.replace("alpha=0.1", "alpha=2")),
        ("NaN threshold", good.replace("threshold=", "threshold=NaN;x=")),
        ("negative threshold", "alpha=0.1;rows=5;threshold=-1;draws=100;seed=0".to_string()),
        ("no rows", "alpha=0.1;rows=0;threshold=1;draws=100;seed=0".to_string()),
        ("missing field", "alpha=0.1;rows=5;threshold=1;draws=100".to_string()),
        ("repeated field", "alpha=0.1;alpha=0.2;rows=5;threshold=1;draws=100;seed=0".to_string()),
        ("zero draws", "alpha=0.1;rows=5;threshold=1;draws=0;seed=0".to_string()),
        ("not key=value", "garbage".to_string()),
    ] {
        let mut ck = Checkpoint::load(&m).unwrap();
        ck.set_metadata(KEY_CONFORMAL, value);
        ck.seal();
        let bad = d.join("bad.safetensors");
        ck.save(&bad).unwrap();
        let b = bad.display().to_string();
        assert_refused(&run(&["predict", &b, BOSTON]), KEY_CONFORMAL, case);
        let e = Model::load(&bad).unwrap_err().to_string();
        assert!(e.contains(KEY_CONFORMAL), "{case}: {e}");
    }
}
