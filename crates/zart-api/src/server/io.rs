//! The connection's socket as hyper sees it: reads are reported to the connection's
//! [`Activity`], and the bodyless error responses hyper writes by itself before any
//! request reaches the router (400 for a malformed request, 414 for an oversized URI,
//! 431 for oversized headers) are rewritten into the API's JSON error shape.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::conn::Activity;
use crate::dto::ErrorBody;

/// The longest response head hyper writes for its own errors (a status line, `date`,
/// `content-length` and `connection`); longer writes are never inspected.
const MAX_HYPER_ERROR_HEAD: usize = 512;

/// A TCP stream that tells its connection's watcher when bytes arrive and gives hyper's
/// own error responses a JSON body.
pub(super) struct ConnIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// A rewritten error response being written, in place of hyper's bytes.
    rewrite: Option<Rewrite>,
}

struct Rewrite {
    bytes: Vec<u8>,
    written: usize,
    /// How many of hyper's bytes it replaces: what the write reports once done.
    replaces: usize,
}

impl ConnIo {
    pub(super) fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Self {
            stream,
            activity,
            rewrite: None,
        }
    }

    /// Writes the pending rewrite to the end, then reports hyper's bytes as written.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(rewrite) = self.rewrite.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while rewrite.written < rewrite.bytes.len() {
            let rest = &rewrite.bytes[rewrite.written..];
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rewrite.written += n;
        }
        let replaces = rewrite.replaces;
        self.rewrite = None;
        Poll::Ready(Ok(replaces))
    }

    /// Starts rewriting `buf` if it is one of hyper's bodyless error responses.
    fn intercept(&mut self, buf: &[u8]) -> bool {
        match json_error_response(buf) {
            Some(bytes) => {
                self.rewrite = Some(Rewrite {
                    bytes,
                    written: 0,
                    replaces: buf.len(),
                });
                true
            }
            None => false,
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        read
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.rewrite.is_some() || self.intercept(buf) {
            return self.poll_rewrite(cx);
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.rewrite.is_some() {
            return self.poll_rewrite(cx);
        }
        // hyper's error responses have a head and no body: a single buffer.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if self.intercept(only) {
                return self.poll_rewrite(cx);
            }
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// `buf` as a JSON error response if it is exactly the head of a bodyless 400, 414 or
/// 431: what hyper writes for a request it could not parse. The router never answers
/// an error without a JSON body, so no response of ours matches.
fn json_error_response(buf: &[u8]) -> Option<Vec<u8>> {
    if buf.len() > MAX_HYPER_ERROR_HEAD || !buf.starts_with(b"HTTP/1.") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let message = match status_line.get(9..12)? {
        "400" => "malformed HTTP request",
        "414" => "request URI too long",
        "431" => "request header fields too large",
        _ => return None,
    };
    let mut out = format!("{status_line}\r\n");
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => {}
            "content-length" | "content-type" | "transfer-encoding" => return None,
            _ => out.push_str(&format!("{line}\r\n")),
        }
    }
    let body = serde_json::to_string(&ErrorBody {
        error: message.to_owned(),
    })
    .ok()?;
    out.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodyless_parse_errors_are_rewritten() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let rewritten = String::from_utf8(json_error_response(hyper).unwrap()).unwrap();
        assert!(rewritten.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(rewritten.contains("\r\ndate: x\r\n"));
        assert!(rewritten.contains("content-type: application/json\r\n"));
        assert!(rewritten.ends_with(r#"{"error":"request header fields too large"}"#));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n";
        assert!(json_error_response(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_response(ok).is_none());
    }
}
