//! What a cloud's Glance offers for getting images in — its import methods and stores — as
//! its tenants last saw them (`/v2/info/import`, `/v2/info/stores`, kept raw on each tenant).
//! Tenants of one cloud normally agree; one that does not (a store another project cannot
//! see, a policy that hides a method) is named. Upstream JSON is untrusted: entries that are
//! not what Glance sends are left out.
use std::collections::{BTreeMap, BTreeSet};

use entity::{service_settings, tenants};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::clouds::Clouds;
use super::{CatalogResult, Scope};

/// A store as Glance describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub id: String,
    pub description: String,
    pub default: bool,
}

/// One tenant's view, where its cloud answered both documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantInfo {
    pub tenant_uuid: Uuid,
    pub tenant_name: String,
    pub import_methods: BTreeSet<String>,
    pub store_ids: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub cloud_uuid: Uuid,
    /// Tenants that reported import methods or stores.
    pub tenants_reporting: usize,
    /// Every method some tenant was offered, by name.
    pub import_methods: BTreeSet<String>,
    /// Every store some tenant saw, by id (the first description seen).
    pub stores: Vec<Store>,
    /// The tenants that were not offered all of the above, by name.
    pub disagreeing: Vec<TenantInfo>,
}

/// The methods of a stored `/v2/info/import`, as a set (tenants are compared by it).
fn import_methods(stored: &Value) -> BTreeSet<String> {
    super::glance_projects::import_methods(stored)
        .into_iter()
        .collect()
}

/// The stores of a stored `/v2/info/stores`, read as the Glance face reads them.
fn stores(stored: &Value) -> Vec<Store> {
    super::glance_projects::stores(stored)
        .into_iter()
        .map(|s| Store {
            id: s.id,
            description: s.description.unwrap_or_default(),
            default: s.default,
        })
        .collect()
}

impl Clouds<'_> {
    /// The cloud's import methods and stores as the live tenants in `scope` last saw them.
    /// `NotFound` unless the cloud is visible in `scope`.
    pub async fn image_info(&self, scope: &Scope, uuid: Uuid) -> CatalogResult<ImageInfo> {
        let cloud = self.get(scope, uuid).await?;
        let mut query = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Uuid)
            .column(tenants::Column::Name)
            .column(tenants::Column::ImportMethods)
            .column(tenants::Column::Stores)
            .inner_join(service_settings::Entity)
            .filter(service_settings::Column::Uuid.eq(uuid))
            .filter(tenants::Column::Retired.is_null())
            .order_by_asc(tenants::Column::Name)
            .order_by_asc(tenants::Column::Uuid);
        if let Scope::Tenants(ids) = scope {
            query = query.filter(tenants::Column::Id.is_in(ids.iter().copied()));
        }
        type Stored = (Uuid, String, Option<Value>, Option<Value>);
        let stored: Vec<Stored> = query.into_tuple().all(self.0.db()).await?;
        let mut all_methods = BTreeSet::new();
        let mut all_stores: BTreeMap<String, Store> = BTreeMap::new();
        let mut views = Vec::new();
        for (tenant_uuid, tenant_name, methods, seen) in stored {
            if methods.is_none() && seen.is_none() {
                continue;
            }
            let methods = methods.as_ref().map(import_methods).unwrap_or_default();
            let seen = seen.as_ref().map(stores).unwrap_or_default();
            all_methods.extend(methods.iter().cloned());
            let store_ids = seen.iter().map(|s| s.id.clone()).collect();
            for store in seen {
                all_stores.entry(store.id.clone()).or_insert(store);
            }
            views.push(TenantInfo {
                tenant_uuid,
                tenant_name,
                import_methods: methods,
                store_ids,
            });
        }
        let all_ids: BTreeSet<String> = all_stores.keys().cloned().collect();
        let tenants_reporting = views.len();
        let disagreeing = views
            .into_iter()
            .filter(|v| v.import_methods != all_methods || v.store_ids != all_ids)
            .collect();
        Ok(ImageInfo {
            cloud_uuid: cloud.uuid,
            tenants_reporting,
            import_methods: all_methods,
            stores: all_stores.into_values().collect(),
            disagreeing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_entries_are_left_out() {
        let methods = serde_json::json!({"value": ["web-download", 7, null, "glance-direct"]});
        assert_eq!(
            import_methods(&methods).into_iter().collect::<Vec<_>>(),
            ["glance-direct", "web-download"]
        );
        assert!(import_methods(&serde_json::json!("text")).is_empty());
        let seen = serde_json::json!([
            {"id": "ceph", "description": "Ceph", "default": true},
            {"id": "rbd2", "description": "as Glance 33 says it", "default": "true"},
            {"id": 5},
            {"description": "no id"},
            {"id": "file"},
        ]);
        assert_eq!(
            stores(&seen),
            [
                Store {
                    id: "ceph".into(),
                    description: "Ceph".into(),
                    default: true
                },
                Store {
                    id: "rbd2".into(),
                    description: "as Glance 33 says it".into(),
                    default: true
                },
                Store {
                    id: "file".into(),
                    description: String::new(),
                    default: false
                },
            ]
        );
    }
}
