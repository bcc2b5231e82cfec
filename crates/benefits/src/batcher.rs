//! Group commit for the flash crowd: claims and bookings queue here and are written in batches,
//! one transaction each.
//!
//! A commit costs a disk flush, so one commit per claim caps a single stock row at a few
//! thousand claims per second on either database. Here one task takes every request waiting,
//! locks each program's stock row (or session row) once, hands out what is left in arrival
//! order, writes vouchers or bookings and their ledger rows, and commits once. Exactness comes
//! from the row lock (PostgreSQL) or the single writer (SQLite), backed by the unique keys:
//! one voucher per claim number per member, one live booking per member per program.
//!
//! If a batch fails as a whole (say another instance raced one of its members into a unique
//! key), each request is retried alone so one conflict never fails its neighbours.
//!
//! This module is the queue, the group commit and the retry only: what a batch decides is the
//! rule of its use case, [`claims::grant`] and [`bookings::grant`].

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::NaiveDateTime;
use platform::db::write_tx;
use platform::{Db, DbConn, Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::bookings::{self, BookOutcome};
use crate::claims::{self, ClaimOutcome};
use crate::programs::Program;

/// Largest batch: bounds one transaction's lock time.
const MAX_BATCH: usize = 512;

/// Requests per group commit, by use case (`/metrics`): how far one commit is shared, which is
/// what the batch writer is for.
static BATCH_REQUESTS: LazyLock<prometheus::HistogramVec> = LazyLock::new(|| {
    let histogram = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new(
            "gigunion_batch_requests",
            "Claims or bookings written by one commit of the batch writer",
        )
        .buckets(vec![
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
        ]),
        &["use"],
    )
    .expect("valid metric definition");
    platform::http::register_metric(Box::new(histogram.clone()));
    histogram
});

pub struct ClaimJob {
    pub program: Arc<Program>,
    pub account_id: i64,
    pub valid_until: Option<NaiveDateTime>,
    reply: oneshot::Sender<Result<ClaimOutcome>>,
}

pub struct BookJob {
    pub session_id: i64,
    pub program: Arc<Program>,
    pub account_id: i64,
    pub waitlist: bool,
    reply: oneshot::Sender<Result<BookOutcome>>,
}

/// What the batch wrote for one request (a voucher or a booking): with the request's own
/// program and session it makes the whole answer, so the crowd's request needs no second
/// database round trip after the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: i64,
    pub code: String,
    pub at: NaiveDateTime,
}

enum Job {
    Claim(ClaimJob),
    Book(BookJob),
}

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the writer task on the current Tokio runtime.
    pub fn start(db: Db) -> Batcher {
        let (queue, jobs) = mpsc::channel(64 * 1024);
        tokio::spawn(run(db, jobs));
        Batcher { queue }
    }

    /// Claims a pack of `program` for `account_id`; eligibility is checked in the batch.
    pub async fn claim(
        &self,
        program: Arc<Program>,
        account_id: i64,
        valid_until: Option<NaiveDateTime>,
    ) -> Result<ClaimOutcome> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            Job::Claim(ClaimJob {
                program,
                account_id,
                valid_until,
                reply,
            }),
            answer,
        )
        .await
    }

    /// Books a seat of a session of `program`; eligibility is checked in the batch.
    pub async fn book(
        &self,
        session_id: i64,
        program: Arc<Program>,
        account_id: i64,
        waitlist: bool,
    ) -> Result<BookOutcome> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            Job::Book(BookJob {
                session_id,
                program,
                account_id,
                waitlist,
                reply,
            }),
            answer,
        )
        .await
    }

    async fn submit<T>(&self, job: Job, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
        self.queue
            .send(job)
            .await
            .map_err(|_| Error::unavailable(anyhow::anyhow!("the batch writer has stopped")))?;
        answer.await.map_err(|_| {
            Error::unavailable(anyhow::anyhow!("the batch writer dropped a request"))
        })?
    }
}

async fn run(db: Db, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (mut claims, mut books) = (Vec::new(), Vec::new());
        for job in jobs {
            match job {
                Job::Claim(c) => claims.push(c),
                Job::Book(b) => books.push(b),
            }
        }
        for (name, n) in [("claims", claims.len()), ("bookings", books.len())] {
            if n > 0 {
                BATCH_REQUESTS.with_label_values(&[name]).observe(n as f64);
            }
        }
        let outcome = db
            .run(move |conn| {
                if !claims.is_empty() {
                    settle(conn, claims, claims::grant);
                }
                if !books.is_empty() {
                    settle(conn, books, bookings::grant);
                }
                Ok(())
            })
            .await;
        if let Err(e) = outcome {
            // The replies went with the jobs; their receivers see the drop as unavailable.
            tracing::error!(error = ?e, "batch writer failed");
        }
    }
}

/// Decides a batch of jobs inside one transaction, one outcome per job.
type Grant<J> = fn(&mut DbConn, &[&J]) -> Result<Vec<<J as Replies>::Outcome>>;

trait Replies {
    type Outcome;
    fn reply(self, outcome: Result<Self::Outcome>);
}

impl Replies for ClaimJob {
    type Outcome = ClaimOutcome;
    fn reply(self, outcome: Result<ClaimOutcome>) {
        let _ = self.reply.send(outcome);
    }
}

impl Replies for BookJob {
    type Outcome = BookOutcome;
    fn reply(self, outcome: Result<BookOutcome>) {
        let _ = self.reply.send(outcome);
    }
}

/// Runs `grant` over the whole batch in one transaction; if that fails, each job alone.
fn settle<J: Replies>(conn: &mut DbConn, jobs: Vec<J>, grant: Grant<J>) {
    let all: Vec<&J> = jobs.iter().collect();
    match write_tx(conn, |conn| grant(conn, &all)) {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                job.reply(Ok(outcome));
            }
        }
        Err(e) if jobs.len() == 1 => jobs.into_iter().for_each(|job| job.reply(Err(e_clone(&e)))),
        Err(e) => {
            tracing::warn!(error = ?e, size = jobs.len(), "batch failed; retrying its requests one by one");
            for job in jobs {
                let outcome = write_tx(conn, |conn| grant(conn, &[&job]).map(|mut o| o.remove(0)));
                job.reply(outcome);
            }
        }
    }
}

fn e_clone(e: &Error) -> Error {
    Error::new(e.code()).with_cause(anyhow::anyhow!("{e:?}"))
}

/// Decides a batch group by group (a program, a session: what one row lock covers): `decide`
/// gets one group's jobs in arrival order and answers one outcome each; the outcomes come back
/// in the batch's order.
pub(crate) fn by_group<J, O>(
    jobs: &[&J],
    key: impl Fn(&J) -> i64,
    mut decide: impl FnMut(i64, &[&J]) -> Result<Vec<O>>,
) -> Result<Vec<O>> {
    let mut groups: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        groups.entry(key(job)).or_default().push(i);
    }
    let mut outcomes: Vec<Option<O>> = jobs.iter().map(|_| None).collect();
    for (key, indexes) in groups {
        let group: Vec<&J> = indexes.iter().map(|&i| jobs[i]).collect();
        for (i, outcome) in indexes.into_iter().zip(decide(key, &group)?) {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| Error::internal(anyhow::anyhow!("a batch job got no outcome"))))
        .collect()
}
