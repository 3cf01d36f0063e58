//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server). Self-service methods may be called with a customer's own token
//! (subject `customers/{id}`); their handlers keep it to that customer.
use crm_platform::auth::{Rule, admin, read, write};

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
    admin("ExportCustomer", "customers.pii.read"),
    admin("EraseCustomer", "customers.erase"),
    read("GetErasureStatus", "customers.erase"),
    admin("ImportCustomers", "customers.admin"),
];
