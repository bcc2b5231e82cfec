//! A demo broadcast, so that a demo rider's inbox and the console's 群发通知 page hold what
//! staff send: 玄武's invitation to the service fair of the Jiangsu "8+X" service season (source
//! article 003), to its riders. It goes through `benefits::broadcasts::send`, as the console
//! sends one, so its rows (the broadcast, each rider's notification, the audit entry) are what
//! the service writes.

use benefits::broadcasts::{self, Audience, NewBroadcast};
use diesel::prelude::*;
use identity::phone::Phone;
use identity::AuthUser;
use membership::vocab::Occupation;
use platform::audit::Actor;
use platform::db::write_tx;
use platform::schema::broadcasts as bc;
use platform::text::Text;

use crate::AppState;

const TITLE: &str = "户外劳动者服务日邀请";
const BODY: &str = "本周六9:00-16:00，玄武区总工会职工服务中心（北京东路）举办新就业形态劳动者\
     服务日：流动体检车免费体检、法律咨询、暖“新”礼包现场兑换，驿站提供热水和充电。欢迎骑手朋友\
     顺路来坐坐。";

/// Sends the broadcast unless the issuer's org has sent one; `Ok(true)` when it sent it now.
/// Nothing when the org or its staff is not seeded.
pub async fn seed(
    state: &AppState,
    issuer: &'static str,
    staff_phone: &str,
) -> anyhow::Result<bool> {
    let identity = state.identity.clone().into_inner();
    let staff_phone = Phone::parse(staff_phone).expect("valid demo phone");
    state
        .db
        .run(move |conn| {
            let staff = identity.credentials(conn, &staff_phone)?;
            let Some((org_id, staff)) = membership::orgs::named(conn, issuer)?.zip(staff) else {
                return Ok(false);
            };
            let sent: i64 = bc::table
                .filter(bc::org_id.eq(org_id))
                .count()
                .get_result(conn)?;
            if sent > 0 {
                return Ok(false);
            }
            let user = AuthUser {
                account_id: staff.account_id,
                roles: Vec::new(),
            };
            let broadcast = NewBroadcast {
                title: Text::parse(TITLE).expect("a title of at most 40 characters"),
                body: Text::parse(BODY).expect("a body of at most 500 characters"),
                audience: Audience {
                    occupation: Some(Occupation::Rider),
                    ..Audience::default()
                },
            };
            write_tx(conn, |conn| {
                broadcasts::send(conn, &user, &Actor::system(), org_id, &broadcast)
            })?;
            Ok(true)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
