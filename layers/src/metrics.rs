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
    if draw_means.is_empty() {
        return Err(Error::Empty { op: "gaussian_mixture_log_likelihood" });
    }
    if !(noise_std > 0.0 && noise_std.is_finite()) {
        return Err(Error::invalid("noise_std", format!("{noise_std}: must be positive")));
    }
    for d in draw_means {
        same_len("gaussian_mixture_log_likelihood", d.len(), target.len())?;
    }
    let s = noise_std as f64;
    let ln_s = (draw_means.len() as f64).ln();
    let mut total = 0f64;
    for (i, &y) in target.iter().enumerate() {
        let logs: Vec<f64> = draw_means
            .iter()
            .map(|d| {
                let z = (y - d[i]) as f64 / s;
                -0.5 * z * z - s.ln() - LN_SQRT_2PI
            })
            .collect();
        total += log_sum_exp(&logs) - ln_s;
    }
    Ok((total / target.len() as f64) as f32)
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
