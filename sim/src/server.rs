//! A real FTP(S) server on loopback for tests and the no-hardware demo.
//!
//! [`TestServer::start`] runs `libunftp` (plain FTP and explicit FTPS with
//! `AUTH TLS`) in-process: it needs nothing but crates.io.
//! [`TestServer::start_vsftpd_implicit`] runs Debian's `vsftpd` for
//! implicit FTPS, which `libunftp` does not offer.
//!
//! Both present a certificate issued by a test CA generated when the server
//! starts ([`TestServer::ca_pem`]): a test puts the CA on the module's UFS
//! and names it with `AT+QSSLCFG="cacert"` to have `seclevel` 1 verify the
//! server for real.

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use libunftp::ServerBuilder;
use tokio::sync::oneshot;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};
use unftp_sbe_fs::Filesystem;

/// User name accepted by the servers (password [`PASSWORD`]).
pub const USER: &str = "test";
/// Password of [`USER`].
pub const PASSWORD: &str = "test";
/// How long a server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// `test`/`test`, and `anonymous`/`ftp` with any password.
#[derive(Debug)]
struct TestAuthenticator;

#[async_trait]
impl Authenticator for TestAuthenticator {
    async fn authenticate(&self, username: &str, creds: &Credentials) -> Result<Principal, AuthenticationError> {
        let anonymous = matches!(username, "anonymous" | "ftp");
        if username == USER {
            if creds.password.as_deref() != Some(PASSWORD) {
                return Err(AuthenticationError::BadPassword);
            }
        } else if !anonymous {
            return Err(AuthenticationError::BadUser);
        }
        Ok(Principal { username: username.to_owned() })
    }
}

/// The names the servers' certificate covers: what tests and `qftp` give
/// `AT+QFTPOPEN` (the simulator resolves `ftp.sim.test` to loopback). An IP
/// address is an IP SAN, as TLS clients need for a host given as an address.
const SERVER_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "ftp.sim.test"];

/// The servers' certificates: a test CA generated at start, and a leaf for
/// [`SERVER_NAMES`] that it signed. The servers present the chain (leaf,
/// then CA); a client that trusts the CA verifies the leaf.
struct Certificate {
    ca_pem: String,
    cert_pem: String,
    /// The chain the servers present: the leaf's PEM, then the CA's.
    chain_path: PathBuf,
    key_path: PathBuf,
}

impl Certificate {
    /// Generates the CA and the leaf into `dir`.
    fn generate(dir: &Path) -> io::Result<Self> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "quectel-ftp-sim test CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(io::Error::other)?;

        let names: Vec<String> = SERVER_NAMES.iter().map(|name| (*name).to_owned()).collect();
        let mut leaf_params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
        leaf_params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(io::Error::other)?;

        let (ca_pem, cert_pem) = (ca.pem(), leaf.pem());
        let chain_path = dir.join("chain.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&chain_path, format!("{cert_pem}{ca_pem}"))?;
        std::fs::write(&key_path, leaf_key.serialize_pem())?;
        Ok(Certificate { ca_pem, cert_pem, chain_path, key_path })
    }
}

enum Backend {
    Unftp { stop: Option<oneshot::Sender<()>>, thread: Option<JoinHandle<()>> },
    Vsftpd(Child),
}

/// An FTP server bound to `127.0.0.1` on a free port, serving a fresh
/// temporary directory. It stops, and the directory is removed, on drop.
pub struct TestServer {
    port: u16,
    root: tempfile::TempDir,
    _tls_dir: tempfile::TempDir,
    ca_pem: String,
    cert_pem: String,
    backend: Backend,
}

