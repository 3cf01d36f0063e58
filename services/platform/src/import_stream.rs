//! Bulk imports, the stream side: a bidirectional stream read in batches (the first row of a
//! batch waits, the rest are those already received), each batch written, its results sent,
//! and only then the next batch read, so a client that stops reading stops the import instead
//! of growing a buffer. A service says how to parse, write and answer ([`ImportRows`]).
//!
//! The stream's `import_id` (its first message's) keys the rows that have no key of their
//! own ([`row_request_id`]): a re-sent stream replays the rows already written.
use crate::error::Violations;
use crate::idempotency::IdempotencyKey;
use crate::ids::RequestId;
use futures::FutureExt as _;
use std::collections::HashSet;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

pub type ReplyStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// Messages buffered towards the client before the producer waits.
const CHANNEL_DEPTH: usize = 2;

/// Runs `produce` in a task feeding a bounded channel; its error ends the stream.
pub fn spawn_stream<T, F>(
    produce: impl FnOnce(mpsc::Sender<Result<T, Status>>) -> F,
) -> ReplyStream<T>
where
    T: Send + 'static,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let done = tx.clone();
    let work = produce(tx);
    tokio::spawn(async move {
        if let Err(status) = work.await {
            let _ = done.send(Err(status)).await;
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }))
}

/// The status of a send to a client that has gone.
pub fn client_gone<E>(_: E) -> Status {
    Status::cancelled("the client closed the stream")
}

/// A row's number and outcome (`Err`: refused with these problems).
pub type RowResult<O> = (u32, Result<O, Vec<String>>);

/// What a row came to, for the stream's running totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    Created,
    Updated,
    Failed,
}

/// The rows of one import stream so far: created, updated and failed (refused included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportTotals {
    pub created: i32,
    pub updated: i32,
    pub failed: i32,
}

impl ImportTotals {
    fn count(&mut self, tally: Tally) {
        let n = match tally {
            Tally::Created => &mut self.created,
            Tally::Updated => &mut self.updated,
            Tally::Failed => &mut self.failed,
        };
        *n = n.saturating_add(1);
    }
}

/// What one service's import stream reads, writes and answers.
pub trait ImportRows: Send + Sync + 'static {
    /// A message of the inbound stream (one row).
    type Message: Send + 'static;
    /// A row ready for the service: keyed (possibly carrying why it cannot be written, if the
    /// service still wants its key claimed).
    type Row: Send;
    /// What the service made of a written row.
    type Outcome: Send;
    /// A message of the outbound stream (one batch's results).
    type Response: Send + 'static;

    /// Rows per batch (one transaction each) and the most read ahead of the client.
    fn batch_size(&self) -> usize;
    /// How long the stream may stay silent before it is ended.
    fn idle_timeout(&self) -> Duration;
    /// The message's `import_id` field.
    fn import_id(msg: &Self::Message) -> &str;
    /// Parses row number `row`, under the stream's `import` id (`None` while it has no valid
    /// one). `v` holds the problems of the message's `import_id` already. `None` refuses the
    /// row with what `v` says.
    fn parse(
        &self,
        msg: &Self::Message,
        row: u32,
        import: Option<RequestId>,
        v: &mut Violations,
    ) -> Option<Self::Row>;
    /// The key a row claims: two rows of one key never share a batch (the second goes into the
    /// next one, where it replays the first one's result or is refused as a reused key).
    fn key(row: &Self::Row) -> RequestId;
    /// Writes the keyed rows of a batch: one outcome per row, in order.
    fn write(
        &self,
        rows: Vec<Self::Row>,
    ) -> impl Future<Output = Result<Vec<Self::Outcome>, Status>> + Send;
    /// What a written row counts as in the totals (a refused row counts as failed).
    fn tally(outcome: &Self::Outcome) -> Tally;
    /// The answer to one batch: each row's number and outcome (`Err`: refused with these
    /// problems), in order, and the stream's totals with this batch counted.
    fn respond(&self, rows: Vec<RowResult<Self::Outcome>>, totals: ImportTotals) -> Self::Response;
}

/// Serves one import stream.
pub fn serve<I: ImportRows>(rows: I, inbound: Streaming<I::Message>) -> ReplyStream<I::Response>
where
    Streaming<I::Message>: Send,
{
    spawn_stream(move |tx| {
        Importer {
            rows,
            inbound,
            import_id: None,
            next_row: 0,
            held: None,
            totals: ImportTotals::default(),
        }
        .run(tx)
    })
}

/// A row's key when it has no request id of its own: derived from the stream's import id and
/// the row's position (a hash, so keys of different imports never meet).
pub fn row_request_id(import: RequestId, method: &'static str, row: u32) -> RequestId {
    let digest = IdempotencyKey::new(import, method, format!("{import}/{row}").as_bytes());
    let hex = digest.fingerprint.get(..32).unwrap_or_default();
    RequestId(uuid::Uuid::from_u128(
        u128::from_str_radix(hex, 16).unwrap_or_default(),
    ))
}

