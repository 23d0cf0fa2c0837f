//! A spool file as an upload body that is streamed yet declares its length, so the PUT carries a
//! `Content-Length` (as the vendor's examples do) rather than chunked transfer encoding.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::Stream;
use haul_client::reqwest;
use http_body::{Frame, SizeHint};
use tokio_util::io::ReaderStream;

use crate::error::{Error, Result};

const READ_SIZE: usize = 256 * 1024;

/// Opens `path` as a request body of its current length.
pub(crate) async fn file_body(path: &Path) -> Result<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let length = file.metadata().await.map_err(|e| Error::io(path, e))?.len();
    Ok(reqwest::Body::wrap(SizedFile {
        stream: ReaderStream::with_capacity(file, READ_SIZE),
        remaining: length,
    }))
}

struct SizedFile {
    stream: ReaderStream<tokio::fs::File>,
    remaining: u64,
}

impl http_body::Body for SizedFile {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        match ready!(Pin::new(&mut this.stream).poll_next(cx)) {
            Some(Ok(bytes)) => {
                this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Some(Err(error)) => Poll::Ready(Some(Err(error))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;

    use super::*;

    #[tokio::test]
    async fn the_body_declares_the_file_length_and_yields_its_bytes() {
        let path = std::env::temp_dir().join(format!("haul-upload-body-{}", std::process::id()));
        let data = vec![b'x'; READ_SIZE + 10];
        std::fs::write(&path, &data).unwrap();
        let mut body = file_body(&path).await.unwrap();
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut read = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            read.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(read, data);
        std::fs::remove_file(&path).unwrap();
    }
}
