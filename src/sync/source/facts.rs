//! Glance's `/v2/info/*` facts for every project of a whole-cloud listing, as Glance would
//! answer each project's own token.
//!
//! - `/v2/info/stores` and `/v2/info/import` are the Glance service's configuration, the same
//!   for every project: the admin token's answers are every project's.
//! - `/v2/info/usage` answers for the token's own project only. Glance 33 computes it
//!   (`glance/quota/keystone.py` `get_usage`) only with `use_keystone_limits`, and answers
//!   `{}` without it; the admin's own answer tells which. With it, each project's limits are
//!   read as oslo.limit's flat enforcer reads them (the project's own limit, else the
//!   registered default, else 0) from one listing of the service's limits, and its usage is
//!   counted from the listing's images it owns with the definitions of Glance's database API
//!   ([`Census`]).
//!
//! Reading the facts never fails the listing. When Glance's `/v2/info` cannot be read the
//! tenants keep the facts they have; when Keystone's limits cannot be (403 without the admin
//! role, 404 from a Keystone without unified limits) they get no usage. Either way the reason
//! is logged.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use crate::openstack::glance::{self, GlanceImage, GlanceInfo};
use crate::openstack::keystone::{self, UnifiedLimits};
use crate::openstack::{OpenStackError, Session};

/// Glance's quota resources, in its `get_usage`'s order.
const SIZE_TOTAL: &str = "image_size_total";
const STAGE_TOTAL: &str = "image_stage_total";
const COUNT_TOTAL: &str = "image_count_total";
const COUNT_UPLOADING: &str = "image_count_uploading";

/// Glance's `units.Mi`: sizes are reported in whole MiB, rounded down.
const MIB: i128 = 1 << 20;

/// The property Glance sets while it copies an image's data to more stores.
const IMPORTING_TO_STORES: &str = "os_glance_importing_to_stores";

/// What a whole-cloud listing knows of Glance's facts.
#[derive(Debug, Default)]
pub struct CloudFacts {
    /// `/v2/info/stores`' `stores`; `None` where Glance has none (not multi-store: 404).
    stores: Option<Value>,
    /// `/v2/info/import`'s `import-methods`; `None` where Glance has none.
    import_methods: Option<Value>,
    usage: Usage,
    /// Why the projects' usage could not be told, for the sweep to log.
    pub problem: Option<LimitsError>,
}

/// How each project's `/v2/info/usage` is told.
#[derive(Clone, Debug, Default)]
enum Usage {
    /// Glance has no `/v2/info/usage` (or it failed): no project's usage is known.
    #[default]
    Unknown,
    /// Glance's answer without `use_keystone_limits`, the same for every project: `{}`.
    Disabled(Value),
    /// Limits from Keystone, usage counted per project.
    Derived(UnifiedLimits),
}

impl CloudFacts {
    /// Reads Glance's facts through the admin `session`, and Keystone's unified limits for
    /// Glance when Glance enforces them. Never an error: when Glance's `/v2/info` fails the
    /// tenants keep their facts (`Err`: why), and when the limits cannot be read they get no
    /// usage (`problem` says why).
    pub async fn read(session: &Session) -> Result<Self, FactsUnread> {
        let info = glance::info(session).await.map_err(FactsUnread::Glance)?;
        let (usage, problem) = match info.usage {
            None => (Usage::Unknown, None),
            Some(usage) if usage.as_object().is_some_and(|o| o.is_empty()) => {
                (Usage::Disabled(usage), None)
            }
            Some(_) => match limits(session).await {
                Ok(limits) => (Usage::Derived(limits), None),
                Err(why) => (Usage::Unknown, Some(why)),
            },
        };
        Ok(Self {
            stores: info.stores,
            import_methods: info.import_methods,
            usage,
            problem,
        })
    }

    /// What Glance's `/v2/info/*` would answer `project`'s token; `census` is what the project
    /// owns (`None`: nothing).
    pub fn for_project(&self, project: &str, census: Option<&Census>) -> GlanceInfo {
        let usage = match &self.usage {
            Usage::Unknown => None,
            Usage::Disabled(answer) => Some(answer.clone()),
            Usage::Derived(limits) => {
                Some(census.copied().unwrap_or_default().usage(limits, project))
            }
        };
        GlanceInfo {
            usage,
            stores: self.stores.clone(),
            import_methods: self.import_methods.clone(),
        }
    }
}

