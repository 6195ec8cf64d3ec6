//! Last-layer Laplace (Daxberger et al. 2021, "Laplace Redux"): post hoc,
//! a trained deterministic network's last linear layer gets a Gaussian
//! posterior centred on its trained weights θ* with precision
//! GGN + λI, where GGN is the generalised Gauss–Newton matrix of the
//! training loss in those weights and λ the prior precision. Everything
//! before that layer stays fixed and only maps inputs to features φ(x).
//!
//! # The maths
//! With φ̃ = (φ, 1) (the bias's input) and θ ordered output by output, the
//! layer's Jacobian is J(x) = I_k ⊗ φ̃ᵀ, so
//! GGN = Σᵢ Hᵢ ⊗ φ̃ᵢφ̃ᵢᵀ, Hᵢ the Hessian of the loss in the logits:
//! diag(pᵢ) − pᵢpᵢᵀ for softmax cross-entropy, diag(1/σ²) for a Gaussian
//! likelihood with noise σ. [`LaplaceStructure::Full`] forms the
//! k(d+1)-square matrix; [`LaplaceStructure::Kron`] the Kronecker factors
//! n·mean(Hᵢ) ⊗ mean(φ̃ᵢφ̃ᵢᵀ) (exact for regression, where Hᵢ is constant),
//! whose eigenvectors are products of the factors' and cost only
//! k³ + (d+1)³. The prior precision maximises the Laplace approximation of
//! the marginal likelihood, −½λ‖θ*‖² + (P/2)ln λ − ½ ln det(GGN + λI) + const,
//! by MacKay's fixed point λ ← γ/‖θ*‖² with γ = Σₘ gₘ/(gₘ + λ) (gₘ the
//! GGN's eigenvalues). The output f = Wφ̃ is then Gaussian with mean
//! f(x; θ*) and covariance J Σ Jᵀ: regression predicts N(f*, JΣJᵀ + σ²);
//! classification averages softmax over draws of f, or uses the probit
//! approximation softmax(f*ₒ / √(1 + π/8·(JΣJᵀ)ₒₒ)).

use super::linalg::{cholesky, sym_eigen};
use crate::classification::{ClassPrediction, Classifier};
use crate::data::{take_rows, Standardizer};
use crate::estimator::draw_seed;
use crate::linear::Linear;
use crate::module::Module;
use crate::regression::{RegressionPrediction, Regressor};
use crate::sequential::Sequential;
use crate::train::{example_count, host_scaled};
use blitz_autograd::{Context, Error, Param, Result, Tape, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Rows per forward pass through the feature layers.
const CHUNK_ROWS: usize = 1000;

/// How to store the curvature of the last layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaplaceStructure {
    /// Full when the layer has at most [`FULL_MAX_PARAMS`] weights, Kronecker-factored above.
    #[default]
    Auto,
    /// The full GGN: exact, cubic in the layer's size.
    Full,
    /// Kronecker factors (K-FAC): exact for regression, an approximation for classification.
    Kron,
}

/// The largest last layer (weights and biases) that [`LaplaceStructure::Auto`] keeps full.
pub const FULL_MAX_PARAMS: usize = 300;

/// The most last-layer weights [`LaplaceStructure::Full`] accepts when asked
/// for explicitly (a 4000² GGN in f64 is 128 MB, its eigendecomposition minutes).
pub const FULL_LIMIT: usize = 4000;

/// The smallest prior precision the marginal-likelihood update returns.
const LAMBDA_FLOOR: f64 = 1e-12;

/// What the network's outputs are.
#[derive(Debug, Clone, PartialEq)]
enum Task {
    /// Logits over classes.
    Classification { class_names: Vec<String> },
    /// Means with Gaussian noise of these standard deviations (training units).
    Regression { noise_std: Vec<f64>, y_scale: Option<Standardizer> },
}

