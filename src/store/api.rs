//! The operations the rest of the program sees: every public method of [`Store`] and
//! [`Batch`], each handed to the backend the archive lives in.
//!
//! Owns nothing but the hand-over; the SQL is in the SQLite modules beside this one and in
//! `pg`. Never adds behaviour of its own.

use super::{
    AlertCount, BlobRow, Db, DueAlert, EventCheckRow, FeedRow, ImportError, LedgerRow, OutboxRow,
    Result, Store, VersionRow,
};
use super::{
    ChangeItem, ChangeQuery, LatestBody, LedgerPosition, SearchHit, SearchQuery, StoreError,
    StoredCheckpoint, UnparsedBody, VerificationRun, WatchListItem, WatchListPage, WatchQuery,
    WitnessState,
};
use super::{CheckRecord, CheckRow, CheckTarget, EventRow, Recorded, Version, VersionMeta};
use super::{WatchPage, WatchSummary, batch::SqliteBatch, pg::PgBatch};
use crate::net::fetch::Validators;
use crate::notify::AlertRoute;
use crate::pure::classify::WatchState;
use crate::pure::ledger::{Entry, ExportLine, Head};
use crate::pure::model::Sha256Hash;
use crate::pure::model::{BodyHash, ContentHash, VersionSeq, WatchId};
use std::collections::HashMap;
use std::path::Path;

/// Hands a call to the backend: `on!` for `&self` methods, `on_mut!` for `&mut self` ones.
macro_rules! on {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match &$self.db {
            Db::Sqlite(s) => s.$m($($a),*),
            Db::Postgres(p) => p.$m($($a),*),
        }
    };
}
macro_rules! on_mut {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match &mut $self.db {
            Db::Sqlite(s) => s.$m($($a),*),
            Db::Postgres(p) => p.$m($($a),*),
        }
    };
}

impl Store {
    /// Sets the alert sinks: every event recorded from now on queues one outbox row per sink
    /// that wants it, in the event's own transaction.
    pub fn set_alert_routes(&mut self, routes: Vec<AlertRoute>) {
        match &mut self.db {
            Db::Sqlite(s) => s.set_alert_routes(routes),
            Db::Postgres(_) => self.alert_routes = routes,
        }
    }

    /// Adds a watch, or re-activates one that was removed. Returns the id and whether anything
    /// changed.
    pub fn add_watch(&mut self, url: &str, origin: &str, at: &str) -> Result<(WatchId, bool)> {
        on_mut!(self.add_watch(url, origin, at))
    }

    /// Stops watching a URL; its history stays. Returns false when it was not watched.
    pub fn remove_watch(&mut self, url: &str, at: &str) -> Result<bool> {
        on_mut!(self.remove_watch(url, at))
    }

    /// Makes the active config-origin watches exactly `urls`: adds the new ones and removes
    /// those that left the config. Watches added from the CLI are left alone.
    pub fn sync_config_watches(&mut self, urls: &[String], at: &str) -> Result<()> {
        on_mut!(self.sync_config_watches(urls, at))
    }

    pub fn watch_id(&self, url: &str) -> Result<Option<WatchId>> {
        on!(self.watch_id(url))
    }

    /// One page of the watch list, in id order (the order of `watches`).
    pub fn watch_page(&self, page: WatchPage) -> Result<Vec<WatchSummary>> {
        on!(self.watch_page(page))
    }

    /// Whether anything is there to check: an active watch or an active feed.
    pub fn has_watches_or_feeds(&self) -> Result<bool> {
        on!(self.has_watches_or_feeds())
    }

    pub fn watches(&self, include_removed: bool) -> Result<Vec<WatchSummary>> {
        on!(self.watches(include_removed))
    }

    /// The active watches a pass should check, optionally only those among `urls`.
    pub fn check_targets(&self, urls: Option<&[String]>) -> Result<Vec<CheckTarget>> {
        on!(self.check_targets(urls))
    }

    /// Active watches due at `now` (never checked, or their time has come), most overdue first.
    /// On PostgreSQL they are claimed for this worker (see `pg`).
    pub fn due_targets(&self, now: &str, limit: usize) -> Result<Vec<CheckTarget>> {
        on!(self.due_targets(now, limit))
    }

    /// The earliest time an active watch is due, if any is scheduled.
    pub fn next_due_at(&self) -> Result<Option<String>> {
        on!(self.next_due_at())
    }

    /// Sets a watch's own schedule and robots.txt choice (`None`: the defaults).
    pub fn set_watch_options(
        &mut self,
        url: &str,
        schedule: Option<&str>,
        robots: Option<bool>,
    ) -> Result<()> {
        on_mut!(self.set_watch_options(url, schedule, robots))
    }

