//! Metrics for predictive uncertainty, on host slices. Regression metrics
//! take per-example values; classification metrics take probabilities laid
//! out row-major as `[n, classes]` per draw.

use blitz_autograd::{Error, Result};

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

fn same_len(op: &'static str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::ShapeMismatch { op, lhs: vec![a], rhs: vec![b] });
    }
    if a == 0 {
        return Err(Error::Empty { op });
    }
    Ok(())
}

/// Root mean squared error.
///
/// # Errors
/// [`Error::ShapeMismatch`] for different lengths; [`Error::Empty`] for none.
pub fn rmse(pred: &[f32], target: &[f32]) -> Result<f32> {
    same_len("rmse", pred.len(), target.len())?;
    let s: f64 = pred.iter().zip(target).map(|(p, t)| ((p - t) as f64).powi(2)).sum();
    Ok((s / pred.len() as f64).sqrt() as f32)
}

/// Fraction of targets inside mean ± k·std.
///
/// # Errors
/// [`Error::ShapeMismatch`] for different lengths; [`Error::Empty`] for none.
pub fn interval_coverage(mean: &[f32], std: &[f32], target: &[f32], k: f32) -> Result<f32> {
    same_len("interval_coverage", mean.len(), target.len())?;
    same_len("interval_coverage", std.len(), target.len())?;
    let inside = mean.iter().zip(std).zip(target).filter(|((m, s), t)| (*t - *m).abs() <= k * *s).count();
    Ok(inside as f32 / target.len() as f32)
}

/// Mean log predictive density of a Gaussian mixture over weight draws:
/// (1/n) Σᵢ ln[(1/S) Σₛ N(yᵢ; meanₛᵢ, noise_std²)], by log-sum-exp.
/// `draw_means[s]` holds the predictions of draw s.
///
/// # Errors
/// [`Error::Empty`] for no draws; [`Error::ShapeMismatch`] when a draw's
/// length differs from the targets'; [`Error::InvalidArgument`] for
/// `noise_std ≤ 0`.
pub fn gaussian_mixture_log_likelihood(draw_means: &[Vec<f32>], noise_std: f32, target: &[f32]) -> Result<f32> {
    gaussian_mixture_log_likelihood_multi(draw_means, &[noise_std], target)
}

/// [`gaussian_mixture_log_likelihood`] for `k = noise_std.len()` outputs
/// per example, laid out `[n, k]` row-major: the mean over examples of
/// ln[(1/S) Σₛ Πₒ N(y_io; mean_s,io, noise_stdₒ²)] — the joint density of an
/// example's outputs, not a sum of per-output mixtures.
///
/// # Errors
/// As [`gaussian_mixture_log_likelihood`]; [`Error::InvalidShape`] when the
/// target length is not a multiple of k.
pub fn gaussian_mixture_log_likelihood_multi(
    draw_means: &[Vec<f32>],
    noise_std: &[f32],
    target: &[f32],
) -> Result<f32> {
    let op = "gaussian_mixture_log_likelihood";
    if draw_means.is_empty() || noise_std.is_empty() {
        return Err(Error::Empty { op });
    }
    if let Some(s) = noise_std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
        return Err(Error::invalid("noise_std", format!("{s}: must be positive")));
    }
    let k = noise_std.len();
    if !target.len().is_multiple_of(k) {
        return Err(Error::InvalidShape { op, shape: vec![target.len()], reason: format!("not rows of {k} outputs") });
    }
    for d in draw_means {
        same_len(op, d.len(), target.len())?;
    }
    let ln_s = (draw_means.len() as f64).ln();
    let mut total = 0f64;
    let mut logs = vec![0f64; draw_means.len()];
    for (i, row) in target.chunks(k).enumerate() {
        for (l, d) in logs.iter_mut().zip(draw_means) {
            *l = row
                .iter()
                .zip(noise_std)
                .enumerate()
                .map(|(o, (&y, &s))| {
                    let s = s as f64;
                    let z = (y - d[i * k + o]) as f64 / s;
                    -0.5 * z * z - s.ln() - LN_SQRT_2PI
                })
                .sum();
        }
        total += log_sum_exp(&logs) - ln_s;
    }
    Ok((total / (target.len() / k) as f64) as f32)
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&q| q > 0.0).map(|q| q * q.ln()).sum::<f64>()
}

/// Checks the draws and returns n (examples).
fn check_draws(op: &'static str, draws: &[Vec<f32>], classes: usize) -> Result<usize> {
    if draws.is_empty() || classes == 0 {
        return Err(Error::Empty { op });
    }
    let len = draws[0].len();
    if !len.is_multiple_of(classes) || len == 0 {
        return Err(Error::InvalidShape {
            op,
            shape: vec![len],
            reason: format!("not a multiple of {classes} classes"),
        });
    }
    for d in draws {
        same_len(op, d.len(), len)?;
    }
    Ok(len / classes)
}

