//! The extractor of an endpoint that takes a body: [`VerifiedJson`]. It exists so that a
//! `single_use` token is spent only by a request the endpoint will act on. Taking the caller and
//! the body as two extractors would spend the token before the body is read (axum runs the
//! request-parts extractors first), so a typo in a body would cost the job its token; here the
//! order is: verify the token (signature, policy, deployment binding), read and parse the body
//! into `T`, run `T`'s own [`RequestBody::validate`], and only then spend the token and call the
//! handler. A request refused for its body leaves the token as good as it was.

use axum::{
    extract::{FromRef, FromRequest, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::{
    CiError, Config, EndpointState, VerifiedCaller, body::read_json, caller::CallerTaken, span,
};

/// A request body an endpoint accepts: deserialized with serde (prefer
/// `#[serde(deny_unknown_fields)]`, so a misspelled key is a 400 and not silently ignored), then
/// [`validate`](RequestBody::validate)d before a `single_use` token is spent. Put every check that
/// depends only on the request, the caller and the endpoint's settings in `validate`, each
/// refusal a `400` with a named reason; the handler keeps what needs the secret or the world
/// outside (an upstream, the key-value store).
///
/// ```
/// use ci_endpoint::{BodyContext, CiError, EndpointConfig, RequestBody};
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Settings { users: Vec<String> }
/// impl EndpointConfig for Settings {}
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields, rename_all = "camelCase")]
/// struct Request { user: String, max_age: Option<serde_json::Value> }
///
/// impl RequestBody for Request {
///     fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
///         if !context.config::<Settings>()?.users.contains(&self.user) {
///             return Err(CiError::BadRequest { reason: Some("user_not_allowed") });
///         }
///         context.caller().cookie_lifetime(self.max_age.as_ref())?; // 400 max_age_too_long
///         Ok(())
///     }
/// }
/// ```
pub trait RequestBody: DeserializeOwned + Send + 'static {
    /// Checks what serde cannot, before the token is spent. The default accepts anything that
    /// deserialized.
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        let _ = context;
        Ok(())
    }
}

/// What [`RequestBody::validate`] may consult: the verified caller (its claims, its
/// `cookie_lifetime`, `summarize`) and the endpoint's settings.
#[derive(Debug)]
pub struct BodyContext<'a> {
    caller: &'a VerifiedCaller,
    state: &'a EndpointState,
}

impl BodyContext<'_> {
    /// The caller whose token verified (not spent yet).
    pub fn caller(&self) -> &VerifiedCaller {
        self.caller
    }

    /// The endpoint's settings, as the handler's [`Config<T>`] would get them: `T` must be the
    /// type of [`crate::Endpoint::with_config`] (otherwise a logged 500, the author's bug).
    pub fn config<T: Send + Sync + 'static>(&self) -> Result<Config<T>, CiError> {
        Config::of(self.state)
    }
}

/// A verified caller and its request's JSON body, the one way a handler takes a body. The token
/// is verified first (401/403/503 as [`VerifiedCaller`]), then the body is read (64 KiB by
/// default, [`crate::BodyLimit`]; over it 413), parsed into `T` (not JSON or not `T`: 400, where
/// it went wrong in the log line only) and [`RequestBody::validate`]d, and only then is a
/// `single_use` token spent: a request refused for its body leaves the token unspent. Take it as
/// the handler's last argument, and not beside [`VerifiedCaller`] (that spends the token first;
/// the kit answers such a handler 500 and logs why).
///
/// ```
/// use axum::Json;
/// use ci_endpoint::{CiError, RequestBody, VerifiedJson};
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Request { name: String }
/// impl RequestBody for Request {}
///
/// async fn handle(VerifiedJson { caller, body }: VerifiedJson<Request>) -> Result<Json<String>, CiError> {
///     caller.summarize("name_len", body.name.len());
///     Ok(Json(body.name))
/// }
/// ```
#[derive(Debug)]
pub struct VerifiedJson<T> {
    /// The caller, its token verified and (on a `single_use` endpoint) spent.
    pub caller: VerifiedCaller,
    /// The body, parsed and validated.
    pub body: T,
}

impl<S, T> FromRequest<S> for VerifiedJson<T>
where
    EndpointState: FromRef<S>,
    S: Send + Sync,
    T: RequestBody,
{
    type Rejection = CiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, CiError> {
        let state = EndpointState::from_ref(state);
        let (parts, body) = request.into_parts();
        if parts.extensions.get::<CallerTaken>().is_some() {
            tracing::error!(
                "the handler takes both VerifiedCaller and VerifiedJson: take VerifiedJson alone \
                 (its `caller` field), so the token is spent only after the body is checked"
            );
            return Err(CiError::Internal);
        }
        let caller = VerifiedCaller::verify(&parts.headers, &parts.extensions, &state).await?;
        // The body checks' log lines name the caller; the request counts as the caller's (audit
        // line, stealth lets the answer through) once the body is refused or the token spent.
        span::record_caller(caller.claims());
        let body = match checked_body::<T>(&parts, body, &caller, &state).await {
            Ok(body) => body,
            Err(error) => {
                caller.admit(&parts.extensions);
                return Err(error);
            }
        };
        caller.spend(&parts.extensions, &state).await?;
        caller.admit(&parts.extensions);
        Ok(VerifiedJson { caller, body })
    }
}

async fn checked_body<T: RequestBody>(
    parts: &Parts,
    body: axum::body::Body,
    caller: &VerifiedCaller,
    state: &EndpointState,
) -> Result<T, CiError> {
    let body: T = read_json(&parts.headers, &parts.extensions, body).await?;
    body.validate(&BodyContext { caller, state })?;
    Ok(body)
}
