//! `blitz fit --tune`: the epochs (and MC dropout's rate) chosen on
//! validation rows carved from the training rows, the choice printed, in
//! the JSON line and in the model file; the test rows never looked at; the
//! budget's refusals; Bayes by Backprop and the deterministic methods; the
//! same bytes on one and two threads.

mod support;

use blitz::layers::model::{Method, Model, KEY_TUNED};
use blitz::layers::Checkpoint;
use std::path::Path;
use std::process::{Command, Output};
use support::{assert_refused, run, stderr, BIN, BOSTON};

/// Boston's header and rows (the shipped file has a line of counts first).
fn boston() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(BOSTON).unwrap();
    let mut lines = text.lines().skip(1);
    let header = lines.next().unwrap().to_string();
    (header, lines.map(String::from).collect())
}

/// `rows` under `header` into `d/name`.
fn write(d: &Path, name: &str, header: &str, rows: &[String]) -> String {
    let path = d.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.display().to_string()
}

/// The row with every value, the target too, made absurd.
fn poisoned(row: &str) -> String {
    row.split(',').map(|v| format!("{}", v.parse::<f64>().unwrap() * 1000.0 + 1e6)).collect::<Vec<_>>().join(",")
}

/// `blitz fit DATA --target T --tune` into `out`, small and fast.
fn tune_args(data: &str, target: &str, extra: &[&str], out: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "fit",
        data,
        "--target",
        target,
        "--tune",
        "--tune-budget",
        "3",
        "--epochs",
        "8",
        "--hidden",
        "8",
        "--batch-size",
        "32",
        "--seed",
        "7",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["--out".to_string(), out.display().to_string()]);
    a
}

fn fitted(args: &[String]) -> Output {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// The model file's `blitz.tuned` record.
fn record(path: &Path) -> String {
    Checkpoint::load(path).unwrap().metadata().get(KEY_TUNED).cloned().unwrap_or_else(|| panic!("no {KEY_TUNED}"))
}

#[test]
fn the_choice_is_printed_recorded_and_blind_to_the_test_rows() {
    let d = support::dir("tune", "blind");
    let (header, rows) = boston();
    let train = write(&d, "train.csv", &header, &rows[..400]);
    let clean = write(&d, "clean.csv", &header, &rows[400..]);
    let bad: Vec<String> = rows[400..].iter().map(|r| poisoned(r)).collect();
    let bad = write(&d, "poisoned.csv", &header, &bad);
    let alone = d.join("alone.safetensors");
    let o = fitted(&tune_args(&train, "MEDV", &[], &alone));
    // One line per candidate (epochs 1, 3, 8 of a tenth of 8 to 8), then the choice.
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("tune: ")).collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert!(lines[0].contains("3 candidate runs train on 320 of the 400 training rows"), "{err}");
    for (line, e) in lines[1..4].iter().zip(["1", "3", "8"]) {
        assert!(line.starts_with(&format!("tune: epochs {e}: validation log-likelihood -")), "{err}");
    }
    assert!(lines[4].starts_with("tune: chose epochs "), "{err}");
    // The same record in the file and the JSON line; the file's settings are the chosen epochs'.
    let tuned = record(&alone);
    assert!(tuned.starts_with("{\"chosen\":{\"epochs\":") && tuned.contains("\"validation_rows\":80"), "{tuned}");
    assert_eq!(tuned.matches("validation_loglik\":").count(), 3, "{tuned}");
    let json = String::from_utf8(o.stdout).unwrap();
    assert!(json.trim_end().ends_with(&format!(",\"tuned\":{tuned}}}")), "{json}");
    let chosen = &tuned["{\"chosen\":{\"epochs\":".len()..];
    let chosen = &chosen[..chosen.find('}').unwrap()];
    let model = Model::load(&alone).unwrap();
    assert!(model.file().settings.contains(&format!(" epochs={chosen} ")), "{}", model.file().settings);
    assert!(json.contains(&format!("\"train_rows\":400,\"test_rows\":0,\"epochs\":{chosen},")), "{json}");
    // Resumed without --tune, with the chosen epochs: the same run (nothing left to do), its record kept.
    let before = std::fs::read(&alone).unwrap();
    let mut again = tune_args(&train, "MEDV", &["--resume", "--quiet"], &alone);
    again.retain(|s| s != "--tune");
    let at = again.iter().position(|s| s == "--tune-budget").unwrap();
    again.drain(at..at + 2);
    let at = again.iter().position(|s| s == "--epochs").unwrap() + 1;
    again[at] = chosen.to_string();
    fitted(&again);
    assert_eq!(record(&alone), tuned, "the record is kept");
    assert_eq!(std::fs::read(&alone).unwrap(), before, "and the file is the same");
    // A test file, clean or absurd, changes nothing the search sees.
    for (name, test) in [("clean", &clean), ("poisoned", &bad)] {
        let m = d.join(format!("{name}.safetensors"));
        fitted(&tune_args(&train, "MEDV", &["--test-file", test, "--quiet"], &m));
        assert_eq!(record(&m), tuned, "with the {name} test file");
    }
    // Nor do the test rows of --test-every.
    let mut every: Vec<String> = rows.clone();
    let honest = write(&d, "all.csv", &header, &every);
    for (i, r) in every.iter_mut().enumerate() {
        if i % 4 == 0 {
            *r = poisoned(r);
        }
    }
    let dishonest = write(&d, "all-poisoned.csv", &header, &every);
    let (a, b) = (d.join("every-a.safetensors"), d.join("every-b.safetensors"));
    fitted(&tune_args(&honest, "MEDV", &["--test-every", "4", "--quiet"], &a));
    fitted(&tune_args(&dishonest, "MEDV", &["--test-every", "4", "--quiet"], &b));
    assert_eq!(record(&a), record(&b), "the --test-every rows are not looked at");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "and the models are the same, bit for bit");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_tune_flags_are_refused_before_any_work() {
    let d = support::dir("tune", "bad");
    let out = d.join("m.safetensors").display().to_string();
    for (args, says) in [
        (&["--tune", "--tune-budget", "0"][..], "--tune-budget 0: give 1 to 64 candidate runs"),
        (&["--tune", "--tune-budget", "65"], "--tune-budget 65: give 1 to 64"),
        (&["--tune", "--tune-budget", "two"], "--tune-budget \"two\": not a valid number"),
        (&["--tune-budget", "3"], "--tune-budget is a setting of --tune"),
        (&["--tune", "--resume", "--out", &out], "--resume with --tune"),
    ] {
        let mut a = vec!["fit", BOSTON, "--target", "MEDV"];
        a.extend(args);
        let o = run(&a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with(&format!("error: invalid command line: {says}")), "{args:?}: {err}");
        assert_eq!(err.lines().nth(1), Some("(see `blitz help`)"), "{args:?}: one line, and the pointer");
        assert!(!Path::new(&out).exists(), "{args:?}: nothing written");
    }
    // Too few training rows to hold any out.
    let (header, rows) = boston();
    let tiny = write(&d, "tiny.csv", &header, &rows[..4]);
    let o = run(&["fit", &tiny, "--target", "MEDV", "--tune", "--epochs", "2"]);
    assert_refused(&o, "--tune: 4 training rows: too few", "4 rows");
    std::fs::remove_dir_all(&d).unwrap();
}

