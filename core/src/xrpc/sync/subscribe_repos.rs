//! `com.atproto.sync.subscribeRepos`: the firehose over a websocket. Each event is one binary message
//! (the DAG-CBOR header and body, see [`crate::storage::events`]); an error is an error frame
//! (`{op: -1}` + `{error, message}`) followed by a close, as the reference PDS does it: a bad
//! `cursor` is `InvalidRequest`, a cursor beyond the newest event `FutureCursor`, a subscriber that
//! falls behind `ConsumerTooSlow`. The stream itself comes from [`crate::events`].

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use crate::events::{Sequencer, StreamError};
use crate::http::{AppState, XrpcError};
use crate::storage::events::encode_error_frame;

/// The largest message a subscriber may send (the stream is one-way; anything it sends is ignored).
pub const MAX_INCOMING_MESSAGE: usize = 16 * 1024;

/// How long a stream that is ending waits for its error frame and close to be written (the
/// reference server's websocket library gives a closing peer as long).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// GET `com.atproto.sync.subscribeRepos` (a websocket upgrade; `cursor` optional).
pub async fn handle(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return XrpcError::invalid_request(
            "com.atproto.sync.subscribeRepos is a subscription: open it as a websocket",
        )
        .into_response();
    };
    let cursor = match query {
        Ok(Query(params)) => parse_cursor(&params),
        Err(_) => Err("the query string is malformed".to_owned()),
    };
    let sequencer = state.sequencer.clone();
    upgrade
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE)
        .on_upgrade(move |socket| serve(socket, sequencer, cursor))
}

/// The `cursor` parameter: absent, or one integer.
fn parse_cursor(params: &[(String, String)]) -> Result<Option<i64>, String> {
    let mut cursors = params.iter().filter(|(name, _)| name == "cursor");
    let Some((_, value)) = cursors.next() else {
        return Ok(None);
    };
    if cursors.next().is_some() {
        return Err("cursor must be given once".to_owned());
    }
    value
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("cursor must be an integer: {value:?}"))
}

/// Runs one subscriber's connection until the stream ends or the subscriber leaves.
async fn serve(socket: WebSocket, sequencer: Sequencer, cursor: Result<Option<i64>, String>) {
    let (mut sink, mut incoming) = socket.split();
    let cursor = match cursor {
        Ok(cursor) => cursor,
        Err(message) => {
            let frame = encode_error_frame("InvalidRequest", Some(&message));
            finish(&mut sink, Some(frame), close_code::POLICY, "InvalidRequest").await;
            return;
        }
    };
    let mut subscription = tokio::select! {
        subscribed = sequencer.subscribe(cursor) => match subscribed {
            Ok(subscription) => subscription,
            Err(err) => return end(&mut sink, &err).await,
        },
        () = gone(&mut incoming) => return,
    };
    loop {
        let frame = tokio::select! {
            next = subscription.next() => next,
            () = gone(&mut incoming) => return,
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(err) => return end(&mut sink, &err).await,
        };
        // A subscriber that stops reading blocks this write; its queue then overflows and ends the
        // subscription, which this notices even while the write waits.
        let ended = tokio::select! {
            sent = sink.send(Message::Binary(frame)) => match sent {
                Ok(()) => None,
                Err(_) => return,
            },
            err = subscription.ended() => Some(err),
            () = gone(&mut incoming) => return,
        };
        if let Some(err) = ended {
            return end(&mut sink, &err).await;
        }
    }
}

/// Resolves when the subscriber closed the connection or it broke; ignores what it sends.
async fn gone(incoming: &mut SplitStream<WebSocket>) {
    loop {
        match incoming.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(_)) => {}
        }
    }
}

/// Ends the stream because of `err`: its error frame, then a close.
async fn end(sink: &mut SplitSink<WebSocket, Message>, err: &StreamError) {
    let code = match err {
        StreamError::ShuttingDown => close_code::AWAY,
        StreamError::Storage(_) => close_code::ERROR,
        _ => close_code::POLICY,
    };
    finish(sink, err.error_frame(), code, err.name()).await;
}

/// Sends `frame` (if any) and a close frame, giving up after [`CLOSE_TIMEOUT`].
async fn finish(
    sink: &mut SplitSink<WebSocket, Message>,
    frame: Option<Vec<u8>>,
    code: u16,
    reason: &'static str,
) {
    let closing = async {
        if let Some(frame) = frame {
            sink.send(Message::Binary(frame.into())).await?;
        }
        sink.send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await
    };
    if let Ok(Err(err)) = tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
        log::debug!("firehose: closing a stream failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_cursor_is_absent_or_one_integer() {
        assert_eq!(parse_cursor(&params(&[])), Ok(None));
        assert_eq!(parse_cursor(&params(&[("cursor", "42")])), Ok(Some(42)));
        assert_eq!(parse_cursor(&params(&[("cursor", "-1")])), Ok(Some(-1)));
        assert_eq!(
            parse_cursor(&params(&[("other", "x"), ("cursor", "0")])),
            Ok(Some(0))
        );
        for bad in ["", "abc", "1.5", "99999999999999999999", "0x10"] {
            assert!(parse_cursor(&params(&[("cursor", bad)])).is_err(), "{bad}");
        }
        assert!(parse_cursor(&params(&[("cursor", "1"), ("cursor", "2")])).is_err());
    }
}
