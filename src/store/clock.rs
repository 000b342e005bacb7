//! Moving due times after a jump of the wall clock (see [`crate::pure::clock`]).
//!
//! Owns the one statement that shifts every pending `next_check_at` and `next_poll_at` by the
//! same amount. Never decides whether the clock jumped.

use super::{Result, Sqlite};

impl Sqlite {
    /// Moves every pending due time of watches and feeds by `secs` (negative: earlier), in one
    /// transaction. Returns how many watches and feeds were moved.
    pub fn shift_due_times(&mut self, secs: i64) -> Result<usize> {
        let tx = self.write_transaction()?;
        let modifier = format!("{secs:+} seconds");
        let mut moved = tx.execute(
            "UPDATE watches SET next_check_at = strftime('%Y-%m-%dT%H:%M:%fZ', next_check_at, ?1)
             WHERE removed_at IS NULL AND next_check_at IS NOT NULL",
            [&modifier],
        )?;
        moved += tx.execute(
            "UPDATE feeds SET next_poll_at = strftime('%Y-%m-%dT%H:%M:%fZ', next_poll_at, ?1)
             WHERE removed_at IS NULL AND next_poll_at IS NOT NULL",
            [&modifier],
        )?;
        tx.commit()?;
        Ok(moved)
    }
}
