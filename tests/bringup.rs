//! Bring-up in the field (issue 15 #6): modules that refuse the probe, SIM
//! states, the PIN, registration before activation, and a PDP context the
//! network dropped.

mod common;

use common::*;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::pubsub::WaitResult;
use embassy_time::{Duration, Instant};
use quectel_ftp::at::urc::{Urc, UrcChannel, UrcSink};
use quectel_ftp::{Error, Ftp, PdpConfig, SimError, GUARD};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const PROBE: &[u8] = b"\rAT+CMEE?\r";
const CPIN: &[u8] = b"AT+CPIN?\r";
const QIACT: &[u8] = b"AT+QIACT=1\r";

/// `init` up to the SIM query: escape, probe, echo off, numeric errors.
fn boot_to_cpin() -> Script {
    escape_at_init().then(probe_cmd()).lines(&["ERROR", "+CMEE: 1", "OK"]).ok("ATE0").ok("AT+CMEE=1")
}

/// `AT+CPIN?` answered with `answer`.
fn cpin(answer: &[&str]) -> Script {
    Script::new().cmd("AT+CPIN?").lines(answer)
}

/// How many times `line` was written.
fn count(modem: &Modem, line: &[u8]) -> usize {
    sent_at(modem, line).len()
}

/// Asserts each gap is about `d` (a few ms more at most).
fn apart(at: &[Instant], d: Duration, what: &str) {
    for g in gaps(at) {
        assert!(g >= d && g < d + ms(50), "{what}: gaps {:?}", gaps(at));
    }
}

// ---------------------------------------------------------------------------
// (a) the probe refused, or never answered.

/// issue 15 #6 (a): a module that answers every probe `ERROR` is there but
/// refuses: `init` reports `AtError`, not `Timeout`, after its ten probes
/// of a second each; a module that never answers gives `Timeout`.
#[test]
fn init_of_a_module_refusing_every_probe_is_an_at_error_and_of_a_silent_one_a_timeout() {
    let _c = clock();
    for (answer, expected) in [(Some("ERROR"), Error::AtError), (None, Error::Timeout)] {
        let mut script = escape_at_init();
        for _ in 0..10 {
            script = script.then(probe_cmd());
            if let Some(a) = answer {
                script = script.lines(&[a]);
            }
        }
        let modem = Modem::new(script);
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        let (r, took) = timed(LONG, ftp.init());
        assert_eq!(r, Err(expected), "{answer:?}");
        let least = GUARD * 2 + secs(10);
        assert!(took >= least && took < least + ms(100), "{answer:?}: init gave up after {took:?}");
        modem.finished();
        let mut all = b"+++".to_vec();
        all.extend(PROBE.repeat(10));
        assert_eq!(String::from_utf8_lossy(&modem.written()), String::from_utf8_lossy(&all), "{answer:?}");
    }
}

// ---------------------------------------------------------------------------
// (b), (c): SIM states.

/// issue 15 #6 (b): every SIM state but ready and busy ends `init` at once
/// with its `SimError`: no second `AT+CPIN?`, no 20 s wait.
#[test]
fn sim_states_end_init_at_once() {
    let _c = clock();
    let cases: [(&[&str], SimError); 7] = [
        (&["+CPIN: SIM PIN", "OK"], SimError::PinRequired),
        (&["+CPIN: SIM PUK", "OK"], SimError::PukRequired),
        (&["+CME ERROR: 10"], SimError::NotInserted),
        (&["+CME ERROR: 13"], SimError::Failure),
        (&["+CPIN: PH-SIM PIN", "OK"], SimError::Locked),
        (&["+CPIN: SIM PIN2", "OK"], SimError::Locked),
        (&["+CPIN: PH-NET PIN", "OK"], SimError::Locked),
    ];
    for (answer, expected) in cases {
        let modem = Modem::new(boot_to_cpin().then(cpin(answer)));
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        let r = run(LONG, ftp.init());
        let end = Instant::now();
        assert_eq!(r, Err(Error::Sim(expected)), "{answer:?}");
        modem.finished();
        let asked = sent_at(&modem, CPIN);
        assert_eq!(asked.len(), 1, "{answer:?}");
        assert!(end - asked[0] < ms(10), "{answer:?}: init returned {:?} after the answer", end - asked[0]);
    }
}

/// issue 15 #6 (c): a SIM busy (`+CME ERROR: 14`) three times, then ready:
/// `init` asks about once a second and succeeds.
#[test]
fn a_busy_sim_is_asked_again_each_second_until_ready() {
    let _c = clock();
    let mut script = boot_to_cpin();
    for _ in 0..3 {
        script = script.then(cpin(&["+CME ERROR: 14"]));
    }
    let modem = Modem::new(script.then(cpin(&["+CPIN: READY", "OK"])).then(open_ok()));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
    let asked = sent_at(&modem, CPIN);
    assert_eq!(asked.len(), 4);
    apart(&asked, secs(1), "AT+CPIN?");
}

