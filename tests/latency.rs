//! Transfers at cellular latency (issue 18), in simulated time: when
//! `UploadMode::Auto` goes escaped, the guarded `+++`, the DTR pin (its
//! edge, a module that ignores it, a pin that fails, recovery by it),
//! sources that end at a buffer boundary, and 1 MiB byte for byte through
//! every upload and download mode.

mod common;
use common::*;

use embassy_time::{Duration, Instant};
use quectel_ftp::{Error, Ftp, Transfer, UploadMode, GUARD, RX_LEN, SLOW_ROUND_TRIP};

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

/// The fill of the chunk buffer in the small tests.
const F: usize = 1024;

/// A chunk buffer whose fill for `put` is `fill` bytes (`RX_LEN` for the
/// answers, `fill` bytes and one of lookahead).
fn buf(fill: usize) -> Vec<u8> {
    vec![0u8; RX_LEN + fill + 1]
}

/// An `AT+QFTPOPEN="h",21` whose result comes `delay` after the command.
fn open_slow(delay: Duration) -> Script {
    Script::new().cmd("AT+QFTPOPEN=\"h\",21").lines(&["OK"]).pause(delay).lines(&["+QFTPOPEN: 0,0"])
}

/// A counted upload of `data` at `pos` whose `CONNECT` comes `delay`
/// after the command.
fn counted(pos: usize, data: &[u8], last: bool, delay: Duration) -> Script {
    let mut s = Script::new().cmd(&format!("AT+QFTPPUT=\"f\",\"COM:\",{pos},{},{}", data.len(), last as u8));
    if delay > Duration::from_ticks(0) {
        s = s.pause(delay);
    }
    s.lines(&["CONNECT"]).expect(data).lines(&["OK"]).lines(&[&format!("+QFTPPUT: 0,{}", data.len())])
}

/// `data` in counted uploads of `fill` bytes from 0, `CONNECT` after
/// `delay` each, the last one `<beof>` 1.
fn all_counted(data: &[u8], fill: usize, delay: Duration) -> Script {
    let mut s = Script::new();
    for (i, c) in data.chunks(fill).enumerate() {
        s = s.then(counted(i * fill, c, (i + 1) * fill >= data.len(), delay));
    }
    s
}

/// The start of an escaped upload at `pos` (no `<uploadlen>`): the
/// command, `CONNECT`, then exactly `data`.
fn escaped(pos: usize, data: &[u8]) -> Script {
    Script::new().cmd(&format!("AT+QFTPPUT=\"f\",\"COM:\",{pos}")).lines(&["CONNECT"]).expect(data)
}

/// The end of an escaped upload of `n` bytes by a guarded `+++`.
fn end_plus(n: usize) -> Script {
    Script::new().expect(b"+++").lines(&["OK"]).lines(&[&format!("+QFTPPUT: 0,{n}")])
}

/// The end of an escaped upload of `n` bytes by a DTR edge: high, the
/// module's `OK`, low, the result.
fn end_dtr(n: usize) -> Script {
    Script::new().dtr(true).lines(&["OK"]).dtr(false).lines(&[&format!("+QFTPPUT: 0,{n}")])
}

/// Whether the client wrote `+++` after `init`'s own.
fn escaped_by_plus(modem: &Modem) -> bool {
    let w = writes(modem);
    find_write(&w, after_init(&w), b"+++").is_some()
}

/// Every `AT+QFTPPUT` command line the client wrote, in order, however
/// its writes were split (the test data holds no `AT+QFTPPUT=`).
fn put_commands(modem: &Modem) -> Vec<String> {
    let all = modem.written();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = all[i..].windows(11).position(|w| w == b"AT+QFTPPUT=") {
        let a = i + k;
        let end = all[a..].iter().position(|&c| c == b'\r').map_or(all.len(), |e| a + e + 1);
        out.push(String::from_utf8_lossy(&all[a..end]).into_owned());
        i = end;
    }
    out
}

/// Where write call `idx` begins in everything the client wrote.
fn offset_of(w: &[(Instant, Vec<u8>)], idx: usize) -> usize {
    w[..idx].iter().map(|(_, b)| b.len()).sum()
}

/// The index of the first write call that starts with `prefix`, at or after `from`.
fn find_prefix(w: &[(Instant, Vec<u8>)], from: usize, prefix: &[u8]) -> Option<usize> {
    w.iter().skip(from).position(|(_, b)| b.starts_with(prefix)).map(|i| i + from)
}

