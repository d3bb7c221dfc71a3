//! The X12 carriers' side of the demo: they read the 204s the hub writes to their
//! drop folder's `outbound/` and answer with 997, 990, 214 and 210 files.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::cast::Carrier;
use super::{Demo, DemoLoad, Poster, declines};

impl Demo {
    /// Reads the 204s the hub wrote for the X12 carriers and answers each: a 997, and for
    /// an original tender a 990 (declined when the demo says so).
    pub(super) fn answer_x12_tenders(&mut self, loads: &[DemoLoad]) -> anyhow::Result<()> {
        let carriers = self.cast.x12.clone();
        let mut files: Vec<(String, std::time::SystemTime, PathBuf)> = self
            .tenders_204()
            .into_iter()
            .filter(|(_, _, path)| !self.seen_204.contains(path))
            .collect();
        files.sort_by_key(|(_, modified, _)| *modified);
        for carrier in &carriers {
            for (_, _, path) in files.iter().filter(|(id, _, _)| id == carrier.id.as_str()) {
                let path = path.clone();
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Some(tender) = Tender204::parse(&text) else {
                    continue;
                };
                self.seen_204.insert(path);
                let ours = loads.iter().find(|l| l.load == tender.load);
                let who = Carrier::Files(carrier.clone());
                self.x12_from(
                    &who,
                    "FA",
                    &[vec![
                        format!("AK1*SM*{}", tender.gs06),
                        format!("AK2*204*{}", tender.st02),
                        "AK5*A".to_owned(),
                        "AK9*A*1*1*1".to_owned(),
                    ]],
                )?;
                let Some(ours) = ours else { continue };
                if tender.purpose != "00" {
                    continue;
                }
                let accept = !declines(ours, &tender.tender_id);
                let scac = who.scac();
                let today = TimeZone::UTC
                    .to_datetime(Timestamp::now())
                    .strftime("%Y%m%d")
                    .to_string();
                let mut set = vec![
                    format!(
                        "B1*{scac}*{}*{today}*{}",
                        tender.load,
                        if accept { "A" } else { "D" }
                    ),
                    format!("N9*TN*{}", tender.tender_id),
                ];
                if !accept {
                    set.push("K1*C*NO EQUIPMENT AVAILABLE".to_owned());
                }
                self.x12_from(&who, "GF", &[set])?;
                self.tenders_answered += 1;
                self.say(format!(
                    "{} (X12): 997 for tender {}, 990 {}",
                    carrier.id,
                    tender.tender_id,
                    if accept {
                        "accept"
                    } else {
                        "DECLINE (no equipment): the waterfall moves on"
                    }
                ));
            }
        }
        Ok(())
    }

    /// `(carrier, modified, path)` of every 204 in the X12 carriers' outbound folders.
    pub(super) fn tenders_204(&self) -> Vec<(String, std::time::SystemTime, PathBuf)> {
        let mut found = Vec::new();
        for carrier in &self.cast.x12 {
            let Some(drop) = &carrier.file_drop else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(drop.dir.join("outbound")) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                if entry.file_name().to_string_lossy().starts_with("204-") {
                    let modified = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    found.push((carrier.id.to_string(), modified, entry.path()));
                }
            }
        }
        found
    }

    /// A 214 with one AT7 at `stop`.
    pub(super) fn status(
        &mut self,
        carrier: &Carrier,
        load: &str,
        stop: u16,
        code: &str,
        date: &str,
        time: &str,
    ) -> anyhow::Result<()> {
        let set = vec![
            format!("B10*PRO{}*{load}*{}", load.replace('-', ""), carrier.scac()),
            format!("LX*{stop}"),
            format!("AT7*{code}*NS***{date}*{time}*LT"),
        ];
        self.x12_from(carrier, "QM", &[set])
    }

    /// A 210 for `load` with `(code, cents)` lines.
    pub(super) fn invoice(
        &mut self,
        carrier: &Carrier,
        load: &str,
        number: &str,
        lines: &[(String, i64)],
    ) -> anyhow::Result<()> {
        let today = TimeZone::UTC
            .to_datetime(Timestamp::now())
            .strftime("%Y%m%d")
            .to_string();
        let total: i64 = lines.iter().map(|(_, cents)| cents).sum();
        let mut set = vec![
            format!(
                "B3**{number}*{load}*PP*L*{today}*{total}****{}",
                carrier.scac()
            ),
            "C3*USD".to_owned(),
        ];
        for (n, (code, cents)) in lines.iter().enumerate() {
            set.push(format!("LX*{}", n + 1));
            set.push(format!("L1*{}***{cents}****{code}", n + 1));
        }
        self.x12_from(carrier, "IM", &[set])
    }

    /// An X12 interchange from `carrier`: a file in its drop folder, or (a REST carrier)
    /// POSTed to the intake in the background.
    pub(super) fn x12_from(
        &mut self,
        carrier: &Carrier,
        functional_id: &str,
        sets: &[Vec<String>],
    ) -> anyhow::Result<()> {
        let profile = carrier.profile();
        let x12 = profile
            .x12
            .as_ref()
            .with_context(|| format!("partner {} has no [x12]", profile.id))?;
        self.isa += 1;
        let text = interchange(
            (&x12.isa_qualifier, &x12.isa_id, &x12.gs_id),
            (&x12.our_isa_qualifier, &x12.our_isa_id, &x12.our_gs_id),
            self.isa,
            functional_id,
            sets,
        )?;
        match carrier {
            Carrier::Files(profile) => {
                let dir = &profile
                    .file_drop
                    .as_ref()
                    .context("an X12 carrier without [file_drop]")?
                    .dir;
                write_atomically(dir, &format!("{functional_id}-{}.edi", self.isa), &text)
            }
            Carrier::Rest(profile) => {
                let profile = profile.clone();
                let http = self.http.clone();
                let base = self.base.clone();
                let bar = self.bar.clone();
                // Posted in order: the demo waits for the hub's decisions between steps.
                let demo = Poster { http, base, bar };
                tokio::spawn(async move { demo.post_x12(&profile, text).await });
                Ok(())
            }
        }
    }
}

