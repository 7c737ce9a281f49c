//! Translation between dialects (`crate::translate`), for routed requests whose provider speaks
//! another API than the client. The proxy only sees these names: `Translation` (one translated
//! request and what its answer needs), `StreamTranslator`, `request`, `estimate_input_tokens`.
//! Without the feature `request` says so, and the uninhabited types make the rest unreachable.

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

        pub fn error(&self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> ErrorAnswer {
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

    pub(crate) fn request(_: Wire, _: Wire, _: &[u8], _: &Target) -> Result<Translation, Failure> {
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