/// A source that yields `self.0`, then never anything more (a stalled
/// sensor, a socket that went quiet).
struct Stalling<'a>(&'a [u8]);

impl embedded_io_async::ErrorType for Stalling<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Stalling<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.0.is_empty() {
            std::future::pending::<()>().await;
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// `UploadMode::Auto`: the switch from counted to escaped.

/// Quick counted fills, then a `CONNECT` `delay` late, then what follows
/// for a source of 5 fills and 123 bytes. Returns the modem, the data, the
/// result and the progress seen.
fn switch(delay: Duration, rest: Script) -> (Modem, Vec<u8>, Result<u64, Error>, Vec<u64>) {
    let data = hostile(5 * F + 123);
    let modem = Modem::new(
        boot_open()
            .then(counted(0, &data[..F], false, MS(0)))
            .then(counted(F, &data[F..2 * F], false, delay))
            .then(rest)
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let mut seen = Vec::new();
    let r = run(LONG, async {
        up(&mut ftp).await;
        let r = ftp.put("f", &mut Source(&data), Transfer::default().with_progress(&mut |n| seen.push(n))).await;
        ftp.cwd("/").await.unwrap();
        r
    });
    drop(ftp);
    (modem, data, r, seen)
}

#[test]
fn auto_switches_to_escaped_at_the_byte_after_the_last_counted_chunk_once_connect_is_slow() {
    let _c = clock();
    let data = hostile(5 * F + 123);
    // The second CONNECT takes SLOW_ROUND_TRIP: the third fill goes
    // escaped from 2F, with the fill, its lookahead byte and the rest.
    let rest = escaped(2 * F, &data[2 * F..]).then(end_plus(data.len() - 2 * F));
    let (modem, sent, r, seen) = switch(SLOW_ROUND_TRIP, rest);
    assert_eq!(sent, data);
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert_eq!(
        put_commands(&modem),
        [
            format!("AT+QFTPPUT=\"f\",\"COM:\",0,{F},0\r"),
            format!("AT+QFTPPUT=\"f\",\"COM:\",{F},{F},0\r"),
            format!("AT+QFTPPUT=\"f\",\"COM:\",{}\r", 2 * F),
        ]
    );
    // Every byte from 2F on, and nothing else, went between the third
    // command and the `+++`.
    let w = writes(&modem);
    let all = modem.written();
    let third = format!("AT+QFTPPUT=\"f\",\"COM:\",{}\r", 2 * F);
    let body_at = all.windows(third.len()).position(|c| c == third.as_bytes()).unwrap() + third.len();
    let esc = find_write(&w, after_init(&w), b"+++").unwrap();
    assert_eq!(&all[body_at..offset_of(&w, esc)], &data[2 * F..]);
    assert_eq!(seen.first(), Some(&(F as u64)));
    assert_eq!(seen.last(), Some(&(data.len() as u64)));
    assert!(seen.windows(2).all(|p| p[0] <= p[1]), "progress went back: {seen:?}");
}

#[test]
fn auto_keeps_counting_while_connect_is_quicker_than_slow_round_trip() {
    let _c = clock();
    let data = hostile(5 * F + 123);
    // 19 ms is still quick: every fill is counted, the last with its 123 bytes.
    let mut rest = Script::new();
    for i in 2..5 {
        rest = rest.then(counted(i * F, &data[i * F..(i + 1) * F], false, MS(19)));
    }
    rest = rest.then(counted(5 * F, &data[5 * F..], true, MS(0)));
    let (modem, _, r, seen) = switch(MS(19), rest);
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert!(!escaped_by_plus(&modem));
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5].map(|k| (k * F) as u64).into_iter().chain([data.len() as u64]).collect::<Vec<_>>()
    );
}