/// Why a listing has no facts to tell: the tenants keep theirs.
#[derive(Debug, thiserror::Error)]
pub enum FactsUnread {
    #[error("a delta listing does not read them")]
    Delta,
    #[error("reading Glance's /v2/info failed: {0}")]
    Glance(OpenStackError),
}

/// Why the projects' usage cannot be derived: they get none.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("Glance's unified limits: the catalog names no service id for Glance's endpoint")]
    NoServiceId,
    #[error("Glance's unified limits: Keystone refused them (the admin role is needed): {0}")]
    Forbidden(OpenStackError),
    #[error("Glance's unified limits: this Keystone has none (older than Queens): {0}")]
    NotSupported(OpenStackError),
    #[error("Glance's unified limits cannot be read: {0}")]
    Other(OpenStackError),
}

/// Glance's unified limits (registered and per project) in its endpoint's region.
async fn limits(session: &Session) -> Result<UnifiedLimits, LimitsError> {
    let service = session
        .service("image")
        .await
        .map_err(LimitsError::Other)?
        .ok_or(LimitsError::NoServiceId)?;
    keystone::unified_limits(session, &service)
        .await
        .map_err(|e| match e {
            OpenStackError::UpstreamStatus { status: 403, .. } => LimitsError::Forbidden(e),
            OpenStackError::UpstreamStatus { status: 404, .. } => LimitsError::NotSupported(e),
            e => LimitsError::Other(e),
        })
}

/// The figures Glance's quota counts for one owner, in bytes and images
/// (`glance/db/sqlalchemy/api.py`: `_image_get_disk_usage_by_owner`,
/// `_image_get_staging_usage_by_owner`, `_image_get_count_by_owner`,
/// `_image_get_uploading_count_by_owner`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Census {
    /// Each image's size once per location that holds it.
    stored_bytes: i128,
    /// Sizes of images in a staging area.
    staged_bytes: i128,
    images: i64,
    uploading: i64,
}

impl Census {
    /// Each owner's census of a listing's images (gone ones are not listed).
    pub fn by_owner(images: &[GlanceImage]) -> HashMap<String, Census> {
        let mut by_owner: HashMap<String, Census> = HashMap::new();
        for img in images {
            if let Some(owner) = &img.owner {
                by_owner.entry(owner.clone()).or_default().count(img);
            }
        }
        by_owner
    }

    fn count(&mut self, img: &GlanceImage) {
        let status = img.status.as_str();
        // Deleted and pending_delete images are never listed; killed ones are, and count
        // for nothing but uploads in progress.
        let dead = matches!(status, "killed" | "deleted" | "pending_delete");
        let in_staging = matches!(status, "uploading" | "importing");
        let uploading = in_staging || status == "saving";
        let copying = img
            .properties
            .get(IMPORTING_TO_STORES)
            .is_some_and(|stores| !stores.is_empty());
        let size = img.size.filter(|&s| s > 0).map_or(0, i128::from);
        if !dead {
            self.images += 1;
            self.stored_bytes += size * i128::from(locations(img));
        }
        if in_staging || (copying && !dead) {
            self.staged_bytes += size;
        }
        if uploading || (copying && !dead) {
            self.uploading += 1;
        }
    }

    /// Glance's `/v2/info/usage` body (the object under `usage`) for `project`.
    fn usage(self, limits: &UnifiedLimits, project: &str) -> Value {
        let mib = |bytes: i128| i64::try_from(bytes / MIB).unwrap_or(i64::MAX);
        let figure = |resource: &str, usage: i64| json!({"limit": limits.limit_of(project, resource), "usage": usage});
        json!({
            SIZE_TOTAL: figure(SIZE_TOTAL, mib(self.stored_bytes)),
            STAGE_TOTAL: figure(STAGE_TOTAL, mib(self.staged_bytes)),
            COUNT_TOTAL: figure(COUNT_TOTAL, self.images),
            COUNT_UPLOADING: figure(COUNT_UPLOADING, self.uploading),
        })
    }
}

