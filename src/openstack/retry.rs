//! Sending one request with bounded retries: 429/503 honour `Retry-After`; connection errors,
//! timeouts and other 5xx back off exponentially with jitter.
use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::error::{OpenStackError, Service, summarize_body};

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A longer `Retry-After` is cut to this, so one tenant cannot stall a sweep.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.max_delay);
        // Full jitter keeps many tenants from retrying in lockstep.
        let jitter = rand::rng().random_range(0.5..=1.0);
        capped.mul_f64(jitter)
    }

    fn retry_after(&self, resp: &Response) -> Option<Duration> {
        let raw = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?;
        let secs: u64 = raw.trim().parse().ok()?;
        Some(Duration::from_secs(secs).min(self.max_retry_after))
    }
}

pub fn classify(service: Service, timeout: Duration, err: &reqwest::Error) -> OpenStackError {
    if err.is_timeout() {
        OpenStackError::Timeout {
            service,
            seconds: timeout.as_secs().max(1),
        }
    } else if err.is_decode() || err.is_body() {
        OpenStackError::MalformedBody {
            service,
            detail: err.to_string(),
        }
    } else {
        // reqwest's message names the URL, never headers: no token can leak through it.
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            detail = format!("{detail}: {s}");
            source = s.source();
        }
        if let Some(tls) = tls_error(err) {
            let host = err
                .url()
                .map(|u| match (u.host_str(), u.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_string(),
                    (None, _) => u.to_string(),
                })
                .unwrap_or_else(|| "the server".into());
            return OpenStackError::Tls {
                service,
                detail: super::tls::describe(tls, &host),
            };
        }
        OpenStackError::Connect { service, detail }
    }
}

/// The TLS failure behind a request error, if that is what it was. rustls' error sits inside
/// an `io::Error`, whose `source()` skips the error it wraps: look inside with `get_ref`.
fn tls_error(err: &reqwest::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// A response read to its end.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

/// Sends `build()` and reads the whole body, until that succeeds, fails for good, or attempts
/// run out. A connection that drops mid-body is retried like one that drops before the
/// headers. Returns responses of any status the caller must judge itself (2xx, 4xx except 429).
pub async fn send(
    service: Service,
    policy: &RetryPolicy,
    timeout: Duration,
    build: impl Fn() -> RequestBuilder,
) -> Result<Fetched, OpenStackError> {
    let metrics = crate::metrics::get();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            metrics.upstream_retry(service.kind());
        }
        let last = attempt >= policy.max_attempts;
        let sent = build().send().await;
        let answered = sent.as_ref().ok().map(|r| r.status().as_u16());
        metrics.upstream_request(service.kind(), answered);
        let failure = match sent {
            Ok(resp) => {
                let status = resp.status();
                let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                let wait = match status {
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        policy.retry_after(&resp)
                    }
                    _ => None,
                };
                let headers = resp.headers().clone();
                match resp.text().await {
                    Ok(text) if !retryable || last => {
                        return Ok(Fetched {
                            status,
                            headers,
                            text,
                        });
                    }
                    Ok(text) => {
                        tracing::debug!(%service, status = status.as_u16(), attempt, "retrying: {}", summarize_body(&text));
                        wait.unwrap_or_else(|| policy.backoff(attempt))
                    }
                    Err(e) => {
                        let err = classify(service, timeout, &e);
                        if last {
                            return Err(err);
                        }
                        tracing::debug!(%service, attempt, error = %err, "retrying after a broken body");
                        policy.backoff(attempt)
                    }
                }
            }
            Err(e) => {
                let err = classify(service, timeout, &e);
                // A refused certificate is refused again: only its settings can change that.
                if last || matches!(err, OpenStackError::Tls { .. }) {
                    return Err(err);
                }
                tracing::debug!(%service, attempt, error = %err, "retrying");
                policy.backoff(attempt)
            }
        };
        tokio::time::sleep(failure).await;
    }
}