    /// Adds an article URL found in a feed. Returns whether it is new.
    pub fn add_feed_watch(&mut self, url: &str, feed_id: i64, at: &str) -> Result<bool> {
        on_mut!(self.add_feed_watch(url, feed_id, at))
    }

    /// Whether a URL is watched now.
    pub fn is_watched(&self, url: &str) -> Result<bool> {
        on!(self.is_watched(url))
    }

    /// Adds a feed, or re-activates a removed one. Returns whether anything changed.
    pub fn add_feed(&mut self, url: &str, origin: &str, at: &str) -> Result<bool> {
        on_mut!(self.add_feed(url, origin, at))
    }

    /// Stops polling a feed; the watches it found stay. Returns false when it was not polled.
    pub fn remove_feed(&mut self, url: &str, at: &str) -> Result<bool> {
        on_mut!(self.remove_feed(url, at))
    }

    /// Makes the active config-origin feeds exactly `entries` (url, schedule, robots).
    pub fn sync_config_feeds(
        &mut self,
        entries: &[(String, Option<String>, Option<bool>)],
        at: &str,
    ) -> Result<()> {
        on_mut!(self.sync_config_feeds(entries, at))
    }

    pub fn feeds(&self, include_removed: bool) -> Result<Vec<FeedRow>> {
        on!(self.feeds(include_removed))
    }

    /// Active feeds due for a poll at `now`.
    pub fn due_feeds(&self, now: &str) -> Result<Vec<FeedRow>> {
        on!(self.due_feeds(now))
    }

    /// The earliest time an active feed is due, if any.
    pub fn next_feed_due_at(&self) -> Result<Option<String>> {
        on!(self.next_feed_due_at())
    }

    /// Records a feed poll: when, what the server said, and when to poll again.
    pub fn record_feed_poll(
        &mut self,
        feed_id: i64,
        at: &str,
        validators: Option<&Validators>,
        next_poll_at: &str,
        error: Option<&str>,
    ) -> Result<()> {
        on_mut!(self.record_feed_poll(feed_id, at, validators, next_poll_at, error))
    }

