//! The catalog's image detail, as `catalog::images::ImageDetail` will have it (until it lands).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::ImageVisibility;

#[allow(dead_code)] // TEMPORARY: the catalog's type replaces it.
#[derive(Clone, Debug)]
pub struct ImageDetail {
    pub uuid: Uuid,
    pub cloud_uuid: Uuid,
    pub name: String,
    pub backend_id: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub backend_created_at: Option<DateTime<Utc>>,
    pub backend_updated_at: Option<DateTime<Utc>>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub status: String,
    pub visibility: ImageVisibility,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub tenants_count: u64,
}

/// TEMPORARY, until `Images::in_cloud` lands: the cloud's images from the Waldur listing,
/// with the Glance fields it lacks left at defaults.
pub async fn in_cloud(
    catalog: &crate::catalog::Catalog,
    scope: &crate::catalog::Scope,
    cloud: Uuid,
) -> crate::catalog::CatalogResult<Vec<ImageDetail>> {
    use crate::catalog::images::ImageFilter;
    use crate::catalog::paging::{MAX_PAGE_SIZE, PageNumber, PageRequest};
    if catalog.clouds().find(cloud).await?.is_none() {
        return Err(crate::catalog::CatalogError::NotFound);
    }
    let filter = ImageFilter {
        clouds: vec![cloud],
        show_duplicate_names: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    for number in 1.. {
        let page = PageRequest {
            number: PageNumber::Number(number),
            size: MAX_PAGE_SIZE,
        };
        let paged = match catalog.images().list(scope, &filter, page).await {
            Ok(paged) => paged,
            Err(crate::catalog::CatalogError::PageOutOfRange) => break,
            Err(e) => return Err(e),
        };
        let done = paged.page.number >= paged.page.pages;
        out.extend(paged.items.into_iter().map(|i| ImageDetail {
            uuid: i.uuid,
            cloud_uuid: i.cloud_uuid,
            name: i.name,
            backend_id: i.backend_id,
            min_disk: i.min_disk,
            min_ram: i.min_ram,
            backend_created_at: i.backend_created_at,
            backend_updated_at: i.backend_created_at,
            hw_rescue_device: i.hw_rescue_device,
            hw_rescue_bus: i.hw_rescue_bus,
            status: "active".into(),
            visibility: ImageVisibility::Public,
            size: None,
            virtual_size: None,
            disk_format: None,
            container_format: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: None,
            protected: false,
            os_hidden: false,
            tags: vec![],
            properties: BTreeMap::new(),
            tenants_count: 0,
        }));
        if done {
            break;
        }
    }
    Ok(out)
}
