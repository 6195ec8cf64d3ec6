//! `blitz compare`: every method asked for on the same seeded splits, one
//! JSON line per method on stdout with the mean, standard error and count
//! of each figure, a table on stderr; the same bytes again from the same
//! seed (times aside); bad options refused in one line before any training.

mod support;

use support::{run, stderr, BOSTON};

/// The JSON lines of stdout with the timing keys taken out (they vary).
fn without_times(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| l.split(',').filter(|kv| !kv.contains("seconds_") && !kv.contains("ms_per_step_")).collect())
        .collect()
}

fn number(line: &str, key: &str) -> f64 {
    let at = line.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {line}"));
    let rest = &line[at + key.len() + 3..];
    rest[..rest.find([',', '}']).unwrap()].trim().parse().unwrap()
}

#[test]
fn every_method_on_the_same_splits_gives_a_line_each_and_repeats() {
    let args = [
        "compare",
        BOSTON,
        "--target",
        "MEDV",
        "--splits",
        "2",
        "--methods",
        "bbb,mc-dropout,ensemble",
        "--members",
        "2",
        "--hidden",
        "8",
        "--epochs",
        "3",
        "--log1p",
        "CRIM",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (l, m) in lines.iter().zip(["bbb", "mc-dropout", "ensemble"]) {
        assert!(l.starts_with(&format!("{{\"method\":\"{m}\",\"splits\":2,")), "{l}");
        assert_eq!(number(l, "test_rmse_n"), 2.0);
        assert_eq!(number(l, "test_rows_mean"), 51.0, "a tenth of 506 rows");
        let rmse = number(l, "test_rmse_mean");
        assert!(rmse > 1.0 && rmse < 30.0, "{m}: RMSE {rmse}");
        assert!(number(l, "test_rmse_se") >= 0.0);
        assert!((0.0..=1.0).contains(&number(l, "coverage_2sd_mean")));
    }
    let err = stderr(&o);
    assert!(err.contains("2 split(s), mean ± standard error") && err.contains("test_rmse"), "{err}");
    // The same seed, the same figures; another seed, other splits.
    let again = run(&args);
    assert_eq!(without_times(&again.stdout), without_times(&o.stdout));
    let mut other = args.to_vec();
    other.extend(["--seed", "7"]);
    assert_ne!(without_times(&run(&other).stdout), without_times(&o.stdout));
}

#[test]
fn one_split_by_test_every_and_classification() {
    let o = run(&[
        "compare",
        BOSTON,
        "--target",
        "CHAS",
        "--task",
        "classification",
        "--test-every",
        "4",
        "--methods",
        "bbb,laplace",
        "--hidden",
        "8",
        "--epochs",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in lines {
        assert!(l.contains("\"splits\":1,"), "{l}");
        assert_eq!(number(l, "test_rows_mean"), 127.0, "every fourth of 506 rows");
        assert!((0.0..=1.0).contains(&number(l, "test_acc_mean")), "{l}");
    }
}

#[test]
fn bad_options_are_one_line_before_any_training() {
    let base = ["compare", BOSTON, "--target", "MEDV"];
    for (extra, named) in [
        (&["--splits", "0"][..], "--splits 0"),
        (&["--splits", "x"][..], "--splits"),
        (&["--methods", "bbb,magic"][..], "magic"),
        (&["--methods", ""][..], "--methods"),
        (&["--out", "m.safetensors"][..], "--out"),
        (&["--method", "bbb"][..], "--methods"),
        (&["--test-every", "4", "--splits", "3"][..], "--test-every"),
        (&["--epochs", "many"][..], "--epochs"),
        (&["--members", "0", "--methods", "ensemble"][..], "--members"),
    ] {
        let mut args = base.to_vec();
        args.extend(extra);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        // The command line's error: one line, then the pointer to `blitz help`.
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("error: ") && first.contains(named), "{extra:?}: names {named}: {err}");
        assert_eq!(err.lines().nth(1), Some("(see `blitz help`)"), "{extra:?}: {err}");
        assert!(o.stdout.is_empty(), "{extra:?}: nothing on stdout");
    }
}
