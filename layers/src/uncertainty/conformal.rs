//! Split-conformal calibration: intervals and prediction sets whose
//! coverage holds in finite samples, on top of any method's predictions.
//!
//! Hold out `n` labelled rows the model was not trained on (the calibration
//! rows), score how badly the model did on each, and take the
//! ⌈(n + 1)(1 − α)⌉-th smallest score as the threshold q̂. If the
//! calibration rows and a new row are exchangeable (drawn the same way),
//! the new row's score is at most q̂ with probability at least 1 − α,
//! whatever the model and however wrong it is. That is the whole guarantee:
//! it is marginal (on average over rows, not for each row) and needs no
//! assumption about the model.
//!
//! - **Regression** ([`ConformalRegressor`]): the score is the residual in
//!   units of the row's predictive standard deviation, |y − μ| / σ, so the
//!   interval μ ± q̂σ is wide where the model is unsure and narrow where it
//!   is sure: it keeps the method's adaptivity, and conformal calibration
//!   only corrects its overall scale. Each output has its own q̂.
//! - **Classification** ([`ConformalClassifier`]): adaptive prediction sets
//!   (APS, Romano, Sesia and Candès 2020) in their non-randomised form. A
//!   row's score for class c is the total probability of the classes ranked
//!   at or above c (most probable first, ties by class index), and the set
//!   holds the classes whose score is at most q̂, always at least the most
//!   probable one. The non-randomised sets are a little larger than the
//!   randomised ones and keep the same guarantee (coverage ≥ 1 − α); they
//!   are a function of the probabilities alone, so they repeat exactly.
//!
//! When n is too small for the level, (n + 1)(1 − α) > n, q̂ is infinite:
//! every interval is the whole line and every set holds every class. That
//! is the honest answer, and [`ConformalRegressor::is_bounded`] says so.

use blitz_autograd::{Error, Result};

/// Checks that the miscoverage level is in (0, 1).
fn check_alpha(alpha: f32) -> Result<()> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid("alpha", format!("{alpha}: the miscoverage level must be in (0, 1), e.g. 0.1")))
    }
}

/// Checks that `values` (named `what`) are all finite.
fn check_finite(what: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::NonFinite { what: format!("{what} (element {i})") }),
        None => Ok(()),
    }
}

/// Checks that `len` is `expected` for the operand `what`.
fn check_len(op: &'static str, what: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::invalid("conformal", format!("{op}: {what} has {len} values, expected {expected}")))
    }
}

/// Checks a calibration read back: at least one row and one threshold,
/// each ≥ 0 and not NaN (+∞ is a calibration with too few rows).
fn check_threshold(rows: usize, quantiles: &[f64]) -> Result<()> {
    if rows == 0 || quantiles.is_empty() {
        return Err(Error::invalid(
            "conformal",
            format!("{rows} calibration rows, {} thresholds: need both", quantiles.len()),
        ));
    }
    match quantiles.iter().find(|q| q.is_nan() || **q < 0.0) {
        Some(q) => Err(Error::invalid("conformal", format!("threshold {q}: must be ≥ 0"))),
        None => Ok(()),
    }
}

/// The ⌈(n + 1)(1 − α)⌉-th smallest of `scores` (sorted here), or +∞ when
/// that rank is past n. The rank is rounded up, so floating-point error can
/// only make the threshold larger (more conservative), never smaller.
fn conformal_quantile(mut scores: Vec<f64>, alpha: f32) -> f64 {
    let n = scores.len();
    let rank = ((n as f64 + 1.0) * (1.0 - f64::from(alpha))).ceil();
    if rank > n as f64 {
        return f64::INFINITY;
    }
    scores.sort_by(f64::total_cmp);
    // rank ≥ 1 because alpha < 1 and n ≥ 1.
    scores[(rank as usize).max(1) - 1]
}

/// Split-conformal intervals scaled by each row's predictive standard
/// deviation (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ConformalRegressor {
    alpha: f32,
    calibration_rows: usize,
    /// One threshold per output, in units of the predictive std.
    quantiles: Vec<f64>,
}

/// The smallest predictive std a score divides by: a row the model calls
/// certain (σ = 0) still gets a finite score when its residual is finite.
const MIN_STD: f64 = 1e-30;

