//! OpenStack wire types and clients: Keystone v3 (tokens, projects), Glance v2, Nova, Cinder.
//! No catalog or sync logic.
pub mod auth;
pub mod check;
pub mod cinder;
pub mod error;
pub mod glance;
pub mod keystone;
pub mod nova;
pub mod nova_actions;
mod pager;
pub mod projects;
pub mod retry;
pub mod session;
pub mod tls;

use std::borrow::Cow;

pub use error::{OpenStackError, PagingFault};
pub use session::{Session, SessionConfig, SessionSettings};
pub use tls::TlsConfig;

/// Items asked for per page of a listing: the largest page Glance and Nova serve by default.
pub const PAGE_LIMIT: u32 = 1000;

/// Upstream JSON with each lone UTF-16 surrogate escape (a `\ud800` without its low half, or a
/// low half alone) replaced by `\ufffd`. Such an escape is valid JSON syntax that no UTF-8
/// string can hold, and serde_json refuses it: one image name carrying it would otherwise fail
/// its whole page, and so its tenant's sync.
pub fn without_lone_surrogates(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let unit_at = |at: usize| -> Option<u16> {
        let hex = json.get(at..at + 4)?;
        u16::from_str_radix(hex, 16).ok()
    };
    let is_high = |u: u16| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    // Backslashes occur only in strings' escapes, so each one found starts an escape.
    while let Some(found) = json[at..].find('\\') {
        let start = at + found;
        let unit = match bytes.get(start + 1) {
            Some(b'u') => unit_at(start + 2),
            _ => None,
        };
        at = start + 2;
        let Some(unit) = unit else { continue };
        at = start + 6;
        let paired = is_high(unit)
            && bytes.get(start + 6) == Some(&b'\\')
            && bytes.get(start + 7) == Some(&b'u')
            && unit_at(start + 8).is_some_and(is_low);
        if paired {
            at = start + 12;
        } else if is_high(unit) || is_low(unit) {
            out.push_str(&json[copied..start]);
            out.push_str("\\ufffd");
            copied = at;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(json);
    }
    out.push_str(&json[copied..]);
    Cow::Owned(out)
}

/// Upstream text as the catalog may store it: without NUL characters, which PostgreSQL text
/// and JSON cannot hold (one image named `evil\u0000name` once failed every tenant of its
/// cloud there). Everything else is kept as sent.
pub fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lone_surrogate_escapes_are_replaced() {
        let cases = [
            (r#"{"name":"\ud800x"}"#, r#"{"name":"\ufffdx"}"#),
            (r#"{"name":"a\uDC00"}"#, r#"{"name":"a\ufffd"}"#),
            (
                r#"["\ud83d\udc27", "\ud83d"]"#,
                r#"["\ud83d\udc27", "\ufffd"]"#,
            ),
            (r#"["\\ud800", "\u00e9\n"]"#, r#"["\\ud800", "\u00e9\n"]"#),
            (r#"["\ud800\ud800"]"#, r#"["\ufffd\ufffd"]"#),
            (r#""\ud8"#, r#""\ud8"#),
        ];
        for (raw, want) in cases {
            assert_eq!(without_lone_surrogates(raw), want, "{raw}");
        }
        let parsed: Vec<String> =
            serde_json::from_str(&without_lone_surrogates(r#"["\ud83d\udc27\ud800"]"#)).unwrap();
        assert_eq!(parsed, ["🐧\u{fffd}"]);
    }
}
