//! A plugin that misbehaves on purpose, for picday's failure tests. No dependencies: the
//! tests build it with rustc alone. What it does wrong depends on its file name:
//! `picday-plugin-oldproto` claims a future protocol, `-crashy` dies during `put`, `-sleepy`
//! never answers `put`, `-babble` answers `put` with something that is not JSON.

use std::io::{BufRead, Write};

fn main() {
    let exe = std::env::args().next().unwrap_or_default();
    let file = std::path::Path::new(&exe)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let name = file.trim_start_matches("picday-plugin-").to_string();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let id: String = line
            .split("\"id\":")
            .nth(1)
            .unwrap_or("0")
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let op = line
            .split("\"op\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        let protocol = if name == "oldproto" { 99 } else { 1 };
        let reply = match op {
            "hello" => format!(
                r#"{{"id":{id},"ok":{{"protocol":{protocol},"name":"{name}","version":"0.0.1","summary":"misbehaves","capabilities":{{"read_back":false,"delete":false,"resolves_people":false}},"photo_transfer":"base64","options":[]}}}}"#
            ),
            "describe" => format!(
                r#"{{"id":{id},"ok":{{"profile":{{"width":64,"height":64,"format":"jpeg","quality":80}},"key":"{{mail}}","summary":"misbehaving","max_concurrency":1}}}}"#
            ),
            "check" => format!(r#"{{"id":{id},"ok":{{"ok":["fine"]}}}}"#),
            "put" if name == "crashy" => {
                eprintln!("about to fail");
                eprintln!("panic: disk on fire");
                std::process::exit(3);
            }
            "put" if name == "sleepy" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            "put" if name == "babble" => "this is not json".to_string(),
            _ => format!(r#"{{"id":{id},"ok":{{"detail":"ok"}}}}"#),
        };
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}
