//! Futures dropped, and waits timed out, at the points where the module is
//! in a state the client cannot see: every next call must clean up first,
//! and no late answer may pass for a later command's.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use embassy_time::Duration;
use quectel_ftp::{Error, Ftp, FtpState, Listing, Transfer};

#[test]
fn a_put_dropped_before_connect_has_the_next_call_escape_first() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"u\",\"COM:\",0,5,1")
            // The server is slow to open the data connection: the caller
            // gives up first. The module enters data mode anyway, so
            // whatever the next call writes would be file data: it escapes
            // first (and reads the `CONNECT` only then).
            .expect(b"+++")
            .lines(&["CONNECT", "OK", "+QFTPPUT: 0,0"])
            .then(probe())
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(100, ftp.put("u", &mut Source(b"hello"), Transfer::default()));
    assert_eq!(run(LONG, ftp.size("u")), Err(Error::NotOpen));
    modem.finished();
}

/// The scripted modem behind a UART that takes `left` more writes, then
/// none (its transmitter stalls): a command line can be cut between
/// windows.
struct Stingy {
    modem: Modem,
    left: Rc<Cell<usize>>,
}

impl embedded_io_async::ErrorType for Stingy {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Stingy {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embedded_io_async::Read::read(&mut self.modem, buf).await
    }
}

