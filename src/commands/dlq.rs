//! `transload dlq …`: find, inspect and replay what failed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;
use transload::store::AnyStore;
use transload_core::bus::Stage;
use transload_core::ids::{PartnerId, TenantId};
use transload_core::store::{AuditEntry, DeadLetter, DeadLetterFilter, Redrive, Store, UnitOfWork};
use uuid::Uuid;

/// Prints the dead letters matching `filter`, newest first.
pub(crate) async fn list(store: &AnyStore, filter: &DeadLetterFilter) -> anyhow::Result<ExitCode> {
    let letters = store.dead_letters(filter).await?;
    if letters.is_empty() {
        println!("no dead letters");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<36}  {:<20}  {:<8}  {:<16}  {:>8}  reason",
        "id", "failed at", "stage", "partner", "attempts"
    );
    for letter in &letters {
        let failed_at = letter
            .failed_at
            .round(jiff::Unit::Second)
            .unwrap_or(letter.failed_at);
        let reason: String = letter.reason.chars().take(80).collect();
        println!(
            "{:<36}  {:<20}  {:<8}  {:<16}  {:>8}  {}{}",
            letter.id,
            failed_at.to_string(),
            letter.stage.name(),
            letter.partner.as_ref().map_or("-", PartnerId::as_str),
            letter.attempts,
            reason,
            if letter.redriven.is_some() {
                "  [redriven]"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one dead letter whole: reason, headers and the original bytes.
pub(crate) async fn show(store: &AnyStore, id: Uuid) -> anyhow::Result<ExitCode> {
    let Some(letter) = store.dead_letter(id).await? else {
        bail!("no dead letter {id}");
    };
    print!("{}", describe(&letter));
    Ok(ExitCode::SUCCESS)
}

/// Sends a dead letter through its stage again, optionally after editing its body.
pub(crate) async fn redrive(
    store: &AnyStore,
    id: Uuid,
    by: &str,
    edit: bool,
) -> anyhow::Result<ExitCode> {
    let Some(letter) = store.dead_letter(id).await? else {
        bail!("no dead letter {id}");
    };
    if let Some((at, who)) = &letter.redriven {
        bail!("dead letter {id} was redriven already, at {at} by {who}");
    }
    let edited_body = if edit {
        Some(edit_body(&letter.message.body)?)
    } else {
        None
    };
    let edited = edited_body.is_some();
    store.commit(redrive_unit(&letter, by, edited_body)).await?;
    println!(
        "dead letter {id} sent to the {} stage again{}",
        letter.stage.name(),
        if edited { " with the edited body" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Which dead letters `redrive-all` takes: the store's filter, and a text the reason
/// must contain.
#[derive(Debug, Clone)]
pub(crate) struct Matching {
    /// Stage, partner and how many.
    pub(crate) filter: DeadLetterFilter,
    /// Only letters whose reason contains this.
    pub(crate) reason_contains: Option<String>,
}

/// Sends every dead letter `matching` through its stage again, oldest first, each in a
/// commit of its own with its audit entry; with `send` false, only lists them. Fails
/// (after trying every one) when one could not be sent.
pub(crate) async fn redrive_all(
    store: &AnyStore,
    matching: &Matching,
    by: &str,
    send: bool,
) -> anyhow::Result<ExitCode> {
    let mut letters = store.dead_letters(&matching.filter).await?;
    if let Some(text) = &matching.reason_contains {
        letters.retain(|letter| letter.reason.contains(text.as_str()));
    }
    // Listed newest first; sent in the order they failed.
    letters.reverse();
    if letters.is_empty() {
        println!("no dead letters match");
        return Ok(ExitCode::SUCCESS);
    }
    if !send {
        for letter in &letters {
            println!(
                "would redrive {}  {:<8}  {:<16}  {}",
                letter.id,
                letter.stage.name(),
                letter.partner.as_ref().map_or("-", PartnerId::as_str),
                letter.reason.chars().take(80).collect::<String>()
            );
        }
        println!(
            "{} dead letters match; nothing was sent (add --yes to send them)",
            letters.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (mut sent, mut failed) = (0_usize, 0_usize);
    for letter in &letters {
        match store.commit(redrive_unit(letter, by, None)).await {
            Ok(_) => sent += 1,
            Err(error) => {
                failed += 1;
                eprintln!("dead letter {}: not sent: {error}", letter.id);
            }
        }
    }
    println!("{sent} dead letters sent through their stages again");
    if failed > 0 {
        bail!(
            "{failed} of {} dead letters could not be sent",
            letters.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The commit that sends `letter` through its stage again (with `edited_body`, if
/// any), with its audit entry when the tenant is known.
fn redrive_unit(letter: &DeadLetter, by: &str, edited_body: Option<Vec<u8>>) -> UnitOfWork {
    let audit = letter.tenant.clone().map(|tenant: TenantId| AuditEntry {
        tenant,
        actor: format!("operator:{by}"),
        action: "redrive".to_owned(),
        subject: letter.id.to_string(),
        details: serde_json::json!({
            "stage": letter.stage.name(),
            "reason": letter.reason,
            "edited": edited_body.is_some(),
        }),
        at: Timestamp::now(),
    });
    UnitOfWork {
        redrives: vec![Redrive {
            dead_letter_id: letter.id,
            by: by.to_owned(),
            edited_body,
        }],
        audit: audit.into_iter().collect(),
        ..UnitOfWork::default()
    }
}

/// Opens `body` in `$VISUAL`/`$EDITOR` (vi by default) and returns what was saved.
fn edit_body(body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("transload-redrive-{}.txt", Uuid::now_v7()));
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(body))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    let edited = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    if !status.success() {
        bail!("the editor {editor:?} failed ({status}); nothing was redriven");
    }
    Ok(edited)
}

fn describe(letter: &DeadLetter) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "id:          {}", letter.id);
    let _ = writeln!(text, "stage:       {}", letter.stage.name());
    let _ = writeln!(
        text,
        "tenant:      {}",
        letter.tenant.as_ref().map_or("-", TenantId::as_str)
    );
    let _ = writeln!(
        text,
        "partner:     {}",
        letter.partner.as_ref().map_or("-", PartnerId::as_str)
    );
    let _ = writeln!(text, "failed at:   {}", letter.failed_at);
    let _ = writeln!(text, "attempts:    {}", letter.attempts);
    let _ = writeln!(text, "reason:      {}", letter.reason);
    match &letter.redriven {
        Some((at, by)) => {
            let _ = writeln!(text, "redriven:    {at} by {by}");
        }
        None => {
            let _ = writeln!(text, "redriven:    no");
        }
    }
    let _ = writeln!(text, "message id:  {}", letter.message.id);
    let _ = writeln!(text, "routing key: {}", letter.message.routing_key);
    for (name, value) in &letter.message.headers {
        let _ = writeln!(text, "header:      {name}: {value}");
    }
    let body = &letter.message.body;
    match std::str::from_utf8(body) {
        Ok(utf8) => {
            let _ = writeln!(text, "body ({} bytes):\n{utf8}", body.len());
        }
        Err(_) => {
            let _ = writeln!(text, "body ({} bytes, not UTF-8, hex):", body.len());
            for chunk in body.chunks(32) {
                let line: String = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
                let _ = writeln!(text, "{line}");
            }
        }
    }
    text
}

/// Parses `--stage`.
pub(crate) fn parse_stage(name: &str) -> Result<Stage, String> {
    Stage::from_name(name)
        .ok_or_else(|| format!("unknown stage {name:?}: inbound, events or outbound"))
}
