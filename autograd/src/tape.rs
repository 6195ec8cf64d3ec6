//! The tape: a Wengert list. Every differentiable op appends one entry holding
//! its parents' positions and a backward rule that turns the gradient of its
//! output into gradients of its inputs. Parents always come earlier in the
//! list, so `backward` is a single reverse loop — no graph search, no hash map.
//!
//! The tape also names the random draws of a forward pass (seed, offset) and
//! collects the complexity cost (KL) that Bayesian layers add, so that modules
//! never store per-pass state.

use crate::{Param, Tensor, Var};
use blitz_kernels::{Context, Error, Result};
use std::cell::RefCell;
use std::rc::Rc;

/// A backward rule: given ∂L/∂output and which parents need a gradient,
/// return one (optional) gradient per parent, each of its parent's shape.
pub(crate) type BackwardFn = Box<dyn Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>>>;

struct Node {
    /// Positions of the parents that require gradients (None for constants).
    parents: Vec<Option<usize>>,
    /// None for leaves (parameters and inputs).
    backward: Option<BackwardFn>,
}

struct State {
    nodes: Vec<Node>,
    /// Parameters on this tape and their leaf positions (a parameter used
    /// twice is one leaf, so its gradients add up).
    params: Vec<(Param, usize)>,
    recording: bool,
    /// Whether Bayesian layers compute their complexity cost (off for prediction).
    complexity_wanted: bool,
    seed: u64,
    next_draw: u64,
    /// Complexity-cost terms added by Bayesian layers during this pass, kept
    /// as (value, position) rather than `Var` so the tape holds no handle to itself.
    complexity: Vec<(Tensor, Option<usize>)>,
    /// Which kernel variants and threads this tape's ops run with.
    context: Context,
}

/// A recording of one forward pass. Cheap to clone (a shared handle); not
/// `Send`: each thread records its own passes.
#[derive(Clone)]
pub struct Tape {
    state: Rc<RefCell<State>>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.borrow();
        write!(f, "Tape({} nodes, recording: {})", s.nodes.len(), s.recording)
    }
}

impl Tape {
    /// A recording tape whose random draws are named from `seed`.
    pub fn new(seed: u64) -> Tape {
        Self::with_mode(seed, true)
    }

    /// A tape that records nothing: ops compute values only, no backward rules
    /// are kept and nothing stays alive (inference).
    pub fn no_grad(seed: u64) -> Tape {
        Self::with_mode(seed, false)
    }

    /// A tape for prediction: records nothing, as [`Tape::no_grad`], and
    /// Bayesian layers draw their weights without computing the complexity
    /// cost (the KL of the draw: about half of a draw's work), so
    /// [`Tape::complexity`] stays 0. The draws are the same weights as on
    /// any tape of this seed.
    pub fn predict(seed: u64) -> Tape {
        let tape = Self::with_mode(seed, false);
        tape.state.borrow_mut().complexity_wanted = false;
        tape
    }

    fn with_mode(seed: u64, recording: bool) -> Tape {
        Tape {
            state: Rc::new(RefCell::new(State {
                nodes: Vec::new(),
                params: Vec::new(),
                recording,
                complexity_wanted: true,
                seed,
                next_draw: 0,
                complexity: Vec::new(),
                context: Context::default(),
            })),
        }
    }

    /// This tape with the kernel variants and threads of `ctx` (default:
    /// [`Context::default`], the fastest verified variants): every op on it,
    /// forward and backward, that has variants runs the ones `ctx` names.
    /// Two tapes with different contexts run side by side in one process.
    pub fn with_context(self, ctx: Context) -> Tape {
        self.state.borrow_mut().context = ctx;
        self
    }

    /// The kernel variants and threads of this tape's ops.
    pub fn context(&self) -> Context {
        self.state.borrow().context.clone()
    }

    /// Whether ops on this tape record backward rules.
    pub fn is_recording(&self) -> bool {
        self.state.borrow().recording
    }

