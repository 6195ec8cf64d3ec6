//! The panel packing of the blocked GEMM ([`super::gemm_blocked`]): lines
//! (rows of op(A), columns of op(B)) copied from the operands, through their
//! strides, into panels `width` lines wide, `panel[p·width + w]` = line `w`
//! at depth `p`, zeros past the matrix's last line.
//!
//! Three cases by stride. The lines contiguous at each depth (`s_line = 1`):
//! one copy per depth. Each line contiguous along k (`s_k = 1`, A in NN/NT,
//! B in NT): a transpose, on AVX2 by 8×8 blocks in registers (8 loads of 8
//! depths of 8 lines, 8 stores of 8 lines at 8 depths) for panels 8·j or 6
//! wide, the rest of the lines and depths by the scalar code. Any other
//! strides: one element at a time. Packing only moves floats, so every path
//! writes the same bits.

#[cfg(test)]
use super::gemm_blocked::KC;
#[cfg(test)]
use rayon::prelude::*;

/// `len` lines from line `first` at depths `p0..p0 + kc`, packed into
/// panels `width` lines wide, one after another (`dst[q·kc·width + p·width
/// + w]` = line `first + q·width + w` at depth `p0 + p`, zeros past the last
/// line). Line `l` at depth `p` is `src[l·s_line + p·s_k]`.
///
/// # Panics
/// If `dst` is shorter than `kc·⌈len/width⌉·width` or `src` than the lines.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_block(
    src: &[f32],
    s_line: usize,
    s_k: usize,
    first: usize,
    len: usize,
    p0: usize,
    kc: usize,
    width: usize,
    dst: &mut [f32],
) {
    for (q, d) in dst.chunks_exact_mut(kc * width).take(len.div_ceil(width)).enumerate() {
        let start = first + q * width;
        pack_panel(src, s_line, s_k, start, width.min(first + len - start), p0, kc, width, d);
    }
}

/// Packs `len` lines (rows of op(A), columns of op(B)) from line `first`, each
/// `k` long, into panels `width` lines wide: for each block of [`KC`] of k,
/// the panels one after another, `panel[p·width + w]` = line `first + w`
/// (counted from the panel's first line) at depth `p0 + p`; zeros past the
/// last line. Line `l` at depth `p` is `src[l·s_line + p·s_k]`. On the threads when `parallel`.
///
/// # Panics
/// If `dst` is shorter than `k·⌈len/width⌉·width` or `src` than the lines.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack(
    parallel: bool,
    src: &[f32],
    s_line: usize,
    s_k: usize,
    first: usize,
    len: usize,
    k: usize,
    width: usize,
    dst: &mut [f32],
) {
    let panels = len.div_ceil(width);
    let mut jobs = Vec::with_capacity(panels * k.div_ceil(KC));
    let mut rest = dst;
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        for q in 0..panels {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(kc * width);
            jobs.push((p0, kc, q, head));
            rest = tail;
        }
    }
    let work = |(p0, kc, q, d): (usize, usize, usize, &mut [f32])| {
        let start = first + q * width;
        let lines = width.min(first + len - start);
        pack_panel(src, s_line, s_k, start, lines, p0, kc, width, d)
    };
    if parallel && jobs.len() > 1 {
        jobs.into_par_iter().for_each(work);
    } else {
        jobs.into_iter().for_each(work);
    }
}

/// One panel of [`pack`]: lines `start..start + lines` at depths `p0..p0 + kc`,
/// `lines ≤ width`, into `d[p·width + w]`, zeros for `w ≥ lines`. The
/// transpose case (`s_k = 1`) on AVX2 where [`pack_panel_avx2`] takes it, the
/// rest by [`pack_panel_scalar`]: the same floats either way.
///
/// # Panics
/// If `d` is shorter than `kc·width` or `src` than the lines.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_panel(
    src: &[f32],
    s_line: usize,
    s_k: usize,
    start: usize,
    lines: usize,
    p0: usize,
    kc: usize,
    width: usize,
    d: &mut [f32],
) {
    if !pack_panel_avx2(src, s_line, s_k, start, lines, p0, kc, width, d) {
        pack_panel_scalar(src, s_line, s_k, start, lines, p0, kc, width, d);
    }
}

