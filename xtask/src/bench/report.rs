//! What the benchmarks write: Markdown tables, simple SVG bar charts, medians, the machine's facts,
//! and the quiet-machine gate that each measured run waits behind.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;

/// The median of some figures (the mean of the middle two for an even count); 0 for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A count with thousands separators: 4,000,000.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A `sh` code block listing each contender's command under its name.
pub(crate) fn commands<'a>(commands: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("```sh\n");
    for (name, command) in commands {
        let _ = writeln!(out, "# {name}\n{command}");
    }
    out.push_str("```\n");
    out
}

/// A Markdown table.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// One group of bars (such as one data set), each bar a contender.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) label: String,
    pub(crate) bars: Vec<(String, f64)>,
}

/// One panel of a chart: horizontal bars in groups, on one axis.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) unit: String,
    pub(crate) groups: Vec<Group>,
}

const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// An SVG of horizontal bar charts, one panel under the other; bars of the same name share a colour.
pub(crate) fn svg(title: &str, panels: &[Panel]) -> String {
    let width = 860.0;
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in panels.iter().flat_map(|p| &p.groups).flat_map(|g| &g.bars) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let mut body = String::new();
    let mut y = 40.0;
    for panel in panels {
        y = panel_svg(&mut body, panel, &names, y);
    }
    let height = y + 20.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="24" font-size="15" font-weight="bold">{}</text>
{body}</svg>
"##,
        escape(title)
    )
}

