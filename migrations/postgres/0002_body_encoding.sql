-- The twin of migrations/sqlite/0014_body_encoding.sql: raw input bodies stored compressed.
-- NULL: the body (or, for a streamed input, its raw_input_chunks) is the received bytes as
-- they are; 'gzip': a gzip stream (RFC 1952) of them, one gzip member per chunk of a streamed
-- input, so the chunks concatenated by ordinal are one gzip file. bytes and sha256 stay those
-- of the received bytes. (TOAST's own compression finds nothing more to gain in them.)
ALTER TABLE raw_inputs ADD COLUMN body_encoding TEXT COLLATE "C" CHECK (body_encoding IN ('gzip'));
