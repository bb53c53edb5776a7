//! A real OpenLDAP server for the tests: each test starts its own `slapd` on 127.0.0.1, on a
//! free port, from a temporary folder (configuration, database, certificates), loads a few
//! people and stops it when dropped.
//!
//! When slapd is not installed the tests say so and pass, unless `PICDAY_REQUIRE_SLAPD=1`
//! (set by `.ci/run`), where a missing slapd fails them.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use picday_core::Target;

pub const BASE: &str = "dc=school,dc=example";
pub const PEOPLE: &str = "ou=people,dc=school,dc=example";
pub const ADMIN_DN: &str = "cn=admin,dc=school,dc=example";
/// The service account with delegated write on the photo attributes of ou=people.
pub const SERVICE_DN: &str = "cn=picday,ou=services,dc=school,dc=example";
pub const SERVICE_PW: &str = "service-secret";
/// An account that may read but not write photos.
pub const READER_DN: &str = "cn=reader,ou=services,dc=school,dc=example";
pub const READER_PW: &str = "reader-secret";
/// People student0..=PEOPLE_COUNT-1 exist, as `fixtures::person(n)` describes them.
pub const PEOPLE_COUNT: usize = 32;

/// A running slapd.
pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    /// The administrator's password, different for every server: readiness is a bind with it,
    /// so a test never mistakes another test's server (or no server, see `wait_ready`) for its
    /// own.
    admin_pw: String,
    pub port: u16,
    /// The LDAPS port and the CA file, when started with TLS.
    pub tls: Option<(u16, PathBuf)>,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_slapd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PICDAY_SLAPD") {
        return Some(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("slapd")).collect())
        .unwrap_or_default();
    for d in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/libexec",
        "/usr/local/libexec",
    ] {
        candidates.push(Path::new(d).join("slapd"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn first_dir_with(dirs: &[&str], file: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(PathBuf::from)
        .find(|d| d.join(file).exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Starts slapd, or returns `None` (after saying why) when it is not installed.
pub async fn start() -> Option<Slapd> {
    start_with(None, false).await
}

/// Starts slapd with LDAPS and StartTLS too (certificates made by `openssl` here).
pub async fn start_tls() -> Option<Slapd> {
    start_with(Some(Certs::Standard), false).await
}

/// Starts slapd with LDAPS and StartTLS and a certificate as an older school PKI has it.
pub async fn start_tls_with(certs: Certs) -> Option<Slapd> {
    start_with(Some(certs), false).await
}

/// Starts slapd with a second database, [`BRANCH`], that is a read-only replica: an OpenLDAP
/// consumer (`syncrepl`) whose `updateref` answers every change with a referral (result code
/// 10) to [`WRITABLE_DC`], as a read-only domain controller does. Its one person, `student1`,
/// is loaded with `slapadd` before slapd starts (a replica takes no LDAP writes).
pub async fn start_replica() -> Option<Slapd> {
    start_with(None, true).await
}

/// The read-only replica's naming context and where its people are.
pub const BRANCH: &str = "dc=branch,dc=example";
pub const BRANCH_PEOPLE: &str = "ou=people,dc=branch,dc=example";
/// Where the replica refers writes.
pub const WRITABLE_DC: &str = "ldap://dc1.school.example/";

/// The server certificate a TLS slapd is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certs {
    /// Issued by a test CA with ECDSA-SHA256; `ca_cert` is the CA.
    Standard,
    /// Issued by the same kind of CA but signed with ECDSA-SHA1, as an old AD CS template does.
    Sha1,
    /// Self-signed (OpenSSL's `req -x509`, marked CA:TRUE); the "CA" handed over is the
    /// server's certificate itself.
    SelfSigned,
}

async fn start_with(tls: Option<Certs>, replica: bool) -> Option<Slapd> {
    let required = std::env::var("PICDAY_REQUIRE_SLAPD").is_ok_and(|v| v == "1");
    let skip = |why: String| {
        if required {
            panic!("{why}, and PICDAY_REQUIRE_SLAPD=1 requires it (install slapd and ldap-utils)");
        }
        eprintln!("SKIPPED: {why}; install Debian's slapd package to run the LDAP tests");
    };
    let Some(slapd) = find_slapd() else {
        skip("slapd is not installed".into());
        return None;
    };
    let Some(schema) = first_dir_with(
        &[
            "/etc/ldap/schema",
            "/etc/openldap/schema",
            "/usr/local/etc/openldap/schema",
        ],
        "inetorgperson.schema",
    ) else {
        skip(
            "slapd is installed but its schema files (inetorgperson.schema) were not found".into(),
        );
        return None;
    };
    if tls.is_some() && Command::new("openssl").arg("version").output().is_err() {
        skip("openssl is not installed (needed to make the test certificates)".into());
        return None;
    }
    let modules = first_dir_with(
        &[
            "/usr/lib/ldap",
            "/usr/lib64/openldap",
            "/usr/lib/openldap",
            "/usr/libexec/openldap",
            "/usr/local/libexec/openldap",
        ],
        "back_mdb.la",
    );

    let mut last_error = String::new();
    for _attempt in 0..3 {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let tls_files = tls.map(|certs| make_certificates(dir.path(), certs));
        let conf = dir.path().join("slapd.conf");
        let port = free_port();
        let admin_pw = format!("admin-{}-{port}", std::process::id());
        std::fs::write(
            &conf,
            slapd_conf(
                dir.path(),
                &schema,
                modules.as_deref(),
                tls_files.is_some(),
                &admin_pw,
                replica,
            ),
        )
        .expect("write slapd.conf");
        if replica {
            load_replica(&slapd, &conf, dir.path());
        }
        let tls_port = tls.map(|_| free_port());
        let mut urls = format!("ldap://127.0.0.1:{port}/");
        if let Some(p) = tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
        }
        let log = std::fs::File::create(dir.path().join("slapd.log")).expect("log file");
        let child = Command::new(&slapd)
            .arg("-d")
            .arg("0")
            .arg("-h")
            .arg(&urls)
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", slapd.display()));
        let mut server = Slapd {
            child,
            dir,
            admin_pw,
            port,
            tls: tls_port.zip(tls_files),
        };
        match server.wait_ready().await {
            Ok(()) => {
                server.load_people().await;
                return Some(server);
            }
            Err(e) => last_error = e,
        }
    }
    panic!("slapd did not start: {last_error}");
}

/// Loads the replica's entries offline, as a consumer is first seeded.
fn load_replica(slapd: &Path, conf: &Path, dir: &Path) {
    let slapadd = slapd.with_file_name("slapadd");
    let ldif = dir.join("branch.ldif");
    std::fs::write(
        &ldif,
        format!(
            "dn: {BRANCH}\nobjectClass: dcObject\nobjectClass: organization\ndc: branch\n\
             o: Branch campus\n\n\
             dn: {BRANCH_PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: uid=student1,{BRANCH_PEOPLE}\nobjectClass: inetOrgPerson\n\
             objectClass: picdayThumbnailPerson\nuid: student1\ncn: Student1 Example\n\
             sn: Example\nmail: student1@school.example\n"
        ),
    )
    .expect("write branch.ldif");
    let out = Command::new(&slapadd)
        .arg("-f")
        .arg(conf)
        .arg("-b")
        .arg(BRANCH)
        .arg("-l")
        .arg(&ldif)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", slapadd.display()));
    assert!(
        out.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certificates(dir: &Path, certs: Certs) -> PathBuf {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
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
    if certs == Certs::SelfSigned {
        let mut own = vec!["req", "-x509"];
        own.extend(ec);
        own.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]);
        run(&own);
        // slapd still needs a CA file; the server's own certificate is what was handed over.
        std::fs::copy(dir.join("server.pem"), dir.join("ca.pem")).expect("copy");
        return dir.join("ca.pem");
    }
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=picday test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    let digest = if certs == Certs::Sha1 {
        "-sha1"
    } else {
        "-sha256"
    };
    run(&[
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
        "server.ext",
        digest,
    ]);
    dir.join("ca.pem")
}

fn slapd_conf(
    dir: &Path,
    schema: &Path,
    modules: Option<&Path>,
    tls: bool,
    admin_pw: &str,
    replica: bool,
) -> String {
    // This crate's tests, or another crate's (cli/tests) that includes this module.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let test_schema = [
        manifest.join("tests/data/picday-test.schema"),
        manifest.join("../targets/ldap/tests/data/picday-test.schema"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("targets/ldap/tests/data/picday-test.schema");
    let d = dir.display();
    let mut c = String::new();
    for s in ["core", "cosine", "inetorgperson"] {
        c.push_str(&format!("include {}/{s}.schema\n", schema.display()));
    }
    c.push_str(&format!("include {}\n", test_schema.display()));
    c.push_str(&format!("pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n"));
    if let Some(m) = modules {
        c.push_str(&format!(
            "modulepath {}\nmoduleload back_mdb\n",
            m.display()
        ));
    }
    if tls {
        c.push_str(&format!(
            "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n"
        ));
    }
    c.push_str(&format!(
        r#"database mdb
maxsize 67108864
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {admin_pw}
directory {d}/db
access to attrs=userPassword
	by anonymous auth
	by * none
access to dn.subtree="{PEOPLE}" attrs=thumbnailPhoto,jpegPhoto
	by dn.exact="{SERVICE_DN}" write
	by users read
	by * none
access to *
	by users read
	by * none
"#
    ));
    if replica {
        c.push_str(&format!(
            r#"database mdb
maxsize 67108864
suffix "{BRANCH}"
rootdn "cn=admin,{BRANCH}"
rootpw {admin_pw}
directory {d}/branch
syncrepl rid=001 provider=ldap://127.0.0.1:9/ type=refreshOnly interval=01:00:00:00
	searchbase="{BRANCH}" bindmethod=simple binddn="cn=admin,{BRANCH}"
	credentials={admin_pw} retry="3600 +"
updateref {WRITABLE_DC}
access to attrs=thumbnailPhoto,jpegPhoto
	by dn.exact="{SERVICE_DN}" write
	by users read
	by * none
access to *
	by users read
	by * none
"#
        ));
        std::fs::create_dir_all(dir.join("branch")).expect("branch db dir");
    }
    c
}

/// `base` with the keys of the TOML snippet `extra` added or replaced.
pub fn with(mut base: toml::Table, extra: &str) -> toml::Table {
    let extra: toml::Table = toml::from_str(extra).expect("extra options");
    base.extend(extra);
    base
}

impl Slapd {
    /// Waits until this server answers a bind as its administrator. A TCP connection alone is
    /// no proof: a loopback connect to a port nobody listens on can succeed by connecting the
    /// socket to itself (TCP self-connect, when the kernel picks the same port as the source),
    /// and a port can be taken by another test's server between `free_port` and slapd's bind.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = String::from("no answer yet");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited ({status}): {log}"));
            }
            let tls = self
                .tls
                .as_ref()
                .is_none_or(|(p, _)| TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if tls {
                match self.try_admin().await {
                    Ok(mut ldap) => {
                        let _ = ldap.unbind().await;
                        return Ok(());
                    }
                    Err(e) => last = e,
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no administrator bind within 15 s ({last})"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's certificate (PEM), when started with TLS.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// `ldap://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// A file holding `secret`, for `password = { file = ... }`.
    pub fn secret_file(&self, secret: &str) -> PathBuf {
        let path = self.dir.path().join(format!(
            "pw-{}.txt",
            secret.replace(|c: char| !c.is_alphanumeric(), "_")
        ));
        std::fs::write(&path, format!("{secret}\n")).expect("write secret file");
        path
    }

    /// The options of a target bound as the service account over plain LDAP to loopback.
    pub fn options(&self, extra: &str) -> toml::Table {
        let pw = self.secret_file(SERVICE_PW);
        let text = format!(
            "url = \"{}\"\ninsecure = true\nbind_dn = \"{SERVICE_DN}\"\n\
             password = {{ file = \"{}\" }}\nbase = \"{PEOPLE}\"\n",
            self.url(),
            pw.display()
        );
        with(toml::from_str(&text).expect("test options"), extra)
    }

    /// A target built from [`Self::options`].
    pub fn target(&self, extra: &str) -> Arc<dyn Target> {
        picday_target_ldap::from_options("ad", self.options(extra), self.dir.path())
            .expect("build the ldap target")
    }

    /// A connection bound as the directory's administrator, outside the target.
    pub async fn admin(&self) -> Ldap {
        self.try_admin()
            .await
            .unwrap_or_else(|e| panic!("administrator bind: {e}"))
    }

    async fn try_admin(&self) -> Result<Ldap, String> {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url())
            .await
            .map_err(|e| format!("connect: {e}"))?;
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, &self.admin_pw)
            .await
            .map_err(|e| format!("bind: {e}"))?
            .success()
            .map_err(|e| format!("bind: {e}"))?;
        Ok(ldap)
    }

    /// Every value of `attr` on the entries `filter` matches, read as the administrator.
    pub async fn values(&self, filter: &str, attr: &str) -> Vec<Vec<u8>> {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(BASE, Scope::Subtree, filter, vec![attr])
            .await
            .expect("search")
            .success()
            .expect("search result");
        let mut out = Vec::new();
        for e in entries {
            let e = SearchEntry::construct(e);
            for (k, v) in e.bin_attrs {
                if k.eq_ignore_ascii_case(attr) {
                    out.extend(v);
                }
            }
            for (k, v) in e.attrs {
                if k.eq_ignore_ascii_case(attr) {
                    out.extend(v.into_iter().map(String::into_bytes));
                }
            }
        }
        let _ = ldap.unbind().await;
        out
    }

    async fn load_people(&self) {
        let mut ldap = self.admin().await;
        let add = |dn: String, attrs: Vec<(&'static str, Vec<String>)>| {
            let mut ldap = ldap.clone();
            async move {
                let attrs: Vec<(String, std::collections::HashSet<String>)> = attrs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into_iter().collect()))
                    .collect();
                ldap.add(&dn, attrs)
                    .await
                    .expect("add")
                    .success()
                    .unwrap_or_else(|e| panic!("add {dn}: {e}"));
            }
        };
        let s = |v: &str| vec![v.to_string()];
        add(
            BASE.into(),
            vec![
                (
                    "objectClass",
                    vec!["dcObject".into(), "organization".into()],
                ),
                ("dc", s("school")),
                ("o", s("Example School")),
            ],
        )
        .await;
        for ou in ["people", "services"] {
            add(
                format!("ou={ou},{BASE}"),
                vec![("objectClass", s("organizationalUnit")), ("ou", s(ou))],
            )
            .await;
        }
        for (cn, pw) in [("picday", SERVICE_PW), ("reader", READER_PW)] {
            add(
                format!("cn={cn},ou=services,{BASE}"),
                vec![
                    ("objectClass", s("person")),
                    ("cn", s(cn)),
                    ("sn", s(cn)),
                    ("userPassword", s(pw)),
                ],
            )
            .await;
        }
        let person = |uid: String, cn: String, mail: String| {
            vec![
                (
                    "objectClass",
                    vec!["inetOrgPerson".into(), "picdayThumbnailPerson".into()],
                ),
                ("uid", vec![uid]),
                ("cn", vec![cn]),
                ("sn", s("Example")),
                ("mail", vec![mail]),
            ]
        };
        for n in 0..PEOPLE_COUNT {
            add(
                format!("uid=student{n},{PEOPLE}"),
                person(
                    format!("student{n}"),
                    format!("Student{n} Example"),
                    format!("student{n}@school.example"),
                ),
            )
            .await;
        }
        // Two entries with the same mail: a person matched twice.
        for uid in ["twin1", "twin2"] {
            add(
                format!("uid={uid},{PEOPLE}"),
                person(uid.into(), uid.into(), "twin@school.example".into()),
            )
            .await;
        }
        // A name full of filter metacharacters.
        add(
            format!("uid=annie,{PEOPLE}"),
            person(
                "annie".into(),
                "Anne (Annie) O*Brien\\".into(),
                "annie@school.example".into(),
            ),
        )
        .await;
        let _ = ldap.unbind().await;
    }

    /// Sets attribute values directly, as the administrator.
    pub async fn set(&self, dn: &str, attr: &str, values: Vec<Vec<u8>>) {
        let mut ldap = self.admin().await;
        ldap.modify(
            dn,
            vec![Mod::Replace(
                attr.as_bytes().to_vec(),
                values.into_iter().collect(),
            )],
        )
        .await
        .expect("modify")
        .success()
        .expect("admin modify");
        let _ = ldap.unbind().await;
    }
}
