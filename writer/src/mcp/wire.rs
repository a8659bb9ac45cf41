//! The stdio wire of `dlg mcp`: newline-delimited JSON-RPC, checked line by line before the MCP
//! service sees it. A client may send anything, so every line is read into at most `limit`
//! bytes (the rest of a longer line is discarded as it streams past), and every line that is not
//! a message the service can take is answered with the JSON-RPC error the specification gives:
//! `-32700` for what is not JSON, `-32600` for what is not a request (an oversize line, a batch,
//! a repeated key, a shape the protocol does not have), `-32602` for tool arguments that are not
//! an object. The session goes on after each. Logs name the error code and the size only.

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// JSON-RPC 2.0's error codes.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const INVALID_PARAMS: i64 = -32602;
}

/// How a line read ended.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// A whole line (without its `\n`) is in the buffer.
    Line,
    /// The line had `.0` bytes, more than the limit; none of it was kept.
    TooLong(usize),
    /// The input ended.
    End,
}

/// Reads the next line into `line` (cleared first), keeping at most `limit` bytes.
async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
    line: &mut Vec<u8>,
) -> std::io::Result<Read> {
    line.clear();
    let mut length = 0usize;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(match length {
                0 => Read::End,
                n if n > limit => Read::TooLong(n),
                // A last line without its newline is still a line.
                _ => Read::Line,
            });
        }
        let (chunk, done) = match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        length = length.saturating_add(chunk.len());
        if length <= limit {
            line.extend_from_slice(chunk);
        } else if !line.is_empty() {
            // Over the limit: drop what was kept and keep nothing more of this line.
            *line = Vec::new();
        }
        let consumed = done.unwrap_or(buffer.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(if length > limit {
                Read::TooLong(length)
            } else {
                Read::Line
            });
        }
    }
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// What to do with one line: hand it to the service, or answer it with this error.
fn check(line: &[u8]) -> Result<(), Value> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let value: Value = dlg_core::command::parse_json(line).map_err(|e| {
        // A repeated key is well-formed JSON: answer it as an invalid request, with its id.
        if e.is_data() {
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            error(id, code::INVALID_REQUEST, format!("Invalid Request: {e}"))
        } else {
            error(
                Value::Null,
                code::PARSE_ERROR,
                format!(
                    "Parse error: the line is not JSON ({e}); send one JSON-RPC message per line"
                ),
            )
        }
    })?;
    let Some(object) = value.as_object() else {
        return Err(error(
            Value::Null,
            code::INVALID_REQUEST,
            if value.is_array() {
                "Invalid Request: batches are not accepted; send one JSON-RPC message per line"
                    .to_owned()
            } else {
                "Invalid Request: a message is a JSON object".to_owned()
            },
        ));
    };
    let id = object.get("id").cloned().unwrap_or(Value::Null);
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(error(
            id,
            code::INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"".to_owned(),
        ));
    }
    if object.get("method").and_then(Value::as_str) == Some("tools/call") {
        let params = object.get("params");
        let arguments = params.and_then(|p| p.get("arguments"));
        let named = params
            .and_then(|p| p.get("name"))
            .is_some_and(Value::is_string);
        if !named || arguments.is_some_and(|a| !a.is_object() && !a.is_null()) {
            return Err(error(
                id,
                code::INVALID_PARAMS,
                "Invalid params: tools/call takes {\"name\": the tool, \"arguments\": an object of its arguments}"
                    .to_owned(),
            ));
        }
    }
    if let Err(e) = serde_json::from_value::<rmcp::model::ClientJsonRpcMessage>(value) {
        return Err(error(
            id,
            code::INVALID_REQUEST,
            format!("Invalid Request: not an MCP message this server takes ({e})"),
        ));
    }
    Ok(())
}