#[test]
fn auto_switch_with_the_rest_all_in_the_buffer_carries_the_lookahead_byte() {
    let _c = clock();
    // 2F + 1 bytes, the first CONNECT slow: the second fill (F bytes)
    // and its lookahead byte are the whole rest, sent escaped from F.
    let data = hostile(2 * F + 1);
    let modem = Modem::new(
        boot_open().then(counted(0, &data[..F], false, MS(25))).then(escaped(F, &data[F..])).then(end_plus(F + 1)),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
}

#[test]
fn escape_after_the_switch_is_guarded_and_in_one_write() {
    let _c = clock();
    let data = hostile(5 * F + 123);
    let rest = escaped(2 * F, &data[2 * F..]).then(end_plus(data.len() - 2 * F));
    let (modem, _, r, _) = switch(MS(30), rest);
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    let w = writes(&modem);
    let from = after_init(&w);
    let esc = find_write(&w, from, b"+++").expect("+++ not sent in one write call");
    assert_eq!(w[from..].iter().filter(|(_, b)| b == b"+++").count(), 1, "one escape");
    assert!(!w[from..].iter().any(|(_, b)| b == b"+" || b == b"++"), "+++ split over write calls");
    // The write before it is the end of the data: nothing in the guard.
    assert!(data.ends_with(&w[esc - 1].1), "something was written between the data and +++");
    assert!(w[esc].0 - w[esc - 1].0 >= GUARD, "only {:?} of silence before +++", w[esc].0 - w[esc - 1].0);
    assert!(w[esc].0 - w[esc - 1].0 < GUARD + MS(50), "{:?} before +++", w[esc].0 - w[esc - 1].0);
    assert!(w[esc + 1].1.starts_with(b"AT+QFTPCWD"));
}

#[test]
fn auto_after_a_slow_open_goes_escaped_from_the_first_fill() {
    let _c = clock();
    let data = hostile(3 * F + 7);
    let modem = Modem::new(boot().then(open_slow(SLOW_ROUND_TRIP)).then(escaped(0, &data)).then(end_plus(data.len())));
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert_eq!(put_commands(&modem), ["AT+QFTPPUT=\"f\",\"COM:\",0\r"]);
}

#[test]
fn auto_after_a_quick_open_stays_counted() {
    let _c = clock();
    let data = hostile(3 * F + 7);
    for open in [open_ok(), open_slow(MS(19))] {
        let modem = Modem::new(boot().then(open).then(all_counted(&data, F, MS(0))));
        let mut b = buf(F);
        let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
        let r = run(LONG, async {
            up(&mut ftp).await;
            ftp.put("f", &mut Source(&data), Transfer::default()).await
        });
        modem.finished();
        assert_eq!(r, Ok(data.len() as u64));
        assert!(!escaped_by_plus(&modem));
        assert_eq!(put_commands(&modem).len(), 4);
    }
}

#[test]
fn forced_modes_ignore_the_round_trip() {
    let _c = clock();
    let data = hostile(3 * F + 7);
    // Escaped after a quick open; then Counted although every CONNECT is
    // slow (Auto would go escaped from the second fill).
    let modem =
        Modem::new(boot_open().then(escaped(0, &data)).then(end_plus(data.len())).then(all_counted(&data, F, MS(500))));
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let escaped = Transfer { upload: UploadMode::Escaped, ..Transfer::default() };
        assert_eq!(ftp.put("f", &mut Source(&data), escaped).await, Ok(data.len() as u64));
        let counted = Transfer { upload: UploadMode::Counted, ..Transfer::default() };
        assert_eq!(ftp.put("f", &mut Source(&data), counted).await, Ok(data.len() as u64));
    });
    modem.finished();
    assert_eq!(put_commands(&modem).len(), 5);
}

// ---------------------------------------------------------------------------
// The DTR pin.

#[test]
fn init_sends_at_d1_only_with_a_pin() {
    let _c = clock();
    // Without a pin: `boot()` has no `AT&D1`.
    let modem = Modem::new(boot());
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    run(LONG, async { ftp.init().await.unwrap() });
    modem.finished();
    assert!(!modem.written().windows(5).any(|w| w == b"AT&D1"));
    // With one: driven low by `with_dtr`, `AT&D1` after `AT+CMEE=1`, the
    // pin not raised during init (its `+++` is the module's safe escape
    // whatever `&D` it has).
    let modem = Modem::new(boot_dtr());
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    assert_eq!(modem.dtr_levels().len(), 1, "with_dtr drives the pin low at once");
    run(LONG, async { ftp.init().await.unwrap() });
    modem.finished();
    assert_eq!(modem.written().windows(6).filter(|w| w == b"AT&D1\r").count(), 1);
    assert_eq!(modem.dtr_levels().iter().map(|l| l.1).collect::<Vec<_>>(), [false]);
}

