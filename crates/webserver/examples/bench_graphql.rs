//! Latency benchmark of one GraphQL request against a running `dagster-webserver`
//! (`scripts/bench_webserver.sh` drives it; docs/BENCHMARKS.md has the figures).
//!
//! ```text
//! cargo run --release -p dagster-webserver --example bench_graphql -- \
//!     --port 3004 --requests 1000 --name runsOrError --query '{ runsOrError(limit: 30) { ... } }' \
//!     [--variables '{"runId": "$ID"}' --ids-file run_ids.txt]
//! ```
//!
//! One client, one keep-alive HTTP/1.1 connection, requests sent back to back (after
//! `--warmup` unmeasured ones); each request's time is from writing the request to having read
//! the whole body. With `--ids-file`, `$ID` in the variables is replaced by the ids of the file
//! in turn. A response that is not HTTP 200, or whose body has GraphQL `errors`, counts as an
//! error and is reported. Prints `name: n, p50, p90, p99, max, mean (ms), errors`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long)]
    port: u16,
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Label printed with the result.
    #[arg(long)]
    name: String,
    #[arg(long)]
    query: String,
    /// Variables (JSON object); `$ID` is replaced by the ids of `--ids-file`.
    #[arg(long, default_value = "{}")]
    variables: String,
    /// One id per line.
    #[arg(long)]
    ids_file: Option<std::path::PathBuf>,
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Conn {
    fn open(host: &str, port: u16) -> Result<Conn> {
        let s = TcpStream::connect((host, port))
            .with_context(|| format!("connecting to {host}:{port}"))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            host: format!("{host}:{port}"),
        })
    }

    /// POSTs `body` to /graphql; returns (status, body).
    fn post(&mut self, body: &[u8]) -> Result<(u16, String)> {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
        }
        let Some(length) = length else {
            bail!("response without Content-Length (status {status})");
        };
        let mut buf = vec![0; length];
        self.reader.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let ids: Vec<String> = match &args.ids_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    if args.variables.contains("$ID") && ids.is_empty() {
        bail!("--variables uses $ID but no --ids-file (or an empty one) was given");
    }
    let bodies: Vec<Vec<u8>> = (0..ids.len().max(1))
        .map(|i| {
            let vars_text = match ids.get(i) {
                Some(id) => args.variables.replace("$ID", id),
                None => args.variables.clone(),
            };
            let vars: serde_json::Value = serde_json::from_str(&vars_text)
                .with_context(|| format!("--variables is not JSON: {vars_text}"))?;
            Ok(serde_json::json!({"query": args.query, "variables": vars})
                .to_string()
                .into_bytes())
        })
        .collect::<Result<_>>()?;
    let mut conn = Conn::open(&args.host, args.port)?;
    let mut errors = 0usize;
    let mut first_error = None;
    let mut times = Vec::with_capacity(args.requests);
    for i in 0..(args.warmup + args.requests) {
        let body = &bodies[i % bodies.len()];
        let t0 = Instant::now();
        let (status, text) = conn.post(body)?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if status != 200 || text.contains("\"errors\"") {
            errors += 1;
            first_error
                .get_or_insert_with(|| format!("HTTP {status}: {}", &text[..text.len().min(500)]));
        }
        if i >= args.warmup {
            times.push(ms);
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "{}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms mean={:.2} ms errors={}",
        args.name,
        times.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 90.0),
        percentile(&sorted, 99.0),
        sorted.last().copied().unwrap_or(f64::NAN),
        mean,
        errors
    );
    if let Some(e) = first_error {
        eprintln!("first error: {e}");
    }
    Ok(())
}
