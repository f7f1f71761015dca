-- What an object store's listing said of each input read from it (the sidecars and media
-- objects of an S3 export bucket), written with its raw input. A later import skips an object
-- whose source (`s3://BUCKET/KEY`) and ETag are stored, without reading it again. Inputs from
-- files and the API have no row.
--
-- content_hashed = 0 marks a media object that was listed but not downloaded: its raw input's
-- `sha256` is then not of the media's bytes but the SHA-256 of its listing identity (source,
-- size, ETag, version), kept only so that UNIQUE (source, sha256) tells a rewritten object from
-- an unchanged one. Its ledger input record is `recaudit-input-listed v1` (etag, version,
-- modified from this row), never a record claiming a content hash.
CREATE TABLE object_listings (
    raw_input_id   INTEGER PRIMARY KEY REFERENCES raw_inputs (id),
    etag           TEXT    NOT NULL,
    version        TEXT,
    modified       TEXT    NOT NULL,
    content_hashed INTEGER NOT NULL CHECK (content_hashed IN (0, 1))
);

-- A media object listed but not hashed has no content hash: export_media.sha256 becomes
-- nullable (NULL = not hashed). SQLite cannot drop a NOT NULL constraint in place, and no table
-- references export_media, so it is rebuilt.
CREATE TABLE export_media_v2 (
    conversation_id TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    recording_id    TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),
    sha256          TEXT    CHECK (sha256 IS NULL OR length(sha256) = 64),
    raw_input_id    INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (conversation_id, file_name)
);
INSERT INTO export_media_v2 (conversation_id, file_name, recording_id, path, bytes, sha256, raw_input_id)
    SELECT conversation_id, file_name, recording_id, path, bytes, sha256, raw_input_id FROM export_media;
DROP TABLE export_media;
ALTER TABLE export_media_v2 RENAME TO export_media;
