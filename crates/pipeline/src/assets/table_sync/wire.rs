//! The sync's own MySQL/MariaDB row reader: one plain TCP connection speaking just enough of
//! the client/server protocol to run prepared `SELECT`s and hand out binary-protocol rows
//! *in place*, decoded straight from the receive buffer into [`ValRef`]s.
//!
//! The `mysql` crate decodes every row into a `Vec<Value>` with one heap allocation per string
//! or decimal and a pooled buffer per packet; on a full sync that was about half of the sync's
//! own CPU. This reader allocates nothing per row. It is used only for the sync's page reads;
//! schema reads and everything else stay on the resource's pool. It supports the
//! `mysql_native_password` plugin and `caching_sha2_password` when the server answers with
//! its fast path; for anything else (another plugin, a full `caching_sha2_password`
//! exchange) [`WireConn::connect`] returns [`WireError::Unsupported`] and the caller reads
//! through the `mysql` crate instead. Packet framing, handshake and column definitions are
//! parsed with `mysql_common`, the protocol library under the `mysql` crate.

use super::types::ValRef;
use crate::resources::mysql::{MysqlSettings, SESSION_INIT};
use mysql::consts::{CapabilityFlags, ColumnFlags, ColumnType};
use mysql::Value;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

/// Receive buffer size (grown for larger packets).
const BUF_BYTES: usize = 256 << 10;
/// A payload of this length continues in the next packet.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_QUIT: u8 = 0x01;
const COM_STMT_CLOSE: u8 = 0x19;
/// Prepared statements kept per connection (a sync uses a handful of distinct page queries).
const MAX_STATEMENTS: usize = 16;

/// Why the reader could not do something.
#[derive(Debug)]
pub enum WireError {
    /// The server wants something this reader does not implement: use the `mysql` crate.
    Unsupported(String),
    /// Anything else: network, protocol or server error (the message names it).
    Failed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Unsupported(m) | WireError::Failed(m) => f.write_str(m),
        }
    }
}

fn io_err(what: &str, e: std::io::Error) -> WireError {
    WireError::Failed(format!("{what}: {e}"))
}

/// How a result column is laid out in a binary row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Int8 {
        unsigned: bool,
    },
    Int16 {
        unsigned: bool,
    },
    Int32 {
        unsigned: bool,
    },
    Int64 {
        unsigned: bool,
    },
    Float,
    Double,
    DateTime,
    Time,
    Null,
    /// Length-encoded bytes: strings, blobs, decimals, ENUM, SET, BIT, JSON, geometry.
    Bytes,
}

fn wire_of(t: ColumnType, flags: ColumnFlags) -> Result<Wire, WireError> {
    use ColumnType::*;
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    Ok(match t {
        MYSQL_TYPE_TINY => Wire::Int8 { unsigned },
        MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => Wire::Int16 { unsigned },
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => Wire::Int32 { unsigned },
        MYSQL_TYPE_LONGLONG => Wire::Int64 { unsigned },
        MYSQL_TYPE_FLOAT => Wire::Float,
        MYSQL_TYPE_DOUBLE => Wire::Double,
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE | MYSQL_TYPE_DATETIME => {
            Wire::DateTime
        }
        MYSQL_TYPE_TIME => Wire::Time,
        MYSQL_TYPE_NULL => Wire::Null,
        MYSQL_TYPE_STRING
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_DECIMAL
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_BIT
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_JSON
        | MYSQL_TYPE_VECTOR => Wire::Bytes,
        other => {
            return Err(WireError::Unsupported(format!(
                "result column type {other:?}"
            )))
        }
    })
}

/// A prepared statement: its id and parameter count.
#[derive(Debug, Clone, Copy)]
struct Stmt {
    id: u32,
    params: u16,
}

/// One connection of the reader (blocking).
pub struct WireConn {
    stream: TcpStream,
    /// Received bytes: `buf[start..end]` not consumed yet.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A payload spread over several packets, joined.
    joined: Vec<u8>,
    seq: u8,
    deprecate_eof: bool,
    stmts: HashMap<String, Stmt>,
    out: Vec<u8>,
    /// Layout of the current result set's columns.
    wires: Vec<Wire>,
    in_result: bool,
}

