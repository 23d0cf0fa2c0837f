//! The REST API's `queryAll` as a download source, for the objects the Bulk API cannot serve: the
//! batches, followed by `nextRecordsUrl`, become one partition of CSV in the Bulk API's dialect
//! (every value quoted, null as an empty unquoted field), its rows checked against `totalSize`.
//!
//! Values are written as the REST API sends them: text as is, booleans `true`/`false`, numbers in
//! JSON's notation, date-times with `+0000` (which every format reads as the Bulk API's `Z`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Salesforce;
use crate::download::SourceKey;
use crate::download::source::{Answer, Listing, Partition, Plan, Source};
use crate::error::Result;
use crate::retry::RetryPolicy;
use crate::salesforce::rest::{QueryBatch, Row};

/// A `queryAll` of `soql`, its columns the `fields` it selects.
pub(super) struct RestRows {
    sf: Salesforce,
    soql: String,
    fields: Vec<String>,
    /// `totalSize` once the first batch answered.
    total: Arc<Mutex<Option<u64>>>,
}

impl RestRows {
    pub(super) fn new(sf: Salesforce, soql: String, fields: Vec<String>) -> Self {
        Self {
            sf,
            soql,
            fields,
            total: Arc::default(),
        }
    }

    fn header(&self) -> Vec<u8> {
        let mut line = Vec::new();
        for (index, field) in self.fields.iter().enumerate() {
            if index > 0 {
                line.push(b',');
            }
            quoted(&mut line, field);
        }
        line.push(b'\n');
        line
    }
}

impl Source for RestRows {
    fn key(&self) -> SourceKey {
        // The query names the results; REST query locators expire, so there is no job to name.
        let digest: String = Sha256::digest(self.soql.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        SourceKey::new(
            "salesforce-rest-query-all",
            &digest,
            Some(self.sf.api_version().to_string()),
        )
    }

    fn describe(&self) -> String {
        "REST queryAll".to_owned()
    }

    fn query(&self) -> Option<String> {
        Some(self.soql.clone())
    }

    fn delimiter(&self) -> Result<u8> {
        Ok(b',')
    }

    fn retry_policy(&self) -> &RetryPolicy {
        self.sf.retry_policy()
    }

    fn partition_noun(&self) -> &'static str {
        "result"
    }

    fn declared_by(&self) -> &'static str {
        "totalSize"
    }

    fn expected_rows(&self) -> Option<u64> {
        *self.total.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move { Ok(self.expected_rows()) })
    }

    fn listing(&self, _plan: Plan) -> Result<Listing> {
        Ok(Listing::Chained)
    }

    fn fetch<'a>(
        &'a self,
        _partition: &'a Partition,
        _plan: Plan,
    ) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let mut batches = self.sf.query_all(self.soql.clone()).batches();
            let first = batches.try_next().await?;
            let total = first.as_ref().map_or(0, |b| b.total_size);
            *self.total.lock().unwrap_or_else(|e| e.into_inner()) = Some(total);
            let fields = Arc::new(self.fields.clone());
            let header =
                futures::stream::once(futures::future::ready(Ok(Bytes::from(self.header()))));
            let rest = futures::stream::iter(first.map(Ok))
                .chain(batches)
                .map_ok(move |batch| csv_of(&batch, &fields));
            Ok(Answer {
                body: header.chain(rest).boxed(),
                declared_rows: Some(total),
                next: None,
            })
        })
    }
}

/// A batch's records as CSV rows of `fields`.
fn csv_of(batch: &QueryBatch, fields: &[String]) -> Bytes {
    let mut out = Vec::new();
    for record in &batch.records {
        row(&mut out, record, fields);
    }
    Bytes::from(out)
}

fn row(out: &mut Vec<u8>, record: &Row, fields: &[String]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let value = record
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, value)| value);
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => quoted(out, text),
            Some(Value::Bool(flag)) => quoted(out, if *flag { "true" } else { "false" }),
            Some(Value::Number(number)) => quoted(out, &number.to_string()),
            Some(other) => quoted(out, &other.to_string()),
        }
    }
    out.push(b'\n');
}

fn quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_quoted_csv_with_nulls_empty() {
        let record: Row = serde_json::from_value(serde_json::json!({
            "attributes": {"type": "AccountFeed"},
            "Id": "0D5000000000001AAA",
            "Body": "say \"hi\"\nthere",
            "IsDeleted": false,
            "Count": 3,
            "ParentId": null,
        }))
        .unwrap();
        let fields: Vec<String> = ["Id", "Body", "IsDeleted", "Count", "ParentId", "Missing"]
            .map(String::from)
            .to_vec();
        let mut out = Vec::new();
        row(&mut out, &record, &fields);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"0D5000000000001AAA\",\"say \"\"hi\"\"\nthere\",\"false\",\"3\",,\n"
        );
    }
}
