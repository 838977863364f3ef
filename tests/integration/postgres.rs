//! A private PostgreSQL for the tests, as production has the DRE: its own cluster
//! in a temporary directory, on a free loopback port, TLS with a certificate from a
//! CA made for the test, the demo's DRE tables loaded (examples/demo/
//! pegase-postgres.sql) and the read-only role made by config/pegase-readonly.sql.
//! PostgreSQL refuses to run as root: under root the cluster belongs to the
//! `postgres` user Debian's package creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::util::repo;

pub const RO_USER: &str = "enrolgen_ro";
pub const RO_PASSWORD: &str = "ro-test-secret";
pub const DB: &str = "dre";

pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    as_root: bool,
}

/// The newest installed PostgreSQL's binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Starts the cluster with the demo's DRE; `None` when PostgreSQL is not
    /// installed and the suite does not require it (CI sets
    /// ENROLGEN_REQUIRE_POSTGRES=1).
    pub fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var_os("ENROLGEN_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is not installed: run scripts/install-test-deps.sh"
            );
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (scripts/install-test-deps.sh installs it)"
            );
            return None;
        };
        let as_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        crate::slapd::make_certs(&d);
        if as_root {
            sh(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&d));
        }
        let mut pg = Postgres {
            dir,
            port: free_port(),
            bin,
            as_root,
        };
        sh(pg
            .as_owner("initdb")
            .args([
                "-D",
                "data",
                "-U",
                "admin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["-E", "UTF8", "--locale=C.UTF-8"]));
        std::fs::write(
            d.join("data/postgresql.auto.conf"),
            format!(
                "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\n\
                 ssl_cert_file = '{0}/server.pem'\nssl_key_file = '{0}/server.key'\nfsync = off\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            d.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        pg.start_on_a_free_port();
        pg.psql("postgres", &["-c", &format!("CREATE DATABASE {DB}")]);
        // The scripts go in on psql's standard input: the cluster's owner may not
        // read the checkout.
        pg.psql_file(
            DB,
            &["-q"],
            &repo().join("examples/demo/pegase-postgres.sql"),
        );
        pg.psql_file(
            DB,
            &["-v", &format!("password='{RO_PASSWORD}'")],
            &repo().join("config/pegase-readonly.sql"),
        );
        Some(pg)
    }

    fn start_on_a_free_port(&mut self) {
        let mut port = self.port;
        for attempt in 1..=5 {
            let out = self
                .as_owner("pg_ctl")
                .args(["-D", "data", "-l", "log", "-w", "-t", "30", "-o"])
                .arg(format!("-p {port}"))
                .arg("start")
                .output()
                .unwrap();
            if out.status.success() {
                self.port = port;
                return;
            }
            assert!(
                attempt < 5,
                "PostgreSQL did not start: {}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
            );
            port = free_port();
        }
    }

    /// A PostgreSQL program run as the cluster's owner, in its directory.
    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.current_dir(self.dir.path());
        c
    }

    /// psql as the cluster's administrator, over the Unix socket, stopping at the
    /// first error.
    pub fn psql(&self, db: &str, args: &[&str]) -> String {
        self.psql_with(db, args, std::process::Stdio::null())
    }

    /// psql running the script `file`, read by the test and given on its input.
    pub fn psql_file(&self, db: &str, args: &[&str], file: &Path) -> String {
        let f = std::fs::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        self.psql_with(db, args, f.into())
    }

    fn psql_with(&self, db: &str, args: &[&str], input: std::process::Stdio) -> String {
        let out = self
            .as_owner("psql")
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", "admin", "-d", db])
            .args(args)
            .stdin(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A `pegase:` block reading this cluster as the read-only role, with the
    /// password in `password_file` and TLS as `tls` says (`sslmode: …, ca_file: …`).
    pub fn pegase_block(&self, password_file: &Path, tls: &str) -> String {
        format!(
            "pegase:\n  postgres:\n    host: 127.0.0.1\n    port: {}\n    dbname: {DB}\n    user: {RO_USER}\n    password_file: {}\n{tls}  period: \"PER-{{year}}\"\n",
            self.port,
            password_file.display()
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .as_owner("pg_ctl")
            .args(["-D", "data", "-m", "immediate", "stop"])
            .output();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.dir.path().join("data/postmaster.pid").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
