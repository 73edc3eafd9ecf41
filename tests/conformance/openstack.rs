//! Talking to Keystone and Glance directly, as an admin or as a project's user.
use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::stack::Stack;

const JSON_PATCH: &str = "application/openstack-images-v2.1-json-patch";

#[derive(Clone)]
pub struct Cloud {
    pub http: reqwest::Client,
    pub keystone: String,
    pub glance: String,
    pub admin_password: String,
    pub admin_token: String,
    pub admin_user_id: String,
    /// The stack's run directory (its services' logs).
    pub run_dir: String,
}

#[derive(Clone, Debug)]
pub struct Project {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Cloud {
    pub async fn connect(stack: &Stack) -> Self {
        crate::common::internals::install_crypto_provider();
        let mut cloud = Self {
            // gunicorn closes a connection after 2 s idle; reusing one it is closing failed a
            // create with "error sending request" once: never keep one idle that long.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_idle_timeout(Duration::from_secs(1))
                .build()
                .unwrap(),
            keystone: stack.var("OS_AUTH_URL").trim_end_matches('/').to_string(),
            glance: stack.var("GLANCE_URL").trim_end_matches('/').to_string(),
            admin_password: stack.var("OS_ADMIN_PASSWORD").to_string(),
            admin_token: String::new(),
            admin_user_id: String::new(),
            run_dir: stack.var("RUN_DIR").to_string(),
        };
        let (token, body) = cloud
            .login_scoped(
                "admin",
                stack.var("OS_ADMIN_PASSWORD"),
                json!({"name": stack.var("OS_ADMIN_PROJECT"), "domain": {"id": "default"}}),
            )
            .await
            .expect("admin logs in");
        cloud.admin_token = token;
        cloud.admin_user_id = body["token"]["user"]["id"].as_str().unwrap().to_string();
        cloud
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<(&str, Value)>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some((content_type, b)) = body {
            req = req
                .header("Content-Type", content_type)
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// A password login scoped to `project` (a Keystone project reference); the token and body.
    pub async fn login_scoped(
        &self,
        user: &str,
        password: &str,
        project: Value,
    ) -> Result<(String, Value), String> {
        let a = self
            .send(
                Method::POST,
                &format!("{}/auth/tokens", self.keystone),
                None,
                Some((
                    "application/json",
                    json!({"auth": {
                        "identity": {"methods": ["password"], "password": {"user": {
                            "name": user, "domain": {"id": "default"}, "password": password}}},
                        "scope": {"project": project}
                    }}),
                )),
            )
            .await;
        if a.status != StatusCode::CREATED {
            return Err(format!("HTTP {}: {}", a.status, a.text));
        }
        let token = a.headers["X-Subject-Token"].to_str().unwrap().to_string();
        Ok((token, a.body))
    }

    pub async fn login(&self, user: &User, project: &Project) -> String {
        self.login_scoped(&user.name, &user.password, json!({"id": project.id}))
            .await
            .unwrap_or_else(|e| panic!("{} logs in to {}: {e}", user.name, project.name))
            .0
    }

    /// An admin call to Keystone that must succeed.
    pub async fn ks(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let a = self
            .send(
                method.clone(),
                &format!("{}{path}", self.keystone),
                Some(&self.admin_token),
                body.map(|b| ("application/json", b)),
            )
            .await;
        assert!(
            a.status.is_success(),
            "Keystone {method} {path}: HTTP {}: {}",
            a.status,
            a.text
        );
        a.body
    }

    pub async fn role_id(&self, name: &str) -> String {
        let roles = self
            .ks(Method::GET, &format!("/roles?name={name}"), None)
            .await;
        roles["roles"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("role {name} exists"))
            .to_string()
    }

    pub async fn create_project(&self, name: &str) -> Project {
        let p = self
            .ks(
                Method::POST,
                "/projects",
                Some(json!({"project": {"name": name, "domain_id": "default", "enabled": true}})),
            )
            .await;
        Project {
            id: p["project"]["id"].as_str().unwrap().to_string(),
            name: name.to_string(),
        }
    }

    pub async fn set_project_enabled(&self, project: &Project, enabled: bool) {
        self.ks(
            Method::PATCH,
            &format!("/projects/{}", project.id),
            Some(json!({"project": {"enabled": enabled}})),
        )
        .await;
    }

    pub async fn grant(&self, project: &Project, user_id: &str, role: &str) {
        let role_id = self.role_id(role).await;
        self.ks(
            Method::PUT,
            &format!("/projects/{}/users/{user_id}/roles/{role_id}", project.id),
            None,
        )
        .await;
    }

    /// A user with the `member` role on `project`.
    pub async fn create_member(&self, name: &str, project: &Project) -> User {
        let password = format!("pw-{name}-{}", uuid::Uuid::new_v4().simple());
        let u = self
            .ks(
                Method::POST,
                "/users",
                Some(
                    json!({"user": {"name": name, "domain_id": "default", "password": password,
                    "default_project_id": project.id, "enabled": true}}),
                ),
            )
            .await;
        let user = User {
            id: u["user"]["id"].as_str().unwrap().to_string(),
            name: name.to_string(),
            password,
        };
        self.grant(project, &user.id, "member").await;
        // Keystone writes `last_active_at` on a user's first password login of the (UTC) day in
        // a deferred SQLite transaction, so concurrent first logins (a sync of two tenants with
        // one user) fail with HTTP 500 "database is locked". One login now, alone, makes the
        // later ones read-only — until midnight UTC.
        self.login(&user, project).await;
        user
    }

    pub async fn set_password(&self, user: &User, password: &str) {
        self.ks(
            Method::PATCH,
            &format!("/users/{}", user.id),
            Some(json!({"user": {"password": password}})),
        )
        .await;
    }

    /// An application credential of `user` for the project its token is scoped to.
    pub async fn application_credential(&self, user: &User, token: &str) -> (String, String) {
        let a = self
            .send(
                Method::POST,
                &format!(
                    "{}/users/{}/application_credentials",
                    self.keystone, user.id
                ),
                Some(token),
                Some((
                    "application/json",
                    json!({"application_credential": {
                        "name": format!("cloudcensus-{}", user.name),
                        "description": "conformance test",
                        "roles": [{"name": "member"}]
                    }}),
                )),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let c = &a.body["application_credential"];
        (
            c["id"].as_str().unwrap().to_string(),
            c["secret"].as_str().unwrap().to_string(),
        )
    }

    pub async fn glance_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<(&str, Value)>,
    ) -> Answer {
        self.send(method, &format!("{}{path}", self.glance), Some(token), body)
            .await
    }

    /// Creates an image (no upload: it stays `queued`) and returns its id. Glance and Keystone
    /// run on SQLite here, and under load a write can time out on its lock (HTTP 500, the
    /// transaction rolled back): such a create is retried, after making sure it left no image.
    pub async fn create_image(&self, token: &str, mut body: Value) -> String {
        body["disk_format"] = "raw".into();
        body["container_format"] = "bare".into();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let a = self
                .glance_call(
                    token,
                    Method::POST,
                    "/v2/images",
                    Some(("application/json", body.clone())),
                )
                .await;
            if a.status == StatusCode::CREATED {
                return a.body["id"].as_str().unwrap().to_string();
            }
            assert!(
                a.status.is_server_error() && attempts < 4,
                "create {body} (attempt {attempts}): {}\n{}",
                a.text,
                self.service_errors()
            );
            eprintln!(
                "  create {body}: HTTP {} (attempt {attempts}), retrying\n{}",
                a.status,
                self.service_errors()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(name) = body["name"].as_str()
                && let Some(id) = self.image_named(token, name).await
            {
                return id;
            }
        }
    }

    /// The id of the caller's image with this name, if there is one.
    async fn image_named(&self, token: &str, name: &str) -> Option<String> {
        let a = self
            .glance_call(
                token,
                Method::GET,
                &format!(
                    "/v2/images?name={}",
                    url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
                ),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "list by name: {}", a.text);
        a.body["images"][0]["id"].as_str().map(String::from)
    }

    /// The last error lines Keystone and Glance logged (for a failure's message).
    fn service_errors(&self) -> String {
        let mut out = String::new();
        for log in [
            "keystone/gunicorn.log",
            "glance/stderr.log",
            "glance/gunicorn.log",
        ] {
            let path = std::path::Path::new(&self.run_dir).join(log);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let errors: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("Error") || l.contains("locked"))
                .collect();
            for line in &errors[errors.len().saturating_sub(5)..] {
                out.push_str(&format!("    {log}: {line}\n"));
            }
        }
        out
    }

    pub async fn patch_image(&self, token: &str, id: &str, ops: Value) {
        let a = self
            .glance_call(
                token,
                Method::PATCH,
                &format!("/v2/images/{id}"),
                Some((JSON_PATCH, ops.clone())),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "patch {id} {ops}: {}", a.text);
    }

    pub async fn delete_image(&self, token: &str, id: &str) {
        let a = self
            .glance_call(token, Method::DELETE, &format!("/v2/images/{id}"), None)
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "delete {id}: {}", a.text);
    }

