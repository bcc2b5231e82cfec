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

use platform::clock::now;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use platform::crypto::random_token;
use platform::db::write_tx;
use platform::schema::{bookings as b, health_sessions as hs, programs as p, vouchers as v};
use platform::{Db, DbConn, Error, ErrorCode, Result};
use tokio::sync::{mpsc, oneshot};

use crate::ledger;
use crate::programs::Program;
use crate::vocab::{BookingStatus, LedgerKind, ProgramStatus, VoucherStatus};

/// Largest batch: bounds one transaction's lock time.
const MAX_BATCH: usize = 512;

pub struct ClaimJob {
    pub program: Arc<Program>,
    pub account_id: i64,
    pub valid_until: Option<NaiveDateTime>,
    reply: oneshot::Sender<Result<ClaimOutcome>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// A voucher was issued. `sold_out_now`: this claim took the last pack.
    Issued {
        voucher: Issued,
        sold_out_now: bool,
    },
    SoldOut,
    AlreadyClaimed,
    /// Not eligible (not a member, outside the subtree, a rule), or the program closed.
    Refused(ErrorCode),
}

pub struct BookJob {
    pub session_id: i64,
    pub program: Arc<Program>,
    pub account_id: i64,
    pub waitlist: bool,
    reply: oneshot::Sender<Result<BookOutcome>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    Booked(Issued),
    Waitlisted(Issued),
    Full,
    AlreadyBooked,
    /// Not eligible, or the program closed.
    Refused(ErrorCode),
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
        let outcome = db
            .run(move |conn| {
                if !claims.is_empty() {
                    settle(conn, claims, grant_claims);
                }
                if !books.is_empty() {
                    settle(conn, books, grant_bookings);
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

/// Claims of a batch, program by program, in arrival order.
fn grant_claims(conn: &mut DbConn, jobs: &[&ClaimJob]) -> Result<Vec<ClaimOutcome>> {
    let mut outcomes = vec![ClaimOutcome::SoldOut; jobs.len()];
    let mut by_program: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        by_program.entry(job.program.id).or_default().push(i);
    }
    let now = now();
    for (program_id, indexes) in by_program {
        // Taking the row lock first: concurrent batches (other instances) queue behind it.
        // The status is read under the lock: the requests' copy of the program may be a
        // second old, and a closed program must not issue anything.
        let (left, status): (Option<i32>, String) = diesel::update(p::table.find(program_id))
            .set(p::stock_left.eq(p::stock_left))
            .returning((p::stock_left, p::status))
            .get_result(conn)?;
        let mut left = left.ok_or_else(|| Error::new(ErrorCode::WrongProgramKind))?;
        let program = &jobs[indexes[0]].program;
        let accounts: Vec<i64> = indexes.iter().map(|&i| jobs[i].account_id).collect();
        if status != ProgramStatus::Published.as_str() || !program.is_open(now) {
            for &i in &indexes {
                outcomes[i] = ClaimOutcome::Refused(ErrorCode::ProgramNotOpen);
            }
            continue;
        }
        let refusals = program
            .rules
            .refusals(conn, program.org_id, &accounts, now)?;
        let held: Vec<i64> = v::table
            .filter(v::program_id.eq(program_id))
            .filter(v::account_id.eq_any(&accounts))
            .select(v::account_id)
            .load(conn)?;
        let mut counts: HashMap<i64, i32> = HashMap::new();
        for account in held {
            *counts.entry(account).or_default() += 1;
        }
        // Decide in memory, in arrival order; then write all of the batch's vouchers and their
        // ledger rows with one statement each (one round trip, not two per claim).
        let mut issue: Vec<(usize, i32, String)> = Vec::new();
        for &i in &indexes {
            let job = jobs[i];
            if let Some(&code) = refusals.get(&job.account_id) {
                outcomes[i] = ClaimOutcome::Refused(code);
                continue;
            }
            let count = counts.entry(job.account_id).or_default();
            outcomes[i] = if *count >= program.per_member_limit {
                ClaimOutcome::AlreadyClaimed
            } else if left == 0 {
                ClaimOutcome::SoldOut
            } else {
                *count += 1;
                left -= 1;
                issue.push((i, *count, random_token(9)));
                continue;
            };
        }
        let rows: Vec<_> = issue
            .iter()
            .map(|(i, claim_no, code)| {
                (
                    v::program_id.eq(program_id),
                    v::account_id.eq(jobs[*i].account_id),
                    v::claim_no.eq(*claim_no),
                    v::code.eq(code),
                    v::status.eq(VoucherStatus::Issued.as_str()),
                    v::issued_at.eq(now),
                    v::valid_until.eq(jobs[*i].valid_until),
                )
            })
            .collect();
        let inserted: Vec<(i64, i32, i64)> = platform::insert_rows!(
            conn,
            v::table,
            rows,
            returning(v::account_id, v::claim_no, v::id)
        )?;
        let ids: HashMap<(i64, i32), i64> = inserted
            .into_iter()
            .map(|(account, claim_no, id)| ((account, claim_no), id))
            .collect();
        let mut entries = Vec::with_capacity(issue.len());
        for (i, claim_no, code) in issue {
            let account_id = jobs[i].account_id;
            let id = *ids.get(&(account_id, claim_no)).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("a voucher insert returned no id"))
            })?;
            entries.push((account_id, Some(id)));
            let sold_out_now = left == 0 && entries.len() == ids.len();
            outcomes[i] = ClaimOutcome::Issued {
                voucher: Issued { id, code, at: now },
                sold_out_now,
            };
        }
        ledger::append_many(conn, program_id, LedgerKind::Claimed, &entries)?;
        diesel::update(p::table.find(program_id))
            .set(p::stock_left.eq(left))
            .execute(conn)?;
    }
    Ok(outcomes)
}

