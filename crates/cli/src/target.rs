//! Which org to talk to: the configured one, or the built-in simulator.

use anyhow::{Context as _, Result};
use haul::auth::{AccessToken, ClientCredentials, JwtBearer, RefreshToken, SalesforceAuth};
use haul::{Looker, Salesforce};
use haul_sim::Sim;

use crate::args::{LookerConnection, SfConnection};
use crate::exit::Usage;

/// The built-in simulator's data set, as the README describes it.
const SIM_ROWS: &[(&str, u64)] = &[
    ("Account", 100_000),
    ("Contact", 250_000),
    ("Opportunity", 50_000),
];

/// A Salesforce client, and the simulator behind it when one was started (stopped when dropped).
pub(crate) struct SfTarget {
    pub(crate) client: Salesforce,
    pub(crate) simulator: Option<Sim>,
}

pub(crate) async fn salesforce(connection: &SfConnection, quiet: bool) -> Result<SfTarget> {
    let mut builder = Salesforce::builder().gzip(!connection.no_gzip);
    if let Some(version) = &connection.api_version {
        builder = builder.api_version(parse_version("SF_API_VERSION", version)?);
    }
    if let Some(alias) = &connection.target_org {
        return authorised_org(builder, connection, alias);
    }
    let Some(url) = &connection.instance_url else {
        let mut sim = Sim::builder();
        for (object, rows) in SIM_ROWS {
            sim = sim.rows(object, *rows);
        }
        let sim = sim
            .start()
            .await
            .context("starting the built-in simulator")?;
        if !quiet {
            eprintln!(
                "haul: no org configured (SF_INSTANCE_URL); using the built-in simulator at {}",
                sim.instance_url()
            );
        }
        let client = builder
            .instance_url(sim.instance_url())
            .auth(AccessToken::new(sim.access_token()))
            .build()?;
        return Ok(SfTarget {
            client,
            simulator: Some(sim),
        });
    };
    let mut builder = builder.instance_url(url).auth(credentials(connection)?);
    if let Some(login) = &connection.login_url {
        builder = builder.token_url(format!(
            "{}/services/oauth2/token",
            login.trim_end_matches('/')
        ));
    }
    Ok(SfTarget {
        client: builder.build()?,
        simulator: None,
    })
}

fn parse_version(what: &str, text: &str) -> Result<haul::types::ApiVersion> {
    Ok(text.parse().map_err(|e| Usage(format!("{what}: {e}")))?)
}

/// The org `sf org display` knows as `alias`: its token, instance URL and (unless set) API version.
fn authorised_org(
    builder: haul::SalesforceBuilder,
    connection: &SfConnection,
    alias: &str,
) -> Result<SfTarget> {
    let org = crate::org::display(alias)?;
    let mut builder = builder
        .instance_url(&org.instance_url)
        .auth(AccessToken::new(org.access_token));
    if let (None, Some(version)) = (&connection.api_version, &org.api_version) {
        builder = builder.api_version(parse_version("sf org display's apiVersion", version)?);
    }
    Ok(SfTarget {
        client: builder.build()?,
        simulator: None,
    })
}

/// The credentials the settings name, in the order the help gives.
fn credentials(connection: &SfConnection) -> Result<SalesforceAuth> {
    let c = connection;
    if let Some(token) = &c.access_token {
        return Ok(AccessToken::new(token.as_str()).into());
    }
    match (&c.client_id, &c.refresh_token, &c.username, &c.jwt_key_file) {
        (Some(id), Some(refresh), _, _) => {
            let mut flow = RefreshToken::new(id, refresh.as_str());
            if let Some(secret) = &c.client_secret {
                flow = flow.client_secret(secret.as_str());
            }
            return Ok(flow.into());
        }
        (Some(id), None, Some(user), Some(key_file)) => {
            let key = std::fs::read_to_string(key_file).map_err(|e| {
                Usage(format!(
                    "reading the JWT key file {}: {e}",
                    key_file.display()
                ))
            })?;
            let mut flow = JwtBearer::new(id, user, key);
            if let Some(login) = &c.login_url {
                flow = flow.audience(login.trim_end_matches('/'));
            }
            return Ok(flow.into());
        }
        _ => {}
    }
    match (&c.client_id, &c.client_secret) {
        (Some(id), Some(secret)) => Ok(ClientCredentials::new(id, secret.as_str()).into()),
        _ => Err(Usage(
            "SF_INSTANCE_URL is set but no credentials are: set SF_ACCESS_TOKEN; or SF_CLIENT_ID with \
             SF_REFRESH_TOKEN; or SF_CLIENT_ID, SF_USERNAME and SF_JWT_KEY_FILE; or SF_CLIENT_ID and \
             SF_CLIENT_SECRET (or use --target-org)"
                .into(),
        )
        .into()),
    }
}

/// A Looker client, and the simulator behind it when one was started.
pub(crate) struct LookerTarget {
    pub(crate) client: Looker,
    pub(crate) simulator: Option<Sim>,
}

pub(crate) async fn looker(connection: &LookerConnection, quiet: bool) -> Result<LookerTarget> {
    let Some(url) = &connection.base_url else {
        let sim = Sim::builder()
            .start()
            .await
            .context("starting the built-in simulator")?;
        if !quiet {
            eprintln!(
                "haul: no Looker configured (LOOKER_BASE_URL); using the built-in simulator at {}",
                sim.looker().base_url()
            );
        }
        let client = Looker::builder()
            .base_url(sim.looker().base_url())
            .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
            .build()?;
        client.connect().await?;
        return Ok(LookerTarget {
            client,
            simulator: Some(sim),
        });
    };
    let (Some(id), Some(secret)) = (&connection.client_id, &connection.client_secret) else {
        return Err(Usage(
            "LOOKER_BASE_URL is set but LOOKER_CLIENT_ID and LOOKER_CLIENT_SECRET are not".into(),
        )
        .into());
    };
    let client = Looker::builder()
        .base_url(url)
        .client_credentials(id, secret.as_str())
        .build()?;
    // Bad credentials fail here, before any work starts.
    client.connect().await?;
    Ok(LookerTarget {
        client,
        simulator: None,
    })
}
