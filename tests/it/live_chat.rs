//! Live delivery over real WebSockets: chatting, who hears what, membership changes, sending
//! over the socket, receipts and unread counts.

use parley::domain::Role;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn two_users_chat_in_real_time_and_an_outsider_hears_nothing() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let private = app.create_conversation(&rita, &["abe"]).await;
    let eves = app.create_conversation(&rita, &["eve"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let mut abe_phone = app.ws(&abe, None).await;
    let mut eve_ws = app.ws(&eve, None).await;

    let sent = app.send_message(&rita, &private, "Hello Abe").await;
    for client in [&mut abe_ws, &mut abe_phone, &mut rita_ws] {
        let frame = client.next_frame_of_type("message.sent").await;
        assert_eq!(frame["seq"], sent["seq"]);
        assert_eq!(frame["conversation_id"], private.as_str());
        assert_eq!(frame["data"]["content"], "Hello Abe");
        assert_eq!(frame["data"]["id"], sent["id"]);
        assert!(frame["occurred_at"].as_str().unwrap().ends_with('Z'), "{frame}");
    }
    let reply = app.send_message(&abe, &private, "Hi Rita").await;
    let frame = rita_ws.next_frame_of_type("message.sent").await;
    assert_eq!((&frame["data"]["content"], &frame["seq"]), (&json!("Hi Rita"), &reply["seq"]));

    // Events are dispatched in log order: once Eve has the later message of her own
    // conversation, anything of the private one would have reached her before it.
    let marker = app.send_message(&rita, &eves, "for Eve").await;
    let frame = eve_ws.next_frame_of_type("message.sent").await;
    assert_eq!(frame["seq"], marker["seq"]);
    assert!(
        eve_ws.frames.iter().all(|f| f["conversation_id"] != private.as_str()),
        "Eve received frames of a conversation she is not in: {:?}",
        eve_ws.frames
    );
}

#[tokio::test]
async fn a_user_added_to_a_conversation_receives_it_without_reconnecting() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let cy = app.token("cy", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut cy_ws = app.ws(&cy, None).await;
    let (status, _) =
        app.post(&format!("/api/conversations/{id}/participants"), &rita, json!({"user_id": "cy"})).await;
    assert_eq!(status, 200);
    let added = cy_ws.next_frame_of_type("participant.added").await;
    assert_eq!((&added["data"]["user_id"], &added["conversation_id"]), (&json!("cy"), &json!(id)));
    let sent = app.send_message(&rita, &id, "welcome, Cy").await;
    let frame = cy_ws.next_frame_of_type("message.sent").await;
    assert_eq!(frame["seq"], sent["seq"]);

    // Removed: the removal is the last thing Cy hears of it.
    let (status, _) = app.delete(&format!("/api/conversations/{id}/participants/cy"), &rita).await;
    assert_eq!(status, 204);
    cy_ws.next_frame_of_type("participant.removed").await;
    app.send_message(&rita, &id, "after Cy left").await;
    let other = app.create_conversation(&rita, &["cy"]).await;
    let created = cy_ws.next_frame_of_type("conversation.created").await;
    assert_eq!(created["conversation_id"], other.as_str());
    assert!(cy_ws.frames.iter().all(|f| f["data"]["content"] != "after Cy left"), "{:?}", cy_ws.frames);
}

#[tokio::test]
async fn message_send_is_acked_from_the_event_and_repeats_are_acked_with_the_original() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let send =
        json!({"type": "message.send", "conversation_id": id, "content": " hi ", "client_msg_id": "m-1"});
    rita_ws.send_json(send.clone()).await;
    let ack = rita_ws.next_frame_of_type("ack").await;
    assert_eq!(ack["client_msg_id"], "m-1");
    assert_eq!((&ack["message"]["content"], &ack["message"]["sender_id"]), (&json!("hi"), &json!("rita")));
    let delivered = abe_ws.next_frame_of_type("message.sent").await;
    assert_eq!(delivered["data"], ack["message"], "the ack and the live frame show the same message");

    rita_ws.send_json(send).await;
    let again = rita_ws.next_frame_of_type("ack").await;
    assert_eq!(again["message"]["id"], ack["message"]["id"]);
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "no duplicate: {history}");

    let outsider = app.token("eve", Role::Applicant);
    let mut eve_ws = app.ws(&outsider, None).await;
    eve_ws
        .send_json(
            json!({"type": "message.send", "conversation_id": id, "content": "x", "client_msg_id": "e-1"}),
        )
        .await;
    let refused = eve_ws.next_frame_of_type("error").await;
    assert_eq!((&refused["code"], &refused["client_msg_id"]), (&json!("not_found"), &json!("e-1")));
    rita_ws
        .send_json(
            json!({"type": "message.send", "conversation_id": id, "content": "  ", "client_msg_id": "m-2"}),
        )
        .await;
    let invalid = rita_ws.next_frame_of_type("error").await;
    assert_eq!((&invalid["code"], &invalid["client_msg_id"]), (&json!("invalid"), &json!("m-2")));
}

