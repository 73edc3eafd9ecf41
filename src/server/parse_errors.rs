//! Requests the HTTP parser itself refuses (a raw `0xFF` in the request line, a target over
//! 64 KiB, over 100 headers) never reach the API: hyper answers them on its own with an empty
//! body and closes the connection, and offers no hook to shape that answer. So each connection
//! is wrapped, and a response head of exactly that form — 400, 414 or 431, `content-length: 0`,
//! no `content-type` (every answer of ours carries one) — is rewritten on its way out into the
//! API's JSON error shape.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An acceptor whose connections answer the parser's refusals in JSON.
pub struct JsonParseErrors<A>(pub A);

impl<A: Acceptor> Acceptor for JsonParseErrors<A> {
    type Io = Connection<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((
            Connection {
                io,
                rewritten: Vec::new(),
                sent: 0,
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// One connection: reads pass through; writes pass through unless they are the parser's
/// refusal, which is replaced by `rewritten` and sent before anything else.
pub struct Connection<Io> {
    io: Io,
    rewritten: Vec<u8>,
    sent: usize,
}

impl<Io: AsyncWrite + Unpin> Connection<Io> {
    /// Writes out what is left of a rewritten answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.rewritten.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.rewritten[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Connection<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Connection<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if let Some(answer) = as_json(buf) {
            self.rewritten = answer;
            self.sent = 0;
            // Taken whole; what the socket does not take now goes out on flush or shutdown.
            if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The JSON form of `buf` when it is exactly one of the parser's bodiless refusals.
fn as_json(buf: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut head = httparse::Response::new(&mut headers);
    match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len == buf.len() => {}
        _ => return None,
    }
    let code = head.code?;
    let detail = match code {
        400 => "Malformed request: the request line or a header could not be parsed.",
        414 => "The request target is too long.",
        431 => "The request's header fields are too large or too many.",
        _ => return None,
    };
    let mut kept = Vec::new();
    for h in head.headers.iter() {
        match h.name.to_ascii_lowercase().as_str() {
            "content-length" if h.value == b"0" => {}
            "connection" | "date" => kept.push(h),
            // A body, a content type or anything else: an answer of ours, left alone.
            _ => return None,
        }
    }
    let body = serde_json::json!({ "detail": detail }).to_string();
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
        head.reason.unwrap_or_default(),
        body.len()
    )
    .into_bytes();
    for h in kept {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_parsers_bodiless_refusals_are_rewritten() {
        let refusal = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 15:59:47 GMT\r\n\r\n";
        let out = String::from_utf8(as_json(refusal).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["detail"], "The request target is too long.");

        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Req",
            b"{\"detail\": \"HTTP/1.1 400\"}",
        ] {
            assert_eq!(as_json(ours), None, "{}", String::from_utf8_lossy(ours));
        }
    }
}