const LIVE: [&str; 3] = ["booked", "waitlisted", "checked_in"];

/// Bookings of a batch, session by session, in arrival order.
fn grant_bookings(conn: &mut DbConn, jobs: &[&BookJob]) -> Result<Vec<BookOutcome>> {
    let mut outcomes = vec![BookOutcome::Full; jobs.len()];
    let mut by_session: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        by_session.entry(job.session_id).or_default().push(i);
    }
    for (session_id, indexes) in by_session {
        let (capacity, mut booked): (i32, i32) = diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(hs::booked))
            .returning((hs::capacity, hs::booked))
            .get_result(conn)?;
        let program = &jobs[indexes[0]].program;
        let program_id = program.id;
        let accounts: Vec<i64> = indexes.iter().map(|&i| jobs[i].account_id).collect();
        let status: String = p::table.find(program_id).select(p::status).first(conn)?;
        let now = now();
        if status != ProgramStatus::Published.as_str() || !program.is_open(now) {
            for &i in &indexes {
                outcomes[i] = BookOutcome::Refused(ErrorCode::ProgramNotOpen);
            }
            continue;
        }
        let refusals = program
            .rules
            .refusals(conn, program.org_id, &accounts, now)?;
        let mut live: std::collections::HashSet<i64> = b::table
            .filter(b::program_id.eq(program_id))
            .filter(b::account_id.eq_any(&accounts))
            .filter(b::status.eq_any(LIVE))
            .select(b::account_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        let created = now;
        let mut seat: Vec<(usize, BookingStatus, String)> = Vec::new();
        for &i in &indexes {
            let job = jobs[i];
            if let Some(&code) = refusals.get(&job.account_id) {
                outcomes[i] = BookOutcome::Refused(code);
                continue;
            }
            let status = if live.contains(&job.account_id) {
                outcomes[i] = BookOutcome::AlreadyBooked;
                continue;
            } else if booked < capacity {
                booked += 1;
                BookingStatus::Booked
            } else if job.waitlist {
                BookingStatus::Waitlisted
            } else {
                outcomes[i] = BookOutcome::Full;
                continue;
            };
            live.insert(job.account_id);
            seat.push((i, status, random_token(9)));
        }
        let rows: Vec<_> = seat
            .iter()
            .map(|(i, status, code)| {
                (
                    b::session_id.eq(session_id),
                    b::program_id.eq(program_id),
                    b::account_id.eq(jobs[*i].account_id),
                    b::status.eq(status.as_str()),
                    b::code.eq(code),
                    b::created_at.eq(created),
                )
            })
            .collect();
        let inserted: Vec<(i64, i64)> =
            platform::insert_rows!(conn, b::table, rows, returning(b::account_id, b::id))?;
        let ids: HashMap<i64, i64> = inserted.into_iter().collect();
        let (mut seated, mut waiting) = (Vec::new(), Vec::new());
        for (i, status, code) in seat {
            let account_id = jobs[i].account_id;
            let id = *ids.get(&account_id).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("a booking insert returned no id"))
            })?;
            let issued = Issued {
                id,
                code,
                at: created,
            };
            outcomes[i] = match status {
                BookingStatus::Booked => {
                    seated.push((account_id, Some(id)));
                    BookOutcome::Booked(issued)
                }
                _ => {
                    waiting.push((account_id, Some(id)));
                    BookOutcome::Waitlisted(issued)
                }
            };
        }
        ledger::append_many(conn, program_id, LedgerKind::Booked, &seated)?;
        ledger::append_many(conn, program_id, LedgerKind::Waitlisted, &waiting)?;
        diesel::update(hs::table.find(session_id))
            .set(hs::booked.eq(booked))
            .execute(conn)?;
    }
    Ok(outcomes)
}