/// An error packet's message: `ERROR <code> (<state>): <message>`.
fn server_error(payload: &[u8]) -> String {
    if payload.len() < 3 {
        return "malformed error packet".into();
    }
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    let rest = &payload[3..];
    let (state, msg) = match rest.first() {
        Some(b'#') if rest.len() >= 6 => (
            String::from_utf8_lossy(&rest[1..6]).into_owned(),
            &rest[6..],
        ),
        _ => (String::new(), rest),
    };
    let msg = String::from_utf8_lossy(msg);
    if state.is_empty() {
        format!("ERROR {code}: {msg}")
    } else {
        format!("ERROR {code} ({state}): {msg}")
    }
}

/// Reads a length-encoded integer at `*pos`.
fn lenenc(p: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *p.get(*pos)?;
    let (n, len) = match first {
        0..=0xFA => (u64::from(first), 1),
        0xFC => (
            u64::from(u16::from_le_bytes(
                p.get(*pos + 1..*pos + 3)?.try_into().ok()?,
            )),
            3,
        ),
        0xFD => {
            let b = p.get(*pos + 1..*pos + 4)?;
            (
                u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16,
                4,
            )
        }
        0xFE => (
            u64::from_le_bytes(p.get(*pos + 1..*pos + 9)?.try_into().ok()?),
            9,
        ),
        _ => return None,
    };
    *pos += len;
    Some(n)
}

