//! `blitz fit --method mc-dropout|ensemble|ivon|swag|laplace`: every method through fit →
//! save → predict / evaluate, the command's table equal to the library's
//! ([`Model::load`]), the same columns as Bayes by Backprop, conformal on
//! top, the same bits on one and two threads, kill and resume (MC
//! dropout) or its refusal (the others), and hostile method keys.

mod support;

use blitz::layers::model::{
    Method, Model, KEY_DROPOUT, KEY_IVON, KEY_LAPLACE, KEY_MEMBERS, KEY_METHOD, KEY_SWAG, SWAG_DEVIATIONS, SWAG_MEAN,
    SWAG_VARIANCE,
};
use blitz::layers::Checkpoint;
use blitz::prelude::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{assert_refused, run, stderr, BIN, BOSTON};

/// 90 rows of three classes from two features, comma-separated.
fn classes_file(d: &Path) -> String {
    let path = d.join("flowers.csv");
    let mut text = String::from("width,height,kind\n");
    for i in 0..90 {
        let k = i % 3;
        let (w, h) =
            (k as f32 + 0.4 * ((i * 7 % 10) as f32 / 10.0), 2.0 - k as f32 + 0.4 * ((i * 3 % 10) as f32 / 10.0));
        text.push_str(&format!("{w},{h},{}\n", ["a", "b", "c"][k]));
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `blitz fit DATA --target COL` of `method` into `out`, small and fast.
fn fit_args(data: &str, target: &str, method: &[&str], out: &Path) -> Vec<String> {
    let mut args = vec![
        "fit",
        data,
        "--target",
        target,
        "--test-every",
        "4",
        "--hidden",
        "8",
        "--batch-size",
        "32",
        "--epochs",
        "4",
        "--seed",
        "7",
        "--json",
        "--quiet",
    ];
    args.extend(method);
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.extend(["--out".to_string(), out.display().to_string()]);
    args
}

fn fitted(args: &[String]) -> Output {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// The JSON line's keys, in order.
fn json_keys(o: &Output) -> Vec<String> {
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().unwrap_or_default().trim_matches(['{', '}']).to_string();
    line.split(',').map(|kv| kv.split(':').next().unwrap_or_default().trim_matches('"').to_string()).collect()
}

#[test]
fn every_method_predicts_and_evaluates_the_same_through_the_command_and_the_library() {
    let d = support::dir("methods", "each");
    let classes = classes_file(&d);
    for (data, target) in [(BOSTON, "MEDV"), (classes.as_str(), "kind")] {
        let bbb = d.join(format!("bbb-{target}.safetensors"));
        let reference = fitted(&fit_args(data, target, &["--conformal", "0.2"], &bbb));
        let bbb_header = String::from_utf8(run(&["predict", bbb.to_str().unwrap(), data]).stdout).unwrap();
        let bbb_header = bbb_header.lines().next().unwrap().to_string();
        for (method, expect) in [
            (&["--method", "mc-dropout", "--dropout", "0.2"][..], Method::McDropout { rate: 0.2 }),
            (&["--method", "ensemble", "--members", "3"][..], Method::Ensemble { members: 3 }),
            (&["--method", "ivon"][..], Method::Ivon),
            (&["--method", "swag"][..], Method::Swag),
            (&["--method", "laplace"][..], Method::Laplace),
        ] {
            let case = format!("{target} {method:?}");
            let m = d.join(format!("{}-{target}.safetensors", expect.name()));
            let mut args = method.to_vec();
            args.extend(["--conformal", "0.2"]);
            let fit = fitted(&fit_args(data, target, &args, &m));
            assert_eq!(json_keys(&fit), json_keys(&reference), "{case}: the figures of every method");
            let model = Model::load(&m).unwrap();
            assert_eq!(model.method(), expect, "{case}");
            assert!(model.fitted().is_none() && model.file().conformal.is_some(), "{case}");
            // predict: the columns of Bayes by Backprop, and the library's table byte for byte.
            let p = run(&["predict", m.to_str().unwrap(), data]);
            assert!(p.status.success(), "{case}: {}", stderr(&p));
            let text = String::from_utf8(p.stdout).unwrap();
            assert_eq!(text.lines().next().unwrap(), bbb_header, "{case}");
            assert_eq!(text.lines().count(), if target == "MEDV" { 507 } else { 91 }, "{case}");
            let rows = model.read_data(data).unwrap();
            assert_eq!(model.table(&model.predict_dataset(&rows, 100, 0).unwrap()), text, "{case}");
            // evaluate: the figures of the fit's test rows' kind, for the whole file.
            let e = run(&["evaluate", m.to_str().unwrap(), data, "--json"]);
            assert!(e.status.success(), "{case}: {}", stderr(&e));
            let keys = json_keys(&e);
            assert!(keys.contains(&"conformal_coverage".to_string()), "{case}: {keys:?}");
            // One thread or two: the same file, bit for bit.
            let again = d.join(format!("again-{target}.safetensors"));
            let mut one = fit_args(data, target, &args, &again);
            one.push("--force".into());
            for threads in ["1", "2"] {
                let o = Command::new(BIN).args(&one).env("RAYON_NUM_THREADS", threads).output().unwrap();
                assert!(o.status.success(), "{case}: {}", stderr(&o));
                assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&m).unwrap(), "{case}: {threads} thread(s)");
            }
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_killed_mc_dropout_fit_resumes_to_the_uninterrupted_run() {
    let d = support::dir("methods", "kill");
    let (whole, cut) = (d.join("whole.safetensors"), d.join("cut.safetensors"));
    let args = |out: &Path| -> Vec<String> {
        let mut a = fit_args(BOSTON, "MEDV", &["--method", "mc-dropout", "--checkpoint-every", "1"], out);
        let at = a.iter().position(|s| s == "--epochs").unwrap() + 1;
        a[at] = "150".into();
        let at = a.iter().position(|s| s == "--batch-size").unwrap() + 1;
        a[at] = "8".into();
        a
    };
    let uninterrupted = fitted(&args(&whole));
    let mut child = Command::new(BIN).args(args(&cut)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cut.exists() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done: usize = Checkpoint::load(&cut).unwrap().metadata()["train.epoch"].parse().unwrap();
    assert!((1..150).contains(&done), "killed after epoch {done} of 150");
    let mut resume = args(&cut);
    resume.push("--resume".into());
    let resumed = fitted(&resume);
    let strip = |o: &Output| {
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        let at = t.find("\"ms_per_step\"").unwrap();
        let end = at + t[at..].find(',').unwrap();
        format!("{}{}", &t[..at], &t[end..])
    };
    assert_eq!(strip(&resumed), strip(&uninterrupted), "the resumed run's figures are the uninterrupted run's");
    assert_eq!(std::fs::read(&cut).unwrap(), std::fs::read(&whole).unwrap(), "and so is its file, bit for bit");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn resuming_an_ensemble_or_another_methods_run_is_refused_at_the_start() {
    let d = support::dir("methods", "resume");
    let m = d.join("m.safetensors");
    // An ensemble or IVON has no checkpoint to continue: refused with the command line, before any work.
    for method in ["ensemble", "ivon", "swag", "laplace"] {
        let mut args = fit_args(BOSTON, "MEDV", &["--method", method], &m);
        args.push("--resume".into());
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let want = format!("error: invalid command line: --resume: --method {method} writes --out only at the end");
        assert!(stderr(&o).starts_with(&want), "{}", stderr(&o));
        assert!(!m.exists());
    }
    // A file of one method is not continued by a run of another.
    for (wrote, resumes) in
        [(&["--method", "bbb"][..], &["--method", "mc-dropout"][..]), (&["--method", "mc-dropout"], &[])]
    {
        fitted(&fit_args(BOSTON, "MEDV", wrote, &m));
        let before = std::fs::read(&m).unwrap();
        let mut args = fit_args(BOSTON, "MEDV", resumes, &m);
        args.push("--resume".into());
        let o = run(&args);
        assert_refused(&o, "another run", &format!("{wrote:?} resumed by {resumes:?}"));
        assert!(stderr(&o).starts_with("error: invalid --resume:"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&m).unwrap(), before, "the file is left as it was");
        std::fs::remove_file(&m).unwrap();
    }
    // Settings of another method are refused.
    let o = run(&fit_args(BOSTON, "MEDV", &["--method", "mc-dropout", "--members", "3"], &m));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--members is a setting of --method ensemble"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A trained model file of `method` in `d`.
fn trained(d: &Path, method: &[&str]) -> PathBuf {
    let m = d.join(format!("{}.safetensors", method.join("")));
    fitted(&fit_args(BOSTON, "MEDV", method, &m));
    m
}

/// `path` edited by `edit` and sealed again (so that the checks behind the digest refuse it) into `to`.
fn edited(path: &Path, to: &Path, edit: &dyn Fn(&mut Checkpoint)) {
    let mut ck = Checkpoint::load(path).unwrap();
    edit(&mut ck);
    ck.seal();
    ck.save(to).unwrap();
}

type Edit = Box<dyn Fn(&mut Checkpoint)>;

fn set(key: &'static str, value: &'static str) -> Edit {
    Box::new(move |ck| ck.set_metadata(key, value))
}

fn set_first(name: &'static str, value: f32) -> Edit {
    Box::new(move |ck| {
        let (shape, mut data) = ck.tensor(name).map(|(s, d)| (s.to_vec(), d.to_vec())).unwrap();
        data[0] = value;
        ck.set_tensor(name, &shape, data).unwrap();
    })
}

/// An edit that drops the tensor `name` (a new checkpoint of everything else).
fn without_tensor(name: &'static str) -> Edit {
    Box::new(move |ck| {
        let mut out = Checkpoint::new();
        for (k, v) in ck.metadata() {
            out.set_metadata(k.clone(), v.clone());
        }
        for n in ck.names().into_iter().filter(|n| *n != name) {
            let (shape, data) = ck.tensor(n).unwrap();
            out.set_tensor(n, shape, data.to_vec()).unwrap();
        }
        *ck = out;
    })
}

#[test]
fn hostile_method_keys_are_refused_naming_the_file_and_the_key() {
    let d = support::dir("methods", "hostile");
    let ensemble = trained(&d, &["--method", "ensemble", "--members", "2"]);
    let dropout = trained(&d, &["--method", "mc-dropout"]);
    let ivon = trained(&d, &["--method", "ivon"]);
    let swag = trained(&d, &["--method", "swag"]);
    let laplace = trained(&d, &["--method", "laplace"]);
    let bad = d.join("bad.safetensors");
    let cases: Vec<(&Path, &str, Edit, &str)> = vec![
        (&ensemble, "unknown method", set(KEY_METHOD, "swag2"), KEY_METHOD),
        (&ensemble, "no member count", Box::new(|ck| drop(ck.remove_metadata(KEY_MEMBERS))), KEY_MEMBERS),
        (&ensemble, "zero members", set(KEY_MEMBERS, "0"), KEY_MEMBERS),
        (&ensemble, "members not a count", set(KEY_MEMBERS, "two"), KEY_MEMBERS),
        (&ensemble, "a billion members", set(KEY_MEMBERS, "1000000000"), KEY_MEMBERS),
        (&ensemble, "more members than tensors", set(KEY_MEMBERS, "3"), "member2.fc1.weight"),
        (&ensemble, "fewer members than tensors", set(KEY_MEMBERS, "1"), "member1.fc1.weight"),
        (&ensemble, "a member tensor missing", without_tensor("member1.fc2.weight"), "member1.fc2.weight"),
        (&ensemble, "a NaN in a member", set_first("member1.fc1.weight", f32::NAN), "member1.fc1.weight"),
        (&ensemble, "a BBB file's model key", set("model", "bayesian_mlp"), "model"),
        (&ensemble, "the other method's setting", set(KEY_DROPOUT, "0.1"), KEY_DROPOUT),
        (&ensemble, "read as BBB", Box::new(|ck| drop(ck.remove_metadata(KEY_METHOD))), KEY_MEMBERS),
        (&dropout, "no rate", Box::new(|ck| drop(ck.remove_metadata(KEY_DROPOUT))), KEY_DROPOUT),
        (&dropout, "NaN rate", set(KEY_DROPOUT, "NaN"), KEY_DROPOUT),
        (&dropout, "rate 1", set(KEY_DROPOUT, "1"), KEY_DROPOUT),
        (&dropout, "read as an ensemble", set(KEY_METHOD, "ensemble"), KEY_MEMBERS),
        (&dropout, "an inf noise", set_first("log_noise", f32::INFINITY), "log_noise"),
        (&ivon, "no sample size", Box::new(|ck| drop(ck.remove_metadata(KEY_IVON))), KEY_IVON),
        (&ivon, "NaN sample size", set(KEY_IVON, "ess=NaN;weight_decay=0.0001"), KEY_IVON),
        (&ivon, "no weight decay", set(KEY_IVON, "ess=300"), KEY_IVON),
        (&ivon, "an unknown field", set(KEY_IVON, "ess=300;weight_decay=0.0001;beta=2"), KEY_IVON),
        (&ivon, "a Hessian missing", without_tensor("hessian.fc1.weight"), "hessian.fc1.weight"),
        (&ivon, "a negative Hessian", set_first("hessian.fc1.weight", -1e30), "hessian.fc1.weight"),
        (&ivon, "a NaN Hessian", set_first("hessian.fc1.bias", f32::NAN), "hessian.fc1.bias"),
        (&ivon, "a NaN mean", set_first("fc2.weight", f32::NAN), "fc2.weight"),
        (&ivon, "a member's setting", set(KEY_MEMBERS, "2"), KEY_MEMBERS),
        (&swag, "no sizes", Box::new(|ck| drop(ck.remove_metadata(KEY_SWAG))), KEY_SWAG),
        (&swag, "rank 0", set(KEY_SWAG, "rank=0;snapshots=20"), KEY_SWAG),
        (&swag, "more columns than snapshots", set(KEY_SWAG, "rank=30;snapshots=20"), KEY_SWAG),
        (&swag, "a huge rank", set(KEY_SWAG, "rank=18446744073709551615;snapshots=18446744073709551615"), KEY_SWAG),
        (&swag, "rank not the tensor's", set(KEY_SWAG, "rank=5;snapshots=20"), SWAG_DEVIATIONS),
        (&swag, "no deviations", without_tensor(SWAG_DEVIATIONS), SWAG_DEVIATIONS),
        (&swag, "a negative variance", set_first(SWAG_VARIANCE, -1.0), SWAG_VARIANCE),
        (&swag, "a NaN mean", set_first(SWAG_MEAN, f32::NAN), SWAG_MEAN),
        (&swag, "IVON's key instead", set(KEY_METHOD, "ivon"), "fc1.weight"),
        (&laplace, "no structure", Box::new(|ck| drop(ck.remove_metadata(KEY_LAPLACE))), KEY_LAPLACE),
        (&laplace, "an unknown structure", set(KEY_LAPLACE, "structure=diag;prior_precision=1"), KEY_LAPLACE),
        (&laplace, "a negative prior", set(KEY_LAPLACE, "structure=full;prior_precision=-1"), KEY_LAPLACE),
        (&laplace, "the other structure", set(KEY_LAPLACE, "structure=kron;prior_precision=1"), "laplace.h"),
        (&laplace, "a negative eigenvalue", set_first("laplace.g", -1.0), "laplace.g"),
        (&laplace, "a NaN eigenvector", set_first("laplace.v", f32::NAN), "laplace.v"),
        (&laplace, "no eigenvectors", without_tensor("laplace.v"), "laplace.v"),
        (&laplace, "an inf noise", set_first("log_noise", f32::INFINITY), "log_noise"),
        (&laplace, "read as MC dropout", set(KEY_METHOD, "mc-dropout"), KEY_DROPOUT),
    ];
    for (file, case, edit, key) in cases {
        edited(file, &bad, &edit);
        match Model::load(&bad) {
            Err(Error::Parse { path, message }) => {
                assert!(path.contains("bad.safetensors") && message.contains(key), "{case}: {path}: {message}")
            }
            Err(Error::NonFinite { what }) => assert!(what.contains(key) && what.contains("bad"), "{case}: {what}"),
            other => panic!("{case}: {other:?}"),
        }
        let o = run(&["predict", bad.to_str().unwrap(), BOSTON]);
        assert_refused(&o, key, case);
        assert!(o.stdout.is_empty(), "{case}: nothing printed");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_ensemble_beyond_the_memory_limit_is_refused_naming_members_before_any_work() {
    let d = support::dir("methods", "memory");
    let out = d.join("big.safetensors").display().to_string();
    let args = |members: &str| {
        let a = ["fit", BOSTON, "--target", "MEDV", "--method", "ensemble", "--hidden", "2000", "--epochs", "1"];
        let mut a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        a.extend(["--members", members, "--quiet", "--out", &out].map(String::from));
        a
    };
    // One member of this width fits in 100 MiB; 256 side by side do not.
    let o = Command::new(BIN).args(args("256")).env("BLITZ_MEMORY_LIMIT", "100M").output().unwrap();
    assert_refused(&o, "--members 256", "256 members");
    assert!(stderr(&o).starts_with("error: --members 256: "), "{}", stderr(&o));
    assert!(!Path::new(&out).exists(), "nothing written");
    std::fs::remove_dir_all(&d).unwrap();
}
