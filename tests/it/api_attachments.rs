//! Attachments over HTTP: uploads streamed into the object store (sniffed, size-limited,
//! hashed), referenced by messages of their uploader, downloaded only through a conversation
//! that references them, and cleaned up when nothing does.

use std::time::{Duration, Instant};

use parley::domain::{AttachmentId, Role};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::client::problem;
use crate::harness::{TestApp, TestEnv};

/// A tiny PNG: the signature and an IHDR chunk are all a sniffer needs.
fn png() -> Vec<u8> {
    let mut bytes =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    bytes.extend((0..5000u32).map(|i| (i % 251) as u8));
    bytes
}

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'0', 3000));
    bytes
}

async fn send_with(app: &TestApp, token: &str, conversation: &str, ids: Value) -> (u16, Value) {
    app.post(
        "/api/messages",
        token,
        json!({"conversation_id": conversation, "content": "see attached", "attachment_ids": ids}),
    )
    .await
}

fn attachment_id(upload: &Value) -> AttachmentId {
    AttachmentId::parse(upload["id"].as_str().expect("an attachment id")).expect("a UUID")
}

#[tokio::test]
async fn an_upload_is_sniffed_hashed_and_downloadable_through_a_message_that_references_it() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let bytes = png();
    let (status, upload) = app.upload(&rita, "C:\\photos\\Zoë \"me\".png", bytes.clone()).await;
    assert_eq!(status, 201, "{upload}");
    assert_eq!(upload["name"], "Zoë \"me\".png");
    assert_eq!(upload["content_type"], "image/png", "sniffed from the bytes, not the claimed PDF");
    assert_eq!(upload["size"], bytes.len());
    assert_eq!(upload["sha256"], format!("{:x}", Sha256::digest(&bytes)));
    let stored = app.state.attachments.get(attachment_id(&upload)).await.unwrap();
    assert_eq!(
        (stored.uploader.as_str(), stored.size, stored.sha256.as_str()),
        ("rita", bytes.len() as u64, upload["sha256"].as_str().unwrap())
    );
    let path = format!("/api/attachments/{}", upload["id"].as_str().unwrap());
    problem(app.get_json(&path, &rita).await, 404);

    let id = app.create_conversation(&rita, &["abe"]).await;
    let (status, message) = send_with(&app, &rita, &id, json!([upload["id"]])).await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(message["kind"], "file");
    assert_eq!(
        message["attachments"],
        json!([{"id": upload["id"], "name": upload["name"], "content_type": "image/png", "size": bytes.len()}])
    );
    let response = app.get_as(&path, &abe).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"Zo_ _me_.png\"; filename*=UTF-8''Zo%C3%AB%20%22me%22.png"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let eve = app.token("eve", Role::Applicant);
    problem(app.get_json(&path, &eve).await, 404);
    problem(app.get_json(&format!("/api/attachments/{}", uuid::Uuid::now_v7()), &abe).await, 404);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413_and_nothing_of_it_is_kept() {
    let env = TestEnv::start().await;
    let app = TestApp::spawn_with(env, |config| config.attachments.max_attachment_bytes = 100_000).await;
    let rita = app.token("rita", Role::Recruiter);
    let text = |n: usize| "a line of text\n".repeat(n / 15 + 1).into_bytes()[..n].to_vec();
    // Without a Content-Length: stopped by metering while it streams into the store.
    let chunks: Vec<Vec<u8>> = (0..25).map(|_| text(10_000)).collect();
    problem(app.upload_streamed(&rita, "big.txt", chunks).await, 413);
    // With one: refused before a byte is read.
    problem(app.upload(&rita, "big.txt", text(250_000)).await, 413);
    assert!(app.state.attachments.stored().await.unwrap().is_empty(), "no object is listed");
    let mut stream = app.state.log.jetstream().get_stream("OBJ_PARLEY_ATTACHMENTS").await.unwrap();
    let kept = stream.info().await.unwrap().state.bytes;
    assert!(kept < 5_000, "only deletion markers remain, not {kept} bytes of chunks");
    let (status, upload) = app.upload_streamed(&rita, "exact.txt", vec![text(60_000), text(40_000)]).await;
    assert_eq!((status, &upload["size"]), (201, &json!(100_000)), "{upload}");
}

