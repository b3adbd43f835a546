//! Dagster's UI, served unchanged.
//!
//! The files are the `webapp/build/` folder of the pinned `dagster-webserver` wheel, embedded by
//! `build.rs` (cargo feature `ui`, on by default): gzip-compressed once at build time and sent as
//! they are to every client that accepts gzip. Routing follows Dagster's webserver: a path that
//! names a file of the build is that file; a path under one of the build's folders that names no
//! file is 404 (so a missing script never gets HTML); every other `GET` is `index.html`, whose
//! placeholders (path prefix, instance id, telemetry, live-data poll rate, a fresh CSP nonce) are
//! filled in per response. The hashed `_next/static/` files are cached for a year, the others
//! revalidate by ETag, and `index.html` is never cached.

use crate::gql::Server;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use std::io::Read;
use std::sync::OnceLock;

/// One embedded file of the UI build.
pub struct UiFile {
    /// Path inside the build folder, e.g. `_next/static/chunks/main-28206b536e1c4f74.js`.
    pub path: &'static str,
    pub mime: &'static str,
    /// `body` is gzip-compressed.
    pub gzip: bool,
    /// Quoted strong ETag (a prefix of the content's sha256).
    pub etag: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

/// Whether this binary carries the UI.
pub fn available() -> bool {
    !FILES.is_empty()
}

pub fn find(path: &str) -> Option<&'static UiFile> {
    FILES
        .binary_search_by(|f| f.path.cmp(path))
        .ok()
        .map(|i| &FILES[i])
}

/// The file's uncompressed bytes.
fn decompressed(f: &UiFile) -> std::io::Result<Vec<u8>> {
    if !f.gzip {
        return Ok(f.body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f.body).read_to_end(&mut out)?;
    Ok(out)
}

/// A text file's content.
pub fn text(f: &UiFile) -> std::io::Result<String> {
    String::from_utf8(decompressed(f)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn text_of(path: &str) -> Option<String> {
    match text(find(path)?) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "the embedded UI file {path} cannot be read");
            None
        }
    }
}

fn index_template() -> Option<&'static str> {
    static T: OnceLock<Option<String>> = OnceLock::new();
    T.get_or_init(|| text_of("index.html")).as_deref()
}

fn csp_template() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        text_of("csp-header.txt")
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

/// Whether `path` (relative to the prefix, no leading `/`) is inside one of the build's
/// folders (`_next/...`, `vendor/...`): such a path is a file or 404, never `index.html`.
fn under_build_folder(path: &str) -> bool {
    let Some((first, _)) = path.split_once('/') else {
        return false;
    };
    let dir = format!("{first}/");
    let i = FILES.partition_point(|f| f.path < dir.as_str());
    FILES.get(i).is_some_and(|f| f.path.starts_with(&dir))
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !q_zero
        })
}

