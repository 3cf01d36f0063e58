//! The churn-risk score: silence beyond the usual purchase rhythm, recent complaints and a
//! falling purchase rate, combined as independent risks, each with its reason.
use super::PurchaseSummary;
use chrono::{DateTime, Duration, Utc};

/// The risk and its reasons for a customer without purchases: complaints only.
pub(super) fn without_purchases(complaints_last_90_days: i64) -> (f64, Vec<String>) {
    let mut reasons = vec!["no purchases yet".to_owned()];
    if complaints_last_90_days > 0 {
        reasons.push(complaint_reason(complaints_last_90_days));
    }
    (round3(complaint_risk(complaints_last_90_days)), reasons)
}

/// The risk and its reasons for a customer whose last purchase was `days` ago;
/// `default_gap_days` is the gap assumed when the purchases show no rhythm (one purchase).
pub(super) fn after_purchases(
    s: &PurchaseSummary,
    days: i64,
    now: DateTime<Utc>,
    default_gap_days: i64,
) -> (f64, Vec<String>) {
    let mut reasons = Vec::new();
    let gap = usual_gap_days(&s.recent_purchases).unwrap_or(default_gap_days.max(1) as f64);
    let overdue = days as f64 / gap;
    let silence = silence_risk(overdue);
    if overdue > 1.5 {
        reasons.push(format!(
            "no purchase for {days} days (usual gap {gap} days)"
        ));
    }
    let complaints = complaint_risk(s.complaints_last_90_days);
    if s.complaints_last_90_days > 0 {
        reasons.push(complaint_reason(s.complaints_last_90_days));
    }
    let half_year = Duration::days(182);
    let recent = s
        .recent_purchases
        .iter()
        .filter(|t| now - **t <= half_year)
        .count();
    let before = s
        .recent_purchases
        .iter()
        .filter(|t| now - **t > half_year && now - **t <= half_year * 2)
        .count();
    let decline = if before >= 2 && recent * 2 <= before {
        reasons.push(format!(
            "purchases fell from {before} to {recent} per half year"
        ));
        0.15
    } else {
        0.0
    };
    if reasons.is_empty() {
        reasons.push("buying at the usual rhythm".to_owned());
    }
    (round3(combine(&[silence, complaints, decline])), reasons)
}

/// The median of the gaps in whole days between consecutive purchases (`times` newest
/// first), the mean of the two middle gaps for an even count. Gaps under one day are left
/// out: orders placed the same day are one visit, not a rhythm of zero days. `None` when no
/// gap is left.
fn usual_gap_days(times: &[DateTime<Utc>]) -> Option<f64> {
    let mut gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[0] - w[1]).num_days())
        .filter(|d| *d >= 1)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let mid = gaps.len() / 2;
    Some(if gaps.len().is_multiple_of(2) {
        (gaps[mid - 1] as f64 + gaps[mid] as f64) / 2.0
    } else {
        gaps[mid] as f64
    })
}

/// Risk from silence: 0 up to the usual gap, then (x - 1) / (x + 1) where x is the days
/// since the last purchase divided by the usual gap: 1/3 at twice the gap, 1/2 at three
/// times, 9/11 at ten times, rising towards 1.0 without reaching it.
fn silence_risk(overdue: f64) -> f64 {
    if overdue <= 1.0 {
        0.0
    } else {
        (overdue - 1.0) / (overdue + 1.0)
    }
}

/// Risk from complaints in the last 90 days: 0.15 each, at most 0.3.
fn complaint_risk(complaints: i64) -> f64 {
    (0.15 * complaints.clamp(0, 2) as f64).min(0.3)
}

/// Independent risks combined as probabilities: 1 - (1 - a)(1 - b)...; never above 1.0,
/// and rising with each of them.
fn combine(risks: &[f64]) -> f64 {
    1.0 - risks.iter().map(|r| 1.0 - r).product::<f64>()
}

fn complaint_reason(n: i64) -> String {
    format!("{n} complaint(s) in the last 90 days")
}

