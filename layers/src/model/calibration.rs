//! A model file's split-conformal calibration (`blitz fit --conformal F`):
//! what was calibrated, on how many held-out rows, at which draws and seed,
//! and the threshold; and the columns and figures it adds.

use super::Task;
use crate::uncertainty::{coverage_and_width, set_coverage_and_size, ConformalClassifier, ConformalRegressor};
use blitz_autograd::{Error, Result};
use std::collections::BTreeMap;

/// The metadata key of the calibration (absent: not calibrated).
pub const KEY_CONFORMAL: &str = "blitz.conformal";

/// The default miscoverage level of `--conformal` (90% intervals or sets).
pub const DEFAULT_ALPHA: f32 = 0.1;

/// The calibrated rule, by task.
#[derive(Debug, Clone, PartialEq)]
pub enum Conformal {
    /// Intervals μ ± q̂σ.
    Regression(ConformalRegressor),
    /// Adaptive prediction sets.
    Classification(ConformalClassifier),
}

/// A split-conformal calibration and the prediction it was taken at: its
/// guarantee (coverage ≥ 1 − α) holds exactly for predictions with the same
/// `draws` and `seed` (the scores are then the same function of a row), and
/// up to Monte Carlo noise for others.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The rule.
    pub rule: Conformal,
    /// Weight draws of the calibrating prediction.
    pub draws: usize,
    /// Seed of the calibrating prediction.
    pub seed: u64,
}

impl Calibration {
    /// The miscoverage level.
    pub fn alpha(&self) -> f32 {
        match &self.rule {
            Conformal::Regression(c) => c.alpha(),
            Conformal::Classification(c) => c.alpha(),
        }
    }

    /// The calibration rows.
    pub fn rows(&self) -> usize {
        match &self.rule {
            Conformal::Regression(c) => c.calibration_rows(),
            Conformal::Classification(c) => c.calibration_rows(),
        }
    }

    fn threshold(&self) -> f64 {
        match &self.rule {
            Conformal::Regression(c) => c.quantiles()[0],
            Conformal::Classification(c) => c.quantile(),
        }
    }

    /// Writes the calibration under [`KEY_CONFORMAL`] as
    /// `alpha=…;rows=…;threshold=…;draws=…;seed=…` (every number the
    /// shortest decimal that reads back to the same value).
    pub fn to_metadata(&self, m: &mut BTreeMap<String, String>) {
        m.insert(
            KEY_CONFORMAL.into(),
            format!(
                "alpha={};rows={};threshold={};draws={};seed={}",
                self.alpha(),
                self.rows(),
                self.threshold(),
                self.draws,
                self.seed
            ),
        );
    }

    /// The calibration in `meta`, if any, for a model of `task` with
    /// `outputs` outputs, checked.
    ///
    /// # Errors
    /// [`Error::Parse`] naming `source` and the key for a malformed value.
    pub fn from_metadata(
        meta: &BTreeMap<String, String>,
        task: Task,
        outputs: usize,
        source: &str,
    ) -> Result<Option<Calibration>> {
        let Some(text) = meta.get(KEY_CONFORMAL) else { return Ok(None) };
        let bad =
            |m: String| Error::Parse { path: source.to_string(), message: format!("metadata {KEY_CONFORMAL}: {m}") };
        let mut fields = BTreeMap::new();
        for part in text.split(';') {
            let (k, v) = part.split_once('=').ok_or_else(|| bad(format!("{part:?} is not key=value")))?;
            if fields.insert(k, v).is_some() {
                return Err(bad(format!("{k} is given twice")));
            }
        }
        let field = |k: &str| fields.get(k).copied().ok_or_else(|| bad(format!("{k} is missing")));
        let alpha: f32 = field("alpha")?.parse().map_err(|_| bad("alpha is not a number".into()))?;
        let rows: usize = field("rows")?.parse().map_err(|_| bad("rows is not a count".into()))?;
        let threshold: f64 = field("threshold")?.parse().map_err(|_| bad("threshold is not a number".into()))?;
        let draws: usize = field("draws")?.parse().map_err(|_| bad("draws is not a count".into()))?;
        let seed: u64 = field("seed")?.parse().map_err(|_| bad("seed is not a number".into()))?;
        if fields.len() != 5 {
            return Err(bad("unknown fields (alpha, rows, threshold, draws, seed)".into()));
        }
        if draws == 0 {
            return Err(bad("draws=0".into()));
        }
        let rule = match task {
            Task::Regression => {
                ConformalRegressor::from_quantiles(alpha, rows, vec![threshold; outputs]).map(Conformal::Regression)
            }
            Task::Classification => {
                ConformalClassifier::from_quantile(alpha, outputs, rows, threshold).map(Conformal::Classification)
            }
        }
        .map_err(|e| bad(e.to_string()))?;
        Ok(Some(Calibration { rule, draws, seed }))
    }

    /// The figures of the calibrated rule on held-out rows: coverage and
    /// mean width (regression, with the mean width of mean ± 2σ beside it)
    /// or mean set size (classification), for `blitz evaluate`.
    ///
    /// # Errors
    /// As the rule's prediction and [`coverage_and_width`] /
    /// [`set_coverage_and_size`].
    pub fn figures(&self, p: &super::Prediction, truth: Truth<'_>) -> Result<Vec<(&'static str, f32)>> {
        match (&self.rule, p, truth) {
            (Conformal::Regression(c), super::Prediction::Regression(p), Truth::Values(y)) => {
                let (lo, hi) = c.intervals(&p.mean, &p.std)?;
                let (cov, width) = coverage_and_width(&lo, &hi, y)?;
                let (_, width_2sd) = coverage_and_width(&p.lower_2sd, &p.upper_2sd, y)?;
                Ok(vec![("conformal_coverage", cov), ("mean_width", width), ("mean_width_2sd", width_2sd)])
            }
            (Conformal::Classification(c), super::Prediction::Classification(p), Truth::Labels(l)) => {
                let sets = c.sets(&p.probs)?;
                let (cov, size) = set_coverage_and_size(&sets, l)?;
                Ok(vec![("conformal_coverage", cov), ("mean_set_size", size)])
            }
            _ => Err(Error::invalid(
                "conformal",
                "the calibration, the prediction and the targets are of different tasks",
            )),
        }
    }
}

/// The true targets of held-out rows.
#[derive(Debug, Clone, Copy)]
pub enum Truth<'a> {
    /// Regression targets, one per row and output.
    Values(&'a [f32]),
    /// Class indices, one per row.
    Labels(&'a [usize]),
}