/// [`pack_panel`] without SIMD, on every CPU and for every stride and width.
///
/// # Panics
/// If `d` is shorter than `kc·width` or `src` than the lines.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_panel_scalar(
    src: &[f32],
    s_line: usize,
    s_k: usize,
    start: usize,
    lines: usize,
    p0: usize,
    kc: usize,
    width: usize,
    d: &mut [f32],
) {
    let d = &mut d[..kc * width];
    if s_line == 1 {
        // The lines are contiguous at each depth: one copy per depth.
        for (p, row) in d.chunks_exact_mut(width).enumerate() {
            let at = (p0 + p) * s_k + start;
            row[..lines].copy_from_slice(&src[at..at + lines]);
            row[lines..].fill(0.0);
        }
        return;
    }
    zero_past(d, lines, width);
    if s_k == 1 {
        transpose_scalar(src, s_line, start, 0..lines, p0, 0..kc, width, d);
        return;
    }
    for (p, row) in d.chunks_exact_mut(width).enumerate() {
        for (w, x) in row[..lines].iter_mut().enumerate() {
            *x = src[(start + w) * s_line + (p0 + p) * s_k];
        }
    }
}

/// Zeros `row[lines..]` of every `width`-float row of `d`.
fn zero_past(d: &mut [f32], lines: usize, width: usize) {
    if lines < width {
        for row in d.chunks_exact_mut(width) {
            row[lines..].fill(0.0);
        }
    }
}

/// The transpose case (`s_k = 1`) of [`pack_panel_scalar`] for the lines
/// `ws` (counted from `start`) at the depths `ps` (counted from `p0`):
/// `d[p·width + w] = src[(start + w)·s_line + p0 + p]`. By 8 depths at a
/// time, so that each line gives 8 floats of one cache line and the panel is
/// written 8 rows at a time.
///
/// # Panics
/// If `d` or `src` is too short.
#[allow(clippy::too_many_arguments)]
fn transpose_scalar(
    src: &[f32],
    s_line: usize,
    start: usize,
    ws: std::ops::Range<usize>,
    p0: usize,
    ps: std::ops::Range<usize>,
    width: usize,
    d: &mut [f32],
) {
    let mut p = ps.start;
    while p + 8 <= ps.end {
        let rows = &mut d[p * width..(p + 8) * width];
        for w in ws.clone() {
            let at = (start + w) * s_line + p0 + p;
            for (q, &x) in src[at..at + 8].iter().enumerate() {
                rows[q * width + w] = x;
            }
        }
        p += 8;
    }
    for p in p..ps.end {
        for w in ws.clone() {
            d[p * width + w] = src[(start + w) * s_line + p0 + p];
        }
    }
}

/// The transpose case of [`pack_panel`] on AVX2: where `s_k = 1`,
/// `s_line ≠ 1`, the CPU has AVX2 and FMA (the crate's 256-bit level) and
/// `width` is a multiple of 8 or 6, packs the panel and returns true;
/// otherwise returns false and writes nothing. Blocks of 8 lines (6 in a
/// 6-wide panel) by 8 depths go through registers; the lines and depths
/// left over by the scalar code.
///
/// # Panics
/// If `d` is shorter than `kc·width` or `src` than the lines (before any
/// unsafe code), or `lines > width`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_panel_avx2(
    src: &[f32],
    s_line: usize,
    s_k: usize,
    start: usize,
    lines: usize,
    p0: usize,
    kc: usize,
    width: usize,
    d: &mut [f32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if s_k != 1 || s_line == 1 || !(width.is_multiple_of(8) || width == 6) || !super::simd::has_avx2_fma() {
            return false;
        }
        assert!(lines <= width, "pack_panel: {lines} lines in a panel {width} wide");
        let d = &mut d[..kc * width];
        if lines == 0 || kc == 0 {
            d.fill(0.0);
            return true;
        }
        // The last float read: line start + lines − 1 at depth p0 + kc − 1.
        let end = start
            .checked_add(lines - 1)
            .and_then(|l| l.checked_mul(s_line))
            .and_then(|l| p0.checked_add(kc).and_then(|k| l.checked_add(k)));
        assert!(end.is_some_and(|e| e <= src.len()), "pack_panel: the source is shorter than its lines");
        zero_past(d, lines, width);
        // A block of `group` lines by 8 depths in registers.
        let group = if width == 6 { 6 } else { 8 };
        let blocks = lines / group;
        let deep = kc / 8 * 8;
        // SAFETY: the CPU has AVX2 (checked above); for every line
        // w < blocks·group ≤ lines and depth p < deep ≤ kc read,
        // (start + w)·s_line + p0 + p < end ≤ src.len() (asserted above), and
        // every float written lies in d[..kc·width] (its length): rows
        // p < deep, lanes below blocks·group ≤ width.
        unsafe { transpose_avx2(src.as_ptr(), s_line, start, blocks, group, p0, deep, width, d.as_mut_ptr()) };
        // The lines past the last block at every depth, then the depths past
        // the last 8 for the lines of the blocks.
        transpose_scalar(src, s_line, start, blocks * group..lines, p0, 0..kc, width, d);
        transpose_scalar(src, s_line, start, 0..blocks * group, p0, deep..kc, width, d);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (src, s_line, s_k, start, lines, p0, kc, width, d);
        false
    }
}

