#![allow(clippy::expect_used)] // cargo always sets OUT_DIR; a build script can only fail by panicking

//! Embeds Dagster's UI (the `ui` feature, on by default).
//!
//! The UI is the pre-built web app that ships in the `dagster-webserver` wheel on PyPI
//! (`dagster_webserver/webapp/build/`, Apache-2.0). It is a pinned dependency: this script takes
//! the wheel from `DAGSTER_UI_WHEEL` (a path, for offline and Docker builds) or from the cache
//! under the target directory, else downloads it with `python3 -m pip download`; checks its
//! sha256; unpacks the build folder (and Dagster's LICENSE) into the cache, gzip-compressing the
//! text files once; and writes `ui_files.rs`, a sorted table of `include_bytes!` entries that
//! `src/ui.rs` serves. Without the feature the table is empty and the server says how to get
//! the UI.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const UI_VERSION: &str = "1.13.27";
const WHEEL: &str = "dagster_webserver-1.13.27-py3-none-any.whl";
const WHEEL_SHA256: &str = "80c527117c07c17198a66ab14adfb588252476aacf2dca1591dca9e921e59f6a";
const BUILD_DIR: &str = "dagster_webserver/webapp/build/";
const LICENSE: &str = "dagster_webserver-1.13.27.dist-info/licenses/LICENSE";

type BoxError = Box<dyn std::error::Error>;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DAGSTER_UI_WHEEL");
    link_without_pie();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let table = if std::env::var_os("CARGO_FEATURE_UI").is_some() {
        match embed(&out_dir) {
            Ok(t) => t,
            Err(e) => {
                // A build script's panic is the only way to fail the build with a message.
                panic!(
                    "\n\nCannot embed Dagster's UI (dagster-webserver {UI_VERSION} wheel): {e}\n\
                     Either let `python3 -m pip download --no-deps dagster-webserver=={UI_VERSION}` \
                     reach PyPI, or download {WHEEL} elsewhere and set DAGSTER_UI_WHEEL=<path to it>, \
                     or build without the UI: cargo build --no-default-features.\n\n"
                );
            }
        }
    } else {
        "pub static FILES: &[UiFile] = &[];\npub const LICENSE: &str = \"\";\n".to_string()
    };
    let code = format!("pub const UI_VERSION: &str = {UI_VERSION:?};\n{table}");
    std::fs::write(out_dir.join("ui_files.rs"), code).expect("writing ui_files.rs");
}

/// `<target dir>/dagster-ui/`: shared by the debug, release and clippy builds, so the wheel is
/// downloaded and compressed once.
fn cache_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR = <target>/<profile>/build/<pkg>-<hash>/out
    out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("dagster-ui"))
        .unwrap_or_else(|| out_dir.join("dagster-ui"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn wheel_bytes(cache: &Path) -> Result<Vec<u8>, BoxError> {
    if let Some(p) = std::env::var_os("DAGSTER_UI_WHEEL") {
        let p = PathBuf::from(p);
        println!("cargo:rerun-if-changed={}", p.display());
        return std::fs::read(&p)
            .map_err(|e| format!("DAGSTER_UI_WHEEL={}: {e}", p.display()).into());
    }
    let cached = cache.join(WHEEL);
    if let Ok(b) = std::fs::read(&cached) {
        if sha256_hex(&b) == WHEEL_SHA256 {
            return Ok(b);
        }
    }
    std::fs::create_dir_all(cache)?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
        ])
        .arg(format!("dagster-webserver=={UI_VERSION}"))
        .arg("--dest")
        .arg(cache)
        .status()
        .map_err(|e| format!("running `{python} -m pip download`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`{python} -m pip download dagster-webserver=={UI_VERSION}` failed ({status})"
        )
        .into());
    }
    std::fs::read(&cached).map_err(|e| format!("{}: {e}", cached.display()).into())
}

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/vnd.microsoft.icon",
        "mp4" => "video/mp4",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Formats that are compressed already are stored as they are.
