//! Bayesian layers (work in progress).
