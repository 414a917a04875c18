//! The SIM, network registration and PDP contexts as the network drives them.

mod common;

use std::time::{Duration, Instant};

use common::Host;
use quectel_ftp_sim::{Faults, NetworkDomain, Registration, SimConfig, SimState, TestServer};

fn with_faults(faults: Faults) -> Host {
    let mut host = Host::new(SimConfig { faults, ..SimConfig::default() });
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host
}

#[test]
fn default_registration_and_signal() {
    let mut host = with_faults(Faults::default());
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    host.expect("AT+CGREG?", "\r\n+CGREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+CREG?", "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+CSQ", "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
    host.expect("AT+CPIN=\"1234\"", "\r\n+CME ERROR: 3\r\n");
    assert_eq!(host.control.pin_attempts(), 1);
}

#[test]
fn pin_then_ready_and_registered() {
    let registration = Registration { delay: Duration::from_millis(300), ..Registration::default() };
    let faults = Faults { sim: SimState::Pin("1234".into()), registration, ..Faults::default() };
    let mut host = with_faults(faults);
    host.expect("AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nERROR\r\n");
    host.expect("AT+CPIN=\"0000\"", "\r\n+CME ERROR: 16\r\n");
    // Ready a moment after the PIN: busy at once.
    host.send("AT+CPIN=\"1234\"\rAT+CPIN?\r");
    host.expect_output("\r\nOK\r\n\r\n+CME ERROR: 14\r\n");
    let accepted = Instant::now();
    std::thread::sleep(Duration::from_millis(150));
    host.expect("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(host.control.faults().sim, SimState::Ready);
    assert_eq!(host.control.pin_attempts(), 2);
    // The search starts when the SIM is ready.
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,2\r\n\r\nOK\r\n");
    std::thread::sleep((accepted + Duration::from_millis(450)).saturating_duration_since(Instant::now()));
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
}

#[test]
fn three_wrong_pins_lock_the_sim() {
    let faults = Faults { sim: SimState::Pin("1234".into()), ..Faults::default() };
    let mut host = with_faults(faults);
    host.expect("AT+CPIN=\"1111\"", "\r\n+CME ERROR: 16\r\n");
    host.expect("AT+CPIN=\"2222\"", "\r\n+CME ERROR: 16\r\n");
    host.expect("AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    host.expect("AT+CPIN=\"3333\"", "\r\n+CME ERROR: 16\r\n");
    host.expect("AT+CPIN?", "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
    host.expect("AT+CPIN=\"1234\"", "\r\n+CME ERROR: 16\r\n");
    assert_eq!(host.control.faults().sim, SimState::Puk);
    assert_eq!(host.control.pin_attempts(), 4);
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,0\r\n\r\nOK\r\n");
    // A reset shows the SIM's state.
    host.control.reset();
    host.expect_output("\r\nRDY\r\n\r\n+CPIN: SIM PUK\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n");
}

#[test]
fn missing_broken_and_busy_sims() {
    let mut host = with_faults(Faults { sim: SimState::NotInserted, ..Faults::default() });
    host.expect("AT+CPIN?", "\r\n+CME ERROR: 10\r\n");
    host.expect("AT+QIACT=1", "\r\nERROR\r\n");
    host.expect("AT+CMEE=2", "\r\nOK\r\n");
    host.expect("AT+CPIN?", "\r\n+CME ERROR: SIM not inserted\r\n");
    host.expect("AT+CMEE=1", "\r\nOK\r\n");
    host.control.update_faults(|f| f.sim = SimState::Failure);
    host.expect("AT+CPIN?", "\r\n+CME ERROR: 13\r\n");
    host.control.reset();
    host.expect_output("\r\nRDY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n");
    host.at("ATE0", "OK\r\n");

    host.control.update_faults(|f| f.sim = SimState::Busy(2));
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+CPIN?", "\r\n+CME ERROR: 14\r\n");
    host.expect("AT+CPIN?", "\r\n+CME ERROR: 14\r\n");
    host.expect("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(host.control.faults().sim, SimState::Ready);
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
}

#[test]
fn a_module_that_rejects_every_command() {
    let mut host =
        Host::new(SimConfig { faults: Faults { rejects_probe: true, ..Faults::default() }, ..SimConfig::default() });
    assert_eq!(host.at("AT", "ERROR\r\n"), "AT\r\r\nERROR\r\n");
    assert_eq!(host.at("ATE0", "ERROR\r\n"), "ATE0\r\r\nERROR\r\n");
    assert_eq!(host.at("AT+CMEE?", "ERROR\r\n"), "AT+CMEE?\r\r\nERROR\r\n");
    host.control.update_faults(|f| f.rejects_probe = false);
    assert_eq!(host.at("AT+CMEE?", "OK\r\n"), "AT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n");
}

#[test]
fn registration_delay_domain_and_stat() {
    let registration = Registration { delay: Duration::from_millis(400), stat: 5, rssi: 12, ..Registration::default() };
    let mut host = with_faults(Faults { registration, ..Faults::default() });
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,2\r\n\r\nOK\r\n");
    host.expect("AT+CGREG?", "\r\n+CGREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+CSQ", "\r\n+CSQ: 12,99\r\n\r\nOK\r\n");
    let started = Instant::now();
    host.expect("AT+QIACT=1", "\r\nERROR\r\n");
    assert!(started.elapsed() >= Duration::from_millis(250), "the attach is tried first");
    std::thread::sleep(Duration::from_millis(450));
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,5\r\n\r\nOK\r\n");
    host.expect("AT+CEREG=2", "\r\nOK\r\n");
    host.expect("AT+CGREG=1", "\r\nOK\r\n");
    host.expect("AT+CREG=3", "\r\nERROR\r\n");
    host.expect("AT+CEREG?", "\r\n+CEREG: 2,5\r\n\r\nOK\r\n");
    host.expect("AT+CGREG?", "\r\n+CGREG: 1,0\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
    // A reset starts the search again, and forgets <n>.
    host.control.reset();
    host.read_until("SMS DONE\r\n");
    host.at("ATE0", "OK\r\n");
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,2\r\n\r\nOK\r\n");

    // Registered over EGPRS only, and denied.
    host.control.update_faults(|f| {
        f.registration = Registration { stat: 3, via: NetworkDomain::Gprs, ..Registration::default() }
    });
    host.expect("AT+CGREG?", "\r\n+CGREG: 0,3\r\n\r\nOK\r\n");
    host.expect("AT+CEREG?", "\r\n+CEREG: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nERROR\r\n");
    host.control.update_faults(|f| f.registration.via = NetworkDomain::Cs);
    host.expect("AT+CREG?", "\r\n+CREG: 0,3\r\n\r\nOK\r\n");
    host.control.update_faults(|f| f.registration.stat = 1);
    host.expect("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
}

#[test]
fn network_drops_the_pdp_context_under_a_session() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.drop_pdp(1);
    host.expect_output("\r\n+QIURC: \"pdpdeact\",1\r\n");
    host.expect("AT+QIACT?", "\r\nOK\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 606,0\r\n");
    host.expect("AT+QIACT=1", "\r\nERROR\r\n");
    host.expect("AT+QIDEACT=1", "\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
    host.expect("AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.0.0.2\"\r\n\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");

    // In data mode the drop waits for the transfer's end.
    host.expect(r#"AT+QFTPPUT="up.bin","COM:",0,10,1"#, "\r\nCONNECT\r\n");
    host.send("01234");
    host.control.drop_pdp(1);
    host.send("56789");
    host.expect_output("\r\nOK\r\n\r\n+QIURC: \"pdpdeact\",1\r\n\r\n+QFTPPUT: 0,10\r\n");
    assert_eq!(std::fs::read(server.root().join("up.bin")).unwrap(), b"0123456789");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");
    // Another context's drop leaves the session alone.
    host.expect("AT+QIDEACT=1", "\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.control.drop_pdp(2);
    host.expect_output("\r\n+QIURC: \"pdpdeact\",2\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
}
