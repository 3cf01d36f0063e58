//! Satisfaction surveys: each solve of a ticket opens a survey (see
//! [`status::apply`](super::status::apply)), answered once with its token; a low score asks
//! for a follow-up, reopens a solved ticket and may earn goodwill points (awarded by loyalty
//! from the answer's event).
use super::{Satisfaction, Status, Ticket};
use chrono::{DateTime, Utc};

/// Why an answer is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// That survey was answered already.
    Answered,
    /// The ticket has no open survey with this token.
    NotOpen,
}

/// Whether `token` opens the current survey of `t`. `earlier_answered`: the token is that of
/// an earlier survey of `t`, answered (the ticket was solved again since).
pub fn accepts(t: &Ticket, token: &str, earlier_answered: bool) -> Result<(), Refusal> {
    if t.survey_token != token && earlier_answered {
        return Err(Refusal::Answered);
    }
    if t.solve_time.is_none()
        || t.survey_token.is_empty()
        || t.survey_token != token
        || t.merged_into.is_some()
    {
        return Err(Refusal::NotOpen);
    }
    Ok(())
}

/// A low score's follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// The note on the ticket's thread.
    pub note: String,
    /// The note that goodwill points were granted (sent to loyalty), when they were.
    pub goodwill_note: Option<String>,
    /// The ticket is solved: it reopens (whatever the reopen window).
    pub reopens: bool,
}

/// The answer `s` as stored for the current survey of `t` at `now`, and the follow-up of a
/// score at or below `low_score_threshold`. A low score earns `goodwill_points` (0: none
/// here); the answer carries them and its event takes them to loyalty, which awards them.
pub fn record(
    t: &Ticket,
    mut s: Satisfaction,
    now: DateTime<Utc>,
    low_score_threshold: i32,
    goodwill_points: i64,
) -> (Satisfaction, Option<FollowUp>) {
    s.ticket = t.id;
    s.survey = t.survey;
    s.survey_token = t.survey_token.clone();
    s.submit_time = now;
    s.goodwill_pending = false;
    let low = s.overall <= low_score_threshold;
    s.goodwill_points = if low { goodwill_points.max(0) } else { 0 };
    if !low {
        return (s, None);
    }
    let note = format!(
        "Low satisfaction score ({}/5): follow up with the customer by phone.",
        s.overall
    );
    let goodwill_note = (s.goodwill_points > 0).then(|| goodwill_note(s.goodwill_points));
    let reopens = t.status == Status::Solved;
    (
        s,
        Some(FollowUp {
            note,
            goodwill_note,
            reopens,
        }),
    )
}

/// The note that an answer's goodwill points were granted: loyalty credits them from the
/// answer's event (nothing about the customer in it).
pub fn goodwill_note(points: i64) -> String {
    format!("{points} goodwill points awarded (sent to the loyalty service).")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TicketId;
    use crate::domain::fixtures::{at, solved_at, ticket};

    fn answer(overall: i32) -> Satisfaction {
        Satisfaction {
            ticket: TicketId(uuid::Uuid::nil()),
            survey: 0,
            survey_token: String::new(),
            overall,
            service: 0,
            product_quality: 0,
            logistics: 0,
            comment: String::new(),
            submit_time: at(0),
            goodwill_points: 5,
            goodwill_pending: true,
        }
    }

    #[test]
    fn which_tokens_open_a_survey() {
        let merged = || {
            let mut t = solved_at(1);
            t.merged_into = Some(TicketId(uuid::Uuid::from_u128(8)));
            t
        };
        let reopened = || {
            let mut t = solved_at(1);
            t.status = Status::Open;
            t
        };
        // (case, ticket, token, an earlier survey answered with it, verdict)
        #[rustfmt::skip]
        let table = [
            ("the current token", solved_at(1), "token-1", false, Ok(())),
            ("reopened since: still open", reopened(), "token-1", false, Ok(())),
            ("a wrong token", solved_at(1), "token-0", false, Err(Refusal::NotOpen)),
            ("an earlier survey's token, answered", solved_at(1), "token-0", true, Err(Refusal::Answered)),
            ("empty token on a never solved ticket", ticket(Status::Open), "", false, Err(Refusal::NotOpen)),
            ("never solved", ticket(Status::Open), "token-1", false, Err(Refusal::NotOpen)),
            ("merged away", merged(), "token-1", false, Err(Refusal::NotOpen)),
            ("the current token answered earlier is for the store to say", solved_at(1), "token-1", true, Ok(())),
        ];
        for (case, t, token, earlier, want) in table {
            assert_eq!(accepts(&t, token, earlier), want, "{case}");
        }
    }

    #[test]
    fn what_an_answer_records() {
        let open = || {
            let mut t = solved_at(1);
            t.status = Status::Open;
            t
        };
        let low = "Low satisfaction score (2/5): follow up with the customer by phone.";
        let granted = Some("50 goodwill points awarded (sent to the loyalty service).".to_owned());
        let follow = |note: &str, goodwill_note: &Option<String>, reopens| {
            Some(FollowUp {
                note: note.to_owned(),
                goodwill_note: goodwill_note.clone(),
                reopens,
            })
        };
        // (case, ticket, overall, threshold, goodwill configured, points earned, follow-up)
        #[rustfmt::skip]
        let table = [
            ("a good score", solved_at(1), 4, 2, 50, 0, None),
            ("just above the threshold", solved_at(1), 3, 2, 50, 0, None),
            ("at the threshold: reopens, goodwill", solved_at(1), 2, 2, 50, 50, follow(low, &granted, true)),
            ("low, no goodwill here", solved_at(1), 2, 2, 0, 0, follow(low, &None, true)),
            ("low on a ticket reopened since: no second reopen", open(), 2, 2, 50, 50, follow(low, &granted, false)),
            ("the lowest score", solved_at(1), 1, 2, 0, 0, follow(&low.replace("2/5", "1/5"), &None, true)),
            ("threshold 0: nothing is low", solved_at(1), 1, 0, 50, 0, None),
        ];
        for (case, t, overall, threshold, configured, points, want) in table {
            let (s, follow_up) = record(&t, answer(overall), at(5), threshold, configured);
            assert_eq!(follow_up, want, "{case}");
            assert_eq!(s.goodwill_points, points, "{case}");
            assert!(!s.goodwill_pending, "{case}: nothing is left pending");
            assert_eq!(
                (s.ticket, s.survey, s.survey_token.as_str(), s.submit_time),
                (t.id, 1, "token-1", at(5)),
                "{case}"
            );
        }
    }
}