fn compressible(path: &str) -> bool {
    !matches!(
        path.rsplit('.').next().unwrap_or(""),
        "png" | "ico" | "mp4" | "woff2" | "gz"
    )
}

fn embed(out_dir: &Path) -> Result<String, BoxError> {
    let cache = cache_dir(out_dir);
    let wheel = wheel_bytes(&cache)?;
    let got = sha256_hex(&wheel);
    if got != WHEEL_SHA256 {
        return Err(format!("the wheel's sha256 is {got}, expected {WHEEL_SHA256}").into());
    }
    let files_dir = cache.join(format!("files-{}", &WHEEL_SHA256[..16]));
    let done_marker = files_dir.join(".complete");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel))?;
    let mut entries: Vec<(String, String, bool, String)> = Vec::new(); // path, stored file, gz, etag
    let mut license = String::new();
    let complete = done_marker.is_file();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i)?;
        let name = f.name().to_string();
        if name == LICENSE {
            f.read_to_string(&mut license)?;
            continue;
        }
        let Some(rel) = name.strip_prefix(BUILD_DIR) else {
            continue;
        };
        if rel.is_empty() || name.ends_with('/') {
            continue;
        }
        if rel
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(format!("unexpected path in the wheel: {name}").into());
        }
        let gz = compressible(rel);
        let stored = files_dir.join(if gz {
            format!("{rel}.gz")
        } else {
            rel.to_string()
        });
        let etag_file = files_dir.join(format!("{rel}.etag"));
        let etag = if complete {
            std::fs::read_to_string(&etag_file)?
        } else {
            let mut raw = Vec::with_capacity(f.size() as usize);
            f.read_to_end(&mut raw)?;
            let etag = format!("\"{}\"", &sha256_hex(&raw)[..32]);
            if let Some(parent) = stored.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if gz {
                let mut enc = flate2::write::GzEncoder::new(
                    std::fs::File::create(&stored)?,
                    flate2::Compression::best(),
                );
                enc.write_all(&raw)?;
                enc.finish()?;
            } else {
                std::fs::write(&stored, &raw)?;
            }
            std::fs::write(&etag_file, &etag)?;
            etag
        };
        entries.push((rel.to_string(), stored.display().to_string(), gz, etag));
    }
    if entries.iter().all(|e| e.0 != "index.html") {
        return Err("the wheel has no webapp/build/index.html".into());
    }
    if license.is_empty() {
        return Err(format!("the wheel has no {LICENSE}").into());
    }
    std::fs::write(&done_marker, "")?;
    entries.sort();
    let mut code = String::from("pub static FILES: &[UiFile] = &[\n");
    for (rel, stored, gz, etag) in &entries {
        let _ = writeln!(
            code,
            "    UiFile {{ path: {rel:?}, mime: {:?}, gzip: {gz}, etag: {etag:?}, body: include_bytes!({stored:?}) }},",
            mime(rel)
        );
    }
    code.push_str("];\n");
    let _ = writeln!(code, "pub const LICENSE: &str = {license:?};");
    Ok(code)
}

/// Links `dagster-webserver` as a fixed-address (non-PIE) executable on Linux, so the dynamic
/// loader has no relocations to apply at start: a PIE of this size carries 2 MB of them
/// (`.rela.dyn`) and writes into the 1.9 MB of `.data.rel.ro` (vtables, string tables), which
/// then stay resident as private memory. Measured: 3.5 MB less RSS idle, 4 MB less 10 s after a
/// burst of requests (docs/BENCHMARKS.md, "Webserver memory"). The price: the executable's own
/// code is not at a random address (libraries, heap and stacks still are).
/// `DAGSTER_WEBSERVER_PIE=1` at build time keeps the default PIE.
fn link_without_pie() {
    println!("cargo:rerun-if-env-changed=DAGSTER_WEBSERVER_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let pie = std::env::var("DAGSTER_WEBSERVER_PIE").is_ok_and(|v| v == "1");
    if linux && !pie {
        println!("cargo:rustc-link-arg-bin=dagster-webserver=-no-pie");
    }
}
