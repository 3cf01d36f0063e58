//! Experiments through the generated client: the holdout receives nothing, a test then
//! winner sends its test share first and the winner to the rest, and bad experiments are
//! refused field by field. Every recipient's arm is recomputed with
//! `domain::experiment::assign`, so the tests know exactly who belongs where.
use crate::harness::*;
use crate::sending::{gold, member, sent_lines};
use crm_campaigns::domain::experiment::{self, Arm};
use crm_campaigns::domain::{CampaignId, CustomerId, sending};
use crm_platform::testing::Backend;
use crm_proto::campaigns as pb;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use tonic::Code;

/// The app with the file sender, no quiet hours, fast start and dispatch jobs, and the
/// winner job every `winner_interval_ms` (3,600,000: it never runs in a test, which calls
/// `choose_winners` itself).
async fn experiment_app(b: Backend, winner_interval_ms: u64) -> (TestApp, PathBuf) {
    crate::sending::sending_app_with(b, ("", ""), 10, move |s| {
        s.campaigns.experiments.winner_interval_ms = winner_interval_ms;
    })
    .await
}

async fn members(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(member(app, "Wei", &format!("wei{i}@example.com"), "", true).await);
    }
    out
}

fn variant(id: &str) -> pb::Variant {
    pb::Variant {
        id: id.into(),
        weight: 1,
        subject: format!("Offer {id}"),
        body: format!("Hello {{{{ customer.given_name }}}}, variant {id}"),
        ..Default::default()
    }
}

fn experiment(test_percent: i32, seconds: i64, metric: pb::experiment::Metric) -> pb::Experiment {
    pb::Experiment {
        test_percent,
        test_duration: Some(prost_types::Duration { seconds, nanos: 0 }),
        metric: metric as i32,
    }
}

/// A click-goal e-mail campaign to `segment` with variants a and b.
fn ab_campaign(segment: &str) -> pb::Campaign {
    pb::Campaign {
        goal: Some(pb::Goal {
            kind: pb::goal::Kind::Click as i32,
            window_days: 7,
        }),
        variants: vec![variant("a"), variant("b")],
        ..email_campaign(segment)
    }
}

fn campaign_id(name: &str) -> uuid::Uuid {
    CampaignId::parse_name(name).expect("campaign name").0
}

fn customer_id(name: &str) -> uuid::Uuid {
    CustomerId::parse_name(name).expect("customer name").0
}

/// Each customer's arm as the service must have chosen it.
fn arms(
    campaign: &str,
    customers: &[String],
    holdout: u8,
    e: Option<&experiment::Experiment>,
) -> HashMap<String, Arm> {
    customers
        .iter()
        .map(|c| {
            let arm = experiment::assign(campaign_id(campaign), customer_id(c), holdout, e);
            (c.clone(), arm)
        })
        .collect()
}

fn the_experiment(test_percent: u8) -> experiment::Experiment {
    experiment::Experiment {
        test_percent,
        test_duration_secs: 1,
        metric: experiment::Metric::ClickRate,
    }
}

