//! The catalog layer: every database query of the service lives here, below the HTTP layer.
pub mod credentials;
pub mod images;
pub mod inventory;
pub mod offerings;
pub mod paging;
pub mod read_index;
pub mod settings;
pub mod staging;
pub mod sync_runs;
pub mod tenants;
pub mod tokens;
pub mod usage;

use uuid::Uuid;

/// What a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Staff: everything.
    All,
    /// A scoped token: only images linked to these tenants (by database id).
    Tenants(Vec<i32>),
}

/// Accepts a uuid as 32 hex digits or in the hyphenated form.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    let raw = raw.trim();
    match raw.len() {
        32 | 36 => Uuid::try_parse(raw).ok(),
        _ => None,
    }
}

/// The wire form of a uuid: 32 lowercase hex digits.
pub fn hex(uuid: &Uuid) -> String {
    uuid.simple().to_string()
}

/// A case-insensitive "contains" pattern for `LOWER(column) LIKE`, wildcards escaped so user
/// input matches literally.
pub fn like_contains(needle: &str) -> sea_orm::sea_query::LikeExpr {
    let mut pattern = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_in_both_forms_only() {
        let u = Uuid::new_v4();
        assert_eq!(parse_uuid(&hex(&u)), Some(u));
        assert_eq!(parse_uuid(&u.hyphenated().to_string()), Some(u));
        assert_eq!(parse_uuid(&hex(&u).to_uppercase()), Some(u));
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid(&format!("urn:uuid:{u}")), None);
        assert_eq!(hex(&u).len(), 32);
    }
}
