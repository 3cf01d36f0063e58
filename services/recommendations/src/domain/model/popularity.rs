//! Time-decayed popularity.
use super::{BuildParams, Event};

/// Every item's popularity: the sum of its interactions' decayed weights.
pub fn popularity(events: &[Event], n_items: usize, p: &BuildParams) -> Vec<f64> {
    let mut out = vec![0f64; n_items];
    for e in events {
        out[e.item as usize] += f64::from(e.weight * p.decay(e.age_days));
    }
    out
}
