//! Two instances of one deployment (two apps on one database): a write on one reaches the
//! other's search index, through Redis pub/sub when configured, and through the periodic
//! version check without it.

use std::time::{Duration, Instant};

use crate::stations_support::{create, ids, nearby, station, tree};
use gigunion_tests::serde_json::json;
use gigunion_tests::{spawn_app_on, SharedDatabase, TestApp};
use platform::crypto::random_token;

const HERE: &str = "lat=32.0486&lng=118.7977";

/// Polls `app`'s nearby search until `done` holds; the time it took, or a failure after
/// `deadline`.
async fn until(app: &TestApp, deadline: Duration, done: impl Fn(&[i64]) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if done(&ids(&nearby(app, HERE).await)) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "the other instance did not catch up within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn close(app: &TestApp, token: &str, id: i64) {
    let res = app
        .request(
            gigunion_tests::reqwest::Method::DELETE,
            &format!("/v1/admin/stations/{id}"),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_periodic_version_check_carries_writes_across() {
    let db = SharedDatabase::new();
    let a = spawn_app_on(&db.url, None).await;
    let b = spawn_app_on(&db.url, None).await;
    let t = tree(&a).await;
    let id = create(
        &a,
        &t.staff_a,
        t.xuanwu,
        &station("双实例驿站", 32.0486, 118.7977, json!({"open_24h": true})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    // The writing instance at once, the other within its check interval (2 s).
    assert_eq!(ids(&nearby(&a, HERE).await), [id]);
    until(&b, Duration::from_secs(10), |ids| ids == [id]).await;

    // And back: closed on B (with B's own token), gone from A.
    let admin_b = b.admin().await;
    close(&b, &admin_b, id).await;
    assert!(ids(&nearby(&b, HERE).await).is_empty());
    until(&a, Duration::from_secs(10), |ids| ids.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_instances_hear_each_others_writes_at_once() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!(
            "TEST_REDIS_URL is not set: the Redis pub/sub path is tested by `make test-services`"
        );
        return;
    };
    let db = SharedDatabase::new();
    let prefix = format!("gigunion-test:{}:", random_token(8));
    let a = spawn_app_on(&db.url, Some((&redis, &prefix))).await;
    let b = spawn_app_on(&db.url, Some((&redis, &prefix))).await;
    // With Redis the periodic check runs every 30 s: anything faster came by pub/sub.
    assert_eq!(
        b.state.stations.config.reconcile_every,
        Duration::from_secs(30)
    );
    let t = tree(&a).await;
    let first = create(
        &a,
        &t.staff_a,
        t.xuanwu,
        &station("一号驿站", 32.0486, 118.7977, json!({"open_24h": true})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    until(&b, Duration::from_secs(5), |ids| ids == [first]).await;

    // Both subscriptions are up by now, so this one can only travel as a message.
    let second = create(
        &a,
        &t.staff_a,
        t.xuanwu,
        &station("二号驿站", 32.0487, 118.7977, json!({"open_24h": true})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let took = until(&b, Duration::from_secs(5), |ids| ids.contains(&second)).await;
    eprintln!("instance B saw A's write after {took:?}");

    // A fault report posted on B flags the station on A.
    let rider = b.worker(340).await;
    let res = b
        .post(
            &format!("/v1/stations/{first}/feedback"),
            &json!({"kind": "fault", "body": "饮水机坏了"}),
            Some(&rider.token),
        )
        .await;
    assert_eq!(res.status().as_u16(), 201);
    let started = Instant::now();
    loop {
        let found = nearby(&a, HERE).await;
        let flagged = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == first && s["flagged"] == true);
        if flagged {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "flag not seen on A"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
