//! The HTTP server: the router served by hyper on every accepted connection, HTTP/1.1 or h2c,
//! as `axum::serve` does, plus two deadlines it does not set, so a client that trickles its
//! request a byte at a time (slowloris) is cut off instead of holding a connection forever: the
//! request's head must arrive within [`Deadlines::head`] of starting it, and its body may not
//! pause for longer than [`Deadlines::body_idle`] nor, as a whole, arrive slower than
//! [`Deadlines::body_min_rate`] (as Apache's `mod_reqtimeout` does: a byte every 29 s never
//! pauses for 30 s, yet would hold a connection for days).

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
    /// Bytes a second the body must average: once the server starts waiting for it, the whole
    /// body has `body_idle` plus one second for every `body_min_rate` bytes received.
    pub body_min_rate: u32,
}

impl Deadlines {
    pub const PRODUCTION: Deadlines =
        Deadlines { head: Duration::from_secs(30), body_idle: Duration::from_secs(30), body_min_rate: 500 };
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
    // Tells connections still waiting for their first byte to give up: they hold a watcher,
    // which the graceful shutdown would otherwise wait for until their deadline.
    let (stopping, stop_waiting) = tokio::sync::watch::channel(false);
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
            let mut request = request.map(|body| Body::new(DeadlineBody::new(body, deadlines)));
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let (builder, watcher, mut stop_waiting) =
            (builder.clone(), graceful.watcher(), stop_waiting.clone());
        tokio::spawn(async move {
            // hyper's head timer starts at a request's first byte: a connection that never
            // sends one would be held for ever.
            let mut first = [0; 1];
            let first_byte = tokio::time::timeout(deadlines.head, stream.peek(&mut first));
            tokio::select! {
                waited = first_byte => if waited.is_err() { return },
                _ = stop_waiting.changed() => return,
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    graceful.shutdown().await;
}

/// A request body that fails once the server has waited [`Deadlines::body_idle`] for its next
/// piece, or once it falls behind [`Deadlines::body_min_rate`]. Its size and end are passed on
/// as they are, so a body limit and an empty body are seen as before.
struct DeadlineBody {
    body: Incoming,
    deadlines: Deadlines,
    /// Set when the first wait for the body begins (so a request without a body costs
    /// nothing), and reset at the start of every later wait.
    timer: Option<Pin<Box<Sleep>>>,
    /// When the first wait began: the rate is measured from there.
    first_wait: Option<Instant>,
    received: u64,
    waiting: bool,
}

impl DeadlineBody {
    fn new(body: Incoming, deadlines: Deadlines) -> Self {
        Self { body, deadlines, timer: None, first_wait: None, received: 0, waiting: false }
    }

    /// The deadline of a wait beginning `now`: the sooner of the pause's and the rate's.
    fn deadline(&mut self, now: Instant) -> Instant {
        let Deadlines { body_idle, body_min_rate, .. } = self.deadlines;
        let first = *self.first_wait.get_or_insert(now);
        let earned = Duration::from_secs(self.received / u64::from(body_min_rate.max(1)));
        (now + body_idle).min(first + body_idle + earned)
    }

    /// The timer of the current wait, set to its deadline when the wait begins: the clock is
    /// read once per wait, not on every poll of it.
    fn wait_timer(&mut self) -> Pin<&mut Sleep> {
        if !std::mem::replace(&mut self.waiting, true) {
            let deadline = self.deadline(Instant::now());
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        // Set above when this wait began.
        self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now()))).as_mut()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the client sent the request body too slowly: a pause over {0:?}, or under {1} bytes a second")]
struct BodyTooSlow(Duration, u32);

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = false;
            if let Some(Ok(frame)) = &frame {
                this.received += frame.data_ref().map_or(0, |data| data.len() as u64);
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        match this.wait_timer().poll(cx) {
            Poll::Ready(()) => {
                let Deadlines { body_idle, body_min_rate, .. } = this.deadlines;
                Poll::Ready(Some(Err(BodyTooSlow(body_idle, body_min_rate).into())))
            }
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
            spawn_echo(Deadlines { head: Duration::from_millis(300), ..Deadlines::PRODUCTION }).await;

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
    async fn a_connection_that_never_sends_a_byte_is_closed() {
        let address =
            spawn_echo(Deadlines { head: Duration::from_millis(300), ..Deadlines::PRODUCTION }).await;
        let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
        let answer = read_answer(&mut silent).await.expect("the server still holds the connection");
        assert!(answer.is_empty(), "{answer}");
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_is_cut_off() {
        let address =
            spawn_echo(Deadlines { body_idle: Duration::from_millis(300), ..Deadlines::PRODUCTION }).await;

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

    /// Sends `body` (declared whole in `Content-Length`) a byte every `every`; how long the server
    /// took to end the connection, and what it answered.
    async fn trickle(
        address: std::net::SocketAddr,
        body: &'static [u8],
        every: Duration,
    ) -> (Duration, String) {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        // The task's output keeps the writing half open until the answer is read: dropping
        // it would half-close the connection, which the server takes as the client leaving.
        let _writing = tokio::spawn(async move {
            for byte in body {
                tokio::time::sleep(every).await;
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
            }
            writer
        });
        let started = Instant::now();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut answer)).await;
        (started.elapsed(), String::from_utf8_lossy(&answer).into_owned())
    }

    #[tokio::test]
    async fn a_body_trickled_slower_than_the_least_rate_is_cut_off_though_it_never_pauses() {
        let deadlines =
            Deadlines { body_idle: Duration::from_millis(500), body_min_rate: 20, ..Deadlines::PRODUCTION };
        let address = spawn_echo(deadlines).await;

        // 10 bytes a second, never pausing half a second: the whole would take 10 s.
        let (took, answer) = trickle(address, &[b'x'; 100], Duration::from_millis(100)).await;
        assert!(took < Duration::from_secs(5), "held for {took:?}: {answer}");
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 400"), "{answer}");

        // 50 bytes a second for 0.6 s, longer than one pause may last: served.
        let (_, answer) = trickle(address, &[b'y'; 30], Duration::from_millis(20)).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with(&"y".repeat(30)), "{answer}");
    }
}
