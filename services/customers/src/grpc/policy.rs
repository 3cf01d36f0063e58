//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server). Self-service methods may be called with a customer's own token
//! (subject `customers/{id}`); their handlers keep it to that customer. Personal values are
//! answered in clear only with [`PII_READ`] (or to the customer's own token), masked
//! otherwise (see `grpc/pii.rs`).
use crm_platform::auth::{Rule, admin, data, read, write};

/// Personal values (names, e-mails, phones, addresses, dates, attributes) in clear.
pub const PII_READ: &str = "customers.pii.read";

pub const POLICY: &[Rule] = &[
    write("CreateCustomer", "customers.write"),
    read("GetCustomer", "customers.read").self_service(),
    read("BatchGetCustomers", "customers.read"),
    read("ListCustomers", "customers.read"),
    write("UpdateCustomer", "customers.write"),
    admin("DeleteCustomer", "customers.admin"),
    admin("UndeleteCustomer", "customers.admin"),
    read("SearchCustomers", "customers.read"),
    read("FindDuplicates", "customers.read"),
    admin("MergeCustomers", "customers.admin"),
    write("RecordActivity", "customers.write"),
    read("ListActivities", "customers.read"),
    read("GetCustomerInsights", "customers.read"),
    admin("ExportCustomer", "customers.export"),
    admin("EraseCustomer", "customers.erase"),
    read("GetErasureStatus", "customers.erase"),
    admin("ImportCustomers", "customers.admin"),
    admin("ListAccessRecords", "customers.audit"),
    data(PII_READ),
];
