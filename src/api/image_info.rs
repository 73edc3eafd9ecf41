//! The shape of `GET /api/service-settings/{uuid}/image_info/`: a cloud's Glance import
//! methods and stores as its tenants last saw them.
use poem_openapi::Object;

use super::AppState;
use crate::catalog::hex;
use crate::catalog::image_info::{ImageInfo, Store, TenantInfo};

#[derive(Object)]
#[oai(rename = "CloudImageInfo")]
pub struct CloudImageInfo {
    pub service_settings_uuid: String,
    /// Tenants whose last sync read Glance's `/v2/info/import` or `/v2/info/stores`.
    pub tenants_reporting: u64,
    /// Every import method some tenant was offered (`glance-direct`, `web-download`, …).
    pub import_methods: Vec<String>,
    /// Every store some tenant saw.
    pub stores: Vec<GlanceStore>,
    /// The tenants not offered all of the above, with what they were offered.
    pub disagreeing_tenants: Vec<TenantImageInfo>,
}

#[derive(Object)]
#[oai(rename = "GlanceStore")]
pub struct GlanceStore {
    pub id: String,
    pub description: String,
    /// Glance's default store for uploads.
    pub default: bool,
}

#[derive(Object)]
#[oai(rename = "TenantImageInfo")]
pub struct TenantImageInfo {
    pub tenant: String,
    pub tenant_uuid: String,
    pub tenant_name: String,
    pub import_methods: Vec<String>,
    /// Ids of the stores it saw.
    pub stores: Vec<String>,
}

pub fn shape(state: &AppState, info: ImageInfo) -> CloudImageInfo {
    CloudImageInfo {
        service_settings_uuid: hex(&info.cloud_uuid),
        tenants_reporting: info.tenants_reporting as u64,
        import_methods: info.import_methods.into_iter().collect(),
        stores: info.stores.into_iter().map(store).collect(),
        disagreeing_tenants: info
            .disagreeing
            .into_iter()
            .map(|t| tenant(state, t))
            .collect(),
    }
}

fn store(s: Store) -> GlanceStore {
    GlanceStore {
        id: s.id,
        description: s.description,
        default: s.default,
    }
}

fn tenant(state: &AppState, t: TenantInfo) -> TenantImageInfo {
    TenantImageInfo {
        tenant: state.object_url("openstack-tenants", &t.tenant_uuid),
        tenant_uuid: hex(&t.tenant_uuid),
        tenant_name: t.tenant_name,
        import_methods: t.import_methods.into_iter().collect(),
        stores: t.store_ids.into_iter().collect(),
    }
}
