//! Member numbers: unique nationwide, derived from the region code of the org a person first
//! joined: 6-digit region code, 8-digit sequence within that region, and a Luhn check digit so a
//! mistyped number is caught (15 digits in all). Kept for life, across transfers.

use diesel::prelude::*;
use platform::db::is_unique_violation;
use platform::schema::{member_no_counters as n, members as m};
use platform::{DbConn, Result};

use crate::orgs;

/// The account's member number, allocating one on first activation.
pub fn ensure(conn: &mut DbConn, account_id: i64, org_id: i64) -> Result<String> {
    let existing: Option<String> = m::table
        .find(account_id)
        .select(m::member_no)
        .first(conn)
        .optional()?;
    if let Some(number) = existing {
        return Ok(number);
    }
    let region = orgs::region_code(conn, org_id)?;
    let number = format(&region, next_in_region(conn, &region)?);
    diesel::insert_into(m::table)
        .values((
            m::account_id.eq(account_id),
            m::member_no.eq(&number),
            m::created_at.eq(platform::clock::now()),
        ))
        .execute(conn)?;
    Ok(number)
}

pub fn of(conn: &mut DbConn, account_id: i64) -> Result<Option<String>> {
    Ok(m::table
        .find(account_id)
        .select(m::member_no)
        .first(conn)
        .optional()?)
}

/// Bumps the region's counter; the row lock of the update orders concurrent activations.
fn next_in_region(conn: &mut DbConn, region: &str) -> Result<i64> {
    for _ in 0..2 {
        let bumped: Option<i64> = diesel::update(n::table.find(region))
            .set(n::last_value.eq(n::last_value + 1))
            .returning(n::last_value)
            .get_result(conn)
            .optional()?;
        if let Some(value) = bumped {
            return Ok(value);
        }
        // First member of the region. Inside a savepoint: when a concurrent activation created
        // the row first, PostgreSQL's transaction survives the conflict and the update retries.
        let created = conn.transaction(|conn| {
            diesel::insert_into(n::table)
                .values((n::region_code.eq(region), n::last_value.eq(1)))
                .execute(conn)
        });
        match created {
            Ok(_) => return Ok(1),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(platform::Error::internal(anyhow::anyhow!(
        "member number counter for {region} unavailable"
    )))
}

/// The member number of `sequence` in `region`: the region, eight digits, a Luhn digit.
pub fn format(region: &str, sequence: i64) -> String {
    let body = format!("{region}{sequence:08}");
    format!("{body}{}", luhn_digit(&body))
}

/// The Luhn check digit of a string of digits.
fn luhn_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// True when the last digit checks out.
pub fn is_valid(number: &str) -> bool {
    number.len() == 15
        && number.bytes().all(|b| b.is_ascii_digit())
        && luhn_digit(&number[..14]) == u32::from(number.as_bytes()[14] - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_region_sequence_and_a_luhn_digit() {
        // 7992739871 is the textbook Luhn example with check digit 3.
        assert_eq!(luhn_digit("7992739871"), 3);
        let number = format("320102", 42);
        assert_eq!(&number[..14], "32010200000042");
        assert!(is_valid(&number));
        let mut typo = number.clone().into_bytes();
        typo[10] = if typo[10] == b'9' { b'8' } else { typo[10] + 1 };
        assert!(!is_valid(std::str::from_utf8(&typo).unwrap()));
    }
}
