//! The event backbone under faults, separate processes only: the consumer killed, its Redis
//! stopped, two replicas consuming. Each checks purchase -> points order by order: every
//! purchase earns exactly once.
use super::load::Load;
use crate::harness::{Deadline, Service, Setup, Topology};
use std::time::Duration;

/// Bound on loyalty catching up after the fault (a reclaim after `claim_idle_ms`, 3 s here,
/// then the backlog).
const CATCH_UP: Duration = Duration::from_secs(120);

/// `kill -9` of loyalty in the middle of 1,000 purchase events: deliveries it had read and not
/// acknowledged (perhaps committed, perhaps cut mid-transaction) are reclaimed after the
/// restart and recognised by the inbox, the rest are read anew: each order earns once.
#[tokio::test]
async fn every_purchase_earns_once_when_loyalty_is_killed_mid_stream() {
    let Some(mut s) = Setup::new(Topology::Separate).start().await else {
        return;
    };
    let load = Load::new(&mut s, 50, 20).await;
    let started = std::time::Instant::now();
    let recording = load.record_in_background(&s);
    let flowing = Deadline::after(Duration::from_secs(20), "loyalty to earn on the stream");
    while !load.some_earned(&mut s).await {
        flowing.wait().await;
    }
    load.await_recorded(load.total() / 4).await;
    s.kill(Service::Loyalty);
    let at_kill = load.recorded();
    eprintln!(
        "loyalty killed after {at_kill} of {} purchases",
        load.total()
    );
    assert!(
        at_kill < load.total(),
        "killed after the last purchase: nothing was tested"
    );

    s.restart(Service::Loyalty).await;
    recording.await.expect("every purchase recorded");
    eprintln!("all recorded after {:?}", started.elapsed());
    load.assert_each_earned_once(&mut s, CATCH_UP).await;
    eprintln!("all earned after {:?}", started.elapsed());
}

/// The Redis of the event bus killed while customers records purchases, and started again a
/// second later: purchases are still recorded (their events wait in the outbox), and every
/// one earns once when the relay and loyalty's consumer are back on their own.
#[tokio::test]
async fn nothing_is_lost_when_the_event_redis_stops_and_starts() {
    let Some(mut s) = Setup::new(Topology::Separate)
        .private_events_redis()
        .start()
        .await
    else {
        return;
    };
    let load = Load::new(&mut s, 10, 20).await;
    let recording = load.record_in_background(&s);
    load.await_recorded(load.total() / 4).await;
    s.events_redis().kill();
    let at_stop = load.recorded();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let while_down = load.recorded() - at_stop;
    eprintln!("redis killed after {at_stop} purchases; {while_down} recorded while it was down");
    assert!(
        while_down > 0,
        "no purchase was recorded while Redis was down"
    );
    s.events_redis().start_again();

    recording.await.expect("every purchase recorded");
    load.assert_each_earned_once(&mut s, CATCH_UP).await;
}

/// Two loyalty processes on one database consume the customers stream as one group; one is
/// killed midway and its unacknowledged deliveries are reclaimed by the other. No purchase
/// earns twice, none is missed.
#[tokio::test]
async fn two_loyalty_replicas_apply_each_event_once() {
    let Some(mut s) = Setup::new(Topology::Separate)
        .replicas(Service::Loyalty, 2)
        .start()
        .await
    else {
        return;
    };
    let load = Load::new(&mut s, 20, 10).await;
    let recording = load.record_in_background(&s);
    load.await_recorded(load.total() / 2).await;
    s.replica(Service::Loyalty, 1).kill();
    assert!(
        load.recorded() < load.total(),
        "killed after the last purchase"
    );

    recording.await.expect("every purchase recorded");
    load.assert_each_earned_once(&mut s, CATCH_UP).await;
}
