//! # 4. From one weight to a layer
//!
//! ## The objective: the ELBO
//!
//! A Bayesian layer keeps a posterior q(w) = Π N(mu_i, sigma_i²) over all
//! its weights. Bayes by Backprop (Blundell et al. 2015) fits it by
//! maximising the evidence lower bound on data D of N examples:
//!
//! ```text
//! ELBO(q) = E_q[ln p(D | w)] − KL(q ‖ p)
//!         = Σ_{i=1..N} E_q[ln p(y_i | x_i, w)] − KL(q ‖ p)
//! ```
//!
//! The first term rewards fitting the data; the second, the *complexity
//! cost*, keeps q close to the prior p. The expectation is estimated with the
//! trick of chapter 2 — one weight draw per forward pass — so the gradient
//! of the whole thing flows to every (mu, rho).
//!
//! ## The KL, two ways
//!
//! Against a zero-mean Gaussian prior N(0, s²) the KL has a closed form per
//! weight, ln(s/sigma) + (sigma² + mu²)/(2s²) − ½
//! ([`gaussian_kl`](crate::kernels::reference::reparam::gaussian_kl)). For
//! any other prior, BLiTZ's way is Monte Carlo: at the drawn w,
//! ln q(w) − ln p(w) ([`mc_kl_term`](crate::kernels::reference::reparam::mc_kl_term)),
//! whose mean over draws is the KL. Both, on one weight:
//!
//! ```
//! use blitz::kernels::reference::reparam::{gaussian_kl, mc_kl_term, normal};
//! use blitz::kernels::PriorSpec;
//! let (mu, rho, s) = (0.4f32, -1.0f32, 0.5f32);
//! let n = 50_000;
//! let prior = PriorSpec::Gaussian { sigma: s };
//! let mc = (0..n).map(|j| mc_kl_term(mu, rho, normal(9, j), prior)).sum::<f64>() / n as f64;
//! let exact = gaussian_kl(mu, rho, s);
//! assert!((mc - exact).abs() < 0.01, "Monte Carlo {mc} vs closed form {exact}");
//! ```
//!
//! In a layer: [`KlMode::ClosedForm`](crate::layers::KlMode::ClosedForm)
//! (lower variance, Gaussian priors) or
//! [`KlMode::MonteCarlo`](crate::layers::KlMode::MonteCarlo) (BLiTZ's
//! default, any prior), chosen per layer.
//!
//! ## The priors
//!
//! ln p is a sum over weights. A Gaussian is ln N(w; 0, s²). BLiTZ's default
//! family is the scale mixture pi·N(0, s1²) + (1 − pi)·N(0, s2²): a narrow
//! component pulls small weights to 0, a wide one lets large weights be.
//! Its log-density must be computed as a log-sum-exp of the two weighted
//! log-densities, ln(e^a + e^b) = max(a, b) + ln(1 + e^−|a−b|): the
//! densities themselves underflow. BLiTZ instead adds 1e-6 to the density
//! before the logarithm, which changes the gradient: as soon as p(w) falls
//! well below 1e-6 (|w| > ~0.5 with BLiTZ's default s1 = 0.1), ln(p + 1e-6) is flat and the
//! prior stops pulling the weight back.
//!
//! ```
//! use blitz::kernels::reference::reparam::{log_prior, log_prior_grad};
//! use blitz::kernels::PriorSpec;
//! // BLiTZ's default prior: pi = 1, so N(0, 0.1²).
//! let prior = PriorSpec::ScaleMixture { pi: 1.0, sigma1: 0.1, sigma2: 0.4 };
//! let w = 0.8f64;
//! let (lp, dlp) = (log_prior(w, prior), log_prior_grad(w, prior));
//! assert!((dlp - (-w / 0.01)).abs() < 1e-3); // the true pull back to 0: −w/s1² = −80
//! // BLiTZ's ln(p + 1e-6): the same pull, divided by 1 + 1e-6/p.
//! let p = lp.exp();
//! let blitz_grad = p * dlp / (p + 1e-6);
//! println!("p(w) = {p:.2e}: d ln p/dw = {dlp:.2}, d ln(p + 1e-6)/dw = {blitz_grad:.5}");
//! assert!(blitz_grad.abs() < 1e-3 * dlp.abs(), "the +1e-6 all but removes the prior's gradient");
//! ```
//!
//! ## The KL weight, and why BLiTZ models often do not learn
//!
//! Divide the ELBO by N and estimate the sum over examples with a minibatch
//! mean: the loss to minimise per step is
//!
//! ```text
//! mean over the batch of −ln p(y_i | x_i, w)  +  KL / N
//! ```
//!
//! So the complexity cost's weight is 1/N, N the size of the training set.
//! BLiTZ's `sample_elbo` defaults to a weight of 1 with a batch-mean
//! likelihood: that is the ELBO of a data set of *one* example, and its
//! optimum is close to the prior — the model "does not learn" (BLiTZ issue
//! #108, a question its users keep asking). blitz's
//! `sample_elbo` takes the weight explicitly and its examples pass 1/N.
//!
//! Bayesian linear regression y = 3x + noise, 256 examples, prior N(0, 1),
//! trained both ways:
//!
//! ```
//! use blitz::prelude::*;
//! use rand::{rngs::StdRng, SeedableRng};
//! let n = 256;
//! let xs: Vec<f32> = (0..n).map(|i| (i as f32 / n as f32) * 3.46 - 1.73).collect(); // E[x²] ≈ 1
//! let ys: Vec<f32> = xs.iter().enumerate().map(|(i, x)| 3.0 * x + 0.1 * ((i * 7919 % 13) as f32 - 6.0) / 6.0).collect();
//! let (x, y) = (Tensor::from_vec(xs, &[n, 1])?, Tensor::from_vec(ys, &[n, 1])?);
//! let fit = |kl_weight: f32| -> Result<(f32, f32)> {
//!     let options = BayesianLinearOptions {
//!         prior: Some(std::sync::Arc::new(Gaussian::new(1.0)?)),
//!         kl: KlMode::ClosedForm,
//!         bias: false,
//!         posterior_rho_init: -3.0,
//!         ..Default::default()
//!     };
//!     let layer = BayesianLinear::with_options(1, 1, options, &mut StdRng::seed_from_u64(0))?;
//!     let mut opt = Adam::new(0.05)?;
//!     for step in 0..300 {
//!         let tape = Tape::new(step);
//!         let pred = layer.forward(&tape.constant(x.clone()))?;
//!         let nll = loss::mse(&pred, &tape.constant(y.clone()))?;
//!         let loss = nll.add(&tape.complexity()?.mul_scalar(kl_weight)?)?;
//!         opt.step(&tape.backward(&loss)?)?;
//!     }
//!     let (mu, rho) = layer.weight();
//!     let rho = rho.value().item()?;
//!     Ok((mu.value().item()?, (1.0 + rho.exp()).ln()))
//! };
//! let (mu_1, sigma_1) = fit(1.0)?; // BLiTZ's default
//! let (mu_n, sigma_n) = fit(1.0 / n as f32)?; // per-example likelihood + KL / N
//! println!("weight 1:   w ~ N({mu_1:.2}, {sigma_1:.3}²)");
//! println!("weight 1/N: w ~ N({mu_n:.2}, {sigma_n:.3}²)");
//! assert!((mu_n - 3.0).abs() < 0.1 && sigma_n < 0.1, "1/N learns the slope, and is sure of it");
//! assert!(mu_1 < 2.5 && sigma_1 > 0.3, "weight 1: shrunk to the prior and unsure");
//! # Ok::<(), blitz::prelude::Error>(())
//! ```
//!
//! (It prints N(3.00, 0.043²) for 1/N — the mean squared error is the
//! Gaussian negative log-likelihood with noise variance ½, so the exact
//! posterior is about N(3, 0.044²) — and N(2.08, 0.49²) for weight 1, on
//! its way to the optimum of that objective, mu = 2, sigma = 0.58: the prior
//! wins as if there were one example. With many weights the effect is stronger:
//! a 13-50-1 network has 700 KL terms against one mean likelihood.)
