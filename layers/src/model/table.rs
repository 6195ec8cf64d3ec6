//! The prediction table: what `blitz predict` prints.

use super::Conformal;
use crate::classification::ClassPrediction;
use crate::regression::RegressionPrediction;

/// What a [`super::Model`] predicts, by task.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Mean, spread and interval of each row.
    Regression(RegressionPrediction),
    /// Class probabilities, the predicted class and the uncertainty of each row.
    Classification(ClassPrediction),
}

impl Prediction {
    /// The rows predicted.
    pub fn rows(&self) -> usize {
        match self {
            Prediction::Regression(p) => p.mean.len() / p.outputs.max(1),
            Prediction::Classification(p) => p.predicted.len(),
        }
    }
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The table of `p`: a header, one line per row; every number printed as
/// the shortest decimal that reads back to the same `f32`.
/// `conformal` (when given) adds its intervals or sets; a prediction that
/// does not fit it (never the case for a loaded model) gets none.
pub(super) fn csv(p: &Prediction, classes: &[String], conformal: Option<&Conformal>) -> String {
    let mut text = String::with_capacity(64 * (p.rows() + 1));
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        for (i, c) in cells.enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&c);
        }
        text.push('\n');
    };
    match p {
        Prediction::Regression(p) => {
            let mut header = vec!["mean", "std", "epistemic_std", "aleatoric_std", "lower_2sd", "upper_2sd"];
            let bounds = match conformal {
                Some(Conformal::Regression(c)) => c.intervals(&p.mean, &p.std).ok(),
                _ => None,
            };
            if bounds.is_some() {
                header.extend(["lower_conformal", "upper_conformal"]);
            }
            line(&mut header.iter().map(|s| s.to_string()));
            for i in 0..p.mean.len() {
                let mut v =
                    vec![p.mean[i], p.std[i], p.epistemic_std[i], p.aleatoric_std[i], p.lower_2sd[i], p.upper_2sd[i]];
                if let Some((lo, hi)) = &bounds {
                    v.extend([lo[i], hi[i]]);
                }
                line(&mut v.iter().map(|v| format!("{v}")));
            }
        }
        Prediction::Classification(p) => {
            let mut header = vec!["predicted".to_string()];
            header.extend(classes.iter().map(|c| csv_cell(&format!("p_{c}"))));
            header.extend(["entropy".to_string(), "mi".to_string()]);
            let sets = match conformal {
                Some(Conformal::Classification(c)) => c.sets(&p.probs).ok(),
                _ => None,
            };
            if sets.is_some() {
                header.push("set".to_string());
            }
            line(&mut header.into_iter());
            let k = p.classes;
            for i in 0..p.predicted.len() {
                let mut r = vec![csv_cell(classes.get(p.predicted[i]).map_or("?", String::as_str))];
                r.extend(p.probs[i * k..(i + 1) * k].iter().map(|v| format!("{v}")));
                r.push(format!("{}", p.entropy[i]));
                r.push(format!("{}", p.mutual_information[i]));
                if let Some(sets) = &sets {
                    let names: Vec<&str> =
                        sets[i].iter().map(|&c| classes.get(c).map_or("?", String::as_str)).collect();
                    r.push(csv_cell(&names.join("|")));
                }
                line(&mut r.into_iter());
            }
        }
    }
    text
}
