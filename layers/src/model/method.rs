//! Which way a model file's network is uncertain, and the few settings of
//! that way, as the file records them.
//!
//! A file of Bayes by Backprop holds no method key (every file written
//! before there were other methods is one); the others name themselves
//! under [`KEY_METHOD`] and keep their settings under their own keys.

use blitz_autograd::{Error, Result};
use std::collections::BTreeMap;

/// Metadata key of the method (absent: Bayes by Backprop).
pub const KEY_METHOD: &str = "blitz.method";
/// Metadata key of an ensemble's member count.
pub const KEY_MEMBERS: &str = "blitz.members";
/// Metadata key of MC dropout's drop probability.
pub const KEY_DROPOUT: &str = "blitz.dropout";

/// The members of `blitz fit --method ensemble` without `--members`.
pub const DEFAULT_MEMBERS: usize = 5;
/// The drop probability of `blitz fit --method mc-dropout` without `--dropout`.
pub const DEFAULT_DROPOUT: f32 = 0.1;
/// The most members an ensemble may have (each is a whole network trained
/// side by side with the others).
pub const MAX_MEMBERS: usize = 256;

/// How the network of a model file is uncertain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Bayes by Backprop: a Gaussian over every weight, learned by the ELBO
    /// (tensors `fc*.weight_mu`, `fc*.weight_rho`, …).
    Bbb,
    /// MC dropout: a deterministic network trained with dropout after each
    /// hidden layer, kept on at prediction (tensors `fc*.weight`, `fc*.bias`;
    /// regression adds `log_noise`).
    McDropout {
        /// The drop probability, in (0, 1).
        rate: f32,
    },
    /// A deep ensemble of deterministic networks from different seeds
    /// (tensors `member{i}.fc*.weight`, `member{i}.fc*.bias`); a regression
    /// member predicts a mean and a variance.
    Ensemble {
        /// The number of members, 1 to [`MAX_MEMBERS`].
        members: usize,
    },
    /// IVON: a mean-field Gaussian over a deterministic network's weights,
    /// learned by the Improved Variational Online Newton optimizer (tensors
    /// `fc*.weight`, `fc*.bias` hold the means, `hessian.fc*.…` the
    /// Hessian estimates; [`super::KEY_IVON`] the sample size and the weight
    /// decay); a regression network predicts a mean and a variance.
    Ivon,
    /// SWAG: a deterministic network trained by Adam, then SGD iterates
    /// summarised by a Gaussian (tensors `swag.mean`, `swag.diag_variance`,
    /// `swag.deviations`; [`super::KEY_SWAG`] the rank and snapshots); a
    /// regression network predicts a mean and a variance.
    Swag,
    /// Last-layer Laplace: a deterministic network trained by Adam, then a
    /// Gaussian posterior on its last layer (tensors as MC dropout's, and
    /// `laplace.*`, the curvature's eigendecomposition;
    /// [`super::KEY_LAPLACE`] the structure and the prior precision).
    Laplace,
}

