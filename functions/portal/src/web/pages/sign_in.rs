//! Signing in and out: the local demo users, Cognito's hosted UI (code and PKCE), sign-out.

use super::*;

pub async fn sign_in_page(State(state): State<PortalState>, headers: HeaderMap) -> Result<Response, PageError> {
    match &state.web {
        WebSignIn::Local { choices } => {
            let csrf = cookie(&headers, CSRF_COOKIE).filter(|c| c.len() >= 20).unwrap_or_else(new_csrf);
            let lang = if state.defaults.locale.language() == "en" { "en" } else { "fr" };
            let users: Vec<Value> = choices.iter().map(|(user, roles)| json!({"user": user, "roles": roles.join(",")})).collect();
            let html = Views::shared()
                .render("sign_in.html", json!({"lang": lang, "t": i18n::table(lang), "csrf": csrf, "users": users, "nav": {}}))?;
            Ok(with_cookies(
                Html(html).into_response(),
                vec![set_cookie(CSRF_COOKIE, &csrf, SameSite::Strict, 60 * 60 * 12, secure_cookies(&state))],
            ))
        }
        WebSignIn::Cognito(ui) => {
            let (attempt, verifier) = (new_csrf(), format!("{}{}", new_csrf(), new_csrf()));
            let pkce = set_cookie("relance_pkce", &format!("{attempt}.{verifier}"), SameSite::Lax, 600, true);
            Ok(with_cookies(redirect(&ui.authorize_url(&attempt, &verifier)), vec![pkce]))
        }
        WebSignIn::Off => Err(PageError::from(ApiError::not_found())),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    user: String,
    roles: String,
}

/// Local only: signs in as one of the offered demo users.
pub async fn sign_in(State(state): State<PortalState>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let (WebSignIn::Local { choices }, auth::IdentitySource::LocalJwt { secret }) = (&state.web, &state.identity) else {
        return Err(PageError::from(ApiError::not_found()));
    };
    let Some((user, roles)) = choices.iter().find(|(user, roles)| *user == form.user && roles.join(",") == form.roles) else {
        return Err(PageError::bad("not_a_demo_user"));
    };
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let token = local_token(secret, user, None, &roles, 12).map_err(|e| PageError::internal(e.to_string()))?;
    Ok(with_cookies(redirect("/"), vec![set_cookie(SESSION_COOKIE, &token, SameSite::Lax, 60 * 60 * 12, secure_cookies(&state))]))
}

#[derive(Deserialize)]
pub struct Callback {
    code: String,
    state: String,
}

/// AWS: the hosted UI sends the browser back here with a code.
pub async fn cognito_callback(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, PageError> {
    let WebSignIn::Cognito(ui) = &state.web else { return Err(PageError::from(ApiError::not_found())) };
    let pkce = cookie(&headers, "relance_pkce").unwrap_or_default();
    let (attempt, verifier) = pkce.split_once('.').ok_or_else(|| PageError::bad("sign_in_expired"))?;
    if attempt != callback.state {
        return Err(PageError::bad("sign_in_expired"));
    }
    let token = ui.exchange(&callback.code, verifier).await?;
    ui.verify(&token).await?;
    Ok(with_cookies(
        redirect("/"),
        vec![
            set_cookie(SESSION_COOKIE, &token, SameSite::Lax, 60 * 60, true),
            set_cookie("relance_pkce", "", SameSite::Lax, 0, true),
            set_cookie(CSRF_COOKIE, &new_csrf(), SameSite::Strict, 60 * 60 * 12, true),
        ],
    ))
}

pub async fn sign_out(State(state): State<PortalState>, headers: HeaderMap, Form(form): Form<CsrfOnly>) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    Ok(with_cookies(redirect("/sign-in"), vec![set_cookie(SESSION_COOKIE, "", SameSite::Lax, 0, secure_cookies(&state))]))
}
