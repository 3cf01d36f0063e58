//! The send path, three jobs:
//! - **start** ([`CampaignService::start_due`]): scheduled campaigns whose time has come
//!   start running; a running campaign's audience (its segment minus the exclusions, as the
//!   read model has it now) is written as pending deliveries, one page per run, each with
//!   its variant and due time (the recipient's local time for local schedules). The unique
//!   (campaign, step, customer) key makes a resumed page write nothing twice.
//! - **dispatch** ([`Dispatcher::run`]): due pending deliveries of running campaigns, at
//!   most the campaign's throttle per second, are decided one by one in their own
//!   transaction by the sending rules ([`rules::decide`]): skipped with a reason, deferred
//!   (quiet hours) or rendered, sealed and queued.
//! - **send** ([`CampaignService::send_once`]): queued deliveries are leased to one run and
//!   handed to the sender; the write after the attempt is fenced by the attempt number, so
//!   a run whose lease ran out cannot overwrite another's result. A crash between the send
//!   and that write offers the message again after the lease: receivers deduplicate by the
//!   delivery id (the webhook's Idempotency-Key, the e-mail's Message-ID).
mod audience;
pub mod rules;
mod send;
mod throttle;

use super::CampaignService;
use crm_platform::jobs::Jobs;
use std::time::Duration;

pub use throttle::Dispatcher;

/// Starts the start, dispatch and send jobs.
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    let s = &svc.settings().sending;
    jobs.every(
        Duration::from_millis(s.start_interval_ms),
        "campaign start",
        svc.clone(),
        |svc| async move { svc.start_due().await.map(|_| ()) },
    );
    jobs.every(
        Duration::from_millis(s.dispatch_interval_ms),
        "campaign dispatch",
        Dispatcher::new(svc.clone()),
        |d| async move { d.run().await.map(|_| ()) },
    );
    jobs.every(
        Duration::from_millis(s.dispatch_interval_ms),
        "campaign send",
        svc.clone(),
        |svc| async move { svc.send_once().await.map(|_| ()) },
    );
}
