//! `cargo xtask test`: install the peer clients, then run every test of the workspace.
//!
//! The peer-conformance tests drive real clients (simple-salesforce and looker_sdk in Python, jsforce in
//! Node) against haul-sim; the object-store tests start moto's S3 server from the same Python venv,
//! and Azurite (Microsoft's Azure Blob emulator) from the same node_modules.
//! They are installed under `target/peers/` from the pinned lists in `tests/peers/`, and
//! reinstalled only when those lists change.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

const PEERS_SOURCE: &str = "tests/peers";

pub(crate) fn run(root: &Path, cargo_args: &[String]) -> Result<()> {
    let peers = root.join("target/peers");
    std::fs::create_dir_all(&peers)?;
    let python = install_python_peers(root, &peers)?;
    let node_path = install_node_peers(root, &peers)?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .args([
            "test",
            "--workspace",
            "--features",
            "haul-tests/peers,haul-cli/peers",
        ])
        .args(cargo_args)
        .env("HAUL_PEER_PYTHON", &python)
        .env("HAUL_PEER_NODE_PATH", &node_path);
    status(&mut cargo, "cargo test")
}

/// A venv with the pinned Python peers; returns its interpreter.
pub(crate) fn install_python_peers(root: &Path, peers: &Path) -> Result<PathBuf> {
    let venv = peers.join("venv");
    let python = venv.join("bin/python");
    let requirements = root.join(PEERS_SOURCE).join("requirements.txt");
    if !python.exists() {
        status(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
    }
    let stamp = venv.join(".installed-requirements");
    if stale(std::slice::from_ref(&requirements), &stamp)? {
        eprintln!(
            "installing the Python peers from {}",
            relative(root, &requirements)
        );
        status(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
            "pip install",
        )?;
        std::fs::write(&stamp, concatenated(std::slice::from_ref(&requirements))?)?;
    }
    Ok(python)
}

/// A node_modules folder with the pinned Node peers; returns it (for `NODE_PATH`).
pub(crate) fn install_node_peers(root: &Path, peers: &Path) -> Result<PathBuf> {
    let prefix = peers.join("node");
    let source = root.join(PEERS_SOURCE);
    std::fs::create_dir_all(&prefix)?;
    let stamp = prefix.join(".installed-package.json");
    let wanted = [
        source.join("package.json"),
        source.join("package-lock.json"),
    ];
    if stale(&wanted, &stamp)? {
        eprintln!("installing the Node peers from {PEERS_SOURCE}/package.json");
        for file in ["package.json", "package-lock.json"] {
            if source.join(file).exists() {
                std::fs::copy(source.join(file), prefix.join(file))?;
            }
        }
        status(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&prefix),
            "npm install",
        )?;
        std::fs::write(&stamp, concatenated(&wanted)?)?;
    }
    Ok(prefix.join("node_modules"))
}

/// Whether the pinned lists differ from the copy saved when they were last installed.
fn stale(lists: &[PathBuf], installed_copy: &Path) -> Result<bool> {
    let wanted = concatenated(lists)?;
    Ok(std::fs::read(installed_copy).ok().as_deref() != Some(wanted.as_slice()))
}

/// The lists' contents, one after the other (a missing lock file counts as empty).
fn concatenated(lists: &[PathBuf]) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    for list in lists {
        match std::fs::read(list) {
            Ok(text) => all.extend(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("reading {}", list.display())),
        }
    }
    Ok(all)
}

fn status(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
