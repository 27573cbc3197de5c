//! A real `redis-server` for the replay-store tests: a mock would not show what matters (the
//! atomicity of `SET NX` across processes, the client's behaviour when the server dies and
//! comes back).
//!
//! Where the server comes from, in order: `CI_PREVIEW_TEST_REDIS_URL` (`.ci/run` starts one on
//! 127.0.0.1:16379 for the whole suite), else a `redis-server` this fixture starts on a free
//! loopback port, else the test is skipped with a message, unless `CI_PREVIEW_REQUIRE_REDIS=1`,
//! in which case a missing Redis fails the test. Tests that stop and restart Redis always get a
//! server of their own ([`RedisServer::start`]) so they cannot disturb the shared one.
//! Tests sharing a server keep apart by using audiences (key namespaces) of their own.
//! [`RedisServer::start_tls`] serves TLS only, with a certificate from a CA made for the test.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The URL of a Redis provided for the tests.
pub const TEST_REDIS_URL_VAR: &str = "CI_PREVIEW_TEST_REDIS_URL";
/// `1`: a test that finds no Redis fails instead of skipping.
pub const REQUIRE_REDIS_VAR: &str = "CI_PREVIEW_REQUIRE_REDIS";

/// A `redis-server` process owned by a test, on 127.0.0.1, persisting nothing. Killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    tls: Option<TlsFiles>,
}

/// A CA and a server certificate for 127.0.0.1 signed by it, written to a folder of their own.
#[derive(Debug)]
struct TlsFiles {
    dir: PathBuf,
    ca_pem: String,
}

impl TlsFiles {
    fn create() -> TlsFiles {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let dir =
            std::env::temp_dir().join(format!("ci-fixtures-redis-tls-{}", crate::token::uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        TlsFiles {
            dir,
            ca_pem: ca.pem(),
        }
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port, or `None` if the binary is not installed.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with_password(None)
    }

    /// Like [`RedisServer::start`], requiring `password` (`requirepass`).
    pub fn start_with_password(password: Option<&str>) -> Option<RedisServer> {
        RedisServer::start_inner(password, false)
    }

    /// A server speaking TLS only (`rediss://`), its certificate for 127.0.0.1 issued by a CA made
    /// for it ([`RedisServer::ca_pem`]); `None` if the binary is not installed.
    pub fn start_tls() -> Option<RedisServer> {
        RedisServer::start_inner(None, true)
    }

    fn start_inner(password: Option<&str>, tls: bool) -> Option<RedisServer> {
        which_redis_server()?;
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                child: None,
                port,
                password: password.map(str::to_owned),
                tls: tls.then(TlsFiles::create),
            };
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// `redis://[:password@]127.0.0.1:PORT/` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}/", self.port),
            None => format!("{scheme}://127.0.0.1:{}/", self.port),
        }
    }

    /// The PEM certificate of the CA that issued a TLS server's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_str())
    }

    /// The CA certificate (PEM) of a TLS server, to trust in clients.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: an outage, not a clean shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: it persists nothing).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Spawns on `self.port` and waits until it answers PING; false if it exited (port taken).
    fn spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1"]);
        match &self.tls {
            None => command.arg("--port").arg(self.port.to_string()),
            Some(tls) => command
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(tls.dir.join("server.crt"))
                .arg("--tls-key-file")
                .arg(tls.dir.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(tls.dir.join("ca.crt"))
                .args(["--tls-auth-clients", "no"]),
        };
        command
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let mut child = command.spawn().expect("redis-server spawns");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let ready = if self.tls.is_some() {
                // No TLS client here: an accepting socket will do.
                TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
            } else {
                ping(self.port, self.password.as_deref())
            };
            if ready {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis for a test: the suite's shared one or one of the test's own.
#[derive(Debug)]
pub enum TestRedis {
    /// `CI_PREVIEW_TEST_REDIS_URL`.
    Shared(String),
    /// Started for this test.
    Own(RedisServer),
}

impl TestRedis {
    /// The suite's Redis, else an own `redis-server`, else `None` after printing why the test
    /// named `test` is skipped (a panic when `CI_PREVIEW_REQUIRE_REDIS=1`).
    pub fn get(test: &str) -> Option<TestRedis> {
        if let Ok(url) = std::env::var(TEST_REDIS_URL_VAR)
            && !url.trim().is_empty()
        {
            return Some(TestRedis::Shared(url.trim().to_owned()));
        }
        RedisServer::start()
            .map(TestRedis::Own)
            .or_else(|| skip_or_fail(test))
    }

    /// The server's URL (`redis://` or `rediss://`).
    pub fn url(&self) -> String {
        match self {
            TestRedis::Shared(url) => url.clone(),
            TestRedis::Own(server) => server.url(),
        }
    }
}

/// A server of the test's own (for tests that stop it), else `None` after printing a skip (a
/// panic when `CI_PREVIEW_REQUIRE_REDIS=1`).
pub fn own_redis_or_skip(test: &str) -> Option<RedisServer> {
    RedisServer::start().or_else(|| skip_or_fail(test))
}

fn skip_or_fail<T>(test: &str) -> Option<T> {
    let required = std::env::var(REQUIRE_REDIS_VAR).is_ok_and(|v| v.trim() == "1");
    assert!(
        !required,
        "{test}: {REQUIRE_REDIS_VAR}=1 but no Redis: set {TEST_REDIS_URL_VAR} or install redis-server"
    );
    // Straight to the terminal: the test harness hides a passing test's `eprintln!` output.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: no Redis ({TEST_REDIS_URL_VAR} unset and no redis-server on PATH; \
         `apt-get install redis-server` to run it, {REQUIRE_REDIS_VAR}=1 to make this a failure)"
    );
    None
}

fn which_redis_server() -> Option<()> {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Some(()),
        _ => None,
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// True when a Redis on `port` answers PING with PONG (after AUTH when a password is set).
fn ping(port: u16, password: Option<&str>) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut request = String::new();
    if let Some(password) = password {
        request.push_str(&format!(
            "*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n",
            password.len()
        ));
    }
    request.push_str("*1\r\n$4\r\nPING\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while !seen.ends_with(b"+PONG\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if seen.starts_with(b"-") {
            return false;
        }
    }
    true
}
