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
