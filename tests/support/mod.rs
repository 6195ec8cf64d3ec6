//! What the command's test files share: the binary, the shipped Boston
//! file, scratch folders, and the shape of a refusal.

#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `blitz` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_blitz");
/// The shipped Boston housing file.
pub const BOSTON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");

/// A fresh scratch folder named by `suite`, `name` and this process.
pub fn dir(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the command with `args` and waits for it.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// The command's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status `code` and one line `error: …` that contains `named`.
pub fn assert_error(o: &Output, code: i32, named: &str, case: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{case}: {err}");
    assert_eq!(err.lines().count(), 1, "{case}: one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(named), "{case}: names {named}: {err}");
}

/// Exit status 1 and one line `error: …` that contains `named`.
pub fn assert_refused(o: &Output, named: &str, case: &str) {
    assert_error(o, 1, named, case);
}
