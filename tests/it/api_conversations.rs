//! `/api/conversations` over HTTP: creation rules, visibility, history paging, read markers,
//! participants.

use parley::domain::Role;
use serde_json::json;

use crate::harness::TestApp;
use crate::harness::client::problem;

#[tokio::test]
async fn a_created_conversation_includes_the_caller_and_reads_back_at_once() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let (status, created) = app
        .post(
            "/api/conversations",
            &rita,
            json!({"title": " Backend role ", "participant_ids": ["abe"], "application_id": "app-1", "job_id": 7}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["title"], "Backend role");
    assert_eq!(created["kind"], "group");
    assert_eq!(created["job_id"], "7", "numbers are read as their decimal string");
    let mut people: Vec<(String, String)> = created["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["user_id"].as_str().unwrap().into(), p["role"].as_str().unwrap().into()))
        .collect();
    people.sort();
    assert_eq!(people, [("abe".into(), "applicant".into()), ("rita".into(), "recruiter".into())]);
    // Read-your-writes: the other participant sees it immediately.
    let abe = app.token("abe", Role::Applicant);
    let (status, seen) =
        app.get_json(&format!("/api/conversations/{}", created["id"].as_str().unwrap()), &abe).await;
    assert_eq!((status, &seen["id"]), (200, &created["id"]));
}

#[tokio::test]
async fn participant_types_and_numeric_ids_from_older_clients_are_honoured() {
    let app = TestApp::spawn().await;
    let service = app.token("ats", Role::Service);
    let (status, created) = app
        .post(
            "/api/conversations",
            &service,
            json!({"participant_ids": [1, 2], "participant_types": ["recruiter", "applicant"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let participants = created["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 2, "a service does not join");
    assert!(participants.iter().any(|p| p["user_id"] == "1" && p["role"] == "recruiter"));
    assert!(participants.iter().any(|p| p["user_id"] == "2" && p["role"] == "applicant"));
}

#[tokio::test]
async fn invalid_participant_lists_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    for body in [
        json!({"participant_ids": []}),
        json!({"participant_ids": ["abe", "abe"]}),
        json!({"participant_ids": ["abe", "cy"], "kind": "direct"}),
        json!({"participant_ids": ["abe"], "participant_types": ["applicant", "recruiter"]}),
        json!({"participant_ids": ["has space"]}),
        json!({"participant_ids": ["abe"], "kind": "circle"}),
        json!({"participant_ids": ["abe"], "title": "x".repeat(201)}),
    ] {
        problem(app.post("/api/conversations", &rita, body).await, 400);
    }
    let (_, list) = app.get_json("/api/users/rita/conversations", &rita).await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_direct_conversation_is_unique_per_pair() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let (first_status, first) =
        app.post("/api/conversations", &rita, json!({"participant_ids": ["abe"], "kind": "direct"})).await;
    let (again_status, again) =
        app.post("/api/conversations", &abe, json!({"participant_ids": ["rita"], "kind": "direct"})).await;
    assert_eq!((first_status, again_status), (201, 200));
    assert_eq!(first["id"], again["id"]);
}

#[tokio::test]
async fn nobody_outside_a_conversation_learns_anything_about_it() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let eve = app.token("eve", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.send_message(&rita, &id, "private").await;
    let unknown = uuid::Uuid::now_v7();
    for path in [format!("/api/conversations/{id}"), format!("/api/conversations/{id}/messages")] {
        let stranger = problem(app.get_json(&path, &eve).await, 404);
        let missing = problem(app.get_json(&path.replace(&id, &unknown.to_string()), &eve).await, 404);
        assert_eq!(
            stranger["detail"], missing["detail"],
            "a stranger cannot tell an existing id from a missing one"
        );
    }
    problem(app.put(&format!("/api/conversations/{id}/read"), &eve, json!({})).await, 404);
    problem(
        app.post(&format!("/api/conversations/{id}/participants"), &eve, json!({"user_id": "eve"})).await,
        404,
    );
}

#[tokio::test]
async fn history_pages_backwards_and_forwards_by_sequence() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut seqs = Vec::new();
    for i in 0..7 {
        seqs.push(app.send_message(&rita, &id, &format!("m{i}")).await["seq"].as_u64().unwrap());
    }
    let path = format!("/api/conversations/{id}/messages");
    let (_, page) = app.get_json(&format!("{path}?limit=3"), &rita).await;
    let contents: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["m6", "m5", "m4"]);
    assert_eq!(page["next_before"], seqs[4]);
    let (_, older) = app.get_json(&format!("{path}?limit=3&before={}", seqs[4]), &rita).await;
    assert_eq!(older["messages"][0]["content"], "m3");
    let (_, oldest) = app.get_json(&format!("{path}?limit=3&before={}", seqs[1]), &rita).await;
    assert_eq!(oldest["messages"].as_array().unwrap().len(), 1);
    assert_eq!(oldest["next_before"], serde_json::Value::Null);
    let (_, after) = app.get_json(&format!("{path}?limit=2&after={}", seqs[2]), &rita).await;
    let contents: Vec<&str> =
        after["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["m3", "m4"], "after pages run oldest first");
    assert_eq!(after["next_after"], seqs[4]);
    let (_, offset) = app.get_json(&format!("{path}?limit=2&offset=2"), &rita).await;
    assert_eq!(offset["messages"][0]["content"], "m4");
    for bad in ["limit=0", "limit=201", "before=1&after=2", "before=-1", "limit=ten", "colour=red"] {
        problem(app.get_json(&format!("{path}?{bad}"), &rita).await, 400);
    }
}

#[tokio::test]
async fn reading_moves_the_marker_and_unread_counts_forward_only() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let first = app.send_message(&rita, &id, "one").await["seq"].as_u64().unwrap();
    app.send_message(&rita, &id, "two").await;
    app.send_message(&abe, &id, "mine").await;
    let (_, conversation) = app.get_json(&format!("/api/conversations/{id}"), &abe).await;
    assert_eq!(conversation["unread_count"], 2, "own messages never count");
    let (status, marker) =
        app.put(&format!("/api/conversations/{id}/read"), &abe, json!({"up_to_seq": first})).await;
    assert_eq!((status, &marker["unread"]), (200, &json!(1)));
    let (_, backwards) =
        app.put(&format!("/api/conversations/{id}/read"), &abe, json!({"up_to_seq": 1})).await;
    assert_eq!(backwards["last_read_seq"], first, "a marker never moves backwards");
    // No body at all: everything.
    let (status, all) =
        app.call(reqwest::Method::PUT, &format!("/api/conversations/{id}/read"), Some(&abe), None).await;
    assert_eq!((status, &all["unread"]), (200, &json!(0)));
    let (_, unread) = app.get_json("/api/users/abe/unread", &abe).await;
    assert_eq!(unread["total"], 0);
    problem(app.put(&format!("/api/conversations/{id}/read"), &abe, json!({"user_id": "rita"})).await, 403);
}

#[tokio::test]
async fn participants_join_and_leave_and_leavers_lose_access() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let cy = app.token("cy", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (status, added) = app
        .post(
            &format!("/api/conversations/{id}/participants"),
            &rita,
            json!({"user_id": "cy", "role": "applicant"}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["participants"].as_array().unwrap().len(), 3);
    assert_eq!(app.get_json(&format!("/api/conversations/{id}"), &cy).await.0, 200);
    problem(app.delete(&format!("/api/conversations/{id}/participants/rita"), &abe).await, 403);
    let (status, _) = app.delete(&format!("/api/conversations/{id}/participants/cy"), &cy).await;
    assert_eq!(status, 204);
    problem(app.get_json(&format!("/api/conversations/{id}"), &cy).await, 404);
    problem(app.delete(&format!("/api/conversations/{id}/participants/cy"), &rita).await, 404);
    problem(
        app.post(
            &format!("/api/conversations/{id}/participants"),
            &rita,
            json!({"user_id": "x", "role": "analyst"}),
        )
        .await,
        400,
    );
}
