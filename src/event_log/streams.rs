//! Applies the stream definitions in `streams/` at start-up, idempotently: a missing stream is
//! created, a changed one updated, and one whose stored settings cannot change in place
//! (storage, retention, ...) stops start-up with a message that says what to migrate.

use async_nats::jetstream::{self, stream};

/// The definitions, compiled in so a deployed binary needs no files beside it.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("PARLEY_EVENTS", include_str!("../../streams/PARLEY_EVENTS.json")),
    // Sources PARLEY_EVENTS, so it comes after it.
    ("PARLEY_EVENTS_BY_PARTITION", include_str!("../../streams/PARLEY_EVENTS_BY_PARTITION.json")),
    ("PARLEY_SIGNALS", include_str!("../../streams/PARLEY_SIGNALS.json")),
    ("ATS_EVENTS", include_str!("../../streams/ATS_EVENTS.json")),
    ("ATS_DEAD_LETTERS", include_str!("../../streams/ATS_DEAD_LETTERS.json")),
    ("KV_PARLEY_PRESENCE", include_str!("../../streams/KV_PARLEY_PRESENCE.json")),
    ("KV_PARLEY_WS_TICKETS", include_str!("../../streams/KV_PARLEY_WS_TICKETS.json")),
    ("OBJ_PARLEY_ATTACHMENTS", include_str!("../../streams/OBJ_PARLEY_ATTACHMENTS.json")),
];

#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    #[error("streams/{0}.json is not a valid stream definition: {1}")]
    Definition(String, String),
    #[error(
        "stream {name} exists with {setting} = {existing}, but streams/{name}.json says {wanted}; \
         this cannot change in place: migrate the data to a new stream (see docs/streams.md)"
    )]
    Incompatible { name: String, setting: &'static str, existing: String, wanted: String },
    #[error("stream {0} could not be created or updated: {1}")]
    Apply(String, String),
}

/// Parses every definition and sets its replica count.
pub fn definitions(replicas: usize) -> Result<Vec<stream::Config>, StreamSetupError> {
    DEFINITIONS
        .iter()
        .map(|(name, json)| {
            let mut config: stream::Config = serde_json::from_str(json)
                .map_err(|e| StreamSetupError::Definition((*name).to_owned(), e.to_string()))?;
            if config.name != *name {
                return Err(StreamSetupError::Definition(
                    (*name).to_owned(),
                    format!("names stream {}", config.name),
                ));
            }
            config.num_replicas = replicas;
            Ok(config)
        })
        .collect()
}

/// What happened to each stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Created(String),
    Updated(String),
    Unchanged(String),
}

pub async fn apply(js: &jetstream::Context, replicas: usize) -> Result<Vec<Applied>, StreamSetupError> {
    let mut applied = Vec::new();
    for wanted in definitions(replicas)? {
        let name = wanted.name.clone();
        let apply_err = |e: &dyn std::fmt::Display| StreamSetupError::Apply(name.clone(), e.to_string());
        match js.get_stream(&name).await {
            Ok(mut existing) => {
                let info = existing.info().await.map_err(|e| apply_err(&e))?;
                check_compatible(&info.config, &wanted)?;
                if same_settings(&info.config, &wanted) {
                    applied.push(Applied::Unchanged(name));
                } else {
                    js.update_stream(&wanted).await.map_err(|e| apply_err(&e))?;
                    tracing::info!(stream = %name, "stream settings updated from streams/");
                    applied.push(Applied::Updated(name));
                }
            }
            Err(e)
                if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref api)
                if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
            {
                js.create_stream(wanted).await.map_err(|e| apply_err(&e))?;
                tracing::info!(stream = %name, "stream created from streams/");
                applied.push(Applied::Created(name));
            }
            Err(e) => return Err(apply_err(&e)),
        }
    }
    Ok(applied)
}

/// The projectors' copy of the log, created again from its definition when it is missing (it
/// is derived: the server sources it again), with as many replicas as `PARLEY_EVENTS` has.
pub async fn partition_copy(js: &jetstream::Context) -> Result<stream::Stream, StreamSetupError> {
    use super::subjects::{EVENTS_STREAM, PARTITIONS_STREAM};
    let apply_err =
        |e: &dyn std::fmt::Display| StreamSetupError::Apply(PARTITIONS_STREAM.to_owned(), e.to_string());
    match js.get_stream(PARTITIONS_STREAM).await {
        Ok(copy) => Ok(copy),
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref api)
            if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            let mut events = js.get_stream(EVENTS_STREAM).await.map_err(|e| apply_err(&e))?;
            let replicas = events.info().await.map_err(|e| apply_err(&e))?.config.num_replicas;
            let definition = definitions(replicas)?
                .into_iter()
                .find(|c| c.name == PARTITIONS_STREAM)
                .ok_or_else(|| apply_err(&"streams/ defines no such stream"))?;
            tracing::warn!(
                stream = PARTITIONS_STREAM,
                "stream missing: created again, the server copies the log into it"
            );
            js.get_or_create_stream(definition).await.map_err(|e| apply_err(&e))
        }
        Err(e) => Err(apply_err(&e)),
    }
}

/// Settings JetStream refuses to change on an existing stream.
fn check_compatible(existing: &stream::Config, wanted: &stream::Config) -> Result<(), StreamSetupError> {
    let mismatch = |setting: &'static str, a: String, b: String| {
        if a == b {
            Ok(())
        } else {
            Err(StreamSetupError::Incompatible { name: wanted.name.clone(), setting, existing: a, wanted: b })
        }
    };
    mismatch("storage", format!("{:?}", existing.storage), format!("{:?}", wanted.storage))?;
    mismatch("retention", format!("{:?}", existing.retention), format!("{:?}", wanted.retention))?;
    if existing.allow_atomic_publish && !wanted.allow_atomic_publish {
        mismatch("allow_atomic", "true".into(), "false".into())?;
    }
    if existing.deny_delete && !wanted.deny_delete {
        mismatch("deny_delete", "true".into(), "false".into())?;
    }
    if existing.deny_purge && !wanted.deny_purge {
        mismatch("deny_purge", "true".into(), "false".into())?;
    }
    Ok(())
}

/// Compares the settings the definitions set, ignoring what the server fills in itself.
fn same_settings(existing: &stream::Config, wanted: &stream::Config) -> bool {
    let normalise = |c: &stream::Config| {
        let mut c = c.clone();
        c.metadata.retain(|k, _| k.starts_with("parley."));
        c.consumer_limits = None;
        c.first_sequence = None;
        if c.compression == Some(stream::Compression::None) {
            c.compression = None;
        }
        c
    };
    let (a, b) = (normalise(existing), normalise(wanted));
    serde_json::to_value(&a).ok() == serde_json::to_value(&b).ok()
}
