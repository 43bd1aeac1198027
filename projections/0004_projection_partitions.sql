-- How many partitions each projection is split into. Every instance must agree (a partition's
-- checkpoint is only meaningful for the assignment of conversations it was built with), so
-- the number is stored with the read models and changed only by a rebuild.
CREATE TABLE projection_partitions (
    projection TEXT PRIMARY KEY,
    partitions INT NOT NULL CHECK (partitions BETWEEN 1 AND 8)
);
COMMENT ON TABLE projection_partitions IS 'No event: the partition count the read models were built with (set at first start or by a rebuild).';
COMMENT ON COLUMN projection_partitions.partitions IS 'No event: conversations are assigned to partition fnv1a32(conversation id) mod partitions; user events to partition 0.';
