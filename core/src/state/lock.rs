//! One picday at a time per state: an OS-level lock that dies with its process.
//!
//! The lock is a tiny SQLite database (`.picday/lock`) held in exclusive locking mode: SQLite
//! takes a byte-range lock on the file (`fcntl` on Unix, `LockFileEx` on Windows) and keeps it
//! until the connection closes. The operating system drops such locks when the process ends,
//! however it ends (kill -9, power cut), so a crashed run never leaves a lock that blocks the
//! next one, and there is no "stale lock file" to delete by hand. Who holds the lock is written
//! beside it (`lock.info`), only to make the refusal message useful.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{Error, Result};

/// Holds the state's lock until dropped.
#[derive(Debug)]
pub struct RunLock {
    /// Held, never used: closing it releases the lock. (A mutex only to make the type `Sync`.)
    _conn: std::sync::Mutex<Connection>,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the state folder `dir`, or says who holds it. Never waits.
    pub fn acquire(dir: &Path, state_file: &Path, what: &str) -> Result<RunLock> {
        let path = dir.join("lock");
        let info = dir.join("lock.info");
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        let taken = conn
            .busy_timeout(std::time::Duration::ZERO)
            .and_then(|()| conn.pragma_update(None, "locking_mode", "EXCLUSIVE"))
            .and_then(|()| {
                conn.execute_batch(
                    "BEGIN EXCLUSIVE;
                     CREATE TABLE IF NOT EXISTS holder (n INTEGER);
                     DELETE FROM holder; INSERT INTO holder VALUES (1);
                     COMMIT;",
                )
            });
        match taken {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                let holder = std::fs::read_to_string(&info).unwrap_or_default();
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another picday".to_string()
                } else {
                    format!("another picday ({holder})")
                };
                return Err(Error::config(format!(
                    "{who} is using {}; wait for it to finish (two runs at once on the same \
                     state would send photos twice and mix up the record)",
                    state_file.display()
                )));
            }
            Err(e) => {
                return Err(Error::io(&path, std::io::Error::other(e))
                    .prefixed("cannot take the state lock"));
            }
        }
        // Best effort: only used to name the holder in the message above.
        let _ = std::fs::write(
            &info,
            format!(
                "pid {}, `picday {what}` since {}\n",
                std::process::id(),
                jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or_else(|_| jiff::Timestamp::now())
            ),
        );
        Ok(RunLock {
            _conn: std::sync::Mutex::new(conn),
            path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}