/// Copies checked lines from `input` to `service`, and answers the others on `replies`. Ends
/// when `input` ends, closing `service` so the session ends too.
async fn filter<R, W>(input: R, mut service: W, replies: mpsc::Sender<Vec<u8>>, limit: usize)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = tokio::io::BufReader::with_capacity(1 << 16, input);
    let mut line = Vec::new();
    loop {
        let verdict = match next_line(&mut reader, limit, &mut line).await {
            Ok(Read::End) | Err(_) => break,
            Ok(Read::TooLong(length)) => Err(error(
                Value::Null,
                code::INVALID_REQUEST,
                format!(
                    "Invalid Request: the message is {length} bytes, over this server's limit of {limit} bytes; it was discarded (split the batch, or start dlg mcp with a larger --max-request-bytes)"
                ),
            )),
            Ok(Read::Line) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Read::Line) => check(&line),
        };
        match verdict {
            Ok(()) => {
                line.push(b'\n');
                if service.write_all(&line).await.is_err() || service.flush().await.is_err() {
                    break;
                }
            }
            Err(reply) => {
                tracing::debug!(
                    code = reply["error"]["code"].as_i64(),
                    bytes = line.len(),
                    "answered a message the MCP service cannot take"
                );
                let mut bytes = reply.to_string().into_bytes();
                bytes.push(b'\n');
                if replies.send(bytes).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = service.shutdown().await;
}

/// Forwards the service's lines to `replies`, one message per line.
async fn forward<R: AsyncRead + Unpin>(output: R, replies: mpsc::Sender<Vec<u8>>) {
    let mut reader = tokio::io::BufReader::new(output);
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if replies.send(line).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Writes every reply, whole, to `out`.
async fn write_all<W: AsyncWrite + Unpin>(mut out: W, mut replies: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = replies.recv().await {
        if out.write_all(&bytes).await.is_err() || out.flush().await.is_err() {
            break;
        }
    }
}

/// Connects a client's `input` and `output` to an MCP service: returns the stream the service
/// reads and writes, after starting the tasks that check what comes in and pass on what goes out,
/// and the task that writes to `output`, which ends once everything is written (await it before
/// exiting, so no reply is lost).
pub fn connect<R, W>(
    input: R,
    output: W,
    limit: usize,
) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (service_end, wire_end) = tokio::io::duplex(1 << 16);
    let (from_service, to_service) = tokio::io::split(wire_end);
    let (replies, queue) = mpsc::channel(16);
    let written = tokio::spawn(write_all(output, queue));
    tokio::spawn(forward(from_service, replies.clone()));
    tokio::spawn(filter(input, to_service, replies, limit));
    (service_end, written)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], limit: usize) -> Vec<(Read, Vec<u8>)> {
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let read = next_line(&mut reader, limit, &mut line).await.unwrap();
            if read == Read::End {
                return out;
            }
            out.push((read, line.clone()));
        }
    }

    #[tokio::test]
    async fn long_lines_are_measured_and_dropped_not_kept() {
        let got = lines(b"abc\n0123456789\nxy", 5).await;
        assert_eq!(
            got,
            vec![
                (Read::Line, b"abc".to_vec()),
                (Read::TooLong(10), Vec::new()),
                (Read::Line, b"xy".to_vec())
            ]
        );
    }

    #[test]
    fn every_unusable_line_gets_its_json_rpc_error() {
        let code_of = |line: &str| check(line.as_bytes()).unwrap_err()["error"]["code"].clone();
        assert_eq!(code_of("{not json"), json!(code::PARSE_ERROR));
        assert_eq!(code_of("[1, 2]"), json!(code::INVALID_REQUEST));
        assert_eq!(code_of("\"x\""), json!(code::INVALID_REQUEST));
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#),
            json!(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":[]}}"#
            ),
            json!(code::INVALID_PARAMS)
        );
        let reply =
            check(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":5}"#).unwrap_err();
        assert_eq!(reply["id"], 7);
        assert!(check(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).is_ok());
    }
}
