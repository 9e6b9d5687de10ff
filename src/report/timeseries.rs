//! `timeseries.csv`: at each sample time, one row per link direction, then
//! one row per MTA (its queue and the TCP segments its host retransmitted).

use std::io;
use std::path::Path;

use crate::experiment::RunOutcome;
use crate::net::DropReason;

/// The columns before the `drops_<reason>` ones.
const HEAD: [&str; 12] = [
    "time_s",
    "interval_s",
    "kind",
    "node",
    "peer",
    "queue_packets",
    "queue_bytes",
    "queue_messages",
    "utilisation",
    "packets",
    "bytes",
    "drops",
];

/// Writes the run's time series; with sampling off, the file holds the
/// header alone.
pub fn write_timeseries(run: &RunOutcome, path: &Path) -> io::Result<()> {
    let net = &run.world.net;
    let ts = &run.timeseries;
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
    header.extend(
        DropReason::ALL
            .iter()
            .map(|r| format!("drops_{}", r.as_str())),
    );
    header.push("tcp_retransmits".into());
    w.write_record(&header)?;
    let blank = |n: usize| std::iter::repeat_n(String::new(), n);
    let (mut links, mut mtas) = (ts.links.iter().peekable(), ts.mtas.iter().peekable());
    loop {
        let next_link = links.peek().map(|s| s.time);
        let next_mta = mtas.peek().map(|m| m.time);
        let Some(time) = next_link.into_iter().chain(next_mta).min() else {
            break;
        };
        while let Some(s) = links.next_if(|s| s.time == time) {
            let c = &net.channels()[s.channel];
            let mut row = vec![
                s.time.to_string(),
                s.interval.to_string(),
                "link".into(),
                net.node(c.from).name.clone(),
                net.node(c.to).name.clone(),
                s.queue_packets.to_string(),
                s.queue_bytes.to_string(),
                String::new(),
                format!("{:.6}", s.utilisation()),
                s.packets.to_string(),
                s.bytes.to_string(),
                s.drops.iter().sum::<u64>().to_string(),
            ];
            row.extend(s.drops.iter().map(u64::to_string));
            row.push(String::new());
            w.write_record(&row)?;
        }
        while let Some(m) = mtas.next_if(|m| m.time == time) {
            let mut row = vec![
                m.time.to_string(),
                m.interval.to_string(),
                "mta".into(),
                run.world.hosts()[m.host].name.clone(),
            ];
            row.extend(blank(3));
            row.push(m.queue.to_string());
            row.extend(blank(4 + DropReason::ALL.len()));
            row.push(m.retransmits.to_string());
            w.write_record(&row)?;
        }
    }
    w.flush()
}