    /// Whether Bayesian layers should compute their complexity cost on this
    /// tape (false only for [`Tape::predict`]).
    pub fn wants_complexity(&self) -> bool {
        self.state.borrow().complexity_wanted
    }

    /// Number of entries recorded.
    pub fn len(&self) -> usize {
        self.state.borrow().nodes.len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two handles refer to the same tape.
    pub fn same(&self, other: &Tape) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }

    /// A value that needs no gradient (data, labels).
    pub fn constant(&self, value: Tensor) -> Var {
        Var::from_parts(value, None, self.clone())
    }

    /// A value to differentiate with respect to (an input in a gradient check).
    pub fn leaf(&self, value: Tensor) -> Var {
        let node = self.push(Vec::new(), None);
        Var::from_parts(value, node, self.clone())
    }

    /// Puts a parameter on the tape (once: later calls return the same leaf).
    pub fn param(&self, p: &Param) -> Var {
        let existing = {
            let s = self.state.borrow();
            s.params.iter().find(|(q, _)| q.id() == p.id()).map(|&(_, i)| i)
        };
        if let Some(i) = existing {
            return Var::from_parts(p.value(), Some(i), self.clone());
        }
        let node = self.push(Vec::new(), None);
        if let Some(i) = node {
            self.state.borrow_mut().params.push((p.clone(), i));
        }
        Var::from_parts(p.value(), node, self.clone())
    }

    /// Reserves `n` consecutive random draws and returns their name
    /// `(seed, offset)`. Offsets advance in multiples of 4 so that each draw
    /// starts on a Philox block.
    pub fn draw(&self, n: usize) -> (u64, u64) {
        let mut s = self.state.borrow_mut();
        let offset = s.next_draw;
        s.next_draw += (n as u64).div_ceil(4) * 4;
        (s.seed, offset)
    }

    /// Adds a complexity-cost term (a one-element `Var` of this tape) to this pass.
    ///
    /// # Errors
    /// [`Error::TapeMismatch`] for a term of another tape; [`Error::InvalidShape`]
    /// when it is not a single element.
    pub fn add_complexity(&self, kl: &Var) -> Result<()> {
        if !kl.tape().same(self) {
            return Err(Error::TapeMismatch { op: "add_complexity" });
        }
        if kl.value().numel() != 1 {
            return Err(Error::InvalidShape {
                op: "add_complexity",
                shape: kl.shape().to_vec(),
                reason: "a complexity cost is one number".into(),
            });
        }
        self.state.borrow_mut().complexity.push((kl.value().clone(), kl.node()));
        Ok(())
    }

    /// The summed complexity cost of this pass so far (0 when none was added).
    ///
    /// # Errors
    /// Only if the terms cannot be added (never for scalars on one device).
    pub fn complexity(&self) -> Result<Var> {
        let terms = self.state.borrow().complexity.clone();
        let mut it = terms.into_iter().map(|(t, n)| Var::from_parts(t, n, self.clone()));
        match it.next() {
            None => Ok(self.constant(Tensor::scalar(0.0))),
            Some(first) => it.try_fold(first, |acc, t| acc.add(&t)),
        }
    }

    /// The summed complexity cost so far, and forgets the terms (between Monte Carlo samples).
    ///
    /// # Errors
    /// As [`Tape::complexity`].
    pub fn take_complexity(&self) -> Result<Var> {
        let c = self.complexity()?;
        self.state.borrow_mut().complexity.clear();
        Ok(c)
    }

    /// Appends an entry when recording and some parent needs a gradient (or it
    /// is a leaf); returns its position.
    fn push(&self, parents: Vec<Option<usize>>, backward: Option<BackwardFn>) -> Option<usize> {
        let mut s = self.state.borrow_mut();
        if !s.recording {
            return None;
        }
        if backward.is_some() && parents.iter().all(Option::is_none) {
            return None;
        }
        s.nodes.push(Node { parents, backward });
        Some(s.nodes.len() - 1)
    }

