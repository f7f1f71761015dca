-- Raw input bodies stored compressed (issue 15: they were the largest table). NULL: the body
-- (or, for a streamed input, its raw_input_chunks) is the received bytes as they are. 'gzip':
-- it is a gzip stream (RFC 1952) of them; for a streamed input every chunk is one gzip member,
-- so the chunks concatenated by ordinal are one gzip file (`zcat` gives the received bytes).
-- bytes and sha256 stay those of the received bytes.
ALTER TABLE raw_inputs ADD COLUMN body_encoding TEXT CHECK (body_encoding IN ('gzip'));