/// The posterior's curvature in an eigenbasis (what a saved posterior
/// holds besides the trained weights and λ).
#[derive(Debug, Clone, PartialEq)]
pub enum Curvature {
    /// GGN = V diag(g) Vᵀ, V row-major `p × p` (eigenvectors in columns).
    Full {
        /// The eigenvalues g (p, ≥ 0).
        g: Vec<f64>,
        /// The eigenvectors V (p × p, row-major, in columns).
        v: Vec<f64>,
    },
    /// GGN ≈ (U_H diag(h) U_Hᵀ) ⊗ (U_A diag(a) U_Aᵀ), n folded into h.
    Kron {
        /// The output factor's eigenvalues h (k, ≥ 0).
        h: Vec<f64>,
        /// Its eigenvectors U_H (k × k).
        uh: Vec<f64>,
        /// The feature factor's eigenvalues a (d + 1, ≥ 0).
        a: Vec<f64>,
        /// Its eigenvectors U_A ((d + 1) × (d + 1)).
        ua: Vec<f64>,
    },
}

/// A trained network split into feature layers and a last linear layer
/// with a Laplace posterior; see the module docs.
pub struct LastLayerLaplace {
    body: Sequential,
    last_name: String,
    last: Box<dyn Module>,
    weight: Param,
    bias: Option<Param>,
    task: Task,
    x_scale: Option<Standardizer>,
    curvature: Option<Curvature>,
    prior_precision: f64,
    context: Context,
}

impl std::fmt::Debug for LastLayerLaplace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LastLayerLaplace({} outputs, prior precision {})", self.outputs(), self.prior_precision)
    }
}

/// Splits `net` into the layers before its last child and that child, which must be a [`Linear`].
fn split(net: Sequential) -> Result<(Sequential, String, Box<dyn Module>, Param, Option<Param>)> {
    let mut children = net.into_children();
    let (name, last) = children.pop().ok_or_else(|| {
        Error::invalid("network", "empty: last-layer Laplace needs a network ending in a Linear layer")
    })?;
    let lin = last.as_any().and_then(|a| a.downcast_ref::<Linear>()).ok_or_else(|| {
        Error::invalid(
            "network",
            format!(
                "its last layer ({name}) is not a Linear: last-layer Laplace needs a deterministic final linear layer"
            ),
        )
    })?;
    let (weight, bias) = (lin.weight().clone(), lin.bias().cloned());
    let body = children.into_iter().fold(Sequential::new(), |s, (n, m)| s.push_named_boxed(n, m));
    Ok((body, name, last, weight, bias))
}

/// The last layer must produce `k` values (one per class or output).
fn same_outputs(weight: &Param, k: usize, what: &'static str) -> Result<()> {
    let rows = weight.shape()[0];
    if rows != k {
        return Err(Error::ShapeMismatch { op: what, lhs: vec![rows], rhs: vec![k] });
    }
    Ok(())
}

impl LastLayerLaplace {
    /// This posterior with its feature passes on the kernel variants and
    /// threads of `ctx` (by default [`Context::default`]; the same bits on
    /// any thread count).
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// Its feature passes on the kernel variants and threads of `ctx`.
    pub fn set_context(&mut self, ctx: Context) {
        self.context = ctx;
    }

    /// Last-layer Laplace for a trained classifier whose network ends in a
    /// [`Linear`] layer producing the logits. The posterior is fitted by
    /// [`LastLayerLaplace::fit`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the network's last layer is not a
    /// `Linear`; [`Error::ShapeMismatch`] when it does not produce one logit per class.
    pub fn from_classifier(c: Classifier<Sequential>) -> Result<LastLayerLaplace> {
        let (body, last_name, last, weight, bias) = split(c.net)?;
        same_outputs(&weight, c.class_names.len(), "classes")?;
        body.set_training(false);
        Ok(LastLayerLaplace {
            body,
            last_name,
            last,
            weight,
            bias,
            task: Task::Classification { class_names: c.class_names },
            x_scale: c.x_scale,
            curvature: None,
            prior_precision: 1.0,
            context: Context::default(),
        })
    }

