//! A TensorBoard event file writer: TFRecord framing (length, masked CRC-32C) around hand-encoded
//! `Event` protobufs carrying scalar summaries. Small enough not to need a protobuf dependency.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct EventWriter {
    out: BufWriter<File>,
}

fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(tag: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    pub fn create(dir: &Path) -> std::io::Result<EventWriter> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "trainc".into());
        let name = format!("events.out.tfevents.{}.{host}", now() as u64);
        let mut w = EventWriter { out: BufWriter::new(File::create(dir.join(name))?) };
        // Event { wall_time = 1; file_version = 3 }
        let mut ev = vec![0x09];
        ev.extend_from_slice(&now().to_le_bytes());
        bytes_field(0x1a, b"brain.Event:2", &mut ev);
        w.record(&ev)?;
        Ok(w)
    }

    fn record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes())?;
        self.out.write_all(data)?;
        self.out.write_all(&masked_crc(data).to_le_bytes())
    }

    /// Logs scalars at a step: Event { wall_time = 1; step = 2; summary = 5 { value = 1 { tag = 1; simple_value = 2 } } }.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> std::io::Result<()> {
        let mut summary = Vec::new();
        for (tag, v) in values {
            let mut value = Vec::new();
            bytes_field(0x0a, tag.as_bytes(), &mut value);
            value.push(0x15);
            value.extend_from_slice(&(*v as f32).to_le_bytes());
            bytes_field(0x0a, &value, &mut summary);
        }
        let mut ev = vec![0x09];
        ev.extend_from_slice(&now().to_le_bytes());
        ev.push(0x10);
        varint(step, &mut ev);
        bytes_field(0x2a, &summary, &mut ev);
        self.record(&ev)?;
        self.out.flush()
    }
}
