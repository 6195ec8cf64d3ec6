//! The packing's AVX2 transpose against the scalar code and the definition,
//! bit for bit, with the floats past the panel untouched.

use super::*;

/// Distinct finite floats (of every sign and exponent), so that a float in
/// the wrong place, or a lane of the wrong line, shows.
fn distinct(n: usize) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let bits = i.wrapping_mul(0x9E37_79B9) ^ (i << 3);
            let x = f32::from_bits(bits);
            if x.is_finite() {
                x
            } else {
                f32::from_bits(bits & 0xBF7F_FFFF)
            }
        })
        .collect()
}

/// What no packing writes (a NaN with a payload).
const MARK: u32 = 0x7FC0_BEEF;

/// The bits of `d`.
fn bits(d: &[f32]) -> Vec<u32> {
    d.iter().map(|x| x.to_bits()).collect()
}

/// Whether this CPU takes the AVX2 path.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return super::super::simd::has_avx2_fma();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// One panel (`s_k = 1`) by [`pack_panel_avx2`] (or [`pack_panel`] where it
/// declines) against [`pack_panel_scalar`] and the definition, bit for bit,
/// with the 16 floats after the panel untouched.
#[allow(clippy::too_many_arguments)]
fn check_panel(width: usize, lines: usize, kc: usize, start: usize, p0: usize, s_line: usize, avx2: bool) {
    let what = format!("width {width} lines {lines} kc {kc} start {start} p0 {p0} s_line {s_line}");
    let src = distinct((start + lines.max(1)) * s_line + 8);
    let mut got = vec![f32::from_bits(MARK); kc * width + 16];
    let mut want = got.clone();
    let took = pack_panel_avx2(&src, s_line, 1, start, lines, p0, kc, width, &mut got);
    assert_eq!(took, avx2, "{what}: the AVX2 path ran (true) or declined (false)");
    if !took {
        pack_panel(&src, s_line, 1, start, lines, p0, kc, width, &mut got);
    }
    pack_panel_scalar(&src, s_line, 1, start, lines, p0, kc, width, &mut want);
    assert_eq!(bits(&got), bits(&want), "{what}: not the scalar bits");
    for p in 0..kc {
        for w in 0..width {
            let x = if w < lines { src[(start + w) * s_line + p0 + p] } else { 0.0 };
            assert_eq!(got[p * width + w].to_bits(), x.to_bits(), "{what}: depth {p} line {w}");
        }
    }
    assert!(got[kc * width..].iter().all(|x| x.to_bits() == MARK), "{what}: wrote past the panel");
}

#[test]
fn the_avx2_transpose_writes_the_scalar_bits() {
    let avx2 = has_avx2();
    let mut cases = 0;
    for width in [6, 8, 16, 32] {
        for lines in [0, 1, 2, 5, 6, 7, 8, 9, 15, 16, 17, 24, 31, 32].into_iter().filter(|&l| l <= width) {
            for kc in [1, 3, 7, 8, 9, 15, 16, 17, 40, 63, 255, 256] {
                for (start, p0, extra) in [(0, 0, 0), (3, 0, 3), (0, 5, 16), (2, 9, 0), (1, 1, 1)] {
                    // Line l at depth p is src[l·s_line + p]: lines at least kc + p0
                    // long; s_line = 1 is the copy case.
                    check_panel(width, lines, kc, start, p0, (kc + p0 + extra).max(2), avx2);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 1000);
}

#[test]
fn the_avx2_path_takes_only_the_transpose_of_its_widths() {
    let src = distinct(64 * 64);
    let mut d = vec![0f32; 64 * 64];
    // Contiguous lines at each depth, a generic stride, a width it has no blocks for.
    assert!(!pack_panel_avx2(&src, 1, 64, 0, 16, 0, 8, 16, &mut d));
    assert!(!pack_panel_avx2(&src, 64, 2, 0, 16, 0, 8, 16, &mut d));
    assert!(!pack_panel_avx2(&src, 64, 1, 0, 4, 0, 8, 4, &mut d));
    assert!(!pack_panel_avx2(&src, 64, 1, 0, 12, 0, 8, 12, &mut d));
}

#[test]
#[should_panic(expected = "shorter than its lines")]
fn a_short_source_panics_before_the_avx2_loads() {
    if has_avx2() {
        // 16 lines of 32 need 16·32 floats; one fewer.
        let src = distinct(16 * 32 - 1);
        let mut d = vec![0f32; 32 * 16];
        pack_panel_avx2(&src, 32, 1, 0, 16, 0, 32, 16, &mut d);
    }
    panic!("shorter than its lines (no AVX2 here)");
}

#[test]
fn blocks_of_panels_match_the_scalar_packing() {
    // Several panels of a block (pack_block), the last one partial, on A's and B's widths.
    for (width, len, kc, s_line) in [(6, 128, 256, 784), (16, 400, 16, 784), (32, 70, 100, 130), (8, 13, 9, 9)] {
        let src = distinct(len * s_line);
        let panels = len.div_ceil(width);
        let mut got = vec![f32::from_bits(MARK); panels * kc * width];
        let mut want = got.clone();
        pack_block(&src, s_line, 1, 0, len, s_line - kc, kc, width, &mut got);
        for (q, d) in want.chunks_exact_mut(kc * width).enumerate() {
            let lines = width.min(len - q * width);
            pack_panel_scalar(&src, s_line, 1, q * width, lines, s_line - kc, kc, width, d);
        }
        assert_eq!(bits(&got), bits(&want), "width {width} len {len} kc {kc}");
    }
}
