//! A finished task's results: as a stream, as bytes, as text, or as typed JSON rows.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use haul_client::looker_query_tasks::ByteStream;
use haul_types::LookerResultFormat;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

const OPERATION: &str = "query_task_results";

/// The results of one finished task, held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResults {
    task_id: String,
    format: LookerResultFormat,
    body: Bytes,
}

impl QueryResults {
    pub(crate) fn new(task_id: String, format: LookerResultFormat, body: Bytes) -> Self {
        Self {
            task_id,
            format,
            body,
        }
    }

    /// The task that produced them.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The format they are rendered in.
    pub fn format(&self) -> &LookerResultFormat {
        &self.format
    }

    /// The results as Looker rendered them.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The results as Looker rendered them, without a copy.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The results as text (csv, txt, json, md, html, sql); an error if they are not UTF-8 (xlsx).
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|e| {
            Error::invalid_response(
                OPERATION,
                format!("{} results are not UTF-8 text: {e}", self.format),
            )
        })
    }

    /// The rows deserialised into `T` by field name (`view.field`), for the JSON formats: `json` and
    /// `inline_json` (an array of rows), `json_bi` (its `rows`) and `json_detail` (the `value` of each
    /// cell of its `data`).
    pub fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let unreadable = |e: serde_json::Error| {
            Error::invalid_response(OPERATION, format!("{} rows: {e}", self.format))
        };
        match &self.format {
            LookerResultFormat::Json | LookerResultFormat::InlineJson => {
                serde_json::from_slice(&self.body).map_err(unreadable)
            }
            LookerResultFormat::JsonBi => {
                #[derive(Deserialize)]
                struct Bi<T> {
                    rows: Vec<T>,
                }
                Ok(serde_json::from_slice::<Bi<T>>(&self.body)
                    .map_err(unreadable)?
                    .rows)
            }
            LookerResultFormat::JsonDetail => detail_rows(&self.body).map_err(unreadable),
            other => Err(Error::invalid_input(format!(
                "rows() reads the JSON result formats; task {} renders {other}",
                self.task_id
            ))),
        }
    }
}

/// `json_detail` rows are `{field: {value, rendered, links...}}`; keep each cell's `value`.
fn detail_rows<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<Vec<T>> {
    #[derive(Deserialize)]
    struct Detail {
        data: Vec<BTreeMap<String, Cell>>,
    }
    #[derive(Deserialize)]
    struct Cell {
        #[serde(default)]
        value: Value,
    }
    serde_json::from_slice::<Detail>(body)?
        .data
        .into_iter()
        .map(|row| {
            let object = row.into_iter().map(|(k, cell)| (k, cell.value)).collect();
            serde_json::from_value(Value::Object(object))
        })
        .collect()
}

/// The results of a task that one wait found finished; still on the wire unless the format had to
/// be read to find out whether the task succeeded (`json_detail`).
pub struct TaskResults {
    task_id: String,
    format: LookerResultFormat,
    body: Body,
}

pub(crate) enum Body {
    Buffered(Bytes),
    Streaming(ByteStream),
}

impl std::fmt::Debug for TaskResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskResults")
            .field("task_id", &self.task_id)
            .field("format", &self.format)
            .field("buffered", &matches!(self.body, Body::Buffered(_)))
            .finish()
    }
}

impl TaskResults {
    pub(crate) fn new(task_id: String, format: LookerResultFormat, body: Body) -> Self {
        Self {
            task_id,
            format,
            body,
        }
    }

    /// The task that produced them.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The format they are rendered in.
    pub fn format(&self) -> &LookerResultFormat {
        &self.format
    }

