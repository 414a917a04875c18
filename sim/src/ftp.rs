//! The module's FTP(S) client: each AT operation carried out against a real
//! server with `suppaftp`, its failures mapped to the module's error codes.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use suppaftp::types::{FileType, FormatControl};
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream, Status};

/// A failed operation: the module's `<err>` and the server's reply code
/// (`<protocol_error>`, 0 if none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FtpFail {
    pub err: u16,
    pub reply: u16,
}

impl FtpFail {
    pub const fn module(err: u16) -> Self {
        FtpFail { err, reply: 0 }
    }
}

/// Module error for an FTP reply code (reference section 7).
fn module_error_for_reply(reply: u16) -> u16 {
    match reply {
        421 => 614,
        425 => 615,
        426 => 616,
        450 => 617,
        451 => 618,
        452 => 619,
        500 => 620,
        501 => 621,
        502 => 622,
        503 => 623,
        504 => 624,
        530 => 625,
        532 => 626,
        550 => 627,
        551 => 628,
        552 => 629,
        553 => 630,
        _ => 601,
    }
}

impl From<FtpError> for FtpFail {
    fn from(error: FtpError) -> Self {
        match error {
            FtpError::UnexpectedResponse(response) => {
                let reply = u16::try_from(response.status.code()).unwrap_or(0);
                FtpFail { err: module_error_for_reply(reply), reply }
            }
            FtpError::ConnectionError(e) if e.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
                FtpFail::module(631)
            }
            FtpError::ConnectionError(e) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => FtpFail::module(606),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => FtpFail::module(609),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof => FtpFail::module(608),
                _ => FtpFail::module(605),
            },
            FtpError::SecureError(_) => FtpFail::module(631),
            FtpError::DataConnectionAlreadyOpen => FtpFail::module(603),
            _ => FtpFail::module(601),
        }
    }
}

/// TLS settings of one SSL context (`AT+QSSLCFG`), with the contents of
/// the files it names, read from the module's UFS at `AT+QFTPOPEN`.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    /// `sslversion`: 0 SSL 3.0, 1 TLS 1.0, 2 TLS 1.1, 3 TLS 1.2, 4 all.
    pub version: u8,
    /// `seclevel`: 0 no verification, 1 verify the server, 2 mutual.
    pub seclevel: u8,
    /// The `cacert` file (PEM): the certificates trusted for `seclevel` 1
    /// and 2.
    pub ca_pem: Option<Vec<u8>>,
    /// The `clientcert` (PEM, the chain) and `clientkey` (PEM) files:
    /// the module's own certificate for `seclevel` 2.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsSettings {
    /// The handshake's configuration. Anything that does not parse as the
    /// settings ask (no trusted certificate, an unparsable file, a missing
    /// client certificate at `seclevel` 2) fails as the handshake would: 631.
    fn client_config(&self) -> Result<Arc<ClientConfig>, FtpFail> {
        const SSL_FAILED: FtpFail = FtpFail::module(631);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match self.version {
            3 => &[&rustls::version::TLS12],
            4 => &[&rustls::version::TLS12, &rustls::version::TLS13],
            // SSL 3.0, TLS 1.0 and 1.1 are not offered by rustls: the
            // handshake fails as against a server that refuses them.
            _ => return Err(SSL_FAILED),
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(|_| SSL_FAILED)?;
        if self.seclevel == 0 {
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth();
            return Ok(Arc::new(config));
        }
        let mut roots = RootCertStore::empty();
        for cert in pem_certificates(self.ca_pem.as_deref())? {
            roots.add(cert).map_err(|_| SSL_FAILED)?;
        }
        let builder = builder.with_root_certificates(roots);
        let config = if self.seclevel == 2 {
            let (cert_pem, key_pem) = self.client_pem.as_ref().ok_or(SSL_FAILED)?;
            let chain = pem_certificates(Some(cert_pem))?;
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| SSL_FAILED)?;
            builder.with_client_auth_cert(chain, key).map_err(|_| SSL_FAILED)?
        } else {
            builder.with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

/// Every certificate of a PEM file; none, or one that does not parse, is
/// an SSL failure (631).
fn pem_certificates(pem: Option<&[u8]>) -> Result<Vec<CertificateDer<'static>>, FtpFail> {
    let certs = CertificateDer::pem_slice_iter(pem.unwrap_or_default())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| FtpFail::module(631))?;
    if certs.is_empty() {
        return Err(FtpFail::module(631));
    }
    Ok(certs)
}

/// `seclevel` 0: the module takes any server certificate.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Everything `AT+QFTPOPEN` needs, gathered from the module's settings.
#[derive(Debug, Clone)]
pub(crate) struct OpenParams {
    pub addr: SocketAddr,
    /// The host as the user wrote it (TLS server name).
    pub host: String,
    pub user: String,
    pub password: String,
    /// 0 plain FTP, 1 implicit TLS, 2 explicit TLS.
    pub ssl_type: u8,
    pub tls: TlsSettings,
    /// `transmode` 1.
    pub passive: bool,
    /// `data_address` 1: connect data to the control connection's address.
    pub control_address_for_data: bool,
    /// `filetype` 1.
    pub ascii: bool,
    /// `rsptimeout`.
    pub timeout: Duration,
}

