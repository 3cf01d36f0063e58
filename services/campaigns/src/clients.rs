//! Calls to customers, loyalty and tickets for the read model's refresh and rebuild (helper
//! H3 fills this module).
use crate::settings::ClientsSettings;
use crm_platform::config::PlatformSettings;

#[derive(Clone, Default)]
pub struct Clients {}

impl Clients {
    pub fn new(_s: &ClientsSettings, _platform: &PlatformSettings) -> anyhow::Result<Self> {
        Ok(Self {})
    }
}