impl WireConn {
    /// Connects, authenticates, selects the database and sets the session time zone to UTC
    /// (as the resource's pooled connections do).
    pub fn connect(s: &MysqlSettings) -> Result<WireConn, WireError> {
        let addr = s.addr();
        let addrs: Vec<_> = (s.host.as_str(), s.port)
            .to_socket_addrs()
            .map_err(|e| io_err(&format!("resolving {addr}"), e))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, s.connect_timeout) {
                Ok(st) => {
                    stream = Some(st);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(st), _) => st,
            (None, Some(e)) => return Err(io_err(&format!("connecting to {addr}"), e)),
            (None, None) => {
                return Err(WireError::Failed(format!("{addr} resolves to no address")))
            }
        };
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(s.read_timeout))
            .and_then(|_| stream.set_write_timeout(Some(s.read_timeout)))
            .map_err(|e| io_err("setting socket timeouts", e))?;
        let mut c = WireConn {
            stream,
            buf: vec![0; BUF_BYTES],
            start: 0,
            end: 0,
            joined: Vec::new(),
            seq: 0,
            deprecate_eof: false,
            stmts: HashMap::new(),
            out: Vec::with_capacity(256),
            wires: Vec::new(),
            in_result: false,
        };
        c.handshake(s)?;
        c.query_ok(SESSION_INIT)?;
        Ok(c)
    }

    fn handshake(&mut self, s: &MysqlSettings) -> Result<(), WireError> {
        let (range, _) = self.read_packet()?;
        let payload = self.payload(range).to_vec();
        if payload.first() == Some(&0xFF) {
            return Err(WireError::Failed(server_error(&payload)));
        }
        let hp: HandshakePacket<'_> = ParseBuf(&payload)
            .parse(())
            .map_err(|e| WireError::Failed(format!("malformed server greeting: {e}")))?;
        let server_caps = hp.capabilities();
        if !server_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(WireError::Unsupported("a pre-4.1 server".into()));
        }
        let wanted = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_LONG_FLAG
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_DEPRECATE_EOF
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
        let caps = wanted & server_caps;
        self.deprecate_eof = caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        let nonce = hp.nonce();
        let plugin = hp
            .auth_plugin()
            .map(|p| p.into_owned())
            .unwrap_or(AuthPlugin::MysqlNativePassword);
        let pass = s.password.as_deref();
        let data = Self::auth_data(&plugin, pass, &nonce)?;
        let response = HandshakeResponse::new(
            Some(data.as_slice()),
            hp.server_version_parsed().unwrap_or((5, 5, 3)),
            Some(s.user.as_bytes()),
            Some(s.database.as_bytes()),
            Some(plugin.clone()),
            caps,
            None,
            u32::try_from(MAX_PAYLOAD).unwrap_or(u32::MAX),
        );
        let mut body = Vec::new();
        response.serialize(&mut body);
        self.write_packet(&body)?;
        let mut plugin = plugin;
        loop {
            let (range, _) = self.read_packet()?;
            let p = self.payload(range).to_vec();
            match p.first() {
                Some(0x00) => return Ok(()),
                Some(0xFF) => return Err(WireError::Failed(server_error(&p))),
                Some(0xFE) => {
                    // Auth switch: plugin name (NUL-terminated), then the new nonce.
                    let rest = &p[1..];
                    let nul = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                    plugin = AuthPlugin::from_bytes(&rest[..nul]).into_owned();
                    let mut nonce = rest.get(nul + 1..).unwrap_or(&[]).to_vec();
                    if nonce.last() == Some(&0) {
                        nonce.pop();
                    }
                    let data = Self::auth_data(&plugin, pass, &nonce)?;
                    self.write_packet(&data)?;
                }
                Some(0x01) if plugin == AuthPlugin::CachingSha2Password => match p.get(1) {
                    Some(0x03) => {} // fast authentication succeeded: an OK packet follows
                    _ => {
                        return Err(WireError::Unsupported(
                            "caching_sha2_password full authentication".into(),
                        ))
                    }
                },
                _ => {
                    return Err(WireError::Unsupported(format!(
                        "authentication exchange of plugin {plugin:?}"
                    )))
                }
            }
        }
    }

    fn auth_data(
        plugin: &AuthPlugin<'_>,
        pass: Option<&str>,
        nonce: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        match plugin {
            AuthPlugin::MysqlNativePassword | AuthPlugin::CachingSha2Password => Ok(plugin
                .gen_data(pass, nonce)
                .map(|d| d.to_vec())
                .unwrap_or_default()),
            other => Err(WireError::Unsupported(format!(
                "authentication plugin {other:?}"
            ))),
        }
    }

    /// Makes at least `n` unread bytes available in `buf[start..end]`.
    fn fill(&mut self, n: usize) -> Result<(), WireError> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < n {
            let got = self
                .stream
                .read(&mut self.buf[self.end..])
                .map_err(|e| io_err("reading from the server", e))?;
            if got == 0 {
                return Err(WireError::Failed("the server closed the connection".into()));
            }
            self.end += got;
        }
        Ok(())
    }

    /// Reads one logical packet; returns where its payload is (in `buf`, or in `joined` when
    /// it spanned several packets: the bool).
    fn read_packet(&mut self) -> Result<((usize, usize, bool), ()), WireError> {
        self.fill(4)?;
        let h = &self.buf[self.start..self.start + 4];
        let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
        self.seq = h[3].wrapping_add(1);
        self.fill(4 + len)?;
        let from = self.start + 4;
        self.start = from + len;
        if len < MAX_PAYLOAD {
            return Ok(((from, from + len, false), ()));
        }
        self.joined.clear();
        self.joined.extend_from_slice(&self.buf[from..from + len]);
        loop {
            self.fill(4)?;
            let h = &self.buf[self.start..self.start + 4];
            let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
            self.seq = h[3].wrapping_add(1);
            self.fill(4 + len)?;
            let from = self.start + 4;
            self.joined.extend_from_slice(&self.buf[from..from + len]);
            self.start = from + len;
            if len < MAX_PAYLOAD {
                return Ok(((0, self.joined.len(), true), ()));
            }
        }
    }

    fn payload(&self, (a, b, joined): (usize, usize, bool)) -> &[u8] {
        if joined {
            &self.joined[a..b]
        } else {
            &self.buf[a..b]
        }
    }

    fn write_packet(&mut self, body: &[u8]) -> Result<(), WireError> {
        let mut rest = body;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            let len = n as u32;
            let header = [len as u8, (len >> 8) as u8, (len >> 16) as u8, self.seq];
            self.seq = self.seq.wrapping_add(1);
            self.stream
                .write_all(&header)
                .and_then(|_| self.stream.write_all(&rest[..n]))
                .map_err(|e| io_err("writing to the server", e))?;
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                return Ok(());
            }
        }
    }

    fn command(&mut self, cmd: u8, body: &[u8]) -> Result<(), WireError> {
        if self.in_result {
            return Err(WireError::Failed(
                "a command was sent before the previous result was read".into(),
            ));
        }
        self.seq = 0;
        self.out.clear();
        self.out.push(cmd);
        self.out.extend_from_slice(body);
        let out = std::mem::take(&mut self.out);
        let r = self.write_packet(&out);
        self.out = out;
        r
    }

    /// Runs a statement that returns no rows.
    fn query_ok(&mut self, sql: &str) -> Result<(), WireError> {
        self.command(COM_QUERY, sql.as_bytes())?;
        let (range, _) = self.read_packet()?;
        let p = self.payload(range);
        match p.first() {
            Some(0x00) => Ok(()),
            Some(0xFF) => Err(WireError::Failed(format!("`{sql}`: {}", server_error(p)))),
            _ => Err(WireError::Failed(format!("`{sql}` returned rows"))),
        }
    }

    /// Skips `n` column definitions and, without `CLIENT_DEPRECATE_EOF`, the EOF after them.
    fn skip_definitions(&mut self, n: usize) -> Result<(), WireError> {
        for _ in 0..n {
            self.read_packet()?;
        }
        if n > 0 && !self.deprecate_eof {
            self.read_packet()?;
        }
        Ok(())
    }

    fn prepare(&mut self, sql: &str) -> Result<Stmt, WireError> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(*s);
        }
        if self.stmts.len() >= MAX_STATEMENTS {
            // COM_STMT_CLOSE has no answer.
            let ids: Vec<u32> = self.stmts.drain().map(|(_, s)| s.id).collect();
            for id in ids {
                self.command(COM_STMT_CLOSE, &id.to_le_bytes())?;
            }
        }
        self.command(COM_STMT_PREPARE, sql.as_bytes())?;
        let (range, _) = self.read_packet()?;
        let p = self.payload(range);
        if p.first() == Some(&0xFF) {
            return Err(WireError::Failed(format!(
                "preparing `{sql}`: {}",
                server_error(p)
            )));
        }
        if p.len() < 12 || p[0] != 0 {
            return Err(WireError::Failed(format!(
                "preparing `{sql}`: malformed answer"
            )));
        }
        let id = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
        let columns = u16::from_le_bytes([p[5], p[6]]);
        let params = u16::from_le_bytes([p[7], p[8]]);
        self.skip_definitions(usize::from(params))?;
        self.skip_definitions(usize::from(columns))?;
        let stmt = Stmt { id, params };
        self.stmts.insert(sql.to_string(), stmt);
        Ok(stmt)
    }

    /// Runs a prepared `SELECT` (prepared once per distinct SQL text); the rows are then read
    /// with [`WireConn::next_row`].
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<(), WireError> {
        let stmt = self.prepare(sql)?;
        if usize::from(stmt.params) != params.len() {
            return Err(WireError::Failed(format!(
                "`{sql}` has {} parameters, {} given",
                stmt.params,
                params.len()
            )));
        }
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&stmt.id.to_le_bytes());
        body.push(0); // no cursor
        body.extend_from_slice(&1u32.to_le_bytes()); // iteration count
        if !params.is_empty() {
            let mut nulls = vec![0u8; params.len().div_ceil(8)];
            for (i, v) in params.iter().enumerate() {
                if matches!(v, Value::NULL) {
                    nulls[i / 8] |= 1 << (i % 8);
                }
            }
            body.extend_from_slice(&nulls);
            body.push(1); // types follow
            let mut values = Vec::new();
            for v in params {
                let (t, unsigned) = match v {
                    Value::NULL => (ColumnType::MYSQL_TYPE_NULL, false),
                    Value::Int(i) => {
                        values.extend_from_slice(&i.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_LONGLONG, false)
                    }
                    Value::UInt(u) => {
                        values.extend_from_slice(&u.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_LONGLONG, true)
                    }
                    Value::Float(f) => {
                        values.extend_from_slice(&f.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_FLOAT, false)
                    }
                    Value::Double(f) => {
                        values.extend_from_slice(&f.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_DOUBLE, false)
                    }
                    Value::Bytes(b) => {
                        put_lenenc(&mut values, b.len() as u64);
                        values.extend_from_slice(b);
                        (ColumnType::MYSQL_TYPE_VAR_STRING, false)
                    }
                    Value::Date(y, mo, d, h, mi, s, us) => {
                        values.push(11);
                        values.extend_from_slice(&y.to_le_bytes());
                        values.extend_from_slice(&[*mo, *d, *h, *mi, *s]);
                        values.extend_from_slice(&us.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_DATETIME, false)
                    }
                    Value::Time(neg, days, h, mi, s, us) => {
                        values.push(12);
                        values.push(u8::from(*neg));
                        values.extend_from_slice(&days.to_le_bytes());
                        values.extend_from_slice(&[*h, *mi, *s]);
                        values.extend_from_slice(&us.to_le_bytes());
                        (ColumnType::MYSQL_TYPE_TIME, false)
                    }
                };
                body.push(t as u8);
                body.push(if unsigned { 0x80 } else { 0 });
            }
            body.extend_from_slice(&values);
        }
        self.command(COM_STMT_EXECUTE, &body)?;
        let (range, _) = self.read_packet()?;
        let p = self.payload(range);
        match p.first() {
            Some(0xFF) => return Err(WireError::Failed(format!("`{sql}`: {}", server_error(p)))),
            Some(0x00) => return Err(WireError::Failed(format!("`{sql}` returned no result set"))),
            _ => {}
        }
        let mut pos = 0;
        let n = lenenc(p, &mut pos)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| WireError::Failed(format!("`{sql}`: malformed column count")))?;
        self.wires.clear();
        for _ in 0..n {
            let (range, _) = self.read_packet()?;
            let col: mysql::Column = ParseBuf(self.payload(range))
                .parse(())
                .map_err(|e| WireError::Failed(format!("`{sql}`: malformed column: {e}")))?;
            let w = wire_of(col.column_type(), col.flags())?;
            self.wires.push(w);
        }
        if !self.deprecate_eof {
            self.read_packet()?;
        }
        self.in_result = true;
        Ok(())
    }

    /// The number of columns of the current result set.
    pub fn columns(&self) -> usize {
        self.wires.len()
    }

    /// The next row of the current result set, its values decoded into `vals` (which borrow
    /// the receive buffer until the next call); `false` at the end of the result set.
    pub fn next_row<'s>(&'s mut self, vals: &mut Vec<ValRef<'s>>) -> Result<bool, WireError> {
        vals.clear();
        if !self.in_result {
            return Ok(false);
        }
        let (range, _) = self.read_packet()?;
        let (a, b, joined) = range;
        let first = self.payload(range).first().copied();
        match first {
            Some(0x00) => {}
            Some(0xFE) if b - a < MAX_PAYLOAD && (b - a < 9 || self.deprecate_eof) => {
                self.in_result = false;
                return Ok(false);
            }
            Some(0xFF) => {
                self.in_result = false;
                return Err(WireError::Failed(server_error(self.payload(range))));
            }
            _ => {
                self.in_result = false;
                return Err(WireError::Failed("malformed row packet".into()));
            }
        }
        let p: &'s [u8] = if joined {
            &self.joined[a..b]
        } else {
            &self.buf[a..b]
        };
        decode_row(p, &self.wires, vals)
            .ok_or_else(|| WireError::Failed("malformed row packet".into()))?;
        Ok(true)
    }
}