/// Draws one panel from height `y` into `body`, each bar coloured by its name's place in `names`;
/// returns the height below it.
fn panel_svg(body: &mut String, panel: &Panel, names: &[&str], mut y: f64) -> f64 {
    const LABEL_WIDTH: f64 = 300.0;
    const PLOT_WIDTH: f64 = 860.0 - LABEL_WIDTH - 110.0;
    const BAR_HEIGHT: f64 = 16.0;
    let max = panel
        .groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    y += 22.0;
    let _ = writeln!(
        body,
        r#"<text x="10" y="{y}" font-weight="bold">{} ({})</text>"#,
        escape(&panel.title),
        escape(&panel.unit)
    );
    y += 10.0;
    for group in &panel.groups {
        y += 16.0;
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-style="italic">{}</text>"#,
            escape(&group.label)
        );
        y += 4.0;
        for (name, value) in &group.bars {
            let w = (value / max * PLOT_WIDTH).max(1.0);
            let colour = names.iter().position(|n| n == name).unwrap_or(0);
            let _ = writeln!(
                body,
                r#"<text x="{x}" y="{ty}" text-anchor="end">{label}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1}" height="{h}" fill="{c}"/><text x="{vx:.1}" y="{ty}">{v}</text>"#,
                x = LABEL_WIDTH - 6.0,
                ty = y + BAR_HEIGHT - 4.0,
                label = escape(name),
                h = BAR_HEIGHT - 2.0,
                c = PALETTE[colour % PALETTE.len()],
                vx = LABEL_WIDTH + w + 4.0,
                v = figure(*value),
            );
            y += BAR_HEIGHT;
        }
    }
    y + 6.0
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A figure with as many decimals as its size deserves.
pub(crate) fn figure(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// The 1-minute load average and the whole line of /proc/loadavg.
pub(crate) fn load() -> (f64, String) {
    let line = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one = line
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    (
        one,
        line.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Waits, polling every 20 s for at most `max_wait`, until the 1-minute load is below `threshold`.
/// Returns the load seen when measuring starts (flagged when the wait ran out).
pub(crate) fn wait_for_quiet(threshold: f64, max_wait: Duration) -> String {
    let started = Instant::now();
    loop {
        let (one, line) = load();
        if one < threshold {
            return line;
        }
        if started.elapsed() >= max_wait {
            eprintln!(
                "bench: load {line} still at or above {threshold} after {max_wait:?}; measuring anyway"
            );
            return format!("{line} (busy)");
        }
        eprintln!("bench: load {line}; waiting for it to fall below {threshold}");
        std::thread::sleep(Duration::from_secs(20));
    }
}

/// The lowest and highest 1-minute load seen before a set of runs, as `a–b`.
pub(crate) fn load_range(loads: &[String]) -> String {
    let ones: Vec<f64> = loads
        .iter()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    let busy = loads.iter().any(|l| l.contains("busy"));
    let low = ones.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ones.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if ones.is_empty() {
        "?".to_owned()
    } else if (high - low).abs() < 0.005 {
        format!("{low:.2}")
    } else {
        format!("{low:.2}–{high:.2}")
    };
    if busy {
        format!("{range} (some runs started above the gate after waiting 10 minutes)")
    } else {
        range
    }
}

/// Facts about the machine, as Markdown list items.
pub(crate) fn machine_facts(root: &Path) -> String {
    let output = |program: &str, args: &[&str]| first_line(root, program, args);
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let mut facts = String::new();
    let _ = writeln!(
        facts,
        "- Report written (UTC): {} (each section says when it was measured)",
        utc_now()
    );
    let _ = writeln!(facts, "- CPU: {}; `nproc`: {nproc}", cpu_model());
    let _ = writeln!(facts, "- Memory: {}", memory());
    let _ = writeln!(facts, "- Kernel: {}", output("uname", &["-sr"]));
    let _ = writeln!(facts, "- Rust: {}", output("rustc", &["--version"]));
    let _ = writeln!(facts, "- curl: {}", output("curl", &["--version"]));
    let _ = writeln!(
        facts,
        "- Python: {}; Node: {}",
        output("python3", &["--version"]),
        output("node", &["--version"])
    );
    facts
}

/// The first line a program prints (on stdout, or on stderr when stdout is empty), "?" if none.
fn first_line(root: &Path, program: &str, args: &[&str]) -> String {
    let Ok(output) = Command::new(program).args(args).current_dir(root).output() else {
        return "?".into();
    };
    let text = if output.stdout.is_empty() {
        &output.stderr
    } else {
        &output.stdout
    };
    let text = String::from_utf8_lossy(text);
    text.trim().lines().next().unwrap_or("").to_owned()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let kib: f64 = l
                .strip_prefix("MemTotal:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "?".into())
}

/// Now, as `YYYY-MM-DD HH:MM`.
pub(crate) fn utc_now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rest / 3_600_000,
        rest / 60_000 % 60
    )
}

/// Milliseconds since the epoch of a Salesforce timestamp such as `2026-05-01T12:00:00.123+0000`.
pub(crate) fn parse_sf_time(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let time = time.get(..12)?; // HH:MM:SS.sss
    let (h, mi, s) = (
        time.get(0..2)?.parse::<i64>().ok()?,
        time.get(3..5)?.parse::<i64>().ok()?,
        time.get(6..8)?.parse::<i64>().ok()?,
    );
    let millis = time.get(9..12)?.parse::<i64>().ok()?;
    if !text.ends_with("+0000") && !text.ends_with('Z') {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000 + millis)
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes `text` to `path`, creating its folder.
pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(4_000_000), "4,000,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn salesforce_times_and_the_calendar_agree() {
        assert_eq!(parse_sf_time("1970-01-01T00:00:01.500+0000"), Some(1500));
        assert_eq!(
            parse_sf_time("2024-02-29T12:00:00.000+0000"),
            Some(1_709_208_000_000)
        );
        assert_eq!(
            civil_from_days(days_from_civil(2026, 12, 31)),
            (2026, 12, 31)
        );
    }

    #[test]
    fn charts_are_svg_with_one_bar_per_figure() {
        let panel = Panel {
            title: "speed".into(),
            unit: "MB/s".into(),
            groups: vec![Group {
                label: "1M rows".into(),
                bars: vec![("a <b>".into(), 2.0), ("c".into(), 1.0)],
            }],
        };
        let svg = svg("t", &[panel]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("a &lt;b&gt;"));
    }
}