/// The 8×8 transpose of the rows `r0..r7` in registers: lane `j` of row `i`
/// becomes lane `i` of row `j` (pairs of rows interleaved, then quads,
/// then the halves swapped). Only moves floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn transpose8(
    r0: std::arch::x86_64::__m256,
    r1: std::arch::x86_64::__m256,
    r2: std::arch::x86_64::__m256,
    r3: std::arch::x86_64::__m256,
    r4: std::arch::x86_64::__m256,
    r5: std::arch::x86_64::__m256,
    r6: std::arch::x86_64::__m256,
    r7: std::arch::x86_64::__m256,
) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
    let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
    let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
    let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
    let (u0, u1) = (_mm256_shuffle_ps::<0x44>(t0, t2), _mm256_shuffle_ps::<0xEE>(t0, t2));
    let (u2, u3) = (_mm256_shuffle_ps::<0x44>(t1, t3), _mm256_shuffle_ps::<0xEE>(t1, t3));
    let (u4, u5) = (_mm256_shuffle_ps::<0x44>(t4, t6), _mm256_shuffle_ps::<0xEE>(t4, t6));
    let (u6, u7) = (_mm256_shuffle_ps::<0x44>(t5, t7), _mm256_shuffle_ps::<0xEE>(t5, t7));
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// `d[p·width + w] = src[(start + w)·s_line + p0 + p]` for `w < blocks·group`
/// and `p < deep`, by blocks of `group` lines (8, or 6 where `width = 6`)
/// by 8 depths, each transposed in registers: 8 loads of 8 consecutive
/// floats (one line each; zeros for lines 6 and 7 of a 6-line group), 8
/// stores of 8 lanes (one depth each; 6 lanes in a 6-line group).
///
/// # Safety
/// The CPU has AVX2; `deep` is a multiple of 8; `group` is 8 with `width` a
/// multiple of 8, or 6 with `width = 6`; `blocks·group ≤ width`; every
/// `src[(start + w)·s_line + p0 + p]` read lies in the allocation of `src`
/// and every `d[p·width + w]` written (`p < deep`) in that of `d`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn transpose_avx2(
    src: *const f32,
    s_line: usize,
    start: usize,
    blocks: usize,
    group: usize,
    p0: usize,
    deep: usize,
    width: usize,
    d: *mut f32,
) {
    use std::arch::x86_64::*;
    for b in 0..blocks {
        let w0 = b * group;
        // SAFETY (all of this block): the offsets stay within the reads and
        // writes the caller vouches for: lines w0..w0 + group < blocks·group,
        // depths p..p + 8 ≤ deep.
        unsafe {
            let base = src.add((start + w0) * s_line + p0);
            let out = d.add(w0);
            let zero = _mm256_setzero_ps();
            let mut p = 0;
            while p < deep {
                let at = base.add(p);
                let (r0, r1) = (_mm256_loadu_ps(at), _mm256_loadu_ps(at.add(s_line)));
                let (r2, r3) = (_mm256_loadu_ps(at.add(2 * s_line)), _mm256_loadu_ps(at.add(3 * s_line)));
                let (r4, r5) = (_mm256_loadu_ps(at.add(4 * s_line)), _mm256_loadu_ps(at.add(5 * s_line)));
                let (r6, r7) = if group == 8 {
                    (_mm256_loadu_ps(at.add(6 * s_line)), _mm256_loadu_ps(at.add(7 * s_line)))
                } else {
                    (zero, zero)
                };
                // c[j] holds depth p + j of the 8 lines.
                let c = transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
                let row = out.add(p * width);
                if group == 8 {
                    for (j, &v) in c.iter().enumerate() {
                        _mm256_storeu_ps(row.add(j * width), v);
                    }
                } else {
                    // 6 lanes a depth, rows 6 apart: each of the first 7 stores
                    // writes 2 zeros into the next row's first lanes, which the
                    // next store overwrites; the last stores 4 + 2 lanes, so
                    // nothing past row p + 7 is touched.
                    for (j, &v) in c[..7].iter().enumerate() {
                        _mm256_storeu_ps(row.add(j * 6), v);
                    }
                    let last = row.add(42);
                    _mm_storeu_ps(last, _mm256_castps256_ps128(c[7]));
                    _mm_storel_epi64(last.add(4).cast(), _mm_castps_si128(_mm256_extractf128_ps::<1>(c[7])));
                }
                p += 8;
            }
        }
    }
}

#[cfg(test)]
#[path = "gemm_pack_tests.rs"]
mod tests;
