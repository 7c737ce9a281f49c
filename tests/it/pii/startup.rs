//! `[session_recording.pii]` at startup, through the real binary: a custom pattern that does not
//! compile stops it with exit code 2 naming the pattern, and `--print-config` masks `hmac_secret`.

use crate::support::process::{run, server, TempHome};

#[test]
fn a_bad_custom_pattern_exits_2_naming_it() {
    let home = TempHome::new();
    let config = home.write(
        "config.toml",
        r#"
[session_recording.pii]
enabled = true
custom_patterns = [{ name = "ticket_ref", pattern = "TICKET-([0-9]+" }]
"#,
    );
    let mut cmd = server(&home);
    cmd.args(["--port", "0", "--config"]).arg(&config);
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("ticket_ref"), "{stderr}");
    assert!(stderr.contains("session_recording.pii"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn print_config_masks_the_hmac_secret() {
    let home = TempHome::new();
    let mut cmd = server(&home);
    cmd.arg("--print-config")
        .env("LUNAROUTE_PII_HMAC_SECRET", "pii-key-that-must-not-print")
        .env("LUNAROUTE_ENABLE_PII", "yes")
        .env("LUNAROUTE_PII_REDACTION_MODE", "tokenize");
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, Some(0), "{stderr}");
    let config: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let pii = &config["session_recording"]["pii"];
    assert_eq!(pii["enabled"], true);
    assert_eq!(pii["redaction_mode"], "tokenize");
    let shown = pii["hmac_secret"].as_str().unwrap();
    assert!(shown.starts_with("***#"), "{shown}");
    assert!(!stdout.contains("must-not-print"), "{stdout}");
}
