//! `/api/users` and `/api/presence` over HTTP.

use parley::domain::Role;
use serde_json::json;

use crate::harness::TestApp;
use crate::harness::client::problem;

#[tokio::test]
async fn users_name_themselves_and_services_set_profiles() {
    let app = TestApp::spawn().await;
    let abe = app.token("abe", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let (status, profile) = app.put("/api/users/me", &abe, json!({"name": " Abe L. "})).await;
    assert_eq!((status, &profile["name"]), (200, &json!("Abe L.")));
    let (_, me) = app.get_json("/api/users/me", &abe).await;
    assert_eq!(me, json!({"id": "abe", "name": "Abe L.", "role": "applicant"}));
    let (status, rita) =
        app.put("/api/users/rita", &service, json!({"name": "Rita", "role": "recruiter"})).await;
    assert_eq!((status, &rita["role"]), (200, &json!("recruiter")));
    problem(app.put("/api/users/rita", &abe, json!({"name": "Hacked"})).await, 403);
    problem(app.put("/api/users/me", &abe, json!({"name": ""})).await, 400);
    problem(app.put("/api/users/me", &abe, json!({"name": "x", "role": "recruiter"})).await, 400);
}

#[tokio::test]
async fn profiles_and_presence_show_only_to_people_who_share_a_conversation() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let eve = app.token("eve", Role::Applicant);
    app.create_conversation(&rita, &["abe"]).await;
    let (status, abe) = app.get_json("/api/users/abe", &rita).await;
    assert_eq!(status, 200, "{abe}");
    assert_eq!((abe["id"].as_str(), abe["status"].as_str()), (Some("abe"), Some("offline")));
    problem(app.get_json("/api/users/abe", &eve).await, 404);
    let (status, presence) = app.get_json("/api/presence?user_ids=abe,rita", &rita).await;
    assert_eq!(status, 200);
    assert_eq!(presence.as_array().unwrap().len(), 2);
    problem(app.get_json("/api/presence?user_ids=", &rita).await, 400);
    problem(app.get_json("/api/presence", &rita).await, 400);
}

#[tokio::test]
async fn conversation_lists_are_newest_activity_first_and_paginated() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let mut ids = Vec::new();
    for other in ["abe", "cy", "dana"] {
        ids.push(app.create_conversation(&rita, &[other]).await);
    }
    app.send_message(&rita, &ids[0], "bump").await;
    let (_, first) = app.get_json("/api/users/rita/conversations?limit=2", &rita).await;
    let order: Vec<&str> =
        first["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(order, [ids[0].as_str(), ids[2].as_str()]);
    assert_eq!(first["conversations"][0]["last_message"]["content"], "bump");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) =
        app.get_json(&format!("/api/users/rita/conversations?limit=2&cursor={cursor}"), &rita).await;
    assert_eq!(second["conversations"][0]["id"], ids[1].as_str());
    assert_eq!(second["next_cursor"], serde_json::Value::Null);
    let (_, theirs) = app.get_json("/api/users/abe/conversations", &abe).await;
    assert_eq!(theirs["conversations"][0]["unread_count"], 1);
    problem(app.get_json("/api/users/rita/conversations", &abe).await, 403);
    problem(app.get_json("/api/users/rita/unread", &abe).await, 403);
    let (status, _) = app.get_json("/api/users/abe/unread", &app.token("ats", Role::Service)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unread_totals_sum_every_conversation() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let a = app.create_conversation(&rita, &["abe"]).await;
    let b = app.create_conversation(&rita, &["abe", "cy"]).await;
    for (conversation, n) in [(&a, 2), (&b, 3)] {
        for i in 0..n {
            app.send_message(&rita, conversation, &format!("m{i}")).await;
        }
    }
    let (_, unread) = app.get_json("/api/users/abe/unread", &abe).await;
    assert_eq!(unread["total"], 5);
    assert_eq!(unread["conversations"].as_array().unwrap().len(), 2);
}
