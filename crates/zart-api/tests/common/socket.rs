//! The test app served on a loopback socket by [`zart_api::serve`] and called with
//! reqwest: what a real client sees, connection and all.

use axum::http::{header, Method};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Reply, TestApp};

/// A running server; stops when dropped.
pub(crate) struct Socket {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `t`'s router on a fresh loopback port.
pub(crate) async fn serve(t: &TestApp) -> Socket {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(zart_api::serve(listener, t.app.clone(), shutdown));
    Socket {
        base,
        http: reqwest::Client::new(),
        stop: Some(stop),
    }
}

/// One request to send.
pub(crate) struct Call<'a> {
    method: Method,
    path: &'a str,
    body: Option<String>,
    headers: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    /// `method path`, no body, no headers.
    pub(crate) fn new(method: Method, path: &'a str) -> Self {
        Self {
            method,
            path,
            body: None,
            headers: Vec::new(),
        }
    }

    /// With a JSON body (and its content type).
    pub(crate) fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self.header(header::CONTENT_TYPE.as_str(), "application/json")
    }

    /// With `body` as is, declared as `content_type`.
    pub(crate) fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self.header(header::CONTENT_TYPE.as_str(), content_type)
    }

    /// With a header.
    pub(crate) fn header(mut self, name: &'a str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

impl Socket {
    /// Sends `call` and reads the whole answer.
    pub(crate) async fn send(&self, call: Call<'_>) -> Reply {
        let url = format!("{}{}", self.base, call.path);
        let mut request = self.http.request(call.method, url);
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = call.body {
            request = request.body(body);
        }
        let response = request.send().await.expect("the server answers");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("read the body"),
        }
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(Call::new(Method::GET, path)).await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Call::new(Method::POST, path).json(body)).await
    }

    /// `POST path` with no body.
    pub(crate) async fn post_empty(&self, path: &str) -> Reply {
        self.send(Call::new(Method::POST, path)).await
    }

    /// `DELETE path`.
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(Call::new(Method::DELETE, path)).await
    }
}