#[tokio::test]
async fn files_of_a_type_outside_the_allowlist_are_refused_with_415_whatever_their_name() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let html = b"<!DOCTYPE html><html><script>fetch('/api/users/me')</script></html>".to_vec();
    let elf = [b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".as_slice(), &[0u8; 512]].concat();
    let binary = vec![0u8, 159, 146, 150, 1, 2, 3];
    for (name, bytes) in [("cv.pdf", html), ("cv.pdf", elf), ("data.bin", binary)] {
        problem(app.upload(&rita, name, bytes).await, 415);
    }
    assert!(app.state.attachments.stored().await.unwrap().is_empty());
    let (status, upload) = app.upload(&rita, "cv.pdf", pdf()).await;
    assert_eq!((status, &upload["content_type"]), (201, &json!("application/pdf")));
    let (status, upload) = app.upload(&rita, "notes.txt", "Grüße, Zoë\n".as_bytes().to_vec()).await;
    assert_eq!((status, &upload["content_type"]), (201, &json!("text/plain")));
    let id = app.create_conversation(&rita, &["abe"]).await;
    send_with(&app, &rita, &id, json!([upload["id"]])).await;
    let response = app.get_as(&format!("/api/attachments/{}", upload["id"].as_str().unwrap()), &rita).await;
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "Grüße, Zoë\n");
}

#[tokio::test]
async fn malformed_uploads_are_refused() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let analyst = app.token("ana", Role::Analyst);
    problem(app.upload(&rita, "empty.pdf", vec![]).await, 400);
    let wrong_field =
        reqwest::multipart::Form::new().part("document", reqwest::multipart::Part::bytes(pdf()));
    problem(app.send_form(&rita, wrong_field).await, 400);
    problem(app.post("/api/attachments", &rita, json!({"file": "x"})).await, 415);
    problem(app.upload(&analyst, "cv.pdf", pdf()).await, 403);
    let anonymous = app.http.post(app.url("/api/attachments")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_message_may_reference_only_uploads_of_its_sender() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (_, ritas) = app.upload(&rita, "offer.pdf", pdf()).await;
    let (_, services) = app.upload(&service, "contract.pdf", pdf()).await;
    for (token, ids, field) in [
        (&abe, json!([ritas["id"]]), "attachment_ids[0]"),
        (&rita, json!([uuid::Uuid::now_v7()]), "attachment_ids[0]"),
        (&rita, json!([ritas["id"], ritas["id"]]), "attachment_ids[1]"),
        (&rita, json!(["not-a-uuid"]), "attachment_ids[0]"),
    ] {
        let answer = problem(send_with(&app, token, &id, ids).await, 400);
        assert_eq!(answer["errors"][0]["field"], field, "{answer}");
    }
    let on_behalf = |ids: Value| json!({"conversation_id": id, "content": "signed", "sender_id": "abe", "attachment_ids": ids});
    problem(app.post("/api/messages", &service, on_behalf(json!([ritas["id"]]))).await, 400);
    let (status, message) = app.post("/api/messages", &service, on_behalf(json!([services["id"]]))).await;
    assert_eq!((status, &message["sender_id"]), (201, &json!("abe")), "{message}");
    let (status, _) = send_with(&app, &rita, &id, json!([ritas["id"]])).await;
    assert_eq!(status, 201);
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 2, "refused sends stored nothing");
}

#[tokio::test]
async fn only_current_participants_of_a_referencing_conversation_may_download() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let cy = app.token("cy", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let shared = app.create_conversation(&rita, &["abe"]).await;
    app.create_conversation(&rita, &["cy"]).await;
    let (_, upload) = app.upload(&rita, "offer.pdf", pdf()).await;
    send_with(&app, &rita, &shared, json!([upload["id"]])).await;
    let path = format!("/api/attachments/{}", upload["id"].as_str().unwrap());
    for token in [&rita, &abe, &service] {
        assert_eq!(app.get_as(&path, token).await.status(), 200);
    }
    problem(app.get_json(&path, &cy).await, 404);
    app.delete(&format!("/api/conversations/{shared}/participants/abe"), &abe).await;
    problem(app.get_json(&path, &abe).await, 404);
}

