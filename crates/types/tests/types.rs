//! Behaviour of the shared types: tolerant enums, API versions, ids and API usage.

use haul_types::{
    ApiUsage, ApiVersion, ColumnDelimiter, IngestJobState, LineEnding, QueryJobState,
    QueryTaskStatus, SalesforceId,
};
use serde_json::json;

#[test]
fn known_values_roundtrip_with_their_wire_spelling() {
    for state in QueryJobState::KNOWN {
        let wire = serde_json::to_value(state).unwrap();
        assert_eq!(wire, json!(state.as_str()));
        assert_eq!(
            &serde_json::from_value::<QueryJobState>(wire).unwrap(),
            state
        );
    }
    assert_eq!(QueryJobState::KNOWN.len(), 5);
    assert_eq!(IngestJobState::from("Open"), IngestJobState::Open);
    assert_eq!(QueryTaskStatus::from("complete"), QueryTaskStatus::Complete);
}

#[test]
fn unknown_values_are_kept_verbatim() {
    let state: QueryJobState = serde_json::from_value(json!("Paused")).unwrap();
    assert_eq!(state, QueryJobState::Other("Paused".into()));
    assert!(!state.is_known() && !state.is_terminal());
    assert_eq!(serde_json::to_value(&state).unwrap(), json!("Paused"));
    // Matching is exact: Looker's prose capitalises statuses, the wire does not.
    assert_eq!(
        QueryTaskStatus::from("Complete"),
        QueryTaskStatus::Other("Complete".into())
    );
}

#[test]
fn terminal_and_pending_states() {
    let terminal: Vec<_> = QueryJobState::KNOWN
        .iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(
        terminal,
        [
            &QueryJobState::Aborted,
            &QueryJobState::JobComplete,
            &QueryJobState::Failed
        ]
    );
    assert!(!IngestJobState::Open.is_terminal());
    assert!(QueryTaskStatus::Running.is_pending() && !QueryTaskStatus::Killed.is_pending());
}

#[test]
fn delimiters_and_line_endings_map_to_bytes() {
    assert_eq!(ColumnDelimiter::default(), ColumnDelimiter::Comma);
    assert_eq!(ColumnDelimiter::Tab.as_byte(), Some(b'\t'));
    assert_eq!(ColumnDelimiter::from("BACKQUOTE").as_byte(), Some(b'`'));
    assert_eq!(ColumnDelimiter::from("DOUBLEPIPE").as_byte(), None);
    assert_eq!(LineEnding::default().as_bytes(), Some(&b"\n"[..]));
    assert_eq!(LineEnding::Crlf.as_bytes(), Some(&b"\r\n"[..]));
}

#[test]
fn api_versions_parse_from_text_and_numbers() {
    for text in ["62.0", "v62.0", "62"] {
        assert_eq!(
            text.parse::<ApiVersion>().unwrap(),
            ApiVersion::new(62, 0),
            "{text}"
        );
    }
    for bad in ["", "v", "62.x", "sixty", "62.0.1", "-1"] {
        assert!(bad.parse::<ApiVersion>().is_err(), "{bad:?} parsed");
    }
    assert_eq!(
        serde_json::from_value::<ApiVersion>(json!(58.0)).unwrap(),
        ApiVersion::new(58, 0)
    );
    assert_eq!(
        serde_json::from_value::<ApiVersion>(json!(58)).unwrap(),
        ApiVersion::new(58, 0)
    );
    assert_eq!(
        serde_json::from_value::<ApiVersion>(json!("46.0")).unwrap(),
        ApiVersion::new(46, 0)
    );
    assert!(serde_json::from_value::<ApiVersion>(json!(-3)).is_err());
    assert_eq!(
        serde_json::to_string(&ApiVersion::new(62, 0)).unwrap(),
        "62.0"
    );
    assert_eq!(ApiVersion::new(62, 0).path_segment(), "v62.0");
}

#[test]
fn result_pages_need_version_58() {
    assert!(!ApiVersion::new(57, 0).supports_result_pages());
    assert!(ApiVersion::new(58, 0).supports_result_pages());
    assert!(ApiVersion::LATEST.supports_result_pages());
}

#[test]
fn salesforce_ids_are_validated() {
    let id: SalesforceId = "750R0000000zlh9IAA".parse().unwrap();
    assert_eq!(id.key_prefix(), "750");
    assert!(
        "750R0000000zlh9".parse::<SalesforceId>().is_ok(),
        "15 characters"
    );
    for bad in [
        "../../x",
        "750R0000000zlh9I",
        "750R0000000zlh9IA/",
        "750R0000000zlh9IAé",
        "",
    ] {
        let error = bad.parse::<SalesforceId>().unwrap_err();
        assert!(
            error.to_string().contains("is not a Salesforce id"),
            "{bad:?}: {error}"
        );
    }
    assert!(serde_json::from_value::<SalesforceId>(json!("a%2F..%2Fb%2Fcd1234")).is_err());
}

#[test]
fn api_usage_is_read_from_the_limit_header() {
    let usage: ApiUsage = "api-usage=18/5000".parse().unwrap();
    assert_eq!(
        (usage.used, usage.limit, usage.remaining()),
        (18, 5000, 4982)
    );
    let with_bursts: ApiUsage = "api-usage=25/5000; api-bursts=1/10".parse().unwrap();
    assert_eq!(with_bursts.used, 25);
    let pilot: ApiUsage = "per-app-api-usage=17/250(appName=x), api-usage=20/100"
        .parse()
        .unwrap();
    assert_eq!((pilot.used, pilot.limit), (20, 100));
    assert!("api-bursts=1/10".parse::<ApiUsage>().is_err());
    assert_eq!(usage.to_string(), "api-usage=18/5000");
}
