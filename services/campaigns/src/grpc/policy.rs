//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server).
use crm_platform::auth::{Rule, read, write};

pub const POLICY: &[Rule] = &[
    write("CreateSegment", "campaigns.write"),
    read("GetSegment", "campaigns.read"),
    read("ListSegments", "campaigns.read"),
    write("UpdateSegment", "campaigns.write"),
    write("DeleteSegment", "campaigns.write"),
    read("PreviewSegment", "campaigns.read"),
    read("ListSegmentMembers", "campaigns.read"),
    write("CreateCampaign", "campaigns.write"),
    read("GetCampaign", "campaigns.read"),
    read("ListCampaigns", "campaigns.read"),
    write("UpdateCampaign", "campaigns.write"),
    write("ScheduleCampaign", "campaigns.write"),
    write("PauseCampaign", "campaigns.write"),
    write("ResumeCampaign", "campaigns.write"),
    write("CancelCampaign", "campaigns.write"),
    read("ListDeliveries", "campaigns.read"),
    read("ExplainDelivery", "campaigns.read"),
    // Called by the sender's system (its receipts and unsubscribe links).
    write("RecordDeliveryReceipt", "campaigns.receipts"),
    read("GetCampaignReport", "campaigns.read"),
    write("CreateCouponPool", "campaigns.write"),
    read("GetCouponPool", "campaigns.read"),
    read("ListCouponPools", "campaigns.read"),
    write("AddCouponCodes", "campaigns.write"),
    write("GenerateCouponCodes", "campaigns.write"),
    // Called by the shop (a code for a customer at checkout, a sign-up gift).
    write("ClaimCoupon", "campaigns.coupons"),
    read("GetMember", "campaigns.read"),
    write("RebuildReadModel", "campaigns.admin"),
];