/// The mean of the draws' probabilities, `[n, classes]` row-major, in f64.
fn mean_probs(draws: &[Vec<f32>]) -> Vec<f64> {
    let s = draws.len() as f64;
    (0..draws[0].len()).map(|j| draws.iter().map(|d| d[j] as f64).sum::<f64>() / s).collect()
}

/// Entropy of the mean predictive distribution per example, H((1/S) Σₛ pₛ)
/// (nats): total uncertainty.
///
/// # Errors
/// [`Error::Empty`] / [`Error::InvalidShape`] / [`Error::ShapeMismatch`] for malformed draws.
pub fn predictive_entropy(draws: &[Vec<f32>], classes: usize) -> Result<Vec<f32>> {
    let n = check_draws("predictive_entropy", draws, classes)?;
    let m = mean_probs(draws);
    Ok((0..n).map(|i| entropy(&m[i * classes..(i + 1) * classes]) as f32).collect())
}

/// Mutual information between the prediction and the weights per example,
/// H(mean p) − mean H(pₛ) (nats): the epistemic part of the uncertainty.
///
/// # Errors
/// As [`predictive_entropy`].
pub fn mutual_information(draws: &[Vec<f32>], classes: usize) -> Result<Vec<f32>> {
    let total = predictive_entropy(draws, classes)?;
    let s = draws.len() as f64;
    Ok(total
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            let aleatoric: f64 = draws
                .iter()
                .map(|d| {
                    let p: Vec<f64> = d[i * classes..(i + 1) * classes].iter().map(|&v| v as f64).collect();
                    entropy(&p)
                })
                .sum::<f64>()
                / s;
            (h as f64 - aleatoric).max(0.0) as f32
        })
        .collect())
}

/// Mean negative log-likelihood of the labels under probabilities
/// `[n, classes]` (nats per example); probabilities are floored at 1e-12 so
/// that a confident mistake costs ~27.6 nats instead of infinity.
///
/// # Errors
/// As [`expected_calibration_error`].
pub fn class_nll(probs: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
    let n = check_labels("class_nll", probs, classes, labels)?;
    let s: f64 = labels.iter().enumerate().map(|(i, &l)| -(probs[i * classes + l].max(1e-12) as f64).ln()).sum();
    Ok((s / n as f64) as f32)
}

/// Brier score: the mean over examples of Σ_c (p_c − 1[c = label])², in [0, 2].
///
/// # Errors
/// As [`expected_calibration_error`].
pub fn brier_score(probs: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
    let n = check_labels("brier_score", probs, classes, labels)?;
    let s: f64 = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            probs[i * classes..(i + 1) * classes]
                .iter()
                .enumerate()
                .map(|(c, &p)| (p as f64 - f64::from(u8::from(c == l))).powi(2))
                .sum::<f64>()
        })
        .sum();
    Ok((s / n as f64) as f32)
}

/// Fraction of rows whose most probable class is the label.
///
/// # Errors
/// As [`expected_calibration_error`].
pub fn accuracy(probs: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
    let n = check_labels("accuracy", probs, classes, labels)?;
    let hits = argmax_rows(probs, classes).iter().zip(labels).filter(|(a, b)| a == b).count();
    Ok(hits as f32 / n as f32)
}

/// The index of the largest value of each row of `classes` values (the
/// first one on ties).
pub fn argmax_rows(probs: &[f32], classes: usize) -> Vec<usize> {
    probs
        .chunks(classes.max(1))
        .map(|r| r.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0)
        .collect()
}

/// Checks probabilities against labels and returns n.
fn check_labels(op: &'static str, probs: &[f32], classes: usize, labels: &[usize]) -> Result<usize> {
    if classes == 0 || probs.is_empty() {
        return Err(Error::Empty { op });
    }
    if !probs.len().is_multiple_of(classes) {
        return Err(Error::InvalidShape {
            op,
            shape: vec![probs.len()],
            reason: format!("not a multiple of {classes} classes"),
        });
    }
    let n = probs.len() / classes;
    same_len(op, n, labels.len())?;
    if let Some(&l) = labels.iter().find(|&&l| l >= classes) {
        return Err(Error::IndexOutOfRange { op, index: l, len: classes });
    }
    Ok(n)
}

