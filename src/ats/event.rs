//! The JSON the ATS publishes, parsed into a domain `ApplicationUpdate`. Every way it can be
//! wrong is a `Malformed` with a reason for the dead letters.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::commands::ApplicationUpdate;
use crate::domain::{ApplicationChange, ExternalId, UserId};

/// An ATS application event as published on `ats.applications.{application_id}.{type}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AtsEvent {
    /// The ATS's id of this event: repeats have no further effect.
    #[schema(value_type = String)]
    pub event_id: serde_json::Value,
    #[schema(value_type = String)]
    pub application_id: serde_json::Value,
    #[schema(value_type = Option<String>)]
    pub job_id: Option<serde_json::Value>,
    pub job_title: Option<String>,
    #[schema(value_type = String)]
    pub candidate_id: serde_json::Value,
    #[schema(value_type = String)]
    pub recruiter_id: serde_json::Value,
    /// The application's status in the ATS after this event.
    pub status: Option<String>,
    /// RFC 3339.
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn text(value: &serde_json::Value, field: &str) -> Result<String, Malformed> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        _ => Err(Malformed(format!("{field} must be a string or an integer"))),
    }
}

fn external(value: &serde_json::Value, field: &str) -> Result<ExternalId, Malformed> {
    ExternalId::parse(&text(value, field)?).map_err(|e| Malformed(format!("{field}: {}", e.message)))
}

fn user(value: &serde_json::Value, field: &str) -> Result<UserId, Malformed> {
    UserId::parse(&text(value, field)?).map_err(|e| Malformed(format!("{field}: {}", e.message)))
}

/// Parses the body of an event of `change` about `application_id` (from the subject, or the
/// HTTP request's `type`).
pub fn parse(
    body: &[u8],
    change: &str,
    subject_application: Option<&str>,
) -> Result<ApplicationUpdate, Malformed> {
    let change = ApplicationChange::parse(change).ok_or_else(|| {
        Malformed(format!("unknown event type {change:?}: expected submitted, status_changed or withdrawn"))
    })?;
    let event: AtsEvent =
        serde_json::from_slice(body).map_err(|e| Malformed(format!("the body is not an ATS event: {e}")))?;
    let application_id = external(&event.application_id, "application_id")?;
    if let Some(from_subject) = subject_application
        && from_subject != application_id.as_str()
    {
        return Err(Malformed(format!(
            "application_id {application_id} differs from the subject's {from_subject}"
        )));
    }
    let occurred_at = DateTime::parse_from_rfc3339(&event.occurred_at)
        .map_err(|e| Malformed(format!("occurred_at must be RFC 3339: {e}")))?
        .with_timezone(&Utc);
    let status = match (event.status, change) {
        (Some(status), _) => status,
        (None, ApplicationChange::Submitted) => "submitted".into(),
        (None, ApplicationChange::Withdrawn) => "withdrawn".into(),
        (None, ApplicationChange::StatusChanged) => return Err(Malformed("status is required".into())),
    };
    Ok(ApplicationUpdate {
        ats_event_id: external(&event.event_id, "event_id")?,
        change,
        application_id,
        job_id: event.job_id.as_ref().map(|j| external(j, "job_id")).transpose()?,
        job_title: event.job_title,
        candidate_id: user(&event.candidate_id, "candidate_id")?,
        recruiter_id: user(&event.recruiter_id, "recruiter_id")?,
        status,
        occurred_at,
    })
}

/// Splits `ats.applications.{application_id}.{type}`.
pub fn parse_subject(subject: &str) -> Option<(&str, &str)> {
    let rest = subject.strip_prefix("ats.applications.")?;
    let (application, change) = rest.rsplit_once('.')?;
    (!application.is_empty() && !application.contains('.')).then_some((application, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_id": "e1", "application_id": 42, "job_id": "j1", "job_title": "Rust engineer",
        "candidate_id": "abe", "recruiter_id": "rita", "status": "interview", "occurred_at": "2026-11-21T10:00:00Z"}"#;

    #[test]
    fn a_well_formed_event_parses_with_numbers_read_as_text() {
        let update = parse(GOOD.as_bytes(), "status_changed", Some("42")).unwrap();
        assert_eq!(update.application_id.as_str(), "42");
        assert_eq!(update.status, "interview");
        assert_eq!(update.change, ApplicationChange::StatusChanged);
    }

    #[test]
    fn each_defect_is_named() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"not json", "submitted", "not an ATS event"),
            (GOOD.as_bytes(), "hired", "unknown event type"),
            (br#"{"event_id": "e1"}"#, "submitted", "missing field"),
        ];
        for (body, change, reason) in cases {
            let error = parse(body, change, Some("42")).unwrap_err();
            assert!(error.0.contains(reason), "{error}");
        }
        assert!(parse(GOOD.as_bytes(), "submitted", Some("43")).unwrap_err().0.contains("differs"));
        let bad_time = GOOD.replace("2026-11-21T10:00:00Z", "yesterday");
        assert!(parse(bad_time.as_bytes(), "submitted", None).unwrap_err().0.contains("RFC 3339"));
        let bad_user = GOOD.replace("\"abe\"", "\"a b\"");
        assert!(parse(bad_user.as_bytes(), "submitted", None).unwrap_err().0.contains("candidate_id"));
    }

    #[test]
    fn subjects_name_the_application_and_the_type() {
        assert_eq!(parse_subject("ats.applications.a-1.submitted"), Some(("a-1", "submitted")));
        assert_eq!(parse_subject("ats.applications.submitted"), None);
        assert_eq!(parse_subject("parley.conv.x.y"), None);
    }
}
