//! `haul looker ...`: Looker query tasks into files.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use haul::Looker;
use haul::types::LookerResultFormat;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::Outcome;
use crate::args::{LookerArgs, LookerCommand, LookerRunArgs, LookerRunManyArgs};
use crate::progress::Display;
use crate::target;

pub(crate) async fn run(args: LookerArgs, display: Display) -> Result<Outcome> {
    let target = target::looker(&args.connection, display == Display::Quiet).await?;
    let outcome = match args.command {
        LookerCommand::Run(run) => run_one(&target.client, run).await,
        LookerCommand::RunMany(many) => run_many(&target.client, many).await,
    };
    let _ = target.client.logout().await;
    if let Some(sim) = target.simulator {
        sim.shutdown().await;
    }
    outcome
}

async fn run_one(looker: &Looker, args: LookerRunArgs) -> Result<Outcome> {
    let format = args.output_format();
    if format.eq_ignore_ascii_case("parquet") {
        return run_one_parquet(looker, args).await;
    }
    if args.compression.is_some() {
        anyhow::bail!("--compression applies to --format parquet only");
    }
    let format_name = format;
    let format = LookerResultFormat::from(format_name.as_str());
    let mut stream = looker
        .run_query(&args.query_id)
        .format(format)
        .abort_on_drop(true)
        .stream()
        .await?;
    let temporary = part_path(&args.output);
    let mut file = tokio::fs::File::create(&temporary)
        .await
        .with_context(|| temporary.display().to_string())?;
    let mut bytes = 0u64;
    let written: Result<()> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(())
    }
    .await;
    if let Err(error) = written {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(error);
    }
    tokio::fs::rename(&temporary, &args.output)
        .await
        .with_context(|| args.output.display().to_string())?;
    Ok(Outcome::Json(
        json!({"query_id": args.query_id, "format": format_name, "bytes": bytes, "path": args.output}),
    ))
}

/// Runs the query as json_detail (whose field metadata types the columns) and writes one typed
/// Parquet file. Looker sends a task's result in one body, so it is converted in memory.
async fn run_one_parquet(looker: &Looker, args: LookerRunArgs) -> Result<Outcome> {
    let compression = args.compression.unwrap_or_default().library();
    let parquet = looker
        .run_query(&args.query_id)
        .abort_on_drop(true)
        .parquet(compression)
        .await?;
    write_atomically(&args.output, &parquet.bytes).await?;
    let columns: Vec<_> = parquet
        .schema
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.ty}))
        .collect();
    Ok(Outcome::Json(json!({
        "query_id": args.query_id,
        "format": "parquet",
        "compression": compression.as_str(),
        "rows": parquet.rows,
        "bytes": parquet.bytes.len(),
        "columns": columns,
        "path": args.output,
    })))
}

async fn run_many(looker: &Looker, args: LookerRunManyArgs) -> Result<Outcome> {
    let parquet = args.format.eq_ignore_ascii_case("parquet");
    if args.compression.is_some() && !parquet {
        anyhow::bail!("--compression applies to --format parquet only");
    }
    let compression = args.compression.unwrap_or_default().library();
    // Parquet is written from json_detail, whose field metadata types the columns.
    let format = if parquet {
        LookerResultFormat::JsonDetail
    } else {
        LookerResultFormat::from(args.format.as_str())
    };
    std::fs::create_dir_all(&args.output).with_context(|| args.output.display().to_string())?;
    let results = looker
        .run_queries(args.query_ids.clone())
        .format(format)
        .abort_on_drop(true)
        .await?;
    let mut summary = Vec::new();
    let mut failures = Vec::new();
    for (query_id, result) in args.query_ids.iter().zip(results) {
        let result = result.and_then(|results| {
            if parquet {
                let typed = results.to_parquet(compression)?;
                Ok((typed.bytes, Some(typed.rows)))
            } else {
                Ok((results.into_bytes(), None))
            }
        });
        match result {
            Ok((bytes, rows)) => {
                let path = args
                    .output
                    .join(format!("{query_id}.{}", extension(&args.format)));
                write_atomically(&path, &bytes).await?;
                let mut entry = json!({"query_id": query_id, "bytes": bytes.len(), "path": path});
                if let Some(rows) = rows {
                    entry["rows"] = rows.into();
                }
                summary.push(entry);
            }
            Err(error) => {
                eprintln!("haul: query {query_id}: {error:#}");
                summary.push(json!({"query_id": query_id, "error": error.to_string()}));
                failures.push(error);
            }
        }
    }
    // Every query's outcome was reported and every success written; the exit code follows the
    // first failure.
    match failures.into_iter().next() {
        Some(first) => Err(first.into()),
        None => Ok(Outcome::Json(json!({"results": summary}))),
    }
}

fn extension(format: &str) -> &str {
    match format {
        "csv" => "csv",
        "txt" => "txt",
        "html" => "html",
        "md" => "md",
        "sql" => "sql",
        "xlsx" => "xlsx",
        "parquet" => "parquet",
        _ => "json",
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = part_path(path);
    tokio::fs::write(&temporary, bytes)
        .await
        .with_context(|| temporary.display().to_string())?;
    tokio::fs::rename(&temporary, path)
        .await
        .with_context(|| path.display().to_string())
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}
