//! The demo data a newcomer walks through (`gigunion serve --demo`): loaded through the use
//! cases on either database, holding dispute cases in every state, and loaded once.

use diesel::prelude::*;
use gigunion_tests::spawn_app;
use platform::schema::cases as c;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_holds_cases_in_every_state_and_a_second_run_adds_nothing() {
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