    /// Last-layer Laplace for a trained regressor (its learned noise level
    /// is the likelihood's) whose network ends in a [`Linear`] layer.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the network's last layer is not a
    /// `Linear`; [`Error::ShapeMismatch`] when it does not produce one value
    /// per output; device errors reading the noise.
    pub fn from_regressor(r: Regressor<Sequential>) -> Result<LastLayerLaplace> {
        let noise_std: Vec<f64> = r.log_noise.value().to_vec()?.iter().map(|l| (*l as f64).exp()).collect();
        let (body, last_name, last, weight, bias) = split(r.net)?;
        same_outputs(&weight, noise_std.len(), "outputs (noise levels)")?;
        body.set_training(false);
        Ok(LastLayerLaplace {
            body,
            last_name,
            last,
            weight,
            bias,
            task: Task::Regression { noise_std, y_scale: r.y_scale },
            x_scale: r.x_scale,
            curvature: None,
            prior_precision: 1.0,
            context: Context::default(),
        })
    }

    /// The network back, whole (its weights are the trained ones: the
    /// Laplace posterior is centred on them and changes none).
    pub fn into_network(self) -> Sequential {
        self.body.push_named_boxed(self.last_name, self.last)
    }

    /// The last layer's outputs k.
    pub fn outputs(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Weights in the last layer's posterior, k(d + 1) with a bias.
    pub fn posterior_size(&self) -> usize {
        self.outputs() * self.width()
    }

    fn width(&self) -> usize {
        self.weight.shape()[1] + usize::from(self.bias.is_some())
    }

    /// The prior precision λ (set by [`LastLayerLaplace::fit`] or by hand).
    pub fn prior_precision(&self) -> f64 {
        self.prior_precision
    }

    /// Sets λ by hand (after [`LastLayerLaplace::fit`], to override the
    /// marginal-likelihood choice).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless λ > 0 and finite.
    pub fn set_prior_precision(&mut self, lambda: f64) -> Result<()> {
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(Error::invalid("prior precision", format!("{lambda}: must be positive and finite")));
        }
        self.prior_precision = lambda;
        Ok(())
    }

