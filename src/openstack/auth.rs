//! How a session logs in to Keystone (a password with a project scope, or an application
//! credential), and whose login that is, told without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectScope {
    Id(String),
    Name { name: String, domain: String },
}

#[derive(Clone, PartialEq, Eq)]
pub enum AuthMethod {
    Password {
        username: String,
        password: String,
        user_domain: String,
        project: ProjectScope,
    },
    /// Application credentials carry their own project: Keystone rejects a scope with them.
    ApplicationCredential {
        credential: AppCredentialRef,
        secret: String,
    },
}

/// How Keystone finds an application credential: by id, or by name within its user's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCredentialRef {
    Id(String),
    Name {
        name: String,
        user: String,
        user_domain: String,
    },
}

impl std::fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { username, .. } => write!(f, "Password({username})"),
            Self::ApplicationCredential { credential, .. } => {
                write!(f, "ApplicationCredential({credential:?})")
            }
        }
    }
}

/// Whose login a method is, without its secret: what tells an operator which credentials
/// Keystone refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginName {
    Password {
        user: String,
        domain: String,
        project: ProjectScope,
    },
    ApplicationCredential(AppCredentialRef),
}

impl AuthMethod {
    pub fn login_name(&self) -> LoginName {
        match self {
            Self::Password {
                username,
                user_domain,
                project,
                ..
            } => LoginName::Password {
                user: username.clone(),
                domain: user_domain.clone(),
                project: project.clone(),
            },
            Self::ApplicationCredential { credential, .. } => {
                LoginName::ApplicationCredential(credential.clone())
            }
        }
    }
}

/// A domain as the operator configured it (empty: Keystone's default domain).
fn domain_name(domain: &str) -> &str {
    if domain.is_empty() { "default" } else { domain }
}

impl std::fmt::Display for LoginName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password {
                user,
                domain,
                project,
            } => {
                write!(f, "user {user:?} in domain {:?}, ", domain_name(domain))?;
                match project {
                    ProjectScope::Id(id) => write!(f, "project id {id:?}"),
                    ProjectScope::Name { name, domain } => {
                        write!(f, "project {name:?} in domain {:?}", domain_name(domain))
                    }
                }
            }
            Self::ApplicationCredential(AppCredentialRef::Id(id)) => {
                write!(f, "application credential id {id:?}")
            }
            Self::ApplicationCredential(AppCredentialRef::Name {
                name,
                user,
                user_domain,
            }) => write!(
                f,
                "application credential {name:?} of user {user:?} in domain {:?}",
                domain_name(user_domain)
            ),
        }
    }
}