#[test]
fn dtr_edge_right_after_the_last_data_byte_then_low_after_ok() {
    let _c = clock();
    let data = hostile(3 * F + 7);
    // With a pin Auto goes escaped from the first fill; the module
    // answers the edge 50 ms later.
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .dtr(true)
            .pause(MS(50))
            .lines(&["OK"])
            .dtr(false)
            .lines(&[&format!("+QFTPPUT: 0,{}", data.len())])
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    let t0 = Instant::now();
    let r = run_precise(LONG, async {
        let r = ftp.put("f", &mut Source(&data), Transfer::default()).await;
        ftp.cwd("/").await.unwrap();
        r
    });
    let took = Instant::now() - t0;
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert!(took < MS(200), "the put and a command took {took:?}: a guard time?");
    assert!(!escaped_by_plus(&modem));
    let w = writes(&modem);
    let cwd = find_prefix(&w, after_init(&w), b"AT+QFTPCWD").unwrap();
    let last_data = &w[cwd - 1];
    assert!(data.ends_with(&last_data.1));
    let levels = modem.dtr_levels();
    let [_, (high_at, true), (low_at, false)] = levels[..] else { panic!("DTR levels {levels:?}") };
    assert!(high_at - last_data.0 < MS(1), "DTR raised {:?} after the last data byte", high_at - last_data.0);
    assert!(low_at - high_at >= MS(50), "DTR lowered before the module's OK");
    assert!(low_at - high_at < MS(55), "DTR lowered {:?} after it rose", low_at - high_at);
    assert!(w[cwd].0 - low_at < MS(5), "the next command waited {:?}", w[cwd].0 - low_at);
}