    /// The results as they arrive, chunk by chunk (memory stays bounded whatever their size).
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + Unpin + 'static {
        match self.body {
            Body::Buffered(bytes) => futures::stream::iter([Ok(bytes)]).boxed(),
            Body::Streaming(stream) => stream
                .into_inner()
                .map_err(|e| Error::transport(OPERATION, e))
                .boxed(),
        }
    }

    /// Reads the results into memory.
    pub async fn read(self) -> Result<QueryResults> {
        let (task_id, format) = (self.task_id.clone(), self.format.clone());
        let body = match self.body {
            Body::Buffered(bytes) => bytes,
            Body::Streaming(_) => {
                let mut stream = self.into_stream();
                let mut buffer = BytesMut::new();
                while let Some(chunk) = stream.try_next().await? {
                    buffer.extend_from_slice(&chunk);
                }
                buffer.freeze()
            }
        };
        Ok(QueryResults::new(task_id, format, body))
    }
}

/// A multi_results `data` as the results endpoint would have sent it: text formats arrive as one
/// JSON string, JSON formats as the JSON itself (re-serialised).
pub(crate) fn body_from_data(data: Value) -> Bytes {
    match data {
        Value::String(text) => Bytes::from(text),
        other => Bytes::from(serde_json::to_vec(&other).unwrap_or_default()),
    }
}

/// Looker's explanation of a failed query inside a result body: `json_detail`'s `errors`, the simple
/// `error`, or the `looker_error` of `json_bi` rows.
pub(crate) fn failure_message(data: &Value) -> Option<String> {
    if let Some(first) = data
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        let message = first.get("message").and_then(Value::as_str).unwrap_or("");
        return Some(match first.get("message_details").and_then(Value::as_str) {
            Some(details) if !details.is_empty() => format!("{message} ({details})"),
            _ => message.to_owned(),
        });
    }
    if let Some(error) = data.get("error").and_then(Value::as_str) {
        return Some(error.to_owned());
    }
    data.get("rows")?
        .as_array()?
        .iter()
        .find_map(|row| row.get("looker_error")?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        #[serde(rename = "orders.status")]
        status: String,
        #[serde(rename = "orders.count")]
        count: u64,
    }

    fn results(format: LookerResultFormat, body: Value) -> QueryResults {
        QueryResults::new("t".into(), format, body_from_data(body))
    }

    #[test]
    fn rows_are_read_from_every_json_format() {
        let row = json!({"orders.status": "Complete", "orders.count": 3});
        let expected = vec![Row {
            status: "Complete".into(),
            count: 3,
        }];
        let json_rows = results(LookerResultFormat::Json, json!([row]));
        assert_eq!(json_rows.rows::<Row>().unwrap(), expected);
        let bi = results(
            LookerResultFormat::JsonBi,
            json!({"metadata": {}, "rows": [row]}),
        );
        assert_eq!(bi.rows::<Row>().unwrap(), expected);
        let detail = results(
            LookerResultFormat::JsonDetail,
            json!({"data": [{"orders.status": {"value": "Complete"}, "orders.count": {"value": 3, "rendered": "3"}}]}),
        );
        assert_eq!(detail.rows::<Row>().unwrap(), expected);
        let csv = results(LookerResultFormat::Csv, json!("Orders Status\nComplete\n"));
        assert_eq!(csv.text().unwrap(), "Orders Status\nComplete\n");
        assert!(csv.rows::<Row>().unwrap_err().to_string().contains("csv"));
    }

    #[test]
    fn failure_messages_are_found_in_every_shape() {
        let detail = json!({"errors": [{"message": "bad column", "message_details": "line 1"}]});
        assert_eq!(
            failure_message(&detail).as_deref(),
            Some("bad column (line 1)")
        );
        let simple = json!({"id": "t", "error": "syntax error", "sql": ""});
        assert_eq!(failure_message(&simple).as_deref(), Some("syntax error"));
        let bi = json!({"rows": [{"looker_error": "timeout"}]});
        assert_eq!(failure_message(&bi).as_deref(), Some("timeout"));
        assert_eq!(
            failure_message(&json!({"data": [], "errors": []})),
            None,
            "an empty list is no error"
        );
    }
}
