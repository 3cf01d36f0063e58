//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server).
use crm_platform::auth::{Rule, read, write};

pub const POLICY: &[Rule] = &[
    write("CreateItem", "recommendations.write"),
    read("GetItem", "recommendations.read"),
    read("ListItems", "recommendations.read"),
    write("UpdateItem", "recommendations.write"),
    write("DeleteItem", "recommendations.write"),
    write("ImportItems", "recommendations.write"),
    write("RecordInteractions", "recommendations.write"),
    // Serving records what it served (for feedback) but changes nothing a caller reads.
    read("RecommendForCustomer", "recommendations.read"),
    read("SimilarItems", "recommendations.read"),
    read("BoughtTogether", "recommendations.read"),
    read("PopularItems", "recommendations.read"),
    write("RecordFeedback", "recommendations.write"),
    read("GetModel", "recommendations.read"),
    write("RebuildModel", "recommendations.write"),
];
