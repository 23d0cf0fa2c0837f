//! Property tests: the ingest CSV splitter cuts only at record boundaries and loses or repeats
//! nothing; the download's page merger yields the header once and every record in order, whatever
//! the pages hold (quoted newlines, CRLF, quotes, delimiters, header-only pages).

use haul::Error;
use haul_sim::{Misbehaviour, Sim};
use proptest::prelude::*;

/// Characters that make CSV hard, and a couple of ordinary ones.
fn field() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'Z', ' ', ',', '"', '\n', '\r', 'é']),
        0..8,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn records(max: usize) -> impl Strategy<Value = Vec<[String; 2]>> {
    proptest::collection::vec([field(), field()], 0..max)
}

/// One CSV record; fields are quoted when they need it, or (`always`) every time.
fn record(fields: &[String], always: bool, line_ending: &str) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if always || f.contains([',', '"', '\n', '\r']) || f.is_empty() {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}{line_ending}", quoted.join(","))
}

/// The records of `csv` after its header, parsed.
fn parse(csv: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .from_reader(csv)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_ingest_splitter_cuts_at_record_boundaries_and_keeps_every_record(
        rows in records(12),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        max_bytes in 12usize..120,
        read_size in 1usize..40,
    ) {
        let line_ending = if crlf { "\r\n" } else { "\n" };
        let header = format!("Id,Name{line_ending}");
        let mut body = String::new();
        for row in &rows {
            body.push_str(&record(row, false, line_ending));
        }
        if !final_newline && !body.is_empty() {
            body.truncate(body.len() - line_ending.len());
        }
        let input = format!("{header}{body}").into_bytes();
        let pieces: Vec<Vec<u8>> = input.chunks(read_size).map(<[u8]>::to_vec).collect();
        let spool = std::env::temp_dir();
        let outcome = runtime().block_on(haul::__property_tests::split_ingest_csv(pieces, max_bytes, spool));
        let chunks = match outcome {
            Ok(chunks) => chunks,
            Err(error) => {
                // Only a record too long for any job may be refused, and then as bad input.
                prop_assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
                prop_assert!(error.to_string().contains("longer than a job"), "{error}");
                let longest = rows.iter().map(|r| record(r, false, line_ending).len()).max();
                prop_assert!(longest.is_some_and(|l| header.len() + l > max_bytes));
                return Ok(());
            }
        };
        let mut rejoined = header.clone().into_bytes();
        let mut parsed = Vec::new();
        for chunk in &chunks {
            prop_assert!(chunk.starts_with(header.as_bytes()), "a chunk without the header");
            prop_assert!(chunk.len() <= max_bytes, "{} > {max_bytes}", chunk.len());
            let records = &chunk[header.len()..];
            prop_assert!(!records.is_empty(), "an empty chunk");
            // Each chunk holds whole records: it parses on its own, and every chunk but the last
            // ends with a line break outside quotes.
            parsed.extend(parse(chunk));
            rejoined.extend_from_slice(records);
        }
        for chunk in chunks.iter().rev().skip(1) {
            prop_assert!(chunk.ends_with(b"\n"));
        }
        prop_assert_eq!(String::from_utf8(rejoined).unwrap(), String::from_utf8(input.clone()).unwrap());
        prop_assert_eq!(parsed, parse(&input));
    }
}

const SOQL: &str = "SELECT Id, Name FROM Account";
const JOB: &str = "/services/data/{version}/jobs/query/{id}";
const RESULTS: &str = "/services/data/{version}/jobs/query/{id}/results";
/// Rows a page has in the simulator; the pages served instead hold any number.
const PAGE: u64 = 3;

/// Downloads a job whose result pages are `pages` (served in place of the simulator's) with
/// `concurrency` workers, and returns the file.
async fn download_pages(pages: &[String], concurrency: usize) -> Vec<u8> {
    let count = |page: &String| page.matches('\u{1}').count() as u64;
    let served: Vec<String> = pages.iter().map(|p| p.replace('\u{1}', "")).collect();
    let sim = Sim::builder()
        .rows("Account", PAGE * pages.len() as u64)
        .start()
        .await
        .unwrap();
    let sf = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .gzip(false)
        .build()
        .unwrap();
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    job.wait().await.unwrap();
    // The job reports as many rows as the served pages hold.
    let total: u64 = pages.iter().map(count).sum();
    let mut info = serde_json::to_value(job.info().await.unwrap()).unwrap();
    info["numberRecordsProcessed"] = total.into();
    sim.misbehave_next("GET", JOB, Misbehaviour::body(info.to_string()));
    let done = job.wait().await.unwrap();
    for (i, page) in served.iter().enumerate().rev() {
        let served = Misbehaviour::Body {
            body: page.clone().into(),
            headers: vec![(
                "sforce-numberofrecords".into(),
                count(&pages[i]).to_string(),
            )],
        };
        // The first page is asked for without a locator when pages are fetched one by one.
        let which = match i {
            0 => "maxRecords=".to_owned(),
            _ => format!("locator={}&", sim.result_locator(i as u64 * PAGE)),
        };
        sim.misbehave_next_where("GET", RESULTS, &which, served);
    }
    let path = std::env::temp_dir().join(format!(
        "haul-prop-merge-{}-{}.csv",
        std::process::id(),
        sim.addr().port()
    ));
    let report = done
        .download()
        .concurrency(concurrency)
        .max_records(PAGE)
        .to_file(&path)
        .await
        .unwrap();
    let merged = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!((report.records, report.pages), (total, pages.len()));
    sim.shutdown().await;
    merged
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn merged_pages_hold_the_header_once_and_every_record_in_order(
        pages in proptest::collection::vec(records(5), 1..5),
        concurrency in prop::sample::select(vec![1usize, 3]),
    ) {
        let header = "\"Id\",\"Name\"\n";
        // Each record carries a \u{1} marker (removed before serving) so that pages count their rows.
        let bodies: Vec<String> = pages
            .iter()
            .map(|rows| {
                let mut body = header.to_owned();
                for row in rows {
                    body.push('\u{1}');
                    body.push_str(&record(row, true, "\n"));
                }
                body
            })
            .collect();
        let merged = runtime().block_on(download_pages(&bodies, concurrency));
        let mut expected = header.to_owned();
        for rows in &pages {
            for row in rows {
                expected.push_str(&record(row, true, "\n"));
            }
        }
        prop_assert_eq!(String::from_utf8(merged).unwrap(), expected);
    }
}
