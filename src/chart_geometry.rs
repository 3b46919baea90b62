//! Geometry of the gradient chart: a log-scaled y axis over values that span many decades
//! (a plain ResNet-50's first-block gradient can be 10⁻¹⁰ of the residual one). Plain
//! arithmetic, so it is tested natively.

use resnet_lab_protocol::BlockGradient;

/// A base-10 logarithmic axis mapping `[10^lo, 10^hi]` onto pixels `[bottom, top]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogAxis {
    /// Exponents of the axis ends (whole decades).
    pub lo: i32,
    pub hi: i32,
    /// Pixel rows of the ends (SVG y grows downwards, so `bottom > top`).
    pub bottom: f64,
    pub top: f64,
}

impl LogAxis {
    /// The smallest whole-decade axis holding every finite positive value. Zeros and
    /// non-finite values are ignored (they are drawn at the axis floor); with no usable
    /// value at all the axis spans 10⁻¹…10⁰.
    pub fn fit(values: impl IntoIterator<Item = f64>, bottom: f64, top: f64) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v.log10());
            hi = hi.max(v.log10());
        }
        let (lo, hi) = if lo.is_finite() {
            (
                lo.floor() as i32,
                (hi.ceil() as i32).max(lo.floor() as i32 + 1),
            )
        } else {
            (-1, 0)
        };
        // Beyond 40 decades the chart says nothing more: keep the top 40.
        let lo = lo.max(hi - 40);
        LogAxis {
            lo,
            hi,
            bottom,
            top,
        }
    }

    /// The pixel row of `value`; zero, negative and non-finite values sit on the floor.
    pub fn y(&self, value: f64) -> f64 {
        let exponent = if value.is_finite() && value > 0.0 {
            value.log10().clamp(self.lo as f64, self.hi as f64)
        } else {
            self.lo as f64
        };
        let t = (exponent - self.lo as f64) / (self.hi - self.lo) as f64;
        self.bottom + t * (self.top - self.bottom)
    }

    /// Decades to label: every one when few, else every 2nd, 5th or 10th so that at most
    /// `max_labels` are drawn.
    pub fn ticks(&self, max_labels: usize) -> Vec<i32> {
        let span = (self.hi - self.lo) as usize;
        let step = [1, 2, 5, 10, 20]
            .into_iter()
            .find(|step| span / step < max_labels.max(2))
            .unwrap_or(20);
        (self.lo..=self.hi)
            .filter(|e| e.rem_euclid(step as i32) == 0)
            .collect()
    }
}

/// Evenly spaced columns for `count` blocks between `left` and `right`: the centre of
/// column `i` and the width of one column.
pub fn columns(count: usize, left: f64, right: f64) -> (Vec<f64>, f64) {
    if count == 0 {
        return (Vec::new(), 0.0);
    }
    let width = (right - left) / count as f64;
    (
        (0..count)
            .map(|i| left + width * (i as f64 + 0.5))
            .collect(),
        width,
    )
}

/// `(stage, first index, last index)` for each run of equal stages, in order: where the
/// chart shades `layer1`, `layer2`, ...
pub fn stage_spans(blocks: &[BlockGradient]) -> Vec<(usize, usize, usize)> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        match spans.last_mut() {
            Some(last) if last.0 == b.stage => last.2 = i,
            _ => spans.push((b.stage, i, i)),
        }
    }
    spans
}

