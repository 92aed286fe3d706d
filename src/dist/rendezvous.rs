//! The rendezvous of an NCCL job: every rank receives rank 0's NCCL unique id, which
//! `ncclCommInitRank` needs on every rank, through `MASTER_ADDR:MASTER_PORT`, the variables of
//! torch's `init_process_group("nccl")`:
//! - under torchrun (`TORCHELASTIC_USE_AGENT_STORE=True`), that address is torchrun's own
//!   `TCPStore`: rank 0 sets a key in it and the others wait for it (`torch_store`);
//! - otherwise (a SLURM batch script, a hand-written launch) rank 0 listens on `MASTER_PORT` and
//!   the others connect, as torch's rank 0 starts its own store. The handshake carries a magic,
//!   the rank and the world size, so a second job on the port or a rank started with another
//!   `WORLD_SIZE` is refused with a clear error.
//!
//! What rank 0 shares is its id, or why it has none (no libnccl, no driver), so the other ranks
//! stop at once with rank 0's reason instead of waiting for a timeout. Every collective then goes
//! through NCCL.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{DistError, World};

const MAGIC: &[u8; 8] = b"trainc01";
/// Rank 0's answer: the id follows.
const ACCEPTED: u8 = 1;
/// Rank 0's answer: the rank's world size differs from rank 0's.
const REFUSED: u8 = 0;

/// Where rank 0 listens: `MASTER_ADDR` and `MASTER_PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    pub addr: String,
    pub port: u16,
}

