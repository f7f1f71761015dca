-- The ETag an input read from an object store (an S3 export bucket's sidecar) was listed with,
-- written with its raw input: a later import skips an object whose source (`s3://BUCKET/KEY`)
-- and ETag are stored, without reading it again. Inputs from files and the API have none.
CREATE TABLE object_etags (
    raw_input_id INTEGER PRIMARY KEY REFERENCES raw_inputs (id),
    etag         TEXT    NOT NULL
);
