//! The embedded backend: one SQLite file (bundled SQLite, WAL, full sync) with the same three
//! tables and pk/sk layout as DynamoDB. A conditional put is a plain INSERT on the primary key.
//!
//! SQLite calls block (on the disk, and for up to the busy timeout on another process's lock), so
//! every call runs on the runtime's blocking pool (`spawn_blocking`), never on the async worker:
//! one locked database cannot freeze `dlg mcp`'s single-threaded runtime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dlg_core::graph::{ContributionItem, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, EntityKind, ExpertSlug};
use dlg_core::model::tension_is_open;
use dlg_core::seal::WrappedKey;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use crate::{
    CommitRow, EventStore, GraphStore, KeyStore, Store, StoreError, StoreResult, commit_key,
    key_version_key, parse_partition_key, partition_key,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    commit_bytes BLOB NOT NULL,
    hash BLOB NOT NULL,
    idem TEXT,
    signature BLOB,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
";

/// The graph sort-key layout this build writes (2: an entity's edges under `E#{id}#`).
const GRAPH_LAYOUT: u32 = 2;

/// A SQLite store in one file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let fail = |e: rusqlite::Error| {
            StoreError::Unavailable(format!(
                "cannot open the SQLite store {}: {e} (check the path and its permissions, or set DLG_HOME)",
                path.display()
            ))
        };
        // A new database is created owner-only (0600); SQLite gives its WAL and shared-memory
        // files the database file's mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot create the SQLite store {}: {e} (check the path and its permissions, or set DLG_HOME)",
                        path.display()
                    )));
                }
            }
        }
        let connection = Connection::open(path).map_err(fail)?;
        connection
            .busy_timeout(Duration::from_secs(30))
            .map_err(fail)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        // A ledger acknowledges a commit only once it is durable.
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        // Deleted rows (shredded keys) are overwritten with zeros, not just unlinked.
        connection
            .pragma_update(None, "secure_delete", "ON")
            .map_err(fail)?;
        connection.execute_batch(SCHEMA).map_err(fail)?;
        // A store written before format 2 has no signature column: add it (its rows keep NULL,
        // as unsigned format 1 commits have no signature).
        let has_signature: bool = connection
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'signature'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(fail)?;
        if !has_signature {
            match connection.execute_batch("ALTER TABLE events ADD COLUMN signature BLOB") {
                // Another process opening the same old store added it first.
                Err(e) if e.to_string().contains("duplicate column") => {}
                other => other.map_err(fail)?,
            }
        }
        // The graph is derived data: a store written with an older sort-key layout drops its
        // graph rows (checkpoint included), and the next read projects them anew.
        let layout: u32 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail)?;
        if layout < GRAPH_LAYOUT {
            connection
                .execute_batch(&format!(
                    "DELETE FROM graph; PRAGMA user_version = {GRAPH_LAYOUT};"
                ))
                .map_err(fail)?;
        }
        Ok(Self {
            path: path.to_owned(),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `action` on the connection on the blocking pool, and waits for it without blocking
    /// the async runtime.
    async fn with<T: Send + 'static>(
        &self,
        action: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let connection = Arc::clone(&self.connection);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().map_err(|_| {
                StoreError::Unavailable("the SQLite connection was poisoned by a panic".to_owned())
            })?;
            action(&mut connection).map_err(|e| error(&path, e))
        })
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "SQLite store {}: the call did not finish: {e}",
                self.path.display()
            ))
        })?
    }

    /// Graph rows `(pk, sk, item)` selected by `sql` with text parameters, decoded.
    async fn read_graph(
        &self,
        sql: &'static str,
        parameters: Vec<String>,
    ) -> StoreResult<Vec<(DialogueId, GraphItem)>> {
        let rows: Vec<(String, String, String)> = self
            .with(move |c| {
                let mut statement = c.prepare(sql)?;
                let rows = statement.query_map(rusqlite::params_from_iter(parameters), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(pk, sk, json)| {
                let dialogue = parse_partition_key(&pk)?;
                let item = serde_json::from_str(&json).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "graph item `{sk}` of {dialogue} cannot be read: {e}"
                    ))
                })?;
                Ok((dialogue, item))
            })
            .collect()
    }
}

fn error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("SQLite store {}: {e}", path.display()))
}

