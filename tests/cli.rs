//! The `blitz` command as a user runs it: fit / predict / evaluate on
//! delimited files, errors as one readable line, and a fit killed with
//! SIGKILL that leaves a loadable checkpoint and resumes to the figures of
//! a run never interrupted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_blitz");
const BOSTON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn blitz(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON line's keys and values (flat objects of numbers and strings).
fn json(o: &Output) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().unwrap_or_else(|| panic!("no JSON line; stderr: {}", stderr(o)));
    let body = line.trim().strip_prefix('{').and_then(|l| l.strip_suffix('}')).unwrap();
    body.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap();
            (k.trim_matches('"').to_string(), v.to_string())
        })
        .collect()
}

/// 150 rows of three classes from two features, tab-separated, label in the middle.
fn classes_file(d: &Path) -> String {
    let path = d.join("flowers.tsv");
    let mut text = String::from("width\tkind\theight\n");
    for i in 0..150 {
        let k = i % 3;
        let (w, h) =
            (k as f32 + 0.3 * ((i * 7 % 10) as f32 / 10.0), 2.0 - k as f32 + 0.3 * ((i * 3 % 10) as f32 / 10.0));
        text.push_str(&format!("{w}\t{}\t{h}\n", ["iris a", "iris b", "iris c"][k]));
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn regression_fit_predict_evaluate_on_boston() {
    let d = dir("reg");
    let model = d.join("m.safetensors").display().to_string();
    let preds = d.join("p.csv").display().to_string();
    let fit = blitz(&[
        "fit",
        BOSTON,
        "--target",
        "MEDV",
        "--test-every",
        "4",
        "--epochs",
        "30",
        "--hidden",
        "16",
        "--out",
        &model,
        "--json",
        "--quiet",
    ]);
    assert!(fit.status.success(), "{}", stderr(&fit));
    let j = json(&fit);
    assert_eq!(
        (j["task"].as_str(), j["train_rows"].as_str(), j["test_rows"].as_str()),
        ("\"regression\"", "379", "127")
    );
    for k in ["ms_per_step", "test_rmse", "coverage_2sd", "test_loglik"] {
        assert!(j[k].parse::<f32>().unwrap().is_finite(), "{k}");
    }
    assert!(j["test_rmse"].parse::<f32>().unwrap() < 6.0, "{j:?}");
    let p = blitz(&["predict", &model, BOSTON, "--draws", "10", "--out", &preds]);
    assert!(p.status.success(), "{}", stderr(&p));
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("mean,std,epistemic_std,aleatoric_std,lower_2sd,upper_2sd"));
    let rows: Vec<Vec<f32>> = lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 506);
    assert!(rows.iter().all(|r| r[4] < r[0] && r[0] < r[5] && r[1] >= r[2] && r[1] >= r[3]));
    let e = blitz(&["evaluate", &model, BOSTON, "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(json(&e)["test_rows"], "506");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn classification_with_text_labels_and_a_random_split() {
    let d = dir("cls");
    let data = classes_file(&d);
    let model = d.join("m.safetensors").display().to_string();
    let fit = blitz(&[
        "fit",
        &data,
        "--target",
        "kind",
        "--test-fraction",
        "0.2",
        "--epochs",
        "40",
        "--out",
        &model,
        "--json",
        "--quiet",
    ]);
    assert!(fit.status.success(), "{}", stderr(&fit));
    let j = json(&fit);
    assert_eq!((j["task"].as_str(), j["test_rows"].as_str()), ("\"classification\"", "30"));
    assert!(j["test_acc"].parse::<f32>().unwrap() >= 0.9, "{j:?}");
    for k in ["nll", "ece", "mean_entropy", "mean_mi", "brier"] {
        assert!(j[k].parse::<f32>().unwrap() >= 0.0, "{k}");
    }
    let p = blitz(&["predict", &model, &data, "--draws", "5"]);
    assert!(p.status.success(), "{}", stderr(&p));
    let out = String::from_utf8(p.stdout).unwrap();
    assert_eq!(out.lines().next(), Some("predicted,p_iris a,p_iris b,p_iris c,entropy,mi"));
    assert_eq!(out.lines().count(), 151);
    assert!(out.lines().nth(1).unwrap().starts_with("iris "));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_test_file_is_matched_by_column_names() {
    let d = dir("names");
    let (train, test) = (d.join("train.csv"), d.join("test.csv"));
    let (mut a, mut b) = (String::from("u,y,v\n"), String::from("v,u,y\n"));
    for i in 0..60 {
        let (u, v) = ((i % 7) as f32, (i % 5) as f32);
        a.push_str(&format!("{u},{},{v}\n", 2.0 * u - v));
        b.push_str(&format!("{v},{u},{}\n", 2.0 * u - v));
    }
    std::fs::write(&train, a).unwrap();
    std::fs::write(&test, b).unwrap();
    let args = ["--target", "y", "--epochs", "100", "--json", "--quiet", "--test-file"];
    let o = blitz(&[&["fit", train.to_str().unwrap()][..], &args, &[test.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    // The target spreads over ±4.5: a column taken by position would miss by far more.
    assert!(json(&o)["test_rmse"].parse::<f32>().unwrap() < 1.0, "{:?}", json(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn errors_are_one_readable_line() {
    let d = dir("err");
    let bad = d.join("bad.csv");
    std::fs::write(&bad, "a,b,c,y\n1,2,3,4\n5,6,7,8\n9,10,n/a,12\n").unwrap();
    let o = blitz(&["fit", bad.to_str().unwrap(), "--target", "y"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("error: {}: line 4, column 3: \"n/a\" is not a number\n", bad.display()));
    let o = blitz(&["fit", BOSTON]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: invalid command line: fit needs --target"), "{}", stderr(&o));
    let o = blitz(&["fit", BOSTON, "--target", "PRICE"]);
    assert!(
        stderr(&o).starts_with("error: invalid column: no column named \"PRICE\"; the columns are CRIM, ZN"),
        "{}",
        stderr(&o)
    );
    // An output that cannot be written fails before any training.
    let start = Instant::now();
    let o = blitz(&["fit", BOSTON, "--target", "MEDV", "--out", "/no/such/dir/model.safetensors"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: invalid --out: /no/such/dir/model.safetensors: ")
            && stderr(&o).lines().count() == 1,
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    let o = blitz(&["predict", "/no/such/model.safetensors", BOSTON]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: /no/such/model.safetensors: "), "{}", stderr(&o));
    // A few bad cells in a numeric target are errors, not a switch to classification.
    let na = d.join("na.csv");
    let mut text = String::from("x,y\n");
    for i in 0..40 {
        text.push_str(&format!("{i},{}\n", if i == 17 { "NA".to_string() } else { (2 * i).to_string() }));
    }
    std::fs::write(&na, text).unwrap();
    let o = blitz(&["fit", na.to_str().unwrap(), "--target", "y"]);
    assert_eq!(stderr(&o), format!("error: {}: line 19, column 2: \"NA\" is not a number\n", na.display()));
    // Inputs and existing files are never overwritten.
    let model = d.join("m.safetensors");
    std::fs::write(&model, b"precious").unwrap();
    let o = blitz(&["fit", na.to_str().unwrap(), "--target", "x", "--out", model.to_str().unwrap()]);
    assert!(
        stderr(&o).starts_with("error: invalid --out: ") && stderr(&o).contains("exists: --resume"),
        "{}",
        stderr(&o)
    );
    let o = blitz(&["fit", na.to_str().unwrap(), "--target", "x", "--out", na.to_str().unwrap(), "--force"]);
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    let o = blitz(&["predict", model.to_str().unwrap(), BOSTON, "--out", model.to_str().unwrap()]);
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&model).unwrap(), b"precious");
    for o in [&blitz(&["fit", BOSTON, "--target", "MEDV", "--wat"]), &blitz(&["frobnicate"])] {
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(stderr(o).lines().filter(|l| l.starts_with("error: ")).count(), 1);
        assert!(!stderr(o).contains("{"), "no debug structs: {}", stderr(o));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn killed_fit_leaves_a_checkpoint_and_resume_matches_an_uninterrupted_run() {
    let d = dir("kill");
    let (whole, cut) = (d.join("whole.safetensors"), d.join("cut.safetensors"));
    let args = |out: &Path| -> Vec<String> {
        [
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
            "60",
            "--checkpoint-every",
            "1",
            "--seed",
            "3",
            "--json",
            "--quiet",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let uninterrupted = Command::new(BIN).args(args(&whole)).output().unwrap();
    assert!(uninterrupted.status.success(), "{}", stderr(&uninterrupted));

    // Kill as soon as the first checkpoint is on disk: 59 epochs are left then.
    let mut child = Command::new(BIN).args(args(&cut)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cut.exists() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ck = blitz::layers::Checkpoint::load(&cut).unwrap();
    let done: usize = ck.metadata()["train.epoch"].parse().unwrap();
    assert!((1..60).contains(&done), "killed after epoch {done} of 60");
    let e = blitz(&["evaluate", cut.to_str().unwrap(), BOSTON, "--json"]);
    assert!(e.status.success(), "the checkpoint of a killed run loads: {}", stderr(&e));

    let mut resume = args(&cut);
    resume.push("--resume".into());
    let resumed = Command::new(BIN).args(&resume).output().unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let (mut a, mut b) = (json(&uninterrupted), json(&resumed));
    a.remove("ms_per_step");
    b.remove("ms_per_step");
    assert_eq!(a, b, "resumed run's figures equal the uninterrupted run's");
    let (wa, wb) = (blitz::layers::Checkpoint::load(&whole).unwrap(), blitz::layers::Checkpoint::load(&cut).unwrap());
    assert_eq!(wa.names(), wb.names());
    assert!(wa.names().iter().all(|n| wa.tensor(n) == wb.tensor(n)), "and so do the saved tensors, bit for bit");
    assert_eq!(wa.metadata(), wb.metadata());
    // Resuming another run's checkpoint is refused.
    let mut other = args(&cut);
    let seed_at = other.iter().position(|a| a == "--seed").unwrap() + 1;
    other[seed_at] = "4".into();
    other.push("--resume".into());
    let o = Command::new(BIN).args(&other).output().unwrap();
    assert!(stderr(&o).starts_with("error: invalid --resume:"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}
