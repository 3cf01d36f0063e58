//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server). A new service copies this file with its own methods.
use crm_platform::auth::{Rule, read, write};

pub const POLICY: &[Rule] = &[
    write("CreateNote", "template.write"),
    read("GetNote", "template.read"),
    read("ListNotes", "template.read"),
    write("UpdateNote", "template.write"),
    write("DeleteNote", "template.write"),
];