/// An X12 004010 interchange of `sets` (segments without ST/SE) from `sender` to
/// `receiver` (ISA qualifier, ISA id, GS id).
fn interchange(
    sender: (&str, &str, &str),
    receiver: (&str, &str, &str),
    control: u32,
    functional_id: &str,
    sets: &[Vec<String>],
) -> anyhow::Result<String> {
    let now = TimeZone::UTC.to_datetime(Timestamp::now());
    let date = now.strftime("%y%m%d").to_string();
    let gs_date = now.strftime("%Y%m%d").to_string();
    let time = now.strftime("%H%M").to_string();
    let set_id = match functional_id {
        "FA" => "997",
        "GF" => "990",
        "QM" => "214",
        "IM" => "210",
        other => bail!("functional id {other}"),
    };
    let mut text = format!(
        "ISA*00*          *00*          *{}*{:<15}*{}*{:<15}*{date}*{time}*U*00401*{control:09}*0*P*>~\n\
         GS*{functional_id}*{}*{}*{gs_date}*{time}*{control}*X*004010~\n",
        sender.0, sender.1, receiver.0, receiver.1, sender.2, receiver.2
    );
    for (n, segments) in sets.iter().enumerate() {
        let number = format!("{:04}", n + 1);
        text.push_str(&format!("ST*{set_id}*{number}~\n"));
        for segment in segments {
            text.push_str(segment);
            text.push_str("~\n");
        }
        text.push_str(&format!("SE*{}*{number}~\n", segments.len() + 2));
    }
    text.push_str(&format!(
        "GE*{}*{control}~\nIEA*1*{control:09}~\n",
        sets.len()
    ));
    Ok(text)
}

/// Writes `name` in `dir` whole (a `.part` renamed), as a carrier's upload would.
fn write_atomically(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let part = dir.join(format!("{name}.part"));
    std::fs::write(&part, text).with_context(|| format!("writing {}", part.display()))?;
    std::fs::rename(&part, dir.join(name))?;
    Ok(())
}

/// What the demo reads back from a 204 the hub sent.
#[derive(Debug)]
struct Tender204 {
    gs06: String,
    st02: String,
    load: String,
    tender_id: String,
    purpose: String,
}

impl Tender204 {
    fn parse(text: &str) -> Option<Tender204> {
        let segments: Vec<Vec<&str>> = text
            .split('~')
            .map(|s| s.trim().split('*').collect())
            .collect();
        let element = |tag: &str, n: usize| {
            segments
                .iter()
                .find(|s| s.first() == Some(&tag))
                .and_then(|s| s.get(n))
                .map(|e| (*e).to_owned())
        };
        let tender_id = segments
            .iter()
            .find(|s| s.first() == Some(&"L11") && s.get(2) == Some(&"TN"))
            .and_then(|s| s.get(1))
            .map(|e| (*e).to_owned())?;
        Some(Tender204 {
            gs06: element("GS", 6)?,
            st02: element("ST", 2)?,
            load: element("B2", 4)?,
            tender_id,
            purpose: element("B2A", 1)?,
        })
    }
}
