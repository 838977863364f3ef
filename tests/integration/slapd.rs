//! A private OpenLDAP slapd for the tests: its own config, schemas and mdb databases in
//! a temporary directory, on free loopback ports, loaded with slapadd (which keeps the
//! fixtures' createTimestamp), stopped by the pid in its own pidfile.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::util::repo;

pub const ADMIN_DN: &str = "cn=admin,dc=unicaen,dc=fr";
pub const ADMIN_PW: &str = "test-secret";

#[derive(Default)]
pub struct Options {
    /// Serve ldaps:// too, with a certificate from a CA made for the test.
    pub tls: bool,
    /// The `sizelimit` line; default lets paged searches read everything.
    pub sizelimit: Option<String>,
    /// More LDIF to load into dc=unicaen,dc=fr.
    pub extra_unicaen: Option<String>,
    /// Load this LDIF into dc=unicaen,dc=fr instead of the demo's.
    pub unicaen_ldif: Option<PathBuf>,
}

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn slapd_bin() -> Option<PathBuf> {
    [
        "/usr/sbin/slapd",
        "/usr/local/sbin/slapd",
        "/usr/libexec/slapd",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
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

pub fn make_certs(dir: &Path) {
    let o = |args: &[&str]| sh(Command::new("openssl").args(args).current_dir(dir));
    for ca in ["ca", "other-ca"] {
        o(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=enrolgen test {ca}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    o(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    o(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

impl Slapd {
    /// Starts slapd with the demo directories; `None` when slapd is not installed and
    /// the suite does not require it (CI sets ENROLGEN_REQUIRE_SLAPD=1).
    pub fn start(opts: Options) -> Option<Slapd> {
        let Some(bin) = slapd_bin() else {
            assert!(
                std::env::var_os("ENROLGEN_REQUIRE_SLAPD").is_none(),
                "slapd is not installed: run scripts/install-test-deps.sh"
            );
            eprintln!("SKIPPED: slapd is not installed (scripts/install-test-deps.sh installs it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let tls_port = free_port();
        if opts.tls {
            make_certs(d);
        }
        let schema = repo().join("tests/fixtures/ldap/supann-min.schema");
        let tls = if opts.tls {
            format!("TLSCACertificateFile {0}/ca.pem\nTLSCertificateFile {0}/server.pem\nTLSCertificateKeyFile {0}/server.key\n", d.display())
        } else {
            String::new()
        };
        let sizelimit = opts
            .sizelimit
            .unwrap_or_else(|| "size.soft=500 size.prtotal=unlimited".into());
        let mut conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude {}\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {}/slapd.pid\n{tls}sizelimit {sizelimit}\n",
            schema.display(),
            d.display()
        );
        for (suffix, name) in [
            ("dc=unicaen,dc=fr", "unicaen"),
            ("dc=universitice,dc=fr", "universitice"),
        ] {
            std::fs::create_dir_all(d.join(name)).unwrap();
            conf.push_str(&format!(
                "database mdb\nmaxsize 1073741824\nsuffix \"{suffix}\"\nrootdn \"cn=admin,{suffix}\"\nrootpw {ADMIN_PW}\ndirectory {}/{name}\n\
                 index supannEtuId,supannAliasLogin,uid eq\n",
                d.display()
            ));
        }
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let slapadd = bin.with_file_name("slapadd");
        for (suffix, name) in [
            ("dc=unicaen,dc=fr", "unicaen"),
            ("dc=universitice,dc=fr", "universitice"),
        ] {
            let ldif = match (&opts.unicaen_ldif, name) {
                (Some(p), "unicaen") => p.clone(),
                _ => repo().join(format!("examples/demo/{name}.ldif")),
            };
            sh(Command::new(&slapadd)
                .arg("-q")
                .arg("-f")
                .arg(d.join("slapd.conf"))
                .args(["-b", suffix, "-l"])
                .arg(ldif));
        }
        if let Some(extra) = &opts.extra_unicaen {
            let p = d.join("extra.ldif");
            std::fs::write(&p, extra).unwrap();
            sh(Command::new(&slapadd)
                .arg("-q")
                .arg("-f")
                .arg(d.join("slapd.conf"))
                .args(["-b", "dc=unicaen,dc=fr", "-l"])
                .arg(&p));
        }
        // Ports were free a moment ago; another test may take one first: retry.
        let (mut port, mut tls_port) = (port, tls_port);
        for attempt in 1..=5 {
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if opts.tls {
                urls.push_str(&format!(" ldaps://127.0.0.1:{tls_port}/"));
            }
            // A huge open-files limit makes slapd allocate a lot: cap it.
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ulimit -n 4096; exec {} -f {}/slapd.conf -h '{urls}'",
                    bin.display(),
                    d.display()
                ))
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                attempt < 5,
                "slapd did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            port = free_port();
            tls_port = free_port();
        }
        let s = Slapd {
            port,
            tls_port,
            ca: d.join("ca.pem"),
            other_ca: d.join("other-ca.pem"),
            dir,
        };
        s.wait_ready();
        Some(s)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = Command::new("timeout")
                .args([
                    "5",
                    "ldapsearch",
                    "-x",
                    "-H",
                    &self.url(),
                    "-b",
                    "dc=unicaen,dc=fr",
                    "-s",
                    "base",
                    "dn",
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    pub fn stop(&self) {
        let pidfile = self.dir.path().join("slapd.pid");
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            let pid = pid.trim().to_string();
            let _ = Command::new("kill").arg(&pid).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = std::fs::remove_file(pidfile);
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