impl ConformalRegressor {
    /// Calibrates on held-out rows: `mean` and `std` are the model's
    /// predictive means and standard deviations (rows × `outputs`, row-major,
    /// as in [`RegressionPrediction`](crate::RegressionPrediction)), `y` the
    /// true targets in the same layout, and `alpha` the miscoverage level
    /// (0.1 for 90% intervals).
    ///
    /// # Errors
    /// `InvalidArgument` for an `alpha` outside (0, 1), `outputs` = 0, no
    /// rows, or lengths that differ; `NonFinite` for a NaN or infinite
    /// mean, std or target, and `InvalidArgument` for a negative std.
    pub fn calibrate(mean: &[f32], std: &[f32], y: &[f32], outputs: usize, alpha: f32) -> Result<ConformalRegressor> {
        check_alpha(alpha)?;
        if outputs == 0 || mean.is_empty() || !mean.len().is_multiple_of(outputs) {
            return Err(Error::invalid(
                "conformal",
                format!(
                    "calibrate: {} means do not make whole rows of {outputs} outputs (need at least one row)",
                    mean.len()
                ),
            ));
        }
        check_len("calibrate", "std", std.len(), mean.len())?;
        check_len("calibrate", "y", y.len(), mean.len())?;
        check_finite("calibration means", mean)?;
        check_finite("calibration stds", std)?;
        check_finite("calibration targets", y)?;
        if let Some(i) = std.iter().position(|&s| s < 0.0) {
            return Err(Error::invalid("conformal", format!("calibrate: std element {i} is negative ({})", std[i])));
        }
        let rows = mean.len() / outputs;
        let quantiles = (0..outputs)
            .map(|o| {
                let scores = (0..rows)
                    .map(|r| {
                        let i = r * outputs + o;
                        (f64::from(y[i]) - f64::from(mean[i])).abs() / f64::from(std[i]).max(MIN_STD)
                    })
                    .collect();
                conformal_quantile(scores, alpha)
            })
            .collect();
        Ok(ConformalRegressor { alpha, calibration_rows: rows, quantiles })
    }

    /// A calibration taken earlier (read back from a model file): the level,
    /// the calibration rows and each output's threshold.
    ///
    /// # Errors
    /// `InvalidArgument` for an `alpha` outside (0, 1), no rows, no
    /// thresholds, or a threshold that is NaN or negative.
    pub fn from_quantiles(alpha: f32, calibration_rows: usize, quantiles: Vec<f64>) -> Result<ConformalRegressor> {
        check_alpha(alpha)?;
        check_threshold(calibration_rows, &quantiles)?;
        Ok(ConformalRegressor { alpha, calibration_rows, quantiles })
    }

    /// The miscoverage level it was calibrated for.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// How many calibration rows it was calibrated on.
    pub fn calibration_rows(&self) -> usize {
        self.calibration_rows
    }

    /// Each output's threshold q̂, in units of the predictive std (+∞ when
    /// there were too few calibration rows for the level).
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    /// Whether every interval is finite (enough calibration rows for the
    /// level: n ≥ ⌈(n + 1)(1 − α)⌉).
    pub fn is_bounded(&self) -> bool {
        self.quantiles.iter().all(|q| q.is_finite())
    }

    /// The intervals μ ± q̂σ of predictions `mean` and `std` (rows × outputs,
    /// row-major): `(lower, upper)`, infinite where q̂ is.
    ///
    /// # Errors
    /// `InvalidArgument` when the lengths differ from each other or are not
    /// whole rows of the calibrated outputs; `NonFinite` for a NaN or
    /// infinite mean or std.
    pub fn intervals(&self, mean: &[f32], std: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let outputs = self.quantiles.len();
        if !mean.len().is_multiple_of(outputs) {
            return Err(Error::invalid(
                "conformal",
                format!("intervals: {} means do not make whole rows of {outputs} outputs", mean.len()),
            ));
        }
        check_len("intervals", "std", std.len(), mean.len())?;
        check_finite("means", mean)?;
        check_finite("stds", std)?;
        // q̂ = ∞ is the whole line, even where σ = 0 (∞ · 0 would be NaN).
        let half = |i: usize| match self.quantiles[i % outputs] {
            q if q.is_infinite() => f64::INFINITY,
            q => q * f64::from(std[i]).max(0.0),
        };
        let lower = (0..mean.len()).map(|i| (f64::from(mean[i]) - half(i)) as f32).collect();
        let upper = (0..mean.len()).map(|i| (f64::from(mean[i]) + half(i)) as f32).collect();
        Ok((lower, upper))
    }
}

/// Adaptive prediction sets (APS, non-randomised; see the module's
/// documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ConformalClassifier {
    alpha: f32,
    classes: usize,
    calibration_rows: usize,
    quantile: f64,
}

/// The classes of one row of probabilities, most probable first (ties by
/// class index), with the running total of their probabilities.
fn ranked(row: &[f32]) -> Vec<(usize, f64)> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    let mut total = 0f64;
    order
        .into_iter()
        .map(|c| {
            total += f64::from(row[c]);
            (c, total)
        })
        .collect()
}

/// Checks a rows × `classes` block of probabilities: whole rows, finite,
/// and none negative.
fn check_probs(op: &'static str, probs: &[f32], classes: usize) -> Result<usize> {
    if classes == 0 || !probs.len().is_multiple_of(classes) {
        return Err(Error::invalid(
            "conformal",
            format!("{op}: {} probabilities do not make whole rows of {classes} classes", probs.len()),
        ));
    }
    check_finite("probabilities", probs)?;
    if let Some(i) = probs.iter().position(|&p| p < 0.0) {
        return Err(Error::invalid("conformal", format!("{op}: probability {i} is negative ({})", probs[i])));
    }
    Ok(probs.len() / classes)
}