impl Method {
    /// `bbb`, `mc-dropout` or `ensemble`: the value of `blitz fit --method`
    /// and of [`KEY_METHOD`].
    pub fn name(self) -> &'static str {
        match self {
            Method::Bbb => "bbb",
            Method::McDropout { .. } => "mc-dropout",
            Method::Ensemble { .. } => "ensemble",
            Method::Ivon => "ivon",
            Method::Swag => "swag",
            Method::Laplace => "laplace",
        }
    }

    /// Whether a run of this method writes checkpoints as it trains (and
    /// so can be resumed): Bayes by Backprop and MC dropout. An ensemble
    /// IVON, SWAG and Laplace write their file once, at the end.
    pub fn checkpoints(self) -> bool {
        matches!(self, Method::Bbb | Method::McDropout { .. })
    }

    /// The method named `name` with its settings (`members` for an
    /// ensemble, `rate` for MC dropout; the others ignore them), checked.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--method` for an unknown name,
    /// `--members` or `--dropout` for a setting out of range.
    pub fn from_name(name: &str, members: usize, rate: f32) -> Result<Method> {
        let m = match name {
            "bbb" => Method::Bbb,
            "mc-dropout" => Method::McDropout { rate },
            "ensemble" => Method::Ensemble { members },
            "ivon" => Method::Ivon,
            "swag" => Method::Swag,
            "laplace" => Method::Laplace,
            other => {
                return Err(Error::invalid(
                    "--method",
                    format!("{other:?}: use bbb, mc-dropout, ensemble, ivon, swag or laplace"),
                ));
            }
        };
        let flag = match m {
            Method::McDropout { .. } => "--dropout",
            _ => "--members",
        };
        m.check().map_err(|e| Error::invalid(flag, e))?;
        Ok(m)
    }

    /// Why the settings are out of range, if they are.
    fn check(self) -> std::result::Result<(), String> {
        match self {
            Method::McDropout { rate } if !(rate > 0.0 && rate < 1.0) => {
                Err(format!("{rate}: give a drop probability in (0, 1), e.g. {DEFAULT_DROPOUT}"))
            }
            Method::Ensemble { members } if members == 0 || members > MAX_MEMBERS => {
                Err(format!("{members}: give 1 to {MAX_MEMBERS} members"))
            }
            _ => Ok(()),
        }
    }

    /// The settings that decide a run's result, for the run's settings
    /// line: empty for Bayes by Backprop (whose line predates the methods).
    pub fn settings(self) -> String {
        match self {
            Method::Bbb => String::new(),
            Method::McDropout { rate } => format!(" method=mc-dropout dropout={rate}"),
            Method::Ensemble { members } => format!(" method=ensemble members={members}"),
            Method::Ivon => " method=ivon".into(),
            Method::Swag => " method=swag".into(),
            Method::Laplace => " method=laplace".into(),
        }
    }

    /// Writes the method and its settings (nothing for Bayes by Backprop).
    pub fn to_metadata(self, m: &mut BTreeMap<String, String>) {
        if self == Method::Bbb {
            return;
        }
        m.insert(KEY_METHOD.into(), self.name().into());
        match self {
            Method::McDropout { rate } => m.insert(KEY_DROPOUT.into(), rate.to_string()),
            Method::Ensemble { members } => m.insert(KEY_MEMBERS.into(), members.to_string()),
            Method::Bbb | Method::Ivon | Method::Swag | Method::Laplace => None,
        };
    }

    /// The method `meta` records, checked: a known name, its own settings
    /// in range, and no other method's settings.
    ///
    /// # Errors
    /// [`Error::Parse`] naming `source` and the key at fault.
    pub fn from_metadata(meta: &BTreeMap<String, String>, source: &str) -> Result<Method> {
        let bad = |k: &str, m: String| Error::Parse { path: source.to_string(), message: format!("metadata {k}: {m}") };
        let method = match meta.get(KEY_METHOD).map(String::as_str) {
            None | Some("bbb") => Method::Bbb,
            Some("mc-dropout") => {
                let v = meta.get(KEY_DROPOUT).ok_or_else(|| bad(KEY_DROPOUT, "is missing (mc-dropout)".into()))?;
                let rate = v.parse().map_err(|_| bad(KEY_DROPOUT, format!("{v:?} is not a number")))?;
                Method::McDropout { rate }
            }
            Some("ensemble") => {
                let v = meta.get(KEY_MEMBERS).ok_or_else(|| bad(KEY_MEMBERS, "is missing (ensemble)".into()))?;
                let members = v.parse().map_err(|_| bad(KEY_MEMBERS, format!("{v:?} is not a count")))?;
                Method::Ensemble { members }
            }
            Some("ivon") => Method::Ivon,
            Some("swag") => Method::Swag,
            Some("laplace") => Method::Laplace,
            Some(other) => {
                return Err(bad(
                    KEY_METHOD,
                    format!("{other:?} is unknown (bbb, mc-dropout, ensemble, ivon, swag or laplace)"),
                ));
            }
        };
        let key = match method {
            Method::McDropout { .. } => KEY_DROPOUT,
            _ => KEY_MEMBERS,
        };
        method.check().map_err(|m| bad(key, m))?;
        for (k, owner) in [(KEY_MEMBERS, "ensemble"), (KEY_DROPOUT, "mc-dropout")] {
            if meta.contains_key(k) && method.name() != owner {
                return Err(bad(k, format!("is a setting of {owner}, but the method is {}", method.name())));
            }
        }
        Ok(method)
    }
}

/// The targets a method trained from scratch by the library ([`super::fit_ivon`],
/// [`super::fit_swag`], [`super::fit_laplace`]) trains on.
#[derive(Debug, Clone, Copy)]
pub enum FitTargets<'a> {
    /// Regression targets `[n, outputs]`, original units.
    Values(&'a blitz_autograd::Tensor),
    /// Class indices, one per row.
    Labels(&'a [usize]),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_what_it_writes() {
        for m in [
            Method::Bbb,
            Method::McDropout { rate: 0.25 },
            Method::Ensemble { members: 3 },
            Method::Ivon,
            Method::Swag,
            Method::Laplace,
        ] {
            let mut meta = BTreeMap::new();
            m.to_metadata(&mut meta);
            assert_eq!(Method::from_metadata(&meta, "f").unwrap(), m);
        }
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[(KEY_METHOD, "swag2")], KEY_METHOD),
            (&[(KEY_METHOD, "ensemble")], KEY_MEMBERS),
            (&[(KEY_METHOD, "ensemble"), (KEY_MEMBERS, "0")], KEY_MEMBERS),
            (&[(KEY_METHOD, "ensemble"), (KEY_MEMBERS, "-1")], KEY_MEMBERS),
            (&[(KEY_METHOD, "mc-dropout"), (KEY_DROPOUT, "NaN")], KEY_DROPOUT),
            (&[(KEY_METHOD, "mc-dropout"), (KEY_DROPOUT, "0.1"), (KEY_MEMBERS, "3")], KEY_MEMBERS),
        ];
        for (pairs, key) in cases {
            let meta = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            match Method::from_metadata(&meta, "f.safetensors") {
                Err(Error::Parse { path, message }) => {
                    assert!(path == "f.safetensors" && message.contains(key), "{pairs:?}: {message}")
                }
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }
}
