-- What the web interface and the API read fast, as SQLite's 0009_search.sql: a full-text index
-- over every version ever stored, a per-watch summary kept by triggers, and a record of each
-- `stet verify` run. All of it is derived from the archive; none of it is in the ledger.

-- Every version's title and text (without its title line), keyed by versions.id. Filled by
-- `Store::index_search` from the compressed texts, which SQL cannot read. PostgreSQL's own
-- full-text search with the 'simple' configuration (no stemming, no stop words, as FTS5's
-- unicode61 tokenizer), the title weighted above the body.
CREATE TABLE search_text (
    version_id BIGINT PRIMARY KEY REFERENCES versions(id),
    watch_id   BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    tsv        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', body), 'B')
    ) STORED
);
CREATE INDEX search_text_tsv ON search_text USING gin (tsv);

CREATE TABLE watch_summary (
    watch_id        BIGINT PRIMARY KEY REFERENCES watches(id),
    -- the URL's host (and port), lower-case
    host            TEXT NOT NULL,
    versions        BIGINT NOT NULL DEFAULT 0,
    -- the latest version's title
    title           TEXT,
    -- the latest event: its id orders "last change"
    last_event_id   BIGINT NOT NULL DEFAULT 0,
    last_event_at   TEXT,
    last_event_kind TEXT,
    -- the significance of the latest edit
    last_significance TEXT
);
CREATE INDEX watch_summary_by_change ON watch_summary (last_event_id, watch_id);
CREATE INDEX watch_summary_by_title ON watch_summary (title, watch_id);
CREATE INDEX watch_summary_by_versions ON watch_summary (versions, watch_id);
CREATE INDEX watch_summary_by_host ON watch_summary (host, last_event_id);
CREATE INDEX events_by_id_kind ON events (kind, id);

-- The host as SQLite's triggers take it: what follows "://" up to the first "/", lower-case.
CREATE FUNCTION stet_url_host(url TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(split_part(substr(url, strpos(url, '://') + 3), '/', 1))
$$;

CREATE FUNCTION stet_summary_on_watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_summary (watch_id, host) VALUES (NEW.id, stet_url_host(NEW.url))
    ON CONFLICT (watch_id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER watch_summary_on_watch AFTER INSERT ON watches
    FOR EACH ROW EXECUTE FUNCTION stet_summary_on_watch();

CREATE FUNCTION stet_summary_on_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE watch_summary SET versions = versions + 1, title = NEW.title
    WHERE watch_id = NEW.watch_id;
    RETURN NULL;
END $$;
CREATE TRIGGER watch_summary_on_version AFTER INSERT ON versions
    FOR EACH ROW EXECUTE FUNCTION stet_summary_on_version();

CREATE FUNCTION stet_summary_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE watch_summary SET
        last_event_id = NEW.id,
        last_event_at = NEW.at,
        last_event_kind = NEW.kind,
        last_significance = CASE WHEN NEW.kind = 'edited' THEN NEW.significance
                                 ELSE last_significance END
    WHERE watch_id = NEW.watch_id;
    RETURN NULL;
END $$;
CREATE TRIGGER watch_summary_on_event AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION stet_summary_on_event();

-- The summary of the watches an archive already holds.
INSERT INTO watch_summary (watch_id, host)
SELECT id, stet_url_host(url) FROM watches ON CONFLICT (watch_id) DO NOTHING;
UPDATE watch_summary s SET
    versions = (SELECT count(*) FROM versions v WHERE v.watch_id = s.watch_id),
    title = (SELECT title FROM versions v WHERE v.watch_id = s.watch_id
             ORDER BY seq DESC LIMIT 1),
    last_event_id = coalesce((SELECT max(id) FROM events e WHERE e.watch_id = s.watch_id), 0);
UPDATE watch_summary s SET
    last_event_at = (SELECT at FROM events e WHERE e.id = s.last_event_id),
    last_event_kind = (SELECT kind FROM events e WHERE e.id = s.last_event_id),
    last_significance = (SELECT significance FROM events e
                         WHERE e.watch_id = s.watch_id AND e.kind = 'edited'
                         ORDER BY e.id DESC LIMIT 1);

-- Each run of `stet verify`: the integrity page shows the last one.
CREATE TABLE verifications (
    id        BIGSERIAL PRIMARY KEY,
    at        TEXT NOT NULL,
    ok        BOOLEAN NOT NULL,
    versions  BIGINT NOT NULL,
    entries   BIGINT NOT NULL,
    head      TEXT,
    failures  BIGINT NOT NULL
);
