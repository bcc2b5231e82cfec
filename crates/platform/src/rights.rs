//! The member's rights over their data (PIPL Art. 45 and 47): a copy of everything held about
//! them, and erasure.
//!
//! Every domain crate that holds personal data implements [`PersonalData`] and is registered
//! once at startup ([`DataRights::register`]), the way each registers its routes; export and
//! erasure walk the registry, so a new domain cannot be forgotten by a route. Each domain names
//! the tables it answers for, and a test checks that every table holding an account's data is
//! claimed by some domain.

use std::sync::Arc;

use diesel::Connection;
use serde_json::{Map, Value};

use crate::db::{write_tx, Db};
use crate::{DbConn, Result};

/// Work to do once an erasure has committed (files of the erased rows): before the commit a
/// failure would leave rows pointing at files that are gone.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// One domain's part of a member's data.
pub trait PersonalData: Send + Sync {
    /// The key of this domain's part in an export (`identity`, `membership`, ...).
    fn domain(&self) -> &'static str;

    /// The tables holding an account's data that this domain exports and erases.
    fn tables(&self) -> &'static [&'static str];

    /// Everything this domain holds about `account_id`, as a member would read it.
    fn export(&self, conn: &mut DbConn, account_id: i64) -> Result<Value>;

    /// Removes, or irreversibly anonymises, what this domain holds about `account_id`; keeps
    /// only anonymous counts (stock, attendance, visits per hour). Runs inside the erasure's
    /// one transaction.
    fn erase(&self, conn: &mut DbConn, account_id: i64) -> Result<Vec<AfterCommit>>;

    /// The member withdrew consent to the real-name profile, which goes next: undo what
    /// needs it (membership ends). Runs inside the withdrawal's transaction.
    fn real_name_withdrawn(&self, _conn: &mut DbConn, _account_id: i64) -> Result<()> {
        Ok(())
    }
}

/// Every registered domain, in registration order (the account's own domain first).
#[derive(Clone, Default)]
pub struct DataRights {
    domains: Vec<Arc<dyn PersonalData>>,
}

impl DataRights {
    pub fn register(&mut self, domain: Arc<dyn PersonalData>) -> &mut Self {
        self.domains.push(domain);
        self
    }

    /// Every table some domain answers for.
    pub fn tables(&self) -> Vec<&'static str> {
        self.domains
            .iter()
            .flat_map(|d| d.tables())
            .copied()
            .collect()
    }

    /// `{ domain: part, ... }` for `account_id`, read in one transaction so the parts agree.
    pub async fn export(&self, db: &Db, account_id: i64) -> Result<Map<String, Value>> {
        let domains = self.domains.clone();
        db.run(move |conn| {
            conn.transaction::<_, crate::Error, _>(|conn| {
                let mut out = Map::new();
                for domain in &domains {
                    out.insert(domain.domain().to_owned(), domain.export(conn, account_id)?);
                }
                Ok(out)
            })
        })
        .await
    }

    /// Erases `account_id` everywhere in one transaction, the domains registered last first
    /// (they hold rows that refer to the earlier ones'), then runs their after-commit work.
    /// `finish` runs last in the same transaction (the account's own tombstone, the audit).
    pub async fn erase(
        &self,
        db: &Db,
        account_id: i64,
        finish: impl FnOnce(&mut DbConn) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let domains = self.domains.clone();
        let after = db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let mut after = Vec::new();
                    for domain in domains.iter().rev() {
                        after.extend(domain.erase(conn, account_id)?);
                    }
                    finish(conn)?;
                    Ok(after)
                })
            })
            .await?;
        // File deletions block: off the async workers.
        actix_web::web::block(move || after.into_iter().for_each(|work| work())).await?;
        Ok(())
    }

    /// Tells every domain, the ones registered last first, that the real-name consent is
    /// withdrawn; `finish` (removing the profile) runs last in the same transaction.
    pub async fn real_name_withdrawn(
        &self,
        db: &Db,
        account_id: i64,
        finish: impl FnOnce(&mut DbConn) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let domains = self.domains.clone();
        db.run(move |conn| {
            write_tx(conn, |conn| {
                for domain in domains.iter().rev() {
                    domain.real_name_withdrawn(conn, account_id)?;
                }
                finish(conn)
            })
        })
        .await
    }
}