/// issue 15 #6 (c): a SIM busy for longer than 20 s: `SimError::Busy`
/// once the 20 s are over, asked about once a second meanwhile.
#[test]
fn a_sim_busy_for_more_than_20_s_is_a_busy_error() {
    let _c = clock();
    let mut script = boot_to_cpin();
    for _ in 0..30 {
        script = script.then(cpin(&["+CME ERROR: 14"]));
    }
    let modem = Modem::new(script);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let r = run(LONG, ftp.init());
    let end = Instant::now();
    assert_eq!(r, Err(Error::Sim(SimError::Busy)));
    let asked = sent_at(&modem, CPIN);
    let waited = end - asked[0];
    assert!(waited >= secs(20) && waited < secs(21), "gave up {waited:?} after the first AT+CPIN?");
    assert!((20..=22).contains(&asked.len()), "asked {} times", asked.len());
    apart(&asked, secs(1), "AT+CPIN?");
    // The rest of the script was never asked for; nothing went wrong.
    modem.clear();
    modem.finished();
}

// ---------------------------------------------------------------------------
// (d): the PIN.

/// issue 15 #6 (d): `init_with_pin` enters the PIN once when the SIM asks
/// for it, asks the SIM again, and is done when it is ready.
#[test]
fn init_with_pin_enters_the_pin_once_then_waits_for_the_sim() {
    let _c = clock();
    let modem = Modem::new(
        boot_to_cpin()
            .then(cpin(&["+CPIN: SIM PIN", "OK"]))
            .ok("AT+CPIN=\"1234\"")
            .then(cpin(&["+CPIN: READY", "OK"]))
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        assert_eq!(ftp.init_with_pin("1234").await, Ok(()));
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
    assert_eq!(count(&modem, b"AT+CPIN="), 1);
}

/// issue 15 #6 (d): a PIN the SIM refuses (`+CME ERROR: 16`) is
/// `WrongPin`, and it is not tried again (a third wrong PIN blocks the
/// SIM).
#[test]
fn a_wrong_pin_is_reported_and_never_tried_again() {
    let _c = clock();
    let modem = Modem::new(
        boot_to_cpin().then(cpin(&["+CPIN: SIM PIN", "OK"])).cmd("AT+CPIN=\"1234\"").lines(&["+CME ERROR: 16"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let r = run(LONG, ftp.init_with_pin("1234"));
    assert_eq!(r, Err(Error::Sim(SimError::WrongPin)));
    assert!(!format!("{r:?}").contains("1234") && !format!("{}", r.unwrap_err()).contains("1234"));
    modem.finished();
    assert_eq!(count(&modem, b"AT+CPIN="), 1, "the PIN went out more than once");
    assert_eq!(count(&modem, CPIN), 1, "after a wrong PIN the SIM is not asked again");
}

/// issue 15 #6 (d): a PIN that is not 4 to 8 digits is refused before
/// anything is written (no escape, no probe), and shown nowhere.
#[test]
fn a_malformed_pin_is_refused_before_anything_is_written() {
    let _c = clock();
    for pin in ["12a4", "123", "123456789", "12\"4", "", "12 4", "1234\r"] {
        let modem = Modem::new(Script::new());
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        let (r, took) = timed(LONG, ftp.init_with_pin(pin));
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{pin:?}: {r:?}");
        assert_eq!(took, Duration::from_ticks(0), "{pin:?}: the refusal waited");
        assert!(modem.written().is_empty(), "{pin:?}: {:?}", String::from_utf8_lossy(&modem.written()));
        if pin.len() >= 3 {
            assert!(!format!("{r:?}").contains(pin), "{pin:?} shown by {r:?}");
        }
        modem.finished();
    }
}

// ---------------------------------------------------------------------------
// (e): registration before activation.

/// `AT+QICSGP` for the default context, and `AT+QIACT?` showing it
/// inactive (no `+QIACT:` line).
fn inactive() -> Script {
    Script::new().ok("AT+QICSGP=1,1,\"\",\"\",\"\",0").ok("AT+QIACT?")
}

/// `cmd` answered `answer`, then `OK` unless the answer is an error.
fn query(cmd: &str, answer: &str) -> Script {
    match answer {
        "ERROR" => Script::new().cmd(cmd).lines(&[answer]),
        a if a.starts_with("+CME ERROR") => Script::new().cmd(cmd).lines(&[answer]),
        _ => Script::new().cmd(cmd).lines(&[answer, "OK"]),
    }
}

/// One round of registration queries, none of them registered.
fn round(cereg: &str, cgreg: &str, creg: &str, csq: &str) -> Script {
    query("AT+CEREG?", cereg).then(query("AT+CGREG?", cgreg)).then(query("AT+CREG?", creg)).then(query("AT+CSQ", csq))
}

/// `AT+QIACT=1`, then `AT+QIACT?` showing context 1 active at `addr`.
fn activated(addr: &str) -> Script {
    Script::new().ok("AT+QIACT=1").cmd("AT+QIACT?").lines(&[&format!("+QIACT: 1,1,1,\"{addr}\""), "OK"])
}

/// issue 15 #6 (e): `activate` waits for the registration (searching,
/// then roaming 2 s later) before `AT+QIACT=1`, then reads the address.
#[test]
fn activate_waits_for_registration_before_activating() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .then(inactive())
            .then(round("+CEREG: 0,2", "+CGREG: 0,0", "+CREG: 0,0", "+CSQ: 12,99"))
            .then(query("AT+CEREG?", "+CEREG: 0,5"))
            .then(activated("10.1.2.3")),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    let (r, took) = timed(LONG, ftp.activate(&PdpConfig::default()));
    assert_eq!(r.unwrap().map(|a| a.as_str().to_owned()), Some("10.1.2.3".to_owned()));
    assert!(took >= secs(2) && took < ms(2050), "activate took {took:?}");
    modem.finished();
    let cereg = sent_at(&modem, b"AT+CEREG?\r");
    let csq = sent_at(&modem, b"AT+CSQ\r");
    let qiact = sent_at(&modem, QIACT);
    assert_eq!((cereg.len(), csq.len(), qiact.len()), (2, 1, 1));
    assert!(cereg[1] - csq[0] >= secs(2), "asked again after {:?}", cereg[1] - csq[0]);
    assert!(qiact[0] >= cereg[1], "AT+QIACT=1 before the registration");
}

/// issue 15 #6 (e): a network that denies registration (`+CEREG: 0,3`)
/// ends `activate` at once with the state and the signal; the context is
/// never activated.
#[test]
fn a_denied_registration_is_reported_at_once_with_the_signal() {
    let _c = clock();
    let modem =
        Modem::new(boot().then(inactive()).then(round("+CEREG: 0,3", "+CGREG: 0,0", "+CREG: 0,0", "+CSQ: 7,99")));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    let (r, took) = timed(LONG, ftp.activate(&PdpConfig::default()));
    assert_eq!(r, Err(Error::NotRegistered { stat: 3, rssi: 7 }));
    assert!(took < ms(10), "activate took {took:?}");
    modem.finished();
    assert_eq!(count(&modem, QIACT), 0);
}

/// issue 15 #6 (e): a module that keeps searching: `NotRegistered` with
/// state 2 and the signal once `registration_timeout_s` is over, asked
/// every 2 s meanwhile; the context is never activated.
#[test]
fn a_registration_that_never_comes_times_out_as_configured() {
    let _c = clock();
    let mut script = boot().then(inactive());
    for _ in 0..8 {
        script = script.then(round("+CEREG: 0,2", "+CGREG: 0,0", "+CREG: 0,0", "+CSQ: 9,99"));
    }
    let modem = Modem::new(script);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    let pdp = PdpConfig { registration_timeout_s: 10, ..Default::default() };
    let (r, took) = timed(LONG, ftp.activate(&pdp));
    assert_eq!(r, Err(Error::NotRegistered { stat: 2, rssi: 9 }));
    assert!(took >= secs(10) && took < secs(12), "activate gave up after {took:?}");
    let rounds = sent_at(&modem, b"AT+CEREG?\r");
    assert!((5..=7).contains(&rounds.len()), "{} rounds", rounds.len());
    apart(&rounds, secs(2), "AT+CEREG?");
    assert_eq!(count(&modem, QIACT), 0);
    modem.clear();
    modem.finished();
}

/// issue 15 #6 (e): a module that refuses `AT+CGREG?` (no GPRS on NB-IoT),
/// with `ERROR` or a `+CME ERROR`, still activates once `AT+CEREG?` shows
/// it registered.
#[test]
fn a_module_refusing_cgreg_still_activates_once_cereg_registers() {
    let _c = clock();
    for refusal in ["ERROR", "+CME ERROR: 4"] {
        let modem = Modem::new(
            boot()
                .then(inactive())
                .then(round("+CEREG: 0,2", refusal, "+CREG: 0,0", "+CSQ: 20,99"))
                .then(query("AT+CEREG?", "+CEREG: 0,1"))
                .then(activated("10.9.8.7")),
        );
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        run(LONG, ftp.init()).unwrap();
        let r = run(LONG, ftp.activate(&PdpConfig::default()));
        assert_eq!(r.unwrap().map(|a| a.as_str().to_owned()), Some("10.9.8.7".to_owned()), "{refusal}");
        modem.finished();
    }
}

/// issue 15 #6 (e): an unsolicited `+CEREG:` (registered) that comes
/// while the client waits for the answer to `AT+CEREG?` (before the answer
/// line, or between it and the `OK`) is published, not taken for the
/// answer (searching): the client asks again rather than activating.
#[test]
fn an_unsolicited_cereg_is_not_taken_for_the_answer() {
    let _c = clock();
    let long = "+CEREG: 5,\"1A2B\",\"01A2B3C\",9";
    let short = "+CEREG: 1";
    for (urc, lines) in [
        (long, [long, "+CEREG: 0,2", "OK"]),
        (long, ["+CEREG: 0,2", long, "OK"]),
        (short, ["+CEREG: 0,2", short, "OK"]),
    ] {
        let channel: UrcChannel<NoopRawMutex, 8, 1> = UrcChannel::new();
        let mut sub = channel.subscriber().unwrap();
        let modem = Modem::new(
            boot()
                .then(inactive())
                .cmd("AT+CEREG?")
                .lines(&lines)
                .then(query("AT+CGREG?", "+CGREG: 0,0"))
                .then(query("AT+CREG?", "+CREG: 0,0"))
                .then(query("AT+CSQ", "+CSQ: 12,99"))
                .then(query("AT+CEREG?", "+CEREG: 0,1"))
                .then(activated("10.1.2.3")),
        );
        let mut buf = [0u8; 256];
        let mut ftp =
            Ftp::new(modem.clone(), &mut buf).unwrap().with_urcs(UrcSink::new(Some(channel.dyn_immediate_publisher())));
        run(LONG, ftp.init()).unwrap();
        let r = run(LONG, ftp.activate(&PdpConfig::default()));
        assert!(matches!(r, Ok(Some(_))), "{lines:?}: {r:?}");
        modem.finished();
        let mut published = Vec::new();
        while let Some(WaitResult::Message(u)) = sub.try_next_message() {
            published.push(u);
        }
        assert_eq!(published, vec![Urc::from_line(urc.as_bytes()).unwrap()], "{lines:?}");
    }
}

// ---------------------------------------------------------------------------
// (f): a PDP context the network dropped between sessions.

/// `boot_open()` with `+QIURC: "pdpdeact",1` right after the open's
/// result, in the same read: the next call takes it before its command
/// goes out, and sends none (`SIZE` would only be refused).
fn dropped_after_open() -> Script {
    boot()
        .cmd("AT+QFTPOPEN=\"h\",21")
        .lines(&["OK"])
        .lines(&["+QFTPOPEN: 0,0", "+QIURC: \"pdpdeact\",1"])
        .then(inactive())
        .then(registered())
        .cmd("AT+QIACT=1")
        // The module wants the dropped context deactivated first.
        .lines(&["ERROR"])
        .ok("AT+QIDEACT=1")
}

/// issue 15 #6 (f): the network drops the context between two commands:
/// the next reports `SessionClosed`; `activate` then finds the context
/// inactive, is refused `AT+QIACT=1`, deactivates and activates again, and
/// the session opens again.
#[test]
fn a_dropped_context_is_deactivated_then_activated_again() {
    let _c = clock();
    let modem = Modem::new(
        dropped_after_open()
            .then(activated("10.0.0.7"))
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,5"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.size("f").await, Err(Error::SessionClosed));
        assert!(!ftp.is_open());
        let ip = ftp.activate(&PdpConfig::default()).await.unwrap();
        assert_eq!(ip.map(|a| a.as_str().to_owned()), Some("10.0.0.7".to_owned()));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("f").await, Ok(5));
    });
    modem.finished();
    assert_eq!((count(&modem, QIACT), count(&modem, b"AT+QIDEACT=1\r")), (2, 1));
}

/// issue 15 #6 (f): `AT+QIACT=1` refused again after the deactivation is
/// the error: no second deactivation, no loop.
#[test]
fn a_context_refused_again_after_the_deactivation_is_an_error() {
    let _c = clock();
    let modem = Modem::new(dropped_after_open().cmd("AT+QIACT=1").lines(&["ERROR"]).then(open_ok()));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.size("f").await, Err(Error::SessionClosed));
        assert_eq!(ftp.activate(&PdpConfig::default()).await, Err(Error::AtError));
        // The refusal was an answer: the next call goes at once.
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
    assert_eq!((count(&modem, QIACT), count(&modem, b"AT+QIDEACT=1\r")), (2, 1));
}
