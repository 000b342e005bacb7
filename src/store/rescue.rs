//! A copy of the open archive, for when its file was removed or replaced under a running daemon.
//!
//! Owns `VACUUM INTO`: the connection still reads the old file through its open descriptor, so
//! everything committed can be written out whole to a new file. Never writes to the archive.

use std::path::Path;

use super::{Db, Result, Store, StoreError};

impl Store {
    /// Writes a consistent copy of the SQLite database this connection has open to `to`, which
    /// must not exist. A PostgreSQL archive has no file of its own to copy: its operators' own
    /// backups (pg_dump, base backups) do that.
    pub fn copy_to(&self, to: &Path) -> Result<()> {
        let Db::Sqlite(s) = &self.db else {
            return Err(StoreError::Corrupt(
                "a PostgreSQL archive is not a file to copy (use pg_dump)".into(),
            ));
        };
        let to = to
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("path {} is not UTF-8", to.display())))?;
        s.conn.execute("VACUUM INTO ?1", [to])?;
        Ok(())
    }
}
