//! A real FTP(S) server on loopback for tests and the no-hardware demo.
//!
//! [`TestServer::start`] runs `libunftp` (plain FTP and explicit FTPS with
//! `AUTH TLS`) in-process: it needs nothing but crates.io.
//! [`TestServer::start_vsftpd_implicit`] runs Debian's `vsftpd` for
//! implicit FTPS, which `libunftp` does not offer.

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

/// The self-signed certificate the servers present.
struct Certificate {
    cert_pem: String,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl Certificate {
    /// Generates a certificate for `localhost` and `127.0.0.1` into `dir`.
    fn generate(dir: &Path) -> io::Result<Self> {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let key = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let cert_pem = key.cert.pem();
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, &cert_pem)?;
        std::fs::write(&key_path, key.signing_key.serialize_pem())?;
        Ok(Certificate { cert_pem, cert_path, key_path })
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
        .ftps(cert.cert_path.clone(), cert.key_path.clone());
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
            cert = cert.cert_path.display(),
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
        let server =
            TestServer { port, root, _tls_dir: tls_dir, cert_pem: cert.cert_pem, backend: Backend::Vsftpd(child) };
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

    /// The server's self-signed certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
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
