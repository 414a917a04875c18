//! What modules in the field do (issue 15): URCs in every window of a
//! transfer, payloads that never confirm their end, uploads the module
//! ends on its own, and the end of a file reported as an error.

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use common::*;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::pubsub::{Subscriber, WaitResult};
use embassy_time::{Duration, Instant, Timer};
use quectel_ftp::at::urc::{Urc, UrcChannel, UrcSink};
use quectel_ftp::{Error, Ftp, FtpState, Listing, Transfer};

const CEREG: &str = "+CEREG: 5";
const QIND: &str = "+QIND: \"csq\",20,99";
const QUSIM: &str = "+QUSIM: 1";
const CONNECT: &[u8] = b"\r\nCONNECT\r\n";

type Channel = UrcChannel<NoopRawMutex, 32, 1>;
type Sub<'a> = Subscriber<'a, NoopRawMutex, Urc, 32, 1, 1>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The URCs these lines are.
fn urcs(lines: &[&str]) -> Vec<Urc> {
    lines.iter().map(|l| Urc::from_line(l.as_bytes()).unwrap()).collect()
}

/// Every URC published since the last call, in order.
fn published(sub: &mut Sub<'_>) -> Vec<Urc> {
    let mut v = Vec::new();
    while let Some(m) = sub.try_next_message() {
        match m {
            WaitResult::Message(u) => v.push(u),
            WaitResult::Lagged(n) => panic!("{n} URCs lost in the channel"),
        }
    }
    v
}

/// `AT+QFTPLIST=".","COM:"`, answered `CONNECT`.
fn list_connect() -> Script {
    Script::new().cmd("AT+QFTPLIST=\".\",\"COM:\"").send(CONNECT)
}

/// Splits of the modem's output the listing tests run with.
const READ_CHUNKS: [usize; 4] = [1, 3, 16, usize::MAX];

/// Runs `list(Listing::List, ".")` against `transfer` (after bring-up),
/// with the modem's output handed out `chunk` bytes a read. Returns the
/// result, the listing, the URCs published during the call and how long
/// it took.
fn listing(transfer: Script, chunk: usize) -> (Result<u64, Error>, Vec<u8>, Vec<Urc>, Duration) {
    let channel = Channel::new();
    let mut sub = channel.subscriber().unwrap();
    let modem = Modem::new(boot_open().then(transfer)).with_read_chunk(chunk);
    let mut buf = [0u8; 256];
    let mut ftp =
        Ftp::new(modem.clone(), &mut buf).unwrap().with_urcs(UrcSink::new(Some(channel.dyn_immediate_publisher())));
    run(LONG, up(&mut ftp));
    published(&mut sub);
    let seen = ftp.urc_stats().seen;
    let mut sink = Sink(Vec::new());
    let (r, took) = timed(LONG, ftp.list(Listing::List, ".", &mut sink));
    let urcs = published(&mut sub);
    assert_eq!(ftp.urc_stats().seen - seen, urcs.len() as u32, "read chunk {chunk}: URCs counted but not published");
    modem.finished();
    (r, sink.0, urcs, took)
}

/// issue 15 #1 (a): URCs between a listing's `OK` and its result line are
/// published, not listed, and the listing ends at once.
#[test]
fn urcs_between_a_listings_ok_and_its_result_are_published_not_listed() {
    let _c = clock();
    let payload = b"a.txt\r\nb.txt\r\n";
    for chunk in READ_CHUNKS {
        let script =
            list_connect().send(payload).lines(&["OK"]).lines(&[CEREG]).lines(&[QIND]).lines(&["+QFTPLIST: 0,14"]);
        let (r, got, urcs_seen, took) = listing(script, chunk);
        assert_eq!(r, Ok(14), "read chunk {chunk}");
        assert_eq!(got, payload, "read chunk {chunk}");
        assert_eq!(urcs_seen, urcs(&[CEREG, QIND]), "read chunk {chunk}");
        assert!(took < ms(100), "read chunk {chunk}: the listing took {took:?}");
    }
}

