//! Message templates (helper H2 fills this module). STUB on main until merged.
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct CustomerVars {
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub language_code: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoyaltyVars {
    pub tier: String,
    pub points: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CampaignVars {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Context {
    pub customer: CustomerVars,
    pub loyalty: LoyaltyVars,
    pub coupon_code: String,
    pub campaign: CampaignVars,
}

pub fn check(_text: &str) -> Result<(), String> {
    Ok(())
}

pub fn render(text: &str, ctx: &Context) -> Result<String, String> {
    Ok(text.replace("{{ customer.given_name }}", &ctx.customer.given_name))
}
