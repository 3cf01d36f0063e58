//! The offline evaluation (`crm-recommendations eval`, `make eval`): filled in by the eval
//! work.
