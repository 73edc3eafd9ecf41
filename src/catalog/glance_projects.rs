//! A cloud's registered tenants as the Glance-compatible API sees them: each one's project
//! id (a token acts for its tenants' projects, `X-Project-Id` picks one) and what its Glance
//! said at the last sync in `/v2/info/usage`, `/stores` and `/import` (kept raw on the
//! tenant). Upstream JSON is untrusted: entries that are not what Glance sends are left out.
use entity::tenants;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::image_quotas::{ImageResource, QuotaFigure, figures};
use super::tenants::Tenants;
use super::{CatalogError, CatalogResult, Scope, TenantId};

/// A store as `/v2/info/stores` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFact {
    pub id: String,
    pub description: Option<String>,
    /// Glance's default store for uploads.
    pub default: bool,
    /// An `http` store: images can be read from it, not written.
    pub read_only: bool,
}

/// One live tenant of the cloud and its Glance's facts; `None`: not reported (the cloud's
/// Glance lacks the call, or the tenant never synced).
#[derive(Clone, Debug, PartialEq)]
pub struct GlanceProject {
    pub tenant_id: TenantId,
    pub project_id: String,
    pub usage: Option<Vec<(ImageResource, QuotaFigure)>>,
    pub stores: Option<Vec<StoreFact>>,
    pub import_methods: Option<Vec<String>>,
}

/// Glance writes its flags as the string `"true"`; a boolean is read too.
fn flag(store: &Value, key: &str) -> bool {
    matches!(store.get(key), Some(Value::Bool(true))) || store.get(key) == Some(&"true".into())
}

/// The stores of a stored `/v2/info/stores` (its `stores` array).
pub(super) fn stores(stored: &Value) -> Vec<StoreFact> {
    stored
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(StoreFact {
                id: s.get("id")?.as_str()?.to_string(),
                description: s
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                default: flag(s, "default"),
                read_only: flag(s, "read-only"),
            })
        })
        .collect()
}

/// The methods of a stored `/v2/info/import` (the object under `import-methods`), in
/// Glance's order.
pub(super) fn import_methods(stored: &Value) -> Vec<String> {
    stored
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl Tenants<'_> {
    /// The live tenants in `scope` of the cloud `cloud`, by project id. `NotFound` for an
    /// unknown cloud; an empty list when `scope` has no tenant in it.
    pub async fn glance_projects(
        &self,
        scope: &Scope,
        cloud: Uuid,
    ) -> CatalogResult<Vec<GlanceProject>> {
        let cloud = self
            .0
            .clouds()
            .find(cloud)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let mut query = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::BackendId)
            .column(tenants::Column::ImageQuotaUsage)
            .column(tenants::Column::Stores)
            .column(tenants::Column::ImportMethods)
            .filter(tenants::Column::CloudId.eq(cloud.id))
            .filter(tenants::Column::Retired.is_null())
            .order_by_asc(tenants::Column::BackendId);
        if let Scope::Tenants(ids) = scope {
            query = query.filter(tenants::Column::Id.is_in(ids.iter().copied()));
        }
        type Stored = (
            TenantId,
            String,
            Option<Value>,
            Option<Value>,
            Option<Value>,
        );
        let stored: Vec<Stored> = query.into_tuple().all(self.0.db()).await?;
        Ok(stored
            .into_iter()
            .map(
                |(tenant_id, project_id, usage, seen, methods)| GlanceProject {
                    tenant_id,
                    project_id,
                    usage: usage.as_ref().map(figures),
                    stores: seen.as_ref().map(stores),
                    import_methods: methods.as_ref().map(import_methods),
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_read_glances_string_flags() {
        let seen = serde_json::json!([
            {"id": "fast", "description": "Fast", "default": "true"},
            {"id": "web", "read-only": "true"},
            {"id": "old", "default": true},
            {"id": 3},
        ]);
        assert_eq!(
            stores(&seen),
            [
                StoreFact {
                    id: "fast".into(),
                    description: Some("Fast".into()),
                    default: true,
                    read_only: false
                },
                StoreFact {
                    id: "web".into(),
                    description: None,
                    default: false,
                    read_only: true
                },
                StoreFact {
                    id: "old".into(),
                    description: None,
                    default: true,
                    read_only: false
                },
            ]
        );
        let methods = serde_json::json!({"value": ["web-download", 1, "glance-direct"]});
        assert_eq!(import_methods(&methods), ["web-download", "glance-direct"]);
    }
}