    /// Starts a transaction in which check outcomes are classified and recorded together.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        Ok(match &mut self.db {
            Db::Sqlite(s) => Batch(BatchKind::Sqlite(s.batch()?)),
            Db::Postgres(p) => Batch(BatchKind::Postgres(p.batch()?, &self.alert_routes)),
        })
    }

    pub fn versions(&self, watch: WatchId) -> Result<Vec<VersionMeta>> {
        on!(self.versions(watch))
    }

    /// One version with its text; the latest when `seq` is `None`.
    pub fn version(&self, watch: WatchId, seq: Option<VersionSeq>) -> Result<Option<Version>> {
        on!(self.version(watch, seq))
    }

    pub fn events(&self, watch: WatchId) -> Result<Vec<EventRow>> {
        on!(self.events(watch))
    }

    pub fn checks(&self, watch: WatchId) -> Result<Vec<CheckRow>> {
        on!(self.checks(watch))
    }

    /// The raw body stored under `hash`, decompressed.
    pub fn blob(&self, hash: &BodyHash) -> Result<Option<Vec<u8>>> {
        on!(self.blob(hash))
    }

    /// The number of entries and the last entry's hash; `None` for an empty ledger.
    pub fn ledger_head(&self) -> Result<Option<Head>> {
        on!(self.ledger_head())
    }

    /// Every ledger row in order of seq.
    pub fn ledger_rows(&self) -> Result<Vec<LedgerRow>> {
        on!(self.ledger_rows())
    }

    /// Calls `f` with every blob, decompressed, one at a time.
    pub fn scan_blobs(&self, f: impl FnMut(BlobRow)) -> Result<()> {
        on!(self.scan_blobs(f))
    }

    /// Calls `f` with every version, its text decompressed, one at a time.
    pub fn scan_versions(&self, f: impl FnMut(VersionRow)) -> Result<()> {
        on!(self.scan_versions(f))
    }

    /// Every event row with its watch's URL.
    pub fn event_rows(&self) -> Result<Vec<EventCheckRow>> {
        on!(self.event_rows())
    }

    /// Every watch row: id and URL.
    pub fn watch_rows(&self) -> Result<Vec<(WatchId, String)>> {
        on!(self.watch_rows())
    }

    /// One export line per ledger entry that `keep` accepts, in ledger order, each with the
    /// row it records.
    pub fn export_lines(
        &self,
        keep: impl FnMut(&Entry) -> bool,
        f: impl FnMut(ExportLine) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        on!(self.export_lines(keep, f))
    }

    /// Whether the archive holds nothing yet (no watch, no ledger entry).
    pub fn is_empty(&self) -> Result<bool> {
        on!(self.is_empty())
    }

    /// Replays a complete JSON Lines export, in one transaction: every row is written again and
    /// every entry re-chained; each re-computed entry hash must equal the exported one.
    pub fn import(
        &mut self,
        lines: impl IntoIterator<Item = std::result::Result<ExportLine, ImportError>>,
    ) -> std::result::Result<Option<Head>, ImportError> {
        on_mut!(self.import(lines))
    }

    /// Pending alerts whose next attempt is due at `now`, oldest first. On PostgreSQL they are
    /// claimed for this worker until delivered, failed or deferred (or the lease ends).
    pub fn due_alerts(&self, now: &str) -> Result<Vec<DueAlert>> {
        on!(self.due_alerts(now))
    }

    /// Records a successful delivery of the given rows (several for a digest).
    pub fn alert_sent(&mut self, ids: &[i64], at: &str) -> Result<()> {
        on_mut!(self.alert_sent(ids, at))
    }

    /// Records a failed attempt: the row waits until `retry_at`, or is marked failed when
    /// `retry_at` is `None` (no attempts left).
    pub fn alert_failed(
        &mut self,
        ids: &[i64],
        at: &str,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<()> {
        on_mut!(self.alert_failed(ids, at, error, retry_at))
    }

    /// Moves rows to a later attempt without counting an attempt (rate limit, digest window).
    pub fn defer_alerts(&mut self, ids: &[i64], until: &str) -> Result<()> {
        on_mut!(self.defer_alerts(ids, until))
    }

    /// How many messages `sink` sent at or after `since`: one per row, or for a digest sink one
    /// per digest (its rows share their `sent_at`).
    pub fn alerts_sent_since(&self, sink: &str, since: &str, digest: bool) -> Result<u32> {
        on!(self.alerts_sent_since(sink, since, digest))
    }

    /// When `sink` last sent anything.
    pub fn last_alert_sent(&self, sink: &str) -> Result<Option<String>> {
        on!(self.last_alert_sent(sink))
    }

    /// Queues failed alerts again, with fresh attempts: all of them, one sink's, or one row.
    /// Returns how many were queued.
    pub fn retry_alerts(
        &mut self,
        id: Option<i64>,
        sink: Option<&str>,
        now: &str,
    ) -> Result<usize> {
        on_mut!(self.retry_alerts(id, sink, now))
    }

    /// Outbox rows, newest first, optionally of one status, at most `limit`.
    pub fn outbox(&self, status: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>> {
        on!(self.outbox(status, limit))
    }

    /// Row counts per sink and status.
    pub fn alert_counts(&self) -> Result<Vec<AlertCount>> {
        on!(self.alert_counts())
    }

    /// One page of the watch list. Pages are cut by keyset (the sort key and the id of the last
    /// row), so the thousandth page costs what the first does.
    pub fn watch_list_page(&self, q: &WatchQuery) -> Result<WatchListPage> {
        on!(self.watch_list_page(q))
    }

    /// One watch as the list shows it, removed or not.
    pub fn watch_item(&self, id: WatchId) -> Result<Option<WatchListItem>> {
        on!(self.watch_item(id))
    }

    /// Every host watched, with its number of active watches, for the list's filter.
    pub fn watch_hosts(&self) -> Result<Vec<(String, i64)>> {
        on!(self.watch_hosts())
    }

    /// Edits, deletions and restorations across the archive (or of one watch).
    pub fn changes(&self, q: &ChangeQuery) -> Result<Vec<ChangeItem>> {
        on!(self.changes(q))
    }

    /// The first version of a watch whose canonical text has this hash.
    pub fn version_by_hash(
        &self,
        watch: WatchId,
        hash: &ContentHash,
    ) -> Result<Option<VersionSeq>> {
        on!(self.version_by_hash(watch, hash))
    }

    /// The version in force at `at` (RFC 3339): the last captured at or before it, or else the
    /// first one (Memento's TimeGate answers the closest memento).
    pub fn version_at(&self, watch: WatchId, at: &str) -> Result<Option<VersionSeq>> {
        on!(self.version_at(watch, at))
    }

    /// Where a version's own entry is in the ledger.
    pub fn version_ledger_position(
        &self,
        watch: WatchId,
        seq: VersionSeq,
    ) -> Result<Option<LedgerPosition>> {
        on!(self.version_ledger_position(watch, seq))
    }

    /// Records one run of `stet verify`, for the integrity page.
    pub fn record_verification(&self, run: &VerificationRun) -> Result<()> {
        on!(self.record_verification(run))
    }

    /// The latest run of `stet verify`, if any.
    pub fn last_verification(&self) -> Result<Option<VerificationRun>> {
        on!(self.last_verification())
    }

    /// How many active watches, versions and events the archive holds.
    pub fn archive_counts(&self) -> Result<(i64, i64, i64)> {
        on!(self.archive_counts())
    }

    /// Adds the versions stored since the last run to the full-text index (at most `batch` of
    /// them); returns how many were added. Cheap when the index is up to date.
    pub fn index_search(&self, batch: usize) -> Result<usize> {
        on!(self.index_search(batch))
    }

    /// Articles whose versions contain the words, best match first.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        on!(self.search(q))
    }

    /// The bodies kept unparsed for a watch, oldest first.
    pub fn unparsed_bodies(&self, watch: WatchId) -> Result<Vec<UnparsedBody>> {
        on!(self.unparsed_bodies(watch))
    }

    /// Moves every pending due time of watches and feeds by `secs` (negative: earlier), in one
    /// transaction. Returns how many watches and feeds were moved.
    pub fn shift_due_times(&mut self, secs: i64) -> Result<usize> {
        on_mut!(self.shift_due_times(secs))
    }

    /// Writes a consistent copy of the SQLite database this connection has open to `to`, which
    /// must not exist. A PostgreSQL archive has no file of its own to copy: its operators' own
    /// backups (pg_dump, base backups) do that.
    pub fn copy_to(&self, to: &Path) -> Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.copy_to(to),
            Db::Postgres(_) => Err(StoreError::Corrupt(
                "a PostgreSQL archive is not a file to copy (use pg_dump)".into(),
            )),
        }
    }

    /// The feed URL each feed-found watch came from.
    pub fn feed_urls_of_watches(&self) -> Result<HashMap<WatchId, String>> {
        on!(self.feed_urls_of_watches())
    }

    /// The Merkle leaves of the ledger: each entry's encoding, in order of seq. Fails on an
    /// entry whose stored fields do not parse (`verify` names it).
    pub fn ledger_leaves(&self) -> Result<Vec<Vec<u8>>> {
        self.ledger_rows()?
            .into_iter()
            .map(|row| {
                row.entry
                    .map(|e| crate::pure::ledger::encode(e.seq, &e.prev_hash, &e.body))
                    .map_err(|why| StoreError::Corrupt(format!("ledger entry {}: {why}", row.seq)))
            })
            .collect()
    }

    /// The seqs of the entries that record versions row `id`: its `version` entry first, then
    /// any `attest:version` entry.
    pub fn version_entry_seqs(&self, id: i64) -> Result<Vec<i64>> {
        on!(self.version_entry_seqs(id))
    }

    /// The URL of a watch, as stored, and the versions row id of its version `seq`.
    pub fn version_row(&self, watch: WatchId, seq: VersionSeq) -> Result<Option<(String, i64)>> {
        on!(self.version_row(watch, seq))
    }

    /// The id of version `seq` of the watch with this URL.
    pub fn version_id(&self, url: &str, seq: VersionSeq) -> Result<Option<i64>> {
        on!(self.version_id(url, seq))
    }

    /// Every versions row's metadata columns, as an entry commits to them, by row id.
    pub fn version_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        on!(self.version_meta_rows())
    }

    /// Every events row's detail columns, as an entry commits to them, by row id.
    pub fn event_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        on!(self.event_meta_rows())
    }

    /// Calls `f` with every chunk's key, recorded size and actual uncompressed size (or why it
    /// cannot be read).
    pub fn scan_chunk_sizes(
        &self,
        f: impl FnMut(&str, i64, std::result::Result<u64, String>),
    ) -> Result<()> {
        on!(self.scan_chunk_sizes(f))
    }

    /// Stores a newly signed checkpoint; returns its id.
    pub fn save_checkpoint(
        &self,
        tree_size: u64,
        root: &Sha256Hash,
        note: &str,
        at: &str,
    ) -> Result<i64> {
        on!(self.save_checkpoint(tree_size, root, note, at))
    }

    /// Records what the timestamp authority answered for checkpoint `id`.
    pub fn set_checkpoint_timestamp(
        &self,
        id: i64,
        tsa_url: &str,
        token: std::result::Result<&[u8], &str>,
    ) -> Result<()> {
        on!(self.set_checkpoint_timestamp(id, tsa_url, token))
    }

    /// Replaces checkpoint `id`'s note (with the witnesses' cosignature lines added).
    pub fn set_checkpoint_note(&self, id: i64, note: &str) -> Result<()> {
        on!(self.set_checkpoint_note(id, note))
    }

    /// The latest published checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        on!(self.latest_checkpoint())
    }

    /// What witness `url` last accepted.
    pub fn witness_state(&self, url: &str) -> Result<Option<WitnessState>> {
        on!(self.witness_state(url))
    }

    /// Records that witness `url` accepted the tree of `tree_size` leaves with `root`.
    pub fn set_witness_accepted(
        &self,
        url: &str,
        tree_size: u64,
        root: &Sha256Hash,
        at: &str,
    ) -> Result<()> {
        on!(self.set_witness_accepted(url, tree_size, root, at))
    }

    /// Records that witness `url` refused or could not be reached.
    pub fn set_witness_error(&self, url: &str, error: &str, at: &str) -> Result<()> {
        on!(self.set_witness_error(url, error, at))
    }
}

