//! Glance's error answers, byte for byte as Glance 33 (webob) gives them: HTML unless the
//! client prefers JSON (`{"message", "code", "title"}`) or accepts neither (plain text).
//! glanceclient reads the HTML one: it strips the tags and prints the lines.
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};

/// An error as Glance answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlanceError {
    pub status: StatusCode,
    /// What went wrong, in Glance's words where Glance has them.
    pub explanation: String,
    /// webob's body template after the explanation (`<br />` are line breaks in plain text).
    tail: &'static str,
    allow: Option<&'static str>,
    authenticate: Option<String>,
}

/// The tail of webob's usual template, and of its 405's.
const TAIL: &str = "<br /><br />\n\n\n";
const METHOD_TAIL: &str = "<br /><br />\n";

impl GlanceError {
    fn new(status: StatusCode, explanation: impl Into<String>) -> Self {
        Self {
            status,
            explanation: explanation.into(),
            tail: TAIL,
            allow: None,
            authenticate: None,
        }
    }

    pub fn bad_request(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, explanation)
    }

    pub fn forbidden(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, explanation)
    }

    pub fn not_found(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, explanation)
    }

    /// A path Glance has no route for.
    pub fn no_route() -> Self {
        Self::not_found("The resource could not be found.")
    }

    /// keystonemiddleware's answer to a missing or unknown token; `realm` is where tokens
    /// come from (for the census: itself).
    pub fn unauthorized(realm: &str) -> Self {
        Self {
            authenticate: Some(format!("Keystone uri=\"{realm}\"")),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
            )
        }
    }

    pub fn method_not_allowed(method: &str, allow: &'static str) -> Self {
        Self {
            tail: METHOD_TAIL,
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("The method {method} is not allowed for this resource. "),
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server has either erred or is incapable of performing the requested operation.",
        )
    }

    /// `400 Bad Request`.
    fn status_line(&self) -> String {
        format!(
            "{} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("")
        )
    }

    /// The answer in the form `accept` prefers.
    pub fn render(&self, accept: Option<&str>) -> Response {
        let status = self.status_line();
        let (content_type, body) = match preferred(accept) {
            Some(Form::Json) => {
                // Python's `json.dumps` layout and key order, as Glance writes it.
                let text = |s: &str| serde_json::Value::from(s).to_string();
                let body = format!(
                    "{{\"message\": {}, \"code\": {}, \"title\": {}}}",
                    text(&format!("{}{}", self.explanation, self.tail)),
                    text(&status),
                    text(self.status.canonical_reason().unwrap_or("")),
                );
                ("application/json", body)
            }
            Some(Form::Html) => (
                "text/html; charset=UTF-8",
                format!(
                    "<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  <h1>{status}</h1>\n  {}{}\n </body>\n</html>",
                    escape_html(&self.explanation),
                    self.tail
                ),
            ),
            None => (
                "text/plain; charset=UTF-8",
                format!(
                    "{status}\n\n{}{}",
                    self.explanation,
                    self.tail.replace('\n', " ").replace("<br />", "\n")
                ),
            ),
        };
        let mut response = Response::builder()
            .status(self.status)
            .content_type(content_type)
            .body(body);
        let headers = response.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(value) = self
            .authenticate
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response.into_response()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Html,
    Json,
}

/// webob's choice between its offers `text/html` and `application/json` (in that order on
/// ties) by the `Accept` header's quality values; `None` when it accepts neither. No header
/// accepts anything.
fn preferred(accept: Option<&str>) -> Option<Form> {
    let Some(accept) = accept else {
        return Some(Form::Html);
    };
    let ranges: Vec<(&str, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let range = pieces.next()?.trim();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!range.is_empty()).then_some((range, q))
        })
        .collect();
    // The quality of an offer is that of the most specific range matching it.
    let quality = |offer: &str| {
        let (kind, _) = offer.split_once('/').unwrap_or((offer, ""));
        let specific = |range: &str| {
            if range.eq_ignore_ascii_case(offer) {
                Some(2)
            } else if range.eq_ignore_ascii_case(&format!("{kind}/*")) {
                Some(1)
            } else if range == "*/*" {
                Some(0)
            } else {
                None
            }
        };
        ranges
            .iter()
            .filter_map(|(range, q)| specific(range).map(|s| (s, *q)))
            .max_by_key(|(s, _)| *s)
            .map_or(0.0, |(_, q)| q)
    };
    let html = quality("text/html");
    let json = quality("application/json");
    if html <= 0.0 && json <= 0.0 {
        None
    } else if json > html {
        Some(Form::Json)
    } else {
        Some(Form::Html)
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> (String, String) {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            content_type,
            response.into_body().into_string().await.unwrap(),
        )
    }

    /// The bodies the real Glance 33 answered (tests/conformance's stack, captured).
    #[tokio::test]
    async fn bodies_are_glances() {
        let e = GlanceError::bad_request("Invalid sort key: f<o.");
        assert_eq!(
            body(e.render(Some("application/json"))).await,
            (
                "application/json".into(),
                r#"{"message": "Invalid sort key: f<o.<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}"#.into()
            )
        );
        assert_eq!(
            body(e.render(None)).await,
            (
                "text/html; charset=UTF-8".into(),
                "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  Invalid sort key: f&lt;o.<br /><br />\n\n\n\n </body>\n</html>".into()
            )
        );
        assert_eq!(
            body(e.render(Some("text/plain"))).await.1,
            "400 Bad Request\n\nInvalid sort key: f<o.\n\n   "
        );
        let m = GlanceError::method_not_allowed("DELETE", "GET");
        assert_eq!(
            body(m.render(Some("text/plain"))).await.1,
            "405 Method Not Allowed\n\nThe method DELETE is not allowed for this resource. \n\n "
        );
        assert_eq!(
            body(m.render(Some("*/*"))).await.1,
            "<html>\n <head>\n  <title>405 Method Not Allowed</title>\n </head>\n <body>\n  <h1>405 Method Not Allowed</h1>\n  The method DELETE is not allowed for this resource. <br /><br />\n\n </body>\n</html>"
        );
    }

    #[test]
    fn html_wins_ties_and_json_needs_a_higher_quality() {
        assert_eq!(preferred(None), Some(Form::Html));
        assert_eq!(preferred(Some("*/*")), Some(Form::Html));
        assert_eq!(preferred(Some("application/json")), Some(Form::Json));
        assert_eq!(
            preferred(Some("application/json, text/html")),
            Some(Form::Html)
        );
        assert_eq!(
            preferred(Some("application/json;q=0.5, text/html")),
            Some(Form::Html)
        );
        assert_eq!(
            preferred(Some("text/html;q=0.1, application/*")),
            Some(Form::Json)
        );
        assert_eq!(preferred(Some("text/plain")), None);
        assert_eq!(preferred(Some("image/png")), None);
    }
}