#[test]
fn a_module_that_ignores_the_dtr_edge_gets_a_guarded_plus_after_2_s() {
    let _c = clock();
    let data = hostile(2 * F + 3);
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            // No answer to the edge.
            .dtr(true)
            .dtr(false)
            .then(end_plus(data.len()))
            // Two signals went out: the edge may have been taken late, and
            // the `+++` then started a command line. A probe ends it.
            .then(probe())
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    let r = run_precise(LONG, async {
        let r = ftp.put("f", &mut Source(&data), Transfer::default()).await;
        ftp.cwd("/").await.unwrap();
        r
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").expect("+++ not sent in one write call");
    assert!(data.ends_with(&w[esc - 1].1), "something was written between the data and +++");
    let levels = modem.dtr_levels();
    let [_, (high_at, true), (low_at, false)] = levels[..] else { panic!("DTR levels {levels:?}") };
    assert!(high_at - w[esc - 1].0 < MS(1));
    assert!(low_at - high_at >= S(2) && low_at - high_at < S(2) + MS(5), "DTR high for {:?}", low_at - high_at);
    assert!(w[esc].0 - low_at >= GUARD, "only {:?} of silence after DTR low", w[esc].0 - low_at);
    assert!(w[esc].0 - low_at < GUARD + MS(5), "{:?} after DTR low", w[esc].0 - low_at);
    assert!(w[esc + 1].1.starts_with(b"\rAT+CMEE?"), "the next call should probe first");
}

#[test]
fn a_failing_pin_falls_back_to_a_guarded_plus_at_once() {
    let _c = clock();
    let data = hostile(2 * F + 3);
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .then(end_plus(data.len()))
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    modem.fail_dtr(true);
    let r = run_precise(LONG, async {
        let r = ftp.put("f", &mut Source(&data), Transfer::default()).await;
        ftp.cwd("/").await.unwrap();
        r
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").expect("+++ not sent in one write call");
    assert!(data.ends_with(&w[esc - 1].1), "something was written between the data and +++");
    // The pin was tried (and refused) right after the data, then the
    // guard alone: no 2 s wait for an answer to an edge that never was.
    let refused = modem.0.borrow().dtr_refused.clone();
    assert_eq!(refused.iter().map(|l| l.1).collect::<Vec<_>>(), [true]);
    assert!(refused[0].0 - w[esc - 1].0 < MS(1));
    assert_eq!(modem.dtr_levels().len(), 1, "only with_dtr's low");
    assert!(w[esc].0 - w[esc - 1].0 >= GUARD);
    assert!(w[esc].0 - w[esc - 1].0 < GUARD + MS(5), "{:?} before +++", w[esc].0 - w[esc - 1].0);
}

/// A pin that failed once (a serial port without a DTR line) is not
/// tried again until the next bring-up: on a quick link, `Auto` then sends
/// counted uploads as without a pin, rather than escaped ones that each
/// pay two guard times; after `init` (`AT&D1` again) the pin is back.
#[test]
fn a_pin_that_failed_counts_as_none_until_the_next_init() {
    let _c = clock();
    let data = hostile(2 * F + 3);
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .then(end_plus(data.len()))
            .then(put_chunk("f", 0, &data[..F], false))
            .then(put_chunk("f", F as u64, &data[F..2 * F], false))
            .then(put_chunk("f", 2 * F as u64, &data[2 * F..], true))
            // `init` again (the pin rests low already): `AT&D1`.
            .then(init_dtr())
            .then(open_ok())
            .then(escaped(0, &data))
            .then(end_dtr(data.len())),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    modem.fail_dtr(true);
    run(LONG, async {
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
    });
    // Tried once, at the first upload's end.
    assert_eq!(modem.0.borrow().dtr_refused.len(), 1);
    modem.fail_dtr(false);
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
    });
    modem.finished();
}

#[test]
fn a_put_dropped_mid_data_is_left_by_dtr_at_the_next_call() {
    let _c = clock();
    // A fill and some more, then the source stalls: the escaped upload
    // (a pin) is in data mode when its future is dropped.
    let data = hostile(2 * F + 10);
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            // The next call: the edge, the module's OK and the aborted
            // upload's result, low, the probe, the close.
            .dtr(true)
            .lines(&["OK", &format!("+QFTPPUT: 0,{}", data.len())])
            .dtr(false)
            .then(probe())
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(50, ftp.put("f", &mut Stalling(&data), Transfer::default()));
    let dropped = Instant::now();
    let (r, took) = timed(LONG, ftp.cwd("/"));
    assert_eq!(r, Err(Error::NotOpen));
    assert!(took < MS(100), "recovery took {took:?}: a guard time?");
    run(LONG, async {
        open_again(&mut ftp).await;
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
    assert!(!escaped_by_plus(&modem), "left data mode by +++, not DTR");
    let levels = modem.dtr_levels();
    let [_, (high_at, true), (low_at, false)] = levels[..] else { panic!("DTR levels {levels:?}") };
    assert!(high_at - dropped < MS(1));
    assert!(low_at - high_at < MS(5));
    // The probe's CR follows the edge at once.
    let probe_at = sent_at(&modem, b"\rAT+CMEE?\r");
    let probe_at = *probe_at.last().unwrap();
    assert!(probe_at >= low_at && probe_at - low_at < MS(5));
}

// ---------------------------------------------------------------------------
// Sources that end at a buffer boundary.

#[test]
fn a_source_of_exactly_one_fill_is_one_counted_upload_whatever_the_round_trip() {
    let _c = clock();
    let data = hostile(F);
    let one = [format!("AT+QFTPPUT=\"f\",\"COM:\",0,{F},1\r")];
    // After a quick open, and after a slow one: the source ends in the
    // first fill, so there is nothing to escape.
    for open in [open_ok(), open_slow(MS(200))] {
        let modem = Modem::new(boot().then(open).then(counted(0, &data, true, MS(0))));
        let mut b = buf(F);
        let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
        let r = run(LONG, async {
            up(&mut ftp).await;
            ftp.put("f", &mut Source(&data), Transfer::default()).await
        });
        modem.finished();
        assert_eq!(r, Ok(F as u64));
        assert_eq!(put_commands(&modem), one);
        assert!(!escaped_by_plus(&modem));
    }
    // With a pin: no edge either.
    let modem = Modem::new(boot_dtr().then(open_ok()).then(counted(0, &data, true, MS(0))));
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(F as u64));
    assert_eq!(put_commands(&modem), one);
    assert_eq!(modem.dtr_levels().len(), 1, "only with_dtr's low");
}

#[test]
fn a_source_of_k_fills_goes_in_k_counted_uploads_the_last_with_beof() {
    let _c = clock();
    let data = hostile(3 * F);
    let expected = [
        format!("AT+QFTPPUT=\"f\",\"COM:\",0,{F},0\r"),
        format!("AT+QFTPPUT=\"f\",\"COM:\",{F},{F},0\r"),
        format!("AT+QFTPPUT=\"f\",\"COM:\",{},{F},1\r", 2 * F),
    ];
    // Auto on a quick link; Counted on a slow one.
    for (open, mode, delay) in
        [(open_ok(), UploadMode::Auto, MS(0)), (open_slow(MS(300)), UploadMode::Counted, MS(300))]
    {
        let modem = Modem::new(boot().then(open).then(all_counted(&data, F, delay)));
        let mut b = buf(F);
        let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
        let mut seen = Vec::new();
        let r = run(LONG, async {
            up(&mut ftp).await;
            let mut progress = |n| seen.push(n);
            let opts = Transfer { upload: mode, ..Transfer::default() }.with_progress(&mut progress);
            ftp.put("f", &mut Source(&data), opts).await
        });
        modem.finished();
        assert_eq!(r, Ok(data.len() as u64), "{mode:?}");
        assert_eq!(put_commands(&modem), expected, "{mode:?}");
        assert!(!escaped_by_plus(&modem), "{mode:?}");
        assert_eq!(seen, [F as u64, 2 * F as u64, 3 * F as u64], "{mode:?}");
    }
}

#[test]
fn a_source_that_ends_at_the_fill_after_a_slow_connect_ends_counted() {
    let _c = clock();
    // The second CONNECT is slow, but the third fill is the source's last:
    // it goes counted with `<beof>` 1, not escaped.
    let data = hostile(3 * F);
    let modem = Modem::new(
        boot_open()
            .then(counted(0, &data[..F], false, MS(0)))
            .then(counted(F, &data[F..2 * F], false, MS(100)))
            .then(counted(2 * F, &data[2 * F..], true, MS(0))),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert_eq!(put_commands(&modem).len(), 3);
    assert!(!escaped_by_plus(&modem));
}

#[test]
fn put_escaped_of_whole_fills_sends_no_invented_lookahead_byte() {
    let _c = clock();
    // One fill (the source ends in it) and two fills (the second read
    // with the first's lookahead byte): exactly the source's bytes.
    let one = hostile(F);
    let two = hostile(2 * F);
    let modem =
        Modem::new(boot_open().then(escaped(0, &one)).then(end_plus(F)).then(escaped(0, &two)).then(end_plus(2 * F)));
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put_escaped("f", &mut Source(&one), Transfer::default()).await, Ok(F as u64));
        assert_eq!(ftp.put_escaped("f", &mut Source(&two), Transfer::default()).await, Ok(2 * F as u64));
    });
    modem.finished();
    assert_eq!(put_commands(&modem).len(), 2);
}

// ---------------------------------------------------------------------------
// 1 MiB of every byte value and the modem's framing, through every mode.

const MIB: usize = 1 << 20;

/// The fill of the chunk buffer in the 1 MiB tests: 256 fills.
const BIG: usize = 4096;

/// `AT+QFTPSIZE="f"` answered 1 MiB.
fn size_mib() -> Script {
    Script::new().deferred("AT+QFTPSIZE=\"f\"", &format!("+QFTPSIZE: 0,{MIB}"))
}

#[test]
fn mib_put_auto_on_a_quick_link_goes_counted() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot_open().then(all_counted(&data, BIG, MS(0))));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    let puts = put_commands(&modem);
    assert_eq!(puts.len(), MIB / BIG);
    assert_eq!(puts.last().unwrap(), &format!("AT+QFTPPUT=\"f\",\"COM:\",{},{BIG},1\r", MIB - BIG));
    assert!(!escaped_by_plus(&modem));
}

