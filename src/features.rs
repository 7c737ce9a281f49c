//! The one place Cargo features turn into code. Call sites never mention a feature: each optional
//! part is reached through a name exported here in every build, the real thing or a stub.
//! (The features are still empty: recording, pii, ui and translate arrive with their issues.)

/// The features compiled into this build, for `--version` and startup logs.
pub fn compiled() -> Vec<&'static str> {
    [
        ("recording", cfg!(feature = "recording")),
        ("pii", cfg!(feature = "pii")),
        ("ui", cfg!(feature = "ui")),
        ("translate", cfg!(feature = "translate")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// Warns once for each config section the user set whose feature this build lacks.
pub fn warn_compiled_out(explicit_sections: &[String]) {
    let owners = [("session_recording", "recording", cfg!(feature = "recording")), ("ui", "ui", cfg!(feature = "ui"))];
    for (section, feature, compiled) in owners {
        if !compiled && explicit_sections.iter().any(|s| s == section) {
            tracing::warn!("[{section}] is set, but this build has no `{feature}` feature: ignoring it");
        }
    }
}
