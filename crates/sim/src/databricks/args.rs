//! The family's command-line flags, flattened into `haul-sim`'s (and `haul sim`'s) own.

use std::net::SocketAddr;
use std::time::Duration;

use super::Options;

/// The Databricks flags of `haul-sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Rows of the Databricks table main.sales.orders (the same as `--rows
    /// main.sales.orders=N`; default 10 000).
    #[arg(long, value_name = "ROWS")]
    pub databricks_rows: Option<u64>,
    /// Rows in each chunk of a Databricks statement's result.
    #[arg(long, value_name = "ROWS", default_value_t = 100_000)]
    pub databricks_chunk_rows: u64,
    /// Lifetime of Databricks external links, in seconds (documented: 15 minutes). `POST
    /// /__sim/databricks/expire-links` ends every link issued so far.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub databricks_link_lifetime_secs: u64,
    /// Databricks external links name `http_headers` (S3's SSE-C key headers) that the download
    /// must send back.
    #[arg(long)]
    pub databricks_link_headers: bool,
    /// Seconds a succeeded Databricks statement keeps its results before it is CLOSED.
    #[arg(long, value_name = "SECONDS", default_value_t = 3_600)]
    pub databricks_result_ttl_secs: u64,
    /// Address of the storage origin Databricks external links point at.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub databricks_storage_addr: SocketAddr,
}

impl Args {
    /// `options` with these flags' settings.
    pub fn apply(&self, options: Options) -> Options {
        let options = options
            .chunk_rows(self.databricks_chunk_rows)
            .link_lifetime(Duration::from_secs(self.databricks_link_lifetime_secs))
            .link_headers(self.databricks_link_headers)
            .result_ttl(Duration::from_secs(self.databricks_result_ttl_secs))
            .storage_addr(self.databricks_storage_addr);
        match self.databricks_rows {
            Some(rows) => options.rows(rows),
            None => options,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: crate::cli::SimArgs,
    }

    #[test]
    fn the_flags_reach_the_options_and_their_defaults_are_the_options_defaults() {
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).unwrap().sim.databricks;
        let set = parse(&[
            "haul-sim",
            "--databricks-rows=30",
            "--databricks-chunk-rows=10",
            "--databricks-link-lifetime-secs=5",
            "--databricks-link-headers",
            "--databricks-result-ttl-secs=60",
            "--databricks-storage-addr=127.0.0.1:9555",
        ])
        .apply(Options::default());
        assert_eq!(set.rows, Some(30));
        assert_eq!(set.chunk_rows, 10);
        assert_eq!(set.link_lifetime, Duration::from_secs(5));
        assert!(set.link_headers);
        assert_eq!(set.result_ttl, Duration::from_secs(60));
        assert_eq!(set.storage_addr.port(), 9555);
        let defaults = parse(&["haul-sim"]).apply(Options::default());
        let expected = Options::default();
        assert_eq!(
            (defaults.rows, defaults.chunk_rows, defaults.link_lifetime),
            (expected.rows, expected.chunk_rows, expected.link_lifetime)
        );
        assert_eq!(
            (
                defaults.link_headers,
                defaults.result_ttl,
                defaults.storage_addr
            ),
            (
                expected.link_headers,
                expected.result_ttl,
                expected.storage_addr
            )
        );
    }
}
