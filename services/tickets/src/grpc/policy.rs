//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server). `tickets.write` opens tickets, adds messages and rates them (what a
//! channel integration or the customer does), `tickets.agent` works them, `tickets.admin`
//! manages teams, agents and macros, and merges tickets. A customer's own token (subject
//! `customers/{id}`) may open, read, write to and rate that customer's tickets only.
use crm_platform::auth::{Rule, admin, read, write};

pub const POLICY: &[Rule] = &[
    write("CreateTicket", "tickets.write").self_service(),
    read("GetTicket", "tickets.read").self_service(),
    read("ListTickets", "tickets.read").self_service(),
    write("UpdateTicket", "tickets.agent"),
    write("AddMessage", "tickets.write").self_service(),
    read("ListMessages", "tickets.read").self_service(),
    write("ChangeStatus", "tickets.agent"),
    write("AssignTicket", "tickets.agent"),
    admin("MergeTickets", "tickets.admin"),
    write("ApplyMacro", "tickets.agent"),
    write("SubmitSatisfaction", "tickets.write").self_service(),
    read("GetTicketStats", "tickets.read"),
    admin("CreateTeam", "tickets.admin"),
    read("GetTeam", "tickets.read"),
    read("ListTeams", "tickets.read"),
    admin("UpdateTeam", "tickets.admin"),
    admin("DeleteTeam", "tickets.admin"),
    admin("CreateAgent", "tickets.admin"),
    read("GetAgent", "tickets.read"),
    read("ListAgents", "tickets.read"),
    admin("UpdateAgent", "tickets.admin"),
    admin("DeleteAgent", "tickets.admin"),
    admin("CreateMacro", "tickets.admin"),
    read("GetMacro", "tickets.read"),
    read("ListMacros", "tickets.read"),
    admin("DeleteMacro", "tickets.admin"),
];