impl Master {
    /// From the environment; both variables are required.
    pub fn from_env() -> Result<Master, DistError> {
        Master::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Master, DistError> {
        let addr = var("MASTER_ADDR").ok_or(DistError::NoMaster { var: "MASTER_ADDR" })?;
        let port = var("MASTER_PORT").ok_or(DistError::NoMaster { var: "MASTER_PORT" })?;
        let port = port.trim().parse().map_err(|_| DistError::BadVar {
            var: "MASTER_PORT",
            value: port,
            expected: "port number",
        })?;
        Ok(Master { addr: addr.trim().to_string(), port })
    }

    fn endpoint(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}

/// What rank 0 shares: NCCL's id, or why it could not make one.
pub type Shared = Result<Vec<u8>, String>;

/// Rank 0 sends `shared` to every other rank; the others return what they received (rank 0's
/// reason as an error). Gives up after `timeout` (a rank that never starts, a wrong address, a
/// closed port). Rank 0 waits at most 30 s to pass on a reason: it has its own error to report.
pub fn share_id(master: &Master, world: &World, shared: &Shared, timeout: Duration) -> Result<Vec<u8>, DistError> {
    let timeout = if shared.is_err() { timeout.min(Duration::from_secs(30)) } else { timeout };
    let deadline = Instant::now() + timeout;
    let failed = |message: String| DistError::Rendezvous { rank: world.rank, endpoint: master.endpoint(), message };
    let received = match (world.is_leader(), super::torch_store::agent_store()) {
        (true, false) => serve(master.port, world.size, &encode(shared), deadline).map(|()| encode(shared)),
        (false, false) => fetch(master, world, deadline),
        (true, true) => super::torch_store::publish(master, &encode(shared), deadline).map(|()| encode(shared)),
        (false, true) => super::torch_store::wait_for(master, deadline),
    };
    match decode(&received.map_err(failed)?) {
        Ok(id) => Ok(id),
        Err(reason) => Err(failed(format!("rank 0 could not start NCCL: {reason}"))),
    }
}

/// A status byte (1: the id follows, 0: a reason does), then the bytes.
fn encode(shared: &Shared) -> Vec<u8> {
    match shared {
        Ok(id) => [&[1u8][..], id].concat(),
        Err(reason) => [&[0u8][..], reason.as_bytes()].concat(),
    }
}

fn decode(bytes: &[u8]) -> Shared {
    match bytes.split_first() {
        Some((1, id)) => Ok(id.to_vec()),
        Some((_, reason)) => Err(String::from_utf8_lossy(reason).into_owned()),
        None => Err("an empty answer".into()),
    }
}

/// Rank 0: accepts the `size - 1` other ranks, then sends each the id.
fn serve(port: u16, size: usize, id: &[u8], deadline: Instant) -> Result<(), String> {
    let listener = TcpListener::bind(("0.0.0.0", port)).map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut joined: Vec<Option<TcpStream>> = (0..size).map(|_| None).collect();
    while joined.iter().skip(1).any(Option::is_none) {
        let (mut stream, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let waiting = joined.iter().skip(1).filter(|s| s.is_none()).count();
                if Instant::now() >= deadline {
                    return Err(format!("{waiting} rank(s) did not connect"));
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let Some((rank, their_size)) = read_hello(&mut stream) else {
            eprintln!("warning: ignored a connection from {from} to the rendezvous port: not a trainc rank");
            continue;
        };
        if their_size != size || rank == 0 || rank >= size || joined[rank].is_some() {
            let _ = stream.write_all(&[REFUSED]);
            return Err(format!(
                "a rank from {from} says it is rank {rank} of {their_size}; this job has {size} ranks"
            ));
        }
        joined[rank] = Some(stream);
    }
    let mut answer = vec![ACCEPTED];
    answer.extend_from_slice(&(id.len() as u32).to_le_bytes());
    answer.extend_from_slice(id);
    for stream in joined.iter_mut().flatten() {
        stream.write_all(&answer).map_err(|e| format!("cannot send the NCCL id: {e}"))?;
    }
    Ok(())
}

/// The magic, rank and world size a rank sends; `None` for anything else.
fn read_hello(stream: &mut TcpStream) -> Option<(usize, usize)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut hello = [0u8; 16];
    stream.read_exact(&mut hello).ok()?;
    let word = |at: usize| u32::from_le_bytes([hello[at], hello[at + 1], hello[at + 2], hello[at + 3]]) as usize;
    (hello[..8] == MAGIC[..]).then(|| (word(8), word(12)))
}

/// Any other rank: connects (retrying until rank 0 listens), says who it is, reads the id.
fn fetch(master: &Master, world: &World, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut stream = connect(master, deadline)?;
    let mut hello = MAGIC.to_vec();
    hello.extend_from_slice(&(world.rank as u32).to_le_bytes());
    hello.extend_from_slice(&(world.size as u32).to_le_bytes());
    stream.write_all(&hello).map_err(|e| e.to_string())?;
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    let mut status = [0u8; 1];
    stream.read_exact(&mut status).map_err(|e| format!("no NCCL id from rank 0: {e}"))?;
    if status[0] != ACCEPTED {
        return Err(format!("rank 0 refused rank {} of {}: its world size differs", world.rank, world.size));
    }
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(|e| format!("no NCCL id from rank 0: {e}"))?;
    let mut id = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut id).map_err(|e| format!("no NCCL id from rank 0: {e}"))?;
    Ok(id)
}

/// Connects to rank 0, retrying every 100 ms: the ranks start in any order.
fn connect(master: &Master, deadline: Instant) -> Result<TcpStream, String> {
    loop {
        let mut last = String::from("no address");
        match (master.addr.as_str(), master.port).to_socket_addrs() {
            Ok(addrs) => {
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                        Ok(stream) => return Ok(stream),
                        Err(e) => last = e.to_string(),
                    }
                }
            }
            Err(e) => last = format!("cannot resolve `{}`: {e}", master.addr),
        }
        if Instant::now() >= deadline {
            return Err(format!("rank 0 is not reachable: {last}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Launcher;

    fn world(rank: usize, size: usize) -> World {
        World { rank, size, local_rank: rank, launcher: Launcher::Torchrun }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(29_517)
    }

    fn master(port: u16) -> Master {
        Master { addr: "127.0.0.1".into(), port }
    }

    #[test]
    fn every_rank_receives_rank_0s_id_whatever_the_start_order() {
        let port = free_port();
        let id: Vec<u8> = (0..128).map(|i| i as u8).collect();
        // Ranks 1 and 2 start before rank 0 listens: they retry.
        let others: Vec<_> = (1..3)
            .map(|rank| {
                std::thread::spawn(move || {
                    share_id(&master(port), &world(rank, 3), &Ok(vec![]), Duration::from_secs(20))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let leader = share_id(&master(port), &world(0, 3), &Ok(id.clone()), Duration::from_secs(20));
        assert_eq!(leader.ok().as_ref(), Some(&id));
        for other in others {
            assert_eq!(other.join().ok().and_then(Result::ok).as_ref(), Some(&id));
        }
    }

    #[test]
    fn rank_0s_reason_reaches_the_others() {
        let port = free_port();
        let other =
            std::thread::spawn(move || share_id(&master(port), &world(1, 2), &Ok(vec![]), Duration::from_secs(20)));
        let reason = Err("libnccl.so.2 was not found".to_string());
        let leader = share_id(&master(port), &world(0, 2), &reason, Duration::from_secs(20));
        assert!(leader.is_err());
        let other = other.join().ok();
        let passed = matches!(&other, Some(Err(DistError::Rendezvous { message, .. }))
            if message == "rank 0 could not start NCCL: libnccl.so.2 was not found");
        assert!(passed, "{other:?}");
    }

    #[test]
    fn a_rank_of_another_world_size_is_refused_on_both_sides() {
        let port = free_port();
        let other =
            std::thread::spawn(move || share_id(&master(port), &world(1, 4), &Ok(vec![]), Duration::from_secs(20)));
        let leader = share_id(&master(port), &world(0, 2), &Ok(vec![7; 128]), Duration::from_secs(20));
        let other = other.join().ok();
        assert!(matches!(&leader, Err(DistError::Rendezvous { message, .. }) if message.contains("rank 1 of 4")));
        let refused = matches!(&other, Some(Err(DistError::Rendezvous { message, .. })) if message.contains("refused"));
        assert!(refused, "{other:?}");
    }

    #[test]
    fn a_missing_rank_or_leader_ends_in_a_timeout_naming_the_endpoint() {
        let port = free_port();
        let leader = share_id(&master(port), &world(0, 2), &Ok(vec![1; 128]), Duration::from_millis(300));
        assert!(
            matches!(&leader, Err(DistError::Rendezvous { message, .. }) if message.contains("1 rank(s) did not connect"))
        );
        let alone = share_id(&master(free_port()), &world(1, 2), &Ok(vec![]), Duration::from_millis(300));
        let text = alone.as_ref().err().map(DistError::render).unwrap_or_default();
        assert!(text.contains("trainc::dist::rendezvous") && text.contains("127.0.0.1:"), "{text}");
    }

    #[test]
    fn the_master_comes_from_both_variables() {
        let vars = |pairs: &'static [(&str, &str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let both = Master::from_vars(vars(&[("MASTER_ADDR", "node1"), ("MASTER_PORT", "29500")]));
        assert_eq!(both.ok(), Some(Master { addr: "node1".into(), port: 29500 }));
        let no_port = Master::from_vars(vars(&[("MASTER_ADDR", "node1")]));
        assert!(matches!(no_port, Err(DistError::NoMaster { var: "MASTER_PORT" })));
        let bad = Master::from_vars(vars(&[("MASTER_ADDR", "node1"), ("MASTER_PORT", "http")]));
        assert!(matches!(bad, Err(DistError::BadVar { var: "MASTER_PORT", .. })));
    }
}
