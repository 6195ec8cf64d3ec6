//! `blitz compare`: every method on the same seeded splits of one data set
//! (the UCI protocol: N random 90/10 splits, or one `--test-every K` split),
//! each trained as `blitz fit` would train it on the split's training rows
//! and scored on its test rows. A table of mean ± standard error on stderr,
//! one JSON line per method on stdout.

use crate::args::{parse_fit, FitArgs};
use crate::model::{json_line, json_str};
use crate::print::{line, out};
use blitz::prelude::{Error, Result};

/// The methods `--methods` takes, in the table's order (the default: all).
pub const METHODS: [&str; 6] = ["bbb", "mc-dropout", "ensemble", "ivon", "swag", "laplace"];

/// Splits when `--splits` is not given (the UCI protocol's count).
pub const DEFAULT_SPLITS: usize = 20;

/// The most splits `--splits` takes.
pub const MAX_SPLITS: usize = 1000;

/// A parsed `blitz compare` command line.
#[derive(Debug, Clone)]
pub struct CompareArgs {
    /// The fit options of each run, without the split, seed and method.
    pub rest: Vec<String>,
    /// The number of seeded random 90/10 splits (1 with `--test-every`).
    pub splits: usize,
    /// `--test-every K`: one split, the rows whose index is a multiple of K.
    pub every: Option<String>,
    /// The methods, in order.
    pub methods: Vec<String>,
    /// The first split's seed; split i uses seed + i.
    pub seed: u64,
    /// `--members K`, passed to the ensemble's runs only.
    pub members: Option<String>,
    /// `--dropout P`, passed to MC dropout's runs only.
    pub dropout: Option<String>,
}

fn usage(msg: String) -> Error {
    Error::invalid("command line", msg)
}

/// Parses `blitz compare`'s arguments and checks each method's fit options
/// (every run's, before any of them trains).
pub fn parse_compare(argv: &[String]) -> Result<CompareArgs> {
    let mut a = CompareArgs {
        rest: Vec::new(),
        splits: DEFAULT_SPLITS,
        every: None,
        methods: METHODS.iter().map(|m| m.to_string()).collect(),
        seed: 0,
        members: None,
        dropout: None,
    };
    let mut splits_given = false;
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| usage(format!("{arg} needs a value")));
        match arg.as_str() {
            "--splits" => {
                let v = value()?;
                a.splits = v.parse().map_err(|_| usage(format!("--splits {v:?}: give a whole number")))?;
                splits_given = true;
            }
            "--methods" => {
                let v = value()?;
                a.methods = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            }
            "--test-every" => a.every = Some(value()?),
            "--seed" => {
                let v = value()?;
                a.seed = v.parse().map_err(|_| usage(format!("--seed {v:?}: give a whole number")))?;
            }
            "--members" => a.members = Some(value()?),
            "--dropout" => a.dropout = Some(value()?),
            "--out" | "--resume" | "--force" | "--test-file" | "--test-fraction" | "--conformal" | "--alpha"
            | "--method" | "--json" | "--checkpoint-every" => {
                return Err(usage(format!(
                    "{arg} is not an option of compare (it splits the data itself, saves nothing, prints JSON \
                     lines on stdout, and takes --methods)"
                )))
            }
            _ => a.rest.push(arg.clone()),
        }
    }
    if a.every.is_some() {
        if splits_given && a.splits != 1 {
            return Err(usage("--test-every K is one split: leave out --splits, or use --splits N alone".into()));
        }
        a.splits = 1;
    }
    if a.splits == 0 || a.splits > MAX_SPLITS {
        return Err(usage(format!("--splits {}: give 1 to {MAX_SPLITS}", a.splits)));
    }
    if a.methods.is_empty() {
        return Err(usage(format!("--methods: give one or more of {}", METHODS.join(","))));
    }
    for m in &a.methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(usage(format!("--methods: {m:?} is not a method (use {})", METHODS.join(","))));
        }
    }
    // Every run's options, checked now: a bad flag fails before any training.
    for m in &a.methods {
        run_args(&a, m, 0)?;
    }
    Ok(a)
}

