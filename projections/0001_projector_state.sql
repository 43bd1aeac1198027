-- Projector bookkeeping: where each projection partition is in the log, and the events it
-- could not apply.

CREATE TABLE projector_checkpoints (
    projection TEXT NOT NULL,
    partition INT NOT NULL DEFAULT 0,
    last_seq BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, partition)
);
COMMENT ON TABLE projector_checkpoints IS 'Last stream sequence each projection partition applied; written in the same transaction as the read-model rows it covers.';
COMMENT ON COLUMN projector_checkpoints.last_seq IS 'Stream sequence of the last event applied (any event type).';

CREATE TABLE dead_letters (
    projection TEXT NOT NULL,
    seq BIGINT NOT NULL,
    subject TEXT NOT NULL,
    event_type TEXT,
    reason TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, seq)
);
COMMENT ON TABLE dead_letters IS 'Events a projection could not apply (undecodable, or violating an invariant), kept with the reason; later events are still applied.';