/// How many locations hold an image's data. Glance counts those not deleted; its API shows
/// them only as `locations` (with `show_multiple_locations`) or as `stores` (multi-store). A
/// Glance showing neither has one location for an image whose upload finished (`active`,
/// `deactivated`) and none before (its data is only staged, or still being written).
fn locations(img: &GlanceImage) -> u32 {
    img.locations.unwrap_or(u32::from(matches!(
        img.status.as_str(),
        "active" | "deactivated"
    )))
}

/// A view's facts in its digest: a change of limits or stores makes the view a changed one.
pub fn hash_facts(info: Option<&GlanceInfo>, h: &mut impl Hasher) {
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    info.map(|i| (text(&i.usage), text(&i.stores), text(&i.import_methods)))
        .hash(h);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::keystone::{ProjectLimit, RegisteredLimit};

    fn image(owner: &str, status: &str, size: Option<i64>, extra: Value) -> GlanceImage {
        let mut body = json!({"id": format!("{owner}-{status}-{size:?}"), "owner": owner,
                              "status": status, "size": size});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        GlanceImage::from_json(&body).expect("an image")
    }

    #[test]
    fn usage_follows_glances_definitions() {
        let mib = 1 << 20;
        let images = [
            image("p", "active", Some(3 * mib), json!({})),
            // Two stores hold it: counted twice.
            image("p", "active", Some(mib), json!({"stores": "a,b"})),
            image("p", "deactivated", Some(mib / 2), json!({})),
            image("p", "queued", None, json!({})),
            image("p", "saving", Some(mib), json!({})),
            image("p", "uploading", Some(2 * mib), json!({})),
            image("p", "importing", Some(mib), json!({})),
            // Being copied to another store: staged and uploading too.
            image(
                "p",
                "active",
                Some(mib),
                json!({"os_glance_importing_to_stores": "c"}),
            ),
            image(
                "p",
                "killed",
                Some(mib),
                json!({"os_glance_importing_to_stores": "c"}),
            ),
            image("q", "active", Some(mib), json!({})),
        ];
        let census = Census::by_owner(&images);
        let limits = UnifiedLimits {
            registered: vec![
                RegisteredLimit {
                    resource_name: COUNT_TOTAL.into(),
                    default_limit: 100,
                },
                RegisteredLimit {
                    resource_name: SIZE_TOTAL.into(),
                    default_limit: 1000,
                },
            ],
            projects: vec![ProjectLimit {
                project_id: "p".into(),
                resource_name: COUNT_TOTAL.into(),
                resource_limit: 8,
            }],
        };
        assert_eq!(
            census["p"].usage(&limits, "p"),
            json!({
                // 3 + 2×1 + 0.5 + 1 (the copied image's one location), rounded down.
                "image_size_total": {"limit": 1000, "usage": 6},
                // 2 + 1 + 1
                "image_stage_total": {"limit": 0, "usage": 4},
                "image_count_total": {"limit": 8, "usage": 8},
                "image_count_uploading": {"limit": 0, "usage": 4},
            })
        );
        assert_eq!(
            Census::default().usage(&limits, "r"),
            json!({
                "image_size_total": {"limit": 1000, "usage": 0},
                "image_stage_total": {"limit": 0, "usage": 0},
                "image_count_total": {"limit": 100, "usage": 0},
                "image_count_uploading": {"limit": 0, "usage": 0},
            })
        );
    }

    #[test]
    fn without_keystone_limits_every_project_gets_glances_empty_usage() {
        let facts = CloudFacts {
            stores: None,
            import_methods: Some(json!({"value": ["glance-direct"]})),
            usage: Usage::Disabled(json!({})),
            problem: None,
        };
        let info = facts.for_project("p", None);
        assert_eq!(info.usage, Some(json!({})));
        assert_eq!(info.import_methods, facts.import_methods);
        assert_eq!(
            CloudFacts::default().for_project("p", None),
            GlanceInfo::default()
        );
    }
}
