//! The envelope of one event: CloudEvents 1.0 attributes around the encoded payload. The bus
//! carries it as named fields (the CloudEvents attribute names, `data` for the payload), the
//! outbox as columns; neither knows any payload type.
use chrono::{DateTime, Utc};
use opentelemetry::propagation::TextMapPropagator as _;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

/// `datacontenttype` of a protobuf-encoded payload (the default).
pub const PROTOBUF: &str = "application/protobuf";

/// One fact a service publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `id`: a UUIDv7 (time-ordered), the consumers' deduplication key.
    pub id: Uuid,
    /// `source`: the producing service, e.g. `customers`.
    pub source: String,
    /// `type`, e.g. `crm.customers.v1.customer.merged`.
    pub event_type: String,
    /// `subject`: the resource name the event is about, e.g. `customers/0190...`; events of
    /// one subject are published in the order they were appended.
    pub subject: String,
    /// `time`: when it happened.
    pub time: DateTime<Utc>,
    /// `traceparent` (W3C) of the span that produced it; empty without one.
    pub traceparent: String,
    /// `schemaversion`: the payload schema's version, for consumers of older and newer ones.
    pub schema_version: u32,
    /// `datacontenttype`, e.g. [`PROTOBUF`].
    pub content_type: String,
    /// `data`: the encoded payload.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// An event happening now in the current span: a new UUIDv7, schema version 1, protobuf
    /// payload.
    pub fn new(
        source: impl Into<String>,
        event_type: impl Into<String>,
        subject: impl Into<String>,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            source: source.into(),
            event_type: event_type.into(),
            subject: subject.into(),
            time: Utc::now(),
            traceparent: current_traceparent(),
            schema_version: 1,
            content_type: PROTOBUF.to_owned(),
            payload,
        }
    }

    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The fields of a stream entry.
    pub fn to_fields(&self) -> Fields {
        vec![
            (field::ID.into(), self.id.to_string().into_bytes()),
            (field::SOURCE.into(), self.source.clone().into_bytes()),
            (field::TYPE.into(), self.event_type.clone().into_bytes()),
            (field::SUBJECT.into(), self.subject.clone().into_bytes()),
            (field::TIME.into(), self.time.to_rfc3339().into_bytes()),
            (
                field::TRACEPARENT.into(),
                self.traceparent.clone().into_bytes(),
            ),
            (
                field::SCHEMA_VERSION.into(),
                self.schema_version.to_string().into_bytes(),
            ),
            (
                field::CONTENT_TYPE.into(),
                self.content_type.clone().into_bytes(),
            ),
            (field::DATA.into(), self.payload.clone()),
        ]
    }

    /// The envelope in a stream entry's fields (other fields are ignored).
    pub fn from_fields(fields: &Fields) -> Result<Self, DecodeError> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
                .ok_or_else(|| DecodeError(format!("missing field {name}")))
        };
        let text = |name: &str| {
            get(name).and_then(|v| {
                std::str::from_utf8(v)
                    .map(str::to_owned)
                    .map_err(|_| DecodeError(format!("field {name} is not UTF-8")))
            })
        };
        let bad = |name: &str| DecodeError(format!("field {name} is malformed"));
        Ok(Self {
            id: Uuid::parse_str(&text(field::ID)?).map_err(|_| bad(field::ID))?,
            source: text(field::SOURCE)?,
            event_type: text(field::TYPE)?,
            subject: text(field::SUBJECT)?,
            time: DateTime::parse_from_rfc3339(&text(field::TIME)?)
                .map_err(|_| bad(field::TIME))?
                .with_timezone(&Utc),
            traceparent: text(field::TRACEPARENT)?,
            schema_version: text(field::SCHEMA_VERSION)?
                .parse()
                .map_err(|_| bad(field::SCHEMA_VERSION))?,
            content_type: text(field::CONTENT_TYPE)?,
            payload: get(field::DATA)?.to_vec(),
        })
    }

    /// A span for handling this event, continuing the producer's trace.
    pub fn span(&self, consumer: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "event",
            consumer,
            event.id = %self.id,
            event.type = %self.event_type,
            event.subject = %self.subject,
        );
        if !self.traceparent.is_empty() {
            let carrier = HashMap::from([("traceparent".to_owned(), self.traceparent.clone())]);
            let parent =
                opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
            // No OpenTelemetry layer installed: nothing to continue.
            let _ = span.set_parent(parent);
        }
        span
    }
}

/// The named fields of one stream entry, in order.
pub type Fields = Vec<(String, Vec<u8>)>;

/// A stream entry that is not an envelope (never retried: it goes to the dead letters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event envelope: {0}")]
pub struct DecodeError(pub String);

/// Entry field names: the CloudEvents attribute names.
pub(crate) mod field {
    pub const ID: &str = "id";
    pub const SOURCE: &str = "source";
    pub const TYPE: &str = "type";
    pub const SUBJECT: &str = "subject";
    pub const TIME: &str = "time";
    pub const TRACEPARENT: &str = "traceparent";
    pub const SCHEMA_VERSION: &str = "schemaversion";
    pub const CONTENT_TYPE: &str = "datacontenttype";
    pub const DATA: &str = "data";
}

/// The W3C `traceparent` of the current span (empty when there is none).
fn current_traceparent() -> String {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;

    #[test]
    fn an_envelope_survives_its_fields_and_carries_the_current_trace() {
        let (subscriber, _) = crate::trace_capture::subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let (e, trace_id) = {
            let span = tracing::info_span!("mutation");
            let _entered = span.enter();
            let trace_id = span.context().span().span_context().trace_id().to_string();
            let e = Envelope::new(
                "customers",
                "crm.t.v1.thing.made",
                "things/1",
                vec![0, 159, 255],
            )
            .with_schema_version(3);
            (e, trace_id)
        };
        assert_eq!(e.id.get_version_num(), 7, "UUIDv7");
        assert!(
            e.traceparent.starts_with(&format!("00-{trace_id}-")),
            "{e:?}"
        );
        let back = Envelope::from_fields(&e.to_fields()).expect("decodes");
        assert_eq!(back, e);
        // Outside the producer's span: only the traceparent links the two.
        let handled = back.span("loyalty.points");
        assert_eq!(
            handled
                .context()
                .span()
                .span_context()
                .trace_id()
                .to_string(),
            trace_id,
            "the consumer's span continues the producer's trace"
        );
    }

    #[test]
    fn a_foreign_entry_is_a_decode_error() {
        let mut fields = Envelope::new("a", "b", "c", vec![]).to_fields();
        fields.retain(|(k, _)| k != field::SUBJECT);
        assert_eq!(
            Envelope::from_fields(&fields),
            Err(DecodeError("missing field subject".into()))
        );
    }
}
