//! OpenStack credentials as stored (sealed) on clouds and tenants.
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, SecretBox};
use crate::error::Validator;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    Password {
        username: String,
        password: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_id: Option<String>,
    },
    /// By id, or by name together with its user's name (in the cloud's domain).
    ApplicationCredential {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        secret: String,
    },
}

/// Never prints a secret, so a stray `{:?}` in a log line cannot leak one.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password {
                username,
                project_name,
                project_id,
                ..
            } => f
                .debug_struct("Password")
                .field("username", username)
                .field("project_name", project_name)
                .field("project_id", project_id)
                .finish_non_exhaustive(),
            Self::ApplicationCredential { id, name, user, .. } => f
                .debug_struct("ApplicationCredential")
                .field("id", id)
                .field("name", name)
                .field("user", user)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    pub fn seal(&self, secret_box: &SecretBox) -> String {
        let json = serde_json::to_vec(self).expect("credentials always serialize");
        secret_box.seal(&json)
    }

    pub fn open(secret_box: &SecretBox, sealed: &str) -> Result<Self, CryptoError> {
        let json = secret_box.open(sealed)?;
        serde_json::from_slice(&json).map_err(|_| CryptoError::Undecryptable)
    }
}

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
                    v.add(self.username.0, "This field is required.");
                }
                if password.is_none() {
                    v.add(self.password.0, "This field is required.");
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
                    v.add(self.app_secret.0, "This field is required.");
                }
                let by_name = app_id.is_none() && (app_name.is_some() || app_user.is_some());
                if by_name && app_name.is_none() {
                    v.add(self.app_name.0, "This field is required.");
                } else if by_name && app_user.is_none() {
                    v.add(
                        self.app_user.0,
                        "This field is required with an application credential name.",
                    );
                } else if app_id.is_none() && !by_name {
                    v.add(self.app_id.0, "This field is required.");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let c = Credentials::Password {
            username: "admin".into(),
            password: "s3cr3t-pw".into(),
            project_name: None,
            project_id: Some("p1".into()),
        };
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        let a = Credentials::ApplicationCredential {
            id: Some("app".into()),
            name: None,
            user: None,
            secret: "app-s3cr3t".into(),
        };
        assert!(!format!("{a:?}").contains("app-s3cr3t"));
        let sb = SecretBox::from_passphrase("0123456789abcdef0123").unwrap();
        assert_eq!(Credentials::open(&sb, &c.seal(&sb)).unwrap(), c);
    }
}
