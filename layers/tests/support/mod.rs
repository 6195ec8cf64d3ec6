//! Helpers the layers crate's test files share.

pub mod fuzz;
