//! The `file` sender: each message as one JSON line appended to `file_path` (for local
//! development and tests). The file is opened once in append mode; a lock keeps concurrent
//! sends' lines whole, and each line is one write, so other appending processes do not
//! interleave inside it either.
use super::{OutboundMessage, SendError};
use anyhow::Context as _;
use std::fs::File;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

pub(super) struct FileSender {
    file: Arc<Mutex<File>>,
}

impl FileSender {
    pub(super) fn open(path: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !path.is_empty(),
            "file_path is required with kind = \"file\""
        );
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {path} to append messages"))?;
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub(super) async fn send(&self, m: &OutboundMessage) -> Result<(), SendError> {
        let mut line =
            serde_json::to_vec(m).map_err(|e| SendError::Permanent(format!("encoding: {e}")))?;
        line.push(b'\n');
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = file
                .lock()
                .map_err(|_| SendError::Retryable("the file lock is poisoned".into()))?;
            f.write_all(&line)
                .map_err(|e| SendError::Retryable(format!("appending: {}", e.kind())))
        })
        .await
        .map_err(|_| SendError::Retryable("the append task failed".into()))?
    }
}
