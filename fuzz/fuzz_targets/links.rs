//! Fuzzes the handling of links a server hands back (`resultPages`' `resultLink`/`nextRecordsUrl`, a
//! job listing's `nextRecordsUrl`), job ids, and the request a locator ends up in.
//!
//! Properties: nothing panics; a job id is accepted only when it can go into a URL path as it is; a
//! link is accepted only when it stays on the instance's origin and names this job's endpoint; and
//! the results request built from an accepted locator, exactly as the generated client builds it
//! (`encode_path` for the id, `QueryParam` for the locator), stays on the origin and this job's path,
//! carries the locator percent-encoded (no `/`, `?`, `#`, `&` or other reserved byte left as is) and
//! gives back the same locator when parsed.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use haul::fuzzing;
use haul::types::SalesforceId;
use haul_client::progenitor_client::{QueryParam, encode_path};
use haul_client::reqwest;
use libfuzzer_sys::fuzz_target;
use url::Url;

const JOB: &str = "750R0000000zlh9IAA";

#[derive(Debug, Arbitrary)]
struct Input {
    /// A job id as a server or a user might give it.
    id: String,
    /// The link, or its tail after a plausible prefix.
    link: String,
    prefix: Prefix,
    instance: Instance,
    next_page: bool,
}

/// Beginnings that bring the fuzzer near the accepted forms.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Prefix {
    None,
    Results,
    ResultPages,
    Versioned,
    Absolute,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Instance {
    Https,
    HttpLoopback,
    WithPath,
}

impl Instance {
    fn url(self) -> Url {
        let text = match self {
            Self::Https => "https://acme.my.salesforce.com",
            Self::HttpLoopback => "http://127.0.0.1:8787",
            Self::WithPath => "https://acme.my.salesforce.com/services/data/v62.0/",
        };
        Url::parse(text).expect("a valid instance URL")
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

fuzz_target!(|input: Input| {
    check_id(&input.id);
    let instance = input.instance.url();
    let link = match input.prefix {
        Prefix::None => input.link.clone(),
        Prefix::Results => format!("/jobs/query/{JOB}/results?locator={}", input.link),
        Prefix::ResultPages => format!("/jobs/query/{JOB}/resultPages?locator={}", input.link),
        Prefix::Versioned => format!("/services/data/v62.0/jobs/query/{JOB}/{}", input.link),
        Prefix::Absolute => format!("{}{}", instance.as_str(), input.link),
    };
    let job: SalesforceId = JOB.parse().expect("a valid id");
    let endpoint = if input.next_page {
        "resultPages"
    } else {
        "results"
    };
    if let Ok(locator) = fuzzing::locator_from_link(&link, &instance, &job, endpoint) {
        let joined = instance.join(&link).expect("an accepted link is a URL");
        assert_eq!(joined.origin(), instance.origin(), "accepted {link:?}");
        if let Some(locator) = locator {
            check_request(&instance, &job, &locator);
        }
    }
    if let Ok(locator) = fuzzing::query_locator_from_link(&link, &instance) {
        let joined = instance.join(&link).expect("an accepted link is a URL");
        assert_eq!(joined.origin(), instance.origin(), "accepted {link:?}");
        assert!(!locator.is_empty() && locator.len() <= 1024);
    }
    let endpoint = if input.next_page { "queryAll" } else { "query" };
    if let Ok((version, locator)) = fuzzing::query_more_from_link(&link, &instance, endpoint) {
        let joined = instance.join(&link).expect("an accepted link is a URL");
        assert_eq!(joined.origin(), instance.origin(), "accepted {link:?}");
        // The locator is sent as one path segment: it needs no encoding and cannot climb.
        assert!(!locator.is_empty() && locator.len() <= 1024);
        assert_eq!(encode_path(&locator), locator, "accepted {link:?}");
        assert!(!version.is_empty());
    }
});

/// An accepted id is 15 or 18 ASCII letters and digits and needs no encoding in a path.
fn check_id(text: &str) {
    if let Ok(id) = text.parse::<SalesforceId>() {
        assert!(matches!(id.as_str().len(), 15 | 18));
        assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(encode_path(id.as_str()), id.as_str());
    }
}

/// The results request for `locator`, as `get_query_job_results` builds it, stays on the origin and
/// the job's path and carries the locator encoded.
fn check_request(instance: &Url, job: &SalesforceId, locator: &str) {
    let base = format!(
        "{}/services/data/v62.0",
        instance.as_str().trim_end_matches('/')
    );
    let path = format!("{base}/jobs/query/{}/results", encode_path(job.as_str()));
    let locator = Some(locator.to_owned());
    let request = client()
        .get(&path)
        .query(&QueryParam::new("locator", &locator))
        .build()
        .expect("the request builds");
    let url = request.url();
    assert_eq!(url.origin(), instance.origin());
    assert_eq!(url.as_str().split('?').next(), Some(path.as_str()));
    let query = url.query().expect("a query string");
    let value = query.strip_prefix("locator=").expect("only the locator");
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%-._*+".contains(&b)),
        "unencoded byte in {value:?}"
    );
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs, [("locator".to_owned(), locator.expect("set"))]);
}
