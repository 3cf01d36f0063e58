//! Coupon pools (README "Coupons"): create, upload and generate codes, claims. Uploads and
//! generation revise the pool first, which serialises them per pool, so the pool's size
//! bound holds under concurrency; a claim is `store::coupons::claim` (exactly once).
use super::{CampaignService, Mutation};
use crate::domain::coupon::{self, Claim, CouponPool, PoolView};
use crate::domain::{self, CouponPoolId, CustomerId};
use crate::store;
use crm_platform::Error;
use crm_platform::error::ErrorCode;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::paging::Page;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// Rounds of GenerateCouponCodes topping up codes that collided with existing ones; at 8 or
/// more random characters of 31 even one collision in a full pool is rare.
const GENERATE_ROUNDS: usize = 8;

/// What AddCouponCodes did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Added {
    pub added: u64,
    /// Codes already in the pool or repeated in the request.
    pub duplicates: u64,
    pub pool: PoolView,
}

/// What GenerateCouponCodes did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generated {
    pub generated: u64,
    pub pool: PoolView,
}

/// Codes to generate: `count` codes of `prefix` and `length` random characters.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub count: u32,
    pub prefix: String,
    pub length: usize,
}

fn pool_not_found(id: CouponPoolId) -> Error {
    Error::not_found(id).with_metadata("coupon_pool", id.name())
}

fn pool_full(id: CouponPoolId, max: u64) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "COUPON_POOL_FULL",
        format!("a coupon pool holds at most {max} codes"),
    )
    .with_metadata("coupon_pool", id.name())
    .with_metadata("max_codes", max.to_string())
}

fn pool_exhausted(id: CouponPoolId) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "COUPON_POOL_EXHAUSTED",
        "the coupon pool has no code left",
    )
    .with_metadata("coupon_pool", id.name())
}

/// `pool` with its counts as `conn` sees them.
async fn view(conn: &impl ConnectionTrait, pool: CouponPool) -> Result<PoolView, Error> {
    let counts = store::coupons::counts(conn, &[pool.id])
        .await?
        .remove(&pool.id)
        .unwrap_or_default();
    Ok(PoolView { pool, counts })
}

impl CampaignService {
    pub async fn create_coupon_pool(
        &self,
        key: &IdempotencyKey,
        display_name: String,
    ) -> Result<PoolView, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let pool = CouponPool::new(display_name, domain::now());
        store::coupons::insert_pool(&txn, &pool).await?;
        let m = Mutation::new(
            pool.id.name(),
            PoolView {
                pool,
                counts: Default::default(),
            },
        );
        self.core().writes.commit(txn, key, m).await
    }

    pub async fn coupon_pool(&self, id: CouponPoolId) -> Result<PoolView, Error> {
        let pool = store::coupons::find_pool(self.db(), id)
            .await?
            .ok_or_else(|| pool_not_found(id))?;
        view(self.db(), pool).await
    }

    /// One page of pools, oldest first, with their counts.
    pub async fn list_coupon_pools(
        &self,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<PoolView>, Error> {
        let fingerprint = PageTokens::fingerprint(&["couponPools"]);
        let tokens = &self.core().tokens;
        let after: Option<Uuid> = tokens.decode(page_token, &fingerprint)?;
        let limit = self.core().paging.limit(page_size);
        let mut pools = store::coupons::list_pools(self.db(), after, limit + 1).await?;
        let next_page_token = tokens.next_page(&mut pools, limit, &fingerprint, |p| p.id.0);
        let ids: Vec<CouponPoolId> = pools.iter().map(|p| p.id).collect();
        let mut counts = store::coupons::counts(self.db(), &ids).await?;
        let items = pools
            .into_iter()
            .map(|pool| PoolView {
                counts: counts.remove(&pool.id).unwrap_or_default(),
                pool,
            })
            .collect();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Adds the codes the pool does not hold yet (valid codes: the adapter checked them).
    pub async fn add_coupon_codes(
        &self,
        key: &IdempotencyKey,
        id: CouponPoolId,
        codes: Vec<String>,
    ) -> Result<Added, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let pool = store::coupons::revise_pool(&txn, id, domain::now())
            .await?
            .ok_or_else(|| pool_not_found(id))?;
        let sent = codes.len() as u64;
        let mut seen = HashSet::with_capacity(codes.len());
        let distinct: Vec<String> = codes
            .into_iter()
            .filter(|c| seen.insert(c.clone()))
            .collect();
        let added = store::coupons::insert_codes(&txn, id, &distinct).await?;
        let after = view(&txn, pool).await?;
        let max = self.settings().coupons.max_codes_per_pool;
        if after.counts.codes > max {
            return Err(pool_full(id, max));
        }
        tracing::info!(coupon_pool = %id, added, "coupon codes added");
        let m = Mutation::new(
            id.name(),
            Added {
                added,
                duplicates: sent.saturating_sub(added),
                pool: after,
            },
        );
        self.core().writes.commit(txn, key, m).await
    }

    /// Generates `spec.count` new codes from the operating system's CSPRNG; codes that
    /// collide with the pool's are drawn again.
    pub async fn generate_coupon_codes(
        &self,
        key: &IdempotencyKey,
        id: CouponPoolId,
        spec: GenerateSpec,
    ) -> Result<Generated, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let pool = store::coupons::revise_pool(&txn, id, domain::now())
            .await?
            .ok_or_else(|| pool_not_found(id))?;
        let before = view(&txn, pool).await?;
        let max = self.settings().coupons.max_codes_per_pool;
        let wanted = u64::from(spec.count);
        if before.counts.codes.saturating_add(wanted) > max {
            return Err(pool_full(id, max));
        }
        let mut generated = 0;
        for _ in 0..GENERATE_ROUNDS {
            if generated == wanted {
                break;
            }
            let mut batch = HashSet::new();
            while (batch.len() as u64) < wanted - generated {
                let code = coupon::generate_code(&spec.prefix, spec.length, getrandom::fill)
                    .map_err(|e| Error::internal(anyhow::anyhow!("random bytes: {e}")))?;
                batch.insert(code);
            }
            let batch: Vec<String> = batch.into_iter().collect();
            generated += store::coupons::insert_codes(&txn, id, &batch).await?;
        }
        if generated < wanted {
            return Err(Error::internal(anyhow::anyhow!(
                "{generated} of {wanted} coupon codes of {id} were new after {GENERATE_ROUNDS} rounds"
            )));
        }
        let after = view(&txn, before.pool).await?;
        tracing::info!(coupon_pool = %id, generated, "coupon codes generated");
        let m = Mutation::new(
            id.name(),
            Generated {
                generated,
                pool: after,
            },
        );
        self.core().writes.commit(txn, key, m).await
    }

    /// Gives `customer` (or the customer it was merged into) a code of the pool: the same
    /// one on every call.
    pub async fn claim_coupon(
        &self,
        key: &IdempotencyKey,
        id: CouponPoolId,
        customer: CustomerId,
    ) -> Result<Claim, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        if store::coupons::find_pool(&txn, id).await?.is_none() {
            return Err(pool_not_found(id));
        }
        let owner = store::members::final_survivor(&txn, customer).await?;
        let claim_key = coupon::customer_claim_key(owner);
        let (code, claim_time) =
            store::coupons::claim_at(&txn, id, &claim_key, owner, domain::now())
                .await?
                .ok_or_else(|| pool_exhausted(id))?;
        let m = Mutation::new(
            owner.name(),
            Claim {
                pool: id,
                code,
                customer: owner,
                claim_time,
            },
        );
        self.core().writes.commit(txn, key, m).await
    }
}