#[test]
fn mib_put_auto_on_a_slow_link_goes_escaped() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot().then(open_slow(MS(150))).then(escaped(0, &data)).then(end_plus(MIB)));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem), ["AT+QFTPPUT=\"f\",\"COM:\",0\r"]);
}

#[test]
fn mib_put_auto_with_a_pin_goes_escaped_and_ends_by_dtr() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot_dtr().then(open_ok()).then(escaped(0, &data)).then(end_dtr(MIB)));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem), ["AT+QFTPPUT=\"f\",\"COM:\",0\r"]);
    assert!(!escaped_by_plus(&modem));
}

#[test]
fn mib_put_counted_on_a_slow_link() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot().then(open_slow(MS(150))).then(all_counted(&data, BIG, MS(150))));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put("f", &mut Source(&data), Transfer { upload: UploadMode::Counted, ..Transfer::default() }).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem).len(), MIB / BIG);
    assert!(!escaped_by_plus(&modem));
}

#[test]
fn mib_put_escaped_without_a_pin() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot_open().then(escaped(0, &data)).then(end_plus(MIB)));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put_escaped("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem).len(), 1);
}

#[test]
fn mib_put_escaped_with_a_pin() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot_dtr().then(open_ok()).then(escaped(0, &data)).then(end_dtr(MIB)));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put_escaped("f", &mut Source(&data), Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem).len(), 1);
    assert!(!escaped_by_plus(&modem));
}

