//! Which listed images the tenant itself sees. A token without the admin role lists exactly
//! the project's images; an admin token lists the whole cloud (Glance's default policy), so
//! its listing is narrowed to what the project would see on its own: public and community
//! images, the images it owns, and shared images it is a member of (any member status, as
//! `member_status=all` lists them).
use crate::openstack::glance::GlanceImage;
use crate::openstack::session::TokenScope;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Visible,
    NotVisible,
    /// A shared image of another project: only its member list can tell.
    AskMembership,
}

pub struct ProjectFilter {
    project_id: String,
    admin: bool,
}

impl ProjectFilter {
    /// `tenant_project` stands in when the token does not name its project.
    pub fn new(scope: &TokenScope, tenant_project: &str) -> Self {
        Self {
            project_id: scope
                .project_id
                .clone()
                .unwrap_or_else(|| tenant_project.to_string()),
            admin: scope.admin,
        }
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn judge(&self, image: &GlanceImage) -> Verdict {
        if !self.admin || image.owner.as_deref() == Some(self.project_id.as_str()) {
            return Verdict::Visible;
        }
        match image.visibility.as_str() {
            "public" | "community" => Verdict::Visible,
            "shared" => Verdict::AskMembership,
            _ => Verdict::NotVisible,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(visibility: &str, owner: &str) -> GlanceImage {
        GlanceImage::from_json(&json!({"id": "i", "visibility": visibility, "owner": owner}))
            .expect("valid image")
    }

    #[test]
    fn admin_listings_are_narrowed_to_the_project() {
        let admin = ProjectFilter::new(
            &TokenScope {
                project_id: Some("p".into()),
                admin: true,
                ..TokenScope::default()
            },
            "fallback",
        );
        assert_eq!(admin.judge(&image("private", "p")), Verdict::Visible);
        assert_eq!(admin.judge(&image("private", "q")), Verdict::NotVisible);
        assert_eq!(admin.judge(&image("public", "q")), Verdict::Visible);
        assert_eq!(admin.judge(&image("community", "q")), Verdict::Visible);
        assert_eq!(admin.judge(&image("shared", "q")), Verdict::AskMembership);
        assert_eq!(admin.judge(&image("shared", "p")), Verdict::Visible);
        let member = ProjectFilter::new(&TokenScope::default(), "fallback");
        assert_eq!(member.project_id(), "fallback");
        assert_eq!(member.judge(&image("private", "q")), Verdict::Visible);
    }
}