/// Three decimals, half away from zero.
fn round3(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::super::testing::{insights, now, spread};
    use super::*;

    #[test]
    fn usual_gap_is_the_true_median() {
        let times = |days: &[i64]| -> Vec<DateTime<Utc>> {
            days.iter().map(|d| now() - Duration::days(*d)).collect()
        };
        // Gaps 10, 20, 40, 50: the mean of the middle two is (20 + 40) / 2 = 30, not 40.
        assert_eq!(usual_gap_days(&times(&[0, 10, 30, 70, 120])), Some(30.0));
        // Gaps 3, 4: 3.5; same-day orders (gap 0) are one visit and left out.
        assert_eq!(usual_gap_days(&times(&[0, 0, 3, 7])), Some(3.5));
        // Gaps 1, 5, 9: 5. A gap of one day counts: there is no hidden 7-day floor.
        assert_eq!(usual_gap_days(&times(&[0, 1, 6, 15])), Some(5.0));
        assert_eq!(usual_gap_days(&times(&[5, 5])), None);
        assert_eq!(usual_gap_days(&times(&[5])), None);
    }

    #[test]
    fn churn_risk_rises_towards_one_with_silence() {
        // A weekly buyer (gaps 7, 7, 7), silent 14 days: x = 14 / 7 = 2,
        // (2 - 1) / (2 + 1) = 0.333.
        let weekly = insights(&spread(&[14, 21, 28, 35], 10_000), 0);
        assert_eq!(weekly.churn_risk, 0.333);
        assert_eq!(
            weekly.churn_reasons,
            ["no purchase for 14 days (usual gap 7 days)"]
        );
        // A monthly buyer (gaps 30, 30, 30) a few months overdue: 120 days, x = 4,
        // 3 / 5 = 0.6.
        let months = insights(&spread(&[120, 150, 180, 210], 10_000), 0);
        assert_eq!(months.churn_risk, 0.6);
        // The same buyer silent for 29 years (10,592 days): x = 10592 / 30 = 353.07,
        // 352.07 / 354.07 = 0.99435 -> 0.994. It used to be 0.7, like the one above.
        let gone = insights(&spread(&[10_592, 10_622, 10_652, 10_682], 10_000), 0);
        assert_eq!(gone.churn_risk, 0.994);
        assert!(gone.churn_risk > months.churn_risk);
        // The silence part is monotone and stays below 1.0.
        let mut last = 0.0;
        for tenths in 0..100_000 {
            let r = silence_risk(f64::from(tenths) / 10.0);
            assert!(r >= last && r < 1.0, "{tenths}: {r} after {last}");
            last = r;
        }
    }

    #[test]
    fn churn_risk_combines_silence_complaints_and_decline() {
        // Purchases 300, 330, 360, 390 days ago: gaps 30, x = 300 / 30 = 10,
        // silence = 9 / 11; one complaint = 0.15; 3 purchases 182..364 days ago against
        // 0 since = decline 0.15. 1 - (2/11)(0.85)(0.85) = 1 - 0.131364 = 0.868636 -> 0.869.
        let i = insights(&spread(&[300, 330, 360, 390], 50_000), 1);
        assert_eq!(i.recency, 2);
        assert_eq!(i.churn_risk, 0.869);
        assert_eq!(
            i.churn_reasons,
            [
                "no purchase for 300 days (usual gap 30 days)",
                "1 complaint(s) in the last 90 days",
                "purchases fell from 3 to 0 per half year",
            ]
        );
        // No purchases, three complaints: capped at 0.3.
        let none = insights(&[], 3);
        assert_eq!(none.churn_risk, 0.3);
        // One purchase 135 days ago: the default gap of 90 days, x = 1.5,
        // 0.5 / 2.5 = 0.2 (and no reason: x is not above 1.5).
        let once = insights(&[(135, 10_000)], 0);
        assert_eq!(once.churn_risk, 0.2);
        assert_eq!(once.churn_reasons, ["buying at the usual rhythm"]);
    }
}