/// Waits until `campaign` has `n` deliveries and every one of the test share (with a
/// variant) is sent; returns them.
async fn await_test_sent(app: &mut TestApp, campaign: &str, n: usize) -> Vec<pb::Delivery> {
    for _ in 0..200 {
        let ds = app.deliveries(campaign).await;
        if ds.len() == n
            && ds
                .iter()
                .filter(|d| !d.variant.is_empty())
                .all(|d| d.state == pb::delivery::State::Sent as i32)
        {
            return ds;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the test share of {campaign} was never sent");
}

/// The customers each sent line went to, with the variant it was rendered from.
fn sent_variants(file: &PathBuf) -> Vec<(String, String)> {
    sent_lines(file)
        .iter()
        .map(|l| {
            (
                l["customer"].as_str().expect("customer").to_owned(),
                l["variant"].as_str().expect("variant").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_holdout_gets_nothing_and_the_others_are_sent() {
    each_backend(|b| async move {
        let (mut app, file) = experiment_app(b, 50).await;
        let customers = members(&app, 40).await;
        let segment = app.segment(gold()).await;
        let campaign = app
            .launch(pb::Campaign {
                holdout_percent: 50,
                ..email_campaign(&segment)
            })
            .await;
        let done = app
            .await_state(&campaign, pb::campaign::State::Completed)
            .await;
        let arms = arms(&campaign, &customers, 50, None);
        let held: HashSet<&String> = arms
            .iter()
            .filter(|(_, a)| **a == Arm::Holdout)
            .map(|(c, _)| c)
            .collect();
        assert!(
            !held.is_empty() && held.len() < customers.len(),
            "both arms hold someone: {} held",
            held.len()
        );
        let ds = app.deliveries(&campaign).await;
        assert_eq!(ds.len(), 40);
        for d in &ds {
            let want = if held.contains(&d.customer) {
                (pb::delivery::State::HeldOut as i32, "")
            } else {
                (pb::delivery::State::Sent as i32, "a")
            };
            assert_eq!((d.state, d.variant.as_str()), want, "{d:?}");
            assert!(
                d.due_time.is_some(),
                "the holdout is measured from its due time"
            );
        }
        let sent: HashSet<String> = sent_variants(&file).into_iter().map(|(c, _)| c).collect();
        let expected: HashSet<String> = customers
            .iter()
            .filter(|c| !held.contains(c))
            .cloned()
            .collect();
        assert_eq!(
            sent, expected,
            "exactly the ones not held out got a message"
        );
        assert_eq!(sent_lines(&file).len(), expected.len(), "each once");
        let stats = done.stats.expect("stats");
        assert_eq!(
            (stats.recipients, stats.sent, stats.pending, stats.skipped),
            (40, expected.len() as i64, 0, 0),
            "held-out recipients count as recipients, neither sent nor skipped"
        );
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn test_then_winner_sends_the_variant_with_the_best_click_rate_to_the_rest() {
    each_backend(|b| async move {
        let (mut app, file) = experiment_app(b, 3_600_000).await;
        let customers = members(&app, 40).await;
        let segment = app.segment(gold()).await;
        let campaign = app
            .launch(pb::Campaign {
                experiment: Some(experiment(50, 1, pb::experiment::Metric::ClickRate)),
                ..ab_campaign(&segment)
            })
            .await;
        let arms = arms(&campaign, &customers, 0, Some(&the_experiment(50)));
        let rest: HashSet<&String> = arms
            .iter()
            .filter(|(_, a)| **a == Arm::Rest)
            .map(|(c, _)| c)
            .collect();
        let ds = await_test_sent(&mut app, &campaign, 40).await;
        let weights = [1, 1];
        for d in &ds {
            if rest.contains(&d.customer) {
                assert_eq!(
                    (d.state, d.variant.as_str()),
                    (pb::delivery::State::AwaitingWinner as i32, ""),
                    "{d:?}"
                );
            } else {
                let i = sending::assign_variant(
                    campaign_id(&campaign),
                    customer_id(&d.customer),
                    &weights,
                );
                assert_eq!(d.variant, ["a", "b"][i], "the test share by weight");
            }
        }
        let test_b: Vec<&pb::Delivery> = ds.iter().filter(|d| d.variant == "b").collect();
        assert!(!rest.is_empty() && !test_b.is_empty(), "{ds:?}");
        let running = app.campaign(&campaign).await;
        assert_eq!(
            running.state,
            pb::campaign::State::Running as i32,
            "not done while the rest waits"
        );
        assert_eq!(running.winner_variant, "");
        assert_eq!(
            running.stats.expect("stats").pending,
            rest.len() as i64,
            "those awaiting the winner are pending"
        );

        // Only b's recipients click: b has the better click rate.
        for d in &test_b {
            app.client
                .record_delivery_receipt(pb::RecordDeliveryReceiptRequest {
                    delivery: d.name.clone(),
                    kind: pb::ReceiptKind::Clicked as i32,
                    occur_time: Some(std::time::SystemTime::now().into()),
                    request_id: rid(),
                })
                .await
                .expect("clicked");
        }
        // Two replicas at once: the winner is chosen once (its write is compare-and-set).
        let mut chosen = 0;
        for _ in 0..200 {
            let (one, two) =
                tokio::join!(app.service.choose_winners(), app.service.choose_winners());
            chosen += one.expect("winner job") + two.expect("winner job");
            if chosen > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(chosen, 1, "one winner");
        assert_eq!(
            app.service.choose_winners().await.expect("again"),
            0,
            "chosen once"
        );

        let done = app
            .await_state(&campaign, pb::campaign::State::Completed)
            .await;
        assert_eq!(done.winner_variant, "b");
        assert!(done.winner_time.is_some());
        let ds = app.deliveries(&campaign).await;
        for d in &ds {
            let clicked = test_b.iter().any(|t| t.name == d.name);
            let state = if clicked {
                pb::delivery::State::Clicked
            } else {
                pb::delivery::State::Sent
            };
            assert_eq!(d.state, state as i32, "{d:?}");
            if rest.contains(&d.customer) {
                assert_eq!(d.variant, "b", "the rest got the winner: {d:?}");
            }
        }
        let sent = sent_variants(&file);
        assert_eq!(sent.len(), 40, "each recipient once");
        for (customer, variant) in &sent {
            if rest.contains(customer) {
                assert_eq!(variant, "b", "rendered from the winner");
            }
        }
        let stats = done.stats.expect("stats");
        assert_eq!((stats.recipients, stats.sent, stats.pending), (40, 40, 0));
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn the_winner_job_releases_the_rest_on_its_own_beside_a_holdout() {
    each_backend(|b| async move {
        let (mut app, file) = experiment_app(b, 50).await;
        let customers = members(&app, 40).await;
        let segment = app.segment(gold()).await;
        let campaign = app
            .launch(pb::Campaign {
                holdout_percent: 20,
                experiment: Some(experiment(40, 1, pb::experiment::Metric::OpenRate)),
                ..ab_campaign(&segment)
            })
            .await;
        let done = app
            .await_state(&campaign, pb::campaign::State::Completed)
            .await;
        let arms = arms(&campaign, &customers, 20, Some(&the_experiment(40)));
        let of = |arm: Arm| -> HashSet<String> {
            arms.iter()
                .filter(|(_, a)| **a == arm)
                .map(|(c, _)| c.clone())
                .collect()
        };
        let (held, test, rest) = (of(Arm::Holdout), of(Arm::Test), of(Arm::Rest));
        // No one opened: every rate is 0, and the tie goes to the first variant with
        // recipients in the test.
        let first = |c: &String| {
            sending::assign_variant(campaign_id(&campaign), customer_id(c), &[1, 1]) == 0
        };
        let winner = if test.iter().any(first) { "a" } else { "b" };
        assert_eq!(done.winner_variant, winner);
        let ds = app.deliveries(&campaign).await;
        assert_eq!(ds.len(), 40);
        for d in &ds {
            let (state, variant) = (d.state, d.variant.as_str());
            if held.contains(&d.customer) {
                assert_eq!((state, variant), (pb::delivery::State::HeldOut as i32, ""));
            } else if rest.contains(&d.customer) {
                assert_eq!((state, variant), (pb::delivery::State::Sent as i32, winner));
            } else {
                assert_eq!(state, pb::delivery::State::Sent as i32, "{d:?}");
            }
        }
        let sent: HashSet<String> = sent_variants(&file).into_iter().map(|(c, _)| c).collect();
        assert_eq!(sent, &test | &rest, "the holdout got nothing");
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

fn welcome() -> pb::Schedule {
    pb::Schedule {
        when: Some(pb::schedule::When::Trigger(pb::Trigger {
            kind: pb::trigger::Kind::Welcome as i32,
            ..Default::default()
        })),
    }
}

#[tokio::test]
async fn bad_experiments_are_refused_field_by_field_and_nothing_is_written() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let segment = any_segment(&mut app).await;
        let create = async |app: &mut TestApp, c: pb::Campaign| {
            app.client
                .create_campaign(pb::CreateCampaignRequest {
                    campaign: Some(c),
                    request_id: rid(),
                })
                .await
                .expect_err("a bad experiment")
        };
        use pb::experiment::Metric;
        // One variant, a test share of 0, no duration, no metric, too large a holdout.
        let err = create(
            &mut app,
            pb::Campaign {
                experiment: Some(pb::Experiment {
                    test_percent: 0,
                    test_duration: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 0,
                    }),
                    metric: Metric::Unspecified as i32,
                }),
                holdout_percent: 60,
                ..email_campaign(&segment)
            },
        )
        .await;
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(
            violations(&err),
            [
                "campaign.experiment.metric",
                "campaign.experiment.test_duration",
                "campaign.experiment.test_percent",
                "campaign.holdout_percent",
            ]
        );
        let err = create(
            &mut app,
            pb::Campaign {
                experiment: Some(experiment(50, 60, Metric::ClickRate)),
                ..email_campaign(&segment)
            },
        )
        .await;
        assert_eq!(violations(&err), ["campaign.variants"], "one variant");
        let err = create(
            &mut app,
            pb::Campaign {
                experiment: Some(pb::Experiment {
                    test_percent: 95,
                    test_duration: Some(prost_types::Duration {
                        seconds: 31 * 86_400,
                        nanos: 0,
                    }),
                    metric: Metric::OpenRate as i32,
                }),
                holdout_percent: -1,
                ..ab_campaign(&segment)
            },
        )
        .await;
        assert_eq!(
            violations(&err),
            [
                "campaign.experiment.test_duration",
                "campaign.experiment.test_percent",
                "campaign.holdout_percent",
            ]
        );
        let err = create(
            &mut app,
            pb::Campaign {
                experiment: Some(experiment(50, 60, Metric::ClickRate)),
                schedule: Some(welcome()),
                ..ab_campaign(&segment)
            },
        )
        .await;
        assert_eq!(
            violations(&err),
            ["campaign.experiment"],
            "not for a journey"
        );
        let list = app
            .client
            .list_campaigns(pb::ListCampaignsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert!(list.campaigns.is_empty(), "nothing written");

        // An update that names only the experiment is checked against the whole draft.
        let update = async |app: &mut TestApp, draft: &pb::Campaign| {
            app.client
                .update_campaign(pb::UpdateCampaignRequest {
                    campaign: Some(pb::Campaign {
                        experiment: Some(experiment(50, 60, Metric::ClickRate)),
                        ..draft.clone()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["experiment".into()],
                    }),
                    request_id: rid(),
                })
                .await
        };
        let journey = app
            .create_campaign(pb::Campaign {
                schedule: Some(welcome()),
                ..ab_campaign(&segment)
            })
            .await;
        let err = update(&mut app, &journey).await.expect_err("a journey");
        assert_eq!(violations(&err), ["campaign.experiment"]);
        let single = app.create_campaign(email_campaign(&segment)).await;
        let err = update(&mut app, &single).await.expect_err("one variant");
        assert_eq!(violations(&err), ["campaign.variants"]);
        let pair = app.create_campaign(ab_campaign(&segment)).await;
        let ok = update(&mut app, &pair)
            .await
            .expect("two variants")
            .into_inner();
        assert_eq!(ok.experiment.map(|e| e.test_percent), Some(50));
        for draft in [&journey, &single] {
            let stored = app.campaign(&draft.name).await;
            assert_eq!(
                (stored.experiment, &stored.etag),
                (None, &draft.etag),
                "unchanged"
            );
        }
    })
    .await;
}