    /// Records the result of an op. `inputs` are its operands in the order
    /// the backward rule returns their gradients.
    pub(crate) fn record(&self, op: &'static str, value: Tensor, inputs: &[&Var], backward: BackwardFn) -> Result<Var> {
        for v in inputs {
            if !v.tape().same(self) {
                return Err(Error::TapeMismatch { op });
            }
        }
        let parents = inputs.iter().map(|v| v.node()).collect();
        let node = self.push(parents, Some(backward));
        Ok(Var::from_parts(value, node, self.clone()))
    }

    /// Back-propagates from a one-element `loss`: returns ∂loss/∂ of every
    /// parameter and leaf that it depends on.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when `loss` is not a single element;
    /// [`Error::TapeMismatch`] when it was recorded on another tape; errors of
    /// backward kernels.
    pub fn backward(&self, loss: &Var) -> Result<Gradients> {
        if loss.value().numel() != 1 {
            return Err(Error::InvalidShape {
                op: "backward",
                shape: loss.shape().to_vec(),
                reason: "the loss must have exactly one element".into(),
            });
        }
        if !loss.tape().same(self) {
            return Err(Error::TapeMismatch { op: "backward" });
        }
        let s = self.state.borrow();
        let mut out = Gradients { context: s.context.clone(), ..Gradients::default() };
        let Some(root) = loss.node() else {
            return Ok(out); // the loss depends on nothing trainable
        };
        let mut grads: Vec<Option<Tensor>> = vec![None; root + 1];
        grads[root] = Some(loss.value().full_like(1.0)?);
        for i in (0..=root).rev() {
            let Some(g) = grads[i].take() else { continue };
            let node = &s.nodes[i];
            match &node.backward {
                None => out.leaves.push((i, g)),
                Some(rule) => {
                    let needs: Vec<bool> = node.parents.iter().map(Option::is_some).collect();
                    let parent_grads = rule(&g, &needs)?;
                    for (p, pg) in node.parents.iter().zip(parent_grads) {
                        if let (Some(p), Some(pg)) = (*p, pg) {
                            grads[p] = Some(match grads[p].take() {
                                None => pg,
                                Some(acc) => acc.add(&s.context, &pg)?,
                            });
                        }
                    }
                }
            }
        }
        out.params = s.params.iter().filter_map(|(p, i)| out.leaf(*i).map(|g| (p.clone(), g.clone()))).collect();
        Ok(out)
    }
}

/// The result of [`Tape::backward`]: gradients of parameters and leaves.
#[derive(Debug, Default, Clone)]
pub struct Gradients {
    params: Vec<(Param, Tensor)>,
    leaves: Vec<(usize, Tensor)>,
    context: Context,
}

impl Gradients {
    /// The context of the tape that made these gradients: the optimizers and
    /// [`crate::optim::clip_grad_norm`] run their kernels with it.
    pub fn context(&self) -> &Context {
        &self.context
    }

    fn leaf(&self, node: usize) -> Option<&Tensor> {
        self.leaves.iter().find(|(i, _)| *i == node).map(|(_, g)| g)
    }

    /// The gradient of a parameter (None when the loss does not depend on it).
    pub fn get(&self, p: &Param) -> Option<&Tensor> {
        self.params.iter().find(|(q, _)| q.id() == p.id()).map(|(_, g)| g)
    }

    /// The gradient with respect to a leaf made by [`Tape::leaf`] or [`Tape::param`].
    pub fn wrt(&self, v: &Var) -> Option<&Tensor> {
        v.node().and_then(|i| self.leaf(i))
    }

    /// Every (parameter, gradient) pair.
    pub fn params(&self) -> &[(Param, Tensor)] {
        &self.params
    }

    /// Mutable access, for clipping.
    pub fn params_mut(&mut self) -> &mut [(Param, Tensor)] {
        &mut self.params
    }
}
