//! A TCP proxy on 127.0.0.1 that puts a fixed one-way latency on every connection, in both
//! directions, and counts the connections it accepts, the bytes it forwards and the round trips
//! the client waited for.
//!
//! Each direction of a connection is a reader thread and a writer thread joined by a channel: the
//! reader stamps every chunk it reads with the time it is due (read time plus the delay) and
//! never waits, the writer sends each chunk, in order, once it is due. So a chunk takes the delay
//! however many are in flight (latency, no bandwidth limit), and an end of stream (FIN) is
//! forwarded as late as the data before it. A new connection first waits one round trip (twice
//! the delay) before anything moves: what TCP's handshake costs a client before its first byte
//! can reach the server.
//!
//! A round trip is counted for each connection's handshake, and each time the server answers
//! after the client last spoke: a chunk towards the client that follows one towards the server
//! on the same connection. Over one connection, that is how many times the client's words had to
//! travel there and back before it could go on.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub(crate) struct Proxy {
    port: u16,
    accepted: Arc<AtomicUsize>,
    round_trips: Arc<AtomicUsize>,
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
        let round_trips = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, bytes, stop) = (Arc::clone(&accepted), Arc::clone(&bytes), Arc::clone(&stop));
            let round_trips = Arc::clone(&round_trips);
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    round_trips.fetch_add(1, Ordering::SeqCst);
                    let counts = Counts {
                        bytes: Arc::clone(&bytes),
                        round_trips: Arc::clone(&round_trips),
                        last: Arc::new(AtomicU8::new(NONE)),
                    };
                    thread::spawn(move || relay(client, target, delay, &counts));
                }
            })
        };
        Ok(Self {
            port,
            accepted,
            round_trips,
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

    /// How many round trips the clients waited for since the last call (or the start); resets
    /// the count.
    pub(crate) fn take_round_trips(&self) -> usize {
        self.round_trips.swap(0, Ordering::SeqCst)
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

/// Which way a connection's last chunk went.
const NONE: u8 = 0;
const TO_SERVER: u8 = 1;
const TO_CLIENT: u8 = 2;

/// What one connection adds to the proxy's counts.
#[derive(Clone)]
struct Counts {
    /// Bytes forwarded to the server and to the client.
    bytes: Arc<[AtomicU64; 2]>,
    round_trips: Arc<AtomicUsize>,
    /// Which way this connection's last chunk went.
    last: Arc<AtomicU8>,
}

impl Counts {
    /// Notes a chunk read for `way`: towards the client after one towards the server is a
    /// round trip.
    fn chunk(&self, way: u8, len: usize) {
        let index = usize::from(way == TO_CLIENT);
        self.bytes[index].fetch_add(len as u64, Ordering::SeqCst);
        if len > 0 && self.last.swap(way, Ordering::SeqCst) == TO_SERVER && way == TO_CLIENT {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One connection: the handshake's round trip, then both directions until both have ended.
fn relay(client: TcpStream, target: u16, delay: Duration, counts: &Counts) {
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
    let up = counts.clone();
    let upstream = thread::spawn(move || pipe(client, server_in, delay, TO_SERVER, &up));
    pipe(server, client_out, delay, TO_CLIENT, counts);
    let _ = upstream.join();
}

/// Copies `from` to `to` (the way `way`), each chunk `delay` after it was read, in order; an end
/// of stream is passed on as a shutdown of `to`'s writing half, just as late. Counts what it
/// reads into `counts`.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration, way: u8, counts: &Counts) {
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
        counts.chunk(way, chunk.len());
        let end = chunk.is_empty();
        if tx.send((Instant::now() + delay, chunk)).is_err() || end {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
