//! Moving due times after a jump of the wall clock (see [`crate::pure::clock`]).
//!
//! Owns the one statement that shifts every pending `next_check_at` and `next_poll_at` by the
//! same amount. Never decides whether the clock jumped.

use super::sql::{Dialect, Param};
use super::{Result, Store};

impl Store {
    /// Moves every pending due time of watches and feeds by `secs` (negative: earlier), in one
    /// transaction. Returns how many watches and feeds were moved.
    pub fn shift_due_times(&mut self, secs: i64) -> Result<usize> {
        self.write(|tx| {
            // Times are RFC 3339 text with milliseconds in both backends.
            let (shift, by): (&str, Box<dyn Param>) = match tx.dialect() {
                Dialect::Sqlite => (
                    "strftime('%Y-%m-%dT%H:%M:%fZ', COL, ?1)",
                    Box::new(format!("{secs:+} seconds")),
                ),
                Dialect::Postgres => (
                    "to_char((CAST(COL AS timestamptz) + make_interval(secs => ?1))
                        AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                    Box::new(secs as f64),
                ),
            };
            let mut moved = 0;
            for (table, column) in [("watches", "next_check_at"), ("feeds", "next_poll_at")] {
                moved += tx.execute(
                    &format!(
                        "UPDATE {table} SET {column} = {}
                         WHERE removed_at IS NULL AND {column} IS NOT NULL",
                        shift.replace("COL", column)
                    ),
                    &[&*by],
                )?;
            }
            Ok(moved as usize)
        })
    }
}
