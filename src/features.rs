//! The one place Cargo features turn into code. Call sites never mention a feature: each optional
//! part is reached through a name exported here in every build, the real thing or a stub.
//! (ui is still empty; it arrives with its issue.)

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

/// PII and secret redaction (`[session_recording.pii]`): the real detector (`crate::pii`), or in a
/// build without `pii` a stub that never redacts (`warn_compiled_out` tells the user once).
/// The redactor is built once at startup (`build`) and shared by the recorder's writer thread, the
/// debug stream view and, with `apply_to_upstream`, the request phase.
pub mod pii {
    use crate::config::{expand_home, Config};
    use crate::error::StartupError;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[cfg(feature = "pii")]
    pub(crate) use crate::pii::{Counts, Redactor, Scope};
    #[cfg(not(feature = "pii"))]
    pub(crate) use disabled::{Counts, Redactor, Scope};

    /// The redactor for this config, or `None` when there is nothing to redact. A custom pattern
    /// that does not compile (or an unusable key) stops startup naming it.
    pub(crate) fn build(config: &Config) -> Result<Option<Arc<Redactor>>, StartupError> {
        let vault = vault_path(config);
        Redactor::from_config(&config.session_recording.pii, &home(), Some(&vault))
            .map(|r| r.map(Arc::new))
            .map_err(|why| StartupError::new("reading [session_recording.pii]", why))
    }

    /// The tokenize vault: beside the SQLite database.
    pub(crate) fn vault_path(config: &Config) -> PathBuf {
        let db = expand_home(&config.session_recording.sqlite.path);
        db.parent()
            .map(|dir| dir.join("pii.vault"))
            .unwrap_or_else(|| PathBuf::from("pii.vault"))
    }

    /// Where `~/.lunaroute/pii.key` lives.
    fn home() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// `lunaroute-server pii reveal TOKEN`: the original value, or why not.
    pub fn reveal(config: &Config, token: &str) -> Result<String, String> {
        #[cfg(feature = "pii")]
        {
            crate::pii::reveal(
                &config.session_recording.pii,
                &home(),
                &vault_path(config),
                token,
            )
        }
        #[cfg(not(feature = "pii"))]
        {
            let _ = (config, token);
            Err("this build has no `pii` feature, so no tokens to reveal".into())
        }
    }

    /// The build without `pii`: `Redactor` is uninhabited (`from_config` always gives `None`), so
    /// every call on it is provably unreachable.
    #[cfg(not(feature = "pii"))]
    #[allow(dead_code)] // a build without `recording` either calls only part of it
    mod disabled {
        use crate::config::PiiConfig;
        use std::borrow::Cow;
        use std::path::Path;

        pub(crate) enum Redactor {}

        /// Never counts anything (not a unit struct: call sites build it with `default()`).
        #[derive(Debug, Default, Clone)]
        pub(crate) struct Counts {
            _none: (),
        }

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Scope {
            Recording,
            Upstream,
        }

        impl Counts {
            pub fn is_empty(&self) -> bool {
                true
            }
            pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
                std::iter::empty()
            }
        }

        impl Redactor {
            pub fn from_config(
                _: &PiiConfig,
                _: &Path,
                _: Option<&Path>,
            ) -> Result<Option<Redactor>, String> {
                Ok(None)
            }
            pub fn text<'a>(&self, _: &'a str, _: &mut Counts) -> Cow<'a, str> {
                match *self {}
            }
            pub fn json_body(&self, _: &[u8], _: Scope, _: &mut Counts) -> Option<Vec<u8>> {
                match *self {}
            }
            pub fn sse_body(&self, _: &[u8], _: &mut Counts) -> Option<Vec<u8>> {
                match *self {}
            }
            pub fn value(&self, _: &mut serde_json::Value, _: &mut Counts) {
                match *self {}
            }
            pub fn tool_input(&self, _: &mut serde_json::Value, _: &mut Counts) {
                match *self {}
            }
        }
    }
}