#[test]
fn mib_put_sized_goes_in_one_counted_upload() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(boot_open().then(counted(0, &data, true, MS(0))));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.put_sized("f", &mut Source(&data), MIB as u64, Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert_eq!(put_commands(&modem), [format!("AT+QFTPPUT=\"f\",\"COM:\",0,{MIB},1\r")]);
}

#[test]
fn mib_get_whole_file_in_one_counted_get() {
    let _c = clock();
    let data = hostile(MIB);
    let modem = Modem::new(
        boot_open()
            .then(size_mib())
            .cmd(&format!("AT+QFTPGET=\"f\",\"COM:\",0,{MIB}"))
            .send(b"\r\nCONNECT\r\n")
            .send(&data)
            .lines(&["OK"])
            .lines(&[&format!("+QFTPGET: 0,{MIB}")]),
    );
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let mut sink = Sink(Vec::new());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.get("f", &mut sink, Transfer::default()).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert!(sink.0 == data, "the download differs");
}

#[test]
fn mib_get_in_64_kib_chunks() {
    let _c = clock();
    let data = hostile(MIB);
    const C: usize = 64 * 1024;
    let mut script = boot_open().then(size_mib());
    for (i, c) in data.chunks(C).enumerate() {
        script = script.then(get_chunk("f", (i * C) as u64, C as u64, c));
    }
    let modem = Modem::new(script);
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let mut sink = Sink(Vec::new());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.get("f", &mut sink, Transfer { chunk: C as u32, ..Transfer::default() }).await
    });
    modem.finished();
    assert_eq!(r, Ok(MIB as u64));
    assert!(sink.0 == data, "the download differs");
}

#[test]
fn mib_get_resumed_from_an_offset_asks_start_and_rest() {
    let _c = clock();
    let data = hostile(MIB);
    let start = 300_001;
    let modem = Modem::new(boot_open().then(size_mib()).then(get_chunk(
        "f",
        start as u64,
        (MIB - start) as u64,
        &data[start..],
    )));
    let mut b = buf(BIG);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let mut sink = Sink(Vec::new());
    let r = run(LONG, async {
        up(&mut ftp).await;
        ftp.get("f", &mut sink, Transfer { start: start as u64, ..Transfer::default() }).await
    });
    modem.finished();
    assert_eq!(r, Ok((MIB - start) as u64));
    assert!(sink.0 == data[start..], "the download differs");
}

// ---------------------------------------------------------------------------
// More of the same sequences: a resumed start, answers together, a module
// that restarted, a late answer to the edge, an escape never answered.

#[test]
fn auto_switch_from_a_resumed_start_counts_positions_from_it() {
    let _c = clock();
    let data = hostile(3 * F + 5);
    let start = 70_000;
    let modem = Modem::new(
        boot_open()
            .then(counted(start, &data[..F], false, SLOW_ROUND_TRIP))
            .then(escaped(start + F, &data[F..]))
            .then(end_plus(data.len() - F)),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    let mut seen = Vec::new();
    let r = run(LONG, async {
        up(&mut ftp).await;
        let mut progress = |n| seen.push(n);
        let opts = Transfer { start: start as u64, ..Transfer::default() }.with_progress(&mut progress);
        ftp.put("f", &mut Source(&data), opts).await
    });
    modem.finished();
    assert_eq!(r, Ok(data.len() as u64));
    assert_eq!(seen.first(), Some(&(F as u64)));
    assert_eq!(seen.last(), Some(&(data.len() as u64)));
}

#[test]
fn the_escapes_ok_and_the_result_in_one_read() {
    let _c = clock();
    let data = hostile(2 * F + 9);
    let result = format!("+QFTPPUT: 0,{}", data.len());
    // `+++`: OK and the result at once.
    let modem = Modem::new(
        boot()
            .then(open_slow(MS(40)))
            .then(escaped(0, &data))
            .expect(b"+++")
            .lines(&["OK", &result])
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
    // DTR: OK and the result at once, then the pin low.
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .dtr(true)
            .lines(&["OK", &result])
            .dtr(false)
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
}

#[test]
fn a_restarted_module_gets_at_d1_again() {
    let _c = clock();
    let data = hostile(2 * F + 9);
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            // The module restarts: `&D` is back at its default.
            .cmd("AT+QFTPSIZE=\"f\"")
            .lines(&["OK"])
            .lines(&["RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"])
            .cmd("ATE0")
            .send(b"ATE0\r")
            .lines(&["OK"])
            .ok("AT+CMEE=1")
            .ok("AT&D1")
            .then(open_ok())
            .then(escaped(0, &data))
            .then(end_dtr(data.len())),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.size("f").await, Err(Error::SessionClosed));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
    });
    modem.finished();
    assert_eq!(modem.written().windows(6).filter(|w| w == b"AT&D1\r").count(), 2);
}