/// The number of the dialogue's last commit (0 for none).
fn head(connection: &Connection, pk: &str) -> rusqlite::Result<u64> {
    let sk: Option<String> = connection
        .query_row(
            "SELECT sk FROM events WHERE pk = ?1 ORDER BY sk DESC LIMIT 1",
            params![pk],
            |row| row.get(0),
        )
        .optional()?;
    Ok(sk
        .and_then(|sk| crate::parse_commit_key(&sk).ok())
        .unwrap_or(0))
}

impl EventStore for SqliteStore {
    async fn dialogues(&self) -> StoreResult<Vec<DialogueId>> {
        let pks: Vec<String> = self
            .with(|c| {
                let mut statement = c.prepare("SELECT DISTINCT pk FROM events ORDER BY pk")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        pks.iter().map(|pk| parse_partition_key(pk)).collect()
    }

    async fn commit_range(
        &self,
        dialogue: &DialogueId,
        from: u64,
        through: u64,
    ) -> StoreResult<Vec<CommitRow>> {
        let pk = partition_key(dialogue);
        type Row = (String, Vec<u8>, Vec<u8>, Option<Vec<u8>>);
        let rows: Vec<Row> = self
            .with(move |c| {
                let mut statement = c.prepare(
                    "SELECT sk, commit_bytes, hash, signature FROM events
                     WHERE pk = ?1 AND sk >= ?2 AND sk <= ?3 ORDER BY sk",
                )?;
                let rows = statement.query_map(
                    params![pk, commit_key(from), commit_key_upper(through)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(sk, bytes, hash, signature)| {
                let number = crate::parse_commit_key(&sk)?;
                CommitRow::from_parts(dialogue, number, bytes, hash, signature)
            })
            .collect()
    }

    async fn append(
        &self,
        dialogue: &DialogueId,
        row: &CommitRow,
        idempotency_key: Option<&str>,
    ) -> StoreResult<()> {
        crate::check_size(row)?;
        let pk = partition_key(dialogue);
        let (number, bytes, hash) = (row.number, row.bytes.clone(), row.hash);
        let signature = row.signature.map(|s| s.to_vec());
        let idempotency_key = idempotency_key.map(str::to_owned);
        // `Some(head)` when another commit holds the number: a lost race.
        let conflict = self
            .with(move |connection| {
                let inserted = connection.execute(
                    "INSERT INTO events (pk, sk, commit_bytes, hash, idem, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        pk,
                        commit_key(number),
                        bytes,
                        hash.as_slice(),
                        idempotency_key,
                        signature
                    ],
                );
                match inserted {
                    Ok(_) => Ok(None),
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == ErrorCode::ConstraintViolation =>
                    {
                        head(connection, &pk).map(Some)
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        match conflict {
            None => Ok(()),
            Some(actual) => Err(StoreError::Conflict {
                dialogue: dialogue.clone(),
                expected: row.number,
                actual,
            }),
        }
    }
}

impl KeyStore for SqliteStore {
    async fn wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<Vec<(u32, WrappedKey)>> {
        let pk = partition_key(dialogue);
        let rows: Vec<(String, String)> = self
            .with(move |c| {
                let mut statement =
                    c.prepare("SELECT sk, wrapped FROM keys WHERE pk = ?1 ORDER BY sk")?;
                let rows =
                    statement.query_map(params![pk], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(sk, json)| crate::parse_wrapped_key(dialogue, &sk, &json))
            .collect()
    }

    async fn put_wrapped_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        wrapped: &WrappedKey,
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(wrapped).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (pk, sk) = (partition_key(dialogue), key_version_key(version));
        let inserted = self
            .with(move |c| {
                c.execute(
                    "INSERT INTO keys (pk, sk, wrapped) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![pk, sk, json],
                )
            })
            .await?;
        if inserted == 0 {
            return Err(StoreError::KeyExists {
                dialogue: dialogue.clone(),
                version,
            });
        }
        Ok(())
    }

    async fn delete_wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<usize> {
        let pk = partition_key(dialogue);
        let deleted = self
            .with(move |c| c.execute("DELETE FROM keys WHERE pk = ?1", params![pk]))
            .await?;
        // secure_delete (set at open) zeroes the deleted rows in the database pages; truncating the
        // WAL drops older frames that still held them. Readers in other processes can keep the WAL
        // alive, so this part is best effort: the next checkpoint finishes it.
        if let Err(error) = self
            .with(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
            .await
        {
            tracing::warn!(%error, "the WAL still holds old pages until the next checkpoint");
        }
        Ok(deleted)
    }
}

impl GraphStore for SqliteStore {
    async fn graph_items(&self, dialogue: &DialogueId) -> StoreResult<Vec<GraphItem>> {
        self.graph_items_under(dialogue, "").await
    }

    async fn graph_items_under(
        &self,
        dialogue: &DialogueId,
        prefix: &str,
    ) -> StoreResult<Vec<GraphItem>> {
        let rows = self
            .read_graph(
                "SELECT pk, sk, item FROM graph WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk",
                vec![
                    partition_key(dialogue),
                    prefix.to_owned(),
                    prefix_end(prefix),
                ],
            )
            .await?;
        rows.into_iter().map(|(_, item)| Ok(item)).collect()
    }

    async fn open_tensions(&self) -> StoreResult<Vec<(DialogueId, NodeItem)>> {
        let rows = self
            .read_graph(
                "SELECT pk, sk, item FROM graph WHERE sk >= 'N#T' AND sk < 'N#U' ORDER BY pk, sk",
                Vec::new(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(dialogue, item)| match item {
                GraphItem::Node(node)
                    if node.kind == EntityKind::Tension && tension_is_open(node.status) =>
                {
                    Some((dialogue, node))
                }
                _ => None,
            })
            .collect())
    }

    async fn contributions_of(
        &self,
        expert: &ExpertSlug,
    ) -> StoreResult<Vec<(DialogueId, ContributionItem)>> {
        let prefix = format!("C#{expert}#");
        let end = prefix_end(&prefix);
        let rows = self
            .read_graph(
                "SELECT pk, sk, item FROM graph WHERE sk >= ?1 AND sk < ?2 ORDER BY pk, sk",
                vec![prefix, end],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(dialogue, item)| match item {
                GraphItem::Contribution(c) => Some((dialogue, c)),
                _ => None,
            })
            .collect())
    }

    async fn put_graph_items(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
        expected_checkpoint: u64,
    ) -> StoreResult<()> {
        let rows = encode_items(items)?;
        let pk = partition_key(dialogue);
        let stored_checkpoint = self
            .with(move |c| {
                let transaction = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let checkpoint: Option<String> = transaction
                    .query_row(
                        "SELECT item FROM graph WHERE pk = ?1 AND sk = 'CKPT'",
                        params![pk],
                        |row| row.get(0),
                    )
                    .optional()?;
                let stored = checkpoint
                    .and_then(|json| serde_json::from_str::<GraphItem>(&json).ok())
                    .map_or(0, |item| item.origin_commit());
                if stored != expected_checkpoint {
                    return Ok(Some(stored));
                }
                {
                    let mut statement = transaction.prepare(
                        "INSERT INTO graph (pk, sk, item) VALUES (?1, ?2, ?3)
                     ON CONFLICT (pk, sk) DO UPDATE SET item = excluded.item",
                    )?;
                    for (sk, json) in &rows {
                        statement.execute(params![pk, sk, json])?;
                    }
                }
                transaction.commit().map(|()| None)
            })
            .await?;
        match stored_checkpoint {
            None => Ok(()),
            Some(actual) => Err(StoreError::Conflict {
                dialogue: dialogue.clone(),
                expected: expected_checkpoint,
                actual,
            }),
        }
    }

    async fn replace_graph(&self, dialogue: &DialogueId, items: &[GraphItem]) -> StoreResult<()> {
        let rows = encode_items(items)?;
        let pk = partition_key(dialogue);
        self.with(move |c| {
            let transaction = c.transaction()?;
            transaction.execute("DELETE FROM graph WHERE pk = ?1", params![pk])?;
            {
                let mut statement =
                    transaction.prepare("INSERT INTO graph (pk, sk, item) VALUES (?1, ?2, ?3)")?;
                for (sk, json) in &rows {
                    statement.execute(params![pk, sk, json])?;
                }
            }
            transaction.commit()
        })
        .await
    }
}

/// The smallest string above every string that starts with `prefix` (ASCII sort keys).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    match end.pop() {
        Some(last) => end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX)),
        None => end.push(char::MAX),
    }
    end
}

/// The sort key bounding commits up to `through` (all of them for `u64::MAX`).
fn commit_key_upper(through: u64) -> String {
    if through >= 9_999_999_999 {
        "C#9999999999".to_owned()
    } else {
        commit_key(through)
    }
}

fn encode_items(items: &[GraphItem]) -> StoreResult<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            serde_json::to_string(item)
                .map(|json| (item.sort_key(), json))
                .map_err(|e| StoreError::Corrupt(format!("graph item {}: {e}", item.sort_key())))
        })
        .collect()
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