impl Drop for WireConn {
    fn drop(&mut self) {
        // Best effort; a connection dropped mid-result is just closed.
        if !self.in_result {
            let _ = self.command(COM_QUIT, &[]);
        }
    }
}

fn put_lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xFA => out.push(n as u8),
        0xFB..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Decodes a binary-protocol row (header byte, NULL bitmap with a 2-bit offset, values).
/// Integers and dates are decoded as the `mysql` crate decodes them (`Int` for every integer
/// but an unsigned BIGINT above `i64::MAX`, which is `UInt`).
fn decode_row<'a>(p: &'a [u8], wires: &[Wire], vals: &mut Vec<ValRef<'a>>) -> Option<()> {
    let n = wires.len();
    let bitmap = p.get(1..1 + (n + 7 + 2) / 8)?;
    let mut pos = 1 + bitmap.len();
    for (i, w) in wires.iter().enumerate() {
        let bit = i + 2;
        if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
            vals.push(ValRef::Null);
            continue;
        }
        let v = match *w {
            Wire::Bytes => {
                let len = usize::try_from(lenenc(p, &mut pos)?).ok()?;
                let b = p.get(pos..pos.checked_add(len)?)?;
                pos += len;
                ValRef::Bytes(b)
            }
            Wire::Int8 { unsigned } => {
                let b = *p.get(pos)?;
                pos += 1;
                ValRef::Int(if unsigned {
                    i64::from(b)
                } else {
                    i64::from(b as i8)
                })
            }
            Wire::Int16 { unsigned } => {
                let b: [u8; 2] = p.get(pos..pos + 2)?.try_into().ok()?;
                pos += 2;
                ValRef::Int(if unsigned {
                    i64::from(u16::from_le_bytes(b))
                } else {
                    i64::from(i16::from_le_bytes(b))
                })
            }
            Wire::Int32 { unsigned } => {
                let b: [u8; 4] = p.get(pos..pos + 4)?.try_into().ok()?;
                pos += 4;
                ValRef::Int(if unsigned {
                    i64::from(u32::from_le_bytes(b))
                } else {
                    i64::from(i32::from_le_bytes(b))
                })
            }
            Wire::Int64 { unsigned } => {
                let b: [u8; 8] = p.get(pos..pos + 8)?.try_into().ok()?;
                pos += 8;
                if unsigned {
                    let u = u64::from_le_bytes(b);
                    i64::try_from(u).map_or(ValRef::UInt(u), ValRef::Int)
                } else {
                    ValRef::Int(i64::from_le_bytes(b))
                }
            }
            Wire::Float => {
                let b: [u8; 4] = p.get(pos..pos + 4)?.try_into().ok()?;
                pos += 4;
                ValRef::Float(f32::from_le_bytes(b))
            }
            Wire::Double => {
                let b: [u8; 8] = p.get(pos..pos + 8)?.try_into().ok()?;
                pos += 8;
                ValRef::Double(f64::from_le_bytes(b))
            }
            Wire::DateTime => {
                let len = usize::from(*p.get(pos)?);
                let d = p.get(pos + 1..pos + 1 + len)?;
                pos += 1 + len;
                let (mut y, mut mo, mut da, mut h, mut mi, mut s, mut us) = (0, 0, 0, 0, 0, 0, 0);
                if len >= 4 {
                    y = u16::from_le_bytes([d[0], d[1]]);
                    mo = d[2];
                    da = d[3];
                }
                if len >= 7 {
                    h = d[4];
                    mi = d[5];
                    s = d[6];
                }
                if len >= 11 {
                    us = u32::from_le_bytes([d[7], d[8], d[9], d[10]]);
                }
                ValRef::Date(y, mo, da, h, mi, s, us)
            }
            Wire::Time => {
                let len = usize::from(*p.get(pos)?);
                let d = p.get(pos + 1..pos + 1 + len)?;
                pos += 1 + len;
                let (mut neg, mut days, mut h, mut mi, mut s, mut us) = (false, 0, 0, 0, 0, 0);
                if len >= 8 {
                    neg = d[0] == 1;
                    days = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
                    h = d[5];
                    mi = d[6];
                    s = d[7];
                }
                if len >= 12 {
                    us = u32::from_le_bytes([d[8], d[9], d[10], d[11]]);
                }
                ValRef::Time(neg, days, h, mi, s, us)
            }
            Wire::Null => ValRef::Null,
        };
        vals.push(v);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::resources::MysqlResource;
    use mysql::prelude::Queryable;

    fn settings() -> MysqlSettings {
        let mut s = MysqlSettings::new("127.0.0.1", "root", "information_schema");
        s.connect_timeout = std::time::Duration::from_secs(5);
        s
    }

    fn connect(s: &MysqlSettings) -> WireConn {
        WireConn::connect(s).unwrap_or_else(|e| {
            panic!("MariaDB at 127.0.0.1:3306 (root, no password) must be running (`service mariadb start`, see .ci/run): {e}")
        })
    }

    /// Every wire type decodes as the `mysql` crate decodes it, on the same server.
    #[test]
    fn values_decode_as_the_mysql_crate_decodes_them() {
        let sql = "SELECT CAST(? AS SIGNED), -1, CAST(18446744073709551615 AS UNSIGNED), \
                   CAST(255 AS UNSIGNED), 1.5e0, CAST(0.1 AS FLOAT), 'Grüße 🎉', NULL, \
                   CAST('2024-02-29 23:59:58.123456' AS DATETIME(6)), DATE '2024-02-29', \
                   CAST('-838:59:59' AS TIME), CAST('12:00:01.5' AS TIME(1)), CAST(-1.25 AS DECIMAL(10,2)), \
                   X'00FF', CAST(2024 AS UNSIGNED) + 0, b'1010', CAST('0000-00-00' AS DATE), ?";
        let params = vec![Value::Int(-42), Value::Bytes(b"p".to_vec())];
        let mut w = connect(&settings());
        let mut got = Vec::new();
        for _ in 0..2 {
            // twice: the second run reuses the prepared statement
            w.execute(sql, &params).unwrap();
            let mut vals = Vec::new();
            assert!(w.next_row(&mut vals).unwrap());
            got = vals.iter().map(|v| v.to_value()).collect::<Vec<_>>();
            let mut vals = Vec::new();
            assert!(!w.next_row(&mut vals).unwrap());
        }
        let pool = MysqlResource::new("t", settings()).unwrap();
        let mut conn = pool.connection().unwrap();
        let row: mysql::Row = conn.exec_first(sql, params).unwrap().unwrap();
        assert_eq!(got, row.unwrap());
        assert_eq!(got[0], Value::Int(-42));
        assert_eq!(got[2], Value::UInt(u64::MAX));
    }

    #[test]
    fn server_errors_are_named_and_the_password_never_shown() {
        let mut s = settings();
        s.password = Some("not-the-password-xyz".into());
        let e = match WireConn::connect(&s) {
            Ok(_) => panic!("root has no password on the test server"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("1045"), "{e}");
        assert!(!e.contains("not-the-password-xyz"), "{e}");
        let mut w = connect(&settings());
        let e = w
            .execute("SELECT * FROM no_such_table_x", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no_such_table_x") && e.contains("ERROR 1109 (42S02)"),
            "{e}"
        );
        // The connection stays usable.
        w.execute("SELECT 1", &[]).unwrap();
        let mut vals = Vec::new();
        assert!(w.next_row(&mut vals).unwrap());
        assert_eq!(vals, vec![ValRef::Int(1)]);
    }

    #[test]
    fn lenenc_round_trip() {
        for n in [
            0u64,
            250,
            251,
            65_535,
            65_536,
            16_777_215,
            16_777_216,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_lenenc(&mut out, n);
            let mut pos = 0;
            assert_eq!(lenenc(&out, &mut pos), Some(n));
            assert_eq!(pos, out.len());
        }
        assert_eq!(lenenc(&[0xFB], &mut 0), None);
        assert_eq!(lenenc(&[0xFC, 1], &mut 0), None);
    }

    #[test]
    fn rows_decode_in_place_and_truncated_rows_are_errors() {
        let wires = [
            Wire::Int64 { unsigned: true },
            Wire::Bytes,
            Wire::Int8 { unsigned: false },
            Wire::DateTime,
            Wire::Double,
        ];
        // header, bitmap (5 columns + 2 bits: one byte; column 2 NULL = bit 4), values
        let mut p = vec![0x00, 1 << 4];
        p.extend_from_slice(&u64::MAX.to_le_bytes());
        p.extend_from_slice(&[3, b'a', b'b', b'c']);
        p.extend_from_slice(&[7, 0xE8, 0x07, 2, 29, 23, 59, 58]);
        p.extend_from_slice(&1.5f64.to_le_bytes());
        let mut vals = Vec::new();
        decode_row(&p, &wires, &mut vals).unwrap();
        assert_eq!(
            vals,
            vec![
                ValRef::UInt(u64::MAX),
                ValRef::Bytes(b"abc"),
                ValRef::Null,
                ValRef::Date(2024, 2, 29, 23, 59, 58, 0),
                ValRef::Double(1.5),
            ]
        );
        for cut in 2..p.len() {
            vals.clear();
            assert!(decode_row(&p[..cut], &wires, &mut vals).is_none(), "{cut}");
        }
        assert!(
            server_error(&[0xFF, 0x15, 0x04, b'#', b'2', b'8', b'0', b'0', b'0', b'x'])
                .starts_with("ERROR 1045 (28000): x")
        );
    }
}
