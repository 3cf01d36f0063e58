//! Satisfaction surveys: each solve of a ticket opens a survey (see
//! [`status::apply`](super::status::apply)), answered once with its token; a low score asks
//! for a follow-up, reopens a solved ticket and may earn goodwill points.
use super::{Satisfaction, Status, Ticket, TicketId};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

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
    /// The ticket is solved: it reopens (whatever the reopen window).
    pub reopens: bool,
}

/// The answer `s` as stored for the current survey of `t` at `now`, and the follow-up of a
/// score at or below `low_score_threshold`. `goodwill_owed`: a low score earns goodwill
/// points here, so the award is marked pending (loyalty is asked after the answer commits).
pub fn record(
    t: &Ticket,
    mut s: Satisfaction,
    now: DateTime<Utc>,
    low_score_threshold: i32,
    goodwill_owed: bool,
) -> (Satisfaction, Option<FollowUp>) {
    s.ticket = t.id;
    s.survey = t.survey;
    s.survey_token = t.survey_token.clone();
    s.submit_time = now;
    s.goodwill_points = 0;
    let low = s.overall <= low_score_threshold;
    s.goodwill_pending = low && goodwill_owed;
    if !low {
        return (s, None);
    }
    let mut note = format!(
        "Low satisfaction score ({}/5): follow up with the customer by phone.",
        s.overall
    );
    if s.goodwill_pending {
        note.push_str(" Goodwill points follow when the loyalty service answers.");
    }
    let reopens = t.status == Status::Solved;
    (s, Some(FollowUp { note, reopens }))
}

/// The note once loyalty answered a goodwill award: `awarded` points (None: refused for
/// good); `late` when the background pass, not the answering call, got the answer.
pub fn goodwill_note(awarded: Option<i64>, late: bool) -> String {
    match awarded {
        Some(points) => {
            let when = if late { " (late)" } else { "" };
            format!("{points} goodwill points awarded{when}.")
        }
        None => "The loyalty service refused the goodwill points.".to_owned(),
    }
}

/// The loyalty request id of the goodwill award for survey `survey` of a ticket: derived
/// from both, so however often it is sent, loyalty awards it once per survey. (The first
/// survey keeps the id used before surveys were numbered, so an award pending across the
/// upgrade is not paid twice.)
pub fn goodwill_request_id(ticket: TicketId, survey: i32) -> uuid::Uuid {
    let seed = if survey <= 1 {
        format!("tickets.crm goodwill {}", ticket.name())
    } else {
        format!("tickets.crm goodwill {} survey {survey}", ticket.name())
    };
    let d = Sha256::digest(seed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
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
            goodwill_pending: false,
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
        let pending = format!("{low} Goodwill points follow when the loyalty service answers.");
        let follow = |note: &str, reopens| {
            Some(FollowUp {
                note: note.to_owned(),
                reopens,
            })
        };
        // (case, ticket, overall, threshold, goodwill owed, pending, follow-up)
        #[rustfmt::skip]
        let table = [
            ("a good score", solved_at(1), 4, 2, true, false, None),
            ("just above the threshold", solved_at(1), 3, 2, true, false, None),
            ("at the threshold: reopens, goodwill pending", solved_at(1), 2, 2, true, true, follow(&pending, true)),
            ("low, no goodwill here", solved_at(1), 2, 2, false, false, follow(low, true)),
            ("low on a ticket reopened since: no second reopen", open(), 2, 2, true, true, follow(&pending, false)),
            ("the lowest score", solved_at(1), 1, 2, false, false, follow(&low.replace("2/5", "1/5"), true)),
            ("threshold 0: nothing is low", solved_at(1), 1, 0, true, false, None),
        ];
        for (case, t, overall, threshold, owed, want_pending, want) in table {
            let (s, follow_up) = record(&t, answer(overall), at(5), threshold, owed);
            assert_eq!(follow_up, want, "{case}");
            assert_eq!(s.goodwill_pending, want_pending, "{case}");
            assert_eq!(
                (s.ticket, s.survey, s.survey_token.as_str()),
                (t.id, 1, "token-1"),
                "{case}"
            );
            assert_eq!((s.submit_time, s.goodwill_points), (at(5), 0), "{case}");
        }
    }

    #[test]
    fn goodwill_notes() {
        let table = [
            (Some(50), false, "50 goodwill points awarded."),
            (Some(50), true, "50 goodwill points awarded (late)."),
            (
                None,
                false,
                "The loyalty service refused the goodwill points.",
            ),
            (
                None,
                true,
                "The loyalty service refused the goodwill points.",
            ),
        ];
        for (awarded, late, want) in table {
            assert_eq!(goodwill_note(awarded, late), want);
        }
    }

    #[test]
    fn goodwill_request_id_is_stable_per_ticket() {
        let a = TicketId::generate();
        let b = TicketId::generate();
        assert_eq!(goodwill_request_id(a, 1), goodwill_request_id(a, 1));
        assert_ne!(goodwill_request_id(a, 1), goodwill_request_id(b, 1));
        assert_ne!(goodwill_request_id(a, 1), goodwill_request_id(a, 2));
        // Survey 1 keeps the id of the time before surveys were numbered.
        assert_eq!(goodwill_request_id(a, 0), goodwill_request_id(a, 1));
    }
}
