//! Reading locators out of the links Salesforce hands back (result pages, job listings), refusing
//! links that leave the job or the instance.
//!
//! `resultPages` answers with links such as `/jobs/query/750.../results?locator=abc&maxRecords=50000`
//! and a `nextRecordsUrl` such as `/jobs/query/750.../resultpages?locator=xyz`, sometimes with the
//! `/services/data/vXX.X` prefix, sometimes absolute. haul never follows such a link as a URL: it takes
//! the locator out and calls the typed operation, so a hostile link cannot send the token elsewhere.

use haul_types::SalesforceId;
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
