//! The `blitz` command against hostile surroundings: outputs that are not
//! ours to replace (links, devices, pipes, an empty name), two runs on one
//! output, readers that go away, full disks behind stdout and stderr, and
//! size flags beyond the memory limit. Each ends in one line of error (or,
//! for a closed pipe, in silence), with every refusal before any training,
//! and nothing that was there before is changed.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{assert_error, assert_refused, run, stderr, BIN, BOSTON};

fn dir(name: &str) -> PathBuf {
    support::dir("hostile-cli", name)
}

/// A fit long enough that a refusal which came after training would show
/// as a slow test (thousands of epochs), quiet, to `out`.
fn long_fit(out: &str) -> Vec<String> {
    ["fit", BOSTON, "--target", "MEDV", "--epochs", "100000", "--quiet", "--out", out]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A small trained model in `d`.
fn small_model(d: &Path) -> String {
    let m = d.join("m.safetensors").display().to_string();
    let fit = run(&["fit", BOSTON, "--target", "MEDV", "--epochs", "2", "--hidden", "8", "--quiet", "--out", &m]);
    assert!(fit.status.success(), "{}", stderr(&fit));
    m
}

#[test]
fn outputs_that_are_not_regular_files_are_refused_before_training() {
    let d = dir("not-regular");
    let target = d.join("target.safetensors");
    let link = d.join("link.safetensors");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = d.join("pipe.safetensors");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let sub = d.join("folder.safetensors");
    std::fs::create_dir(&sub).unwrap();
    for (out, named) in [
        ("/dev/null".to_string(), "not a regular file"),
        (link.display().to_string(), "symbolic link"),
        (fifo.display().to_string(), "not a regular file"),
        (sub.display().to_string(), "--out"),
    ] {
        let t = Instant::now();
        let o = run(&long_fit(&out));
        assert_refused(&o, named, &out);
        assert!(stderr(&o).contains("--out"), "{out}: names the flag: {}", stderr(&o));
        assert!(t.elapsed() < Duration::from_secs(20), "{out}: refused only after {:?}", t.elapsed());
    }
    // The link's target was never created, the pipe is still a pipe.
    assert!(!target.exists());
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    // predict --out is held to the same rule.
    let m = small_model(&d);
    let o = run(&["predict", &m, BOSTON, "--out", "/dev/null"]);
    assert_refused(&o, "not a regular file", "predict --out /dev/null");
    // An empty name, and --resume with no --out, are usage errors (status 2),
    // told before the data is read (the data file here does not exist).
    let o = run(&long_fit(""));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: ") && stderr(&o).contains("--out"), "{}", stderr(&o));
    let o = run(&["fit", "/nonexistent.csv", "--target", "MEDV", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: ") && stderr(&o).contains("--resume needs --out"), "{}", stderr(&o));
}

#[test]
fn a_second_fit_on_the_same_output_is_refused_while_the_first_runs() {
    let d = dir("two-fits");
    let out = d.join("m.safetensors").display().to_string();
    let lock = d.join(".m.safetensors.lock");
    let mut first = Command::new(BIN).args(long_fit(&out)).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while !lock.exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "the first fit never took its lock");
        assert!(first.try_wait().unwrap().is_none(), "the first fit ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut force = long_fit(&out);
    force.push("--force".into());
    let second = run(&force);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_refused(&second, "another blitz process", "second fit");
    // The killed first fit's lock is released with its process: a third fit runs.
    let third = run(&["fit", BOSTON, "--target", "MEDV", "--epochs", "1", "--quiet", "--force", "--out", &out]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(!lock.exists(), "the lock file is removed when the run ends");
}

#[test]
fn temporaries_of_a_killed_run_are_removed_and_others_kept() {
    let d = dir("stray");
    let out = d.join("m.safetensors");
    let stray = d.join(".m.safetensors.tmp-999999-3");
    let unrelated = d.join(".other.safetensors.tmp-999999-3");
    let lookalike = d.join(".m.safetensors.tmp-notes");
    for p in [&stray, &unrelated, &lookalike] {
        std::fs::write(p, b"left behind").unwrap();
    }
    let o = run(&["fit", BOSTON, "--target", "MEDV", "--epochs", "1", "--out", &out.display().to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("removed 1 temporary file"), "{}", stderr(&o));
    assert!(!stray.exists());
    assert!(unrelated.exists() && lookalike.exists(), "only this output's temporaries are removed");
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let d = dir("pipe");
    let m = small_model(&d);
    // Forty copies of Boston's rows: about 1.2 MB of predictions, far more
    // than a pipe holds, so the writes after the reader is gone fail.
    let text = std::fs::read_to_string(BOSTON).unwrap();
    let mut lines = text.splitn(3, '\n');
    let (counts, header, rows) = (lines.next().unwrap(), lines.next().unwrap(), lines.next().unwrap());
    let big = d.join("big.csv");
    std::fs::write(&big, format!("{counts}\n{header}\n{}", rows.repeat(40))).unwrap();
    let mut child = Command::new(BIN)
        .args(["predict", &m, &big.display().to_string(), "--draws", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut head).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "status {:?}: {}", o.status, stderr(&o));
    assert!(o.stderr.is_empty(), "nothing on stderr: {}", stderr(&o));
    // A reader gone before the first write: evaluate, fit --json, help.
    for args in [
        vec!["evaluate", &m, BOSTON],
        vec!["fit", BOSTON, "--target", "MEDV", "--epochs", "1", "--json", "--quiet"],
        vec!["help"],
    ] {
        let mut child = Command::new(BIN).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{args:?}: status {:?}: {}", o.status, stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: nothing on stderr: {}", stderr(&o));
    }
}

#[test]
fn full_disks_behind_stdout_and_stderr_are_one_line_or_an_exit_status() {
    let d = dir("full");
    let m = small_model(&d);
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    // stdout on a full disk: the write error, one line, status 1.
    let o = Command::new(BIN).args(["predict", &m, BOSTON]).stdout(full()).output().unwrap();
    assert_error(&o, 1, "No space left on device", "stdout full");
    assert!(stderr(&o).contains("stdout"), "{}", stderr(&o));
    // stderr on a full disk: the error cannot be told, but the status still says it.
    let o = Command::new(BIN).args(["predict", &m, BOSTON, "--draws", "0"]).stderr(full()).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "a usage error, not a crash: {:?}", o.status);
    let o = Command::new(BIN).args(["predict", &m, "/nonexistent.csv"]).stderr(full()).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "an input error, not a crash: {:?}", o.status);
    // help and fit --json on a full disk: one line, status 1.
    let o = Command::new(BIN).arg("help").stdout(full()).output().unwrap();
    assert_error(&o, 1, "No space left on device", "help > /dev/full");
    let o = Command::new(BIN)
        .args(["fit", BOSTON, "--target", "MEDV", "--epochs", "1", "--json", "--quiet"])
        .stdout(full())
        .output()
        .unwrap();
    assert_error(&o, 1, "No space left on device", "fit --json > /dev/full");
    // A run that succeeds with its notes going nowhere still succeeds.
    let o = Command::new(BIN).args(["evaluate", &m, BOSTON]).stderr(full()).output().unwrap();
    assert!(o.status.success(), "{:?}", o.status);
}

#[test]
fn quiet_keeps_notes_off_stderr() {
    let d = dir("quiet");
    let out = d.join("m.safetensors").display().to_string();
    let args = |quiet: bool| {
        let mut a: Vec<&str> = vec!["fit", BOSTON, "--target", "MEDV", "--epochs", "2", "--force", "--out", &out];
        if quiet {
            a.push("--quiet");
        }
        run(&a)
    };
    let loud = args(false);
    assert!(loud.status.success() && stderr(&loud).contains("model written to"), "{}", stderr(&loud));
    let quiet = args(true);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(quiet.stderr.is_empty(), "--quiet prints nothing: {}", stderr(&quiet));
}

#[test]
fn size_flags_beyond_the_memory_limit_are_refused_by_name_before_any_work() {
    let d = dir("sizes");
    let m = small_model(&d);
    let out = d.join("big.safetensors").display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fit", BOSTON, "--target", "MEDV", "--hidden", "1000000000", "--out", &out], "--hidden"),
        (vec!["fit", BOSTON, "--target", "MEDV", "--hidden", "4000000000,4000000000", "--out", &out], "--hidden"),
        // Its state fits in 1 GiB, one step's draw does not: the width's fault.
        (vec!["fit", BOSTON, "--target", "MEDV", "--hidden", "2000000", "--out", &out], "--hidden"),
        (vec!["fit", BOSTON, "--target", "MEDV", "--sample-nbr", "100000000", "--out", &out], "--sample-nbr"),
        (vec!["predict", &m, BOSTON, "--draws", "1000000000000"], "--draws"),
        (vec!["evaluate", &m, BOSTON, "--draws", "1000000000000"], "--draws"),
    ];
    for (args, named) in cases {
        let t = Instant::now();
        let o = Command::new(BIN).args(&args).env("BLITZ_MEMORY_LIMIT", "1G").output().unwrap();
        let case = args.join(" ");
        assert!(o.status.code() == Some(1) || o.status.code() == Some(2), "{case}: {:?} {}", o.status, stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{case}: one line: {err}");
        assert!(err.starts_with(&format!("error: {named} ")), "{case}: names {named} first: {err}");
        assert!(t.elapsed() < Duration::from_secs(20), "{case}: refused only after {:?}", t.elapsed());
        assert!(!Path::new(&out).exists(), "{case}: nothing written");
    }
}
