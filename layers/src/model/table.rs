//! The prediction table: what `blitz predict` prints.

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
pub(super) fn csv(p: &Prediction, classes: &[String]) -> String {
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
            let header = ["mean", "std", "epistemic_std", "aleatoric_std", "lower_2sd", "upper_2sd"];
            line(&mut header.iter().map(|s| s.to_string()));
            for i in 0..p.mean.len() {
                let v = [p.mean[i], p.std[i], p.epistemic_std[i], p.aleatoric_std[i], p.lower_2sd[i], p.upper_2sd[i]];
                line(&mut v.iter().map(|v| format!("{v}")));
            }
        }
        Prediction::Classification(p) => {
            let mut header = vec!["predicted".to_string()];
            header.extend(classes.iter().map(|c| csv_cell(&format!("p_{c}"))));
            header.extend(["entropy".to_string(), "mi".to_string()]);
            line(&mut header.into_iter());
            let k = p.classes;
            for i in 0..p.predicted.len() {
                let mut r = vec![csv_cell(classes.get(p.predicted[i]).map_or("?", String::as_str))];
                r.extend(p.probs[i * k..(i + 1) * k].iter().map(|v| format!("{v}")));
                r.push(format!("{}", p.entropy[i]));
                r.push(format!("{}", p.mutual_information[i]));
                line(&mut r.into_iter());
            }
        }
    }
    text
}
