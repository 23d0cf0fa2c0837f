//! `haul`: bulk queries, ingests and Looker results into files, from the shell.

mod args;
mod databricks;
mod exit;
mod extract;
mod ingest;
mod looker;
mod org;
mod progress;
mod rest;
mod rest_query;
mod sf;
mod target;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use haul::CancellationToken;

use args::{Cli, Command};
use progress::Display;

/// Options every command sees.
pub(crate) struct Settings {
    pub(crate) display: Display,
}

/// What a command produced, printed on stdout as text or, with `--json`, as JSON.
pub(crate) enum Outcome {
    /// A summary that only `--json` prints (progress and a closing line went to stderr).
    Json(serde_json::Value),
    /// Lines for people, and the same as JSON.
    Lines {
        lines: Vec<String>,
        json: serde_json::Value,
    },
    /// Nothing to print.
    Nothing,
    /// Lines and JSON as [`Outcome::Lines`], of work that failed in part or whole: `message`
    /// goes to stderr, and the process exits with `code`.
    Incomplete {
        lines: Vec<String>,
        json: serde_json::Value,
        message: String,
        code: u8,
    },
}

/// Threads for file I/O. Every thread that allocates gets its own malloc arena, and each arena keeps
/// some freed page buffers: tokio's default (512) let a long download's peak memory creep up with its
/// page count.
const BLOCKING_THREADS: usize = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("haul: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Incomplete {
            lines,
            json: value,
            message,
            code,
        }) => {
            print(Outcome::Lines { lines, json: value }, json);
            eprintln!("haul: {message}");
            ExitCode::from(code)
        }
        Ok(outcome) => {
            print(outcome, json);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("haul: {error:#}");
            exit::code_for(&error)
        }
    }
}

async fn run(cli: Cli) -> Result<Outcome> {
    let settings = Settings {
        display: Display::choose(cli.quiet),
    };
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    match cli.command {
        Command::Sf(args) => sf::run(*args, &settings, cancel).await,
        Command::Looker(args) => looker::run(args, settings.display).await,
        Command::Databricks(args) => databricks::run(*args, &settings, cancel).await,
        Command::Sim(args) => {
            haul_sim::cli::run(args).await?;
            Ok(Outcome::Nothing)
        }
    }
}

fn print(outcome: Outcome, json: bool) {
    match (outcome, json) {
        (Outcome::Json(value) | Outcome::Lines { json: value, .. }, true) => println!("{value}"),
        (Outcome::Lines { lines, .. }, false) => lines.iter().for_each(|line| println!("{line}")),
        (Outcome::Json(_) | Outcome::Nothing, _) => {}
        (Outcome::Incomplete { lines, json, .. }, as_json) => {
            print(Outcome::Lines { lines, json }, as_json);
        }
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the level that -v/-q choose.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,haul=debug",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
