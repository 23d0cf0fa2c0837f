//! Versions (`GET /services/data/`) and Resources by Version (`GET /services/data/vXX.X/`).
//!
//! Versions lists every version the instance serves, oldest first, each as
//! `{"label":"Winter '25","url":"/services/data/v62.0","version":"62.0"}`: the label is the
//! release's name (three a year: Spring, Summer, Winter, with Winter named after the coming year,
//! so v44.0 is Winter '19 and v62.0 Winter '25). Resources by Version maps each resource name to
//! its URL (REST API Developer Guide, "Versions" and "Resources by Version"); the `identity` entry
//! is an absolute URL, which jsforce's `identity()` follows.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haul_types::ApiVersion;
use serde_json::{Map, Value, json};

use crate::salesforce::errors;
use crate::salesforce::rest::{ORG_ID, USER_ID, VersionPath, instance_url};

/// The oldest version listed: the first with Bulk API 2.0 (ingest).
const OLDEST: ApiVersion = ApiVersion::BULK_V2_INGEST;

/// The release a major version shipped in: `Winter '25` for 62.
pub(super) fn release_label(major: u16) -> String {
    let since_winter_19 = i64::from(major) - 44;
    let season = ["Winter", "Spring", "Summer"][since_winter_19.rem_euclid(3) as usize];
    let year = 19 + since_winter_19.div_euclid(3);
    format!("{season} '{year:02}")
}

/// `GET /services/data/`: no session needed.
pub(super) async fn list() -> Response {
    let list: Vec<_> = (OLDEST.major()..=ApiVersion::LATEST.major())
        .map(|major| {
            let v = ApiVersion::new(major, 0);
            json!({
                "label": release_label(major),
                "url": format!("/services/data/v{v}"),
                "version": v.to_string(),
            })
        })
        .collect();
    errors::json(StatusCode::OK, &list)
}

/// The resources this simulator serves under a version, by the names the guide gives them.
const RESOURCES: &[(&str, &str)] = &[
    ("sobjects", "sobjects"),
    ("query", "query"),
    ("queryAll", "queryAll"),
    ("limits", "limits"),
    ("jobs", "jobs"),
];

/// `GET /services/data/vXX.X/`.
pub(super) async fn resources(Path(p): Path<VersionPath>, headers: HeaderMap) -> Response {
    if let Err(r) = errors::version(&p.version, OLDEST) {
        return r;
    }
    let mut map: Map<String, Value> = RESOURCES
        .iter()
        .map(|(name, path)| {
            let url = format!("/services/data/{}/{path}", p.version);
            ((*name).to_owned(), Value::String(url))
        })
        .collect();
    let identity = format!("{}/id/{ORG_ID}/{USER_ID}", instance_url(&headers));
    map.insert("identity".to_owned(), Value::String(identity));
    errors::json(StatusCode::OK, &map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_release() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(61), "Summer '24");
        assert_eq!(release_label(60), "Spring '24");
        assert_eq!(release_label(41), "Winter '18");
        assert_eq!(release_label(42), "Spring '18");
    }
}