/// A row as read: ready for the service, or refused before it.
enum Parsed<R> {
    Keyed(R),
    Refused(Vec<String>),
}

struct Importer<I: ImportRows> {
    rows: I,
    inbound: Streaming<I::Message>,
    /// The stream's import id (from its first message).
    import_id: Option<RequestId>,
    next_row: u32,
    /// A message read but left for the next batch (its key repeats one in the batch).
    held: Option<I::Message>,
    totals: ImportTotals,
}

impl<I: ImportRows> Importer<I> {
    async fn run(mut self, tx: mpsc::Sender<Result<I::Response, Status>>) -> Result<(), Status> {
        while let Some(batch) = self.read_batch().await? {
            let first_row = self.next_row - batch.len() as u32;
            let results = write(&self.rows, batch, first_row).await?;
            for (_, outcome) in &results {
                self.totals
                    .count(outcome.as_ref().map_or(Tally::Failed, I::tally));
            }
            let msg = self.rows.respond(results, self.totals);
            // Waits while the client is not reading: the next batch is read only after this.
            tx.send(Ok(msg)).await.map_err(client_gone)?;
        }
        Ok(())
    }

    /// The next message, waiting at most the idle timeout.
    async fn next_message(&mut self) -> Result<Option<I::Message>, Status> {
        if let Some(m) = self.held.take() {
            return Ok(Some(m));
        }
        let idle = self.rows.idle_timeout();
        tokio::time::timeout(idle, self.inbound.message())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "no import row for {} ms; the stream was ended",
                    idle.as_millis()
                ))
            })?
    }

    /// Up to a batch of rows: the first waits, the rest are those already received.
    async fn read_batch(&mut self) -> Result<Option<Vec<Parsed<I::Row>>>, Status> {
        let Some(mut msg) = self.next_message().await? else {
            return Ok(None);
        };
        let mut batch = Vec::new();
        let mut keys = HashSet::new();
        loop {
            let parsed = self.parse(&msg);
            if let Parsed::Keyed(r) = &parsed
                && !keys.insert(I::key(r))
            {
                self.held = Some(msg);
                break;
            }
            self.next_row = self
                .next_row
                .checked_add(1)
                .ok_or_else(|| Status::out_of_range("too many rows in one import"))?;
            batch.push(parsed);
            if batch.len() >= self.rows.batch_size() {
                break;
            }
            match self.inbound.message().now_or_never() {
                Some(Ok(Some(m))) => msg = m,
                Some(Ok(None)) | None => break,
                Some(Err(status)) => return Err(status),
            }
        }
        Ok(Some(batch))
    }

    /// The common part of a row's checks (its `import_id`: the first message's sets the
    /// stream's, a later one must repeat it), then the service's.
    fn parse(&mut self, msg: &I::Message) -> Parsed<I::Row> {
        let row = self.next_row;
        let mut v = Violations::new();
        let import_id = I::import_id(msg);
        if !import_id.is_empty() {
            match v.check("import_id", RequestId::parse(import_id)) {
                Some(id) if row == 0 => self.import_id = Some(id),
                Some(id) if Some(id) != self.import_id => v.add(
                    "import_id",
                    "must be the import_id of the stream's first message",
                ),
                _ => {}
            }
        }
        match self.rows.parse(msg, row, self.import_id, &mut v) {
            Some(r) => Parsed::Keyed(r),
            None => Parsed::Refused(crate::import::violation_lines(&v)),
        }
    }
}

/// Writes the keyed rows of `batch` and lines every row up with its outcome.
async fn write<I: ImportRows>(
    rows: &I,
    batch: Vec<Parsed<I::Row>>,
    first_row: u32,
) -> Result<Vec<RowResult<I::Outcome>>, Status> {
    let mut keyed = Vec::new();
    let mut slots = Vec::with_capacity(batch.len());
    for p in batch {
        match p {
            Parsed::Keyed(r) => {
                keyed.push(r);
                slots.push(None);
            }
            Parsed::Refused(errors) => slots.push(Some(errors)),
        }
    }
    let mut written = if keyed.is_empty() {
        Vec::new().into_iter()
    } else {
        rows.write(keyed).await?.into_iter()
    };
    Ok(slots
        .into_iter()
        .zip(first_row..)
        .map(|(slot, row)| {
            let outcome = match slot {
                Some(errors) => Err(errors),
                None => written
                    .next()
                    .ok_or_else(|| vec!["not processed".to_owned()]),
            };
            (row, outcome)
        })
        .collect())
}
