//! The layers crate's module structure, read from its source: no import
//! circle between its top-level modules (`regression`, `train`,
//! `posterior`, ...), with the reader the kernels' structure test uses.
//!
//! ```text
//! cargo test -p blitz-layers --test structure
//! ```

#[path = "../../kernels/tests/support/module_graph.rs"]
mod module_graph;

use std::path::Path;

#[test]
fn no_import_circle_between_the_layers_modules() {
    let graph = module_graph::module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.get("posterior").is_some_and(|d| d.contains_key("noise")), "the reader finds the imports");
    let circles = module_graph::circles(&graph);
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}
