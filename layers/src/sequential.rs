//! `Sequential`: modules applied one after another.

use crate::module::{join_name, BayesianModule, Module};
use blitz_autograd::{Param, Result, Var};

/// A chain of modules. Children are named "0", "1", ... unless given a name,
/// so parameters read `0.weight_mu` or `l1.weight_mu` as in torch.
#[derive(Default)]
pub struct Sequential {
    children: Vec<(String, Box<dyn Module>)>,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.children.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "Sequential{names:?}")
    }
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module named by its position.
    pub fn push(mut self, m: impl Module + 'static) -> Sequential {
        let name = self.children.len().to_string();
        self.children.push((name, Box::new(m)));
        self
    }

    /// Appends a module under a given name.
    pub fn push_named(mut self, name: impl Into<String>, m: impl Module + 'static) -> Sequential {
        self.children.push((name.into(), Box::new(m)));
        self
    }

    /// Appends an already boxed module named by its position.
    pub fn push_boxed(mut self, m: Box<dyn Module>) -> Sequential {
        let name = self.children.len().to_string();
        self.children.push((name, m));
        self
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Appends an already boxed module under a given name.
    pub fn push_named_boxed(mut self, name: impl Into<String>, m: Box<dyn Module>) -> Sequential {
        self.children.push((name.into(), m));
        self
    }

    /// The children with their names, in order (for conversions).
    pub fn into_children(self) -> Vec<(String, Box<dyn Module>)> {
        self.children
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.children.iter().try_fold(x.clone(), |h, (_, m)| m.forward(&h))
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for (name, m) in &self.children {
            m.visit_params(&join_name(prefix, name), f);
        }
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        for (_, m) in &self.children {
            m.visit_bayesian(f);
        }
    }

    fn set_training(&self, training: bool) {
        for (_, m) in &self.children {
            m.set_training(training);
        }
    }

    fn set_dropout(&self, active: bool) {
        for (_, m) in &self.children {
            m.set_dropout(active);
        }
    }
}
