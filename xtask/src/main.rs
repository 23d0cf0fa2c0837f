//! Maintainer tasks for haul. Run through the cargo alias: `cargo xtask <task>`.
//!
//! - `cargo xtask regen`: regenerate `crates/client/src/generated/` from `specs/`.
//! - `cargo xtask regen --check`: fail, with a diff, when the committed code is not what the specs produce.
//! - `cargo xtask layers`: fail, listing each, when a module names one that it must not (a family inside
//!   the core, one family inside another).
//! - `cargo xtask test [CARGO TEST ARGS]`: install the peer clients, then run every test of the workspace.
//! - `cargo xtask bench [--runs N] [--quick] [--only ...] [--report]`: benchmarks against the peers
//!   and the ceiling; writes `BENCHMARKS.md` and `docs/bench/*.svg`.
//! - `cargo xtask fuzz [--seconds N] [--target T]`: the cargo-fuzz targets of `fuzz/`, N seconds each.
//! - `cargo xtask reliability [--seeds N] [--quick] [--only ...] [--report]`: haul under injected
//!   faults against fault-free runs, and the reliability test suites; keeps each part's section in
//!   `docs/reliability/sections/` and writes `RELIABILITY.md` from them (`--report`: only that).

mod bench;
mod fuzz;
mod layers;
mod regen;
mod reliability;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask regen [--check] | cargo xtask layers | cargo xtask test [CARGO TEST ARGS] | cargo xtask bench [--runs N] [--quick] [--only LIST] [--report] | cargo xtask fuzz [--seconds N] [--target T] | cargo xtask reliability [--seeds N] [--quick] [--only LIST] [--report]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["regen"] => regen::run(&workspace_root(), regen::Mode::Write),
        ["regen", "--check"] => regen::run(&workspace_root(), regen::Mode::Check),
        ["layers"] => layers::run(&workspace_root()),
        ["test", ..] => test::run(&workspace_root(), &args[1..]),
        ["bench", ..] => bench::run(&workspace_root(), &args[1..]),
        ["fuzz", ..] => fuzz::run(&workspace_root(), &args[1..]),
        ["reliability", ..] => reliability::run(&workspace_root(), &args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
