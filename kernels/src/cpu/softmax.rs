//! Softmax and log-softmax over the last axis, stabilised by the row maximum.

/// `out` = softmax of each row of length `n`.
pub(crate) fn softmax(x: &[f32], n: usize, out: &mut [f32]) {
    for (xr, or) in x.chunks(n).zip(out.chunks_mut(n)) {
        let m = xr.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0f32;
        for (o, &v) in or.iter_mut().zip(xr) {
            *o = (v - m).exp();
            z += *o;
        }
        let inv = 1.0 / z;
        or.iter_mut().for_each(|o| *o *= inv);
    }
}

/// `out` = log-softmax of each row of length `n`: x - max - ln Σ exp(x - max).
pub(crate) fn log_softmax(x: &[f32], n: usize, out: &mut [f32]) {
    for (xr, or) in x.chunks(n).zip(out.chunks_mut(n)) {
        let m = xr.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        // Subtract the max first: (x - max) is exact-ish, x - (max + lse) is not at |x| ~ 1e3.
        let lse = xr.iter().map(|&v| (v - m).exp()).sum::<f32>().ln();
        or.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - m) - lse);
    }
}

/// Backward of softmax given its output y: gx = y ∘ (g − Σ g·y) per row.
pub(crate) fn softmax_backward(y: &[f32], g: &[f32], n: usize, gx: &mut [f32]) {
    for ((yr, gr), or) in y.chunks(n).zip(g.chunks(n)).zip(gx.chunks_mut(n)) {
        let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((o, &yi), &gi) in or.iter_mut().zip(yr).zip(gr) {
            *o = yi * (gi - dot);
        }
    }
}

/// Backward of log-softmax given its output y: gx = g − softmax(x)·Σ g per row.
pub(crate) fn log_softmax_backward(y: &[f32], g: &[f32], n: usize, gx: &mut [f32]) {
    for ((yr, gr), or) in y.chunks(n).zip(g.chunks(n)).zip(gx.chunks_mut(n)) {
        let gsum: f32 = gr.iter().sum();
        for ((o, &yi), &gi) in or.iter_mut().zip(yr).zip(gr) {
            *o = gi - yi.exp() * gsum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_survive_large_logits() {
        let x = [1000.0, 1001.0, 1002.0, -3.0, 0.0, 3.0];
        let mut y = [0.0; 6];
        softmax(&x, 3, &mut y);
        assert!((y[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut l = [0.0; 6];
        log_softmax(&x, 3, &mut l);
        for (a, b) in l.iter().zip(&y) {
            assert!((a.exp() - b).abs() < 1e-6);
        }
    }
}
