//! The `doc` of each table as the store wrote it before this migration (the domain types'
//! serde at the time, frozen here: names, enum spellings and the fields older versions
//! left out, with the defaults the readers gave them), and its mapping to the new columns.
use super::{Assignments, get};
use crate::store::lists::v1;
use chrono::{DateTime, Utc};
use sea_orm_migration::sea_orm::QueryResult;
use sea_orm_migration::sea_query::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

type Time = DateTime<Utc>;
type Rewrite = fn(&QueryResult) -> Result<Assignments, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDoc {
    pub id: Uuid,
    pub customer: Uuid,
    pub channel: String,
    pub category: String,
    pub priority: String,
    pub status: String,
    pub subject: String,
    pub description: String,
    pub tags: Vec<String>,
    pub team: Option<Uuid>,
    pub assignee: Option<Uuid>,
    pub order_id: String,
    pub booking_id: String,
    pub customer_check: String,
    pub sla: SlaDoc,
    pub create_time: Time,
    pub update_time: Time,
    pub first_response_time: Option<Time>,
    pub solve_time: Option<Time>,
    pub close_time: Option<Time>,
    pub merged_into: Option<Uuid>,
    pub merged_from: Vec<Uuid>,
    pub escalations: i32,
    pub survey_token: String,
    /// Absent before surveys were numbered.
    #[serde(default)]
    pub survey: i32,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaDoc {
    pub policy: String,
    pub first_response_due: Option<Time>,
    pub next_response_due: Option<Time>,
    pub resolution_due: Option<Time>,
    pub paused_since: Option<Time>,
    pub missed: Vec<MissDoc>,
    pub finished: bool,
    #[serde(default)]
    pub unanswered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissDoc {
    /// `FirstResponse`, `NextResponse` or `Resolution` (the variant names).
    pub target: String,
    pub due: Time,
}

/// The doc's target spellings and the stored ones (`sla_events`, `store::lists::v1::Miss`).
const TARGETS: [(&str, &str); 3] = [
    ("FirstResponse", "first_response"),
    ("NextResponse", "next_response"),
    ("Resolution", "resolution"),
];

fn translate(target: &str, from_doc: bool) -> Result<String, String> {
    TARGETS
        .iter()
        .find(|(doc, stored)| target == if from_doc { *doc } else { *stored })
        .map(|(doc, stored)| if from_doc { stored } else { doc }.to_string())
        .ok_or_else(|| format!("unknown SLA target {target:?}"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDoc {
    pub id: Uuid,
    pub ticket: Uuid,
    pub kind: String,
    pub author: AuthorDoc,
    pub body: String,
    pub attachments: Vec<v1::Attachment>,
    pub create_time: Time,
    pub origin_ticket: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AuthorDoc {
    Agent(Uuid),
    Customer(Uuid),
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamDoc {
    pub id: Uuid,
    pub display_name: String,
    pub routing_strategy: String,
    pub categories: Vec<String>,
    pub category_skills: BTreeMap<String, String>,
    pub escalation_team: bool,
    pub create_time: Time,
    pub update_time: Time,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentDoc {
    pub id: Uuid,
    pub display_name: String,
    pub email: String,
    pub team: Uuid,
    pub skills: Vec<String>,
    pub max_open_tickets: i32,
    pub available: bool,
    pub open_tickets: i32,
    pub last_assigned: Option<Time>,
    pub create_time: Time,
    pub update_time: Time,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MacroDoc {
    pub code: String,
    pub title: String,
    pub body: String,
    pub create_time: Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SatisfactionDoc {
    pub ticket: Uuid,
    #[serde(default = "first_survey")]
    pub survey: i32,
    #[serde(default)]
    pub survey_token: String,
    pub overall: i32,
    pub service: i32,
    pub product_quality: i32,
    pub logistics: i32,
    pub comment: String,
    pub submit_time: Time,
    pub goodwill_points: i64,
    #[serde(default)]
    pub goodwill_pending: bool,
}

fn first_survey() -> i32 {
    1
}

fn col<T: sea_orm_migration::sea_orm::TryGetable>(row: &QueryResult, c: &str) -> Result<T, String> {
    get(row, c).map_err(|e| e.to_string())
}

fn doc<T: DeserializeOwned>(row: &QueryResult) -> Result<T, String> {
    serde_json::from_str(&col::<String>(row, "doc")?).map_err(|e| format!("corrupt doc: {e}"))
}

fn json<T: Serialize>(v: &T) -> Result<Value, String> {
    serde_json::to_string(v)
        .map(Value::from)
        .map_err(|e| e.to_string())
}

/// A JSON column written in format 1 (the only one when this migration was written).
fn list<T: DeserializeOwned>(row: &QueryResult, c: &str) -> Result<T, String> {
    match col::<i32>(row, "json_version")? {
        1 => serde_json::from_str(&col::<String>(row, c)?).map_err(|e| format!("{c}: {e}")),
        v => Err(format!("{c}: unknown json_version {v}")),
    }
}

fn doc_column<T: Serialize>(d: &T) -> Result<Assignments, String> {
    Ok(vec![("doc", json(d)?)])
}

/// The new columns of a row, from its doc (the columns beside the doc stay: they were
/// written with it, or are authoritative where they change without it).
pub fn columns_of(table: &str) -> Rewrite {
    match table {
        "tickets" => ticket_columns,
        "ticket_messages" => message_columns,
        "teams" => team_columns,
        "agents" => agent_columns,
        "macros" => macro_columns,
        _ => satisfaction_columns,
    }
}

/// The doc of a row, from its columns.
pub fn doc_of(table: &str) -> Rewrite {
    match table {
        "tickets" => ticket_doc,
        "ticket_messages" => message_doc,
        "teams" => team_doc,
        "agents" => agent_doc,
        "macros" => macro_doc,
        _ => satisfaction_doc,
    }
}

fn ticket_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: TicketDoc = doc(row)?;
    let missed = d
        .sla
        .missed
        .iter()
        .map(|m| {
            Ok(v1::Miss {
                target: translate(&m.target, true)?,
                due: m.due,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Written before surveys were numbered: its one survey is the first.
    let survey = if d.survey == 0 && !d.survey_token.is_empty() {
        1
    } else {
        d.survey
    };
    Ok(vec![
        ("subject", d.subject.into()),
        ("description", d.description.into()),
        ("tags", json(&d.tags)?),
        ("order_id", d.order_id.into()),
        ("booking_id", d.booking_id.into()),
        ("sla_policy", d.sla.policy.into()),
        ("sla_first_response_due", d.sla.first_response_due.into()),
        ("sla_next_response_due", d.sla.next_response_due.into()),
        ("sla_resolution_due", d.sla.resolution_due.into()),
        ("sla_paused_since", d.sla.paused_since.into()),
        ("sla_missed", json(&missed)?),
        ("sla_finished", d.sla.finished.into()),
        ("sla_unanswered", d.sla.unanswered.into()),
        ("first_response_time", d.first_response_time.into()),
        ("solve_time", d.solve_time.into()),
        ("close_time", d.close_time.into()),
        ("merged_into", d.merged_into.into()),
        ("merged_from", json(&d.merged_from)?),
        ("escalations", d.escalations.into()),
        ("survey_token", d.survey_token.into()),
        ("survey", survey.into()),
        ("json_version", 1.into()),
    ])
}

fn ticket_doc(row: &QueryResult) -> Result<Assignments, String> {
    let missed: Vec<v1::Miss> = list(row, "sla_missed")?;
    let missed = missed
        .into_iter()
        .map(|m| {
            Ok(MissDoc {
                target: translate(&m.target, false)?,
                due: m.due,
            })
        })
        .collect::<Result<_, String>>()?;
    doc_column(&TicketDoc {
        id: col(row, "id")?,
        customer: col(row, "customer_id")?,
        channel: col(row, "channel")?,
        category: col(row, "category")?,
        priority: col(row, "priority")?,
        status: col(row, "status")?,
        subject: col(row, "subject")?,
        description: col(row, "description")?,
        tags: list(row, "tags")?,
        team: col(row, "team_id")?,
        assignee: col(row, "assignee_id")?,
        order_id: col(row, "order_id")?,
        booking_id: col(row, "booking_id")?,
        customer_check: col(row, "customer_check")?,
        sla: SlaDoc {
            policy: col(row, "sla_policy")?,
            first_response_due: col(row, "sla_first_response_due")?,
            next_response_due: col(row, "sla_next_response_due")?,
            resolution_due: col(row, "sla_resolution_due")?,
            paused_since: col(row, "sla_paused_since")?,
            missed,
            finished: col(row, "sla_finished")?,
            unanswered: col(row, "sla_unanswered")?,
        },
        create_time: col(row, "create_time")?,
        update_time: col(row, "update_time")?,
        first_response_time: col(row, "first_response_time")?,
        solve_time: col(row, "solve_time")?,
        close_time: col(row, "close_time")?,
        merged_into: col(row, "merged_into")?,
        merged_from: list(row, "merged_from")?,
        escalations: col(row, "escalations")?,
        survey_token: col(row, "survey_token")?,
        survey: col(row, "survey")?,
        revision: col(row, "revision")?,
    })
}

fn message_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: MessageDoc = doc(row)?;
    let (kind, id) = match d.author {
        AuthorDoc::Agent(x) => ("agent", Some(x)),
        AuthorDoc::Customer(x) => ("customer", Some(x)),
        AuthorDoc::System => ("system", None),
    };
    Ok(vec![
        ("author_kind", kind.into()),
        ("author_id", id.into()),
        ("body", d.body.into()),
        ("attachments", json(&d.attachments)?),
        ("json_version", 1.into()),
    ])
}

fn message_doc(row: &QueryResult) -> Result<Assignments, String> {
    let id: Option<Uuid> = col(row, "author_id")?;
    let kind: String = col(row, "author_kind")?;
    let author = match (kind.as_str(), id) {
        ("agent", Some(x)) => AuthorDoc::Agent(x),
        ("customer", Some(x)) => AuthorDoc::Customer(x),
        ("system", None) => AuthorDoc::System,
        _ => return Err(format!("unknown author {kind:?} {id:?}")),
    };
    doc_column(&MessageDoc {
        id: col(row, "id")?,
        ticket: col(row, "ticket_id")?,
        kind: col(row, "kind")?,
        author,
        body: col(row, "body")?,
        attachments: list(row, "attachments")?,
        create_time: col(row, "create_time")?,
        origin_ticket: col(row, "origin_ticket_id")?,
    })
}

fn team_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: TeamDoc = doc(row)?;
    Ok(vec![
        ("display_name", d.display_name.into()),
        ("routing_strategy", d.routing_strategy.into()),
        ("categories", json(&d.categories)?),
        ("category_skills", json(&d.category_skills)?),
        ("escalation_team", d.escalation_team.into()),
        ("update_time", d.update_time.into()),
        ("json_version", 1.into()),
    ])
}

fn team_doc(row: &QueryResult) -> Result<Assignments, String> {
    doc_column(&TeamDoc {
        id: col(row, "id")?,
        display_name: col(row, "display_name")?,
        routing_strategy: col(row, "routing_strategy")?,
        categories: list(row, "categories")?,
        category_skills: list(row, "category_skills")?,
        escalation_team: col(row, "escalation_team")?,
        create_time: col(row, "create_time")?,
        update_time: col(row, "update_time")?,
        revision: col(row, "revision")?,
    })
}

fn agent_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: AgentDoc = doc(row)?;
    Ok(vec![
        ("display_name", d.display_name.into()),
        ("email", d.email.into()),
        ("skills", json(&d.skills)?),
        ("update_time", d.update_time.into()),
        ("json_version", 1.into()),
    ])
}

fn agent_doc(row: &QueryResult) -> Result<Assignments, String> {
    doc_column(&AgentDoc {
        id: col(row, "id")?,
        display_name: col(row, "display_name")?,
        email: col(row, "email")?,
        team: col(row, "team_id")?,
        skills: list(row, "skills")?,
        max_open_tickets: col(row, "max_open_tickets")?,
        available: col(row, "available")?,
        open_tickets: col(row, "open_tickets")?,
        last_assigned: col(row, "last_assigned")?,
        create_time: col(row, "create_time")?,
        update_time: col(row, "update_time")?,
        revision: col(row, "revision")?,
    })
}

fn macro_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: MacroDoc = doc(row)?;
    Ok(vec![("title", d.title.into()), ("body", d.body.into())])
}

fn macro_doc(row: &QueryResult) -> Result<Assignments, String> {
    doc_column(&MacroDoc {
        code: col(row, "code")?,
        title: col(row, "title")?,
        body: col(row, "body")?,
        create_time: col(row, "create_time")?,
    })
}

fn satisfaction_columns(row: &QueryResult) -> Result<Assignments, String> {
    let d: SatisfactionDoc = doc(row)?;
    Ok(vec![
        ("service", d.service.into()),
        ("product_quality", d.product_quality.into()),
        ("logistics", d.logistics.into()),
        ("comment", d.comment.into()),
        ("goodwill_points", d.goodwill_points.into()),
    ])
}

fn satisfaction_doc(row: &QueryResult) -> Result<Assignments, String> {
    doc_column(&SatisfactionDoc {
        ticket: col(row, "ticket_id")?,
        survey: col(row, "survey")?,
        survey_token: col(row, "survey_token")?,
        overall: col(row, "overall")?,
        service: col(row, "service")?,
        product_quality: col(row, "product_quality")?,
        logistics: col(row, "logistics")?,
        comment: col(row, "comment")?,
        submit_time: col(row, "submit_time")?,
        goodwill_points: col(row, "goodwill_points")?,
        goodwill_pending: col(row, "goodwill_pending")?,
    })
}
