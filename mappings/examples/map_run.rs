//! Runs a mapping file on an input file and prints the result (what `transload map run`
//! does, without the rest of the binary): `cargo run -p transload-mappings --example
//! map_run -- MAPPING INPUT [PARTNER]`.

use std::path::PathBuf;
use std::process::ExitCode;

use transload_mappings::load_file;
use transload_mappings::testing::{RunResult, TEST_NOW, read_json_file, run_file};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (Some(mapping), Some(input)) = (args.first(), args.get(1)) else {
        eprintln!("usage: map_run MAPPING INPUT [PARTNER]");
        return ExitCode::from(2);
    };
    let mapping = match load_file(mapping) {
        Ok(mapping) => mapping,
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            return ExitCode::FAILURE;
        }
    };
    let partner = match args.get(2).map(|path| read_json_file(path)) {
        Some(Ok(json)) => match transload_mappings::Partner::new(json) {
            Ok(partner) => partner,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        },
        Some(Err(error)) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
        None => transload_mappings::Partner::empty(),
    };
    match run_file(&mapping, input, &partner, Some(TEST_NOW)) {
        Ok(RunResult::Events(events)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&events).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(RunResult::Document(document)) => {
            print!("{}", document.to_text());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
