//! Property: whatever the interleaving of sends, reads, deletes and membership changes, the
//! projected unread counts equal a recomputation from scratch. Histories go through the real
//! command path, so every event is one the rules allow.

use parley::commands::Outcome;
use parley::domain::{ConversationCommand, ConversationId, ConversationKind, MessageId, Role};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::harness::TestApp;
use crate::harness::scenario::*;

const PEOPLE: [&str; 5] = ["rita", "abe", "cy", "dana", "eli"];

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    /// Read up to this fraction (of 255) of the conversation so far; 255 reads everything.
    Read(usize, u8),
    Delete(usize),
    Add(usize),
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..PEOPLE.len()).prop_map(Op::Send),
        3 => (0..PEOPLE.len(), any::<u8>()).prop_map(|(p, f)| Op::Read(p, f)),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => (0..PEOPLE.len()).prop_map(Op::Add),
        1 => (0..PEOPLE.len()).prop_map(Op::Remove),
    ]
}

fn person(index: usize) -> parley::domain::Actor {
    actor(PEOPLE[index], if index == 0 { Role::Recruiter } else { Role::Applicant })
}

/// Runs one history; rejected commands (a stranger sending, ...) are simply skipped.
async fn run_history(app: &TestApp, ops: &[Op]) -> ConversationId {
    let conversation = ConversationId::new();
    exec(
        app,
        &person(0),
        conversation,
        create(
            ConversationKind::Group,
            &[("rita", Role::Recruiter), ("abe", Role::Applicant), ("cy", Role::Applicant)],
        ),
    )
    .await;
    let mut sent: Vec<(MessageId, usize)> = Vec::new();
    for op in ops {
        let (who, command) = match op {
            Op::Send(p) => {
                let (id, command) = send(PEOPLE[*p], "property");
                sent.push((id, *p));
                (*p, command)
            }
            Op::Read(p, fraction) => {
                let state = app.state.commands.state(conversation).await.unwrap();
                let up_to = (*fraction != 255).then(|| state.last_seq * u64::from(*fraction) / 255);
                (*p, read(PEOPLE[*p], up_to))
            }
            Op::Delete(pick) if !sent.is_empty() => {
                let (message_id, sender) = sent[pick % sent.len()];
                (sender, ConversationCommand::DeleteMessage { message_id })
            }
            Op::Delete(_) => continue,
            Op::Add(p) => {
                (0, ConversationCommand::AddParticipant { user_id: user(PEOPLE[*p]), role: Role::Applicant })
            }
            Op::Remove(p) => (*p, ConversationCommand::RemoveParticipant { user_id: user(PEOPLE[*p]) }),
        };
        let outcome = app.state.commands.execute(&person(who), conversation, &command, None).await;
        if let (Ok(Outcome::Unchanged { .. }) | Err(_), Op::Send(_)) = (&outcome, op) {
            sent.pop();
        }
    }
    conversation
}

#[test]
fn unread_counts_equal_a_recount_under_any_interleaving() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let cases = if std::env::var_os("PARLEY_TEST_FULL").is_some() { 200 } else { 16 };
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&prop::collection::vec(op(), 5..60), |ops| {
            runtime.block_on(async {
                let conversation = run_history(&app, &ops).await;
                app.catch_up().await;
                let mismatches = unread_mismatches(&app.state.db).await;
                prop_assert!(
                    mismatches.is_empty(),
                    "unread differs from a recount in {}: {:?} after {:?}",
                    conversation,
                    mismatches,
                    ops
                );
                Ok(())
            })
        })
        .unwrap();
    runtime.block_on(async {
        // And the rebuilt read models agree with the live ones.
        let url = app.env.database_url.clone();
        parley::projections::rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
        assert_same(
            &snapshot(&app.state.db, "parley").await,
            &snapshot(&app.state.db, "parley_rebuild").await,
        );
    });
}