fn serve_file(req: &HttpRequest, f: &'static UiFile) -> HttpResponse {
    let cache = if f.path.starts_with("_next/static/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == f.etag || t.trim() == "*"));
    let mut resp = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, f.etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if f.gzip {
        resp.insert_header((header::VARY, "Accept-Encoding"));
    }
    if not_modified {
        return resp.finish();
    }
    resp.content_type(f.mime);
    if !f.gzip {
        return resp.body(f.body);
    }
    if accepts_gzip(req) {
        return resp
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(f.body);
    }
    match decompressed(f) {
        Ok(raw) => resp.body(raw),
        Err(e) => {
            tracing::error!(path = f.path, error = %e, "cannot decompress an embedded UI file");
            HttpResponse::InternalServerError().body(format!("cannot read {}", f.path))
        }
    }
}

/// `index.html` with Dagster's placeholders filled in, with its CSP and security headers.
fn index(server: &Server) -> HttpResponse {
    let Some(template) = index_template() else {
        return no_ui_page(server);
    };
    let st = &server.state;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let prefix = st.path_prefix.as_str();
    let instance_id = st.run_storage_id().unwrap_or_default();
    let page = template
        .replace("BUILDTIME_ASSETPREFIX_REPLACE_ME", prefix)
        .replace("__PATH_PREFIX__", prefix)
        .replace("__INSTANCE_ID__", &instance_id)
        .replace("\"__TELEMETRY_ENABLED__\"", "false")
        .replace(
            "__LIVE_DATA_POLL_RATE__",
            &st.live_data_poll_rate_ms.to_string(),
        )
        .replace("NONCE-PLACEHOLDER", &nonce);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            csp_template().replace("NONCE-PLACEHOLDER", &nonce),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Feature-Policy", "microphone 'none'; camera 'none'"))
        .insert_header((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(page)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a build without the `ui` feature answers where the UI would be.
fn no_ui_page(server: &Server) -> HttpResponse {
    let prefix = html_escape(&server.state.path_prefix);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dagster</title></head>\
             <body style=\"font-family: sans-serif; max-width: 44em; margin: 3em auto\">\
             <h1>dagster-webserver {version}</h1>\
             <p>This binary was built without Dagster's UI (cargo feature <code>ui</code>).</p>\
             <p>Build it with the default features (<code>cargo build --release</code>): the build \
             takes the UI from the <code>dagster-webserver=={ui}</code> wheel on PyPI, or from the \
             wheel file named by <code>DAGSTER_UI_WHEEL</code> when building offline.</p>\
             <p>The GraphQL API is served at <a href=\"{prefix}/graphql\"><code>{prefix}/graphql</code></a>.</p>\
             </body></html>",
            version = crate::VERSION,
            ui = UI_VERSION,
        ))
}

/// GraphiQL for a browser at `/graphql`, from the bundle's `vendor/graphiql` files (never a CDN).
pub fn graphiql(server: &Server) -> HttpResponse {
    if find("vendor/graphiql/graphiql.min.js").is_none() {
        return no_ui_page(server);
    }
    let p = html_escape(&server.state.path_prefix);
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GraphiQL · dagster-webserver</title>
<link rel="stylesheet" href="{p}/vendor/graphiql/graphiql.min.css">
<link rel="stylesheet" href="{p}/vendor/graphiql/graphiql-plugin-explorer-style.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; }}</style>
<script src="{p}/vendor/graphiql/react.production.min.js"></script>
<script src="{p}/vendor/graphiql/react-dom.production.min.js"></script>
<script src="{p}/vendor/graphiql/graphiql.min.js"></script>
<script src="{p}/vendor/graphiql/graphiql-plugin-explorer.umd.js"></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script>
  var loc = document.location;
  var wsScheme = loc.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({{
    url: loc.protocol + "//" + loc.host + "{p}/graphql",
    subscriptionUrl: wsScheme + "//" + loc.host + "{p}/graphql",
  }});
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    }})
  );
</script>
</body>
</html>
"#
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page)
}

/// Every `GET`/`HEAD` under the prefix that no API route took: a UI file, 404 inside a build
/// folder, or `index.html` (client-side routing). Other methods: 404.
pub async fn serve(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::Method;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return crate::http::not_found(req).await;
    }
    if let Some(r) = crate::http::check_token_or_login(&server, &req) {
        return r;
    }
    let prefix = server.state.path_prefix.as_str();
    let path = req.path();
    let rel = path
        .strip_prefix(prefix)
        .unwrap_or(path)
        .trim_start_matches('/');
    if let Some(f) = find(rel) {
        return serve_file(&req, f);
    }
    if rel == "LICENSE" && available() {
        return HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(LICENSE);
    }
    if under_build_folder(rel) {
        return crate::http::not_found(req).await;
    }
    if available() {
        index(&server)
    } else {
        no_ui_page(&server)
    }
}

/// Outside the path prefix: the build's top-level files (favicons, the manifest). The UI asks
/// for the run-status favicons at the root even under a prefix, so they are served there too;
/// everything else outside the prefix is 404.
pub async fn serve_root_file(req: HttpRequest) -> HttpResponse {
    use actix_web::http::Method;
    let rel = req.path().trim_start_matches('/');
    let top_level = !rel.is_empty() && !rel.contains('/');
    if req.method() == Method::GET || req.method() == Method::HEAD {
        if let Some(f) = find(rel).filter(|_| top_level) {
            return serve_file(&req, f);
        }
    }
    crate::http::not_found(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_and_unique() {
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path));
    }

    #[test]
    fn the_ui_is_embedded_with_its_license() {
        if cfg!(feature = "ui") {
            assert!(find("index.html").is_some());
            assert!(find("csp-header.txt").is_some());
            assert!(LICENSE.contains("Apache License"));
            let t = index_template().unwrap_or_default();
            for placeholder in [
                "BUILDTIME_ASSETPREFIX_REPLACE_ME",
                "__PATH_PREFIX__",
                "\"__TELEMETRY_ENABLED__\"",
                "__LIVE_DATA_POLL_RATE__",
                "__INSTANCE_ID__",
                "NONCE-PLACEHOLDER",
            ] {
                assert!(t.contains(placeholder), "index.html lacks {placeholder}");
            }
            assert!(under_build_folder("_next/static/missing.js"));
            assert!(!under_build_folder("runs/abc"));
        } else {
            assert!(!available());
        }
    }
}
