-- What the web interface and the API read fast: a full-text index over every version ever
-- stored, a per-watch summary kept by triggers (so a list of 100,000 watches is paged through an
-- index instead of aggregating versions and events on every request), and a record of each
-- `stet verify` run. All of it is derived from the archive; none of it is in the ledger.

-- Every version's title and text (without its title line), keyed by versions.id. Filled by
-- `Store::index_search` from the compressed texts, which SQL cannot read.
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
    title,
    body,
    watch_id UNINDEXED,
    seq UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE IF NOT EXISTS watch_summary (
    watch_id        INTEGER PRIMARY KEY REFERENCES watches(id),
    -- the URL's host (and port), lower-case
    host            TEXT NOT NULL,
    versions        INTEGER NOT NULL DEFAULT 0,
    -- the latest version's title
    title           TEXT,
    -- the latest event: its id orders "last change"
    last_event_id   INTEGER NOT NULL DEFAULT 0,
    last_event_at   TEXT,
    last_event_kind TEXT,
    -- the significance of the latest edit
    last_significance TEXT
);
CREATE INDEX IF NOT EXISTS watch_summary_by_change ON watch_summary (last_event_id, watch_id);
CREATE INDEX IF NOT EXISTS watch_summary_by_title ON watch_summary (title, watch_id);
CREATE INDEX IF NOT EXISTS watch_summary_by_versions ON watch_summary (versions, watch_id);
CREATE INDEX IF NOT EXISTS watch_summary_by_host ON watch_summary (host, last_event_id);
CREATE INDEX IF NOT EXISTS events_by_id_kind ON events (kind, id);

CREATE TRIGGER IF NOT EXISTS watch_summary_on_watch AFTER INSERT ON watches BEGIN
    INSERT OR IGNORE INTO watch_summary (watch_id, host) VALUES (
        NEW.id,
        lower(CASE
            WHEN instr(substr(NEW.url, instr(NEW.url, '://') + 3), '/') > 0
            THEN substr(substr(NEW.url, instr(NEW.url, '://') + 3), 1,
                        instr(substr(NEW.url, instr(NEW.url, '://') + 3), '/') - 1)
            ELSE substr(NEW.url, instr(NEW.url, '://') + 3)
        END)
    );
END;

CREATE TRIGGER IF NOT EXISTS watch_summary_on_version AFTER INSERT ON versions BEGIN
    UPDATE watch_summary SET versions = versions + 1, title = NEW.title
    WHERE watch_id = NEW.watch_id;
END;

CREATE TRIGGER IF NOT EXISTS watch_summary_on_event AFTER INSERT ON events BEGIN
    UPDATE watch_summary SET
        last_event_id = NEW.id,
        last_event_at = NEW.at,
        last_event_kind = NEW.kind,
        last_significance = CASE WHEN NEW.kind = 'edited' THEN NEW.significance
                                 ELSE last_significance END
    WHERE watch_id = NEW.watch_id;
END;

-- The summary of the watches an archive already holds.
INSERT OR IGNORE INTO watch_summary (watch_id, host)
SELECT id, lower(CASE
    WHEN instr(substr(url, instr(url, '://') + 3), '/') > 0
    THEN substr(substr(url, instr(url, '://') + 3), 1,
                instr(substr(url, instr(url, '://') + 3), '/') - 1)
    ELSE substr(url, instr(url, '://') + 3)
END) FROM watches;
UPDATE watch_summary SET
    versions = (SELECT count(*) FROM versions v WHERE v.watch_id = watch_summary.watch_id),
    title = (SELECT title FROM versions v WHERE v.watch_id = watch_summary.watch_id
             ORDER BY seq DESC LIMIT 1),
    last_event_id = coalesce((SELECT max(id) FROM events e
                              WHERE e.watch_id = watch_summary.watch_id), 0);
UPDATE watch_summary SET
    last_event_at = (SELECT at FROM events e WHERE e.id = watch_summary.last_event_id),
    last_event_kind = (SELECT kind FROM events e WHERE e.id = watch_summary.last_event_id),
    last_significance = (SELECT significance FROM events e
                         WHERE e.watch_id = watch_summary.watch_id AND e.kind = 'edited'
                         ORDER BY e.id DESC LIMIT 1);

-- Each run of `stet verify`: the integrity page shows the last one.
CREATE TABLE IF NOT EXISTS verifications (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    versions  INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    head      TEXT,
    failures  INTEGER NOT NULL
);
