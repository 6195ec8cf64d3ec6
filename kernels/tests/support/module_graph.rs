//! A crate's module structure read from its source (shared by the
//! kernels' and the layers' structure tests): which top-level module names
//! which through `crate::` paths (in `use` lines and in place), with the
//! names that `lib.rs` re-exports at the root mapped to the module that
//! defines them. Test-only files (`tests.rs`, `*_tests.rs`) are not read.

#![allow(dead_code)] // each test file uses its own part

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`cpu` for `src/cpu/conv_direct/mod.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib").then_some(name)
}

/// The code of a line, without its `//` comment (doc comments included).
pub fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn ident_at(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The names right after `crate::` in `text`, with `crate::{a, b::c}` giving a and b.
pub fn crate_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth < 0
                })
                .map_or(group.len(), |(j, _)| j);
            let mut level = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        out.push(ident_at(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if level == 0 || c != '{' {
                    item.push(c);
                }
            }
        } else {
            out.push(ident_at(after));
        }
        rest = after;
    }
    out.retain(|n| !n.is_empty());
    out
}

/// Root names (`Buffer`, `Context`, ...) to the module that `lib.rs` re-exports them from.
fn root_reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in lib.lines().map(code) {
        let Some(path) = line.trim().strip_prefix("pub use ") else { continue };
        let module = ident_at(path);
        if !modules.contains(&module) {
            continue;
        }
        let names = path[module.len()..].trim_start_matches("::").trim_end_matches(';');
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let leaf = name.trim().rsplit("::").next().unwrap_or("").trim();
            if !leaf.is_empty() {
                out.insert(leaf.to_string(), module.clone());
            }
        }
    }
    out
}

/// Module → the modules it names, and one file:line for each edge.
pub fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let roots = root_reexports(&lib, &modules);
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(src, file) else { continue };
        // Test-only modules (`tests.rs`, `*_tests.rs`) may reach into the backend they test.
        if file.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s == "tests" || s.ends_with("_tests")) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().map(code).collect();
        // A `use` may span lines: join each statement up to its `;`.
        let mut i = 0;
        while i < lines.len() {
            let start = i;
            let mut stmt = lines[i].to_string();
            if lines[i].trim_start().starts_with("use ") || lines[i].trim_start().starts_with("pub use ") {
                while !stmt.contains(';') && i + 1 < lines.len() {
                    i += 1;
                    stmt.push_str(lines[i]);
                }
            }
            for name in crate_names(&stmt) {
                let to = if modules.contains(&name) { Some(name) } else { roots.get(&name).cloned() };
                if let Some(to) = to.filter(|t| *t != from) {
                    let at = format!("{}:{}", file.strip_prefix(src).unwrap().display(), start + 1);
                    graph.entry(from.clone()).or_default().entry(to).or_insert(at);
                }
            }
            i += 1;
        }
    }
    graph
}

/// A cycle through `start`, as the list of modules, if any.
pub fn cycle_from(graph: &BTreeMap<String, BTreeMap<String, String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                return Some(path.iter().cloned().chain([start.to_string()]).collect());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

/// Every import circle of `graph`, one line each with the file:line of each edge.
pub fn circles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    graph
        .keys()
        .filter_map(|module| cycle_from(graph, module))
        .map(|cycle| {
            let edges: Vec<String> =
                cycle.windows(2).map(|w| format!("{} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]])).collect();
            edges.join(", ")
        })
        .collect()
}
