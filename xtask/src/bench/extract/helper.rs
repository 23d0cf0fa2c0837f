//! The benchmark's Python helper (`helper.py`): Airbyte's catalog and state files, the update
//! CSVs, and the comparison of what haul and Airbyte landed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::super::Bench;

const SCRIPT: &str = include_str!("helper.py");

/// Runs `python helper.py ARGS` and returns the JSON it printed (`null` when it printed nothing).
pub(super) fn run(python: &Path, bench: &Bench, args: &[&OsStr]) -> Result<Value> {
    let script = bench.script("extract_helper.py", SCRIPT)?;
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .context("running the extract helper")?;
    if !output.status.success() {
        bail!(
            "the extract helper ({:?}) failed: {}",
            args.first(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&output.stdout).context("the extract helper printed no JSON")
}
