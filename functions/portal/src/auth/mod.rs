//! Who is calling. In AWS the HTTP API's JWT authorizer has already checked the Cognito token
//! and hands us its claims in the request context; locally, `make run` checks HS256 tokens
//! signed with `RELANCE_LOCAL_JWT_SECRET`. Nothing else (no header, parameter or body field)
//! ever chooses the user.

pub mod cognito;

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::PortalState;
use relance::api_error::ApiError;

pub use relance::domain::Role;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The identity provider's subject (`sub`).
    pub user: String,
    pub email: Option<String>,
    /// The `phone_number` claim, when the user pool has one (an admin's test messages).
    pub phone: Option<String>,
    pub roles: BTreeSet<Role>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) { Ok(()) } else { Err(ApiError::forbidden()) }
    }
}

/// How callers are identified.
#[derive(Clone)]
pub enum IdentitySource {
    /// Behind API Gateway's JWT authorizer: claims come from the request context.
    Authorizer,
    /// Local: `Authorization: Bearer <HS256 JWT>` checked with this secret.
    LocalJwt { secret: String },
}

/// The claims of a local token, shaped like Cognito's.
#[derive(Debug, Serialize, Deserialize)]
pub struct LocalClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

pub const LOCAL_ISSUER: &str = "relance-local";
pub const LOCAL_AUDIENCE: &str = "relance-portal";

/// A local token for `user` with `roles`, valid for `hours` (`make token`).
pub fn local_token(
    secret: &str,
    user: &str,
    email: Option<&str>,
    roles: &[&str],
    hours: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    local_token_with_phone(secret, user, email, None, roles, hours)
}

/// The same with a `phone_number` claim.
pub fn local_token_with_phone(
    secret: &str,
    user: &str,
    email: Option<&str>,
    phone: Option<&str>,
    roles: &[&str],
    hours: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = LocalClaims {
        sub: user.to_string(),
        email: email.map(str::to_string),
        phone_number: phone.map(str::to_string),
        groups: roles.iter().map(|r| r.to_string()).collect(),
        exp: (chrono::Utc::now() + chrono::Duration::hours(hours)).timestamp(),
        iss: LOCAL_ISSUER.into(),
        aud: LOCAL_AUDIENCE.into(),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}

fn roles_from(groups: impl IntoIterator<Item = String>) -> BTreeSet<Role> {
    groups.into_iter().filter_map(|g| Role::parse(&g)).collect()
}

/// API Gateway passes `cognito:groups` as a string: `[admin member]` or `admin,member`.
fn groups_claim(value: &str) -> Vec<String> {
    value.trim_matches(|c| c == '[' || c == ']').split([' ', ',']).filter(|g| !g.is_empty()).map(str::to_string).collect()
}

fn from_local(parts: &Parts, secret: &str) -> Result<Caller, ApiError> {
    let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(ApiError::unauthenticated)?;
    let token = header.strip_prefix("Bearer ").ok_or_else(ApiError::unauthenticated)?;
    verify_local(token, secret)
}

/// Checks a local token (from a header, or the web pages' session cookie).
pub fn verify_local(token: &str, secret: &str) -> Result<Caller, ApiError> {
    // HS256 only: a token claiming "none" or another algorithm is refused by the validation.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[LOCAL_ISSUER]);
    validation.set_audience(&[LOCAL_AUDIENCE]);
    let data = jsonwebtoken::decode::<LocalClaims>(token, &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()), &validation)
        .map_err(|_| ApiError::unauthenticated())?;
    Ok(Caller { user: data.claims.sub, email: data.claims.email, phone: data.claims.phone_number, roles: roles_from(data.claims.groups) })
}

fn from_authorizer(parts: &Parts) -> Result<Caller, ApiError> {
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>() else {
        return Err(ApiError::unauthenticated());
    };
    let claims = context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims).ok_or_else(ApiError::unauthenticated)?;
    let user = claims.get("sub").cloned().ok_or_else(ApiError::unauthenticated)?;
    let groups = claims.get("cognito:groups").map(|g| groups_claim(g)).unwrap_or_default();
    Ok(Caller { user, email: claims.get("email").cloned(), phone: claims.get("phone_number").cloned(), roles: roles_from(groups) })
}

impl FromRequestParts<PortalState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &PortalState) -> Result<Caller, ApiError> {
        let caller = match &state.identity {
            IdentitySource::Authorizer => from_authorizer(parts),
            IdentitySource::LocalJwt { secret } => from_local(parts, secret),
        }?;
        // The subject becomes part of table keys: one that cannot be is no identity of ours.
        relance::store::check_user(&caller.user).map_err(|_| ApiError::unauthenticated())?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_as_api_gateway_writes_them() {
        assert_eq!(groups_claim("[admin member]"), vec!["admin", "member"]);
        assert_eq!(groups_claim("farmer,member_b2b"), vec!["farmer", "member_b2b"]);
        assert_eq!(roles_from(groups_claim("[admin unknown]")), BTreeSet::from([Role::Admin]));
    }

    #[test]
    fn local_tokens_forged_expired_or_misaddressed_are_refused() {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let good = local_token("secret", "member-a", None, &["member"], 1).unwrap();
        assert!(verify_local(&good, "secret").is_ok());
        let claims = |iss: &str, aud: &str, exp: i64| serde_json::json!({"sub": "member-a", "groups": ["admin"], "iss": iss, "aud": aud, "exp": exp});
        let hs256 = |claims: serde_json::Value, secret: &str| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let later = chrono::Utc::now().timestamp() + 3600;
        let payload = b64(claims(LOCAL_ISSUER, LOCAL_AUDIENCE, later).to_string().as_bytes());
        let cases = [
            ("alg none", format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#))),
            ("alg none with a signature", format!("{}.{payload}.{}", b64(br#"{"alg":"none"}"#), good.rsplit('.').next().unwrap())),
            ("another secret", hs256(claims(LOCAL_ISSUER, LOCAL_AUDIENCE, later), "guessed")),
            ("expired", hs256(claims(LOCAL_ISSUER, LOCAL_AUDIENCE, chrono::Utc::now().timestamp() - 600), "secret")),
            ("another issuer", hs256(claims("someone-else", LOCAL_AUDIENCE, later), "secret")),
            ("another audience", hs256(claims(LOCAL_ISSUER, "another-app", later), "secret")),
            ("a changed payload", {
                let parts: Vec<&str> = good.split('.').collect();
                format!("{}.{payload}.{}", parts[0], parts[2])
            }),
        ];
        for (what, token) in cases {
            assert!(verify_local(&token, "secret").is_err(), "{what} was accepted");
        }
    }
}
