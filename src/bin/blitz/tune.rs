//! `blitz fit --tune`: the setting that matters most, the epoch count (and
//! for MC dropout the drop probability), chosen on validation rows carved
//! from the training rows by a small search of `--tune-budget` candidate
//! runs, each scored by the method's own figures on those rows (the ones
//! `evaluate` computes). The test rows and the calibration rows are never
//! given to it.

use crate::args::{FitArgs, Task};
use crate::model;
use crate::print::info;
use blitz::layers::data::{Dataset, Split};
use blitz::layers::model::{Method, Prediction, Trained, DEFAULT_MEMBERS};
use blitz::prelude::*;

/// The share of the training rows held out as validation rows.
const VALIDATION_FRACTION: f32 = 0.2;
/// Mixed into `--seed` for the validation rows' split, so that they are
/// drawn neither like the test rows nor like the calibration rows.
const VALIDATION_SEED: u64 = 0x7A1D_A7E5;
/// The budget from which MC dropout's drop probability is searched too
/// (two of the candidate runs).
const DROPOUT_FROM: usize = 5;
/// The fewest training rows validation rows are carved from.
const MIN_ROWS: usize = 5;

/// One candidate run: its settings and its validation score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Passes over the tuning rows.
    pub epochs: usize,
    /// MC dropout's drop probability (`None` for the other methods).
    pub dropout: Option<f32>,
    /// The mean validation log-likelihood (regression) or NLL
    /// (classification) per row.
    pub score: f32,
}

/// What the search chose, and what it tried.
#[derive(Debug, Clone)]
pub struct Tuned {
    /// The run's options with the chosen settings (`--epochs`, `--dropout`).
    pub args: FitArgs,
    /// Every candidate, in the order run.
    pub candidates: Vec<Candidate>,
    /// The index of the chosen candidate.
    pub chosen: usize,
    /// The task (which way the scores go).
    pub task: Task,
    /// The rows the candidates trained on.
    pub tuning_rows: usize,
    /// The rows they were scored on.
    pub validation_rows: usize,
}

/// `count` epoch counts, geometric from a tenth of `hi` (at least 1, at
/// most 10) to `hi`, rounded, without repeats.
pub fn epoch_grid(hi: usize, count: usize) -> Vec<usize> {
    let hi = hi.max(1);
    let lo = (hi / 10).clamp(1, 10);
    if count <= 1 || lo >= hi {
        return vec![hi];
    }
    let ratio = hi as f64 / lo as f64;
    let last = (count - 1) as f64;
    let mut grid: Vec<usize> =
        (0..count).map(|i| ((lo as f64 * ratio.powf(i as f64 / last)).round() as usize).clamp(lo, hi)).collect();
    grid.dedup();
    grid
}

/// The scores' name, in the JSON record.
fn score_key(task: Task) -> &'static str {
    match task {
        Task::Regression => "validation_loglik",
        Task::Classification => "validation_nll",
    }
}

/// The scores' name, for people.
fn score_name(task: Task) -> &'static str {
    match task {
        Task::Regression => "validation log-likelihood",
        Task::Classification => "validation NLL",
    }
}

/// Higher is better: the log-likelihood, or minus the NLL; not finite is worst.
fn goodness(task: Task, score: f32) -> f32 {
    let g = match task {
        Task::Regression => score,
        Task::Classification => -score,
    };
    if g.is_finite() {
        g
    } else {
        f32::NEG_INFINITY
    }
}

/// The index of the best candidate (the first of equals).
fn best(task: Task, candidates: &[Candidate]) -> usize {
    let mut at = 0;
    for (i, c) in candidates.iter().enumerate() {
        if goodness(task, c.score) > candidates.get(at).map_or(f32::NEG_INFINITY, |b| goodness(task, b.score)) {
            at = i;
        }
    }
    at
}

/// `epochs` (and a drop probability) as flags, for people.
fn describe(c: &Candidate) -> String {
    match c.dropout {
        Some(r) => format!("epochs {}, dropout {r}", c.epochs),
        None => format!("epochs {}", c.epochs),
    }
}

/// `"epochs":E` (and `"dropout":P`), for the JSON record.
fn json_settings(c: &Candidate) -> String {
    match c.dropout {
        Some(r) => format!("\"epochs\":{},\"dropout\":{r}", c.epochs),
        None => format!("\"epochs\":{}", c.epochs),
    }
}

/// The mean validation log-likelihood (regression) or NLL
/// (classification) of `trained` on `val`, as `evaluate` computes them.
fn score(trained: &Trained, task: Task, val: &Dataset, draws: usize, seed: u64) -> Result<f32> {
    let x = val.x.to_tensor()?;
    match task {
        Task::Regression => Ok(trained.evaluate_regression(&x, &val.values()?.data, draws, seed)?.1.loglik),
        Task::Classification => {
            let (labels, _) = val.classes()?;
            match trained.predict(&x, draws, seed)? {
                Prediction::Classification(p) => Ok(p.metrics(labels)?.nll),
                Prediction::Regression(_) => Err(Error::invalid("--tune", "a classifier predicted no classes")),
            }
        }
    }
}

/// Trains one candidate of `a` on `rows` and scores it on `val`.
fn candidate(
    a: &FitArgs,
    task: Task,
    rows: &Dataset,
    val: &Dataset,
    epochs: usize,
    dropout: Option<f32>,
) -> Result<Candidate> {
    // No candidate writes a file.
    let c = FitArgs { out: None, ..candidate_args(a, epochs, dropout)? };
    let file = model::for_rows(rows, task, &c, 0)?;
    let config = model::train_config(&file, &c, rows.rows());
    let mut trained = file.build_trained()?;
    model::fit(&file, &mut trained, rows, &config, None, &mut |_: &Progress| {})?;
    let found = Candidate { epochs, dropout, score: score(&trained, task, val, a.draws, a.seed)? };
    info(&format!("tune: {}: {} {}", describe(&found), score_name(task), model::json_num(found.score)));
    Ok(found)
}

