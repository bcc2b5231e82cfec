//! The demo data a newcomer walks through (`gigunion serve --demo`): loaded through the use
//! cases on either database, holding dispute cases and hardship-grant applications in every
//! state, and loaded once.

use diesel::prelude::*;
use gigunion_tests::spawn_app;
use platform::schema::{cases as c, grant_applications as ga, grant_terms as gt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_holds_cases_and_grants_in_every_state_and_a_second_run_adds_nothing() {
    let app = spawn_app().await;
    let seeded = gigunion_server::seed::seed(&app.state, &app.data_dir)
        .await
        .unwrap();
    assert_eq!(seeded.cases, 8);
    let states: Vec<String> = c::table
        .select(c::state)
        .order(c::id)
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(
        states,
        ["agreed", "filed", "filed", "filed", "declined", "referred", "closed", "accepted"]
    );
    assert_eq!(seeded.grant_applications, 9);
    let mut grants: Vec<String> = ga::table
        .select(ga::state)
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    grants.sort_unstable();
    assert_eq!(
        grants,
        [
            "approved",
            "on_notice",
            "paid",
            "paying",
            "payment_failed",
            "rejected",
            "reviewed",
            "submitted",
            "verified"
        ]
    );
    let left: i64 = gt::table
        .select(gt::budget_left_fen)
        .first(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(left, (20 - 4) * 60_000, "four approved, paid or not");
    let again = gigunion_server::seed::seed(&app.state, &app.data_dir)
        .await
        .unwrap();
    assert!(again.is_empty(), "a second run changes nothing");
    let cases: i64 = c::table
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(cases, 8);
}