/// issue 15 #1 (b): twelve URCs between a listing's `OK` and its result
/// (more than the tokenizer holds): the listing is still exact, every URC
/// is published, and the call ends.
#[test]
fn a_dozen_urcs_between_a_listings_ok_and_its_result_still_end_it_exactly() {
    let _c = clock();
    let payload = b"a.txt\r\nb.txt\r\n";
    let cycle = [CEREG, QIND, QUSIM];
    let twelve: Vec<&str> = (0..12).map(|i| cycle[i % 3]).collect();
    for chunk in READ_CHUNKS {
        let mut script = list_connect().send(payload).lines(&["OK"]);
        for u in &twelve {
            script = script.lines(&[u]);
        }
        let script = script.lines(&["+QFTPLIST: 0,14"]);
        let (r, got, urcs_seen, took) = listing(script, chunk);
        assert_eq!(r, Ok(14), "read chunk {chunk}");
        assert_eq!(got, payload, "read chunk {chunk}");
        assert_eq!(urcs_seen, urcs(&twelve), "read chunk {chunk}");
        assert!(took < ms(100), "read chunk {chunk}: the listing took {took:?}");
    }
}

/// issue 15 #1 (c): a listing whose payload itself holds `\r\nOK\r\n` and
/// a URC-shaped line comes out byte for byte, and nothing of it is taken
/// for a URC.
#[test]
fn a_listing_holding_ok_and_a_urc_line_comes_out_byte_for_byte() {
    let _c = clock();
    let payload = b"a.txt\r\nOK\r\n\r\n+CEREG: 5\r\nb.txt\r\n";
    let result = format!("+QFTPLIST: 0,{}", payload.len());
    for chunk in READ_CHUNKS {
        let script = list_connect().send(payload).lines(&["OK"]).lines(&[&result]);
        let (r, got, urcs_seen, _) = listing(script, chunk);
        assert_eq!(r, Ok(payload.len() as u64), "read chunk {chunk}");
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(payload), "read chunk {chunk}");
        assert_eq!(urcs_seen, vec![], "read chunk {chunk}: payload published as a URC");
    }
}

