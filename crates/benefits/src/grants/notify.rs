//! What grants tell the applicant at each staff step (through `platform::outbox`, in the
//! transaction of the step): the step in plain words, the amount once approved, the reason's
//! existence once rejected or not paid (the reason itself is behind sign-in).

use platform::audit::Record;
use platform::clock::shanghai_label;
use platform::money::Fen;
use platform::outbox::{self, Notice, Topic};
use platform::{DbConn, Result};

use super::views::ApplicationRow;
use super::vocab::GrantEventKind;

/// Tells the applicant of `row` (as it is after the step) about step `kind`.
pub(crate) fn step(
    conn: &mut DbConn,
    row: &ApplicationRow,
    kind: GrantEventKind,
    event_id: i64,
) -> Result<()> {
    let Some(account_id) = row.account_id else {
        return Ok(());
    };
    let named = format!("您的困难帮扶申请（编号 {}）", row.id);
    let amount = Fen::new(row.amount_fen).map_or_else(String::new, Fen::yuan_label);
    let (topic, title, body) = match kind {
        GrantEventKind::Approved => (
            Topic::GrantDecided,
            "困难帮扶申请已批准",
            format!("{named}已审批通过，补助 {amount}，将随下一批次发放到您登记的银行卡。"),
        ),
        GrantEventKind::Rejected => (
            Topic::GrantDecided,
            "困难帮扶申请未获批准",
            format!("{named}未获批准，原因请在App中查看；如有疑问请联系工会。"),
        ),
        GrantEventKind::Noticed => {
            let until = row.notice_until.map(shanghai_label).unwrap_or_default();
            let text =
                format!("{named}已进入公示（姓名仅显示姓氏），公示至 {until}，期满无异议后审批。");
            (Topic::GrantStep, "困难帮扶申请进入公示", text)
        }
        GrantEventKind::Paid => (
            Topic::GrantPaid,
            "困难帮扶补助已发放",
            format!("{named}的补助 {amount} 已发放到您登记的银行卡（{}），请注意查收。", row.card_masked),
        ),
        GrantEventKind::PaymentFailed => (
            Topic::GrantPaid,
            "困难帮扶补助发放失败",
            format!("{named}的补助未能发放到银行卡 {}，原因请在App中查看；请在App中更正收款银行卡，工会将重新发放。", row.card_masked),
        ),
        other => (
            Topic::GrantStep,
            "困难帮扶申请进展",
            format!("{named}：{}。", other.label_zh()),
        ),
    };
    let notice = Notice {
        account_id,
        topic,
        subject: Record::new("grant_event", event_id),
        title: title.to_owned(),
        body,
        deadline: None,
    };
    outbox::send(conn, &[notice])?;
    Ok(())
}
