//! The GPU's exact sampler math (`cu/common.cuh`) is a replica of the CPU's
//! `fastmath`, operation for operation, so that `SamplerMath::Exact` draws
//! the CPU's bits. A GPU run proves it (`cuda_parity`), but GPU runs are rare:
//! this test compiles the replica as C with the host's C compiler (no
//! contraction, `fmaf` for `__fmaf_rn`: the same IEEE operations) and checks
//! it bit for bit against `fastmath` on every machine, CI included. It skips,
//! saying why, when no C compiler is found.

use blitz_kernels::fastmath;
use std::process::Command;

/// The math section of common.cuh: from its first constant to the helpers after it.
fn replica_source() -> String {
    let cuh = include_str!("../src/cuda/cu/common.cuh");
    let start = cuh.find("#define BLITZ_LN2_HI").expect("common.cuh: constants not found");
    let end = cuh.find("// Offsets into operands").expect("common.cuh: end of the math not found");
    format!(
        r#"#include <math.h>
#include <stdio.h>
#include <string.h>
#define __device__
#define __forceinline__ static inline
#define __fmaf_rn fmaf
typedef unsigned int u32;
static inline float __uint_as_float(unsigned u) {{ float f; memcpy(&f, &u, 4); return f; }}
static inline unsigned __float_as_uint(float f) {{ unsigned u; memcpy(&u, &f, 4); return u; }}
{}
int main(void) {{
    unsigned n;
    float u, x, s, c;
    while (scanf("%u", &n) == 1) {{
        memcpy(&u, &n, 4);
        scanf("%u", &n);
        memcpy(&x, &n, 4);
        blitz_sincos_2pi(u, &s, &c);
        printf("%u %u %u %u %u %u\n", __float_as_uint(blitz_ln(u)), __float_as_uint(s), __float_as_uint(c),
               __float_as_uint(blitz_exp(x)), __float_as_uint(blitz_softplus(x)), __float_as_uint(blitz_sigmoid(x)));
    }}
    return 0;
}}
"#,
        &cuh[start..end]
    )
}

#[test]
fn the_gpu_exact_math_is_the_cpu_math_bit_for_bit() {
    // The system's temporary folder, not the build tree's: the GPU check runs
    // this binary (named cuda_*) on a machine without that tree.
    let dir = std::env::temp_dir().join(format!("blitz-math-replica-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join("replica.c"), dir.join("replica"));
    std::fs::write(&src, replica_source()).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc).args(["-O2", "-ffp-contract=off", "-o"]).arg(&exe).arg(&src).arg("-lm").output();
    match built {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("{cc} refused the replica of common.cuh:\n{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            eprintln!("SKIPPED the_gpu_exact_math_is_the_cpu_math_bit_for_bit: no C compiler `{cc}` ({e})");
            return;
        }
    }
    // Uniforms as the sampler makes them (24-bit, centred) and x across softplus's range.
    let n = 1u32 << 16;
    let mut inputs: Vec<(f32, f32)> = (0..n)
        .map(|i| {
            let u = ((i.wrapping_mul(2_654_435_761) >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0);
            (u, -95.0 + 190.0 * i as f32 / n as f32)
        })
        .collect();
    // Outside the domains: both sides must give the same documented results.
    let edges = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e-45,
        1e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        -1.0,
        88.0,
        88.8,
        -87.0,
        -104.0,
        1e30,
    ];
    for &u in &edges {
        for &x in &edges {
            inputs.push((u, x));
        }
    }
    let n = inputs.len() as u32;
    let stdin: String = inputs.iter().map(|(u, x)| format!("{} {}\n", u.to_bits(), x.to_bits())).collect();
    let mut child =
        Command::new(&exe).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut pipe, stdin.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = 0;
    for (line, &(u, x)) in text.lines().zip(&inputs) {
        let gpu: Vec<u32> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        let (s, c) = fastmath::sincos_2pi(u);
        let cpu = [fastmath::ln(u), s, c, fastmath::exp(x), fastmath::softplus(x), fastmath::sigmoid(x)];
        let names = ["ln", "sin", "cos", "exp", "softplus", "sigmoid"];
        for k in 0..6 {
            // NaN payloads are not part of the contract; NaN-ness is.
            let same_nan = cpu[k].is_nan() && f32::from_bits(gpu[k]).is_nan();
            assert!(
                same_nan || gpu[k] == cpu[k].to_bits(),
                "{} differs at u = {u}, x = {x}: replica {} vs CPU {}",
                names[k],
                f32::from_bits(gpu[k]),
                cpu[k]
            );
        }
        lines += 1;
    }
    assert_eq!(lines, n as usize, "the replica printed {lines} of {n} lines");
}