/// Expected calibration error with `bins` equal-width confidence bins:
/// Σ_b (|b|/n)·|accuracy_b − confidence_b|, for probabilities `[n, classes]`.
///
/// # Errors
/// [`Error::InvalidArgument`] for `bins == 0`; [`Error::ShapeMismatch`] unless
/// there is one label per row; [`Error::IndexOutOfRange`] for a label ≥ classes.
pub fn expected_calibration_error(probs: &[f32], classes: usize, labels: &[usize], bins: usize) -> Result<f32> {
    if bins == 0 {
        return Err(Error::invalid("bins", "0: at least one bin"));
    }
    let n = check_draws("expected_calibration_error", std::slice::from_ref(&probs.to_vec()), classes)?;
    same_len("expected_calibration_error", n, labels.len())?;
    let mut count = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut correct = vec![0f64; bins];
    for (i, &label) in labels.iter().enumerate() {
        if label >= classes {
            return Err(Error::IndexOutOfRange { op: "expected_calibration_error", index: label, len: classes });
        }
        let row = &probs[i * classes..(i + 1) * classes];
        let (arg, &p) = row.iter().enumerate().fold((0, &row[0]), |b, (j, v)| if *v > *b.1 { (j, v) } else { b });
        let b = ((p as f64 * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += p as f64;
        correct[b] += f64::from(u8::from(arg == label));
    }
    let e: f64 = (0..bins).filter(|&b| count[b] > 0).map(|b| (correct[b] - conf[b]).abs()).sum::<f64>() / n as f64;
    Ok(e as f32)
}

/// Area under the ROC curve for telling out-of-distribution inputs from
/// in-distribution ones by a score that should be higher out of
/// distribution (predictive entropy, mutual information, ...): the
/// probability that a random out-of-distribution score exceeds a random
/// in-distribution one, ties counting one half. That is the Mann–Whitney
/// U statistic of the two samples divided by `in_scores.len() · out_scores.len()`,
/// computed from mid-ranks (O(n log n)). 0.5: the score cannot tell them
/// apart; 1: every out-of-distribution score is above every other.
///
/// # Errors
/// [`Error::Empty`] when either sample is empty; [`Error::NonFinite`] for a
/// NaN or infinite score (it has no rank).
pub fn ood_auroc(in_scores: &[f32], out_scores: &[f32]) -> Result<f32> {
    let op = "ood_auroc";
    if in_scores.is_empty() || out_scores.is_empty() {
        return Err(Error::Empty { op });
    }
    if in_scores.iter().chain(out_scores).any(|s| !s.is_finite()) {
        return Err(Error::NonFinite { what: "ood_auroc scores".into() });
    }
    // (score, is out-of-distribution), sorted by score; a run of equal
    // scores shares the mean of its ranks.
    let mut all: Vec<(f32, bool)> =
        in_scores.iter().map(|&s| (s, false)).chain(out_scores.iter().map(|&s| (s, true))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_out = 0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 (1-based) share their mean.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_out += mid * all[i..=j].iter().filter(|e| e.1).count() as f64;
        i = j + 1;
    }
    let (n_in, n_out) = (in_scores.len() as f64, out_scores.len() as f64);
    let u = rank_sum_out - n_out * (n_out + 1.0) / 2.0;
    Ok((u / (n_in * n_out)) as f32)
}

/// Mean log predictive density of an equal-weight Gaussian mixture whose
/// components each have their own standard deviation per example (the
/// members of a deep ensemble, each predicting a mean and a variance):
/// (1/n) Σᵢ ln[(1/S) Σₛ Πₒ N(y_io; meanₛ,io, stdₛ,io²)], by log-sum-exp,
/// with `means[s]` and `stds[s]` laid out like `target`, `[n, k]` row-major.
///
/// # Errors
/// [`Error::Empty`] for no components or no targets; [`Error::ShapeMismatch`]
/// when the counts or lengths differ; [`Error::InvalidShape`] when the target
/// length is not a multiple of `k`; [`Error::InvalidArgument`] for `k == 0`
/// or a standard deviation that is not positive and finite.
pub fn gaussian_mixture_log_likelihood_hetero(
    means: &[Vec<f32>],
    stds: &[Vec<f32>],
    target: &[f32],
    k: usize,
) -> Result<f32> {
    let op = "gaussian_mixture_log_likelihood_hetero";
    if means.is_empty() {
        return Err(Error::Empty { op });
    }
    if k == 0 {
        return Err(Error::invalid("outputs", "0: at least one output"));
    }
    same_len(op, means.len(), stds.len())?;
    if !target.len().is_multiple_of(k) {
        return Err(Error::InvalidShape { op, shape: vec![target.len()], reason: format!("not rows of {k} outputs") });
    }
    for (m, s) in means.iter().zip(stds) {
        same_len(op, m.len(), target.len())?;
        same_len(op, s.len(), target.len())?;
        if let Some(v) = s.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
            return Err(Error::invalid("std", format!("{v}: must be positive")));
        }
    }
    let ln_s = (means.len() as f64).ln();
    let mut logs = vec![0f64; means.len()];
    let mut total = 0f64;
    for i in 0..target.len() / k {
        for (l, (m, s)) in logs.iter_mut().zip(means.iter().zip(stds)) {
            *l = (i * k..(i + 1) * k)
                .map(|j| {
                    let sd = s[j] as f64;
                    let z = (target[j] - m[j]) as f64 / sd;
                    -0.5 * z * z - sd.ln() - LN_SQRT_2PI
                })
                .sum();
        }
        total += log_sum_exp(&logs) - ln_s;
    }
    Ok((total / (target.len() / k) as f64) as f32)
}
