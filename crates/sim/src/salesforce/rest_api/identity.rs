//! Who the token speaks for: the identity URL (`GET /id/{orgId}/{userId}`, named by the token
//! response's `id`) and OpenID Connect's UserInfo endpoint (`GET /services/oauth2/userinfo`).
//!
//! Fields as the Salesforce Help documents them ("Identity URLs", "UserInfo Endpoint"): the
//! identity URL answers `id`, `asserted_user`, `user_id`, `organization_id`, `username`,
//! `nick_name`, `display_name`, `email`, `first_name`, `last_name`, `timezone`, `photos`,
//! `urls` (each with a `{version}` placeholder the client fills in), `active`, `user_type`,
//! `language`, `locale`, `utcOffset`, `last_modified_date`; UserInfo answers the OpenID Connect
//! names (`sub`, `preferred_username`, `name`, `given_name`, `family_name`, `zoneinfo`,
//! `updated_at`, ...) with the same `user_id`, `organization_id` and `urls`. The token comes as
//! `Authorization: Bearer` or, on the identity URL, as the `oauth_token` query parameter (which
//! jsforce's `identity()` uses). Neither counts against API limits.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::RestApi;
use crate::salesforce::auth::bearer;
use crate::salesforce::errors::{self, error, not_found};
use crate::salesforce::rest::{ORG_ID, USER_ID, instance_url};
use crate::shared::data::schema;
use crate::shared::ids;
use crate::shared::tokens::Realm;

/// The user the token speaks for, as the org's `User` row 1 has it.
#[derive(Debug, Default)]
struct Person {
    username: String,
    first: Option<String>,
    last: Option<String>,
    name: String,
    email: String,
    timezone: String,
    modified: String,
}

fn person(rest: &RestApi) -> Person {
    let Some(users) = schema::object("User") else {
        return Person::default();
    };
    let snapshot = rest.core.org.snapshot(users);
    let row = ids::parse_id(users.key_prefix, USER_ID).unwrap_or(1);
    let get = |name: &str| {
        users
            .field_index(name)
            .and_then(|i| snapshot.is_live(row).then(|| snapshot.value(i, row)))
            .flatten()
    };
    Person {
        username: get("Username").unwrap_or_default(),
        first: get("FirstName"),
        last: get("LastName"),
        name: get("Name").unwrap_or_default(),
        email: get("Email").unwrap_or_default(),
        timezone: get("TimeZoneSidKey").unwrap_or_default(),
        modified: get("LastModifiedDate")
            .map(|t| t.replace('Z', "+0000"))
            .unwrap_or_default(),
    }
}

/// The `urls` map, with `{version}` placeholders as the vendor sends them.
fn urls(instance: &str) -> Value {
    let data = format!("{instance}/services/data/v{{version}}");
    json!({
        "enterprise": format!("{instance}/services/Soap/c/{{version}}/{ORG_ID}"),
        "metadata": format!("{instance}/services/Soap/m/{{version}}/{ORG_ID}"),
        "partner": format!("{instance}/services/Soap/u/{{version}}/{ORG_ID}"),
        "rest": format!("{data}/"),
        "sobjects": format!("{data}/sobjects/"),
        "search": format!("{data}/search/"),
        "query": format!("{data}/query/"),
        "recent": format!("{data}/recent/"),
        "tooling_soap": format!("{instance}/services/Soap/T/{{version}}/{ORG_ID}"),
        "tooling_rest": format!("{data}/tooling/"),
        "profile": format!("{instance}/{USER_ID}"),
        "feeds": format!("{data}/chatter/feeds"),
        "groups": format!("{data}/chatter/groups"),
        "users": format!("{data}/chatter/users"),
        "feed_items": format!("{data}/chatter/feed-items"),
        "feed_elements": format!("{data}/chatter/feed-elements"),
        "custom_domain": instance,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenQuery {
    oauth_token: Option<String>,
}

/// Whether the request carries a live Salesforce token, in the header or the query.
fn authorised(rest: &RestApi, headers: &HeaderMap, query: &TokenQuery) -> bool {
    let token = bearer(headers).or(query.oauth_token.as_deref());
    token.is_some_and(|t| rest.core.tokens.valid(Realm::Salesforce, t))
}

fn unauthorised() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct IdentityPath {
    org: String,
    user: String,
}

/// `GET /id/{orgId}/{userId}`.
pub(super) async fn identity(
    State(rest): State<Arc<RestApi>>,
    Path(p): Path<IdentityPath>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&rest, &headers, &q) {
        return unauthorised();
    }
    if p.org != ORG_ID || p.user != USER_ID {
        return not_found();
    }
    let instance = instance_url(&headers);
    let who = person(&rest);
    let body = json!({
        "id": format!("{instance}/id/{ORG_ID}/{USER_ID}"),
        "asserted_user": true,
        "user_id": USER_ID,
        "organization_id": ORG_ID,
        "username": who.username,
        "nick_name": who.username.split('@').next().unwrap_or_default(),
        "display_name": who.name,
        "email": who.email,
        "email_verified": true,
        "first_name": who.first,
        "last_name": who.last,
        "timezone": who.timezone,
        "photos": photos(&instance),
        "addr_street": null, "addr_city": null, "addr_state": null,
        "addr_country": null, "addr_zip": null,
        "mobile_phone": null,
        "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": { "created_date": null, "body": null },
        "urls": urls(&instance),
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "last_modified_date": who.modified,
        "is_app_installed": true,
    });
    errors::json(StatusCode::OK, &body)
}

fn photos(instance: &str) -> Value {
    json!({
        "picture": format!("{instance}/profilephoto/005/F"),
        "thumbnail": format!("{instance}/profilephoto/005/T"),
    })
}

/// `GET /services/oauth2/userinfo`.
pub(super) async fn userinfo(
    State(rest): State<Arc<RestApi>>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&rest, &headers, &q) {
        return unauthorised();
    }
    let instance = instance_url(&headers);
    let who = person(&rest);
    let body = json!({
        "sub": format!("{instance}/id/{ORG_ID}/{USER_ID}"),
        "user_id": USER_ID,
        "organization_id": ORG_ID,
        "preferred_username": who.username,
        "nickname": who.username.split('@').next().unwrap_or_default(),
        "name": who.name,
        "email": who.email,
        "email_verified": true,
        "given_name": who.first,
        "family_name": who.last,
        "zoneinfo": who.timezone,
        "photos": photos(&instance),
        "profile": format!("{instance}/{USER_ID}"),
        "picture": format!("{instance}/profilephoto/005/F"),
        "address": {},
        "is_salesforce_integration_user": false,
        "urls": urls(&instance),
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "updated_at": who.modified,
        "is_app_installed": true,
    });
    errors::json(StatusCode::OK, &body)
}
