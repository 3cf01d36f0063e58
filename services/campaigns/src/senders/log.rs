//! The `log` sender: one structured line per message and nothing else (the default, for
//! development and the throughput bench). No address, subject or body: no personal data.
use super::OutboundMessage;

pub(super) fn send(m: &OutboundMessage) {
    tracing::info!(
        delivery = m.delivery,
        campaign = m.campaign,
        channel = m.channel,
        variant = m.variant,
        "message sent"
    );
}
