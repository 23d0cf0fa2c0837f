//! Which org to talk to: the configured one, or the built-in simulator.

use anyhow::{Context as _, Result};
use haul::auth::{AccessToken, ClientCredentials, SalesforceAuth};
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
        let version = version
            .parse()
            .map_err(|e| Usage(format!("SF_API_VERSION: {e}")))?;
        builder = builder.api_version(version);
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
    let client = builder
        .instance_url(url)
        .auth(credentials(connection)?)
        .build()?;
    Ok(SfTarget {
        client,
        simulator: None,
    })
}

fn credentials(connection: &SfConnection) -> Result<SalesforceAuth> {
    match (&connection.access_token, &connection.client_id, &connection.client_secret) {
        (Some(token), _, _) => Ok(AccessToken::new(token.as_str()).into()),
        (None, Some(id), Some(secret)) => Ok(ClientCredentials::new(id, secret.as_str()).into()),
        _ => Err(Usage(
            "SF_INSTANCE_URL is set but no credentials are: set SF_ACCESS_TOKEN, or SF_CLIENT_ID and SF_CLIENT_SECRET"
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
                sim.looker_base_url()
            );
        }
        let client = Looker::builder()
            .base_url(sim.looker_base_url())
            .client_credentials(sim.looker_client_id(), sim.looker_client_secret())
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