/// 90 rows of three classes from two features.
fn classes_file(d: &Path) -> String {
    let mut rows = Vec::new();
    for i in 0..90 {
        let k = i % 3;
        let (w, h) =
            (k as f32 + 0.4 * ((i * 7 % 10) as f32 / 10.0), 2.0 - k as f32 + 0.4 * ((i * 3 % 10) as f32 / 10.0));
        rows.push(format!("{w},{h},{}", ["a", "b", "c"][k]));
    }
    write(d, "flowers.csv", "width,height,kind", &rows)
}

#[test]
fn every_kind_of_method_tunes_to_the_same_bytes_on_one_and_two_threads() {
    let d = support::dir("tune", "methods");
    let flowers = classes_file(&d);
    for (data, target, method, budget, runs) in [
        (BOSTON, "MEDV", &[][..], "3", 3),
        (BOSTON, "MEDV", &["--method", "ensemble", "--members", "2", "--conformal", "0.2"][..], "3", 3),
        (BOSTON, "MEDV", &["--method", "mc-dropout"][..], "5", 5),
        (flowers.as_str(), "kind", &["--method", "laplace"][..], "2", 2),
    ] {
        let case = format!("{target} {method:?}");
        let m = d.join("m.safetensors");
        let mut args = tune_args(data, target, &["--quiet", "--force", "--test-every", "4"], &m);
        args.extend(method.iter().map(|s| s.to_string()));
        let at = args.iter().position(|s| s == "--tune-budget").unwrap() + 1;
        args[at] = budget.into();
        let mut bytes = Vec::new();
        for threads in ["1", "2"] {
            let o = Command::new(BIN).args(&args).env("RAYON_NUM_THREADS", threads).output().unwrap();
            assert!(o.status.success(), "{case}: {}", stderr(&o));
            assert!(o.stderr.is_empty(), "{case}: --quiet prints nothing: {}", stderr(&o));
            bytes.push(std::fs::read(&m).unwrap());
        }
        assert_eq!(bytes[0], bytes[1], "{case}: one thread or two, the same file");
        let tuned = record(&m);
        let key = if target == "kind" { "validation_nll\":" } else { "validation_loglik\":" };
        assert_eq!(tuned.matches(key).count(), runs, "{case}: {tuned}");
        let model = Model::load(&m).unwrap();
        if let Method::McDropout { rate } = model.method() {
            // Three epoch counts at 0.1, then half and double it at the best of them.
            assert!(tuned.contains("\"dropout\":0.05,") && tuned.contains("\"dropout\":0.2,"), "{tuned}");
            assert!(tuned.starts_with("{\"chosen\":{\"epochs\":"), "{tuned}");
            assert!(tuned.contains(&format!("\"dropout\":{rate}}}")), "{case}: the file's rate is the chosen: {tuned}");
        }
        if method.contains(&"--conformal") {
            assert!(model.file().conformal.is_some(), "{case}: the calibration and the record both kept");
        }
        let p = run(&["predict", m.to_str().unwrap(), data]);
        assert!(p.status.success(), "{case}: {}", stderr(&p));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn compare_tunes_every_run_on_its_own_training_rows() {
    let o = run(&[
        "compare",
        BOSTON,
        "--target",
        "MEDV",
        "--splits",
        "2",
        "--methods",
        "bbb,ensemble",
        "--epochs",
        "8",
        "--hidden",
        "8",
        "--tune",
        "--tune-budget",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "one JSON line per method: {text}");
    // Each run's epochs are one of the two candidates (1 or 8), whichever its validation rows chose.
    for line in text.lines() {
        let at = line.find("\"epochs_mean\":").unwrap() + "\"epochs_mean\":".len();
        let mean: f64 = line[at..line[at..].find(',').unwrap() + at].parse().unwrap();
        assert!((1.0..=8.0).contains(&mean), "{line}");
    }
}
