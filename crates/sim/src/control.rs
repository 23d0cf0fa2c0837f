//! The `/__sim` routes, for tests and tools that drive the binary, and what they share with the
//! [`crate::Sim`] methods of the same names: request statistics, injected faults, expiring every
//! token, the next simulated day, and undeleting records.
//!
//! None of these is an API of a vendor. They are never counted as API requests, never delayed,
//! faulted or throttled (the outer layer lets `/__sim/*` through), and need no token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::salesforce::errors::{self, error, parse_body};
use crate::shared::Shared;
use crate::shared::data::schema;
use crate::shared::ids;

/// The `/__sim` routes.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(core: &Shared) -> Router<S> {
    Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/faults", get(faults))
        .route("/__sim/expire-tokens", post(expire_tokens))
        .route("/__sim/next-day", post(next_day))
        .route("/__sim/undelete", post(undelete_route))
        .with_state(core.clone())
}

/// `GET /__sim/stats`: requests by method, route and status, as JSON.
async fn stats(State(st): State<Shared>) -> Response {
    errors::json(StatusCode::OK, &st.stats.snapshot())
}

/// `GET /__sim/faults`: faults injected so far, by kind, as JSON (see `FaultCounts`).
async fn faults(State(st): State<Shared>) -> Response {
    errors::json(StatusCode::OK, &st.faults.counts())
}

/// `POST /__sim/expire-tokens`: invalidates every access token issued so far, of every realm, as
/// [`crate::Sim::expire_tokens`] does (refresh tokens and client credentials keep working). Lets a
/// test running the binary force token refreshes at moments it chooses. Answers 204.
async fn expire_tokens(State(st): State<Shared>) -> StatusCode {
    st.tokens.expire_all();
    StatusCode::NO_CONTENT
}

/// `POST /__sim/next-day`: as [`crate::Sim::next_day`], the org's clock moves 24 hours on and
/// every daily allowance is whole again. Answers `{"day": N, "now": "<the org's time>"}`, N the
/// days skipped so far.
async fn next_day(State(st): State<Shared>) -> Response {
    let day = st.calendar.next_day();
    let now = st.calendar.audit_stamp();
    errors::json(StatusCode::OK, &json!({ "day": day, "now": now }))
}

/// The body of `POST /__sim/undelete`.
#[derive(Debug, Deserialize)]
struct UndeleteBody {
    object: String,
    ids: Vec<String>,
}

/// `POST /__sim/undelete` with `{"object": "Account", "ids": [...]}`: restores the records from
/// the Recycle Bin, as SOAP API's `undelete()` call does (SOAP API Developer Guide, "undelete()";
/// haul-sim serves no SOAP, and neither Bulk API 2.0 nor the REST API can undelete). Answers
/// one `UndeleteResult` a record, in order: `{"id", "success", "errors": [{"statusCode",
/// "message", "fields"}]}`; 400 `INVALID_TYPE` for an object without a Recycle Bin.
async fn undelete_route(State(st): State<Shared>, body: Bytes) -> Response {
    let body: UndeleteBody = match parse_body(&body) {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let ids: Vec<&str> = body.ids.iter().map(String::as_str).collect();
    match undelete(&st, &body.object, &ids) {
        Ok(results) => {
            let results: Vec<Value> = results.iter().map(Undeleted::to_json).collect();
            errors::json(StatusCode::OK, &results)
        }
        Err(message) => error(StatusCode::BAD_REQUEST, "INVALID_TYPE", message),
    }
}

/// What undeleting one record did: its id, and the error's status code and message if it
/// stayed where it was.
#[derive(Debug)]
pub(crate) struct Undeleted {
    pub(crate) id: String,
    pub(crate) error: Option<(&'static str, String)>,
}

impl Undeleted {
    /// The SOAP API's `UndeleteResult`, in JSON.
    fn to_json(&self) -> Value {
        let errors: Vec<Value> = self
            .error
            .iter()
            .map(|(code, message)| json!({ "statusCode": code, "message": message, "fields": [] }))
            .collect();
        json!({ "id": self.id, "success": self.error.is_none(), "errors": errors })
    }
}

/// Restores the records `ids` of `object` from the Recycle Bin in one edit (so they share one
/// `SystemModstamp`); an error message when the object has no Recycle Bin. A record that is not
/// in it (live, hard-deleted, or never created) fails with `UNDELETE_FAILED` "Entity is not in
/// the recycle bin", the text of the platform's undelete failures; an id of another shape or
/// object with `MALFORMED_ID`.
pub(crate) fn undelete(
    core: &Shared,
    object: &str,
    ids: &[&str],
) -> Result<Vec<Undeleted>, String> {
    let Some(schema) = schema::object(object).filter(|o| o.has_recycle_bin()) else {
        return Err(format!("sObject type '{object}' cannot be undeleted"));
    };
    let results = core.org.edit(schema, |editor| {
        ids.iter()
            .map(|&id| {
                let error = if !ids::is_id_shaped(id) || !id.starts_with(schema.key_prefix) {
                    Some((
                        "MALFORMED_ID",
                        format!("{object} ID: id value of incorrect type: {id}"),
                    ))
                } else if editor.row_of_id(id).is_some_and(|row| editor.undelete(row)) {
                    None
                } else {
                    Some((
                        "UNDELETE_FAILED",
                        "Entity is not in the recycle bin".to_owned(),
                    ))
                };
                Undeleted {
                    id: id.to_owned(),
                    error,
                }
            })
            .collect()
    });
    Ok(results)
}
