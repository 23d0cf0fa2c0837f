//! A multipart upload to an object store that is aborted whatever fails.
//!
//! object_store's `WriteMultipart` cuts the bytes into parts and sends them; but its `finish`
//! aborts the upload only when completing it fails. When a part fails while `finish` sends the
//! last one or waits for those in flight, it returns that failure and drops the upload, and the
//! store keeps the parts that landed (S3 until a lifecycle rule removes them). So
//! [`Multipart`] keeps a second handle on the upload ([`Shared`]) and aborts through it when
//! `finish` fails.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{
    MultipartUpload, ObjectStore, PutPayload, PutResult, UploadPart, WriteMultipart,
};

/// One multipart upload, fed in order.
#[derive(Debug)]
pub(crate) struct Multipart {
    writer: WriteMultipart,
    upload: Shared,
}

impl Multipart {
    /// Starts the upload of `path`, in parts of `chunk` bytes.
    pub(crate) async fn start(
        store: &dyn ObjectStore,
        path: &ObjectPath,
        chunk: usize,
    ) -> object_store::Result<Self> {
        let upload = Shared::new(store.put_multipart(path).await?);
        let writer = WriteMultipart::new_with_chunk_size(Box::new(upload.clone()), chunk);
        Ok(Self { writer, upload })
    }

    /// Waits until fewer than `parts` parts are in flight; fails with the first part that failed.
    pub(crate) async fn wait_for_capacity(&mut self, parts: usize) -> object_store::Result<()> {
        self.writer.wait_for_capacity(parts).await
    }

    /// Adds bytes, sending each part as it fills.
    pub(crate) fn put(&mut self, bytes: Bytes) {
        self.writer.put(bytes);
    }

    /// Sends the last part, waits for every part, completes the upload; on failure, the upload
    /// is aborted.
    pub(crate) async fn finish(self) -> object_store::Result<PutResult> {
        let upload = self.upload.clone();
        let error = match self.writer.finish().await {
            Ok(done) => return Ok(done),
            Err(error) => error,
        };
        if let Err(abort) = upload.abort_once().await {
            tracing::warn!(error = %abort, "aborting a multipart upload after its failure failed");
        }
        Err(error)
    }

    /// Aborts the upload: the parts in flight are dropped, and so are those the store holds.
    pub(crate) async fn abort(self) -> object_store::Result<()> {
        self.writer.abort().await
    }
}

/// The store client's upload, shared by the `WriteMultipart` that feeds it and the [`Multipart`]
/// that may have to abort it after the writer is gone. Completed or aborted at most once.
#[derive(Debug, Clone)]
struct Shared(Arc<tokio::sync::Mutex<Inner>>);

#[derive(Debug)]
struct Inner {
    upload: Box<dyn MultipartUpload>,
    ended: bool,
}

impl Shared {
    fn new(upload: Box<dyn MultipartUpload>) -> Self {
        Self(Arc::new(tokio::sync::Mutex::new(Inner {
            upload,
            ended: false,
        })))
    }

    /// Aborts the upload unless it was completed or aborted already.
    async fn abort_once(&self) -> object_store::Result<()> {
        let mut inner = self.0.lock().await;
        if std::mem::replace(&mut inner.ended, true) {
            return Ok(());
        }
        inner.upload.abort().await
    }
}

#[async_trait]
impl MultipartUpload for Shared {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        // The writer starts parts one at a time, and completes or aborts only after it has
        // started the last; [`Multipart::finish`] aborts only after the writer is gone. So the
        // lock is free here, and a part that found it taken reports it rather than wait.
        match self.0.try_lock() {
            Ok(mut inner) => inner.upload.put_part(data),
            Err(_) => Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "multipart",
                    source: "a part was started while the upload was ending".into(),
                })
            }),
        }
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let mut inner = self.0.lock().await;
        // A completion that failed leaves the upload to abort (the writer aborts it).
        let done = inner.upload.complete().await;
        inner.ended = done.is_ok();
        done
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.abort_once().await
    }
}
