//! Response bodies that can be large: CSV pages generated chunk by chunk (memory stays bounded
//! whatever the page size), optionally gzipped on the fly.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;
use bytes::{Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::shared::csv::Dialect;
use crate::shared::data::query::ResultSet;

/// Bytes generated before a chunk is handed to the connection.
const CHUNK: usize = 128 * 1024;
/// Rows rendered between checks of the chunk size.
const ROWS_PER_STEP: u64 = 64;

/// Whether the request asked for gzip (`Accept-Encoding` lists `gzip` with a non-zero q).
pub(crate) fn wants_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or_default();
                let refused =
                    parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
                coding.eq_ignore_ascii_case("gzip") && !refused
            })
        })
}

/// Gzips a small body in one go.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

struct Page {
    rows: Arc<ResultSet>,
    /// Rows are rendered here, then copied into `out`; both keep their memory between chunks.
    scratch: Vec<u8>,
    /// Chunks are split off this buffer; once the connection has sent a chunk, its space is reused.
    out: BytesMut,
    dialect: Dialect,
    position: u64,
    end: u64,
    header: bool,
    encoder: Option<GzEncoder<Vec<u8>>>,
    finished: bool,
}

impl Page {
    /// The next chunk, or `None` when the page is complete.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        if self.header {
            self.rows.write_header(&mut buf, self.dialect);
            self.header = false;
        }
        while self.position < self.end && buf.len() < CHUNK {
            let step_end = (self.position + ROWS_PER_STEP).min(self.end);
            self.rows
                .write_rows(&mut buf, self.dialect, self.position, step_end);
            self.position = step_end;
        }
        let done = self.position >= self.end;
        let Some(encoder) = self.encoder.as_mut() else {
            self.finished = done;
            self.out.reserve(buf.len());
            self.out.extend_from_slice(&buf);
            self.scratch = buf;
            return Some(self.out.split().freeze());
        };
        let _ = encoder.write_all(&buf);
        self.scratch = buf;
        if done {
            self.finished = true;
            let encoder = self.encoder.take()?;
            return Some(Bytes::from(encoder.finish().unwrap_or_default()));
        }
        Some(Bytes::from(std::mem::take(encoder.get_mut())))
    }
}

/// A page of CSV: the header row, then rows `start..end` of the result set.
pub(crate) fn csv_page(
    rows: Arc<ResultSet>,
    dialect: Dialect,
    start: u64,
    end: u64,
    gzip: bool,
) -> Body {
    let page = Page {
        rows,
        scratch: Vec::with_capacity(CHUNK + 8 * 1024),
        out: BytesMut::with_capacity(4 * CHUNK),
        dialect,
        position: start,
        end,
        header: true,
        encoder: gzip.then(|| GzEncoder::new(Vec::with_capacity(CHUNK / 2), Compression::fast())),
        finished: false,
    };
    let stream = futures::stream::unfold(page, |mut page| async move {
        page.next_chunk()
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), page))
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_accept_encoding() {
        let mut headers = HeaderMap::new();
        assert!(!wants_gzip(&headers));
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, GZIP;q=0.8"),
        );
        assert!(wants_gzip(&headers));
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(!wants_gzip(&headers));
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        assert!(!wants_gzip(&headers));
    }
}
