//! Hostile model files against the `blitz` command: a model file edited by
//! hand (forged sizes, non-finite parameters, broken or missing
//! statistics, repeated feature names, forged resume progress) ends in one
//! line of error and exit status 1, never a crash, a wrong figure or a
//! rewritten file.

mod support;

use blitz::layers::checkpoint::DIGEST_KEY;
use blitz::layers::Checkpoint;
use std::path::{Path, PathBuf};
use support::{assert_refused, run, BOSTON};

fn dir(name: &str) -> PathBuf {
    support::dir("hostile-model", name)
}

fn fit_args(out: &Path) -> Vec<String> {
    let args = [
        "fit",
        BOSTON,
        "--target",
        "MEDV",
        "--test-every",
        "4",
        "--hidden",
        "8",
        "--batch-size",
        "64",
        "--sample-nbr",
        "1",
        "--epochs",
        "4",
        "--checkpoint-every",
        "1",
        "--seed",
        "5",
        "--quiet",
        "--out",
    ];
    args.iter().map(|s| s.to_string()).chain([out.display().to_string()]).collect()
}

/// The trained model at `path`, edited by `edit` and sealed again (so that
/// the checks behind the digest are what refuses it) into `to`.
fn edited(path: &Path, to: &Path, edit: impl FnOnce(&mut Checkpoint)) {
    let mut ck = Checkpoint::load(path).unwrap();
    edit(&mut ck);
    ck.seal();
    ck.save(to).unwrap();
}

fn set_first(ck: &mut Checkpoint, name: &str, value: f32) {
    let (shape, mut data) = ck.tensor(name).map(|(s, d)| (s.to_vec(), d.to_vec())).unwrap();
    data[0] = value;
    ck.set_tensor(name, &shape, data).unwrap();
}

type Edit = Box<dyn Fn(&mut Checkpoint)>;

/// An edit that deletes the metadata `keys`.
fn without(keys: &'static [&'static str]) -> Edit {
    Box::new(move |ck| {
        for k in keys {
            ck.remove_metadata(k);
        }
    })
}

/// A trained model in a new folder `name`: (folder, model file).
fn trained(name: &str) -> (PathBuf, PathBuf) {
    let d = dir(name);
    let model = d.join("m.safetensors");
    let fit = run(&fit_args(&model));
    assert!(fit.status.success(), "{}", String::from_utf8_lossy(&fit.stderr));
    (d, model)
}

/// Hand edits of a trained model file at `model`, each with what its error names.
fn load_cases(model: &Path) -> Vec<(&'static str, Edit, &'static str)> {
    let features = Checkpoint::load(model).unwrap().metadata()["blitz.features"].clone();
    vec![
        ("huge sizes", Box::new(|ck| ck.set_metadata("model.sizes", "13-18446744073709551615-1")), "model.sizes"),
        ("52 GB sizes", Box::new(|ck| ck.set_metadata("model.sizes", "13-1000000000-1")), "model.sizes"),
        ("NaN weight", Box::new(|ck| set_first(ck, "fc1.weight_mu", f32::NAN)), "fc1.weight_mu"),
        ("inf noise", Box::new(|ck| set_first(ck, "log_noise", f32::INFINITY)), "log_noise"),
        (
            "tiny x std",
            Box::new(|ck| {
                let s = ck.metadata()["x_scale.std"].clone();
                ck.set_metadata("x_scale.std", format!("1e-39{}", &s[s.find(',').unwrap()..]));
            }),
            "x_scale",
        ),
        ("huge y std", Box::new(|ck| ck.set_metadata("y_scale.std", "1e37")), "y_scale"),
        ("no x_scale", without(&["x_scale.mean", "x_scale.std", "standardized"]), "x_scale"),
        ("no y_scale", without(&["y_scale.mean", "y_scale.std", "standardized"]), "y_scale"),
        (
            "repeated feature",
            Box::new({
                let f = features.replacen("\"ZN\"", "\"CRIM\"", 1);
                move |ck| ck.set_metadata("blitz.features", f.clone())
            }),
            "CRIM",
        ),
        (
            "feature is the target",
            Box::new({
                let f = features.replacen("\"ZN\"", "\"MEDV\"", 1);
                move |ck| ck.set_metadata("blitz.features", f.clone())
            }),
            "MEDV",
        ),
    ]
}

