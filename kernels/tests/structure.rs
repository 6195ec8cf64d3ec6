//! The kernels crate's module structure, read from its source: which
//! top-level module (`context`, `cpu`, `ops`, ...) names which through
//! `crate::` paths (in `use` lines and in place), with the names that
//! `lib.rs` re-exports at the root mapped to the module that defines them.
//! It fails on a circle between two modules, or longer, and on a neutral
//! module (one that every backend shares) naming the CPU backend. Test-only
//! files (`tests.rs`, `*_tests.rs`) are not read. `buffer` is the one module
//! that binds the backends to the variants of `Buffer`; `ops` and `registry`
//! reach the CPU backend through it and the crate's backend trait.
//!
//! ```text
//! cargo test -p blitz-kernels --test structure
//! ```

#[path = "support/module_graph.rs"]
mod module_graph;

use module_graph::{circles, code, crate_names, module_graph};
use std::path::{Path, PathBuf};

/// Modules every backend shares: none of them may name `cpu`.
const NEUTRAL: [&str; 5] = ["context", "reference", "fastmath", "registry", "ops"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_circle_between_the_kernels_modules() {
    let graph = module_graph(&src());
    assert!(graph.contains_key("ops") && graph["ops"].contains_key("context"), "the reader finds the imports");
    let circles = circles(&graph);
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn no_neutral_module_names_the_cpu_backend() {
    let graph = module_graph(&src());
    for module in NEUTRAL {
        if let Some(at) = graph.get(module).and_then(|deps| deps.get("cpu")) {
            panic!("{module} names cpu:: at {at}");
        }
    }
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    assert_eq!(crate_names("use crate::{cpu, types::{A, B}, Buffer};"), ["cpu", "types", "Buffer"]);
    assert_eq!(crate_names("let x = crate::cpu::recycle::zeroed(3); crate::ops::f()"), ["cpu", "ops"]);
    assert_eq!(code("use a; // crate::cpu"), "use a; ");
}