impl embedded_io_async::Write for Stingy {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.left.get() == 0 {
            std::future::pending::<()>().await;
        }
        self.left.set(self.left.get() - 1);
        Ok(self.modem.write_bytes(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn a_command_line_cut_between_windows_is_spoiled_before_any_cr() {
    let _c = clock();
    let name = "a-rather-long-name-for-a-file.bin";
    let line = format!("AT+QFTPSIZE=\"{name}\"\r");
    let modem = Modem::new(
        boot_open()
            // Only the first window reaches the module: the start of the
            // line waits in its line buffer, and a CR would run it.
            .expect(&line.as_bytes()[..16])
            // So the next call escapes first: `+++` spoils the line, which
            // the probe's CR then ends as an error.
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            .then(close_ok()),
    );
    let left = Rc::new(Cell::new(usize::MAX));
    let uart = Stingy { modem: modem.clone(), left: left.clone() };
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(uart, &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    left.set(1);
    poll_then_drop(10, ftp.size(name));
    left.set(usize::MAX);
    assert_eq!(run(LONG, ftp.size(name)), Err(Error::NotOpen));
    modem.finished();
}

#[test]
fn an_error_while_resynchronising_does_not_forget_a_pending_result() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            // The first probe goes unanswered; the retry escapes, and the
            // module (in command mode) answers the `+++` line with ERROR:
            // not the abandoned SIZE's answer, which is still to come.
            .then(probe_cmd())
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            // The session is closed before anything else, and the late
            // result, arriving meanwhile, can never pass for a later SIZE's.
            .cmd("AT+QFTPCLOSE")
            .lines(&["OK", "+QFTPSIZE: 0,1000", "+QFTPCLOSE: 0,0"])
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,7"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(100, ftp.size("a"));
    run(LONG, async {
        assert_eq!(ftp.size("b").await, Err(Error::NotOpen));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("b").await, Ok(7));
    });
    modem.finished();
}

/// The scripted modem behind a UART that, while `chatter` lasts, has a URC
/// ready at every read, 1 ms apart: a line that never falls silent.
struct Chatty {
    modem: Modem,
    chatter: Rc<Cell<usize>>,
}

impl embedded_io_async::ErrorType for Chatty {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Chatty {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.chatter.get() == 0 {
            return embedded_io_async::Read::read(&mut self.modem, buf).await;
        }
        self.chatter.set(self.chatter.get() - 1);
        embassy_time::MockDriver::get().advance(Duration::from_millis(1));
        let urc = b"\r\n+CEREG: 5\r\n";
        let n = urc.len().min(buf.len());
        buf[..n].copy_from_slice(&urc[..n]);
        Ok(n)
    }
}

impl embedded_io_async::Write for Chatty {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.modem.write_bytes(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn a_module_that_keeps_talking_cannot_hold_a_wait_past_its_deadline() {
    let _c = clock();
    // `AT+QFTPSTAT` is answered at once or not at all (5 s); here the
    // line carries a URC every millisecond for a minute, and no answer.
    let modem = Modem::new(boot_open().cmd("AT+QFTPSTAT"));
    let chatter = Rc::new(Cell::new(0));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(Chatty { modem: modem.clone(), chatter: chatter.clone() }, &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    chatter.set(60_000);
    let (r, took) = timed(LONG, ftp.stat());
    assert_eq!(r, Err(Error::Timeout));
    assert!(took >= Duration::from_secs(5) && took <= Duration::from_millis(5010), "stat took {took:?}");
}

#[test]
fn a_close_dropped_after_its_ok_is_closed_for_the_caller_and_made_again() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // `OK` at once; `+QFTPCLOSE:` later, after the caller gave up.
            .cmd("AT+QFTPCLOSE")
            .lines(&["OK"])
            .then(probe_cmd())
            .lines(&["+QFTPCLOSE: 0,0", "+CMEE: 1", "OK"])
            // The next call closes again before anything else, then opens.
            .then(close_ok())
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(20, ftp.close());
    assert!(!ftp.is_open(), "the session counts as closed from the close on");
    run(LONG, async { ftp.open("h", 21).await.unwrap() });
    assert!(ftp.is_open());
    modem.finished();
}

/// The fuzzer's finding (seed `finding-2-late-open-result-taken-by-next-open`):
/// an `open` dropped after its `OK`, then a `recover` dropped during its
/// escape. The next call escapes, so it does not wait for the abandoned
/// open's result; the module prints it late. A close before anything else
/// takes it (its result comes before the close's), and the next `open` gets
/// its own answer.
#[test]
fn an_abandoned_open_is_closed_before_its_late_result_can_answer_the_next() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["OK"])
            // The next call: escape (recover left data mode in doubt), probe.
            .expect(b"+++")
            .then(probe())
            // The abandoned open's result, late, then the close's.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+QFTPOPEN: 609,0", "OK", "+QFTPCLOSE: 0,0"])
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    poll_then_drop(100, ftp.open("h", 21));
    poll_then_drop(100, ftp.recover(None));
    assert_eq!(run(LONG, ftp.open("h", 21)), Ok(()));
    assert!(ftp.is_open());
    modem.finished();
}

/// The fuzzer's finding `client/unsolicited-final-result-before-a-command`:
/// a module that prints final results nobody asked for, the last one still
/// without its line end when the next operation starts. Neither may answer
/// that operation's command.
#[test]
fn final_results_nobody_asked_for_never_answer_the_next_command() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFTPOPEN=\"h\",21")
            // In the same read as the answer, so still buffered when the
            // next operation starts: a whole `ERROR`, a `+CME ERROR`, and
            // a `CONNECT` begun, which the next answer's first CR ends.
            .send(b"\r\nOK\r\n\r\n+QFTPOPEN: 0,0\r\n\r\nERROR\r\n\r\n+CME ERROR: 3\r\n\r\nCONNECT")
            .cmd("AT+QFTPSTAT")
            .send(b"\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n\r\n+CME ERROR: 4")
            // A listing is armed for `CONNECT` before its command goes out.
            .cmd("AT+QFTPSIZE=\"f\"")
            .send(b"\r\nOK\r\n\r\n+QFTPSIZE: 0,4\r\n\r\nCONNECT")
            .cmd("AT+QFTPLIST=\".\",\"COM:\"")
            .send(b"\r\nCONNECT\r\nabc\r\n\r\nOK\r\n\r\n+QFTPLIST: 0,5\r\n"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    run(LONG, ftp.open("h", 21)).unwrap();
    assert_eq!(run(LONG, ftp.stat()), Ok(FtpState::Idle));
    assert_eq!(run(LONG, ftp.size("f")), Ok(4));
    let mut sink = Sink(Vec::new());
    assert_eq!(run(LONG, ftp.list(Listing::List, ".", &mut sink)), Ok(5));
    assert_eq!(sink.0, b"abc\r\n");
    modem.finished();
}

/// The fuzzer's finding `client/late-transfer-result-during-open` (stop
/// 15): a dead transfer's result heard while no session is open says a
/// session may be left over, to be closed before the next open; but when
/// that open itself succeeds, the module had none, and the session it
/// made must not be closed.
#[test]
fn a_transfer_result_heard_during_a_successful_open_closes_nothing() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["+QFTPPUT: 0,119", "OK", "+QFTPOPEN: 0,0"])
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,41"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    run(LONG, ftp.open("h", 21)).unwrap();
    assert_eq!(run(LONG, ftp.size("f")), Ok(41));
    modem.finished();
}

