//! The loading connections of the parallel restore: each takes batches of rows from
//! the stream ([`crate::restore::parallel::split`]) and copies them into the side
//! database with `COPY … FROM STDIN`, one COPY per table it receives rows of (several
//! connections copy into one large table at once). At the end of each table every
//! connection ends its COPY of it and reports the table's index, so the orchestrator
//! knows when a table is completely in. Each connection first takes the
//! session settings `pg_restore` would: the archive's client encoding, standard
//! strings and search path, no timeouts, row security off.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::{Client, CopyInSink};

use crate::error::{Error, Result};
use crate::pg::archive_toc::Toc;
use crate::pg::connect::{DbTarget, classify_error};
use crate::restore::parallel::split::{Item, QUEUE_BATCHES};

/// What every loading connection needs of the archive.
#[derive(Debug)]
pub struct Tables {
    /// Per `TABLE DATA` entry: `schema.table` and its COPY statement.
    pub copy: Vec<(String, String)>,
    /// The session settings (SQL) before any COPY.
    pub settings: String,
}

impl Tables {
    /// From the archive's TOC (pure).
    pub fn from_toc(toc: &Toc) -> std::result::Result<Self, String> {
        let mut copy = Vec::new();
        for e in toc.table_data() {
            let stmt = e
                .copy_stmt
                .as_deref()
                .map(|s| s.trim_end().trim_end_matches(';').trim_end())
                .filter(|s| s.starts_with("COPY ") && s.ends_with("FROM stdin"))
                .ok_or_else(|| format!("table data entry {} has no COPY statement", e.dump_id))?;
            copy.push((e.table_name(), stmt.to_string()));
        }
        let mut settings = String::from(
            "SET statement_timeout = 0; SET lock_timeout = 0; \
             SET idle_in_transaction_session_timeout = 0; SET row_security = off; \
             SET client_min_messages = warning; SET synchronous_commit = off;\n",
        );
        for e in &toc.entries {
            if matches!(e.desc.as_str(), "ENCODING" | "STDSTRINGS" | "SEARCHPATH")
                && let Some(sql) = &e.defn
            {
                settings.push_str(sql);
                settings.push('\n');
            }
        }
        Ok(Self { copy, settings })
    }
}

/// What one connection loaded: rows per table (by index, as the server counted them
/// at the end of each COPY) and bytes.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub rows: Vec<u64>,
    pub bytes: u64,
}

impl Loaded {
    fn add(&mut self, table: usize, rows: u64) {
        if self.rows.len() <= table {
            self.rows.resize(table + 1, 0);
        }
        self.rows[table] += rows;
    }
}

/// The rows per `schema.table` all connections loaded (tables without rows: 0).
pub fn row_counts(tables: &Tables, loaded: &[Loaded]) -> std::collections::BTreeMap<String, i64> {
    tables
        .copy
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let rows: u64 = loaded.iter().filter_map(|l| l.rows.get(i)).sum();
            (name.clone(), i64::try_from(rows).unwrap_or(i64::MAX))
        })
        .collect()
}

/// The loading connections: their senders and tasks.
pub type Started = (
    Vec<mpsc::Sender<Item>>,
    Vec<tokio::task::JoinHandle<Result<Loaded>>>,
);

/// Opens `n` connections to `side` with the settings; each sends the index of every
/// table it has finished on `ended`.
pub async fn start(
    side: &DbTarget,
    tables: Arc<Tables>,
    n: usize,
    ended: &mpsc::UnboundedSender<usize>,
) -> Result<Started> {
    let mut senders = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let client = side.connect().await?;
        let target = side.describe();
        client
            .batch_execute(&tables.settings)
            .await
            .map_err(|e| classify_error(&target, "setting up a loading connection", e))?;
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        senders.push(tx);
        tasks.push(tokio::spawn(run(
            client,
            target,
            Arc::clone(&tables),
            rx,
            ended.clone(),
        )));
    }
    Ok((senders, tasks))
}

/// Copies every batch it receives; ends when the stream drops its sender.
async fn run(
    client: Client,
    target: String,
    tables: Arc<Tables>,
    mut rx: mpsc::Receiver<Item>,
    ended: mpsc::UnboundedSender<usize>,
) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut current: Option<(usize, Pin<Box<CopyInSink<Bytes>>>)> = None;
    let fail = |table: usize, doing: &str, e: tokio_postgres::Error| {
        let name = tables.copy.get(table).map_or("?", |(n, _)| n.as_str());
        classify_error(&target, &format!("{doing} table {name}"), e)
    };
    while let Some(item) = rx.recv().await {
        let batch = match item {
            Item::Rows(batch) => batch,
            Item::End(table) => {
                if let Some((t, sink)) = current.take_if(|(t, _)| *t == table) {
                    loaded.add(t, end(sink).await.map_err(|e| fail(t, "loading", e))?);
                }
                // Nobody listening: the restore is ending anyway.
                let _ = ended.send(table);
                continue;
            }
        };
        let same = current.as_ref().is_some_and(|(t, _)| *t == batch.table);
        if !same {
            if let Some((t, sink)) = current.take() {
                loaded.add(t, end(sink).await.map_err(|e| fail(t, "loading", e))?);
            }
            let Some((_, stmt)) = tables.copy.get(batch.table) else {
                return Err(Error::Internal(format!("no table {}", batch.table)));
            };
            let sink = client
                .copy_in(stmt.as_str())
                .await
                .map_err(|e| fail(batch.table, "starting COPY into", e))?;
            current = Some((batch.table, Box::pin(sink)));
        }
        if let Some((t, sink)) = current.as_mut() {
            loaded.bytes += batch.rows.len() as u64;
            sink.send(batch.rows)
                .await
                .map_err(|e| fail(*t, "loading", e))?;
        }
    }
    if let Some((t, sink)) = current.take() {
        loaded.add(t, end(sink).await.map_err(|e| fail(t, "loading", e))?);
    }
    Ok(loaded)
}

/// Ends a COPY; the rows the server loaded.
async fn end(
    mut sink: Pin<Box<CopyInSink<Bytes>>>,
) -> std::result::Result<u64, tokio_postgres::Error> {
    sink.as_mut().finish().await
}
