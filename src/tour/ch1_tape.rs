//! # 1. Reverse-mode AD on a tape
//!
//! Training needs the gradient of one number (the loss) with respect to
//! many (the parameters). Reverse-mode automatic differentiation gets all of
//! them for about the cost of one more evaluation, in two passes:
//!
//! - **forward**: evaluate the function one elementary operation at a time
//!   and write each operation down — its output and which earlier entries it
//!   read. This list is a *Wengert list*, or *tape*.
//! - **backward**: walk the list in reverse. Each entry receives the
//!   gradient of the loss with respect to its output (the *adjoint*) and
//!   passes it to its inputs, multiplied by its local derivative — the chain
//!   rule, one entry at a time. Inputs read by several entries add up what
//!   they receive.
//!
//! Because an entry only reads earlier entries, the reverse order is already
//! a valid order for the chain rule: no graph search is needed.
//!
//! ## A tape in twenty lines
//!
//! f(x, y) = x·y + exp(x), by hand. ∂f/∂x = y + exp(x), ∂f/∂y = x.
//!
//! ```
//! /// One entry: which earlier entries it read, and ∂output/∂input for each.
//! struct Entry {
//!     inputs: Vec<(usize, f64)>,
//! }
//! let mut tape: Vec<Entry> = Vec::new();
//! let mut values: Vec<f64> = Vec::new();
//! let mut push = |value: f64, inputs: Vec<(usize, f64)>| {
//!     values.push(value);
//!     tape.push(Entry { inputs });
//!     values.len() - 1
//! };
//! // Forward: each line records its value and local derivatives.
//! let (x, y) = (push(1.5, vec![]), push(-2.0, vec![]));
//! let (xv, yv) = (1.5f64, -2.0f64);
//! let xy = push(xv * yv, vec![(x, yv), (y, xv)]); // ∂(xy)/∂x = y, ∂(xy)/∂y = x
//! let ex = push(xv.exp(), vec![(x, xv.exp())]); // ∂exp(x)/∂x = exp(x)
//! let f = push(xv * yv + xv.exp(), vec![(xy, 1.0), (ex, 1.0)]);
//!
//! // Backward: one reverse loop over the list.
//! let mut adjoint = vec![0.0; tape.len()];
//! adjoint[f] = 1.0;
//! for i in (0..tape.len()).rev() {
//!     for &(input, local) in &tape[i].inputs {
//!         adjoint[input] += adjoint[i] * local;
//!     }
//! }
//! assert!((adjoint[x] - (yv + xv.exp())).abs() < 1e-12);
//! assert!((adjoint[y] - xv).abs() < 1e-12);
//! ```
//!
//! ## The same on blitz's tape
//!
//! [`Tape`](crate::autograd::Tape) is that list for tensors; a
//! [`Var`](crate::autograd::Var) is a handle to one entry, and each method
//! (`mul`, `exp`, `matmul`, ...) appends an entry holding its *backward
//! rule*. [`Tape::backward`](crate::autograd::Tape::backward) is the reverse
//! loop (read it in `autograd/src/tape.rs`).
//!
//! ```
//! use blitz::prelude::*;
//! let tape = Tape::new(0);
//! let x = tape.leaf(Tensor::scalar(1.5));
//! let y = tape.leaf(Tensor::scalar(-2.0));
//! let f = x.mul(&y)?.add(&x.exp()?)?;
//! assert_eq!(tape.len(), 5); // x, y, x·y, exp(x), the sum: the Wengert list
//! let grads = tape.backward(&f)?;
//! let dx = grads.wrt(&x).unwrap().item()?;
//! assert!((dx - (-2.0 + 1.5f32.exp())).abs() < 1e-5);
//! assert_eq!(grads.wrt(&y).unwrap().item()?, 1.5);
//! # Ok::<(), blitz::prelude::Error>(())
//! ```
//!
//! ## Checking a gradient by finite differences
//!
//! A backward rule is easy to get subtly wrong (a sign, a factor of 2, a
//! broadcast axis). The check: perturb each input by ±h and compare
//! (f(x + h) − f(x − h)) / 2h, whose error is O(h²), with the analytic
//! gradient. [`gradcheck`](crate::autograd::gradcheck::gradcheck) does it
//! for every element; every op in blitz has such a test.
//!
//! ```
//! use blitz::autograd::gradcheck::{gradcheck, GradcheckOptions};
//! use blitz::prelude::*;
//! let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
//! let y = Tensor::from_vec(vec![1.0, 0.5, -0.7], &[3])?;
//! // f(x, y) = x·y + exp(x), element by element.
//! gradcheck(&[x, y], |v| v[0].mul(&v[1])?.add(&v[0].exp()?), GradcheckOptions::default())?;
//! # Ok::<(), blitz::prelude::Error>(())
//! ```
