-- The runs page's tag filter lists the distinct tag keys and the values of given keys; without
-- an index on key both read all of run_tags. A btree on key alone: (key, value) would refuse tag
-- values over ~2.7 kB (see idx_run_tags), and keys are already bounded by the (run_id, key)
-- unique index.
CREATE INDEX idx_run_tags_key ON run_tags (key);
