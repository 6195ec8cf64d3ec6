#![allow(dead_code)] // each example uses some of these
//! The examples' JSON lines: a number that is `null` when not finite, and
//! an object builder that keeps its keys in insertion order.

/// A number for JSON with four decimals: `null` when not finite.
pub fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "null".into()
    }
}

/// One JSON object, keys in insertion order, rendered as `{"k": v, ...}`.
#[derive(Default)]
pub struct Json(Vec<(String, String)>);

impl Json {
    /// A number with six decimals (`null` when not finite).
    pub fn num(mut self, k: &str, v: f64) -> Self {
        self.0.push((k.into(), if v.is_finite() { format!("{v:.6}") } else { "null".into() }));
        self
    }

    /// A whole number.
    pub fn int(mut self, k: &str, v: usize) -> Self {
        self.0.push((k.into(), v.to_string()));
        self
    }

    /// A string (written as given: no escaping).
    pub fn text(mut self, k: &str, v: &str) -> Self {
        self.0.push((k.into(), format!("\"{v}\"")));
        self
    }

    /// The object on one line.
    pub fn render(&self) -> String {
        let body: Vec<String> = self.0.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        format!("{{{}}}", body.join(", "))
    }
}
