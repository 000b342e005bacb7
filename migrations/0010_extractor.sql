-- Which version of the extraction pipeline produced each version's canonical text. NULL: the
-- version was stored before this was recorded (pipeline "1"). When the current pipeline differs
-- from the one that produced a watch's latest version, that version's stored raw body is
-- re-extracted before comparing, so an upgrade is never reported as an edit.
ALTER TABLE versions ADD COLUMN extractor TEXT;
