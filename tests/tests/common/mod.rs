//! What the object-store tests (`store.rs` and `store_faults.rs` on moto's S3, `azure.rs` on
//! Azurite) share: the job they download, the client of haul-sim, and the checks of what lands;
//! moto's server (`moto`) and a fault-injecting proxy to put in front of it (`fault_proxy`).

#![allow(dead_code, unreachable_pub)]

pub mod fault_proxy;
pub mod moto;

use std::path::{Path, PathBuf};

use haul::Salesforce;
use haul::auth::AccessToken;
use haul::download::{DownloadBuilder, Manifest};
use haul::salesforce::query::CompletedQueryJob;
use haul_sim::Sim;
use sha2::{Digest, Sha256};

pub const SOQL: &str = "SELECT Id, Name FROM Account";

/// The text of every `<name>` element of an XML answer.
pub fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next().map(str::to_owned))
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An empty folder `name` under the test target's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client of `sim`, with or without gzip on the wire.
pub fn client(sim: &Sim, gzip: bool) -> Salesforce {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .gzip(gzip)
        .build()
        .unwrap()
}

/// [`SOQL`]'s bulk job, complete.
pub async fn finished_job(sf: &Salesforce) -> CompletedQueryJob {
    sf.bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

/// The job's download as these tests make it: pages of 50,000 rows, 4 at a time.
pub fn pages(job: &CompletedQueryJob) -> DownloadBuilder {
    job.download()
        .max_records(50_000)
        .concurrency(4)
        .query(SOQL)
}

pub fn manifest_of(bytes: &[u8]) -> Manifest {
    serde_json::from_slice(bytes).unwrap()
}

/// Checks each file a manifest lists against the bytes read back from the store (by the name the
/// manifest gives it, relative to its folder).
pub fn check_manifest_files(manifest: &Manifest, read: &[(String, Vec<u8>)]) {
    assert_eq!(read.len(), manifest.files.len());
    for (file, (name, bytes)) in manifest.files.iter().zip(read) {
        assert_eq!(&file.path, name);
        assert_eq!(file.sha256, sha256(bytes), "{name}");
        assert_eq!(file.bytes, bytes.len() as u64, "{name}");
    }
    assert_eq!(
        manifest.rows,
        manifest.files.iter().map(|f| f.rows).sum::<u64>()
    );
}