#[test]
fn escapes_never_answered_give_up_after_three_guarded_tries() {
    let _c = clock();
    let data = hostile(2 * F + 9);
    // No pin: three guarded `+++`, each `2·GUARD + ESCAPE_ANSWER` at most;
    // then the next call escapes again (one try), probes and closes.
    let modem = Modem::new(
        boot()
            .then(open_slow(MS(40)))
            .then(escaped(0, &data))
            .expect(b"+++")
            .expect(b"+++")
            .expect(b"+++")
            .expect(b"+++")
            .lines(&["OK", &format!("+QFTPPUT: 0,{}", data.len())])
            .then(probe())
            .then(close_ok()),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap();
    run(LONG, async { up(&mut ftp).await });
    let r = run(LONG, ftp.put("f", &mut Source(&data), Transfer::default()));
    assert_eq!(r, Err(Error::Timeout));
    let w = writes(&modem);
    let first = find_write(&w, after_init(&w), b"+++").unwrap();
    let gave_up = Instant::now();
    // Each try: GUARD of silence, `+++`, GUARD + 2 s for the OK.
    for k in 0..3 {
        assert_eq!(w[first + k].1, b"+++");
        let before = if k == 0 { w[first - 1].0 } else { w[first + k - 1].0 };
        let gap = w[first + k].0 - before;
        assert!(gap >= GUARD, "try {k}: {gap:?} of silence before +++");
    }
    let escapes = gave_up - w[first - 1].0;
    assert!(escapes >= (GUARD * 2 + S(2)) * 3, "gave up after {escapes:?}");
    assert!(escapes < (GUARD * 2 + S(2)) * 3 + MS(50), "gave up after {escapes:?}");
    run(LONG, async { assert_eq!(ftp.cwd("/").await, Err(Error::NotOpen)) });
    modem.finished();
    // With a pin no module answers: the edge's 2 s first, then the same
    // three tries; the next call raises the pin again, and is answered.
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .dtr(true)
            .dtr(false)
            .expect(b"+++")
            .expect(b"+++")
            .expect(b"+++")
            .dtr(true)
            .lines(&["OK", &format!("+QFTPPUT: 0,{}", data.len())])
            .dtr(false)
            .then(probe())
            .then(close_ok()),
    );
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async { up(&mut ftp).await });
    let r = run(LONG, ftp.put("f", &mut Source(&data), Transfer::default()));
    assert_eq!(r, Err(Error::Timeout));
    let gave_up = Instant::now();
    let levels = modem.dtr_levels();
    let escapes = gave_up - levels[1].0;
    assert!(escapes >= S(2) + (GUARD * 2 + S(2)) * 3, "gave up after {escapes:?}");
    assert!(escapes < S(2) + (GUARD * 2 + S(2)) * 3 + MS(50), "gave up after {escapes:?}");
    let (r, took) = timed(LONG, ftp.cwd("/"));
    assert_eq!(r, Err(Error::NotOpen));
    assert!(took < MS(100), "recovery took {took:?}");
    modem.finished();
}

#[test]
fn a_late_answer_to_the_dtr_edge_leaves_the_next_command_working() {
    let _c = clock();
    let data = hostile(2 * F + 9);
    // The module answers the edge only after the client gave up on it (as
    // the pin goes low): it is in command mode from then on, so the
    // guarded `+++` that follows starts a command line there, and the
    // next command would read `+++AT+QFTPCWD=...`: ERROR. The client
    // probes first: the probe's CR ends that line.
    let modem = Modem::new(
        boot_dtr()
            .then(open_ok())
            .then(escaped(0, &data))
            .dtr(true)
            .dtr(false)
            .expect(b"+++")
            .lines(&["OK", &format!("+QFTPPUT: 0,{}", data.len())])
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut b = buf(F);
    let mut ftp = Ftp::new(modem.clone(), &mut b).unwrap().with_dtr(modem.dtr_pin());
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put("f", &mut Source(&data), Transfer::default()).await, Ok(data.len() as u64));
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
}
