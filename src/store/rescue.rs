//! A copy of the open archive, for when its file was removed or replaced under a running daemon.
//!
//! Owns `VACUUM INTO`: the connection still reads the old file through its open descriptor, so
//! everything committed can be written out whole to a new file. Never writes to the archive.

use std::path::Path;

use super::{Result, Sqlite, StoreError};

impl Sqlite {
    /// Writes a consistent copy of the database this connection has open to `to`, which must
    /// not exist.
    pub fn copy_to(&self, to: &Path) -> Result<()> {
        let to = to
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("path {} is not UTF-8", to.display())))?;
        self.conn.execute("VACUUM INTO ?1", [to])?;
        Ok(())
    }
}
