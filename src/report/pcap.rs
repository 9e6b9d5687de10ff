//! `capture.pcap`: every packet as it leaves its host (or only at the
//! points [`super::CapturePoints`] chose), in the classic pcap format that
//! Wireshark and tshark open, with the raw-IPv4 link type and nanosecond
//! timestamps. Written through the pcap-file crate.
//!
//! Timestamps are the scenario's calendar start plus simulated time; a
//! start before 1970 (the ARPANET scenarios) is shown from 1970-01-01,
//! because pcap cannot hold earlier times.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use crate::net::Packet;
use crate::service::PacketTap;
use crate::sim::SimTime;

/// An open capture file.
pub struct Capture {
    writer: PcapWriter<BufWriter<File>>,
    epoch: Duration,
    error: Option<String>,
    packets: u64,
}

impl Capture {
    /// Creates `path`; `start_unix` is the calendar time of simulated zero.
    pub fn create(path: &Path, start_unix: i64) -> io::Result<Capture> {
        let header = PcapHeader {
            datalink: DataLink::IPV4,
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            ..PcapHeader::default()
        };
        let file = BufWriter::new(File::create(path)?);
        let writer = PcapWriter::with_header(file, header).map_err(io::Error::other)?;
        let epoch = Duration::from_secs(start_unix.max(0) as u64);
        Ok(Capture {
            writer,
            epoch,
            error: None,
            packets: 0,
        })
    }

    /// Records one packet sent at simulated time `t`.
    pub fn record(&mut self, t: SimTime, packet: &Packet) {
        if self.error.is_some() {
            return;
        }
        let data = packet.emit();
        let ts = self.epoch + Duration::from_nanos(t.as_nanos());
        let p = PcapPacket::new(ts, data.len() as u32, &data);
        match self.writer.write_packet(&p) {
            Ok(_) => self.packets += 1,
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Flushes the file; reports the first write error, if any.
    pub fn finish(self) -> io::Result<u64> {
        if let Some(e) = self.error {
            return Err(io::Error::other(e));
        }
        let mut inner = self.writer.into_writer();
        io::Write::flush(&mut inner)?;
        Ok(self.packets)
    }

    /// A tap for [`crate::service::World::tap`] that records into a shared
    /// capture; keep the other handle to call [`Capture::finish`].
    pub fn tap(shared: &Rc<RefCell<Option<Capture>>>) -> PacketTap {
        let shared = Rc::clone(shared);
        Box::new(move |t, p| {
            if let Some(c) = shared.borrow_mut().as_mut() {
                c.record(t, p);
            }
        })
    }
}
