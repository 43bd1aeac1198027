//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes, served at
//! `/openapi.json`, with Swagger UI at `/docs` (its assets are compiled in; nothing is
//! fetched at build or run time).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley",
        description = "Messaging for recruiting platforms: conversations between recruiters and applicants, \
                       ATS status updates, live delivery. Errors are RFC 9457 problem documents.",
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "conversations", description = "Conversations, history, read markers, participants"),
        (name = "messages", description = "Sending, reading, editing, deleting and reacting to messages"),
        (name = "attachments", description = "Uploading files and downloading them through messages"),
        (name = "users", description = "Profiles, conversation lists, unread counts, presence"),
        (name = "system", description = "For backends: ATS application events"),
        (name = "live", description = "WebSocket sessions and their tickets (frames: docs/websocket.md)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The answers every operation can give besides its own, as problem documents under their
/// real content type: handlers annotate what is particular to them, and this adds what the
/// layers in front of them answer (401 from the bearer check, 429 from the rate limits, 408
/// from the request timeout, 503 when a dependency or the connection cap says no, 400/413/415
/// for bodies and parameters, 404 for ids in the path), so the document lists every status a
/// client can see.
pub fn with_common_responses(document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut value = serde_json::to_value(&document).expect("an OpenAPI document serialises");
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    complete_operation(path, operation);
                }
            }
        }
    }
    serde_json::from_value(value).unwrap_or(document)
}

const PROBLEM_REF: &str = "#/components/schemas/Problem";

fn problem(description: &str, retry_after: bool) -> serde_json::Value {
    let mut response = serde_json::json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}},
    });
    if retry_after {
        response["headers"] = serde_json::json!({"Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 1},
        }});
    }
    response
}

fn complete_operation(path: &str, operation: &mut serde_json::Value) {
    let has_body = operation.get("requestBody").is_some();
    let has_parameters = operation["parameters"].as_array().is_some_and(|p| !p.is_empty());
    if !path.starts_with("/api/") {
        // Health, readiness and metrics are public (the document's default is a bearer token).
        operation["security"] = serde_json::json!([]);
    }
    let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut()) else { return };
    for response in responses.values_mut() {
        let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut()) else { continue };
        let is_problem = content
            .get("application/json")
            .is_some_and(|json| json["schema"]["$ref"].as_str() == Some(PROBLEM_REF));
        if is_problem && let Some(json) = content.remove("application/json") {
            content.insert("application/problem+json".into(), json);
        }
    }
    if !path.starts_with("/api/") {
        return;
    }
    let mut add = |status: &str, description: &str, retry_after: bool| {
        responses.entry(status).or_insert_with(|| problem(description, retry_after));
    };
    add("401", "the bearer token is missing, malformed, expired or signed with another key", false);
    add("408", "the request did not arrive and complete within the request timeout", false);
    add("429", "rate limited (per user or per client address)", true);
    add("503", "NATS or PostgreSQL is unavailable, or the instance is at its connection cap", true);
    if has_body || has_parameters {
        add("400", "a malformed body or parameter; `errors` names the fields", false);
    }
    if has_body {
        add("413", "the body is larger than the limit", false);
        add("415", "the body is not of the content type this endpoint reads", false);
    }
    if path.contains('{') {
        add("404", "no such resource, or one the caller may not see", false);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn every_api_operation_documents_the_answers_of_the_layers_in_front_of_it() {
        let (_, document) = super::super::api();
        let document = serde_json::to_value(&document).unwrap();
        let send = &document["paths"]["/api/messages"]["post"]["responses"];
        for status in ["400", "401", "408", "413", "415", "429", "503"] {
            let content = &send[status]["content"];
            assert!(content["application/problem+json"].is_object(), "{status}: {content}");
            assert!(content.get("application/json").is_none(), "{status}: {content}");
        }
        assert!(send["429"]["headers"]["Retry-After"].is_object());
        let get = &document["paths"]["/api/conversations/{id}"]["get"]["responses"];
        assert!(get["404"].is_object() && get["401"].is_object());
        assert_eq!(document["paths"]["/healthz"]["get"]["security"], Value::Array(vec![]));
        assert!(document["paths"]["/healthz"]["get"]["responses"]["401"].is_null());
    }
}
