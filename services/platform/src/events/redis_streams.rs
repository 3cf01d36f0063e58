//! The Redis Streams backend of the [`EventBus`](super::EventBus). Every call is bounded by
//! the configured timeout (a blocking read by its block time plus that); a connection that
//! failed is dropped and opened again on the next call, so the bus resumes by itself when
//! Redis is back. Blocking reads use a connection of their own per subscription, so they never
//! hold up publishing or acknowledging.
use super::bus::{BusError, DeadLetter, Delivery, TimeRange};
use super::envelope::Fields;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamPendingReply, StreamRangeReply,
    StreamReadReply,
};
use redis::{AsyncConnectionConfig, FromRedisValue};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A lazily opened connection, dropped after any failure.
#[derive(Clone)]
struct Link {
    client: redis::Client,
    conn: Arc<Mutex<Option<MultiplexedConnection>>>,
    connect_timeout: Duration,
}

impl Link {
    fn new(client: redis::Client, connect_timeout: Duration) -> Self {
        Self {
            client,
            conn: Arc::default(),
            connect_timeout,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, BusError> {
        if let Some(c) = self.slot().clone() {
            return Ok(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        let c = tokio::time::timeout(
            self.connect_timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| BusError("redis: connecting timed out".into()))??;
        *self.slot() = Some(c.clone());
        Ok(c)
    }

    /// Runs `call` on the connection within `timeout`; a failure drops the connection.
    async fn run<T, F, Fut>(&self, timeout: Duration, call: F) -> Result<T, BusError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        let out = match tokio::time::timeout(timeout, call(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if e.code().is_some() => return Err(e.into()), // Redis refused the command
            Ok(Err(e)) => BusError::from(e),
            Err(_) => BusError(format!(
                "redis: no answer within {} ms",
                timeout.as_millis()
            )),
        };
        *self.slot() = None;
        Err(out)
    }
}

async fn query<T: FromRedisValue>(
    cmd: redis::Cmd,
    mut conn: MultiplexedConnection,
) -> redis::RedisResult<T> {
    cmd.query_async(&mut conn).await
}

async fn query_pipe<T: FromRedisValue>(
    pipe: redis::Pipeline,
    mut conn: MultiplexedConnection,
) -> redis::RedisResult<T> {
    pipe.query_async(&mut conn).await
}

/// `XADD stream [MAXLEN ~ max_len] * fields...` (no trimming without `max_len`).
fn xadd(stream: &str, fields: &Fields, max_len: Option<u64>) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream);
    if let Some(n) = max_len {
        cmd.arg("MAXLEN").arg("~").arg(n);
    }
    cmd.arg("*");
    for (k, v) in fields {
        cmd.arg(k).arg(v.as_slice());
    }
    cmd
}

fn fields_of(map: HashMap<String, redis::Value>) -> Fields {
    map.into_iter()
        .filter_map(|(k, v)| match v {
            redis::Value::BulkString(b) => Some((k, b)),
            redis::Value::SimpleString(s) => Some((k, s.into_bytes())),
            _ => None,
        })
        .collect()
}

fn delivery(entry: StreamId, deliveries: u64) -> Delivery {
    Delivery {
        entry_id: entry.id,
        deliveries,
        fields: fields_of(entry.map),
    }
}

pub(super) struct RedisBus {
    link: Link,
    timeout: Duration,
}

impl RedisBus {
    pub(super) fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            link: Link::new(redis::Client::open(url)?, timeout),
            timeout,
        })
    }

    /// A connection of its own for one subscription's blocking reads.
    pub(super) fn reader(&self) -> RedisReader {
        RedisReader {
            link: Link::new(self.link.client.clone(), self.timeout),
            timeout: self.timeout,
        }
    }

    pub(super) async fn append(
        &self,
        stream: &str,
        entries: &[Fields],
        max_len: u64,
    ) -> Result<Vec<String>, BusError> {
        let mut pipe = redis::pipe();
        for fields in entries {
            pipe.add_command(xadd(stream, fields, Some(max_len)));
        }
        self.link.run(self.timeout, |c| query_pipe(pipe, c)).await
    }

    pub(super) async fn create_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM");
        self.link
            .run(self.timeout, |c| async move {
                match query::<()>(cmd, c).await {
                    Err(e) if e.code() == Some("BUSYGROUP") => Ok(()), // created before
                    other => other,
                }
            })
            .await
    }

    pub(super) async fn reclaim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
        cursor: &str,
    ) -> Result<(String, Vec<Delivery>), BusError> {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(stream)
            .arg(group)
            .arg(consumer)
            .arg(min_idle.as_millis() as u64)
            .arg(cursor)
            .arg("COUNT")
            .arg(count.max(1));
        let reply: StreamAutoClaimReply = self.link.run(self.timeout, |c| query(cmd, c)).await?;
        super::entry::log_trimmed(stream, group, &reply.deleted_ids);
        if reply.claimed.is_empty() {
            return Ok((reply.next_stream_id, Vec::new()));
        }
        // XAUTOCLAIM counted one more delivery of each; read the counts from the pending list.
        let mut pipe = redis::pipe();
        for e in &reply.claimed {
            pipe.cmd("XPENDING")
                .arg(stream)
                .arg(group)
                .arg(&e.id)
                .arg(&e.id)
                .arg(1);
        }
        let counts: Vec<StreamPendingCountReply> =
            self.link.run(self.timeout, |c| query_pipe(pipe, c)).await?;
        let claimed = reply
            .claimed
            .into_iter()
            .zip(counts)
            .map(|(e, p)| {
                let n = p.ids.first().map_or(1, |p| p.times_delivered as u64);
                delivery(e, n)
            })
            .collect();
        Ok((reply.next_stream_id, claimed))
    }

    pub(super) async fn ack(
        &self,
        stream: &str,
        group: &str,
        entry_ids: &[String],
    ) -> Result<(), BusError> {
        let mut cmd = redis::cmd("XACK");
        cmd.arg(stream).arg(group).arg(entry_ids);
        self.link.run(self.timeout, |c| query::<()>(cmd, c)).await
    }

    pub(super) async fn dead_letter(
        &self,
        stream: &str,
        group: &str,
        entry_id: &str,
        dead: &str,
        fields: &Fields,
    ) -> Result<(), BusError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        // Dead letters are not trimmed: each one waits for an operator.
        pipe.add_command(xadd(dead, fields, None)).ignore();
        pipe.cmd("XACK")
            .arg(stream)
            .arg(group)
            .arg(entry_id)
            .ignore();
        self.link
            .run(self.timeout, |c| query_pipe::<()>(pipe, c))
            .await
    }

    pub(super) async fn pending(&self, stream: &str, group: &str) -> Result<u64, BusError> {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(stream).arg(group);
        let reply: StreamPendingReply = self.link.run(self.timeout, |c| query(cmd, c)).await?;
        Ok(reply.count() as u64)
    }

    pub(super) async fn len(&self, stream: &str) -> Result<u64, BusError> {
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(stream);
        self.link.run(self.timeout, |c| query(cmd, c)).await
    }

    pub(super) async fn range(
        &self,
        stream: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<(String, Fields)>, BusError> {
        let (from, to) = range.millis();
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(stream)
            .arg(format!("{from}-0"))
            .arg(format!("{to}-{}", u64::MAX))
            .arg("COUNT")
            .arg(limit.max(1));
        let reply: StreamRangeReply = self.link.run(self.timeout, |c| query(cmd, c)).await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|e| (e.id, fields_of(e.map)))
            .collect())
    }

    pub(super) async fn replay(
        &self,
        stream: &str,
        dead: &str,
        range: TimeRange,
        limit: usize,
        max_len: u64,
    ) -> Result<usize, BusError> {
        let batch = self.range(dead, range, limit).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (id, fields) in &batch {
            pipe.add_command(xadd(
                stream,
                &DeadLetter::replay_fields(fields),
                Some(max_len),
            ))
            .ignore();
            pipe.cmd("XDEL").arg(dead).arg(id).ignore();
        }
        self.link
            .run(self.timeout, |c| query_pipe::<()>(pipe, c))
            .await?;
        Ok(batch.len())
    }
}

/// One subscription's connection for `XREADGROUP ... BLOCK`.
pub(super) struct RedisReader {
    link: Link,
    timeout: Duration,
}

impl RedisReader {
    pub(super) async fn read(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count.max(1))
            .arg("BLOCK")
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(stream)
            .arg(">");
        let reply: Option<StreamReadReply> = self
            .link
            .run(block + self.timeout, |c| query(cmd, c))
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| delivery(e, 1))
            .collect())
    }
}
