//! The write-only credential fields of create requests, checked and turned into stored
//! credentials. Clouds and tenants name their user and password fields differently
//! (`username` / `user_username`); the application credential fields are named alike.
use super::validate::{NAME_MAX, REQUIRED, TEXT_MAX, Validator};
use crate::catalog::credentials::Credentials;

const APP_ID: &str = "application_credential_id";
const APP_NAME: &str = "application_credential_name";
const APP_USER: &str = "application_credential_user";
const APP_SECRET: &str = "application_credential_secret";

/// The application credential fields of a request.
#[derive(Clone, Default)]
pub struct AppCredentialFields {
    pub id: Option<String>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub secret: Option<String>,
}

/// The write-only credential fields of a request; the user and password fields come with
/// the names the request uses for them.
#[derive(Clone, Default)]
pub struct CredentialFields<'a> {
    pub username: (&'a str, Option<String>),
    pub password: (&'a str, Option<String>),
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub app: AppCredentialFields,
}

fn non_empty(x: Option<String>) -> Option<String> {
    x.filter(|s| !s.trim().is_empty())
}

impl CredentialFields<'_> {
    /// Fills in what a change leaves out from the stored credentials, so that a change asks
    /// for credentials only when it changes their kind: a project alone re-scopes the stored
    /// user, a password alone rotates it, a secret alone rotates an application credential.
    /// A change naming either project field replaces both.
    pub fn over(mut self, stored: &Credentials, v: &mut Validator) -> Self {
        let names_password = self.username.1.is_some() || self.password.1.is_some();
        let app = &self.app;
        let names_app_identity = app.id.is_some() || app.name.is_some() || app.user.is_some();
        let names_app = names_app_identity || app.secret.is_some();
        let names_project = self.project_name.is_some() || self.project_id.is_some();
        match stored {
            Credentials::Password {
                username,
                password,
                project_name,
                project_id,
            } if !names_app => {
                self.username.1.get_or_insert_with(|| username.clone());
                self.password.1.get_or_insert_with(|| password.clone());
                if !names_project {
                    self.project_name = project_name.clone();
                    self.project_id = project_id.clone();
                }
            }
            Credentials::ApplicationCredential {
                id,
                name,
                user,
                secret,
            } if !names_password => {
                if names_project {
                    for field in ["project_name", "project_id"] {
                        v.add(
                            field,
                            "An application credential carries its own project; give a user \
                             and password to scope the cloud to a project.",
                        );
                    }
                }
                if !names_app_identity {
                    self.app.id = id.clone();
                    self.app.name = name.clone();
                    self.app.user = user.clone();
                }
                self.app.secret.get_or_insert_with(|| secret.clone());
            }
            // The kind changes: the change must be complete on its own.
            _ => {}
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        let app = &self.app;
        self.username.1.is_none()
            && self.password.1.is_none()
            && app.id.is_none()
            && app.name.is_none()
            && app.user.is_none()
            && app.secret.is_none()
            && self.project_name.is_none()
            && self.project_id.is_none()
    }

    /// Reports fields longer than Keystone accepts (names and ids 255, secrets 4096).
    fn check_lengths(&self, v: &mut Validator) {
        let app = &self.app;
        for (field, value, max) in [
            (self.username.0, &self.username.1, NAME_MAX),
            (self.password.0, &self.password.1, TEXT_MAX),
            ("project_name", &self.project_name, NAME_MAX),
            ("project_id", &self.project_id, NAME_MAX),
            (APP_ID, &app.id, NAME_MAX),
            (APP_NAME, &app.name, NAME_MAX),
            (APP_USER, &app.user, NAME_MAX),
            (APP_SECRET, &app.secret, TEXT_MAX),
        ] {
            v.at_most(field, value.as_deref(), max);
        }
    }

    /// One complete kind of credentials, or field errors naming what is missing or mixed.
    pub fn into_credentials(self, v: &mut Validator) -> Option<Credentials> {
        self.check_lengths(v);
        let (user_field, password_field) = (self.username.0, self.password.0);
        let uses_password = non_empty(self.username.1.clone()).is_some()
            || non_empty(self.password.1.clone()).is_some();
        let app = AppCredentialFields {
            id: non_empty(self.app.id),
            name: non_empty(self.app.name),
            user: non_empty(self.app.user),
            secret: non_empty(self.app.secret),
        };
        let uses_app =
            app.id.is_some() || app.secret.is_some() || app.name.is_some() || app.user.is_some();
        let choice = format!("{user_field} and {password_field}, or {APP_ID} and {APP_SECRET}");
        match (uses_password, uses_app) {
            (true, true) => {
                v.add(
                    "non_field_errors",
                    format!("Give either {choice}, not both."),
                );
                None
            }
            (false, false) => {
                v.add(
                    "non_field_errors",
                    format!("Credentials are required: {choice}."),
                );
                None
            }
            (true, false) => password_credentials(
                (user_field, non_empty(self.username.1)),
                (password_field, non_empty(self.password.1)),
                (non_empty(self.project_name), non_empty(self.project_id)),
                v,
            ),
            (false, true) => app_credentials(app, v),
        }
    }
}

/// A user and password, both required.
fn password_credentials(
    (user_field, username): (&str, Option<String>),
    (password_field, password): (&str, Option<String>),
    (project_name, project_id): (Option<String>, Option<String>),
    v: &mut Validator,
) -> Option<Credentials> {
    if username.is_none() {
        v.add(user_field, REQUIRED);
    }
    if password.is_none() {
        v.add(password_field, REQUIRED);
    }
    Some(Credentials::Password {
        username: username?,
        password: password?,
        project_name,
        project_id,
    })
}

/// An application credential by id, or by name together with its user; a secret either way.
fn app_credentials(app: AppCredentialFields, v: &mut Validator) -> Option<Credentials> {
    if app.secret.is_none() {
        v.add(APP_SECRET, REQUIRED);
    }
    let by_name = app.id.is_none() && (app.name.is_some() || app.user.is_some());
    if by_name && app.name.is_none() {
        v.add(APP_NAME, REQUIRED);
    } else if by_name && app.user.is_none() {
        v.add(
            APP_USER,
            "This field is required with an application credential name.",
        );
    } else if app.id.is_none() && !by_name {
        v.add(APP_ID, REQUIRED);
    }
    if app.id.is_none() && (app.name.is_none() || app.user.is_none()) {
        return None;
    }
    Some(Credentials::ApplicationCredential {
        id: app.id,
        name: app.name,
        user: app.user,
        secret: app.secret?,
    })
}
