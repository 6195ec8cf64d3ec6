//! Parameter-free activations as modules, so they fit in a `Sequential`.

use crate::module::Module;
use blitz_autograd::{Param, Result, Var};

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Var) -> Result<Var> {
                x.$method()
            }
            fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
        }
    };
}

activation!(
    /// max(x, 0).
    ReLU,
    relu
);
activation!(
    /// tanh x.
    Tanh,
    tanh
);
activation!(
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
    sigmoid
);
activation!(
    /// ln(1 + eˣ).
    Softplus,
    softplus
);
