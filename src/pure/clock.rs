//! Jumps of the wall clock: noticed by comparing it with the boot clock, which only moves forward
//! and counts time suspended.
//!
//! Owns [`JumpDetector`]: the daemon feeds it a pair of readings each turn and learns by how much
//! the wall clock moved apart from real elapsed time (an operator setting the date, NTP stepping a
//! wrong clock, a VM restored from a snapshot). The daemon then moves every pending due time by
//! the same amount, so a check due in ten minutes before the jump is still due in ten minutes
//! after it: no burst after a jump forward, no checks skipped for hours after a jump back.
//! The detection is pure (readings in, verdict out); [`Reading::now`] is the only I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The wall clock and the boot clock at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub wall: DateTime<Utc>,
    /// Time since boot, including suspend (`CLOCK_BOOTTIME`, as in `/proc/uptime`).
    pub boot: Duration,
}

impl Reading {
    /// Reads both clocks now. `None` when the boot clock cannot be read (not Linux).
    pub fn now() -> Option<Self> {
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        Some(Self {
            wall: Utc::now(),
            boot: Duration::from_secs_f64(secs),
        })
    }
}

/// Remembers the last reading and reports jumps larger than its threshold.
#[derive(Debug, Clone)]
pub struct JumpDetector {
    last: Option<Reading>,
    threshold: chrono::Duration,
}

impl JumpDetector {
    /// Jumps smaller than `threshold` are ignored (NTP slews, readings taken a little apart).
    pub fn new(threshold: Duration) -> Self {
        Self {
            last: None,
            threshold: chrono::Duration::from_std(threshold).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Takes a new reading; returns how far the wall clock jumped since the last one (positive:
    /// forward), when it jumped by more than the threshold.
    pub fn observe(&mut self, now: Reading) -> Option<chrono::Duration> {
        let last = self.last.replace(now)?;
        let wall = now.wall - last.wall;
        let real = chrono::Duration::from_std(now.boot.saturating_sub(last.boot)).ok()?;
        let jump = wall - real;
        (jump.abs() > self.threshold).then_some(jump)
    }
}

/// A due time moved by a clock jump, so that the real time left until it is unchanged.
pub fn shifted(due: DateTime<Utc>, jump: chrono::Duration) -> DateTime<Utc> {
    due.checked_add_signed(jump).unwrap_or(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
            .and_utc()
    }

    fn reading(wall: DateTime<Utc>, boot_mins: u64) -> Reading {
        Reading {
            wall,
            boot: Duration::from_secs(boot_mins * 60),
        }
    }

    #[test]
    fn steady_clocks_report_nothing() {
        let mut d = JumpDetector::new(Duration::from_secs(60));
        assert_eq!(d.observe(reading(at(10, 0), 100)), None);
        assert_eq!(d.observe(reading(at(10, 5), 105)), None);
        // A suspended machine: both clocks advanced by hours.
        assert_eq!(d.observe(reading(at(18, 5), 585)), None);
    }

    #[test]
    fn jumps_back_and_forward_are_measured() {
        let mut d = JumpDetector::new(Duration::from_secs(60));
        d.observe(reading(at(10, 0), 100));
        // One minute passed, but the wall clock says three hours earlier.
        assert_eq!(
            d.observe(reading(at(7, 1), 101)),
            Some(chrono::Duration::hours(-3))
        );
        // One minute passed, the wall clock moved five hours forward.
        assert_eq!(
            d.observe(reading(at(12, 2), 102)),
            Some(chrono::Duration::hours(5))
        );
        assert_eq!(d.observe(reading(at(12, 2), 102)), None);
    }

    #[test]
    fn small_corrections_are_ignored() {
        let mut d = JumpDetector::new(Duration::from_secs(60));
        d.observe(reading(at(10, 0), 100));
        let mut r = reading(at(10, 0), 100);
        r.wall += chrono::Duration::seconds(30);
        assert_eq!(d.observe(r), None);
    }

    /// A watch hourly, last checked at 10:00, due at 11:00. Whatever the clock does, the time
    /// left until its check stays what it was, so it is neither skipped nor run early.
    #[test]
    fn a_due_time_keeps_its_distance_through_a_jump() {
        let due = at(11, 0);
        // At 10:30 the clock jumps back 3 hours (to 7:30): without the shift the check would
        // wait 3.5 hours, far longer than its period.
        let back = shifted(due, chrono::Duration::hours(-3));
        assert_eq!(back - at(7, 30), chrono::Duration::minutes(30));
        // At 10:30 the clock jumps forward 4 hours (to 14:30): without the shift every watch
        // would be overdue at once.
        let fwd = shifted(due, chrono::Duration::hours(4));
        assert_eq!(fwd - at(14, 30), chrono::Duration::minutes(30));
    }
}