    pub async fn add_member(&self, owner_token: &str, id: &str, project: &Project) {
        let a = self
            .glance_call(
                owner_token,
                Method::POST,
                &format!("/v2/images/{id}/members"),
                Some(("application/json", json!({"member": project.id}))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "share {id}: {}", a.text);
    }

    pub async fn remove_member(&self, owner_token: &str, id: &str, project: &Project) {
        let a = self
            .glance_call(
                owner_token,
                Method::DELETE,
                &format!("/v2/images/{id}/members/{}", project.id),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "unshare {id}: {}", a.text);
    }

    pub async fn set_member_status(
        &self,
        member_token: &str,
        id: &str,
        project: &Project,
        s: &str,
    ) {
        let a = self
            .glance_call(
                member_token,
                Method::PUT,
                &format!("/v2/images/{id}/members/{}", project.id),
                Some(("application/json", json!({"status": s}))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "member {s} {id}: {}", a.text);
    }

    /// What Glance lists for a token: visible and hidden images, every member status, all
    /// pages; images on their way out left aside.
    pub async fn glance_ids(&self, token: &str) -> BTreeSet<String> {
        crate::common::glance_ids_for_token(&self.http, &self.glance, token).await
    }

    pub async fn usage(&self, token: &str) -> Value {
        let a = self
            .glance_call(token, Method::GET, "/v2/info/usage", None)
            .await;
        assert_eq!(a.status, StatusCode::OK, "usage: {}", a.text);
        a.body["usage"].clone()
    }
}
