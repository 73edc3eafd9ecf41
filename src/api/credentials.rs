//! The write-only credential fields of create requests, checked and turned into stored
//! credentials. Clouds and tenants name the same fields differently, so each passes its names.
use super::validate::{REQUIRED, Validator};
use crate::catalog::credentials::Credentials;

/// The write-only credential fields of a request, under the names the API uses for them.
#[derive(Clone, Default)]
pub struct CredentialFields<'a> {
    pub username: (&'a str, Option<String>),
    pub password: (&'a str, Option<String>),
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub app_id: (&'a str, Option<String>),
    pub app_name: (&'a str, Option<String>),
    pub app_user: (&'a str, Option<String>),
    pub app_secret: (&'a str, Option<String>),
}

impl CredentialFields<'_> {
    pub fn is_empty(&self) -> bool {
        self.username.1.is_none()
            && self.password.1.is_none()
            && self.app_id.1.is_none()
            && self.app_name.1.is_none()
            && self.app_user.1.is_none()
            && self.app_secret.1.is_none()
            && self.project_name.is_none()
            && self.project_id.is_none()
    }

    /// One complete kind of credentials, or field errors naming what is missing or mixed.
    pub fn into_credentials(self, v: &mut Validator) -> Option<Credentials> {
        let non_empty = |x: Option<String>| x.filter(|s| !s.trim().is_empty());
        let (username, password) = (non_empty(self.username.1), non_empty(self.password.1));
        let (app_id, app_secret) = (non_empty(self.app_id.1), non_empty(self.app_secret.1));
        let (app_name, app_user) = (non_empty(self.app_name.1), non_empty(self.app_user.1));
        let uses_password = username.is_some() || password.is_some();
        let uses_app =
            app_id.is_some() || app_secret.is_some() || app_name.is_some() || app_user.is_some();
        match (uses_password, uses_app) {
            (true, true) => {
                v.add(
                    "non_field_errors",
                    format!(
                        "Give either {} and {}, or {} and {}, not both.",
                        self.username.0, self.password.0, self.app_id.0, self.app_secret.0
                    ),
                );
                None
            }
            (false, false) => {
                v.add(
                    "non_field_errors",
                    format!(
                        "Credentials are required: {} and {}, or {} and {}.",
                        self.username.0, self.password.0, self.app_id.0, self.app_secret.0
                    ),
                );
                None
            }
            (true, false) => {
                if username.is_none() {
                    v.add(self.username.0, REQUIRED);
                }
                if password.is_none() {
                    v.add(self.password.0, REQUIRED);
                }
                Some(Credentials::Password {
                    username: username?,
                    password: password?,
                    project_name: non_empty(self.project_name),
                    project_id: non_empty(self.project_id),
                })
            }
            (false, true) => {
                if app_secret.is_none() {
                    v.add(self.app_secret.0, REQUIRED);
                }
                let by_name = app_id.is_none() && (app_name.is_some() || app_user.is_some());
                if by_name && app_name.is_none() {
                    v.add(self.app_name.0, REQUIRED);
                } else if by_name && app_user.is_none() {
                    v.add(
                        self.app_user.0,
                        "This field is required with an application credential name.",
                    );
                } else if app_id.is_none() && !by_name {
                    v.add(self.app_id.0, REQUIRED);
                }
                if app_secret.is_none()
                    || (app_id.is_none() && (app_name.is_none() || app_user.is_none()))
                {
                    return None;
                }
                Some(Credentials::ApplicationCredential {
                    id: app_id,
                    name: app_name,
                    user: app_user,
                    secret: app_secret?,
                })
            }
        }
    }
}