#[test]
fn an_edited_model_file_is_refused_by_predict_and_evaluate() {
    let (d, model) = trained("load");
    let bad = d.join("bad.safetensors");
    let cases = load_cases(&model);
    for (case, edit, named) in cases {
        edited(&model, &bad, edit);
        let b = bad.display().to_string();
        assert_refused(&run(&["evaluate".into(), b.clone(), BOSTON.into()]), named, case);
        assert_refused(&run(&["predict".into(), b, BOSTON.into()]), named, case);
    }
    // Edited without sealing again: the digest notices.
    let mut ck = Checkpoint::load(&model).unwrap();
    set_first(&mut ck, "fc1.weight_mu", 0.5);
    ck.save(&bad).unwrap();
    assert_refused(&run(&["evaluate".into(), bad.display().to_string(), BOSTON.into()]), DIGEST_KEY, "unsealed");
    // The untouched model still evaluates.
    let ok = run(&["evaluate".into(), model.display().to_string(), BOSTON.into()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn forged_resume_progress_is_refused_and_the_file_left_alone() {
    let (d, model) = trained("resume");
    let mut resume = fit_args(&model);
    resume.push("--resume".into());
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("epoch back to 3", Box::new(|ck| ck.set_metadata("train.epoch", "3")), "train.steps"),
        ("epoch 999999999999", Box::new(|ck| ck.set_metadata("train.epoch", "999999999999")), "train.epoch"),
        ("epoch 2^64-1", Box::new(|ck| ck.set_metadata("train.epoch", "18446744073709551615")), "train.epoch"),
        ("log_noise 200", Box::new(|ck| ck.set_tensor("log_noise", &[1], vec![200.0]).unwrap()), "log_noise"),
        (
            "no statistics",
            without(&["x_scale.mean", "x_scale.std", "y_scale.mean", "y_scale.std", "standardized"]),
            "x_scale",
        ),
    ];
    let original = std::fs::read(&model).unwrap();
    for (case, edit, named) in cases {
        std::fs::write(&model, &original).unwrap();
        edited(&model.clone(), &model, edit);
        let before = std::fs::read(&model).unwrap();
        assert_refused(&run(&resume), named, case);
        assert_eq!(std::fs::read(&model).unwrap(), before, "{case}: the file is not rewritten");
    }
    // The untouched file is a finished run: resuming it changes nothing.
    std::fs::write(&model, &original).unwrap();
    let again = run(&resume);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    std::fs::remove_dir_all(&d).unwrap();
}

/// The library's loader refuses every hand-edited file of
/// [`an_edited_model_file_is_refused_by_predict_and_evaluate`] with the very
/// error (type and line) that the command prints.
#[test]
fn model_load_gives_the_commands_errors() {
    let (d, model) = trained("library");
    let bad = d.join("bad.safetensors");
    for (case, edit, named) in load_cases(&model) {
        edited(&model, &bad, edit);
        let o = run(&["predict".into(), bad.display().to_string(), BOSTON.into()]);
        assert_refused(&o, named, case);
        let e = blitz::Model::load(&bad).unwrap_err();
        let bytes = blitz::Model::from_bytes(&std::fs::read(&bad).unwrap(), &bad.display().to_string()).unwrap_err();
        assert_eq!(format!("error: {e}\n"), String::from_utf8_lossy(&o.stderr), "{case}");
        assert_eq!(bytes.to_string(), e.to_string(), "{case}: from_bytes");
        assert!(
            matches!(
                e,
                blitz::prelude::Error::Parse { .. }
                    | blitz::prelude::Error::NonFinite { .. }
                    | blitz::prelude::Error::TooLarge { .. }
            ),
            "{case}: {e:?}"
        );
    }
    // Unsealed edits: the digest, both ways.
    let mut ck = Checkpoint::load(&model).unwrap();
    set_first(&mut ck, "fc1.weight_mu", 0.5);
    ck.save(&bad).unwrap();
    let e = blitz::Model::load(&bad).unwrap_err().to_string();
    let o = run(&["predict".into(), bad.display().to_string(), BOSTON.into()]);
    assert_eq!(format!("error: {e}\n"), String::from_utf8_lossy(&o.stderr));
    assert!(e.contains(DIGEST_KEY), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}
