//! The one place Cargo features turn into code. Call sites never mention a feature: each optional
//! part is reached through a name exported here in every build, the real thing or a stub.
//! Recording and search are here; redaction and translation, larger, in `features/pii.rs` and
//! `features/translate.rs`. (ui is still empty; it arrives with its issue.)

#[cfg(feature = "recording")]
pub(crate) use crate::recording::{Capture, DebugView, Recorder, RequestSink, WsTap};
#[cfg(not(feature = "recording"))]
pub(crate) use recording_disabled::{Capture, DebugView, Recorder, RequestSink, WsTap};

/// The slim build's recorder: never captures. `Capture`, `RequestSink`, `WsTap` and `DebugView`
/// are uninhabited, so the code that would use them is provably unreachable and compiles to nothing.
#[cfg(not(feature = "recording"))]
mod recording_disabled {
    use crate::config::Config;
    use crate::error::StartupError;
    use crate::providers::Provider;
    use crate::proxy::ctx::{End, RequestCtx};
    use bytes::Bytes;
    use http::HeaderMap;
    use std::time::Instant;

    pub(crate) struct Recorder;
    pub(crate) enum Capture {}
    #[derive(Clone)]
    pub(crate) enum RequestSink {}
    pub(crate) enum WsTap {}
    /// No debug stream view without the recording parsers (the request log line still prints).
    #[derive(Clone)]
    pub(crate) enum DebugView {}

    impl Recorder {
        pub fn start(
            _: &Config,
            _: Option<std::sync::Arc<super::pii::Redactor>>,
        ) -> Result<Self, StartupError> {
            Ok(Self)
        }
        pub fn begin(&self, _: &HeaderMap, _: Instant) -> Option<Capture> {
            None
        }
        pub fn finish(&self, capture: Capture, _: &RequestCtx, _: &End) {
            match capture {}
        }
        pub fn ws_open(
            &self,
            _: u64,
            _: Provider,
            _: &str,
            _: &HeaderMap,
            _: &HeaderMap,
        ) -> Option<WsTap> {
            None
        }
        pub fn shutdown(&self) {}
    }

    impl WsTap {
        pub fn client_bytes(&self, _: &Bytes) {
            match *self {}
        }
        pub fn server_bytes(&self, _: &Bytes) {
            match *self {}
        }
        pub fn close(&self, _: Option<String>) {
            match *self {}
        }
    }

    impl Capture {
        pub fn request_sink(&self) -> RequestSink {
            match *self {}
        }
        pub fn response_head(&mut self, _: u16, _: &HeaderMap) {
            match *self {}
        }
        pub fn response_chunk(&mut self, _: &Bytes) {
            match *self {}
        }
        pub fn provider_answer_from(&mut self, _: &'static str) {
            match *self {}
        }
        pub fn provider_chunk(&mut self, _: &Bytes) {
            match *self {}
        }
    }

    impl RequestSink {
        pub fn push(&self, _: &Bytes) {
            match *self {}
        }
        pub fn cut(&self) {
            match *self {}
        }
    }

    impl DebugView {
        pub fn begin(
            _: bool,
            _: u64,
            _: Provider,
            _: &http::request::Parts,
            _: Option<&std::sync::Arc<super::pii::Redactor>>,
        ) -> Option<Self> {
            None
        }
        pub fn request_chunk(&self, _: &Bytes) {
            match *self {}
        }
        pub fn request_end(&self) {
            match *self {}
        }
        pub fn response_head(&self, _: u16, _: &HeaderMap) {
            match *self {}
        }
        pub fn response_chunk(&self, _: &Bytes) {
            match *self {}
        }
        pub fn finish(&self, _: &End) {
            match *self {}
        }
    }
}

/// The session search API (`GET /sessions`, `/sessions/{id}`, `/stats`): the real one, or in the
/// slim build an answer that says why there is none.
pub(crate) mod search {
    #[cfg(feature = "recording")]
    pub(crate) use crate::recording::search::handle;

    #[cfg(not(feature = "recording"))]
    pub(crate) async fn handle(
        _: &crate::state::AppState,
        _: &http::Uri,
    ) -> Result<http::Response<crate::body::Body>, crate::error::ProxyError> {
        Err(crate::error::ProxyError::FeatureDisabled(
            "this build has no `recording` feature, so no session search".into(),
        ))
    }
}

/// PII and secret redaction: `features/pii.rs`.
pub mod pii;

/// Translation between dialects: `features/translate.rs`.
pub(crate) mod translate;

/// The features compiled into this build, for `--version` and startup logs.
pub fn compiled() -> Vec<&'static str> {
    [
        ("recording", cfg!(feature = "recording")),
        ("pii", pii::COMPILED),
        ("ui", cfg!(feature = "ui")),
        ("translate", translate::COMPILED),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// Warns once for each config section the user set whose feature this build lacks.
pub fn warn_compiled_out(explicit_sections: &[String]) {
    let owners = [
        (
            "session_recording",
            "recording",
            cfg!(feature = "recording"),
        ),
        ("session_recording.pii", "pii", pii::COMPILED),
        ("ui", "ui", cfg!(feature = "ui")),
    ];
    for (section, feature, compiled) in owners {
        if !compiled && explicit_sections.iter().any(|s| s == section) {
            tracing::warn!(
                "[{section}] is set, but this build has no `{feature}` feature: ignoring it"
            );
        }
    }
}

/// `lunaroute-server sessions export ID`: prints the session's requests and responses as JSON
/// lines (format in `recording::export`), from `session_recording.jsonl.directory`.
pub fn export_session(
    config: &crate::config::Config,
    session_id: &str,
    out: &mut dyn std::io::Write,
) -> Result<usize, crate::error::StartupError> {
    let doing = format!("exporting session {session_id}");
    #[cfg(feature = "recording")]
    {
        let dir = crate::config::expand_home(&config.session_recording.jsonl.directory);
        crate::recording::export::export_session(&dir, session_id, out)
            .map_err(|e| crate::error::StartupError::new(doing, e))
    }
    #[cfg(not(feature = "recording"))]
    {
        let _ = (config, out);
        Err(crate::error::StartupError::new(
            doing,
            "this build has no `recording` feature",
        ))
    }
}
