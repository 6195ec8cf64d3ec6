//! Convolution by its definition: for each output element, the sum over its
//! group's input channels and the kernel taps that land inside the input
//! (padding reads zeros), in f64. Layouts: x `[N, C, D, H, W]`,
//! w `[OC, C/groups, kd, kh, kw]`, b `[OC]`, y `[N, OC, od, oh, ow]`.

use crate::types::{ConvGeom, ConvGrads};

/// Calls `f(x_index, w_index, y_index)` for every product x·w that adds into y.
/// The geometry must be valid (`g.output()` is `Ok`).
fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
    let o = match g.output() {
        Ok(o) => o,
        Err(_) => return,
    };
    let (cg, ocg) = (g.in_channels / g.groups, g.out_channels / g.groups);
    let (i, k) = (g.input, g.kernel);
    for n in 0..g.batch {
        for oc in 0..g.out_channels {
            let group = oc / ocg;
            for od in 0..o[0] {
                for oh in 0..o[1] {
                    for ow in 0..o[2] {
                        let y_at = (((n * g.out_channels + oc) * o[0] + od) * o[1] + oh) * o[2] + ow;
                        for c in 0..cg {
                            let channel = group * cg + c;
                            for kd in 0..k[0] {
                                for kh in 0..k[1] {
                                    for kw in 0..k[2] {
                                        let pos = [
                                            od * g.stride[0] + kd * g.dilation[0],
                                            oh * g.stride[1] + kh * g.dilation[1],
                                            ow * g.stride[2] + kw * g.dilation[2],
                                        ];
                                        let inside =
                                            (0..3).all(|a| pos[a] >= g.padding[a] && pos[a] - g.padding[a] < i[a]);
                                        if !inside {
                                            continue;
                                        }
                                        let (id, ih, iw) =
                                            (pos[0] - g.padding[0], pos[1] - g.padding[1], pos[2] - g.padding[2]);
                                        let x_at =
                                            (((n * g.in_channels + channel) * i[0] + id) * i[1] + ih) * i[2] + iw;
                                        let w_at = (((oc * cg + c) * k[0] + kd) * k[1] + kh) * k[2] + kw;
                                        f(x_at, w_at, y_at);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A zeroed f64 accumulator.
fn zeros(len: usize) -> Vec<f64> {
    (0..len).map(|_| 0.0).collect()
}

fn to_f32(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}

/// `y = conv(x, w) + b`; `y` holds `g.output_len()` elements.
pub fn forward(x: &[f32], w: &[f32], b: Option<&[f32]>, g: &ConvGeom, y: &mut [f32]) {
    let mut acc = zeros(y.len());
    for_each_tap(g, |xi, wi, yi| acc[yi] += x[xi] as f64 * w[wi] as f64);
    let per_channel = y.len() / (g.batch * g.out_channels).max(1);
    for (yi, out) in y.iter_mut().enumerate() {
        let bias = match b {
            Some(b) => b[yi / per_channel % g.out_channels] as f64,
            None => 0.0,
        };
        *out = (acc[yi] + bias) as f32;
    }
}

/// The gradients `(dx, dw, db)` from the output gradient `gy`, each only when `need` asks.
pub fn backward(x: &[f32], w: &[f32], gy: &[f32], g: &ConvGeom, need: (bool, bool, bool)) -> ConvGrads {
    let (mut dx, mut dw) = (zeros(g.input_len()), zeros(g.weight_len()));
    for_each_tap(g, |xi, wi, yi| {
        dx[xi] += gy[yi] as f64 * w[wi] as f64;
        dw[wi] += gy[yi] as f64 * x[xi] as f64;
    });
    let mut db = zeros(g.out_channels);
    let per_channel = gy.len() / (g.batch * g.out_channels).max(1);
    for (yi, v) in gy.iter().enumerate() {
        db[yi / per_channel.max(1) % g.out_channels.max(1)] += *v as f64;
    }
    (need.0.then(|| to_f32(dx)), need.1.then(|| to_f32(dw)), need.2.then(|| to_f32(db)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_computed_1d_convolution() {
        // x = [1 2 3 4], w = [1 -1], padding 1: y = [-1, -1, -1, -1, 4] + b.
        let g = ConvGeom { padding: [0, 0, 1], ..ConvGeom::plain_2d(1, 1, 1, [1, 4], [1, 2]) };
        let mut y = [0.0; 5];
        forward(&[1.0, 2.0, 3.0, 4.0], &[1.0, -1.0], Some(&[0.5]), &g, &mut y);
        assert_eq!(y, [-0.5, -0.5, -0.5, -0.5, 4.5]);
        let (dx, dw, db) = backward(&[1.0, 2.0, 3.0, 4.0], &[1.0, -1.0], &[1.0; 5], &g, (true, true, true));
        assert_eq!(dx.unwrap(), [0.0; 4]);
        assert_eq!(dw.unwrap(), [10.0, 10.0]);
        assert_eq!(db.unwrap(), [5.0]);
    }
}
