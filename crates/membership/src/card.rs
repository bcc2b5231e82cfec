//! The e-member card: a QR the member shows and staff scan. The QR carries a signed token that
//! expires 60 seconds after it was shown, so a screenshot cannot be passed around.
//!
//! Token format (verifiable offline with the keys at `/.well-known/jwks.json`): a JWT with
//! header `{"alg":"EdDSA","typ":"card+jwt","kid":...}` and claims `iss` (public base URL),
//! `aud` = `gigunion-card`, `sub` (account id), `mno` (member number), `org` (org id), `iat`,
//! `exp` (iat + 60 s) and a random `jti`.

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use identity::profile::mask_name;
use identity::tokens::Rejection;
use identity::{AuthUser, Identity};
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::random_token;
use platform::schema::real_name_profiles as rn;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orgs::{self, OrgRef};
use crate::vocab::Status;
use crate::{applications, member_no, staff, MembershipConfig};

pub const CARD_TOKEN_TYPE: &str = "card+jwt";
pub const CARD_AUDIENCE: &str = "gigunion-card";

#[derive(Debug, Serialize, Deserialize)]
pub struct CardClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// Member number.
    pub mno: String,
    /// Org id at the time the card was shown.
    pub org: i64,
}

identity::registered_claims!(CardClaims);

/// What `GET /v1/me/card` returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub member_no: String,
    pub org: OrgRef,
    pub member_since: DateTime<Utc>,
    pub status: Status,
    /// The signed token the QR carries (see the module docs for its format).
    pub token: String,
    pub token_expires_at: DateTime<Utc>,
    /// The token as a QR code (SVG), only with `?qr=svg`. The app draws the QR from `token`
    /// itself: the card is fetched every minute while shown, and the SVG is most of its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_svg: Option<String>,
}

pub fn issue(
    conn: &mut DbConn,
    identity: &Identity,
    config: &MembershipConfig,
    account_id: i64,
    with_svg: bool,
) -> Result<Card> {
    let (_, org_id, started_at) =
        applications::active(conn, account_id)?.ok_or_else(|| Error::new(ErrorCode::NotAMember))?;
    let number = member_no::of(conn, account_id)?.ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "active member {account_id} without a number"
        ))
    })?;
    let iat = platform::clock::now_utc().timestamp();
    let exp = iat + config.card_ttl.as_secs() as i64;
    let claims = CardClaims {
        iss: identity.config.issuer.clone(),
        aud: CARD_AUDIENCE.to_owned(),
        sub: account_id.to_string(),
        exp,
        iat,
        jti: random_token(9),
        mno: number.clone(),
        org: org_id,
    };
    let token = identity
        .keys
        .sign(CARD_TOKEN_TYPE, &claims)
        .map_err(Error::internal)?;
    Ok(Card {
        member_no: number,
        org: orgs::reference(conn, org_id)?,
        member_since: started_at.and_utc(),
        status: Status::Active,
        qr_svg: with_svg
            .then(|| platform::qr::svg(&token, 320))
            .transpose()?,
        token,
        token_expires_at: Utc
            .timestamp_opt(exp, 0)
            .single()
            .unwrap_or_else(platform::clock::now_utc),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyResult {
    /// A current member: let them in.
    Valid,
    /// A genuine card shown too long ago (or a screenshot): ask the member to refresh it.
    Expired,
    /// Not a card of ours.
    Invalid,
    /// A genuine card, but the membership has ended since.
    NotAMember,
}

/// The member as the scanning staff see them: enough to compare with the person in front of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedMember {
    pub member_no: String,
    /// Family name and asterisks, e.g. `张*`.
    pub legal_name_masked: Option<String>,
    /// The org the member belongs to now.
    pub org: OrgRef,
    pub member_since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub result: VerifyResult,
    pub member: Option<VerifiedMember>,
}

/// The use case: staff check a scanned card. A genuine card tells them about its holder, so
/// that is recorded, under the holder's current org; a forged or expired one shows nothing and
/// is not.
pub fn verify(
    conn: &mut DbConn,
    identity: &Identity,
    user: &AuthUser,
    actor: &Actor,
    token: &str,
) -> Result<Verification> {
    staff::require_any(conn, user)?;
    let claims: CardClaims = match identity.keys.verify_detailed(
        token.trim(),
        CARD_TOKEN_TYPE,
        &identity.config.issuer,
        CARD_AUDIENCE,
    ) {
        Ok(claims) => claims,
        Err(Rejection::Expired) => {
            return Ok(Verification {
                result: VerifyResult::Expired,
                member: None,
            })
        }
        Err(Rejection::Invalid) => {
            return Ok(Verification {
                result: VerifyResult::Invalid,
                member: None,
            })
        }
    };
    let Ok(account_id) = claims.sub.parse::<i64>() else {
        return Ok(Verification {
            result: VerifyResult::Invalid,
            member: None,
        });
    };
    let active = applications::active(conn, account_id)?;
    let mut entry =
        Entry::new(Action::CardVerify, Record::new("account", account_id)).about(account_id);
    if let Some((_, org_id, _)) = active {
        entry = entry.in_org(org_id);
    }
    audit::record(conn, actor, entry)?;
    let Some((_, org_id, started_at)) = active else {
        return Ok(Verification {
            result: VerifyResult::NotAMember,
            member: None,
        });
    };
    let legal_name: Option<String> = rn::table
        .find(account_id)
        .select(rn::legal_name)
        .first(conn)
        .optional()?;
    Ok(Verification {
        result: VerifyResult::Valid,
        member: Some(VerifiedMember {
            member_no: claims.mno,
            legal_name_masked: legal_name.as_deref().map(mask_name),
            org: orgs::reference(conn, org_id)?,
            member_since: started_at.and_utc(),
        }),
    })
}
