//! Reading locators out of the links Salesforce hands back (result pages, job listings, the
//! `nextRecordsUrl` of a REST query), refusing links that leave the job or the instance.
//!
//! `resultPages` answers with links such as `/jobs/query/750.../results?locator=abc&maxRecords=50000`
//! and a `nextRecordsUrl` such as `/jobs/query/750.../resultpages?locator=xyz`, sometimes with the
//! `/services/data/vXX.X` prefix, sometimes absolute. haul never follows such a link as a URL: it takes
//! the locator out and calls the typed operation, so a hostile link cannot send the token elsewhere.

use haul_types::{ApiVersion, SalesforceId};
use url::Url;

use crate::download::source::HostRule;
use crate::error::{Error, Result};

/// Longest locator accepted; real ones are a few dozen characters.
const MAX_LOCATOR_LEN: usize = 1024;

/// The `locator` of a link to one of `job`'s endpoints named `endpoint` (matched case-insensitively);
/// `None` when the link has no locator (the first page).
pub(crate) fn locator_from_link(
    link: &str,
    instance: &Url,
    job: &SalesforceId,
    endpoint: &str,
    operation: &'static str,
) -> Result<Option<String>> {
    let refuse = |why: &str| {
        Error::invalid_response(
            operation,
            format!("refused link {:?}: {why}", shorten(link)),
        )
    };
    let url = HostRule::SameOrigin(instance.clone()).check(link, operation)?;
    let path = url.path().trim_end_matches('/');
    let expected_suffix = format!("/jobs/query/{job}/{endpoint}");
    let matches = path.len() >= expected_suffix.len()
        && path[path.len() - expected_suffix.len()..].eq_ignore_ascii_case(&expected_suffix);
    if !matches {
        return Err(refuse(&format!("it is not this job's {endpoint} endpoint")));
    }
    let locator = url
        .query_pairs()
        .find(|(key, _)| key == "locator")
        .map(|(_, value)| value.into_owned());
    match locator {
        Some(locator) if locator.is_empty() || locator.len() > MAX_LOCATOR_LEN => {
            Err(refuse("its locator is empty or too long"))
        }
        Some(locator) if locator == "null" => Ok(None),
        other => Ok(other),
    }
}

/// The opaque `queryLocator` of a job listing's `nextRecordsUrl`.
pub(crate) fn query_locator_from_link(
    link: &str,
    instance: &Url,
    operation: &'static str,
) -> Result<String> {
    let refuse = |why: &str| {
        Error::invalid_response(
            operation,
            format!("refused link {:?}: {why}", shorten(link)),
        )
    };
    let url = HostRule::SameOrigin(instance.clone()).check(link, operation)?;
    url.query_pairs()
        .find(|(key, _)| key == "queryLocator")
        .map(|(_, value)| value.into_owned())
        .filter(|locator| !locator.is_empty() && locator.len() <= MAX_LOCATOR_LEN)
        .ok_or_else(|| refuse("it has no usable queryLocator"))
}

/// Where a REST query's `nextRecordsUrl` continues: the API version it names, and its locator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryMore {
    pub(crate) version: ApiVersion,
    pub(crate) locator: String,
}

/// The version and locator of a REST query's `nextRecordsUrl`, which must be exactly
/// `/services/data/vXX.X/<endpoint>/<locator>` on the instance's origin (`endpoint` is `query` or
/// `queryAll`), with a locator of letters, digits, `-` and `_` (such as `01gRO0000016PIAYA2-500`).
pub(crate) fn query_more_from_link(
    link: &str,
    instance: &Url,
    endpoint: &str,
    operation: &'static str,
) -> Result<QueryMore> {
    let refuse = |why: &str| {
        Error::invalid_response(
            operation,
            format!("refused link {:?}: {why}", shorten(link)),
        )
    };
    let url = HostRule::SameOrigin(instance.clone()).check(link, operation)?;
    let segments: Vec<&str> = url.path().trim_end_matches('/').split('/').collect();
    let ["", "services", "data", version, named, locator] = segments.as_slice() else {
        return Err(refuse(&format!(
            "it is not /services/data/vXX.X/{endpoint}/<locator>"
        )));
    };
    if *named != endpoint {
        return Err(refuse(&format!(
            "it does not continue a {endpoint} request"
        )));
    }
    let version = version
        .strip_prefix('v')
        .and_then(|v| v.parse::<ApiVersion>().ok())
        .ok_or_else(|| refuse("it names no API version"))?;
    let fits = !locator.is_empty()
        && locator.len() <= MAX_LOCATOR_LEN
        && locator
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !fits {
        return Err(refuse(
            "its locator is empty, too long or holds other characters",
        ));
    }
    Ok(QueryMore {
        version,
        locator: (*locator).to_owned(),
    })
}

