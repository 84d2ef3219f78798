//! The HTTP server: the router served by hyper on every accepted connection, HTTP/1.1 or h2c,
//! as `axum::serve` does, plus two deadlines it does not set, so a client that trickles its
//! request a byte at a time (slowloris) is cut off instead of holding a connection forever: the
//! request's head must arrive within [`Deadlines::head`] of starting it, and its body may not
//! pause for longer than [`Deadlines::body_idle`].

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tower::{Service, ServiceExt};

/// How long a client may take over the parts of its request.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// To send the request line and headers.
    pub head: Duration,
    /// Between two pieces of the body, while the server waits for it.
    pub body_idle: Duration,
}

impl Deadlines {
    pub const PRODUCTION: Deadlines =
        Deadlines { head: Duration::from_secs(30), body_idle: Duration::from_secs(30) };
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the requests in flight.
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve<S>(listener: TcpListener, app: S, deadlines: Deadlines, shutdown: impl Future<Output = ()>)
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(deadlines.head);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(|body| Body::new(IdleDeadlineBody::new(body, deadlines.body_idle)));
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body that fails once the server has waited `idle` for its next piece. Its size
/// and end are passed on as they are, so a body limit and an empty body are seen as before.
struct IdleDeadlineBody {
    body: Incoming,
    idle: Duration,
    /// Set when a wait for the body begins (made on the first, so a request without a body
    /// costs nothing), cleared when a piece arrives.
    deadline: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl IdleDeadlineBody {
    fn new(body: Incoming, idle: Duration) -> Self {
        Self { body, idle, deadline: None, waiting: false }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing of the request body for {0:?}")]
struct BodyIdle(Duration);

impl hyper::body::Body for IdleDeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        let idle = this.idle;
        let sleep = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        // The clock is read once per wait, when it begins, not on every poll of it.
        if !std::mem::replace(&mut this.waiting, true) {
            sleep.as_mut().reset(Instant::now() + idle);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyIdle(this.idle).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// `/` answering its body (or "ok") behind [`serve`] with `deadlines`; its address.
    async fn spawn_echo(deadlines: Deadlines) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let echo = |body: Bytes| async move { if body.is_empty() { Bytes::from("ok") } else { body } };
        let app = axum::Router::new().route("/", axum::routing::get(echo).post(echo));
        tokio::spawn(serve(listener, app, deadlines, std::future::pending()));
        address
    }

    /// Everything the server sends on `stream` until it closes it, or `None` after 10 s.
    async fn read_answer(stream: &mut tokio::net::TcpStream) -> Option<String> {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        read.ok().map(|_| String::from_utf8_lossy(&answer).into_owned())
    }

    #[tokio::test]
    async fn a_request_head_that_never_ends_is_cut_off() {
        let address =
            spawn_echo(Deadlines { head: Duration::from_millis(300), body_idle: Duration::from_secs(60) })
                .await;

        let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a").await.unwrap();
        let answer = read_answer(&mut slow).await.expect("the server still holds the connection");
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");

        let mut quick = tokio::net::TcpStream::connect(address).await.unwrap();
        quick.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = read_answer(&mut quick).await.unwrap_or_default();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_is_cut_off() {
        let address =
            spawn_echo(Deadlines { head: Duration::from_secs(60), body_idle: Duration::from_millis(300) })
                .await;

        let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
        slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc").await.unwrap();
        let answer = read_answer(&mut slow).await.expect("the server still waits for the body");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

        // A body that comes whole, even in pieces, is served.
        let mut steady = tokio::net::TcpStream::connect(address).await.unwrap();
        steady
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nab")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        steady.write_all(b"cd").await.unwrap();
        let answer = read_answer(&mut steady).await.unwrap_or_default();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("abcd"), "{answer}");
    }
}