impl TestServer {
    /// Starts the in-process `libunftp` server: plain FTP, with explicit
    /// FTPS (`AUTH TLS`) available; passive and active data connections;
    /// users `test`/`test` and anonymous.
    pub fn start() -> io::Result<Self> {
        let root = tempfile::tempdir()?;
        let tls_dir = tempfile::tempdir()?;
        let cert = Certificate::generate(tls_dir.path())?;
        let port = free_port()?;
        let root_path = root.path().to_path_buf();
        let builder = ServerBuilder::with_authenticator(
            Box::new(move || Filesystem::new(root_path.clone()).expect("server root exists")),
            Arc::new(TestAuthenticator),
        )
        .greeting("quectel-ftp-sim test server")
        .passive_host(Ipv4Addr::LOCALHOST)
        .active_passive_mode(libunftp::options::ActivePassiveMode::ActiveAndPassive)
        .ftps(cert.chain_path.clone(), cert.key_path.clone());
        let server = builder.build().map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("test-ftp-server".into()).spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = server.listen(format!("127.0.0.1:{port}")) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
        let server = TestServer {
            port,
            root,
            _tls_dir: tls_dir,
            ca_pem: cert.ca_pem,
            cert_pem: cert.cert_pem,
            backend: Backend::Unftp { stop: Some(stop), thread: Some(thread) },
        };
        server.wait_until_listening()?;
        Ok(server)
    }

    /// Starts Debian's `vsftpd` (`/usr/sbin/vsftpd`, must run as root) for
    /// implicit FTPS: TLS from the first byte on control and data
    /// connections, passive mode, anonymous login only (any password).
    /// vsftpd refuses a writable root for anonymous users, so `/` is
    /// read-only and the writable directory is `/pub` (`root()/pub`).
    pub fn start_vsftpd_implicit() -> io::Result<Self> {
        let root = tempfile::tempdir()?;
        let tls_dir = tempfile::tempdir()?;
        let cert = Certificate::generate(tls_dir.path())?;
        let port = free_port()?;
        let empty = tls_dir.path().join("empty");
        std::fs::create_dir(&empty)?;
        set_mode(root.path(), 0o755)?;
        let public = root.path().join("pub");
        std::fs::create_dir(&public)?;
        set_mode(&public, 0o777)?;
        let (pasv_min, pasv_max) = (port.saturating_add(1), port.saturating_add(20));
        let conf = format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
             background=NO\nanonymous_enable=YES\nlocal_enable=NO\nno_anon_password=YES\n\
             anon_root={root}\nwrite_enable=YES\nanon_upload_enable=YES\n\
             anon_mkdir_write_enable=YES\nanon_other_write_enable=YES\n\
             anon_world_readable_only=NO\nanon_umask=022\n\
             secure_chroot_dir={empty}\nseccomp_sandbox=NO\nxferlog_enable=NO\n\
             pasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port={pasv_min}\npasv_max_port={pasv_max}\n\
             ssl_enable=YES\nimplicit_ssl=YES\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\n\
             force_anon_data_ssl=YES\nrequire_ssl_reuse=NO\nssl_ciphers=HIGH\n\
             rsa_cert_file={cert}\nrsa_private_key_file={key}\n",
            root = root.path().display(),
            empty = empty.display(),
            cert = cert.chain_path.display(),
            key = cert.key_path.display(),
        );
        let conf_path = tls_dir.path().join("vsftpd.conf");
        std::fs::File::create(&conf_path)?.write_all(conf.as_bytes())?;
        let child = Command::new("/usr/sbin/vsftpd")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = TestServer {
            port,
            root,
            _tls_dir: tls_dir,
            ca_pem: cert.ca_pem,
            cert_pem: cert.cert_pem,
            backend: Backend::Vsftpd(child),
        };
        server.wait_until_listening()?;
        Ok(server)
    }

    /// The control port on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory the server serves as `/`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The server's own (leaf) certificate (PEM), for `localhost`,
    /// `127.0.0.1`, `::1` and `ftp.sim.test`, issued by [`ca_pem`](Self::ca_pem).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The test CA that issued the server's certificate (PEM), generated
    /// when the server started: put it on the module's UFS
    /// (`AT+QFUPL="cacert.pem",<size>`) and name it with
    /// `AT+QSSLCFG="cacert",<ctx>,"cacert.pem"` so that `seclevel` 1
    /// verifies the server.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    fn wait_until_listening(&self) -> io::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "FTP server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Unftp { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
            Backend::Vsftpd(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