/// issue 15 #1 (d): URCs before a download chunk's `CONNECT`, between its
/// `OK` and its result, and between two chunks: the file comes out exact
/// and every URC is published, in order.
#[test]
fn urcs_around_and_between_download_chunks_are_published_and_the_file_is_exact() {
    let _c = clock();
    let data = b"\r\nOK\r\n+Q";
    let channel = Channel::new();
    let mut sub = channel.subscriber().unwrap();
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,8")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,4")
            .lines(&[CEREG, QIND])
            .send(CONNECT)
            .send(&data[..4])
            .lines(&["OK"])
            .lines(&[QUSIM])
            // A URC right behind the result, in the same read: it is
            // still unread when the next chunk's command goes out.
            .lines(&["+QFTPGET: 0,4", CEREG])
            .cmd("AT+QFTPGET=\"f\",\"COM:\",4,4")
            .lines(&[QIND])
            .send(CONNECT)
            .send(&data[4..])
            .lines(&["OK"])
            .lines(&["+QFTPGET: 0,4"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp =
        Ftp::new(modem.clone(), &mut buf).unwrap().with_urcs(UrcSink::new(Some(channel.dyn_immediate_publisher())));
    run(LONG, up(&mut ftp));
    published(&mut sub);
    let mut sink = Sink(Vec::new());
    let r = run(LONG, ftp.get("f", &mut sink, Transfer { chunk: 4, ..Transfer::default() }));
    assert_eq!(r, Ok(8));
    assert_eq!(sink.0, data);
    assert_eq!(published(&mut sub), urcs(&[CEREG, QIND, QUSIM, CEREG, QIND]));
    modem.finished();
}

// ---------------------------------------------------------------------------
// #2: a payload that never confirms its end.

/// What the module keeps sending: possible ends that never turn out to be
/// one.
const NOT_THE_END: &[u8] = b"x\r\nOK\r\ny";

/// Runs a listing whose payload starts with a possible end, then (after
/// `first_gap`) the same every second for 200 s. Checks that it times out
/// within the deferred-result deadline of that first possible end, and that
/// the next calls escape, probe, close and work.
fn endless_listing(first_gap: Duration) {
    let mut script = boot_open().then(list_connect()).send(NOT_THE_END).pause(first_gap).send(NOT_THE_END);
    for _ in 0..200 {
        script = script.pause(secs(1)).send(NOT_THE_END);
    }
    let modem = Modem::new(script);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let mut sink = Sink(Vec::new());
    let (r, took) = timed(LONG, ftp.list(Listing::List, ".", &mut sink));
    assert_eq!(r, Err(Error::Timeout));
    // rsptimeout (90 s) + 5 s from the first `\r\nOK\r\n`, which came at once.
    assert!(took >= secs(95) && took < secs(100), "the listing ended after {took:?}");
    // Nothing invented, nothing lost: what was passed on is the stream's start.
    let stream: Vec<u8> = NOT_THE_END.iter().copied().cycle().take(sink.0.len()).collect();
    assert_eq!(sink.0, stream);
    // The module still streams; it leaves data mode at the guarded escape.
    modem.clear();
    modem.push(
        Script::new()
            .expect(b"+++")
            .lines(&["OK"])
            .then(probe())
            .then(close_ok())
            .cmd("AT+QFTPSTAT")
            .lines(&["+QFTPSTAT: 0,4", "OK"])
            .then(open_ok()),
    );
    run(LONG, async {
        assert_eq!(ftp.stat().await, Ok(FtpState::Closed));
        open_again(&mut ftp).await;
    });
    modem.finished();
}

/// issue 15 #2: a listing that keeps sending possible ends that never
/// confirm times out within the deferred-result deadline of the first, and
/// the next call escapes and works.
#[test]
fn a_listing_that_never_confirms_its_end_times_out_on_time_and_the_next_call_works() {
    let _c = clock();
    endless_listing(secs(1));
}

/// issue 15 #2: the same when the module falls silent for a minute after
/// the first possible end before it streams on: the deadline still counts
/// from that first possible end.
#[test]
fn a_listing_silent_after_a_possible_end_then_endless_still_times_out_on_time() {
    let _c = clock();
    endless_listing(secs(60));
}

/// A listing whose `CONNECT` never comes while the module repeats `OK`
/// and a late result line every 30 s: they do not move the deadline, and
/// the call ends at the deferred-result deadline of its command.
#[test]
fn lines_repeated_before_connect_cannot_hold_a_listing() {
    let _c = clock();
    let mut script = boot_open().cmd("AT+QFTPLIST=\".\",\"COM:\"");
    for _ in 0..40 {
        script = script.pause(secs(30)).lines(&["OK", "+QFTPGET: 0,5"]);
    }
    let modem = Modem::new(script);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let mut sink = Sink(Vec::new());
    let (r, took) = timed(LONG, ftp.list(Listing::List, ".", &mut sink));
    assert_eq!(r, Err(Error::Timeout));
    // rsptimeout (90 s) + 5 s from the command.
    assert!(took >= secs(95) && took < secs(96), "the listing ended after {took:?}");
}

/// A long listing over a slow link, each read ending at a line's CRLF
/// (where a `\r\nOK\r\n` could begin): none of those is a possible end,
/// so the listing may take longer than the deferred-result deadline as
/// long as it keeps coming, and arrives whole.
#[test]
fn a_slow_listing_read_line_by_line_is_not_cut_short() {
    let _c = clock();
    let mut script = list_connect();
    let mut text = Vec::new();
    for i in 0..300 {
        let line = format!("-rw-r--r-- 1 ftp ftp {i:5} Nov 30 14:15 file-{i:03}.bin\r\n");
        text.extend_from_slice(line.as_bytes());
        // One line a second: 300 s in all, three deferred-result deadlines.
        script = script.send(line.as_bytes()).pause(secs(1));
    }
    let script = script.lines(&["OK", &format!("+QFTPLIST: 0,{}", text.len())]);
    let (r, listed, _, took) = listing(script, 1024);
    assert_eq!(r, Ok(text.len() as u64));
    assert_eq!(listed, text);
    assert!(took >= secs(300), "{took:?}");
}

// ---------------------------------------------------------------------------
// #3: the module ends an upload on its own.

/// A part of what a source yields.
enum Part {
    Bytes(&'static [u8]),
    /// Nothing for this long (a sensor gone quiet).
    Stall(Duration),
}

/// A source that yields its parts in turn, then ends; records when it
/// yields again after a stall.
struct Stalling {
    parts: VecDeque<Part>,
    resumed: Rc<Cell<Option<Instant>>>,
}

impl embedded_io_async::ErrorType for Stalling {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Stalling {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        loop {
            match self.parts.front_mut() {
                None => return Ok(0),
                Some(Part::Stall(d)) => {
                    let d = *d;
                    Timer::after(d).await;
                    self.parts.pop_front();
                    self.resumed.set(Some(Instant::now()));
                }
                Some(Part::Bytes(b)) => {
                    let n = buf.len().min(b.len());
                    let (head, rest) = std::mem::take(b).split_at(n);
                    buf[..n].copy_from_slice(head);
                    *b = rest;
                    if b.is_empty() {
                        self.parts.pop_front();
                    }
                    return Ok(n);
                }
            }
        }
    }
}

/// The resynchronisation probe as the client writes it.
const PROBE: &[u8] = b"\rAT+CMEE?\r";

/// The scripted modem behind a UART that, once `lenient` is set, answers
/// the probe itself (`+CMEE: 1`, `OK`) rather than checking it against
/// the script: there a probe is allowed, not required. Anything else still
/// goes to the script.
struct Lenient {
    modem: Modem,
    lenient: Rc<Cell<bool>>,
    probes: Rc<Cell<usize>>,
    /// Written bytes that may be the start of a probe.
    held: Vec<u8>,
    answer: VecDeque<u8>,
}

impl embedded_io_async::ErrorType for Lenient {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Lenient {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.answer.is_empty() {
            return embedded_io_async::Read::read(&mut self.modem, buf).await;
        }
        let n = buf.len().min(self.answer.len());
        for (d, s) in buf.iter_mut().zip(self.answer.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }
}

impl embedded_io_async::Write for Lenient {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.lenient.get() {
            let mut so_far = std::mem::take(&mut self.held);
            so_far.extend_from_slice(buf);
            if PROBE.starts_with(&so_far) {
                if so_far.len() == PROBE.len() {
                    self.probes.set(self.probes.get() + 1);
                    self.answer.extend(b"\r\n+CMEE: 1\r\n\r\nOK\r\n");
                } else {
                    self.held = so_far;
                }
                return Ok(buf.len());
            }
            let earlier = so_far.len() - buf.len();
            if earlier > 0 {
                self.modem.write_bytes(&so_far[..earlier]);
            }
        }
        Ok(self.modem.write_bytes(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Which upload the module ends.
#[derive(Debug, Clone, Copy)]
enum Upload {
    Escaped,
    Sized,
}

/// How an upload the module ended went, and the call after it.
struct Ended {
    result: Result<u64, Error>,
    /// What the client wrote during the upload call.
    during: Vec<u8>,
    /// What it wrote from the upload call on, through the next call (a
    /// probe answered by [`Lenient`] left out).
    through_next: Vec<u8>,
    probes: usize,
    /// From the source yielding again to the call's return.
    to_return: Duration,
    next: Result<FtpState, Error>,
}

/// The upload command of each kind.
fn put_command(kind: Upload) -> &'static str {
    match kind {
        Upload::Escaped => "AT+QFTPPUT=\"f\",\"COM:\",0",
        Upload::Sized => "AT+QFTPPUT=\"f\",\"COM:\",0,6,1",
    }
}

/// An upload of `abc`, a stall of 100 s (longer than `rsptimeout`), `def`:
/// during the stall the module ends the upload with `answer`. Then
/// `stat()`, before which a probe is allowed.
fn module_ends_upload(kind: Upload, answer: &[&str]) -> Ended {
    let modem = Modem::new(
        boot_open()
            .cmd(put_command(kind))
            .lines(&["CONNECT"])
            .expect(b"abc")
            // Printed during the stall: unread until the client reads again.
            .lines(answer)
            .cmd("AT+QFTPSTAT")
            .lines(&["+QFTPSTAT: 0,1", "OK"]),
    );
    let lenient = Rc::new(Cell::new(false));
    let probes = Rc::new(Cell::new(0));
    let uart = Lenient {
        modem: modem.clone(),
        lenient: lenient.clone(),
        probes: probes.clone(),
        held: Vec::new(),
        answer: VecDeque::new(),
    };
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(uart, &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    let resumed = Rc::new(Cell::new(None));
    let mut src = Stalling {
        parts: VecDeque::from([Part::Bytes(b"abc"), Part::Stall(secs(100)), Part::Bytes(b"def")]),
        resumed: resumed.clone(),
    };
    let before = modem.written().len();
    let result = run(LONG, async {
        match kind {
            // A fill of 2 bytes and the byte read beyond it: `abc` goes
            // first, then the stream stalls.
            Upload::Escaped => ftp.put_escaped("f", &mut src, Transfer { chunk: 2, ..Transfer::default() }).await,
            Upload::Sized => ftp.put_sized("f", &mut src, 6, Transfer::default()).await,
        }
    });
    let returned = Instant::now();
    let during = modem.written()[before..].to_vec();
    lenient.set(true);
    let next = run(LONG, ftp.stat());
    let through_next = modem.written()[before..].to_vec();
    let to_return = returned - resumed.get().expect("the source never yielded again");
    modem.finished();
    Ended { result, during, through_next, probes: probes.get(), to_return, next }
}

/// The expectations of #3 (a) to (c).
fn check_module_ended(kind: Upload, answer: &[&str]) {
    let e = module_ends_upload(kind, answer);
    let mut upload = format!("{}\r", put_command(kind)).into_bytes();
    upload.extend_from_slice(b"abc");
    assert_eq!(e.result, Err(Error::ftp(609, 0)), "{kind:?}");
    assert_eq!(
        String::from_utf8_lossy(&e.during),
        String::from_utf8_lossy(&upload),
        "{kind:?}: only `abc` may follow the command"
    );
    assert_eq!(e.next, Ok(FtpState::Idle), "{kind:?}");
    let mut next = upload.clone();
    next.extend_from_slice(b"AT+QFTPSTAT\r");
    assert_eq!(
        String::from_utf8_lossy(&e.through_next),
        String::from_utf8_lossy(&next),
        "{kind:?}: the next call may probe, nothing else"
    );
    assert!(e.probes <= 1, "{kind:?}: {} probes", e.probes);
}

/// issue 15 #3 (a): a vendor-style upload whose source stalls past
/// `rsptimeout`, ended by the module with `+QFTPPUT: 609,0` and no `OK`:
/// the result is that error, nothing more is written, no escape follows.
#[test]
fn an_escaped_upload_the_module_ended_reports_609_and_writes_nothing_more() {
    let _c = clock();
    check_module_ended(Upload::Escaped, &["+QFTPPUT: 609,0"]);
}

/// issue 15 #3 (b): the same when the module prints `OK` before
/// `+QFTPPUT: 609,0`.
#[test]
fn an_escaped_upload_the_module_ended_with_ok_reports_609_and_writes_nothing_more() {
    let _c = clock();
    check_module_ended(Upload::Escaped, &["OK", "+QFTPPUT: 609,0"]);
}

/// issue 15 #3 (c): the same for a sized upload (`<uploadlen>` 6) whose
/// source stalls after 3 bytes.
#[test]
fn a_sized_upload_the_module_ended_reports_609_and_writes_nothing_more() {
    let _c = clock();
    check_module_ended(Upload::Sized, &["+QFTPPUT: 609,0"]);
}

/// issue 15 #3 (d): an upload the module ended returns as soon as the
/// source yields again: no guard times, no escapes.
#[test]
fn an_upload_the_module_ended_returns_as_soon_as_the_source_yields() {
    let _c = clock();
    for (kind, answer) in [
        (Upload::Escaped, &["+QFTPPUT: 609,0"][..]),
        (Upload::Escaped, &["OK", "+QFTPPUT: 609,0"][..]),
        (Upload::Sized, &["+QFTPPUT: 609,0"][..]),
    ] {
        let e = module_ends_upload(kind, answer);
        assert!(e.to_return <= ms(10), "{kind:?} {answer:?}: returned {:?} after the source yielded", e.to_return);
    }
}

// ---------------------------------------------------------------------------
// #5: the end of a file reported as an error.

const K: usize = 1024;

/// A server that cannot tell sizes (`+QFTPSIZE: 627,<size_reply>`), and
/// `full` chunks of 1 KiB of `data`; then the next chunk is answered `OK`,
/// `+QFTPGET: 627,550`. Then `AT+QFTPSIZE="g"` succeeds.
fn unknown_size(size_reply: u16, full: usize, data: &[u8]) -> Script {
    let mut s = boot_open().deferred("AT+QFTPSIZE=\"f\"", &format!("+QFTPSIZE: 627,{size_reply}"));
    for i in 0..full {
        s = s.then(get_chunk("f", (i * K) as u64, K as u64, &data[i * K..(i + 1) * K]));
    }
    s.cmd(&format!("AT+QFTPGET=\"f\",\"COM:\",{},{K}", full * K))
        .lines(&["OK"])
        .lines(&["+QFTPGET: 627,550"])
        .deferred("AT+QFTPSIZE=\"g\"", "+QFTPSIZE: 0,7")
}

/// Downloads `f` in 1 KiB chunks with a 4 KiB buffer, then asks the size
/// of `g`; returns both results and the bytes received.
fn get_unknown_size(script: Script) -> (Result<u64, Error>, Vec<u8>, Result<u64, Error>) {
    let modem = Modem::new(script);
    let mut buf = vec![0u8; 4 * K];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let mut sink = Sink(Vec::new());
    let (r, next) = run(LONG, async {
        let r = ftp.get("f", &mut sink, Transfer { chunk: K as u32, ..Transfer::default() }).await;
        (r, ftp.size("g").await)
    });
    modem.finished();
    (r, sink.0, next)
}

/// issue 15 #5: a server without SIZE (502), whose module reports the
/// chunk after the last full one as `+QFTPGET: 627,550`: the download ends
/// there, whole, and the session goes on.
#[test]
fn a_550_after_full_chunks_of_a_file_of_unknown_size_is_its_end() {
    let _c = clock();
    let data = hostile(3 * K);
    let (r, got, next) = get_unknown_size(unknown_size(502, 3, &data));
    assert_eq!(r, Ok(3 * K as u64));
    assert!(got == data, "the file came out different: {} bytes of {}", got.len(), data.len());
    assert_eq!(next, Ok(7));
}

/// issue 15 #5: a 550 at the very first chunk is a missing file, not an
/// empty one.
#[test]
fn a_550_at_the_first_chunk_of_a_file_of_unknown_size_is_an_error() {
    let _c = clock();
    let (r, got, next) = get_unknown_size(unknown_size(502, 0, &[]));
    assert_eq!(r, Err(Error::ftp(627, 550)));
    assert!(got.is_empty());
    assert_eq!(next, Ok(7));
}

/// issue 15 #5: a server answering SIZE with 500 (command unrecognised)
/// ends its files at a 550 the same way.
#[test]
fn a_550_after_full_chunks_ends_the_file_when_size_was_answered_500() {
    let _c = clock();
    let data = hostile(3 * K);
    let (r, got, next) = get_unknown_size(unknown_size(500, 3, &data));
    assert_eq!(r, Ok(3 * K as u64));
    assert!(got == data, "the file came out different: {} bytes of {}", got.len(), data.len());
    assert_eq!(next, Ok(7));
}

// ---------------------------------------------------------------------------
// #4: busy (`+CME ERROR: 603`) ridden out everywhere.

const BUSY: &str = "+CME ERROR: 603";
const CLOSE: &[u8] = b"AT+QFTPCLOSE\r";

/// Asserts each gap is the busy poll: one second, give or take a few ms.
fn about_a_second_apart(at: &[Instant], what: &str) {
    for g in gaps(at) {
        assert!(g >= secs(1) && g < ms(1050), "{what}: asked again after {g:?} ({:?})", gaps(at));
    }
}

/// issue 15 #4 (a): a close dropped after its `OK` is remade by the next
/// `open`, which rides out the `603` of the close still pending (asking
/// again each second, and at once when `+QFTPCLOSE:` comes), then opens.
#[test]
fn a_dropped_close_is_remade_by_open_which_rides_out_603_until_the_close_ends() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // `OK` at once; the caller gives up before `+QFTPCLOSE:`.
            .cmd("AT+QFTPCLOSE")
            .lines(&["OK"])
            // `open`: resynchronise, then the close again, refused while
            // the first one is still under way (0, 1, 2 and 3 s) ...
            .then(probe())
            .cmd("AT+QFTPCLOSE")
            .lines(&[BUSY])
            .cmd("AT+QFTPCLOSE")
            .lines(&[BUSY])
            .cmd("AT+QFTPCLOSE")
            .lines(&[BUSY])
            .cmd("AT+QFTPCLOSE")
            .lines(&[BUSY])
            // ... which ends at 3.5 s ...
            .pause(ms(500))
            .lines(&["+QFTPCLOSE: 0,0"])
            // ... then once more, with nothing left to close, and the open.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+CME ERROR: 601"])
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    poll_then_drop(20, ftp.close());
    assert!(!ftp.is_open(), "the session counts as closed from the close on");
    let (r, took) = timed(LONG, ftp.open("h", 21));
    assert_eq!(r, Ok(()));
    assert!(ftp.is_open());
    assert!(took >= ms(3500) && took < ms(3600), "open took {took:?}");
    modem.finished();
    // The dropped close, then four refused, then the one after the result.
    let closes = sent_at(&modem, CLOSE);
    assert_eq!(closes.len(), 6, "{closes:?}");
    about_a_second_apart(&closes[1..5], "busy close");
    // The pending close's result ends the pause early: asked again at once.
    let last = closes[5] - closes[4];
    assert!(last >= ms(500) && last < ms(510), "the close after the result came {last:?} after the last refusal");
}

/// issue 15 #4 (b): a file command refused `603` twice, then answered:
/// the caller gets the answer; the command went three times, a second
/// apart, and the session goes on (no close).
#[test]
fn a_file_command_refused_603_twice_is_asked_again_and_answered() {
    let _c = clock();
    let size = "AT+QFTPSIZE=\"f\"";
    let modem = Modem::new(
        boot_open()
            .cmd(size)
            .lines(&[BUSY])
            .cmd(size)
            .lines(&[BUSY])
            .deferred(size, "+QFTPSIZE: 0,1234")
            .deferred("AT+QFTPSIZE=\"g\"", "+QFTPSIZE: 0,7"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let (r, took) = timed(LONG, ftp.size("f"));
    assert_eq!(r, Ok(1234));
    assert!(took >= secs(2) && took < ms(2100), "size took {took:?}");
    assert!(ftp.is_open());
    // The session was not given up: the next command goes at once.
    assert_eq!(run(LONG, ftp.size("g")), Ok(7));
    modem.finished();
    let sent = sent_at(&modem, format!("{size}\r").as_bytes());
    assert_eq!(sent.len(), 3);
    about_a_second_apart(&sent, "SIZE");
}

/// issue 15 #4 (c): a file command refused `603` for good, with no close
/// in progress: after 1 + 3 tries the session is given up
/// (`SessionClosed`), and the next call closes it before anything else
/// and finds no session.
#[test]
fn a_file_command_refused_603_for_good_gives_the_session_up() {
    let _c = clock();
    let size = "AT+QFTPSIZE=\"f\"";
    let mut script = boot_open();
    for _ in 0..4 {
        script = script.cmd(size).lines(&[BUSY]);
    }
    let modem = Modem::new(script.then(close_ok()).then(open_ok()).deferred(size, "+QFTPSIZE: 0,5"));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let (r, took) = timed(LONG, ftp.size("f"));
    assert_eq!(r, Err(Error::SessionClosed));
    assert!(took >= secs(3) && took < ms(3100), "size took {took:?}");
    assert!(!ftp.is_open());
    let before = modem.written().len();
    assert_eq!(run(LONG, ftp.size("f")), Err(Error::NotOpen));
    assert_eq!(String::from_utf8_lossy(&modem.written()[before..]), "AT+QFTPCLOSE\r", "close first, no SIZE");
    run(LONG, async {
        open_again(&mut ftp).await;
        assert_eq!(ftp.size("f").await, Ok(5));
    });
    modem.finished();
    let sent = sent_at(&modem, format!("{size}\r").as_bytes());
    assert_eq!(sent.len(), 5, "1 + 3 tries, then the one after the reopen");
    about_a_second_apart(&sent[..4], "SIZE");
}

/// issue 15 #4 (d): a download chunk and an upload refused `603` once,
/// then `CONNECT`: both go through, byte for byte.
#[test]
fn a_transfer_refused_603_once_goes_through_byte_for_byte() {
    let _c = clock();
    let down = hostile(300);
    let up_data = hostile(200);
    let get = "AT+QFTPGET=\"f\",\"COM:\",0,300";
    let put = "AT+QFTPPUT=\"u\",\"COM:\",0,200,1";
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,300")
            .cmd(get)
            .lines(&[BUSY])
            .then(get_whole("f", &down))
            .cmd(put)
            .lines(&[BUSY])
            .then(put_chunk("u", 0, &up_data, true)),
    );
    let mut buf = [0u8; 1024];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let mut sink = Sink(Vec::new());
    assert_eq!(run(LONG, ftp.get("f", &mut sink, Transfer::default())), Ok(300));
    assert!(sink.0 == down, "the download came out different");
    assert_eq!(run(LONG, ftp.put("u", &mut Source(&up_data), Transfer::default())), Ok(200));
    assert!(ftp.is_open());
    modem.finished();
    for cmd in [get, put] {
        let sent = sent_at(&modem, format!("{cmd}\r").as_bytes());
        assert_eq!(sent.len(), 2, "{cmd}");
        about_a_second_apart(&sent, cmd);
    }
}

/// issue 15 #3: the module leaves data mode in the middle of a counted
/// chunk (the server failed it): the rest of the chunk reaches it as
/// command lines, whose `ERROR` answers come after the upload's result.
/// The next call probes first, so none of them passes for its answer.
#[test]
fn data_the_module_took_as_commands_is_answered_before_the_next_call_starts() {
    let _c = clock();
    let data = b"abcd\r\nefgh";
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"f\",\"COM:\",0,10,1")
            .lines(&["CONNECT"])
            .expect(data)
            // `efgh` and `\r\n` came after the module left data mode: a
            // command line, answered at once.
            .lines(&["+QFTPPUT: 609,0", "ERROR"])
            .then(probe())
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,4"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put("f", &mut Source(data), Transfer::default()).await, Err(Error::ftp(609, 0)));
        assert_eq!(ftp.size("f").await, Ok(4));
    });
    modem.finished();
}

/// A download of unknown size (no SIZE): a chunk that fills what was asked
/// for must be followed by `OK` at once, as a chunk of known size is. A
/// byte the line doubled inside it is found, not taken as data.
#[test]
fn a_full_chunk_of_unknown_size_with_a_doubled_byte_is_refused() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 627,502")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,8")
            .send(b"\r\nCONNECT\r\nabccdefgh\r\nOK\r\n\r\n+QFTPGET: 0,8\r\n"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let mut sink = Sink(Vec::new());
        let r = ftp.get("f", &mut sink, Transfer { chunk: 8, ..Transfer::default() }).await;
        assert_eq!(r, Err(Error::Protocol));
    });
    modem.finished();
}

/// The same check when the chunk ends in what starts like the payload's
/// end (`\r\nO`): the bytes after the chunk, read ahead to judge it, are
/// checked too, and an exact file comes out exactly.
#[test]
fn a_full_chunk_of_unknown_size_ending_like_an_end_comes_out_exactly() {
    let _c = clock();
    for (data, last) in [(&b"abcde\r\nO"[..], &b""[..]), (b"ab\r\nOK\r\n", b"x\r")] {
        let mut script = boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 627,502")
            .then(get_chunk("f", 0, 8, data))
            .then(get_chunk("f", 8, 8, last));
        if last.is_empty() {
            script = script.deferred("AT+QFTPSIZE=\"g\"", "+QFTPSIZE: 0,1");
        }
        let modem = Modem::new(script);
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        run(LONG, async {
            up(&mut ftp).await;
            let mut sink = Sink(Vec::new());
            let r = ftp.get("f", &mut sink, Transfer { chunk: 8, ..Transfer::default() }).await;
            assert_eq!(r, Ok((data.len() + last.len()) as u64));
            assert_eq!(sink.0, [data, last].concat());
            if last.is_empty() {
                assert_eq!(ftp.size("g").await, Ok(1));
            }
        });
        modem.finished();
    }
}