fn shorten(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> SalesforceId {
        "750R0000000zlh9IAA".parse().unwrap()
    }

    fn instance() -> Url {
        Url::parse("https://acme.my.salesforce.com").unwrap()
    }

    #[test]
    fn reads_locators_from_the_documented_link_forms() {
        let cases = [
            (
                "/jobs/query/750R0000000zlh9IAA/results?locator=aBcDeFg4N",
                Some("aBcDeFg4N"),
            ),
            (
                "/services/data/v62.0/jobs/query/750R0000000zlh9IAA/results?locator=x&maxRecords=5",
                Some("x"),
            ),
            (
                "https://acme.my.salesforce.com/jobs/query/750R0000000zlh9IAA/results/",
                None,
            ),
            ("/jobs/query/750R0000000zlh9IAA/results?locator=null", None),
        ];
        for (link, expected) in cases {
            let got = locator_from_link(link, &instance(), &job(), "results", "t").unwrap();
            assert_eq!(got.as_deref(), expected, "{link}");
        }
        let next = "/jobs/query/750R0000000zlh9IAA/resultpages?locator=YcApWm4N";
        let got = locator_from_link(next, &instance(), &job(), "resultPages", "t").unwrap();
        assert_eq!(got.as_deref(), Some("YcApWm4N"));
    }

    #[test]
    fn reads_the_version_and_locator_of_a_rest_next_records_url() {
        let cases = [
            (
                "/services/data/v62.0/query/01gRO0000016PIAYA2-500",
                "query",
                (ApiVersion::new(62, 0), "01gRO0000016PIAYA2-500"),
            ),
            (
                "https://acme.my.salesforce.com/services/data/v58.0/queryAll/01gx-2000/",
                "queryAll",
                (ApiVersion::new(58, 0), "01gx-2000"),
            ),
        ];
        for (link, endpoint, (version, locator)) in cases {
            let more = query_more_from_link(link, &instance(), endpoint, "t").unwrap();
            assert_eq!(more.version, version, "{link}");
            assert_eq!(more.locator, locator, "{link}");
        }
    }

    #[test]
    fn refuses_rest_next_records_urls_that_leave_the_query_or_the_origin() {
        for (link, endpoint) in [
            (
                "https://evil.example/services/data/v62.0/query/01g-500",
                "query",
            ),
            ("//evil.example/services/data/v62.0/query/01g-500", "query"),
            (
                "http://acme.my.salesforce.com/services/data/v62.0/query/01g-500",
                "query",
            ),
            ("/services/data/v62.0/queryAll/01g-500", "query"),
            ("/services/data/v62.0/query/01g-500", "queryAll"),
            ("/services/data/v62.0/sobjects/Account/001", "query"),
            ("/services/data/v62.0/query/a/b", "query"),
            ("/services/data/v62.0/query/", "query"),
            ("/services/data/latest/query/01g-500", "query"),
            ("/services/data/v62.0/query/01g%2F..%2F500", "query"),
            ("/services/data/v62.0/query/../../../id/00D/005", "query"),
            ("/x/services/data/v62.0/query/01g-500", "query"),
        ] {
            assert!(
                query_more_from_link(link, &instance(), endpoint, "t").is_err(),
                "{link} as {endpoint}"
            );
        }
        let long = format!("/services/data/v62.0/query/{}", "a".repeat(1025));
        assert!(query_more_from_link(&long, &instance(), "query", "t").is_err());
    }

    #[test]
    fn refuses_links_that_leave_the_job_or_the_origin() {
        for link in [
            "https://evil.example/jobs/query/750R0000000zlh9IAA/results?locator=a",
            "//evil.example/jobs/query/750R0000000zlh9IAA/results?locator=a",
            "/jobs/query/750R0000000OTHERAA/results?locator=a",
            "/jobs/query/750R0000000zlh9IAA/../../../x/results?locator=a",
            "/jobs/ingest/750R0000000zlh9IAA/results?locator=a",
            "/jobs/query/750R0000000zlh9IAA/results?locator=",
        ] {
            assert!(
                locator_from_link(link, &instance(), &job(), "results", "t").is_err(),
                "{link}"
            );
        }
    }
}