#[tokio::test]
async fn the_attachment_of_a_deleted_message_is_no_longer_downloadable() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (_, upload) = app.upload(&rita, "offer.pdf", pdf()).await;
    let (_, message) = send_with(&app, &rita, &id, json!([upload["id"]])).await;
    let path = format!("/api/attachments/{}", upload["id"].as_str().unwrap());
    assert_eq!(app.get_as(&path, &abe).await.status(), 200);
    let (_, deleted) = app.delete(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &rita).await;
    assert_eq!(deleted["attachments"], json!([]));
    problem(app.get_json(&path, &abe).await, 404);
    problem(app.get_json(&path, &rita).await, 404);
}

#[tokio::test]
async fn the_orphan_cleanup_deletes_unreferenced_uploads_and_keeps_referenced_ones() {
    let env = TestEnv::start().await;
    let app =
        TestApp::spawn_with(env, |config| config.attachments.attachment_orphan_ttl = Duration::from_secs(2))
            .await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (_, kept) = app.upload(&rita, "kept.pdf", pdf()).await;
    let (_, abandoned) = app.upload(&rita, "abandoned.pdf", pdf()).await;
    let (_, unsent) = app.upload(&rita, "unsent.pdf", pdf()).await;
    send_with(&app, &rita, &id, json!([kept["id"]])).await;
    let (_, withdrawn) = send_with(&app, &rita, &id, json!([unsent["id"]])).await;
    app.delete(&format!("/api/messages/{}", withdrawn["id"].as_str().unwrap()), &rita).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let gone = |upload: &Value| {
        let id = attachment_id(upload);
        let attachments = app.state.attachments.clone();
        async move { matches!(attachments.get(id).await, Err(parley::attachments::AttachmentError::NotFound)) }
    };
    while !(gone(&abandoned).await && gone(&unsent).await) {
        assert!(Instant::now() < deadline, "unreferenced uploads were not deleted within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!gone(&kept).await, "a referenced upload is kept");
    let path = format!("/api/attachments/{}", kept["id"].as_str().unwrap());
    assert_eq!(app.get_as(&path, &rita).await.status(), 200);
    // Past its time, an upload can no longer be referenced (it may be deleted any moment).
    let (_, late) = app.upload(&rita, "late.pdf", pdf()).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let answer = problem(send_with(&app, &rita, &id, json!([late["id"]])).await, 400);
    assert_eq!(answer["errors"][0]["field"], "attachment_ids[0]");
}

#[tokio::test]
async fn sweeps_running_at_once_never_fail_and_leave_only_referenced_uploads() {
    let env = TestEnv::start().await;
    let app =
        TestApp::spawn_with(env, |config| config.attachments.attachment_orphan_ttl = Duration::from_secs(1))
            .await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (_, kept) = app.upload(&rita, "kept.pdf", pdf()).await;
    send_with(&app, &rita, &id, json!([kept["id"]])).await;
    for i in 0..4 {
        app.upload(&rita, &format!("orphan-{i}.pdf"), pdf()).await;
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let state = &app.state;
    let sweep =
        || parley::attachments::cleanup::sweep(&state.attachments, &state.log, &state.db, &state.progress);
    // As two instances would (the server's own sweeper may run too).
    let (first, second) = tokio::join!(sweep(), sweep());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first.deleted + second.deleted <= 4, "{first:?} {second:?}");
    let left: Vec<AttachmentId> =
        app.state.attachments.stored().await.unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [attachment_id(&kept)]);
}

#[tokio::test]
async fn an_upload_the_client_abandons_half_way_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let mut start = pdf();
    start.extend(std::iter::repeat_n(b'x', 300_000));
    // The first 300 kB, a pause in which the server stores them, then the client fails.
    let chunks = futures::stream::unfold(Some(start), |first| async move {
        match first {
            Some(bytes) => Some((Ok(bytes), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                Some((Err(std::io::Error::other("the client went away")), None))
            }
        }
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("cut.pdf");
    let form = reqwest::multipart::Form::new().part("file", part);
    let sent = app.http.post(app.url("/api/attachments")).bearer_auth(&rita).multipart(form).send().await;
    assert!(sent.is_err(), "the client aborted its own request");
    // The server notices the broken body, deletes what it stored, and keeps nothing listed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(app.state.attachments.stored().await.unwrap().is_empty());
    let mut stream = app.state.log.jetstream().get_stream("OBJ_PARLEY_ATTACHMENTS").await.unwrap();
    let info = stream.info().await.unwrap();
    assert!(info.state.bytes < 5_000, "{} bytes of chunks were kept", info.state.bytes);
    assert!(info.state.messages > 0, "the upload had begun storing before the client went away");
}
