-- Which version of the extraction pipeline produced each version's canonical text, as SQLite's
-- 0010_extractor.sql. NULL: the version was stored before this was recorded (pipeline "1").
ALTER TABLE versions ADD COLUMN extractor TEXT;
