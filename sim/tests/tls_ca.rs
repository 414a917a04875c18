//! FTPS that verifies the server: `AT+QSSLCFG="seclevel",<ctx>,1` with the
//! CA certificate put on the module's file store (`AT+QFUPL`) and named by
//! `AT+QSSLCFG="cacert"`; `seclevel` 2 with `clientcert`/`clientkey`.

mod common;

use common::Host;
use quectel_ftp_sim::{SimConfig, TestServer};

/// A CA of its own, with the same name as the test servers' CA: only its
/// key differs, so only a real signature check tells them apart.
fn another_ca() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "quectel-ftp-sim test CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

/// A module logged in as `user`, FTPS `ssltype` on SSL context 1 with
/// `seclevel` 1 and `cacert` "cacert.pem"; nothing on UFS yet.
fn verifying_module(ssltype: u8, user: &str, password: &str) -> Host {
    let mut host = Host::new(SimConfig::default());
    host.bring_up(user, password);
    host.expect(&format!(r#"AT+QFTPCFG="ssltype",{ssltype}"#), "\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="sslctxid",1"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="seclevel",1,1"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="cacert",1,"cacert.pem""#, "\r\nOK\r\n");
    host
}

fn close(host: &mut Host) {
    host.expect("AT+QFTPCLOSE", "\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n");
}

#[test]
fn explicit_ftps_verifies_the_server_against_the_cacert_file() {
    let server = TestServer::start().unwrap();
    let mut host = verifying_module(2, "test", "test");
    // Named but not on UFS.
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    // Another CA.
    host.upload_file("cacert.pem", another_ca().as_bytes());
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    // The CA that issued the server's certificate: for every name it covers.
    host.expect(r#"AT+QFDEL="cacert.pem""#, "\r\nOK\r\n");
    host.upload_file("cacert.pem", server.ca_pem().as_bytes());
    for name in ["127.0.0.1", "localhost", "ftp.sim.test"] {
        assert_eq!(host.open(name, server.port()), "0,0", "{name}");
        close(&mut host);
    }
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.put_counted("verified.bin", 0, b"over verified TLS", 1);
    assert_eq!(host.get_counted("verified.bin", 0, 100), b"over verified TLS");
    close(&mut host);
    // The file is read at each open: gone, or not a certificate, fails.
    host.expect(r#"AT+QFDEL="cacert.pem""#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    host.upload_file("cacert.pem", b"-----BEGIN CERTIFICATE-----\r\nnot base64!\r\n-----END CERTIFICATE-----\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    host.expect(r#"AT+QFDEL="cacert.pem""#, "\r\nOK\r\n");
    host.upload_file("cacert.pem", b"no PEM at all");
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    // A RAM file works as well; another SSL context is not consulted.
    host.upload_file("RAM:ca.pem", server.ca_pem().as_bytes());
    host.expect(r#"AT+QSSLCFG="cacert",0,"cacert.pem""#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="cacert",1,"RAM:ca.pem""#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    close(&mut host);
    // Verification off: no file needed.
    host.expect(r#"AT+QSSLCFG="seclevel",1,0"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="cacert",1,"nowhere.pem""#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    close(&mut host);
}

#[test]
fn seclevel_2_loads_the_client_certificate_and_key_from_files() {
    let server = TestServer::start().unwrap();
    let mut host = verifying_module(2, "test", "test");
    host.upload_file("cacert.pem", server.ca_pem().as_bytes());
    host.expect(r#"AT+QSSLCFG="seclevel",1,2"#, "\r\nOK\r\n");
    // Not named yet.
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    host.expect(r#"AT+QSSLCFG="clientcert",1,"client.pem""#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="clientkey",1,"client.key""#, "\r\nOK\r\n");
    // Named, not there.
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    let client = rcgen::generate_simple_self_signed(vec!["bg95.sim.test".to_owned()]).unwrap();
    host.upload_file("client.pem", client.cert.pem().as_bytes());
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0", "key missing");
    host.upload_file("client.key", b"-----BEGIN PRIVATE KEY-----\r\nAAAA\r\n-----END PRIVATE KEY-----\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0", "key unparsable");
    host.expect(r#"AT+QFDEL="client.key""#, "\r\nOK\r\n");
    host.upload_file("client.key", client.signing_key.serialize_pem().as_bytes());
    // The server does not ask for it; the module has it ready.
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    close(&mut host);
    // Still verifies the server.
    host.expect(r#"AT+QFDEL="cacert.pem""#, "\r\nOK\r\n");
    host.upload_file("cacert.pem", another_ca().as_bytes());
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn implicit_ftps_with_vsftpd_verifies_the_server() {
    if !std::path::Path::new("/usr/sbin/vsftpd").exists() || !running_as_root() {
        eprintln!("SKIPPED: implicit FTPS needs /usr/sbin/vsftpd and root");
        return;
    }
    let server = TestServer::start_vsftpd_implicit().unwrap();
    let mut host = verifying_module(1, "anonymous", "sim@");
    host.upload_file("cacert.pem", another_ca().as_bytes());
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    host.expect(r#"AT+QFDEL="cacert.pem""#, "\r\nOK\r\n");
    host.upload_file("cacert.pem", server.ca_pem().as_bytes());
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.expect("AT+QFTPCWD=\"pub\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
    host.put_counted("implicit.bin", 0, b"verified implicit TLS", 1);
    assert_eq!(host.get_counted("implicit.bin", 0, 100), b"verified implicit TLS");
    close(&mut host);
    assert_eq!(host.open("localhost", server.port()), "0,0");
    close(&mut host);
}
