//! An org authorised with Salesforce's own CLI: `sf org display --json --target-org ALIAS`.

use std::process::Command;

use anyhow::Result;
use haul::Secret;
use serde_json::Value;

use crate::exit::Usage;

/// The Salesforce CLI program; `HAUL_SF_BIN` names another (a full path, or a wrapper script).
const SF_BIN_ENV: &str = "HAUL_SF_BIN";

/// What haul needs of an authorised org. The token never prints (`Secret`).
#[derive(Debug)]
pub(crate) struct OrgDisplay {
    pub(crate) access_token: Secret,
    pub(crate) instance_url: String,
    pub(crate) api_version: Option<String>,
}

/// Runs `sf org display --json --target-org ALIAS` and reads its answer.
pub(crate) fn display(alias: &str) -> Result<OrgDisplay> {
    let program = std::env::var_os(SF_BIN_ENV).unwrap_or_else(|| "sf".into());
    display_with(&program, alias)
}

/// Runs `program org display --json --target-org ALIAS` and reads its answer.
fn display_with(program: &std::ffi::OsStr, alias: &str) -> Result<OrgDisplay> {
    let output = Command::new(program)
        .args(["org", "display", "--json", "--target-org", alias])
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Usage(format!(
                "--target-org needs Salesforce's CLI, and {} is not installed (or not on PATH); \
                 install it (https://developer.salesforce.com/tools/salesforcecli) or set \
                 SF_INSTANCE_URL and credentials instead",
                program.to_string_lossy()
            ))
            .into());
        }
        Err(error) => {
            return Err(anyhow::anyhow!(
                "running {} org display: {error}",
                program.to_string_lossy()
            ));
        }
    };
    // `sf` prints its JSON on stdout whether it succeeds or not; stderr may hold warnings.
    parse(alias, &output.stdout)
}

/// Reads the JSON `sf org display --json` prints: `result.accessToken`, `result.instanceUrl` and
/// `result.apiVersion` on success, `message` (and a non-zero `status`) on failure.
pub(crate) fn parse(alias: &str, stdout: &[u8]) -> Result<OrgDisplay> {
    let answer: Value = serde_json::from_slice(stdout).map_err(|_| {
        Usage(format!(
            "`sf org display --json --target-org {alias}` did not print JSON; is `sf` Salesforce's CLI?"
        ))
    })?;
    let status = answer.get("status").and_then(Value::as_i64).unwrap_or(0);
    let result = answer.get("result").filter(|r| r.is_object());
    let (0, Some(result)) = (status, result) else {
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        let message: String = message.chars().take(300).collect();
        return Err(Usage(format!("sf cannot display org {alias:?}: {message}")).into());
    };
    let text = |key: &str| result.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(access_token), Some(instance_url)) = (text("accessToken"), text("instanceUrl"))
    else {
        return Err(Usage(format!(
            "sf displays org {alias:?} without an access token or instance URL; run `sf org login web --alias {alias}` again"
        ))
        .into());
    };
    Ok(OrgDisplay {
        access_token: Secret::new(access_token),
        instance_url,
        api_version: text("apiVersion"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_token_url_and_version_of_an_authorised_org() {
        let stdout = br#"{
          "status": 0,
          "result": {
            "id": "00D5g000004FZnAEAW",
            "apiVersion": "62.0",
            "accessToken": "00D5g000004FZnA!AQ4AQ.s3cr3t",
            "instanceUrl": "https://acme.my.salesforce.com",
            "username": "admin@acme.com",
            "clientId": "PlatformCLI",
            "connectedStatus": "Connected",
            "alias": "acme"
          },
          "warnings": []
        }"#;
        let org = parse("acme", stdout).unwrap();
        assert_eq!(org.instance_url, "https://acme.my.salesforce.com");
        assert_eq!(org.api_version.as_deref(), Some("62.0"));
        assert_eq!(org.access_token.expose(), "00D5g000004FZnA!AQ4AQ.s3cr3t");
        assert!(!format!("{org:?}").contains("s3cr3t"));
    }

    #[test]
    fn an_unknown_alias_is_a_usage_error_with_sfs_message() {
        let stdout = br#"{
          "code": 1,
          "context": "OrgDisplay",
          "commandName": "OrgDisplay",
          "message": "No authorization information found for nosuch.",
          "name": "NamedOrgNotFoundError",
          "status": 1,
          "exitCode": 1
        }"#;
        let error = parse("nosuch", stdout).unwrap_err();
        let usage = error.downcast_ref::<Usage>().expect("a usage error");
        assert!(
            usage
                .0
                .contains("No authorization information found for nosuch"),
            "{}",
            usage.0
        );
        assert!(parse("x", b"Error: not json").unwrap_err().is::<Usage>());
        let no_token = br#"{"status":0,"result":{"instanceUrl":"https://a.example"}}"#;
        assert!(parse("x", no_token).unwrap_err().is::<Usage>());
    }

    #[test]
    fn a_missing_sf_is_a_usage_error_that_says_so() {
        let error = display_with("/nonexistent/haul-test/sf".as_ref(), "acme").unwrap_err();
        let usage = error.downcast_ref::<Usage>().expect("a usage error");
        assert!(usage.0.contains("not installed"), "{}", usage.0);
    }
}
