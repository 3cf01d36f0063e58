//! Generated Rust for the CRM suite's protobuf contracts (one crate for the whole workspace).
#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Every file descriptor of the suite, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));

pub mod codec;
mod event_types;

pub mod crm {
    pub mod audit {
        pub mod v1 {
            tonic::include_proto!("crm.audit.v1");
        }
    }
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("crm.common.v1");
        }
    }
    pub mod customers {
        pub mod v1 {
            tonic::include_proto!("crm.customers.v1");
        }
    }
    /// The event backbone's envelope and payloads (README "Events").
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("crm.events.v1");
            pub use crate::event_types::{DATA_CONTENT_TYPE, SCHEMA_VERSION, SPEC_VERSION, types};
        }
    }
    pub mod loyalty {
        pub mod v1 {
            tonic::include_proto!("crm.loyalty.v1");
        }
    }
    pub mod tickets {
        pub mod v1 {
            tonic::include_proto!("crm.tickets.v1");
        }
    }
    /// The skeleton new services are copied from; not deployed.
    pub mod template {
        pub mod v1 {
            tonic::include_proto!("crm.template.v1");
        }
    }
    pub mod recommendations {
        pub mod v1 {
            tonic::include_proto!("crm.recommendations.v1");
        }
    }
    pub mod campaigns {
        pub mod v1 {
            tonic::include_proto!("crm.campaigns.v1");
        }
    }
}

pub use crm::audit::v1 as audit;
pub use crm::campaigns::v1 as campaigns;
pub use crm::common::v1 as common;
pub use crm::customers::v1 as customers;
pub use crm::events::v1 as events;
pub use crm::loyalty::v1 as loyalty;
pub use crm::recommendations::v1 as recommendations;
pub use crm::template::v1 as template;
pub use crm::tickets::v1 as tickets;
