use std::fmt;

use super::auth::LoginName;

/// Which OpenStack service a request went to, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Keystone,
    Glance,
    Nova,
    Cinder,
}

impl Service {
    /// Every service, in the order of [`Service::index`].
    pub const ALL: [Service; 4] = [
        Service::Keystone,
        Service::Glance,
        Service::Nova,
        Service::Cinder,
    ];

    /// The service's generic catalog type (`identity`, `image`, `compute`, `volume`): what
    /// request counts are keyed by, the same whatever name a cloud registered Cinder under.
    pub fn kind(self) -> &'static str {
        match self {
            Service::Keystone => "identity",
            Service::Glance => "image",
            Service::Nova => "compute",
            Service::Cinder => "volume",
        }
    }

    /// The position of the service in [`Service::ALL`].
    pub fn index(self) -> usize {
        match self {
            Service::Keystone => 0,
            Service::Glance => 1,
            Service::Nova => 2,
            Service::Cinder => 3,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Keystone => "Keystone",
            Service::Glance => "Glance",
            Service::Nova => "Nova",
            Service::Cinder => "Cinder",
        })
    }
}

/// Why a paged listing was given up (see [`OpenStackError::Paging`]). Its Display is the
/// second half of the error's sentence, after "{service} paging is inconsistent: ".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingFault {
    /// A `next` link points to a page already read in this pass: following it would never end.
    LoopsBack,
    /// The listing ran past `cap` pages: a `next` chain that never ends without repeating
    /// itself (a marker that does not advance, say), not a big cloud.
    TooManyPages { cap: u32 },
    /// Keystone cut its project listing at its `list_limit`: the rest cannot be had by paging,
    /// and the cut listing would pass for the whole.
    Truncated,
    /// Keystone cut a unified-limits listing at its `list_limit`: projects left out would
    /// pass for projects at the registered defaults.
    LimitsTruncated,
}

impl fmt::Display for PagingFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LoopsBack => f.write_str("the next link points to a page already read"),
            Self::TooManyPages { cap } => write!(f, "more than {cap} pages"),
            Self::Truncated => f.write_str(
                "Keystone truncated the project listing at its list_limit; \
                 narrow it by domain or tags, or raise the limit",
            ),
            Self::LimitsTruncated => {
                f.write_str("Keystone truncated the limits listing at its list_limit; raise it")
            }
        }
    }
}

/// Typed failures of talking to OpenStack. Messages are meant for a tenant's `error_message`:
/// readable, and never containing a credential or token.
#[derive(Debug, thiserror::Error)]
pub enum OpenStackError {
    /// Keystone refused the login; `login` names whose (never the secret).
    #[error("Keystone authentication failed for {login}: {reason}")]
    AuthFailed { login: LoginName, reason: String },
    #[error(
        "the service catalog has no {service_type} endpoint for interface {interface:?}{}{}",
        in_region(.region),
        elsewhere(.regions)
    )]
    EndpointMissing {
        service_type: String,
        interface: String,
        /// The configured region; empty for any.
        region: String,
        /// The regions the catalog has `service_type` endpoints of this interface in.
        regions: Vec<String>,
    },
    /// The TLS handshake failed: the certificate is not trusted, has expired or names another
    /// host, or the server does not speak TLS.
    #[error("TLS with {service} failed: {detail}")]
    Tls { service: Service, detail: String },
    #[error("{service} answered HTTP {status}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    UpstreamStatus {
        service: Service,
        status: u16,
        message: String,
    },
    #[error("{service} did not answer within {seconds} s")]
    Timeout { service: Service, seconds: u64 },
    #[error("cannot reach {service}: {detail}")]
    Connect { service: Service, detail: String },
    #[error("{service} sent a malformed response: {detail}")]
    MalformedBody { service: Service, detail: String },
    /// A paged listing given up: `fault` says which guard of the pager fired (or what the
    /// service said), so callers and tests can tell a loop from a runaway chain.
    #[error("{service} paging is inconsistent: {fault}")]
    Paging {
        service: Service,
        fault: PagingFault,
    },
    #[error("invalid URL {0:?}")]
    BadUrl(String),
}

fn in_region(region: &str) -> String {
    if region.is_empty() {
        String::new()
    } else {
        format!(" in region {region:?}")
    }
}

fn elsewhere(regions: &[String]) -> String {
    if regions.is_empty() {
        String::new()
    } else {
        format!(" (it has one in {})", regions.join(", "))
    }
}

impl OpenStackError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::UpstreamStatus { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A short, safe summary of an error body (OpenStack sends JSON or HTML).
pub fn summarize_body(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let pick = |v: &serde_json::Value| {
                v.get("message")
                    .or_else(|| v.get("detail"))
                    .or_else(|| v.get("title"))
                    .and_then(|m| m.as_str())
                    .map(String::from)
            };
            pick(&v).or_else(|| v.as_object()?.values().find_map(pick))
        });
    // Glance puts HTML even into its JSON messages (`…<br /><br />`): strip tags either way.
    let text = strip_tags(from_json.as_deref().unwrap_or(body));
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        if out.chars().count() + word.chars().count() + 1 > 200 {
            if out.is_empty() {
                out = word.chars().take(199).collect();
            }
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_summarized() {
        assert_eq!(
            summarize_body(
                r#"{"error": {"code": 401, "message": "The request you have made requires authentication."}}"#
            ),
            "The request you have made requires authentication."
        );
        assert_eq!(
            summarize_body("<html><body><h1>400 Bad Request</h1>marker not found</body></html>"),
            "400 Bad Request marker not found"
        );
        assert_eq!(summarize_body(&"x".repeat(500)).chars().count(), 200);
        assert_eq!(
            summarize_body(
                r#"{"message": "No image found with ID abc<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#
            ),
            "No image found with ID abc"
        );
        let long = summarize_body(&"word ".repeat(100));
        assert!(
            long.ends_with("word…") && long.chars().count() <= 201,
            "{long}"
        );
    }
}
