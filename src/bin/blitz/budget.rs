//! The memory the size flags ask for (`--hidden`, `--sample-nbr`,
//! `--draws`), estimated before anything is built and refused above
//! [`limits::memory_limit`] with an error that names the flag.
//!
//! The estimates are lower bounds of what training and prediction hold at
//! their peak (measured on an MLP: a step holds about 6 copies of the
//! weights plus 9 per weight draw, and 3 activations per draw, row and
//! unit), so a run they refuse could not have finished.

use blitz::kernels::limits;
use blitz::layers::model::Method;
use blitz::layers::MlpSpec;
use blitz::prelude::Result;

/// Copies of the weights a training run holds whatever the draws: means,
/// rhos, their gradients and Adam's two moments of each (less what is freed).
const STATE_COPIES: u64 = 6;
/// Copies of the weights each draw of a step holds (noise, sigma, the drawn
/// weights and the terms of the KL).
const DRAW_COPIES: u64 = 9;
/// The same for a deterministic network (MC dropout, an ensemble's
/// member): the weights, their gradients and Adam's two moments; a step's
/// pass holds one more copy (the weights on the tape).
const PLAIN_STATE_COPIES: u64 = 4;
const PLAIN_DRAW_COPIES: u64 = 1;
/// Activations each draw holds per row and unit (pre-activation, output,
/// gradient).
const ACTIVATION_COPIES: u64 = 3;

/// The layer widths of `spec`: inputs, hidden layers, outputs.
fn widths(spec: &MlpSpec) -> Vec<usize> {
    let mut w = vec![spec.inputs];
    w.extend(&spec.hidden);
    w.push(spec.outputs);
    w
}

/// The weights and biases of `spec` (means only), saturating.
pub fn weights(spec: &MlpSpec) -> u64 {
    widths(spec)
        .windows(2)
        .fold(0u64, |acc, p| acc.saturating_add(limits::product_saturating(&[p[0], p[1]])).saturating_add(p[1] as u64))
}

fn hidden_flag(spec: &MlpSpec) -> String {
    let h: Vec<String> = spec.hidden.iter().map(usize::to_string).collect();
    format!("--hidden {}", if h.is_empty() { "0".into() } else { h.join(",") })
}

fn f32s(count: u64) -> u64 {
    count.saturating_mul(4)
}

/// The copies of the weights a run of `method` holds: its state, and each draw of a step.
fn copies(method: Method) -> (u64, u64) {
    match method {
        Method::Bbb => (STATE_COPIES, DRAW_COPIES),
        _ => (PLAIN_STATE_COPIES, PLAIN_DRAW_COPIES),
    }
}

/// The networks a run of `method` trains at once.
fn networks(method: Method) -> u64 {
    match method {
        Method::Ensemble { members } => members as u64,
        _ => 1,
    }
}

/// Refuses a training run of `spec` by `method` whose state or one step of
/// `sample_nbr` draws on batches of `batch` rows cannot fit (an
/// ensemble's members train side by side: all of them at once).
///
/// # Errors
/// [`blitz::prelude::Error::TooLarge`] naming `--hidden`, `--sample-nbr`
/// or `--members`.
pub fn check_training(spec: &MlpSpec, method: Method, sample_nbr: usize, batch: usize) -> Result<()> {
    let (state_copies, draw_copies) = copies(method);
    let state = f32s(weights(spec).saturating_mul(state_copies));
    limits::check_memory(state, || {
        format!("{}: {} weights and their training state", hidden_flag(spec), weights(spec))
    })?;
    let units = widths(spec).iter().fold(0u64, |acc, &w| acc.saturating_add(w as u64));
    let per_draw = weights(spec)
        .saturating_mul(draw_copies)
        .saturating_add(limits::product_saturating(&[batch, ACTIVATION_COPIES as usize]).saturating_mul(units));
    // One draw that cannot fit is the width's fault, not the draw count's.
    limits::check_memory(state.saturating_add(f32s(per_draw)), || {
        format!("{}: one training step's weight draw and activations (one draw, batches of {batch})", hidden_flag(spec))
    })?;
    let step = state.saturating_add(f32s(per_draw).saturating_mul(sample_nbr as u64));
    limits::check_memory(step, || {
        format!(
            "--sample-nbr {sample_nbr}: one training step's weight draws and activations (with {}, batches of {batch})",
            hidden_flag(spec)
        )
    })?;
    let all = networks(method);
    limits::check_memory(step.saturating_mul(all), || {
        format!(
            "--members {all}: that many networks training side by side (each {}, batches of {batch})",
            hidden_flag(spec)
        )
    })
}

/// Refuses `draws` predictions of `rows` rows by a model of `spec` that
/// cannot fit (every draw's outputs are kept).
///
/// # Errors
/// [`blitz::prelude::Error::TooLarge`] naming `--draws`.
pub fn check_draws(spec: &MlpSpec, method: Method, draws: usize, rows: usize) -> Result<()> {
    // An ensemble predicts one pass per member whatever --draws (a regression member two outputs).
    let (draws, flag, spec) = match method {
        Method::Ensemble { members } => {
            let wide = MlpSpec { outputs: spec.outputs.saturating_mul(2), ..spec.clone() };
            (members, format!("--members {members}"), wide)
        }
        _ => (draws, format!("--draws {draws}"), spec.clone()),
    };
    let spec = &spec;
    let outputs = f32s(limits::product_saturating(&[draws, rows, spec.outputs]));
    let per_draw = f32s(limits::product_saturating(&[rows, ACTIVATION_COPIES as usize]))
        .saturating_mul(widths(spec).iter().fold(0u64, |acc, &w| acc.saturating_add(w as u64)));
    let bytes = f32s(weights(spec).saturating_mul(2).saturating_mul(networks(method)))
        .saturating_add(outputs)
        .saturating_add(per_draw);
    limits::check_memory(bytes, || format!("{flag}: the predictions of {rows} rows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_count_every_layer_and_saturate() {
        assert_eq!(weights(&MlpSpec::new(13, vec![50], 1)), 13 * 50 + 50 + 50 + 1);
        assert_eq!(weights(&MlpSpec::new(3, vec![], 2)), 3 * 2 + 2);
        assert_eq!(weights(&MlpSpec::new(1, vec![usize::MAX, usize::MAX], 1)), u64::MAX);
    }
}