/// The `blitz fit` options of method `m` on split `i`.
fn run_args(a: &CompareArgs, m: &str, i: usize) -> Result<FitArgs> {
    let seed = a.seed.checked_add(i as u64).ok_or_else(|| usage(format!("--seed {}: too large", a.seed)))?;
    let mut argv = a.rest.clone();
    argv.extend(["--method".into(), m.to_string(), "--seed".into(), seed.to_string(), "--quiet".into()]);
    match &a.every {
        Some(k) => argv.extend(["--test-every".into(), k.clone()]),
        None => argv.extend(["--test-fraction".into(), "0.1".into()]),
    }
    if let (Some(k), "ensemble") = (&a.members, m) {
        argv.extend(["--members".into(), k.clone()]);
    }
    if let (Some(p), "mc-dropout") = (&a.dropout, m) {
        argv.extend(["--dropout".into(), p.clone()]);
    }
    parse_fit(&argv)
}

/// A table cell's number: four decimals, or three significant digits in
/// scientific notation where that would not fit (a diverged run).
fn short(x: f64) -> String {
    if x.abs() >= 1e5 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// Mean and standard error of the mean (0 for one value).
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Runs every method on every split with `fit` (a run's figures, as
/// `blitz fit --json` prints them), then prints the table and the JSON lines.
pub fn run(a: &CompareArgs, fit: impl Fn(&FitArgs) -> Result<Vec<(&'static str, String)>>) -> Result<()> {
    // Per method: the figures' names in order, each with its values over the splits.
    let mut results: Vec<(String, Vec<(&'static str, Vec<f64>)>)> = Vec::new();
    for m in &a.methods {
        let mut figures: Vec<(&'static str, Vec<f64>)> = Vec::new();
        for i in 0..a.splits {
            let run = run_args(a, m, i)?;
            let started = std::time::Instant::now();
            let pairs = fit(&run)?;
            let seconds = started.elapsed().as_secs_f64();
            let numbers = pairs
                .into_iter()
                .filter_map(|(k, v)| v.parse::<f64>().ok().map(|x| (k, x)))
                .chain(std::iter::once(("seconds", seconds)));
            for (k, x) in numbers {
                match figures.iter_mut().find(|(name, _)| *name == k) {
                    Some((_, values)) => values.push(x),
                    None => figures.push((k, vec![x])),
                }
            }
            line(&format!("compare: {m}, split {}/{} done in {seconds:.1} s", i + 1, a.splits));
        }
        results.push((m.clone(), figures));
    }
    // The table: the figures a user compares methods by, where present.
    const SHOWN: [&str; 8] = ["test_rmse", "test_loglik", "coverage_2sd", "test_acc", "nll", "ece", "brier", "seconds"];
    let mut header = format!("{:<11}", "method");
    let names: Vec<&str> =
        SHOWN.iter().copied().filter(|k| results.iter().any(|(_, f)| f.iter().any(|(n, _)| n == k))).collect();
    for k in &names {
        header += &format!(" {:>20}", k);
    }
    line(&format!("{} split(s), mean ± standard error", a.splits));
    line(&header);
    for (m, figures) in &results {
        let mut row = format!("{m:<11}");
        for k in &names {
            let cell = match figures.iter().find(|(n, _)| n == k) {
                Some((_, v)) if v.len() == a.splits => {
                    let (mean, se) = mean_se(v);
                    format!("{} ± {}", short(mean), short(se))
                }
                // A figure missing on some split (not finite there).
                Some((_, v)) => format!("({} of {})", v.len(), a.splits),
                None => "-".into(),
            };
            row += &format!(" {cell:>20}");
        }
        line(&row);
    }
    for (m, figures) in &results {
        let mut pairs = vec![("method".to_string(), json_str(m)), ("splits".to_string(), a.splits.to_string())];
        for (k, v) in figures {
            let (mean, se) = mean_se(v);
            pairs.push((format!("{k}_mean"), format!("{mean:.6}")));
            pairs.push((format!("{k}_se"), format!("{se:.6}")));
            pairs.push((format!("{k}_n"), v.len().to_string()));
        }
        let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        out(&format!("{}\n", json_line(&pairs)))?;
    }
    Ok(())
}