/// `a` with `epochs` (and `dropout`, for MC dropout).
fn candidate_args(a: &FitArgs, epochs: usize, dropout: Option<f32>) -> Result<FitArgs> {
    let mut c = a.clone();
    c.epochs = Some(epochs);
    if let Some(r) = dropout {
        c.method = Method::from_name("mc-dropout", DEFAULT_MEMBERS, r)?;
    }
    Ok(c)
}

/// The search of `--tune` for a run of `a` on the training rows `train`
/// (transformed, the calibration rows already taken out): validation rows
/// carved from them by a seeded split, `budget` candidate runs of `epochs`
/// up to `hi_epochs` with batches of `batch` (the final run's), the best
/// by validation score. MC dropout with a budget of [`DROPOUT_FROM`] or
/// more spends two runs on half and double its drop probability at the
/// best epochs. Every candidate uses the run's seed.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `--tune` for too few rows; the
/// memory check of the validation rows' draws; the candidates' training
/// and prediction errors.
pub fn search(
    a: &FitArgs,
    task: Task,
    train: &Dataset,
    hi_epochs: usize,
    batch: usize,
    budget: usize,
) -> Result<Tuned> {
    let n = train.rows();
    if n < MIN_ROWS {
        return Err(Error::invalid(
            "--tune",
            format!("{n} training rows: too few to hold out validation rows from (at least {MIN_ROWS})"),
        ));
    }
    let (rows, val) = Split::Fraction { test: VALIDATION_FRACTION, seed: a.seed ^ VALIDATION_SEED }.apply(train)?;
    let mut base = a.clone();
    base.batch_size = Some(batch);
    let probe = model::for_rows(&rows, task, &base, 0)?;
    crate::budget::check_draws(&probe.spec, a.method, a.draws, val.rows())?;
    let rate = match a.method {
        Method::McDropout { rate } if budget >= DROPOUT_FROM => Some(rate),
        _ => None,
    };
    let grid = epoch_grid(hi_epochs, if rate.is_some() { budget.saturating_sub(2) } else { budget });
    let runs = grid.len().saturating_add(if rate.is_some() { 2 } else { 0 });
    info(&format!(
        "tune: {runs} candidate runs train on {} of the {n} training rows and are scored on the other {} ({}; the test rows are not looked at)",
        rows.rows(),
        val.rows(),
        score_name(task)
    ));
    let given = match a.method {
        Method::McDropout { rate } => Some(rate),
        _ => None,
    };
    let mut candidates = Vec::with_capacity(runs);
    for &e in &grid {
        candidates.push(candidate(&base, task, &rows, &val, e, given)?);
    }
    if let Some(r) = rate {
        let epochs = candidates.get(best(task, &candidates)).map_or(hi_epochs, |c| c.epochs);
        for other in [r / 2.0, (2.0 * r).min((1.0 + r) / 2.0)] {
            candidates.push(candidate(&base, task, &rows, &val, epochs, Some(other))?);
        }
    }
    let chosen = best(task, &candidates);
    let pick = candidates.get(chosen).copied().ok_or_else(|| Error::invalid("--tune", "no candidate ran"))?;
    info(&format!(
        "tune: chose {} (the best {} of {} candidates); the model trains on all {n} training rows with it",
        describe(&pick),
        score_name(task),
        candidates.len()
    ));
    Ok(Tuned {
        args: candidate_args(a, pick.epochs, pick.dropout)?,
        candidates,
        chosen,
        task,
        tuning_rows: rows.rows(),
        validation_rows: val.rows(),
    })
}

impl Tuned {
    /// The record kept in the model file and the `--json` line: the
    /// chosen settings, the score's name, the rows, and every candidate.
    pub fn json(&self) -> String {
        let key = score_key(self.task);
        let all: Vec<String> = self
            .candidates
            .iter()
            .map(|c| format!("{{{},\"{key}\":{}}}", json_settings(c), model::json_num(c.score)))
            .collect();
        let chosen = self.candidates.get(self.chosen).map(json_settings).unwrap_or_default();
        format!(
            "{{\"chosen\":{{{chosen}}},\"score\":\"{key}\",\"tuning_rows\":{},\"validation_rows\":{},\"candidates\":[{}]}}",
            self.tuning_rows,
            self.validation_rows,
            all.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_geometric_from_a_tenth_to_the_budget() {
        assert_eq!(epoch_grid(1000, 4), vec![10, 46, 215, 1000]);
        assert_eq!(epoch_grid(1000, 6), vec![10, 25, 63, 158, 398, 1000]);
        assert_eq!(epoch_grid(40, 3), vec![4, 13, 40]);
        assert_eq!(epoch_grid(8, 3), vec![1, 3, 8]);
        assert_eq!(epoch_grid(3, 6), vec![1, 2, 3]);
        assert_eq!(epoch_grid(1, 6), vec![1]);
        assert_eq!(epoch_grid(500, 1), vec![500]);
    }

    #[test]
    fn the_best_is_the_highest_log_likelihood_or_the_lowest_nll_and_never_a_nan() {
        let c = |score| Candidate { epochs: 1, dropout: None, score };
        let cands = [c(f32::NAN), c(-3.0), c(-2.0), c(-2.0), c(f32::INFINITY)];
        assert_eq!(best(Task::Regression, &cands), 2);
        assert_eq!(best(Task::Classification, &cands), 1);
    }
}