#[tokio::test]
async fn delivery_and_read_receipts_reach_the_sender() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let sent = app.send_message(&rita, &id, "did you get this?").await;
    let seq = abe_ws.next_frame_of_type("message.sent").await["seq"].clone();
    abe_ws.send_json(json!({"type": "delivered", "conversation_id": id, "up_to_seq": seq})).await;
    let receipt = rita_ws.next_frame_of_type("message.delivered").await;
    assert_eq!(receipt["data"], json!({"conversation_id": id, "user_id": "abe", "up_to_seq": sent["seq"]}));
    abe_ws.send_json(json!({"type": "read", "message_id": sent["id"]})).await;
    let read = rita_ws.next_frame_of_type("messages.read").await;
    assert_eq!(read["data"], json!({"conversation_id": id, "user_id": "abe", "up_to_seq": sent["seq"]}));
}

#[tokio::test]
async fn unread_counts_follow_messages_and_reads() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let other = app.create_conversation(&rita, &["abe"]).await;
    app.send_message(&rita, &other, "older").await;
    let mut abe_ws = app.ws(&abe, None).await;
    app.send_message(&rita, &id, "one").await;
    let unread =
        abe_ws.next_frame_where(|f| f["type"] == "unread" && f["unread"] == 1 && f["total"] == 2).await;
    assert_eq!(unread["conversation_id"], id.as_str());
    abe_ws.send_json(json!({"type": "read", "conversation_id": id})).await;
    abe_ws.next_frame_where(|f| f["type"] == "unread" && f["unread"] == 0 && f["total"] == 1).await;
}

#[tokio::test]
async fn an_ats_update_arrives_as_a_system_message() {
    let app = TestApp::spawn().await;
    let abe = app.token("abe", Role::Applicant);
    let mut abe_ws = app.ws(&abe, None).await;
    let update = parley::domain::commands::ApplicationUpdate {
        ats_event_id: parley::domain::ExternalId::parse("ev-1").unwrap(),
        change: parley::domain::ApplicationChange::Submitted,
        application_id: parley::domain::ExternalId::parse("app-1").unwrap(),
        job_id: None,
        job_title: Some("Rust engineer".into()),
        candidate_id: crate::harness::scenario::user("abe"),
        recruiter_id: crate::harness::scenario::user("rita"),
        status: "submitted".into(),
        occurred_at: chrono::Utc::now(),
    };
    let conversation = parley::domain::ConversationId::for_application(&update.application_id);
    let command = parley::domain::ConversationCommand::RecordApplicationStatus(update);
    crate::harness::scenario::exec(&app, &crate::harness::scenario::service(), conversation, command).await;
    abe_ws.next_frame_of_type("conversation.created").await;
    let frame = abe_ws.next_frame_of_type("message.sent").await;
    assert_eq!((&frame["data"]["kind"], &frame["data"]["sender_id"]), (&json!("system"), &json!(null)));
    assert_eq!(frame["data"]["content"], "Application submitted for Rust engineer.");
    assert_eq!(frame["data"]["system"]["application_id"], "app-1");
    app.catch_up().await;
    let (_, stored) =
        app.get_json(&format!("/api/messages/{}", frame["data"]["id"].as_str().unwrap()), &abe).await;
    assert_eq!(stored, frame["data"], "the live frame shows what the read model stores");
}
