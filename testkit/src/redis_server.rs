//! A real `redis-server` (Debian package) on a free loopback port, with an
//! append-only file so a restart keeps the stream; or, with
//! [`RedisServer::start_tls`], speaking only TLS with a certificate from a
//! CA made for the test (`openssl`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    tls: bool,
    /// Extra arguments after the usual ones (e.g. `--replicaof`).
    extra: Vec<String>,
    /// With an fsynced append-only file (a restart keeps the data), or
    /// none (a restart starts empty).
    persistent: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(false, true, &[])
    }

    /// A server that speaks only TLS; its CA is [`RedisServer::ca_cert`].
    pub fn start_tls() -> Self {
        Self::start_with(true, false, &[])
    }

    /// A server without persistence: a restart starts it empty.
    pub fn start_volatile(extra: &[&str]) -> Self {
        Self::start_with(false, false, extra)
    }

    /// A replica of the server on `primary` (no persistence).
    pub fn start_replica(primary: u16) -> Self {
        Self::start_with(
            false,
            false,
            &["--replicaof", "127.0.0.1", &primary.to_string()],
        )
    }

    fn start_with(tls: bool, persistent: bool, extra: &[&str]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sse-hub-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = RedisServer {
            child: None,
            port,
            dir,
            tls,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            persistent,
        };
        if tls {
            r.make_certificates();
        }
        r.spawn();
        r
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// The PEM of the CA that signed a TLS server's certificate.
    pub fn ca_cert(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.crt")).unwrap()
    }

    /// A CA, and a certificate for 127.0.0.1 signed by it.
    fn make_certificates(&self) {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&self.dir)
                .output()
                .expect("openssl must be installed (scripts/setup.sh test installs it)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=sse-hub test CA",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            self.dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &port])
                .args([
                    "--tls-cert-file",
                    "server.crt",
                    "--tls-key-file",
                    "server.key",
                ])
                .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"]);
        } else {
            cmd.args(["--port", &port]);
        }
        cmd.args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--dir", self.dir.to_str().unwrap()]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .args(&self.extra)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian package redis-server; scripts/setup.sh test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                if self.tls {
                    return; // listening; the hub's own connect checks the rest
                }
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok()
                    && matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills the server (like a crash, but the AOF is fsynced per write).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs `redis-cli` against this server; its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, args)
    }
}

/// Runs `redis-cli -p port args…`; its output, trimmed.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian redis-tools) must be installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Three `redis-sentinel`s watching the primary named `main`, failing it
/// over one second after it stops answering.
pub struct Sentinels {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl Sentinels {
    pub fn start(primary: u16) -> Self {
        let dir =
            std::env::temp_dir().join(format!("sse-hub-sentinel-{}-{primary}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut children = Vec::new();
        let mut ports = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let conf = dir.join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor main 127.0.0.1 {primary} 2\n\
                     sentinel down-after-milliseconds main 1000\n\
                     sentinel failover-timeout main 4000\n\
                     sentinel parallel-syncs main 2\n",
                    dir = dir.display()
                ),
            )
            .unwrap();
            let child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server (with --sentinel) must be installed");
            children.push(child);
            ports.push(port);
        }
        let s = Sentinels {
            children,
            ports,
            dir,
        };
        for &port in &s.ports {
            let deadline = Instant::now() + Duration::from_secs(10);
            while redis_cli(port, &["PING"]) != "PONG" {
                assert!(
                    Instant::now() < deadline,
                    "sentinel on {port} did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        s
    }

    /// `redis+sentinel://…` for the hub.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!(
            "redis+sentinel://{}/0?sentinel_master_name=main",
            hosts.join(",")
        )
    }

    /// The port of the primary the sentinels name now.
    pub fn primary(&self) -> u16 {
        let out = redis_cli(
            self.ports[0],
            &["SENTINEL", "get-master-addr-by-name", "main"],
        );
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until every sentinel knows `replicas` replicas of the primary
    /// and the other sentinels (so a failover can start at once).
    pub fn wait_ready(&self, replicas: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.ports.iter().all(|&p| {
                let info = redis_cli(p, &["SENTINEL", "master", "main"]);
                let field = |name: &str| {
                    let lines: Vec<&str> = info.lines().collect();
                    lines
                        .iter()
                        .position(|l| l.trim() == name)
                        .and_then(|i| lines.get(i + 1))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0)
                };
                field("num-slaves") >= replicas && field("num-other-sentinels") >= 2
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sentinels did not see the set-up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
