//! A client of torch's `TCPStore`, the key-value store torchrun's agent serves at
//! `MASTER_ADDR:MASTER_PORT` for the processes it starts (`TORCHELASTIC_USE_AGENT_STORE=True`).
//! Rank 0 cannot listen on that port itself (the agent holds it), so the NCCL id goes through
//! the agent's store, as `torch.distributed` does under torchrun.
//!
//! The wire format is c10d's (torch/csrc/distributed/c10d/TCPStoreBackend.hpp), native byte
//! order: a query byte, then its arguments, strings and values as a `u64` length and the bytes.
//! Only four queries are used: `VALIDATE` (the magic number, sent once on connecting), `SET`,
//! `CHECK` (are the keys there, without blocking) and `GET`. `tests/distributed.rs` runs it
//! against a real torchrun.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::rendezvous::Master;

const VALIDATE: u8 = 0;
const SET: u8 = 1;
const GET: u8 = 3;
const CHECK: u8 = 5;
const MAGIC: u32 = 0x3C85_F7CE;
/// `CHECK`'s answer when every key is set.
const READY: u8 = 0;

/// Whether torchrun's agent serves the store at `MASTER_ADDR:MASTER_PORT`.
pub fn agent_store() -> bool {
    std::env::var("TORCHELASTIC_USE_AGENT_STORE").is_ok_and(|v| v == "True")
}

/// The key of this launch's NCCL id: a restart of the job (torchrun's `--max-restarts`) makes
/// a new communicator, so each attempt has its own key.
fn key() -> String {
    let attempt = std::env::var("TORCHELASTIC_RESTART_COUNT").unwrap_or_else(|_| "0".into());
    format!("trainc/attempt_{attempt}/nccl_id")
}

/// Rank 0: stores `value` under this launch's key.
pub fn publish(master: &Master, value: &[u8], deadline: Instant) -> Result<(), String> {
    let mut store = connect(master, deadline)?;
    let mut query = vec![SET];
    put(&mut query, key().as_bytes());
    put(&mut query, value);
    store.write_all(&query).map_err(|e| format!("cannot write to torchrun's store: {e}"))
}

/// Any other rank: waits until rank 0 has stored the value, then reads it.
pub fn wait_for(master: &Master, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut store = connect(master, deadline)?;
    let key = key();
    let mut check = vec![CHECK];
    check.extend_from_slice(&1u64.to_ne_bytes());
    put(&mut check, key.as_bytes());
    loop {
        store.write_all(&check).map_err(|e| format!("torchrun's store: {e}"))?;
        let mut answer = [0u8; 1];
        store.read_exact(&mut answer).map_err(|e| format!("torchrun's store: {e}"))?;
        if answer[0] == READY {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!("rank 0 did not store `{key}` in torchrun's store"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut get = vec![GET];
    put(&mut get, key.as_bytes());
    store.write_all(&get).map_err(|e| format!("torchrun's store: {e}"))?;
    let mut len = [0u8; 8];
    store.read_exact(&mut len).map_err(|e| format!("torchrun's store: {e}"))?;
    let mut value = vec![0u8; u64::from_ne_bytes(len) as usize];
    store.read_exact(&mut value).map_err(|e| format!("torchrun's store: {e}"))?;
    Ok(value)
}

/// Appends a length-prefixed string or value.
fn put(query: &mut Vec<u8>, bytes: &[u8]) {
    query.extend_from_slice(&(bytes.len() as u64).to_ne_bytes());
    query.extend_from_slice(bytes);
}

/// Connects to the agent's store and validates the connection (the agent is up before it
/// starts any rank, so one attempt per address suffices).
fn connect(master: &Master, deadline: Instant) -> Result<TcpStream, String> {
    let endpoint = (master.addr.as_str(), master.port);
    let addrs = endpoint.to_socket_addrs().map_err(|e| format!("cannot resolve `{}`: {e}", master.addr))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(mut stream) => {
                let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
                stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
                let mut hello = vec![VALIDATE];
                hello.extend_from_slice(&MAGIC.to_ne_bytes());
                stream.write_all(&hello).map_err(|e| format!("torchrun's store: {e}"))?;
                return Ok(stream);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("torchrun's store is not reachable: {last}"))
}
