//! OpenStack credentials as stored (sealed) on clouds and tenants.
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, SecretBox};

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
