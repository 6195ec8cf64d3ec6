//! The bench's flags (see the file header of `main.rs`).

use crate::boston::{BOSTON_METHODS, GAL_METHOD};

/// The parsed command line.
pub struct Args {
    /// Add one JSON line per (data set, method).
    pub json: bool,
    /// 3 Boston splits and shorter training.
    pub quick: bool,
    /// Run one section: `boston`, `mnist` or `cost`.
    pub only: Option<String>,
    /// Boston: also score every grid setting on the test rows (a diagnostic
    /// of the grids' reach; never used to choose).
    pub per_setting: bool,
    /// Boston: read the 20 published splits from this folder
    /// (`index_train_{k}.txt`, `index_test_{k}.txt`) instead of drawing them.
    pub gal_splits: Option<String>,
    /// Boston: run only these methods (default: [`BOSTON_METHODS`]).
    pub methods: Option<Vec<String>>,
    /// Boston: run this many splits (random: up to 1000; published: up to 20).
    pub n_splits: Option<u64>,
    /// Boston: the first split's number (random splits: its seed).
    pub first_split: u64,
    /// Boston: `mc_dropout_gal`'s Adam epochs.
    pub gal_epochs: usize,
    /// MNIST: run [`crate::mi_diagnostics::mnist_mi_diagnostics`] instead of the MNIST section.
    pub mi_diagnostics: bool,
}

/// Reads this process's flags.
///
/// # Errors
/// A line naming the first flag that is unknown or lacks a good value.
pub fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args {
        json: false,
        quick: false,
        only: None,
        per_setting: false,
        gal_splits: None,
        methods: None,
        n_splits: None,
        first_split: 0,
        gal_epochs: 400,
        mi_diagnostics: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--json" => a.json = true,
            "--quick" => a.quick = true,
            "--only" => {
                let v = it.next().ok_or("--only needs boston, mnist or cost")?;
                if !["boston", "mnist", "cost"].contains(&v.as_str()) {
                    return Err(format!("--only {v:?}: use boston, mnist or cost"));
                }
                a.only = Some(v);
            }
            "--per-setting" => a.per_setting = true,
            "--mi-diagnostics" => a.mi_diagnostics = true,
            "--splits" => {
                let kind = it.next().ok_or("--splits needs gal DIR")?;
                if kind != "gal" {
                    return Err(format!("--splits {kind:?}: only `gal DIR` is known"));
                }
                a.gal_splits = Some(it.next().ok_or("--splits gal needs a folder")?);
            }
            "--methods" => {
                let v = it.next().ok_or("--methods needs a comma-separated list")?;
                let ms: Vec<String> = v.split(',').map(str::to_string).collect();
                if let Some(bad) = ms.iter().find(|m| !BOSTON_METHODS.contains(&m.as_str()) && *m != GAL_METHOD) {
                    return Err(format!("--methods: {bad:?} is not a Boston method"));
                }
                a.methods = Some(ms);
            }
            "--n-splits" => {
                let v = it.next().ok_or("--n-splits needs a count")?;
                match v.parse::<u64>() {
                    Ok(n) if (1..=1000).contains(&n) => a.n_splits = Some(n),
                    _ => return Err(format!("--n-splits {v:?}: use 1 to 1000")),
                }
            }
            "--first-split" => {
                let v = it.next().ok_or("--first-split needs a number")?;
                a.first_split = v.parse().map_err(|_| format!("--first-split {v:?}: use a split number"))?;
            }
            "--gal-epochs" => {
                let v = it.next().ok_or("--gal-epochs needs a count")?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => a.gal_epochs = n,
                    _ => return Err(format!("--gal-epochs {v:?}: use a positive count")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --json, --quick, --only boston|mnist|cost, --per-setting, --splits gal DIR, --methods a,b, --n-splits N, --first-split K, --gal-epochs E, --mi-diagnostics"
                ))
            }
        }
    }
    Ok(a)
}