/// A colour for `t` in [0, 1] on a perceptually ordered dark-to-bright scale (black, purple,
/// orange, pale yellow, like matplotlib's "inferno"), for saliency maps.
pub fn heat_color(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [87.0, 16.0, 110.0],
        [188.0, 55.0, 84.0],
        [249.0, 142.0, 9.0],
        [252.0, 255.0, 164.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    std::array::from_fn(|c| (STOPS[i][c] + f * (STOPS[i + 1][c] - STOPS[i][c])).round() as u8)
}

/// RGBA pixels of a `[0, 1]` map through [`heat_color`]; `alpha_by_value` makes low values
/// transparent (for an overlay on the photo).
pub fn heat_rgba(map: &[f32], alpha_by_value: bool) -> Vec<u8> {
    map.iter()
        .flat_map(|&v| {
            let [r, g, b] = heat_color(v);
            let a = if alpha_by_value {
                (v.clamp(0.0, 1.0).sqrt() * 255.0).round() as u8
            } else {
                255
            };
            [r, g, b, a]
        })
        .collect()
}

/// The stage a block belongs to, by torchvision's name: `layer2.3` → `layer2`.
pub fn stage_name(block: &BlockGradient) -> &str {
    block.block.split('.').next().unwrap_or(&block.block)
}

/// `1.23e-4` style, short enough for a tooltip and exact enough to compare with PyTorch.
pub fn format_norm(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if (1e-2..1e4).contains(&value.abs()) {
        format!("{value:.4}")
    } else {
        format!("{value:.3e}")
    }
}

/// The superscript form of a decade for axis labels: `10⁻⁶`.
pub fn decade_label(exponent: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut label = String::from("10");
    if exponent < 0 {
        label.push('⁻');
    }
    for digit in exponent.unsigned_abs().to_string().bytes() {
        label.push(DIGITS[(digit - b'0') as usize]);
    }
    label
}

/// The mean factor per step along `values` (the geometric mean of successive ratios,
/// `(last/first)^(1/(n−1))`): how fast a norm grows or shrinks per block. `None` for fewer
/// than two values or a zero, negative or non-finite end.
pub fn per_block_factor(values: &[f64]) -> Option<f64> {
    let (first, last) = (*values.first()?, *values.last()?);
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if values.len() < 2 || !ok(first) || !ok(last) {
        return None;
    }
    Some((last / first).powf(1.0 / (values.len() - 1) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_covers_whole_decades_and_ignores_zeros() {
        let axis = LogAxis::fit([3e-9, 0.0, f64::NAN, 250.0], 200.0, 0.0);
        assert_eq!((axis.lo, axis.hi), (-9, 3));
        assert_eq!(axis.y(1e-9), 200.0);
        assert_eq!(axis.y(1e3), 0.0);
        // 10⁻³ is half-way between 10⁻⁹ and 10³.
        assert!((axis.y(1e-3) - 100.0).abs() < 1e-9);
        assert_eq!(axis.y(0.0), 200.0);
        assert_eq!(axis.y(-1.0), 200.0);
        assert_eq!(axis.y(1e9), 0.0);
    }

    #[test]
    fn axis_of_equal_or_missing_values_is_not_degenerate() {
        let axis = LogAxis::fit([1.0, 1.0], 100.0, 0.0);
        assert_eq!((axis.lo, axis.hi), (0, 1));
        let axis = LogAxis::fit([], 100.0, 0.0);
        assert_eq!((axis.lo, axis.hi), (-1, 0));
        assert!(axis.y(0.5).is_finite());
        let axis = LogAxis::fit([1e-300, 1e10], 100.0, 0.0);
        assert_eq!((axis.lo, axis.hi), (-30, 10));
    }

    #[test]
    fn ticks_thin_out_on_long_axes() {
        let short = LogAxis::fit([1e-3, 1.0], 100.0, 0.0);
        assert_eq!(short.ticks(8), vec![-3, -2, -1, 0]);
        let long = LogAxis::fit([1e-12, 10.0], 100.0, 0.0);
        assert_eq!(long.ticks(8), vec![-12, -10, -8, -6, -4, -2, 0]);
        assert!(long.ticks(8).len() <= 8);
    }

    #[test]
    fn columns_split_the_width() {
        let (centres, width) = columns(4, 0.0, 100.0);
        assert_eq!(centres, vec![12.5, 37.5, 62.5, 87.5]);
        assert_eq!(width, 25.0);
        assert_eq!(columns(0, 0.0, 100.0).0.len(), 0);
    }

    #[test]
    fn stages_are_runs_of_blocks() {
        let block = |stage| BlockGradient {
            block: String::new(),
            grad_norm: 1.0,
            shortcut_norm: 1.0,
            residual_norm: 1.0,
            act_norm: 1.0,
            plain_act_norm: 1.0,
            plain_grad_norm: 1.0,
            stage,
            stride: 1,
            in_channels: 1,
            out_channels: 1,
            projection: false,
        };
        // ResNet-18: two blocks per stage.
        let blocks: Vec<_> = [1, 1, 2, 2, 3, 3, 4, 4].into_iter().map(block).collect();
        assert_eq!(
            stage_spans(&blocks),
            vec![(1, 0, 1), (2, 2, 3), (3, 4, 5), (4, 6, 7)]
        );
        assert!(stage_spans(&[]).is_empty());
        let mut named = block(0);
        named.block = "layer2.3".into();
        assert_eq!(stage_name(&named), "layer2");
    }

    #[test]
    fn heat_colours_run_from_black_to_pale_yellow() {
        assert_eq!(heat_color(0.0), [0, 0, 4]);
        assert_eq!(heat_color(1.0), [252, 255, 164]);
        assert_eq!(heat_color(0.5), [188, 55, 84]);
        assert_eq!(heat_color(f32::NAN), [0, 0, 4]);
        assert_eq!(heat_color(7.0), [252, 255, 164]);
        let rgba = heat_rgba(&[0.0, 1.0, 0.25], true);
        assert_eq!(rgba.len(), 12);
        assert_eq!((rgba[3], rgba[7], rgba[11]), (0, 255, 128));
        assert_eq!(heat_rgba(&[0.0], false)[3], 255);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_norm(0.0), "0");
        assert_eq!(format_norm(1.5), "1.5000");
        assert_eq!(format_norm(3.0e-7), "3.000e-7");
        assert_eq!(decade_label(-12), "10⁻¹²");
        assert_eq!(decade_label(3), "10³");
        assert_eq!(decade_label(0), "10⁰");
    }

    #[test]
    fn per_block_factor_is_the_geometric_step() {
        // 1, √2, 2, 2√2: ×√2 per block.
        let v = [1.0, 2f64.sqrt(), 2.0, 8f64.sqrt()];
        assert!((per_block_factor(&v).unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(per_block_factor(&[3.0]), None);
        assert_eq!(per_block_factor(&[1.0, 0.0]), None);
        assert!((per_block_factor(&[8.0, 1.0, 1.0, 1.0]).unwrap() - 0.5).abs() < 1e-12);
    }
}
