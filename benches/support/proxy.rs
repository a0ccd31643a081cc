//! A TCP proxy on 127.0.0.1 that puts a fixed one-way latency on every connection, in both
//! directions, and counts the connections it accepts and the bytes it forwards.
//!
//! Each direction of a connection is a reader thread and a writer thread joined by a channel: the
//! reader stamps every chunk it reads with the time it is due (read time plus the delay) and
//! never waits, the writer sends each chunk, in order, once it is due. So a chunk takes the delay
//! however many are in flight (latency, no bandwidth limit), and an end of stream (FIN) is
//! forwarded as late as the data before it. A new connection first waits one round trip (twice
//! the delay) before anything moves: what TCP's handshake costs a client before its first byte
//! can reach the server.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub(crate) struct Proxy {
    port: u16,
    accepted: Arc<AtomicUsize>,
    /// Bytes forwarded to the server and to the client.
    bytes: Arc<[AtomicU64; 2]>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `127.0.0.1:target`.
    pub(crate) fn start(target: u16, delay: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, bytes, stop) = (Arc::clone(&accepted), Arc::clone(&bytes), Arc::clone(&stop));
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let bytes = Arc::clone(&bytes);
                    thread::spawn(move || relay(client, target, delay, &bytes));
                }
            })
        };
        Ok(Self {
            port,
            accepted,
            bytes,
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// How many connections were accepted since the last call (or the start); resets the count.
    pub(crate) fn take_accepted(&self) -> usize {
        self.accepted.swap(0, Ordering::SeqCst)
    }

    /// Bytes forwarded to the server and to the client since the last call (or the start);
    /// resets the counts.
    // The latency bench counts connections only.
    #[allow(dead_code)]
    pub(crate) fn take_bytes(&self) -> (u64, u64) {
        (
            self.bytes[0].swap(0, Ordering::SeqCst),
            self.bytes[1].swap(0, Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: the handshake's round trip, then both directions until both have ended.
fn relay(client: TcpStream, target: u16, delay: Duration, bytes: &Arc<[AtomicU64; 2]>) {
    thread::sleep(2 * delay);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    for stream in [&client, &server] {
        // Each chunk goes out when it is due, not when Nagle's algorithm would let it.
        let _ = stream.set_nodelay(true);
    }
    let (Ok(client_out), Ok(server_in)) = (client.try_clone(), server.try_clone()) else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        return;
    };
    let to_server = Arc::clone(bytes);
    let upstream = thread::spawn(move || pipe(client, server_in, delay, &to_server[0]));
    pipe(server, client_out, delay, &bytes[1]);
    let _ = upstream.join();
}

/// Copies `from` to `to`, each chunk `delay` after it was read, in order; an end of stream is
/// passed on as a shutdown of `to`'s writing half, just as late. Counts what it reads into
/// `count`.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration, count: &AtomicU64) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if chunk.is_empty() {
                break;
            }
            if to.write_all(&chunk).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let chunk = match from.read(&mut buf) {
            Ok(0) | Err(_) => Vec::new(),
            Ok(n) => buf[..n].to_vec(),
        };
        count.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        let end = chunk.is_empty();
        if tx.send((Instant::now() + delay, chunk)).is_err() || end {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
