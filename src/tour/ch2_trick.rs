//! # 2. The trick
//!
//! A Bayesian layer does not hold one value per weight but a distribution,
//! here a Gaussian q(w) = N(mu, sigma²). Training has to move (mu, sigma) to
//! lower an *expected* loss, E_{w~q}[f(w)]. Its gradient is not obvious: a
//! random draw w looks like it has no derivative with respect to mu.
//!
//! ## Write the draw as a function
//!
//! Draw the randomness first, from a distribution that does not depend on
//! the parameters, then transform it:
//!
//! ```text
//! eps ~ N(0, 1),   sigma = softplus(rho) = ln(1 + e^rho),   w = mu + sigma·eps.
//! ```
//!
//! w has the law N(mu, sigma²) — shifting and scaling a standard normal —
//! and, for a fixed eps, it is an ordinary differentiable function of
//! (mu, rho). (rho is the parameter, not sigma, so that any real number
//! gives a positive sigma.) By hand:
//!
//! ```text
//! ∂w/∂mu  = 1
//! ∂w/∂rho = eps · softplus'(rho) = eps · sigmoid(rho)      (softplus' = 1 / (1 + e^−rho))
//! ```
//!
//! ## Why a sample has a gradient at all
//!
//! Because the distribution of eps does not move with (mu, rho), the
//! expectation is over a fixed distribution and the derivative goes inside:
//!
//! ```text
//! ∂/∂mu E_{w~q}[f(w)] = ∂/∂mu E_eps[f(mu + sigma·eps)] = E_eps[f'(w) · ∂w/∂mu]
//! ```
//!
//! So the gradient of f at *one* sample, f'(w)·∂w/∂mu, is an unbiased
//! estimate of the gradient of the expectation; averaging more samples only
//! narrows it. That is the reparameterisation trick (Kingma & Welling 2014;
//! Blundell et al. 2015 for weights). The one-line formula in code is
//! [`reference::reparam::sample`](crate::kernels::reference::reparam::sample),
//! in `kernels/src/reference/reparam.rs` — the file to open next.
//!
//! ## The derivatives, checked
//!
//! eps is named by (seed, j) ([`normal`](crate::kernels::reference::reparam::normal)),
//! so "the same eps" is just "the same name": a finite difference in mu or
//! rho with the name held fixed is the derivative at fixed eps.
//!
//! ```
//! use blitz::kernels::reference::reparam::{normal, sample, sample_grad, sigmoid};
//! let (mu, rho) = (0.3f32, -1.0f32);
//! let eps = normal(42, 7); // the normal named (seed 42, element 7): always the same
//! let w = sample(mu, rho, eps); // mu + softplus(rho)·eps
//! let (dw_dmu, dw_drho) = sample_grad(rho, eps);
//! assert_eq!((dw_dmu, dw_drho), (1.0, eps * sigmoid(rho)));
//! let h = 1e-2f32;
//! let fd_mu = (sample(mu + h, rho, eps) - sample(mu - h, rho, eps)) / (2.0 * h);
//! let fd_rho = (sample(mu, rho + h, eps) - sample(mu, rho - h, eps)) / (2.0 * h);
//! assert!((fd_mu - dw_dmu).abs() < 1e-3 && (fd_rho - dw_drho).abs() < 1e-3, "{fd_rho} vs {dw_drho}");
//! # let _ = w;
//! ```
//!
//! The same through the tape, with [`gradcheck`](crate::autograd::gradcheck::gradcheck),
//! on the fused op the layers use ([`Var::reparam_sample`](crate::autograd::Var::reparam_sample))
//! and on the reference op ([`Var::reference_sample`](crate::autograd::Var::reference_sample)).
//! They draw the same weights, bit for bit:
//!
//! ```
//! use blitz::autograd::gradcheck::{gradcheck, GradcheckOptions};
//! use blitz::prelude::*;
//! let mu = Tensor::from_vec(vec![0.1, -0.4, 0.8, 0.0], &[2, 2])?;
//! let rho = Tensor::from_vec(vec![-1.0, 0.5, -3.0, 0.0], &[2, 2])?;
//! let opts = GradcheckOptions { step: 1e-3, ..Default::default() };
//! gradcheck(&[mu.clone(), rho.clone()], |v| v[0].reparam_sample(&v[1], 42, 0), opts)?;
//! gradcheck(&[mu.clone(), rho.clone()], |v| v[0].reference_sample(&v[1], 42, 0), opts)?;
//!
//! let tape = Tape::new(0);
//! let (m, r) = (tape.constant(mu), tape.constant(rho));
//! let fused = m.reparam_sample(&r, 42, 0)?.value().to_vec()?;
//! let reference = m.reference_sample(&r, 42, 0)?.value().to_vec()?;
//! assert_eq!(fused, reference);
//! # Ok::<(), blitz::prelude::Error>(())
//! ```
//!
//! ## Unbiased, by experiment
//!
//! f(w) = w² with w ~ N(mu, sigma²): E\[f\] = mu² + sigma², so the exact
//! ∂/∂mu is 2mu. The average of the one-sample estimates f'(w)·∂w/∂mu = 2w
//! over many names comes within a few standard errors of it:
//!
//! ```
//! use blitz::kernels::reference::reparam::{normal, sample, sample_grad};
//! let (mu, rho) = (1.5f32, -0.4328f32); // softplus(rho) ≈ 0.5
//! let n = 20_000;
//! let g: Vec<f64> = (0..n)
//!     .map(|j| {
//!         let eps = normal(1, j);
//!         let w = sample(mu, rho, eps);
//!         (2.0 * w * sample_grad(rho, eps).0) as f64 // f'(w)·∂w/∂mu
//!     })
//!     .collect();
//! let mean = g.iter().sum::<f64>() / n as f64;
//! let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
//! let se = (var / n as f64).sqrt();
//! assert!((mean - 3.0).abs() < 3.0 * se, "{mean} ± {se}");
//! ```
