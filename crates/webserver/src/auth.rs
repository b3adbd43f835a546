//! The access token (`DAGSTER_WEBSERVER_TOKEN`), for API clients and for the browser.
//!
//! API clients send `Authorization: Bearer <token>` (on the websocket upgrade, or in the
//! `connection_init` payload). A browser cannot add that header to the UI's own requests, so it
//! signs in once: every UI page asks for the token (a form posted to `<prefix>/login`), and a
//! right token sets an HttpOnly, SameSite=Strict cookie that the UI's requests (HTTP and the
//! websocket) then carry. The cookie holds a SHA-256 digest of the token, not the token, so a
//! leaked cookie does not give the bearer token away; `<prefix>/logout` clears it. Nothing here
//! logs or echoes a token.

use crate::gql::Server;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "dagster_webserver_session";

fn eq_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `given` is the configured token (constant time).
pub fn token_matches(given: &str, token: &str) -> bool {
    eq_constant_time(given.as_bytes(), token.as_bytes())
}

/// The cookie value for `token`.
fn session_value(token: &str) -> String {
    Sha256::digest(format!("dagster-webserver-ui-session:{token}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the request carries a valid session cookie.
pub fn cookie_ok(req: &HttpRequest, token: &str) -> bool {
    let want = session_value(token);
    req.cookie(COOKIE)
        .is_some_and(|c| eq_constant_time(c.value().as_bytes(), want.as_bytes()))
}

/// The 401 answer of token mode for API requests.
pub fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .json(serde_json::json!({
            "data": null,
            "errors": [{"message": "Unauthorized: this server requires `Authorization: Bearer <token>` (DAGSTER_WEBSERVER_TOKEN), or a browser session signed in at /login"}],
        }))
}

/// The bearer token of the `Authorization` header: `None` when there is no header,
/// `Some(None)` when there is one that is not `Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Option<Option<&str>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim),
    )
}

/// `None` when an API request may proceed (no token configured, or a right bearer token or
/// session cookie); otherwise the 401 answer.
pub fn check_token(server: &Server, req: &HttpRequest) -> Option<HttpResponse> {
    let token = server.token.as_deref()?;
    match bearer(req) {
        Some(Some(g)) if token_matches(g, token) => None,
        None if cookie_ok(req, token) => None,
        _ => Some(unauthorized()),
    }
}

/// Like [`check_token`], for the UI's pages and files: without a session, a page request gets
/// the sign-in form (401) instead of a JSON error.
pub fn check_token_or_login(server: &Server, req: &HttpRequest) -> Option<HttpResponse> {
    check_token(server, req)?;
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !accepts_html {
        return Some(unauthorized());
    }
    Some(login_page(server, req.path(), false))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where to go after signing in: a path on this server under the prefix, else the prefix.
fn safe_next(prefix: &str, next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains(['\\', '\r', '\n'])
        && next.starts_with(prefix);
    if ok {
        next.to_string()
    } else {
        format!("{prefix}/")
    }
}

fn login_page(server: &Server, next: &str, wrong: bool) -> HttpResponse {
    let prefix = server.state.path_prefix.as_str();
    let next = html_escape(&safe_next(prefix, next));
    let action = html_escape(&format!("{prefix}/login"));
    let error = if wrong {
        "<p style=\"color:#b00\">That is not this server's token.</p>"
    } else {
        ""
    };
    HttpResponse::Unauthorized()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · Dagster</title></head>\
             <body style=\"font-family: sans-serif; max-width: 30em; margin: 4em auto\">\
             <h1>Dagster</h1><p>This server requires its access token (<code>DAGSTER_WEBSERVER_TOKEN</code>).</p>{error}\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" autofocus></label> \
             <button type=\"submit\">Sign in</button></form></body></html>"
        ))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST <prefix>/login` (form: `token`, `next`): a right token sets the session cookie and
/// redirects to `next`; a wrong one shows the form again.
pub async fn login(
    server: web::Data<Server>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let prefix = server.state.path_prefix.clone();
    let next = safe_next(&prefix, form.next.as_deref().unwrap_or(""));
    let Some(token) = server.token.as_deref() else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish();
    };
    if !token_matches(&form.token, token) {
        tracing::warn!(peer = ?req.peer_addr(), "UI sign-in with a wrong token");
        return login_page(&server, &next, true);
    }
    let cookie = session_cookie(&prefix, session_value(token), &req);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(cookie)
        .finish()
}

/// The session cookie: scoped to the prefix, HttpOnly, SameSite=Strict, Secure over HTTPS.
fn session_cookie(
    prefix: &str,
    value: String,
    req: &HttpRequest,
) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(COOKIE, value)
        .path(if prefix.is_empty() { "/" } else { prefix }.to_string())
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .finish()
}

/// `GET <prefix>/login`: the sign-in form.
pub async fn login_form(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    let next = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("next="))
        .map(percent_decode)
        .unwrap_or_default();
    let mut page = login_page(&server, &next, false);
    if server.token.is_none() {
        page = HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                safe_next(&server.state.path_prefix, &next),
            ))
            .finish();
    }
    page
}

/// `<prefix>/logout`: clears the session cookie.
pub async fn logout(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    let prefix = server.state.path_prefix.clone();
    let mut cookie = session_cookie(&prefix, String::new(), &req);
    cookie.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{prefix}/login")))
        .cookie(cookie)
        .finish()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("", "/runs/abc"), "/runs/abc");
        assert_eq!(safe_next("", "//evil.example/x"), "/");
        assert_eq!(safe_next("", "https://evil.example/"), "/");
        assert_eq!(safe_next("/dagster", "/dagster/runs"), "/dagster/runs");
        assert_eq!(safe_next("/dagster", "/other"), "/dagster/");
    }

    #[test]
    fn session_cookie_is_not_the_token() {
        let v = session_value("s3cret");
        assert_eq!(v.len(), 64);
        assert!(!v.contains("s3cret"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fruns%2Fx+y"), "/runs/x y");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }
}