/// Which listing command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    List,
    Nlst,
    Mlsd,
}

/// A logged-in FTP(S) session.
pub(crate) struct FtpSession {
    ftp: RustlsFtpStream,
}

impl FtpSession {
    /// Connects, secures, logs in and applies the transfer settings.
    pub fn open(p: &OpenParams) -> Result<Self, FtpFail> {
        let connector = || p.tls.client_config().map(RustlsConnector::from);
        let mut ftp = if p.ssl_type == 1 {
            RustlsFtpStream::connect_secure_implicit(p.addr, connector()?, &p.host)?
        } else {
            RustlsFtpStream::connect_timeout(p.addr, p.timeout)?
        };
        {
            let socket = ftp.get_ref();
            socket.set_read_timeout(Some(p.timeout)).ok();
            socket.set_write_timeout(Some(p.timeout)).ok();
        }
        if p.ssl_type == 2 {
            ftp = ftp.into_secure(connector()?, &p.host)?;
        }
        ftp.login(p.user.as_str(), p.password.as_str())?;
        if p.ssl_type == 1 {
            ftp.custom_command("PBSZ 0", &[Status::CommandOk])?;
            ftp.custom_command("PROT P", &[Status::CommandOk])?;
        }
        ftp.transfer_type(if p.ascii { FileType::Ascii(FormatControl::Default) } else { FileType::Binary })?;
        let timeout = p.timeout;
        if p.passive {
            ftp = ftp.passive_stream_builder(move |addr| {
                let stream = TcpStream::connect_timeout(&addr, timeout).map_err(FtpError::ConnectionError)?;
                stream.set_read_timeout(Some(timeout)).ok();
                stream.set_write_timeout(Some(timeout)).ok();
                Ok(stream)
            });
            ftp.set_passive_nat_workaround(p.control_address_for_data);
        } else {
            ftp = ftp.active_mode(timeout);
        }
        Ok(FtpSession { ftp })
    }

    pub fn cwd(&mut self, path: &str) -> Result<(), FtpFail> {
        Ok(self.ftp.cwd(path)?)
    }

    pub fn pwd(&mut self) -> Result<String, FtpFail> {
        Ok(self.ftp.pwd()?)
    }

    pub fn size(&mut self, path: &str) -> Result<u64, FtpFail> {
        Ok(self.ftp.size(path)? as u64)
    }

    pub fn delete(&mut self, path: &str) -> Result<(), FtpFail> {
        Ok(self.ftp.rm(path)?)
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), FtpFail> {
        Ok(self.ftp.mkdir(path)?)
    }

    pub fn rmdir(&mut self, path: &str) -> Result<(), FtpFail> {
        Ok(self.ftp.rmdir(path)?)
    }

    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FtpFail> {
        Ok(self.ftp.rename(from, to)?)
    }

    /// Modification time as `YYYYMMDDHHMMSS`, with `.NNN` if `millis`.
    pub fn mdtm(&mut self, path: &str, millis: bool) -> Result<String, FtpFail> {
        let time = self.ftp.mdtm(path)?;
        let mut text = time.format("%Y%m%d%H%M%S").to_string();
        if millis {
            text.push_str(&format!(".{:03}", time.and_utc().timestamp_subsec_millis()));
        }
        Ok(text)
    }

    /// The listing text, lines ended by CRLF.
    pub fn listing(&mut self, kind: ListKind, dir: &str) -> Result<Vec<u8>, FtpFail> {
        let dir = Some(dir).filter(|d| !d.is_empty() && *d != ".");
        let lines = match kind {
            ListKind::List => self.ftp.list(dir),
            ListKind::Nlst => self.ftp.nlst(dir),
            ListKind::Mlsd => self.ftp.mlsd(dir),
        }?;
        Ok(lines.iter().flat_map(|line| [line.as_bytes(), b"\r\n"]).flatten().copied().collect())
    }

    /// The file's bytes from `start` to its end.
    pub fn retrieve(&mut self, path: &str, start: u64) -> Result<Vec<u8>, FtpFail> {
        let start = usize::try_from(start).map_err(|_| FtpFail::module(612))?;
        self.ftp.resume_transfer(start)?;
        Ok(self.ftp.retr(path, |reader| {
            let mut data = Vec::new();
            reader.read_to_end(&mut data).map_err(FtpError::ConnectionError)?;
            Ok(data)
        })?)
    }

    /// Writes `data` to the file: a new file at `start` 0, appended otherwise.
    pub fn store(&mut self, path: &str, start: u64, data: &[u8]) -> Result<u64, FtpFail> {
        let mut stream =
            if start == 0 { self.ftp.put_with_stream(path)? } else { self.ftp.append_with_stream(path)? };
        stream.write_all(data).map_err(FtpError::ConnectionError)?;
        stream.finish()?;
        Ok(data.len() as u64)
    }

    /// Logs out (best effort) and closes the control connection.
    pub fn quit(mut self) {
        let _ = self.ftp.quit();
    }
}
