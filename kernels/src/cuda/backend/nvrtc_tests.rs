//! Every CUDA kernel source compiles with NVRTC — on a machine with no GPU.
//! NVRTC is a plain library (CI installs it from PyPI's `nvidia-cuda-nvrtc`),
//! so a syntax error in any `.cu` file fails CI here, not on a GPU later.
//!
//! Without NVRTC the tests print why and pass, unless `BLITZ_REQUIRE_NVRTC=1`
//! (set by `scripts/ci-cuda.sh`), where a missing NVRTC is a failure.

use super::nvrtc::{compile, compile_text, nvrtc_available, nvrtc_version, Image};
use super::sources::{program_text, program_text_with_tables, ALL, ELEMENTWISE};
use crate::types::{cuda_op_tables, UnaryOp};
use crate::Error;

/// Whether NVRTC is there; panics when it must be and is not.
fn nvrtc_or_skip(test: &str) -> bool {
    match nvrtc_available() {
        Ok(()) => true,
        Err(e) if std::env::var("BLITZ_REQUIRE_NVRTC").is_ok_and(|v| v == "1") => {
            panic!("BLITZ_REQUIRE_NVRTC=1 but NVRTC cannot be loaded: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            false
        }
    }
}

/// Architectures checked: Turing (NVRTC 13's oldest), Ampere, Hopper.
const ARCHS: [&str; 3] = ["sm_75", "sm_80", "sm_90"];

#[test]
fn every_kernel_source_compiles_to_cubin_and_ptx() {
    if !nvrtc_or_skip("every_kernel_source_compiles_to_cubin_and_ptx") {
        return;
    }
    let (major, minor) = nvrtc_version().unwrap();
    eprintln!("NVRTC {major}.{minor}");
    assert!(!ALL.is_empty());
    for src in ALL {
        for arch in ARCHS {
            match compile(*src, Some(arch)) {
                Ok(Image::Cubin(b)) => assert!(b.len() > 100, "{} {arch}: empty cubin", src.name),
                Ok(other) => panic!("{} {arch}: expected a cubin, got {other:?}", src.name),
                Err(e) => panic!("{} does not compile for {arch}:\n{e}", src.name),
            }
        }
        match compile(*src, None) {
            Ok(Image::Ptx(p)) => {
                let text = String::from_utf8_lossy(&p);
                assert!(text.contains(".entry"), "{}: PTX without kernels", src.name);
            }
            other => panic!("{}: PTX compile failed: {other:?}", src.name),
        }
    }
}

/// Whether `text` has `__global__ void [__launch_bounds__(..)] name(`, across line breaks.
fn declares(text: &str, name: &str) -> bool {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.split("__global__ void ").skip(1).any(|rest| {
        let rest = match rest.strip_prefix("__launch_bounds__(") {
            Some(r) => r.split_once(") ").map_or("", |(_, after)| after),
            None => rest,
        };
        rest.starts_with(&format!("{name}("))
    })
}

#[test]
fn every_launched_kernel_name_exists_in_its_source() {
    // The host code looks kernels up by name; a typo would only show on a GPU.
    // Names are taken from the `launch!` calls of the backend sources.
    let host = [
        include_str!("elementwise.rs"),
        include_str!("reduce.rs"),
        include_str!("softmax.rs"),
        include_str!("layout.rs"),
        include_str!("gemm.rs"),
        include_str!("random.rs"),
        include_str!("optim.rs"),
        include_str!("conv.rs"),
        include_str!("buffer.rs"),
    ];
    let mut checked = 0;
    for text in host {
        for part in text.split("launch!(").skip(1) {
            // launch!(dev, SOURCE, "name", ...
            let mut fields = part.splitn(4, ',').map(str::trim);
            let (_dev, src, name) = (fields.next().unwrap(), fields.next().unwrap(), fields.next().unwrap());
            let name = name.trim_matches('"');
            // random.rs picks the exact or the fast build of random.cu (same text).
            let src = if src.starts_with("random_src(") { "random" } else { src };
            let source = ALL
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(src))
                .unwrap_or_else(|| panic!("launch! names unknown source {src}"));
            assert!(declares(source.text, name), "kernel `{name}` is not declared in {}.cu", source.name);
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} launches found");
}

#[test]
fn a_kernel_with_a_syntax_error_is_refused_with_the_compiler_log() {
    if !nvrtc_or_skip("a_kernel_with_a_syntax_error_is_refused_with_the_compiler_log") {
        return;
    }
    let broken = program_text(ALL[0]).replace("y[i] = unary_eval(op, x[i]);", "y[i] = unary_eval(op, x[i]) +;");
    assert_ne!(broken, program_text(ALL[0]), "the edit must change the source");
    match compile_text("broken", &broken, Some("sm_90")) {
        Err(Error::Cuda(msg)) => assert!(msg.contains("broken") && msg.contains("error"), "{msg}"),
        other => panic!("a broken kernel compiled: {other:?}"),
    }
    // An undeclared identifier is a compile error too, not a link-time surprise.
    let undeclared = "extern \"C\" __global__ void k(float* x) { x[0] = no_such_function(1.0f); }";
    assert!(compile_text("undeclared", undeclared, Some("sm_90")).is_err());
}

#[test]
fn an_op_code_without_its_cuda_function_or_a_duplicate_code_does_not_compile() {
    if !nvrtc_or_skip("an_op_code_without_its_cuda_function_or_a_duplicate_code_does_not_compile") {
        return;
    }
    let tables = cuda_op_tables();
    let unary = format!("X({}, {})", UnaryOp::Abs.code(), UnaryOp::Abs.name());
    assert!(tables.contains(&unary), "{tables}");
    // The generated tables compile (the positive control).
    let good = program_text_with_tables(ELEMENTWISE, &tables);
    assert_eq!(good, program_text(ELEMENTWISE));
    compile_text("elementwise", &good, Some("sm_90")).unwrap();
    // A new row (an op added to the Rust table) with no CUDA device function: refused, naming the function.
    let next = UnaryOp::ALL.len();
    let added = tables.replace(&unary, &format!("{unary} X({next}, cube)"));
    match compile_text("elementwise_added_op", &program_text_with_tables(ELEMENTWISE, &added), Some("sm_90")) {
        Err(Error::Cuda(msg)) => assert!(msg.contains("unary_eval_cube"), "{msg}"),
        other => panic!("an op with no CUDA function compiled: {other:?}"),
    }
    // A wrong code (two ops on one code) is a duplicate case label: refused too.
    let wrong = tables.replace(&unary, &format!("X(0, {})", UnaryOp::Abs.name()));
    assert_ne!(wrong, tables);
    match compile_text("elementwise_wrong_code", &program_text_with_tables(ELEMENTWISE, &wrong), Some("sm_90")) {
        Err(Error::Cuda(msg)) => assert!(msg.contains("case"), "{msg}"),
        other => panic!("two ops on one code compiled: {other:?}"),
    }
}