/// One open transaction of check outcomes. Dropped without [`Batch::commit`], it rolls back.
pub struct Batch<'a>(BatchKind<'a>);

enum BatchKind<'a> {
    Sqlite(SqliteBatch<'a>),
    Postgres(PgBatch<'a>, &'a [AlertRoute]),
}

impl Batch<'_> {
    /// What is known about a watch now, inside this transaction.
    pub fn state(&self, watch: WatchId) -> Result<WatchState> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.state(watch),
            BatchKind::Postgres(b, _) => b.state(watch),
        }
    }

    /// The first version before the latest whose text had this hash: a return to it.
    pub fn earlier_match(&self, watch: WatchId, hash: &ContentHash) -> Result<Option<VersionSeq>> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.earlier_match(watch, hash),
            BatchKind::Postgres(b, _) => b.earlier_match(watch, hash),
        }
    }

    /// Writes one check's outcome: the watch's new state, the check row, and, as the decision
    /// says, a version with its blob and an event (with its ledger entry and outbox rows).
    pub fn record(&mut self, rec: &CheckRecord<'_>) -> Result<Recorded> {
        match &mut self.0 {
            BatchKind::Sqlite(b) => b.record(rec),
            BatchKind::Postgres(b, routes) => b.record(routes, rec),
        }
    }

    /// Moves the watch's next check to `next_check_at` (RFC 3339), a check not made (its host
    /// asked for a pause); returns its current version.
    pub fn defer(&mut self, watch: WatchId, next_check_at: &str) -> Result<Option<VersionSeq>> {
        match &mut self.0 {
            BatchKind::Sqlite(b) => b.defer(watch, next_check_at),
            BatchKind::Postgres(b, _) => b.defer(watch, next_check_at),
        }
    }

    /// Keeps the raw body of a page that was not parsed, in this batch's transaction.
    pub fn keep_unparsed(
        &self,
        watch: WatchId,
        at: &str,
        hash: &BodyHash,
        raw: &[u8],
        reason: &str,
    ) -> Result<()> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.keep_unparsed(watch, at, hash, raw, reason),
            BatchKind::Postgres(b, _) => b.keep_unparsed(watch, at, hash, raw, reason),
        }
    }

    /// The extractor version that produced the watch's latest version: `None` when the watch
    /// has no version, `Some(None)` when its latest version was stored before extractor
    /// versions were recorded.
    pub fn latest_extractor(&self, watch: WatchId) -> Result<Option<Option<String>>> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.latest_extractor(watch),
            BatchKind::Postgres(b, _) => b.latest_extractor(watch),
        }
    }

    /// The watch's latest version with its raw body, for re-extraction.
    pub fn latest_body(&self, watch: WatchId) -> Result<Option<LatestBody>> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.latest_body(watch),
            BatchKind::Postgres(b, _) => b.latest_body(watch),
        }
    }

    /// Records which extractor produced a stored version.
    pub fn set_extractor(&self, watch: WatchId, seq: VersionSeq, extractor: &str) -> Result<()> {
        match &self.0 {
            BatchKind::Sqlite(b) => b.set_extractor(watch, seq, extractor),
            BatchKind::Postgres(b, _) => b.set_extractor(watch, seq, extractor),
        }
    }

    pub fn commit(self) -> Result<()> {
        match self.0 {
            BatchKind::Sqlite(b) => b.commit(),
            BatchKind::Postgres(b, _) => b.commit(),
        }
    }
}