/// The fuzzer's finding `client/init-forgot-an-abandoned-open` (stop 15):
/// `init` on a client whose `open` was abandoned must not forget that its
/// result may still come: a close goes first, so that a late
/// `+QFTPOPEN: 609,0` cannot answer the next open.
#[test]
fn init_after_an_abandoned_open_closes_before_the_next_open() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFTPOPEN=\"h\",21")
            .then(boot())
            .cmd("AT+QFTPCLOSE")
            .lines(&["+QFTPOPEN: 609,0", "OK", "+QFTPCLOSE: 0,0"])
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, ftp.init()).unwrap();
    poll_then_drop(100, ftp.open("h", 21));
    run(LONG, ftp.init()).unwrap();
    assert_eq!(run(LONG, ftp.open("h", 21)), Ok(()));
    modem.finished();
}

#[test]
fn a_put_dropped_mid_data_closes_the_session_even_if_its_result_comes_during_the_probe() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"f\",\"COM:\",0")
            .lines(&["CONNECT"])
            .expect(b"abc")
            // Dropped during the guard time before its `+++`: the next call
            // sends it, and the module answers `OK` at once ...
            .expect(b"+++")
            .pause(Duration::from_secs(1))
            .lines(&["OK"])
            // ... but the upload's result only once the server confirmed
            // the data: while the probe waits.
            .then(probe_cmd())
            .lines(&["+QFTPPUT: 0,3", "+CMEE: 1", "OK"])
            // A transfer broken off in data mode: its session is closed,
            // as when the result comes with the `OK` (or never).
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(500, ftp.put_escaped("f", &mut Source(b"abc"), Transfer::default()));
    assert_eq!(run(LONG, ftp.cwd("/")), Err(Error::NotOpen));
    assert!(!ftp.is_open());
    modem.finished();
}

/// A download dropped mid-payload: the module keeps sending while the next
/// call escapes, and the payload still in flight holds `OK` lines. The
/// module answers `+++` only after its second of guard: an `OK` before
/// then is payload, and the probe waits for the real one (sent inside the
/// guard, the probe would cancel the escape).
#[test]
fn a_dropped_download_s_payload_ok_is_not_the_escape_s_answer() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,100000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,100000")
            .lines(&["CONNECT"])
            .send(&[b'x'; 64])
            // The next call: the guard, `+++`, the payload flowing on.
            .expect(b"+++")
            .in_flight(b"log line\r\nOK\r\n\r\nOK\r\nmore\r\nOK\r\n")
            // The module's own `OK`, a second after the `+++`.
            .lines(&["OK"])
            .then(probe())
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(200, ftp.get("f", &mut Sink(Vec::new()), Transfer::default()));
    run(LONG, async {
        assert_eq!(ftp.cwd("/").await, Err(Error::NotOpen));
        open_again(&mut ftp).await;
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
    let plus_at = *sent_at(&modem, b"+++").last().unwrap();
    let probe_at = *sent_at(&modem, b"\rAT+CMEE?\r").last().unwrap();
    assert!(probe_at - plus_at >= Duration::from_secs(1), "probe {:?} after +++", probe_at - plus_at);
}