    /// The features φ̃ (with the bias's 1) of inputs `x` in original units, `[n, d(+1)]` in f64.
    fn features(&self, x: &Tensor) -> Result<(usize, Vec<f64>)> {
        let n = example_count("LastLayerLaplace (inputs vs the training inputs' features)", x, self.x_scale.as_ref())?;
        let xs = host_scaled(x, self.x_scale.as_ref())?;
        let device = self.weight.value().device();
        let d = self.weight.shape()[1];
        let w = self.width();
        let mut out = Vec::with_capacity(n * w);
        let all: Vec<usize> = (0..n).collect();
        for rows in all.chunks(CHUNK_ROWS) {
            let tape = Tape::predict(0).with_context(self.context.clone());
            let h = self.body.forward(&tape.constant(take_rows(&xs, rows)?.to(device)?))?;
            if h.shape() != [rows.len(), d] {
                return Err(Error::ShapeMismatch {
                    op: "LastLayerLaplace (features vs the last layer's inputs)",
                    lhs: h.shape().to_vec(),
                    rhs: vec![rows.len(), d],
                });
            }
            let v = h.value().to_vec()?;
            for r in v.chunks(d) {
                out.extend(r.iter().map(|&a| a as f64));
                if self.bias.is_some() {
                    out.push(1.0);
                }
            }
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "last-layer features".into() });
        }
        Ok((n, out))
    }

    /// The MAP outputs f* = Wφ̃ of a feature row.
    fn map_outputs(&self, w: &[f64], phi: &[f64]) -> Vec<f64> {
        w.chunks(phi.len()).map(|row| row.iter().zip(phi).map(|(a, b)| a * b).sum()).collect()
    }

    /// θ* = (W, b) output by output, in f64.
    fn theta(&self) -> Result<Vec<f64>> {
        let (k, d) = (self.outputs(), self.weight.shape()[1]);
        let w = self.weight.value().to_vec()?;
        let b = match &self.bias {
            Some(b) => Some(b.value().to_vec()?),
            None => None,
        };
        let mut t = Vec::with_capacity(self.posterior_size());
        for o in 0..k {
            t.extend(w[o * d..(o + 1) * d].iter().map(|&v| v as f64));
            if let Some(b) = &b {
                t.push(b[o] as f64);
            }
        }
        Ok(t)
    }

    /// The loss Hessian in the outputs at one example: `k × k` row-major.
    fn output_hessian(&self, f: &[f64]) -> Vec<f64> {
        let k = f.len();
        let mut h = vec![0f64; k * k];
        match &self.task {
            Task::Regression { noise_std, .. } => {
                for o in 0..k {
                    h[o * k + o] = 1.0 / (noise_std[o] * noise_std[o]);
                }
            }
            Task::Classification { .. } => {
                let p = softmax(f);
                for a in 0..k {
                    for b in 0..k {
                        h[a * k + b] = if a == b { p[a] } else { 0.0 } - p[a] * p[b];
                    }
                }
            }
        }
        h
    }

    /// Fits the posterior on the training inputs `x` (original units; the
    /// curvature needs no labels) and chooses λ by the marginal likelihood.
    /// Returns λ.
    ///
    /// # Errors
    /// Shape errors; [`Error::NonFinite`] for non-finite features;
    /// [`Error::InvalidArgument`] when the trained last layer's weights are
    /// all zero (the marginal likelihood then has no finite optimum), when
    /// its update does not settle above its floor (then set λ by hand with
    /// [`LastLayerLaplace::set_prior_precision`]), or for `Full` above
    /// [`FULL_LIMIT`] weights.
    pub fn fit(&mut self, x: &Tensor, structure: LaplaceStructure) -> Result<f64> {
        let (n, phi) = self.features(x)?;
        let (k, w) = (self.outputs(), self.width());
        let p = k * w;
        let theta = self.theta()?;
        let full = match structure {
            LaplaceStructure::Auto => p <= FULL_MAX_PARAMS,
            LaplaceStructure::Full if p > FULL_LIMIT => {
                return Err(Error::invalid(
                    "LaplaceStructure::Full",
                    format!(
                        "{p} last-layer weights: the full GGN would hold {p}² values; use Kron (or Auto) above {FULL_LIMIT}"
                    ),
                ))
            }
            LaplaceStructure::Full => true,
            LaplaceStructure::Kron => false,
        };
        let curvature = if full {
            let mut g = vec![0f64; p * p];
            for row in phi.chunks(w) {
                let h = self.output_hessian(&self.map_outputs(&theta, row));
                for a in 0..k {
                    for b in 0..k {
                        let hab = h[a * k + b];
                        if hab == 0.0 {
                            continue;
                        }
                        for i in 0..w {
                            let base = (a * w + i) * p + b * w;
                            let s = hab * row[i];
                            for j in 0..w {
                                g[base + j] += s * row[j];
                            }
                        }
                    }
                }
            }
            let (g, v) = sym_eigen(&g, p);
            Curvature::Full { g: g.into_iter().map(|e| e.max(0.0)).collect(), v }
        } else {
            let (mut hm, mut am) = (vec![0f64; k * k], vec![0f64; w * w]);
            for row in phi.chunks(w) {
                for (s, h) in hm.iter_mut().zip(self.output_hessian(&self.map_outputs(&theta, row))) {
                    *s += h;
                }
                for i in 0..w {
                    for j in 0..w {
                        am[i * w + j] += row[i] * row[j];
                    }
                }
            }
            // n·mean(H) ⊗ mean(φ̃φ̃ᵀ) = (ΣH) ⊗ (Σφ̃φ̃ᵀ) / n.
            am.iter_mut().for_each(|v| *v /= n as f64);
            let (h, uh) = sym_eigen(&hm, k);
            let (a, ua) = sym_eigen(&am, w);
            Curvature::Kron {
                h: h.into_iter().map(|e| e.max(0.0)).collect(),
                uh,
                a: a.into_iter().map(|e| e.max(0.0)).collect(),
                ua,
            }
        };
        let eigen: Vec<f64> = match &curvature {
            Curvature::Full { g, .. } => g.clone(),
            Curvature::Kron { h, a, .. } => h.iter().flat_map(|hi| a.iter().map(move |aj| hi * aj)).collect(),
        };
        let norm2: f64 = theta.iter().map(|t| t * t).sum();
        if norm2 == 0.0 || !norm2.is_finite() {
            return Err(Error::invalid(
                "last layer",
                "its weights are all zero: the prior precision has no finite optimum",
            ));
        }
        let mut lambda = 1.0f64;
        let mut converged = false;
        for _ in 0..10_000 {
            let gamma: f64 = eigen.iter().map(|g| g / (g + lambda)).sum();
            let next = (gamma / norm2).max(LAMBDA_FLOOR);
            converged = (next - lambda).abs() <= 1e-12 * lambda;
            lambda = next;
            if converged {
                break;
            }
        }
        // At the floor the data determine no weight (γ ≈ 0): the posterior
        // would be the prior's, with variances of order 1/floor.
        if !converged || lambda <= LAMBDA_FLOOR {
            return Err(Error::invalid(
                "prior precision",
                format!(
                    "the marginal likelihood's fixed point {} (λ = {lambda:e}): the curvature carries no information; set λ with set_prior_precision",
                    if converged { "is at the floor" } else { "was not reached in 10,000 steps" }
                ),
            ));
        }
        self.curvature = Some(curvature);
        self.set_prior_precision(lambda)?;
        Ok(lambda)
    }

    /// The Laplace approximation of the log marginal likelihood at prior
    /// precision λ, up to terms that do not depend on λ:
    /// −½λ‖θ*‖² + (P/2)ln λ − ½ ln det(GGN + λI).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] before [`LastLayerLaplace::fit`] or for λ ≤ 0.
    pub fn log_evidence_terms(&self, lambda: f64) -> Result<f64> {
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(Error::invalid("prior precision", format!("{lambda}: must be positive and finite")));
        }
        let theta = self.theta()?;
        let norm2: f64 = theta.iter().map(|t| t * t).sum();
        let logdet: f64 = match self.curvature()? {
            Curvature::Full { g, .. } => g.iter().map(|g| (g + lambda).ln()).sum(),
            Curvature::Kron { h, a, .. } => {
                h.iter().flat_map(|hi| a.iter().map(move |aj| (hi * aj + lambda).ln())).sum()
            }
        };
        Ok(-0.5 * lambda * norm2 + 0.5 * theta.len() as f64 * lambda.ln() - 0.5 * logdet)
    }

    fn curvature(&self) -> Result<&Curvature> {
        self.curvature
            .as_ref()
            .ok_or_else(|| Error::invalid("LastLayerLaplace", "not fitted: call fit on the training inputs first"))
    }

    /// The MAP outputs `[n, k]` and each example's output covariance J Σ Jᵀ (`k × k`).
    fn output_moments(&self, x: &Tensor) -> Result<(Vec<Vec<f64>>, Vec<Vec<f64>>)> {
        let curvature = self.curvature()?;
        let (_, phi) = self.features(x)?;
        let (k, w) = (self.outputs(), self.width());
        let theta = self.theta()?;
        let lambda = self.prior_precision;
        let mut means = Vec::new();
        let mut covs = Vec::new();
        for row in phi.chunks(w) {
            means.push(self.map_outputs(&theta, row));
            let mut cov = vec![0f64; k * k];
            match curvature {
                Curvature::Full { g, v } => {
                    let p = k * w;
                    // (J V)[o, m] = Σᵢ φ̃ᵢ V[(o, i), m].
                    let mut jv = vec![0f64; k * p];
                    for o in 0..k {
                        for (i, &f) in row.iter().enumerate() {
                            let vr = &v[(o * w + i) * p..(o * w + i + 1) * p];
                            for (acc, &vv) in jv[o * p..(o + 1) * p].iter_mut().zip(vr) {
                                *acc += f * vv;
                            }
                        }
                    }
                    for a in 0..k {
                        for b in a..k {
                            let s: f64 = (0..p).map(|m| jv[a * p + m] * jv[b * p + m] / (g[m] + lambda)).sum();
                            cov[a * k + b] = s;
                            cov[b * k + a] = s;
                        }
                    }
                }
                Curvature::Kron { h, uh, a, ua } => {
                    // c = U_Aᵀ φ̃; cov[o, o'] = Σᵢⱼ U_H[o,i] U_H[o',i] cⱼ² / (hᵢaⱼ + λ).
                    let c2: Vec<f64> =
                        (0..w).map(|j| (0..w).map(|i| ua[i * w + j] * row[i]).sum::<f64>().powi(2)).collect();
                    let t: Vec<f64> =
                        h.iter().map(|hi| c2.iter().zip(a).map(|(c, aj)| c / (hi * aj + lambda)).sum()).collect();
                    for o in 0..k {
                        for q in o..k {
                            let s: f64 = (0..k).map(|i| uh[o * k + i] * uh[q * k + i] * t[i]).sum();
                            cov[o * k + q] = s;
                            cov[q * k + o] = s;
                        }
                    }
                }
            }
            covs.push(cov);
        }
        Ok((means, covs))
    }

    fn class_count(&self, op: &'static str) -> Result<usize> {
        match &self.task {
            Task::Classification { class_names } => Ok(class_names.len()),
            Task::Regression { .. } => Err(Error::invalid(op, "this Laplace posterior is a regressor's")),
        }
    }

    /// Class probabilities by the probit approximation: softmax of the MAP
    /// logits each scaled by 1/√(1 + π/8·their variance). One pass, no
    /// draws; the prediction's `draws` holds the one probability vector,
    /// so its mutual information is zero (use
    /// [`LastLayerLaplace::predict_sampled`] for that).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] before [`LastLayerLaplace::fit`] or for a
    /// regressor's posterior; shape errors.
    pub fn predict_probit(&self, x: &Tensor) -> Result<ClassPrediction> {
        let k = self.class_count("predict_probit")?;
        let (means, covs) = self.output_moments(x)?;
        let mut probs = Vec::with_capacity(means.len() * k);
        for (f, c) in means.iter().zip(&covs) {
            let scaled: Vec<f64> = f
                .iter()
                .enumerate()
                .map(|(o, v)| v / (1.0 + std::f64::consts::PI / 8.0 * c[o * k + o]).sqrt())
                .collect();
            probs.extend(softmax(&scaled).iter().map(|&p| p as f32));
        }
        ClassPrediction::from_draws(k, vec![probs])
    }

    /// Class probabilities averaged over `draws` draws of the logits from
    /// their Gaussian N(f*, JΣJᵀ), draw i named by (`seed`, i); entropy and
    /// mutual information as for any sampled classifier.
    ///
    /// # Errors
    /// As [`LastLayerLaplace::predict_probit`]; [`Error::InvalidArgument`] for `draws == 0`.
    pub fn predict_sampled(&self, x: &Tensor, draws: usize, seed: u64) -> Result<ClassPrediction> {
        let k = self.class_count("predict_sampled")?;
        if draws == 0 {
            return Err(Error::invalid("draws", "0: at least one draw is needed"));
        }
        let (means, covs) = self.output_moments(x)?;
        let chols: Vec<Vec<f64>> = covs.iter().map(|c| cholesky(c, k, 0.0)).collect();
        let mut out = Vec::with_capacity(draws);
        for s in 0..draws {
            let mut rng = StdRng::seed_from_u64(draw_seed(seed, s as u64));
            let mut probs = Vec::with_capacity(means.len() * k);
            for (f, l) in means.iter().zip(&chols) {
                let z: Vec<f64> = (0..k).map(|_| StandardNormal.sample(&mut rng)).collect();
                let logits: Vec<f64> =
                    (0..k).map(|o| f[o] + (0..=o).map(|j| l[o * k + j] * z[j]).sum::<f64>()).collect();
                probs.extend(softmax(&logits).iter().map(|&p| p as f32));
            }
            out.push(probs);
        }
        ClassPrediction::from_draws(k, out)
    }

    /// The Gaussian predictive distribution N(f*, JΣJᵀ + σ²) of a regressor's
    /// posterior, in the targets' units: epistemic std from JΣJᵀ, aleatoric
    /// from the learned noise; `draws` holds the one mean vector.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] before [`LastLayerLaplace::fit`] or for a
    /// classifier's posterior; shape errors.
    pub fn predict_regression(&self, x: &Tensor) -> Result<RegressionPrediction> {
        let Task::Regression { noise_std, y_scale } = &self.task else {
            return Err(Error::invalid("predict_regression", "this Laplace posterior is a classifier's"));
        };
        let k = self.outputs();
        let (means, covs) = self.output_moments(x)?;
        let n = means.len();
        let scale = |o: usize| y_scale.as_ref().map_or(1.0, |s| s.std[o] as f64);
        let mut p = RegressionPrediction {
            outputs: k,
            mean: Vec::with_capacity(n * k),
            std: Vec::with_capacity(n * k),
            epistemic_std: Vec::with_capacity(n * k),
            aleatoric_std: Vec::with_capacity(n * k),
            lower_2sd: Vec::with_capacity(n * k),
            upper_2sd: Vec::with_capacity(n * k),
            draws: Vec::new(),
        };
        for (f, c) in means.iter().zip(&covs) {
            for o in 0..k {
                let epi = c[o * k + o].max(0.0).sqrt() * scale(o);
                let ale = noise_std[o] * scale(o);
                p.mean.push(f[o] as f32);
                p.epistemic_std.push(epi as f32);
                p.aleatoric_std.push(ale as f32);
                p.std.push((epi * epi + ale * ale).sqrt() as f32);
            }
        }
        if let Some(s) = y_scale {
            s.unapply(&mut p.mean)?;
        }
        for (m, s) in p.mean.iter().zip(&p.std) {
            p.lower_2sd.push(m - 2.0 * s);
            p.upper_2sd.push(m + 2.0 * s);
        }
        p.draws = vec![p.mean.clone()];
        Ok(p)
    }

    /// The fitted curvature, if [`LastLayerLaplace::fit`] (or
    /// [`LastLayerLaplace::set_curvature`]) has run.
    pub fn curvature_parts(&self) -> Option<&Curvature> {
        self.curvature.as_ref()
    }

    /// Sets a posterior saved from this network ([`LastLayerLaplace::curvature_parts`]
    /// and [`LastLayerLaplace::prior_precision`]) instead of fitting one.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for sizes that are not this layer's
    /// (p = k(d + 1) eigenvalues and p × p vectors, or k, k × k, d + 1 and
    /// (d + 1)² for the factors), a value that is not finite, a negative
    /// eigenvalue, or λ not positive and finite.
    pub fn set_curvature(&mut self, curvature: Curvature, lambda: f64) -> Result<()> {
        let (k, w) = (self.outputs(), self.width());
        let p = k * w;
        let sizes: Vec<(&[f64], usize, bool)> = match &curvature {
            Curvature::Full { g, v } => vec![(g, p, true), (v, p * p, false)],
            Curvature::Kron { h, uh, a, ua } => {
                vec![(h, k, true), (uh, k * k, false), (a, w, true), (ua, w * w, false)]
            }
        };
        for (i, (values, len, eigen)) in sizes.into_iter().enumerate() {
            if values.len() != len {
                return Err(Error::invalid(
                    "curvature",
                    format!("part {i}: {} values, the layer needs {len}", values.len()),
                ));
            }
            if let Some(v) = values.iter().find(|v| !v.is_finite() || (eigen && **v < 0.0)) {
                return Err(Error::invalid("curvature", format!("part {i}: {v} (finite, eigenvalues ≥ 0)")));
            }
        }
        self.set_prior_precision(lambda)?;
        self.curvature = Some(curvature);
        Ok(())
    }

    /// The last layer's parameters by name, as the whole network names them.
    pub fn last_layer_params(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        self.last.visit_params(&self.last_name, &mut |n, p| out.push((n.to_string(), p.clone())));
        out
    }
}

fn softmax(f: &[f64]) -> Vec<f64> {
    let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = f.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}
