//! Routing: category -> team, agents by strategy within capacity, explicit assignment, and
//! capacity under concurrent routing.
use crate::harness::*;
use crm_proto::tickets as pb;
use tonic::Code;

#[tokio::test]
async fn category_routes_to_the_team_and_capacity_holds() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let repairs = app
            .team(
                "Repairs",
                &[pb::Category::Repair],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let a = app.agent(&repairs.name, "Ann", 1).await;
        let b = app.agent(&repairs.name, "Bo", 2).await;
        let mut assigned = Vec::new();
        for _ in 0..4 {
            let t = app
                .create(ticket(&new_customer(), pb::Category::Repair))
                .await;
            assert_eq!(t.team, repairs.name);
            assigned.push(t);
        }
        let to = |n: &str| assigned.iter().filter(|t| t.assignee == n).count();
        assert_eq!((to(&a.name), to(&b.name), to("")), (1, 2, 1));
        assert_eq!(app.get_agent(&a.name).await.open_tickets, 1);
        // Other categories are not this team's.
        let other = app
            .create(ticket(&new_customer(), pb::Category::Billing))
            .await;
        assert!(other.team.is_empty() && other.assignee.is_empty());

        // Explicitly assigning a full agent is refused; solving frees capacity.
        let waiting = assigned
            .iter()
            .find(|t| t.assignee.is_empty())
            .expect("unassigned")
            .clone();
        let assign = |agent: &str| pb::AssignTicketRequest {
            name: waiting.name.clone(),
            agent: agent.into(),
            request_id: rid(),
            ..Default::default()
        };
        let err = app
            .client
            .assign_ticket(assign(&a.name))
            .await
            .expect_err("full");
        assert_status(&err, Code::FailedPrecondition, "AGENT_AT_CAPACITY");
        let ann_ticket = assigned
            .iter()
            .find(|t| t.assignee == a.name)
            .expect("ann's");
        app.status(&ann_ticket.name, pb::Status::Solved)
            .await
            .expect("solve");
        assert_eq!(app.get_agent(&a.name).await.open_tickets, 0);
        // A solved ticket is not assigned (and takes no capacity).
        let err = app
            .client
            .assign_ticket(pb::AssignTicketRequest {
                name: ann_ticket.name.clone(),
                agent: a.name.clone(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("solved");
        assert_status(&err, Code::FailedPrecondition, "TICKET_NOT_OPEN");
        assert_eq!(app.get_agent(&a.name).await.open_tickets, 0);
        let t = app
            .client
            .assign_ticket(assign(&a.name))
            .await
            .expect("assign")
            .into_inner();
        assert_eq!(t.assignee, a.name);
        assert_eq!(app.get_agent(&a.name).await.open_tickets, 1);

        // Unavailable agents get nothing.
        let mut unavailable = app.get_agent(&b.name).await;
        unavailable.available = false;
        app.client
            .update_agent(pb::UpdateAgentRequest {
                agent: Some(unavailable),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["available".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("away");
        let b_open = app.get_agent(&b.name).await.open_tickets;
        app.status(
            &assigned
                .iter()
                .find(|t| t.assignee == b.name)
                .expect("bo's")
                .name,
            pb::Status::Solved,
        )
        .await
        .expect("solve");
        let next = app
            .create(ticket(&new_customer(), pb::Category::Repair))
            .await;
        assert!(next.assignee.is_empty());
        assert_eq!(app.get_agent(&b.name).await.open_tickets, b_open - 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_routing_never_exceeds_capacity() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team(
                "Front desk",
                &[pb::Category::Inquiry],
                pb::RoutingStrategy::RoundRobin,
                false,
            )
            .await;
        let a = app.agent(&team.name, "Ann", 3).await;
        let b = app.agent(&team.name, "Bo", 3).await;
        let calls = (0..16).map(|_| {
            let mut client = app.client.clone();
            async move {
                client
                    .create_ticket(pb::CreateTicketRequest {
                        ticket: Some(ticket(&new_customer(), pb::Category::Inquiry)),
                        request_id: rid(),
                    })
                    .await
                    .expect("create")
                    .into_inner()
            }
        });
        let tickets = futures::future::join_all(calls).await;
        let count = |n: &str| tickets.iter().filter(|t| t.assignee == n).count();
        assert_eq!(count(&a.name), 3);
        assert_eq!(count(&b.name), 3);
        assert_eq!(count(""), 10);
        assert_eq!(app.get_agent(&a.name).await.open_tickets, 3);
        assert_eq!(app.get_agent(&b.name).await.open_tickets, 3);
    })
    .await;
}

#[tokio::test]
async fn teams_and_agents_crud() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let t = app
            .team(
                "Billing",
                &[pb::Category::Billing],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let err = app
            .client
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: "Money".into(),
                    categories: vec![pb::Category::Billing as i32],
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect_err("category taken");
        assert_status(&err, Code::FailedPrecondition, "CATEGORY_TAKEN");
        let mut renamed = t.clone();
        renamed.display_name = "Billing & refunds".into();
        let mask = |p: &str| {
            Some(prost_types::FieldMask {
                paths: vec![p.into()],
            })
        };
        let u = app
            .client
            .update_team(pb::UpdateTeamRequest {
                team: Some(renamed.clone()),
                update_mask: mask("display_name"),
                request_id: rid(),
            })
            .await
            .expect("rename")
            .into_inner();
        assert_eq!(u.display_name, "Billing & refunds");
        let err = app
            .client
            .update_team(pb::UpdateTeamRequest {
                team: Some(renamed),
                update_mask: mask("display_name"),
                request_id: rid(),
            })
            .await
            .expect_err("stale");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        let agent = app.agent(&t.name, "Cai", 4).await;
        let members = app
            .client
            .list_agents(pb::ListAgentsRequest {
                team: t.name.clone(),
                ..Default::default()
            })
            .await
            .expect("members")
            .into_inner();
        assert_eq!(members.agents.len(), 1);
        let err = app
            .client
            .delete_team(pb::DeleteTeamRequest {
                name: t.name.clone(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("has agents");
        assert_status(&err, Code::FailedPrecondition, "IN_USE");
        let err = app
            .client
            .create_agent(pb::CreateAgentRequest {
                agent: Some(pb::Agent {
                    display_name: String::new(),
                    team: "teams/nope".into(),
                    email: "no-at".into(),
                    max_open_tickets: 0,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect_err("invalid agent");
        assert_eq!(
            violations(&err),
            [
                "agent.display_name",
                "agent.email",
                "agent.max_open_tickets",
                "agent.team"
            ]
        );
        app.client
            .delete_agent(pb::DeleteAgentRequest {
                name: agent.name.clone(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("delete agent");
        app.client
            .delete_team(pb::DeleteTeamRequest {
                name: t.name.clone(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("delete team");
        let err = app
            .client
            .get_team(pb::GetTeamRequest {
                name: t.name.clone(),
            })
            .await
            .expect_err("gone");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn category_skills_pick_the_skilled_agent() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team(
                "After-sales",
                &[pb::Category::Repair, pb::Category::ReturnExchange],
                pb::RoutingStrategy::RoundRobin,
                false,
            )
            .await;
        let mut with_skills = team.clone();
        with_skills
            .category_skills
            .insert("CATEGORY_REPAIR".into(), "repair".into());
        let err = app
            .client
            .update_team(pb::UpdateTeamRequest {
                team: Some(pb::Team {
                    category_skills: [("REPAIR".to_owned(), "repair".to_owned())].into(),
                    ..team.clone()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["category_skills".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect_err("bad key");
        assert_eq!(violations(&err), ["team.category_skills[REPAIR]"]);
        app.client
            .update_team(pb::UpdateTeamRequest {
                team: Some(with_skills),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["category_skills".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("skills");
        let generalist = app.agent(&team.name, "Gen", 10).await;
        let mut tech = app.agent(&team.name, "Tech", 10).await;
        tech.skills = vec!["repair".into()];
        app.client
            .update_agent(pb::UpdateAgentRequest {
                agent: Some(tech.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["skills".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("skills");
        for _ in 0..3 {
            let t = app
                .create(ticket(&new_customer(), pb::Category::Repair))
                .await;
            assert_eq!(t.assignee, tech.name, "repairs need the skill");
        }
        let returns: Vec<_> = futures::future::join_all((0..2).map(|_| {
            let mut c = app.client.clone();
            async move {
                c.create_ticket(pb::CreateTicketRequest {
                    ticket: Some(ticket(&new_customer(), pb::Category::ReturnExchange)),
                    request_id: rid(),
                })
                .await
                .expect("create")
                .into_inner()
                .assignee
            }
        }))
        .await;
        assert!(
            returns.contains(&generalist.name),
            "round robin reaches everyone: {returns:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_teams_never_share_a_category_or_the_escalation_role() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let calls = (0..8).map(|i| {
            let mut client = app.client.clone();
            async move {
                client
                    .create_team(pb::CreateTeamRequest {
                        team: Some(pb::Team {
                            display_name: format!("Team {i}"),
                            // Odd ones want the escalation role instead of the category.
                            categories: if i % 2 == 0 {
                                vec![pb::Category::Repair as i32]
                            } else {
                                Vec::new()
                            },
                            escalation_team: i % 2 == 1,
                            ..Default::default()
                        }),
                        request_id: rid(),
                    })
                    .await
                    .map(tonic::Response::into_inner)
            }
        });
        let results = futures::future::join_all(calls).await;
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 2, "one category owner and one escalation team");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
            let reason = crm_platform::grpc::reason_of(err).unwrap_or_default();
            assert!(
                reason == "CATEGORY_TAKEN" || reason == "ESCALATION_TEAM_TAKEN",
                "{reason}"
            );
        }
        let listed = app
            .client
            .list_teams(pb::ListTeamsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .teams;
        assert_eq!(listed.len(), 2, "the losers wrote nothing");

        // A category given up is free again; one still held is not.
        let owner = won
            .iter()
            .find(|t| !t.categories.is_empty())
            .map(|t| (*t).clone())
            .expect("category owner");
        let err = app
            .client
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: "Late".into(),
                    categories: vec![pb::Category::Repair as i32],
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect_err("still held");
        assert_status(&err, Code::FailedPrecondition, "CATEGORY_TAKEN");
        app.client
            .update_team(pb::UpdateTeamRequest {
                team: Some(pb::Team {
                    categories: vec![pb::Category::Billing as i32],
                    ..owner.clone()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["categories".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("move to billing");
        let late = app
            .team(
                "Late",
                &[pb::Category::Repair],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        // Routing follows the claims: repair goes to the new team, billing to the old one.
        let r = app
            .create(ticket(&new_customer(), pb::Category::Repair))
            .await;
        assert_eq!(r.team, late.name);
        let b = app
            .create(ticket(&new_customer(), pb::Category::Billing))
            .await;
        assert_eq!(b.team, owner.name);
    })
    .await;
}

#[tokio::test]
async fn routing_pages_through_a_large_team() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team(
                "Workshop",
                &[pb::Category::Repair],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let mut with_skills = team.clone();
        with_skills
            .category_skills
            .insert("CATEGORY_REPAIR".into(), "repair".into());
        app.client
            .update_team(pb::UpdateTeamRequest {
                team: Some(with_skills),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["category_skills".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("skills");
        // More agents than one routing page, all free; only the newest (last in the order)
        // has the skill.
        for i in 0..205 {
            app.agent(&team.name, &format!("Gen{i}"), 5).await;
        }
        let tech = app
            .client
            .create_agent(pb::CreateAgentRequest {
                agent: Some(pb::Agent {
                    display_name: "Tech".into(),
                    team: team.name.clone(),
                    skills: vec!["repair".into()],
                    max_open_tickets: 5,
                    available: true,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("tech")
            .into_inner();
        let t = app
            .create(ticket(&new_customer(), pb::Category::Repair))
            .await;
        assert_eq!(t.assignee, tech.name);
    })
    .await;
}