/// Translation between dialects (`crate::translate`), for routed requests whose provider speaks
/// another API than the client. The proxy only sees these names: `Translation` (one translated
/// request and what its answer needs), `StreamTranslator`, `request`, `estimate_input_tokens`.
/// Without the feature `request` says so, and the uninhabited types make the rest unreachable.
pub(crate) mod translate {
    use crate::config::MaxTokensField;
    use crate::error::ProxyError;

    pub(crate) const COMPILED: bool = cfg!(feature = "translate");

    #[cfg(not(feature = "translate"))]
    pub(crate) use disabled::{estimate_input_tokens, request, StreamTranslator, Translation};
    #[cfg(feature = "translate")]
    pub(crate) use enabled::{estimate_input_tokens, request, StreamTranslator, Translation};

    /// Why a request could not be translated.
    #[derive(Debug)]
    #[cfg_attr(not(feature = "translate"), allow(dead_code))]
    pub(crate) enum Failure {
        /// Not valid JSON, or not the shape the client's API has.
        Invalid(String),
        /// A field the provider's API cannot express without changing its meaning.
        Unmappable { field: String, reason: String },
        /// This client/provider pair is not translated (or the build has no translation).
        Unsupported(String),
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::Invalid(why) | Self::Unsupported(why) => f.write_str(why),
                Self::Unmappable { field, reason } => write!(f, "`{field}`: {reason}"),
            }
        }
    }

    impl From<Failure> for ProxyError {
        fn from(f: Failure) -> Self {
            match f {
                Failure::Invalid(why) => ProxyError::BadRequest(why),
                Failure::Unmappable { field, reason } => ProxyError::Unmappable { field, reason },
                Failure::Unsupported(why) => ProxyError::NotTranslated(why),
            }
        }
    }

    /// The provider side of a translated request.
    #[cfg_attr(not(feature = "translate"), allow(dead_code))]
    pub(crate) struct Target<'a> {
        pub model: &'a str,
        pub max_tokens_field: MaxTokensField,
        pub default_max_tokens: Option<u64>,
    }

    /// A provider's non-2xx answer in the client's error shape.
    pub(crate) struct ErrorAnswer {
        pub status: u16,
        pub retry_after: Option<String>,
        pub body: Vec<u8>,
    }

    #[cfg(feature = "translate")]
    mod enabled {
        use super::{ErrorAnswer, Failure, Target};
        use crate::config::MaxTokensField;
        use crate::routing::Wire;
        use crate::translate as t;

        fn dialect(wire: Wire) -> t::Dialect {
            match wire {
                Wire::Anthropic => t::Dialect::Anthropic,
                Wire::Chat => t::Dialect::Chat,
                Wire::Responses => t::Dialect::Responses,
            }
        }

        fn failure(e: t::TranslateError) -> Failure {
            match e {
                t::TranslateError::Invalid(why) => Failure::Invalid(why),
                t::TranslateError::Unmappable { field, reason } => {
                    Failure::Unmappable { field, reason }
                }
                t::TranslateError::Unsupported(why) => Failure::Unsupported(why),
            }
        }

        pub(crate) struct Translation {
            body: bytes::Bytes,
            path: &'static str,
            client: t::Dialect,
            provider: t::Dialect,
            view: t::ClientView,
        }

        pub(crate) fn request(
            client: Wire,
            provider: Wire,
            body: &[u8],
            target: &Target,
        ) -> Result<Translation, Failure> {
            let (client, provider) = (dialect(client), dialect(provider));
            let max_tokens_field = match target.max_tokens_field {
                MaxTokensField::MaxCompletionTokens => t::MaxTokensField::MaxCompletionTokens,
                MaxTokensField::MaxTokens => t::MaxTokensField::MaxTokens,
            };
            let target = t::Target {
                model: target.model,
                max_tokens_field,
                default_max_tokens: target.default_max_tokens,
            };
            let done = t::request(client, provider, body, &target).map_err(failure)?;
            Ok(Translation {
                body: done.body.into(),
                path: done.path,
                client,
                provider,
                view: done.view,
            })
        }

        pub(crate) fn estimate_input_tokens(anthropic_request: &[u8]) -> Result<u64, Failure> {
            t::estimate_input_tokens(anthropic_request).map_err(failure)
        }

        impl Translation {
            /// The body for the provider (a reference-counted handle, not a copy).
            pub fn body(&self) -> bytes::Bytes {
                self.body.clone()
            }

            /// The provider path (`/v1/chat/completions`, ...), to join onto its base URL.
            pub fn path(&self) -> &'static str {
                self.path
            }

            /// A 2xx JSON answer, for the client.
            pub fn response(&self, body: &[u8]) -> Result<Vec<u8>, Failure> {
                t::response(self.client, self.provider, body, &self.view).map_err(failure)
            }

            pub fn error(
                &self,
                status: u16,
                headers: &http::HeaderMap,
                body: &[u8],
            ) -> ErrorAnswer {
                let answer = t::error(self.client, self.provider, status, headers, body);
                ErrorAnswer {
                    status: answer.status,
                    retry_after: answer.retry_after,
                    body: answer.body,
                }
            }

            pub fn stream(&self) -> StreamTranslator {
                StreamTranslator(t::Stream::new(
                    self.client,
                    self.provider,
                    self.view.clone(),
                ))
            }
        }

        /// Provider event stream in, client event stream out (`tap::ResponseBody` drives it).
        pub(crate) struct StreamTranslator(t::Stream);

        impl StreamTranslator {
            pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
                self.0.push(chunk, out);
            }
            pub fn finish(&mut self, out: &mut Vec<u8>) {
                self.0.finish(out);
            }
            pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
                self.0.fail(message, out);
            }
        }
    }

    /// Without the feature nothing is translated: `request` says why, so the other names are
    /// never reached.
    #[cfg(not(feature = "translate"))]
    mod disabled {
        use super::{ErrorAnswer, Failure, Target};
        use crate::routing::Wire;

        const NO_TRANSLATE: &str = "this build has no `translate` feature, so requests cannot be sent to a provider of another dialect";

        pub(crate) enum Translation {}
        pub(crate) enum StreamTranslator {}

        pub(crate) fn request(
            _: Wire,
            _: Wire,
            _: &[u8],
            _: &Target,
        ) -> Result<Translation, Failure> {
            Err(Failure::Unsupported(NO_TRANSLATE.into()))
        }

        pub(crate) fn estimate_input_tokens(_: &[u8]) -> Result<u64, Failure> {
            Err(Failure::Unsupported(NO_TRANSLATE.into()))
        }

        impl Translation {
            pub fn body(&self) -> bytes::Bytes {
                match *self {}
            }
            pub fn path(&self) -> &'static str {
                match *self {}
            }
            pub fn response(&self, _: &[u8]) -> Result<Vec<u8>, Failure> {
                match *self {}
            }
            pub fn error(&self, _: u16, _: &http::HeaderMap, _: &[u8]) -> ErrorAnswer {
                match *self {}
            }
            pub fn stream(&self) -> StreamTranslator {
                match *self {}
            }
        }

        impl StreamTranslator {
            pub fn push(&mut self, _: &[u8], _: &mut Vec<u8>) {
                match *self {}
            }
            pub fn finish(&mut self, _: &mut Vec<u8>) {
                match *self {}
            }
            pub fn fail(&mut self, _: &str, _: &mut Vec<u8>) {
                match *self {}
            }
        }
    }
}

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
    let owners = [
        (
            "session_recording",
            "recording",
            cfg!(feature = "recording"),
        ),
        ("session_recording.pii", "pii", cfg!(feature = "pii")),
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
