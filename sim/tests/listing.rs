//! `Ftp::list_entries` (issue 17) through the simulated module against the
//! real FTP server: what MLSD and LIST say the server's directory holds is
//! what the file system says it holds.

use std::fs;
use std::path::Path;

use quectel_ftp::listing::{Entry, Kind};
use quectel_ftp::{Error, Ftp, FtpConfig, Listing, PdpConfig};
use quectel_ftp_sim::{pair, SimConfig, TestServer, PASSWORD, USER};

mod common;

/// Name, kind and, for a file, its size: what a listing and `read_dir`
/// must agree on.
type Item = (String, Kind, Option<u64>);

/// The directory's entries as the file system has them, sorted by name
/// (names in a directory are unique).
fn read_dir(dir: &Path) -> Vec<Item> {
    let mut items: Vec<Item> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let meta = e.metadata().unwrap();
            match meta.is_dir() {
                true => (name, Kind::Dir, None),
                false => (name, Kind::File, Some(meta.len())),
            }
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

/// An entry as an [`Item`]; a directory's size (which LIST and MLSD give
/// as the file system's, or not at all) is left out.
fn item(e: Entry<'_>) -> Item {
    let name = String::from_utf8(e.name.to_vec()).unwrap();
    let size = e.size.filter(|_| e.kind == Kind::File);
    (name, e.kind, size)
}

#[test]
fn mlsd_and_list_entries_are_what_read_dir_gives_for_the_served_directory() {
    common::start_wall_clock();
    let server = TestServer::start().unwrap();
    let root = server.root();
    let files: [(&str, usize); 7] = [
        ("empty.bin", 0),
        ("one.txt", 1),
        ("name with spaces.txt", 1234),
        ("OK", 2),
        ("+QFTPLIST: 0,5", 14),
        (" leading and trailing ", 77),
        ("big.bin", 300_000),
    ];
    for (name, len) in files {
        fs::write(root.join(name), vec![b'x'; len]).unwrap();
    }
    fs::create_dir(root.join("sub dir")).unwrap();
    fs::write(root.join("sub dir").join("inner.txt"), b"not in the listing").unwrap();
    let want = read_dir(root);
    assert_eq!(want.len(), files.len() + 1, "{want:?}");

    let (port, _control) = pair(SimConfig::default());
    let mut buf = [0u8; 1024];
    let mut ftp = Ftp::new(port, &mut buf).unwrap();
    let config = FtpConfig { user: USER, password: PASSWORD, rsp_timeout_s: 20, ..Default::default() };
    let mut listings = Vec::new();
    let session = async {
        ftp.init_fresh().await?;
        ftp.activate(&PdpConfig::default()).await?;
        ftp.configure(&config, None).await?;
        ftp.open("127.0.0.1", server.port()).await?;
        for format in [Listing::Mlsd, Listing::List] {
            let mut got = Vec::new();
            let n = ftp.list_entries(format, ".", |e| got.push(item(e))).await?;
            listings.push((format, n, got));
        }
        ftp.close().await
    };
    futures_executor::block_on(session).map_err(|e: Error| format!("{e:?}")).unwrap();

    assert_eq!(listings.len(), 2);
    for (format, n, mut got) in listings {
        assert_eq!(n, got.len() as u64, "{format:?}: the count is the entries handed out");
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "{format:?}");
    }
}