impl ConformalClassifier {
    /// Calibrates on held-out rows: `probs` are the model's predictive
    /// probabilities (rows × `classes`, row-major, as in
    /// [`ClassPrediction`](crate::ClassPrediction)), `labels` the true
    /// classes, `alpha` the miscoverage level.
    ///
    /// # Errors
    /// `InvalidArgument` for an `alpha` outside (0, 1), no rows, lengths
    /// that differ, a label ≥ `classes` or a negative probability;
    /// `NonFinite` for a NaN or infinite probability.
    pub fn calibrate(probs: &[f32], classes: usize, labels: &[usize], alpha: f32) -> Result<ConformalClassifier> {
        check_alpha(alpha)?;
        let rows = check_probs("calibrate", probs, classes)?;
        if rows == 0 {
            return Err(Error::invalid("conformal", "calibrate: no calibration rows"));
        }
        check_len("calibrate", "labels", labels.len(), rows)?;
        if let Some(r) = labels.iter().position(|&l| l >= classes) {
            return Err(Error::invalid(
                "conformal",
                format!("calibrate: label {} of row {r} is not one of the {classes} classes", labels[r]),
            ));
        }
        let scores = probs
            .chunks(classes)
            .zip(labels)
            .map(|(row, &y)| ranked(row).into_iter().find(|&(c, _)| c == y).map_or(f64::INFINITY, |(_, t)| t))
            .collect();
        Ok(ConformalClassifier { alpha, classes, calibration_rows: rows, quantile: conformal_quantile(scores, alpha) })
    }

    /// A calibration taken earlier (read back from a model file) of
    /// `classes` classes.
    ///
    /// # Errors
    /// `InvalidArgument` for an `alpha` outside (0, 1), no rows, fewer than
    /// two classes, or a threshold that is NaN or negative.
    pub fn from_quantile(
        alpha: f32,
        classes: usize,
        calibration_rows: usize,
        quantile: f64,
    ) -> Result<ConformalClassifier> {
        check_alpha(alpha)?;
        check_threshold(calibration_rows, &[quantile])?;
        if classes < 2 {
            return Err(Error::invalid("conformal", format!("{classes} classes: at least two")));
        }
        Ok(ConformalClassifier { alpha, classes, calibration_rows, quantile })
    }

    /// The miscoverage level it was calibrated for.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// How many calibration rows it was calibrated on.
    pub fn calibration_rows(&self) -> usize {
        self.calibration_rows
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The threshold q̂ on the cumulative probability (+∞ when there were
    /// too few calibration rows for the level).
    pub fn quantile(&self) -> f64 {
        self.quantile
    }

    /// The prediction set of each row of `probs` (rows × classes): the
    /// classes, most probable first, whose score is at most q̂, and at
    /// least the most probable class.
    ///
    /// # Errors
    /// `InvalidArgument` for rows of another width or a negative
    /// probability; `NonFinite` for a NaN or infinite one.
    pub fn sets(&self, probs: &[f32]) -> Result<Vec<Vec<usize>>> {
        check_probs("sets", probs, self.classes)?;
        Ok(probs
            .chunks(self.classes)
            .map(|row| {
                let r = ranked(row);
                let keep = r.iter().take_while(|&&(_, t)| t <= self.quantile).count().max(1);
                r[..keep].iter().map(|&(c, _)| c).collect()
            })
            .collect())
    }
}

/// The share of `y` inside [`lower`, `upper`] and the mean width of the
/// intervals: `(coverage, mean_width)`.
///
/// # Errors
/// `InvalidArgument` for no values or lengths that differ.
pub fn coverage_and_width(lower: &[f32], upper: &[f32], y: &[f32]) -> Result<(f32, f32)> {
    if y.is_empty() {
        return Err(Error::invalid("conformal", "coverage_and_width: no values"));
    }
    check_len("coverage_and_width", "lower", lower.len(), y.len())?;
    check_len("coverage_and_width", "upper", upper.len(), y.len())?;
    let inside = (0..y.len()).filter(|&i| lower[i] <= y[i] && y[i] <= upper[i]).count();
    let width: f64 = (0..y.len()).map(|i| f64::from(upper[i]) - f64::from(lower[i])).sum();
    Ok((inside as f32 / y.len() as f32, (width / y.len() as f64) as f32))
}

/// The share of `labels` inside their prediction `sets` and the mean set
/// size: `(coverage, mean_size)`.
///
/// # Errors
/// `InvalidArgument` for no rows or lengths that differ.
pub fn set_coverage_and_size(sets: &[Vec<usize>], labels: &[usize]) -> Result<(f32, f32)> {
    if labels.is_empty() {
        return Err(Error::invalid("conformal", "set_coverage_and_size: no rows"));
    }
    check_len("set_coverage_and_size", "sets", sets.len(), labels.len())?;
    let inside = sets.iter().zip(labels).filter(|(s, l)| s.contains(l)).count();
    let size: usize = sets.iter().map(Vec::len).sum();
    Ok((inside as f32 / labels.len() as f32, size as f32 / labels.len() as f32))
}
