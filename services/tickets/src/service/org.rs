//! Teams, agents (team members with skills, capacity and availability) and macros.
use super::{Page, TicketsService};
use crate::domain::{Agent, AgentId, AgentPatch, Macro, Team, TeamId, TeamPatch, now};
use crate::error;
use crate::store::{self, Claim};
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::{Error, etag};
use sea_orm::DatabaseTransaction;

impl TicketsService {
    /// A category is routed by one team only; one team is the escalation team. Enforced by
    /// the claims table (primary key), so two concurrent writes cannot both take a claim.
    async fn claim(&self, txn: &DatabaseTransaction, t: &Team) -> Result<(), Error> {
        match store::set_team_claims(txn, t).await? {
            None => Ok(()),
            Some((Claim::Category(c), other)) => {
                Err(error::category_taken(c.as_str(), &other.name()))
            }
            Some((Claim::Escalation, other)) => Err(error::escalation_taken(&other.name())),
        }
    }

    pub async fn create_team(&self, key: &IdempotencyKey, mut t: Team) -> Result<Team, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        t.id = TeamId::generate();
        t.create_time = now;
        t.update_time = now;
        t.revision = 1;
        self.claim(&txn, &t).await?;
        store::insert_team(&txn, &t).await?;
        let name = t.id.name();
        self.commit(txn, key, &name, t).await
    }

    pub async fn get_team(&self, id: TeamId) -> Result<Team, Error> {
        store::find_team(&self.db, id)
            .await?
            .ok_or_else(|| error::not_found(id))
    }

    pub async fn list_teams(&self, page_size: u32, page_token: &str) -> Result<Page<Team>, Error> {
        let fp = PageTokens::fingerprint(&["teams"]);
        let after: Option<uuid::Uuid> = self.tokens.decode(page_token, &fp)?;
        let limit = self.page_size(page_size);
        let mut rows = store::list_teams(&self.db, after, limit + 1).await?;
        let next = self.tokens.next_page(&mut rows, limit, &fp, |t| t.id.0);
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn update_team(
        &self,
        key: &IdempotencyKey,
        id: TeamId,
        sent_etag: &str,
        p: TeamPatch,
    ) -> Result<Team, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let mut t = store::find_team(&txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))?;
        etag::check(sent_etag, t.revision)?;
        p.apply(&mut t);
        self.claim(&txn, &t).await?;
        t.revision += 1;
        t.update_time = now();
        if !store::update_team(&txn, &t).await? {
            return Err(Error::etag_mismatch());
        }
        self.commit(txn, key, &id.name(), t).await
    }

    pub async fn delete_team(
        &self,
        key: &IdempotencyKey,
        id: TeamId,
        sent_etag: &str,
    ) -> Result<(), Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let t = store::find_team(&txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))?;
        etag::check(sent_etag, t.revision)?;
        if !store::list_agents(&txn, Some(id), None, 1)
            .await?
            .is_empty()
        {
            return Err(error::in_use(&id.name(), "still has agents"));
        }
        store::drop_team_claims(&txn, id).await?;
        store::delete_team(&txn, id).await?;
        self.commit(txn, key, &id.name(), ()).await
    }

    pub async fn create_agent(&self, key: &IdempotencyKey, mut a: Agent) -> Result<Agent, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        if store::find_team(&txn, a.team).await?.is_none() {
            return Err(error::not_found(a.team));
        }
        let now = now();
        a.id = AgentId::generate();
        a.open_tickets = 0;
        a.last_assigned = None;
        a.create_time = now;
        a.update_time = now;
        a.revision = 1;
        store::insert_agent(&txn, &a).await?;
        let name = a.id.name();
        self.commit(txn, key, &name, a).await
    }

    pub async fn get_agent(&self, id: AgentId) -> Result<Agent, Error> {
        store::find_agent(&self.db, id)
            .await?
            .ok_or_else(|| error::not_found(id))
    }

    pub async fn list_agents(
        &self,
        team: Option<TeamId>,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Agent>, Error> {
        let fp = PageTokens::fingerprint(&["agents", &team.map(|t| t.name()).unwrap_or_default()]);
        let after: Option<uuid::Uuid> = self.tokens.decode(page_token, &fp)?;
        let limit = self.page_size(page_size);
        let mut rows = store::list_agents(&self.db, team, after, limit + 1).await?;
        let next = self.tokens.next_page(&mut rows, limit, &fp, |a| a.id.0);
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn update_agent(
        &self,
        key: &IdempotencyKey,
        id: AgentId,
        sent_etag: &str,
        p: AgentPatch,
    ) -> Result<Agent, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let mut a = store::find_agent(&txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))?;
        etag::check(sent_etag, a.revision)?;
        if let Some(team) = p.team
            && store::find_team(&txn, team).await?.is_none()
        {
            return Err(error::not_found(team));
        }
        p.apply(&mut a);
        a.revision += 1;
        a.update_time = now();
        if !store::update_agent(&txn, &a).await? {
            return Err(Error::etag_mismatch());
        }
        let a = store::find_agent(&txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))?;
        self.commit(txn, key, &id.name(), a).await
    }

    pub async fn delete_agent(
        &self,
        key: &IdempotencyKey,
        id: AgentId,
        sent_etag: &str,
    ) -> Result<(), Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let a = store::find_agent(&txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))?;
        etag::check(sent_etag, a.revision)?;
        if a.open_tickets > 0 {
            return Err(error::in_use(&id.name(), "still has open tickets"));
        }
        store::delete_agent(&txn, id).await?;
        self.commit(txn, key, &id.name(), ()).await
    }

    pub async fn create_macro(&self, key: &IdempotencyKey, mut m: Macro) -> Result<Macro, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        m.create_time = now();
        if !store::insert_macro(&txn, &m).await? {
            return Err(error::macro_exists(&m.code));
        }
        let name = m.name();
        self.commit(txn, key, &name, m).await
    }

    pub async fn get_macro(&self, code: &str) -> Result<Macro, Error> {
        store::find_macro(&self.db, code)
            .await?
            .ok_or_else(|| error::not_found(format!("macros/{code}")))
    }

    pub async fn list_macros(
        &self,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Macro>, Error> {
        let fp = PageTokens::fingerprint(&["macros"]);
        let after: Option<String> = self.tokens.decode(page_token, &fp)?;
        let limit = self.page_size(page_size);
        let mut rows = store::list_macros(&self.db, after, limit + 1).await?;
        let next = self
            .tokens
            .next_page(&mut rows, limit, &fp, |m| m.code.clone());
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn delete_macro(&self, key: &IdempotencyKey, code: &str) -> Result<(), Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        if !store::delete_macro(&txn, code).await? {
            return Err(error::not_found(format!("macros/{code}")));
        }
        self.commit(txn, key, &format!("macros/{code}"), ()).await
    }
}
