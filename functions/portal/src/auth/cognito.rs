//! Signing in to the pages in AWS: Cognito's hosted UI with the authorization code flow and
//! PKCE. The portal sends the browser to the hosted UI with a code challenge, receives the
//! code on `/auth/callback`, exchanges it (with the verifier kept in a short-lived HttpOnly
//! cookie) for tokens, and keeps the ID token in the session cookie. Each page request checks
//! that token's RS256 signature against the user pool's published keys (fetched once, again
//! when a new key id appears), its issuer, audience and expiry.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::auth::{Caller, Role};
use crate::web::url_encode;
use relance::api_error::ApiError;

#[derive(Clone)]
pub struct HostedUi {
    /// `https://<prefix>.auth.<region>.amazoncognito.com`
    pub domain: String,
    pub client_id: String,
    /// `https://<portal>/auth/callback`
    pub redirect_uri: String,
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`: the tokens' `iss`.
    pub issuer: String,
    /// Where the pool's keys are published (the issuer's `/.well-known/jwks.json`).
    pub jwks_url: String,
    keys: Arc<RwLock<Option<JwkSet>>>,
    last_refresh: Arc<tokio::sync::Mutex<Option<std::time::Instant>>>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    #[serde(default)]
    token_use: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
}

impl HostedUi {
    pub fn new(domain: String, client_id: String, redirect_uri: String, issuer: String) -> HostedUi {
        let jwks_url = format!("{issuer}/.well-known/jwks.json");
        HostedUi {
            domain,
            client_id,
            redirect_uri,
            issuer,
            jwks_url,
            keys: Arc::new(RwLock::new(None)),
            last_refresh: Arc::new(tokio::sync::Mutex::new(None)),
            http: relance::http::https_client(),
        }
    }

    /// From the hosted UI's settings (read by [`relance::config::PortalSettings`]).
    pub fn from_settings(settings: &relance::config::HostedUiSettings) -> HostedUi {
        HostedUi::new(
            settings.domain.clone(),
            settings.client_id.clone(),
            format!("{}/auth/callback", settings.portal_url),
            format!("https://cognito-idp.{}.amazonaws.com/{}", settings.region, settings.user_pool_id),
        )
    }

    /// Points key fetching elsewhere (tests: moto publishes the pool's keys itself).
    pub fn with_jwks_url(mut self, url: String) -> HostedUi {
        self.jwks_url = url;
        self
    }

    /// The hosted UI's sign-in address for this attempt.
    pub fn authorize_url(&self, state: &str, verifier: &str) -> String {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid+email&state={}&code_challenge_method=S256&code_challenge={}",
            self.domain,
            url_encode(&self.client_id),
            url_encode(&self.redirect_uri),
            url_encode(state),
            challenge
        )
    }

    /// Trades the callback's code for the ID token.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<String, ApiError> {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.domain))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id.as_str()),
                ("code", code),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ApiError::unauthenticated());
        }
        let tokens: TokenResponse = response.json().await.map_err(|e| unavailable(e.to_string()))?;
        Ok(tokens.id_token)
    }

    /// Checks an ID token and reads the caller from it.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::unauthenticated())?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::unauthenticated());
        }
        let kid = header.kid.ok_or_else(ApiError::unauthenticated)?;
        let key = match self.key(&kid).await? {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.key(&kid).await?.ok_or_else(ApiError::unauthenticated)?
            }
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        // Absent claims are refused too, not only wrong ones.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|_| ApiError::unauthenticated())?;
        if data.claims.token_use.as_deref() != Some("id") {
            return Err(ApiError::unauthenticated());
        }
        let roles: BTreeSet<Role> = data.claims.groups.iter().filter_map(|g| Role::parse(g)).collect();
        Ok(Caller { user: data.claims.sub, email: data.claims.email, phone: data.claims.phone_number, roles })
    }

    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, ApiError> {
        let keys = self.keys.read().await;
        match keys.as_ref().and_then(|set| set.find(kid)) {
            Some(jwk) => DecodingKey::from_jwk(jwk).map(Some).map_err(|_| ApiError::unauthenticated()),
            None => Ok(None),
        }
    }

    /// Fetches the pool's keys again, at most once a minute: an unknown key id in a forged
    /// token must not make every request call out.
    async fn refresh(&self) -> Result<(), ApiError> {
        {
            let mut last = self.last_refresh.lock().await;
            if last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(60)) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        let set: JwkSet = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        *self.keys.write().await = Some(set);
        Ok(())
    }
}

fn unavailable(reason: String) -> ApiError {
    tracing::error!(%reason, "Cognito unreachable");
    ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", "sign-in is unavailable, try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_an_s256_challenge_of_the_verifier() {
        let ui = HostedUi::new(
            "https://relance.auth.eu-west-3.amazoncognito.com".into(),
            "client123".into(),
            "https://portal.example.org/auth/callback".into(),
            "https://cognito-idp.eu-west-3.amazonaws.com/pool".into(),
        );
        let url = ui.authorize_url("state-1", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        // RFC 7636's example verifier and challenge.
        assert!(url.contains("code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), "{url}");
        assert!(url.contains("code_challenge_method=S256"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fportal.example.org%2Fauth%2Fcallback"));
        assert!(
            url.starts_with("https://relance.auth.eu-west-3.amazoncognito.com/oauth2/authorize?response_type=code&client_id=client123")
        );
    }

    // Test-only RSA keys (testdata/README.md): the pool's, published in pool_jwks.json, and
    // another one an attacker might sign with.
    const POOL_KEY: &str = include_str!("testdata/pool_key.pem");
    const POOL_PUBLIC_KEY: &str = include_str!("testdata/pool_key.pub.pem");
    const OTHER_KEY: &str = include_str!("testdata/other_key.pem");
    const POOL_JWKS: &str = include_str!("testdata/pool_jwks.json");
    const ISSUER: &str = "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_pool";
    const CLIENT: &str = "portal-client";

    /// A verifier that already holds the pool's keys and has just refreshed them (so an
    /// unknown key id does not call out).
    async fn verifier() -> HostedUi {
        let ui = HostedUi::new(
            "https://relance.auth.example".into(),
            CLIENT.into(),
            "https://portal.example.org/auth/callback".into(),
            ISSUER.into(),
        );
        *ui.keys.write().await = Some(serde_json::from_str(POOL_JWKS).unwrap());
        *ui.last_refresh.lock().await = Some(std::time::Instant::now());
        ui
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "sub": "3f6c2a9e-member", "email": "ines@example.org", "cognito:groups": ["member"], "token_use": "id",
            "iss": ISSUER, "aud": CLIENT, "exp": chrono::Utc::now().timestamp() + 3600, "iat": chrono::Utc::now().timestamp(),
        })
    }

    fn signed(claims: &serde_json::Value, pem: &str, kid: &str) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[tokio::test]
    async fn a_pool_token_is_accepted() {
        let caller = verifier().await.verify(&signed(&claims(), POOL_KEY, "pool-key-1")).await.unwrap();
        assert_eq!(caller.user, "3f6c2a9e-member");
        assert!(caller.has(Role::Member));
    }

    #[tokio::test]
    async fn forged_expired_and_misaddressed_tokens_are_refused() {
        let ui = verifier().await;
        let with = |change: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut c = claims();
            change(c.as_object_mut().unwrap());
            c
        };
        let header = |json: &str| b64(json.as_bytes());
        let body = b64(claims().to_string().as_bytes());
        let cases: Vec<(&str, String)> = vec![
            ("alg none", format!("{}.{body}.", header(r#"{"alg":"none","typ":"JWT","kid":"pool-key-1"}"#))),
            ("alg none, signature kept", {
                let good = signed(&claims(), POOL_KEY, "pool-key-1");
                let signature = good.rsplit('.').next().unwrap().to_string();
                format!("{}.{body}.{signature}", header(r#"{"alg":"none","kid":"pool-key-1"}"#))
            }),
            ("HS256 keyed with the pool's public key", {
                let mut h = jsonwebtoken::Header::new(Algorithm::HS256);
                h.kid = Some("pool-key-1".into());
                jsonwebtoken::encode(&h, &claims(), &jsonwebtoken::EncodingKey::from_secret(POOL_PUBLIC_KEY.as_bytes())).unwrap()
            }),
            ("another key under the pool's key id", signed(&claims(), OTHER_KEY, "pool-key-1")),
            ("an unknown key id", signed(&claims(), OTHER_KEY, "attacker-key")),
            (
                "expired",
                signed(&with(&|c| drop(c.insert("exp".into(), (chrono::Utc::now().timestamp() - 600).into()))), POOL_KEY, "pool-key-1"),
            ),
            ("no expiry", signed(&with(&|c| drop(c.remove("exp"))), POOL_KEY, "pool-key-1")),
            ("another app's audience", signed(&with(&|c| drop(c.insert("aud".into(), "other-client".into()))), POOL_KEY, "pool-key-1")),
            (
                "another pool's issuer",
                signed(
                    &with(&|c| drop(c.insert("iss".into(), "https://cognito-idp.eu-west-3.amazonaws.com/other".into()))),
                    POOL_KEY,
                    "pool-key-1",
                ),
            ),
            ("an access token", signed(&with(&|c| drop(c.insert("token_use".into(), "access".into()))), POOL_KEY, "pool-key-1")),
            ("a changed payload", {
                let good = signed(&claims(), POOL_KEY, "pool-key-1");
                let parts: Vec<&str> = good.split('.').collect();
                let admin = b64(with(&|c| drop(c.insert("cognito:groups".into(), serde_json::json!(["admin"])))).to_string().as_bytes());
                format!("{}.{admin}.{}", parts[0], parts[2])
            }),
            ("not a token", "not.a.token".into()),
        ];
        for (what, token) in cases {
            assert!(ui.verify(&token).await.is_err(), "{what} was accepted");
        }
    }
}
